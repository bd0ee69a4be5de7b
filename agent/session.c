#include "session.h"

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
