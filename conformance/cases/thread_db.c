/* Checks: libthread_db finds other threads' TLS (conformance check tls/thread-db).

   Not split-stack: plain C, built with -pthread -rdynamic -ldl.  The
   program is its own debugger.  It implements the proc_service callbacks
   that libthread_db calls (<proc_service.h>) on its own memory, starts two
   threads, and asks libthread_db, from the main thread, where each
   thread's `__thread' variables are; every answer must be the address the
   thread itself saw.  Prints exactly "thread_db ok\n" and exits 0 only if
   every answer is right; otherwise prints one line per wrong answer, with
   the error in bytes (libthread_db's address minus the thread's), and
   exits 1 (also if the workers' DTVs were not older than the module,
   which would leave td_thr_tlsbase's static-TLS path untested).

   Why this checks the pre-TCB block of docs/abi.md section 1: glibc's
   AArch64 TLS_PRE_TCB_SIZE is sizeof (struct pthread) + 32 (the 32-byte
   tcbprehead_t, sysdeps/aarch64/nptl/tls.h).  libthread_db learns most of
   the layout from libc itself (the _thread_db_* descriptors of
   nptl_db/db_info.c and structs.def, including _thread_db_const_thread_area
   = TLS_PRE_TCB_SIZE, which DB_THREAD_SELF = CONST_THREAD_AREA (64,
   TLS_PRE_TCB_SIZE) exports), but td_thr_tlsbase (nptl_db/td_thr_tlsbase.c)
   uses its own compiled-in TLS_PRE_TCB_SIZE when a module's TLS block is
   static TLS that the thread's DTV does not show yet:
       dtvptr = tp + tlsoff + TLS_PRE_TCB_SIZE   (tp = the struct pthread)
   So the program covers both paths:
     - the executable's variables (module 1, one initial-exec, one declared
       global-dynamic, which the linker relaxes in an executable): their
       DTV entries are set when each thread's TLS is set up, so
       td_thr_tlsbase reads the block address from the DTV;
     - a variable of a module that the program dlopens after the threads
       started, itself compiled from this file with -DTHREAD_DB_MODULE
       -shared -fPIC and accessed initial-exec, so it gets static TLS and
       the threads' DTVs are older than the module: td_thr_tlsbase must
       take the static-TLS path above.
   A libthread_db built without the pre-TCB block (stock glibc) gets the
   second path wrong by -32 bytes.

   Usage: thread_db [LIBTHREAD_DB]: dlopen LIBTHREAD_DB (default: the
   environment variable THREAD_DB_LIB, else "libthread_db.so.1" from the
   library path).  The module is loaded from the executable's directory
   as thread_db_mod.so (THREAD_DB_MOD overrides the path).

   Extra information (sizes, which paths were taken) goes to stderr as
   lines starting with "info: ".  */

#ifdef THREAD_DB_MODULE

/* The dlopen'd module: one initial-exec variable, so the module needs
   static TLS (DF_STATIC_TLS) and its block lies at a fixed offset from
   every thread's TP.  Accessing it never updates the thread's DTV.  */
__thread long mod_ie __attribute__ ((tls_model ("initial-exec"))) = 7;

long *
mod_ie_addr (void)
{
  return &mod_ie;
}

#else /* !THREAD_DB_MODULE */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <proc_service.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <thread_db.h>
#include <unistd.h>

#define NWORKERS 2
/* The main thread and the workers.  */
#define NTHREADS (NWORKERS + 1)

__thread long exe_ie __attribute__ ((tls_model ("initial-exec"))) = 1;
/* Global-dynamic in the source; the linker relaxes the access in an
   executable, but the variable lies in the same module-1 block.  */
__thread long exe_gd __attribute__ ((tls_model ("global-dynamic"))) = 2;

/* What each thread saw itself.  */
struct seen
{
  pid_t lwp;                    /* gettid () */
  pthread_t self;               /* pthread_self (): the struct pthread */
  uintptr_t tp;                 /* tpidr_el0 */
  long *exe_ie, *exe_gd, *mod_ie;
};

