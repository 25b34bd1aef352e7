/* Checks: __splitstack_find reports the whole stack of every kind of
   thread (docs/abi.md, 5.8), the way a conservative collector (gccgo's)
   scans it: the initial thread, a thread on a stack that glibc
   allocated, a thread on a stack the program supplied, each before its
   first segment switch and deep in a recursion across segments.  In each
   case the reported ranges must contain the thread's first frame and its
   deepest frame, and every reported byte must be readable.  Prints
   "find ok" and exits 0 only if all of that holds.  */

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__splitstack_find (void *, void *, size_t *, void **, void **,
				void **);

/* Whether ADDR lies in a range __splitstack_find reports for the calling
   thread; *RANGES gets their number.  No split-stack check of its own,
   so that asking does not switch segments.  */
__attribute__ ((noinline, no_split_stack)) static int
reported (const char *addr, int *ranges)
{
  void *next_segment, *next_sp, *initial_sp;
  size_t len;
  int found = 0;
  *ranges = 0;
  for (char *p = __splitstack_find (NULL, NULL, &len, &next_segment,
				    &next_sp, &initial_sp);
       p != NULL;
       p = __splitstack_find (next_segment, next_sp, &len, &next_segment,
			      &next_sp, &initial_sp))
    {
      if (len == 0)
	return 0;
      /* Every reported byte is mapped: touch the first and the last.  */
      volatile char sink = ((volatile char *) p)[0];
      sink = ((volatile char *) p)[len - 1];
      (void) sink;
      ++*ranges;
      if (addr >= p && addr < p + len)
	found = 1;
    }
  return found;
}

static __thread const char *first_frame;
static __thread int errors;

static void
expect (const char *what, const char *addr, int min_ranges)
{
  int ranges;
  if (!reported (addr, &ranges) || ranges < min_ranges)
    {
      printf ("find FAILED: %s: %p not reported (%d ranges)\n", what,
	      (const void *) addr, ranges);
      errors++;
    }
}

/* 16 KiB frames: 100 levels need more than any stack below.  */
__attribute__ ((noinline)) static int
deep (int n)
{
  volatile char pad[16 * 1024];
  pad[0] = (char) n;
  if (n == 0)
    {
      expect ("deepest frame", (const char *) pad, 2);
      expect ("first frame, seen from the deepest", first_frame, 2);
      return pad[0];
    }
  return deep (n - 1) + pad[0];
}

static void *
thread_body (void *arg)
{
  volatile char here = 0;
  first_frame = (const char *) &here;
  expect ((const char *) arg, first_frame, 1);
  deep (100);
  expect ("first frame, after the recursion", first_frame, 1);
  return (void *) (long) errors;
}

static int
run_thread (const char *what, void *stack, size_t size)
{
  pthread_attr_t a;
  pthread_t t;
  void *r;
  pthread_attr_init (&a);
  if (stack != NULL)
    pthread_attr_setstack (&a, stack, size);
  else
    pthread_attr_setstacksize (&a, size);
  if (pthread_create (&t, &a, thread_body, (void *) what) != 0)
    return 1;
  pthread_join (t, &r);
  return (int) (long) r;
}

int
main (void)
{
  int bad = 0;
  bad += (int) (long) thread_body ((void *) "initial thread, first frame");
  bad += run_thread ("glibc-allocated stack, first frame", NULL, 256 * 1024);
  size_t size = 512 * 1024;
  void *stack = aligned_alloc (65536, size);
  bad += run_thread ("program-supplied stack, first frame", stack, size);
  if (bad != 0)
    return 1;
  printf ("find ok\n");
  return 0;
}
