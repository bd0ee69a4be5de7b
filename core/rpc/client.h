/* client.h — the client side of the agent's socket (used by the CLI and GUI).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _PstRpcClient PstRpcClient;

/* Connects to the agent at @socket_path.  Errors: PST_ERROR_AGENT ("agent
 * not running at PATH").  Transfer full. */
PstRpcClient *pst_rpc_client_connect (const char *socket_path, GError **error);
void pst_rpc_client_free (PstRpcClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstRpcClient, pst_rpc_client_free)

/* Shuts the connection down in both directions, so that a call or a wait
 * for a notification blocked in another thread returns with an error.  Safe
 * to call from any thread while the client is in use; free it afterwards
 * from the thread that uses it. */
void pst_rpc_client_shutdown (PstRpcClient *client);

/* Calls @method with @params (transfer full, may be NULL) and passes @fds
 * along (they stay open in the caller).  Returns the "result" object
 * (transfer full), or NULL with @error set: the agent's error in PST_ERROR
 * with the exit code it named, or PST_ERROR_AGENT when the connection
 * failed. */
JsonObject *pst_rpc_client_call (PstRpcClient *client, const char *method, JsonObject *params,
                                 const int *fds, guint n_fds, GError **error);

/* After a "subscribe" call: waits for the next notification and returns
 * its params (transfer full), @method_out its method (transfer full).  NULL
 * with PST_ERROR_AGENT when the connection ends. */
JsonObject *pst_rpc_client_next_notification (PstRpcClient *client, char **method_out,
                                              GError **error);

G_END_DECLS
