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
    g_clear_pointer (&conn, pst_conn_free);
  pst_server_url_clear (&u);
  return conn;
}
