/* Checks (gccgo): libgo's goroutine switch functions keep the registers
   that a call preserves (AAPCS64: x19-x28 and the low 64 bits of
   v8-v15) and SP.  On AArch64 GNU/Linux libgo switches goroutines with
   __go_getcontext and __go_setcontext (libgo/runtime/go-context.S,
   patches/gcc/0013; docs/abi.md 5.10); before that patch, with glibc's
   getcontext and setcontext, which keep them too.

   A Go program cannot show this: libgo's runtime_mcall, through which
   every goroutine parks, saves and restores all of those registers
   itself (__builtin_unwind_init), so a switch that forgot them goes
   unnoticed there (conformance/cases/go_switch_registers.go).  So this
   C program, linked with libgo.so, calls the functions directly: it
   loads known values into x19-x28 and d8-d15, saves a context, zeroes
   the registers, resumes the context and reads the registers back.  The
   resumed context must also see the stack pointer it was saved with.
   Runs it twice, with two sets of values.  Prints "go context registers
   ok".  */
#include <stdint.h>
#include <stdio.h>

/* __go_context_t (libgo/runtime/runtime.h): 22 words on AArch64
   GNU/Linux; more room does no harm if a libgo keeps more.  */
struct go_context
{
  uint64_t words[64];
} __attribute__ ((aligned (16)));

extern int __go_getcontext (struct go_context *)
  __attribute__ ((returns_twice));
extern int __go_setcontext (struct go_context *);

/* libgo.so refers to the Go program's main package; this program has
   none and never starts the Go runtime.  */
void go_main_main (void) __asm__ ("main.main");
void
go_main_main (void)
{
}

void __go_init_main (void);
void
__go_init_main (void)
{
}

static struct go_context ctx;
static volatile int resumed;
/* x19-x28, d8-d15 after the resume, then SP before and after.  */
static uint64_t seen[20];

