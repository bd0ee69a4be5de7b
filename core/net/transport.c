/* transport.c — TCP plus verified TLS over OpenSSL 3 (see transport.h).
 *
 * TLS contexts are kept per trust setting (CA file, pins, client
 * certificate) for the life of the process, with the last session of each
 * server, so that the agent's next connection resumes it (DESIGN §9). */
#include "net/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/error.h"
#include "util/text.h"

/* One trust setting: its context, and the last session per server. */
typedef struct {
  SSL_CTX *ctx;
  GHashTable *sessions;    /* "host:port" -> SSL_SESSION* */
  GHashTable *no_resume;   /* "host:port" of servers that failed a resumed handshake */
} Trust;

struct _PstConn {
  int fd;
  char *host;
  guint16 port;
  char *trust_key;
  PstTlsOptions options;   /* the pointers in it are not owned and not kept */
  char *ca_file;
  GPtrArray *pins;
  char *client_cert, *client_key;
  guint timeout_ms;
  gint64 deadline;         /* monotonic µs, or 0 */
  SSL *ssl;
  char *subject, *issuer, *pin, *not_after;
  gboolean trusted_by_pin;
  gboolean offered_session;
  gboolean resumption_refused;
};

static GMutex trust_lock;
static GHashTable *trusts;    /* trust key -> Trust* */
static guint n_full, n_resumed;
static int conn_index = -1;   /* SSL ex_data slot: the PstConn */

static gboolean
wait_fd (PstConn *conn, short events, GError **error)
{
  struct pollfd p = { .fd = conn->fd, .events = events };
  int timeout_ms = (int) conn->timeout_ms, r;
  gboolean session_limit = FALSE;

  if (conn->deadline != 0)
    {
      gint64 left = (conn->deadline - g_get_monotonic_time ()) / 1000;

      if (left < timeout_ms)
        {
          timeout_ms = (int) MAX (left, 0);
          session_limit = TRUE;
        }
    }
  do
    r = poll (&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0 && session_limit)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "%s: the session took longer than its limit of %u s", conn->host,
                   conn->options.session_s);
      return FALSE;
    }
  if (r == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "%s: timed out after %u s without an answer", conn->host,
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
  /* Commands go out as whole pipelined groups, so Nagle only delays them
   * (a final dot waited for the ACK of the body: up to 40 ms a message). */
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof (int));
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
  conn->port = port;
  if (options != NULL)
    {
      conn->options = *options;
      conn->ca_file = g_strdup (options->ca_file);
      conn->client_cert = g_strdup (options->client_cert);
      conn->client_key = g_strdup (options->client_key);
      if (options->pins != NULL && options->pins->len > 0)
        conn->pins = g_ptr_array_ref (options->pins);
    }
  conn->options.ca_file = conn->options.client_cert = conn->options.client_key = NULL;
  conn->options.pins = NULL;
  conn->timeout_ms = options && options->timeout_s ? options->timeout_s * 1000 : 60000;
  if (options != NULL && options->session_s > 0)
    conn->deadline = g_get_monotonic_time () + (gint64) options->session_s * G_USEC_PER_SEC;
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
  if (conn->fd >= 0)
    close (conn->fd);
  g_free (conn->host);
  g_free (conn->trust_key);
  g_free (conn->ca_file);
  g_clear_pointer (&conn->pins, g_ptr_array_unref);
  g_free (conn->client_cert);
  g_free (conn->client_key);
  g_free (conn->subject);
  g_free (conn->issuer);
  g_free (conn->pin);
  g_free (conn->not_after);
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

/* The trust key: everything that decides whom a context trusts and what it
 * presents.  Sessions are only resumed under the same key. */
static char *
trust_key (PstConn *conn)
{
  GString *k = g_string_new (conn->options.probe ? "probe\n" : "\n");

  g_string_append_printf (k, "%s\n%s\n%s\n", conn->ca_file ? conn->ca_file : "",
                          conn->client_cert ? conn->client_cert : "",
                          conn->client_key ? conn->client_key : "");
  for (guint i = 0; conn->pins != NULL && i < conn->pins->len; i++)
    {
      g_autofree char *b64 = g_base64_encode (g_bytes_get_data (conn->pins->pdata[i], NULL),
                                             g_bytes_get_size (conn->pins->pdata[i]));
      g_string_append_printf (k, "%s;", b64);
    }
  return g_string_free (k, FALSE);
}

