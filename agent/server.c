#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <gio/gunixcredentialsmessage.h>

#include <glib/gi18n.h>

#include "clientfd.h"
#include "events.h"
#include "methods.h"
#include "rpc/client.h"
#include "rpc/frame.h"
#include "util/error.h"

struct _PstServer {
  PstAgent *agent;
  GSocket *listener;
  gboolean from_systemd;   /* then systemd owns the path: never unlink it */
  guint idle_timeout_s;
  gint busy_requests;      /* atomic */
  /* The live clients, so that a stopping agent can end their threads
   * before it frees what they use, and so that a new client can be given
   * room. */
  GMutex clients_lock;
  GCond clients_cond;
  GPtrArray *clients;
};

typedef struct {
  PstServer *server;
  GSocket *socket;
  /* Under clients_lock: */
  gboolean busy;         /* a request is running */
  gboolean subscribed;   /* the connection carries notifications */
  gboolean evicted;      /* shut down to make room; its thread is ending */
  guint requests;        /* lines handled so far */
  gint64 idle_since;     /* monotonic µs: accepted, or its last request ended */
} Client;

/* A listening socket passed by systemd's socket activation (LISTEN_PID,
 * LISTEN_FDS; sd_listen_fds(3) without libsystemd: the protocol is two
 * environment variables and descriptor 3), or NULL. */
static GSocket *
activated_socket (void)
{
  const char *pid = g_getenv ("LISTEN_PID"), *fds = g_getenv ("LISTEN_FDS");
  guint64 p = 0, n = 0;
  GSocket *sock;

  if (pid == NULL || fds == NULL || !g_ascii_string_to_unsigned (pid, 10, 1, G_MAXINT, &p, NULL)
      || (pid_t) p != getpid () || !g_ascii_string_to_unsigned (fds, 10, 1, 64, &n, NULL))
    return NULL;
  g_unsetenv ("LISTEN_PID");
  g_unsetenv ("LISTEN_FDS");
  g_unsetenv ("LISTEN_FDNAMES");
  if (fcntl (3, F_SETFD, FD_CLOEXEC) != 0 || !(sock = g_socket_new_from_fd (3, NULL)))
    return NULL;
  if (g_socket_get_family (sock) != G_SOCKET_FAMILY_UNIX)
    {
      g_object_unref (sock);
      return NULL;
    }
  return sock;
}

/* Binds the socket, or takes systemd's. */
static gboolean
listen_socket (PstServer *server, GError **error)
{
  const char *path = server->agent->paths->socket_path;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GError) local = NULL;
  GSocket *sock;
  PstRpcClient *probe;
  mode_t old;

  if ((sock = activated_socket ()) != NULL)
    {
      /* systemd made the socket (postern.socket: mode 0600 in the runtime
       * directory); the peer uid check below holds for it as for ours. */
      g_message ("listening on the socket systemd passed");
      server->from_systemd = TRUE;
      {
        /* Owner only, whatever made it (postern.socket says so too). */
        g_autoptr (GSocketAddress) a = g_socket_get_local_address (sock, NULL);
        const char *p = a && G_IS_UNIX_SOCKET_ADDRESS (a)
                          ? g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (a)) : NULL;
        if (p != NULL && *p == '/')
          g_chmod (p, 0600);
      }
      server->listener = sock;
      return TRUE;
    }

  probe = pst_rpc_client_connect (path, NULL);
  if (probe != NULL)
    {
      pst_rpc_client_free (probe);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "an agent is already running on %s", path);
      return FALSE;
    }
  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot remove stale socket %s: %s", path,
                   g_strerror (errno));
      return FALSE;
    }
  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                       &local);
  if (sock == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot create socket: %s", local->message);
      return FALSE;
    }
  addr = g_unix_socket_address_new (path);
  old = umask (077);
  if (!g_socket_bind (sock, addr, FALSE, &local) || !g_socket_listen (sock, &local))
    {
      umask (old);
      g_object_unref (sock);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot listen on %s: %s", path,
                   local->message);
      return FALSE;
    }
  umask (old);
  g_chmod (path, 0600);
  server->listener = sock;
  return TRUE;
}

PstServer *
pst_server_new (PstAgent *agent, GError **error)
{
  PstServer *server = g_new0 (PstServer, 1);

  server->agent = agent;
  server->idle_timeout_s = pst_client_timeout_override () > 0 ? pst_client_timeout_override ()
                                                              : PST_SERVER_IDLE_TIMEOUT_S;
  g_mutex_init (&server->clients_lock);
  g_cond_init (&server->clients_cond);
  server->clients = g_ptr_array_new ();
  if (!listen_socket (server, error))
    {
      pst_server_free (server);
      return NULL;
    }
  return server;
}

