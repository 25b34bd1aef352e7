/* Checks: the memory that a __splitstack_makecontext context keeps
   resident (docs/abi.md 5.9).  A coroutine with a 4 KiB initial stack
   formats a string with the C library (code without split-stack
   checks, which gold makes its callers ask for 1 MiB more) and parks
   (__splitstack_getcontext, swapcontext).  Then, twice, it recurses
   through 64 KiB, returns and parks again (the second recursion reuses
   the segments that the first one's park kept), and then calls the C
   library from a qsort callback at depth.  Resident pages are counted with mincore
   on the context's first segment and on the segments the recursion ran
   on.  Expected:
   - started: the C library call ran on the first segment (the context
     has one segment) and the segment has 1 page resident (the header
     and the first frames share it);
   - after each recursion returned and the coroutine parked: of the
     segments it ran on (two or more), only the top page of the first
     (its header) is resident, and the first segment of the context
     keeps at most 2 pages;
   - the results of every call are right.
   Prints one line per finding and "context memory ok" if all hold.  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

extern void *__splitstack_makecontext (size_t, void *[10], size_t *);
extern void __splitstack_getcontext (void *[10]);
extern void __splitstack_setcontext (void *[10]);
extern void *__splitstack_find (void *, void *, size_t *, void **, void **,
				void **);
extern void *__splitstack_find_context (void *[10], size_t *, void **,
					void **, void **);

static ucontext_t main_uc, co_uc;
static void *main_ss[10], *co_ss[10];
static char *stack_low, *stack_high;	/* The first segment's stack.  */
/* The segments that the recursion ran on: [lowest SP seen, top).  */
static char *deep_sp[16], *deep_top[16];
static int deep_segments;
static long page;
static int failures;
static char text[64];

static void
yield (void)
{
  __splitstack_getcontext (co_ss);
  __splitstack_setcontext (main_ss);
  swapcontext (&co_uc, &main_uc);
}

static void
resume (void)
{
  __splitstack_getcontext (main_ss);
  __splitstack_setcontext (co_ss);
  swapcontext (&main_uc, &co_uc);
}

/* Resident pages in [LOW, HIGH), rounded out to pages; pages that are
   not mapped count as not resident.  */
static long
resident (char *low, char *high)
{
  unsigned char vec;
  long n = 0;
  for (char *p = (char *) ((unsigned long) low & -page); p < high; p += page)
    if (mincore (p, page, &vec) == 0)
      n += vec & 1;
  return n;
}

/* The number of segments of the parked coroutine's context.  */
static int
segments (void)
{
  void *next_segment, *next_sp, *initial_sp;
  size_t len;
  int n = 0;
  void *seg = __splitstack_find_context (co_ss, &len, &next_segment,
					 &next_sp, &initial_sp);
  while (seg != NULL)
    {
      n++;
      seg = __splitstack_find (next_segment, next_sp, &len, &next_segment,
			       &next_sp, &initial_sp);
    }
  return n;
}

__attribute__ ((noinline)) static long
recurse (int n)
{
  volatile char frame[1024 - 64];
  frame[0] = (char) n;
  {
    void *next_segment, *next_sp, *initial_sp;
    size_t len;
    /* The segment that SP is on: [SP, its top).  */
    char *sp = __splitstack_find (NULL, NULL, &len, &next_segment,
				  &next_sp, &initial_sp);
    char *top = sp + len;
    if (top != stack_high)
      {
	int i = 0;
	while (i < deep_segments && deep_top[i] != top)
	  i++;
	if (i == deep_segments && deep_segments < 16)
	  deep_top[deep_segments++] = top;
	if (i < 16 && (deep_sp[i] == NULL || sp < deep_sp[i]))
	  deep_sp[i] = sp;
      }
  }
  if (n == 0)
    return 0;
  long r = 1 + recurse (n - 1);
  return r + frame[0] - (char) n;
}

static int
compare (const void *a, const void *b)
{
  /* A split-stack callback of code without split-stack checks, deep
     enough to need a segment of its own.  */
  return (int) (recurse (80) - 80) + (*(const int *) a - *(const int *) b);
}

static void
co_main (void)
{
  snprintf (text, sizeof text, "%d %s %.3f", 42, "coroutine", 2.5);
  yield ();
  long depth = recurse (64);
  yield ();
  depth += recurse (64);
  yield ();
  int v[8] = { 5, 3, 7, 1, 8, 2, 6, 4 };
  qsort (v, 8, sizeof v[0], compare);
  for (int i = 0; i < 8; i++)
    if (v[i] != i + 1)
      depth = -1;
  snprintf (text, sizeof text, "%ld", depth);
  yield ();
  abort ();
}

static void
check (int ok, const char *what, long value)
{
  if (!ok)
    {
      printf ("FAIL: %s (%ld)\n", what, value);
      failures++;
    }
}

int
main (void)
{
  size_t size = 4096;
  page = sysconf (_SC_PAGESIZE);
  stack_low = __splitstack_makecontext (size, co_ss, &size);
  stack_high = stack_low + size;
  getcontext (&co_uc);
  co_uc.uc_stack.ss_sp = stack_low;
  co_uc.uc_stack.ss_size = size;
  co_uc.uc_link = NULL;
  makecontext (&co_uc, co_main, 0);

  resume ();
  check (strcmp (text, "42 coroutine 2.500") == 0, "snprintf result", 0);
  check (segments () == 1, "started: segments in the context",
	 segments ());
  long started = resident (stack_low, stack_high);
  check (started == 1, "started: resident pages of the first segment",
	 started);

  /* Twice: the first recursion allocates its segments, the second
     reuses the first of them.  */
  for (int round = 0; round < 2; round++)
    {
      deep_segments = 0;
      memset (deep_sp, 0, sizeof deep_sp);
      resume ();
      check (deep_segments >= 2, "the recursion ran on two or more segments",
	     deep_segments);
      long deep = 0;
      for (int i = 0; i < deep_segments; i++)
	deep += resident (deep_sp[i], deep_top[i]);
      check (deep == 1, round == 0
	     ? "parked: resident pages of the recursion's new segments"
	     : "parked: resident pages of the recursion's reused segments",
	     deep);
      long first = resident (stack_low, stack_high);
      check (first <= 2, "parked: resident pages of the first segment",
	     first);
    }

  resume ();
  check (strcmp (text, "128") == 0, "recursion and qsort results", 0);

  if (failures == 0)
    printf ("context memory ok\n");
  return failures != 0;
}
