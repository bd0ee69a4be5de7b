#include "net/smtp.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "net/linebuf.h"
#include "net/sasl.h"
#include "util/error.h"
#include "util/secret.h"

#define SMTP_MAX_LINE 4096
#define SMTP_MAX_REPLY_LINES 100
#define SMTP_MAX_PATH 256

typedef enum {
  ST_GREETING,
  ST_EHLO,
  ST_STARTTLS,
  ST_WAIT_TLS,
  ST_AUTH,
  ST_READY,
  ST_ENVELOPE,   /* MAIL, RCPT..., DATA replies outstanding */
  ST_BODY,
  ST_DOT,        /* waiting for the reply to the final dot */
  ST_RSET,
  ST_QUIT,
  ST_DONE,
  ST_FAILED,
} SmtpState;

typedef enum {
  READ_NEED_MORE,
  READ_REPLY,
  READ_FAILED,
} ReadResult;

struct _PstSmtpSession {
  char *helo_name;
  PstSmtpTlsMode mode;
  SmtpState state;
  gboolean tls_active;
  PstSaslCredentials *creds;
  PstSasl *sasl;
  PstLinebuf *in;
  PstLinebuf *out;
  GHashTable *caps;          /* upper-case keyword → parameters */
  gboolean eof;
  GError *error;
  PstSmtpEventType pending;  /* SENT or REJECTED to report; WANT_READ = none */

  /* the reply being read */
  guint cur_code;
  guint cur_lines;
  GString *cur_text;

  /* the last complete reply */
  guint reply_code;
  char *reply_text;

  /* the transaction */
  GPtrArray *rcpts;
  gboolean pipelined;
  guint reply_index;         /* 0: MAIL, 1..n: RCPT, n + 1: DATA */
  guint n_accepted;
  gboolean mail_refused;
  guint fail_code;           /* the first refusal, reported with REJECTED */
  char *fail_text;
  GArray *rejected;          /* PstSmtpRecipientError */
  gboolean body_bol;
  gboolean body_cr;
  gboolean chunking;         /* this transaction uses BDAT (RFC 3030) */
  GByteArray *bdat;          /* body bytes not yet sent in a BDAT chunk */
  guint bdat_sent;           /* BDAT commands sent in this transaction */
};

/* A BDAT chunk goes out when this much body has gathered. */
#define BDAT_CHUNK (64 * 1024)

static void
clear_recipient_error (gpointer p)
{
  PstSmtpRecipientError *e = p;

  g_free (e->recipient);
  g_free (e->text);
}

static gboolean
is_printable_token (const char *s, gsize max_len, gboolean allow_empty)
{
  gsize n = 0;

  for (; s[n] != '\0'; n++)
    {
      guchar c = s[n];
      if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || n >= max_len)
        return FALSE;
    }
  return allow_empty || n > 0;
}

PstSmtpSession *
pst_smtp_session_new (const char *helo_name, PstSmtpTlsMode mode)
{
  PstSmtpSession *s = g_new0 (PstSmtpSession, 1);

  if (helo_name != NULL && is_printable_token (helo_name, 255, FALSE))
    s->helo_name = g_strdup (helo_name);
  else
    s->helo_name = g_strdup ("localhost");
  s->mode = mode;
  s->state = ST_GREETING;
  s->tls_active = (mode == PST_SMTP_TLS_IMPLICIT);
  s->in = pst_linebuf_new (SMTP_MAX_LINE);
  s->out = pst_linebuf_new (0);
  s->caps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->pending = PST_SMTP_EVENT_WANT_READ;
  s->cur_text = g_string_new (NULL);
  s->reply_text = g_strdup ("");
  s->rcpts = g_ptr_array_new_with_free_func (g_free);
  s->rejected = g_array_new (FALSE, TRUE, sizeof (PstSmtpRecipientError));
  s->bdat = g_byte_array_new ();
  g_array_set_clear_func (s->rejected, clear_recipient_error);
  return s;
}

