/* bridge.c — see bridge.h.  The listeners and the connections' I/O; the
 * protocols are core/net/smtp-server.c and pop3-server.c (sans I/O), and
 * what a session does with the account is bridge-smtp.c / bridge-pop3.c. */
#define _GNU_SOURCE 1   /* accept4 */
#include "bridge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bridge-conn.h"
#include "bridge-pop3.h"
#include "bridge-smtp.h"
#include "bridge-tls.h"
#include "util/error.h"

typedef struct {
  PstBridge *bridge;
  PstBridgeKind kind;
  char *configured;   /* as written in the configuration */
  char *address;      /* as bound: "127.0.0.1:PORT" */
  int fd;
  GThread *thread;
} Listener;

struct _PstBridge {
  PstAgent *agent;
  GMutex apply_lock;        /* one apply at a time */
  GMutex lock;              /* guards listeners' addresses, conns, ctx */
  GCond cond;
  Listener *listeners[2];
  GPtrArray *conns;         /* PstBridgeConn*, live */
  SSL_CTX *ctx;             /* made at the first listener's start */
};

static const char *const kind_names[] = { "smtp", "pop3" };

/* --- the peer's uid ------------------------------------------------------------ */

/* The address as /proc/net/tcp writes it: the raw 32-bit words in hex,
 * then the port. */
static char *
proc_address (const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

      return g_strdup_printf ("%08X:%04X", (guint) in->sin_addr.s_addr, ntohs (in->sin_port));
    }
  if (ss->ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;
      guint32 w[4];

      memcpy (w, &in6->sin6_addr, sizeof w);
      return g_strdup_printf ("%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3],
                              ntohs (in6->sin6_port));
    }
  return NULL;
}