static gboolean
peer_is_owner (GSocket *socket)
{
  g_autoptr (GCredentials) creds = g_socket_get_credentials (socket, NULL);
  uid_t uid;

  if (creds == NULL)
    return FALSE;
  uid = g_credentials_get_unix_user (creds, NULL);
  return uid == getuid ();
}

static void
reply (PstRpcChannel *ch, JsonNode *node)
{
  g_autofree char *line = pst_rpc_to_line (node);
  g_autoptr (GError) error = NULL;

  if (!pst_rpc_channel_write_line (ch, line, NULL, 0, &error))
    g_debug ("cannot answer a client: %s", error->message);
}

static void
close_fds (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_set_size (fds, 0);
}

/* Decodes one request line; FALSE means malformed framing (the connection
 * is closed after the error answer).  *@subscribed_out is set when the
 * line was a subscribe that succeeded. */
static gboolean
handle_line (PstServer *server, PstRpcChannel *ch, const char *line, GArray *fds,
             gboolean *subscribed_out)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) answer = NULL;
  JsonObject *req, *params = NULL;
  JsonNode *id = NULL, *method_node, *params_node;
  const char *method;

  /* A line that cannot be decoded has no id to answer to: framing is lost,
   * and the connection is closed after the answer (DESIGN.md §5). */
  if (!pst_rpc_parse_line (parser, line, &error))
    {
      answer = pst_rpc_error_response (NULL, PST_RPC_PARSE_ERROR, error->message, PST_ERROR_USAGE);
      reply (ch, answer);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      answer = pst_rpc_error_response (NULL, PST_RPC_PARSE_ERROR,
                                       "malformed request: not a JSON object", PST_ERROR_USAGE);
      reply (ch, answer);
      return FALSE;
    }
  req = json_node_get_object (json_parser_get_root (parser));
  id = json_object_get_member (req, "id");
  method_node = json_object_get_member (req, "method");
  params_node = json_object_get_member (req, "params");
  if (method_node == NULL || !JSON_NODE_HOLDS_VALUE (method_node)
      || json_node_get_value_type (method_node) != G_TYPE_STRING
      || (params_node != NULL && !JSON_NODE_HOLDS_OBJECT (params_node))
      || (id != NULL && !JSON_NODE_HOLDS_VALUE (id)))
    {
      answer = pst_rpc_error_response (id, PST_RPC_INVALID_REQUEST,
                                       "invalid request: need \"method\" (string) and \"params\" "
                                       "(object)", PST_ERROR_USAGE);
      reply (ch, answer);
      return TRUE;
    }
  method = json_node_get_string (method_node);
  if (params_node != NULL)
    params = json_node_get_object (params_node);
  if (!pst_client_fds_admit (fds, &error))
    {
      answer = pst_rpc_error_response (id, PST_RPC_INVALID_PARAMS, error->message,
                                       PST_ERROR_USAGE);
      reply (ch, answer);
      return TRUE;
    }

  /* Counted busy before the check, so that a stopping agent either sees
   * this request or the request sees it stopping. */
  g_atomic_int_inc (&server->busy_requests);
  if (pst_agent_is_stopping (server->agent))
    {
      g_atomic_int_dec_and_test (&server->busy_requests);
      answer = pst_rpc_error_response (id, PST_RPC_APP_ERROR_BASE + PST_ERROR_AGENT,
                                       "the agent is stopping", PST_ERROR_AGENT);
      reply (ch, answer);
      return FALSE;
    }
  answer = pst_methods_dispatch (server->agent, ch, method, params, id, fds);
  if (g_strcmp0 (method, "subscribe") == 0 && answer != NULL
      && json_object_has_member (json_node_get_object (answer), "result"))
    *subscribed_out = TRUE;
  /* Written before the request stops counting as busy: a stopping agent
   * shuts the connections down once no request is busy, and agent.stop's
   * own answer was sometimes lost to that ("the agent closed the
   * connection", exit 6, in a CI run). */
  if (answer != NULL && id != NULL)
    reply (ch, answer);
  g_atomic_int_dec_and_test (&server->busy_requests);
  return TRUE;
}

