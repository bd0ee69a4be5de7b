/* methods-mail.c — fetch, list, show, export and attachment: the mail
 * the agent keeps, and opening a stored message for a client. */
#include <string.h>
#include <gio/gunixoutputstream.h>

#include "clientfd.h"
#include "handlers.h"
#include "fetcher.h"
#include "subjects.h"
#include "mime/mime.h"
#include "open.h"
#include "reader.h"
#include "util/error.h"

/* attachment {id, index, fd}: the decoded content of attachment @index
 * (0-based, the order of show's "attachments") of message @id, written to
 * descriptor fd; result {name, type, size}.  Admitted as show admits;
 * refused (PST_ERROR_CRYPTO) when the content could not be decrypted or its
 * integrity is missing, as export is.  No such attachment: PST_ERROR_FAILED. */
JsonObject *
pst_method_attachment (PstCall *call, GError **error)
{
  gint64 id, index;
  int fd;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstView) view = NULL;
  JsonObject *r;
  gsize len = 0;
  const guint8 *data;

  if (!pst_rpc_get_int (call->params, "id", TRUE, 0, &id, error)
      || !pst_rpc_get_int (call->params, "index", TRUE, 0, &index, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0)
    return NULL;
  if (index < 0 || index > G_MAXINT)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "index must be 0 or more (attachments are numbered from 0)");
      return NULL;
    }
  /* The attachment is found and decoded by the analysis worker too. */
  if (!pst_open_message (call->agent, id, (int) index, &info, &plain, &status, &view, error))
    return NULL;
  if (pst_status_withholds_content (status))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "message %" G_GINT64_FORMAT " cannot be decrypted%s; no attachment written",
                   id, status->integrity == PST_INTEGRITY_MISSING
                         ? " with integrity protection"
                         : status->decryption == PST_DECRYPTION_TOO_LARGE
                         ? ": its content expands past the decryption limit (a compression bomb?)" : "");
      return NULL;
    }
  if (view->attachment_spool != NULL)
    {
      /* A large one, kept in a spool as it came from the worker. */
      g_autoptr (GOutputStream) out = pst_client_fd_output_stream_new (fd);
      gboolean spool_failed = FALSE;

      if (!pst_cipher_spool_replay (view->attachment_spool, out, &spool_failed, error))
        {
          if (spool_failed)
            {
              /* Its words are of a decrypted text's copy. */
              g_clear_error (error);
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                           "message %" G_GINT64_FORMAT ", attachment %" G_GINT64_FORMAT
                           ": the copy kept in the agent's data directory could not be read back, "
                           "or changed there; what was written of it is not the attachment",
                           id, index);
            }
          return NULL;
        }
    }
  else if (view->attachment == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "message %" G_GINT64_FORMAT ": %s", id,
                   view->attachment_error ? view->attachment_error : "no such attachment");
      return NULL;
    }
  else
    {
      data = g_bytes_get_data (view->attachment, &len);
      if (len > 0 && !pst_fd_write_all (fd, data, len, error))
        return NULL;
    }
  r = json_object_new ();
  json_object_set_string_member (r, "name", view->attachment_name ? view->attachment_name : "");
  json_object_set_string_member (r, "type", view->attachment_type ? view->attachment_type : "");
  json_object_set_int_member (r, "size", (gint64) view->attachment_len);
  return r;
}

JsonObject *
pst_method_fetch (PstCall *call, GError **error)
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
      if (!pst_fetchers_run (call->agent->fetchers, n, &fetched, &local))
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
/* What a page's messages may take in JSON: a line of the answer is at most
 * PST_RPC_MAX_LINE (1 MiB) for Postern's client, less the envelope. */
#define MAX_LIST_BYTES (PST_RPC_MAX_LINE - 16 * 1024)

/* Characters of a search, well within SQLite's LIKE pattern limit. */
#define MAX_QUERY 1000