void
pst_smtp_session_free (PstSmtpSession *s)
{
  if (s == NULL)
    return;
  g_free (s->helo_name);
  pst_sasl_credentials_free (s->creds);
  pst_sasl_free (s->sasl);
  pst_linebuf_free (s->in);
  pst_linebuf_free (s->out);
  g_hash_table_unref (s->caps);
  g_clear_error (&s->error);
  g_string_free (s->cur_text, TRUE);
  g_free (s->reply_text);
  g_ptr_array_unref (s->rcpts);
  g_free (s->fail_text);
  g_array_unref (s->rejected);
  if (s->bdat->len > 0)
    explicit_bzero (s->bdat->data, s->bdat->len);
  g_byte_array_unref (s->bdat);
  g_free (s);
}

void
pst_smtp_session_set_auth (PstSmtpSession *s, const char *user, const char *password)
{
  PstSaslCredentials c = { .user = (char *) user, .password = (char *) password };

  pst_smtp_session_set_credentials (s, &c);
}

void
pst_smtp_session_set_credentials (PstSmtpSession *s, const PstSaslCredentials *creds)
{
  g_autoptr (GBytes) cb = NULL;
  g_autofree char *cb_type = NULL;

  if (s->creds != NULL)
    {
      cb = s->creds->cb_data ? g_bytes_ref (s->creds->cb_data) : NULL;
      cb_type = g_strdup (s->creds->cb_type);
    }
  pst_sasl_credentials_free (s->creds);
  s->creds = creds ? pst_sasl_credentials_copy (creds) : NULL;
  if (s->creds != NULL && s->creds->cb_type == NULL && cb != NULL)
    pst_smtp_session_set_channel_binding (s, cb_type, cb);
}

void
pst_smtp_session_set_channel_binding (PstSmtpSession *s, const char *type, GBytes *data)
{
  if (s->creds == NULL)
    return;
  g_free (s->creds->cb_type);
  g_clear_pointer (&s->creds->cb_data, g_bytes_unref);
  s->creds->cb_type = g_strdup (type);
  s->creds->cb_data = data ? g_bytes_ref (data) : NULL;
}