static gpointer
client_thread (gpointer data)
{
  Client *c = data;
  PstServer *server = c->server;
  g_autoptr (PstRpcChannel) ch = pst_rpc_channel_new (c->socket);
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));

  pst_rpc_channel_set_read_timeout (ch, server->idle_timeout_s);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *line = pst_rpc_channel_read_line (ch, fds, &error);
      gboolean keep, subscribed = FALSE, evicted;

      if (line == NULL)
        {
          if (error != NULL)
            {
              g_autoptr (JsonNode) answer = pst_rpc_error_response (
                NULL, PST_RPC_PARSE_ERROR, error->message, PST_ERROR_USAGE);
              reply (ch, answer);
              g_debug ("client dropped: %s", error->message);
            }
          break;
        }
      g_mutex_lock (&server->clients_lock);
      evicted = c->evicted;
      c->busy = !evicted;
      g_mutex_unlock (&server->clients_lock);
      if (evicted)
        break;
      keep = handle_line (server, ch, line, fds, &subscribed);
      close_fds (fds);
      g_mutex_lock (&server->clients_lock);
      c->busy = FALSE;
      c->requests++;
      c->idle_since = g_get_monotonic_time ();
      c->subscribed = c->subscribed || subscribed;
      g_mutex_unlock (&server->clients_lock);
      /* A subscriber waits for notifications, not for requests: it may be
       * quiet for as long as it likes (room is still made from it). */
      if (subscribed)
        pst_rpc_channel_set_read_timeout (ch, 0);
      if (!keep)
        break;
    }
  close_fds (fds);
  pst_events_unsubscribe (server->agent->events, ch);
  g_socket_close (c->socket, NULL);
  g_mutex_lock (&server->clients_lock);
  g_ptr_array_remove_fast (server->clients, c);
  g_cond_broadcast (&server->clients_cond);
  g_mutex_unlock (&server->clients_lock);
  g_object_unref (c->socket);
  g_free (c);
  return NULL;
}

/* Whether @c's client has sent bytes its thread has not taken yet (or
 * hung up): then it is not idle, whatever idle_since says, since its
 * thread may only be waiting for a core (under clients_lock). */
static gboolean
has_input (Client *c)
{
  struct pollfd p = { .fd = g_socket_get_fd (c->socket), .events = POLLIN };

  return poll (&p, 1, 0) != 0;
}

/* PST_SERVER_EVICT_IDLE_S.  In test builds POSTERN_TEST_EVICT_IDLE_S (1 to
 * 10) lowers it: test-socket.sh holds its connections for 2 s instead of
 * 10, three times over. */
static gint64
evict_idle_s (void)
{
#ifdef PST_WORKER_TEST_HOOKS
  const char *v = g_getenv ("POSTERN_TEST_EVICT_IDLE_S");
  guint64 s = v != NULL ? g_ascii_strtoull (v, NULL, 10) : 0;

  if (s >= 1 && s < PST_SERVER_EVICT_IDLE_S)
    return (gint64) s;
#endif
  return PST_SERVER_EVICT_IDLE_S;
}

/* Room for one more client (under clients_lock).  Every client is the
 * owner's uid, so the agent cannot tell a stuck or hostile script from the
 * owner's own tools, and a plain cap (the first 64 connections win) let
 * 64 idle connections lock out every later one, the owner's `agent status`
 * and GUI included.  What the cap protects is the agent's threads and
 * descriptors, and an idle connection holds them without doing anything.
 * So the cap stays, but a new connection at the cap takes the place of an
 * idle one: one that never sent a request first, then a plain one before a
 * subscriber (a subscriber is usually the GUI, and reconnects when cut),
 * the one idle the longest among equals.  A connection that never sent a
 * request may be cut after PST_SERVER_EVICT_SILENT_S; one that did, a
 * client between two calls of a sequence, only after
 * PST_SERVER_EVICT_IDLE_S, and never while a request of it waits to be
 * read: a flood of newcomers is refused instead (a client flooded out
 * between two calls, its next request already sent, broke a test under
 * load).  Connections running a request are never cut;
 * each read they do from a client's descriptor has a deadline
 * (clientfd.h), so they end by themselves.  Only when all 64 run requests
 * is the new one refused.  Idle plain connections are also closed after
 * PST_SERVER_IDLE_TIMEOUT_S.  A same-uid program that wants to hurt the
 * agent can kill it outright; this is about scripts that leak connections
 * never locking out the owner. */
