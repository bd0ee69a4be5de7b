/* probe.c — `account test`: connect to an account's servers as a session
 * would, up to and including TLS and the capabilities read over it, and
 * report what was seen (TLS version, cipher, certificate, SPKI pin, SASL
 * mechanisms).  A certificate that is not trusted is still shown, so that
 * its pin can be checked and pinned by the user.
 *
 * With login, the account's credentials are then used as a session uses
 * them (pst_session_credentials, the same engines and so the same choice
 * of mechanism), looked up only once the server is verified, so that no
 * credential ever meets an unverified one.  The session ends as soon as
 * the server has answered the login: QUIT, before any mail is listed,
 * read, deleted or sent. */
#include "probe.h"

#include <string.h>

#include "net/pop3.h"
#include "net/smtp.h"
#include "session.h"
#include "util/error.h"

#define PROBE_TIMEOUT_S 20
/* What is kept of the server's last line, for a refusal's words. */
#define MAX_LINE 512

typedef struct {
  const PstAccount *account;
  const char *url;
  gboolean login;              /* asked to log in after the probe */
  PstConn *conn;
  gboolean verified;           /* TLS is up and the server verified (by CA or pin) */
  PstSaslCredentials *creds;   /* with login: the account's, once the server is verified */
  char *creds_error;           /* why there are none (the password command failed, …) */
  gboolean auth_sent;          /* an AUTH or USER command went out */
  gboolean logged_in;          /* the server accepted the login */
  gboolean caps_read;          /* the capabilities were read over verified TLS */
  GString *line;               /* the server's line being read */
  char *last_line;             /* the server's last whole line */
  guint lines;                 /* how many it sent */
} Probe;

/* Whether a line of @data starts with @command. */
static gboolean
has_command (const guint8 *data, gsize len, const char *command)
{
  gsize n = strlen (command);

  for (gsize i = 0; i + n <= len; i++)
    if ((i == 0 || data[i - 1] == '\n') && memcmp (data + i, command, n) == 0)
      return TRUE;
  return FALSE;
}

/* What the probe notes of what passes (session.h's tap): whether a login
 * was sent, and the server's last whole line (printable ASCII only: it goes
 * into the report as it is). */
static void
tap_sent (gpointer data, const guint8 *bytes, gsize len)
{
  Probe *p = data;

  if (has_command (bytes, len, "AUTH ") || has_command (bytes, len, "USER "))
    p->auth_sent = TRUE;
}

static void
tap_received (gpointer data, const guint8 *buf, gsize n)
{
  Probe *p = data;

  for (gsize i = 0; i < n; i++)
    {
      if (buf[i] == '\n')
        {
          g_free (p->last_line);
          p->last_line = g_strdup (g_strchomp (p->line->str));
          g_string_truncate (p->line, 0);
          p->lines++;
        }
      else if (p->line->len < MAX_LINE && buf[i] != '\r')
        g_string_append_c (p->line, buf[i] >= 0x20 && buf[i] < 0x7f ? (char) buf[i] : '?');
    }
}

static gboolean
probe_write (Probe *p, const guint8 *data, gsize len, GError **error)
{
  if (len == 0)
    return TRUE;
  tap_sent (p, data, len);
  return pst_conn_write_all (p->conn, data, len, error);
}

static gssize
probe_read (Probe *p, guint8 *buf, gsize size, GError **error)
{
  gssize n = pst_conn_read (p->conn, buf, size, error);

  if (n > 0)
    tap_received (p, buf, (gsize) n);
  return n;
}

/* The TLS handshake and the server's verification; with login, the
 * account's credentials now (the caller gives them to the engine, and the
 * channel binding of this TLS session, as every driver does after a
 * handshake: pst_session_bind_channel). */
static gboolean
probe_start_tls (Probe *p, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!pst_conn_start_tls (p->conn, error))
    return FALSE;
  p->verified = TRUE;
  if (!p->login)
    return TRUE;
  if (!(p->creds = pst_session_credentials (p->account, p->url, &local)))
    {
      p->creds_error = g_strdup (local->message);
      return TRUE;
    }
  return TRUE;
}

/* Drives an SMTP engine to READY (after TLS, and AUTH with credentials),
 * then QUIT.  FALSE when the session failed before that. */
