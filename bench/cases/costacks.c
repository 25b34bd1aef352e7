/* Benchmark workload: memory of many coroutines.  Usage:
   costacks COUNT split|fixed64k|fixed4m.
   Each of COUNT coroutines (ucontext) is started and suspended at once
   (phase "created"), then resumed once to recurse through 56 KiB of stack
   (56 frames of 1 KiB), return and suspend again (phase "recursed").
   split: stacks from __splitstack_makecontext with a 4 KiB request, the
   split-stack context switched with every swapcontext (as gccgo does);
   fixedN: one mmap'd stack of N bytes each (MAP_NORESERVE, no guard page,
   so that neighbouring stacks merge into few mappings).  56 KiB, not 64,
   so that the recursion fits a fixed 64 KiB stack with room for the
   context switch.  Prints the resident set (VmRSS) and virtual size
   (VmSize) of the process, in KiB, at start and after each phase, and
   the resident private anonymous memory counted page by page with
   mincore over /proc/self/maps (under qemu-user: the guest's own pages,
   without qemu's bookkeeping of them, which grows with the guest's
   address space).  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define DEPTH 56

extern void *__splitstack_makecontext (size_t, void *[10], size_t *)
  __attribute__ ((weak));
extern void __splitstack_getcontext (void *[10]) __attribute__ ((weak));
extern void __splitstack_setcontext (void *[10]) __attribute__ ((weak));

static ucontext_t main_uc, *co_uc;
static void *main_ss[10];
static void *(*co_ss)[10];
static int split, current;

/* Resident private anonymous memory, in KiB.  */
static long
anon_resident_kib (void)
{
  static unsigned char vec[1 << 16];
  long page = sysconf (_SC_PAGESIZE);
  long pages = 0;
  char line[512];
  FILE *f = fopen ("/proc/self/maps", "r");
  while (f && fgets (line, sizeof line, f))
    {
      unsigned long lo, hi, offset, inode;
      unsigned major, minor;
      char perms[8];
      if (sscanf (line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &offset,
		  &major, &minor, &inode) != 7
	  || inode != 0 || perms[0] != 'r' || perms[1] != 'w'
	  || perms[3] != 'p')
	continue;
      for (unsigned long a = lo; a < hi;)
	{
	  unsigned long n = (hi - a) / page;
	  if (n > sizeof vec)
	    n = sizeof vec;
	  if (mincore ((void *) a, n * page, vec) == 0)
	    for (unsigned long i = 0; i < n; i++)
	      pages += vec[i] & 1;
	  a += n * page;
	}
    }
  if (f)
    fclose (f);
  return pages * (page / 1024);
}

static void
status (const char *phase)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  long rss = -1, vm = -1;
  while (f && fgets (line, sizeof line, f))
    {
      sscanf (line, "VmRSS: %ld", &rss);
      sscanf (line, "VmSize: %ld", &vm);
    }
  if (f)
    fclose (f);
  printf ("%s_rss_kib=%ld\n%s_vm_kib=%ld\n%s_anon_kib=%ld\n", phase, rss,
	  phase, vm, phase, anon_resident_kib ());
}

static void
yield (void)
{
  int i = current;
  if (split)
    {
      __splitstack_getcontext (co_ss[i]);
      __splitstack_setcontext (main_ss);
    }
  swapcontext (&co_uc[i], &main_uc);
}

static void
resume (int i)
{
  current = i;
  if (split)
    {
      __splitstack_getcontext (main_ss);
      __splitstack_setcontext (co_ss[i]);
    }
  swapcontext (&main_uc, &co_uc[i]);
}

__attribute__ ((noinline, noclone)) static long
recurse (int n)
{
  volatile char frame[1024 - 64];
  frame[0] = (char) n;
  long r = n == 0 ? 0 : 1 + recurse (n - 1);
  return r + frame[0] - (char) n;
}

static long total;

static void
co_main (void)
{
  yield ();
  total += recurse (DEPTH);
  yield ();
  abort ();
}

int
main (int argc, char **argv)
{
  int count = argc > 1 ? atoi (argv[1]) : 1000;
  const char *mode = argc > 2 ? argv[2] : "split";
  size_t fixed = 0;
  if (strcmp (mode, "split") == 0)
    split = 1;
  else if (strcmp (mode, "fixed64k") == 0)
    fixed = 64 * 1024;
  else if (strcmp (mode, "fixed4m") == 0)
    fixed = 4 * 1024 * 1024;
  else
    return 2;
  if (split && !__splitstack_makecontext)
    {
      printf ("split mode needs a -fsplit-stack build\n");
      return 2;
    }
  co_uc = calloc (count, sizeof *co_uc);
  co_ss = calloc (count, sizeof *co_ss);
  if (!co_uc || !co_ss)
    return 1;
  status ("start");
  for (int i = 0; i < count; i++)
    {
      size_t size = 4096;
      void *stack;
      if (split)
	stack = __splitstack_makecontext (size, co_ss[i], &size);
      else
	{
	  size = fixed;
	  stack = mmap (NULL, size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	  if (stack == MAP_FAILED)
	    stack = NULL;
	}
      if (!stack)
	{
	  printf ("error=stack %d of %d could not be allocated\n", i, count);
	  return 1;
	}
      getcontext (&co_uc[i]);
      co_uc[i].uc_stack.ss_sp = stack;
      co_uc[i].uc_stack.ss_size = size;
      co_uc[i].uc_link = NULL;
      makecontext (&co_uc[i], co_main, 0);
      resume (i);
    }
  status ("created");
  for (int i = 0; i < count; i++)
    resume (i);
  status ("recursed");
  printf ("units=%d\nresult=%ld\n", count, total);
  return total == (long) count * DEPTH ? 0 : 1;
}
