/* Unit tests for cli/batch-temps.c, built here with its test hooks: each
 * case runs in a child process of its own, which a signal ends, and the
 * parent judges how it ended and what it left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "batch-temps.h"

extern volatile sig_atomic_t pst_batch_temps_test_entered, pst_batch_temps_test_hold;

static void
pause_ms (long ms)
{
  nanosleep (&(struct timespec) { ms / 1000, (ms % 1000) * 1000000 }, NULL);
}

/* Forks; the child runs @body with @dir and ends with _exit (0) unless a
 * signal ended it first.  The child's wait status. */
static int
in_child (void (*body) (const char *dir), const char *dir)
{
  pid_t pid;
  int status = 0;

  fflush (NULL);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      body (dir);
      _exit (0);
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  return status;
}

/* Runs @body in a child (in_child), which SIGTERM must end. */
static void
assert_child_terminated (void (*body) (const char *dir), const char *dir)
{
  int status = in_child (body, dir);

  assert_true (WIFSIGNALED (status));
  assert_int_equal (WTERMSIG (status), SIGTERM);
}

static guint
files_in (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
interrupted (const char *dir)
{
  g_autofree char *tmpl = g_build_filename (dir, "out.XXXXXX", NULL);

  pst_batch_temps_begin ();
  if (pst_batch_temp_make (tmpl, 0) < 0)
    _exit (3);
  kill (getpid (), SIGTERM);
  /* The waiting thread removes the temporary and ends the process. */
  for (int i = 0; i < 1000; i++)
    pause_ms (10);
  _exit (4);
}

/* SIGTERM during the batch: the temporary removed, the process ended by
 * the signal. */
static void
test_interrupt_removes_temporaries (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-batch-temps-XXXXXX", NULL);

  (void) state;
  assert_child_terminated (interrupted, dir);
  assert_int_equal (files_in (dir), 0);
  g_rmdir (dir);
}

static volatile sig_atomic_t idle_ready;

/* A thread that only waits.  The handler that the test holds runs on it:
 * it must not be inside malloc then (its start allocates), or the end of
 * the batch, which frees, would wait for a lock the held handler has. */
static void *
idle_thread (void *data)
{
  (void) data;
  idle_ready = 1;
  for (;;)
    pause ();
  return NULL;
}

/* A handler that began before the batch ended and writes its signal after
 * pst_batch_temps_end() read the pipe for the last time. */
static void
late_handler (const char *dir)
{
  pthread_t other;

  (void) dir;
  pst_batch_temps_begin ();
  pst_batch_temps_test_hold = 1;
  if (pthread_create (&other, NULL, idle_thread, NULL) != 0)
    _exit (3);
  while (!idle_ready)
    pause_ms (1);
  /* To that thread: its handler waits, the main thread ends the batch. */
  pthread_kill (other, SIGTERM);
  while (!pst_batch_temps_test_entered)
    pause_ms (1);
  pst_batch_temps_end ();
  /* The batch is over; the handler goes on. */
  pst_batch_temps_test_hold = 0;
  for (int i = 0; i < 1000; i++)
    pause_ms (10);
  _exit (0);
}

/* The signal is not lost: it ends the process as it would have. */
static void
test_signal_while_the_batch_ends (void **state)
{
  (void) state;
  assert_child_terminated (late_handler, NULL);
}

static void
after_end (const char *dir)
{
  (void) dir;
  pst_batch_temps_begin ();
  pst_batch_temps_end ();
  kill (getpid (), SIGTERM);
  pause_ms (10000);
  _exit (0);
}

/* After the batch the signal's disposition is as before (the default). */
static void
test_signals_as_before_after_the_batch (void **state)
{
  (void) state;
  assert_child_terminated (after_end, NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_interrupt_removes_temporaries),
    cmocka_unit_test (test_signal_while_the_batch_ends),
    cmocka_unit_test (test_signals_as_before_after_the_batch),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
