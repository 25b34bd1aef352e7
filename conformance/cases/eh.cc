/* Checks: C++ exceptions through __morestack (docs/abi.md, section 7;
   checks runtime/cxx-exceptions*).  Each scenario recurses DEPTH frames
   of 1000 bytes, which spans many stack segments (checked:
   __splitstack_find reports more than one region at the bottom), then:
   1. throws at the bottom and catches on the thread's original stack
      (the scenarios run from no_split_stack functions, so they start on
      it: checked, __splitstack_find reports one region there);
   2. the same, with a catch-and-rethrow every 250 frames, so that the
      exception is caught on segments in the middle and thrown again;
   3. throws at the bottom and catches half-way up, on a segment, where
      the guard must be the one that level saw before the throw, then
      returns normally through the remaining __morestack frames;
   4. std::vector::at throws std::out_of_range from libstdc++ (code
      built without -fsplit-stack, reached through the linker's rewrite
      of the call) at the bottom, caught on the original stack.
   After each: every object constructed on the way down was destroyed
   exactly once (destructors counted), the guard is exactly what it was
   before the recursion, and the next scenario recurses across segments
   again.  The four run in the initial thread, then in four threads on
   128 KiB stacks (PTHREAD_STACK_MIN), whose guard glibc set, started
   together at a barrier.  The constructor and destructor of the counted
   objects are no_split_stack: a destructor that checked the guard after
   a landing pad could call __morestack and hide a wrong guard.  GUARD_OFFSET (-8) is defined on the command line.
   (G++ refuses no_split_stack on a function definition, "cannot set
   'no_split_stack' attribute after definition", on x86_64 too: the
   attribute goes on a declaration before it.)  Prints
   "cxx exceptions ok" and exits 0 only if everything held.  */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdexcept>
#include <vector>

extern "C" void *__splitstack_find (void *, void *, size_t *, void **,
				    void **, void **);

static const int DEPTH = 2000;
static const int RETHROW_EVERY = 250;
static const int NTHREADS = 4;

static uintptr_t guard () __attribute__ ((no_split_stack));
static int regions () __attribute__ ((noinline, no_split_stack));

static uintptr_t
guard ()
{
  return *(volatile uintptr_t *) ((char *) __builtin_thread_pointer ()
				  + GUARD_OFFSET);
}

/* The number of stack regions __splitstack_find reports for the calling
   thread.  */
static int
regions ()
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

static thread_local long constructed, destroyed, rethrown, half_way_bad;
static thread_local int bottom_regions;

struct Counted
{
  int n;
  explicit Counted (int n) __attribute__ ((no_split_stack));
  ~Counted () __attribute__ ((no_split_stack));
};

Counted::Counted (int n) : n (n)
{
  constructed++;
}

Counted::~Counted ()
{
  destroyed++;
}

struct Thrown
{
  int value;
};

enum Mode { THROW, RETHROW, CATCH_HALF_WAY, LIBSTDCXX };

static std::vector<int> *small_vector;

__attribute__ ((noinline)) static long
down (int n, Mode mode)
{
  volatile char frame[1000];
  frame[0] = (char) n;
  Counted c (n);
  if (n == 0)
    {
      bottom_regions = regions ();
      if (mode == LIBSTDCXX)
	return small_vector->at (DEPTH);
      throw Thrown{ 42 };
    }
  long r;
  if (mode == RETHROW && n % RETHROW_EVERY == 0)
    {
      try
	{
	  r = down (n - 1, mode);
	}
      catch (Thrown &)
	{
	  rethrown++;
	  throw;
	}
    }
  else if (mode == CATCH_HALF_WAY && n == DEPTH / 2)
    {
      uintptr_t here = guard ();
      try
	{
	  r = down (n - 1, THROW);
	}
      catch (Thrown &t)
	{
	  r = t.value;
#ifndef SPLIT_STACK_STRESS
	  /* Caught on this level's segment: its guard again.  */
	  if (guard () != here)
	    half_way_bad++;
#endif
	}
    }
  else
    r = down (n - 1, mode);
  return frame[0] == (char) n && c.n == n ? r + 1 : -1000000;
}

static const char *const names[]
  = { "throw", "rethrow", "catch half-way", "libstdc++ out_of_range" };

