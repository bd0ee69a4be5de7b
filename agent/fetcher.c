#include "fetcher.h"

#include <string.h>

#include "crypto/pgp.h"
#include "deliver.h"
#include "fetch-analysis.h"
#include "events.h"
#include "net/pop3.h"
#include "reader.h"
#include "session.h"
#include "util/error.h"

/* RETRs outstanding at once when the server pipelines (RFC 2449).  The
 * window refills as each message ends, so it bounds throughput at WINDOW
 * messages per round trip: 128 keeps 4 KiB messages ahead of a 20 ms link
 * (32 did not: 0.66 s of every 1,000 messages went to waiting), and TCP
 * flow control bounds what the server holds for large ones. */
#define FETCH_WINDOW 128
/* Messages received whole that are committed together, with one fsync. */
#define COMMIT_BATCH 64

typedef struct {
  guint msgno;
  char *uidl;
  PstStoreWriter *writer;
} Item;


/* Stored messages whose analysis failed, analysed again at their
 * account's next fetch: some failures pass (the agent busy with other
 * large messages, util/sink.h), and until then the message has no crypto
 * summary, so that nothing says it is what it is not.  A few tries only,
 * since others do not pass (a message too large to read in memory).  In
 * memory: after a restart, show analyses a message that has no summary
 * (methods-mail.c). */
#define ANALYSIS_TRIES 3

typedef struct {
  char *account;
  guint tries;
} Unanalysed;

struct _PstFetchers {
  PstAgent *agent;
  /* LOGIN-DELAY (RFC 2449 §6.8): when each account may log in again, as
   * its server asked (monotonic µs).  In memory: a restarted agent asks
   * again. */
  GMutex delay_lock;
  GHashTable *next_login;    /* account name -> gint64* */
  GMutex unanalysed_lock;
  GHashTable *unanalysed;    /* gint64* id -> Unanalysed* */
  /* One session per account at a time (Session, below). */
  GMutex session_lock;       /* guards sessions and background */
  GCond session_cond;        /* a session ended, or a background fetch */
  GHashTable *sessions;      /* account name -> Session* */
  guint background;          /* fetch threads running */
};

static void
unanalysed_free (Unanalysed *u)
{
  g_free (u->account);
  g_free (u);
}

/* The ids of @account's messages to analyse again, appended to @ids. */
static void
unanalysed_take (PstFetchers *fetchers, const char *account, GArray *ids)
{
  GHashTableIter it;
  gpointer key, value;

  g_mutex_lock (&fetchers->unanalysed_lock);
  g_hash_table_iter_init (&it, fetchers->unanalysed);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (strcmp (((Unanalysed *) value)->account, account) == 0)
      g_array_append_val (ids, *(gint64 *) key);
  g_mutex_unlock (&fetchers->unanalysed_lock);
}

/* Records how analysing message @id of @account went (a
 * PstFetchAnalysisNote; @data is the PstFetchers). */
static void
unanalysed_note (gpointer data, const char *account, gint64 id, gboolean ok)
{
  PstFetchers *fetchers = data;
  Unanalysed *u;

  g_mutex_lock (&fetchers->unanalysed_lock);
  u = g_hash_table_lookup (fetchers->unanalysed, &id);
  if (ok)
    g_hash_table_remove (fetchers->unanalysed, &id);
  else if (u == NULL)
    {
      u = g_new0 (Unanalysed, 1);
      u->account = g_strdup (account);
      u->tries = 1;
      g_hash_table_insert (fetchers->unanalysed, g_memdup2 (&id, sizeof id), u);
    }
  else if (++u->tries >= ANALYSIS_TRIES)
    g_hash_table_remove (fetchers->unanalysed, &id);
  g_mutex_unlock (&fetchers->unanalysed_lock);
}

