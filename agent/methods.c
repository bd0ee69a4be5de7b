#include "methods.h"
#include "methods-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "clientfd.h"
#include "crypto/pgp.h"
#include "crypto/policy.h"
#include "events.h"
#include "fetcher.h"
#include "mime/mime.h"
#include "mime/pgpmime.h"
#include "net/transport.h"
#include "probe.h"
#include "protect.h"
#include "util/addr.h"
#include "reader.h"
#include "scheduler.h"
#include "sender.h"
#include "subjects.h"
#include "util/error.h"

/* Messages given to send are parsed in memory for now; this is the cap. */
#define MAX_SEND_SIZE (64u * 1024 * 1024)

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

/* ---- hello, agent.stop ---- */

static JsonObject *
m_hello (PstCall *call, GError **error)
{
  JsonObject *r = json_object_new ();

  json_object_set_int_member (r, "protocol", PST_RPC_PROTOCOL);
  json_object_set_string_member (r, "agent", PACKAGE_VERSION);
  json_object_set_int_member (r, "pid", getpid ());
  {
    /* TLS handshakes since the agent started: full, and resumed sessions. */
    JsonObject *tls = json_object_new ();
    guint full = 0, resumed = 0;

    pst_tls_resumption_stats (&full, &resumed);
    json_object_set_int_member (tls, "full_handshakes", full);
    json_object_set_int_member (tls, "resumed_handshakes", resumed);
    json_object_set_object_member (r, "tls", tls);
  }
  {
    /* Keys of the configuration this agent does not know (config.h). */
    JsonArray *a = json_array_new ();
    const GPtrArray *w;

    g_mutex_lock (&call->agent->config_lock);
    w = pst_config_get_warnings (call->agent->config);
    for (guint i = 0; i < w->len; i++)
      json_array_add_string_element (a, w->pdata[i]);
    g_mutex_unlock (&call->agent->config_lock);
    json_object_set_array_member (r, "config_warnings", a);
  }
  return r;
}

static JsonObject *
m_stop (PstCall *call, GError **error)
{
  pst_agent_request_stop (call->agent);
  return json_object_new ();
}

/* ---- accounts ---- */

static JsonObject *
m_account_list (PstCall *call, GError **error)
{
  JsonObject *r = json_object_new ();
  JsonArray *arr = json_array_new ();
  GPtrArray *accounts;

  g_mutex_lock (&call->agent->config_lock);
  accounts = pst_config_get_accounts (call->agent->config);
  for (guint i = 0; i < accounts->len; i++)
    json_array_add_object_element (arr, pst_account_to_json (g_ptr_array_index (accounts, i)));
  g_mutex_unlock (&call->agent->config_lock);
  json_object_set_array_member (r, "accounts", arr);
  return r;
}

static JsonObject *
m_account_show (PstCall *call, GError **error)
{
  const char *name;
  g_autoptr (PstAccount) a = NULL;

  if (!pst_rpc_get_string (call->params, "name", TRUE, &name, error)
      || !(a = pst_agent_get_account (call->agent, name, error)))
    return NULL;
  return pst_account_to_json (a);
}

/* account.test: both servers of a stored account (name) or of one given
 * whole (account: the members of account.add; not stored), as far as TLS
 * and their mechanisms, and with login also logged in and out.  The
 * report says what failed ("ok": false); it is not an error. */
static JsonObject *
m_account_test (PstCall *call, GError **error)
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
  else if (!(a = pst_account_from_params (json_node_get_object (given), error)))
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

static JsonObject *
m_account_remove (PstCall *call, GError **error)
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

/* ---- send ---- */

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

