#include "session.h"

#include "net/pop3.h"
#include "net/smtp.h"
#include "util/error.h"

/* A whole session (connect to QUIT) may take this long; each reply has the
 * account's timeout. */
#define SESSION_LIMIT_S 3600

PstConn *
pst_session_connect (const PstAccount *account, const char *url, gboolean *implicit_out,
                     GError **error)
{
  PstServerUrl u = { 0 };
  g_autoptr (GPtrArray) pins = NULL;
  PstTlsOptions options = {
    .ca_file = account->ca_file,
    .client_cert = account->client_cert,
    .client_key = account->client_key,
    .timeout_s = account->timeout_s ? account->timeout_s : 60,
    .session_s = SESSION_LIMIT_S,
  };
  PstConn *conn;

  if (account->pin != NULL && !(pins = pst_pin_list_parse (account->pin, error)))
    return NULL;
  options.pins = pins;
  if (!pst_server_url_parse (url, &u, error))
    return NULL;
  *implicit_out = (u.kind == PST_URL_SMTPS || u.kind == PST_URL_POP3S);
  conn = pst_conn_connect (u.host, u.port, &options, error);
  if (conn != NULL && *implicit_out && !pst_conn_start_tls (conn, error))
    {
      gboolean again = pst_conn_resumption_refused (conn);

      g_clear_pointer (&conn, pst_conn_free);
      if (again)
        {
          /* Once more, with a full handshake. */
          g_clear_error (error);
          conn = pst_conn_connect (u.host, u.port, &options, error);
          if (conn != NULL && !pst_conn_start_tls (conn, error))
            g_clear_pointer (&conn, pst_conn_free);
        }
    }
  pst_server_url_clear (&u);
  return conn;
}

PstSaslCredentials *
pst_session_credentials (const PstAccount *account, const char *url, GError **error)
{
  g_autoptr (PstSaslCredentials) c = g_new0 (PstSaslCredentials, 1);
  PstServerUrl u = { 0 };

  c->user = g_strdup (account->user);
  c->client_cert = account->client_cert != NULL;
  if (account->auth != NULL)
    {
      g_autofree char *up = g_ascii_strup (account->auth, -1);
      g_auto (GStrv) names = g_strsplit_set (up, " ,", -1);
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

      for (char **m = names; *m; m++)
        if (**m)
          g_strv_builder_add (b, *m);
      c->allowed = g_strv_builder_end (b);
    }
  if ((account->password_command != NULL || account->secret_service)
      && !(c->password = pst_account_get_password (account, error)))
    return NULL;
  if (account->token_command != NULL && !(c->token = pst_account_get_token (account, error)))
    return NULL;
  if (pst_server_url_parse (url, &u, NULL))
    {
      c->host = g_strdup (u.host);
      c->port = u.port;
      pst_server_url_clear (&u);
    }
  return g_steal_pointer (&c);
}

/* --- The pump ------------------------------------------------------------- */

static const guint8 *
smtp_get_output (gpointer e, gsize *len)
{
  return pst_smtp_session_get_output (e, len);
}

static void
smtp_consume_output (gpointer e, gsize n)
{
  pst_smtp_session_consume_output (e, n);
}

static void
smtp_feed (gpointer e, const guint8 *data, gsize len)
{
  pst_smtp_session_feed (e, data, len, NULL);
}

static void
smtp_feed_eof (gpointer e)
{
  pst_smtp_session_feed_eof (e);
}

static void
smtp_set_channel_binding (gpointer e, const char *type, GBytes *data)
{
  pst_smtp_session_set_channel_binding (e, type, data);
}

static void
smtp_tls_started (gpointer e)
{
  pst_smtp_session_tls_started (e);
}

const PstEngineIo pst_smtp_engine_io = {
  smtp_get_output, smtp_consume_output, smtp_feed, smtp_feed_eof, smtp_set_channel_binding,
  smtp_tls_started,
};

static const guint8 *
pop3_get_output (gpointer e, gsize *len)
{
  return pst_pop3_session_get_output (e, len);
}

static void
pop3_consume_output (gpointer e, gsize n)
{
  pst_pop3_session_consume_output (e, n);
}

static void
pop3_feed (gpointer e, const guint8 *data, gsize len)
{
  pst_pop3_session_feed (e, data, len, NULL);
}

static void
pop3_feed_eof (gpointer e)
{
  pst_pop3_session_feed_eof (e);
}

static void
pop3_set_channel_binding (gpointer e, const char *type, GBytes *data)
{
  pst_pop3_session_set_channel_binding (e, type, data);
}

static void
pop3_tls_started (gpointer e)
{
  pst_pop3_session_tls_started (e);
}

const PstEngineIo pst_pop3_engine_io = {
  pop3_get_output, pop3_consume_output, pop3_feed, pop3_feed_eof, pop3_set_channel_binding,
  pop3_tls_started,
};

gboolean
pst_session_flush (PstConn *conn, const PstEngineIo *io, gpointer engine, const PstSessionTap *tap,
                   GError **error)
{
  gsize len;
  const guint8 *out = io->get_output (engine, &len);

  if (len == 0)
    return TRUE;
  if (tap != NULL && tap->sent != NULL)
    tap->sent (tap->data, out, len);
  if (!pst_conn_write_all (conn, out, len, error))
    return FALSE;
  io->consume_output (engine, len);
  return TRUE;
}

gboolean
pst_session_receive (PstConn *conn, const PstEngineIo *io, gpointer engine,
                     const PstSessionTap *tap, GError **error)
{
  guint8 buf[65536];
  gssize n = pst_conn_read (conn, buf, sizeof buf, error);

  if (n < 0)
    return FALSE;
  if (tap != NULL && tap->received != NULL)
    tap->received (tap->data, buf, (gsize) n);
  if (n == 0)
    io->feed_eof (engine);
  else
    io->feed (engine, buf, (gsize) n);
  return TRUE;
}

void
pst_session_bind_channel (PstConn *conn, const PstEngineIo *io, gpointer engine)
{
  const char *cb_type = NULL;
  g_autoptr (GBytes) cb = pst_conn_get_channel_binding (conn, &cb_type);

  io->set_channel_binding (engine, cb_type, cb);
}

gboolean
pst_session_start_tls (PstConn *conn, const PstEngineIo *io, gpointer engine, GError **error)
{
  if (!pst_conn_start_tls (conn, error))
    return FALSE;
  pst_session_bind_channel (conn, io, engine);
  io->tls_started (engine);
  return TRUE;
}
