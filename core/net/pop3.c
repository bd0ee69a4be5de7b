#include "net/pop3.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "net/linebuf.h"
#include "net/sasl.h"
#include "util/error.h"
#include "util/secret.h"

#define POP3_MAX_LINE 4096
#define POP3_MAX_CAPA_LINES 256
#define POP3_MAX_UIDLS 1000000
#define POP3_MAX_UIDL_LEN 70

typedef enum {
  ST_GREETING,
  ST_CAPA,
  ST_CAPA_LIST,
  ST_STLS,
  ST_WAIT_TLS,
  ST_USER,
  ST_PASS,
  ST_AUTH,       /* SASL (RFC 5034): "+ challenge" lines until +OK/-ERR */
  ST_UIDL,
  ST_UIDL_LIST,
  ST_TRANS,      /* READY, or commands outstanding */
  ST_DONE,
  ST_FAILED,
} Pop3State;

typedef enum {
  CMD_RETR,
  CMD_DELE,
  CMD_QUIT,
} CmdKind;

typedef struct {
  CmdKind kind;
  guint msgno;
} Cmd;

typedef enum {
  RETR_STATUS,   /* waiting for +OK */
  RETR_BODY,
  RETR_ENDED,    /* the terminating "." was read; RETR_DONE to report */
} RetrPhase;

typedef enum {
  BODY_BOL,      /* at the start of a line */
  BODY_MID,
  BODY_DOT,      /* a line started with '.' */
  BODY_DOT_CR,   /* ... followed by CR */
} BodyState;

typedef enum {
  READ_NEED_MORE,
  READ_LINE,
  READ_END,      /* the "." ending a multi-line reply */
  READ_FAILED,
} ReadResult;

struct _PstPop3Session {
  PstPop3TlsMode mode;
  Pop3State state;
  gboolean tls_active;
  PstSaslCredentials *creds;
  PstSasl *sasl;
  gboolean continuation;       /* the last status line was "+ ..." (ST_AUTH) */
  PstLinebuf *in;
  PstLinebuf *out;
  GHashTable *caps;            /* upper-case name → parameters */
  GArray *uidls;               /* PstPop3Uidl */
  guint list_lines;
  gboolean eof;
  GError *error;
  PstPop3EventType pending;    /* WANT_READ = nothing to report */
  char *reply_text;

  GQueue cmds;                 /* Cmd *, oldest first */
  guint n_sent;                /* the first n_sent of cmds went out */
  gboolean pipelining;
  gboolean quit_queued;
  RetrPhase retr_phase;
  BodyState body_state;
  GByteArray *data;            /* the chunk of the last DATA event */
  guint msgno;                 /* what the last event refers to */
};

static void
clear_uidl (gpointer p)
{
  g_free (((PstPop3Uidl *) p)->uidl);
}

static void
wipe_data (PstPop3Session *s)
{
  if (s->data->len > 0)
    explicit_bzero (s->data->data, s->data->len);
  g_byte_array_set_size (s->data, 0);
}

PstPop3Session *
pst_pop3_session_new (PstPop3TlsMode mode)
{
  PstPop3Session *s = g_new0 (PstPop3Session, 1);

  s->mode = mode;
  s->state = ST_GREETING;
  s->tls_active = (mode == PST_POP3_TLS_IMPLICIT);
  s->in = pst_linebuf_new (POP3_MAX_LINE);
  s->out = pst_linebuf_new (0);
  s->caps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->uidls = g_array_new (FALSE, TRUE, sizeof (PstPop3Uidl));
  g_array_set_clear_func (s->uidls, clear_uidl);
  s->pending = PST_POP3_EVENT_WANT_READ;
  s->reply_text = g_strdup ("");
  g_queue_init (&s->cmds);
  s->data = g_byte_array_new ();
  return s;
}

void
pst_pop3_session_free (PstPop3Session *s)
{
  if (s == NULL)
    return;
  pst_sasl_credentials_free (s->creds);
  pst_sasl_free (s->sasl);
  pst_linebuf_free (s->in);
  pst_linebuf_free (s->out);
  g_hash_table_unref (s->caps);
  g_array_unref (s->uidls);
  g_clear_error (&s->error);
  g_free (s->reply_text);
  g_queue_clear_full (&s->cmds, g_free);
  wipe_data (s);
  g_byte_array_unref (s->data);
  g_free (s);
}

