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
#include "events.h"
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
  GMutex stop_lock;         /* guards stopping; stop_cond wakes a backoff */
  GCond stop_cond;
  gboolean stopping;
} Listener;

struct _PstBridge {
  PstAgent *agent;
  GMutex apply_lock;        /* one apply at a time */
  GMutex lock;              /* guards listeners' addresses, conns, ctx */
  GCond cond;
  Listener *listeners[2];
  char *failures[2];        /* why a configured listener is not listening, or NULL */
  GPtrArray *conns;         /* PstBridgeConn*, live */
  SSL_CTX *ctx;             /* made at the first listener's start */
};

static const char *const kind_names[] = { "smtp", "pop3" };
static const char *const kind_titles[] = { "SMTP", "POP3" };

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
  static const char unsure_smtp[] = "421 4.3.0 cannot tell whose connection this is; try again\r\n";
  static const char unsure_pop3[] = "-ERR [SYS/TEMP] cannot tell whose connection this is; try "
                                    "again\r\n";
  g_autoptr (GError) error = NULL;
  uid_t uid = (uid_t) -1;
  gint64 now;
  const char *reply;

  if (pst_bridge_peer_uid (fd, &uid, &error) && uid == getuid ())
    return TRUE;
  /* The kernel could not be asked (no descriptor left…): may pass. */
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    reply = l->kind == PST_BRIDGE_SMTP ? unsure_smtp : unsure_pop3;
  else
    reply = l->kind == PST_BRIDGE_SMTP ? refused_smtp : refused_pop3;
  if (send (fd, reply, strlen (reply), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
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

    g_message ("bridge %s: refused a connection %s (%s; the bridge serves only uid %u)%s",
               kind_names[l->kind],
               reply == unsure_smtp || reply == unsure_pop3 ? "whose owner it cannot tell"
                                                            : "from another user",
               why, (guint) getuid (), more);
  }
  l->refused_logged = now;
  l->refused_unlogged = 0;
  return FALSE;
}

/* Whether stop_listener asked @l to stop; waits @wait_us first (0: no
 * wait) unless asked meanwhile. */
static gboolean
asked_to_stop (Listener *l, gint64 wait_us)
{
  gint64 end = g_get_monotonic_time () + wait_us;
  gboolean stopping;

  g_mutex_lock (&l->stop_lock);
  while (!l->stopping && wait_us > 0 && g_cond_wait_until (&l->stop_cond, &l->stop_lock, end))
    ;
  stopping = l->stopping;
  g_mutex_unlock (&l->stop_lock);
  return stopping;
}

