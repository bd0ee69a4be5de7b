/* pop3-server.c — the bridge's POP3 server (see pop3-server.h).
 *
 * Written here, not taken from a library, for the reason smtp-server.c
 * gives: what exists is a whole server with its own I/O (Dovecot, Cyrus),
 * and the bridge needs a small sans-I/O one that can be fuzzed.  Output
 * goes through a linebuf, whose bytes are wiped as they leave it: RETR
 * sends decrypted mail. */
#include "net/pop3-server.h"

#include <string.h>

#include "net/linebuf.h"
#include "util/secret.h"

#define MAX_LINE 1024          /* RFC 2449 says 255 octets */
#define MAX_AUTH_FAILURES 3
#define MAX_BAD_COMMANDS 20

typedef enum {
  ST_AUTHORIZATION,
  ST_TRANSACTION,
  ST_TLS,
  ST_CLOSED,
} State;

typedef struct {
  char *uidl;
  gsize size;
  gboolean deleted;
} Message;

struct _PstPop3Server {
  PstPop3ServerHooks hooks;
  gpointer data;
  gboolean tls_available;
  gboolean tls_active;
  PstLinebuf *in;
  PstLinebuf *out;
  State state;
  char *given_user;     /* USER, waiting for PASS */
  char *user;           /* logged in */
  guint auth_failures;
  guint bad_commands;
  gboolean stalled;     /* the last feed stopped at OUTPUT_HIGH */
  GArray *messages;     /* Message */
};

static void
reply (PstPop3Server *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
reply (PstPop3Server *s, const char *format, ...)
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
clear_message (gpointer p)
{
  g_free (((Message *) p)->uidl);
}

PstPop3Server *
pst_pop3_server_new (gboolean tls_available, const PstPop3ServerHooks *hooks, gpointer data)
{
  PstPop3Server *s = g_new0 (PstPop3Server, 1);

  s->hooks = *hooks;
  s->data = data;
  s->tls_available = tls_available;
  s->in = pst_linebuf_new (MAX_LINE);
  s->out = pst_linebuf_new (0);
  s->messages = g_array_new (FALSE, TRUE, sizeof (Message));
  g_array_set_clear_func (s->messages, clear_message);
  reply (s, "+OK Postern bridge ready");
  return s;
}

void
pst_pop3_server_free (PstPop3Server *s)
{
  if (s == NULL)
    return;
  g_array_unref (s->messages);
  pst_linebuf_free (s->in);
  pst_linebuf_free (s->out);
  g_free (s->given_user);
  g_free (s->user);
  g_free (s);
}

void
pst_pop3_server_add_message (PstPop3Server *s, const char *uidl, gsize size)
{
  Message m = { g_strdup (uidl), size, FALSE };

  g_array_append_val (s->messages, m);
}

const char *
pst_pop3_server_get_user (PstPop3Server *s)
{
  return s->user;
}

const guint8 *
pst_pop3_server_get_output (PstPop3Server *s, gsize *len_out)
{
  return pst_linebuf_peek (s->out, len_out);
}

void
pst_pop3_server_consume_output (PstPop3Server *s, gsize n)
{
  pst_linebuf_consume (s->out, n);
}

static void
close_session (PstPop3Server *s)
{
  s->state = ST_CLOSED;
  pst_linebuf_clear (s->in);
}

void
pst_pop3_server_feed_eof (PstPop3Server *s)
{
  close_session (s);
}

void
pst_pop3_server_shutdown (PstPop3Server *s, const char *why)
{
  if (s->state == ST_CLOSED)
    return;
  reply (s, "-ERR [SYS/TEMP] %s", why);
  close_session (s);
}

void
pst_pop3_server_tls_started (PstPop3Server *s)
{
  s->tls_active = TRUE;
  g_clear_pointer (&s->given_user, g_free);
  pst_linebuf_clear (s->in);
  s->state = ST_AUTHORIZATION;
}

/* --- commands ---------------------------------------------------------------- */

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

/* The message numbered by @arg (1-based, not deleted), or NULL after an
 * -ERR. */
static Message *
find_message (PstPop3Server *s, const char *arg, guint *index_out)
{
  guint64 n = 0;
  char *end = NULL;

  if (!g_ascii_string_to_unsigned (arg, 10, 1, G_MAXUINT, &n, NULL))
    {
      /* "RETR 1 2": the first word only is a number; the rest is wrong. */
      n = g_ascii_strtoull (arg, &end, 10);
      if (end == arg || *end != ' ' || n == 0)
        {
          reply (s, "-ERR a message number is needed");
          return NULL;
        }
    }
  if (n > s->messages->len)
    {
      reply (s, "-ERR no message %" G_GUINT64_FORMAT, n);
      return NULL;
    }
  if (g_array_index (s->messages, Message, n - 1).deleted)
    {
      reply (s, "-ERR message %" G_GUINT64_FORMAT " is deleted", n);
      return NULL;
    }
  *index_out = (guint) (n - 1);
  return &g_array_index (s->messages, Message, n - 1);
}

static void
cmd_capa (PstPop3Server *s)
{
  reply (s, "+OK capabilities follow");
  reply (s, "TOP");
  reply (s, "UIDL");
  reply (s, "USER");
  reply (s, "RESP-CODES");
  reply (s, "AUTH-RESP-CODE");
  reply (s, "PIPELINING");
  if (s->tls_available && !s->tls_active && s->state == ST_AUTHORIZATION)
    reply (s, "STLS");
  reply (s, "IMPLEMENTATION Postern-bridge");
  reply (s, ".");
}

/* Sends @message (up to @body_lines lines of its body; -1: all) with CRLF
 * line ends, dot-stuffed, and the final dot. */
static void
send_message (PstPop3Server *s, GBytes *message, gint64 body_lines)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (message, &len), *end = p + len;
  gboolean in_body = FALSE;
  gint64 sent = 0;

  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *eol = nl ? nl : end;
      gsize n = (gsize) (eol - p);

      if (n > 0 && p[n - 1] == '\r')
        n--;
      if (in_body && body_lines >= 0 && sent++ >= body_lines)
        break;
      if (n > 0 && p[0] == '.')
        pst_linebuf_append (s->out, ".", 1);
      pst_linebuf_append (s->out, p, n);
      pst_linebuf_append (s->out, "\r\n", 2);
      if (n == 0 && !in_body)
        in_body = TRUE;
      p = nl ? nl + 1 : end;
    }
  reply (s, ".");
}