static gboolean
probe_smtp (Probe *p, gboolean implicit, const char **mechs_out, PstSmtpSession **s_out,
            GError **error)
{
  PstSmtpSession *s = pst_smtp_session_new (PST_SMTP_EHLO_NAME,
                                            implicit ? PST_SMTP_TLS_IMPLICIT : PST_SMTP_TLS_STARTTLS);
  const PstSessionTap tap = { tap_sent, tap_received, p };
  gboolean quitting = FALSE;

  *s_out = s;
  if (p->creds != NULL)
    pst_smtp_session_set_credentials (s, p->creds);
  if (implicit)
    pst_session_bind_channel (p->conn, &pst_smtp_engine_io, s);
  for (;;)
    {
      /* Once QUIT is queued, the outcome is known: errors do not change it. */
      GError **e = quitting ? NULL : error;

      if (!pst_session_flush (p->conn, &pst_smtp_engine_io, s, &tap, e))
        return quitting;
      switch (pst_smtp_session_next_event (s))
        {
        case PST_SMTP_EVENT_WANT_READ:
          if (!pst_session_receive (p->conn, &pst_smtp_engine_io, s, &tap, e))
            return quitting;
          break;
        case PST_SMTP_EVENT_WANT_TLS:
          if (!probe_start_tls (p, error))
            return FALSE;
          if (p->creds != NULL)
            pst_smtp_session_set_credentials (s, p->creds);
          pst_session_bind_channel (p->conn, &pst_smtp_engine_io, s);
          pst_smtp_session_tls_started (s);
          break;
        case PST_SMTP_EVENT_READY:
          /* With credentials, the engine is READY only once logged in. */
          *mechs_out = pst_smtp_session_get_extension (s, "AUTH");
          p->caps_read = TRUE;
          p->logged_in = p->creds != NULL;
          pst_smtp_session_quit (s);
          quitting = TRUE;
          break;
        case PST_SMTP_EVENT_DONE:
          return TRUE;
        case PST_SMTP_EVENT_ERROR:
          if (quitting)
            return TRUE;
          /* The EHLO over TLS was answered: the engine declined or failed
           * to log in, and what the server offers is known. */
          if (p->creds != NULL && (p->auth_sent || pst_smtp_session_get_reply_code (s) == 250))
            {
              *mechs_out = pst_smtp_session_get_extension (s, "AUTH");
              p->caps_read = TRUE;
            }
          g_propagate_error (error, g_error_copy (pst_smtp_session_get_error (s)));
          return FALSE;
        default:
          if (quitting)
            return TRUE;
          g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "unexpected SMTP state");
          return FALSE;
        }
    }
}

static const char *
pop3_mechanisms (PstPop3Session *s)
{
  const char *mechs = pst_pop3_session_get_capability (s, "SASL");

  if (mechs == NULL && pst_pop3_session_has_capability (s, "USER"))
    mechs = "USER";
  return mechs;
}

/* QUIT by hand (the engine would list the mailbox first), and its reply. */
static void
pop3_quit (Probe *p)
{
  guint8 buf[512];
  guint before = p->lines;

  if (!probe_write (p, (const guint8 *) "QUIT\r\n", 6, NULL))
    return;
  while (p->lines == before && probe_read (p, buf, sizeof buf, NULL) > 0)
    ;
}

/* Drives a POP3 engine until it has read CAPA over TLS (without
 * credentials it then stops) or, with them, until the server answered the
 * login.  FALSE when the session failed before that. */
static gboolean
probe_pop3 (Probe *p, gboolean implicit, const char **mechs_out, PstPop3Session **s_out,
            GError **error)
{
  PstPop3Session *s = pst_pop3_session_new (implicit ? PST_POP3_TLS_IMPLICIT : PST_POP3_TLS_STLS);
  const PstSessionTap tap = { tap_sent, tap_received, p };

  *s_out = s;
  if (p->creds != NULL)
    pst_pop3_session_set_credentials (s, p->creds);
  if (implicit)
    pst_session_bind_channel (p->conn, &pst_pop3_engine_io, s);
  for (;;)
    {
      const guint8 *out;
      gsize len;

      out = pst_pop3_session_get_output (s, &len);
      /* The engine asks for the UIDL list only once the server accepted
       * the login: the probe stops there, and touches no mail. */
      if (p->creds != NULL && len >= 6 && memcmp (out, "UIDL\r\n", 6) == 0)
        {
          *mechs_out = pop3_mechanisms (s);
          p->caps_read = p->logged_in = TRUE;
          pop3_quit (p);
          return TRUE;
        }
      if (!pst_session_flush (p->conn, &pst_pop3_engine_io, s, &tap, error))
        return FALSE;
      switch (pst_pop3_session_next_event (s))
        {
        case PST_POP3_EVENT_WANT_READ:
          if (!pst_session_receive (p->conn, &pst_pop3_engine_io, s, &tap, error))
            return FALSE;
          break;
        case PST_POP3_EVENT_WANT_TLS:
          if (!probe_start_tls (p, error))
            return FALSE;
          if (p->creds != NULL)
            pst_pop3_session_set_credentials (s, p->creds);
          pst_session_bind_channel (p->conn, &pst_pop3_engine_io, s);
          pst_pop3_session_tls_started (s);
          break;
        case PST_POP3_EVENT_ERROR:
          /* Without credentials the engine stops right after CAPA over TLS:
           * that is as far as a probe goes.  With them, the CAPA was read
           * when the engine tried (or declined) to log in. */
          if (p->verified && pst_pop3_session_has_capability (s, "UIDL")
              && (p->creds != NULL
                  || g_str_has_prefix (pst_pop3_session_get_error (s)->message, "no credentials")))
            {
              *mechs_out = pop3_mechanisms (s);
              p->caps_read = TRUE;
              if (p->creds == NULL)
                {
                  pop3_quit (p);
                  return TRUE;
                }
            }
          g_propagate_error (error, g_error_copy (pst_pop3_session_get_error (s)));
          return FALSE;
        default:
          g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "unexpected POP3 state");
          return FALSE;
        }
    }
}