static void
trust_free (Trust *t)
{
  SSL_CTX_free (t->ctx);
  g_hash_table_unref (t->sessions);
  g_hash_table_unref (t->no_resume);
  g_free (t);
}

static char *
server_key (PstConn *conn)
{
  return g_strdup_printf ("%s:%u", conn->host, conn->port);
}

/* A TLS 1.3 ticket (or a TLS 1.2 session) to keep for the next connection. */
static int
new_session_cb (SSL *ssl, SSL_SESSION *session)
{
  PstConn *conn = SSL_get_ex_data (ssl, conn_index);
  Trust *t;

  if (conn == NULL || conn->options.probe)
    return 0;
  g_mutex_lock (&trust_lock);
  t = g_hash_table_lookup (trusts, conn->trust_key);
  if (t != NULL)
    g_hash_table_replace (t->sessions, server_key (conn), session);
  g_mutex_unlock (&trust_lock);
  return t != NULL;   /* 1: the cache holds the reference now */
}

/* Pinned trust and probing: the chain is not what counts, so the handshake
 * goes on and the key (or the probe's report) is checked right after it,
 * before anything is sent. */
static int
verify_cb (int preverify_ok, X509_STORE_CTX *ctx)
{
  return 1;
}

static Trust *
trust_get (PstConn *conn, GError **error)
{
  Trust *t;
  int r;

  g_mutex_lock (&trust_lock);
  if (trusts == NULL)
    {
      trusts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) trust_free);
      conn_index = SSL_get_ex_new_index (0, NULL, NULL, NULL, NULL);
    }
  t = g_hash_table_lookup (trusts, conn->trust_key);
  if (t != NULL)
    {
      g_mutex_unlock (&trust_lock);
      return t;
    }
  t = g_new0 (Trust, 1);
  t->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) SSL_SESSION_free);
  t->no_resume = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  t->ctx = SSL_CTX_new (TLS_client_method ());
  if (t->ctx == NULL)
    {
      g_mutex_unlock (&trust_lock);
      trust_free (t);
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "cannot create a TLS context");
      return NULL;
    }
  SSL_CTX_set_min_proto_version (t->ctx, TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode (t->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb (t->ctx, new_session_cb);
  SSL_CTX_set_verify (t->ctx, SSL_VERIFY_PEER, conn->pins || conn->options.probe ? verify_cb : NULL);
  if (conn->ca_file != NULL)
    r = SSL_CTX_load_verify_locations (t->ctx, conn->ca_file, NULL);
  else
    r = SSL_CTX_set_default_verify_paths (t->ctx);
  if (r != 1)
    {
      g_autofree char *detail = openssl_errors ();
      g_mutex_unlock (&trust_lock);
      trust_free (t);
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "cannot load trusted certificates%s%s: %s",
                   conn->ca_file ? " from " : "", conn->ca_file ? conn->ca_file : "", detail);
      return NULL;
    }
  if (conn->client_cert != NULL
      && (SSL_CTX_use_certificate_chain_file (t->ctx, conn->client_cert) != 1
          || SSL_CTX_use_PrivateKey_file (t->ctx, conn->client_key ? conn->client_key
                                                                    : conn->client_cert,
                                          SSL_FILETYPE_PEM) != 1
          || SSL_CTX_check_private_key (t->ctx) != 1))
    {
      g_autofree char *detail = openssl_errors ();
      g_mutex_unlock (&trust_lock);
      trust_free (t);
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "cannot use the client certificate %s: %s", conn->client_cert, detail);
      return NULL;
    }
  g_hash_table_insert (trusts, g_strdup (conn->trust_key), t);
  g_mutex_unlock (&trust_lock);
  return t;
}

/* @name as one line a person can read, made safe to show: OpenSSL escapes
 * the controls of ASCII but lets every other character through as UTF-8
 * (ESC_MSB is off, for names in other scripts), and does not hold a name
 * to the lengths of RFC 5280 — so a server's certificate could draw lines
 * of its own (U+2028), turn text around, or push the pin out of sight.
 * What every caller (the CLI, the GUI, the logs) gets has each such
 * character replaced and is cut (pst_text_replace_unsafe). */
