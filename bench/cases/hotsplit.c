/* Benchmark workload: the hot split.  Usage: hotsplit N boundary|away.
   A loop calls a small function f N times from hot_loop.  "away" runs the
   loop with plenty of stack left.  "boundary" (split-stack builds, -DSPLIT)
   first makes one crossing (warm_up), then recurses in small steps towards the guard (__morestack_get_guard);
   within 8 KiB of it, each level probes with one iteration whether
   hot_loop still runs on the current segment while f does not, and runs
   the loop at the first level where that holds: every call of f then goes
   through __morestack.  hot_loop's frame is below 256 bytes, so that both
   AArch64 (frames up to 4 KiB) and x86_64 (up to 256 bytes) check it by
   comparing SP itself with the guard, and it may end below the guard.
   Prints units=N and crossed=1 if f's frame was not just below
   hot_loop's.  */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOP_FRAME 160

extern void *__morestack_get_guard (void);

static void *volatile f_addr, *volatile loop_addr;
static int no_level;

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
/* One crossing before measuring: on return from the first __morestack
   call the runtime recomputes the main thread's guard from the bounds of
   its initial segment, which may differ from the guard set at start-up,
   so the boundary is found only after that.  */
__attribute__ ((noinline, noclone)) static void
warm_up (void)
{
  /* More than main's segment has left: main calls non-split code, so
     the linker makes it ask for 1 MiB more than its frame.  */
  volatile char big[2 * 1024 * 1024];
  big[0] = 0;
}

__attribute__ ((noinline, noclone)) static long
descend (long n)
{
  volatile char x[16];
  x[0] = 0;
  uintptr_t here = (uintptr_t) x;
  uintptr_t guard = (uintptr_t) __morestack_get_guard ();
  if (here - guard < 8192)
    {
      hot_loop (1);
      uintptr_t l = (uintptr_t) loop_addr, fa = (uintptr_t) f_addr;
      int loop_here = l < here && here - l < 4096;
      int f_near = fa < l && l - fa < 4096;
      if (loop_here && !f_near)
	return hot_loop (n) + x[0];
      if (!loop_here)
	{
	  /* No call of non-split code (printf) here: the linker would make
	     this function ask for 1 MiB more, and it would never get near
	     the guard.  */
	  no_level = 1;
	  return 0;
	}
    }
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
  warm_up ();
  s = boundary ? descend (n) : hot_loop (n);
#else
  if (boundary)
    {
      printf ("boundary needs a split-stack build\n");
      return 2;
    }
  s = hot_loop (n);
#endif
  if (no_level)
    {
      printf ("error=no level found where only f crosses\n");
      return 3;
    }
  uintptr_t l = (uintptr_t) loop_addr, fa = (uintptr_t) f_addr;
  int near = fa < l && l - fa < 4096;
  printf ("result=%ld\nunits=%ld\ncrossed=%d\n", s, n, !near);
  return 0;
}