typedef struct {
  PstAgent *agent;
  const PstAccount *account;
  PstPop3Session *s;
  PstConn *conn;
  gboolean listed;       /* the UIDL list was read and the work planned */
  GQueue to_retr;        /* Item*: not yet asked for */
  GQueue in_flight;      /* Item*: RETR sent, in order; the head receives DATA */
  GPtrArray *received;   /* Item*: received whole, not yet committed */
  GArray *stored;        /* gint64: ids committed in this session */
  PstFetchAnalysis *analysis;  /* analyses them as they are committed */
  gboolean quit_sent;
  guint fetched;
  guint planned;         /* messages to retrieve, known after UIDL */
} Fetch;

static void
item_free (Item *item)
{
  pst_store_writer_free (item->writer);
  g_free (item->uidl);
  g_free (item);
}

/* After UIDL: what to retrieve, and what to delete at once (stored in an
 * earlier session whose DELE never happened, or kept past the account's
 * retention). */
static gboolean
plan (Fetch *f, GError **error)
{
  const GArray *uidls = pst_pop3_session_get_uidls (f->s);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  f->listed = TRUE;
  for (guint i = 0; uidls != NULL && i < uidls->len; i++)
    {
      const PstPop3Uidl *u = &g_array_index (uidls, PstPop3Uidl, i);
      gboolean seen = FALSE, expired;
      gint64 seen_at = 0;

      if (!pst_store_uidl_seen_at (f->agent->store, f->account->name, u->uidl, &seen, &seen_at,
                                   error))
        return FALSE;
      if (!seen)
        {
          Item *item = g_new0 (Item, 1);

          item->msgno = u->msgno;
          item->uidl = g_strdup (u->uidl);
          g_queue_push_tail (&f->to_retr, item);
          f->planned++;
          continue;
        }
      expired = f->account->keep_days > 0
                && now - seen_at >= (gint64) f->account->keep_days * 24 * 3600;
      if (!f->account->keep_on_server || expired)
        pst_pop3_session_dele (f->s, u->msgno);
    }
  return TRUE;
}

/* Asks for more messages while the window has room. */
static gboolean
fill_window (Fetch *f, GError **error)
{
  while (f->in_flight.length < FETCH_WINDOW && f->to_retr.length > 0)
    {
      Item *item = g_queue_pop_head (&f->to_retr);

      item->writer = pst_store_message_begin (f->agent->store, f->account->name, item->uidl, error);
      if (item->writer == NULL)
        {
          item_free (item);
          return FALSE;
        }
      if (f->account->deliver != NULL)
        pst_store_writer_set_deliver (item->writer);
      if (f->account->seal_incoming)
        pst_store_writer_set_seal_pending (item->writer);
      pst_pop3_session_retr (f->s, item->msgno);
      g_queue_push_tail (&f->in_flight, item);
    }
  return TRUE;
}

/* Tells the subscribers that message @id of @account is in the store. */
static void
announce (PstAgent *agent, const char *account, gint64 id)
{
  JsonObject *p = json_object_new ();

  json_object_set_string_member (p, "account", account);
  json_object_set_int_member (p, "id", id);
  pst_events_emit (agent->events, "mail.new", p);
}

static void
stored (Fetch *f, Item *item)
{
  gint64 id = pst_store_writer_get_id (item->writer);

  g_array_append_val (f->stored, id);
  f->fetched++;
  announce (f->agent, f->account->name, id);
}

/* Commits what was received, together (one fsync), then asks the server to
 * delete exactly those messages.  If the group cannot be committed as one,
 * each is committed alone, so that one bad message does not hold back the
 * others. */