static void
fail (PstSmtpSession *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
fail (PstSmtpSession *s, const char *format, ...)
{
  va_list ap;

  if (s->state == ST_FAILED)
    return;
  va_start (ap, format);
  s->error = g_error_new_valist (PST_ERROR, PST_ERROR_NETWORK, format, ap);
  va_end (ap);
  s->state = ST_FAILED;
  s->pending = PST_SMTP_EVENT_WANT_READ;
  /* Nothing more may reach the server from a failed session. */
  pst_linebuf_clear (s->out);
}

/* "535 5.7.8 text", on one line, for error messages. */
static char *
reply_summary (guint code, const char *text)
{
  char *summary = g_strdup_printf ("%u %s", code, text);

  g_strdelimit (summary, "\n", ' ');
  g_strchomp (summary);
  return summary;
}

static char *
sanitize (const char *line, gsize len)
{
  g_autofree char *copy = g_malloc (len + 1);

  /* Not g_strndup(): the line may hold NUL bytes. */
  memcpy (copy, line, len);
  copy[len] = '\0';
  for (gsize i = 0; i < len; i++)
    {
      guchar c = line[i];
      if (c < 0x20 || c == 0x7f)
        copy[i] = c == '\t' ? ' ' : '?';
    }
  return g_utf8_make_valid (copy, len);
}

static ReadResult
read_reply (PstSmtpSession *s)
{
  for (;;)
    {
      const char *line;
      gsize len;
      guint code;
      char sep;

      switch (pst_linebuf_take_line (s->in, &line, &len))
        {
        case PST_LINEBUF_NEED_MORE:
          return READ_NEED_MORE;
        case PST_LINEBUF_TOO_LONG:
          fail (s, _("server sent a reply line longer than %u bytes; aborting"), SMTP_MAX_LINE);
          return READ_FAILED;
        case PST_LINEBUF_LINE:
          break;
        }

      if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5'
          || !g_ascii_isdigit (line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
        {
          g_autofree char *shown = sanitize (line, MIN (len, 80));
          fail (s, _("malformed reply from server: \"%s\""), shown);
          return READ_FAILED;
        }
      code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      sep = len > 3 ? line[3] : ' ';

      if (s->cur_lines == 0)
        {
          s->cur_code = code;
          g_string_truncate (s->cur_text, 0);
        }
      else if (code != s->cur_code)
        {
          fail (s, _("malformed reply from server: a reply starting with %u continues with %u"),
                s->cur_code, code);
          return READ_FAILED;
        }
      if (s->cur_lines >= SMTP_MAX_REPLY_LINES)
        {
          fail (s, _("server sent a reply of more than %u lines; aborting"),
                SMTP_MAX_REPLY_LINES);
          return READ_FAILED;
        }
      if (s->cur_lines > 0)
        g_string_append_c (s->cur_text, '\n');
      if (len > 4)
        {
          g_autofree char *text = sanitize (line + 4, len - 4);
          g_string_append (s->cur_text, text);
        }
      s->cur_lines++;

      if (sep == ' ')
        {
          s->cur_lines = 0;
          s->reply_code = s->cur_code;
          g_free (s->reply_text);
          s->reply_text = g_strdup (s->cur_text->str);
          return READ_REPLY;
        }
    }
}

static void
send_line (PstSmtpSession *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
send_line (PstSmtpSession *s, const char *format, ...)
{
  va_list ap;
  g_autofree char *line = NULL;

  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  pst_linebuf_append_str (s->out, line);
  pst_linebuf_append (s->out, "\r\n", 2);
}

static void
parse_caps (PstSmtpSession *s)
{
  g_auto (GStrv) lines = g_strsplit (s->reply_text, "\n", -1);

  g_hash_table_remove_all (s->caps);
  /* The first line is the server's name, not an extension; an empty reply
   * text has no line at all. */
  for (guint i = 1; lines[0] != NULL && lines[i] != NULL; i++)
    {
      const char *space = strchr (lines[i], ' ');
      g_autofree char *keyword = NULL;

      keyword = g_ascii_strup (lines[i], space != NULL ? space - lines[i] : -1);
      if (keyword[0] == '\0')
        continue;
      g_hash_table_replace (s->caps, g_steal_pointer (&keyword),
                            g_strdup (space != NULL ? space + 1 : ""));
    }
}

/* Queues one SASL response line ("*" cancels). */
static void
send_sasl_line (PstSmtpSession *s, const char *line)
{
  pst_linebuf_append_str (s->out, line);
  pst_linebuf_append (s->out, "\r\n", 2);
}

/* AUTH with the strongest mechanism both sides allow (sasl.c chooses). */
static void
send_auth (PstSmtpSession *s)
{
  g_autoptr (GError) error = NULL;
  const char *mech = pst_sasl_choose (g_hash_table_lookup (s->caps, "AUTH"), s->creds, &error);
  char *line = NULL;

  if (mech == NULL || !(s->sasl = pst_sasl_new (mech, s->creds, &error)))
    {
      fail (s, "%s", error->message);
      return;
    }
  if (!(line = pst_sasl_auth_command (s->sasl, &error)))
    {
      fail (s, "%s", error->message);
      return;
    }
  pst_linebuf_append_str (s->out, line);
  pst_secret_free (line);
  s->state = ST_AUTH;
}

/* A 334 challenge: the next step of the exchange. */
static void
auth_challenge (PstSmtpSession *s)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *challenge = g_strstrip (g_strdup (s->reply_text));
  char *response = NULL;

  if (pst_sasl_step (s->sasl, challenge, &response, &error) == PST_SASL_ERROR)
    {
      fail (s, "%s", error->message);
      return;
    }
  send_sasl_line (s, response);
  pst_secret_free (response);
}

static void
after_ehlo (PstSmtpSession *s)
{
  if (!s->tls_active)
    {
      if (!pst_smtp_session_has_extension (s, "STARTTLS"))
        {
          fail (s, _("server does not offer STARTTLS; refusing to send credentials in the clear"));
          return;
        }
      send_line (s, "STARTTLS");
      s->state = ST_STARTTLS;
      return;
    }
  if (s->creds == NULL)
    {
      s->state = ST_READY;
      return;
    }
  if (g_hash_table_lookup (s->caps, "AUTH") == NULL)
    {
      fail (s, _("server does not offer authentication (no AUTH in its EHLO reply); "
                 "cannot log in"));
      return;
    }
  send_auth (s);
}

static void
record_refusal (PstSmtpSession *s)
{
  if (s->fail_text != NULL)
    return;
  s->fail_code = s->reply_code;
  s->fail_text = g_strdup (s->reply_text);
}

static void
finish_rejected (PstSmtpSession *s)
{
  s->reply_code = s->fail_code;
  g_free (s->reply_text);
  s->reply_text = g_strdup (s->fail_text != NULL ? s->fail_text : "");
  s->pending = PST_SMTP_EVENT_REJECTED;
  send_line (s, "RSET");
  s->state = ST_RSET;
}

static gboolean
transaction_failed (PstSmtpSession *s)
{
  return s->mail_refused || s->n_accepted == 0;
}

static void handle_envelope_reply (PstSmtpSession *s);

/* With BDAT the whole transaction went out at once: the replies to MAIL and
 * each RCPT, then one per BDAT chunk; the last one is the verdict. */
static void
handle_chunking_reply (PstSmtpSession *s)
{
  guint n = s->rcpts->len;
  guint chunk;

  if (s->reply_index <= n)
    {
      handle_envelope_reply (s);
      return;
    }
  chunk = s->reply_index++ - n - 1;
  if (s->reply_code / 100 != 2)
    record_refusal (s);
  if (chunk + 1 < s->bdat_sent)
    return;
  if (transaction_failed (s) || s->fail_text != NULL)
    {
      if (s->fail_text == NULL)
        record_refusal (s);
      finish_rejected (s);
      return;
    }
  s->pending = PST_SMTP_EVENT_SENT;
  s->state = ST_READY;
}

static void
handle_envelope_reply (PstSmtpSession *s)
{
  guint n = s->rcpts->len;
  guint idx = s->reply_index++;
  gboolean ok = s->reply_code / 100 == 2;

  if (idx == 0)
    {
      if (!ok)
        {
          s->mail_refused = TRUE;
          record_refusal (s);
          if (!s->pipelined)
            finish_rejected (s);
        }
      else if (!s->pipelined)
        send_line (s, "RCPT TO:<%s>", (const char *) s->rcpts->pdata[0]);
      return;
    }

  if (idx <= n)
    {
      if (ok)
        s->n_accepted++;
      else if (!s->mail_refused)
        {
          PstSmtpRecipientError e = {
            g_strdup (s->rcpts->pdata[idx - 1]), s->reply_code, g_strdup (s->reply_text),
          };
          g_array_append_val (s->rejected, e);
          record_refusal (s);
        }
      if (s->pipelined)
        return;
      if (idx < n)
        send_line (s, "RCPT TO:<%s>", (const char *) s->rcpts->pdata[idx]);
      else if (transaction_failed (s))
        finish_rejected (s);
      else
        send_line (s, "DATA");
      return;
    }

  /* The reply to DATA. */
  if (s->reply_code == 354)
    {
      if (transaction_failed (s))
        {
          /* A server that says 354 with no valid recipient gets an empty
           * message, which it must refuse (RFC 2920 §3.1). */
          pst_linebuf_append_str (s->out, ".\r\n");
          s->state = ST_DOT;
          return;
        }
      s->state = ST_BODY;
      s->body_bol = TRUE;
      s->body_cr = FALSE;
      return;
    }
  record_refusal (s);
  finish_rejected (s);
}

static void
handle_reply (PstSmtpSession *s)
{
  g_autofree char *summary = reply_summary (s->reply_code, s->reply_text);
  guint code = s->reply_code;

  if (s->state == ST_QUIT)
    {
      s->state = ST_DONE;
      return;
    }
  if (code == 421)
    {
      fail (s, _("server is closing the session: %s"), summary);
      return;
    }

  switch (s->state)
    {
    case ST_GREETING:
      if (code != 220)
        {
          fail (s, _("server refused the connection: %s"), summary);
          return;
        }
      send_line (s, "EHLO %s", s->helo_name);
      s->state = ST_EHLO;
      return;

    case ST_EHLO:
      if (code != 250)
        {
          fail (s, _("server refused EHLO: %s"), summary);
          return;
        }
      parse_caps (s);
      after_ehlo (s);
      return;

    case ST_STARTTLS:
      if (code != 220)
        {
          fail (s, _("server refused STARTTLS: %s; refusing to continue without TLS"), summary);
          return;
        }
      /* Anything already buffered came before the TLS handshake and would
       * be taken as said over TLS (CVE-2011-0411 and kin). */
      if (pst_linebuf_get_pending (s->in) > 0)
        {
          fail (s, _("plaintext injected after the STARTTLS reply (possible attack); aborting"));
          return;
        }
      s->state = ST_WAIT_TLS;
      return;

    case ST_AUTH:
      if (code == 334)
        {
          auth_challenge (s);
          return;
        }
      if (code != 235)
        {
          fail (s, _("authentication failed (%s): %s"), pst_sasl_mechanism (s->sasl), summary);
          return;
        }
      /* A server that says yes before proving itself (SCRAM's signature)
       * is not the one that holds our verifier. */
      if (!pst_sasl_complete (s->sasl))
        {
          fail (s, _("the server accepted %s before completing it (no server proof); aborting"),
                pst_sasl_mechanism (s->sasl));
          return;
        }
      s->state = ST_READY;
      return;

    case ST_ENVELOPE:
      handle_envelope_reply (s);
      return;

    case ST_DOT:
      if (s->chunking)
        {
          handle_chunking_reply (s);
          return;
        }
      if (transaction_failed (s))
        {
          finish_rejected (s);
          return;
        }
      s->pending = code / 100 == 2 ? PST_SMTP_EVENT_SENT : PST_SMTP_EVENT_REJECTED;
      s->state = ST_READY;
      return;

    case ST_RSET:
      if (code != 250)
        {
          fail (s, _("server refused RSET: %s"), summary);
          return;
        }
      s->state = ST_READY;
      return;

    case ST_READY:
    case ST_BODY:
      fail (s, _("server sent an unexpected reply: %s"), summary);
      return;

    case ST_WAIT_TLS:
    case ST_QUIT:
    case ST_DONE:
    case ST_FAILED:
      break;
    }
  g_assert_not_reached ();
}

static void
handle_eof (PstSmtpSession *s)
{
  const char *when;

  if (s->state == ST_QUIT)
    {
      s->state = ST_DONE;
      return;
    }
  if (s->cur_lines > 0 || pst_linebuf_get_pending (s->in) > 0)
    {
      fail (s, _("connection closed in the middle of a reply"));
      return;
    }
  switch (s->state)
    {
    case ST_GREETING: when = _("before its greeting"); break;
    case ST_EHLO: when = _("after EHLO"); break;
    case ST_STARTTLS: when = _("after STARTTLS"); break;
    case ST_WAIT_TLS: when = _("before the TLS handshake"); break;
    case ST_AUTH: when = _("during authentication"); break;
    case ST_ENVELOPE: when = _("during the envelope (MAIL, RCPT, DATA)"); break;
    case ST_BODY: when = _("while the message was being sent"); break;
    case ST_DOT: when = _("before confirming the message; it may or may not have been accepted");
      break;
    default: when = _("unexpectedly"); break;
    }
  fail (s, _("server closed the connection %s"), when);
}

/* Handles buffered input until an event must be reported or more bytes are
 * needed. */
static void
run (PstSmtpSession *s)
{
  while (s->pending == PST_SMTP_EVENT_WANT_READ)
    {
      switch (s->state)
        {
        case ST_FAILED:
        case ST_DONE:
          return;
        case ST_WAIT_TLS:
          if (pst_linebuf_get_pending (s->in) > 0)
            fail (s, _("plaintext injected after the STARTTLS reply (possible attack); aborting"));
          else if (s->eof)
            handle_eof (s);
          return;
        default:
          break;
        }
      switch (read_reply (s))
        {
        case READ_NEED_MORE:
          if (s->eof)
            handle_eof (s);
          return;
        case READ_FAILED:
          return;
        case READ_REPLY:
          handle_reply (s);
          break;
        }
    }
}

static gboolean
propagate_failure (PstSmtpSession *s, GError **error)
{
  if (s->state != ST_FAILED)
    return TRUE;
  if (error != NULL)
    *error = g_error_copy (s->error);
  return FALSE;
}

gboolean
pst_smtp_session_feed (PstSmtpSession *s, const guint8 *data, gsize len, GError **error)
{
  if (s->state != ST_FAILED && s->state != ST_DONE)
    {
      pst_linebuf_append (s->in, data, len);
      run (s);
    }
  return propagate_failure (s, error);
}

void
pst_smtp_session_feed_eof (PstSmtpSession *s)
{
  s->eof = TRUE;
  run (s);
}

const guint8 *
pst_smtp_session_get_output (PstSmtpSession *s, gsize *len_out)
{
  return pst_linebuf_peek (s->out, len_out);
}

void
pst_smtp_session_consume_output (PstSmtpSession *s, gsize n)
{
  pst_linebuf_consume (s->out, n);
}

PstSmtpEventType
pst_smtp_session_next_event (PstSmtpSession *s)
{
  PstSmtpEventType ev;

  if (s->pending == PST_SMTP_EVENT_WANT_READ)
    run (s);
  if (s->state == ST_FAILED)
    return PST_SMTP_EVENT_ERROR;
  if (s->pending != PST_SMTP_EVENT_WANT_READ)
    {
      ev = s->pending;
      s->pending = PST_SMTP_EVENT_WANT_READ;
      return ev;
    }
  switch (s->state)
    {
    case ST_WAIT_TLS: return PST_SMTP_EVENT_WANT_TLS;
    case ST_READY: return PST_SMTP_EVENT_READY;
    case ST_BODY: return PST_SMTP_EVENT_WANT_BODY;
    case ST_DONE: return PST_SMTP_EVENT_DONE;
    default: return PST_SMTP_EVENT_WANT_READ;
    }
}

void
pst_smtp_session_tls_started (PstSmtpSession *s)
{
  if (s->mode == PST_SMTP_TLS_IMPLICIT)
    return;
  g_return_if_fail (s->state == ST_WAIT_TLS);
  s->tls_active = TRUE;
  g_hash_table_remove_all (s->caps);
  send_line (s, "EHLO %s", s->helo_name);
  s->state = ST_EHLO;
}

gboolean
pst_smtp_session_begin_message (PstSmtpSession *s, const char *reverse_path,
                                const char *const *recipients, GError **error)
{
  return pst_smtp_session_begin_message_with (s, reverse_path, recipients, NULL, error);
}

static gboolean
has_non_ascii (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p; p++)
    if (*p >= 0x80)
      return TRUE;
  return FALSE;
}

/* A refusal decided here, before anything is sent (SIZE, 8BITMIME,
 * SMTPUTF8): reported as REJECTED with a reply of our own. */
static void
refuse_locally (PstSmtpSession *s, guint code, const char *text)
{
  s->reply_code = code;
  g_free (s->reply_text);
  s->reply_text = g_strdup (text);
  s->pending = PST_SMTP_EVENT_REJECTED;
}

gboolean
pst_smtp_session_begin_message_with (PstSmtpSession *s, const char *reverse_path,
                                     const char *const *recipients,
                                     const PstSmtpMessageInfo *info, GError **error)
{
  static const PstSmtpMessageInfo none = { 0 };
  g_autoptr (GString) mail = NULL;
  const char *size_param;
  guint64 limit = 0;
  gboolean utf8 = FALSE;
  if (s->state != ST_READY || s->pending != PST_SMTP_EVENT_WANT_READ)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("cannot start a message: the SMTP session is not ready"));
      return FALSE;
    }
  if (reverse_path == NULL || !is_printable_token (reverse_path, SMTP_MAX_PATH, TRUE))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   _("invalid sender address for SMTP"));
      return FALSE;
    }
  if (recipients == NULL || recipients[0] == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, _("a message needs at least one recipient"));
      return FALSE;
    }
  for (guint i = 0; recipients[i] != NULL; i++)
    if (!is_printable_token (recipients[i], SMTP_MAX_PATH, FALSE))
      {
        g_autofree char *shown = sanitize (recipients[i], MIN (strlen (recipients[i]), 80));
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                     _("invalid recipient address for SMTP: \"%s\""), shown);
        return FALSE;
      }

  if (info == NULL)
    info = &none;
  /* RFC 1870: a message larger than the server takes is refused now, not
   * after its bytes crossed the link. */
  size_param = pst_smtp_session_get_extension (s, "SIZE");
  if (size_param != NULL)
    g_ascii_string_to_unsigned (size_param, 10, 0, G_MAXUINT64, &limit, NULL);
  if (limit > 0 && info->size > limit)
    {
      g_autofree char *why = g_strdup_printf (
        "5.3.4 the message is %" G_GUINT64_FORMAT " bytes; the server takes at most %"
        G_GUINT64_FORMAT " (SIZE)", (guint64) info->size, limit);
      refuse_locally (s, 552, why);
      return TRUE;
    }
  /* RFC 6531: non-ASCII addresses or headers need SMTPUTF8. */
  utf8 = info->utf8_headers || has_non_ascii (reverse_path);
  for (guint i = 0; recipients[i] != NULL; i++)
    utf8 = utf8 || has_non_ascii (recipients[i]);
  if (utf8 && !pst_smtp_session_has_extension (s, "SMTPUTF8"))
    {
      refuse_locally (s, 553, "5.6.7 the message has non-ASCII addresses or headers and the "
                              "server does not offer SMTPUTF8");
      return TRUE;
    }
  /* RFC 6152: 8-bit content needs 8BITMIME (SMTPUTF8 servers have it). */
  if (info->eight_bit && !pst_smtp_session_has_extension (s, "8BITMIME"))
    {
      refuse_locally (s, 554, "5.6.3 the message has 8-bit content and the server does not "
                              "offer 8BITMIME");
      return TRUE;
    }

  g_ptr_array_set_size (s->rcpts, 0);
  for (guint i = 0; recipients[i] != NULL; i++)
    g_ptr_array_add (s->rcpts, g_strdup (recipients[i]));
  g_array_set_size (s->rejected, 0);
  g_clear_pointer (&s->fail_text, g_free);
  s->fail_code = 0;
  s->mail_refused = FALSE;
  s->n_accepted = 0;
  s->reply_index = 0;
  s->pipelined = pst_smtp_session_has_extension (s, "PIPELINING");
  /* PIPELINING and CHUNKING: MAIL, RCPT… and the body in BDAT chunks go
   * out together, one round trip for the whole message (RFC 3030 §4.2). */
  s->chunking = s->pipelined && pst_smtp_session_has_extension (s, "CHUNKING");
  s->bdat_sent = 0;
  g_byte_array_set_size (s->bdat, 0);
  s->state = ST_ENVELOPE;

  mail = g_string_new (NULL);
  g_string_printf (mail, "MAIL FROM:<%s>", reverse_path);
  if (size_param != NULL && info->size > 0)
    g_string_append_printf (mail, " SIZE=%" G_GUINT64_FORMAT, (guint64) info->size);
  if (info->eight_bit || utf8)
    g_string_append (mail, " BODY=8BITMIME");
  if (utf8)
    g_string_append (mail, " SMTPUTF8");
  send_line (s, "%s", mail->str);
  if (s->pipelined)
    {
      for (guint i = 0; i < s->rcpts->len; i++)
        send_line (s, "RCPT TO:<%s>", (const char *) s->rcpts->pdata[i]);
      if (s->chunking)
        {
          s->state = ST_BODY;
          s->body_bol = TRUE;
          s->body_cr = FALSE;
        }
      else
        send_line (s, "DATA");
    }
  return TRUE;
}

