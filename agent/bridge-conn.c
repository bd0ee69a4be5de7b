/* bridge-conn.c — see bridge-conn.h. */
#include "bridge-conn.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>

#include "bridge-creds.h"

#define WRITE_TIMEOUT_S 60

PstBridgeConn *
pst_bridge_conn_new (PstAgent *agent, PstBridgeKind kind, int fd, SSL_CTX *ctx)
{
  PstBridgeConn *conn = g_new0 (PstBridgeConn, 1);
  struct timeval rcv = { PST_BRIDGE_IDLE_TIMEOUT_S, 0 }, snd = { WRITE_TIMEOUT_S, 0 };
  const char *override = g_getenv ("POSTERN_BRIDGE_IDLE_TIMEOUT");
  guint64 seconds = 0;

  if (override && g_ascii_string_to_unsigned (override, 10, 1, 3600, &seconds, NULL))
    rcv.tv_sec = (time_t) seconds;
  conn->agent = agent;
  conn->kind = kind;
  conn->fd = fd;
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
  if (ctx != NULL && SSL_CTX_up_ref (ctx) == 1)
    conn->ctx = ctx;
  return conn;
}

void
pst_bridge_conn_free (PstBridgeConn *conn)
{
  if (conn->ssl != NULL)
    {
      SSL_shutdown (conn->ssl);
      SSL_free (conn->ssl);
    }
  if (conn->ctx != NULL)
    SSL_CTX_free (conn->ctx);
  close (conn->fd);
  g_free (conn->account);
  g_free (conn);
}

void
pst_bridge_conn_interrupt (PstBridgeConn *conn)
{
  shutdown (conn->fd, SHUT_RDWR);
}

gboolean
pst_bridge_conn_write (PstBridgeConn *conn, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      gssize n;

      if (conn->ssl != NULL)
        {
          size_t written = 0;

          n = SSL_write_ex (conn->ssl, data, len, &written) == 1 ? (gssize) written : -1;
        }
      else
        n = send (conn->fd, data, len, MSG_NOSIGNAL);
      if (n < 0 && conn->ssl == NULL && errno == EINTR)
        continue;
      if (n <= 0)
        {
          ERR_clear_error ();
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Reads some bytes: their count; 0 at the end or on a failure; -1 when
 * the client stayed silent past the idle timeout (SO_RCVTIMEO). */
static gssize
conn_read (PstBridgeConn *conn, guint8 *buf, gsize len)
{
  for (;;)
    {
      gssize n;

      if (conn->ssl != NULL)
        {
          size_t got = 0;

          errno = 0;
          if (SSL_read_ex (conn->ssl, buf, len, &got) == 1)
            return (gssize) got;
          n = SSL_get_error (conn->ssl, 0) == SSL_ERROR_SYSCALL
                && (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : 0;
          ERR_clear_error ();
          return n;
        }
      n = recv (conn->fd, buf, len, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
      return n;
    }
}

static gboolean
start_tls (PstBridgeConn *conn)
{
  if (conn->ctx == NULL || !(conn->ssl = SSL_new (conn->ctx)) || SSL_set_fd (conn->ssl, conn->fd) != 1
      || SSL_accept (conn->ssl) != 1)
    {
      char buf[256] = "";

      ERR_error_string_n (ERR_peek_error (), buf, sizeof buf);
      ERR_clear_error ();
      g_message ("bridge %s: TLS handshake failed: %s", conn->kind == PST_BRIDGE_SMTP ? "smtp"
                                                                                       : "pop3",
                 buf[0] ? buf : "the client went away");
      if (conn->ssl != NULL)
        {
          SSL_free (conn->ssl);
          conn->ssl = NULL;
        }
      return FALSE;
    }
  return TRUE;
}

static gboolean
flush (PstBridgeConn *conn, const PstBridgeProto *proto, gpointer session)
{
  gsize len = 0;
  const guint8 *out = proto->get_output (session, &len);

  if (len == 0)
    return TRUE;
  if (!pst_bridge_conn_write (conn, out, len))
    return FALSE;
  proto->consume_output (session, len);
  return TRUE;
}

void
pst_bridge_conn_run (PstBridgeConn *conn, const PstBridgeProto *proto, gpointer session)
{
  guint8 buf[16384];

  for (;;)
    {
      PstBridgeAction action = PST_BRIDGE_CONTINUE;
      gssize n;

      if (!flush (conn, proto, session))
        return;
      if (pst_agent_is_stopping (conn->agent))
        {
          proto->shutdown (session, "the agent is stopping");
          flush (conn, proto, session);
          return;
        }
      n = conn_read (conn, buf, sizeof buf);
      if (n < 0)
        {
          proto->shutdown (session, "idle too long; closing");
          flush (conn, proto, session);
          return;
        }
      if (n == 0)
        {
          proto->feed_eof (session);
          return;
        }
      action = proto->feed (session, buf, (gsize) n);
      /* Pipelined commands whose answers did not fit: written, then on. */
      while (action == PST_BRIDGE_CONTINUE && proto->stalled != NULL && proto->stalled (session))
        {
          if (!flush (conn, proto, session))
            return;
          action = proto->feed (session, NULL, 0);
        }
      if (action == PST_BRIDGE_CLOSE)
        {
          flush (conn, proto, session);
          return;
        }
      if (action == PST_BRIDGE_START_TLS)
        {
          if (!flush (conn, proto, session) || !start_tls (conn))
            return;
          proto->tls_started (session);
        }
    }
}

gboolean
pst_bridge_conn_login (PstBridgeConn *conn, const char *mechanism, const char *user,
                       const char *password)
{
  g_autofree char *account = pst_bridge_credentials_check (conn->agent->paths->data_dir, user,
                                                           password);
  const char *kind = conn->kind == PST_BRIDGE_SMTP ? "smtp" : "pop3";

  /* The account must still exist: credentials outlive a removed account. */
  if (account != NULL)
    {
      g_autoptr (PstAccount) a = pst_agent_get_account (conn->agent, account, NULL);

      if (a == NULL)
        g_clear_pointer (&account, g_free);
    }
  if (account == NULL)
    {
      g_autoptr (PstAccount) named = pst_agent_get_account (conn->agent, user, NULL);
      /* The user is named only when it is an account's: a client that
       * swapped the fields must not put the password in the log. */
      g_autofree char *who = named ? g_strdup_printf ("user '%s'", named->name)
                                   : g_strdup ("an unknown user");

      g_clear_pointer (&conn->account, g_free);
      g_message ("bridge %s: login refused for %s (%s%s): wrong user or password", kind, who,
                 mechanism, conn->ssl ? ", TLS" : "");
      return FALSE;
    }
  g_message ("bridge %s: login of account %s (%s%s)", kind, account, mechanism,
             conn->ssl ? ", TLS" : "");
  g_free (conn->account);
  conn->account = g_steal_pointer (&account);
  return TRUE;
}
