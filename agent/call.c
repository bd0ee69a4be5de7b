/* call.c — see call.h. */
#include "call.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "clientfd.h"
#include "util/addr.h"
#include "util/error.h"

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

PstAccount *
pst_call_sending_account (PstCall *call, const char *name, const char *from, GError **error)
{
  PstAccount *a = NULL;

  if (name != NULL)
    {
      if ((a = pst_agent_get_account (call->agent, name, error)) != NULL
          && !pst_addr_equal (a->address, from))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                       "the From address %s is not the address of account %s (%s)", from,
                       a->name, a->address);
          g_clear_pointer (&a, pst_account_free);
        }
      return a;
    }
  g_mutex_lock (&call->agent->config_lock);
  {
    GPtrArray *accounts = pst_config_get_accounts (call->agent->config);
    for (guint i = 0; i < accounts->len && a == NULL; i++)
      {
        PstAccount *c = g_ptr_array_index (accounts, i);
        if (pst_addr_equal (c->address, from))
          a = pst_account_copy (c);
      }
  }
  g_mutex_unlock (&call->agent->config_lock);
  if (a == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                 "no account has the From address %s; the agent sends only for its own accounts",
                 from);
  return a;
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

/* Limits, so that the agent cannot be made a relay by whatever can reach
 * its socket: recipients per message, messages per hour. */
gboolean
pst_send_check_limits (PstAgent *agent, const PstAccount *account, guint n, GError **error)
{
  guint max_rcpt = account->max_recipients ? account->max_recipients : PST_DEFAULT_MAX_RECIPIENTS;
  guint max_hour = account->max_per_hour ? account->max_per_hour : PST_DEFAULT_MAX_PER_HOUR;
  guint queued = 0;

  if (n > max_rcpt)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "the message has %u recipients; account %s allows at most %u "
                   "(max_recipients); nothing was sent", n, account->name, max_rcpt);
      return FALSE;
    }
  if (!pst_store_outbox_count_since (agent->store, account->name,
                                     g_get_real_time () / G_USEC_PER_SEC - 3600, &queued, error))
    return FALSE;
  if (queued >= max_hour)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "account %s queued %u messages in the last hour, its limit "
                   "(max_messages_per_hour = %u); nothing was sent", account->name, queued,
                   max_hour);
      return FALSE;
    }
  return TRUE;
}