gboolean
pst_bridge_peer_is_uid (int fd, uid_t uid)
{
  struct sockaddr_storage local = { 0 }, peer = { 0 };
  socklen_t llen = sizeof local, plen = sizeof peer;
  g_autofree char *l = NULL, *p = NULL;
  const char *table;
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (getsockname (fd, (struct sockaddr *) &local, &llen) != 0
      || getpeername (fd, (struct sockaddr *) &peer, &plen) != 0
      || !(l = proc_address (&local)) || !(p = proc_address (&peer)))
    return FALSE;
  table = local.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
  if (!g_file_get_contents (table, &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  /* The peer's socket is the one whose local end is our peer and whose
   * remote end is us: "sl local rem st tx:rx tr:when retrnsmt uid ...". */
  for (char **line = lines + 1; *line != NULL; line++)
    {
      g_auto (GStrv) f = g_strsplit_set (g_strstrip (*line), " ", -1);
      const char *field[8];
      guint n = 0;

      for (char **w = f; *w != NULL && n < G_N_ELEMENTS (field); w++)
        if (**w != '\0')
          field[n++] = *w;
      if (n == G_N_ELEMENTS (field) && g_ascii_strcasecmp (field[1], p) == 0
          && g_ascii_strcasecmp (field[2], l) == 0)
        {
          guint64 owner = 0;

          return g_ascii_string_to_unsigned (field[7], 10, 0, G_MAXUINT32, &owner, NULL)
                 && (uid_t) owner == uid;
        }
    }
  return FALSE;
}

/* --- connections --------------------------------------------------------------- */

static gpointer
conn_thread (gpointer data)
{
  PstBridgeConn *conn = data;
  PstBridge *bridge = conn->bridge_data;
  g_autofree char *refusal = NULL;

  if (!pst_bridge_peer_is_uid (conn->fd, getuid ()))
    {
      g_message ("bridge %s: refused a connection from another user (the bridge serves only "
                 "uid %u)", kind_names[conn->kind], (guint) getuid ());
      refusal = g_strdup (conn->kind == PST_BRIDGE_SMTP
                            ? "554 5.7.1 this bridge serves only its owner's user\r\n"
                            : "-ERR this bridge serves only its owner's user\r\n");
      pst_bridge_conn_write (conn, (const guint8 *) refusal, strlen (refusal));
    }
  else if (conn->kind == PST_BRIDGE_SMTP)
    pst_bridge_smtp_serve (conn);
  else
    pst_bridge_pop3_serve (conn);

  g_mutex_lock (&bridge->lock);
  g_ptr_array_remove_fast (bridge->conns, conn);
  g_cond_broadcast (&bridge->cond);
  g_mutex_unlock (&bridge->lock);
  pst_bridge_conn_free (conn);
  return NULL;
}

static gpointer
accept_thread (gpointer data)
{
  Listener *l = data;
  PstBridge *bridge = l->bridge;

  for (;;)
    {
      int fd = accept4 (l->fd, NULL, NULL, SOCK_CLOEXEC);
      PstBridgeConn *conn;
      g_autoptr (GError) error = NULL;
      GThread *thread;

      if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
        continue;
      if (fd < 0)
        break;   /* shut down by stop_listener (EINVAL), or a hard error */
      g_mutex_lock (&bridge->lock);
      if (bridge->conns->len >= PST_BRIDGE_MAX_CONNECTIONS)
        {
          static const char busy[] = "421 4.7.0 too many connections\r\n";
          static const char busy_pop[] = "-ERR [SYS/TEMP] too many connections\r\n";

          g_mutex_unlock (&bridge->lock);
          if (send (fd, l->kind == PST_BRIDGE_SMTP ? busy : busy_pop,
                    l->kind == PST_BRIDGE_SMTP ? sizeof busy - 1 : sizeof busy_pop - 1,
                    MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            { /* nothing more to do for it */ }
          close (fd);
          continue;
        }
      conn = pst_bridge_conn_new (bridge->agent, l->kind, fd, bridge->ctx);
      conn->bridge_data = bridge;
      g_ptr_array_add (bridge->conns, conn);
      thread = g_thread_try_new ("bridge-conn", conn_thread, conn, &error);
      if (thread == NULL)
        {
          g_ptr_array_remove_fast (bridge->conns, conn);
          g_mutex_unlock (&bridge->lock);
          g_warning ("bridge %s: %s", kind_names[l->kind], error->message);
          pst_bridge_conn_free (conn);
          continue;
        }
      g_thread_unref (thread);
      g_mutex_unlock (&bridge->lock);
    }
  return NULL;
}

/* --- listeners ------------------------------------------------------------------ */

static Listener *
start_listener (PstBridge *bridge, PstBridgeKind kind, const char *configured, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  struct sockaddr_storage ss = { 0 };
  socklen_t len;
  int fd, one = 1;
  Listener *l;

  if (!pst_bridge_address_parse (configured, &host, &port, error))
    return NULL;
  if (strchr (host, ':'))
    {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons (port);
      in6->sin6_addr = in6addr_loopback;
      len = sizeof *in6;
    }
  else
    {
      struct sockaddr_in *in = (struct sockaddr_in *) &ss;

      in->sin_family = AF_INET;
      in->sin_port = htons (port);
      in->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      len = sizeof *in;
    }
  fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0)
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind (fd, (struct sockaddr *) &ss, len) != 0 || listen (fd, 16) != 0
      || getsockname (fd, (struct sockaddr *) &ss, &len) != 0)
    {
      int e = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "bridge %s: cannot listen on %s: %s",
                   kind_names[kind], configured, g_strerror (e));
      return NULL;
    }
  l = g_new0 (Listener, 1);
  l->bridge = bridge;
  l->kind = kind;
  l->fd = fd;
  l->configured = g_strdup (configured);
  l->address = ss.ss_family == AF_INET6
                 ? g_strdup_printf ("[::1]:%u", ntohs (((struct sockaddr_in6 *) &ss)->sin6_port))
                 : g_strdup_printf ("127.0.0.1:%u", ntohs (((struct sockaddr_in *) &ss)->sin_port));
  l->thread = g_thread_new ("bridge-accept", accept_thread, l);
  g_message ("bridge %s: listening on %s", kind_names[kind], l->address);
  return l;
}

static void
stop_listener (Listener *l)
{
  if (l == NULL)
    return;
  /* shutdown(2) wakes the accept(2) in the thread (Linux: EINVAL). */
  shutdown (l->fd, SHUT_RDWR);
  g_thread_join (l->thread);
  close (l->fd);
  g_message ("bridge %s: stopped listening on %s", kind_names[l->kind], l->address);
  g_free (l->configured);
  g_free (l->address);
  g_free (l);
}

PstBridge *
pst_bridge_new (PstAgent *agent)
{
  PstBridge *bridge = g_new0 (PstBridge, 1);

  bridge->agent = agent;
  g_mutex_init (&bridge->apply_lock);
  g_mutex_init (&bridge->lock);
  g_cond_init (&bridge->cond);
  bridge->conns = g_ptr_array_new ();
  return bridge;
}

gboolean
pst_bridge_apply (PstBridge *bridge, GError **error)
{
  PstAgent *agent = bridge->agent;
  gboolean ok = TRUE;

  g_mutex_lock (&bridge->apply_lock);
  for (guint k = 0; k < 2; k++)
    {
      g_autofree char *want = NULL;
      Listener *old = bridge->listeners[k], *now = NULL;
      g_autoptr (GError) local = NULL;

      g_mutex_lock (&agent->config_lock);
      want = g_strdup (pst_config_get_bridge (agent->config, (PstBridgeKind) k));
      g_mutex_unlock (&agent->config_lock);
      if (old != NULL && g_strcmp0 (old->configured, want) == 0)
        continue;
      /* The old one first: a move to the same port must find it free. */
      g_mutex_lock (&bridge->lock);
      bridge->listeners[k] = NULL;
      g_mutex_unlock (&bridge->lock);
      stop_listener (old);
      if (want == NULL)
        continue;
      if (bridge->ctx == NULL)
        {
          SSL_CTX *ctx = pst_bridge_tls_context (agent->paths->data_dir, &local);

          g_mutex_lock (&bridge->lock);
          bridge->ctx = ctx;
          g_mutex_unlock (&bridge->lock);
        }
      if (local == NULL)
        now = start_listener (bridge, (PstBridgeKind) k, want, &local);
      g_mutex_lock (&bridge->lock);
      bridge->listeners[k] = now;
      g_mutex_unlock (&bridge->lock);
      if (local != NULL)
        {
          g_warning ("%s", local->message);
          if (ok)
            g_propagate_error (error, g_steal_pointer (&local));
          ok = FALSE;
        }
    }
  g_mutex_unlock (&bridge->apply_lock);
  return ok;
}

char *
pst_bridge_get_address (PstBridge *bridge, PstBridgeKind kind)
{
  char *address;

  g_mutex_lock (&bridge->lock);
  address = bridge->listeners[kind] ? g_strdup (bridge->listeners[kind]->address) : NULL;
  g_mutex_unlock (&bridge->lock);
  return address;
}

void
pst_bridge_free (PstBridge *bridge)
{
  if (bridge == NULL)
    return;
  g_mutex_lock (&bridge->apply_lock);
  for (guint k = 0; k < 2; k++)
    {
      Listener *l;

      g_mutex_lock (&bridge->lock);
      l = bridge->listeners[k];
      bridge->listeners[k] = NULL;
      g_mutex_unlock (&bridge->lock);
      stop_listener (l);
    }
  g_mutex_unlock (&bridge->apply_lock);
  /* No listener is left to add one: end those there are, and wait. */
  g_mutex_lock (&bridge->lock);
  for (guint i = 0; i < bridge->conns->len; i++)
    pst_bridge_conn_interrupt (g_ptr_array_index (bridge->conns, i));
  while (bridge->conns->len > 0)
    g_cond_wait (&bridge->cond, &bridge->lock);
  g_mutex_unlock (&bridge->lock);
  g_ptr_array_unref (bridge->conns);
  if (bridge->ctx)
    SSL_CTX_free (bridge->ctx);
  g_mutex_clear (&bridge->apply_lock);
  g_mutex_clear (&bridge->lock);
  g_cond_clear (&bridge->cond);
  g_free (bridge);
}
