/* bridge-conn.h — one connection to the local bridge (bridge.h): its
 * socket, TLS once STARTTLS/STLS asked for it, and the loop that runs a
 * sans-I/O protocol session over them.  The sessions themselves are
 * bridge-smtp.c and bridge-pop3.c. */
#pragma once

#include <openssl/ssl.h>

#include "agent.h"

G_BEGIN_DECLS

/* Seconds a connection may be silent (RFC 5321 §4.5.3.2.7's 5 minutes;
 * POSTERN_BRIDGE_IDLE_TIMEOUT replaces it, for tests). */
#define PST_BRIDGE_IDLE_TIMEOUT_S 300

typedef struct {
  PstAgent *agent;
  PstBridgeKind kind;
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;               /* after STARTTLS/STLS */
  gpointer bridge_data;   /* the bridge's, for bridge.c */
  char *account;          /* the account logged in, or NULL */
} PstBridgeConn;

/* Takes @fd; @ctx gets a reference. */
PstBridgeConn *pst_bridge_conn_new (PstAgent *agent, PstBridgeKind kind, int fd, SSL_CTX *ctx);
void pst_bridge_conn_free (PstBridgeConn *conn);
/* Ends the connection from another thread: its reads see the end. */
void pst_bridge_conn_interrupt (PstBridgeConn *conn);
gboolean pst_bridge_conn_write (PstBridgeConn *conn, const guint8 *data, gsize len);

/* A sans-I/O server session as the loop drives it (smtp-server.h and
 * pop3-server.h have the same shape; their actions are these values). */
typedef enum {
  PST_BRIDGE_CONTINUE = 0,
  PST_BRIDGE_START_TLS = 1,
  PST_BRIDGE_CLOSE = 2,
} PstBridgeAction;

typedef struct {
  PstBridgeAction (*feed) (gpointer session, const guint8 *data, gsize len);
  void (*feed_eof) (gpointer session);
  void (*tls_started) (gpointer session);
  void (*shutdown) (gpointer session, const char *why);
  const guint8 *(*get_output) (gpointer session, gsize *len_out);
  void (*consume_output) (gpointer session, gsize n);
  /* Whether commands are left unanswered until the output is written (then
   * the loop feeds nothing to go on), or NULL: never. */
  gboolean (*stalled) (gpointer session);
} PstBridgeProto;

/* Runs @session until it closes, the client goes or stays silent past
 * PST_BRIDGE_IDLE_TIMEOUT_S, or the agent stops. */
void pst_bridge_conn_run (PstBridgeConn *conn, const PstBridgeProto *proto, gpointer session);

/* Whether @user/@password are bridge credentials, logged either way (the
 * user, never the password); on TRUE conn->account is the account. */
gboolean pst_bridge_conn_login (PstBridgeConn *conn, const char *mechanism, const char *user,
                                const char *password);

G_END_DECLS
