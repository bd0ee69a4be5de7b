/* bridge-tls.h — the local bridge's own certificate authority and server
 * certificate (DESIGN.md §14), and the TLS server context made from them.
 *
 * Made once, on the bridge's first start, in DATA/bridge/ (0700): ca.pem
 * (the CA certificate: what mail clients are told to trust), cert.pem (the
 * server certificate, its chain: itself and the CA) and key.pem (0600).
 * EC P-256, SHA-256; the server certificate names DNS:localhost,
 * IP:127.0.0.1 and IP:::1, and the CA has critical name constraints
 * (DNS:localhost, IP:127.0.0.0/8, IP:::1/128) so that it can vouch for
 * nothing else even where it is trusted system-wide.  The CA's private key
 * signs that one certificate and is never written: when the server
 * certificate or key is missing, a new CA is made with it. */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>

G_BEGIN_DECLS

/* The bridge's directory in @data_dir.  Transfer full. */
char *pst_bridge_dir (const char *data_dir);

/* The CA certificate's path (made with the rest when missing).  Transfer
 * full.  Errors: PST_ERROR_FAILED. */
char *pst_bridge_tls_ensure (const char *data_dir, GError **error);

/* A TLS server context (TLS 1.2 minimum) with the bridge's certificate,
 * made first when missing.  Errors: PST_ERROR_FAILED. */
SSL_CTX *pst_bridge_tls_context (const char *data_dir, GError **error);

G_END_DECLS
