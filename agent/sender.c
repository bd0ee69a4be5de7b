#include "sender.h"

#include "events.h"
#include "mime/sevenbit-stream.h"
#include "mime/sevenbit.h"
#include "net/smtp.h"
#include "reader.h"
#include "session.h"
#include "util/error.h"

struct _PstSenders {
  PstAgent *agent;
  GMutex lock;            /* guards running and active */
  GCond cond;             /* running went down */
  guint running;          /* background senders */
  GHashTable *active;     /* account with a background sender -> whether to run once more */
  /* Consecutive failed sessions per account (connection, TLS, login), for
   * the backoff of what they could not send. */
  GMutex failures_lock;
  GHashTable *failures;   /* account -> GUINT */
};

/* Temporary failures are retried with exponential backoff and jitter: one
 * minute after the first, doubling up to four hours, each ±20%; a message
 * still not sent five days after it was queued fails for good. */
#define RETRY_FIRST_S 60
#define RETRY_MAX_S (4 * 3600)

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

gint64
pst_sender_backoff (guint failures)
{
  double delay = RETRY_FIRST_S;

  for (guint i = 1; i < failures && delay < RETRY_MAX_S; i++)
    delay *= 2;
  delay = MIN (delay, RETRY_MAX_S);
  return (gint64) (delay * g_random_double_range (0.8, 1.2));
}

PstOutboxState
pst_sender_state_after_reply (guint code)
{
  if (code >= 200 && code < 300)
    return PST_OUTBOX_SENT;
  return code >= 400 && code < 500 ? PST_OUTBOX_QUEUED : PST_OUTBOX_FAILED;
}

/* Whether @e waits because the server deferred it (a 4xx reply to it), as
 * opposed to a session that failed before reaching it: those go along with
 * the next session that works. */
static gboolean
deferred_by_server (const PstOutboxEntry *e)
{
  const char *r = e->last_reply;

  return r != NULL && r[0] == '4' && g_ascii_isdigit (r[1]) && g_ascii_isdigit (r[2]);
}

PstSenderPlan
pst_sender_plan (const PstOutboxEntry *e, gint64 now, gboolean force)
{
  if (now - e->created_at > PST_SENDER_GIVE_UP_S)
    return PST_SENDER_GIVE_UP;
  if (e->next_try > now && !force && deferred_by_server (e))
    return PST_SENDER_WAIT;
  return PST_SENDER_SEND;
}

static void
emit_state (PstAgent *agent, const PstOutboxEntry *entry, PstOutboxState state, const char *reply)
{
  JsonObject *p = json_object_new ();

  json_object_set_int_member (p, "id", entry->id);
  json_object_set_string_member (p, "account", entry->account);
  json_object_set_string_member (p, "state", pst_outbox_state_to_string (state));
  if (reply)
    json_object_set_string_member (p, "reply", reply);
  pst_events_emit (agent->events, "outbox.changed", p);
}

/* The state changes of a session.  A message the server accepted is
 * recorded sent together with the session's next change (most often the
 * next message's "sending"), in one transaction: one sync to disk per
 * message instead of two.  Until then it is "sending" (in doubt) on disk,
 * so a crash in between can leave it in doubt but never send it twice.
 * Two can wait so: the one accepted before the next was taken ahead
 * (run_session's WANT_READ) and the one accepted after. */
#define RECORDER_SENT_MAX 2
typedef struct {
  PstAgent *agent;
  const PstOutboxEntry *sent[RECORDER_SENT_MAX];   /* accepted, not recorded yet */
  char *sent_reply[RECORDER_SENT_MAX];
  guint n_sent;
} Recorder;

/* Records what is pending and, unless @entry is NULL, @entry's change
 * (@not_begun: PstOutboxChange's); tells the subscribers once it is on
 * disk. */
