/* Checks (with linker_callee.c): calls from split-stack code into code
   compiled without -fsplit-stack (docs/abi.md, section 6).  This file is
   compiled with -fsplit-stack; deep in a recursion that has used many
   stack segments it calls non_split_work, which needs 256 KiB of stack.
   Linked with gold, the caller's prologue must be rewritten to ask for
   more stack and to use __morestack_non_split; so must the prologue of
   a function that only takes its address; a function that calls only
   split-stack code must keep its check.  Prints "linker ok" and
   exits 0 only if every value matched.  */

#include <stdio.h>

extern long non_split_work (long);

long
split_caller (long x)
{
  char buf[64];
  buf[x & 63] = (char) x;
  return non_split_work (x) + buf[x & 63] - (char) x;
}

/* The same with frames of the other two prologue forms: 64 KiB (the
   page count of the SUB is raised) and 20 MiB (MOVZ/MOVK re-encoded).  */
long
split_caller_l (long x)
{
  volatile char buf[64 * 1024];
  buf[x] = (char) x;
  return non_split_work (x) + buf[x] - (char) x;
}

long
split_caller_h (long x)
{
  volatile char buf[20 * 1024 * 1024];
  buf[x] = (char) x;
  return non_split_work (x) + buf[x] - (char) x;
}

/* No frame and no calls, but a relocation against the non-split
   function: it must still have a check for the linker to rewrite (a
   function without one would be rejected by the linker).  */
__attribute__ ((noipa)) long (*
address_of_non_split (void)) (long)
{
  return non_split_work;
}

/* Split-stack code that calls nothing (noipa: not inlined).  */
__attribute__ ((noipa)) long
split_leaf (long x)
{
  volatile char buf[32];
  buf[0] = (char) x;
  return buf[0] * 3 + 1;
}

/* Calls only split-stack code: the linker must leave its check as it
   is, branching to __morestack.  */
__attribute__ ((noipa)) long
split_only (long x)
{
  volatile char buf[64];
  buf[0] = (char) x;
  return split_leaf (x) + buf[0] - (char) x;
}

static long
descend (int n)
{
  volatile char frame[1000];
  frame[0] = (char) n;
  long r = n == 0 ? split_caller (n + 7) : descend (n - 1);
  return frame[0] == (char) n ? r : -1;
}

int
main (void)
{
  long r = descend (2000);
  long l = split_caller_l (5);
  long h = split_caller_h (6);
  long a = address_of_non_split () (2);
  long o = split_only (3);
  if (r != 7 * 3 + 1 || l != 5 * 3 + 1 || h != 6 * 3 + 1 || a != 2 * 3 + 1
      || o != 3 * 3 + 1)
    {
      printf ("linker FAILED: %ld %ld %ld %ld %ld\n", r, l, h, a, o);
      return 1;
    }
  printf ("linker ok\n");
  return 0;
}