static void __attribute__ ((noinline))
round_trip (uint64_t base)
{
  resumed = 0;
  __asm__ volatile (
    /* Keep the caller's callee-saved registers.  */
    "stp	x19, x20, [sp, #-160]!\n\t"
    "stp	x21, x22, [sp, #16]\n\t"
    "stp	x23, x24, [sp, #32]\n\t"
    "stp	x25, x26, [sp, #48]\n\t"
    "stp	x27, x28, [sp, #64]\n\t"
    "stp	d8, d9, [sp, #80]\n\t"
    "stp	d10, d11, [sp, #96]\n\t"
    "stp	d12, d13, [sp, #112]\n\t"
    "stp	d14, d15, [sp, #128]\n\t"
    "str	x29, [sp, #144]\n\t"
    /* Known values: base + 19 ... base + 28, then base + 8 ... base + 15
       as integers in d8-d15.  */
    "add	x19, %[base], #19\n\t"
    "add	x20, %[base], #20\n\t"
    "add	x21, %[base], #21\n\t"
    "add	x22, %[base], #22\n\t"
    "add	x23, %[base], #23\n\t"
    "add	x24, %[base], #24\n\t"
    "add	x25, %[base], #25\n\t"
    "add	x26, %[base], #26\n\t"
    "add	x27, %[base], #27\n\t"
    "add	x28, %[base], #28\n\t"
    "add	x0, %[base], #8\n\tfmov	d8, x0\n\t"
    "add	x0, %[base], #9\n\tfmov	d9, x0\n\t"
    "add	x0, %[base], #10\n\tfmov	d10, x0\n\t"
    "add	x0, %[base], #11\n\tfmov	d11, x0\n\t"
    "add	x0, %[base], #12\n\tfmov	d12, x0\n\t"
    "add	x0, %[base], #13\n\tfmov	d13, x0\n\t"
    "add	x0, %[base], #14\n\tfmov	d14, x0\n\t"
    "add	x0, %[base], #15\n\tfmov	d15, x0\n\t"
    "adrp	x0, %[seen]\n\tadd	x0, x0, :lo12:%[seen]\n\t"
    "mov	x1, sp\n\tstr	x1, [x0, #144]\n\t"
    "adrp	x0, %[ctx]\n\tadd	x0, x0, :lo12:%[ctx]\n\t"
    "bl	__go_getcontext\n\t"
    /* Second return: go and look.  */
    "adrp	x1, %[resumed]\n\tldr	w2, [x1, :lo12:%[resumed]]\n\t"
    "cbnz	w2, 1f\n\t"
    "mov	w2, #1\n\tstr	w2, [x1, :lo12:%[resumed]]\n\t"
    /* First return: zero the registers and switch back.  */
    "mov	x19, #0\n\tmov	x20, #0\n\tmov	x21, #0\n\tmov	x22, #0\n\t"
    "mov	x23, #0\n\tmov	x24, #0\n\tmov	x25, #0\n\tmov	x26, #0\n\t"
    "mov	x27, #0\n\tmov	x28, #0\n\t"
    "movi	d8, #0\n\tmovi	d9, #0\n\tmovi	d10, #0\n\tmovi	d11, #0\n\t"
    "movi	d12, #0\n\tmovi	d13, #0\n\tmovi	d14, #0\n\tmovi	d15, #0\n\t"
    "sub	sp, sp, #256\n\t"
    "adrp	x0, %[ctx]\n\tadd	x0, x0, :lo12:%[ctx]\n\t"
    "bl	__go_setcontext\n\t"
    "brk	#1\n"
    "1:\n\t"
    "adrp	x0, %[seen]\n\tadd	x0, x0, :lo12:%[seen]\n\t"
    "stp	x19, x20, [x0]\n\t"
    "stp	x21, x22, [x0, #16]\n\t"
    "stp	x23, x24, [x0, #32]\n\t"
    "stp	x25, x26, [x0, #48]\n\t"
    "stp	x27, x28, [x0, #64]\n\t"
    "stp	d8, d9, [x0, #80]\n\t"
    "stp	d10, d11, [x0, #96]\n\t"
    "stp	d12, d13, [x0, #112]\n\t"
    "stp	d14, d15, [x0, #128]\n\t"
    "mov	x1, sp\n\tstr	x1, [x0, #152]\n\t"
    "ldr	x29, [sp, #144]\n\t"
    "ldp	d14, d15, [sp, #128]\n\t"
    "ldp	d12, d13, [sp, #112]\n\t"
    "ldp	d10, d11, [sp, #96]\n\t"
    "ldp	d8, d9, [sp, #80]\n\t"
    "ldp	x27, x28, [sp, #64]\n\t"
    "ldp	x25, x26, [sp, #48]\n\t"
    "ldp	x23, x24, [sp, #32]\n\t"
    "ldp	x21, x22, [sp, #16]\n\t"
    "ldp	x19, x20, [sp], #160\n\t"
    :
    : [base] "r" (base), [seen] "S" (seen), [ctx] "S" (&ctx),
      [resumed] "S" (&resumed)
    : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10",
      "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x30", "v0", "v1",
      "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20",
      "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30",
      "v31", "cc", "memory");
}

int
main (void)
{
  int bad = 0;
  for (uint64_t base = 0x1000; base <= 0x2000; base += 0x1000)
    {
      round_trip (base);
      for (int i = 0; i < 10; i++)
	if (seen[i] != base + 19 + i)
	  {
	    printf ("x%d = %#llx after the switch, expected %#llx\n", 19 + i,
		    (unsigned long long) seen[i],
		    (unsigned long long) (base + 19 + i));
	    bad++;
	  }
      for (int i = 0; i < 8; i++)
	if (seen[10 + i] != base + 8 + i)
	  {
	    printf ("d%d = %#llx after the switch, expected %#llx\n", 8 + i,
		    (unsigned long long) seen[10 + i],
		    (unsigned long long) (base + 8 + i));
	    bad++;
	  }
      if (seen[18] != seen[19])
	{
	  printf ("SP %#llx after the switch, %#llx when saved\n",
		  (unsigned long long) seen[19], (unsigned long long) seen[18]);
	  bad++;
	}
    }
  if (bad)
    {
      printf ("go context registers FAILED: %d wrong\n", bad);
      return 1;
    }
  puts ("go context registers ok");
  return 0;
}