static gboolean
record_change (Recorder *r, const PstOutboxEntry *entry, PstOutboxState state, const char *reply,
               gboolean not_begun, GError **error)
{
  PstOutboxChange changes[RECORDER_SENT_MAX + 1];
  guint n = 0;

  for (guint i = 0; i < r->n_sent; i++)
    changes[n++] = (PstOutboxChange) { r->sent[i]->id, PST_OUTBOX_SENT, r->sent_reply[i], FALSE };
  if (entry != NULL)
    changes[n++] = (PstOutboxChange) { entry->id, state, reply, not_begun };
  if (n == 0)
    return TRUE;
  if (!pst_store_outbox_set_states (r->agent->store, changes, n, error))
    return FALSE;
  for (guint i = 0; i < r->n_sent; i++)
    {
      emit_state (r->agent, r->sent[i], PST_OUTBOX_SENT, r->sent_reply[i]);
      g_clear_pointer (&r->sent_reply[i], g_free);
    }
  r->n_sent = 0;
  if (entry != NULL)
    emit_state (r->agent, entry, state, reply);
  return TRUE;
}

static gboolean
record (Recorder *r, const PstOutboxEntry *entry, PstOutboxState state, const char *reply,
        GError **error)
{
  return record_change (r, entry, state, reply, FALSE, error);
}

/* Notes @entry accepted with @reply (taken), to be recorded with the next
 * change. */
static gboolean
record_sent_later (Recorder *r, const PstOutboxEntry *entry, char *reply, GError **error)
{
  if (r->n_sent == RECORDER_SENT_MAX && !record (r, NULL, 0, NULL, error))
    {
      g_free (reply);
      return FALSE;
    }
  r->sent[r->n_sent] = entry;
  r->sent_reply[r->n_sent++] = reply;
  return TRUE;
}

/* Records a state change and tells the subscribers. */
static gboolean
set_state (PstAgent *agent, const PstOutboxEntry *entry, PstOutboxState state, const char *reply,
           GError **error)
{
  Recorder r = { agent, { NULL }, { NULL }, 0 };

  return record (&r, entry, state, reply, error);
}

/* Opens outbox entry @id to be sent, its first block read (so that it is
 * ready when taken ahead).  Transfer full. */
static GInputStream *
open_body (PstAgent *agent, gint64 id, GError **error)
{
  g_autoptr (GInputStream) in = pst_store_outbox_open (agent->store, id, error);
  g_autoptr (GInputStream) buffered = NULL;

  if (in == NULL)
    return NULL;
  buffered = g_buffered_input_stream_new_sized (in, 65536);
  if (g_buffered_input_stream_fill (G_BUFFERED_INPUT_STREAM (buffered), -1, NULL, error) < 0)
    return NULL;
  return g_steal_pointer (&buffered);
}

/* Sends outbox entry @id as it is read from @in (NULL: opened here), or its
 * 7-bit copy when @seven_bit (its plan) is given. */
static gboolean
stream_body (PstAgent *agent, PstSmtpSession *s, PstConn *conn, gint64 id, GInputStream *opened,
             const PstSevenBitPlan *seven_bit, GError **error)
{
  g_autoptr (GInputStream) in = opened != NULL ? g_object_ref (opened)
                                               : pst_store_outbox_open (agent->store, id, error);
  guint8 buf[65536];
  gssize n;

  if (in == NULL)
    return FALSE;
  if (seven_bit != NULL)
    {
      GInputStream *copy = pst_mime_7bit_input_new (in, seven_bit);

      g_object_unref (in);
      in = copy;
    }
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, error)) > 0)
    {
      gsize queued = 0;

      pst_smtp_session_body (s, buf, (gsize) n);
      /* The last bytes go out with the final dot, in one write. */
      pst_smtp_session_get_output (s, &queued);
      if (queued >= 4 * sizeof buf
          && !pst_session_flush (conn, &pst_smtp_engine_io, s, NULL, error))
        return FALSE;
    }
  if (n < 0)
    return FALSE;
  pst_smtp_session_body_end (s);
  return TRUE;
}

/* An entry queued without its 8-bit facts is read whole to learn them, up
 * to this size. */
#define LEGACY_WHOLE_MAX (64 * 1024 * 1024)

/* Whether prepare_message reads entry @e whole, or through before it is
 * sent (see there). */
static gboolean
reads_whole (PstSmtpSession *s, const PstOutboxEntry *e)
{
  gboolean plan = !pst_smtp_session_has_extension (s, "8BITMIME");

  if (e->eight_bit < 0)
    return e->size <= LEGACY_WHOLE_MAX || plan;
  return e->eight_bit > 0 && e->utf8_headers <= 0 && plan;
}

