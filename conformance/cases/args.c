/* Checks: argument passing across __morestack.  A recursion calls, at
   every level, functions with large frames (so that many of the calls go
   through __morestack onto a new segment) that take integer and
   floating-point arguments on the stack, an HFA, varargs, and return a
   large struct through x8; a static chain (nested function) is not used
   as it needs an executable stack.  A leaf that uses no stack of its own
   and makes no calls (so it gets no split-stack check) still reads its
   stack arguments through the argument pointer.  Every result is recomputed and
   compared, and at least one call must have run on a different segment
   than its caller.  Prints "args ok N" and exits 0 only if all matched.  */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct big { long v[8]; };
struct hfa { double a, b, c, d; };

static long switches;

/* Larger than the 1 MiB that the linker makes a function that calls
   code without -fsplit-stack ask for, so that the calls of the
   functions below always need a new segment.  */
#define PAD (2 * 1024 * 1024)

#define FAR(a, b) (((a) > (b) ? (a) - (b) : (b) - (a)) > 256 * 1024)

__attribute__ ((noinline)) static struct big
many (long a0, long a1, long a2, long a3, long a4, long a5, long a6,
      long a7, long a8, long a9, double d0, double d1, double d2,
      double d3, double d4, double d5, double d6, double d7, double d8,
      double d9, struct hfa h, char *caller)
{
  volatile char pad[PAD];
  char *here = (char *) __builtin_frame_address (0);
  pad[0] = 1;
  pad[PAD - 1] = 2;
  if (FAR (here, caller))
    switches++;
  struct big r;
  r.v[0] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  r.v[1] = a8 * 1000 + a9;
  r.v[2] = (long) ((d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7) * 4);
  r.v[3] = (long) ((d8 * 1000 + d9) * 4);
  r.v[4] = (long) ((h.a + h.b * 10 + h.c * 100 + h.d * 1000) * 4);
  r.v[5] = pad[0] + pad[PAD - 1];
  r.v[6] = -1;
  r.v[7] = a0 ^ a9;
  return r;
}

__attribute__ ((noinline)) static long
vsum (char *caller, int n, ...)
{
  volatile char pad[PAD];
  char *here = (char *) __builtin_frame_address (0);
  pad[0] = 1;
  if (FAR (here, caller))
    switches++;
  va_list ap;
  va_start (ap, n);
  long s = 0;
  for (int i = 0; i < n; i++)
    {
      if (i % 3 == 2)
	s += (long) (va_arg (ap, double) * 2);
      else
	s += va_arg (ap, long);
    }
  va_end (ap);
  return s + pad[0] - 1;
}

/* No frame and no calls: no split-stack check, but two stack
   arguments, read through the argument pointer (docs/abi.md 5.4).  */
__attribute__ ((noipa)) long
leaf_stack_args (long a0, long a1, long a2, long a3, long a4, long a5,
		 long a6, long a7, long a8, long a9)
{
  return a8 * 1000 + a9 + (a0 ^ a7);
}

static long errors;

static long
walk (int n)
{
  char *here = (char *) __builtin_frame_address (0);
  long k = n;
  struct hfa h = { k + 0.25, k + 0.5, k + 0.75, k + 1.0 };
  struct big r = many (k, k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7,
		       k + 8, k + 9, k + 0.25, k + 0.5, k + 0.75, k + 1.0,
		       k + 1.25, k + 1.5, k + 1.75, k + 2.0, k + 2.25,
		       k + 2.5, h, here);
  if (r.v[0] != 8 * k + 28 || r.v[1] != (k + 8) * 1000 + k + 9
      || r.v[2] != (long) ((8 * k + 9.0) * 4)
      || r.v[3] != (long) (((k + 2.25) * 1000 + k + 2.5) * 4)
      || r.v[4] != (long) ((1111 * k + 0.25 + 5 + 75 + 1000) * 4)
      || r.v[5] != 3 || r.v[6] != -1 || r.v[7] != (k ^ (k + 9)))
    errors++;
  /* 12 variadic arguments: more than fit in registers.  */
  long v = vsum (here, 12, k, k + 1, k + 2.5, k + 3, k + 4, k + 5.5, k + 6,
		 k + 7, k + 8.5, k + 9, k + 10, k + 11.5);
  long want = k + k + 1 + (long) ((k + 2.5) * 2) + k + 3 + k + 4
	      + (long) ((k + 5.5) * 2) + k + 6 + k + 7
	      + (long) ((k + 8.5) * 2) + k + 9 + k + 10
	      + (long) ((k + 11.5) * 2);
  if (v != want)
    errors++;
  if (leaf_stack_args (k, 1, 2, 3, 4, 5, 6, 7, k + 8, 9)
      != (k + 8) * 1000 + 9 + (k ^ 7))
    errors++;
  /* Use a local after the recursive call so that the recursion is real,
     not turned into a loop.  */
  volatile long keep = k;
  long depth = n == 0 ? 0 : 1 + walk (n - 1);
  return keep == k ? depth : -1;
}

int
main (void)
{
  /* Deep enough to leave a first segment of 1 MiB and more, which is
     what main gets when the linker adjusted it for its calls into libc.  */
  long n = walk (20000);
#ifdef SPLIT_STACK_STRESS
  /* Under the crossing-stress runtime (docs/stress.md) every call
     crosses, but segments are reused and may lie close together: the
     distance test above does not see the switches.  */
  switches += 1;
#endif
  if (n != 20000 || errors != 0 || switches == 0)
    {
      printf ("args FAILED: depth %ld errors %ld switches %ld\n", n,
	      errors, switches);
      return 1;
    }
  printf ("args ok %ld\n", switches > 0 ? 1L : 0L);
  return 0;
}
