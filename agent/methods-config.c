/* methods-config.c — the methods that change the configuration:
 * account.add, account.update, config.get, config.set; and the account
 * object that they, account.list and account.show return. */
#include "handlers.h"
#include "probe.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "scan/scan.h"
#include "scheduler.h"
#include "util/error.h"

/* How long config.set waits for the agent to have read the file again. */


/* The account as account.show returns it: its name, then every field of
 * the table (config.h), a default shown as its value. */
static JsonObject *
account_to_json (const PstAccount *a)
{
  JsonObject *o = json_object_new ();
  gsize n;
  const PstAccountField *fields = pst_account_fields (&n);

  json_object_set_string_member (o, "name", a->name);
  for (gsize i = 0; i < n; i++)
    {
      const PstAccountField *f = &fields[i];
      gconstpointer v = G_STRUCT_MEMBER_P (a, f->offset);

      switch (f->kind)
        {
        case PST_ACCOUNT_FIELD_STRING:
          if (*(char *const *) v != NULL)
            json_object_set_string_member (o, f->key, *(char *const *) v);
          else
            json_object_set_null_member (o, f->key);
          break;
        case PST_ACCOUNT_FIELD_NUMBER:
          json_object_set_int_member (o, f->key, *(const guint *) v ? *(const guint *) v
                                                                    : f->shown_default);
          break;
        case PST_ACCOUNT_FIELD_FLAG:
          json_object_set_boolean_member (o, f->key, *(const gboolean *) v);
          break;
        case PST_ACCOUNT_FIELD_ENCRYPT:
          json_object_set_string_member (o, f->key,
                                         pst_encrypt_mode_to_string (*(const PstEncryptMode *) v));
          break;
        case PST_ACCOUNT_FIELD_SCHEME:
          json_object_set_string_member (o, f->key, *(char *const *) v ? *(char *const *) v
                                                                       : "auto");
          break;
        case PST_ACCOUNT_FIELD_KEEP:
          json_object_set_boolean_member (o, f->key, a->keep_on_server);
          json_object_set_int_member (o, "keep_days", a->keep_days);
          break;
        }
    }
  return o;
}

/* ---- the members of an account, as account.add and account.update take them ---- */

/* The field whose member @name is: keep_days is keep_on_server's. */
static const PstAccountField *
find_member (const char *name)
{
  gsize n;
  const PstAccountField *fields = pst_account_fields (&n);

  for (gsize i = 0; i < n; i++)
    if (strcmp (fields[i].key, name) == 0
        || (fields[i].kind == PST_ACCOUNT_FIELD_KEEP && strcmp (name, "keep_days") == 0))
      return &fields[i];
  return NULL;
}

/* A number member of @params in 0..@max (0: the default), or @range. */
static gboolean
get_number (JsonObject *params, const char *name, guint64 max, const char *range, guint *out,
            GError **error)
{
  gint64 n = 0;

  if (!pst_rpc_get_int (params, name, FALSE, 0, &n, error))
    return FALSE;
  if (n < 0 || (guint64) n > max)
    {
      g_set_error_literal (error, PST_ERROR, PST_ERROR_USAGE, range);
      return FALSE;
    }
  *out = (guint) n;
  return TRUE;
}

/* Sets field @f of @a from member @name of @params (which holds it, maybe
 * as null: the default). */
static gboolean
apply_member (PstAccount *a, const PstAccountField *f, const char *name, JsonObject *params,
              GError **error)
{
  gpointer field = G_STRUCT_MEMBER_P (a, f->offset);
  const char *s = NULL;
  gboolean b = FALSE;

  switch (f->kind)
    {
    case PST_ACCOUNT_FIELD_STRING:
    case PST_ACCOUNT_FIELD_SCHEME:
      if (!pst_rpc_get_string (params, name, f->required, &s, error))
        return FALSE;
      g_free (*(char **) field);
      *(char **) field = s == NULL ? NULL : f->path ? g_canonicalize_filename (s, NULL)
                                                    : g_strdup (s);
      return TRUE;
    case PST_ACCOUNT_FIELD_NUMBER:
      return get_number (params, name, f->max, f->range, field, error);
    case PST_ACCOUNT_FIELD_KEEP:
      if (strcmp (name, "keep_days") == 0)
        return get_number (params, name, f->max, f->range, &a->keep_days, error);
      G_GNUC_FALLTHROUGH;
    case PST_ACCOUNT_FIELD_FLAG:
      if (!pst_rpc_get_bool (params, name, FALSE, &b, error))
        return FALSE;
      *(gboolean *) field = b;
      return TRUE;
    case PST_ACCOUNT_FIELD_ENCRYPT:
      if (!pst_rpc_get_string (params, name, FALSE, &s, error))
        return FALSE;
      *(PstEncryptMode *) field = PST_ENCRYPT_AUTO;
      return s == NULL || pst_encrypt_mode_parse (s, field, error);
    }
  g_assert_not_reached ();
}

