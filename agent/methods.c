/* methods.c — the table of the agent's RPC methods, and dispatch. */
#include "methods.h"

#include <string.h>

#include "handlers.h"
#include "util/error.h"

static const struct {
  const char *name;
  PstMethodFunc func;
} methods[] = {
  { "subscribe", pst_method_subscribe },
  { "hello", pst_method_hello },
  { "agent.stop", pst_method_agent_stop },
  { "account.add", pst_method_account_add },
  { "account.update", pst_method_account_update },
  { "account.list", pst_method_account_list },
  { "account.show", pst_method_account_show },
  { "account.remove", pst_method_account_remove },
  { "account.test", pst_method_account_test },
  { "config.get", pst_method_config_get },
  { "config.set", pst_method_config_set },
  { "bridge.credentials", pst_method_bridge_credentials },
  { "outbox.list", pst_method_outbox_list },
  { "outbox.retry", pst_method_outbox_retry },
  { "outbox.cancel", pst_method_outbox_cancel },
  { "scan", pst_method_scan },
  { "quarantine.list", pst_method_quarantine_list },
  { "quarantine.release", pst_method_quarantine_release },
  { "quarantine.delete", pst_method_quarantine_delete },
  { "send", pst_method_send },
  { "message.addresses", pst_method_message_addresses },
  { "fetch", pst_method_fetch },
  { "list", pst_method_list },
  { "delete", pst_method_delete },
  { "mark", pst_method_mark },
  { "show", pst_method_show },
  { "export", pst_method_export },
  { "reply", pst_method_reply },
  { "forward", pst_method_forward },
  { "drafts.save", pst_method_drafts_save },
  { "drafts.list", pst_method_drafts_list },
  { "drafts.get", pst_method_drafts_get },
  { "drafts.delete", pst_method_drafts_delete },
  { "drafts.send", pst_method_drafts_send },
  { "import", pst_method_import },
  { "attachment", pst_method_attachment },
  { "encrypt", pst_method_encrypt },
  { "decrypt", pst_method_decrypt },
  { "verify", pst_method_verify },
  { "batch.failed", pst_method_batch_failed },
  { "keys.import", pst_method_keys_import },
  { "keys.list", pst_method_keys_list },
  { "keys.show", pst_method_keys_show },
  { "keys.remove", pst_method_keys_remove },
  { "keys.unlock", pst_method_keys_unlock },
  { "keys.check", pst_method_keys_check },
  { "keys.generate", pst_method_keys_generate },
  { "keys.setup_export", pst_method_keys_setup_export },
  { "keys.setup_import", pst_method_keys_setup_import },
  { "keys.locate", pst_method_keys_locate },
  { "keys.export", pst_method_keys_export },
  { "keys.expire", pst_method_keys_expire },
  { "keys.revoke", pst_method_keys_revoke },
};

JsonNode *
pst_methods_dispatch (PstAgent *agent, PstRpcChannel *channel, const char *method,
                      JsonObject *params, JsonNode *id, GArray *fds)
{
  PstCall call = { .agent = agent, .params = params, .fds = fds, .channel = channel };
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = NULL;
  JsonObject *result = NULL;
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (methods); i++)
    if (strcmp (methods[i].name, method) == 0)
      break;
  if (i == G_N_ELEMENTS (methods))
    {
      g_autofree char *msg = g_strdup_printf ("unknown method '%s'", method);
      return pst_rpc_error_response (id, PST_RPC_METHOD_NOT_FOUND, msg, PST_ERROR_USAGE);
    }
  result = methods[i].func (&call, &error);
  if (result == NULL)
    {
      int exit_code = pst_error_exit_code (error);
      int code = exit_code == PST_ERROR_USAGE ? PST_RPC_INVALID_PARAMS
                                              : PST_RPC_APP_ERROR_BASE + exit_code;
      g_message ("%s: %s", method, error ? error->message : "failed");
      return pst_rpc_error_response (id, code, error ? error->message : "failed", exit_code);
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "jsonrpc");
  json_builder_add_string_value (b, "2.0");
  json_builder_set_member_name (b, "id");
  json_builder_add_value (b, id ? json_node_copy (id) : json_node_new (JSON_NODE_NULL));
  json_builder_set_member_name (b, "result");
  {
    JsonNode *n = json_node_new (JSON_NODE_OBJECT);
    json_node_take_object (n, result);
    json_builder_add_value (b, n);
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
