/* Checks (with dlclose.c): a split-stack shared library that is
   dlclose'd while threads that ran its code on new stack segments are
   still alive.  The first segment of such a thread is allocated by the
   library's copy of the split-stack runtime, which arranges for the
   thread's segments to be released when it exits; that arrangement
   must not call into the library after it is unloaded.  lib_deep
   recurses through 64 KiB frames, so that it needs new segments.  */

__attribute__ ((noinline)) static int
step (int n)
{
  volatile char pad[64 * 1024];
  pad[0] = (char) n;
  return n == 0 ? 0 : step (n - 1) + 1 + (pad[0] - (char) n);
}

int
lib_deep (int n)
{
  return step (n);
}
