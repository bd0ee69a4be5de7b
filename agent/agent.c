/* agent.c — see agent.h. */
#include "agent.h"

#include "util/error.h"
#include "worker.h"

PstAgent *
pst_agent_new (const char *home)
{
  PstAgent *agent = g_new0 (PstAgent, 1);

  agent->paths = pst_paths_new (home);
  g_mutex_init (&agent->config_lock);
  g_mutex_init (&agent->sessions_lock);
  g_mutex_init (&agent->changed_lock);
  g_cond_init (&agent->changed_cond);
  g_mutex_init (&agent->backoff_lock);
  g_mutex_init (&agent->peers_lock);
  agent->mda_backoff = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  agent->account_locks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  agent->retired_scanners = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_scanner_free);
  agent->keys = pst_key_cache_new ();
  agent->worker = pst_worker_new ();
  agent->stop = g_cancellable_new ();
  return agent;
}

/* Keys of the configuration this version does not know (a misspelt one
 * would do nothing): in the log, and in hello's answer (config_warnings). */
static void
log_config_warnings (PstConfig *config)
{
  const GPtrArray *w = pst_config_get_warnings (config);

  for (guint i = 0; i < w->len; i++)
    g_warning ("%s", (const char *) w->pdata[i]);
}

/* The scanner that [general] of @config asks for, or NULL with *@scanner_out
 * NULL when it asks for none.  A spec that cannot be used is an error
 * naming the file: an agent must not run half configured. */
static gboolean
make_scanner (PstAgent *agent, PstConfig *config, PstScanner **scanner_out,
              gboolean *delivers_out, GError **error)
{
  g_autoptr (GError) local = NULL;
  guint timeout = 0;
  const char *spec = pst_config_get_scan (config, delivers_out, &timeout);

  *scanner_out = NULL;
  if (spec == NULL)
    return TRUE;
  if (!(*scanner_out = pst_scanner_new (spec, timeout, &local)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s: [general] %s",
                   agent->paths->config_file, local->message);
      return FALSE;
    }
  g_message ("scanning mail with %s (on errors: %s)", spec,
             *delivers_out ? "deliver" : "quarantine");
  return TRUE;
}

gboolean
pst_agent_open (PstAgent *agent, GError **error)
{
  if (!pst_paths_ensure (agent->paths, error)
      || !(agent->config = pst_config_load (agent->paths->config_file, error))
      || !(agent->store = pst_store_open (agent->paths->db_path, error)))
    return FALSE;
  log_config_warnings (agent->config);
  return make_scanner (agent, agent->config, &agent->scanner, &agent->scan_error_delivers, error);
}

void
pst_agent_free (PstAgent *agent)
{
  if (agent == NULL)
    return;
  g_warn_if_fail (agent->server == NULL && agent->scheduler == NULL && agent->senders == NULL
                  && agent->fetchers == NULL && agent->events == NULL && agent->subjects == NULL
                  && agent->locator == NULL);
  pst_store_free (agent->store);
  pst_config_free (agent->config);
  g_hash_table_unref (agent->account_locks);
  g_hash_table_unref (agent->mda_backoff);
  pst_worker_free (agent->worker);
  pst_key_cache_free (agent->keys);
  pst_scanner_free (agent->scanner);
  g_ptr_array_unref (agent->retired_scanners);
  g_object_unref (agent->stop);
  g_mutex_clear (&agent->config_lock);
  g_mutex_clear (&agent->sessions_lock);
  g_mutex_clear (&agent->changed_lock);
  g_mutex_clear (&agent->backoff_lock);
  g_mutex_clear (&agent->peers_lock);
  g_cond_clear (&agent->changed_cond);
  pst_paths_free (agent->paths);
  g_free (agent);
}

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

PstScanner *
pst_agent_get_scanner (PstAgent *agent, gboolean *delivers_out)
{
  PstScanner *scanner;

  g_mutex_lock (&agent->config_lock);
  scanner = agent->scanner;
  if (delivers_out != NULL)
    *delivers_out = agent->scan_error_delivers;
  g_mutex_unlock (&agent->config_lock);
  return scanner;
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
  /* The accept loop's wait ends (g_socket_accept takes the cancellable);
   * a request waiting for a client's input ends now, not at its deadline
   * (clientfd.c polls the cancellable's descriptor). */
  g_cancellable_cancel (agent->stop);
  g_mutex_lock (&agent->changed_lock);
  g_cond_broadcast (&agent->changed_cond);
  g_mutex_unlock (&agent->changed_lock);
}

gboolean
pst_agent_is_stopping (PstAgent *agent)
{
  return g_cancellable_is_cancelled (agent->stop);
}

void
pst_agent_changed (PstAgent *agent)
{
  g_mutex_lock (&agent->changed_lock);
  agent->changes++;
  g_cond_broadcast (&agent->changed_cond);
  g_mutex_unlock (&agent->changed_lock);
}

guint64
pst_agent_changes (PstAgent *agent)
{
  guint64 n;

  g_mutex_lock (&agent->changed_lock);
  n = agent->changes;
  g_mutex_unlock (&agent->changed_lock);
  return n;
}

void
pst_agent_wait_changed (PstAgent *agent, guint64 seen, gint64 until)
{
  g_mutex_lock (&agent->changed_lock);
  while (agent->changes <= seen && !pst_agent_is_stopping (agent))
    if (!g_cond_wait_until (&agent->changed_cond, &agent->changed_lock, until))
      break;
  g_mutex_unlock (&agent->changed_lock);
}

gboolean
pst_agent_reload (PstAgent *agent, GError **error)
{
  g_autoptr (PstConfig) fresh = NULL;
  PstScanner *scanner = NULL;
  gboolean delivers = FALSE;

  /* Read and swapped under the lock: a change saved by a method meanwhile
   * (account.update) would otherwise be read before it and then lost. */
  g_mutex_lock (&agent->config_lock);
  if (!(fresh = pst_config_load (agent->paths->config_file, error))
      || !make_scanner (agent, fresh, &scanner, &delivers, error))
    {
      g_mutex_unlock (&agent->config_lock);
      return FALSE;
    }
  pst_config_free (agent->config);
  agent->config = g_steal_pointer (&fresh);
  if (agent->scanner != NULL)
    g_ptr_array_add (agent->retired_scanners, agent->scanner);
  agent->scanner = scanner;
  agent->scan_error_delivers = delivers;
  log_config_warnings (agent->config);
  g_mutex_unlock (&agent->config_lock);
  g_message ("reload: configuration read again from %s", agent->paths->config_file);
  pst_agent_changed (agent);
  return TRUE;
}