/* Reads outbox entry @id whole (at most 64 MiB).  Transfer full. */
static GBytes *
read_whole (PstAgent *agent, gint64 id, GError **error)
{
  g_autoptr (GInputStream) in = pst_store_outbox_open (agent->store, id, error);

  return in != NULL ? pst_reader_slurp (in, 64u * 1024 * 1024, error) : NULL;
}

/* The message as the server can take it: NULL in *@whole_out when it is
 * streamed from the store as it is sent (*@info_out says what it holds),
 * else the bytes to send: the entry read whole when it was queued without
 * its 8-bit facts (by an older version) and had to be read to learn them,
 * or its 7-bit copy then.  For a server without 8BITMIME, an 8-bit entry
 * is sent as its 7-bit copy made as it is read (sevenbit-stream.h): the
 * store is read through first for its plan (*@seven_bit_out), which says
 * its size.  FALSE with @error when it cannot be sent there at all. */
static gboolean
prepare_message (PstAgent *agent, PstSmtpSession *s, const PstOutboxEntry *entry,
                 PstSmtpMessageInfo *info_out, GBytes **whole_out,
                 PstSevenBitPlan **seven_bit_out, GError **error)
{
  g_autoptr (GBytes) raw = NULL;
  gboolean any, header = FALSE;

  *whole_out = NULL;
  *seven_bit_out = NULL;
  if (entry->eight_bit < 0 && entry->size > LEGACY_WHOLE_MAX)
    {
      /* Too large to read whole: said to be 8-bit (harmless for a 7-bit
       * body where the server has 8BITMIME; where it has not, its 7-bit
       * copy below is planned, which finds out). */
      any = TRUE;
    }
  else if (entry->eight_bit < 0)
    {
      if (!(raw = read_whole (agent, entry->id, error)))
        return FALSE;
      any = pst_mime_has_8bit (raw, &header);
    }
  else
    {
      any = entry->eight_bit > 0;
      header = entry->utf8_headers > 0;
    }
  info_out->size = (guint64) MAX (entry->size, 0);
  info_out->eight_bit = any;
  info_out->utf8_headers = header;
  if (!any || header || pst_smtp_session_has_extension (s, "8BITMIME"))
    {
      *whole_out = g_steal_pointer (&raw);
      return TRUE;
    }
  info_out->eight_bit = FALSE;
  if (raw != NULL)
    {
      if (!(*whole_out = pst_mime_to_7bit (raw, error)))
        return FALSE;
      info_out->size = g_bytes_get_size (*whole_out);
      return TRUE;
    }
  {
    g_autoptr (GInputStream) in = pst_store_outbox_open (agent->store, entry->id, error);

    if (in == NULL || !(*seven_bit_out = pst_mime_7bit_plan (in, NULL, error)))
      return FALSE;
  }
  info_out->size = pst_mime_7bit_plan_size (*seven_bit_out);
  return TRUE;
}

static char *
reply_summary (PstSmtpSession *s)
{
  g_autofree char *text = g_strdup (pst_smtp_session_get_reply_text (s));
  if (text)
    g_strdelimit (text, "\r\n", ' ');
  return g_strdup_printf ("%u %s", pst_smtp_session_get_reply_code (s), text ? text : "");
}

/* Keeps in @entries only what is due; what waited too long fails for
 * good. */
static void
keep_due (PstAgent *agent, GPtrArray *entries, gboolean force)
{
  gint64 now = now_s ();

  for (guint i = entries->len; i > 0; i--)
    {
      PstOutboxEntry *e = g_ptr_array_index (entries, i - 1);
      PstSenderPlan plan = pst_sender_plan (e, now, force);

      if (plan == PST_SENDER_GIVE_UP)
        {
          g_autofree char *why = g_strdup_printf (
            "given up after %u attempts over %" G_GINT64_FORMAT " days; the last: %s",
            e->attempts, (now - e->created_at) / 86400,
            e->last_reply ? e->last_reply : "no reply");
          set_state (agent, e, PST_OUTBOX_FAILED, why, NULL);
          g_ptr_array_remove_index (entries, i - 1);
        }
      else if (plan == PST_SENDER_WAIT)
        g_ptr_array_remove_index (entries, i - 1);
    }
}

/* How long a session takes in what was queued while it ran, at most: then
 * it ends, and a new one (the next kick's) takes the rest, so that those
 * who wait for the account's send lock (outbox cancel and retry, send
 * --wait, a changed configuration) wait no longer than that. */
