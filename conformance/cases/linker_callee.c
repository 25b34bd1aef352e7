/* Checks (with linker_caller.c): a function compiled without
   -fsplit-stack that uses 256 KiB of stack.  */

long
non_split_work (long x)
{
  volatile char big[256 * 1024];
  for (unsigned long i = 0; i < sizeof big; i += 4096)
    big[i] = (char) i;
  big[sizeof big - 1] = 3;
  return x * big[sizeof big - 1] + 1;
}
