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
#include "bridge-peer.h"
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
  gint64 refused_logged;    /* when a refusal was last logged (monotonic) */
  guint refused_unlogged;   /* refusals since, not logged */
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

/* --- connections --------------------------------------------------------------- */

static gpointer
conn_thread (gpointer data)
{
  PstBridgeConn *conn = data;
  PstBridge *bridge = conn->bridge_data;

  if (conn->kind == PST_BRIDGE_SMTP)
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

/* Whether connection @fd is the agent's own user's; another's is told so,
 * closed, and logged at most once a second (with how many were refused
 * since), so that a flood of them neither fills the log nor takes the
 * owner's places among the connections. */
static gboolean
admit (Listener *l, int fd)
{
  static const char refused_smtp[] = "554 5.7.1 this bridge serves only its owner's user\r\n";
  static const char refused_pop3[] = "-ERR this bridge serves only its owner's user\r\n";
  g_autoptr (GError) error = NULL;
  uid_t uid = (uid_t) -1;
  gint64 now;

  if (pst_bridge_peer_uid (fd, &uid, &error) && uid == getuid ())
    return TRUE;
  if (send (fd, l->kind == PST_BRIDGE_SMTP ? refused_smtp : refused_pop3,
            l->kind == PST_BRIDGE_SMTP ? sizeof refused_smtp - 1 : sizeof refused_pop3 - 1,
            MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    { /* nothing more to do for it */ }
  close (fd);
  now = g_get_monotonic_time ();
  if (l->refused_logged != 0 && now - l->refused_logged < G_USEC_PER_SEC)
    {
      l->refused_unlogged++;
      return FALSE;
    }
  {
    g_autofree char *why = error ? g_strdup (error->message) : g_strdup_printf ("uid %u", (guint) uid);
    g_autofree char *more = l->refused_unlogged
                              ? g_strdup_printf ("; %u more in the second before, not logged",
                                                 l->refused_unlogged)
                              : g_strdup ("");

    g_message ("bridge %s: refused a connection from another user (%s; the bridge serves only "
               "uid %u)%s", kind_names[l->kind], why, (guint) getuid (), more);
  }
  l->refused_logged = now;
  l->refused_unlogged = 0;
  return FALSE;
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
      if (!admit (l, fd))
        continue;
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
