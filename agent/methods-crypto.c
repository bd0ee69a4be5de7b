/* methods-crypto.c — encrypt, decrypt, verify: one message in through a
 * descriptor, the result out through another, nothing stored.  Batch work
 * is many of these calls on parallel connections (one agent thread each). */
#include <string.h>

#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "methods-private.h"
#include "mime/mime.h"
#include "mime/open.h"
#include "protect.h"
#include "rpc/frame.h"
#include "util/error.h"

/* Messages are parsed in memory for now; this is the cap. */
#define MAX_CRYPTO_INPUT (256u * 1024 * 1024)

static char **
get_string_array (JsonObject *params, const char *name, GError **error)
{
  JsonNode *n = params ? json_object_get_member (params, name) : NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  JsonArray *a;

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    goto bad;
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        goto bad;
      g_ptr_array_add (out, g_strdup (json_node_get_string (e)));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
bad:
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "parameter '%s' must be a list of strings", name);
  return NULL;
}

JsonObject *
pst_method_encrypt (PstCall *call, GError **error)
{
  const char *scheme;
  gboolean sign = FALSE;
  int in_fd, out_fd;
  g_auto (GStrv) to = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) input = NULL;
  g_autoptr (PstProtected) prot = NULL;
  PstPolicySettings account = { .encrypt = PST_POLICY_ENCRYPT_ALWAYS, .sign = PST_POLICY_SIGN_NO,
                                .scheme = PST_POLICY_SCHEME_AUTO };
  PstPolicySettings message = { 0 };
  PstOutgoing *out;
  JsonObject *r;
  gsize len;
  const guint8 *data;

  if ((in_fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (out_fd = pst_call_get_fd (call, "out_fd", TRUE, error)) < 0
      || !pst_rpc_get_string (call->params, "scheme", FALSE, &scheme, error)
      || !pst_rpc_get_bool (call->params, "sign", FALSE, &sign, error))
    return NULL;
  to = get_string_array (call->params, "to", &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (scheme && !pst_policy_scheme_from_string (scheme, &message.scheme))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "scheme must be pgp, smime or auto");
      return NULL;
    }
  message.sign = sign ? PST_POLICY_SIGN_YES : PST_POLICY_SIGN_NO;
  if (!(input = pst_fd_read_all (in_fd, MAX_CRYPTO_INPUT, error)))
    return NULL;
  /* One output message: every recipient (Bcc too, when no --to) in one group. */
  if (to == NULL)
    {
      g_autoptr (PstMimeMessage) msg = pst_mime_message_parse (input, error);
      if (msg == NULL)
        {
          g_prefix_error (error, "not an RFC 5322 message: ");
          return NULL;
        }
      to = pst_mime_message_get_recipients (msg);
    }
  if (!(prot = pst_protect_message (call->agent, input, &account, &message,
                                    (const char *const *) to, error)))
    return NULL;
  out = g_ptr_array_index (prot->copies, 0);
  data = g_bytes_get_data (out->data, &len);
  if (!pst_fd_write_all (out_fd, data, len, error))
    return NULL;
  r = json_object_new ();
  json_object_set_string_member (r, "scheme", pst_scheme_name (prot->scheme));
  json_object_set_boolean_member (r, "encrypted", prot->encrypted);
  json_object_set_boolean_member (r, "signed", prot->signed_);
  return r;
}

/* Opens @input and answers with its status; the plain message goes to
 * @out_fd when it is >= 0 and the content could be decrypted. */
static JsonObject *
open_message (PstCall *call, GBytes *input, int out_fd, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (call->agent);
  g_autofree char *dir = g_build_filename (call->agent->paths->data_dir, "smime", NULL);
  g_autoptr (PstPgp) pgp = NULL;
  PstSmimeLease *lease = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  JsonObject *r;
  gboolean withheld, ok;

  if (!(pgp = pst_pgp_new (home, error))
      || !(lease = pst_key_cache_take_smime (call->agent->keys, dir, error)))
    return NULL;
  ok = pst_message_open (pgp, pst_smime_lease_get (lease), input, &plain, &status, error);
  pst_key_cache_return_smime (call->agent->keys, lease);
  if (!ok)
    return NULL;
  withheld = status->decryption == PST_DECRYPTION_FAILED
             || status->integrity == PST_INTEGRITY_MISSING;
  if (out_fd >= 0 && !withheld)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (plain, &len);
      if (!pst_fd_write_all (out_fd, data, len, error))
        return NULL;
    }
  r = json_object_new ();
  json_object_set_member (r, "crypto", pst_status_to_json (status));
  json_object_set_boolean_member (r, "written", out_fd >= 0 && !withheld);
  return r;
}

JsonObject *
pst_method_decrypt (PstCall *call, GError **error)
{
  int in_fd, out_fd;
  g_autoptr (GBytes) input = NULL;

  if ((in_fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (out_fd = pst_call_get_fd (call, "out_fd", TRUE, error)) < 0
      || !(input = pst_fd_read_all (in_fd, MAX_CRYPTO_INPUT, error)))
    return NULL;
  return open_message (call, input, out_fd, error);
}

JsonObject *
pst_method_verify (PstCall *call, GError **error)
{
  int in_fd;
  g_autoptr (GBytes) input = NULL;

  if ((in_fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || !(input = pst_fd_read_all (in_fd, MAX_CRYPTO_INPUT, error)))
    return NULL;
  return open_message (call, input, -1, error);
}
