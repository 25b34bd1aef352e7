/* Checks: the split-stack prologue of every frame class (docs/abi.md,
   section 5.2).  Compiled with -c under several option sets; the suite
   decodes each function's machine code and matches it against the ABI's
   forms.  The expected form of each function is data in the suite
   (conformance/src/checks.rs, PROLOGUE_CORPUS).  */

#include <stdarg.h>

extern void use (char *);

/* No stack and no calls: no check at all.  */
int
frame_none (int x)
{
  return x * 3 + 1;
}

/* 16 bytes (the frame record only).  */
void
frame_16 (void)
{
  use (0);
  use (0);
}

/* No stack, but a sibling call: the check with a frame of 0 bytes.  */
void
tail_call (char *p)
{
  use (p);
}

char *
frame_256 (void)
{
  char buf[256];
  use (buf);
  return 0;
}

void
frame_4k (void)
{
  char buf[4096];
  use (buf);
}

void
frame_64k (void)
{
  char buf[64 * 1024];
  use (buf);
}

void
frame_1m (void)
{
  char buf[1024 * 1024];
  use (buf);
}

void
frame_16m (void)
{
  char buf[16 * 1024 * 1024];
  use (buf);
}

void
frame_64m (void)
{
  char buf[64 * 1024 * 1024];
  use (buf);
}

/* A leaf with a frame.  */
int
leaf_512 (int i)
{
  volatile char b[512];
  b[i & 511] = i;
  return b[(i + 1) & 511];
}

/* Ten integer arguments: two on the stack.  */
long
stack_args (long a0, long a1, long a2, long a3, long a4, long a5, long a6,
	    long a7, long a8, long a9)
{
  char buf[64];
  use (buf);
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
}

long
varargs (int n, ...)
{
  char buf[64];
  va_list ap;
  long s = 0;
  use (buf);
  va_start (ap, n);
  for (int i = 0; i < n; i++)
    s += va_arg (ap, long);
  va_end (ap);
  return s;
}

void
dynamic_alloca (int n)
{
  char *p = __builtin_alloca (n);
  use (p);
}

__attribute__ ((no_split_stack)) void
not_split (void)
{
  char buf[256];
  use (buf);
}