static JsonObject *
m_send (PstCall *call, GError **error)
{
  const char *name;
  gboolean wait;
  int fd;
  g_autoptr (GBytes) input = NULL;
  g_autoptr (PstMimeMessage) msg = NULL;
  g_autofree char *from = NULL;
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (PstProtected) prot = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  PstPolicySettings overrides, settings;
  JsonArray *id_array;
  JsonObject *r;
  gboolean all_sent = TRUE;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &name, error)
      || !pst_call_get_overrides (call, &overrides, error)
      || !pst_rpc_get_bool (call->params, "wait", FALSE, &wait, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0)
    return NULL;
  if (!(input = pst_fd_read_all (fd, MAX_SEND_SIZE, error)))
    return NULL;
  if (!(msg = pst_mime_message_parse (input, error)))
    {
      g_prefix_error (error, "not an RFC 5322 message: ");
      return NULL;
    }
  if (!(from = pst_mime_message_get_from_address (msg, error)))
    return NULL;
  if (!(account = pst_call_sending_account (call, name, from, error)))
    return NULL;
  {
    g_auto (GStrv) rcpts = pst_mime_message_get_recipients (msg);

    if (!pst_send_check_limits (call->agent, account, rcpts ? g_strv_length (rcpts) : 0, error))
      return NULL;
  }
  /* Outgoing mail is scanned before it is encrypted (DESIGN.md §11): after,
   * no one can. */
  if (call->agent->scanner != NULL)
    {
      g_autofree char *found = NULL;
      PstScanVerdict v = pst_scanner_scan (call->agent->scanner, input, &found);

      if (v == PST_SCAN_INFECTED)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_INFECTED,
                       "the message is infected with %s; nothing was sent", found);
          return NULL;
        }
      if (v == PST_SCAN_ERROR && !call->agent->scan_error_delivers)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the message could not be scanned (%s); nothing was sent "
                       "(on_scan_error = quarantine)", found);
          return NULL;
        }
      if (v == PST_SCAN_ERROR)
        g_warning ("sending unscanned: %s (on_scan_error = deliver)", found);
    }
  settings = pst_protect_account_settings (account);
  if (!(prot = pst_protect_message (call->agent, input, &settings, &overrides, NULL, error)))
    return NULL;

  /* Every copy queued durably, in one go, before any network I/O
   * (DESIGN.md §3). */
  for (guint i = 0; i < prot->copies->len; i++)
    {
      PstOutgoing *out = g_ptr_array_index (prot->copies, i);
      g_autoptr (PstStoreWriter) writer = NULL;
      gsize len;
      const guint8 *data = g_bytes_get_data (out->data, &len);
      gint64 id = 0;

      if (!(writer = pst_store_outbox_begin (call->agent->store, account->name, from,
                                             (const char *const *) out->envelope, error))
          || !pst_store_writer_write (writer, data, len, error)
          || !pst_store_writer_commit (writer, &id, error))
        return NULL;
      g_array_append_val (ids, id);
      {
        JsonObject *p = json_object_new ();
        json_object_set_int_member (p, "id", id);
        json_object_set_string_member (p, "account", account->name);
        json_object_set_string_member (p, "state", "queued");
        pst_events_emit ("outbox.changed", p);
      }
      g_message ("outbox %" G_GINT64_FORMAT ": queued for %s (%s%s)", id, account->name,
                 prot->encrypted ? "encrypted" : "NOT encrypted", prot->signed_ ? ", signed" : "");
    }

  r = json_object_new ();
  json_object_set_int_member (r, "id", g_array_index (ids, gint64, 0));
  id_array = json_array_new ();
  for (guint i = 0; i < ids->len; i++)
    json_array_add_int_element (id_array, g_array_index (ids, gint64, i));
  json_object_set_array_member (r, "ids", id_array);
  json_object_set_string_member (r, "scheme", pst_scheme_name (prot->scheme));
  json_object_set_boolean_member (r, "encrypted", prot->encrypted);
  json_object_set_boolean_member (r, "signed", prot->signed_);
  if (prot->missing && prot->missing[0])
    json_object_set_array_member (r, "missing_keys", pst_json_strv (prot->missing));
  if (!wait)
    {
      pst_sender_kick (call->agent, account->name);
      json_object_set_string_member (r, "state", "queued");
      return r;
    }
  {
    g_autoptr (GError) send_error = NULL;
    const char *reply = NULL;
    gboolean ok = pst_sender_run (call->agent, account->name, FALSE, &send_error);

    for (guint i = 0; i < ids->len; i++)
      {
        gint64 id = g_array_index (ids, gint64, i);
        g_autoptr (PstOutboxEntry) entry = pst_store_outbox_get (call->agent->store, id, NULL);

        if (entry == NULL || entry->state != PST_OUTBOX_SENT)
          {
            all_sent = FALSE;
            if (ok && send_error == NULL && entry && entry->state == PST_OUTBOX_FAILED)
              g_set_error (&send_error, PST_ERROR, PST_ERROR_FAILED,
                           "the server refused message %" G_GINT64_FORMAT ": %s", id,
                           entry->last_reply ? entry->last_reply : "no reply");
            else if (ok && send_error == NULL && entry && entry->state == PST_OUTBOX_QUEUED
                     && entry->last_reply != NULL)
              {
                g_autoptr (GDateTime) at = g_date_time_new_from_unix_local (entry->next_try);
                g_autofree char *when = at ? g_date_time_format (at, "%H:%M:%S") : g_strdup ("soon");

                g_set_error (&send_error, PST_ERROR, PST_ERROR_FAILED,
                             "the server deferred message %" G_GINT64_FORMAT ": %s; it is tried "
                             "again at %s", id, entry->last_reply, when);
              }
          }
        else if (reply == NULL)
          json_object_set_string_member (r, "reply", reply = entry->last_reply ? entry->last_reply : "");
      }
    if (!all_sent)
      {
        json_object_unref (r);
        if (send_error == NULL)
          g_set_error (&send_error, PST_ERROR, PST_ERROR_FAILED, "not sent yet");
        g_propagate_prefixed_error (error, g_steal_pointer (&send_error),
                                    "message %" G_GINT64_FORMAT " is kept in the outbox: ",
                                    g_array_index (ids, gint64, 0));
        return NULL;
      }
  }
  json_object_set_string_member (r, "state", "sent");
  return r;
}

