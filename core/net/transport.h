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
  guint timeout_s;         /* connect, handshake and each read/write; 0 = 60 s */
} PstTlsOptions;

/* Connects to @host:@port.  Transfer full.  Errors: PST_ERROR_NETWORK. */
PstConn *pst_conn_connect (const char *host, guint16 port, const PstTlsOptions *options,
                           GError **error);
void pst_conn_free (PstConn *conn);

/* Performs the TLS handshake on the connection and verifies the server.
 * Errors: PST_ERROR_NETWORK, saying which check failed. */
gboolean pst_conn_start_tls (PstConn *conn, GError **error);
gboolean pst_conn_is_tls (PstConn *conn);

/* Reads up to @len bytes; returns the count, 0 at end of stream, -1 on error. */
gssize pst_conn_read (PstConn *conn, guint8 *buf, gsize len, GError **error);
gboolean pst_conn_write_all (PstConn *conn, const guint8 *buf, gsize len, GError **error);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" after the handshake, else NULL.  Owned by conn. */
const char *pst_conn_get_tls_description (PstConn *conn);

G_END_DECLS
