/* Checks: TLS variant I is unchanged by the guard slot below TP
   (docs/abi.md, section 2): the executable's first TLS variable lies at
   TP + 16 (checks tls/variant-1 and tls/variant-1-static).  */
#include <stdio.h>
__thread long tls_first = 42;
int
main (void)
{
  char *tp = __builtin_thread_pointer ();
  long off = (char *) &tls_first - tp;
  printf ("tls offset %ld value %ld\n", off, tls_first);
  return 0;
}
