/* Checks: alloca and variable-length arrays under -fsplit-stack.  At
   every level of a recursion a VLA of up to MAX_VLA bytes (default
   64 KiB; runtime/alloca-large builds it with 4 MiB and DEPTH 100) is
   allocated, filled
   and verified after the deeper levels returned; allocations that do not
   fit in the current segment must go through
   __morestack_allocate_stack_space instead of overrunning it.
   Prints "alloca ok" and exits 0 only if every byte matched.  */

#include <stdio.h>
#include <string.h>

#ifndef MAX_VLA
#define MAX_VLA (64 * 1024)
#endif
#ifndef DEPTH
#define DEPTH 400
#endif

static int
level (int n)
{
  int size = 1024 + (int) (((long) n * 7919 * 61) % MAX_VLA);
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
  int bad = level (DEPTH);
  if (bad != 0)
    {
      printf ("alloca FAILED: %d bad bytes\n", bad);
      return 1;
    }
  printf ("alloca ok\n");
  return 0;
}
