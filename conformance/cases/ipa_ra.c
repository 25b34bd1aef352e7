/* Checks: what callers may keep in registers across a call to a split-stack
   function (docs/abi.md, 5.3, "What a caller may assume").  At -O2 GCC's
   -fipa-ra lets a caller keep values in call-clobbered registers across
   calls to functions of the same file whose bodies do not touch them.  A
   function with a check may return through __morestack, whose return path
   clobbers every call-clobbered register but x0-x7 and q0-q7, so the
   compiler must not do that for it.  Every call below goes through
   __morestack (each callee has a 2 MiB frame): a 40-byte struct returned
   through x8 that the caller passes on and stores through afterwards,
   variadic and floating-point calls with many values live across them, a
   static helper that returns a struct to a recursive caller.  Every result
   is recomputed and compared, and at each of the three call sites at
   least half of the calls must have run on a different segment than
   their caller.  (Not all: a caller may run on a segment that
   __morestack reused from an earlier callee and that has room for the
   next one, seen with -fstack-protector-strong, whose frames are laid
   out differently; such a call does not cross.)  Prints "ipa-ra ok" and exits 0 only if all
   matched.  */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define PAD (2 * 1024 * 1024)

struct s40 { long a, b, c, d, e; };

#define SITES 3
static long switches[SITES], calls[SITES];

/* The guard at TP - 8 (docs/abi.md, section 1).  A function that runs
   on a new segment sees another guard than its caller.  */
__attribute__ ((no_split_stack, noinline)) static void *
guard (void)
{
  void **tp;
  __asm__ volatile ("mrs %0, tpidr_el0" : "=r" (tp));
  return tp[-1];
}

static void
note_switch (int site, void *caller)
{
  calls[site]++;
  if (guard () != caller)
    switches[site]++;
}

__attribute__ ((noinline)) static struct s40
make (long n, void *caller)
{
  volatile char pad[PAD];
  struct s40 r;
  pad[0] = 1;
  note_switch (0, caller);
  r.a = n;
  r.b = n + 1;
  r.c = n + 2;
  r.d = n + 3;
  r.e = n + pad[0] + 3;
  return r;
}

/* Passes its own result pointer (x8) on to make and stores through it
   after make returns.  */
__attribute__ ((noinline)) static struct s40
twice (long n)
{
  struct s40 r = make (n, guard ());
  r.a += r.e;
  return r;
}

__attribute__ ((noinline)) static long
vsum (void *caller, int n, ...)
{
  volatile char pad[PAD];
  va_list ap;
  long s = 0;
  pad[0] = 1;
  note_switch (1, caller);
  va_start (ap, n);
  for (int i = 0; i < n; i++)
    s += va_arg (ap, long);
  va_end (ap);
  return s + pad[0] - 1;
}

__attribute__ ((noinline)) static double
scale (double x, void *caller)
{
  volatile char pad[PAD];
  pad[0] = 2;
  note_switch (2, caller);
  return x * pad[0];
}

__attribute__ ((noinline)) static double
fp_live (double a, double b, double c, double d)
{
  double e = a * b, f = b * c, g = c * d, h = d * a;
  double i = a + b, j = b + c, k = c + d, l = d + a;
  double r = scale (a, guard ());
  return r + e + f + g + h + i + j + k + l;
}

__attribute__ ((noinline)) static long
int_live (long a, long b, long c, long d)
{
  long e = a * b, f = b * c, g = c * d, h = d * a;
  long r = vsum (guard (), 3, a, b, c);
  return r + e + f + g + h;
}

static int
walk (int n)
{
  long k = n;
  struct s40 r = twice (k);
  if (r.a != 2 * k + 4 || r.b != k + 1 || r.c != k + 2 || r.d != k + 3
      || r.e != k + 4)
    return -1;
  double a = k, b = k + 1, c = k + 2, d = k + 3;
  if (fp_live (a, b, c, d)
      != 2 * a + a * b + b * c + c * d + d * a + a + 2 * b + 2 * c
	 + 2 * d + a)
    return -1;
  if (int_live (k, k + 1, k + 2, k + 3)
      != 3 * k + 3 + k * (k + 1) + (k + 1) * (k + 2) + (k + 2) * (k + 3)
	 + (k + 3) * k)
    return -1;
  volatile long keep = k;
  int depth = n == 0 ? 0 : walk (n - 1);
  if (depth < 0)
    return -1;
  return keep == k ? depth + 1 : -1;
}

int
main (void)
{
  int depth = walk (100);
  int bad = depth != 101;
  for (int i = 0; i < SITES; i++)
    bad |= calls[i] != 101 || 2 * switches[i] < calls[i];
  if (bad)
    {
      printf ("ipa-ra FAILED: depth %d; calls that switched segments: "
	      "%ld of %ld, %ld of %ld, %ld of %ld\n", depth, switches[0],
	      calls[0], switches[1], calls[1], switches[2], calls[2]);
      return 1;
    }
  printf ("ipa-ra ok\n");
  return 0;
}
