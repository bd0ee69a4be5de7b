/* worker-view.c — what show displays of a message, as the analysis
 * worker reads it (worker-view.h): made in the worker, and in the agent
 * when it reads without one (worker.c). */
#include <string.h>

#include "worker-view.h"
#include "mime/mime.h"
#include "mime/html.h"
#include "mime/reader.h"
#include "util/addr.h"
#include "util/error.h"

#define MAX_HEADER_VALUE (16 * 1024)

/* A header value for the agent: at most MAX_HEADER_VALUE bytes, cut at a
 * character boundary (the agent refuses longer strings). */
static void
set_header (JsonObject *o, const char *name, PstMimeMessage *msg, const char *field)
{
  g_autofree char *v = msg != NULL ? pst_mime_message_get_header (msg, field) : NULL;

  if (v == NULL || !g_utf8_validate (v, -1, NULL))
    {
      json_object_set_null_member (o, name);
      return;
    }
  if (strlen (v) > MAX_HEADER_VALUE)
    *g_utf8_find_prev_char (v, v + MAX_HEADER_VALUE + 1) = '\0';
  json_object_set_string_member (o, name, v);
}

/* What Autocrypt needs of the outside of @message (agent/peers.c):
 * the single From address, the date, whether it is a delivery report,
 * the values of its first PST_VIEW_MAX_AUTOCRYPT Autocrypt fields, and
 * the addresses of its To and Cc (for gossip). */
static JsonObject *
autocrypt_facts (GBytes *message, PstMimeMessage *outer)
{
  static const char *const to_cc[] = { "To", "Cc", NULL };
  g_auto (GStrv) recipients = outer != NULL ? pst_mime_message_get_addresses (outer, to_cc) : NULL;
  JsonArray *rcpt = json_array_new ();
  gsize len = 0, body = 0;
  const char *data = g_bytes_get_data (message, &len);
  g_autoptr (GPtrArray) fields = NULL;
  g_autofree char *from = NULL, *type = NULL;
  JsonObject *o = json_object_new ();
  JsonArray *headers = json_array_new ();
  gboolean truncated = FALSE;
  const char *ct;

  json_object_set_array_member (o, "headers", headers);
  for (char **r = recipients; r != NULL && *r != NULL && json_array_get_length (rcpt) < PST_VIEW_MAX_RECIPIENTS; r++)
    if (g_utf8_validate (*r, -1, NULL) && strlen (*r) <= MAX_HEADER_VALUE)
      json_array_add_string_element (rcpt, *r);
  json_object_set_array_member (o, "recipients", rcpt);
  if (!pst_mime_split_header (data, len, &fields, &body, NULL))
    return o;
  from = pst_mime_single_from (fields);
  if (from != NULL && g_utf8_validate (from, -1, NULL) && strlen (from) <= MAX_HEADER_VALUE)
    json_object_set_string_member (o, "from", from);
  json_object_set_int_member (o, "date", MAX (pst_mime_fields_date (fields), 0));
  {
    const char *mid = pst_mime_find_field (fields, "Message-ID", NULL);
    g_autofree char *value = mid != NULL ? pst_mime_field_value (mid) : NULL;

    if (value != NULL && g_utf8_validate (value, -1, NULL) && strlen (value) <= 998)
      json_object_set_string_member (o, "message_id", g_strstrip (value));
  }
  ct = pst_mime_find_field (fields, "Content-Type", NULL);
  if (ct != NULL)
    {
      g_autofree char *value = pst_mime_field_value (ct);
      type = pst_mime_parse_content_type (value, NULL);
    }
  json_object_set_boolean_member (o, "report", g_strcmp0 (type, "multipart/report") == 0);
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = g_ptr_array_index (fields, i);
      g_autofree char *value = NULL;

      if (!pst_mime_field_is (f, "Autocrypt"))
        continue;
      value = pst_mime_field_value (f);
      if (value != NULL && g_utf8_validate (value, -1, NULL)
          && strlen (value) <= PST_VIEW_MAX_AUTOCRYPT_VALUE
          && json_array_get_length (headers) < PST_VIEW_MAX_AUTOCRYPT)
        json_array_add_string_element (headers, value);
      else
        truncated = TRUE;   /* one not passed on counts as one more header */
    }
  json_object_set_boolean_member (o, "truncated", truncated);
  return o;
}

/* Member @name of @o: the addr-specs of the header fields @fields of @msg
 * (at most PST_VIEW_MAX_RECIPIENTS of them), for a reply's recipients. */
static void
set_addresses (JsonObject *o, const char *name, PstMimeMessage *msg, const char *const *fields)
{
  g_auto (GStrv) list = msg != NULL ? pst_mime_message_get_shown_addresses (msg, fields) : NULL;
  JsonArray *a = json_array_new ();

  for (char **r = list; r != NULL && *r != NULL && json_array_get_length (a) < PST_VIEW_MAX_RECIPIENTS; r++)
    if (g_utf8_validate (*r, -1, NULL) && strlen (*r) <= MAX_HEADER_VALUE)
      json_array_add_string_element (a, *r);
  json_object_set_array_member (o, name, a);
}

gboolean
pst_worker_plain_is_message (GBytes *message, GBytes *plain, const PstStatus *status)
{
  /* The agent refuses it beside a decryption (worker.c): never said then. */
  return plain == message && status->decryption != PST_DECRYPTION_OK;
}

