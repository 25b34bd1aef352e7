/* Checks (with linker_callee.c): calls from split-stack code into code
   compiled without -fsplit-stack (docs/abi.md, section 6).  This file is
   compiled with -fsplit-stack; deep in a recursion that has used many
   stack segments it calls non_split_work, which needs 256 KiB of stack.
   Linked with gold, the caller's prologue must be rewritten to ask for
   more stack and to use __morestack_non_split.  Prints "linker ok" and
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
  if (r != 7 * 3 + 1)
    {
      printf ("linker FAILED: %ld\n", r);
      return 1;
    }
  printf ("linker ok\n");
  return 0;
}