/* ---- fetch ---- */

static JsonObject *
m_fetch (PstCall *call, GError **error)
{
  const char *name;
  g_autoptr (PstAccount) only = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  JsonArray *arr;
  JsonObject *r;
  guint total = 0;
  GError *first = NULL;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &name, error))
    return NULL;
  if (name != NULL)
    {
      if (!(only = pst_agent_get_account (call->agent, name, error)))
        return NULL;
      g_ptr_array_add (names, g_strdup (name));
    }
  else
    {
      g_mutex_lock (&call->agent->config_lock);
      GPtrArray *accounts = pst_config_get_accounts (call->agent->config);
      for (guint i = 0; i < accounts->len; i++)
        g_ptr_array_add (names, g_strdup (((PstAccount *) g_ptr_array_index (accounts, i))->name));
      g_mutex_unlock (&call->agent->config_lock);
    }

  arr = json_array_new ();
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      JsonObject *o = json_object_new ();
      GError *local = NULL;
      guint fetched = 0;

      json_object_set_string_member (o, "name", n);
      if (!pst_fetcher_run (call->agent, n, &fetched, &local))
        {
          json_object_set_string_member (o, "error", local->message);
          if (first == NULL)
            first = local;
          else
            g_error_free (local);
        }
      json_object_set_int_member (o, "fetched", fetched);
      total += fetched;
      json_array_add_object_element (arr, o);
    }
  if (first != NULL)
    {
      json_array_unref (arr);
      g_propagate_error (error, first);
      return NULL;
    }
  r = json_object_new ();
  json_object_set_int_member (r, "fetched", total);
  json_object_set_array_member (r, "accounts", arr);
  return r;
}

/* ---- list, show, export ---- */

static JsonNode *
parse_json_or_null (const char *text)
{
  g_autoptr (JsonParser) p = json_parser_new ();

  if (text == NULL || !json_parser_load_from_data (p, text, -1, NULL))
    return json_node_new (JSON_NODE_NULL);
  return json_node_copy (json_parser_get_root (p));
}

static JsonObject *
scan_object (const char *verdict, const char *name)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "verdict", verdict ? verdict : "skipped");
  if (name)
    json_object_set_string_member (o, "name", name);
  else
    json_object_set_null_member (o, "name");
  return o;
}

#define DEFAULT_LIST 200
#define MAX_LIST 2000