/* Applies the members of @params to @a: all that account.add takes (and
 * those it requires), or with @update only those account.update may
 * change (besides the name, which says which account).  A member that is
 * null resets the setting to its default.  Unknown members are errors
 * (PST_ERROR_USAGE naming them), and so are values out of range. */
static gboolean
apply_params (PstAccount *a, JsonObject *params, gboolean update, GError **error)
{
  g_autoptr (GList) names = params ? json_object_get_members (params) : NULL;
  gboolean keep_given, days_given;

  for (GList *l = names; l != NULL; l = l->next)
    {
      const PstAccountField *m = strcmp (l->data, "name") == 0 ? NULL : find_member (l->data);

      if (m == NULL && strcmp (l->data, "name") == 0)
        continue;
      if (m == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "unknown parameter '%s'",
                       (const char *) l->data);
          return FALSE;
        }
      if (update && !m->updatable)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "'%s' of an account cannot be changed (remove the account and add it "
                       "again)", (const char *) l->data);
          return FALSE;
        }
    }
  if (!update)
    {
      const char *name = NULL;

      if (!pst_rpc_get_string (params, "name", TRUE, &name, error))
        return FALSE;
      g_free (a->name);
      a->name = g_strdup (name);
    }
  {
    gsize n;
    const PstAccountField *fields = pst_account_fields (&n);

    for (gsize i = 0; i < n; i++)
      {
        const PstAccountField *f = &fields[i];
        /* keep_on_server's field has two members: the flag, and keep_days. */
        const char *member[] = { f->key, f->kind == PST_ACCOUNT_FIELD_KEEP ? "keep_days" : NULL };

        for (gsize k = 0; k < G_N_ELEMENTS (member) && member[k] != NULL; k++)
          {
            gboolean given = params != NULL && json_object_has_member (params, member[k]);

            /* account.add: the required ones and those given; account.update:
             * those given (updatable: checked above). */
            if (!given && (update || !f->required || k > 0))
              continue;
            if (!apply_member (a, f, member[k], params, error))
              return FALSE;
          }
      }
  }
  keep_given = params != NULL && json_object_has_member (params, "keep_on_server");
  days_given = params != NULL && json_object_has_member (params, "keep_days");
  if (keep_given && !a->keep_on_server)
    {
      if (days_given && a->keep_days > 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "keep_days needs keep_on_server (mail is deleted when it is false)");
          return FALSE;
        }
      a->keep_days = 0;
    }
  if (a->keep_days > 0)
    a->keep_on_server = TRUE;
  return TRUE;
}

static PstAccount *
account_from_params (JsonObject *params, GError **error)
{
  g_autoptr (PstAccount) a = g_new0 (PstAccount, 1);

  if (!apply_params (a, params, FALSE, error))
    return NULL;
  if (a->scheme == NULL)
    a->scheme = g_strdup ("auto");
  if (!pst_account_validate (a, error))
    return NULL;
  return g_steal_pointer (&a);
}

JsonObject *
pst_method_account_add (PstCall *call, GError **error)
{
  g_autoptr (PstAccount) a = account_from_params (call->params, error);
  gboolean ok;

  if (a == NULL)
    return NULL;
  g_mutex_lock (&call->agent->config_lock);
  ok = pst_config_add_account (call->agent->config, pst_account_copy (a), error)
       && pst_config_save (call->agent->config, error);
  if (!ok && pst_config_find_account (call->agent->config, a->name) != NULL
      && error && *error && (*error)->code != PST_ERROR_USAGE)
    pst_config_remove_account (call->agent->config, a->name, NULL);
  g_mutex_unlock (&call->agent->config_lock);
  if (ok)
    pst_agent_changed (call->agent);
  return ok ? account_to_json (a) : NULL;
}

