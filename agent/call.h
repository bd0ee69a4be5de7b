/* call.h — one client request as the method files see it, and what they
 * all use: the descriptors it passed and its parameters. */
#pragma once

#include <json-glib/json-glib.h>

#include "agent.h"
#include "rpc/frame.h"
#include "crypto/policy.h"
#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct {
  PstAgent *agent;
  JsonObject *params;
  GArray *fds;          /* descriptors passed with the request, owned by the server */
  PstRpcChannel *channel;   /* the client's connection */
} PstCall;

typedef JsonObject *(*PstMethodFunc) (PstCall *call, GError **error);

/* The descriptor named by parameter @name (an index into the passed fds),
 * or -1 with PST_ERROR_USAGE.  With @required FALSE a missing parameter
 * gives -2 and no error. */
int pst_call_get_fd (PstCall *call, const char *name, gboolean required, GError **error);

/* Reads @fd (a client's) to its end, at most @max bytes, under the
 * deadlines of clientfd.h.  Transfer full. */
GBytes *pst_fd_read_all (int fd, gsize max, GError **error);
/* The first line of what @fd (a client's) holds, at most 4 KiB, as secret
 * bytes (NUL-terminated, wiped when freed): a passphrase.  Transfer full. */
GBytes *pst_call_read_passphrase (int fd, GError **error);
/* Writes all of @data to @fd (a client's) under the same deadlines. */
gboolean pst_fd_write_all (int fd, const guint8 *data, gsize len, GError **error);

/* Parameter @name of @params, a list of strings, as a NULL-terminated
 * vector; NULL when absent or null, and NULL with PST_ERROR_USAGE when it
 * is something else.  Transfer full. */
char **pst_call_get_strv (JsonObject *params, const char *name, GError **error);
/* A JSON array of the strings of @v (NULL-terminated, may be NULL). Transfer full. */
JsonArray *pst_json_strv (char **v);
/* "pgp", "smime" or "none". */
const char *pst_scheme_name (PstScheme scheme);

/* Whether every member of @params is one of @known (NULL-terminated);
 * else PST_ERROR_USAGE naming the first other one. */
gboolean pst_call_check_members (JsonObject *params, const char *const *known, GError **error);

/* The per-message settings of send, encrypt and keys.check (members
 * encrypt, scheme, sign) into @out.  Errors: PST_ERROR_USAGE. */
gboolean pst_call_get_overrides (PstCall *call, PstPolicySettings *out, GError **error);

G_END_DECLS