static int
newest_info_first (gconstpointer a, gconstpointer b)
{
  gint64 x = (*(PstMessageInfo *const *) a)->id, y = (*(PstMessageInfo *const *) b)->id;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Adds to @infos (newest first, at most @limit) the messages whose
 * decrypted Subject, known only in memory, matches @query. */
static void
merge_subject_matches (PstAgent *agent, GPtrArray *infos, const char *account, const char *query,
                       guint limit)
{
  g_autoptr (GArray) ids = pst_subjects_search (account, query, limit);
  gboolean added = FALSE;

  for (guint i = 0; i < ids->len; i++)
    {
      gint64 id = g_array_index (ids, gint64, i);
      PstMessageInfo *info;
      gboolean known = FALSE;

      for (guint j = 0; j < infos->len && !known; j++)
        known = ((PstMessageInfo *) g_ptr_array_index (infos, j))->id == id;
      if (known)
        continue;
      info = pst_store_message_get_info (agent->store, id, NULL);
      if (info == NULL || info->quarantined)
        {
          if (info == NULL)
            pst_subjects_forget (id);
          pst_message_info_free (info);
          continue;
        }
      g_ptr_array_add (infos, info);
      added = TRUE;
    }
  if (!added)
    return;
  g_ptr_array_sort (infos, newest_info_first);
  if (infos->len > limit)
    g_ptr_array_set_size (infos, limit);
}

/* Characters of a search, well within SQLite's LIKE pattern limit. */
#define MAX_QUERY 1000

static JsonObject *
m_list (PstCall *call, GError **error)
{
  const char *account, *query;
  gint64 limit;
  g_autoptr (GPtrArray) infos = NULL;
  JsonArray *arr;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &account, error)
      || !pst_rpc_get_string (call->params, "query", FALSE, &query, error)
      || !pst_rpc_get_int (call->params, "limit", FALSE, 0, &limit, error))
    return NULL;
  if (query != NULL && (!g_utf8_validate (query, -1, NULL) || g_utf8_strlen (query, -1) > MAX_QUERY))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "query must be UTF-8 text of at most %d characters", MAX_QUERY);
      return NULL;
    }
  /* Newest first, a page at a time: a reply must fit in one RPC line
   * (1 MiB), whatever the store holds. */
  if (limit < 0 || limit > MAX_LIST)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "limit must be from 1 to %d", MAX_LIST);
      return NULL;
    }
  if (limit == 0)
    limit = DEFAULT_LIST;
  if (account != NULL)
    {
      g_autoptr (PstAccount) a = pst_agent_get_account (call->agent, account, error);
      if (a == NULL)
        return NULL;
    }
  /* The From and Subject as the store keeps them (reader.c says which
   * Subject that is for encrypted mail), and the decrypted Subjects the
   * agent knows (subjects.h). */
  if (!(infos = pst_store_message_search (call->agent->store, account, query, (guint) limit,
                                          error)))
    return NULL;
  if (query != NULL && *query != '\0')
    merge_subject_matches (call->agent, infos, account, query, (guint) limit);
  arr = json_array_new ();
  for (guint i = 0; i < infos->len; i++)
    {
      PstMessageInfo *m = g_ptr_array_index (infos, i);
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "id", m->id);
      json_object_set_string_member (o, "account", m->account);
      json_object_set_string_member (o, "from", m->from ? m->from : "");
      {
        g_autofree char *decrypted = pst_subjects_lookup (m->id);
        json_object_set_string_member (o, "subject", decrypted ? decrypted : m->subject ? m->subject : "");
      }
      json_object_set_string_member (o, "date", m->date ? m->date : "");
      json_object_set_member (o, "crypto", parse_json_or_null (m->crypto_json));
      json_object_set_object_member (o, "scan", scan_object (m->scan_verdict, m->scan_name));
      json_array_add_object_element (arr, o);
    }
  r = json_object_new ();
  json_object_set_array_member (r, "messages", arr);
  return r;
}

static gboolean
get_id (PstCall *call, gint64 *id_out, GError **error)
{
  return pst_rpc_get_int (call->params, "id", TRUE, 0, id_out, error);
}

static JsonObject *
m_show (PstCall *call, GError **error)
{
  gint64 id;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstView) view = NULL;
  JsonObject *r, *headers;
  JsonArray *att;

  if (!get_id (call, &id, error)
      || !pst_call_open_message (call, id, -1, &info, &plain, &status, &view, error))
    return NULL;
  /* Everything shown was read from the message by the analysis worker
   * (worker.h): the agent parses none of it here. */
  headers = json_object_new ();
  {
    const char *names[] = { "from", "to", "cc", "subject", "date", "message_id" };
    const char *values[] = { view->from, view->to, view->cc, view->subject, view->date,
                             view->message_id };

    for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
      if (values[i] != NULL)
        json_object_set_string_member (headers, names[i], values[i]);
      else
        json_object_set_null_member (headers, names[i]);
  }
  att = json_array_new ();
  for (guint i = 0; i < view->attachments->len; i++)
    {
      const char *entry = g_ptr_array_index (view->attachments, i);
      g_auto (GStrv) parts = g_strsplit (entry, "\t", 2);
      JsonObject *a = json_object_new ();

      json_object_set_string_member (a, "name", parts[0] ? parts[0] : "");
      json_object_set_string_member (a, "type", parts[0] && parts[1] ? parts[1] : "");
      json_array_add_object_element (att, a);
    }
  r = json_object_new ();
  json_object_set_int_member (r, "id", id);
  json_object_set_string_member (r, "account", info->account);
  json_object_set_object_member (r, "headers", headers);
  if (view->body_text != NULL)
    {
      json_object_set_string_member (r, "body_text", view->body_text);
      json_object_set_string_member (r, "body_format", view->body_format);
    }
  else
    {
      json_object_set_null_member (r, "body_text");
      json_object_set_null_member (r, "body_format");
    }
  json_object_set_int_member (r, "attachments_total", view->attachments_total);
  json_object_set_boolean_member (r, "attachments_truncated",
                                  view->attachments->len < view->attachments_total);
  json_object_set_array_member (r, "attachments", att);
  json_object_set_member (r, "crypto", pst_status_to_json (status));
  /* Both sides of every header-mismatch warning (crypto/status.h): here,
   * in the answer, and never in the crypto summary that the store keeps. */
  json_object_set_member (r, "header_mismatch", pst_status_header_mismatches_to_json (status));
  json_object_set_object_member (r, "scan", scan_object (info->scan_verdict, info->scan_name));
  return r;
}

