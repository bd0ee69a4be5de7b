/* transport.c — TCP plus verified TLS over OpenSSL 3 (see transport.h). */
#include "net/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/error.h"

struct _PstConn {
  int fd;
  char *host;
  char *ca_file;
  guint timeout_ms;
  SSL_CTX *ctx;
  SSL *ssl;
  char *description;
};

static gboolean
wait_fd (PstConn *conn, short events, GError **error)
{
  struct pollfd p = { .fd = conn->fd, .events = events };
  int r;

  do
    r = poll (&p, 1, (int) conn->timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "%s: timed out after %u s", conn->host,
                   conn->timeout_ms / 1000);
      return FALSE;
    }
  if (r < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "%s: %s", conn->host, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static int
connect_one (const struct addrinfo *ai, guint timeout_ms, int *errno_out)
{
  int fd = socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  struct pollfd p;
  int err = 0;
  socklen_t len = sizeof err;

  if (fd < 0)
    {
      *errno_out = errno;
      return -1;
    }
  if (connect (fd, ai->ai_addr, ai->ai_addrlen) == 0)
    return fd;
  if (errno != EINPROGRESS)
    {
      *errno_out = errno;
      close (fd);
      return -1;
    }
  p.fd = fd;
  p.events = POLLOUT;
  if (poll (&p, 1, (int) timeout_ms) <= 0)
    {
      *errno_out = ETIMEDOUT;
      close (fd);
      return -1;
    }
  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
    {
      *errno_out = err ? err : errno;
      close (fd);
      return -1;
    }
  return fd;
}

PstConn *
pst_conn_connect (const char *host, guint16 port, const PstTlsOptions *options, GError **error)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  struct addrinfo *res = NULL;
  char service[8];
  int fd = -1, last_errno = ECONNREFUSED, r;
  PstConn *conn;

  g_snprintf (service, sizeof service, "%u", port);
  r = getaddrinfo (host, service, &hints, &res);
  if (r != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "cannot resolve %s: %s", host,
                   gai_strerror (r));
      return NULL;
    }
  for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
    fd = connect_one (ai, options && options->timeout_s ? options->timeout_s * 1000 : 60000,
                      &last_errno);
  freeaddrinfo (res);
  if (fd < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "cannot connect to %s port %u: %s", host,
                   port, g_strerror (last_errno));
      return NULL;
    }

  conn = g_new0 (PstConn, 1);
  conn->fd = fd;
  conn->host = g_strdup (host);
  conn->ca_file = g_strdup (options ? options->ca_file : NULL);
  conn->timeout_ms = options && options->timeout_s ? options->timeout_s * 1000 : 60000;
  return conn;
}

void
pst_conn_free (PstConn *conn)
{
  if (conn == NULL)
    return;
  if (conn->ssl != NULL)
    {
      SSL_shutdown (conn->ssl);   /* best effort close_notify, never waits */
      SSL_free (conn->ssl);
    }
  if (conn->ctx != NULL)
    SSL_CTX_free (conn->ctx);
  if (conn->fd >= 0)
    close (conn->fd);
  g_free (conn->host);
  g_free (conn->ca_file);
  g_free (conn->description);
  g_free (conn);
}

static char *
openssl_errors (void)
{
  GString *s = g_string_new (NULL);
  unsigned long e;
  char buf[256];

  while ((e = ERR_get_error ()) != 0)
    {
      ERR_error_string_n (e, buf, sizeof buf);
      if (s->len)
        g_string_append (s, "; ");
      g_string_append (s, buf);
    }
  return g_string_free (s, FALSE);
}

static void
set_tls_error (PstConn *conn, GError **error)
{
  long verify = SSL_get_verify_result (conn->ssl);
  g_autofree char *detail = NULL;

  if (verify != X509_V_OK)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "TLS with %s failed: server certificate not accepted: %s", conn->host,
                   X509_verify_cert_error_string (verify));
      return;
    }
  detail = openssl_errors ();
  g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "TLS with %s failed: %s", conn->host,
               *detail ? detail : "handshake error");
}

static gboolean
is_ip_literal (const char *host)
{
  unsigned char buf[16];
  return inet_pton (AF_INET, host, buf) == 1 || inet_pton (AF_INET6, host, buf) == 1;
}

