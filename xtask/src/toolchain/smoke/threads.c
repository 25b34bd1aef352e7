/* Smoke test: pthread_create/pthread_join in the patched glibc.  Each
   thread sums a disjoint range; main checks the total.  */
#include <pthread.h>
#include <stdio.h>

#define NTHREADS 8
#define PER 100000UL

static void *
worker (void *arg)
{
  unsigned long i = (unsigned long) arg, s = 0;
  for (unsigned long k = i * PER; k < (i + 1) * PER; k++)
    s += k;
  return (void *) s;
}

int
main (void)
{
  pthread_t t[NTHREADS];
  unsigned long total = 0, n = NTHREADS * PER;
  for (unsigned long i = 0; i < NTHREADS; i++)
    if (pthread_create (&t[i], NULL, worker, (void *) i) != 0)
      return 2;
  for (int i = 0; i < NTHREADS; i++)
    {
      void *r;
      if (pthread_join (t[i], &r) != 0)
        return 3;
      total += (unsigned long) r;
    }
  if (total != n * (n - 1) / 2)
    {
      printf ("wrong sum %lu\n", total);
      return 1;
    }
  printf ("threads ok %lu\n", total);
  return 0;
}