JsonObject *
pst_method_account_update (PstCall *call, GError **error)
{
  const char *name;
  g_autoptr (PstAccount) a = NULL, before = NULL;
  g_autoptr (GList) names = NULL;
  g_autoptr (GString) changed = g_string_new (NULL);
  PstAccount *stored;
  gboolean ok;

  if (!pst_rpc_get_string (call->params, "name", TRUE, &name, error))
    return NULL;
  g_mutex_lock (&call->agent->config_lock);
  stored = pst_config_find_account (call->agent->config, name);
  if (stored == NULL)
    {
      g_mutex_unlock (&call->agent->config_lock);
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "no account named %s", name);
      return NULL;
    }
  a = pst_account_copy (stored);
  before = pst_account_copy (stored);
  ok = apply_params (a, call->params, TRUE, error)
       && pst_config_replace_account (call->agent->config, pst_account_copy (a), error);
  if (ok && !pst_config_save (call->agent->config, error))
    {
      /* The file still holds the old settings: so does the agent. */
      pst_config_replace_account (call->agent->config, g_steal_pointer (&before), NULL);
      ok = FALSE;
    }
  g_mutex_unlock (&call->agent->config_lock);
  if (!ok)
    return NULL;
  /* Which settings, never their values (a password command may hold a secret). */
  names = json_object_get_members (call->params);
  for (GList *l = names; l != NULL; l = l->next)
    if (strcmp (l->data, "name") != 0)
      g_string_append_printf (changed, "%s%s", changed->len ? ", " : "", (const char *) l->data);
  g_message ("account %s: changed %s", a->name, changed->len ? changed->str : "nothing");
  pst_agent_changed (call->agent);
  return account_to_json (a);
}

/* ---- config.get, config.set: [general] ---- */

/* {scan, on_scan_error, scan_timeout} of the agent's configuration.  Under
 * config_lock. */
static JsonObject *
scan_settings (PstAgent *agent)
{
  JsonObject *o = json_object_new ();
  gboolean delivers = FALSE;
  guint timeout = 0;
  const char *spec = pst_config_get_scan (agent->config, &delivers, &timeout);

  if (spec != NULL)
    json_object_set_string_member (o, "scan", spec);
  else
    json_object_set_null_member (o, "scan");
  json_object_set_string_member (o, "on_scan_error", delivers ? "deliver" : "quarantine");
  json_object_set_int_member (o, "scan_timeout", timeout ? timeout : 60);
  for (guint k = 0; k < 2; k++)
    {
      static const char *const member[] = { "bridge_smtp", "bridge_pop3" };
      static const char *const listening[] = { "bridge_smtp_listening", "bridge_pop3_listening" };
      static const char *const failures[] = { "bridge_smtp_error", "bridge_pop3_error" };
      const char *configured = pst_config_get_bridge (agent->config, (PstBridgeKind) k);
      g_autofree char *bound = agent->bridge ? pst_bridge_get_address (agent->bridge,
                                                                       (PstBridgeKind) k)
                                             : NULL;

      if (configured != NULL)
        json_object_set_string_member (o, member[k], configured);
      else
        json_object_set_null_member (o, member[k]);
      g_autofree char *failure = agent->bridge ? pst_bridge_get_failure (agent->bridge,
                                                                         (PstBridgeKind) k)
                                               : NULL;

      if (bound != NULL)
        json_object_set_string_member (o, listening[k], bound);
      else
        json_object_set_null_member (o, listening[k]);
      if (failure != NULL)
        json_object_set_string_member (o, failures[k], failure);
      else
        json_object_set_null_member (o, failures[k]);
    }
  return o;
}

/* config.set's bridge_smtp and bridge_pop3: saved, then each listener
 * given made so at once, on its own; one that cannot start puts its old
 * setting back (and its listener), the other keeps its change.  Members
 * not given are left as they are. */
