/* fuzz-rpc-frame — the input is what a peer writes to the agent's socket.
 * The first byte says how to cut it into packets (and whether to pass a
 * descriptor with the first one); a thread writes the packets into a
 * SOCK_SEQPACKET pair, so that every read returns exactly one of them
 * whatever the timing, and the channel reads lines until the end.  Each
 * line is then parsed as the agent and the clients parse it.
 */
#include "fuzz-common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/frame.h"

typedef struct {
  int fd;
  const guint8 *data;
  gsize len;
  gsize chunk;
  gboolean pass_fd;
} Writer;

static int devnull = -1;
static int lowest_free_fd = -1;

static int
probe_lowest_free_fd (void)
{
  int fd = dup (devnull);

  FUZZ_CHECK (fd >= 0, "dup: %s", g_strerror (errno));
  close (fd);
  return fd;
}

static gpointer
write_packets (gpointer user_data)
{
  Writer *w = user_data;

  for (gsize off = 0; off < w->len; off += w->chunk)
    {
      gsize n = MIN (w->chunk, w->len - off);
      struct iovec iov = { (void *) (w->data + off), n };
      union {
        char buf[CMSG_SPACE (sizeof (int))];
        struct cmsghdr align;
      } control;
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

      if (off == 0 && w->pass_fd)
        {
          struct cmsghdr *cmsg;

          memset (&control, 0, sizeof control);
          msg.msg_control = control.buf;
          msg.msg_controllen = sizeof control.buf;
          cmsg = CMSG_FIRSTHDR (&msg);
          cmsg->cmsg_level = SOL_SOCKET;
          cmsg->cmsg_type = SCM_RIGHTS;
          cmsg->cmsg_len = CMSG_LEN (sizeof (int));
          memcpy (CMSG_DATA (cmsg), &devnull, sizeof (int));
        }
      if (sendmsg (w->fd, &msg, MSG_NOSIGNAL) < 0)
        break;   /* the reader gave up: the channel is broken */
    }
  shutdown (w->fd, SHUT_WR);
  return NULL;
}

/* How many arrays and objects deep @node goes (a scalar is 0). */
static guint
node_depth (JsonNode *node)
{
  guint deepest = 0;

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          /* Not inside MAX (), which evaluates its arguments twice:
           * 2^depth calls (a CI run timed out on it). */
          guint d = node_depth (json_array_get_element (a, i));

          deepest = MAX (deepest, d);
        }
      return deepest + 1;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter it;
      JsonNode *member;

      json_object_iter_init (&it, json_node_get_object (node));
      while (json_object_iter_next (&it, NULL, &member))
        {
          guint d = node_depth (member);

          deepest = MAX (deepest, d);
        }
      return deepest + 1;
    }
  return 0;
}

/* What the agent and the clients do with a line: parse it, read a request's
 * params with the typed readers, turn an error object into a GError, and
 * answer with an error response that must again be one line. */
static void
parse_line (const char *line)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) response = NULL;
  g_autofree char *out = NULL;
  JsonObject *root, *params = NULL;
  JsonNode *member;

  /* Through the agent's own gate (the nesting count before json-glib), and
   * what gets through is never deeper than the count allowed. */
  if (!pst_rpc_parse_line (parser, line, NULL))
    return;
  FUZZ_CHECK (json_parser_get_root (parser) == NULL
                || node_depth (json_parser_get_root (parser)) <= PST_RPC_MAX_DEPTH,
              "a line nested deeper than %d levels was parsed", PST_RPC_MAX_DEPTH);
  /* An empty line parses, to no root at all. */
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  root = json_node_get_object (json_parser_get_root (parser));

  member = json_object_get_member (root, "params");
  if (member != NULL && JSON_NODE_HOLDS_OBJECT (member))
    params = json_node_get_object (member);
  {
    g_autoptr(GError) error = NULL;
    const char *s = NULL;
    gint64 i = 0;
    gboolean b = FALSE;

    if (!pst_rpc_get_string (params, "account", FALSE, &s, &error))
      FUZZ_CHECK (error != NULL, "get_string: FALSE without an error");
    g_clear_error (&error);
    if (!pst_rpc_get_string (params, "id", TRUE, &s, &error))
      FUZZ_CHECK (error != NULL, "get_string: FALSE without an error");
    g_clear_error (&error);
    if (!pst_rpc_get_int (params, "fd", FALSE, -1, &i, &error))
      FUZZ_CHECK (error != NULL, "get_int: FALSE without an error");
    g_clear_error (&error);
    if (!pst_rpc_get_bool (params, "sign", TRUE, &b, &error))
      FUZZ_CHECK (error != NULL, "get_bool: FALSE without an error");
  }

  member = json_object_get_member (root, "error");
  if (member != NULL && JSON_NODE_HOLDS_OBJECT (member))
    {
      g_autoptr(GError) error = NULL;

      pst_rpc_error_to_gerror (json_node_get_object (member), &error);
      FUZZ_CHECK (error != NULL && error->message != NULL, "error_to_gerror: no error");
    }

  response = pst_rpc_error_response (json_object_get_member (root, "id"), PST_RPC_INVALID_REQUEST,
                                     line, 2);
  out = pst_rpc_to_line (response);
  FUZZ_CHECK (strchr (out, '\n') == NULL, "a response on several lines");
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  FUZZ_CHECK (devnull >= 0, "/dev/null: %s", g_strerror (errno));
  /* GLib opens a few descriptors of its own on first use: let it, before
   * taking the baseline of the leak check. */
  LLVMFuzzerTestOneInput ((const uint8_t *) "\x81{\"id\":1}\n", 10);
  lowest_free_fd = probe_lowest_free_fd ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(PstRpcChannel) channel = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  GThread *thread;
  Writer w;
  int sv[2];

  if (size == 0)
    return 0;
  FUZZ_CHECK (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
              g_strerror (errno));
  w.fd = sv[1];
  w.data = data + 1;
  w.len = size - 1;
  w.chunk = (data[0] & 0x7f) == 0 ? MAX (w.len, 1) : (gsize) (data[0] & 0x7f);
  w.pass_fd = (data[0] & 0x80) != 0;

  socket = g_socket_new_from_fd (sv[0], &error);
  FUZZ_CHECK (socket != NULL, "g_socket_new_from_fd: %s", error->message);
  channel = pst_rpc_channel_new (socket);
  thread = g_thread_new ("fuzz-writer", write_packets, &w);

  for (;;)
    {
      g_autofree char *line = pst_rpc_channel_read_line (channel, fds, &error);
      gsize len;

      if (line == NULL)
        break;
      len = strlen (line);
      FUZZ_CHECK (len <= PST_RPC_MAX_LINE, "a line of %zu bytes", (size_t) len);
      FUZZ_CHECK (g_utf8_validate (line, -1, NULL), "a line that is not UTF-8");
      parse_line (line);
    }
  if (error != NULL)
    {
      g_autofree char *again = NULL;

      g_clear_error (&error);
      again = pst_rpc_channel_read_line (channel, fds, &error);
      FUZZ_CHECK (again == NULL && error != NULL, "a channel that failed is read again");
    }

  /* Unblock the writer if the channel gave up before the end. */
  g_clear_pointer (&channel, pst_rpc_channel_free);
  g_clear_object (&socket);
  g_thread_join (thread);
  close (sv[1]);
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  FUZZ_CHECK (lowest_free_fd < 0 || probe_lowest_free_fd () == lowest_free_fd,
              "a descriptor leaked");
  return 0;
}
