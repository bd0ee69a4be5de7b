/* bridge-pop3.c — the bridge's POP3 sessions: the maildrop is the
 * account's stored mail that is not quarantined, oldest first; RETR and
 * TOP serve it readable (readable.h: decrypted, with Postern-Status);
 * DELE and QUIT delete from the store (the UIDL stays seen there, so the
 * message is not fetched from the provider again). */
#include "bridge-pop3.h"

#include "net/pop3-server.h"
#include "readable.h"
#include "util/error.h"

typedef struct {
  PstBridgeConn *conn;
  GArray *ids;       /* gint64: the maildrop, in POP3's order */
  GMutex *maildrop;  /* held while logged in: one session per account (RFC 1939 §8) */
} Session;

static PstPop3Login
pop3_auth (gpointer data, PstPop3Server *s, const char *user, const char *password)
{
  Session *session = data;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  GMutex *lock;

  if (!pst_bridge_conn_login (session->conn, "USER/PASS", user, password))
    return PST_POP3_LOGIN_REFUSED;
  /* The lock is taken and given back by this connection's thread. */
  lock = pst_agent_session_lock (session->conn->agent, "bridge-pop3", session->conn->account);
  if (!g_mutex_trylock (lock))
    {
      g_message ("bridge pop3: account %s: the maildrop is in use by another session",
                 session->conn->account);
      return PST_POP3_LOGIN_IN_USE;
    }
  session->maildrop = lock;
  list = pst_store_message_list_full (session->conn->agent->store, session->conn->account, 0,
                                      FALSE, &error);
  if (list == NULL)
    {
      g_warning ("bridge pop3: account %s: %s", session->conn->account, error->message);
      g_mutex_unlock (g_steal_pointer (&session->maildrop));
      return PST_POP3_LOGIN_REFUSED;
    }
  g_array_set_size (session->ids, 0);
  /* The store lists newest first; POP3 clients expect the oldest first. */
  for (guint i = list->len; i-- > 0;)
    {
      const PstMessageInfo *info = g_ptr_array_index (list, i);
      /* Stable for as long as the message is stored: its id never comes back. */
      g_autofree char *uidl = g_strdup_printf ("postern-%" G_GINT64_FORMAT, info->id);

      g_array_append_val (session->ids, info->id);
      /* The stored size, not that of the decrypted text RETR sends: that
       * is known only by decrypting, and STAT/LIST would then decrypt the
       * whole maildrop at every poll (docs/socket-api.md, the table of
       * differences). */
      pst_pop3_server_add_message (s, uidl, info->size > 0 ? (gsize) info->size : 0);
    }
  return PST_POP3_LOGIN_OK;
}

static GBytes *
pop3_retrieve (gpointer data, guint index, GError **error)
{
  Session *session = data;
  gint64 id = g_array_index (session->ids, gint64, index);
  GBytes *message = pst_readable_message (session->conn->agent, id, FALSE, NULL, error);

  if (message == NULL)
    g_message ("bridge pop3: account %s: message %" G_GINT64_FORMAT ": %s",
               session->conn->account, id, (*error)->message);
  return message;
}

static gboolean
pop3_commit (gpointer data, const guint *indices, guint n, GError **error)
{
  Session *session = data;

  for (guint i = 0; i < n; i++)
    {
      gint64 id = g_array_index (session->ids, gint64, indices[i]);

      if (!pst_store_message_delete (session->conn->agent->store, id, error))
        return FALSE;
      g_message ("bridge pop3: account %s deleted message %" G_GINT64_FORMAT,
                 session->conn->account, id);
    }
  return TRUE;
}

static PstBridgeAction
feed (gpointer s, const guint8 *data, gsize len)
{
  return (PstBridgeAction) pst_pop3_server_feed (s, data, len);
}

static void
feed_eof (gpointer s)
{
  pst_pop3_server_feed_eof (s);
}

static void
tls_started (gpointer s)
{
  pst_pop3_server_tls_started (s);
}

static void
shutdown_session (gpointer s, const char *why)
{
  pst_pop3_server_shutdown (s, why);
}

static const guint8 *
get_output (gpointer s, gsize *len_out)
{
  return pst_pop3_server_get_output (s, len_out);
}

static void
consume_output (gpointer s, gsize n)
{
  pst_pop3_server_consume_output (s, n);
}

static gboolean
stalled (gpointer s)
{
  return pst_pop3_server_stalled (s);
}

static const PstBridgeProto pop3_proto = {
  feed, feed_eof, tls_started, shutdown_session, get_output, consume_output, stalled,
};

void
pst_bridge_pop3_serve (PstBridgeConn *conn)
{
  static const PstPop3ServerHooks hooks = { pop3_auth, pop3_retrieve, pop3_commit };
  Session session = { conn, g_array_new (FALSE, FALSE, sizeof (gint64)), NULL };
  g_autoptr (PstPop3Server) s = pst_pop3_server_new (conn->ctx != NULL, &hooks, &session);

  G_STATIC_ASSERT ((int) PST_POP3_SERVER_START_TLS == (int) PST_BRIDGE_START_TLS);
  G_STATIC_ASSERT ((int) PST_POP3_SERVER_CLOSE == (int) PST_BRIDGE_CLOSE);
  pst_bridge_conn_run (conn, &pop3_proto, s);
  g_clear_pointer (&s, pst_pop3_server_free);
  if (session.maildrop != NULL)
    g_mutex_unlock (session.maildrop);
  g_array_unref (session.ids);
}
