/* handlers.h — the agent's RPC methods, one function each, for the table
 * in methods.c (docs/socket-api.md says what each takes and returns).
 * Declarations only: each lives in the methods-*.c its comment names. */
#pragma once

#include "call.h"

G_BEGIN_DECLS

/* hello, agent.stop, subscribe (methods-agent.c) */
JsonObject *pst_method_hello (PstCall *call, GError **error);
JsonObject *pst_method_agent_stop (PstCall *call, GError **error);
JsonObject *pst_method_subscribe (PstCall *call, GError **error);

/* account.*, config.* (methods-config.c) */
JsonObject *pst_method_account_add (PstCall *call, GError **error);
JsonObject *pst_method_account_update (PstCall *call, GError **error);
JsonObject *pst_method_account_list (PstCall *call, GError **error);
JsonObject *pst_method_account_show (PstCall *call, GError **error);
JsonObject *pst_method_account_remove (PstCall *call, GError **error);
JsonObject *pst_method_account_test (PstCall *call, GError **error);
JsonObject *pst_method_config_get (PstCall *call, GError **error);
JsonObject *pst_method_config_set (PstCall *call, GError **error);

/* bridge.credentials (methods-bridge.c) */
JsonObject *pst_method_bridge_credentials (PstCall *call, GError **error);

/* send, message.addresses (methods-send.c) */
JsonObject *pst_method_send (PstCall *call, GError **error);
JsonObject *pst_method_message_addresses (PstCall *call, GError **error);

/* fetch, list, show, export, attachment (methods-mail.c) */
JsonObject *pst_method_fetch (PstCall *call, GError **error);
JsonObject *pst_method_list (PstCall *call, GError **error);
JsonObject *pst_method_show (PstCall *call, GError **error);
JsonObject *pst_method_export (PstCall *call, GError **error);
/* reply, forward: drafts (methods-reply.c) */
JsonObject *pst_method_reply (PstCall *call, GError **error);
JsonObject *pst_method_forward (PstCall *call, GError **error);
/* drafts.* (methods-drafts.c) */
JsonObject *pst_method_drafts_save (PstCall *call, GError **error);
JsonObject *pst_method_drafts_list (PstCall *call, GError **error);
JsonObject *pst_method_drafts_get (PstCall *call, GError **error);
JsonObject *pst_method_drafts_delete (PstCall *call, GError **error);
JsonObject *pst_method_drafts_send (PstCall *call, GError **error);
/* import (methods-import.c) */
JsonObject *pst_method_import (PstCall *call, GError **error);
JsonObject *pst_method_attachment (PstCall *call, GError **error);

/* keys.* (methods-keys.c) */
JsonObject *pst_method_keys_import (PstCall *call, GError **error);
JsonObject *pst_method_keys_list (PstCall *call, GError **error);
JsonObject *pst_method_keys_show (PstCall *call, GError **error);
JsonObject *pst_method_keys_remove (PstCall *call, GError **error);
JsonObject *pst_method_keys_unlock (PstCall *call, GError **error);
JsonObject *pst_method_keys_check (PstCall *call, GError **error);
JsonObject *pst_method_keys_generate (PstCall *call, GError **error);
/* keys.export, keys.expire, keys.revoke (methods-keyops.c) */
JsonObject *pst_method_keys_export (PstCall *call, GError **error);
JsonObject *pst_method_keys_expire (PstCall *call, GError **error);
JsonObject *pst_method_keys_revoke (PstCall *call, GError **error);

/* keys.locate (methods-wkd.c) */
JsonObject *pst_method_keys_locate (PstCall *call, GError **error);

/* keys.setup_export, keys.setup_import (methods-setup.c) */
JsonObject *pst_method_keys_setup_export (PstCall *call, GError **error);
JsonObject *pst_method_keys_setup_import (PstCall *call, GError **error);

/* encrypt, decrypt, verify (methods-crypto.c) */
JsonObject *pst_method_encrypt (PstCall *call, GError **error);
JsonObject *pst_method_decrypt (PstCall *call, GError **error);
JsonObject *pst_method_verify (PstCall *call, GError **error);
JsonObject *pst_method_batch_failed (PstCall *call, GError **error);

/* outbox.* (methods-outbox.c) */
JsonObject *pst_method_outbox_list (PstCall *call, GError **error);
JsonObject *pst_method_outbox_retry (PstCall *call, GError **error);
JsonObject *pst_method_outbox_cancel (PstCall *call, GError **error);

/* delete, mark (methods-state.c) */
JsonObject *pst_method_delete (PstCall *call, GError **error);
JsonObject *pst_method_mark (PstCall *call, GError **error);

/* scan, quarantine.* (methods-scan.c) */
JsonObject *pst_method_scan (PstCall *call, GError **error);
JsonObject *pst_method_quarantine_list (PstCall *call, GError **error);
JsonObject *pst_method_quarantine_release (PstCall *call, GError **error);
JsonObject *pst_method_quarantine_delete (PstCall *call, GError **error);

G_END_DECLS