#define NAME_MAX_CHARS 256

static char *
name_string (const X509_NAME *name)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  char *data = NULL, *out;
  g_autofree char *raw = NULL;
  long len;

  X509_NAME_print_ex (bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  len = BIO_get_mem_data (bio, &data);
  raw = g_strndup (data, (gsize) MAX (len, 0));
  out = pst_text_replace_unsafe (raw, NAME_MAX_CHARS);
  BIO_free (bio);
  return out;
}

/* SHA-256 of the certificate's SubjectPublicKeyInfo (DER). */
static GBytes *
spki_digest (X509 *cert)
{
  unsigned char *der = NULL, md[32];
  unsigned int md_len = 0;
  int len = i2d_X509_PUBKEY (X509_get_X509_PUBKEY (cert), &der);
  gboolean ok;

  if (len <= 0)
    return NULL;
  ok = EVP_Digest (der, (size_t) len, md, &md_len, EVP_sha256 (), NULL) == 1 && md_len == 32;
  OPENSSL_free (der);
  return ok ? g_bytes_new (md, 32) : NULL;
}

static void
record_peer (PstConn *conn, X509 *cert)
{
  g_autoptr (GBytes) digest = spki_digest (cert);
  BIO *bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long len;

  conn->subject = name_string (X509_get_subject_name (cert));
  conn->issuer = name_string (X509_get_issuer_name (cert));
  if (digest != NULL)
    {
      g_autofree char *b64 = g_base64_encode (g_bytes_get_data (digest, NULL), 32);
      conn->pin = g_strconcat ("sha256//", b64, NULL);
    }
  ASN1_TIME_print (bio, X509_get0_notAfter (cert));
  len = BIO_get_mem_data (bio, &data);
  conn->not_after = g_strndup (data, (gsize) MAX (len, 0));
  BIO_free (bio);
}

static gboolean
pin_matches (PstConn *conn, X509 *cert)
{
  g_autoptr (GBytes) digest = spki_digest (cert);

  for (guint i = 0; digest != NULL && i < conn->pins->len; i++)
    if (g_bytes_equal (digest, conn->pins->pdata[i]))
      return TRUE;
  return FALSE;
}