static void
cmd_retr (PstPop3Server *s, const char *rest, gboolean top)
{
  guint index = 0;
  Message *m = find_message (s, rest, &index);
  gint64 lines = -1;
  g_autoptr (GBytes) message = NULL;
  g_autoptr (GError) error = NULL;

  if (m == NULL)
    return;
  if (top)
    {
      const char *sp = strchr (rest, ' ');
      guint64 n = 0;

      if (sp == NULL || !g_ascii_string_to_unsigned (sp + 1, 10, 0, G_MAXINT64, &n, NULL))
        {
          reply (s, "-ERR syntax: TOP MSG LINES");
          return;
        }
      lines = (gint64) n;
    }
  if (!(message = s->hooks.retrieve (s->data, index, &error)))
    {
      reply (s, "-ERR %s", error ? error->message : "cannot read the message");
      return;
    }
  reply (s, "+OK %" G_GSIZE_FORMAT " octets", g_bytes_get_size (message));
  send_message (s, message, lines);
}

static void
cmd_list (PstPop3Server *s, const char *rest, gboolean uidl)
{
  if (*rest != '\0')
    {
      guint index = 0;
      Message *m = find_message (s, rest, &index);

      if (m == NULL)
        return;
      if (uidl)
        reply (s, "+OK %u %s", index + 1, m->uidl);
      else
        reply (s, "+OK %u %" G_GSIZE_FORMAT, index + 1, m->size);
      return;
    }
  reply (s, "+OK");
  for (guint i = 0; i < s->messages->len; i++)
    {
      Message *m = &g_array_index (s->messages, Message, i);

      if (m->deleted)
        continue;
      if (uidl)
        reply (s, "%u %s", i + 1, m->uidl);
      else
        reply (s, "%u %" G_GSIZE_FORMAT, i + 1, m->size);
    }
  reply (s, ".");
}

static void
cmd_quit (PstPop3Server *s)
{
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GError) error = NULL;

  for (guint i = 0; s->state == ST_TRANSACTION && i < s->messages->len; i++)
    if (g_array_index (s->messages, Message, i).deleted)
      g_array_append_val (gone, i);
  if (gone->len > 0 && !s->hooks.commit (s->data, (guint *) gone->data, gone->len, &error))
    reply (s, "-ERR [SYS/TEMP] %s", error ? error->message : "cannot delete");
  else
    reply (s, "+OK bye");
  close_session (s);
}

static void
cmd_pass (PstPop3Server *s, const char *password)
{
  PstPop3Login login;

  if (s->given_user == NULL)
    {
      reply (s, "-ERR USER first");
      return;
    }
  g_array_set_size (s->messages, 0);
  login = s->hooks.auth (s->data, s, s->given_user, password);
  if (login == PST_POP3_LOGIN_IN_USE)
    {
      g_array_set_size (s->messages, 0);
      g_clear_pointer (&s->given_user, g_free);
      reply (s, "-ERR [IN-USE] the maildrop is in use by another session; try again later");
      return;
    }
  if (login == PST_POP3_LOGIN_OK)
    {
      gsize total = 0;

      for (guint i = 0; i < s->messages->len; i++)
        total += g_array_index (s->messages, Message, i).size;
      s->user = g_steal_pointer (&s->given_user);
      s->state = ST_TRANSACTION;
      reply (s, "+OK %u messages (%" G_GSIZE_FORMAT " octets)", s->messages->len, total);
      return;
    }
  g_array_set_size (s->messages, 0);
  g_clear_pointer (&s->given_user, g_free);
  if (++s->auth_failures >= MAX_AUTH_FAILURES)
    {
      reply (s, "-ERR [AUTH] too many failed logins; closing");
      close_session (s);
      return;
    }
  reply (s, "-ERR [AUTH] invalid user name or password");
}

