/* fetch-analysis.c — the analysis of the messages a fetch stored, while
 * the session goes on (fetch-analysis.h). */
#include "fetch-analysis.h"

#include <string.h>

#include "crypto/pgp.h"
#include "events.h"
#include "reader.h"
#include "store/writerstream.h"
#include "util/error.h"

/* How many threads (each with a worker process of its own) analyse the
 * messages of a fetch at most: the analysis after the session is what a
 * fetch waits for, and it keeps every core busy.  The calling thread joins
 * them once the session is over if there are fewer than cores. */
#define ANALYSIS_THREADS_MAX 4

/* One analysis thread per core, at most ANALYSIS_THREADS_MAX. */
static guint
cores (void)
{
  return CLAMP (g_get_num_processors (), 1, ANALYSIS_THREADS_MAX);
}

typedef struct {
  gint64 id;
  gboolean retried;
} Job;

struct _PstFetchAnalysis {
  PstAgent *agent;
  const PstAccount *account;
  PstFetchAnalysisNote note;
  gpointer note_data;
  GMutex lock;
  GCond more;            /* jobs added, or closed */
  GArray *jobs;          /* Job, under @lock */
  guint next;            /* the index to take next, under @lock */
  gboolean closed;       /* no more jobs */
  GArray *done;          /* PstAnalysis, under @lock */
  GArray *unread;        /* gint64: the ids the analysis could not read, under @lock */
  GThread *threads[ANALYSIS_THREADS_MAX];
  guint n_threads;
};

/* seal_incoming: what arrived in plaintext is encrypted to the account's
 * own key and its plaintext bytes replaced (DESIGN.md §3 "Fetch").  From
 * the stored bytes through gpg into the store as they come: memory does
 * not grow with the message, and no size is too large to seal. */
static gboolean
seal (PstAgent *agent, const PstAccount *account, gint64 id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, NULL);
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (PstStoreWriter) writer = NULL;
  g_autoptr (GOutputStream) out = NULL;
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  const char *self[] = { account->address, NULL };

  /* Sealed already (by an earlier fetch's analysis), or gone. */
  if (info == NULL || info->sealed)
    return FALSE;
  if (!(in = pst_store_message_open (agent->store, id, &error)) || !(pgp = pst_pgp_new (home, &error))
      || (pst_pgp_prefer_own_keys (pgp), FALSE)
      || !(writer = pst_store_message_seal_begin (agent->store, id, &error))
      || !(out = pst_store_writer_stream_new (writer))
      || !pst_pgp_encrypt_stream (pgp, in, out, self, NULL, &error)
      || !pst_store_writer_commit (writer, NULL, &error))
    {
      JsonObject *p = json_object_new ();

      g_warning ("message %" G_GINT64_FORMAT ": cannot seal it: %s", id, error->message);
      json_object_set_string_member (p, "account", account->name);
      json_object_set_string_member (p, "error", error->message);
      pst_events_emit (agent->events, "account.error", p);
      return FALSE;
    }
  g_message ("message %" G_GINT64_FORMAT ": sealed to %s", id, account->address);
  return TRUE;
}

static void
noted (PstFetchAnalysis *fa, gint64 id, gboolean ok)
{
  if (fa->note != NULL)
    fa->note (fa->note_data, fa->account->name, id, ok);
}

/* The next job, waiting for one while more may come; FALSE at the end. */
static gboolean
next_job (PstFetchAnalysis *fa, Job *job)
{
  gboolean got;

  g_mutex_lock (&fa->lock);
  while (fa->next >= fa->jobs->len && !fa->closed)
    g_cond_wait (&fa->more, &fa->lock);
  got = fa->next < fa->jobs->len;
  if (got)
    *job = g_array_index (fa->jobs, Job, fa->next++);
  g_mutex_unlock (&fa->lock);
  return got;
}

static gpointer
analyze_some (gpointer data)
{
  PstFetchAnalysis *fa = data;
  Job job;

  while (next_job (fa, &job))
    {
      g_autoptr (GError) analysis = NULL;
      PstAnalysis a;

      if (job.retried)
        {
          /* Tried before: unless show analysed it meanwhile, or it is gone. */
          g_autoptr (PstMessageInfo) info = pst_store_message_get_info (fa->agent->store, job.id,
                                                                         NULL);

          if (info == NULL || info->crypto_json != NULL)
            {
              noted (fa, job.id, TRUE);
              continue;
            }
        }
      /* The message is safe in the store; a failure to read it is shown
       * when it is opened, and does not stop the others.  It is recorded
       * without a summary (no verdict, rather than a wrong one) and
       * analysed again later. */
      if (!pst_reader_analyze_to (fa->agent, job.id, &a, &analysis))
        {
          g_warning ("message %" G_GINT64_FORMAT ": %s", job.id, analysis->message);
          noted (fa, job.id, FALSE);
          g_mutex_lock (&fa->lock);
          g_array_append_val (fa->unread, job.id);
          g_mutex_unlock (&fa->lock);
          continue;
        }
      noted (fa, job.id, TRUE);
      g_mutex_lock (&fa->lock);
      g_array_append_val (fa->done, a);
      g_mutex_unlock (&fa->lock);
    }
  return NULL;
}

