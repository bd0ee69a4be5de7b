/* probe.c — `account test`: connect to an account's servers as a session
 * would, up to and including TLS and the capabilities read over it, and
 * report what was seen (TLS version, cipher, certificate, SPKI pin, SASL
 * mechanisms).  No credential is ever set, so none can be sent; a
 * certificate that is not trusted is still shown, so that its pin can be
 * checked and pinned by the user. */
#include "probe.h"

#include "net/pop3.h"
#include "net/smtp.h"
#include "session.h"
#include "util/error.h"

#define PROBE_TIMEOUT_S 20

static gboolean
flush (PstConn *conn, const guint8 *data, gsize len, GError **error)
{
  return len == 0 || pst_conn_write_all (conn, data, len, error);
}

static void
add_tls (JsonObject *o, PstConn *conn)
{
  PstTlsInfo info;

  if (!pst_conn_get_tls_info (conn, &info))
    return;
  json_object_set_string_member (o, "tls_version", info.version);
  json_object_set_string_member (o, "cipher", info.cipher);
  json_object_set_string_member (o, "subject", info.subject);
  json_object_set_string_member (o, "issuer", info.issuer);
  json_object_set_string_member (o, "not_after", info.not_after);
  json_object_set_string_member (o, "pin", info.pin);
}

static JsonArray *
words (const char *list)
{
  JsonArray *a = json_array_new ();
  g_auto (GStrv) w = g_strsplit_set (list ? list : "", " \t", -1);

  for (char **p = w; *p; p++)
    if (**p)
      json_array_add_string_element (a, *p);
  return a;
}

/* Drives an SMTP engine without credentials to READY (after TLS). */
static gboolean
probe_smtp (PstConn *conn, gboolean implicit, const char **mechs_out, PstSmtpSession **s_out,
            GError **error)
{
  PstSmtpSession *s = pst_smtp_session_new ("[127.0.0.1]",
                                            implicit ? PST_SMTP_TLS_IMPLICIT : PST_SMTP_TLS_STARTTLS);
  *s_out = s;
  for (;;)
    {
      guint8 buf[4096];
      const guint8 *out;
      gsize len;
      gssize n;

      out = pst_smtp_session_get_output (s, &len);
      if (!flush (conn, out, len, error))
        return FALSE;
      pst_smtp_session_consume_output (s, len);
      switch (pst_smtp_session_next_event (s))
        {
        case PST_SMTP_EVENT_WANT_READ:
          if ((n = pst_conn_read (conn, buf, sizeof buf, error)) < 0)
            return FALSE;
          if (n == 0)
            pst_smtp_session_feed_eof (s);
          else
            pst_smtp_session_feed (s, buf, (gsize) n, NULL);
          break;
        case PST_SMTP_EVENT_WANT_TLS:
          if (!pst_conn_start_tls (conn, error))
            return FALSE;
          pst_smtp_session_tls_started (s);
          break;
        case PST_SMTP_EVENT_READY:
          *mechs_out = pst_smtp_session_get_extension (s, "AUTH");
          pst_smtp_session_quit (s);
          out = pst_smtp_session_get_output (s, &len);
          flush (conn, out, len, NULL);
          return TRUE;
        case PST_SMTP_EVENT_ERROR:
          g_propagate_error (error, g_error_copy (pst_smtp_session_get_error (s)));
          return FALSE;
        default:
          g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "unexpected SMTP state");
          return FALSE;
        }
    }
}

/* Drives a POP3 engine without credentials until it has read CAPA over TLS
 * (it then stops, for want of credentials). */
