/* Checks: __builtin_apply_args and __builtin_apply on a new segment.
   A forwarding function declared with one parameter is called with ten
   integer and ten floating-point arguments (two of each on the stack);
   it records its incoming arguments with __builtin_apply_args and
   passes them on to the real target with __builtin_apply, copying the
   caller's 32 bytes of stack arguments.  The forwarding function has a
   frame that needs a new segment, so its incoming stack arguments are
   in the previous segment: it must find them through the argument
   pointer, although its own parameters are all in registers.  With the
   crossing-stress runtime (docs/stress.md), where the room left is
   always short, __builtin_apply's block of stack arguments must still
   be put at the stack pointer, not where dynamic allocation on a short
   segment would put it (__morestack_allocate_stack_space).  Prints
   "apply ok" and exits 0 only if every result was right and at least
   one forwarding call ran on a different segment than its caller.  */

#include <stdio.h>

#define PAD (2 * 1024 * 1024)

/* The guard changes only when a function runs on another segment (a
   distance between frames does not tell: a new segment may lie just
   above the old one).  */
extern void *__morestack_get_guard (void);

typedef double (*fn20) (long, long, long, long, long, long, long, long,
			long, long, double, double, double, double, double,
			double, double, double, double, double);

static void *caller_guard;
static int far_calls;

__attribute__ ((noinline)) static double
target (long a0, long a1, long a2, long a3, long a4, long a5, long a6,
	long a7, long a8, long a9, double d0, double d1, double d2,
	double d3, double d4, double d5, double d6, double d7, double d8,
	double d9)
{
  return (a0 + 2 * a1 + 3 * a2 + 4 * a3 + 5 * a4 + 6 * a5 + 7 * a6
	  + 8 * a7 + 9 * a8 + 10 * a9)
	 + (d0 + 2 * d1 + 3 * d2 + 4 * d3 + 5 * d4 + 6 * d5 + 7 * d6
	    + 8 * d7 + 9 * d8 + 10 * d9) / 4;
}

/* 8 bytes each: a8, a9, d8, d9.  */
#define STACK_ARGS 32

__attribute__ ((noinline)) static double
forward_far (long a0)
{
  volatile char pad[PAD];
  pad[0] = (char) a0;
  pad[PAD - 1] = 0;
  if (pad[0] == (char) a0 && __morestack_get_guard () != caller_guard)
    far_calls++;
  void *args = __builtin_apply_args ();
  void *r = __builtin_apply ((void (*) ()) target, args, STACK_ARGS);
  __builtin_return (r);
}

__attribute__ ((noinline)) static double
forward_near (long a0)
{
  void *args = __builtin_apply_args ();
  void *r = __builtin_apply ((void (*) ()) target, args, STACK_ARGS);
  __builtin_return (r);
}

static double
expected (long b, double e)
{
  return target (b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8,
		 b + 9, e, e + 1, e + 2, e + 3, e + 4, e + 5, e + 6, e + 7,
		 e + 8, e + 9);
}

__attribute__ ((noinline)) static int
check (fn20 f, long b, double e)
{
  caller_guard = __morestack_get_guard ();
  double got = f (b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8,
		  b + 9, e, e + 1, e + 2, e + 3, e + 4, e + 5, e + 6, e + 7,
		  e + 8, e + 9);
  return got == expected (b, e);
}

int
main (void)
{
  fn20 volatile far = (fn20) forward_far;
  fn20 volatile near = (fn20) forward_near;
  for (long i = 0; i < 20; i++)
    if (!check (far, 100 * i, 0.5 * i) || !check (near, -i, 0.25 * i))
      {
	printf ("wrong result, i = %ld\n", i);
	return 1;
      }
  if (far_calls == 0)
    {
      printf ("no forwarding call ran on a new segment\n");
      return 1;
    }
  printf ("apply ok\n");
  return 0;
}