static struct seen seen[NTHREADS];
static pthread_barrier_t barrier;
static long *(*mod_ie_addr) (void);

/* The process handle of proc_service.h, defined by the debugger.  */
struct ps_prochandle
{
  pid_t pid;
};

static uintptr_t
read_tp (void)
{
  uintptr_t tp;
  __asm__ volatile ("mrs %0, tpidr_el0" : "=r" (tp));
  return tp;
}

static void
record (struct seen *s)
{
  s->lwp = gettid ();
  s->self = pthread_self ();
  s->tp = read_tp ();
  s->exe_ie = &exe_ie;
  s->exe_gd = &exe_gd;
}

static void *
worker (void *arg)
{
  struct seen *s = arg;
  record (s);
  pthread_barrier_wait (&barrier);  /* 1: recorded; main dlopens.  */
  pthread_barrier_wait (&barrier);  /* 2: the module is loaded.  */
  s->mod_ie = mod_ie_addr ();
  pthread_barrier_wait (&barrier);  /* 3: main inspects us.  */
  pthread_barrier_wait (&barrier);  /* 4: done.  */
  return NULL;
}

/* proc_service callbacks (exported with -rdynamic for libthread_db).  */

ps_err_e
ps_pglobal_lookup (struct ps_prochandle *ph, const char *object,
                   const char *name, psaddr_t *addr)
{
  /* nptl_db asks for LIBPTHREAD_SO ("libpthread.so.0") whatever the
     object; since glibc 2.34 the symbols are in libc.so.6 and ld.so.
     Like gdb, search every object that may hold them.  */
  static const char *const objects[] =
    { "libc.so.6", "ld-linux-aarch64.so.1", "libpthread.so.0" };
  (void) ph;
  (void) object;
  for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
    {
      void *h = dlopen (objects[i], RTLD_LAZY | RTLD_NOLOAD);
      if (h == NULL)
        continue;
      void *p = dlsym (h, name);
      dlclose (h);
      if (p != NULL)
        {
          *addr = p;
          return PS_OK;
        }
    }
  return PS_NOSYM;
}

ps_err_e
ps_pdread (struct ps_prochandle *ph, psaddr_t addr, void *buf, size_t size)
{
  (void) ph;
  memcpy (buf, addr, size);
  return PS_OK;
}

ps_err_e
ps_pdwrite (struct ps_prochandle *ph, psaddr_t addr, const void *buf,
            size_t size)
{
  (void) ph;
  memcpy (addr, buf, size);
  return PS_OK;
}

ps_err_e
ps_ptread (struct ps_prochandle *ph, psaddr_t addr, void *buf, size_t size)
{
  return ps_pdread (ph, addr, buf, size);
}

ps_err_e
ps_ptwrite (struct ps_prochandle *ph, psaddr_t addr, const void *buf,
            size_t size)
{
  return ps_pdwrite (ph, addr, buf, size);
}

/* A live process cannot read the registers of its own running threads;
   the AArch64 libthread_db does not need them (it uses
   ps_get_thread_area, below).  */
ps_err_e
ps_lgetregs (struct ps_prochandle *ph, lwpid_t lwp, prgregset_t regs)
{
  (void) ph;
  (void) lwp;
  (void) regs;
  return PS_ERR;
}

ps_err_e
ps_lsetregs (struct ps_prochandle *ph, lwpid_t lwp, const prgregset_t regs)
{
  (void) ph;
  (void) lwp;
  (void) regs;
  return PS_ERR;
}

ps_err_e
ps_lgetfpregs (struct ps_prochandle *ph, lwpid_t lwp, prfpregset_t *regs)
{
  (void) ph;
  (void) lwp;
  (void) regs;
  return PS_ERR;
}

ps_err_e
ps_lsetfpregs (struct ps_prochandle *ph, lwpid_t lwp,
               const prfpregset_t *regs)
{
  (void) ph;
  (void) lwp;
  (void) regs;
  return PS_ERR;
}

pid_t
ps_getpid (struct ps_prochandle *ph)
{
  return ph->pid;
}

static int thread_area_calls;
static int thread_area_bias = -1;

