/* methods.h — the agent's RPC methods (DESIGN.md §5). */
#pragma once

#include <json-glib/json-glib.h>

#include "agent.h"
#include "rpc/frame.h"

G_BEGIN_DECLS

/* Runs @method and returns the whole JSON-RPC response (result or error)
 * for request @id.  @fds: descriptors passed with the request (still owned
 * by the caller).  Transfer full. */
JsonNode *pst_methods_dispatch (PstAgent *agent, PstRpcChannel *channel, const char *method,
                                JsonObject *params, JsonNode *id, GArray *fds);

G_END_DECLS