static gpointer
accept_thread (gpointer data)
{
  Listener *l = data;
  PstBridge *bridge = l->bridge;
  gint64 backoff = 0;   /* µs, after a failed accept */

  for (;;)
    {
      int fd = accept4 (l->fd, NULL, NULL, SOCK_CLOEXEC);
      PstBridgeConn *conn;
      g_autoptr (GError) error = NULL;
      GThread *thread;

      if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
        continue;
      /* Only stop_listener ends the thread (its shutdown(2) makes accept
       * fail); anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM, EPROTO…)
       * may pass: tried again after a pause that grows to a second, the
       * connection waiting in the backlog meanwhile. */
      if (fd < 0)
        {
          int e = errno;

          if (asked_to_stop (l, 0))
            break;
          backoff = backoff == 0 ? 10 * 1000 : MIN (backoff * 2, G_USEC_PER_SEC);
          if (backoff == 10 * 1000)
            g_warning ("bridge %s: cannot accept a connection: %s; trying again",
                       kind_names[l->kind], g_strerror (e));
          if (asked_to_stop (l, backoff))
            break;
          continue;
        }
      if (backoff != 0)
        g_message ("bridge %s: accepting connections again", kind_names[l->kind]);
      backoff = 0;
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
start_listener (PstBridge *bridge, PstBridgeKind kind, const char *configured, char **why_out)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;
  struct sockaddr_storage ss = { 0 };
  socklen_t len;
  int fd, one = 1;
  Listener *l;

  if (!pst_bridge_address_parse (configured, &host, &port, &error))
    {
      *why_out = g_strdup (error->message);
      return NULL;
    }
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
      *why_out = g_strdup (g_strerror (e));
      return NULL;
    }
  l = g_new0 (Listener, 1);
  g_mutex_init (&l->stop_lock);
  g_cond_init (&l->stop_cond);
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
  g_mutex_lock (&l->stop_lock);
  l->stopping = TRUE;
  g_cond_broadcast (&l->stop_cond);
  g_mutex_unlock (&l->stop_lock);
  /* shutdown(2) wakes the accept(2) in the thread (Linux: EINVAL). */
  shutdown (l->fd, SHUT_RDWR);
  g_thread_join (l->thread);
  close (l->fd);
  g_message ("bridge %s: stopped listening on %s", kind_names[l->kind], l->address);
  g_mutex_clear (&l->stop_lock);
  g_cond_clear (&l->stop_cond);
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

/* Remembers why listener @kind at @want is not listening (NULL: it is, or
 * is off), and says so: a warning, and bridge.error to subscribers. */
static void
set_failure (PstBridge *bridge, PstBridgeKind kind, const char *want, const char *why)
{
  char *failure = why ? g_strdup_printf ("bridge %s %s: not listening: %s", kind_titles[kind],
                                         want, why)
                      : NULL;

  g_mutex_lock (&bridge->lock);
  g_free (bridge->failures[kind]);
  bridge->failures[kind] = failure;
  g_mutex_unlock (&bridge->lock);
  if (why == NULL)
    return;
  g_warning ("%s", failure);
  if (bridge->agent->events != NULL)
    {
      JsonObject *p = json_object_new ();

      json_object_set_string_member (p, "listener", kind_names[kind]);
      json_object_set_string_member (p, "address", want);
      json_object_set_string_member (p, "error", why);
      pst_events_emit (bridge->agent->events, "bridge.error", p);
    }
}

gboolean
pst_bridge_apply_one (PstBridge *bridge, PstBridgeKind k, GError **error)
{
  PstAgent *agent = bridge->agent;
  g_autofree char *want = NULL;
  Listener *old, *now = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *why = NULL;

  g_mutex_lock (&bridge->apply_lock);
  old = bridge->listeners[k];
  g_mutex_lock (&agent->config_lock);
  want = g_strdup (pst_config_get_bridge (agent->config, k));
  g_mutex_unlock (&agent->config_lock);
  if (old != NULL && g_strcmp0 (old->configured, want) == 0)
    {
      g_mutex_unlock (&bridge->apply_lock);
      return TRUE;
    }
  /* The old one first: a move to the same port must find it free. */
  g_mutex_lock (&bridge->lock);
  bridge->listeners[k] = NULL;
  g_mutex_unlock (&bridge->lock);
  stop_listener (old);
  if (want != NULL && bridge->ctx == NULL)
    {
      SSL_CTX *ctx = pst_bridge_tls_context (agent->paths->data_dir, &local);

      g_mutex_lock (&bridge->lock);
      bridge->ctx = ctx;
      g_mutex_unlock (&bridge->lock);
      if (local != NULL)
        why = g_strdup (local->message);
    }
  if (want != NULL && local == NULL && !(now = start_listener (bridge, k, want, &why)))
    g_set_error (&local, PST_ERROR, PST_ERROR_FAILED, "bridge %s: cannot listen on %s: %s",
                 kind_names[k], want, why);
  g_mutex_lock (&bridge->lock);
  bridge->listeners[k] = now;
  g_mutex_unlock (&bridge->lock);
  set_failure (bridge, k, want, why);
  g_mutex_unlock (&bridge->apply_lock);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_bridge_apply (PstBridge *bridge, GError **error)
{
  gboolean ok = TRUE;

  for (guint k = 0; k < 2; k++)
    if (!pst_bridge_apply_one (bridge, (PstBridgeKind) k, ok ? error : NULL))
      ok = FALSE;
  return ok;
}

char *
pst_bridge_get_failure (PstBridge *bridge, PstBridgeKind kind)
{
  char *failure;

  g_mutex_lock (&bridge->lock);
  failure = g_strdup (bridge->failures[kind]);
  g_mutex_unlock (&bridge->lock);
  return failure;
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
  g_free (bridge->failures[0]);
  g_free (bridge->failures[1]);
  if (bridge->ctx)
    SSL_CTX_free (bridge->ctx);
  g_mutex_clear (&bridge->apply_lock);
  g_mutex_clear (&bridge->lock);
  g_cond_clear (&bridge->cond);
  g_free (bridge);
}
