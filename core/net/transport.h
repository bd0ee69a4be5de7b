/* transport.h — a TCP connection that can be upgraded to TLS (OpenSSL 3).
 *
 * Blocking I/O with timeouts, for the agent's session threads.  TLS is
 * always verified: the chain against the system store or a CA file, and the
 * host name (or IP address) the caller connected to; TLS 1.2 is the
 * minimum.  There is deliberately no way to turn verification off.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PstConn PstConn;

typedef struct {
  const char *ca_file;     /* PEM bundle to trust instead of the system store, or NULL */
  GPtrArray *pins;         /* of GBytes (SHA-256 of the server's SubjectPublicKeyInfo): when set,
                            * the server is trusted by its key alone, instead of a CA */
  const char *client_cert; /* PEM certificate (chain) for TLS client authentication, or NULL */
  const char *client_key;  /* its private key; NULL: in client_cert */
  guint timeout_s;         /* connect, handshake and each read/write; 0 = 60 s */
  guint session_s;         /* the whole connection; 0 = no limit */
  gboolean probe;          /* account test: a certificate that is not trusted still completes the
                            * handshake so that it can be shown, but start_tls fails */
} PstTlsOptions;

/* Connects to @host:@port.  Transfer full.  Errors: PST_ERROR_NETWORK. */
PstConn *pst_conn_connect (const char *host, guint16 port, const PstTlsOptions *options,
                           GError **error);
void pst_conn_free (PstConn *conn);

/* Performs the TLS handshake on the connection and verifies the server.
 * Errors: PST_ERROR_NETWORK, saying which check failed. */
gboolean pst_conn_start_tls (PstConn *conn, GError **error);

/* Reads up to @len bytes; returns the count, 0 at end of stream, -1 on error. */
gssize pst_conn_read (PstConn *conn, guint8 *buf, gsize len, GError **error);
gboolean pst_conn_write_all (PstConn *conn, const guint8 *buf, gsize len, GError **error);

/* What the handshake showed, for `account test` (also after a failed
 * verification in probe mode).  Strings owned by conn; NULL before TLS. */
typedef struct {
  const char *version;     /* "TLSv1.3" */
  const char *cipher;
  const char *subject;     /* RFC 2253 */
  const char *issuer;
  const char *pin;         /* "sha256//BASE64" of the server's SubjectPublicKeyInfo */
  const char *not_after;
  gboolean resumed;        /* the session was resumed from an earlier connection */
  gboolean trusted_by_pin;
} PstTlsInfo;
gboolean pst_conn_get_tls_info (PstConn *conn, PstTlsInfo *info);

/* Channel binding data for SCRAM-*-PLUS: "tls-exporter" (RFC 9266) on TLS
 * 1.3, "tls-unique" (RFC 5929) on a full TLS 1.2 handshake; NULL when there
 * is none (no TLS, or a resumed TLS 1.2 session).  *@type_out is static. */
GBytes *pst_conn_get_channel_binding (PstConn *conn, const char **type_out);

/* Sessions are kept in memory per server and trust settings, and resumed by
 * the next connection to the same server.  Counters since the process
 * started, for benchmarks and logs. */
void pst_tls_resumption_stats (guint *full_out, guint *resumed_out);

/* Whether start_tls failed on a handshake that offered an earlier session:
 * the server will not be offered one again, and the caller may connect
 * again at once. */
gboolean pst_conn_resumption_refused (PstConn *conn);

G_END_DECLS
