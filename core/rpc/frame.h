/* frame.h — the framing of the agent's socket protocol (DESIGN.md §5).
 *
 * JSON-RPC 2.0, one object per line, a line at most PST_RPC_MAX_LINE bytes;
 * file descriptors travel beside the bytes as SCM_RIGHTS and are named in
 * the request by index ("fd": 0 is the first one passed with that request).
 * Used by both sides: the agent and its clients.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PST_RPC_MAX_LINE (1024 * 1024)
#define PST_RPC_PROTOCOL 1
/* Arrays and objects nest at most this deep in a line.  json-glib's parser
 * recurses once per level, so an 80,000-deep line (160 KB, well under
 * PST_RPC_MAX_LINE) overflowed the stack; no request or reply of ours
 * nests deeper than about 8. */
#define PST_RPC_MAX_DEPTH 64
/* Descriptors one line may carry: what a method can need (encrypt and
 * decrypt take an input and an output, keys.import a file and a
 * passphrase) with room to spare.  The kernel lets a peer pass 253 with
 * each sendmsg(2), and a line may take many: more than this arriving
 * before the line ends are closed at once, and the line is refused. */
#define PST_RPC_MAX_FDS 4
/* A line not taken by the peer within this many seconds breaks the channel. */
#define PST_RPC_WRITE_TIMEOUT_S 10

/* JSON-RPC error codes: the standard ones, and 1000 + the exit code of
 * DESIGN.md §6 for application errors (1001 failed … 1007 infected). */
enum {
  PST_RPC_PARSE_ERROR = -32700,
  PST_RPC_INVALID_REQUEST = -32600,
  PST_RPC_METHOD_NOT_FOUND = -32601,
  PST_RPC_INVALID_PARAMS = -32602,
  PST_RPC_APP_ERROR_BASE = 1000,
};

typedef struct _PstRpcChannel PstRpcChannel;

/* Wraps a connected stream socket (a reference is taken).  Transfer full. */
PstRpcChannel *pst_rpc_channel_new (GSocket *socket);
void pst_rpc_channel_free (PstRpcChannel *channel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstRpcChannel, pst_rpc_channel_free)

GSocket *pst_rpc_channel_get_socket (PstRpcChannel *channel);

/* From now on, a wait for the next line ends after @seconds without a whole
 * line (0, the default: no limit): pst_rpc_channel_read_line then fails
 * with PST_ERROR_USAGE (the peer broke the protocol's pace) and the channel is unusable.  The deadline counts
 * from the start of each read, so a peer that trickles bytes gains nothing. */
void pst_rpc_channel_set_read_timeout (PstRpcChannel *channel, guint seconds);

/* Reads the next line, without its '\n'.  Descriptors that arrived with it
 * are appended to @fds_out (a GArray of int; the caller owns and closes
 * them).  Returns NULL with no error at a clean end of stream.  A line over
 * PST_RPC_MAX_LINE, invalid UTF-8, more than PST_RPC_MAX_FDS descriptors or
 * the read timeout passing is an error (the channel is then unusable).
 * Transfer full. */
char *pst_rpc_channel_read_line (PstRpcChannel *channel, GArray *fds_out, GError **error);

/* Writes @line and '\n', passing @fds (may be NULL) with its first byte.
 * Safe to call from several threads: lines are never interleaved. */
gboolean pst_rpc_channel_write_line (PstRpcChannel *channel, const char *line, const int *fds,
                                     guint n_fds, GError **error);

/* Parses @line (one line as read, NUL-terminated) into @parser, after a
 * scan that refuses arrays and objects nested deeper than
 * PST_RPC_MAX_DEPTH (brackets inside strings do not count).  Both sides
 * parse every line they read through this.  Errors: PST_ERROR_USAGE for
 * too deep a nesting or invalid JSON. */
gboolean pst_rpc_parse_line (JsonParser *parser, const char *line, GError **error);

/* Serialises @node on one line.  Transfer full. */
char *pst_rpc_to_line (JsonNode *node);

/* Builds {"jsonrpc":"2.0","id":ID,"error":{"code","message","data":{"exit"}}}
 * from a GError in PST_ERROR (the exit code travels in data.exit). */
JsonNode *pst_rpc_error_response (JsonNode *id, int code, const char *message, int exit_code);

/* Turns a JSON-RPC error object into a GError in PST_ERROR. */
void pst_rpc_error_to_gerror (JsonObject *error_object, GError **error);

/* Small typed readers for params: a missing optional member gives @fallback;
 * a member of the wrong type is an error (PST_ERROR_USAGE naming it). */
gboolean pst_rpc_get_string (JsonObject *params, const char *name, gboolean required,
                             const char **value_out, GError **error);
gboolean pst_rpc_get_int (JsonObject *params, const char *name, gboolean required,
                          gint64 fallback, gint64 *value_out, GError **error);
gboolean pst_rpc_get_bool (JsonObject *params, const char *name, gboolean fallback,
                           gboolean *value_out, GError **error);

G_END_DECLS
