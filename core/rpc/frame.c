#include "rpc/frame.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gunixfdmessage.h>

#include "util/error.h"

struct _PstRpcChannel {
  GMutex write_lock;     /* answers and notifications may come from several threads */
  GSocket *socket;
  GByteArray *buf;       /* bytes read but not yet returned as a line */
  GArray *pending_fds;   /* descriptors read but not yet returned */
  gboolean broken;       /* malformed framing read: no more lines */
  gboolean write_broken; /* a write failed or timed out: no more writes */
  guint read_timeout_s;  /* 0: wait for a line for ever */
};

PstRpcChannel *
pst_rpc_channel_new (GSocket *socket)
{
  PstRpcChannel *ch = g_new0 (PstRpcChannel, 1);

  g_mutex_init (&ch->write_lock);
  ch->socket = g_object_ref (socket);
  ch->buf = g_byte_array_new ();
  ch->pending_fds = g_array_new (FALSE, FALSE, sizeof (int));
  return ch;
}

void
pst_rpc_channel_free (PstRpcChannel *ch)
{
  if (ch == NULL)
    return;
  for (guint i = 0; i < ch->pending_fds->len; i++)
    close (g_array_index (ch->pending_fds, int, i));
  g_array_unref (ch->pending_fds);
  g_byte_array_unref (ch->buf);
  g_object_unref (ch->socket);
  g_mutex_clear (&ch->write_lock);
  g_free (ch);
}

GSocket *
pst_rpc_channel_get_socket (PstRpcChannel *ch)
{
  return ch->socket;
}

void
pst_rpc_channel_set_read_timeout (PstRpcChannel *ch, guint seconds)
{
  ch->read_timeout_s = seconds;
}

static void
close_pending_fds (PstRpcChannel *ch)
{
  for (guint i = 0; i < ch->pending_fds->len; i++)
    close (g_array_index (ch->pending_fds, int, i));
  g_array_set_size (ch->pending_fds, 0);
}

static char *
take_line (PstRpcChannel *ch, GArray *fds_out, GError **error)
{
  guint8 *nl = ch->buf->len ? memchr (ch->buf->data, '\n', ch->buf->len) : NULL;
  gsize len;
  char *line;

  if (nl == NULL)
    return NULL;
  len = (gsize) (nl - ch->buf->data);
  if (len > PST_RPC_MAX_LINE)
    {
      ch->broken = TRUE;
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "request line longer than %d bytes",
                   PST_RPC_MAX_LINE);
      return NULL;
    }
  line = g_strndup ((const char *) ch->buf->data, len);
  g_byte_array_remove_range (ch->buf, 0, (guint) len + 1);
  if (strlen (line) != len || !g_utf8_validate (line, (gssize) len, NULL))
    {
      g_free (line);
      ch->broken = TRUE;
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "request line is not valid UTF-8");
      return NULL;
    }
  if (fds_out != NULL)
    g_array_append_vals (fds_out, ch->pending_fds->data, ch->pending_fds->len);
  else
    close_pending_fds (ch);
  g_array_set_size (ch->pending_fds, 0);
  return line;
}

char *
pst_rpc_channel_read_line (PstRpcChannel *ch, GArray *fds_out, GError **error)
{
  guint8 chunk[65536];
  gint64 deadline = ch->read_timeout_s > 0
                      ? g_get_monotonic_time () + (gint64) ch->read_timeout_s * G_USEC_PER_SEC : 0;

  if (ch->broken)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "connection is no longer usable");
      return NULL;
    }
  for (;;)
    {
      GInputVector vec = { chunk, sizeof chunk };
      GSocketControlMessage **messages = NULL;
      int n_messages = 0, flags = 0;
      gssize n;
      char *line;
      GError *local = NULL;

      line = take_line (ch, fds_out, &local);
      if (line != NULL || local != NULL)
        {
          if (local)
            g_propagate_error (error, local);
          return line;
        }
      if (ch->buf->len > PST_RPC_MAX_LINE)
        {
          ch->broken = TRUE;
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "request line longer than %d bytes",
                       PST_RPC_MAX_LINE);
          return NULL;
        }
      if (deadline > 0
          && !g_socket_condition_timed_wait (ch->socket, G_IO_IN,
                                             MAX (deadline - g_get_monotonic_time (), 1), NULL,
                                             NULL))
        {
          ch->broken = TRUE;
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "no complete request within %u seconds", ch->read_timeout_s);
          return NULL;
        }
      n = g_socket_receive_message (ch->socket, NULL, &vec, 1, &messages, &n_messages, &flags,
                                    NULL, error);
      for (int i = 0; i < n_messages; i++)
        {
          if (G_IS_UNIX_FD_MESSAGE (messages[i]))
            {
              int n_fds = 0;
              int *fds = g_unix_fd_message_steal_fds (G_UNIX_FD_MESSAGE (messages[i]), &n_fds);
              g_array_append_vals (ch->pending_fds, fds, (guint) n_fds);
              g_free (fds);
            }
          g_object_unref (messages[i]);
        }
      g_free (messages);
      if (ch->pending_fds->len > PST_RPC_MAX_FDS)
        {
          guint count = ch->pending_fds->len;

          close_pending_fds (ch);
          ch->broken = TRUE;
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "%u file descriptors passed with one line, at most %d are taken", count,
                       PST_RPC_MAX_FDS);
          return NULL;
        }
      if (n < 0)
        {
          ch->broken = TRUE;
          return NULL;
        }
      if (flags & MSG_CTRUNC)
        {
          ch->broken = TRUE;
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "too many file descriptors passed");
          return NULL;
        }
      if (n == 0)
        {
          if (ch->buf->len > 0)
            {
              ch->broken = TRUE;
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                           "connection closed in the middle of a line");
            }
          return NULL;
        }
      g_byte_array_append (ch->buf, chunk, (guint) n);
    }
}

