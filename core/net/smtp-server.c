/* smtp-server.c — the bridge's SMTP submission server (see smtp-server.h).
 *
 * Written here rather than taken from a library: the SMTP servers there
 * are (libmilter, libsmtp-server crates, Postfix's smtpd) either whole MTAs
 * or tied to their own event loops and I/O, and the bridge needs only the
 * submission subset, sans I/O, so that it can be fuzzed and unit-tested as
 * the client engines are.  The byte queues are linebuf.h's (lines capped,
 * every byte wiped as it leaves: AUTH lines carry passwords). */
#include "net/smtp-server.h"

#include <string.h>

#include "net/linebuf.h"
#include "util/secret.h"

#define CMD_MAX_LINE 4096        /* RFC 5321 says 512; AUTH PLAIN responses run longer */
#define DATA_MAX_LINE (1024 * 1024)
#define MAX_PATH 256             /* RFC 5321 §4.5.3.1.3 */
#define MAX_RCPTS 1000
#define MAX_AUTH_FAILURES 3
#define MAX_BAD_COMMANDS 20

typedef enum {
  ST_START,        /* greeted, waiting for EHLO/HELO */
  ST_READY,        /* EHLO done, no transaction */
  ST_MAIL,         /* MAIL accepted */
  ST_RCPT,         /* at least one RCPT accepted */
  ST_DATA,         /* reading the message */
  ST_AUTH_PLAIN,   /* 334 sent, waiting for the PLAIN response */
  ST_AUTH_USER,    /* LOGIN: waiting for the user name */
  ST_AUTH_PASS,    /* LOGIN: waiting for the password */
  ST_TLS,          /* 220 to STARTTLS sent: the handshake is next */
  ST_CLOSED,
} State;

struct _PstSmtpServer {
  PstSmtpServerHooks hooks;
  gpointer data;
  char *hostname;
  gboolean tls_available;
  gboolean tls_active;
  gsize max_message;
  PstLinebuf *in;
  PstLinebuf *out;
  State state;
  gboolean extended;       /* EHLO, not HELO */
  char *user;              /* logged in as, or NULL */
  char *login_user;        /* LOGIN: the user name given, waiting for the password */
  guint auth_failures;
  guint bad_commands;
  /* the transaction */
  char *from;
  GPtrArray *rcpts;
  GString *message;         /* handed to the hook without a copy (secret.h) */
  guint64 size;             /* of the message so far, what was spilled included */
  gboolean too_big;
  gboolean spilled;         /* pieces of it went to the spill hook */
  char *spill_error;        /* why a piece could not be kept */
};

