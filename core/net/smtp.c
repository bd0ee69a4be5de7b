/* smtp.c — the SMTP submission engine (see smtp.h).
 *
 * The line protocol shell (lineproto.h) holds the bytes, the credentials
 * and the first failure; this file holds SMTP.  Each state says in the
 * table `states` what it sends when the session enters it and what a reply
 * does in it, as OpenSMTPD's client splits smtp_client_state() from
 * smtp_client_response(); a reply in a state that expects none fails the
 * session. */
#include "net/smtp.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "net/lineproto.h"
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
} SmtpState;

typedef enum {
  READ_NEED_MORE,
  READ_REPLY,
  READ_FAILED,
} ReadResult;

struct _PstSmtpSession {
  PstLineProto *lp;
  char *helo_name;
  PstSmtpTlsMode mode;
  SmtpState state;
  gboolean tls_active;
  GHashTable *caps;          /* upper-case keyword → parameters */
  PstSmtpEventType pending;  /* SENT or REJECTED to report; WANT_READ = none */

  /* the reply being read */
  guint cur_code;
  guint cur_lines;
  GString *cur_text;

  /* the last complete reply */
  guint reply_code;
  char *reply_text;

  /* the transaction */
  char *mail_command;        /* "MAIL FROM:<…> SIZE=…", sent on entering ST_ENVELOPE */
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

static void set_state (PstSmtpSession *s, SmtpState state);

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

gboolean
pst_smtp_path_is_valid (const char *path, gboolean reverse)
{
  return path != NULL && is_printable_token (path, SMTP_MAX_PATH, reverse);
}

PstSmtpSession *
pst_smtp_session_new (const char *helo_name, PstSmtpTlsMode mode)
{
  PstSmtpSession *s = g_new0 (PstSmtpSession, 1);

  if (helo_name != NULL && is_printable_token (helo_name, 255, FALSE))
    s->helo_name = g_strdup (helo_name);
  else
    s->helo_name = g_strdup ("localhost");
  s->lp = pst_lineproto_new ("SMTP", SMTP_MAX_LINE);
  s->mode = mode;
  s->state = ST_GREETING;
  s->tls_active = (mode == PST_SMTP_TLS_IMPLICIT);
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
  pst_lineproto_free (s->lp);
  g_free (s->helo_name);
  g_hash_table_unref (s->caps);
  g_string_free (s->cur_text, TRUE);
  g_free (s->reply_text);
  g_free (s->mail_command);
  g_ptr_array_unref (s->rcpts);
  g_free (s->fail_text);
  g_array_unref (s->rejected);
  pst_secret_byte_array_clear (s->bdat);
  g_byte_array_unref (s->bdat);
  g_free (s);
}

void
pst_smtp_session_set_auth (PstSmtpSession *s, const char *user, const char *password)
{
  PstSaslCredentials c = { .user = (char *) user, .password = (char *) password };

  pst_lineproto_set_credentials (s->lp, &c);
}

void
pst_smtp_session_set_credentials (PstSmtpSession *s, const PstSaslCredentials *creds)
{
  pst_lineproto_set_credentials (s->lp, creds);
}

void
pst_smtp_session_set_channel_binding (PstSmtpSession *s, const char *type, GBytes *data)
{
  pst_lineproto_set_channel_binding (s->lp, type, data);
}

/* Whether the session is in @state and has not failed: what the driver's
 * calls require. */
static gboolean
in_state (PstSmtpSession *s, SmtpState state)
{
  return s->state == state && !pst_lineproto_failed (s->lp);
}

/* "535 5.7.8 text", on one line, for error messages. */
static char *
reply_summary (PstSmtpSession *s)
{
  char *summary = g_strdup_printf ("%u %s", s->reply_code, s->reply_text);

  g_strdelimit (summary, "\n", ' ');
  g_strchomp (summary);
  return summary;
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

      switch (pst_lineproto_take_line (s->lp, &line, &len))
        {
        case PST_LINEBUF_NEED_MORE:
          return READ_NEED_MORE;
        case PST_LINEBUF_TOO_LONG:
          pst_lineproto_fail (s->lp, _("server sent a reply line longer than %u bytes; aborting"),
                              SMTP_MAX_LINE);
          return READ_FAILED;
        case PST_LINEBUF_LINE:
          break;
        }

      if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5'
          || !g_ascii_isdigit (line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
        {
          g_autofree char *shown = pst_lineproto_sanitize (line, MIN (len, 80));
          pst_lineproto_fail (s->lp, _("malformed reply from server: \"%s\""), shown);
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
          pst_lineproto_fail (s->lp, _("malformed reply from server: a reply starting with %u "
                                       "continues with %u"), s->cur_code, code);
          return READ_FAILED;
        }
      if (s->cur_lines >= SMTP_MAX_REPLY_LINES)
        {
          pst_lineproto_fail (s->lp, _("server sent a reply of more than %u lines; aborting"),
                              SMTP_MAX_REPLY_LINES);
          return READ_FAILED;
        }
      if (s->cur_lines > 0)
        g_string_append_c (s->cur_text, '\n');
      if (len > 4)
        {
          g_autofree char *text = pst_lineproto_sanitize (line + 4, len - 4);
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
  set_state (s, ST_RSET);
}

static gboolean
transaction_failed (PstSmtpSession *s)
{
  return s->mail_refused || s->n_accepted == 0;
}

/* --- What each state sends on entry --------------------------------------- */

static void
enter_ehlo (PstSmtpSession *s)
{
  /* After TLS the capabilities said in the clear count for nothing. */
  g_hash_table_remove_all (s->caps);
  pst_lineproto_send_line (s->lp, "EHLO %s", s->helo_name);
}

static void
enter_starttls (PstSmtpSession *s)
{
  pst_lineproto_send_line (s->lp, "STARTTLS");
}

/* AUTH with the strongest mechanism both sides allow (sasl.c chooses). */
static void
enter_auth (PstSmtpSession *s)
{
  g_autoptr (GError) error = NULL;
  const char *mech = pst_sasl_choose (g_hash_table_lookup (s->caps, "AUTH"),
                                      pst_lineproto_get_credentials (s->lp), &error);

  if (mech == NULL)
    {
      pst_lineproto_fail (s->lp, "%s", error->message);
      return;
    }
  pst_lineproto_auth_begin (s->lp, mech);
}

/* MAIL; with PIPELINING every RCPT too, and DATA, or (with CHUNKING) the
 * body at once. */
static void
enter_envelope (PstSmtpSession *s)
{
  pst_lineproto_send_line (s->lp, "%s", s->mail_command);
  if (!s->pipelined)
    return;
  for (guint i = 0; i < s->rcpts->len; i++)
    pst_lineproto_send_line (s->lp, "RCPT TO:<%s>", (const char *) s->rcpts->pdata[i]);
  if (s->chunking)
    set_state (s, ST_BODY);
  else
    pst_lineproto_send_line (s->lp, "DATA");
}

static void
enter_body (PstSmtpSession *s)
{
  s->body_bol = TRUE;
  s->body_cr = FALSE;
}

static void
enter_rset (PstSmtpSession *s)
{
  pst_lineproto_send_line (s->lp, "RSET");
}

static void
enter_quit (PstSmtpSession *s)
{
  pst_lineproto_send_line (s->lp, "QUIT");
}

static void
enter_done (PstSmtpSession *s)
{
  pst_lineproto_close (s->lp);
}

/* --- What a reply does in each state -------------------------------------- */

static void
greeting_reply (PstSmtpSession *s)
{
  if (s->reply_code != 220)
    {
      g_autofree char *summary = reply_summary (s);

      pst_lineproto_fail (s->lp, _("server refused the connection: %s"), summary);
      return;
    }
  set_state (s, ST_EHLO);
}

static void
ehlo_reply (PstSmtpSession *s)
{
  if (s->reply_code != 250)
    {
      g_autofree char *summary = reply_summary (s);

      pst_lineproto_fail (s->lp, _("server refused EHLO: %s"), summary);
      return;
    }
  parse_caps (s);
  if (!s->tls_active)
    {
      if (!pst_smtp_session_has_extension (s, "STARTTLS"))
        {
          pst_lineproto_fail (s->lp, _("server does not offer STARTTLS; refusing to send "
                                       "credentials in the clear"));
          return;
        }
      set_state (s, ST_STARTTLS);
      return;
    }
  if (pst_lineproto_get_credentials (s->lp) == NULL)
    {
      set_state (s, ST_READY);
      return;
    }
  if (g_hash_table_lookup (s->caps, "AUTH") == NULL)
    {
      pst_lineproto_fail (s->lp, _("server does not offer authentication (no AUTH in its EHLO "
                                   "reply); cannot log in"));
      return;
    }
  set_state (s, ST_AUTH);
}

static void
starttls_reply (PstSmtpSession *s)
{
  if (s->reply_code != 220)
    {
      g_autofree char *summary = reply_summary (s);

      pst_lineproto_fail (s->lp, _("server refused STARTTLS: %s; refusing to continue without "
                                   "TLS"), summary);
      return;
    }
  /* Anything already buffered came before the TLS handshake and would be
   * taken as said over TLS (CVE-2011-0411 and kin). */
  if (pst_lineproto_pending_input (s->lp) > 0)
    {
      pst_lineproto_fail (s->lp, _("plaintext injected after the STARTTLS reply (possible "
                                   "attack); aborting"));
      return;
    }
  set_state (s, ST_WAIT_TLS);
}

static void
auth_reply (PstSmtpSession *s)
{
  const char *mech = pst_lineproto_auth_mechanism (s->lp);

  if (s->reply_code == 334)
    {
      g_autofree char *challenge = g_strstrip (g_strdup (s->reply_text));

      pst_lineproto_auth_step (s->lp, challenge);
      return;
    }
  if (s->reply_code != 235)
    {
      g_autofree char *summary = reply_summary (s);

      pst_lineproto_fail (s->lp, _("authentication failed (%s): %s"), mech, summary);
      return;
    }
  /* A server that says yes before proving itself (SCRAM's signature) is
   * not the one that holds our verifier. */
  if (!pst_lineproto_auth_complete (s->lp))
    {
      pst_lineproto_fail (s->lp, _("the server accepted %s before completing it (no server "
                                   "proof); aborting"), mech);
      return;
    }
  set_state (s, ST_READY);
}

static void
envelope_reply (PstSmtpSession *s)
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
        pst_lineproto_send_line (s->lp, "RCPT TO:<%s>", (const char *) s->rcpts->pdata[0]);
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
        pst_lineproto_send_line (s->lp, "RCPT TO:<%s>", (const char *) s->rcpts->pdata[idx]);
      else if (transaction_failed (s))
        finish_rejected (s);
      else
        pst_lineproto_send_line (s->lp, "DATA");
      return;
    }

  /* The reply to DATA. */
  if (s->reply_code == 354)
    {
      if (transaction_failed (s))
        {
          /* A server that says 354 with no valid recipient gets an empty
           * message, which it must refuse (RFC 2920 §3.1). */
          pst_lineproto_send (s->lp, ".\r\n", 3);
          set_state (s, ST_DOT);
          return;
        }
      set_state (s, ST_BODY);
      return;
    }
  record_refusal (s);
  finish_rejected (s);
}

/* With BDAT the whole transaction went out at once: the replies to MAIL and
 * each RCPT, then one per BDAT chunk; the last one is the verdict. */
static void
chunking_reply (PstSmtpSession *s)
{
  guint n = s->rcpts->len;
  guint chunk;

  if (s->reply_index <= n)
    {
      envelope_reply (s);
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
  set_state (s, ST_READY);
}

/* The replies to the envelope that came while the body was being sent (the
 * BDAT chunks' too), then the verdict on the message. */
static void
dot_reply (PstSmtpSession *s)
{
  if (s->chunking)
    {
      chunking_reply (s);
      return;
    }
  if (transaction_failed (s))
    {
      finish_rejected (s);
      return;
    }
  s->pending = s->reply_code / 100 == 2 ? PST_SMTP_EVENT_SENT : PST_SMTP_EVENT_REJECTED;
  set_state (s, ST_READY);
}

static void
rset_reply (PstSmtpSession *s)
{
  if (s->reply_code != 250)
    {
      g_autofree char *summary = reply_summary (s);

      pst_lineproto_fail (s->lp, _("server refused RSET: %s"), summary);
      return;
    }
  set_state (s, ST_READY);
}

/* Whatever the server says to QUIT, the session is over. */
static void
quit_reply (PstSmtpSession *s)
{
  set_state (s, ST_DONE);
}

/* --- The states ------------------------------------------------------------ */

typedef struct {
  const char *name;                      /* for traces */
  void (*enter) (PstSmtpSession *s);     /* what goes out on entering it, or NULL */
  void (*on_reply) (PstSmtpSession *s);  /* what a reply does, or NULL: none is expected */
  PstSmtpEventType event;                /* what the driver is told while it lasts */
  const char *eof_when;                  /* "server closed the connection …" */
} SmtpStateInfo;

#define WANT_READ PST_SMTP_EVENT_WANT_READ

static const SmtpStateInfo states[] = {
  [ST_GREETING] = { "greeting", NULL, greeting_reply, WANT_READ, N_("before its greeting") },
  [ST_EHLO] = { "ehlo", enter_ehlo, ehlo_reply, WANT_READ, N_("after EHLO") },
  [ST_STARTTLS] = { "starttls", enter_starttls, starttls_reply, WANT_READ, N_("after STARTTLS") },
  [ST_WAIT_TLS] = { "wait-tls", NULL, NULL, PST_SMTP_EVENT_WANT_TLS,
                    N_("before the TLS handshake") },
  [ST_AUTH] = { "auth", enter_auth, auth_reply, WANT_READ, N_("during authentication") },
  [ST_READY] = { "ready", NULL, NULL, PST_SMTP_EVENT_READY, NULL },
  [ST_ENVELOPE] = { "envelope", enter_envelope, envelope_reply, WANT_READ,
                    N_("during the envelope (MAIL, RCPT, DATA)") },
  [ST_BODY] = { "body", enter_body, NULL, PST_SMTP_EVENT_WANT_BODY,
                N_("while the message was being sent") },
  [ST_DOT] = { "dot", NULL, dot_reply, WANT_READ,
               N_("before confirming the message; it may or may not have been accepted") },
  [ST_RSET] = { "rset", enter_rset, rset_reply, WANT_READ, NULL },
  [ST_QUIT] = { "quit", enter_quit, quit_reply, WANT_READ, NULL },
  [ST_DONE] = { "done", enter_done, NULL, PST_SMTP_EVENT_DONE, NULL },
};

#undef WANT_READ

static void
set_state (PstSmtpSession *s, SmtpState state)
{
  s->state = state;
  pst_lineproto_trace (s->lp, states[state].name);
  if (states[state].enter != NULL)
    states[state].enter (s);
}

static void
handle_reply (PstSmtpSession *s)
{
  const SmtpStateInfo *st = &states[s->state];
  g_autofree char *summary = NULL;

  if (s->state != ST_QUIT && s->reply_code == 421)
    {
      summary = reply_summary (s);
      pst_lineproto_fail (s->lp, _("server is closing the session: %s"), summary);
      return;
    }
  if (st->on_reply == NULL)
    {
      summary = reply_summary (s);
      pst_lineproto_fail (s->lp, _("server sent an unexpected reply: %s"), summary);
      return;
    }
  st->on_reply (s);
}

static void
handle_eof (PstSmtpSession *s)
{
  const char *when = states[s->state].eof_when;

  if (s->state == ST_QUIT)
    {
      set_state (s, ST_DONE);
      return;
    }
  if (s->cur_lines > 0 || pst_lineproto_pending_input (s->lp) > 0)
    {
      pst_lineproto_fail (s->lp, _("connection closed in the middle of a reply"));
      return;
    }
  pst_lineproto_fail (s->lp, _("server closed the connection %s"),
                      when != NULL ? _(when) : _("unexpectedly"));
}

/* Handles buffered input until an event must be reported or more bytes are
 * needed. */
static void
run (PstSmtpSession *s)
{
  while (s->pending == PST_SMTP_EVENT_WANT_READ && !pst_lineproto_failed (s->lp)
         && s->state != ST_DONE)
    {
      if (s->state == ST_WAIT_TLS)
        {
          if (pst_lineproto_pending_input (s->lp) > 0)
            pst_lineproto_fail (s->lp, _("plaintext injected after the STARTTLS reply (possible "
                                         "attack); aborting"));
          else if (pst_lineproto_at_eof (s->lp))
            handle_eof (s);
          return;
        }
      switch (read_reply (s))
        {
        case READ_NEED_MORE:
          if (pst_lineproto_at_eof (s->lp))
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

gboolean
pst_smtp_session_feed (PstSmtpSession *s, const guint8 *data, gsize len, GError **error)
{
  if (pst_lineproto_feed (s->lp, data, len))
    run (s);
  return pst_lineproto_check (s->lp, error);
}

void
pst_smtp_session_feed_eof (PstSmtpSession *s)
{
  pst_lineproto_feed_eof (s->lp);
  run (s);
}

const guint8 *
pst_smtp_session_get_output (PstSmtpSession *s, gsize *len_out)
{
  return pst_lineproto_get_output (s->lp, len_out);
}

void
pst_smtp_session_consume_output (PstSmtpSession *s, gsize n)
{
  pst_lineproto_consume_output (s->lp, n);
}

PstSmtpEventType
pst_smtp_session_next_event (PstSmtpSession *s)
{
  PstSmtpEventType ev;

  if (s->pending == PST_SMTP_EVENT_WANT_READ)
    run (s);
  if (pst_lineproto_failed (s->lp))
    return PST_SMTP_EVENT_ERROR;
  if (s->pending != PST_SMTP_EVENT_WANT_READ)
    {
      ev = s->pending;
      s->pending = PST_SMTP_EVENT_WANT_READ;
      return ev;
    }
  return states[s->state].event;
}

void
pst_smtp_session_tls_started (PstSmtpSession *s)
{
  if (s->mode == PST_SMTP_TLS_IMPLICIT)
    return;
  g_return_if_fail (in_state (s, ST_WAIT_TLS));
  s->tls_active = TRUE;
  set_state (s, ST_EHLO);
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
  if (!in_state (s, ST_READY) || s->pending != PST_SMTP_EVENT_WANT_READ)
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
        g_autofree char *shown = pst_lineproto_sanitize (recipients[i],
                                                         MIN (strlen (recipients[i]), 80));
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
  pst_secret_byte_array_clear (s->bdat);

  mail = g_string_new (NULL);
  g_string_printf (mail, "MAIL FROM:<%s>", reverse_path);
  if (size_param != NULL && info->size > 0)
    g_string_append_printf (mail, " SIZE=%" G_GUINT64_FORMAT, (guint64) info->size);
  if (info->eight_bit || utf8)
    g_string_append (mail, " BODY=8BITMIME");
  if (utf8)
    g_string_append (mail, " SMTPUTF8");
  g_free (s->mail_command);
  s->mail_command = g_string_free (g_steal_pointer (&mail), FALSE);
  set_state (s, ST_ENVELOPE);
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
    pst_lineproto_send (s->lp, data, len);
}

static void
send_bdat (PstSmtpSession *s, gboolean last)
{
  char head[64];

  g_snprintf (head, sizeof head, "BDAT %u%s\r\n", s->bdat->len, last ? " LAST" : "");
  pst_lineproto_send (s->lp, head, strlen (head));
  pst_lineproto_send (s->lp, s->bdat->data, s->bdat->len);
  pst_secret_byte_array_clear (s->bdat);
  s->bdat_sent++;
}

void
pst_smtp_session_body (PstSmtpSession *s, const guint8 *data, gsize len)
{
  gsize i = 0;

  g_return_if_fail (in_state (s, ST_BODY));
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
        pst_lineproto_send (s->lp, ".", 1);
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
  g_return_if_fail (in_state (s, ST_BODY));
  if (s->body_cr || !s->body_bol)
    body_append (s, "\r\n", 2);
  s->body_cr = FALSE;
  s->body_bol = TRUE;
  if (s->chunking)
    send_bdat (s, TRUE);
  else
    pst_lineproto_send (s->lp, ".\r\n", 3);
  set_state (s, ST_DOT);
  run (s);
}

void
pst_smtp_session_quit (PstSmtpSession *s)
{
  g_return_if_fail (in_state (s, ST_READY));
  set_state (s, ST_QUIT);
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
  return pst_lineproto_get_error (s->lp);
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