gboolean
pst_conn_start_tls (PstConn *conn, GError **error)
{
  X509_VERIFY_PARAM *param;
  int r;

  g_return_val_if_fail (conn->ssl == NULL, FALSE);
  ERR_clear_error ();
  conn->ctx = SSL_CTX_new (TLS_client_method ());
  if (conn->ctx == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "cannot create a TLS context");
      return FALSE;
    }
  SSL_CTX_set_min_proto_version (conn->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify (conn->ctx, SSL_VERIFY_PEER, NULL);
  if (conn->ca_file != NULL)
    r = SSL_CTX_load_verify_locations (conn->ctx, conn->ca_file, NULL);
  else
    r = SSL_CTX_set_default_verify_paths (conn->ctx);
  if (r != 1)
    {
      g_autofree char *detail = openssl_errors ();
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "cannot load trusted certificates%s%s: %s",
                   conn->ca_file ? " from " : "", conn->ca_file ? conn->ca_file : "", detail);
      return FALSE;
    }

  conn->ssl = SSL_new (conn->ctx);
  param = SSL_get0_param (conn->ssl);
  X509_VERIFY_PARAM_set_hostflags (param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip_literal (conn->host))
    r = X509_VERIFY_PARAM_set1_ip_asc (param, conn->host);
  else
    r = SSL_set1_host (conn->ssl, conn->host) && SSL_set_tlsext_host_name (conn->ssl, conn->host);
  if (r != 1)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "cannot verify host name %s", conn->host);
      return FALSE;
    }
  SSL_set_fd (conn->ssl, conn->fd);

  for (;;)
    {
      r = SSL_connect (conn->ssl);
      if (r == 1)
        break;
      switch (SSL_get_error (conn->ssl, r))
        {
        case SSL_ERROR_WANT_READ:
          if (!wait_fd (conn, POLLIN, error))
            return FALSE;
          continue;
        case SSL_ERROR_WANT_WRITE:
          if (!wait_fd (conn, POLLOUT, error))
            return FALSE;
          continue;
        default:
          set_tls_error (conn, error);
          return FALSE;
        }
    }
  /* SSL_VERIFY_PEER already fails the handshake; this check stays so that no
   * future change of the verify callback can let a bad chain through. */
  if (SSL_get_verify_result (conn->ssl) != X509_V_OK || SSL_get0_peer_certificate (conn->ssl) == NULL)
    {
      set_tls_error (conn, error);
      return FALSE;
    }
  conn->description = g_strdup_printf ("%s %s", SSL_get_version (conn->ssl),
                                       SSL_get_cipher_name (conn->ssl));
  return TRUE;
}

gboolean
pst_conn_is_tls (PstConn *conn)
{
  return conn->ssl != NULL;
}

const char *
pst_conn_get_tls_description (PstConn *conn)
{
  return conn->description;
}

gssize
pst_conn_read (PstConn *conn, guint8 *buf, gsize len, GError **error)
{
  for (;;)
    {
      if (conn->ssl != NULL)
        {
          size_t got = 0;
          int r;

          ERR_clear_error ();
          r = SSL_read_ex (conn->ssl, buf, len, &got);
          if (r == 1)
            return (gssize) got;
          switch (SSL_get_error (conn->ssl, r))
            {
            case SSL_ERROR_WANT_READ:
              if (!wait_fd (conn, POLLIN, error))
                return -1;
              continue;
            case SSL_ERROR_WANT_WRITE:
              if (!wait_fd (conn, POLLOUT, error))
                return -1;
              continue;
            case SSL_ERROR_ZERO_RETURN:
              return 0;
            default:
              {
                g_autofree char *detail = openssl_errors ();
                g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                             "TLS connection to %s broken: %s", conn->host,
                             *detail ? detail : "unexpected end of stream");
                return -1;
              }
            }
        }
      else
        {
          ssize_t n = recv (conn->fd, buf, len, 0);
          if (n >= 0)
            return n;
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            {
              if (!wait_fd (conn, POLLIN, error))
                return -1;
              continue;
            }
          g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "reading from %s: %s", conn->host,
                       g_strerror (errno));
          return -1;
        }
    }
}

gboolean
pst_conn_write_all (PstConn *conn, const guint8 *buf, gsize len, GError **error)
{
  while (len > 0)
    {
      if (conn->ssl != NULL)
        {
          size_t done = 0;
          int r;

          ERR_clear_error ();
          r = SSL_write_ex (conn->ssl, buf, len, &done);
          if (r == 1)
            {
              buf += done;
              len -= done;
              continue;
            }
          switch (SSL_get_error (conn->ssl, r))
            {
            case SSL_ERROR_WANT_READ:
              if (!wait_fd (conn, POLLIN, error))
                return FALSE;
              continue;
            case SSL_ERROR_WANT_WRITE:
              if (!wait_fd (conn, POLLOUT, error))
                return FALSE;
              continue;
            default:
              {
                g_autofree char *detail = openssl_errors ();
                g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "writing to %s: %s",
                             conn->host, *detail ? detail : "TLS connection broken");
                return FALSE;
              }
            }
        }
      else
        {
          ssize_t n = send (conn->fd, buf, len, MSG_NOSIGNAL);
          if (n > 0)
            {
              buf += n;
              len -= (gsize) n;
              continue;
            }
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            {
              if (!wait_fd (conn, POLLOUT, error))
                return FALSE;
              continue;
            }
          g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "writing to %s: %s", conn->host,
                       g_strerror (errno));
          return FALSE;
        }
    }
  return TRUE;
}