static void
authorization (PstPop3Server *s, const char *line)
{
  const char *rest;

  if (is_verb (line, "USER", &rest))
    {
      if (*rest == '\0')
        reply (s, "-ERR USER needs a name");
      else
        {
          g_free (s->given_user);
          s->given_user = g_strdup (rest);
          reply (s, "+OK");
        }
    }
  else if (is_verb (line, "PASS", &rest))
    /* The password is the rest of the line, spaces and all (RFC 1939 §7). */
    cmd_pass (s, line[4] == ' ' ? line + 5 : rest);
  else if (is_verb (line, "STLS", &rest))
    {
      if (!s->tls_available || s->tls_active)
        reply (s, "-ERR STLS not offered");
      else
        {
          reply (s, "+OK begin TLS negotiation");
          s->state = ST_TLS;
          pst_linebuf_clear (s->in);
        }
    }
  else if (++s->bad_commands >= MAX_BAD_COMMANDS)
    {
      reply (s, "-ERR too many unknown commands; closing");
      close_session (s);
    }
  else
    reply (s, "-ERR not allowed before login (USER, PASS, STLS, CAPA, QUIT)");
}

static void
transaction (PstPop3Server *s, const char *line)
{
  const char *rest;

  if (is_verb (line, "STAT", &rest))
    {
      guint n = 0;
      gsize total = 0;

      for (guint i = 0; i < s->messages->len; i++)
        if (!g_array_index (s->messages, Message, i).deleted)
          {
            n++;
            total += g_array_index (s->messages, Message, i).size;
          }
      reply (s, "+OK %u %" G_GSIZE_FORMAT, n, total);
    }
  else if (is_verb (line, "LIST", &rest))
    cmd_list (s, rest, FALSE);
  else if (is_verb (line, "UIDL", &rest))
    cmd_list (s, rest, TRUE);
  else if (is_verb (line, "RETR", &rest))
    cmd_retr (s, rest, FALSE);
  else if (is_verb (line, "TOP", &rest))
    cmd_retr (s, rest, TRUE);
  else if (is_verb (line, "DELE", &rest))
    {
      guint index = 0;
      Message *m = find_message (s, rest, &index);

      if (m != NULL)
        {
          m->deleted = TRUE;
          reply (s, "+OK message %u deleted", index + 1);
        }
    }
  else if (is_verb (line, "RSET", &rest))
    {
      for (guint i = 0; i < s->messages->len; i++)
        g_array_index (s->messages, Message, i).deleted = FALSE;
      reply (s, "+OK");
    }
  else if (is_verb (line, "NOOP", &rest))
    reply (s, "+OK");
  else if (++s->bad_commands >= MAX_BAD_COMMANDS)
    {
      reply (s, "-ERR too many unknown commands; closing");
      close_session (s);
    }
  else
    reply (s, "-ERR unknown command");
}

gboolean
pst_pop3_server_stalled (PstPop3Server *s)
{
  return s->stalled;
}

PstPop3ServerAction
pst_pop3_server_feed (PstPop3Server *s, const guint8 *data, gsize len)
{
  s->stalled = FALSE;
  if (s->state == ST_CLOSED)
    return PST_POP3_SERVER_CLOSE;
  if (s->state == ST_TLS)
    return PST_POP3_SERVER_START_TLS;
  pst_linebuf_append (s->in, data, len);
  for (;;)
    {
      const char *line, *rest;
      gsize n;
      PstLinebufResult r;

      if (pst_linebuf_get_pending (s->out) > PST_POP3_SERVER_OUTPUT_HIGH)
        {
          s->stalled = pst_linebuf_get_pending (s->in) > 0;
          return PST_POP3_SERVER_CONTINUE;
        }
      r = pst_linebuf_take_line (s->in, &line, &n);
      if (r == PST_LINEBUF_NEED_MORE)
        return PST_POP3_SERVER_CONTINUE;
      if (r == PST_LINEBUF_TOO_LONG)
        {
          reply (s, "-ERR line too long; closing");
          close_session (s);
          return PST_POP3_SERVER_CLOSE;
        }
      if (strlen (line) != n)
        reply (s, "-ERR NUL in a command");
      else if (is_verb (line, "CAPA", &rest))
        cmd_capa (s);
      else if (is_verb (line, "QUIT", &rest))
        cmd_quit (s);
      else if (s->state == ST_AUTHORIZATION)
        authorization (s, line);
      else
        transaction (s, line);
      if (s->state == ST_CLOSED)
        return PST_POP3_SERVER_CLOSE;
      if (s->state == ST_TLS)
        return PST_POP3_SERVER_START_TLS;
    }
}
