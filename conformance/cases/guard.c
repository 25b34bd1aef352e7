/* Checks: at run time, the split-stack guard of the initial thread is the
   word at TP - 8, and libgcc's constructor has set it to a limit a little
   below the stack pointer (docs/abi.md, section 7: SP - 16 KiB when the
   constructor ran).  Prints "guard ok" and exits 0 only if the word is
   non-zero and between 1 KiB and 64 KiB below the current SP.  */

#include <stdint.h>
#include <stdio.h>

int
main (void)
{
  uintptr_t guard = *(volatile uintptr_t *) ((char *) __builtin_thread_pointer () - 8);
  uintptr_t sp = (uintptr_t) __builtin_frame_address (0);
  if (guard == 0 || guard >= sp || sp - guard < 1024 || sp - guard > 64 * 1024)
    {
      printf ("guard BAD: %#lx with SP %#lx\n", (unsigned long) guard,
	      (unsigned long) sp);
      return 1;
    }
  printf ("guard ok: %lu bytes below SP\n", (unsigned long) (sp - guard));
  return 0;
}
