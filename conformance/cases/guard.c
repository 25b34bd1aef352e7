/* Checks: at run time, which word of the pre-TCB block below TP holds the
   split-stack guard of the initial thread (check tcb/guard-offset, its
   run-time leg).  libgcc's constructor sets the guard to SP - 16 KiB
   (docs/abi.md, section 7), and if main itself was moved to a new segment
   (its calls into libc make the linker ask for 1 MiB more), it is the
   guard of that segment: either way a word between 1 KiB and 2 MiB below
   the current SP.  The program looks at every word of the 32-byte
   pre-TCB block (TP - 8 ... TP - 32, docs/abi.md section 1; the reserved
   words are zero) and prints the offset of each word that looks like a
   guard.  It exits 0 only if exactly one does.  */

#include <stdint.h>
#include <stdio.h>

int
main (void)
{
  char *tp = __builtin_thread_pointer ();
  uintptr_t sp = (uintptr_t) __builtin_frame_address (0);
  int found = 0;
  for (long off = -8; off >= -32; off -= 8)
    {
      uintptr_t w = *(volatile uintptr_t *) (tp + off);
      if (w != 0 && w < sp && sp - w >= 1024 && sp - w <= 2 * 1024 * 1024)
	{
	  printf ("guard at TP%ld: %lu bytes below SP\n", off,
		  (unsigned long) (sp - w));
	  found++;
	}
    }
  if (found != 1)
    {
      printf ("guard BAD: %d words of the pre-TCB block look like a guard\n",
	      found);
      return 1;
    }
  return 0;
}
