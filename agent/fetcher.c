#include "fetcher.h"

#include "events.h"
#include "net/pop3.h"
#include "reader.h"
#include "session.h"
#include "util/error.h"

typedef struct {
  PstAgent *agent;
  const PstAccount *account;
  PstPop3Session *s;
  PstConn *conn;
  const GArray *uidls;   /* owned by the session */
  guint cursor;          /* next index in uidls to consider */
  gboolean in_flight;    /* a RETR or DELE is outstanding */
  guint pending_dele;    /* msgno to delete once its message is committed */
  PstStoreWriter *writer;
  guint fetched;
} Fetch;

static gboolean
flush (Fetch *f, GError **error)
{
  gsize len;
  const guint8 *out = pst_pop3_session_get_output (f->s, &len);

  if (len == 0)
    return TRUE;
  if (!pst_conn_write_all (f->conn, out, len, error))
    return FALSE;
  pst_pop3_session_consume_output (f->s, len);
  return TRUE;
}

/* Chooses the next command: DELE of what was just committed, RETR of the
 * next unseen UIDL, DELE of a seen one still on the server (a crash came
 * between commit and DELE last time), or QUIT. */
static gboolean
next_action (Fetch *f, GError **error)
{
  if (f->in_flight)
    return TRUE;
  if (f->pending_dele != 0)
    {
      pst_pop3_session_dele (f->s, f->pending_dele);
      f->pending_dele = 0;
      f->in_flight = TRUE;
      return TRUE;
    }
  while (f->uidls != NULL && f->cursor < f->uidls->len)
    {
      const PstPop3Uidl *u = &g_array_index (f->uidls, PstPop3Uidl, f->cursor++);
      gboolean seen = FALSE;

      if (!pst_store_uidl_seen (f->agent->store, f->account->name, u->uidl, &seen, error))
        return FALSE;
      if (!seen)
        {
          f->writer = pst_store_message_begin (f->agent->store, f->account->name, u->uidl, error);
          if (f->writer == NULL)
            return FALSE;
          pst_pop3_session_retr (f->s, u->msgno);
          f->pending_dele = f->account->keep_on_server ? 0 : u->msgno;
          f->in_flight = TRUE;
          return TRUE;
        }
      if (!f->account->keep_on_server)
        {
          pst_pop3_session_dele (f->s, u->msgno);
          f->in_flight = TRUE;
          return TRUE;
        }
    }
  pst_pop3_session_quit (f->s);
  f->in_flight = TRUE;
  return TRUE;
}

static gboolean
message_done (Fetch *f, GError **error)
{
  gint64 id = 0;
  g_autoptr (GError) analysis = NULL;
  gboolean ok = pst_store_writer_commit (f->writer, &id, error);

  g_clear_pointer (&f->writer, pst_store_writer_free);
  if (!ok)
    return FALSE;
  f->fetched++;
  g_message ("account %s: stored message %" G_GINT64_FORMAT, f->account->name, id);
  {
    JsonObject *p = json_object_new ();
    json_object_set_string_member (p, "account", f->account->name);
    json_object_set_int_member (p, "id", id);
    pst_events_emit ("mail.new", p);
  }
  /* The message is safe in the store; a failure to read it is shown when it
   * is opened, and must not stop the fetch. */
  if (!pst_reader_analyze (f->agent, id, &analysis))
    g_warning ("message %" G_GINT64_FORMAT ": %s", id, analysis->message);
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
    {
      const char *cb_type = NULL;
      g_autoptr (GBytes) cb = pst_session_channel_binding (f->conn, &cb_type);
      pst_pop3_session_set_channel_binding (f->s, cb_type, cb);
    }

  for (;;)
    {
      guint8 buf[65536];
      gssize n;
      const guint8 *data;
      gsize len;

      if (!flush (f, error))
        return FALSE;
      switch (pst_pop3_session_next_event (f->s))
        {
        case PST_POP3_EVENT_WANT_READ:
          n = pst_conn_read (f->conn, buf, sizeof buf, error);
          if (n < 0)
            return FALSE;
          if (n == 0)
            pst_pop3_session_feed_eof (f->s);
          else
            pst_pop3_session_feed (f->s, buf, (gsize) n, NULL);
          break;
        case PST_POP3_EVENT_WANT_TLS:
          if (!pst_conn_start_tls (f->conn, error))
            return FALSE;
          {
            const char *cb_type = NULL;
            g_autoptr (GBytes) cb = pst_session_channel_binding (f->conn, &cb_type);
            pst_pop3_session_set_channel_binding (f->s, cb_type, cb);
          }
          pst_pop3_session_tls_started (f->s);
          break;
        case PST_POP3_EVENT_READY:
          if (f->uidls == NULL)
            f->uidls = pst_pop3_session_get_uidls (f->s);
          if (!next_action (f, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_DATA:
          data = pst_pop3_session_take_data (f->s, &len);
          if (!pst_store_writer_write (f->writer, data, len, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_RETR_DONE:
          f->in_flight = FALSE;
          if (!message_done (f, error) || !next_action (f, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_DELE_DONE:
          f->in_flight = FALSE;
          if (!next_action (f, error))
            return FALSE;
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

gboolean
pst_fetcher_run (PstAgent *agent, const char *name, guint *fetched_out, GError **error)
{
  GMutex *lock = pst_agent_session_lock (agent, "fetch", name);
  g_autoptr (PstAccount) account = NULL;
  Fetch f = { .agent = agent };
  gboolean ok = FALSE;

  g_mutex_lock (lock);
  account = pst_agent_get_account (agent, name, error);
  if (account != NULL)
    {
      f.account = account;
      ok = run_session (&f, error);
      if (!ok)
        {
          JsonObject *p = json_object_new ();
          g_prefix_error (error, "fetching from %s: ", account->pop3);
          json_object_set_string_member (p, "account", account->name);
          json_object_set_string_member (p, "error", (*error)->message);
          pst_events_emit ("account.error", p);
        }
    }
  /* An uncommitted message is rolled back: its UIDL stays unseen, so the
   * next fetch retrieves it again, and it was never deleted. */
  g_clear_pointer (&f.writer, pst_store_writer_free);
  if (f.s != NULL)
    pst_pop3_session_free (f.s);
  pst_conn_free (f.conn);
  g_mutex_unlock (lock);
  if (fetched_out != NULL)
    *fetched_out = f.fetched;
  return ok;
}
