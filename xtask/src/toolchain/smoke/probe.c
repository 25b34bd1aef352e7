/* -fsplit-stack compile probe.  */
int
probe (int x)
{
  char buf[256];
  buf[x & 255] = x;
  return buf[(x + 1) & 255];
}