PstFetchAnalysis *
pst_fetch_analysis_new (PstAgent *agent, const PstAccount *account, PstFetchAnalysisNote note,
                        gpointer note_data)
{
  PstFetchAnalysis *fa = g_new0 (PstFetchAnalysis, 1);

  fa->agent = agent;
  fa->account = account;
  fa->note = note;
  fa->note_data = note_data;
  g_mutex_init (&fa->lock);
  g_cond_init (&fa->more);
  fa->jobs = g_array_new (FALSE, FALSE, sizeof (Job));
  fa->done = g_array_new (FALSE, TRUE, sizeof (PstAnalysis));
  fa->unread = g_array_new (FALSE, FALSE, sizeof (gint64));
  return fa;
}

void
pst_fetch_analysis_add (PstFetchAnalysis *fa, const GArray *ids, gboolean retried)
{
  guint wanted;

  if (ids->len == 0)
    return;
  g_mutex_lock (&fa->lock);
  for (guint i = 0; i < ids->len; i++)
    {
      Job job = { g_array_index (ids, gint64, i), retried };

      g_array_append_val (fa->jobs, job);
    }
  g_cond_broadcast (&fa->more);
  g_mutex_unlock (&fa->lock);
  /* Threads as the work grows, up to one per core (the session's thread
   * has its own work meanwhile). */
  wanted = MIN (cores (), fa->jobs->len);
  while (fa->n_threads < wanted)
    fa->threads[fa->n_threads++] = g_thread_new ("analysis", analyze_some, fa);
}

/* Writes what was learned of the messages analysed, together (one fsync),
 * and tells of those quarantined; seals under seal_incoming. */
static void
record (PstAgent *agent, const PstAccount *account, GArray *done, GArray *unread)
{
  g_autoptr (GArray) updates = g_array_new (FALSE, TRUE, sizeof (PstMessageInfoUpdate));
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < done->len; i++)
    {
      PstMessageInfoUpdate u = pst_analysis_update (&g_array_index (done, PstAnalysis, i));
      g_array_append_val (updates, u);
    }
  if (!pst_store_messages_set_info (agent->store, (PstMessageInfoUpdate *) updates->data,
                                    updates->len, &error))
    g_warning ("cannot record what was learned of %u messages: %s", updates->len, error->message);
  else
    for (guint i = 0; i < done->len; i++)
      {
        PstAnalysis *a = &g_array_index (done, PstAnalysis, i);
        JsonObject *p;

        if (!a->quarantine)
          continue;
        g_message ("message %" G_GINT64_FORMAT ": quarantined (%s: %s)", a->id, a->scan_verdict,
                   a->scan_name ? a->scan_name : "");
        p = json_object_new ();
        json_object_set_int_member (p, "id", a->id);
        json_object_set_string_member (p, "verdict", a->scan_verdict);
        json_object_set_string_member (p, "name", a->scan_name ? a->scan_name : "");
        pst_events_emit (agent->events, "scan.quarantined", p);
      }
  {
    guint sealed = 0;

    for (guint i = 0; account->seal_incoming && i < done->len; i++)
      /* One the worker failed on may have arrived in the clear too: sealed
       * as well, so that no plaintext waits on the disk for its next
       * analysis (which opens the seal first, reader.c). */
      if (g_array_index (done, PstAnalysis, i).arrived_plain
          || g_array_index (done, PstAnalysis, i).analysis_failed)
        sealed += seal (agent, account, g_array_index (done, PstAnalysis, i).id);
    /* One the analysis could not read (the agent busy, the store failing)
     * is sealed as well: it is analysed again later, from its seal.  (One
     * too large to read whole is in @done, analysis_failed.) */
    for (guint i = 0; account->seal_incoming && i < unread->len; i++)
      sealed += seal (agent, account, g_array_index (unread, gint64, i));
    /* The write-ahead log still holds the plaintext pages: empty it. */
    if (sealed > 0)
      {
        g_autoptr (GError) cp_error = NULL;
        if (!pst_store_checkpoint (agent->store, &cp_error))
          g_warning ("after sealing: %s (the next checkpoint removes the plaintext)",
                     cp_error->message);
      }
  }
  for (guint i = 0; i < done->len; i++)
    pst_analysis_clear (&g_array_index (done, PstAnalysis, i));
}

void
pst_fetch_analysis_finish (PstFetchAnalysis *fa)
{
  g_mutex_lock (&fa->lock);
  fa->closed = TRUE;
  g_cond_broadcast (&fa->more);
  g_mutex_unlock (&fa->lock);
  /* The calling thread takes part only while there are fewer analysis
   * threads than cores: more at once would only share the cores, and the
   * shared decryption budget (util/sink.h) with them (three compression
   * bombs at once made one wait for budget, and under load fail "busy"). */
  if (fa->n_threads < cores ())
    analyze_some (fa);
  for (guint t = 0; t < fa->n_threads; t++)
    g_thread_join (fa->threads[t]);
  record (fa->agent, fa->account, fa->done, fa->unread);
  g_array_unref (fa->done);
  g_array_unref (fa->unread);
  g_array_unref (fa->jobs);
  g_cond_clear (&fa->more);
  g_mutex_clear (&fa->lock);
  g_free (fa);
}