JsonObject *
pst_worker_make_view (GBytes *message, GBytes *plain, const PstStatus *status, int attachment,
                      char **body_out, GBytes **attachment_out)
{
  g_autoptr (PstMimeMessage) shown = pst_mime_message_parse (plain, NULL);
  /* Nothing was decrypted or rebuilt (pst_hp_plain_message gives the
   * message itself): the outside is what is shown, parsed once. */
  g_autoptr (PstMimeMessage) outer_parsed = plain != message ? pst_mime_message_parse (message, NULL) : NULL;
  PstMimeMessage *outer = plain != message ? outer_parsed : shown;
  g_autoptr (GPtrArray) attachments = shown ? pst_mime_message_get_attachments (shown) : NULL;
  g_autofree char *body = NULL;
  const char *format = NULL;
  JsonObject *view = json_object_new ();
  JsonArray *att = json_array_new ();
  gsize listed = 0;

  set_header (view, "from", shown, "From");
  set_header (view, "to", shown, "To");
  set_header (view, "cc", shown, "Cc");
  set_header (view, "subject", shown, "Subject");
  set_header (view, "date", shown, "Date");
  set_header (view, "message_id", shown, "Message-ID");
  set_header (view, "references", shown, "References");
  {
    /* whom a reply goes to: Reply-To, else From; and a reply to all's others */
    static const char *const reply_to[] = { "Reply-To", NULL }, *const from[] = { "From", NULL };
    static const char *const to_cc[] = { "To", "Cc", NULL };
    g_auto (GStrv) has_reply_to = shown != NULL ? pst_mime_message_get_shown_addresses (shown, reply_to) : NULL;

    set_addresses (view, "reply_addresses", shown,
                   has_reply_to != NULL && has_reply_to[0] != NULL ? reply_to : from);
    set_addresses (view, "to_cc_addresses", shown, to_cc);
  }
  set_header (view, "outer_from", outer, "From");
  set_header (view, "outer_date", outer, "Date");
  set_header (view, "outer_subject", outer, "Subject");
  json_object_set_object_member (view, "autocrypt", autocrypt_facts (message, outer));
  if (shown != NULL && !pst_status_withholds_content (status))
    {
      /* HTML only as text: no client renders it, nothing remote is loaded. */
      body = pst_mime_message_get_body_text (shown);
      format = "text";
      if (body == NULL && (body = pst_mime_message_get_html_as_text (shown)) != NULL)
        format = "html-as-text";
    }
  if (body != NULL && !g_utf8_validate (body, -1, NULL))
    g_clear_pointer (&body, g_free);
  for (guint i = 0; attachments != NULL && i < attachments->len; i++)
    {
      const char *entry = g_ptr_array_index (attachments, i);

      listed += strlen (entry);
      if (i >= PST_SHOW_MAX_ATTACHMENTS || listed > PST_SHOW_MAX_ATTACHMENT_BYTES)
        break;
      if (g_utf8_validate (entry, -1, NULL) && strlen (entry) <= MAX_HEADER_VALUE)
        json_array_add_string_element (att, entry);
      else
        json_array_add_string_element (att, "\t");
    }
  json_object_set_array_member (view, "attachments", att);
  json_object_set_int_member (view, "attachments_total", attachments ? attachments->len : 0);
  if (body != NULL)
    json_object_set_string_member (view, "body_format", format);
  else
    json_object_set_null_member (view, "body_format");
  json_object_set_int_member (view, "body_len", body != NULL ? (gint64) strlen (body) : -1);
  /* -1: the plaintext is the message the agent sent, which the blob does
   * not carry back. */
  json_object_set_int_member (view, "plain_len", !pst_worker_plain_is_message (message, plain, status)
                                                  ? (gint64) g_bytes_get_size (plain) : -1);
  *attachment_out = NULL;
  if (attachment >= 0 && !pst_status_withholds_content (status))
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = NULL, *type = NULL;
      g_autoptr (GBytes) content = NULL;

      if (shown == NULL)
        g_set_error (&error, PST_ERROR, PST_ERROR_FAILED, "the message has no attachments");
      else
        content = pst_mime_message_get_attachment (shown, (guint) attachment,
                                                   PST_WORKER_MAX_ATTACHMENT, &name, &type, &error);
      if (content != NULL)
        {
          JsonObject *a = json_object_new ();

          json_object_set_string_member (a, "name", name && g_utf8_validate (name, -1, NULL)
                                                    && strlen (name) <= MAX_HEADER_VALUE ? name : "");
          json_object_set_string_member (a, "type", type && g_utf8_validate (type, -1, NULL)
                                                    && strlen (type) <= MAX_HEADER_VALUE ? type : "");
          json_object_set_int_member (a, "len", (gint64) g_bytes_get_size (content));
          json_object_set_object_member (view, "attachment", a);
          *attachment_out = g_steal_pointer (&content);
        }
      else
        json_object_set_string_member (view, "attachment_error",
                                       error && g_utf8_validate (error->message, -1, NULL)
                                         && strlen (error->message) <= MAX_HEADER_VALUE
                                         ? error->message : "no such attachment");
    }
  *body_out = g_steal_pointer (&body);
  return view;
}

GBytes *
pst_worker_result_blob (GBytes *plain, const char *body, GBytes *attachment)
{
  gsize plain_len = plain != NULL ? g_bytes_get_size (plain) : 0;
  GByteArray *blob = g_byte_array_sized_new ((guint) plain_len
                                             + (body ? (guint) strlen (body) : 0)
                                             + (attachment ? (guint) g_bytes_get_size (attachment) : 0));

  if (plain_len > 0)
    g_byte_array_append (blob, g_bytes_get_data (plain, NULL), (guint) plain_len);
  if (body != NULL)
    g_byte_array_append (blob, (const guint8 *) body, (guint) strlen (body));
  if (attachment != NULL && g_bytes_get_size (attachment) > 0)
    g_byte_array_append (blob, g_bytes_get_data (attachment, NULL),
                         (guint) g_bytes_get_size (attachment));
  return g_byte_array_free_to_bytes (blob);
}

