/* fetch-analysis.c — the analysis of the messages a fetch stored, while
 * the session goes on (fetch-analysis.h). */
#include "fetch-analysis.h"

#include <string.h>

#include "crypto/pgp.h"
#include "mime/mime.h"
#include "mime/pgpmime.h"
#include "mime/pgpstream.h"
#include "events.h"
#include "reader.h"
#include "store/writerstream.h"
#include "util/error.h"

#include <glib/gi18n-lib.h>

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
  guint seal_failures;   /* after the threads: the seals that failed, the first one's */
  char *seal_error;      /* error */
  GThread *threads[ANALYSIS_THREADS_MAX];
  guint n_threads;
};

#ifdef PST_WORKER_TEST_HOOKS
/* POSTERN_TEST_SEAL_FAIL=N (test builds only): the first N seals of the
 * agent fail, as a full disk or a failing gpg would make them, so that
 * the crypto test sees a failed seal said and tried again. */
static gboolean
test_seal_fault (GError **error)
{
  static gint failed;
  const char *n = g_getenv ("POSTERN_TEST_SEAL_FAIL");

  if (n == NULL || g_atomic_int_add (&failed, 1) >= atoi (n))
    return FALSE;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "a fault made by POSTERN_TEST_SEAL_FAIL");
  return TRUE;
}
#else
#define test_seal_fault(error) FALSE
#endif

/* seal_incoming: what arrived in plaintext is encrypted to the account's
 * own key and its plaintext bytes replaced (DESIGN.md §3 "Fetch").  From
 * the stored bytes through gpg into the store as they come: memory does
 * not grow with the message, and no size is too large to seal. */
typedef enum { SEAL_FAILED = -1, SEAL_NOT_NEEDED, SEAL_DONE } SealResult;

/* Whether @info arrived encrypted whole: nothing for seal_incoming.  By
 * its analysis when there is one (encryption_covers "whole"); else by its
 * top-level Content-Type (an agent that died before the analysis was
 * recorded): multipart/encrypted, or S/MIME enveloped data.  Anything
 * else, or what cannot be read, is sealed. */
static gboolean
arrived_encrypted (PstAgent *agent, const PstMessageInfo *info)
{
  g_autoptr (JsonNode) summary = NULL;
  JsonObject *o;

  if (info->crypto_json != NULL && !pst_reader_summary_failed (info->crypto_json))
    {
      summary = json_from_string (info->crypto_json, NULL);
      o = summary != NULL && JSON_NODE_HOLDS_OBJECT (summary) ? json_node_get_object (summary) : NULL;
      return o != NULL
             && g_strcmp0 (json_object_get_string_member_with_default (o, "encryption_covers", ""),
                           "whole") == 0;
    }
  {
    g_autoptr (GInputStream) stored = pst_store_message_open (agent->store, info->id, NULL);
    g_autoptr (GInputStream) in = stored != NULL ? pst_pgpstream_input_new (stored) : NULL;
    g_autoptr (GBytes) header = in != NULL ? pst_pgpstream_peek_header (in, NULL) : NULL;
    g_autoptr (GPtrArray) fields = NULL;
    g_autoptr (GHashTable) params = NULL;
    g_autofree char *type = NULL;
    gsize body = 0;
    const char *smime_type;

    if (header == NULL || !pst_mime_entity_split (header, &fields, &body))
      return FALSE;
    type = pst_mime_entity_content_type (fields, &params);
    if (type == NULL)
      return FALSE;
    if (g_str_equal (type, "multipart/encrypted"))
      return pst_pgpmime_encrypted_boundary (type, params) != NULL;
    smime_type = params != NULL ? g_hash_table_lookup (params, "smime-type") : NULL;
    return (g_str_equal (type, "application/pkcs7-mime") || g_str_equal (type, "application/x-pkcs7-mime"))
           && smime_type != NULL
           && (g_ascii_strcasecmp (smime_type, "enveloped-data") == 0
               || g_ascii_strcasecmp (smime_type, "authenveloped-data") == 0);
  }
}

/* Whether message @id needs no seal (any more): gone (deleted), sealed
 * (by another fetch or an import meanwhile), or found arrived encrypted
 * (its analysis by show, after its seal failed).  FALSE when that cannot
 * be known (the database failing). */
static gboolean
seal_not_needed (PstAgent *agent, gint64 id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, &error);
  gboolean exists = TRUE;

  if (info == NULL)
    return pst_store_message_exists (agent->store, id, &exists, NULL) && !exists;
  if (info->sealed)
    return TRUE;
  if (!arrived_encrypted (agent, info))
    return FALSE;
  /* Known by its analysis: the note goes (else the analysis clears it). */
  if (info->crypto_json != NULL && !pst_reader_summary_failed (info->crypto_json))
    pst_store_message_set_seal_pending (agent->store, id, FALSE, NULL);
  return TRUE;
}

