/* methods-bridge.c — bridge.credentials: what a mail program needs to use
 * the local bridge as an account (DESIGN.md §14). */
#include "handlers.h"

#include "bridge.h"
#include "bridge-creds.h"
#include "bridge-tls.h"
#include "util/error.h"
#include "util/secret.h"

static void
set_or_null (JsonObject *o, const char *member, const char *value)
{
  if (value != NULL)
    json_object_set_string_member (o, member, value);
  else
    json_object_set_null_member (o, member);
}

/* bridge.credentials {account}: {user, password, smtp, pop3, smtp_error,
 * pop3_error, ca_file};
 * the credentials and the certificate are made on first use. */
JsonObject *
pst_method_bridge_credentials (PstCall *call, GError **error)
{
  static const char *const known[] = { "account", NULL };
  const char *name = NULL;
  g_autoptr (PstAccount) account = NULL;
  g_autofree char *user = NULL, *ca_file = NULL, *smtp = NULL, *pop3 = NULL;
  g_autofree char *smtp_error = NULL, *pop3_error = NULL;
  char *password = NULL;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "account", TRUE, &name, error)
      || !(account = pst_agent_get_account (call->agent, name, error))
      || !(ca_file = pst_bridge_tls_ensure (call->agent->paths->data_dir, error))
      || !pst_bridge_credentials_get (call->agent->paths->data_dir, account->name, &user,
                                      &password, error))
    return NULL;
  if (call->agent->bridge != NULL)
    {
      smtp = pst_bridge_get_address (call->agent->bridge, PST_BRIDGE_SMTP);
      pop3 = pst_bridge_get_address (call->agent->bridge, PST_BRIDGE_POP3);
      smtp_error = pst_bridge_get_failure (call->agent->bridge, PST_BRIDGE_SMTP);
      pop3_error = pst_bridge_get_failure (call->agent->bridge, PST_BRIDGE_POP3);
    }
  r = json_object_new ();
  json_object_set_string_member (r, "user", user);
  json_object_set_string_member (r, "password", password);
  pst_secret_free (password);
  set_or_null (r, "smtp", smtp);
  set_or_null (r, "pop3", pop3);
  set_or_null (r, "smtp_error", smtp_error);
  set_or_null (r, "pop3_error", pop3_error);
  json_object_set_string_member (r, "ca_file", ca_file);
  return r;
}
