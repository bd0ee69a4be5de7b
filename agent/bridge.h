/* bridge.h — the local bridge (DESIGN.md §14): an SMTP submission
 * listener and a POP3 listener on loopback, for the mail programs people
 * already use.
 *
 * Off unless [general] bridge_smtp / bridge_pop3 say where; each listener
 * has a thread that accepts, and each connection a thread of its own (at
 * most PST_BRIDGE_MAX_CONNECTIONS at once).  Only the agent's own uid is
 * served: the owner of the peer's socket is looked up (bridge-peer.h) as
 * the connection is accepted, before it counts; any other is refused.
 * Clients log in with the account's
 * bridge credentials (bridge-creds.h), in the clear on loopback or after
 * STARTTLS/STLS with the bridge's own certificate (bridge-tls.h); every
 * login is logged, never its password.  What is submitted takes send's
 * path (outgoing.h); what is retrieved is the stored mail, readable. */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

#define PST_BRIDGE_MAX_CONNECTIONS 16

typedef struct _PstBridge PstBridge;

/* A bridge with no listener yet.  Transfer full. */
PstBridge *pst_bridge_new (PstAgent *agent);
/* Ends every connection and listener (waits for their threads). */
void pst_bridge_free (PstBridge *bridge);

/* Makes listener @kind what the configuration says: starts, stops or
 * moves it (one that is configured but not listening is tried again).
 * FALSE with @error (PST_ERROR_FAILED: cannot bind, or the certificate)
 * when it could not start; then pst_bridge_get_failure() says why until
 * the next apply, and it is a warning and a bridge.error event. */
gboolean pst_bridge_apply_one (PstBridge *bridge, PstBridgeKind kind, GError **error);
/* Both listeners, each on its own: one that fails leaves the other as it
 * is made.  FALSE with the first @error. */
gboolean pst_bridge_apply (PstBridge *bridge, GError **error);

/* "bridge SMTP 127.0.0.1:1025: not listening: Address already in use" when
 * listener @kind is configured but could not start, else NULL.  Transfer
 * full. */
char *pst_bridge_get_failure (PstBridge *bridge, PstBridgeKind kind);

/* Where listener @kind listens ("127.0.0.1:PORT", "[::1]:PORT"), or NULL
 * when it is off.  Transfer full. */
char *pst_bridge_get_address (PstBridge *bridge, PstBridgeKind kind);

G_END_DECLS
