/* scheduler.c — see scheduler.h. */
#include "scheduler.h"

#include "fetcher.h"
#include "sender.h"

/* Looks at the outbox at least this often, whatever it expects. */
#define IDLE_S 300

struct _PstScheduler {
  PstAgent *agent;
  GThread *thread;
  gint stopping;            /* atomic */
  GHashTable *next_fetch;   /* account name -> when its next fetch is due (unix s); thread only */
};

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

gint64
pst_scheduler_outbox_due (GPtrArray *queued, gint64 now, gint64 idle_s, GPtrArray *due)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 wait = idle_s;

  for (guint i = 0; i < queued->len; i++)
    {
      PstOutboxEntry *e = g_ptr_array_index (queued, i);

      if (e->next_try <= now)
        {
          if (g_hash_table_add (seen, e->account))
            g_ptr_array_add (due, e->account);
        }
      else
        wait = MIN (wait, e->next_try - now);
    }
  return MAX (wait, 1);
}

/* Kicks the accounts that have something due; returns the seconds until the
 * next entry is. */
static gint64
kick_due (PstScheduler *sch)
{
  PstAgent *agent = sch->agent;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) queued = pst_store_outbox_list (agent->store, NULL, PST_OUTBOX_QUEUED,
                                                        &error);
  g_autoptr (GPtrArray) due = g_ptr_array_new ();
  gint64 wait;

  if (queued == NULL)
    {
      g_warning ("scheduler: cannot read the outbox: %s", error->message);
      return IDLE_S;
    }
  wait = pst_scheduler_outbox_due (queued, now_s (), IDLE_S, due);
  for (guint i = 0; i < due->len; i++)
    {
      gboolean exists;

      /* The entries of an account that is gone wait (for the account to
       * come back, or outbox.cancel): a sender would fail at once, and
       * its end wake the scheduler again, in a loop. */
      g_mutex_lock (&agent->config_lock);
      exists = pst_config_find_account (agent->config, due->pdata[i]) != NULL;
      g_mutex_unlock (&agent->config_lock);
      if (exists)
        pst_senders_kick (agent->senders, due->pdata[i]);
    }
  return wait;
}

gint64
pst_scheduler_fetch_delay (guint interval_s, guint failures)
{
  double d = interval_s;

  for (guint i = 0; i < failures && d < interval_s + 3600.0; i++)
    d *= 2;
  d = MIN (d, interval_s + 3600.0);
  return (gint64) (d * g_random_double_range (0.9, 1.1));
}

/* Kicks the fetches that are due; returns the seconds until the next one. */
static gint64
fetch_due (PstScheduler *sch)
{
  PstAgent *agent = sch->agent;
  g_autoptr (GPtrArray) due = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) alive = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 now = now_s (), wait = IDLE_S;
  GHashTableIter it;
  gpointer key;

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
        when = g_hash_table_lookup (sch->next_fetch, a->name);
        if (when == NULL)
          {
            /* The first soon after start (or after the account was added), spread a little. */
            when = g_new (gint64, 1);
            *when = now + g_random_int_range (1, (gint32) MIN (a->fetch_interval_s, 5) + 1);
            g_hash_table_insert (sch->next_fetch, g_strdup (a->name), when);
          }
        if (*when <= now)
          {
            g_ptr_array_add (due, g_strdup (a->name));
            *when = now + pst_scheduler_fetch_delay (a->fetch_interval_s,
                                                     pst_fetchers_failures (agent->fetchers,
                                                                            a->name));
          }
        wait = MIN (wait, *when - now);
      }
    /* Accounts removed, or no longer fetched by themselves. */
    g_hash_table_iter_init (&it, sch->next_fetch);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!g_hash_table_contains (alive, key))
        g_hash_table_iter_remove (&it);
  }
  g_mutex_unlock (&agent->config_lock);
  for (guint i = 0; i < due->len; i++)
    pst_fetchers_kick (agent->fetchers, due->pdata[i]);
  return MAX (wait, 1);
}

static gpointer
run (gpointer data)
{
  PstScheduler *sch = data;

  while (!g_atomic_int_get (&sch->stopping) && !pst_agent_is_stopping (sch->agent))
    {
      /* Counted before looking: a change while we look is not missed. */
      guint64 seen = pst_agent_changes (sch->agent);
      gint64 wait = MIN (kick_due (sch), fetch_due (sch));

      pst_agent_wait_changed (sch->agent, seen, g_get_monotonic_time () + wait * G_USEC_PER_SEC);
    }
  return NULL;
}

PstScheduler *
pst_scheduler_start (PstAgent *agent)
{
  PstScheduler *sch = g_new0 (PstScheduler, 1);

  sch->agent = agent;
  sch->next_fetch = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sch->thread = g_thread_new ("scheduler", run, sch);
  return sch;
}

void
pst_scheduler_stop (PstScheduler *sch)
{
  if (sch == NULL)
    return;
  g_atomic_int_set (&sch->stopping, 1);
  pst_agent_changed (sch->agent);
  g_thread_join (sch->thread);
  g_hash_table_unref (sch->next_fetch);
  g_free (sch);
}
