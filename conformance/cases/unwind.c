/* Checks: unwinding through __morestack (docs/abi.md, section 7).
   1. _Unwind_Backtrace from the bottom of a recursion 3000 frames deep,
      which spans many stack segments, walks every frame up to main.
   2. A thread that recursed 3000 frames deep calls pthread_exit: the
      forced unwind runs the cleanup of every frame, through every
      __morestack frame and its own cleanup, which restores the guard.
   3. A new thread then recurses again, on a healthy runtime.
   Both recursions must really span segments: __splitstack_find reports
   more than one stack region at their bottom (the thread's stack is the
   smallest AArch64 allows, PTHREAD_STACK_MIN = 128 KiB; a size below it
   is refused, and the thread would run on an 8 MiB default stack).
   The recursion passes through functions of every prologue form
   (docs/abi.md, 5.2): besides the small frames (form S), a frame of
   8 KiB every 500 levels (form L) and one of 17 MiB half-way (form H),
   so that each form's unwind information is on the path.
   Built with -fexceptions.  Prints "unwind ok" and exits 0 only if the
   counts match.  */

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <unwind.h>

extern void *__splitstack_find (void *, void *, size_t *, void **, void **,
				void **);

/* The number of stack regions __splitstack_find reports for the calling
   thread.  */
__attribute__ ((no_split_stack, noinline)) static int
regions (void)
{
  void *next_segment, *next_sp, *initial_sp;
  size_t len;
  int n = 0;
  for (void *p = __splitstack_find (NULL, NULL, &len, &next_segment,
				    &next_sp, &initial_sp);
       p != NULL;
       p = __splitstack_find (next_segment, next_sp, &len, &next_segment,
			      &next_sp, &initial_sp))
    n++;
  return n;
}

static volatile int bottom_regions[3];

#define DEPTH 3000

static int frames;
static volatile int cleanups;

static _Unwind_Reason_Code
count_frame (struct _Unwind_Context *ctx, void *arg)
{
  (void) ctx;
  (void) arg;
  frames++;
  return _URC_NO_REASON;
}

static void
note_cleanup (int *p)
{
  (void) p;
  cleanups++;
}

static long down (int n, int mode);

/* A frame that needs form L (8 KiB).  */
__attribute__ ((noinline)) static long
wide (int n, int mode)
{
  volatile char frame[8192];
  frame[0] = (char) n;
  frame[sizeof frame - 1] = (char) n;
  long r = down (n, mode);
  return frame[0] == (char) n && frame[sizeof frame - 1] == (char) n
	   ? r : -1000000;
}

/* A frame that needs form H (17 MiB; only its ends are touched).  */
__attribute__ ((noinline)) static long
huge (int n, int mode)
{
  volatile char frame[17 << 20];
  frame[0] = (char) n;
  frame[sizeof frame - 1] = (char) n;
  long r = down (n, mode);
  return frame[0] == (char) n && frame[sizeof frame - 1] == (char) n
	   ? r : -1000000;
}

static long
down (int n, int mode)
{
  volatile char frame[1000];
  int guard __attribute__ ((cleanup (note_cleanup))) = n;
  frame[0] = (char) n;
  if (n == 0)
    {
      bottom_regions[mode] = regions ();
      if (mode == 0)
	_Unwind_Backtrace (count_frame, NULL);
      else if (mode == 1)
	pthread_exit (NULL);
      return 0;
    }
  long r = n;
  if (n - 1 == DEPTH / 2)
    r += huge (n - 1, mode);
  else if ((n - 1) % 500 == 0)
    r += wide (n - 1, mode);
  else
    r += down (n - 1, mode);
  return frame[0] == (char) n ? r + (guard - n) : -1000000;
}

static void *
thread_main (void *arg)
{
  int mode = (int) (long) arg;
  long r = down (DEPTH, mode);
  return (void *) (long) (r == (long) DEPTH * (DEPTH + 1) / 2);
}

/* no_split_stack: on the initial thread's original stack, not moved to
   a segment by the linker for its calls into libc, so that the first
   recursion starts there (checked).  */
__attribute__ ((no_split_stack)) int
main (void)
{
  if (regions () != 1)
    {
      printf ("unwind FAILED: main runs on %d stack regions\n", regions ());
      return 1;
    }
  if (down (DEPTH, 0) != (long) DEPTH * (DEPTH + 1) / 2 || frames < DEPTH
      || bottom_regions[0] < 2)
    {
      printf ("unwind FAILED: backtrace saw %d frames across %d regions\n",
	      frames, bottom_regions[0]);
      return 1;
    }
  cleanups = 0;
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_t t;
  void *r;
  if (pthread_attr_setstacksize (&attr, 128 * 1024) != 0
      || pthread_create (&t, &attr, thread_main, (void *) 1L) != 0)
    {
      printf ("unwind FAILED: pthread_create\n");
      return 1;
    }
  pthread_join (t, &r);
  if (r != PTHREAD_CANCELED && r != NULL)
    {
      printf ("unwind FAILED: thread returned\n");
      return 1;
    }
  if (cleanups != DEPTH + 1 || bottom_regions[1] < 2)
    {
      printf ("unwind FAILED: %d cleanups, expected %d; %d regions\n",
	      cleanups, DEPTH + 1, bottom_regions[1]);
      return 1;
    }
  pthread_create (&t, &attr, thread_main, (void *) 2L);
  pthread_join (t, &r);
  if (r != (void *) 1L || bottom_regions[2] < 2)
    {
      printf ("unwind FAILED: second thread\n");
      return 1;
    }
  printf ("unwind ok\n");
  return 0;
}
