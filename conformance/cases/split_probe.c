/* Checks: the compiler accepts -fsplit-stack for aarch64-linux-gnu
   (check split-stack/accepted); also the object whose notes
   notes/split-stack inspects.  A function with a 256-byte frame.  */
int
f (int x)
{
  char b[256];
  b[x & 255] = x;
  return b[(x + 1) & 255];
}
