/* Checks: calls from split-stack code to libgcc's stack-free helpers do
   not count as calls into code without -fsplit-stack (docs/abi.md,
   section 6).  With -moutline-atomics (GCC's default on AArch64) an
   atomic add is a call to libgcc's __aarch64_ldadd8_acq_rel, which uses
   no stack; the linker must leave the caller's check as it is (before
   gold exempted these helpers, it turned b.lo into b: every call took
   the slow path through __morestack_non_split).  The program checks
   the counter and the sum of the values the atomic add returned.
   Prints "atomics ok" and exits 0 only if both matched.  */

#include <stdio.h>

long counter;

__attribute__ ((noinline)) long
bump (long n)
{
  return __atomic_fetch_add (&counter, n, __ATOMIC_ACQ_REL);
}

int
main (void)
{
  long s = 0;
  for (long i = 0; i < 1000; i++)
    s += bump (i);
  if (counter != 999 * 1000 / 2 || s != 998L * 999 * 1000 / 6)
    {
      printf ("atomics FAILED: counter %ld, sum %ld\n", counter, s);
      return 1;
    }
  printf ("atomics ok\n");
  return 0;
}
