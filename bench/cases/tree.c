/* Benchmark workload: recursive walk of a perfect binary tree.
   Usage: tree DEPTH.  The tree has 2^(DEPTH+1) - 1 nodes; walk is called
   once per node and once per null child, 2 * nodes + 1 calls, printed as
   units=.  */

#include <stdio.h>
#include <stdlib.h>

struct node
{
  struct node *l, *r;
  long v;
};

__attribute__ ((noinline, noclone)) static long
walk (const struct node *t)
{
  if (!t)
    return 0;
  return t->v + walk (t->l) + walk (t->r);
}

int
main (int argc, char **argv)
{
  int depth = argc > 1 ? atoi (argv[1]) : 10;
  long nodes = (2L << depth) - 1;
  struct node *t = calloc (nodes, sizeof *t);
  if (!t)
    return 1;
  /* Heap order: the children of node i are 2i+1 and 2i+2.  */
  for (long i = 0; i < nodes; i++)
    {
      t[i].v = i;
      t[i].l = 2 * i + 1 < nodes ? &t[2 * i + 1] : NULL;
      t[i].r = 2 * i + 2 < nodes ? &t[2 * i + 2] : NULL;
    }
  printf ("result=%ld\nunits=%ld\n", walk (t), 2 * nodes + 1);
  return 0;
}