/* AArch64 DB_THREAD_SELF is CONST_THREAD_AREA (64, TLS_PRE_TCB_SIZE)
   (sysdeps/aarch64/nptl/tls.h): libthread_db reads IDX from libc's
   _thread_db_const_thread_area and expects the thread descriptor, as
   gdb's aarch64_ps_get_thread_area (gdb/nat/aarch64-linux.c) returns it:
   tpidr_el0 - IDX.  The TP is the one the thread recorded itself.  */
ps_err_e
ps_get_thread_area (struct ps_prochandle *ph, lwpid_t lwp, int idx,
                    psaddr_t *base)
{
  (void) ph;
  thread_area_calls++;
  thread_area_bias = idx;
  for (int i = 0; i < NTHREADS; i++)
    if (seen[i].lwp == lwp)
      {
        *base = (psaddr_t) (seen[i].tp - (uintptr_t) idx);
        return PS_OK;
      }
  return PS_BADLID;
}

ps_err_e
ps_pstop (struct ps_prochandle *ph)
{
  (void) ph;
  return PS_OK;
}

ps_err_e
ps_pcontinue (struct ps_prochandle *ph)
{
  (void) ph;
  return PS_OK;
}

ps_err_e
ps_lstop (struct ps_prochandle *ph, lwpid_t lwp)
{
  (void) ph;
  (void) lwp;
  return PS_OK;
}

ps_err_e
ps_lcontinue (struct ps_prochandle *ph, lwpid_t lwp)
{
  (void) ph;
  (void) lwp;
  return PS_OK;
}

/* libthread_db's entry points, from dlopen.  */
static __typeof__ (td_init) *p_td_init;
static __typeof__ (td_ta_new) *p_td_ta_new;
static __typeof__ (td_ta_map_lwp2thr) *p_td_ta_map_lwp2thr;
static __typeof__ (td_ta_thr_iter) *p_td_ta_thr_iter;
static __typeof__ (td_thr_get_info) *p_td_thr_get_info;
static __typeof__ (td_thr_tlsbase) *p_td_thr_tlsbase;
static __typeof__ (td_thr_tls_get_addr) *p_td_thr_tls_get_addr;

static int failures;

static const char *
td_name (td_err_e e)
{
  static const char *const names[] =
    {
      "TD_OK", "TD_ERR", "TD_NOTHR", "TD_NOSV", "TD_NOLWP", "TD_BADPH",
      "TD_BADTH", "TD_BADSH", "TD_BADTA", "TD_BADKEY", "TD_NOMSG",
      "TD_NOFPREGS", "TD_NOLIBTHREAD", "TD_NOEVENT", "TD_NOCAPAB",
      "TD_DBERR", "TD_NOAPLIC", "TD_NOTSD", "TD_MALLOC", "TD_PARTIALREG",
      "TD_NOXREGS", "TD_TLSDEFER", "TD_VERSION", "TD_NOTLS",
    };
  if ((unsigned int) e < sizeof names / sizeof names[0])
    return names[e];
  return "TD_?";
}

static void
fail_td (const char *what, int thread, td_err_e e)
{
  printf ("%s for thread %d failed: %s (%d)\n", what, thread, td_name (e),
          (int) e);
  failures++;
}

/* Compares libthread_db's address GOT for VAR of THREAD with the address
   WANT that the thread saw.  */
static void
compare (const char *how, const char *var, int thread, uintptr_t got,
         uintptr_t want)
{
  if (got == want)
    return;
  printf ("%s: %s of thread %d: libthread_db says %#lx, the thread saw "
          "%#lx: off by %+ld bytes\n", how, var, thread,
          (unsigned long) got, (unsigned long) want,
          (long) (got - want));
  failures++;
}

/* One TLS module under test: its module ID, link_map, and the offset of
   each variable in its block.  */
struct module
{
  const char *name;
  size_t modid;
  struct link_map *map;
  uintptr_t block;              /* The main thread's block, from glibc.  */
};

struct phdr_query
{
  const char *suffix;           /* "" for the executable (first object) */
  size_t modid;
  void *tls_data;
  int found;
};

