/* scheduler.c — see scheduler.h. */
#include "scheduler.h"

#include "sender.h"

/* Looks at the outbox at least this often, whatever it expects. */
#define IDLE_S 300

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

static gpointer
run (gpointer data)
{
  PstAgent *agent = data;

  g_mutex_lock (&lock);
  while (!stopping)
    {
      gint64 wait, until;

      g_mutex_unlock (&lock);
      wait = kick_due (agent);
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
}
