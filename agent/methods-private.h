/* methods-private.h — what the agent's method files share. */
#pragma once

#include <json-glib/json-glib.h>

#include "agent.h"
#include "worker.h"
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
/* Writes all of @data to @fd (a client's) under the same deadlines. */
gboolean pst_fd_write_all (int fd, const guint8 *data, gsize len, GError **error);

/* A JSON array of the strings of @v (NULL-terminated, may be NULL). Transfer full. */
JsonArray *pst_json_strv (char **v);
/* "pgp", "smime" or "none". */
const char *pst_scheme_name (PstScheme scheme);

/* Whether every member of @params is one of @known (NULL-terminated);
 * else PST_ERROR_USAGE naming the first other one. */
gboolean pst_call_check_members (JsonObject *params, const char *const *known, GError **error);

/* accounts and [general] (methods-config.c) */
/* The account as account.show returns it.  Transfer full. */
JsonObject *pst_account_to_json (const PstAccount *account);
/* A new account from the members that account.add takes (exactly those;
 * name, address, smtp, pop3 and user required), with account.add's ranges,
 * validated (pst_account_validate); not stored.  Errors: PST_ERROR_USAGE.
 * Transfer full. */
PstAccount *pst_account_from_params (JsonObject *params, GError **error);
JsonObject *pst_method_account_add (PstCall *call, GError **error);
JsonObject *pst_method_account_update (PstCall *call, GError **error);
JsonObject *pst_method_config_get (PstCall *call, GError **error);
JsonObject *pst_method_config_set (PstCall *call, GError **error);

/* The per-message settings of send, encrypt and keys.check (members
 * encrypt, scheme, sign) into @out.  Errors: PST_ERROR_USAGE. */
gboolean pst_call_get_overrides (PstCall *call, PstPolicySettings *out, GError **error);

/* The account that sends mail From @from: account @name when given (whose
 * address must be @from), else the account whose address it is.  Errors:
 * no account @name; PST_ERROR_POLICY when @from is not the account's or
 * no account's.  Transfer full. */
PstAccount *pst_call_sending_account (PstCall *call, const char *name, const char *from,
                                      GError **error);

/* mail (methods-mail.c) */
/* Opens stored message @id for a client as show does: its info, its
 * decrypted form and status (pst_reader_open), admitted only when it is
 * not quarantined (one not scanned yet is scanned now).  Errors: unknown
 * id; PST_ERROR_INFECTED; PST_ERROR_FAILED for a scan error under
 * on_scan_error = quarantine; PST_ERROR_FAILED "message N could not be
 * analysed: REASON…" when the analysis worker failed on it (it is then
 * marked analysis-failed).  @view_out (may be NULL): what show displays
 * of it, as the worker read it, with attachment number @attachment (-1:
 * none; see PstView).  Transfer full. */
gboolean pst_call_open_message (PstCall *call, gint64 id, int attachment,
                                PstMessageInfo **info_out, GBytes **plain_out,
                                PstStatus **status_out, PstView **view_out, GError **error);
/* The account's limits for one more message with @n_recipients:
 * max_recipients, max_messages_per_hour.  Errors: PST_ERROR_POLICY ("…;
 * nothing was sent"), or the store's. */
gboolean pst_send_check_limits (PstAgent *agent, const PstAccount *account, guint n_recipients,
                                GError **error);
JsonObject *pst_method_attachment (PstCall *call, GError **error);

/* keys.* (methods-keys.c) */
JsonObject *pst_method_keys_import (PstCall *call, GError **error);
JsonObject *pst_method_keys_list (PstCall *call, GError **error);
JsonObject *pst_method_keys_show (PstCall *call, GError **error);
JsonObject *pst_method_keys_remove (PstCall *call, GError **error);
JsonObject *pst_method_keys_unlock (PstCall *call, GError **error);
JsonObject *pst_method_keys_check (PstCall *call, GError **error);

/* encrypt, decrypt, verify (methods-crypto.c) */
JsonObject *pst_method_encrypt (PstCall *call, GError **error);
JsonObject *pst_method_decrypt (PstCall *call, GError **error);
JsonObject *pst_method_verify (PstCall *call, GError **error);
JsonObject *pst_method_batch_failed (PstCall *call, GError **error);

/* outbox.* (methods-outbox.c) */
JsonObject *pst_method_outbox_list (PstCall *call, GError **error);
JsonObject *pst_method_outbox_retry (PstCall *call, GError **error);
JsonObject *pst_method_outbox_cancel (PstCall *call, GError **error);

/* scan, quarantine.* (methods-scan.c) */
JsonObject *pst_method_scan (PstCall *call, GError **error);
JsonObject *pst_method_quarantine_list (PstCall *call, GError **error);
JsonObject *pst_method_quarantine_release (PstCall *call, GError **error);
JsonObject *pst_method_quarantine_delete (PstCall *call, GError **error);

G_END_DECLS