/* Body bytes, normalised: to the output (dot-stuffed) for DATA, or to the
 * next BDAT chunk (never stuffed). */
static void
body_append (PstSmtpSession *s, const void *data, gsize len)
{
  if (s->chunking)
    g_byte_array_append (s->bdat, data, (guint) len);
  else
    pst_linebuf_append (s->out, data, len);
}

static void
send_bdat (PstSmtpSession *s, gboolean last)
{
  char head[64];

  g_snprintf (head, sizeof head, "BDAT %u%s\r\n", s->bdat->len, last ? " LAST" : "");
  pst_linebuf_append_str (s->out, head);
  pst_linebuf_append (s->out, s->bdat->data, s->bdat->len);
  explicit_bzero (s->bdat->data, s->bdat->len);
  g_byte_array_set_size (s->bdat, 0);
  s->bdat_sent++;
}

void
pst_smtp_session_body (PstSmtpSession *s, const guint8 *data, gsize len)
{
  gsize i = 0;

  g_return_if_fail (s->state == ST_BODY);
  while (i < len)
    {
      gsize j;

      if (s->body_cr)
        {
          /* CRLF, or a bare CR that becomes one. */
          s->body_cr = FALSE;
          body_append (s, "\r\n", 2);
          s->body_bol = TRUE;
          if (data[i] == '\n')
            {
              i++;
              continue;
            }
        }
      if (s->body_bol && data[i] == '.' && !s->chunking)
        pst_linebuf_append (s->out, ".", 1);
      for (j = i; j < len && data[j] != '\r' && data[j] != '\n'; j++)
        ;
      if (j > i)
        {
          body_append (s, data + i, j - i);
          s->body_bol = FALSE;
        }
      if (j == len)
        break;
      if (data[j] == '\n')
        {
          body_append (s, "\r\n", 2);
          s->body_bol = TRUE;
        }
      else
        s->body_cr = TRUE;
      i = j + 1;
    }
  if (s->chunking && s->bdat->len >= BDAT_CHUNK)
    send_bdat (s, FALSE);
}

