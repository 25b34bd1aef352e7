/* Store-buffering litmus test for the machine that runs the AArch64
   programs (qemu-user): two threads, each stores a round number to its
   own word with a sequentially consistent store (STLR) and then loads
   the other thread's word with a sequentially consistent load (LDAR).
   The Arm memory model forbids both loads seeing the previous round's
   value (a store-release is ordered before a later load-acquire); libgo's
   sync/atomic TestStoreLoadSeqCst32/64 checks the same.  Prints
   "N of M rounds: both loads saw the old value" and exits 0 when N is 0.

   Usage: sb_litmus [ROUNDS]  (default 30000).  */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static long x, y;		/* the two threads' words */
static long ra, rb;		/* what each thread loaded in its round */
static long rounds;
static long round_a, round_b;	/* last round each thread finished */
static long judged;		/* last round thread A has judged */

/* Spins until *W >= V, yielding now and then (qemu-user runs each guest
   thread on a host thread; the host may have fewer CPUs than threads).  */
static void
wait_for (long *w, long v)
{
  for (long n = 0; __atomic_load_n (w, __ATOMIC_ACQUIRE) < v; n++)
    if (n % 256 == 255)
      sched_yield ();
}

static void *
thread_a (void *arg)
{
  long bad = 0;
  (void) arg;
  for (long i = 1; i <= rounds; i++)
    {
      wait_for (&round_b, i - 1);
      __atomic_store_n (&x, i, __ATOMIC_SEQ_CST);
      ra = __atomic_load_n (&y, __ATOMIC_SEQ_CST);
      __atomic_store_n (&round_a, i, __ATOMIC_RELEASE);
      wait_for (&round_b, i);
      if (ra < i && rb < i)
	bad++;
      __atomic_store_n (&judged, i, __ATOMIC_RELEASE);
    }
  return (void *) bad;
}

static void *
thread_b (void *arg)
{
  for (long i = 1; i <= rounds; i++)
    {
      /* Not before A has judged the previous round (rb is rewritten).  */
      wait_for (&judged, i - 1);
      __atomic_store_n (&y, i, __ATOMIC_SEQ_CST);
      rb = __atomic_load_n (&x, __ATOMIC_SEQ_CST);
      __atomic_store_n (&round_b, i, __ATOMIC_RELEASE);
    }
  return arg;
}

int
main (int argc, char **argv)
{
  rounds = argc > 1 ? atol (argv[1]) : 30000;
  if (rounds <= 0)
    {
      fprintf (stderr, "usage: sb_litmus [ROUNDS > 0]\n");
      return 2;
    }
  pthread_t a, b;
  void *bad;
  if (pthread_create (&a, NULL, thread_a, NULL) != 0
      || pthread_create (&b, NULL, thread_b, NULL) != 0)
    {
      perror ("pthread_create");
      return 2;
    }
  pthread_join (a, &bad);
  pthread_join (b, NULL);
  printf ("%ld of %ld rounds: both loads saw the old value\n",
	  (long) bad, rounds);
  return bad != NULL;
}
