/* posternd — the Postern agent: owns the store, the keys and the network
 * sessions, and serves clients over a Unix socket (DESIGN.md §2, §5). */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib-unix.h>
#include <glib/gi18n.h>

#include "agent.h"
#include "clientfd.h"
#include "server.h"
#include "worker.h"
#include "fetcher.h"
#include "methods.h"
#include "scheduler.h"
#include "sender.h"
#include "util/error.h"
#include "util/log.h"

static PstAgent *the_agent;

PstAccount *
pst_agent_get_account (PstAgent *agent, const char *name, GError **error)
{
  PstAccount *found = NULL;
  GPtrArray *accounts;

  g_mutex_lock (&agent->config_lock);
  accounts = pst_config_get_accounts (agent->config);
  if (name != NULL)
    {
      PstAccount *a = pst_config_find_account (agent->config, name);
      if (a != NULL)
        found = pst_account_copy (a);
      else
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no account named %s", name);
    }
  else if (accounts->len == 1)
    found = pst_account_copy (g_ptr_array_index (accounts, 0));
  else if (accounts->len == 0)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "no account is configured (postern account add NAME …)");
  else
    g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                 "several accounts are configured: name one with --account");
  g_mutex_unlock (&agent->config_lock);
  return found;
}

char *
pst_agent_get_gnupg_home (PstAgent *agent)
{
  char *home;

  g_mutex_lock (&agent->config_lock);
  home = g_strdup (pst_config_get_gnupg_home (agent->config));
  g_mutex_unlock (&agent->config_lock);
  return home;
}

GMutex *
pst_agent_session_lock (PstAgent *agent, const char *kind, const char *account)
{
  g_autofree char *key = g_strconcat (kind, ":", account, NULL);
  GMutex *lock;

  g_mutex_lock (&agent->sessions_lock);
  lock = g_hash_table_lookup (agent->account_locks, key);
  if (lock == NULL)
    {
      lock = g_new0 (GMutex, 1);
      g_mutex_init (lock);
      g_hash_table_insert (agent->account_locks, g_steal_pointer (&key), lock);
    }
  g_mutex_unlock (&agent->sessions_lock);
  return lock;
}

void
pst_agent_request_stop (PstAgent *agent)
{
  if (g_atomic_int_compare_and_exchange (&agent->stopping, 0, 1))
    {
      /* A request waiting for a client's input will not be worth its
       * wait: it ends now, not at its deadline. */
      pst_client_fd_cancel_all ();
      pst_server_wake (agent);
    }
}

static void
on_signal (int sig)
{
  (void) sig;
  if (the_agent != NULL && g_atomic_int_compare_and_exchange (&the_agent->stopping, 0, 1))
    {
      pst_client_fd_cancel_all ();   /* async-signal-safe: write(2) only */
      pst_server_wake (the_agent);   /* async-signal-safe: connect(2) only */
    }
}

/* Scanners replaced by a reload: a scan may still be using one, so they
 * are freed only when the agent ends. */
static GPtrArray *retired_scanners;

/* Keys of the configuration this version does not know (a misspelt one
 * would do nothing): in the log, and in hello's answer (config_warnings). */
static void
log_config_warnings (PstConfig *config)
{
  const GPtrArray *w = pst_config_get_warnings (config);

  for (guint i = 0; i < w->len; i++)
    g_warning ("%s", (const char *) w->pdata[i]);
}

gboolean
pst_agent_reload (PstAgent *agent, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (PstConfig) fresh = NULL;
  PstScanner *scanner = NULL;
  gboolean delivers = FALSE;
  guint timeout = 0;
  const char *spec;

  /* Read and swapped under the lock: a change saved by a method meanwhile
   * (account.update) would otherwise be read before it and then lost. */
  g_mutex_lock (&agent->config_lock);
  if (!(fresh = pst_config_load (agent->paths->config_file, error)))
    {
      g_mutex_unlock (&agent->config_lock);
      return FALSE;
    }
  spec = pst_config_get_scan (fresh, &delivers, &timeout);
  if (spec != NULL && !(scanner = pst_scanner_new (spec, timeout, &local)))
    {
      g_mutex_unlock (&agent->config_lock);
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s: [general] %s", agent->paths->config_file,
                   local->message);
      return FALSE;
    }
  pst_config_free (agent->config);
  agent->config = g_steal_pointer (&fresh);
  if (agent->scanner != NULL)
    g_ptr_array_add (retired_scanners, agent->scanner);
  agent->scanner = scanner;
  agent->scan_error_delivers = delivers;
  log_config_warnings (agent->config);
  g_mutex_unlock (&agent->config_lock);
  g_message ("reload: configuration read again from %s", agent->paths->config_file);
  pst_scheduler_wake ();
  return TRUE;
}

