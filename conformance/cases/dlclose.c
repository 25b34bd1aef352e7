/* Checks: a thread runs a split-stack shared library's code across stack
   segments (the first segment of the thread comes from the library's
   copy of the runtime, which registers the thread-exit destructor that
   releases the thread's segments), the library is dlclose'd, then the
   thread exits.  The program itself is not compiled with -fsplit-stack.
   docs/abi.md, 5.8: split-stack shared libraries are linked -z nodelete,
   so the library must still be loaded after dlclose (before that rule,
   it was unloaded and the thread died at exit, in the destructor).  The
   library (dlclose_lib.c, built as dlclose_lib.so next to this program)
   is found through argv[0] (not /proc/self/exe, which names the dynamic
   loader when the program is started through it).  Prints "dlclose ok"
   and exits 0 only if the library stayed loaded and the thread ran its
   code, exited, and was joined.  */

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

static int (*lib_deep) (int);
static sem_t ran, unloaded;
static int result = -1;

static void *
thread (void *arg)
{
  (void) arg;
  result = lib_deep (100);
  sem_post (&ran);
  sem_wait (&unloaded);
  return NULL;
}

int
main (int argc, char **argv)
{
  char path[PATH_MAX];
  if (argc < 1 || strlen (argv[0]) >= sizeof path - 32)
    {
      printf ("dlclose FAILED: no usable argv[0]\n");
      return 1;
    }
  strcpy (path, argv[0]);
  char *slash = strrchr (path, '/');
  strcpy (slash != NULL ? slash + 1 : path, "dlclose_lib.so");
  void *h = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL)
    {
      printf ("dlclose FAILED: %s\n", dlerror ());
      return 1;
    }
  lib_deep = (int (*) (int)) dlsym (h, "lib_deep");
  if (lib_deep == NULL)
    {
      printf ("dlclose FAILED: no lib_deep\n");
      return 1;
    }
  sem_init (&ran, 0, 0);
  sem_init (&unloaded, 0, 0);
  /* A small thread stack, so that lib_deep needs new segments.  */
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, 128 * 1024);
  pthread_t t;
  if (pthread_create (&t, &attr, thread, NULL) != 0)
    {
      printf ("dlclose FAILED: pthread_create\n");
      return 1;
    }
  sem_wait (&ran);
  if (dlclose (h) != 0)
    {
      printf ("dlclose FAILED: dlclose: %s\n", dlerror ());
      return 1;
    }
  void *again = dlopen (path, RTLD_NOW | RTLD_NOLOAD);
  if (again == NULL)
    {
      printf ("dlclose FAILED: the library was unloaded\n");
      sem_post (&unloaded);
      pthread_join (t, NULL);
      return 1;
    }
  dlclose (again);
  sem_post (&unloaded);
  pthread_join (t, NULL);
  if (result != 100)
    {
      printf ("dlclose FAILED: lib_deep returned %d\n", result);
      return 1;
    }
  printf ("dlclose ok\n");
  return 0;
}