static gboolean
set_bridge_keeping (PstAgent *agent, JsonObject *p, char *old[2], GError **error)
{
  static const char *const member[] = { "bridge_smtp", "bridge_pop3" };
  gboolean given[2] = { FALSE, FALSE }, changed = FALSE, ok = TRUE;
  g_autoptr (GError) failed = NULL;

  g_mutex_lock (&agent->config_lock);
  for (guint k = 0; k < 2; k++)
    old[k] = g_strdup (pst_config_get_bridge (agent->config, (PstBridgeKind) k));
  for (guint k = 0; ok && k < 2; k++)
    {
      const char *value = NULL;

      if (!json_object_has_member (p, member[k]))
        continue;
      given[k] = TRUE;
      ok = pst_rpc_get_string (p, member[k], FALSE, &value, error)
           && pst_config_set_bridge (agent->config, (PstBridgeKind) k, value, error);
      if (!ok)
        g_prefix_error (error, "%s: ", member[k]);
    }
  if ((given[0] || given[1]) && ok)
    ok = pst_config_save (agent->config, error);
  if ((given[0] || given[1]) && !ok)
    for (guint k = 0; k < 2; k++)
      pst_config_set_bridge (agent->config, (PstBridgeKind) k, old[k], NULL);
  g_mutex_unlock (&agent->config_lock);
  if (!(given[0] || given[1]) || !ok)
    return ok;
  for (guint k = 0; agent->bridge != NULL && k < 2; k++)
    {
      g_autoptr (GError) local = NULL;

      if (!given[k])
        continue;
      if (pst_bridge_apply_one (agent->bridge, (PstBridgeKind) k, &local))
        {
          changed = TRUE;
          continue;
        }
      g_mutex_lock (&agent->config_lock);
      pst_config_set_bridge (agent->config, (PstBridgeKind) k, old[k], NULL);
      pst_config_save (agent->config, NULL);
      g_mutex_unlock (&agent->config_lock);
      pst_bridge_apply_one (agent->bridge, (PstBridgeKind) k, NULL);
      if (failed == NULL)
        failed = g_steal_pointer (&local);
    }
  if (failed != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&failed), "%s",
                                  changed ? "the other listener was changed; this one was not: "
                                          : "nothing changed: ");
      return FALSE;
    }
  g_message ("[general] bridge settings changed");
  return TRUE;
}

/* (Not g_autofree on the array: its cleanup frees only the first.) */
static gboolean
set_bridge (PstAgent *agent, JsonObject *p, GError **error)
{
  char *old[2] = { NULL, NULL };
  gboolean ok = set_bridge_keeping (agent, p, old, error);

  g_free (old[0]);
  g_free (old[1]);
  return ok;
}

JsonObject *
pst_method_config_get (PstCall *call, GError **error)
{
  static const char *const known[] = { NULL };
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error))
    return NULL;
  g_mutex_lock (&call->agent->config_lock);
  r = scan_settings (call->agent);
  g_mutex_unlock (&call->agent->config_lock);
  return r;
}

JsonObject *
pst_method_config_set (PstCall *call, GError **error)
{
  static const char *const known[] = { "scan", "on_scan_error", "scan_timeout", "bridge_smtp",
                                       "bridge_pop3", NULL };
  JsonObject *p = call->params;
  PstAgent *agent = call->agent;
  const char *scan = NULL, *on_error = NULL;
  g_autofree char *spec = NULL, *old_spec = NULL;
  gint64 timeout = 0;
  gboolean delivers = FALSE, old_delivers = FALSE;
  guint old_timeout = 0;
  JsonObject *r;
  gboolean ok;

  if (!pst_call_check_members (p, known, error)
      || !pst_rpc_get_string (p, "scan", FALSE, &scan, error)
      || !pst_rpc_get_string (p, "on_scan_error", FALSE, &on_error, error)
      || !pst_rpc_get_int (p, "scan_timeout", FALSE, 0, &timeout, error))
    return NULL;
  if (p == NULL || json_object_get_size (p) == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "nothing to set: give scan, on_scan_error, scan_timeout, bridge_smtp or "
                   "bridge_pop3");
      return NULL;
    }
  if (!json_object_has_member (p, "scan") && !json_object_has_member (p, "on_scan_error")
      && !json_object_has_member (p, "scan_timeout"))
    {
      if (!set_bridge (agent, p, error))
        return NULL;
      g_mutex_lock (&agent->config_lock);
      r = scan_settings (agent);
      g_mutex_unlock (&agent->config_lock);
      return r;
    }
  if (json_object_has_member (p, "bridge_smtp") || json_object_has_member (p, "bridge_pop3"))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "set the scanner and the bridge in two calls");
      return NULL;
    }
  if (on_error != NULL && !pst_scan_error_parse (on_error, &delivers, error))
    return NULL;
  if (timeout < 0 || timeout > PST_SCAN_TIMEOUT_MAX)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "scan_timeout must be from 1 to %d seconds", PST_SCAN_TIMEOUT_MAX);
      return NULL;
    }

  g_mutex_lock (&agent->config_lock);
  old_spec = g_strdup (pst_config_get_scan (agent->config, &old_delivers, &old_timeout));
  spec = g_strdup (json_object_has_member (p, "scan") ? scan : old_spec);
  if (g_strcmp0 (spec, "none") == 0)
    g_clear_pointer (&spec, g_free);
  if (on_error == NULL)
    delivers = old_delivers;
  if (!json_object_has_member (p, "scan_timeout"))
    timeout = old_timeout;
  /* The scanner the reload will make, made once here to say what is wrong. */
  if (spec != NULL)
    {
      g_autoptr (PstScanner) scanner = pst_scanner_new (spec, (guint) timeout, error);
      if (scanner == NULL)
        {
          g_mutex_unlock (&agent->config_lock);
          return NULL;
        }
    }
  ok = pst_config_set_scan (agent->config, spec, delivers, (guint) timeout, error);
  if (ok && !pst_config_save (agent->config, error))
    {
      pst_config_set_scan (agent->config, old_spec, old_delivers, old_timeout, NULL);
      ok = FALSE;
    }
  g_mutex_unlock (&agent->config_lock);
  /* Read back as SIGHUP would, so that the new scanner takes over at once. */
  if (!ok || !pst_agent_reload (agent, error))
    return NULL;
  g_message ("[general] scan settings changed");
  g_mutex_lock (&agent->config_lock);
  r = scan_settings (agent);
  g_mutex_unlock (&agent->config_lock);
  return r;
}