void
pst_smtp_session_body_end (PstSmtpSession *s)
{
  g_return_if_fail (s->state == ST_BODY);
  if (s->body_cr || !s->body_bol)
    body_append (s, "\r\n", 2);
  s->body_cr = FALSE;
  s->body_bol = TRUE;
  if (s->chunking)
    send_bdat (s, TRUE);
  else
    pst_linebuf_append (s->out, ".\r\n", 3);
  s->state = ST_DOT;
  run (s);
}

void
pst_smtp_session_quit (PstSmtpSession *s)
{
  g_return_if_fail (s->state == ST_READY);
  send_line (s, "QUIT");
  s->state = ST_QUIT;
  run (s);
}

guint
pst_smtp_session_get_reply_code (PstSmtpSession *s)
{
  return s->reply_code;
}

const char *
pst_smtp_session_get_reply_text (PstSmtpSession *s)
{
  return s->reply_text;
}

const GArray *
pst_smtp_session_get_rejected_recipients (PstSmtpSession *s)
{
  return s->rejected;
}

const GError *
pst_smtp_session_get_error (PstSmtpSession *s)
{
  return s->error;
}

gboolean
pst_smtp_session_has_extension (PstSmtpSession *s, const char *name)
{
  g_autofree char *key = g_ascii_strup (name, -1);

  return g_hash_table_contains (s->caps, key);
}

const char *
pst_smtp_session_get_extension (PstSmtpSession *s, const char *name)
{
  g_autofree char *key = g_ascii_strup (name, -1);

  return g_hash_table_lookup (s->caps, key);
}
