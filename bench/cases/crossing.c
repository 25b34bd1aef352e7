/* Benchmark workload: a __morestack round trip per call.  Usage:
   crossing N.  big has a 2 MiB frame, more than any segment of this
   program has left (main calls printf, which is not split-stack code, so
   the linker makes main ask for 1 MiB more than its frame), so with
   -fsplit-stack every call goes through __morestack: the first allocates a segment, the
   others find it in the segment list (warm cache), run big on it and
   release it on return.  Prints units=N and crossed=1 if big's frame was
   not on main's stack.  */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FRAME (2 * 1024 * 1024)

static void *volatile last;

__attribute__ ((noinline, noclone)) static long
big (long i)
{
  volatile char buf[FRAME];
  buf[0] = (char) i;
  buf[FRAME - 1] = (char) i;
  last = (void *) buf;
  return buf[0] + buf[FRAME - 1];
}

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 1000;
  volatile char here;
  long s = 0;
  for (long i = 0; i < n; i++)
    s += big (i);
  uintptr_t h = (uintptr_t) &here, l = (uintptr_t) last;
  int near = l < h && h - l < FRAME + 64 * 1024;
  printf ("result=%ld\nunits=%ld\ncrossed=%d\n", s, n, !near);
  return 0;
}