#define REFILL_MAX_US (20 * G_USEC_PER_SEC)
#define REFILL_MAX 500

/* Appends to @entries what was queued for @account while its session ran
 * and is due (none already in @entries, whatever became of them): the
 * session goes on with them rather than ending and a new one beginning
 * (a connection, a TLS handshake and a login: several round trips).
 * Whether there was any. */
static gboolean
refill (PstAgent *agent, const PstAccount *account, GPtrArray *entries, gboolean force)
{
  g_autoptr (GPtrArray) queued = pst_store_outbox_list (agent->store, account->name,
                                                        PST_OUTBOX_QUEUED, NULL);
  g_autoptr (GHashTable) had = NULL;
  guint before = entries->len;

  if (queued == NULL || queued->len == 0)
    return FALSE;
  keep_due (agent, queued, force);
  had = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < entries->len; i++)
    g_hash_table_add (had, &((PstOutboxEntry *) g_ptr_array_index (entries, i))->id);
  for (guint i = queued->len; i > 0; i--)
    if (!g_hash_table_contains (had, &((PstOutboxEntry *) g_ptr_array_index (queued, i - 1))->id))
      g_ptr_array_add (entries, g_ptr_array_steal_index (queued, i - 1));
  /* Oldest first, as listed. */
  for (guint i = before, j = entries->len - 1; i < j; i++, j--)
    {
      gpointer t = entries->pdata[i];

      entries->pdata[i] = entries->pdata[j];
      entries->pdata[j] = t;
    }
  return entries->len > before;
}

/* Queues the commands that begin sending *@current; nothing leaves before
 * it is recorded "sending" (here, unless @recorded already).  An entry
 * that cannot be sent at all (an address SMTP cannot carry, say) is
 * recorded failed, and *@current set to NULL: the others can be.  FALSE
 * when the session cannot go on. */
static gboolean
begin_message (PstAgent *agent, PstSmtpSession *s, Recorder *rec, PstOutboxEntry **current,
               gboolean recorded, GBytes **whole_out, PstSevenBitPlan **seven_bit_out,
               GError **error)
{
  PstOutboxEntry *e = *current;
  PstSmtpMessageInfo info = { 0 };
  g_autoptr (GError) local = NULL;
  g_autofree char *why = NULL;
  const char *code = NULL;

  if (!prepare_message (agent, s, e, &info, whole_out, seven_bit_out, &local))
    code = "554 5.6.3";
  else if (!pst_smtp_session_begin_message_with (s, e->reverse_path,
                                                 (const char *const *) e->recipients, &info,
                                                 &local))
    {
      if (!g_error_matches (local, PST_ERROR, PST_ERROR_USAGE))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      code = "553 5.1.3";
    }
  if (local == NULL)
    return recorded || record (rec, e, PST_OUTBOX_SENDING, NULL, error);
  why = g_strdup_printf ("%s %s", code, local->message);
  g_message ("outbox %" G_GINT64_FORMAT ": refused (%s)", e->id, why);
  *current = NULL;
  return record (rec, e, PST_OUTBOX_FAILED, why, error);
}

/* A message taken ahead above this size: the one accepted before it is
 * recorded before it is sent (a sync to disk against its transfer), not
 * after, so that a crash meanwhile does not leave that one in doubt. */
#define RECORD_FIRST_SIZE (1024 * 1024)

/* The entry a session sends next, or NULL when it is to end: the next of
 * @entries, else what was queued meanwhile (refill), within the session's
 * limits. */
static PstOutboxEntry *
take_next (PstAgent *agent, const PstAccount *account, GPtrArray *entries, guint *next,
           gint64 started, gboolean force)
{
  if (*next >= entries->len
      && (g_get_monotonic_time () - started > REFILL_MAX_US || *next >= REFILL_MAX
          || !refill (agent, account, entries, force)))
    return NULL;
  return g_ptr_array_index (entries, (*next)++);
}

