/* pop3.c — the POP3 client engine (see pop3.h).
 *
 * The line protocol shell (lineproto.h) holds the bytes, the credentials
 * and the first failure; this file holds POP3.  Each state says in the
 * table `states` what it sends when the session enters it and what a
 * status line ("+OK", "-ERR") does in it; the states that read a
 * multi-line list (CAPA, UIDL) take its lines instead.  In the transaction
 * state the commands the driver gave are answered in order, RETR's message
 * streamed out as it comes. */
#include "net/pop3.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "net/lineproto.h"
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
  PstLineProto *lp;
  PstPop3TlsMode mode;
  Pop3State state;
  gboolean tls_active;
  const char *mech;            /* the SASL mechanism ST_AUTH starts (static) */
  gboolean continuation;       /* the last status line was "+ ..." (ST_AUTH) */
  GHashTable *caps;            /* upper-case name → parameters */
  GArray *uidls;               /* PstPop3Uidl */
  guint list_lines;
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

static void set_state (PstPop3Session *s, Pop3State state);

static void
clear_uidl (gpointer p)
{
  g_free (((PstPop3Uidl *) p)->uidl);
}

PstPop3Session *
pst_pop3_session_new (PstPop3TlsMode mode)
{
  PstPop3Session *s = g_new0 (PstPop3Session, 1);

  s->lp = pst_lineproto_new ("POP3", POP3_MAX_LINE);
  s->mode = mode;
  s->state = ST_GREETING;
  s->tls_active = (mode == PST_POP3_TLS_IMPLICIT);
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
  pst_lineproto_free (s->lp);
  g_hash_table_unref (s->caps);
  g_array_unref (s->uidls);
  g_free (s->reply_text);
  g_queue_clear_full (&s->cmds, g_free);
  pst_secret_byte_array_clear (s->data);
  g_byte_array_unref (s->data);
  g_free (s);
}

void
pst_pop3_session_set_auth (PstPop3Session *s, const char *user, const char *password)
{
  PstSaslCredentials c = { .user = (char *) user, .password = (char *) password };

  pst_lineproto_set_credentials (s->lp, &c);
}

void
pst_pop3_session_set_credentials (PstPop3Session *s, const PstSaslCredentials *creds)
{
  pst_lineproto_set_credentials (s->lp, creds);
}

void
pst_pop3_session_set_channel_binding (PstPop3Session *s, const char *type, GBytes *data)
{
  pst_lineproto_set_channel_binding (s->lp, type, data);
}

/* Whether the session is in @state and has not failed: what the driver's
 * calls require. */
static gboolean
in_state (PstPop3Session *s, Pop3State state)
{
  return s->state == state && !pst_lineproto_failed (s->lp);
}

static ReadResult
take_line (PstPop3Session *s, const char **line, gsize *len)
{
  switch (pst_lineproto_take_line (s->lp, line, len))
    {
    case PST_LINEBUF_NEED_MORE:
      return READ_NEED_MORE;
    case PST_LINEBUF_TOO_LONG:
      pst_lineproto_fail (s->lp, _("server sent a line longer than %u bytes; aborting"),
                          POP3_MAX_LINE);
      return READ_FAILED;
    case PST_LINEBUF_LINE:
      break;
    }
  return READ_LINE;
}

/* Reads a "+OK ..." or "-ERR ..." line into reply_text and *ok. */
static ReadResult
read_status (PstPop3Session *s, gboolean *ok)
{
  const char *line;
  gsize len, skip;
  ReadResult r = take_line (s, &line, &len);

  if (r != READ_LINE)
    return r;
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
      g_autofree char *shown = pst_lineproto_sanitize (line, MIN (len, 80));
      pst_lineproto_fail (s->lp, _("malformed reply from server: \"%s\""), shown);
      return READ_FAILED;
    }
  if (len > skip)
    skip++;
  g_free (s->reply_text);
  s->reply_text = pst_lineproto_sanitize (line + skip, len - skip);
  return READ_LINE;
}

