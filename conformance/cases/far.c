/* Checks: the far form of the split-stack check (docs/abi.md, 5.2 and
   6; check prologue/far-form).  far_function holds about 1.5 MiB of
   code, so its cold block is out of reach of b.lo: the check must branch
   with b.hs over a b to the cold block.  It calls snprintf (code without
   -fsplit-stack), so gold must rewrite its far form too (b.hs becomes
   nop).  The recursion, 3000 levels deep, runs on many stack segments
   through that cold block.  Prints "far ok" and exits 0 only if every
   value matched.  */

#include <stdio.h>
#include <string.h>

#define N4(x) x x x x
#define N16(x) N4 (N4 (x))
#define N256(x) N16 (N16 (x))
#define N65536(x) N256 (N256 (x))

__attribute__ ((noinline)) long
far_function (long n)
{
  volatile char frame[64];
  frame[0] = (char) n;
  /* GCC counts each line of an asm statement as one instruction: 6 *
     65536 lines are 1.5 MiB, beyond b.lo's reach of 1 MiB.  */
  __asm__ volatile (N65536 ("nop\n") N65536 ("nop\n") N65536 ("nop\n")
		    N65536 ("nop\n") N65536 ("nop\n") N65536 ("nop\n"));
  if (n == 0)
    {
      char buf[32];
      snprintf (buf, sizeof buf, "%d", 42);
      return (long) strlen (buf) - 2;
    }
  long r = far_function (n - 1) + 1;
  return frame[0] == (char) n ? r : -1000000;
}

int
main (void)
{
  long r = far_function (3000);
  if (r != 3000)
    {
      printf ("far FAILED: %ld\n", r);
      return 1;
    }
  printf ("far ok\n");
  return 0;
}
