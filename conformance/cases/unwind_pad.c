/* Checks: __morestack's exception landing pad leaves the segment that
   the exception leaves before anything else runs (docs/abi.md, section
   7; check runtime/unwind-pad).  The runtime takes that segment to be
   free as soon as the pad has run, so code that runs from the pad on
   (here: the stop function of a forced unwind, called from
   _Unwind_Resume, and a signal handler it raises) may be given that very
   segment by its own __morestack.  If the pad still ran on it, the new
   frames would overwrite the pad's and the unwinder's: every frame here
   fills itself with a pattern and checks it after its call.  Prints
   "unwind pad ok" and exits 0 only if every pattern survived, the
   unwinder crossed __morestack's frame twice each time (once in the
   search, once from the pad) and the handler ran every time.  Built with
   -fexceptions.  */

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <unwind.h>

/* Larger than the 1 MiB the linker adds for calls into non-split code,
   so that deep needs a new segment of its own.  */
#define PAD (2 * 1024 * 1024)
#define ROUNDS 4

extern void __morestack (void);
/* The crossing-stress runtime (docs/stress.md) puts a wrapper in front of
   __morestack; the real code, with the landing pad, is then
   __morestack_unstressed.  */
extern void __morestack_unstressed (void) __attribute__ ((weak));

static jmp_buf env;
static struct _Unwind_Exception exc;
static volatile int morestack_frames, handled, bad;

static int outer (void) __attribute__ ((noinline));

/* Fills its 64 KiB frame and checks it after the recursive call.  */
__attribute__ ((noinline)) static int
recurse (int n)
{
  volatile char pad[64 * 1024];
  for (unsigned int i = 0; i < sizeof pad; i++)
    pad[i] = (char) n;
  int r = n == 0 ? 0 : recurse (n - 1) + 1;
  for (unsigned int i = 0; i < sizeof pad; i++)
    if (pad[i] != (char) n)
      return -1000;
  return r;
}

static void
handler (int sig)
{
  (void) sig;
  if (recurse (80) == 80)
    handled++;
  else
    bad++;
}

/* No split-stack check: it runs where the unwinder runs, and leaves with
   longjmp.  */
__attribute__ ((no_split_stack)) static _Unwind_Reason_Code
stop (int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
      struct _Unwind_Exception *e, struct _Unwind_Context *context,
      void *arg)
{
  (void) version;
  (void) cls;
  (void) e;
  (void) arg;
  if ((actions & _UA_END_OF_STACK) != 0
      || _Unwind_GetRegionStart (context) == (_Unwind_Ptr) outer)
    longjmp (env, 1);
  /* The second time the unwinder reaches __morestack's frame, it runs in
     _Unwind_Resume, which the pad called.  */
  _Unwind_Ptr real = __morestack_unstressed
		     ? (_Unwind_Ptr) __morestack_unstressed
		     : (_Unwind_Ptr) __morestack;
  if (_Unwind_GetRegionStart (context) == real
      && ++morestack_frames == 2)
    {
      if (recurse (80) != 80)
	bad++;
      raise (SIGUSR1);
    }
  return _URC_NO_REASON;
}

__attribute__ ((noinline)) static void
deep (void)
{
  volatile char pad[PAD];
  pad[0] = 1;
  _Unwind_ForcedUnwind (&exc, stop, NULL);
  pad[1] = 2;
}

static int
outer (void)
{
  if (setjmp (env) != 0)
    return 1;
  deep ();
  return 0;
}

int
main (void)
{
  signal (SIGUSR1, handler);
  for (int i = 0; i < ROUNDS; i++)
    {
      morestack_frames = 0;
      if (outer () != 1 || morestack_frames != 2)
	{
	  printf ("unwind pad FAILED: round %d, %d __morestack frames\n", i,
		  morestack_frames);
	  return 1;
	}
    }
  if (handled != ROUNDS || bad != 0)
    {
      printf ("unwind pad FAILED: handler ran %d times, %d patterns broken\n",
	      handled, bad);
      return 1;
    }
  printf ("unwind pad ok\n");
  return 0;
}