/* One line of a multi-line reply, with its leading dot removed. */
static ReadResult
read_list_line (PstPop3Session *s, const char **line, gsize *len)
{
  ReadResult r = take_line (s, line, len);

  if (r != READ_LINE)
    return r;
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
    case CMD_RETR: pst_lineproto_send_line (s->lp, "RETR %u", cmd->msgno); break;
    case CMD_DELE: pst_lineproto_send_line (s->lp, "DELE %u", cmd->msgno); break;
    case CMD_QUIT: pst_lineproto_send_line (s->lp, "QUIT"); break;
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

/* After CAPA: STLS first; over TLS, SASL when the server offers a
 * mechanism we can use, else USER/PASS (RFC 1939), which is PLAIN's equal
 * on a verified TLS session.  APOP is never used. */
static void
after_capa (PstPop3Session *s)
{
  const PstSaslCredentials *creds = pst_lineproto_get_credentials (s->lp);

  if (!s->tls_active)
    {
      if (!pst_pop3_session_has_capability (s, "STLS"))
        {
          pst_lineproto_fail (s->lp, _("server does not offer STLS; refusing to send "
                                       "credentials in the clear"));
          return;
        }
      set_state (s, ST_STLS);
      return;
    }
  if (creds == NULL || creds->user == NULL)
    {
      pst_lineproto_fail (s->lp, _("no credentials set for POP3; cannot log in"));
      return;
    }
  s->pipelining = pst_pop3_session_has_capability (s, "PIPELINING");
  if (pst_pop3_session_has_capability (s, "SASL"))
    {
      s->mech = pst_sasl_choose (g_hash_table_lookup (s->caps, "SASL"), creds, NULL);
      if (s->mech != NULL)
        {
          set_state (s, ST_AUTH);
          return;
        }
    }
  if (creds->password == NULL
      || !(pst_sasl_allowed (creds, "USER") || pst_sasl_allowed (creds, "PLAIN")))
    {
      g_autoptr (GError) error = NULL;

      pst_sasl_choose (g_hash_table_lookup (s->caps, "SASL"), creds, &error);
      pst_lineproto_fail (s->lp, "%s", error->message);
      return;
    }
  if (strpbrk (creds->user, "\r\n") != NULL || strpbrk (creds->password, "\r\n") != NULL)
    {
      pst_lineproto_fail (s->lp, _("the POP3 user name or password contains a line break; "
                                   "refusing to send it"));
      return;
    }
  set_state (s, ST_USER);
}

/* --- What each state sends on entry --------------------------------------- */

static void
enter_capa (PstPop3Session *s)
{
  /* After TLS the capabilities said in the clear count for nothing. */
  g_hash_table_remove_all (s->caps);
  pst_lineproto_send_line (s->lp, "CAPA");
}

static void
enter_capa_list (PstPop3Session *s)
{
  s->list_lines = 0;
}

static void
enter_stls (PstPop3Session *s)
{
  pst_lineproto_send_line (s->lp, "STLS");
}

static void
enter_user (PstPop3Session *s)
{
  pst_lineproto_send_line (s->lp, "USER %s", pst_lineproto_get_credentials (s->lp)->user);
}

static void
enter_pass (PstPop3Session *s)
{
  /* Straight into the queue, so that no other copy needs wiping. */
  pst_lineproto_send (s->lp, "PASS ", 5);
  pst_lineproto_send_secret_line (s->lp, pst_lineproto_get_credentials (s->lp)->password);
}

static void
enter_auth (PstPop3Session *s)
{
  pst_lineproto_auth_begin (s->lp, s->mech);
}

static void
enter_uidl (PstPop3Session *s)
{
  pst_lineproto_send_line (s->lp, "UIDL");
}

static void
enter_uidl_list (PstPop3Session *s)
{
  g_array_set_size (s->uidls, 0);
  s->list_lines = 0;
}

static void
enter_done (PstPop3Session *s)
{
  pst_lineproto_close (s->lp);
}

/* --- What a status line, or a list's line, does in each state -------------- */

static void
greeting_status (PstPop3Session *s, gboolean ok)
{
  if (!ok)
    {
      pst_lineproto_fail (s->lp, _("server refused the connection: %s"), err_text (s));
      return;
    }
  set_state (s, ST_CAPA);
}

/* -ERR to CAPA: a server without RFC 2449, which has no STLS either. */
static void
capa_status (PstPop3Session *s, gboolean ok)
{
  if (ok)
    set_state (s, ST_CAPA_LIST);
  else
    after_capa (s);
}

/* @line NULL: the list ended. */
static void
capa_line (PstPop3Session *s, const char *line, gsize len)
{
  if (line == NULL)
    {
      after_capa (s);
      return;
    }
  if (++s->list_lines > POP3_MAX_CAPA_LINES)
    {
      pst_lineproto_fail (s->lp, _("server sent more than %u capabilities; aborting"),
                          POP3_MAX_CAPA_LINES);
      return;
    }
  handle_capa_line (s, line, len);
}

static void
stls_status (PstPop3Session *s, gboolean ok)
{
  if (!ok)
    {
      pst_lineproto_fail (s->lp, _("server refused STLS: %s; refusing to continue without TLS"),
                          err_text (s));
      return;
    }
  /* Anything already buffered came before the TLS handshake and would be
   * taken as said over TLS. */
  if (pst_lineproto_pending_input (s->lp) > 0)
    {
      pst_lineproto_fail (s->lp, _("plaintext injected after the STLS reply (possible attack); "
                                   "aborting"));
      return;
    }
  set_state (s, ST_WAIT_TLS);
}

static void
auth_status (PstPop3Session *s, gboolean ok)
{
  if (!ok)
    {
      pst_lineproto_fail (s->lp, _("authentication failed (%s): %s%s"),
                          pst_lineproto_auth_mechanism (s->lp), err_text (s),
                          resp_code_hint (s->reply_text));
      return;
    }
  if (s->continuation)
    {
      pst_lineproto_auth_step (s->lp, s->reply_text);
      return;
    }
  if (!pst_lineproto_auth_complete (s->lp))
    {
      pst_lineproto_fail (s->lp, _("the server accepted %s before completing it (no server "
                                   "proof); aborting"), pst_lineproto_auth_mechanism (s->lp));
      return;
    }
  set_state (s, ST_UIDL);
}

/* USER and PASS alike. */
static void
login_status (PstPop3Session *s, gboolean ok)
{
  if (!ok)
    {
      pst_lineproto_fail (s->lp, _("authentication failed: %s%s"), err_text (s),
                          resp_code_hint (s->reply_text));
      return;
    }
  set_state (s, s->state == ST_USER ? ST_PASS : ST_UIDL);
}

static void
uidl_status (PstPop3Session *s, gboolean ok)
{
  if (!ok)
    {
      pst_lineproto_fail (s->lp, _("server does not support UIDL; refusing to fetch (%s)"),
                          err_text (s));
      return;
    }
  set_state (s, ST_UIDL_LIST);
}

static void
uidl_line (PstPop3Session *s, const char *line, gsize len)
{
  PstPop3Uidl u;

  if (line == NULL)
    {
      set_state (s, ST_TRANS);
      return;
    }
  if (++s->list_lines > POP3_MAX_UIDLS)
    {
      pst_lineproto_fail (s->lp, _("server lists more than %u messages; refusing to fetch"),
                          POP3_MAX_UIDLS);
      return;
    }
  if (!parse_uidl (line, len, &u))
    {
      g_autofree char *shown = pst_lineproto_sanitize (line, MIN (len, 80));
      pst_lineproto_fail (s->lp, _("malformed UIDL line from server: \"%s\""), shown);
      return;
    }
  g_array_append_val (s->uidls, u);
}

/* The status of the oldest command outstanding. */
static void
trans_status (PstPop3Session *s, gboolean ok)
{
  const Cmd *cmd = g_queue_peek_head (&s->cmds);

  if (cmd == NULL)
    {
      pst_lineproto_fail (s->lp, _("server sent an unexpected reply: %s %s"), ok ? "+OK" : "-ERR",
                          s->reply_text);
      return;
    }
  switch (cmd->kind)
    {
    case CMD_RETR:
      if (!ok)
        {
          pst_lineproto_fail (s->lp, _("server refused to send message %u: %s"), cmd->msgno,
                              err_text (s));
          return;
        }
      s->retr_phase = RETR_BODY;
      s->body_state = BODY_BOL;
      return;
    case CMD_DELE:
      if (!ok)
        {
          pst_lineproto_fail (s->lp, _("server refused to delete message %u: %s"), cmd->msgno,
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
          pst_lineproto_fail (s->lp, _("server did not commit the deletions: %s"), err_text (s));
          return;
        }
      complete_head (s);
      set_state (s, ST_DONE);
      return;
    }
}

/* --- The states ------------------------------------------------------------ */

typedef struct {
  const char *name;                                            /* for traces */
  void (*enter) (PstPop3Session *s);                           /* what goes out, or NULL */
  void (*on_status) (PstPop3Session *s, gboolean ok);          /* NULL: none is expected */
  void (*on_line) (PstPop3Session *s, const char *line, gsize len);  /* a list's states */
  PstPop3EventType event;      /* what the driver is told while it lasts (ST_TRANS: READY
                                * once no command is outstanding) */
  const char *eof_error;       /* the connection closed here */
} Pop3StateInfo;

#define WANT_READ PST_POP3_EVENT_WANT_READ
#define DURING_AUTH N_("server closed the connection during authentication")
#define MID_REPLY N_("connection closed in the middle of a reply")

static const Pop3StateInfo states[] = {
  [ST_GREETING] = { "greeting", NULL, greeting_status, NULL, WANT_READ,
                    N_("server closed the connection before its greeting") },
  [ST_CAPA] = { "capa", enter_capa, capa_status, NULL, WANT_READ, NULL },
  [ST_CAPA_LIST] = { "capa-list", enter_capa_list, NULL, capa_line, WANT_READ, MID_REPLY },
  [ST_STLS] = { "stls", enter_stls, stls_status, NULL, WANT_READ, NULL },
  [ST_WAIT_TLS] = { "wait-tls", NULL, NULL, NULL, PST_POP3_EVENT_WANT_TLS, NULL },
  [ST_USER] = { "user", enter_user, login_status, NULL, WANT_READ, DURING_AUTH },
  [ST_PASS] = { "pass", enter_pass, login_status, NULL, WANT_READ, DURING_AUTH },
  [ST_AUTH] = { "auth", enter_auth, auth_status, NULL, WANT_READ, DURING_AUTH },
  [ST_UIDL] = { "uidl", enter_uidl, uidl_status, NULL, WANT_READ, NULL },
  [ST_UIDL_LIST] = { "uidl-list", enter_uidl_list, NULL, uidl_line, WANT_READ, MID_REPLY },
  [ST_TRANS] = { "transaction", NULL, trans_status, NULL, PST_POP3_EVENT_READY, NULL },
  [ST_DONE] = { "done", enter_done, NULL, NULL, PST_POP3_EVENT_DONE, NULL },
};

#undef WANT_READ
#undef DURING_AUTH
#undef MID_REPLY

static void
set_state (PstPop3Session *s, Pop3State state)
{
  s->state = state;
  pst_lineproto_trace (s->lp, states[state].name);
  if (states[state].enter != NULL)
    states[state].enter (s);
}

/* Reads the lines of a CAPA or UIDL reply; FALSE when more bytes are needed
 * or the session failed. */
static gboolean
read_list (PstPop3Session *s)
{
  while (!pst_lineproto_failed (s->lp))
    {
      const char *line;
      gsize len;

      switch (read_list_line (s, &line, &len))
        {
        case READ_NEED_MORE:
        case READ_FAILED:
          return FALSE;
        case READ_END:
          states[s->state].on_line (s, NULL, 0);
          return TRUE;
        case READ_LINE:
          states[s->state].on_line (s, line, len);
          break;
        }
    }
  return FALSE;
}

/* Un-dot-stuffs what is buffered of the message being retrieved into
 * s->data.  FALSE when nothing could be done without more bytes. */
static gboolean
read_body (PstPop3Session *s)
{
  const Cmd *cmd = g_queue_peek_head (&s->cmds);
  gsize avail, i = 0;
  const guint8 *p = pst_lineproto_peek_input (s->lp, &avail);
  gboolean ended = FALSE;

  pst_secret_byte_array_clear (s->data);
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
  pst_lineproto_consume_input (s->lp, i);

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
  const char *why = states[s->state].eof_error;

  if (s->state == ST_TRANS && cmd != NULL && cmd->kind == CMD_RETR
      && s->retr_phase == RETR_BODY)
    pst_lineproto_fail (s->lp, _("connection closed in the middle of message %u"), cmd->msgno);
  else if (pst_lineproto_pending_input (s->lp) > 0)
    pst_lineproto_fail (s->lp, _("connection closed in the middle of a reply"));
  else if (s->state == ST_TRANS && cmd != NULL && cmd->kind == CMD_QUIT)
    pst_lineproto_fail (s->lp, _("connection closed before the server answered QUIT; "
                                 "deletions may not have been committed"));
  else
    pst_lineproto_fail (s->lp, "%s",
                        why != NULL ? _(why) : _("server closed the connection unexpectedly"));
}

static void
run (PstPop3Session *s)
{
  while (s->pending == PST_POP3_EVENT_WANT_READ && !pst_lineproto_failed (s->lp)
         && s->state != ST_DONE)
    {
      const Pop3StateInfo *st = &states[s->state];
      const Cmd *cmd = g_queue_peek_head (&s->cmds);
      gboolean ok = FALSE;

      if (s->state == ST_WAIT_TLS)
        {
          if (pst_lineproto_pending_input (s->lp) > 0)
            pst_lineproto_fail (s->lp, _("plaintext injected after the STLS reply (possible "
                                         "attack); aborting"));
          else if (pst_lineproto_at_eof (s->lp))
            handle_eof (s);
          return;
        }
      if (st->on_line != NULL)
        {
          if (!read_list (s))
            {
              if (pst_lineproto_at_eof (s->lp) && !pst_lineproto_failed (s->lp))
                handle_eof (s);
              return;
            }
          continue;
        }
      if (s->state == ST_TRANS && cmd != NULL && cmd->kind == CMD_RETR)
        {
          if (s->retr_phase == RETR_ENDED)
            {
              s->msgno = cmd->msgno;
              s->pending = PST_POP3_EVENT_RETR_DONE;
              complete_head (s);
              return;
            }
          if (s->retr_phase == RETR_BODY)
            {
              if (!read_body (s))
                {
                  if (pst_lineproto_at_eof (s->lp))
                    handle_eof (s);
                  return;
                }
              continue;
            }
        }

      switch (read_status (s, &ok))
        {
        case READ_NEED_MORE:
          if (pst_lineproto_at_eof (s->lp))
            handle_eof (s);
          return;
        case READ_FAILED:
          return;
        case READ_LINE:
        case READ_END:
          if (st->on_status == NULL)
            {
              pst_lineproto_fail (s->lp, _("server sent an unexpected reply: %s %s"),
                                  ok ? "+OK" : "-ERR", s->reply_text);
              return;
            }
          st->on_status (s, ok);
          break;
        }
    }
}

gboolean
pst_pop3_session_feed (PstPop3Session *s, const guint8 *data, gsize len, GError **error)
{
  if (pst_lineproto_feed (s->lp, data, len))
    run (s);
  return pst_lineproto_check (s->lp, error);
}

void
pst_pop3_session_feed_eof (PstPop3Session *s)
{
  pst_lineproto_feed_eof (s->lp);
  run (s);
}

const guint8 *
pst_pop3_session_get_output (PstPop3Session *s, gsize *len_out)
{
  return pst_lineproto_get_output (s->lp, len_out);
}

void
pst_pop3_session_consume_output (PstPop3Session *s, gsize n)
{
  pst_lineproto_consume_output (s->lp, n);
}

PstPop3EventType
pst_pop3_session_next_event (PstPop3Session *s)
{
  PstPop3EventType ev;

  if (s->pending == PST_POP3_EVENT_WANT_READ)
    run (s);
  if (pst_lineproto_failed (s->lp))
    return PST_POP3_EVENT_ERROR;
  if (s->pending != PST_POP3_EVENT_WANT_READ)
    {
      ev = s->pending;
      s->pending = PST_POP3_EVENT_WANT_READ;
      return ev;
    }
  if (s->state == ST_TRANS && s->cmds.length > 0)
    return PST_POP3_EVENT_WANT_READ;
  return states[s->state].event;
}

void
pst_pop3_session_tls_started (PstPop3Session *s)
{
  if (s->mode == PST_POP3_TLS_IMPLICIT)
    return;
  g_return_if_fail (in_state (s, ST_WAIT_TLS));
  s->tls_active = TRUE;
  set_state (s, ST_CAPA);
}

const GArray *
pst_pop3_session_get_uidls (PstPop3Session *s)
{
  return s->uidls;
}

void
pst_pop3_session_retr (PstPop3Session *s, guint msgno)
{
  g_return_if_fail (in_state (s, ST_TRANS) && !s->quit_queued);
  enqueue (s, CMD_RETR, msgno);
}

void
pst_pop3_session_dele (PstPop3Session *s, guint msgno)
{
  g_return_if_fail (in_state (s, ST_TRANS) && !s->quit_queued);
  enqueue (s, CMD_DELE, msgno);
}

void
pst_pop3_session_quit (PstPop3Session *s)
{
  g_return_if_fail (in_state (s, ST_TRANS) && !s->quit_queued);
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
  return pst_lineproto_get_error (s->lp);
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
