/* Checks: unwinding through __morestack (docs/abi.md, section 7).
   1. _Unwind_Backtrace from the bottom of a recursion 3000 frames deep,
      which spans many stack segments, walks every frame up to main.
   2. A thread that recursed 3000 frames deep calls pthread_exit: the
      forced unwind runs the cleanup of every frame, through every
      __morestack frame and its own cleanup, which restores the guard.
   3. A new thread then recurses again, on a healthy runtime.
   Built with -fexceptions.  Prints "unwind ok" and exits 0 only if the
   counts match.  */

#include <pthread.h>
#include <stdio.h>
#include <unwind.h>

#define DEPTH 3000

static int frames;
static volatile int cleanups;

static _Unwind_Reason_Code
count_frame (struct _Unwind_Context *ctx, void *arg)
{
  (void) ctx;
  (void) arg;
  frames++;
  return _URC_NO_REASON;
}

static void
note_cleanup (int *p)
{
  (void) p;
  cleanups++;
}

static long
down (int n, int mode)
{
  volatile char frame[1000];
  int guard __attribute__ ((cleanup (note_cleanup))) = n;
  frame[0] = (char) n;
  if (n == 0)
    {
      if (mode == 0)
	_Unwind_Backtrace (count_frame, NULL);
      else if (mode == 1)
	pthread_exit (NULL);
      return 0;
    }
  long r = n + down (n - 1, mode);
  return frame[0] == (char) n ? r + (guard - n) : -1000000;
}

static void *
thread_main (void *arg)
{
  int mode = (int) (long) arg;
  long r = down (DEPTH, mode);
  return (void *) (long) (r == (long) DEPTH * (DEPTH + 1) / 2);
}

int
main (void)
{
  if (down (DEPTH, 0) != (long) DEPTH * (DEPTH + 1) / 2 || frames < DEPTH)
    {
      printf ("unwind FAILED: backtrace saw %d frames\n", frames);
      return 1;
    }
  cleanups = 0;
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, 64 * 1024);
  pthread_t t;
  void *r;
  pthread_create (&t, &attr, thread_main, (void *) 1L);
  pthread_join (t, &r);
  if (r != PTHREAD_CANCELED && r != NULL)
    {
      printf ("unwind FAILED: thread returned\n");
      return 1;
    }
  if (cleanups != DEPTH + 1)
    {
      printf ("unwind FAILED: %d cleanups, expected %d\n", cleanups,
	      DEPTH + 1);
      return 1;
    }
  pthread_create (&t, &attr, thread_main, (void *) 2L);
  pthread_join (t, &r);
  if (r != (void *) 1L)
    {
      printf ("unwind FAILED: second thread\n");
      return 1;
    }
  printf ("unwind ok\n");
  return 0;
}
