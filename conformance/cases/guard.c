/* Checks: at run time, the split-stack guard of the initial thread is the
   word at TP - 8, and the split-stack runtime keeps it a little below the
   stack pointer: libgcc's constructor sets it to SP - 16 KiB
   (docs/abi.md, section 7), and if main itself was moved to a new
   segment (its calls into libc make the linker ask for 1 MiB more), it
   is the guard of that segment.  Prints "guard ok" and exits 0 only if
   the word is non-zero and between 1 KiB and 2 MiB below the current
   SP.  */

#include <stdint.h>
#include <stdio.h>

int
main (void)
{
  uintptr_t guard = *(volatile uintptr_t *) ((char *) __builtin_thread_pointer () - 8);
  uintptr_t sp = (uintptr_t) __builtin_frame_address (0);
  if (guard == 0 || guard >= sp || sp - guard < 1024
      || sp - guard > 2 * 1024 * 1024)
    {
      printf ("guard BAD: %#lx with SP %#lx\n", (unsigned long) guard,
	      (unsigned long) sp);
      return 1;
    }
  printf ("guard ok: %lu bytes below SP\n", (unsigned long) (sp - guard));
  return 0;
}