gboolean
pst_rpc_channel_write_line (PstRpcChannel *ch, const char *line, const int *fds, guint n_fds,
                            GError **error)
{
  g_autofree char *data = g_strconcat (line, "\n", NULL);
  gsize len = strlen (data), off = 0;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&ch->write_lock);

  if (ch->write_broken)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the peer stopped reading");
      return FALSE;
    }

  while (off < len)
    {
      GOutputVector vec = { data + off, len - off };
      g_autoptr (GSocketControlMessage) msg = NULL;
      GSocketControlMessage *msgs[1];

      if (off == 0 && n_fds > 0)
        {
          msg = g_unix_fd_message_new ();
          for (guint i = 0; i < n_fds; i++)
            if (!g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (msg), fds[i], error))
              return FALSE;
          msgs[0] = msg;
        }
      gsize sent = 0;

      /* A peer that stops reading must not hold a writer (or every
       * subscriber behind it) forever: after the timeout the channel is
       * given up. */
      if (g_socket_send_message_with_timeout (ch->socket, NULL, &vec, 1, msg ? msgs : NULL,
                                              msg ? 1 : 0, G_SOCKET_MSG_NONE,
                                              PST_RPC_WRITE_TIMEOUT_S * G_USEC_PER_SEC, &sent,
                                              NULL, error) != G_POLLABLE_RETURN_OK)
        {
          ch->write_broken = TRUE;
          if (error != NULL && *error == NULL)
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the peer does not read");
          return FALSE;
        }
      off += sent;
    }
  return TRUE;
}

/* The value of the four hex digits at @p, or -1. */
static int
hex4 (const char *p)
{
  int v = 0;

  for (int i = 0; i < 4; i++)
    {
      if (!g_ascii_isxdigit (p[i]))
        return -1;
      v = v * 16 + g_ascii_xdigit_value (p[i]);
    }
  return v;
}

/* @p at a backslash inside a string: the last character of a JSON escape
 * (\" \\ \/ \b \f \n \r \t, \u with four hex digits, a high surrogate
 * only with its low one), or NULL for anything else. */
static const char *
string_escape_end (const char *p)
{
  int u;

  if (p[1] != '\0' && strchr ("\"\\/bfnrt", p[1]) != NULL)
    return p + 1;
  if (p[1] != 'u' || (u = hex4 (p + 2)) < 0)
    return NULL;
  if (u >= 0xdc00 && u <= 0xdfff)
    return NULL;
  if (u < 0xd800 || u > 0xdbff)
    return p + 5;
  if (p[6] != '\\' || p[7] != 'u' || (u = hex4 (p + 8)) < 0xdc00 || u > 0xdfff)
    return NULL;
  return p + 11;
}