void
pst_pop3_session_set_auth (PstPop3Session *s, const char *user, const char *password)
{
  PstSaslCredentials c = { .user = (char *) user, .password = (char *) password };

  pst_pop3_session_set_credentials (s, &c);
}

void
pst_pop3_session_set_credentials (PstPop3Session *s, const PstSaslCredentials *creds)
{
  pst_sasl_credentials_free (s->creds);
  s->creds = creds ? pst_sasl_credentials_copy (creds) : NULL;
}

void
pst_pop3_session_set_channel_binding (PstPop3Session *s, const char *type, GBytes *data)
{
  if (s->creds == NULL)
    return;
  g_free (s->creds->cb_type);
  g_clear_pointer (&s->creds->cb_data, g_bytes_unref);
  s->creds->cb_type = g_strdup (type);
  s->creds->cb_data = data ? g_bytes_ref (data) : NULL;
}

static void
fail (PstPop3Session *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
fail (PstPop3Session *s, const char *format, ...)
{
  va_list ap;

  if (s->state == ST_FAILED)
    return;
  va_start (ap, format);
  s->error = g_error_new_valist (PST_ERROR, PST_ERROR_NETWORK, format, ap);
  va_end (ap);
  s->state = ST_FAILED;
  s->pending = PST_POP3_EVENT_WANT_READ;
  pst_linebuf_clear (s->out);
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

static void
send_line (PstPop3Session *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
send_line (PstPop3Session *s, const char *format, ...)
{
  va_list ap;
  g_autofree char *line = NULL;

  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  pst_linebuf_append_str (s->out, line);
  pst_linebuf_append (s->out, "\r\n", 2);
}

static gboolean
take_line (PstPop3Session *s, const char **line, gsize *len, gboolean *got)
{
  switch (pst_linebuf_take_line (s->in, line, len))
    {
    case PST_LINEBUF_NEED_MORE:
      *got = FALSE;
      return TRUE;
    case PST_LINEBUF_TOO_LONG:
      fail (s, _("server sent a line longer than %u bytes; aborting"), POP3_MAX_LINE);
      return FALSE;
    case PST_LINEBUF_LINE:
      break;
    }
  *got = TRUE;
  return TRUE;
}

/* Reads a "+OK ..." or "-ERR ..." line into reply_text and *ok. */
static ReadResult
read_status (PstPop3Session *s, gboolean *ok)
{
  const char *line;
  gsize len, skip;
  gboolean got;

  if (!take_line (s, &line, &len, &got))
    return READ_FAILED;
  if (!got)
    return READ_NEED_MORE;
  s->continuation = FALSE;
  if (len >= 3 && memcmp (line, "+OK", 3) == 0 && (len == 3 || line[3] == ' '))
    {
      *ok = TRUE;
      skip = 3;
    }
  else if (s->state == ST_AUTH && len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' '))
    {
      /* RFC 5034 §4: a continuation carrying a base64 challenge. */
      *ok = TRUE;
      s->continuation = TRUE;
      skip = 1;
    }
  else if (len >= 4 && memcmp (line, "-ERR", 4) == 0 && (len == 4 || line[4] == ' '))
    {
      *ok = FALSE;
      skip = 4;
    }
  else
    {
      g_autofree char *shown = sanitize (line, MIN (len, 80));
      fail (s, _("malformed reply from server: \"%s\""), shown);
      return READ_FAILED;
    }
  if (len > skip)
    skip++;
  g_free (s->reply_text);
  s->reply_text = sanitize (line + skip, len - skip);
  return READ_LINE;
}

/* One line of a multi-line reply, with its leading dot removed. */
static ReadResult
read_list_line (PstPop3Session *s, const char **line, gsize *len)
{
  gboolean got;

  if (!take_line (s, line, len, &got))
    return READ_FAILED;
  if (!got)
    return READ_NEED_MORE;
  if ((*line)[0] == '.')
    {
      if (*len == 1)
        return READ_END;
      (*line)++;
      (*len)--;
    }
  return READ_LINE;
}

static const char *
err_text (PstPop3Session *s)
{
  return s->reply_text[0] != '\0' ? s->reply_text : _("-ERR without a reason");
}

static void
send_auth (PstPop3Session *s, const char *mech)
{
  g_autoptr (GError) error = NULL;
  char *line = NULL;

  if (!(s->sasl = pst_sasl_new (mech, s->creds, &error)))
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

/* What a RESP-CODES code (RFC 2449, RFC 3206) in a refusal means. */
static const char *
resp_code_hint (const char *text)
{
  if (g_str_has_prefix (text, "[IN-USE]"))
    return _(" (the mailbox is in use by another session; try again later)");
  if (g_str_has_prefix (text, "[LOGIN-DELAY]"))
    return _(" (the server allows logins only at longer intervals; try again later)");
  if (g_str_has_prefix (text, "[SYS/TEMP]"))
    return _(" (a temporary problem on the server; try again later)");
  if (g_str_has_prefix (text, "[SYS/PERM]"))
    return _(" (a permanent problem on the server)");
  if (g_str_has_prefix (text, "[AUTH]"))
    return _(" (wrong credentials)");
  return "";
}

static void
after_capa (PstPop3Session *s)
{
  if (!s->tls_active)
    {
      if (!pst_pop3_session_has_capability (s, "STLS"))
        {
          fail (s, _("server does not offer STLS; refusing to send credentials in the clear"));
          return;
        }
      send_line (s, "STLS");
      s->state = ST_STLS;
      return;
    }
  if (s->creds == NULL || s->creds->user == NULL)
    {
      fail (s, _("no credentials set for POP3; cannot log in"));
      return;
    }
  s->pipelining = pst_pop3_session_has_capability (s, "PIPELINING");
  /* SASL when the server offers a mechanism we can use; else USER/PASS
   * (RFC 1939), which is PLAIN's equal on a verified TLS session.  APOP
   * is never used. */
  if (pst_pop3_session_has_capability (s, "SASL"))
    {
      const char *mech = pst_sasl_choose (g_hash_table_lookup (s->caps, "SASL"), s->creds, NULL);

      if (mech != NULL)
        {
          send_auth (s, mech);
          return;
        }
    }
  if (s->creds->password == NULL
      || !(pst_sasl_allowed (s->creds, "USER") || pst_sasl_allowed (s->creds, "PLAIN")))
    {
      g_autoptr (GError) error = NULL;

      pst_sasl_choose (g_hash_table_lookup (s->caps, "SASL"), s->creds, &error);
      fail (s, "%s", error->message);
      return;
    }
  if (strpbrk (s->creds->user, "\r\n") != NULL || strpbrk (s->creds->password, "\r\n") != NULL)
    {
      fail (s, _("the POP3 user name or password contains a line break; refusing to send it"));
      return;
    }
  send_line (s, "USER %s", s->creds->user);
  s->state = ST_USER;
}

static void
handle_capa_line (PstPop3Session *s, const char *line, gsize len)
{
  g_autofree char *copy = g_strndup (line, len);
  char *space = strchr (copy, ' ');
  g_autofree char *name = NULL;

  if (space != NULL)
    *space = '\0';
  name = g_ascii_strup (copy, -1);
  if (name[0] != '\0')
    g_hash_table_replace (s->caps, g_steal_pointer (&name),
                          g_strdup (space != NULL ? space + 1 : ""));
}

static gboolean
parse_uidl (const char *line, gsize len, PstPop3Uidl *out)
{
  gsize i = 0, start, end;
  guint64 msgno = 0;

  while (i < len && g_ascii_isdigit (line[i]))
    {
      msgno = msgno * 10 + (line[i] - '0');
      if (msgno > G_MAXUINT)
        return FALSE;
      i++;
    }
  if (i == 0 || msgno == 0 || i == len || line[i] != ' ')
    return FALSE;
  while (i < len && line[i] == ' ')
    i++;
  start = i;
  end = len;
  while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
    end--;
  if (end == start || end - start > POP3_MAX_UIDL_LEN)
    return FALSE;
  for (i = start; i < end; i++)
    if ((guchar) line[i] < 0x21 || (guchar) line[i] > 0x7e)
      return FALSE;
  out->msgno = msgno;
  out->uidl = g_strndup (line + start, end - start);
  return TRUE;
}

static void
send_command (PstPop3Session *s, const Cmd *cmd)
{
  switch (cmd->kind)
    {
    case CMD_RETR: send_line (s, "RETR %u", cmd->msgno); break;
    case CMD_DELE: send_line (s, "DELE %u", cmd->msgno); break;
    case CMD_QUIT: send_line (s, "QUIT"); break;
    }
}

static void
flush_commands (PstPop3Session *s)
{
  while (s->n_sent < s->cmds.length && (s->n_sent == 0 || s->pipelining))
    send_command (s, g_queue_peek_nth (&s->cmds, s->n_sent++));
}

static void
enqueue (PstPop3Session *s, CmdKind kind, guint msgno)
{
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->kind = kind;
  cmd->msgno = msgno;
  g_queue_push_tail (&s->cmds, cmd);
  flush_commands (s);
}

static void
complete_head (PstPop3Session *s)
{
  g_free (g_queue_pop_head (&s->cmds));
  s->n_sent--;
  s->retr_phase = RETR_STATUS;
  flush_commands (s);
}

static void
handle_status (PstPop3Session *s, gboolean ok)
{
  switch (s->state)
    {
    case ST_GREETING:
      if (!ok)
        {
          fail (s, _("server refused the connection: %s"), err_text (s));
          return;
        }
      send_line (s, "CAPA");
      s->state = ST_CAPA;
      return;

    case ST_CAPA:
      g_hash_table_remove_all (s->caps);
      if (ok)
        {
          s->state = ST_CAPA_LIST;
          s->list_lines = 0;
        }
      else
        after_capa (s);
      return;

    case ST_STLS:
      if (!ok)
        {
          fail (s, _("server refused STLS: %s; refusing to continue without TLS"), err_text (s));
          return;
        }
      if (pst_linebuf_get_pending (s->in) > 0)
        {
          fail (s, _("plaintext injected after the STLS reply (possible attack); aborting"));
          return;
        }
      s->state = ST_WAIT_TLS;
      return;

    case ST_AUTH:
      if (!ok)
        {
          fail (s, _("authentication failed (%s): %s%s"), pst_sasl_mechanism (s->sasl),
                err_text (s), resp_code_hint (s->reply_text));
          return;
        }
      if (s->continuation)
        {
          g_autoptr (GError) error = NULL;
          char *response = NULL;

          if (pst_sasl_step (s->sasl, s->reply_text, &response, &error) == PST_SASL_ERROR)
            {
              fail (s, "%s", error->message);
              return;
            }
          pst_linebuf_append_str (s->out, response);
          pst_linebuf_append (s->out, "\r\n", 2);
          pst_secret_free (response);
          return;
        }
      if (!pst_sasl_complete (s->sasl))
        {
          fail (s, _("the server accepted %s before completing it (no server proof); aborting"),
                pst_sasl_mechanism (s->sasl));
          return;
        }
      send_line (s, "UIDL");
      s->state = ST_UIDL;
      return;

    case ST_USER:
    case ST_PASS:
      if (!ok)
        {
          fail (s, _("authentication failed: %s%s"), err_text (s), resp_code_hint (s->reply_text));
          return;
        }
      if (s->state == ST_USER)
        {
          /* Straight into the buffer, so that no other copy needs wiping. */
          pst_linebuf_append_str (s->out, "PASS ");
          pst_linebuf_append_str (s->out, s->creds->password);
          pst_linebuf_append (s->out, "\r\n", 2);
          s->state = ST_PASS;
        }
      else
        {
          send_line (s, "UIDL");
          s->state = ST_UIDL;
        }
      return;

    case ST_UIDL:
      if (!ok)
        {
          fail (s, _("server does not support UIDL; refusing to fetch (%s)"), err_text (s));
          return;
        }
      g_array_set_size (s->uidls, 0);
      s->list_lines = 0;
      s->state = ST_UIDL_LIST;
      return;

    case ST_TRANS:
      {
        const Cmd *cmd = g_queue_peek_head (&s->cmds);

        if (cmd == NULL)
          {
            fail (s, _("server sent an unexpected reply: %s %s"), ok ? "+OK" : "-ERR",
                  s->reply_text);
            return;
          }
        switch (cmd->kind)
          {
          case CMD_RETR:
            if (!ok)
              {
                fail (s, _("server refused to send message %u: %s"), cmd->msgno, err_text (s));
                return;
              }
            s->retr_phase = RETR_BODY;
            s->body_state = BODY_BOL;
            return;
          case CMD_DELE:
            if (!ok)
              {
                fail (s, _("server refused to delete message %u: %s"), cmd->msgno,
                      err_text (s));
                return;
              }
            s->msgno = cmd->msgno;
            s->pending = PST_POP3_EVENT_DELE_DONE;
            complete_head (s);
            return;
          case CMD_QUIT:
            if (!ok)
              {
                fail (s, _("server did not commit the deletions: %s"), err_text (s));
                return;
              }
            complete_head (s);
            s->state = ST_DONE;
            return;
          }
        break;
      }

    case ST_CAPA_LIST:
    case ST_WAIT_TLS:
    case ST_UIDL_LIST:
    case ST_DONE:
    case ST_FAILED:
      break;
    }
  g_assert_not_reached ();
}

/* Reads the lines of a CAPA or UIDL reply; FALSE when more bytes are needed
 * or the session failed. */
static gboolean
read_list (PstPop3Session *s)
{
  for (;;)
    {
      const char *line;
      gsize len;

      switch (read_list_line (s, &line, &len))
        {
        case READ_NEED_MORE:
        case READ_FAILED:
          return FALSE;
        case READ_END:
          if (s->state == ST_CAPA_LIST)
            after_capa (s);
          else
            s->state = ST_TRANS;
          return TRUE;
        case READ_LINE:
          break;
        }

      if (s->state == ST_CAPA_LIST)
        {
          if (++s->list_lines > POP3_MAX_CAPA_LINES)
            {
              fail (s, _("server sent more than %u capabilities; aborting"),
                    POP3_MAX_CAPA_LINES);
              return FALSE;
            }
          handle_capa_line (s, line, len);
        }
      else
        {
          PstPop3Uidl u;

          if (++s->list_lines > POP3_MAX_UIDLS)
            {
              fail (s, _("server lists more than %u messages; refusing to fetch"),
                    POP3_MAX_UIDLS);
              return FALSE;
            }
          if (!parse_uidl (line, len, &u))
            {
              g_autofree char *shown = sanitize (line, MIN (len, 80));
              fail (s, _("malformed UIDL line from server: \"%s\""), shown);
              return FALSE;
            }
          g_array_append_val (s->uidls, u);
        }
    }
}

/* Un-dot-stuffs what is buffered of the message being retrieved into
 * s->data.  FALSE when nothing could be done without more bytes. */
static gboolean
read_body (PstPop3Session *s)
{
  const Cmd *cmd = g_queue_peek_head (&s->cmds);
  gsize avail, i = 0;
  const guint8 *p = pst_linebuf_peek (s->in, &avail);
  gboolean ended = FALSE;

  wipe_data (s);
  while (i < avail && !ended)
    {
      switch (s->body_state)
        {
        case BODY_BOL:
          if (p[i] == '.')
            {
              s->body_state = BODY_DOT;
              i++;
            }
          else
            s->body_state = BODY_MID;
          break;

        case BODY_MID:
          {
            const guint8 *nl = memchr (p + i, '\n', avail - i);
            gsize n = nl != NULL ? (gsize) (nl - (p + i)) + 1 : avail - i;

            g_byte_array_append (s->data, p + i, n);
            i += n;
            if (nl != NULL)
              s->body_state = BODY_BOL;
            break;
          }

        case BODY_DOT:
          /* ".." is a stuffed ".", "." CRLF the end; the dot of any other
           * line starting with one is dropped too (RFC 1939 §3). */
          if (p[i] == '\r')
            {
              s->body_state = BODY_DOT_CR;
              i++;
            }
          else if (p[i] == '\n')
            {
              ended = TRUE;
              i++;
            }
          else
            s->body_state = BODY_MID;
          break;

        case BODY_DOT_CR:
          if (p[i] == '\n')
            {
              ended = TRUE;
              i++;
            }
          else
            {
              g_byte_array_append (s->data, (const guint8 *) "\r", 1);
              s->body_state = BODY_MID;
            }
          break;
        }
    }
  pst_linebuf_consume (s->in, i);

  if (ended)
    s->retr_phase = RETR_ENDED;
  if (s->data->len > 0)
    {
      s->msgno = cmd->msgno;
      s->pending = PST_POP3_EVENT_DATA;
    }
  return ended || s->data->len > 0;
}

static void
handle_eof (PstPop3Session *s)
{
  const Cmd *cmd = g_queue_peek_head (&s->cmds);

  if (s->state == ST_TRANS && cmd != NULL && cmd->kind == CMD_RETR
      && s->retr_phase == RETR_BODY)
    fail (s, _("connection closed in the middle of message %u"), cmd->msgno);
  else if (pst_linebuf_get_pending (s->in) > 0 || s->state == ST_CAPA_LIST
           || s->state == ST_UIDL_LIST)
    fail (s, _("connection closed in the middle of a reply"));
  else if (s->state == ST_TRANS && cmd != NULL && cmd->kind == CMD_QUIT)
    fail (s, _("connection closed before the server answered QUIT; "
               "deletions may not have been committed"));
  else if (s->state == ST_GREETING)
    fail (s, _("server closed the connection before its greeting"));
  else if (s->state == ST_USER || s->state == ST_PASS || s->state == ST_AUTH)
    fail (s, _("server closed the connection during authentication"));
  else
    fail (s, _("server closed the connection unexpectedly"));
}

static void
run (PstPop3Session *s)
{
  while (s->pending == PST_POP3_EVENT_WANT_READ)
    {
      const Cmd *cmd;
      gboolean ok;

      switch (s->state)
        {
        case ST_FAILED:
        case ST_DONE:
          return;

        case ST_WAIT_TLS:
          if (pst_linebuf_get_pending (s->in) > 0)
            fail (s, _("plaintext injected after the STLS reply (possible attack); aborting"));
          else if (s->eof)
            handle_eof (s);
          return;

        case ST_CAPA_LIST:
        case ST_UIDL_LIST:
          if (!read_list (s))
            {
              if (s->eof && s->state != ST_FAILED)
                handle_eof (s);
              return;
            }
          continue;

        case ST_TRANS:
          cmd = g_queue_peek_head (&s->cmds);
          if (cmd != NULL && cmd->kind == CMD_RETR && s->retr_phase == RETR_ENDED)
            {
              s->msgno = cmd->msgno;
              s->pending = PST_POP3_EVENT_RETR_DONE;
              complete_head (s);
              return;
            }
          if (cmd != NULL && cmd->kind == CMD_RETR && s->retr_phase == RETR_BODY)
            {
              if (!read_body (s))
                {
                  if (s->eof)
                    handle_eof (s);
                  return;
                }
              continue;
            }
          break;

        default:
          break;
        }

      switch (read_status (s, &ok))
        {
        case READ_NEED_MORE:
          if (s->eof)
            handle_eof (s);
          return;
        case READ_FAILED:
          return;
        case READ_LINE:
        case READ_END:
          handle_status (s, ok);
          break;
        }
    }
}

static gboolean
propagate_failure (PstPop3Session *s, GError **error)
{
  if (s->state != ST_FAILED)
    return TRUE;
  if (error != NULL)
    *error = g_error_copy (s->error);
  return FALSE;
}

gboolean
pst_pop3_session_feed (PstPop3Session *s, const guint8 *data, gsize len, GError **error)
{
  if (s->state != ST_FAILED && s->state != ST_DONE)
    {
      pst_linebuf_append (s->in, data, len);
      run (s);
    }
  return propagate_failure (s, error);
}

void
pst_pop3_session_feed_eof (PstPop3Session *s)
{
  s->eof = TRUE;
  run (s);
}

const guint8 *
pst_pop3_session_get_output (PstPop3Session *s, gsize *len_out)
{
  return pst_linebuf_peek (s->out, len_out);
}

void
pst_pop3_session_consume_output (PstPop3Session *s, gsize n)
{
  pst_linebuf_consume (s->out, n);
}

PstPop3EventType
pst_pop3_session_next_event (PstPop3Session *s)
{
  PstPop3EventType ev;

  if (s->pending == PST_POP3_EVENT_WANT_READ)
    run (s);
  if (s->state == ST_FAILED)
    return PST_POP3_EVENT_ERROR;
  if (s->pending != PST_POP3_EVENT_WANT_READ)
    {
      ev = s->pending;
      s->pending = PST_POP3_EVENT_WANT_READ;
      return ev;
    }
  switch (s->state)
    {
    case ST_WAIT_TLS: return PST_POP3_EVENT_WANT_TLS;
    case ST_TRANS:
      return s->cmds.length == 0 ? PST_POP3_EVENT_READY : PST_POP3_EVENT_WANT_READ;
    case ST_DONE: return PST_POP3_EVENT_DONE;
    default: return PST_POP3_EVENT_WANT_READ;
    }
}

void
pst_pop3_session_tls_started (PstPop3Session *s)
{
  if (s->mode == PST_POP3_TLS_IMPLICIT)
    return;
  g_return_if_fail (s->state == ST_WAIT_TLS);
  s->tls_active = TRUE;
  g_hash_table_remove_all (s->caps);
  send_line (s, "CAPA");
  s->state = ST_CAPA;
}

const GArray *
pst_pop3_session_get_uidls (PstPop3Session *s)
{
  return s->uidls;
}

void
pst_pop3_session_retr (PstPop3Session *s, guint msgno)
{
  g_return_if_fail (s->state == ST_TRANS && !s->quit_queued);
  enqueue (s, CMD_RETR, msgno);
}

void
pst_pop3_session_dele (PstPop3Session *s, guint msgno)
{
  g_return_if_fail (s->state == ST_TRANS && !s->quit_queued);
  enqueue (s, CMD_DELE, msgno);
}

void
pst_pop3_session_quit (PstPop3Session *s)
{
  g_return_if_fail (s->state == ST_TRANS && !s->quit_queued);
  s->quit_queued = TRUE;
  enqueue (s, CMD_QUIT, 0);
}

const guint8 *
pst_pop3_session_take_data (PstPop3Session *s, gsize *len_out)
{
  *len_out = s->data->len;
  return s->data->data;
}

guint
pst_pop3_session_get_msgno (PstPop3Session *s)
{
  return s->msgno;
}

const char *
pst_pop3_session_get_reply_text (PstPop3Session *s)
{
  return s->reply_text;
}

const GError *
pst_pop3_session_get_error (PstPop3Session *s)
{
  return s->error;
}

gboolean
pst_pop3_session_has_capability (PstPop3Session *s, const char *name)
{
  g_autofree char *key = g_ascii_strup (name, -1);

  return g_hash_table_contains (s->caps, key);
}

const char *
pst_pop3_session_get_capability (PstPop3Session *s, const char *name)
{
  g_autofree char *key = g_ascii_strup (name, -1);

  return g_hash_table_lookup (s->caps, key);
}

guint
pst_pop3_session_get_login_delay (PstPop3Session *s)
{
  const char *v = pst_pop3_session_get_capability (s, "LOGIN-DELAY");
  guint64 n = 0;
  g_auto (GStrv) words = NULL;

  if (v == NULL)
    return 0;
  /* "LOGIN-DELAY n" or "LOGIN-DELAY n USER" (RFC 2449 §6.8). */
  words = g_strsplit (v, " ", 2);
  if (!g_ascii_string_to_unsigned (words[0], 10, 0, 86400 * 7, &n, NULL))
    return 0;
  return (guint) n;
}