JsonObject *
pst_method_list (PstCall *call, GError **error)
{
  const char *account, *query;
  gint64 limit, offset, before;
  g_autoptr (GPtrArray) infos = NULL;
  g_autoptr (GArray) remembered = NULL;
  PstMessageQuery q = { 0 };
  JsonArray *arr;
  JsonObject *r;
  gsize size = 0;
  gboolean more = FALSE;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &account, error)
      || !pst_rpc_get_string (call->params, "query", FALSE, &query, error)
      || !pst_rpc_get_int (call->params, "limit", FALSE, 0, &limit, error)
      || !pst_rpc_get_int (call->params, "offset", FALSE, 0, &offset, error)
      || !pst_rpc_get_int (call->params, "before", FALSE, 0, &before, error)
      || !pst_rpc_get_bool (call->params, "unread", FALSE, &q.unread, error))
    return NULL;
  if (query != NULL && (!g_utf8_validate (query, -1, NULL) || g_utf8_strlen (query, -1) > MAX_QUERY))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "query must be UTF-8 text of at most %d characters", MAX_QUERY);
      return NULL;
    }
  /* Newest first, a page at a time: a reply must fit in one RPC line
   * (1 MiB), whatever the store holds.  A client pages on with offset, or
   * with before (the last id it got), which costs a page at any depth. */
  if (limit < 0 || limit > MAX_LIST)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "limit must be from 1 to %d", MAX_LIST);
      return NULL;
    }
  if (offset < 0 || offset > G_MAXINT || before < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "offset must be from 0 to %d, and before a message id", G_MAXINT);
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
   * agent knows (subjects.h), found in one statement so that pages of a
   * search follow one order. */
  if (query != NULL && *query != '\0')
    remembered = pst_subjects_search (call->agent->subjects, account, query, G_MAXUINT);
  q.account = account;
  q.query = query;
  q.also = remembered;
  q.before = before;
  q.offset = (guint) offset;
  q.limit = (guint) limit;
  if (!(infos = pst_store_message_page (call->agent->store, &q, error)))
    return NULL;
  arr = json_array_new ();
  for (guint i = 0; i < infos->len; i++)
    {
      PstMessageInfo *m = g_ptr_array_index (infos, i);
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "id", m->id);
      json_object_set_string_member (o, "account", m->account);
      json_object_set_string_member (o, "from", m->from ? m->from : "");
      {
        g_autofree char *decrypted = pst_subjects_lookup (call->agent->subjects, m->id);
        json_object_set_string_member (o, "subject", decrypted ? decrypted : m->subject ? m->subject : "");
      }
      json_object_set_string_member (o, "date", m->date ? m->date : "");
      json_object_set_int_member (o, "date_unix", m->date ? pst_mime_parse_date (m->date) : 0);
      json_object_set_int_member (o, "received_at", m->received_at);
      json_object_set_member (o, "crypto", parse_json_or_null (m->crypto_json));
      json_object_set_object_member (o, "scan", scan_object (m->scan_verdict, m->scan_name));
      json_object_set_boolean_member (o, "unread", m->unread);
      json_object_set_int_member (o, "thread", m->thread);
      /* The answer must fit in one line of a client that reads at most
       * PST_RPC_MAX_LINE (Postern's own): a page stops short before it
       * would not, and says there is more. */
      {
        g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
        gsize len = 0;
        g_autofree char *text = json_to_string (node, FALSE);

        len = strlen (text) + 1;
        if (i > 0 && size + len > MAX_LIST_BYTES)
          {
            json_object_unref (o);
            more = TRUE;
            break;
          }
        size += len;
      }
      json_array_add_object_element (arr, o);
    }
  r = json_object_new ();
  json_object_set_array_member (r, "messages", arr);
  if (more)
    json_object_set_boolean_member (r, "more", TRUE);
  return r;
}

static gboolean
get_id (PstCall *call, gint64 *id_out, GError **error)
{
  return pst_rpc_get_int (call->params, "id", TRUE, 0, id_out, error);
}

JsonObject *
pst_method_show (PstCall *call, GError **error)
{
  gint64 id;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstView) view = NULL;
  JsonObject *r, *headers;
  JsonArray *att;

  if (!get_id (call, &id, error)
      || !pst_open_message (call->agent, id, -1, &info, &plain, &status, &view, error))
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
  /* show does not mark the message read: a client that opens it for the
   * user says so with mark. */
  json_object_set_boolean_member (r, "unread", info->unread);
  json_object_set_int_member (r, "thread", info->thread);
  return r;
}

JsonObject *
pst_method_export (PstCall *call, GError **error)
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
      g_autoptr (GOutputStream) out = g_unix_output_stream_new (fd, FALSE);

      if (!pst_reader_arrived_to (call->agent, id, out, error))
        return NULL;
      r = json_object_new ();
      json_object_set_boolean_member (r, "raw", TRUE);
      return r;
    }
  if (!pst_open_message_content (call->agent, id, &info, &plain, &status, error))
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
  if (plain == NULL)
    {
      /* Nothing decrypted or rebuilt: the message as stored, written as it
       * is read from there. */
      g_autoptr (GOutputStream) out = pst_client_fd_output_stream_new (fd);

      if (!pst_reader_arrived_to (call->agent, id, out, error))
        return NULL;
    }
  else
    {
      data = g_bytes_get_data (plain, &len);
      if (!pst_fd_write_all (fd, data, len, error))
        return NULL;
    }
  r = json_object_new ();
  json_object_set_member (r, "crypto", pst_status_to_json (status));
  return r;
}