gboolean
pst_rpc_parse_line (JsonParser *parser, const char *line, GError **error)
{
  g_autoptr (GError) local = NULL;
  gboolean in_string = FALSE;
  guint depth = 0;

  /* Counts before json-glib sees the line: its recursion is what must not
   * be reached.  Unbalanced or stray brackets are left to the parser.  The
   * count is only right if this scan and the parser agree on what is inside
   * a string: json-glib also takes comments and single-quoted strings, which
   * would hide brackets from a scan that knows only JSON's strings, so
   * outside a string nothing but strict JSON's own characters may appear
   * (structure, white space, numbers, true, false and null). */
  for (const char *p = line; *p != '\0'; p++)
    {
      if (in_string)
        {
          if (*p == '\\')
            {
              /* Only JSON's own escapes: json-glib reads a short \u or a
               * lone surrogate further than one character, which would end
               * its string where this scan's goes on. */
              p = string_escape_end (p);
              if (p == NULL)
                {
                  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                               "malformed line: a string holds an escape that is not JSON's");
                  return FALSE;
                }
            }
          else if (*p == '"')
            in_string = FALSE;
          else if ((guchar) *p < 0x20)
            {
              g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                           "malformed line: a control character inside a string");
              return FALSE;
            }
        }
      else if (*p == '"')
        in_string = TRUE;
      else if (strchr ("[]{}:, \t\r\n0123456789+-.eEtrufalsn", *p) == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "malformed line: '%c' outside a string is not JSON", g_ascii_isprint (*p) ? *p : '?');
          return FALSE;
        }
      else if (*p == '[' || *p == '{')
        {
          if (++depth > PST_RPC_MAX_DEPTH)
            {
              g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                           "malformed line: arrays and objects nested deeper than %d levels",
                           PST_RPC_MAX_DEPTH);
              return FALSE;
            }
        }
      else if ((*p == ']' || *p == '}') && depth > 0)
        depth--;
    }
  if (!json_parser_load_from_data (parser, line, -1, &local))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "malformed line: %s", local->message);
      return FALSE;
    }
  return TRUE;
}

char *
pst_rpc_to_line (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

JsonNode *
pst_rpc_error_response (JsonNode *id, int code, const char *message, int exit_code)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "jsonrpc");
  json_builder_add_string_value (b, "2.0");
  json_builder_set_member_name (b, "id");
  json_builder_add_value (b, id ? json_node_copy (id) : json_node_new (JSON_NODE_NULL));
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_int_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "exit");
  json_builder_add_int_value (b, exit_code);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

void
pst_rpc_error_to_gerror (JsonObject *e, GError **error)
{
  const char *message = "the agent reported an error";
  int exit_code = PST_ERROR_FAILED;
  JsonNode *m = json_object_get_member (e, "message");
  JsonNode *d = json_object_get_member (e, "data");
  JsonNode *c = json_object_get_member (e, "code");

  if (m && JSON_NODE_HOLDS_VALUE (m) && json_node_get_value_type (m) == G_TYPE_STRING)
    message = json_node_get_string (m);
  JsonNode *x = d && JSON_NODE_HOLDS_OBJECT (d) ? json_object_get_member (json_node_get_object (d), "exit") : NULL;

  if (x && JSON_NODE_HOLDS_VALUE (x) && json_node_get_value_type (x) == G_TYPE_INT64)
    exit_code = (int) CLAMP (json_node_get_int (x), 0, 255);
  else if (c && JSON_NODE_HOLDS_VALUE (c) && json_node_get_value_type (c) == G_TYPE_INT64
           && json_node_get_int (c) == PST_RPC_INVALID_PARAMS)
    exit_code = PST_ERROR_USAGE;
  if (exit_code < PST_ERROR_FAILED || exit_code > PST_ERROR_INFECTED)
    exit_code = PST_ERROR_FAILED;
  g_set_error_literal (error, PST_ERROR, exit_code, message);
}

/* Finds member @name of @params holding a value of @type.  A missing (or
 * null) member is an error only when @required; *node_out is then NULL. */
static gboolean
get_typed (JsonObject *params, const char *name, gboolean required, GType type,
           const char *type_words, JsonNode **node_out, GError **error)
{
  JsonNode *n = params ? json_object_get_member (params, name) : NULL;

  if (n != NULL && JSON_NODE_HOLDS_NULL (n))
    n = NULL;
  *node_out = n;
  if (n == NULL && required)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "parameter '%s' is missing", name);
      return FALSE;
    }
  if (n != NULL && (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != type))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "parameter '%s' must be %s", name,
                   type_words);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_rpc_get_string (JsonObject *params, const char *name, gboolean required,
                    const char **value_out, GError **error)
{
  JsonNode *n;

  if (!get_typed (params, name, required, G_TYPE_STRING, "a string", &n, error))
    return FALSE;
  *value_out = n ? json_node_get_string (n) : NULL;
  return TRUE;
}

gboolean
pst_rpc_get_int (JsonObject *params, const char *name, gboolean required, gint64 fallback,
                 gint64 *value_out, GError **error)
{
  JsonNode *n;

  if (!get_typed (params, name, required, G_TYPE_INT64, "an integer", &n, error))
    return FALSE;
  *value_out = n ? json_node_get_int (n) : fallback;
  return TRUE;
}

gboolean
pst_rpc_get_bool (JsonObject *params, const char *name, gboolean fallback, gboolean *value_out,
                  GError **error)
{
  JsonNode *n;

  if (!get_typed (params, name, FALSE, G_TYPE_BOOLEAN, "true or false", &n, error))
    return FALSE;
  *value_out = n ? json_node_get_boolean (n) : fallback;
  return TRUE;
}
