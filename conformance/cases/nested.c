/* Checks: GNU C nested functions whose trampolines live on stack
   segments.  A function with a frame larger than any segment in use
   (so that it runs on a new segment) defines a nested function that
   uses its locals and passes its address, a trampoline built in that
   frame, to code that calls it: its own helper, and libc's qsort.  The
   program needs an executable stack (the compiler marks it so), and the
   runtime must give segments the same protection as the stack: on a
   segment that is not executable, the first call of a trampoline
   faults.  Runs in the initial thread and in a thread.  Prints
   "nested ok" and exits 0 only if every result was right and at least
   one trampoline ran on a different segment than main.  */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Larger than the 1 MiB that the linker makes a function that calls
   code without -fsplit-stack ask for: the frame needs a new segment.  */
#define PAD (2 * 1024 * 1024)

#define FAR(a, b) (((a) > (b) ? (a) - (b) : (b) - (a)) > 256 * 1024)

static char *main_frame;
static int far_calls;

__attribute__ ((noinline)) static long
apply (long (*f) (long), long n)
{
  long s = 0;
  for (long i = 0; i < n; i++)
    s += f (i);
  return s;
}

__attribute__ ((noinline)) static long
outer (long k)
{
  volatile char pad[PAD];
  long calls = 0;
  pad[0] = 1;
  pad[PAD - 1] = 1;

  long scale (long x)
  {
    calls++;
    return x * k + pad[0];
  }

  int cmp (const void *a, const void *b)
  {
    calls++;
    long x = *(const long *) a * k, y = *(const long *) b * k;
    return (x > y) - (x < y);
  }

  char *here = (char *) __builtin_frame_address (0);
  if (FAR (here, main_frame))
    __atomic_add_fetch (&far_calls, 1, __ATOMIC_RELAXED);

  long s = apply (scale, 100);
  if (s != k * 4950 + 100 || calls != 100)
    return -1;

  long v[64];
  for (int i = 0; i < 64; i++)
    v[i] = (i * 37) % 64;
  qsort (v, 64, sizeof v[0], cmp);
  for (int i = 0; i < 64; i++)
    if (v[i] != (k > 0 ? i : 63 - i))
      return -2;
  if (calls <= 100)
    return -3;
  return s;
}

static void *
thread_main (void *arg)
{
  long k = (long) arg;
  return (void *) (outer (k) == k * 4950 + 100 ? 0 : 1L);
}

int
main (void)
{
  main_frame = (char *) __builtin_frame_address (0);
  for (long k = 1; k <= 3; k++)
    if (outer (k) != k * 4950 + 100 || outer (-k) != -k * 4950 + 100)
      {
	printf ("wrong result in the initial thread, k = %ld\n", k);
	return 1;
      }
  pthread_t t;
  void *r;
  if (pthread_create (&t, NULL, thread_main, (void *) 5L) != 0
      || pthread_join (t, &r) != 0 || r != NULL)
    {
      printf ("wrong result in a thread\n");
      return 1;
    }
  if (far_calls == 0)
    {
      printf ("no trampoline ran on a new segment\n");
      return 1;
    }
  printf ("nested ok\n");
  return 0;
}