/* SIGHUP: read the configuration again; a file with errors changes
 * nothing. */
static void
reload (PstAgent *agent)
{
  g_autoptr (GError) error = NULL;

  if (!pst_agent_reload (agent, &error))
    g_warning ("reload: %s; keeping the configuration as it was", error->message);
}

static gpointer
hangup_thread (gpointer data)
{
  sigset_t set;
  int sig = 0;

  sigemptyset (&set);
  sigaddset (&set, SIGHUP);
  for (;;)
    if (sigwait (&set, &sig) == 0 && sig == SIGHUP)
      reload (data);
  return NULL;
}

/* The scan hook of [general], if any.  A spec that cannot be used stops
 * the start: an agent must not run half configured. */
static gboolean
make_scanner (PstAgent *agent, GError **error)
{
  guint timeout = 0;
  const char *spec = pst_config_get_scan (agent->config, &agent->scan_error_delivers, &timeout);

  if (spec == NULL)
    return TRUE;
  if (!(agent->scanner = pst_scanner_new (spec, timeout, error)))
    {
      g_prefix_error (error, "%s: [general] ", agent->paths->config_file);
      return FALSE;
    }
  g_message ("scanning mail with %s (on errors: %s)", spec,
             agent->scan_error_delivers ? "deliver" : "quarantine");
  return TRUE;
}

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
  PstAgent agent = { 0 };
  struct sigaction sa = { 0 };
  int status = 0;

  /* The analysis worker is this binary too (worker.h): it starts here,
   * before the agent opens anything. */
  if (argc == 2 && strcmp (argv[1], "--analysis-worker") == 0)
    pst_worker_main ();
  no_core_dumps ();
  setlocale (LC_ALL, "");
  {
    /* Messages of core/ the agent passes on to its clients. */
    g_autofree char *locale_dir = pst_paths_locale_dir ();
    bindtextdomain (GETTEXT_PACKAGE, locale_dir);
    bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
    textdomain (GETTEXT_PACKAGE);
  }
  umask (077);
  {
    /* SIGHUP goes to the reload thread only (sigwait): block it in every
     * thread, which inherit this mask. */
    sigset_t hup;

    sigemptyset (&hup);
    sigaddset (&hup, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &hup, NULL);
  }
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "posternd: %s\n", error->message);
      return PST_ERROR_USAGE;
    }
  pst_log_init ("posternd", verbose);
  pst_client_fd_init (0);

  agent.paths = pst_paths_new (home);
  g_mutex_init (&agent.config_lock);
  g_mutex_init (&agent.sessions_lock);
  agent.account_locks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  agent.keys = pst_key_cache_new ();
  agent.worker = pst_worker_new ();

  if (!pst_paths_ensure (agent.paths, &error)
      || !(agent.config = pst_config_load (agent.paths->config_file, &error))
      || !(agent.store = pst_store_open (agent.paths->db_path, &error))
      || (log_config_warnings (agent.config), !make_scanner (&agent, &error))
      || !pst_server_listen (&agent, &error))
    {
      g_warning ("cannot start: %s", error->message);
      fprintf (stderr, "posternd: %s\n", error->message);
      status = pst_error_exit_code (error);
      goto out;
    }

  the_agent = &agent;
  sa.sa_handler = on_signal;
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
  /* A file size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, which
   * the store handles like a full disk, instead of killing the agent. */
  signal (SIGXFSZ, SIG_IGN);

  g_message ("agent %s listening on %s", PACKAGE_VERSION, agent.paths->socket_path);
  retired_scanners = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_scanner_free);
  g_thread_unref (g_thread_new ("hangup", hangup_thread, &agent));
  pst_keys_unlock_at_start (&agent);
  pst_scheduler_start (&agent);
  pst_server_run (&agent);
  g_message ("agent stopping");
  pst_scheduler_stop ();
  pst_sender_wait_all ();
  pst_fetcher_wait_all ();
  if (!pst_server_end_clients (&agent))
    {
      /* A client thread is stuck inside a request: freeing what it uses
       * would be worse than leaving it to the kernel. */
      g_warning ("a client request did not end; exiting without cleanup");
      pst_server_close (&agent);
      _exit (status);
    }

out:
  pst_server_close (&agent);
  pst_store_free (agent.store);
  pst_config_free (agent.config);
  g_hash_table_unref (agent.account_locks);
  pst_worker_free (agent.worker);
  pst_key_cache_free (agent.keys);
  pst_scanner_free (agent.scanner);
  g_clear_pointer (&retired_scanners, g_ptr_array_unref);
  pst_paths_free (agent.paths);
  return status;
}