static gboolean
make_room (PstServer *server)
{
  GPtrArray *clients = server->clients;
  Client *victim = NULL;
  guint live = 0;
  gint64 now = g_get_monotonic_time ();
  gint64 idle_s = evict_idle_s ();

  for (guint i = 0; i < clients->len; i++)
    {
      Client *c = g_ptr_array_index (clients, i);
      gint64 min_idle = c->requests == 0 ? PST_SERVER_EVICT_SILENT_S : idle_s;

      if (c->evicted)
        continue;
      live++;
      if (c->busy || now - c->idle_since < min_idle * G_USEC_PER_SEC)
        continue;
      if (victim == NULL)
        victim = c;
      else if ((c->requests == 0) != (victim->requests == 0))
        victim = c->requests == 0 ? c : victim;
      else if (c->subscribed != victim->subscribed)
        victim = c->subscribed ? victim : c;
      else if (c->idle_since < victim->idle_since)
        victim = c;
    }
  if (live < PST_SERVER_MAX_CONNECTIONS)
    return TRUE;
  if (victim == NULL || has_input (victim))
    return FALSE;
  victim->evicted = TRUE;
  g_socket_shutdown (victim->socket, TRUE, TRUE, NULL);
  g_debug ("closed an idle client connection to make room for a new one");
  return TRUE;
}

static void
refuse_busy (GSocket *s)
{
  g_autoptr (PstRpcChannel) ch = pst_rpc_channel_new (s);
  g_autofree char *why = g_strdup_printf (_("the agent is busy: %d clients are connected and "
                                            "active; try again in a moment"), PST_SERVER_MAX_CONNECTIONS);
  g_autoptr (JsonNode) answer = pst_rpc_error_response (NULL, PST_RPC_APP_ERROR_BASE + PST_ERROR_AGENT,
                                                        why, PST_ERROR_AGENT);

  g_message ("refused a connection: %d clients are connected and active",
             PST_SERVER_MAX_CONNECTIONS);
  reply (ch, answer);
}

void
pst_server_run (PstServer *server)
{
  PstAgent *agent = server->agent;

  while (!pst_agent_is_stopping (agent))
    {
      g_autoptr (GError) error = NULL;
      /* The listener blocks; the stop cancels the wait (GSocket polls the
       * cancellable's descriptor with the socket's). */
      GSocket *s = g_socket_accept (server->listener, agent->stop, &error);
      Client *c;

      if (s == NULL)
        {
          if (!pst_agent_is_stopping (agent))
            {
              g_warning ("accept failed: %s", error->message);
              g_usleep (100 * 1000);
            }
          continue;
        }
      if (pst_agent_is_stopping (agent))
        {
          g_socket_close (s, NULL);
          g_object_unref (s);
          break;
        }
      if (!peer_is_owner (s))
        {
          g_message ("refused a connection from another user");
          g_socket_close (s, NULL);
          g_object_unref (s);
          continue;
        }
      g_mutex_lock (&server->clients_lock);
      if (!make_room (server))
        {
          g_mutex_unlock (&server->clients_lock);
          refuse_busy (s);
          g_socket_close (s, NULL);
          g_object_unref (s);
          continue;
        }
      c = g_new0 (Client, 1);
      c->server = server;
      c->socket = s;
      c->idle_since = g_get_monotonic_time ();
      g_ptr_array_add (server->clients, c);
      g_mutex_unlock (&server->clients_lock);
      g_thread_unref (g_thread_new ("client", client_thread, c));
    }
  /* Let requests in progress finish (a send being queued, a fetch storing). */
  for (int i = 0; i < 600 && g_atomic_int_get (&server->busy_requests) > 0; i++)
    g_usleep (100 * 1000);
}

gboolean
pst_server_end_clients (PstServer *server)
{
  GPtrArray *clients = server->clients;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gboolean done;

  g_mutex_lock (&server->clients_lock);
  /* Idle clients wait in recv(): shutting their sockets down wakes them. */
  for (guint i = 0; i < clients->len; i++)
    g_socket_shutdown (((Client *) g_ptr_array_index (clients, i))->socket, TRUE, TRUE, NULL);
  while (clients->len > 0)
    if (!g_cond_wait_until (&server->clients_cond, &server->clients_lock, deadline))
      break;
  done = clients->len == 0;
  g_mutex_unlock (&server->clients_lock);
  return done;
}

void
pst_server_free (PstServer *server)
{
  if (server == NULL)
    return;
  if (server->listener != NULL)
    {
      g_socket_close (server->listener, NULL);
      g_clear_object (&server->listener);
      if (!server->from_systemd)
        g_unlink (server->agent->paths->socket_path);
    }
  /* Only once every client thread is gone (pst_server_end_clients). */
  if (server->clients->len == 0)
    {
      g_ptr_array_unref (server->clients);
      g_mutex_clear (&server->clients_lock);
      g_cond_clear (&server->clients_cond);
      g_free (server);
    }
}