static gboolean
probe_pop3 (PstConn *conn, gboolean implicit, const char **mechs_out, PstPop3Session **s_out,
            GError **error)
{
  PstPop3Session *s = pst_pop3_session_new (implicit ? PST_POP3_TLS_IMPLICIT : PST_POP3_TLS_STLS);
  *s_out = s;
  for (;;)
    {
      guint8 buf[4096];
      const guint8 *out;
      gsize len;
      gssize n;

      out = pst_pop3_session_get_output (s, &len);
      if (!flush (conn, out, len, error))
        return FALSE;
      pst_pop3_session_consume_output (s, len);
      switch (pst_pop3_session_next_event (s))
        {
        case PST_POP3_EVENT_WANT_READ:
          if ((n = pst_conn_read (conn, buf, sizeof buf, error)) < 0)
            return FALSE;
          if (n == 0)
            pst_pop3_session_feed_eof (s);
          else
            pst_pop3_session_feed (s, buf, (gsize) n, NULL);
          break;
        case PST_POP3_EVENT_WANT_TLS:
          if (!pst_conn_start_tls (conn, error))
            return FALSE;
          pst_pop3_session_tls_started (s);
          break;
        case PST_POP3_EVENT_ERROR:
          /* Without credentials the engine stops right after CAPA over TLS:
           * that is as far as a probe goes.  Any earlier stop is the error. */
          if (pst_conn_is_tls (conn) && pst_pop3_session_has_capability (s, "UIDL")
              && g_str_has_prefix (pst_pop3_session_get_error (s)->message, "no credentials"))
            {
              *mechs_out = pst_pop3_session_get_capability (s, "SASL");
              if (*mechs_out == NULL && pst_pop3_session_has_capability (s, "USER"))
                *mechs_out = "USER";
              flush (conn, (const guint8 *) "QUIT\r\n", 6, NULL);
              return TRUE;
            }
          g_propagate_error (error, g_error_copy (pst_pop3_session_get_error (s)));
          return FALSE;
        default:
          g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "unexpected POP3 state");
          return FALSE;
        }
    }
}

JsonObject *
pst_probe_server (const PstAccount *account, const char *url, gboolean *ok_out)
{
  JsonObject *o = json_object_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) pins = NULL;
  g_autoptr (PstSmtpSession) smtp = NULL;
  g_autoptr (PstPop3Session) pop3 = NULL;
  PstServerUrl u = { 0 };
  PstConn *conn = NULL;
  const char *mechs = NULL;
  gboolean implicit, ok = FALSE;
  PstTlsOptions options = {
    .ca_file = account->ca_file,
    .client_cert = account->client_cert,
    .client_key = account->client_key,
    .timeout_s = account->timeout_s ? MIN (account->timeout_s, PROBE_TIMEOUT_S) : PROBE_TIMEOUT_S,
    .session_s = 2 * PROBE_TIMEOUT_S,
    .probe = TRUE,
  };

  json_object_set_string_member (o, "url", url);
  if (account->pin != NULL && !(pins = pst_pin_list_parse (account->pin, &error)))
    goto out;
  options.pins = pins;
  if (!pst_server_url_parse (url, &u, &error))
    goto out;
  implicit = u.kind == PST_URL_SMTPS || u.kind == PST_URL_POP3S;
  if (!(conn = pst_conn_connect (u.host, u.port, &options, &error)))
    goto out;
  if (implicit && !pst_conn_start_tls (conn, &error))
    goto out;
  if (u.kind == PST_URL_SMTP || u.kind == PST_URL_SMTPS)
    ok = probe_smtp (conn, implicit, &mechs, &smtp, &error);
  else
    ok = probe_pop3 (conn, implicit, &mechs, &pop3, &error);

out:
  if (conn != NULL)
    {
      PstTlsInfo info;

      add_tls (o, conn);
      json_object_set_boolean_member (o, "trusted", ok);
      if (pst_conn_get_tls_info (conn, &info))
        json_object_set_string_member (o, "trusted_by", !ok ? "nothing"
                                                        : info.trusted_by_pin ? "pin" : "ca");
    }
  if (ok)
    json_object_set_array_member (o, "auth_mechanisms", words (mechs));
  else
    json_object_set_string_member (o, "error", error ? error->message : "failed");
  pst_conn_free (conn);
  pst_server_url_clear (&u);
  *ok_out = ok;
  return o;
}