static void
reply (PstSmtpServer *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
reply (PstSmtpServer *s, const char *format, ...)
{
  va_list ap;
  g_autofree char *line = NULL;

  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  pst_linebuf_append_str (s->out, line);
  pst_linebuf_append (s->out, "\r\n", 2);
}

/* Wipes the message taken so far and empties it. */
static void
clear_message (PstSmtpServer *s)
{
  explicit_bzero (s->message->str, s->message->len);
  g_string_truncate (s->message, 0);
}

/* Tells the spill hook that what it took of the message is not wanted. */
static void
drop_spilled (PstSmtpServer *s)
{
  if (s->spilled)
    g_free (s->hooks.spill (s->data, NULL, 0, FALSE));
  s->spilled = FALSE;
}

static void
reset_transaction (PstSmtpServer *s)
{
  drop_spilled (s);
  g_clear_pointer (&s->from, g_free);
  g_ptr_array_set_size (s->rcpts, 0);
  clear_message (s);
  s->size = 0;
  s->too_big = FALSE;
  g_clear_pointer (&s->spill_error, g_free);
}

PstSmtpServer *
pst_smtp_server_new (const char *hostname, gboolean tls_available,
                     const PstSmtpServerHooks *hooks, gpointer data)
{
  PstSmtpServer *s = g_new0 (PstSmtpServer, 1);

  s->hooks = *hooks;
  s->data = data;
  s->hostname = g_strdup (hostname);
  s->tls_available = tls_available;
  s->max_message = PST_SMTP_SERVER_MAX_MESSAGE;
  s->in = pst_linebuf_new (CMD_MAX_LINE);
  s->out = pst_linebuf_new (0);
  s->rcpts = g_ptr_array_new_with_free_func (g_free);
  s->message = g_string_new (NULL);
  reply (s, "220 %s ESMTP Postern bridge ready", s->hostname);
  return s;
}

void
pst_smtp_server_free (PstSmtpServer *s)
{
  if (s == NULL)
    return;
  reset_transaction (s);
  g_string_free (s->message, TRUE);
  g_ptr_array_unref (s->rcpts);
  pst_linebuf_free (s->in);
  pst_linebuf_free (s->out);
  pst_secret_free (s->login_user);
  g_free (s->user);
  g_free (s->hostname);
  g_free (s);
}

void
pst_smtp_server_set_max_message (PstSmtpServer *s, gsize max)
{
  s->max_message = max;
}

const char *
pst_smtp_server_get_user (PstSmtpServer *s)
{
  return s->user;
}

const guint8 *
pst_smtp_server_get_output (PstSmtpServer *s, gsize *len_out)
{
  return pst_linebuf_peek (s->out, len_out);
}

void
pst_smtp_server_consume_output (PstSmtpServer *s, gsize n)
{
  pst_linebuf_consume (s->out, n);
}

static void
close_session (PstSmtpServer *s)
{
  s->state = ST_CLOSED;
  pst_linebuf_clear (s->in);
}

void
pst_smtp_server_shutdown (PstSmtpServer *s, const char *why)
{
  if (s->state == ST_CLOSED)
    return;
  reply (s, "421 4.3.2 %s", why);
  close_session (s);
}

void
pst_smtp_server_feed_eof (PstSmtpServer *s)
{
  close_session (s);
}

void
pst_smtp_server_tls_started (PstSmtpServer *s)
{
  s->tls_active = TRUE;
  s->extended = FALSE;
  s->auth_failures = 0;
  g_clear_pointer (&s->user, g_free);
  g_clear_pointer (&s->login_user, pst_secret_free);
  reset_transaction (s);
  pst_linebuf_clear (s->in);
  s->state = ST_START;
}

/* --- parsing ---------------------------------------------------------------- */

/* Whether @line starts with the keyword @verb (any case), followed by the
 * end or a space; *@rest_out: what follows the spaces after it. */
static gboolean
is_verb (const char *line, const char *verb, const char **rest_out)
{
  gsize n = strlen (verb);

  if (g_ascii_strncasecmp (line, verb, n) != 0 || (line[n] != '\0' && line[n] != ' '))
    return FALSE;
  line += n;
  while (*line == ' ')
    line++;
  *rest_out = line;
  return TRUE;
}

/* "FROM:<path> params" after MAIL (@prefix "FROM:"): the path without its
 * brackets (maybe ""), and the parameters, or NULL when malformed. */
static char *
parse_path (const char *rest, const char *prefix, const char **params_out)
{
  gsize n = strlen (prefix);
  const char *start, *end;

  if (g_ascii_strncasecmp (rest, prefix, n) != 0)
    return NULL;
  rest += n;
  while (*rest == ' ')
    rest++;
  if (*rest != '<' || !(end = strchr (rest, '>')))
    return NULL;
  start = rest + 1;
  if ((gsize) (end - start) > MAX_PATH)
    return NULL;
  for (const char *p = start; p < end; p++)
    if ((guchar) *p <= ' ' || *p == '<' || *p == '"' || *p == '\\')
      return NULL;
  /* A source route (RFC 5321 §4.1.2 "@a,@b:user@d") is dropped, as told. */
  if (*start == '@' && memchr (start, ':', end - start))
    start = (const char *) memchr (start, ':', end - start) + 1;
  *params_out = end + 1;
  while (**params_out == ' ')
    (*params_out)++;
  return g_strndup (start, end - start);
}

/* MAIL's parameters: SIZE (refused past the cap), BODY, SMTPUTF8, AUTH,
 * RET, ENVID: known and ignored; anything else: 555. */
static gboolean
check_mail_params (PstSmtpServer *s, const char *params)
{
  g_auto (GStrv) words = g_strsplit (params, " ", -1);

  for (char **w = words; *w != NULL; w++)
    {
      const char *eq = strchr (*w, '=');
      gsize klen = eq ? (gsize) (eq - *w) : strlen (*w);

      if (klen == 0)
        continue;
      if (klen == 4 && g_ascii_strncasecmp (*w, "SIZE", 4) == 0 && eq != NULL)
        {
          guint64 size = 0;

          if (!g_ascii_string_to_unsigned (eq + 1, 10, 0, G_MAXUINT64, &size, NULL))
            {
              reply (s, "501 5.5.4 SIZE takes a number");
              return FALSE;
            }
          if (size > s->max_message)
            {
              reply (s, "552 5.3.4 the message is larger than %" G_GSIZE_FORMAT " bytes",
                     s->max_message);
              return FALSE;
            }
        }
      else if (!((klen == 4 && g_ascii_strncasecmp (*w, "BODY", 4) == 0)
                 || (klen == 8 && g_ascii_strncasecmp (*w, "SMTPUTF8", 8) == 0)
                 || (klen == 4 && g_ascii_strncasecmp (*w, "AUTH", 4) == 0)
                 || (klen == 3 && g_ascii_strncasecmp (*w, "RET", 3) == 0)
                 || (klen == 5 && g_ascii_strncasecmp (*w, "ENVID", 5) == 0)))
        {
          reply (s, "555 5.5.4 unknown MAIL parameter");
          return FALSE;
        }
    }
  return TRUE;
}

/* --- AUTH ------------------------------------------------------------------- */

/* Base64 text @b64 decoded into a NUL-terminated secret (transfer full,
 * wipe with pst_secret_free), or NULL when it is not base64. */
static char *
decode_b64 (const char *b64, gsize *len_out)
{
  gsize len = 0;
  guchar *raw;
  char *text;

  for (const char *p = b64; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      return NULL;
  raw = g_base64_decode (b64, &len);
  text = g_malloc (len + 1);
  memcpy (text, raw, len);
  text[len] = '\0';
  pst_secret_free_len (raw, len);
  *len_out = len;
  return text;
}

static void
auth_result (PstSmtpServer *s, const char *mechanism, const char *user, const char *password)
{
  s->state = ST_READY;
  if (user[0] != '\0' && s->hooks.auth (s->data, mechanism, user, password))
    {
      s->user = g_strdup (user);
      reply (s, "235 2.7.0 authentication succeeded");
      return;
    }
  if (++s->auth_failures >= MAX_AUTH_FAILURES)
    {
      reply (s, "421 4.7.0 too many failed logins; closing");
      close_session (s);
      return;
    }
  reply (s, "535 5.7.8 authentication credentials invalid");
}

/* The PLAIN response (RFC 4616): authzid NUL authcid NUL password; an
 * authzid other than the user is refused. */
static void
auth_plain (PstSmtpServer *s, const char *b64)
{
  gsize len = 0;
  char *text = decode_b64 (b64, &len);
  const char *authzid, *user, *password, *end;

  s->state = ST_READY;
  if (text == NULL)
    {
      reply (s, "501 5.5.2 the response is not base64");
      return;
    }
  end = text + len;
  authzid = text;
  user = memchr (authzid, '\0', len);
  password = user && user + 1 < end ? memchr (user + 1, '\0', end - user - 1) : NULL;
  if (user == NULL || password == NULL || memchr (password + 1, '\0', end - password - 1))
    reply (s, "501 5.5.2 a PLAIN response is authzid NUL user NUL password");
  else if (authzid[0] != '\0' && strcmp (authzid, user + 1) != 0)
    reply (s, "535 5.7.8 the bridge does not log in on behalf of another user");
  else
    auth_result (s, "PLAIN", user + 1, password + 1);
  pst_secret_free_len (text, len + 1);
}

static void
auth_login_line (PstSmtpServer *s, const char *b64)
{
  gsize len = 0;
  char *text = decode_b64 (b64, &len);

  if (text == NULL || strlen (text) != len)
    {
      pst_secret_free_len (text, len + 1);
      g_clear_pointer (&s->login_user, pst_secret_free);
      s->state = ST_READY;
      reply (s, "501 5.5.2 the response is not base64 text");
      return;
    }
  if (s->state == ST_AUTH_USER)
    {
      s->login_user = text;
      s->state = ST_AUTH_PASS;
      reply (s, "334 UGFzc3dvcmQ6");   /* "Password:" */
      return;
    }
  auth_result (s, "LOGIN", s->login_user, text);
  g_clear_pointer (&s->login_user, pst_secret_free);
  pst_secret_free (text);
}

static void
cmd_auth (PstSmtpServer *s, const char *rest)
{
  g_autofree char *mech = NULL;
  const char *initial = strchr (rest, ' ');

  if (!s->extended)
    {
      reply (s, "503 5.5.1 EHLO first");
      return;
    }
  if (s->user != NULL)
    {
      reply (s, "503 5.5.1 already authenticated");
      return;
    }
  if (s->state != ST_READY)
    {
      reply (s, "503 5.5.1 not inside a transaction");
      return;
    }
  mech = initial ? g_strndup (rest, initial - rest) : g_strdup (rest);
  while (initial && *initial == ' ')
    initial++;
  if (initial != NULL && *initial == '\0')
    initial = NULL;
  if (g_ascii_strcasecmp (mech, "PLAIN") == 0)
    {
      if (initial == NULL)
        {
          s->state = ST_AUTH_PLAIN;
          reply (s, "334 ");
        }
      else
        auth_plain (s, strcmp (initial, "=") == 0 ? "" : initial);
    }
  else if (g_ascii_strcasecmp (mech, "LOGIN") == 0)
    {
      s->state = ST_AUTH_USER;
      if (initial == NULL)
        reply (s, "334 VXNlcm5hbWU6");   /* "Username:" */
      else
        auth_login_line (s, initial);
    }
  else
    reply (s, "504 5.5.4 mechanism not supported (PLAIN, LOGIN)");
}

/* --- commands ---------------------------------------------------------------- */

static void
cmd_ehlo (PstSmtpServer *s, const char *rest, gboolean extended)
{
  if (*rest == '\0')
    {
      reply (s, "501 5.5.4 %s needs a domain or address", extended ? "EHLO" : "HELO");
      return;
    }
  reset_transaction (s);
  s->extended = TRUE;   /* HELO too may authenticate: the bridge needs no extension for it */
  s->state = ST_READY;
  if (!extended)
    {
      reply (s, "250 %s", s->hostname);
      return;
    }
  reply (s, "250-%s", s->hostname);
  reply (s, "250-PIPELINING");
  reply (s, "250-8BITMIME");
  reply (s, "250-ENHANCEDSTATUSCODES");
  reply (s, "250-SIZE %" G_GSIZE_FORMAT, s->max_message);
  if (s->tls_available && !s->tls_active)
    reply (s, "250-STARTTLS");
  reply (s, "250 AUTH PLAIN LOGIN");
}

static void
cmd_mail (PstSmtpServer *s, const char *rest)
{
  const char *params = NULL;
  g_autofree char *path = NULL;

  if (s->state == ST_START)
    reply (s, "503 5.5.1 EHLO first");
  else if (s->user == NULL)
    reply (s, "530 5.7.0 authentication required (AUTH PLAIN or LOGIN with the credentials of "
              "`postern bridge credentials`)");
  else if (s->state != ST_READY)
    reply (s, "503 5.5.1 a transaction is already open");
  else if (!(path = parse_path (rest, "FROM:", &params)))
    reply (s, "501 5.5.4 syntax: MAIL FROM:<address>");
  else if (check_mail_params (s, params))
    {
      s->from = g_steal_pointer (&path);
      s->state = ST_MAIL;
      reply (s, "250 2.1.0 sender ok");
    }
}

static void
cmd_rcpt (PstSmtpServer *s, const char *rest)
{
  const char *params = NULL;
  g_autofree char *path = NULL;

  if (s->state != ST_MAIL && s->state != ST_RCPT)
    reply (s, "503 5.5.1 MAIL first");
  else if (!(path = parse_path (rest, "TO:", &params)) || path[0] == '\0'
           || !strchr (path, '@'))
    reply (s, "501 5.1.3 syntax: RCPT TO:<address>");
  else if (s->rcpts->len >= MAX_RCPTS)
    reply (s, "452 4.5.3 too many recipients");
  else
    {
      g_ptr_array_add (s->rcpts, g_steal_pointer (&path));
      s->state = ST_RCPT;
      reply (s, "250 2.1.5 recipient ok");
    }
}

static void
end_of_data (PstSmtpServer *s)
{
  guint code = 451;
  g_autofree char *text = NULL;

  s->state = ST_READY;
  pst_linebuf_set_max_line (s->in, CMD_MAX_LINE);
  if (s->too_big)
    reply (s, "552 5.3.4 the message is larger than %" G_GSIZE_FORMAT " bytes; nothing was sent",
           s->max_message);
  else if (s->spill_error != NULL)
    {
      for (char *p = s->spill_error; *p; p++)
        if ((guchar) *p < ' ')
          *p = ' ';
      reply (s, "451 4.3.0 %s", s->spill_error);
    }
  else
    {
      g_autoptr (GBytes) message = NULL;

      g_ptr_array_add (s->rcpts, NULL);
      message = pst_secret_bytes_from_gstring (s->message);
      s->message = g_string_new (NULL);
      s->hooks.message (s->data, s->user, s->from, (char **) s->rcpts->pdata, message, s->spilled,
                        &code, &text);
      s->spilled = FALSE;   /* handed over */
      g_ptr_array_set_size (s->rcpts, s->rcpts->len - 1);
      if (code < 200 || code > 599)
        code = 451;
      /* One line, whatever the hook said. */
      for (char *p = text; p && *p; p++)
        if ((guchar) *p < ' ')
          *p = ' ';
      reply (s, "%u %s", code, text ? text : "");
    }
  reset_transaction (s);
}

static void
data_line (PstSmtpServer *s, const char *line, gsize len)
{
  if (len == 1 && line[0] == '.')
    {
      end_of_data (s);
      return;
    }
  if (line[0] == '.')   /* dot-unstuffing, RFC 5321 §4.5.2 */
    {
      line++;
      len--;
    }
  if (s->too_big || s->size + len + 2 > s->max_message)
    {
      s->too_big = TRUE;
      clear_message (s);
      drop_spilled (s);
      return;
    }
  s->size += len + 2;
  if (s->spill_error != NULL)
    return;
  g_string_append_len (s->message, line, len);
  g_string_append_len (s->message, "\r\n", 2);
  if (s->hooks.spill != NULL && s->message->len >= PST_SMTP_SERVER_SPILL)
    {
      s->spill_error = s->hooks.spill (s->data, (const guint8 *) s->message->str, s->message->len,
                                       !s->spilled);
      s->spilled = TRUE;
      clear_message (s);
    }
}

static void
command (PstSmtpServer *s, const char *line, gsize len)
{
  const char *rest;

  if (strlen (line) != len)
    {
      reply (s, "500 5.5.2 NUL in a command");
      return;
    }
  if (is_verb (line, "EHLO", &rest))
    cmd_ehlo (s, rest, TRUE);
  else if (is_verb (line, "HELO", &rest))
    cmd_ehlo (s, rest, FALSE);
  else if (is_verb (line, "STARTTLS", &rest))
    {
      if (!s->tls_available || s->tls_active)
        reply (s, "502 5.5.1 STARTTLS not offered");
      else if (*rest != '\0')
        reply (s, "501 5.5.4 STARTTLS takes no argument");
      else if (s->state != ST_READY && s->state != ST_START)
        reply (s, "503 5.5.1 not inside a transaction");
      else
        {
          reply (s, "220 2.0.0 ready to start TLS");
          s->state = ST_TLS;
          pst_linebuf_clear (s->in);
        }
    }
  else if (is_verb (line, "AUTH", &rest))
    cmd_auth (s, rest);
  else if (is_verb (line, "MAIL", &rest))
    cmd_mail (s, rest);
  else if (is_verb (line, "RCPT", &rest))
    cmd_rcpt (s, rest);
  else if (is_verb (line, "DATA", &rest))
    {
      if (s->state == ST_MAIL)
        reply (s, "554 5.5.1 no valid recipients");
      else if (s->state != ST_RCPT)
        reply (s, "503 5.5.1 MAIL and RCPT first");
      else
        {
          s->state = ST_DATA;
          pst_linebuf_set_max_line (s->in, DATA_MAX_LINE);
          reply (s, "354 end data with <CR><LF>.<CR><LF>");
        }
    }
  else if (is_verb (line, "RSET", &rest))
    {
      reset_transaction (s);
      if (s->state != ST_START)
        s->state = ST_READY;
      reply (s, "250 2.0.0 reset");
    }
  else if (is_verb (line, "NOOP", &rest))
    reply (s, "250 2.0.0 ok");
  else if (is_verb (line, "VRFY", &rest))
    reply (s, "252 2.5.0 cannot verify; send and see");
  else if (is_verb (line, "QUIT", &rest))
    {
      reply (s, "221 2.0.0 bye");
      close_session (s);
    }
  else if (++s->bad_commands >= MAX_BAD_COMMANDS)
    {
      reply (s, "421 4.7.0 too many unknown commands; closing");
      close_session (s);
    }
  else
    reply (s, "500 5.5.1 unknown command");
}

PstSmtpServerAction
pst_smtp_server_feed (PstSmtpServer *s, const guint8 *data, gsize len)
{
  if (s->state == ST_CLOSED)
    return PST_SMTP_SERVER_CLOSE;
  if (s->state == ST_TLS)
    return PST_SMTP_SERVER_START_TLS;
  pst_linebuf_append (s->in, data, len);
  for (;;)
    {
      const char *line;
      gsize n;
      PstLinebufResult r = pst_linebuf_take_line (s->in, &line, &n);

      if (r == PST_LINEBUF_NEED_MORE)
        return PST_SMTP_SERVER_CONTINUE;
      if (r == PST_LINEBUF_TOO_LONG)
        {
          reply (s, "500 5.5.2 line too long; closing");
          close_session (s);
          return PST_SMTP_SERVER_CLOSE;
        }
      switch (s->state)
        {
        case ST_DATA:
          data_line (s, line, n);
          break;
        case ST_AUTH_PLAIN:
        case ST_AUTH_USER:
        case ST_AUTH_PASS:
          if (strcmp (line, "*") == 0)
            {
              g_clear_pointer (&s->login_user, pst_secret_free);
              s->state = ST_READY;
              reply (s, "501 5.7.0 authentication cancelled");
            }
          else if (s->state == ST_AUTH_PLAIN)
            auth_plain (s, line);
          else
            auth_login_line (s, line);
          break;
        default:
          command (s, line, n);
          break;
        }
      if (s->state == ST_CLOSED)
        return PST_SMTP_SERVER_CLOSE;
      if (s->state == ST_TLS)
        return PST_SMTP_SERVER_START_TLS;
    }
}