static gboolean
commit_received (Fetch *f, gboolean delete_them, GError **error)
{
  g_autoptr (GPtrArray) writers = g_ptr_array_new ();
  g_autoptr (GPtrArray) batch = f->received;
  gboolean ok = TRUE;
  guint first;

  f->received = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  if (batch->len == 0)
    return TRUE;
  for (guint i = 0; i < batch->len; i++)
    g_ptr_array_add (writers, ((Item *) batch->pdata[i])->writer);
  if (!pst_store_writers_commit ((PstStoreWriter *const *) writers->pdata, writers->len, NULL))
    {
      for (guint i = 0; i < batch->len; i++)
        {
          Item *item = batch->pdata[i];
          GError *local = NULL;

          if (!pst_store_writer_commit (item->writer, NULL, &local))
            {
              if (ok)
                g_propagate_error (error, local);
              else
                g_error_free (local);
              ok = FALSE;
              item->msgno = 0;   /* not stored: never deleted */
            }
        }
    }
  first = f->stored->len;
  for (guint i = 0; i < batch->len; i++)
    {
      Item *item = batch->pdata[i];

      if (item->msgno == 0)
        continue;
      stored (f, item);
      if (delete_them && !f->account->keep_on_server && !f->quit_sent)
        pst_pop3_session_dele (f->s, item->msgno);
    }
  if (f->stored->len > first)
    {
      g_autoptr (GArray) ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64),
                                                  f->stored->len - first);

      g_array_append_vals (ids, &g_array_index (f->stored, gint64, first), f->stored->len - first);
      pst_fetch_analysis_add (f->analysis, ids, FALSE);
    }
  if (batch->len > 0)
    {
      JsonObject *p = json_object_new ();

      g_message ("account %s: stored %u messages", f->account->name, batch->len);
      /* How far this fetch is: stored so far, of what the server had. */
      json_object_set_string_member (p, "account", f->account->name);
      json_object_set_int_member (p, "fetched", f->fetched);
      json_object_set_int_member (p, "total", MAX (f->planned, f->fetched));
      pst_events_emit (f->agent->events, "fetch.progress", p);
    }
  return ok;
}

/* The next step once the server has answered something. */
static gboolean
advance (Fetch *f, GError **error)
{
  if (f->quit_sent)
    return TRUE;
  if (!f->listed && !plan (f, error))
    return FALSE;
  if (!fill_window (f, error))
    return FALSE;
  /* Commit when a group is full, or when nothing else is coming. */
  if (f->received->len >= COMMIT_BATCH || (f->in_flight.length == 0 && f->received->len > 0))
    if (!commit_received (f, TRUE, error))
      return FALSE;
  if (f->to_retr.length == 0 && f->in_flight.length == 0 && f->received->len == 0)
    {
      /* QUIT goes out behind the last DELEs: the server deletes only
       * when it processes QUIT (RFC 1939 §6), after everything above. */
      pst_pop3_session_quit (f->s);
      f->quit_sent = TRUE;
    }
  return TRUE;
}

