/* Checks: parking a context gives back whole segments (docs/abi.md 5.9):
   run with SPLIT_STACK_GUARD set (a guard page below every segment),
   1000 times a call that crosses into two new segments and then
   __splitstack_getcontext, which unmaps the segments after the next
   one.  The number of mappings (/proc/self/maps) must not grow: before
   the fix the guard page of every unmapped segment stayed mapped (1000
   parks: 31 -> 4031 mappings).  Prints "park mappings ok".  */

#include <stdio.h>
#include <stdlib.h>

extern void __splitstack_getcontext (void *[10]);

/* Without a check (like main): its C library calls would otherwise
   cross into a 1 MiB segment that the recursion below then fits in.  */
__attribute__ ((no_split_stack)) static int
mappings (void)
{
  FILE *f = fopen ("/proc/self/maps", "r");
  int n = 0, c;
  if (f == NULL)
    return -1;
  while ((c = getc (f)) != EOF)
    n += c == '\n';
  fclose (f);
  return n;
}

/* 9 frames of 20000 bytes: more than one 64 KiB segment.  */
__attribute__ ((noinline)) static int
deep (int n)
{
  volatile char frame[20000];
  frame[0] = (char) n;
  return n == 0 ? 0 : frame[0] + deep (n - 1) - (char) n + 1;
}

__attribute__ ((no_split_stack)) int
main (void)
{
  void *ctx[10];
  if (getenv ("SPLIT_STACK_GUARD") == NULL)
    {
      printf ("park mappings FAILED: SPLIT_STACK_GUARD is not set\n");
      return 1;
    }
  if (deep (8) != 8)
    return 1;
  __splitstack_getcontext (ctx);
  int before = mappings ();
  for (int i = 0; i < 1000; i++)
    {
      if (deep (8) != 8)
	return 1;
      __splitstack_getcontext (ctx);
    }
  int after = mappings ();
  if (before <= 0 || after != before)
    {
      printf ("park mappings FAILED: %d mappings after the first park, %d "
	      "after 1000 more\n", before, after);
      return 1;
    }
  printf ("park mappings ok\n");
  return 0;
}
