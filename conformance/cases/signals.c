/* Checks: signals delivered while split-stack code recurses across many
   stack segments.  A 1 ms interval timer interrupts a deep recursion;
   the handler (itself split-stack code, with a frame that needs the
   check) runs on whatever segment was current, and checks its own
   values.  __morestack blocks signals while it switches segments, so no
   handler sees a guard that does not match the stack pointer.  Prints
   "signals ok" and exits 0 only if the recursion's results matched, the
   handler ran at least once and never saw a wrong value.  */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static volatile sig_atomic_t handled;
static volatile sig_atomic_t handler_errors;

static void
on_alarm (int sig)
{
  volatile char buf[2048];
  memset ((char *) buf, sig, sizeof buf);
  for (unsigned int i = 0; i < sizeof buf; i += 64)
    if (buf[i] != (char) sig)
      handler_errors++;
  handled++;
}

static long
down (int n)
{
  volatile char frame[800];
  frame[0] = (char) n;
  frame[799] = (char) (n >> 8);
  long r = n == 0 ? 0 : n + down (n - 1);
  if (frame[0] != (char) n || frame[799] != (char) (n >> 8))
    return -1000000000;
  return r;
}

int
main (void)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction (SIGALRM, &sa, NULL);
  struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
  setitimer (ITIMER_REAL, &it, NULL);
  long bad = 0;
  for (int round = 0; round < 200 && (handled < 20 || round < 5); round++)
    if (down (5000) != 5000L * 5001 / 2)
      bad++;
  struct itimerval off = { { 0, 0 }, { 0, 0 } };
  setitimer (ITIMER_REAL, &off, NULL);
  if (bad != 0 || handled == 0 || handler_errors != 0)
    {
      printf ("signals FAILED: bad %ld handled %d errors %d\n", bad,
	      (int) handled, (int) handler_errors);
      return 1;
    }
  printf ("signals ok\n");
  return 0;
}
