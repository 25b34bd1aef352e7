/* Benchmark workload: a function that does one atomic add per call.
   With -moutline-atomics (GCC's default on AArch64) the add is a call
   to libgcc's __aarch64_ldadd8_acq_rel, a helper that uses no stack;
   the row shows what -fsplit-stack adds to such a function: gold
   treats the helper as code without -fsplit-stack, so every call takes
   the slow path through __morestack_non_split (docs/abi.md, section 6).
   Usage: atomics N.  Prints the result and units=<calls of bump>.  */

#include <stdio.h>
#include <stdlib.h>

long counter;

__attribute__ ((noinline, noclone)) static long
bump (long n)
{
  return __atomic_fetch_add (&counter, n, __ATOMIC_ACQ_REL);
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 1000;
  long s = 0;
  for (int i = 0; i < n; i++)
    s += bump (i);
  printf ("result=%ld\nunits=%d\n", s + counter, n);
  return 0;
}