static gboolean
run_session (PstAgent *agent, const PstAccount *account, GPtrArray *entries, gboolean force,
             gboolean *tls_retry_out, GError **error)
{
  PstSmtpSession *s = NULL;
  PstConn *conn;
  g_autoptr (PstSaslCredentials) creds = NULL;
  gboolean implicit = FALSE, ok = FALSE, dot_sent = FALSE, dot_queued = FALSE;
  guint next = 0;
  PstOutboxEntry *current = NULL;
  /* The entry after @current, taken and recorded "sending" while the
   * server's reply to @current was awaited (see WANT_READ). */
  PstOutboxEntry *ahead = NULL;
  gboolean ahead_sending = FALSE, looked_ahead = FALSE;
  /* Their text, opened and its first block read then. */
  g_autoptr (GInputStream) ahead_in = NULL;
  g_autoptr (GInputStream) current_in = NULL;
  g_autoptr (GBytes) whole = NULL;
  g_autoptr (PstSevenBitPlan) seven_bit = NULL;
  Recorder rec = { agent, { NULL }, { NULL }, 0 };
  gint64 started = g_get_monotonic_time ();

  creds = pst_session_credentials (account, account->smtp, error);
  if (creds == NULL)
    return FALSE;
  conn = pst_session_connect (account, account->smtp, &implicit, error);
  if (conn == NULL)
    return FALSE;
  s = pst_smtp_session_new (PST_SMTP_EHLO_NAME, implicit ? PST_SMTP_TLS_IMPLICIT : PST_SMTP_TLS_STARTTLS);
  pst_smtp_session_set_credentials (s, creds);
  g_clear_pointer (&creds, pst_sasl_credentials_free);
  if (implicit)
    pst_session_bind_channel (conn, &pst_smtp_engine_io, s);

  for (;;)
    {
      if (!pst_session_flush (conn, &pst_smtp_engine_io, s, NULL, error))
        goto out;
      /* In doubt from the moment the final dot left, not before: a dot
       * that could not be written was not received. */
      if (dot_queued)
        {
          dot_sent = TRUE;
          dot_queued = FALSE;
        }
      switch (pst_smtp_session_next_event (s))
        {
        case PST_SMTP_EVENT_WANT_READ:
          /* While the server's reply to a message that has left is awaited
           * (a round trip), the next is taken and recorded "sending" —
           * together with the one accepted before, in one commit — so that
           * it leaves as soon as the reply comes, without a sync to disk in
           * between.  The cost: a crash in that time leaves the next entry
           * in doubt as well, though none of it left (docs/architecture.md,
           * "Sessions and schedule"). */
          if (dot_sent && !looked_ahead && current != NULL)
            {
              /* Once per message; what fails here is left to the usual
               * way (READY, WANT_BODY), not the reply awaited. */
              g_autoptr (GError) local = NULL;

              looked_ahead = TRUE;
              ahead = take_next (agent, account, entries, &next, started, force);
              if (ahead != NULL && !reads_whole (s, ahead))
                {
                  if ((ahead_sending = record (&rec, ahead, PST_OUTBOX_SENDING, NULL, &local)))
                    ahead_in = open_body (agent, ahead->id, NULL);
                  else
                    g_warning ("outbox %" G_GINT64_FORMAT ": not taken ahead: %s", ahead->id,
                               local->message);
                }
            }
          if (!pst_session_receive (conn, &pst_smtp_engine_io, s, NULL, error))
            goto out;
          break;
        case PST_SMTP_EVENT_WANT_TLS:
          if (!pst_session_start_tls (conn, &pst_smtp_engine_io, s, error))
            goto out;
          break;
        case PST_SMTP_EVENT_READY:
          {
            /* Taken ahead and recorded "sending" then, unless it is read
             * whole first (below). */
            gboolean recorded = ahead_sending;

            current = ahead != NULL ? ahead
                                    : take_next (agent, account, entries, &next, started, force);
            ahead = NULL;
            ahead_sending = FALSE;
            g_clear_object (&current_in);
            current_in = g_steal_pointer (&ahead_in);
            looked_ahead = FALSE;
            if (current == NULL)
              {
                if (!record (&rec, NULL, 0, NULL, error))
                  goto out;
                pst_smtp_session_quit (s);
                break;
              }
            dot_sent = dot_queued = FALSE;
            g_clear_pointer (&whole, g_bytes_unref);
            g_clear_pointer (&seven_bit, pst_mime_7bit_plan_free);
            /* The message accepted last is recorded before this one is
             * read whole or through, or sent when it is large and was
             * recorded ahead (else begin_message records the two together),
             * not left in doubt for as long as that takes. */
            if (rec.n_sent > 0
                && (reads_whole (s, current) || (recorded && current->size > RECORD_FIRST_SIZE))
                && !record (&rec, NULL, 0, NULL, error))
              goto out;
            if (!begin_message (agent, s, &rec, &current, recorded, &whole, &seven_bit, error))
              goto out;
          }
          break;
        case PST_SMTP_EVENT_WANT_BODY:
          if (whole != NULL)
            {
              pst_smtp_session_body (s, g_bytes_get_data (whole, NULL),
                                     g_bytes_get_size (whole));
              pst_smtp_session_body_end (s);
            }
          else if (!stream_body (agent, s, conn, current->id, current_in, seven_bit, error))
            goto out;
          g_clear_object (&current_in);
          dot_queued = TRUE;
          break;
        case PST_SMTP_EVENT_SENT:
          {
            g_autofree char *r = reply_summary (s);
            g_message ("outbox %" G_GINT64_FORMAT ": sent (%s)", current->id, r);
            if (!record_sent_later (&rec, current, g_steal_pointer (&r), error))
              goto out;
            current = NULL;
          }
          break;
        case PST_SMTP_EVENT_REJECTED:
          {
            g_autofree char *r = reply_summary (s);
            PstOutboxState st =
              pst_sender_state_after_reply (pst_smtp_session_get_reply_code (s));
            g_message ("outbox %" G_GINT64_FORMAT ": %s (%s)", current->id,
                       st == PST_OUTBOX_FAILED ? "refused" : "deferred", r);
            if (!record (&rec, current, st, r, error))
              goto out;
            if (st == PST_OUTBOX_QUEUED
                && !pst_store_outbox_set_next_try (agent->store, current->id,
                                                   now_s () + pst_sender_backoff (current->attempts + 1),
                                                   error))
              goto out;
            current = NULL;
          }
          break;
        case PST_SMTP_EVENT_DONE:
          ok = TRUE;
          goto out;
        case PST_SMTP_EVENT_ERROR:
        default:
          {
            const GError *e = pst_smtp_session_get_error (s);
            g_set_error_literal (error, PST_ERROR, e ? e->code : PST_ERROR_NETWORK,
                                 e ? e->message : "SMTP session failed");
          }
          goto out;
        }
    }
out:
  /* The next, taken ahead, had not begun: queue it again, its attempt
   * not counted. */
  if (ahead_sending)
    record_change (&rec, ahead, PST_OUTBOX_QUEUED, NULL, TRUE, NULL);
  /* An entry interrupted before its final dot was not delivered: queue it
   * again.  After the dot it may have been: it stays "sending" (in doubt). */
  if (!ok && current != NULL && !dot_sent)
    record (&rec, current, PST_OUTBOX_QUEUED, error && *error ? (*error)->message : NULL, NULL);
  else if (!ok && current != NULL && error && *error)
    g_prefix_error (error, "in doubt: the server may have accepted the message, as the session "
                           "ended before its reply to the final dot (it is not sent again by "
                           "itself): ");
  /* What the server accepted is sent, however the session ended. */
  if (!record (&rec, NULL, 0, NULL, NULL))
    for (guint i = 0; i < rec.n_sent; i++)
      {
        g_warning ("outbox %" G_GINT64_FORMAT ": accepted by the server but not recorded as sent",
                   rec.sent[i]->id);
        g_free (rec.sent_reply[i]);
      }
  *tls_retry_out = !ok && pst_conn_resumption_refused (conn);
  pst_smtp_session_free (s);
  pst_conn_free (conn);
  return ok;
}