/* Whether @line is the server refusing a command: "-ERR …" in POP3, a
 * 4xx or 5xx reply in SMTP. */
static gboolean
is_refusal (const char *line, gboolean pop3)
{
  if (line == NULL)
    return FALSE;
  if (pop3)
    return g_str_has_prefix (line, "-ERR");
  return (line[0] == '4' || line[0] == '5') && g_ascii_isdigit (line[1])
         && g_ascii_isdigit (line[2]) && (line[3] == ' ' || line[3] == '-' || line[3] == '\0');
}

/* "login" and "login_error" of the report. */
static void
add_login (JsonObject *o, Probe *p, gboolean pop3, const GError *error)
{
  const char *why = NULL;

  if (p->logged_in)
    {
      json_object_set_string_member (o, "login", "ok");
      return;
    }
  if (p->creds_error != NULL)
    why = p->creds_error;
  else if (p->creds != NULL && p->caps_read)
    why = p->auth_sent && is_refusal (p->last_line, pop3) ? p->last_line
          : error ? error->message : "failed";
  json_object_set_string_member (o, "login", why ? "failed" : "not-tried");
  if (why != NULL)
    json_object_set_string_member (o, "login_error", why);
}

JsonObject *
pst_probe_server (const PstAccount *account, const char *url, gboolean login, gboolean *ok_out)
{
  JsonObject *o = json_object_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) pins = NULL;
  g_autoptr (PstSmtpSession) smtp = NULL;
  g_autoptr (PstPop3Session) pop3 = NULL;
  PstServerUrl u = { 0 };
  Probe p = { .account = account, .url = url, .login = login, .line = g_string_new (NULL) };
  const char *mechs = NULL;
  gboolean implicit, is_pop3 = FALSE;
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
  is_pop3 = u.kind == PST_URL_POP3 || u.kind == PST_URL_POP3S;
  if (!(p.conn = pst_conn_connect (u.host, u.port, &options, &error)))
    goto out;
  if (implicit && !probe_start_tls (&p, &error))
    goto out;
  if (is_pop3)
    probe_pop3 (&p, implicit, &mechs, &pop3, &error);
  else
    probe_smtp (&p, implicit, &mechs, &smtp, &error);

out:
  if (p.conn != NULL)
    {
      PstTlsInfo info;

      if (pst_conn_get_tls_info (p.conn, &info))
        {
          json_object_set_string_member (o, "tls_version", info.version);
          json_object_set_string_member (o, "cipher", info.cipher);
          json_object_set_string_member (o, "subject", info.subject);
          json_object_set_string_member (o, "issuer", info.issuer);
          json_object_set_string_member (o, "not_after", info.not_after);
          json_object_set_string_member (o, "pin", info.pin);
          json_object_set_string_member (o, "trusted_by", !p.verified ? "nothing"
                                                          : info.trusted_by_pin ? "pin" : "ca");
        }
      json_object_set_boolean_member (o, "trusted", p.verified);
    }
  if (p.caps_read)
    {
      JsonArray *a = json_array_new ();
      g_auto (GStrv) w = g_strsplit_set (mechs ? mechs : "", " \t", -1);

      for (char **m = w; *m; m++)
        if (**m)
          json_array_add_string_element (a, *m);
      json_object_set_array_member (o, "auth_mechanisms", a);
    }
  else
    json_object_set_string_member (o, "error", error ? error->message : "failed");
  add_login (o, &p, is_pop3, error);
  *ok_out = p.caps_read && (!login || p.logged_in);
  pst_conn_free (p.conn);
  pst_sasl_credentials_free (p.creds);
  g_free (p.creds_error);
  g_free (p.last_line);
  g_string_free (p.line, TRUE);
  pst_server_url_clear (&u);
  return o;
}
