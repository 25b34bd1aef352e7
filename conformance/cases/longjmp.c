/* Checks: longjmp out of a deep split-stack recursion, back to a frame
   on an older stack segment or on the thread's own stack, with
   _FORTIFY_SOURCE (longjmp is then glibc's __longjmp_chk, which must not
   take the jump for one into a dead frame: docs/abi.md, section 7).  The
   recursion needs about 600 KiB, so it spans several segments of a
   128 KiB thread and of the initial thread.  Prints "longjmp ok" and
   exits 0 only if every jump arrived with its value.  */

#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static __thread jmp_buf env;

static int
descend (int n, int value)
{
  volatile char buf[256];
  memset ((char *) buf, n & 0x7f, sizeof buf);
  if (n == 0)
    longjmp (env, value);
  return descend (n - 1, value) + buf[n % 256];
}

static int
jumps (void)
{
  int sum = 0;
  for (int i = 1; i <= 3; i++)
    {
      int v = setjmp (env);
      if (v == 0)
	descend (2000, i);
      else
	sum += v;
    }
  return sum;
}

static void *
thread_main (void *arg)
{
  *(int *) arg = jumps ();
  return NULL;
}

int
main (void)
{
  pthread_attr_t a;
  pthread_t t;
  int in_thread = 0;
  if (pthread_attr_init (&a) != 0
      || pthread_attr_setstacksize (&a, 128 * 1024) != 0
      || pthread_create (&t, &a, thread_main, &in_thread) != 0
      || pthread_join (t, NULL) != 0)
    {
      puts ("longjmp FAILED: thread");
      return 1;
    }
  int in_main = jumps ();
  if (in_thread != 6 || in_main != 6)
    {
      printf ("longjmp FAILED: %d %d\n", in_thread, in_main);
      return 1;
    }
  puts ("longjmp ok");
  return 0;
}