gboolean
pst_senders_run (PstSenders *senders, const char *name, gboolean force, GError **error)
{
  PstAgent *agent = senders->agent;
  GMutex *lock = pst_agent_session_lock (agent, "send", name);
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  gboolean ok;

  g_mutex_lock (lock);
  account = pst_agent_get_account (agent, name, error);
  entries = account ? pst_store_outbox_list (agent->store, name, PST_OUTBOX_QUEUED, error) : NULL;
  if (entries != NULL)
    keep_due (agent, entries, force);
  if (entries == NULL)
    ok = FALSE;
  else if (entries->len == 0)
    ok = TRUE;
  else
    {
      gboolean again = FALSE;

      ok = run_session (agent, account, entries, force, &again, error);
      if (!ok && again)
        {
          /* A server that failed a resumed TLS handshake: once more, in
           * full (no message had started). */
          g_clear_error (error);
          ok = run_session (agent, account, entries, force, &again, error);
        }
      g_mutex_lock (&senders->failures_lock);
      if (ok)
        g_hash_table_remove (senders->failures, name);
      else
        {
          guint n = GPOINTER_TO_UINT (g_hash_table_lookup (senders->failures, name)) + 1;
          g_autoptr (GPtrArray) left = pst_store_outbox_list (agent->store, name,
                                                              PST_OUTBOX_QUEUED, NULL);
          gint64 next = now_s () + pst_sender_backoff (n);

          g_hash_table_replace (senders->failures, g_strdup (name), GUINT_TO_POINTER (n));
          /* What the failed session could not send waits its turn. */
          for (guint i = 0; left != NULL && i < left->len; i++)
            {
              PstOutboxEntry *e = g_ptr_array_index (left, i);
              if (e->next_try < next)
                pst_store_outbox_set_next_try (agent->store, e->id, next, NULL);
            }
        }
      g_mutex_unlock (&senders->failures_lock);
      if (!ok)
        g_prefix_error (error, "sending via %s: ", account->smtp);
    }
  g_mutex_unlock (lock);
  /* The next tries are known now (send --wait runs here, not in a kick). */
  pst_agent_changed (agent);
  return ok;
}

