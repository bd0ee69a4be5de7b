/* server.h — the agent's Unix socket (DESIGN.md §5): a 0700 directory, a
 * 0600 socket, the peer uid checked on every connection, a cap on
 * connections, and one thread per client.
 *
 * No client can hold the socket: at the cap a new connection takes the
 * place of the one idle the longest (server.c says why); a connection
 * that sends no whole request within PST_SERVER_IDLE_TIMEOUT_S is closed
 * (subscribers excepted: they wait for notifications); a request's reads
 * and writes on descriptors the client passed have deadlines and end
 * when the agent stops (clientfd.h). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

#define PST_SERVER_MAX_CONNECTIONS 64
/* Seconds a connection may wait between requests (POSTERN_CLIENT_TIMEOUT
 * replaces it, for tests). */
#define PST_SERVER_IDLE_TIMEOUT_S 60
/* Seconds a connection must have been idle before it may be closed to make
 * room at the cap: one that never sent a request, and one that did. */
#define PST_SERVER_EVICT_SILENT_S 1
#define PST_SERVER_EVICT_IDLE_S 10

/* The agent's socket, bound: another agent answering on it is an error; a
 * stale socket file is replaced. */
PstServer *pst_server_new (PstAgent *agent, GError **error);
/* Accepts clients until the agent stops (pst_agent_request_stop), then
 * waits (bounded) for requests in progress. */
void pst_server_run (PstServer *server);
/* Ends every client connection and waits (10 s at most) until their
 * threads are gone; FALSE when some are still running. */
gboolean pst_server_end_clients (PstServer *server);
/* Closes and removes the socket; frees @server once no client thread is
 * left (after a FALSE from pst_server_end_clients, what they use is left
 * to the process's end). */
void pst_server_free (PstServer *server);

G_END_DECLS
