/* Checks: split-stack code with BTI enforced (docs/abi.md, 5.2, 5.3 and
   5.8).  Built with -mbranch-protection=standard and run on a CPU with
   BTI (qemu -cpu max); the program maps its whole text, __morestack
   included, with PROT_BTI, then:
   - proves that the guard is on: an indirect call to a routine without a
     landing pad must raise SIGILL;
   - recurses deeply through function pointers across many segments:
     __morestack enters each function's continuation with blr x12 (it
     must find a landing pad there: paciasp, which starts the normal
     prologue of a function that signs its return address, and bti c in
     a function that does not, here one built with
     branch-protection=bti) and every function is entered with blr;
   - unwinds a thread's deep recursion with pthread_exit (forced
     unwinding through __morestack frames: its landing pad needs bti j),
     counting the cleanups run; the thread's stack is the smallest AArch64
     allows, so the recursion really crosses segments.  The guard is
     lifted at the end of that unwinding, before the thread-exit
     destructors (libgcc's free_segments is not BTI code here).
   Prints "bti ok" and exits 0 only if all of that holds.  Linked as a
   PIE with -z now, so that no PLT entry in the guarded text is entered
   by an indirect branch (gold makes no BTI PLTs: in a non-PIE program the
   personality routine's address is its canonical PLT entry, which the
   unwinder calls with blr, and no lazy-binding stub runs).  */

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef PROT_BTI
#define PROT_BTI 0x10
#endif

extern char __executable_start[], etext[];

/* A routine without a BTI landing pad.  */
__asm__ (".text\n"
	 ".p2align 2\n"
	 ".type no_landing_pad, %function\n"
	 "no_landing_pad:\n"
	 "\tmov\tx0, #7\n"
	 "\tret\n"
	 ".size no_landing_pad, .-no_landing_pad\n");
int no_landing_pad (void);

static sigjmp_buf env;

static void
on_sigill (int sig)
{
  (void) sig;
  siglongjmp (env, 1);
}

#define DEPTH 3000

typedef int (*rec_fn) (int);
static volatile rec_fn rec_ptr;

static int
rec (int n)
{
  char buf[2048];
  memset (buf, n & 0x7f, sizeof buf);
  if (n == 0)
    return 0;
  return rec_ptr (n - 1) + (buf[n % sizeof buf] == (n & 0x7f));
}

/* The same without return-address signing: its continuation starts
   with bti c.  */
__attribute__ ((target ("branch-protection=bti"))) static int
rec_unsigned (int n)
{
  char buf[2048];
  memset (buf, n & 0x7f, sizeof buf);
  if (n == 0)
    return 0;
  return rec_ptr (n - 1) + (buf[n % sizeof buf] == (n & 0x7f));
}

static volatile int cleanups;

static void
count_cleanup (int *p)
{
  (void) p;
  cleanups++;
}

static void
exit_deep (int n)
{
  int guard __attribute__ ((cleanup (count_cleanup))) = n;
  char buf[2048];
  memset (buf, n, sizeof buf);
  __asm__ volatile ("" : : "r" (buf) : "memory");
  if (n == 0)
    pthread_exit (NULL);
  exit_deep (n - 1);
  __asm__ volatile ("" : : "r" (&guard) : "memory");
}

static uintptr_t text_lo, text_hi;

/* Runs last in the thread's forced unwind: the thread-exit destructors
   that follow (libgcc's free_segments, a pthread key destructor that
   glibc calls indirectly) are not BTI code in this toolchain.  */
static void
unguard (int *p)
{
  (void) p;
  mprotect ((void *) text_lo, text_hi - text_lo, PROT_READ | PROT_EXEC);
}

static void *
thread_main (void *arg)
{
  int g __attribute__ ((cleanup (unguard))) = 0;
  (void) arg;
  exit_deep (DEPTH);
  __asm__ volatile ("" : : "r" (&g) : "memory");
  return NULL;
}

int
main (void)
{
  long page = sysconf (_SC_PAGESIZE);
  uintptr_t lo = (uintptr_t) __executable_start & ~(uintptr_t) (page - 1);
  uintptr_t hi = ((uintptr_t) etext + page - 1) & ~(uintptr_t) (page - 1);
  text_lo = lo;
  text_hi = hi;
  if (mprotect ((void *) lo, hi - lo, PROT_READ | PROT_EXEC | PROT_BTI) != 0)
    {
      printf ("bti FAILED: mprotect PROT_BTI: %m\n");
      return 1;
    }

  /* The guard must be on, or nothing below proves anything.  */
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_sigill;
  sigaction (SIGILL, &sa, NULL);
  int (*volatile unguarded) (void) = no_landing_pad;
  if (sigsetjmp (env, 1) == 0)
    {
      unguarded ();
      printf ("bti FAILED: an indirect call to a routine without bti c ran: "
	      "BTI is not enforced (run on a CPU with BTI, qemu -cpu max)\n");
      return 1;
    }
  signal (SIGILL, SIG_DFL);

  rec_ptr = rec;
  int r = rec_ptr (DEPTH);
  if (r != DEPTH)
    {
      printf ("bti FAILED: recursion returned %d, expected %d\n", r, DEPTH);
      return 1;
    }
  rec_ptr = rec_unsigned;
  r = rec_ptr (DEPTH);
  if (r != DEPTH)
    {
      printf ("bti FAILED: recursion without pac-ret returned %d, expected "
	      "%d\n", r, DEPTH);
      return 1;
    }

  pthread_attr_t a;
  pthread_attr_init (&a);
  /* The smallest stack AArch64 allows (PTHREAD_STACK_MIN, 128 KiB): the
     recursion leaves it after a few frames.  */
  pthread_t t;
  if (pthread_attr_setstacksize (&a, 128 * 1024) != 0
      || pthread_create (&t, &a, thread_main, NULL) != 0)
    {
      printf ("bti FAILED: pthread_create\n");
      return 1;
    }
  pthread_join (t, NULL);
  if (cleanups != DEPTH + 1)
    {
      printf ("bti FAILED: %d cleanups ran during pthread_exit, expected %d\n",
	      cleanups, DEPTH + 1);
      return 1;
    }
  /* The startup files' finalizers are not BTI code: lift the guard
     before exit calls them indirectly.  */
  mprotect ((void *) lo, hi - lo, PROT_READ | PROT_EXEC);
  printf ("bti ok\n");
  return 0;
}
