/* batch-temps.c — the temporary outputs of `postern batch` (batch-temps.h).
 *
 * Every temporary is made, renamed and removed under one lock, and noted in
 * a set meanwhile.  The interrupting signals only write their number into
 * a pipe (all a handler may safely do, in whichever thread it runs); a
 * thread reads it, takes the lock, removes what the set holds and ends the
 * process by the same signal: no worker can make or rename a temporary
 * between the removal and the end. */
#define _GNU_SOURCE
#include "batch-temps.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

static const int signals[] = { SIGINT, SIGTERM, SIGHUP };

static GMutex lock;
static GHashTable *temps;       /* of char*, under @lock */
static GThread *waiter;
static int pipe_fds[2] = { -1, -1 };
static struct sigaction before[G_N_ELEMENTS (signals)];
static gint ended;              /* the handlers restored (atomic) */

#ifdef PST_BATCH_TEMPS_TEST_HOOKS
/* tests/unit/test-batch-temps.c: a handler says it runs, and waits while
 * told to, so that the batch can end meanwhile. */
volatile sig_atomic_t pst_batch_temps_test_entered, pst_batch_temps_test_hold;
#endif

static void
on_signal (int sig)
{
  unsigned char c = (unsigned char) sig;
  int saved = errno;

#ifdef PST_BATCH_TEMPS_TEST_HOOKS
  pst_batch_temps_test_entered = 1;
  while (pst_batch_temps_test_hold)
    nanosleep (&(struct timespec) { 0, 1000000 }, NULL);
#endif
  /* Non-blocking: a full pipe holds signals enough already. */
  if (write (pipe_fds[1], &c, 1) < 0)
    { /* nothing else to do in a handler */ }
  /* The batch ended meanwhile, its handlers restored: the pipe may have
   * been read for the last time before the write above.  Sent again, the
   * signal acts when this handler returns, as the restored disposition
   * says (no temporary is left by then).  Either the last read of the
   * pipe sees the write, or this sees @ended (both atomic, in that
   * order: pst_batch_temps_end()). */
  if (g_atomic_int_get (&ended))
    raise (sig);
  errno = saved;
}

/* Ends the process by signal @sig, as without the handler (the shell's 130
 * for Ctrl-C). */
static G_NORETURN void
die_by (int sig)
{
  signal (sig, SIG_DFL);
  raise (sig);
  _exit (128 + sig);
}

static gpointer
wait_for_signal (gpointer data)
{
  unsigned char c = 0;
  GHashTableIter it;
  gpointer path;

  (void) data;
  /* A 0 is pst_batch_temps_end()'s. */
  while (read (pipe_fds[0], &c, 1) < 0 && errno == EINTR)
    ;
  if (c == 0)
    return NULL;
  g_mutex_lock (&lock);
  g_hash_table_iter_init (&it, temps);
  while (g_hash_table_iter_next (&it, &path, NULL))
    unlink (path);
  /* The progress bar's line ended, without stdio: a thread may hold
   * stderr's lock, blocked on a terminal that does not read. */
  if (isatty (STDERR_FILENO) && write (STDERR_FILENO, "\n", 1) < 0)
    { /* ending anyway */ }
  die_by (c);
}

void
pst_batch_temps_begin (void)
{
  struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

  temps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_atomic_int_set (&ended, 0);
  if (!g_unix_open_pipe (pipe_fds, FD_CLOEXEC, NULL))
    return;   /* then an interrupted batch leaves its temporaries, as before */
  g_unix_set_fd_nonblocking (pipe_fds[1], TRUE, NULL);
  waiter = g_thread_new ("batch-signals", wait_for_signal, NULL);
  sigemptyset (&sa.sa_mask);
  /* One ignored stays ignored (SIGINT for a command a shell started in the
   * background). */
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    if (sigaction (signals[i], NULL, &before[i]) == 0 && before[i].sa_handler != SIG_IGN)
      sigaction (signals[i], &sa, NULL);
}

void
pst_batch_temps_end (void)
{
  unsigned char zero = 0;

  if (waiter != NULL)
    {
      unsigned char c;

      for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
        sigaction (signals[i], &before[i], NULL);
      g_atomic_int_set (&ended, 1);
      /* A signal that came before the handlers went is read first; one
       * whose handler was still running meanwhile may follow the 0: it is
       * acted on here, as the signal would have been (no temporary is left
       * by now).  One whose handler writes after this last read sees
       * @ended and sends itself the signal again.  The pipe stays open:
       * such a handler may still write. */
      if (write (pipe_fds[1], &zero, 1) == 1)
        g_thread_join (waiter);
      waiter = NULL;
      g_unix_set_fd_nonblocking (pipe_fds[0], TRUE, NULL);
      while (read (pipe_fds[0], &c, 1) == 1)
        if (c != 0)
          {
            struct sigaction now;

            if (sigaction (c, NULL, &now) == 0 && now.sa_handler == SIG_DFL)
              die_by (c);
          }
    }
  g_clear_pointer (&temps, g_hash_table_unref);
}

int
pst_batch_temp_make (char *tmpl, int flags)
{
  int fd;

  g_mutex_lock (&lock);
  fd = g_mkstemp_full (tmpl, flags, 0600);
  if (fd >= 0)
    g_hash_table_add (temps, g_strdup (tmpl));
  g_mutex_unlock (&lock);
  return fd;
}

void
pst_batch_temp_drop (const char *path)
{
  g_mutex_lock (&lock);
  g_unlink (path);
  g_hash_table_remove (temps, path);
  g_mutex_unlock (&lock);
}

int
pst_batch_temp_rename (const char *tmp, const char *dest)
{
  int err = 0;

  g_mutex_lock (&lock);
  if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) != 0)
    err = errno;
  else
    g_hash_table_remove (temps, tmp);
  g_mutex_unlock (&lock);
  return err;
}
