/* Checks: alloca and variable-length arrays under -fsplit-stack.  At
   every level of a recursion a VLA of up to 64 KiB is allocated, filled
   and verified after the deeper levels returned; allocations that do not
   fit in the current segment must go through
   __morestack_allocate_stack_space instead of overrunning it.
   Prints "alloca ok" and exits 0 only if every byte matched.  */

#include <stdio.h>
#include <string.h>

static int
level (int n)
{
  int size = 1024 + (n * 7919) % (64 * 1024);
  char vla[size];
  memset (vla, n & 0xff, size);
  int bad = n == 0 ? 0 : level (n - 1);
  for (int i = 0; i < size; i += 61)
    if (vla[i] != (char) (n & 0xff))
      bad++;
  return bad;
}

int
main (void)
{
  int bad = level (400);
  if (bad != 0)
    {
      printf ("alloca FAILED: %d bad bytes\n", bad);
      return 1;
    }
  printf ("alloca ok\n");
  return 0;
}
