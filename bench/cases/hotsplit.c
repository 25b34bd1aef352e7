/* Benchmark workload: the hot split.  Usage: hotsplit N boundary|away.
   A loop calls a small function f N times from hot_loop.  "away" runs the
   loop with plenty of stack left.  "boundary" (split-stack builds, -DSPLIT)
   first recurses until about 512 bytes are left above the guard
   (__morestack_get_guard), so that hot_loop itself still fits but every
   call of f finds SP below the guard and goes through __morestack.
   Prints units=N and crossed=1 if f's frame was not just below
   hot_loop's.  */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOP_FRAME 1024

extern void *__morestack_get_guard (void);

static void *volatile f_addr, *volatile loop_addr;

__attribute__ ((noinline, noclone)) static long
f (long i)
{
  volatile char b[64];
  b[0] = (char) i;
  f_addr = (void *) b;
  return b[0];
}

__attribute__ ((noinline, noclone)) static long
hot_loop (long n)
{
  volatile char pad[LOOP_FRAME];
  pad[0] = 0;
  loop_addr = (void *) pad;
  long s = 0;
  for (long i = 0; i < n; i++)
    s += f (i);
  return s + pad[0];
}

#ifdef SPLIT
__attribute__ ((noinline, noclone)) static long
descend (long n)
{
  volatile char x[16];
  x[0] = 0;
  uintptr_t here = (uintptr_t) x;
  uintptr_t guard = (uintptr_t) __morestack_get_guard ();
  if (here - guard < LOOP_FRAME / 2 + 128)
    return hot_loop (n) + x[0];
  return descend (n) + x[0];
}
#endif

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 1000;
  int boundary = argc > 2 && strcmp (argv[2], "boundary") == 0;
  long s;
#ifdef SPLIT
  s = boundary ? descend (n) : hot_loop (n);
#else
  if (boundary)
    {
      printf ("boundary needs a split-stack build\n");
      return 2;
    }
  s = hot_loop (n);
#endif
  uintptr_t l = (uintptr_t) loop_addr, fa = (uintptr_t) f_addr;
  int near = fa < l && l - fa < 4096;
  printf ("result=%ld\nunits=%ld\ncrossed=%d\n", s, n, !near);
  return 0;
}