JsonObject *
pst_method_account_list (PstCall *call, GError **error)
{
  JsonObject *r = json_object_new ();
  JsonArray *arr = json_array_new ();
  GPtrArray *accounts;

  g_mutex_lock (&call->agent->config_lock);
  accounts = pst_config_get_accounts (call->agent->config);
  for (guint i = 0; i < accounts->len; i++)
    json_array_add_object_element (arr, account_to_json (g_ptr_array_index (accounts, i)));
  g_mutex_unlock (&call->agent->config_lock);
  json_object_set_array_member (r, "accounts", arr);
  return r;
}

JsonObject *
pst_method_account_show (PstCall *call, GError **error)
{
  const char *name;
  g_autoptr (PstAccount) a = NULL;

  if (!pst_rpc_get_string (call->params, "name", TRUE, &name, error)
      || !(a = pst_agent_get_account (call->agent, name, error)))
    return NULL;
  return account_to_json (a);
}

/* account.test: both servers of a stored account (name) or of one given
 * whole (account: the members of account.add; not stored), as far as TLS
 * and their mechanisms, and with login also logged in and out.  The
 * report says what failed ("ok": false); it is not an error. */
JsonObject *
pst_method_account_test (PstCall *call, GError **error)
{
  static const char *const known[] = { "name", "account", "login", NULL };
  const char *name;
  JsonNode *given = call->params ? json_object_get_member (call->params, "account") : NULL;
  g_autoptr (PstAccount) a = NULL;
  GMutex *fetch_lock = NULL;
  JsonObject *r;
  gboolean smtp_ok = FALSE, pop3_ok = FALSE, login = FALSE;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "name", FALSE, &name, error)
      || !pst_rpc_get_bool (call->params, "login", FALSE, &login, error))
    return NULL;
  if ((name != NULL) == (given != NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, name != NULL
                   ? "give name (a stored account) or account (an account to try), not both"
                   : "give name (a stored account) or account (an account to try)");
      return NULL;
    }
  if (given != NULL && !JSON_NODE_HOLDS_OBJECT (given))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "parameter 'account' must be an object with the members of account.add");
      return NULL;
    }
  if (name != NULL)
    a = pst_agent_get_account (call->agent, name, error);
  else if (!(a = account_from_params (json_node_get_object (given), error)))
    g_prefix_error (error, "account: ");
  if (a == NULL)
    return NULL;
  r = json_object_new ();
  json_object_set_string_member (r, "name", a->name);
  json_object_set_object_member (r, "smtp", pst_probe_server (a, a->smtp, login, &smtp_ok));
  /* A stored account's login waits for its fetch, as another session would. */
  if (login && name != NULL)
    g_mutex_lock (fetch_lock = pst_agent_session_lock (call->agent, "fetch", a->name));
  json_object_set_object_member (r, "pop3", pst_probe_server (a, a->pop3, login, &pop3_ok));
  if (fetch_lock != NULL)
    g_mutex_unlock (fetch_lock);
  json_object_set_boolean_member (r, "ok", smtp_ok && pop3_ok);
  return r;
}

JsonObject *
pst_method_account_remove (PstCall *call, GError **error)
{
  const char *name;
  gboolean ok;

  if (!pst_rpc_get_string (call->params, "name", TRUE, &name, error))
    return NULL;
  g_mutex_lock (&call->agent->config_lock);
  ok = pst_config_remove_account (call->agent->config, name, error)
       && pst_config_save (call->agent->config, error);
  g_mutex_unlock (&call->agent->config_lock);
  /* Stored mail of the account is kept: removing an account never deletes mail. */
  return ok ? json_object_new () : NULL;
}