static int
phdr_cb (struct dl_phdr_info *info, size_t size, void *data)
{
  struct phdr_query *q = data;
  (void) size;
  size_t n = strlen (info->dlpi_name), m = strlen (q->suffix);
  int match = q->suffix[0] == '\0'
              ? 1 : (n >= m && strcmp (info->dlpi_name + n - m, q->suffix) == 0);
  if (!match)
    return 0;
  q->modid = info->dlpi_tls_modid;
  q->tls_data = info->dlpi_tls_data;
  q->found = 1;
  return 1;
}

/* The calling (main) thread's TLS block of the module whose name ends in
   SUFFIX ("" = the executable), as glibc's own dl_iterate_phdr reports
   it (dlpi_tls_data, from the calling thread's DTV).  */
static int
find_module (const char *suffix, struct module *m)
{
  struct phdr_query q = { suffix, 0, NULL, 0 };
  dl_iterate_phdr (phdr_cb, &q);
  if (!q.found || q.modid == 0 || q.tls_data == NULL)
    {
      printf ("dl_iterate_phdr: no TLS block for module %s (modid %zu)\n",
              m->name, q.modid);
      failures++;
      return 0;
    }
  m->modid = q.modid;
  m->block = (uintptr_t) q.tls_data;
  return 1;
}

struct iter_data
{
  int found[NTHREADS];
  int others;
};

static int
iter_cb (const td_thrhandle_t *th, void *data)
{
  struct iter_data *d = data;
  td_thrinfo_t ti;
  if (p_td_thr_get_info (th, &ti) != TD_OK)
    {
      d->others++;
      return 0;
    }
  for (int i = 0; i < NTHREADS; i++)
    if (seen[i].lwp == ti.ti_lid)
      {
        d->found[i]++;
        return 0;
      }
  d->others++;
  return 0;
}