static gboolean
run_session (Fetch *f, GError **error)
{
  g_autoptr (PstSaslCredentials) creds = NULL;
  gboolean implicit = FALSE;

  creds = pst_session_credentials (f->account, f->account->pop3, error);
  if (creds == NULL)
    return FALSE;
  f->conn = pst_session_connect (f->account, f->account->pop3, &implicit, error);
  if (f->conn == NULL)
    return FALSE;
  f->s = pst_pop3_session_new (implicit ? PST_POP3_TLS_IMPLICIT : PST_POP3_TLS_STLS);
  pst_pop3_session_set_credentials (f->s, creds);
  g_clear_pointer (&creds, pst_sasl_credentials_free);
  if (implicit)
    pst_session_bind_channel (f->conn, &pst_pop3_engine_io, f->s);

  for (;;)
    {
      const guint8 *data;
      gsize len;

      if (!pst_session_flush (f->conn, &pst_pop3_engine_io, f->s, NULL, error))
        return FALSE;
      switch (pst_pop3_session_next_event (f->s))
        {
        case PST_POP3_EVENT_WANT_READ:
          if (!pst_session_receive (f->conn, &pst_pop3_engine_io, f->s, NULL, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_WANT_TLS:
          if (!pst_session_start_tls (f->conn, &pst_pop3_engine_io, f->s, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_READY:
          if (!f->listed)
            {
              guint delay = pst_pop3_session_get_login_delay (f->s);
              PstFetchers *fetchers = f->agent->fetchers;

              g_mutex_lock (&fetchers->delay_lock);
              if (delay > 0)
                g_hash_table_replace (fetchers->next_login, g_strdup (f->account->name),
                                      g_memdup2 (&(gint64) { g_get_monotonic_time ()
                                                             + (gint64) delay * G_USEC_PER_SEC },
                                                 sizeof (gint64)));
              else
                g_hash_table_remove (fetchers->next_login, f->account->name);
              g_mutex_unlock (&fetchers->delay_lock);
            }
          if (!advance (f, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_DATA:
          {
            Item *head = g_queue_peek_head (&f->in_flight);

            data = pst_pop3_session_take_data (f->s, &len);
            if (head == NULL || head->msgno != pst_pop3_session_get_msgno (f->s))
              {
                g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "POP3: data for an unexpected message");
                return FALSE;
              }
            if (!pst_store_writer_write (head->writer, data, len, error))
              return FALSE;
          }
          break;
        case PST_POP3_EVENT_RETR_DONE:
          g_ptr_array_add (f->received, g_queue_pop_head (&f->in_flight));
          if (!advance (f, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_DELE_DONE:
          break;
        case PST_POP3_EVENT_DONE:
          return TRUE;
        case PST_POP3_EVENT_ERROR:
        default:
          {
            const GError *e = pst_pop3_session_get_error (f->s);
            g_set_error_literal (error, PST_ERROR, e ? e->code : PST_ERROR_NETWORK,
                                 e ? e->message : "POP3 session failed");
          }
          return FALSE;
        }
    }
}

static gboolean run_one (PstAgent *agent, const char *name, guint *fetched_out,
                         gboolean *seal_only_out, GError **error);

gboolean
pst_fetchers_take_in (PstAgent *agent, const PstAccount *account, GArray *ids, GError **error)
{
  PstFetchAnalysis *fa = pst_fetch_analysis_new (agent, account, unanalysed_note,
                                                 agent->fetchers);

  for (guint i = 0; i < ids->len; i++)
    announce (agent, account->name, g_array_index (ids, gint64, i));
  /* These messages only, none left from before (no retries): no other
   * caller analyses them, so no fetch lock is needed. */
  pst_fetch_analysis_add (fa, ids, FALSE);
  return pst_fetch_analysis_finish (fa, error);
}

/* seal_incoming fails closed: without a key to seal with, nothing is
 * fetched (rather than stored in plaintext). */
gboolean
pst_fetchers_seal_key_ready (PstAgent *agent, const PstAccount *account, const char *done,
                             GError **error)
{
  g_autofree char *home = NULL, *fpr = NULL;
  g_autoptr (PstPgp) pgp = NULL;

  if (!account->seal_incoming)
    return TRUE;
  home = pst_agent_get_gnupg_home (agent);
  if ((pgp = pst_pgp_new (home, error)) && (fpr = pst_pgp_find_key (pgp, account->address, FALSE, NULL)))
    return TRUE;
  if (error != NULL && *error == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                 "seal_incoming is set, but there is no OpenPGP key for %s to seal mail with; "
                 "nothing was %s", account->address, done);
  return FALSE;
}

/* One session per account at a time; a fetch that comes while one runs
 * waits for it and takes its outcome instead of starting another. */
typedef struct {
  gboolean running;
  guint generation;      /* sessions finished */
  guint fetched;         /* of the last session */
  GError *error;         /* of the last session, or NULL */
  gint64 last_end;       /* monotonic µs */
  guint failures;        /* consecutive failed sessions */
} Session;

/* With session_lock held. */
static Session *
session_get (PstFetchers *fetchers, const char *name)
{
  Session *s;

  if (!(s = g_hash_table_lookup (fetchers->sessions, name)))
    g_hash_table_insert (fetchers->sessions, g_strdup (name), s = g_new0 (Session, 1));
  return s;
}

static void
session_free (Session *s)
{
  g_clear_error (&s->error);
  g_free (s);
}

gboolean
pst_fetchers_run (PstFetchers *fetchers, const char *name, guint *fetched_out, GError **error)
{
  Session *s;
  guint fetched = 0;
  gboolean seal_only = FALSE;
  gboolean ok;
  GError *local = NULL;

  g_mutex_lock (&fetchers->session_lock);
  s = session_get (fetchers, name);
  if (s->running)
    {
      guint gen = s->generation;

      while (s->generation == gen)
        g_cond_wait (&fetchers->session_cond, &fetchers->session_lock);
      if (fetched_out != NULL)
        *fetched_out = s->fetched;
      ok = s->error == NULL;
      if (!ok)
        g_propagate_error (error, g_error_copy (s->error));
      g_mutex_unlock (&fetchers->session_lock);
      return ok;
    }
  s->running = TRUE;
  g_mutex_unlock (&fetchers->session_lock);

  ok = run_one (fetchers->agent, name, &fetched, &seal_only, &local);

  g_mutex_lock (&fetchers->session_lock);
  s = session_get (fetchers, name);
  s->running = FALSE;
  s->generation++;
  s->fetched = fetched;
  g_clear_error (&s->error);
  s->error = local ? g_error_copy (local) : NULL;
  s->last_end = g_get_monotonic_time ();
  /* A seal that failed, or no key to seal with, is not the server's: no
   * longer wait between fetches for it (the next fetch tries again). */
  s->failures = ok || seal_only ? 0 : s->failures + 1;
  g_cond_broadcast (&fetchers->session_cond);
  g_mutex_unlock (&fetchers->session_lock);
  if (fetched_out != NULL)
    *fetched_out = fetched;
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

guint
pst_fetchers_failures (PstFetchers *fetchers, const char *name)
{
  guint n;

  g_mutex_lock (&fetchers->session_lock);
  n = session_get (fetchers, name)->failures;
  g_mutex_unlock (&fetchers->session_lock);
  return n;
}

typedef struct {
  PstFetchers *fetchers;
  char *account;
  gboolean deliver_only;
} Kick;

/* Delivers what waits for @name, under its fetch lock (deliver.h). */
static void
deliver_only (PstAgent *agent, const char *name)
{
  GMutex *lock = pst_agent_session_lock (agent, "fetch", name);
  g_autoptr (PstAccount) account = NULL;

  g_mutex_lock (lock);
  if ((account = pst_agent_get_account (agent, name, NULL)) != NULL)
    pst_deliver_pending (agent, account);
  g_mutex_unlock (lock);
}

static gpointer
fetch_thread (gpointer data)
{
  Kick *k = data;
  PstFetchers *fetchers = k->fetchers;
  g_autoptr (GError) error = NULL;
  guint fetched = 0;

  /* Errors are logged and sent as account.error by the session itself. */
  if (k->deliver_only)
    deliver_only (fetchers->agent, k->account);
  else if (!pst_fetchers_run (fetchers, k->account, &fetched, &error))
    g_warning ("scheduled fetch of %s: %s", k->account, error->message);
  else if (fetched > 0)
    g_message ("scheduled fetch of %s: %u new", k->account, fetched);
  g_free (k->account);
  g_free (k);
  g_mutex_lock (&fetchers->session_lock);
  fetchers->background--;
  g_cond_broadcast (&fetchers->session_cond);
  g_mutex_unlock (&fetchers->session_lock);
  return NULL;
}

static void
kick (PstFetchers *fetchers, const char *name, gboolean deliver)
{
  Kick *k = g_new0 (Kick, 1);

  g_mutex_lock (&fetchers->session_lock);
  fetchers->background++;
  g_mutex_unlock (&fetchers->session_lock);
  k->fetchers = fetchers;
  k->account = g_strdup (name);
  k->deliver_only = deliver;
  g_thread_unref (g_thread_new (deliver ? "deliverer" : "fetcher", fetch_thread, k));
}

void
pst_fetchers_kick (PstFetchers *fetchers, const char *name)
{
  kick (fetchers, name, FALSE);
}

void
pst_fetchers_deliver_kick (PstFetchers *fetchers, const char *name)
{
  kick (fetchers, name, TRUE);
}

void
pst_fetchers_deliver_at_start (PstFetchers *fetchers)
{
  PstAgent *agent = fetchers->agent;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&agent->config_lock);
  {
    GPtrArray *accounts = pst_config_get_accounts (agent->config);

    for (guint i = 0; i < accounts->len; i++)
      if (((PstAccount *) accounts->pdata[i])->deliver != NULL)
        g_ptr_array_add (names, g_strdup (((PstAccount *) accounts->pdata[i])->name));
  }
  g_mutex_unlock (&agent->config_lock);
  for (guint i = 0; i < names->len; i++)
    pst_fetchers_deliver_kick (fetchers, names->pdata[i]);
}

PstFetchers *
pst_fetchers_new (PstAgent *agent)
{
  PstFetchers *fetchers = g_new0 (PstFetchers, 1);

  fetchers->agent = agent;
  g_mutex_init (&fetchers->delay_lock);
  fetchers->next_login = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_init (&fetchers->unanalysed_lock);
  fetchers->unanalysed = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                (GDestroyNotify) unanalysed_free);
  g_mutex_init (&fetchers->session_lock);
  g_cond_init (&fetchers->session_cond);
  fetchers->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) session_free);
  return fetchers;
}

void
pst_fetchers_free (PstFetchers *fetchers)
{
  if (fetchers == NULL)
    return;
  g_mutex_lock (&fetchers->session_lock);
  while (fetchers->background > 0)
    g_cond_wait (&fetchers->session_cond, &fetchers->session_lock);
  g_mutex_unlock (&fetchers->session_lock);
  g_hash_table_unref (fetchers->next_login);
  g_hash_table_unref (fetchers->unanalysed);
  g_hash_table_unref (fetchers->sessions);
  g_mutex_clear (&fetchers->delay_lock);
  g_mutex_clear (&fetchers->unanalysed_lock);
  g_mutex_clear (&fetchers->session_lock);
  g_cond_clear (&fetchers->session_cond);
  g_free (fetchers);
}

/* account.error: a fetch of @account failed with @error. */
static void
emit_account_error (PstAgent *agent, const PstAccount *account, const GError *error)
{
  JsonObject *p = json_object_new ();

  json_object_set_string_member (p, "account", account->name);
  json_object_set_string_member (p, "error", error->message);
  pst_events_emit (agent->events, "account.error", p);
}

/* What waits for its seal is sealed before a session, and also when
 * LOGIN-DELAY holds the session back: it needs no server.  FALSE when it
 * cannot be: no key to seal with (said here, as account.error) or a seal
 * failed (each seal says its own failure; the store's failure to list
 * them only in @error). */
static gboolean
seal_waiting (PstAgent *agent, const PstAccount *account, GError **error)
{
  if (!pst_fetchers_seal_key_ready (agent, account, "fetched", error))
    {
      emit_account_error (agent, account, *error);
      return FALSE;
    }
  return pst_fetch_seal_pending (agent, account, error);
}

/* Microseconds until the server of @name allows a login again
 * (LOGIN-DELAY), or 0. */
static gint64
login_wait_us (PstFetchers *fetchers, const char *name)
{
  gint64 wait_us = 0;
  const gint64 *next;

  g_mutex_lock (&fetchers->delay_lock);
  if ((next = g_hash_table_lookup (fetchers->next_login, name)) != NULL)
    wait_us = MAX (*next - g_get_monotonic_time (), 0);
  g_mutex_unlock (&fetchers->delay_lock);
  return wait_us;
}

/* One POP3 session for @account, and the analyses of what it brought in
 * and of what an earlier fetch could not analyse.  FALSE with
 * *@unsealed_out TRUE: the session went well, but a message was left
 * unsealed. */
static gboolean
fetch_session (PstAgent *agent, PstAccount *account, guint *fetched_out,
               gboolean *unsealed_out, GError **error)
{
  g_autoptr (GArray) again = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) unsealed = NULL;
  Fetch f = { .agent = agent, .account = account };
  gboolean ok;

  f.received = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  f.stored = g_array_new (FALSE, FALSE, sizeof (gint64));
  f.analysis = pst_fetch_analysis_new (agent, account, unanalysed_note, agent->fetchers);
  /* Those whose analysis failed at an earlier fetch (taken before this
   * session's own analyses can fail and join them). */
  unanalysed_take (agent->fetchers, account->name, again);
  pst_fetch_analysis_add (f.analysis, again, TRUE);

  ok = run_session (&f, error);
  if (!ok && f.conn != NULL && pst_conn_resumption_refused (f.conn))
    {
      /* The server failed a resumed TLS handshake: at once again, in
       * full (nothing was said to it yet). */
      g_clear_pointer (&f.s, pst_pop3_session_free);
      g_clear_pointer (&f.conn, pst_conn_free);
      g_clear_error (error);
      ok = run_session (&f, error);
    }
  if (!ok)
    {
      g_prefix_error (error, "fetching from %s: ", account->pop3);
      emit_account_error (agent, account, *error);
    }
  /* Messages received whole are kept even when the session failed later
   * (they are deleted on the server by a later session); one cut short is
   * rolled back: its UIDL stays unseen, so the next fetch retrieves it
   * again, and it was never deleted. */
  if (f.received->len > 0)
    {
      g_autoptr (GError) local = NULL;
      if (!commit_received (&f, FALSE, &local))
        g_warning ("account %s: %s", account->name, local->message);
    }
  g_queue_clear_full (&f.in_flight, (GDestroyNotify) item_free);
  g_queue_clear_full (&f.to_retr, (GDestroyNotify) item_free);
  g_ptr_array_unref (f.received);
  if (f.s != NULL)
    pst_pop3_session_free (f.s);
  pst_conn_free (f.conn);
  /* The analyses began as the messages were committed, beside the session
   * (which never waited for them): the rest now, and the verdicts
   * recorded.  A message left unsealed fails the fetch (unless it failed
   * already): its plaintext is on the disk, which the account asked not
   * to be. */
  if (!pst_fetch_analysis_finish (f.analysis, &unsealed) && ok)
    {
      g_propagate_error (error, g_steal_pointer (&unsealed));
      ok = FALSE;
      *unsealed_out = TRUE;
    }
  g_array_unref (f.stored);
  *fetched_out = f.fetched;
  return ok;
}

/* FALSE with *@seal_only_out TRUE: not the server's failure: a message
 * could not be sealed, or there is no key to seal with. */
static gboolean
run_one (PstAgent *agent, const char *name, guint *fetched_out, gboolean *seal_only_out,
         GError **error)
{
  GMutex *lock = pst_agent_session_lock (agent, "fetch", name);
  g_autoptr (PstAccount) account = NULL;
  gboolean ok = FALSE;
  gint64 wait_us;

  *fetched_out = 0;
  g_mutex_lock (lock);
  if ((account = pst_agent_get_account (agent, name, error)) == NULL)
    {
      g_mutex_unlock (lock);
      return FALSE;
    }
  /* The wait as it is now (the seals below take time of their own). */
  wait_us = login_wait_us (agent->fetchers, name);
  /* If what waits cannot be sealed, nothing new comes in (as without a
   * key to seal with). */
  if (!seal_waiting (agent, account, error))
    *seal_only_out = TRUE;
  else if (wait_us > 0)
    g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                 "fetching from %s: the server allows a login only every so often "
                 "(LOGIN-DELAY); the next one in %" G_GINT64_FORMAT " s",
                 account->pop3, (wait_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  else
    ok = fetch_session (agent, account, fetched_out, seal_only_out, error);
  /* Also those a failed or interrupted run left (deliver.h); not when the
   * server held the fetch back, which answers at once. */
  if (wait_us == 0)
    pst_deliver_pending (agent, account);
  g_mutex_unlock (lock);
  return ok;
}
