/* Checks: coroutines on split stacks, the way gccgo uses them.  Each of
   64 coroutines gets a 16 KiB initial stack from
   __splitstack_makecontext and runs through ucontext; the scheduler
   switches the split-stack context (__splitstack_getcontext and
   __splitstack_setcontext) with every swapcontext.  Each coroutine
   recurses through about 256 KiB, yields in the middle of the recursion,
   and is resumed later, so segments of suspended coroutines must stay
   intact.  Prints "coroutines ok" and exits 0 only if every coroutine's
   result matched.  */

#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

extern void *__splitstack_makecontext (size_t, void *[10], size_t *);
extern void __splitstack_getcontext (void *[10]);
extern void __splitstack_setcontext (void *[10]);
extern void __splitstack_releasecontext (void *[10]);

#define N 64
#define DEPTH 256

static ucontext_t main_uc, co_uc[N];
static void *main_ss[10], *co_ss[N][10];
static long results[N];
static int current;

static void
yield (void)
{
  int i = current;
  __splitstack_getcontext (co_ss[i]);
  __splitstack_setcontext (main_ss);
  swapcontext (&co_uc[i], &main_uc);
}

static long
recurse (int i, int n)
{
  volatile char frame[1000];
  frame[0] = (char) (i + n);
  if (n == DEPTH / 2)
    yield ();
  long r = n == 0 ? i : n + recurse (i, n - 1);
  return frame[0] == (char) (i + n) ? r : -1000000;
}

static void
co_main (int i)
{
  results[i] = recurse (i, DEPTH);
  yield ();
  abort ();
}

static void
resume (int i)
{
  current = i;
  __splitstack_getcontext (main_ss);
  __splitstack_setcontext (co_ss[i]);
  swapcontext (&main_uc, &co_uc[i]);
}

int
main (void)
{
  for (int i = 0; i < N; i++)
    {
      size_t size = 16 * 1024;
      void *stack = __splitstack_makecontext (size, co_ss[i], &size);
      getcontext (&co_uc[i]);
      co_uc[i].uc_stack.ss_sp = stack;
      co_uc[i].uc_stack.ss_size = size;
      co_uc[i].uc_link = NULL;
      makecontext (&co_uc[i], (void (*) (void)) co_main, 1, i);
    }
  /* Start every coroutine (each stops in the middle of its recursion),
     then finish them in reverse order.  */
  for (int i = 0; i < N; i++)
    resume (i);
  for (int i = N - 1; i >= 0; i--)
    resume (i);
  long want_base = (long) DEPTH * (DEPTH + 1) / 2;
  for (int i = 0; i < N; i++)
    if (results[i] != want_base + i)
      {
	printf ("coroutines FAILED: coroutine %d got %ld\n", i, results[i]);
	return 1;
      }
  for (int i = 0; i < N; i++)
    __splitstack_releasecontext (co_ss[i]);
  printf ("coroutines ok\n");
  return 0;
}
