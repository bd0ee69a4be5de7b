#include "session.h"

#include "util/error.h"

PstConn *
pst_session_connect (const PstAccount *account, const char *url, gboolean *implicit_out,
                     GError **error)
{
  PstServerUrl u = { 0 };
  PstTlsOptions options = { .ca_file = account->ca_file, .timeout_s = 60 };
  PstConn *conn;

  if (!pst_server_url_parse (url, &u, error))
    return NULL;
  *implicit_out = (u.kind == PST_URL_SMTPS || u.kind == PST_URL_POP3S);
  conn = pst_conn_connect (u.host, u.port, &options, error);
  if (conn != NULL && *implicit_out && !pst_conn_start_tls (conn, error))
    g_clear_pointer (&conn, pst_conn_free);
  pst_server_url_clear (&u);
  return conn;
}
