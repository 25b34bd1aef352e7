/* Benchmark workload: naive recursive Fibonacci, the call-heavy case.
   Usage: fib N.  Prints the result and units=<calls of fib>, computed
   arithmetically (calls (n) = 2 F(n+1) - 1) so that counting costs
   nothing.  Built with -fno-optimize-sibling-calls so that GCC's
   tail-recursion pass does not turn one of the two calls into a loop.  */

#include <stdio.h>
#include <stdlib.h>

__attribute__ ((noinline, noclone)) static long
fib (int n)
{
  return n < 2 ? n : fib (n - 1) + fib (n - 2);
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 20;
  long r = fib (n);
  long a = 0, b = 1;
  for (int i = 0; i < n + 1; i++)
    {
      long t = a + b;
      a = b;
      b = t;
    }
  printf ("result=%ld\nunits=%ld\n", r, 2 * a - 1);
  return 0;
}
