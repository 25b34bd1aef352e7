/* Checks: the guard values that libgcc's split-stack runtime writes
   (docs/abi.md, sections 5.8 and 7; check runtime/guard-values).
   1. The initial thread: __stack_split_initialize, which runs from
      .init_array.00000, sets the guard to S - 16384, with S the SP it
      was called with rounded up to a multiple of 512 bytes.  The
      constructor below (priority 101) is called by the same loop as
      __stack_split_initialize, so with the same SP: its CFA.
   2. Returning from a recursion that spans segments restores the guard
      exactly, in the initial thread and in a thread on a 128 KiB stack
      (PTHREAD_STACK_MIN), whose guard glibc set.  Every reader of the
      guard here is no_split_stack, so that reading it does not move the
      reader to a new segment; the recursion must really span segments
      (__splitstack_find reports more than one region at its bottom).
   GUARD_OFFSET (-8) is defined on the command line.  Prints "guard
   values ok" and exits 0 only if every value is exact.  */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BACKOFF 16384
#define INITIAL_STACK 32768
#define DEPTH 2000

extern void *__splitstack_find (void *, void *, size_t *, void **, void **,
				void **);

__attribute__ ((no_split_stack)) static uintptr_t
guard (void)
{
  return *(volatile uintptr_t *) ((char *) __builtin_thread_pointer ()
				  + GUARD_OFFSET);
}

static uintptr_t ctor_guard, ctor_sp;

__attribute__ ((constructor (101), no_split_stack)) static void
early (void)
{
  ctor_guard = guard ();
  ctor_sp = (uintptr_t) __builtin_dwarf_cfa ();
}

/* The number of stack regions __splitstack_find reports for the calling
   thread.  */
__attribute__ ((noinline, no_split_stack)) static int
regions (void)
{
  void *next_segment, *next_sp, *initial_sp;
  size_t len;
  int n = 0;
  for (void *p = __splitstack_find (NULL, NULL, &len, &next_segment,
				    &next_sp, &initial_sp);
       p != NULL;
       p = __splitstack_find (next_segment, next_sp, &len, &next_segment,
			      &next_sp, &initial_sp))
    n++;
  return n;
}

static __thread int bottom_regions;
/* The guard and the SP on entry (the CFA) at the bottom: a function
   enters with SP at or above the guard.  */
static __thread uintptr_t bottom_guard, bottom_sp;

__attribute__ ((noinline)) static long
down (int n)
{
  volatile char frame[1000];
  frame[0] = (char) n;
  if (n == 0)
    {
      bottom_regions = regions ();
      bottom_guard = guard ();
      bottom_sp = (uintptr_t) __builtin_dwarf_cfa ();
      return 0;
    }
  long r = n + down (n - 1);
  return frame[0] == (char) n ? r : -1000000;
}

/* Recurses DEPTH frames deep; 0 if that went as required, with *BEFORE
   and *AFTER the guard before and after.  */
__attribute__ ((noinline, no_split_stack)) static int
recurse (const char *who, uintptr_t *before, uintptr_t *after)
{
  *before = guard ();
  long r = down (DEPTH);
  *after = guard ();
  int bad = 0;
  if (r != (long) DEPTH * (DEPTH + 1) / 2 || bottom_regions < 2)
    {
      printf ("%s: recursion %ld, %d stack regions at its bottom\n", who, r,
	      bottom_regions);
      bad = 1;
    }
  if (bottom_guard == 0 || bottom_guard > bottom_sp)
    {
      printf ("%s: guard %#lx at the bottom, SP on entry %#lx\n", who,
	      (unsigned long) bottom_guard, (unsigned long) bottom_sp);
      bad = 1;
    }
  if (*after != *before)
    {
      printf ("%s: guard %#lx after returning from segments, %#lx before\n",
	      who, (unsigned long) *after, (unsigned long) *before);
      bad = 1;
    }
  return bad;
}

__attribute__ ((no_split_stack)) static void *
thread_main (void *arg)
{
  uintptr_t before, after;
  (void) arg;
  return (void *) (long) recurse ("thread", &before, &after);
}

__attribute__ ((no_split_stack)) int
main (void)
{
  int bad = 0;
  uintptr_t s = (ctor_sp + 511) & ~(uintptr_t) 511;
  uintptr_t want = s - INITIAL_STACK + BACKOFF;
  if (ctor_guard != want)
    {
      printf ("initial guard %#lx, expected %#lx (caller's SP %#lx rounded "
	      "up to 512, - %d)\n",
	      (unsigned long) ctor_guard, (unsigned long) want,
	      (unsigned long) ctor_sp, INITIAL_STACK - BACKOFF);
      bad = 1;
    }
  uintptr_t before, after;
  bad |= recurse ("initial thread", &before, &after);
  if (before != ctor_guard)
    {
      printf ("initial thread: guard %#lx in main, %#lx in the constructor\n",
	      (unsigned long) before, (unsigned long) ctor_guard);
      bad = 1;
    }
  pthread_attr_t attr;
  pthread_t t;
  void *r;
  if (pthread_attr_init (&attr) != 0
      || pthread_attr_setstacksize (&attr, 128 * 1024) != 0
      || pthread_create (&t, &attr, thread_main, NULL) != 0
      || pthread_join (t, &r) != 0)
    {
      printf ("pthread_create with a 128 KiB stack failed\n");
      return 1;
    }
  bad |= r != NULL;
  if (bad)
    {
      printf ("guard values FAILED\n");
      return 1;
    }
  printf ("guard values ok\n");
  return 0;
}
