/* posternd — the Postern agent: owns the store, the keys and the network
 * sessions, and serves clients over a Unix socket (DESIGN.md §2, §5).
 * This is only the process's set-up; the agent is libpostern-agent
 * (daemon.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "config/paths.h"
#include "daemon.h"
#include "worker.h"
#include "util/error.h"
#include "util/log.h"

/* The agent's memory holds decrypted mail, protected headers and session
 * keys: a crash must not write it to a core file.  Not dumpable covers this
 * process whatever core_pattern says (a pipe to a collector included); the
 * hard limit of 0 is inherited by everything it starts (the scan command,
 * gpg through GPGME, any worker), which cannot raise it again: exec makes
 * a child dumpable once more, but without a core size it writes none. */
static void
no_core_dumps (void)
{
  const struct rlimit none = { 0, 0 };

  if (setrlimit (RLIMIT_CORE, &none) != 0)
    g_warning ("cannot turn core dumps off (RLIMIT_CORE): %s", g_strerror (errno));
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    g_warning ("cannot turn core dumps off (PR_SET_DUMPABLE): %s", g_strerror (errno));
}

int
main (int argc, char **argv)
{
  g_autofree char *home = NULL;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home, "Keep everything under DIR", "DIR" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- the Postern agent");
  g_autoptr (GError) error = NULL;

  /* The analysis worker is this binary too (worker.h): it starts here,
   * before the agent opens anything. */
  if (argc == 2 && strcmp (argv[1], "--analysis-worker") == 0)
    pst_worker_main ();
  {
    /* A SIGHUP before the agent's handler is in place (daemon.c) waits
     * for it instead of ending the process. */
    sigset_t hup;

    sigemptyset (&hup);
    sigaddset (&hup, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &hup, NULL);
  }
  no_core_dumps ();
  /* Also the messages of core/ the agent passes on to its clients. */
  pst_paths_init_locale ();
  umask (077);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "posternd: %s\n", error->message);
      return PST_ERROR_USAGE;
    }
  pst_log_init ("posternd", verbose);
  signal (SIGPIPE, SIG_IGN);
  /* A file size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, which
   * the store handles like a full disk, instead of killing the agent. */
  signal (SIGXFSZ, SIG_IGN);
  return pst_daemon_run (home);
}
