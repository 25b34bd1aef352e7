/* Checks: the guard slot at run time (docs/abi.md, sections 1 and 4;
   checks tcb/runtime-slot and tcb/runtime-slot-static): 0 in the initial
   thread (no -fsplit-stack here, so libgcc's constructor does not set
   it); in every thread pthread_create makes, exactly the lowest usable
   address of its stack plus the 16 KiB slack (the rule stated through
   pthread_getattr_np, as glibc's nptl/tst-split-stack-guard does), with
   the three reserved words of the pre-TCB block (TP-32 .. TP-9) zero, on
   stacks glibc allocates and on a stack the program supplies filled with
   garbage; and one slot per thread.  GUARD_OFFSET is defined on the
   command line.  */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define NT 4
#define SLACK 16384
static pthread_barrier_t b;
static volatile uintptr_t *
slot (void)
{
  return (volatile uintptr_t *) ((char *) __builtin_thread_pointer ()
				 + GUARD_OFFSET);
}

/* Whether this thread's slot and reserved words follow the rule.  */
static int
thread_ok (void)
{
  pthread_attr_t a;
  void *low;
  size_t size;
  if (pthread_getattr_np (pthread_self (), &a) != 0
      || pthread_attr_getstack (&a, &low, &size) != 0)
    return 0;
  pthread_attr_destroy (&a);
  int ok = *slot () == (uintptr_t) low + SLACK;
  if (!ok)
    printf ("guard %#lx, expected %#lx (lowest usable address + %d)\n",
	    (unsigned long) *slot (), (unsigned long) low + SLACK, SLACK);
  for (int k = 2; k <= 4; k++)
    {
      uintptr_t w
	= *(volatile uintptr_t *) ((char *) __builtin_thread_pointer ()
				   - 8 * k);
      if (w != 0)
	{
	  printf ("reserved word at TP-%d is %#lx, not 0\n", 8 * k,
		  (unsigned long) w);
	  ok = 0;
	}
    }
  return ok;
}

static void *
f (void *arg)
{
  int ok = thread_ok ();
  *slot () = (uintptr_t) arg;
  pthread_barrier_wait (&b);
  ok = ok && *slot () == (uintptr_t) arg;
  return (void *) (uintptr_t) ok;
}

static void *
user_stack (void *arg)
{
  (void) arg;
  return (void *) (uintptr_t) thread_ok ();
}

int
main (void)
{
  pthread_t t[NT];
  int ok = 1;
  printf ("main %lu\n", (unsigned long) *slot ());
  pthread_barrier_init (&b, NULL, NT);
  for (uintptr_t i = 0; i < NT; i++)
    pthread_create (&t[i], NULL, f, (void *) (0x100 + i));
  for (int i = 0; i < NT; i++)
    {
      void *r;
      pthread_join (t[i], &r);
      ok = ok && r;
    }
  /* A stack the program supplies, full of garbage.  */
  size_t size = 256 * 1024;
  void *stack = aligned_alloc (65536, size);
  memset (stack, 0xa5, size);
  pthread_attr_t a;
  pthread_attr_init (&a);
  pthread_attr_setstack (&a, stack, size);
  pthread_t u;
  void *r = NULL;
  if (pthread_create (&u, &a, user_stack, NULL) == 0)
    pthread_join (u, &r);
  ok = ok && r;
  printf ("threads %s\n", ok ? "ok" : "BAD");
  return 0;
}