/* Runs scenario MODE; 0 if it went as required.  */
static int scenario (const char *who, Mode mode)
  __attribute__ ((noinline, no_split_stack));

static int
scenario (const char *who, Mode mode)
{
  constructed = destroyed = rethrown = half_way_bad = 0;
  bottom_regions = 0;
  int start_regions = regions ();
  uintptr_t before = guard ();
  int caught = 0;
  long r = 0;
  try
    {
      r = down (DEPTH, mode);
    }
  catch (Thrown &t)
    {
      caught = t.value == 42;
    }
  catch (std::out_of_range &)
    {
      caught = mode == LIBSTDCXX;
    }
  uintptr_t after = guard ();
  int bad = 0;
  if (mode == CATCH_HALF_WAY ? caught || r != 42 + DEPTH / 2 + 1 : !caught)
    {
      printf ("%s, %s: caught %d, result %ld\n", who, names[mode], caught,
	      r);
      bad = 1;
    }
  if (constructed != DEPTH + 1 || destroyed != constructed)
    {
      printf ("%s, %s: %ld objects constructed, %ld destroyed; expected %d\n",
	      who, names[mode], constructed, destroyed, DEPTH + 1);
      bad = 1;
    }
  if (mode == RETHROW && rethrown != DEPTH / RETHROW_EVERY)
    {
      printf ("%s, %s: rethrown %ld times, expected %d\n", who, names[mode],
	      rethrown, DEPTH / RETHROW_EVERY);
      bad = 1;
    }
  if (start_regions != 1)
    {
      printf ("%s, %s: started on %d stack regions, not the original stack\n",
	      who, names[mode], start_regions);
      bad = 1;
    }
  if (half_way_bad != 0)
    {
      printf ("%s, %s: guard at the catch site differs from the one before "
	      "the throw\n", who, names[mode]);
      bad = 1;
    }
  if (bottom_regions < 2)
    {
      printf ("%s, %s: %d stack regions at the bottom\n", who, names[mode],
	      bottom_regions);
      bad = 1;
    }
#ifndef SPLIT_STACK_STRESS
  /* The crossing-stress runtime (docs/stress.md) raises the guard on
     every return through __morestack, but the landing pad restores the
     normal one: the values differ by design there.  */
  if (after != before)
    {
      printf ("%s, %s: guard %#lx after the exception, %#lx before\n", who,
	      names[mode], (unsigned long) after, (unsigned long) before);
      bad = 1;
    }
#else
  (void) after;
  (void) before;
#endif
  return bad;
}

static int all_scenarios (const char *who) __attribute__ ((no_split_stack));

static int
all_scenarios (const char *who)
{
  int bad = 0;
  for (int m = THROW; m <= LIBSTDCXX; m++)
    bad |= scenario (who, (Mode) m);
  return bad;
}

static pthread_barrier_t start;

/* no_split_stack: its call into libc would make the linker move it to a
   new segment.  */
static void *thread_main (void *) __attribute__ ((no_split_stack));

static void *
thread_main (void *)
{
  pthread_barrier_wait (&start);
  return (void *) (long) all_scenarios ("thread");
}

/* On the initial thread's original stack: not moved to a segment by the
   linker for its calls into libstdc++ and libc.  */
int main () __attribute__ ((no_split_stack));

int
main ()
{
  std::vector<int> v (3);
  small_vector = &v;
  int bad = all_scenarios ("initial thread");
  pthread_t t[NTHREADS];
  pthread_attr_t attr;
  pthread_barrier_init (&start, NULL, NTHREADS);
  if (pthread_attr_init (&attr) != 0
      || pthread_attr_setstacksize (&attr, 128 * 1024) != 0)
    {
      printf ("cxx exceptions FAILED: pthread_attr_setstacksize\n");
      return 1;
    }
  for (int i = 0; i < NTHREADS; i++)
    if (pthread_create (&t[i], &attr, thread_main, NULL) != 0)
      {
	printf ("cxx exceptions FAILED: pthread_create\n");
	return 1;
      }
  for (int i = 0; i < NTHREADS; i++)
    {
      void *r;
      pthread_join (t[i], &r);
      bad |= r != NULL;
    }
  if (bad)
    {
      printf ("cxx exceptions FAILED\n");
      return 1;
    }
  printf ("cxx exceptions ok\n");
  return 0;
}