#define LOAD(f)                                                         \
  do                                                                    \
    {                                                                   \
      p_##f = (__typeof__ (p_##f)) dlsym (tdb, #f);                     \
      if (p_##f == NULL)                                                \
        {                                                               \
          printf ("%s: no %s\n", tdb_path, #f);                         \
          return 1;                                                     \
        }                                                               \
    }                                                                   \
  while (0)

int
main (int argc, char **argv)
{
  const char *tdb_path = argc > 1 ? argv[1] : getenv ("THREAD_DB_LIB");
  if (tdb_path == NULL || tdb_path[0] == '\0')
    tdb_path = "libthread_db.so.1";

  char mod_path[4096];
  const char *env_mod = getenv ("THREAD_DB_MOD");
  if (env_mod != NULL && env_mod[0] != '\0')
    snprintf (mod_path, sizeof mod_path, "%s", env_mod);
  else
    {
      const char *slash = strrchr (argv[0], '/');
      int dirlen = slash == NULL ? 1 : (int) (slash - argv[0]);
      snprintf (mod_path, sizeof mod_path, "%.*s/thread_db_mod.so", dirlen,
                slash == NULL ? "." : argv[0]);
    }

  void *tdb = dlopen (tdb_path, RTLD_NOW | RTLD_LOCAL);
  if (tdb == NULL)
    {
      printf ("dlopen %s: %s\n", tdb_path, dlerror ());
      return 1;
    }
  LOAD (td_init);
  LOAD (td_ta_new);
  LOAD (td_ta_map_lwp2thr);
  LOAD (td_ta_thr_iter);
  LOAD (td_thr_get_info);
  LOAD (td_thr_tlsbase);
  LOAD (td_thr_tls_get_addr);

  /* Start the workers and let every thread record what it sees.  */
  pthread_barrier_init (&barrier, NULL, NTHREADS);
  record (&seen[0]);
  pthread_t t[NWORKERS];
  for (int i = 0; i < NWORKERS; i++)
    if (pthread_create (&t[i], NULL, worker, &seen[i + 1]) != 0)
      {
        printf ("pthread_create failed\n");
        return 1;
      }
  pthread_barrier_wait (&barrier);  /* 1 */

  /* Load the module after the threads started: its DTV generation is
     newer than theirs.  Resolving mod_ie through dlsym runs
     __tls_get_addr in the main thread, which brings the main thread's DTV
     up to date (so dl_iterate_phdr reports its block); the workers' DTVs
     stay old.  */
  void *mod = dlopen (mod_path, RTLD_NOW | RTLD_LOCAL);
  if (mod == NULL)
    {
      printf ("dlopen %s: %s\n", mod_path, dlerror ());
      return 1;
    }
  mod_ie_addr = (long *(*) (void)) dlsym (mod, "mod_ie_addr");
  long *mod_ie_dlsym = dlsym (mod, "mod_ie");
  if (mod_ie_addr == NULL || mod_ie_dlsym == NULL)
    {
      printf ("%s: no mod_ie_addr or mod_ie\n", mod_path);
      return 1;
    }
  seen[0].mod_ie = mod_ie_addr ();
  if (seen[0].mod_ie != mod_ie_dlsym)
    {
      printf ("main thread: mod_ie at %p (initial-exec) but %p (dlsym)\n",
              (void *) seen[0].mod_ie, (void *) mod_ie_dlsym);
      failures++;
    }
  pthread_barrier_wait (&barrier);  /* 2 */
  pthread_barrier_wait (&barrier);  /* 3: the workers have recorded.  */

  struct module exe = { "executable", 0, NULL, 0 };
  struct module dso = { "thread_db_mod.so", 0, mod, 0 };
  void *self = dlopen (NULL, RTLD_LAZY);
  if (self == NULL || dlinfo (self, RTLD_DI_LINKMAP, &exe.map) != 0)
    {
      printf ("dlinfo: no link_map of the executable\n");
      return 1;
    }
  int have_exe = find_module ("", &exe);
  int have_dso = find_module ("/thread_db_mod.so", &dso);
  if (have_exe && exe.modid != 1)
    {
      printf ("the executable's TLS module ID is %zu, not 1\n", exe.modid);
      failures++;
    }

  td_err_e e = p_td_init ();
  if (e != TD_OK)
    {
      printf ("td_init failed: %s (%d)\n", td_name (e), (int) e);
      return 1;
    }
  struct ps_prochandle ph = { getpid () };
  td_thragent_t *ta;
  e = p_td_ta_new (&ph, &ta);
  if (e != TD_OK)
    {
      printf ("td_ta_new failed: %s (%d)\n", td_name (e), (int) e);
      return 1;
    }

  for (int i = 0; i < NTHREADS; i++)
    {
      struct seen *s = &seen[i];
      td_thrhandle_t th;
      e = p_td_ta_map_lwp2thr (ta, s->lwp, &th);
      if (e != TD_OK)
        {
          fail_td ("td_ta_map_lwp2thr", i, e);
          continue;
        }
      td_thrinfo_t ti;
      e = p_td_thr_get_info (&th, &ti);
      if (e != TD_OK)
        fail_td ("td_thr_get_info", i, e);
      else
        {
          if (ti.ti_lid != s->lwp)
            {
              printf ("td_thr_get_info: thread %d has ti_lid %d, not %d\n",
                      i, (int) ti.ti_lid, (int) s->lwp);
              failures++;
            }
          compare ("td_thr_get_info ti_tid", "pthread_self", i,
                   (uintptr_t) ti.ti_tid, (uintptr_t) s->self);
        }
      if (i == 0)
        fprintf (stderr, "info: TP - pthread_self () = %ld bytes; "
                 "libthread_db's thread-area bias = %d bytes\n",
                 (long) (s->tp - (uintptr_t) s->self), thread_area_bias);

      /* td_thr_tlsbase and td_thr_tls_get_addr for every variable.  */
      const struct
      {
        const char *var;
        struct module *m;
        int have;
        uintptr_t saw;
        uintptr_t main_saw;
      } vars[] =
        {
          { "exe_ie", &exe, have_exe, (uintptr_t) s->exe_ie,
            (uintptr_t) seen[0].exe_ie },
          { "exe_gd", &exe, have_exe, (uintptr_t) s->exe_gd,
            (uintptr_t) seen[0].exe_gd },
          { "mod_ie", &dso, have_dso, (uintptr_t) s->mod_ie,
            (uintptr_t) seen[0].mod_ie },
        };
      for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++)
        {
          if (!vars[v].have)
            continue;
          /* The variable's offset in its module's block, from the main
             thread's own view of glibc (not from libthread_db).  */
          uintptr_t off = vars[v].main_saw - vars[v].m->block;
          psaddr_t base;
          e = p_td_thr_tlsbase (&th, vars[v].m->modid, &base);
          char how[96];
          snprintf (how, sizeof how, "td_thr_tlsbase (modid %zu) + %lu",
                    vars[v].m->modid, (unsigned long) off);
          if (e != TD_OK)
            fail_td (how, i, e);
          else
            compare (how, vars[v].var, i, (uintptr_t) base + off,
                     vars[v].saw);
          psaddr_t addr;
          e = p_td_thr_tls_get_addr (&th, vars[v].m->map, off, &addr);
          snprintf (how, sizeof how, "td_thr_tls_get_addr (%s link_map)",
                    vars[v].m->name);
          if (e != TD_OK)
            fail_td (how, i, e);
          else
            compare (how, vars[v].var, i, (uintptr_t) addr, vars[v].saw);
        }
    }

  struct iter_data d;
  memset (&d, 0, sizeof d);
  e = p_td_ta_thr_iter (ta, iter_cb, &d, TD_THR_ANY_STATE,
                        TD_THR_LOWEST_PRIORITY, TD_SIGNO_MASK,
                        TD_THR_ANY_USER_FLAGS);
  if (e != TD_OK)
    fail_td ("td_ta_thr_iter", -1, e);
  else
    {
      for (int i = 0; i < NTHREADS; i++)
        if (d.found[i] != 1)
          {
            printf ("td_ta_thr_iter: thread %d (lwp %d) found %d times\n",
                    i, (int) seen[i].lwp, d.found[i]);
            failures++;
          }
      if (d.others != 0)
        {
          printf ("td_ta_thr_iter: %d unknown threads\n", d.others);
          failures++;
        }
    }
  if (thread_area_calls == 0)
    {
      printf ("libthread_db never called ps_get_thread_area\n");
      failures++;
    }
  /* Which td_thr_tlsbase path the workers took for thread_db_mod.so: the
     DTV generation counter is dtv[0], and tcbhead_t.dtv (at TP) points at
     dtv[0] (INSTALL_DTV in sysdeps/aarch64/nptl/tls.h).  */
  uintptr_t main_gen = **(uintptr_t **) seen[0].tp;
  int stale = 0;
  for (int i = 1; i < NTHREADS; i++)
    stale += **(uintptr_t **) seen[i].tp < main_gen;
  fprintf (stderr, "info: %d of %d workers have a DTV older than "
           "thread_db_mod.so (generation < %lu): %s\n", stale, NWORKERS,
           (unsigned long) main_gen,
           stale == NWORKERS ? "td_thr_tlsbase took its static-TLS path"
           : "the static-TLS path was NOT covered");
  if (stale != NWORKERS)
    {
      /* Then the check would not test what it claims to.  */
      printf ("only %d of %d workers had a DTV older than thread_db_mod.so: "
              "td_thr_tlsbase's static-TLS path not covered\n", stale,
              NWORKERS);
      failures++;
    }
  fprintf (stderr, "info: libthread_db %s; module block offsets from TP: "
           "executable %ld, thread_db_mod.so %ld\n", tdb_path,
           (long) (exe.block - seen[0].tp), (long) (dso.block - seen[0].tp));

  pthread_barrier_wait (&barrier);  /* 4 */
  for (int i = 0; i < NWORKERS; i++)
    pthread_join (t[i], NULL);
  if (failures != 0)
    {
      printf ("%d check(s) failed\n", failures);
      return 1;
    }
  printf ("thread_db ok\n");
  return 0;
}

#endif /* !THREAD_DB_MODULE */
