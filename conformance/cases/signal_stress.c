/* Checks: signal handlers that need new segments, arriving at any
   instruction of __morestack (docs/abi.md, 5.8).  The main loop (the
   initial thread, then a thread) calls a function whose frame is larger
   than the room left on its stack, so that every call crosses into the
   next segment and back (a hot split, with warm segments: no signals are
   blocked); a timer signal arrives every 100 microseconds (under
   qemu-user, shorter periods leave no time between signals), and its
   handler recurses through frames on several segments of its own, and
   every second time calls a function whose frame needs a larger segment
   than the one the loop reuses.  Run
   it under qemu-user with QEMU_SINGLESTEP=1, so that a signal can be
   delivered between any two instructions.  Every result is checked, the
   handler checks that the guard is the same before and after its
   recursion, and the main loop that the guard is the same before and
   after every call.  A handler that finds an odd guard interrupted a
   crossing (GUARD_BUSY, or a lone segment's guard): at least one must
   have.  Prints "signal stress ok" and exits 0 only if all held.  */

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

extern void *__morestack_get_guard (void);

/* For the hardened runs: -fstack-clash-protection would touch every page
   of the large frames below on every call (thousands of stores per call,
   under single-stepping; the frames are touched at both ends only), and
   a stack-protector canary makes a function call __stack_chk_fail, code
   without -fsplit-stack, so that gold makes its check ask for 1 MiB more
   (docs/abi.md, section 6): every level of the handler's recursion would
   then map a segment of its own.  */
#define NO_PROBES \
  __attribute__ ((optimize ("no-stack-clash-protection"), no_stack_protector))


/* With the crossing-stress runtime (docs/stress.md) every call of the
   handler's recursion crosses too: fewer rounds keep the time near that
   of a normal run.  */
#ifndef ROUNDS
#ifdef SPLIT_STACK_STRESS
#define ROUNDS 1
#else
#define ROUNDS 4
#endif
#endif
#ifndef CALLS
#define CALLS 3000
#endif
/* Runs of the initial thread's loop and a new thread's.  */
#ifndef RUNS
#define RUNS 3
#endif
#define DEPTH 24

static volatile sig_atomic_t handled, odd_guard, handler_errors;

NO_PROBES __attribute__ ((noinline)) static long
deep (long n)
{
  volatile char pad[1536];
  pad[0] = (char) n;
  pad[sizeof pad - 1] = 1;
  if (n == 0)
    return 0;
  return deep (n - 1) + pad[0] + pad[sizeof pad - 1];
}

/* Larger than the segment the hot loop reuses: a handler that calls it
   needs the list to change (the segment after the current one is freed
   and a larger one allocated), which must not happen under a crossing
   that has already chosen that segment.  */
NO_PROBES __attribute__ ((noinline)) static long
huge (long i)
{
  volatile char pad[4 * 1024 * 1024];
  pad[0] = (char) i;
  pad[sizeof pad - 1] = (char) i;
  return pad[0] + pad[sizeof pad - 1];
}

static void
handler (int sig)
{
  (void) sig;
  void *g = __morestack_get_guard ();
  if ((uintptr_t) g & 1)
    odd_guard = odd_guard + 1;
  if (deep (DEPTH) != DEPTH * (DEPTH + 1) / 2 + DEPTH)
    handler_errors = handler_errors + 1;
  int h = handled;
  if (h % 2 == 1 && huge (h) != 2 * (char) h)
    handler_errors = handler_errors + 1;
  if (__morestack_get_guard () != g)
    handler_errors = handler_errors + 1;
  handled = handled + 1;
}

/* Larger than the room left below the guard wherever hot_loop runs
   (main runs on a segment of a little over 1 MiB, since it calls code
   without -fsplit-stack; the thread has a 128 KiB stack): every call
   needs the next segment.  */
NO_PROBES __attribute__ ((noinline)) static long
big (long i)
{
  volatile char pad[2 * 1024 * 1024];
  pad[0] = (char) i;
  pad[sizeof pad - 1] = (char) (i >> 8);
  return i * 3 + pad[0] - (char) i + pad[sizeof pad - 1] - (char) (i >> 8);
}

__attribute__ ((noinline)) static int
hot_loop (void)
{
  for (int r = 0; r < ROUNDS; r++)
    {
      void *g = __morestack_get_guard ();
      for (long i = 0; i < CALLS; i++)
	{
	  if (big (i) != i * 3)
	    return 1;
	  if (__morestack_get_guard () != g)
	    return 2;
	}
    }
  return 0;
}

static void *
thread_main (void *arg)
{
  /* Created with the timer signal blocked (below): take it from here
     on, while the initial thread waits with it blocked.  */
  pthread_sigmask (SIG_UNBLOCK, (sigset_t *) arg, NULL);
  return (void *) (intptr_t) hot_loop ();
}

int
main (void)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset (&sa.sa_mask);
  if (sigaction (SIGALRM, &sa, NULL) != 0)
    return 1;
  struct itimerval it = { { 0, 100 }, { 0, 100 } };
  if (setitimer (ITIMER_REAL, &it, NULL) != 0)
    return 1;

  /* The timer signal goes to any thread that does not block it: the
     initial thread blocks it while the thread runs.  */
  sigset_t s;
  sigemptyset (&s);
  sigaddset (&s, SIGALRM);
  for (int run = 0; run < RUNS; run++)
    {
      int r = hot_loop ();
      if (r != 0)
	{
	  printf ("initial thread, run %d: hot loop failed (%d)\n", run, r);
	  return 1;
	}
      pthread_t t;
      pthread_attr_t a;
      void *tr;
      pthread_sigmask (SIG_BLOCK, &s, NULL);
      if (pthread_attr_init (&a) != 0
	  || pthread_attr_setstacksize (&a, 128 * 1024) != 0
	  || pthread_create (&t, &a, thread_main, &s) != 0)
	return 1;
      if (pthread_join (t, &tr) != 0 || tr != NULL)
	{
	  printf ("thread, run %d: hot loop failed (%ld)\n", run,
		  (long) (intptr_t) tr);
	  return 1;
	}
      pthread_sigmask (SIG_UNBLOCK, &s, NULL);
    }
  struct itimerval off = { { 0, 0 }, { 0, 0 } };
  setitimer (ITIMER_REAL, &off, NULL);

  if (handler_errors != 0)
    {
      printf ("%d wrong results in handlers\n", (int) handler_errors);
      return 1;
    }
  if (handled < 100)
    {
      printf ("only %d signals handled\n", (int) handled);
      return 1;
    }
  if (odd_guard == 0)
    {
      printf ("no signal arrived during a crossing (%d handled)\n",
	      (int) handled);
      return 1;
    }
#ifdef VERBOSE
  printf ("handled %d, during a crossing %d\n", (int) handled,
	  (int) odd_guard);
#endif
  printf ("signal stress ok\n");
  return 0;
}