static SealResult
seal (PstAgent *agent, const PstAccount *account, gint64 id, char **error_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (PstStoreWriter) writer = NULL;
  g_autoptr (GOutputStream) out = NULL;
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  const char *self[] = { account->address, NULL };

  if (seal_not_needed (agent, id))
    return SEAL_NOT_NEEDED;
  if (test_seal_fault (&error)
      || !(in = pst_store_message_open (agent->store, id, &error))
      || !(pgp = pst_pgp_new (home, &error))
      || (pst_pgp_prefer_own_keys (pgp), FALSE)
      || !(writer = pst_store_message_seal_begin (agent->store, id, &error))
      || !(out = pst_store_writer_stream_new (writer))
      || !pst_pgp_encrypt_stream (pgp, in, out, self, NULL, &error)
      || !pst_store_writer_commit (writer, NULL, &error))
    {
      JsonObject *p;

      /* Deleted or sealed by another meanwhile: no failure. */
      if (seal_not_needed (agent, id))
        return SEAL_NOT_NEEDED;
      g_warning ("message %" G_GINT64_FORMAT ": cannot seal it: %s", id, error->message);
      p = json_object_new ();
      json_object_set_string_member (p, "account", account->name);
      json_object_set_string_member (p, "error", error->message);
      pst_events_emit (agent->events, "account.error", p);
      if (*error_out == NULL)
        *error_out = g_strdup_printf ("message %" G_GINT64_FORMAT ": %s", id, error->message);
      /* Noted (it is already when it came in under seal_incoming, which
       * set it at its commit), so that the next fetch seals it first. */
      g_clear_error (&error);
      if (!pst_store_message_set_seal_pending (agent->store, id, TRUE, &error))
        g_warning ("message %" G_GINT64_FORMAT ": cannot note it to seal later: %s", id,
                   error->message);
      return SEAL_FAILED;
    }
  g_message ("message %" G_GINT64_FORMAT ": sealed to %s", id, account->address);
  return SEAL_DONE;
}

/* The error of @n failed seals, the first of them @first (message
 * @first_id); @refused: the fetch that would have followed did not. */
static void
set_seal_error (GError **error, guint n, const char *first, gint64 first_id, gboolean refused)
{
  g_autofree char *words = g_strdup_printf (
    ngettext ("%u message could not be sealed (%s); it stays in the store as it arrived, and "
              "every fetch of the account tries again",
              "%u messages could not be sealed (the first: %s); they stay in the store as they "
              "arrived, and every fetch of the account tries again", n), n, first);

  if (!refused)
    {
      g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, words);
      return;
    }
  /* The way out, when it can never be sealed (a damaged stored message). */
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               _("%s; nothing new is fetched until then (if it can never be sealed: `postern "
                 "export --raw %lld > message.eml` keeps a copy, `postern delete %lld` lets the "
                 "fetch go on without it)"), words,
               (long long) first_id, (long long) first_id);
}

gboolean
pst_fetch_seal_pending (PstAgent *agent, const PstAccount *account, GError **error)
{
  g_autoptr (GArray) pending = NULL;
  g_autofree char *first = NULL;
  gint64 first_id = 0;
  guint failed = 0, sealed = 0;

  if (!account->seal_incoming)
    return TRUE;
  if (!(pending = pst_store_messages_seal_pending (agent->store, account->name, error)))
    return FALSE;
  for (guint i = 0; i < pending->len; i++)
    switch (seal (agent, account, g_array_index (pending, gint64, i), &first))
      {
      case SEAL_DONE:
        sealed++;
        break;
      case SEAL_FAILED:
        if (failed++ == 0)
          first_id = g_array_index (pending, gint64, i);
        break;
      case SEAL_NOT_NEEDED:
        break;
      }
  if (sealed > 0)
    {
      g_autoptr (GError) cp_error = NULL;
      if (!pst_store_checkpoint (agent->store, &cp_error))
        g_warning ("after sealing: %s (the next checkpoint removes the plaintext)",
                   cp_error->message);
    }
  if (failed > 0)
    {
      set_seal_error (error, failed, first, first_id, TRUE);
      return FALSE;
    }
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

/* Seals message @id (seal()), counting it in @sealed or in the failures. */
static void
seal_counted (PstFetchAnalysis *fa, gint64 id, guint *sealed)
{
  switch (seal (fa->agent, fa->account, id, &fa->seal_error))
    {
    case SEAL_DONE:
      (*sealed)++;
      break;
    case SEAL_FAILED:
      fa->seal_failures++;
      break;
    case SEAL_NOT_NEEDED:
      break;
    }
}

/* Writes what was learned of the messages analysed, together (one fsync),
 * and tells of those quarantined; seals under seal_incoming. */
static void
record (PstFetchAnalysis *fa)
{
  PstAgent *agent = fa->agent;
  const PstAccount *account = fa->account;
  GArray *done = fa->done, *unread = fa->unread;
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
        seal_counted (fa, g_array_index (done, PstAnalysis, i).id, &sealed);
    /* One the analysis could not read (the agent busy, the store failing)
     * is sealed as well: it is analysed again later, from its seal.  (One
     * too large to read whole is in @done, analysis_failed.) */
    for (guint i = 0; account->seal_incoming && i < unread->len; i++)
      seal_counted (fa, g_array_index (unread, gint64, i), &sealed);
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

gboolean
pst_fetch_analysis_finish (PstFetchAnalysis *fa, GError **error)
{
  gboolean ok;

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
  record (fa);
  ok = fa->seal_failures == 0;
  if (!ok)
    set_seal_error (error, fa->seal_failures, fa->seal_error, 0, FALSE);
  g_free (fa->seal_error);
  g_array_unref (fa->done);
  g_array_unref (fa->unread);
  g_array_unref (fa->jobs);
  g_cond_clear (&fa->more);
  g_mutex_clear (&fa->lock);
  g_free (fa);
  return ok;
}
