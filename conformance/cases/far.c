/* Checks: the far form of the split-stack check (docs/abi.md, 5.2 and
   6; check prologue/far-form).  Each function below holds about 1.5 MiB
   of code, so its cold block is out of reach of b.lo: the check must
   branch with b.hs over a b to the cold block.  far_function (form S)
   and far_l (form L, an 8 KiB frame) call snprintf (code without
   -fsplit-stack), so gold must rewrite their far forms (form S: b.hs
   becomes nop; form L: K raised, b.hs kept); far_split_only calls only
   split-stack code, so its far form must stay as it is.  Recursions
   3000 (S), 300 (L) and 3000 (unrewritten S) levels deep run on many
   stack segments through those cold blocks.  Prints "far ok" and exits
   0 only if every value matched.  */

#include <stdio.h>
#include <string.h>

#define N4(x) x x x x
#define N16(x) N4 (N4 (x))
#define N256(x) N16 (N16 (x))
#define N65536(x) N256 (N256 (x))

/* GCC counts each line of an asm statement as one instruction: 6 *
   65536 lines are 1.5 MiB, beyond b.lo's reach of 1 MiB.  */
#define FAR_CODE()							\
  __asm__ volatile (N65536 ("nop\n") N65536 ("nop\n") N65536 ("nop\n")	\
		    N65536 ("nop\n") N65536 ("nop\n") N65536 ("nop\n"))

__attribute__ ((noinline)) long
far_function (long n)
{
  volatile char frame[64];
  frame[0] = (char) n;
  FAR_CODE ();
  if (n == 0)
    {
      char buf[32];
      snprintf (buf, sizeof buf, "%d", 42);
      return (long) strlen (buf) - 2;
    }
  long r = far_function (n - 1) + 1;
  return frame[0] == (char) n ? r : -1000000;
}

__attribute__ ((noinline)) long
far_l (long n)
{
  volatile char frame[8192];
  frame[0] = (char) n;
  frame[sizeof frame - 1] = (char) n;
  FAR_CODE ();
  if (n == 0)
    {
      char buf[32];
      snprintf (buf, sizeof buf, "%d", 42);
      return (long) strlen (buf) - 2;
    }
  long r = far_l (n - 1) + 1;
  return frame[0] == (char) n && frame[sizeof frame - 1] == (char) n
	   ? r : -1000000;
}

__attribute__ ((noinline)) long
far_split_only (long n)
{
  volatile char frame[64];
  frame[0] = (char) n;
  FAR_CODE ();
  long r = n == 0 ? 0 : far_split_only (n - 1) + 1;
  return frame[0] == (char) n ? r : -1000000;
}

int
main (void)
{
  long r = far_function (3000);
  long l = far_l (300);
  long o = far_split_only (3000);
  if (r != 3000 || l != 300 || o != 3000)
    {
      printf ("far FAILED: %ld %ld %ld\n", r, l, o);
      return 1;
    }
  printf ("far ok\n");
  return 0;
}
