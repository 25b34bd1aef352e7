/* Checks: deep recursion under -fsplit-stack in the initial thread and in
   threads with the smallest pthread stacks AArch64 allows (128 KiB,
   PTHREAD_STACK_MIN; smaller sizes are refused).  Each thread recurses
   through about 20 MiB of frames, far more than its stack, so it must run
   on stack segments allocated by __morestack.  Every value written on the
   way down is verified on the way up, and the sums are checked.
   Prints "recursion ok" and exits 0 only if everything matched.  */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define DEPTH 20000
#define NTHREADS 4
#define FRAME 1000

static long
down (int n, long acc)
{
  volatile char buf[FRAME];
  memset ((char *) buf, n & 0xff, sizeof buf);
  long r = n == 0 ? acc : down (n - 1, acc + n);
  for (int i = 0; i < FRAME; i += 37)
    if (buf[i] != (char) (n & 0xff))
      return -1;
  return r;
}

static void *
thread_main (void *arg)
{
  long depth = (long) arg;
  long want = depth * (depth + 1) / 2;
  return (void *) (long) (down (depth, 0) == want);
}

int
main (void)
{
  long want = (long) DEPTH * (DEPTH + 1) / 2;
  if (down (DEPTH, 0) != want)
    {
      printf ("initial thread: wrong sum\n");
      return 1;
    }
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  /* PTHREAD_STACK_MIN on AArch64: a smaller size is refused.  */
  if (pthread_attr_setstacksize (&attr, 128 * 1024) != 0)
    {
      printf ("pthread_attr_setstacksize failed\n");
      return 1;
    }
  pthread_t t[NTHREADS];
  for (long i = 0; i < NTHREADS; i++)
    if (pthread_create (&t[i], &attr, thread_main, (void *) (DEPTH - i)) != 0)
      {
	printf ("pthread_create failed\n");
	return 1;
      }
  int ok = 1;
  for (int i = 0; i < NTHREADS; i++)
    {
      void *r;
      pthread_join (t[i], &r);
      if (r == 0)
	{
	  printf ("thread %d: wrong sum\n", i);
	  ok = 0;
	}
    }
  if (!ok)
    return 1;
  printf ("recursion ok\n");
  return 0;
}
