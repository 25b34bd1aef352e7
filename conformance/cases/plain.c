/* Checks: a program built without -fsplit-stack needs nothing new from
   glibc and runs on every old glibc, constructor included (docs/abi.md,
   section 3; check refusal/plain-program-runs).  */
#include <stdio.h>
#include <unistd.h>
__attribute__ ((constructor)) static void
ctor (void)
{
  write (1, "constructor ran\n", 16);
}
int
main (void)
{
  printf ("plain program ran\n");
  return 0;
}