typedef struct {
  PstSenders *senders;
  char *account;
} Kick;

static gpointer
kick_thread (gpointer data)
{
  Kick *k = data;
  PstSenders *senders = k->senders;
  gboolean again = TRUE;

  while (again)
    {
      g_autoptr (GError) error = NULL;

      if (!pst_senders_run (senders, k->account, FALSE, &error))
        {
          JsonObject *p = json_object_new ();
          g_warning ("account %s: %s", k->account, error->message);
          json_object_set_string_member (p, "account", k->account);
          json_object_set_string_member (p, "error", error->message);
          pst_events_emit (senders->agent->events, "account.error", p);
        }
      g_mutex_lock (&senders->lock);
      again = GPOINTER_TO_INT (g_hash_table_lookup (senders->active, k->account));
      if (again)
        g_hash_table_replace (senders->active, g_strdup (k->account), GINT_TO_POINTER (FALSE));
      else
        g_hash_table_remove (senders->active, k->account);
      g_mutex_unlock (&senders->lock);
    }
  /* The next tries of what is left are known now. */
  pst_agent_changed (senders->agent);
  g_free (k->account);
  g_free (k);
  g_mutex_lock (&senders->lock);
  senders->running--;
  g_cond_broadcast (&senders->cond);
  g_mutex_unlock (&senders->lock);
  return NULL;
}

void
pst_senders_kick (PstSenders *senders, const char *account)
{
  Kick *k;

  g_mutex_lock (&senders->lock);
  if (g_hash_table_contains (senders->active, account))
    {
      /* One sender per account: it runs again when it is done. */
      g_hash_table_replace (senders->active, g_strdup (account), GINT_TO_POINTER (TRUE));
      g_mutex_unlock (&senders->lock);
      return;
    }
  g_hash_table_insert (senders->active, g_strdup (account), GINT_TO_POINTER (FALSE));
  senders->running++;
  g_mutex_unlock (&senders->lock);
  k = g_new0 (Kick, 1);
  k->senders = senders;
  k->account = g_strdup (account);
  g_thread_unref (g_thread_new ("sender", kick_thread, k));
}

PstSenders *
pst_senders_new (PstAgent *agent)
{
  PstSenders *senders = g_new0 (PstSenders, 1);

  senders->agent = agent;
  g_mutex_init (&senders->lock);
  g_cond_init (&senders->cond);
  g_mutex_init (&senders->failures_lock);
  senders->active = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  senders->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return senders;
}

void
pst_senders_free (PstSenders *senders)
{
  if (senders == NULL)
    return;
  g_mutex_lock (&senders->lock);
  while (senders->running > 0)
    g_cond_wait (&senders->cond, &senders->lock);
  g_mutex_unlock (&senders->lock);
  g_hash_table_unref (senders->active);
  g_hash_table_unref (senders->failures);
  g_mutex_clear (&senders->lock);
  g_cond_clear (&senders->cond);
  g_mutex_clear (&senders->failures_lock);
  g_free (senders);
}
