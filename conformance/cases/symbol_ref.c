/* Checks: a program that refers to __tcb_private_ss, as libgcc's
   split-stack runtime does, needs GLIBC_ABI_SPLIT_STACK and is refused by
   every glibc without the guard slot before any of its code runs
   (docs/abi.md, section 3; check refusal/symbol-needs-abi-node).  The
   constructor writes with write(2), unbuffered, so that a constructor
   that ran before the loader gave up would show in the output.  */
#include <stdio.h>
#include <unistd.h>
extern const long int __tcb_private_ss;
__attribute__ ((constructor)) static void
ctor (void)
{
  write (1, "constructor ran\n", 16);
}
int
main (void)
{
  printf ("__tcb_private_ss=%ld\n", __tcb_private_ss);
  return 0;
}
