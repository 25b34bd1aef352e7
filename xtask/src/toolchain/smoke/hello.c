/* Smoke test: the cross compiler, the patched sysroot and qemu-user agree.  */
#include <stdio.h>

int
main (void)
{
  printf ("hello from aarch64\n");
  return 0;
}
