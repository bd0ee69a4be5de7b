/* scheduler.c — see scheduler.h. */
#include "scheduler.h"

#include "fetcher.h"
#include "sender.h"

/* Looks at the outbox at least this often, whatever it expects. */
#define IDLE_S 300

/* Fetch schedule: account name -> when its next fetch is due (unix s). */
static GHashTable *next_fetch;

static GMutex lock;
static GCond cond;
static gboolean woken, stopping;
static GThread *thread;

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* Kicks the accounts that have something due; returns the seconds until the
 * next entry is. */
static gint64
kick_due (PstAgent *agent)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) queued = pst_store_outbox_list (agent->store, NULL, PST_OUTBOX_QUEUED,
                                                        &error);
  g_autoptr (GHashTable) kicked = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 now = now_s (), wait = IDLE_S;

  if (queued == NULL)
    {
      g_warning ("scheduler: cannot read the outbox: %s", error->message);
      return IDLE_S;
    }
  for (guint i = 0; i < queued->len; i++)
    {
      PstOutboxEntry *e = g_ptr_array_index (queued, i);

      if (e->next_try <= now)
        {
          if (g_hash_table_add (kicked, e->account))
            pst_sender_kick (agent, e->account);
        }
      else
        wait = MIN (wait, e->next_try - now);
    }
  return MAX (wait, 1);
}

/* The wait before the next scheduled fetch: the interval ±10%, doubled
 * after each failed session (at most an hour more than the interval). */
static gint64
fetch_delay (guint interval, guint failures)
{
  double d = interval;

  for (guint i = 0; i < failures && d < interval + 3600.0; i++)
    d *= 2;
  d = MIN (d, interval + 3600.0);
  return (gint64) (d * g_random_double_range (0.9, 1.1));
}

/* Kicks the fetches that are due; returns the seconds until the next one. */
static gint64
fetch_due (PstAgent *agent)
{
  g_autoptr (GPtrArray) due = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) alive = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 now = now_s (), wait = IDLE_S;
  GHashTableIter it;
  gpointer key;

  if (next_fetch == NULL)
    next_fetch = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_lock (&agent->config_lock);
  {
    GPtrArray *accounts = pst_config_get_accounts (agent->config);

    for (guint i = 0; i < accounts->len; i++)
      {
        PstAccount *a = g_ptr_array_index (accounts, i);
        gint64 *when;

        if (a->fetch_interval_s == 0)
          continue;
        g_hash_table_add (alive, a->name);
        when = g_hash_table_lookup (next_fetch, a->name);
        if (when == NULL)
          {
            /* The first soon after start (or after the account was added), spread a little. */
            when = g_new (gint64, 1);
            *when = now + g_random_int_range (1, (gint32) MIN (a->fetch_interval_s, 5) + 1);
            g_hash_table_insert (next_fetch, g_strdup (a->name), when);
          }
        if (*when <= now)
          {
            g_ptr_array_add (due, g_strdup (a->name));
            *when = now + fetch_delay (a->fetch_interval_s, pst_fetcher_failures (a->name));
          }
        wait = MIN (wait, *when - now);
      }
    /* Accounts removed, or no longer fetched by themselves. */
    g_hash_table_iter_init (&it, next_fetch);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!g_hash_table_contains (alive, key))
        g_hash_table_iter_remove (&it);
  }
  g_mutex_unlock (&agent->config_lock);
  for (guint i = 0; i < due->len; i++)
    pst_fetcher_kick (agent, due->pdata[i]);
  return MAX (wait, 1);
}

static gpointer
run (gpointer data)
{
  PstAgent *agent = data;

  g_mutex_lock (&lock);
  while (!stopping)
    {
      gint64 wait, until;

      g_mutex_unlock (&lock);
      wait = MIN (kick_due (agent), fetch_due (agent));
      g_mutex_lock (&lock);
      until = g_get_monotonic_time () + wait * G_USEC_PER_SEC;
      while (!woken && !stopping)
        if (!g_cond_wait_until (&cond, &lock, until))
          break;
      woken = FALSE;
    }
  g_mutex_unlock (&lock);
  return NULL;
}

void
pst_scheduler_start (PstAgent *agent)
{
  stopping = FALSE;
  thread = g_thread_new ("scheduler", run, agent);
}

void
pst_scheduler_wake (void)
{
  g_mutex_lock (&lock);
  woken = TRUE;
  g_cond_signal (&cond);
  g_mutex_unlock (&lock);
}

void
pst_scheduler_stop (void)
{
  if (thread == NULL)
    return;
  g_mutex_lock (&lock);
  stopping = TRUE;
  g_cond_signal (&cond);
  g_mutex_unlock (&lock);
  g_thread_join (thread);
  thread = NULL;
  g_clear_pointer (&next_fetch, g_hash_table_unref);
}
