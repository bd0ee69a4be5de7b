/* call.c — see call.h. */
#include "call.h"

#include <string.h>

#include "clientfd.h"
#include "util/error.h"
#include "util/secret.h"

int
pst_call_get_fd (PstCall *call, const char *name, gboolean required, GError **error)
{
  gint64 index = 0;

  if (!required && (call->params == NULL || !json_object_has_member (call->params, name)))
    return -2;
  if (!pst_rpc_get_int (call->params, name, TRUE, 0, &index, error))
    return -1;
  if (index < 0 || index >= (gint64) call->fds->len)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "parameter '%s' names descriptor %" G_GINT64_FORMAT ", but %u were passed", name,
                   index, call->fds->len);
      return -1;
    }
  return g_array_index (call->fds, int, index);
}

GBytes *
pst_fd_read_all (int fd, gsize max, GError **error)
{
  g_autoptr (GByteArray) data = g_byte_array_new ();
  guint8 buf[65536];

  for (;;)
    {
      gssize n = pst_client_fd_read (fd, buf, sizeof buf, error);

      if (n == 0)
        break;
      if (n < 0)
        return NULL;
      if (data->len + (gsize) n > max)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "input larger than %zu bytes", max);
          return NULL;
        }
      g_byte_array_append (data, buf, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

gboolean
pst_fd_write_all (int fd, const guint8 *data, gsize len, GError **error)
{
  return pst_client_fd_write_all (fd, data, len, error);
}

char **
pst_call_get_strv (JsonObject *params, const char *name, GError **error)
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

JsonArray *
pst_json_strv (char **v)
{
  JsonArray *a = json_array_new ();

  for (char **p = v; p && *p; p++)
    json_array_add_string_element (a, *p);
  return a;
}

const char *
pst_scheme_name (PstScheme scheme)
{
  return scheme == PST_SCHEME_PGP ? "pgp" : scheme == PST_SCHEME_SMIME ? "smime" : "none";
}

gboolean
pst_call_get_overrides (PstCall *call, PstPolicySettings *out, GError **error)
{
  const char *encrypt, *scheme;
  gboolean sign = TRUE;

  memset (out, 0, sizeof *out);
  if (!pst_rpc_get_string (call->params, "encrypt", FALSE, &encrypt, error)
      || !pst_rpc_get_string (call->params, "scheme", FALSE, &scheme, error))
    return FALSE;
  if (encrypt && !pst_policy_encrypt_from_string (encrypt, &out->encrypt))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "encrypt must be always, auto or never");
      return FALSE;
    }
  if (scheme && !pst_policy_scheme_from_string (scheme, &out->scheme))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "scheme must be pgp, smime or auto");
      return FALSE;
    }
  if (call->params && json_object_has_member (call->params, "sign"))
    {
      if (!pst_rpc_get_bool (call->params, "sign", TRUE, &sign, error))
        return FALSE;
      out->sign = sign ? PST_POLICY_SIGN_YES : PST_POLICY_SIGN_NO;
    }
  return TRUE;
}

gboolean
pst_call_check_members (JsonObject *params, const char *const *known, GError **error)
{
  g_autoptr (GList) names = params ? json_object_get_members (params) : NULL;

  for (GList *l = names; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "unknown parameter '%s'",
                     (const char *) l->data);
        return FALSE;
      }
  return TRUE;
}

GBytes *
pst_call_read_passphrase (int fd, GError **error)
{
  g_autoptr (GBytes) data = pst_fd_read_all (fd, 4096, error);
  gsize len = 0, n = 0;
  char *p;
  GBytes *line;

  if (data == NULL)
    return NULL;
  p = (char *) g_bytes_get_data (data, &len);
  while (n < len && p[n] != '\r' && p[n] != '\n' && p[n] != '\0')
    n++;
  line = pst_secret_bytes_new (p, n, NULL, 0);
  if (p != NULL)
    explicit_bzero (p, len);   /* the only reference: ours */
  return line;
}