gboolean
pst_conn_start_tls (PstConn *conn, GError **error)
{
  X509_VERIFY_PARAM *param;
  SSL_SESSION *session = NULL;
  g_autofree char *skey = NULL;
  X509 *cert;
  Trust *t;
  long verify;
  int r;

  g_return_val_if_fail (conn->ssl == NULL, FALSE);
  ERR_clear_error ();
  conn->trust_key = trust_key (conn);
  if ((t = trust_get (conn, error)) == NULL)
    return FALSE;

  conn->ssl = SSL_new (t->ctx);
  SSL_set_ex_data (conn->ssl, conn_index, conn);
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
  /* The last session with this server under the same trust, if any; a
   * TLS 1.3 ticket is used once. */
  skey = server_key (conn);
  g_mutex_lock (&trust_lock);
  if (!conn->options.probe)
    {
      gpointer stolen_key = NULL;

      if (g_hash_table_steal_extended (t->sessions, skey, &stolen_key, (gpointer *) &session))
        g_free (stolen_key);
      if (g_hash_table_contains (t->no_resume, skey))
        g_clear_pointer (&session, SSL_SESSION_free);
    }
  g_mutex_unlock (&trust_lock);
  if (session != NULL)
    {
      if (SSL_SESSION_is_resumable (session) && SSL_set_session (conn->ssl, session) == 1)
        conn->offered_session = TRUE;
      SSL_SESSION_free (session);
    }

  for (;;)
    {
      r = SSL_connect (conn->ssl);
      if (r == 1)
        break;
      switch (SSL_get_error (conn->ssl, r))
        {
        case SSL_ERROR_WANT_READ:
          if (!wait_fd (conn, POLLIN, error))
            {
              g_prefix_error (error, "TLS handshake: ");
              return FALSE;
            }
          continue;
        case SSL_ERROR_WANT_WRITE:
          if (!wait_fd (conn, POLLOUT, error))
            {
              g_prefix_error (error, "TLS handshake: ");
              return FALSE;
            }
          continue;
        default:
          set_tls_error (conn, error);
          if (conn->offered_session)
            {
              /* Some servers fail a resumed handshake outright (Dovecot 2.3
               * that asks for client certificates: "session id context
               * uninitialized").  Never offer them a session again. */
              g_mutex_lock (&trust_lock);
              g_hash_table_add (t->no_resume, g_strdup (skey));
              g_mutex_unlock (&trust_lock);
              conn->resumption_refused = TRUE;
              g_prefix_error (error, "the server refused to resume the TLS session: ");
            }
          return FALSE;
        }
    }
  g_mutex_lock (&trust_lock);
  if (SSL_session_reused (conn->ssl))
    n_resumed++;
  else
    n_full++;
  g_mutex_unlock (&trust_lock);
  cert = SSL_get0_peer_certificate (conn->ssl);
  if (cert == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK, "TLS with %s failed: no server certificate",
                   conn->host);
      return FALSE;
    }
  record_peer (conn, cert);
  verify = SSL_get_verify_result (conn->ssl);
  if (conn->pins != NULL)
    {
      /* Pinned: the key alone decides, whatever the chain and name say. */
      if (!pin_matches (conn, cert))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                       "TLS with %s failed: the server key %s is not the pinned one", conn->host,
                       conn->pin ? conn->pin : "(unreadable)");
          return FALSE;
        }
      conn->trusted_by_pin = TRUE;
      return TRUE;
    }
  /* SSL_VERIFY_PEER already fails the handshake outside probe mode; this
   * check stays so that no future change of the callback lets a bad chain
   * through. */
  if (verify != X509_V_OK)
    {
      set_tls_error (conn, error);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_conn_get_tls_info (PstConn *conn, PstTlsInfo *info)
{
  memset (info, 0, sizeof *info);
  if (conn->ssl == NULL || conn->subject == NULL)
    return FALSE;
  info->version = SSL_get_version (conn->ssl);
  info->cipher = SSL_get_cipher_name (conn->ssl);
  info->subject = conn->subject;
  info->issuer = conn->issuer;
  info->pin = conn->pin;
  info->not_after = conn->not_after;
  info->resumed = SSL_session_reused (conn->ssl);
  info->trusted_by_pin = conn->trusted_by_pin;
  return TRUE;
}

GBytes *
pst_conn_get_channel_binding (PstConn *conn, const char **type_out)
{
  unsigned char buf[64];
  size_t len;

  *type_out = NULL;
  if (conn->ssl == NULL)
    return NULL;
  if (SSL_version (conn->ssl) >= TLS1_3_VERSION)
    {
      static const char label[] = "EXPORTER-Channel-Binding";

      if (SSL_export_keying_material (conn->ssl, buf, 32, label, sizeof label - 1, NULL, 0, 0) != 1)
        return NULL;
      *type_out = "tls-exporter";
      return g_bytes_new (buf, 32);
    }
  /* tls-unique is unsafe across resumption without extended master secret
   * (the triple handshake attack): offer no binding then. */
  if (SSL_session_reused (conn->ssl))
    return NULL;
  len = SSL_get_finished (conn->ssl, buf, sizeof buf);
  if (len == 0 || len > sizeof buf)
    return NULL;
  *type_out = "tls-unique";
  return g_bytes_new (buf, len);
}

gboolean
pst_conn_resumption_refused (PstConn *conn)
{
  return conn != NULL && conn->resumption_refused;
}

void
pst_tls_resumption_stats (guint *full_out, guint *resumed_out)
{
  g_mutex_lock (&trust_lock);
  *full_out = n_full;
  *resumed_out = n_resumed;
  g_mutex_unlock (&trust_lock);
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
            case SSL_ERROR_SSL:
              /* A peer that closes without close_notify: an end of stream
               * like any other.  SMTP and POP3 frame their own replies, so
               * the engines see (and name) a reply or message cut short. */
              if (ERR_GET_REASON (ERR_peek_error ()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                {
                  ERR_clear_error ();
                  return 0;
                }
              G_GNUC_FALLTHROUGH;
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
