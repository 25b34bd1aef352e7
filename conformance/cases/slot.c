/* Checks: the guard slot at run time (docs/abi.md, sections 1 and 4;
   checks tcb/runtime-slot and tcb/runtime-slot-static): 0 in the initial
   thread (no -fsplit-stack here, so libgcc's constructor does not set
   it), a limit 16 KiB to 64 MiB below SP in every new thread, and one
   slot per thread.  GUARD_OFFSET is defined on the command line.  */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#define NT 4
static pthread_barrier_t b;
static volatile uintptr_t *
slot (void)
{
  return (volatile uintptr_t *) ((char *) __builtin_thread_pointer ()
				 + GUARD_OFFSET);
}
static void *
f (void *arg)
{
  uintptr_t sp = (uintptr_t) __builtin_frame_address (0);
  uintptr_t g = *slot ();
  int ok = g != 0 && g < sp && sp - g >= 16384 && sp - g < 64 * 1024 * 1024;
  *slot () = (uintptr_t) arg;
  pthread_barrier_wait (&b);
  ok = ok && *slot () == (uintptr_t) arg;
  return (void *) (uintptr_t) ok;
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
  printf ("threads %s\n", ok ? "ok" : "BAD");
  return 0;
}