static JsonObject *
m_export (PstCall *call, GError **error)
{
  gint64 id;
  int fd;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstMessageInfo) info = NULL;
  JsonObject *r;
  gsize len;
  const guint8 *data;

  gboolean raw = FALSE;

  if (!get_id (call, &id, error) || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || !pst_rpc_get_bool (call->params, "raw", FALSE, &raw, error))
    return NULL;
  if (raw)
    {
      /* As it arrived (a seal of Postern's own opened): nothing parsed, so
       * that a message no worker could read is still the user's. */
      g_autoptr (GBytes) arrived = NULL;

      if (!pst_reader_arrived (call->agent, id, &arrived, error))
        return NULL;
      data = g_bytes_get_data (arrived, &len);
      if (!pst_fd_write_all (fd, data, len, error))
        return NULL;
      r = json_object_new ();
      json_object_set_boolean_member (r, "raw", TRUE);
      return r;
    }
  if (!pst_call_open_message (call, id, -1, &info, &plain, &status, NULL, error))
    return NULL;
  if (pst_status_withholds_content (status))
    {
      if (status->decryption == PST_DECRYPTION_TOO_LARGE)
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                     "message %" G_GINT64_FORMAT " is not decrypted: its content expands past %"
                     G_GSIZE_FORMAT " MiB (a compression bomb?); nothing exported", id,
                     PST_DECRYPTION_MAX_OUTPUT / (1024 * 1024));
      else
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                     "message %" G_GINT64_FORMAT " cannot be decrypted; nothing exported", id);
      return NULL;
    }
  data = g_bytes_get_data (plain, &len);
  if (!pst_fd_write_all (fd, data, len, error))
    return NULL;
  r = json_object_new ();
  json_object_set_member (r, "crypto", pst_status_to_json (status));
  return r;
}

/* From now on this connection also carries notifications (DESIGN.md §5). */
static JsonObject *
m_subscribe (PstCall *call, GError **error)
{
  static const char *const known[] = { "mail.new", "outbox.changed", "fetch.progress",
                                       "batch.progress", "scan.quarantined", "account.error",
                                       NULL };
  JsonNode *n = call->params ? json_object_get_member (call->params, "events") : NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  JsonObject *r;

  if (n != NULL && !JSON_NODE_HOLDS_NULL (n))
    {
      JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
      for (guint i = 0; a && i < json_array_get_length (a); i++)
        {
          JsonNode *e = json_array_get_element (a, i);
          const char *name = JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
                               ? json_node_get_string (e) : NULL;
          if (name == NULL || !g_strv_contains (known, name))
            {
              g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "unknown event '%s'",
                           name ? name : "(not a string)");
              return NULL;
            }
          g_ptr_array_add (names, (gpointer) name);
        }
      if (a == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "parameter 'events' must be a list");
          return NULL;
        }
    }
  g_ptr_array_add (names, NULL);
  pst_events_subscribe (call->channel, names->len > 1 ? (const char *const *) names->pdata : NULL);
  r = json_object_new ();
  json_object_set_array_member (r, "events",
                                pst_json_strv (names->len > 1 ? (char **) names->pdata
                                                              : (char **) known));
  return r;
}

static const struct {
  const char *name;
  PstMethodFunc func;
} methods[] = {
  { "subscribe", m_subscribe },
  { "hello", m_hello },
  { "agent.stop", m_stop },
  { "account.add", pst_method_account_add },
  { "account.update", pst_method_account_update },
  { "account.list", m_account_list },
  { "account.show", m_account_show },
  { "account.remove", m_account_remove },
  { "account.test", m_account_test },
  { "config.get", pst_method_config_get },
  { "config.set", pst_method_config_set },
  { "outbox.list", pst_method_outbox_list },
  { "outbox.retry", pst_method_outbox_retry },
  { "outbox.cancel", pst_method_outbox_cancel },
  { "scan", pst_method_scan },
  { "quarantine.list", pst_method_quarantine_list },
  { "quarantine.release", pst_method_quarantine_release },
  { "quarantine.delete", pst_method_quarantine_delete },
  { "send", m_send },
  { "fetch", m_fetch },
  { "list", m_list },
  { "show", m_show },
  { "export", m_export },
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
