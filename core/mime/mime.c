#include "mime/mime.h"

#include <libetpan/libetpan.h>
#include <string.h>

#include "util/addr.h"
#include "util/error.h"

struct _PstMimeMessage {
  GBytes *data;
  GPtrArray *fields;          /* raw header fields, char* */
  gsize body_offset;
  struct mailmime *mime;      /* the whole tree, parsed on first use */
  gboolean mime_parsed;
};

/* --- Entities ------------------------------------------------------------- */

static gsize
line_end (const char *data, gsize len, gsize pos, gsize *next_out)
{
  const char *nl = memchr (data + pos, '\n', len - pos);
  gsize end;

  if (nl == NULL)
    {
      *next_out = len;
      return len;
    }
  end = nl - data;
  *next_out = end + 1;
  if (end > pos && data[end - 1] == '\r')
    end--;
  return end;
}

static gboolean
is_field_line (const char *line, gsize len)
{
  gsize i = 0;

  while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
    i++;
  if (i == 0)
    return FALSE;
  while (i < len && (line[i] == ' ' || line[i] == '\t'))   /* obs-optional */
    i++;
  return i < len && line[i] == ':';
}

gboolean
pst_mime_split_header (const char *data, gsize len, GPtrArray **fields_out,
                       gsize *body_offset_out, GError **error)
{
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  gsize pos = 0, field_start = 0, body = len;
  gboolean in_field = FALSE;

  if (memchr (data, '\0', len) != NULL)
    {
      /* NUL is allowed in a binary body, never in the header section. */
      const char *blank = g_strstr_len (data, len, "\n\n");
      const char *blank2 = g_strstr_len (data, len, "\n\r\n");
      const char *end = blank == NULL ? blank2 : blank2 == NULL ? blank : MIN (blank, blank2);

      if (end == NULL || memchr (data, '\0', end - data) != NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "not a message: the header section holds a NUL byte");
          return FALSE;
        }
    }

  while (pos < len)
    {
      gsize next;
      gsize end = line_end (data, len, pos, &next);

      if (end == pos)   /* the empty line */
        {
          body = next;
          break;
        }
      if (data[pos] == ' ' || data[pos] == '\t')
        {
          if (!in_field)
            {
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                           "not a message: the header section starts with a continuation line");
              return FALSE;
            }
        }
      else if (is_field_line (data + pos, end - pos))
        {
          if (in_field)
            g_ptr_array_add (fields, g_strndup (data + field_start, pos - field_start));
          field_start = pos;
          in_field = TRUE;
        }
      else
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "not a message: line %u of the header section is not a header field",
                       fields->len + 1);
          return FALSE;
        }
      pos = next;
    }
  if (in_field)
    g_ptr_array_add (fields, g_strndup (data + field_start, MIN (pos, len) - field_start));
  if (fields->len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: no header fields");
      return FALSE;
    }
  if (fields_out != NULL)
    *fields_out = g_steal_pointer (&fields);
  if (body_offset_out != NULL)
    *body_offset_out = body;
  return TRUE;
}

gboolean
pst_mime_field_is (const char *field, const char *name)
{
  gsize n = strlen (name);

  if (g_ascii_strncasecmp (field, name, n) != 0)
    return FALSE;
  field += n;
  while (*field == ' ' || *field == '\t')
    field++;
  return *field == ':';
}

char *
pst_mime_field_value (const char *field)
{
  const char *colon = strchr (field, ':');
  GString *s = g_string_new (NULL);

  for (const char *p = colon != NULL ? colon + 1 : field; *p != '\0'; p++)
    if (*p != '\r' && *p != '\n')
      g_string_append_c (s, *p);
  return g_strstrip (g_string_free (s, FALSE));
}

static char *
content_type_string (struct mailmime_content *ct)
{
  const char *type = NULL;

  if (ct == NULL || ct->ct_type == NULL || ct->ct_subtype == NULL)
    return NULL;
  if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE)
    {
      struct mailmime_discrete_type *d = ct->ct_type->tp_data.tp_discrete_type;

      switch (d->dt_type)
        {
        case MAILMIME_DISCRETE_TYPE_TEXT: type = "text"; break;
        case MAILMIME_DISCRETE_TYPE_IMAGE: type = "image"; break;
        case MAILMIME_DISCRETE_TYPE_AUDIO: type = "audio"; break;
        case MAILMIME_DISCRETE_TYPE_VIDEO: type = "video"; break;
        case MAILMIME_DISCRETE_TYPE_APPLICATION: type = "application"; break;
        default: type = d->dt_extension; break;
        }
    }
  else if (ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE)
    {
      struct mailmime_composite_type *c = ct->ct_type->tp_data.tp_composite_type;

      switch (c->ct_type)
        {
        case MAILMIME_COMPOSITE_TYPE_MESSAGE: type = "message"; break;
        case MAILMIME_COMPOSITE_TYPE_MULTIPART: type = "multipart"; break;
        default: type = c->ct_token; break;
        }
    }
  if (type == NULL)
    return NULL;
  {
    g_autofree char *joined = g_strconcat (type, "/", ct->ct_subtype, NULL);
    return g_ascii_strdown (joined, -1);
  }
}

char *
pst_mime_parse_content_type (const char *value, GHashTable **params_out)
{
  struct mailmime_content *ct = NULL;
  size_t idx = 0;
  char *type;

  if (mailmime_content_parse (value, strlen (value), &idx, &ct) != MAILIMF_NO_ERROR)
    return NULL;
  type = content_type_string (ct);
  if (type != NULL && params_out != NULL)
    {
      GHashTable *params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

      for (clistiter *it = clist_begin (ct->ct_parameters); it != NULL; it = clist_next (it))
        {
          struct mailmime_parameter *p = clist_content (it);

          if (p->pa_name != NULL && p->pa_value != NULL)
            g_hash_table_replace (params, g_ascii_strdown (p->pa_name, -1), g_strdup (p->pa_value));
        }
      *params_out = params;
    }
  mailmime_content_free (ct);
  return type;
}

/* Whether @line (up to @end) is the delimiter "--boundary" or, with *close,
 * "--boundary--", followed only by white space. */
static gboolean
is_delimiter (const char *line, gsize len, const char *boundary, gsize blen, gboolean *close)
{
  gsize i;

  if (len < blen + 2 || line[0] != '-' || line[1] != '-' || memcmp (line + 2, boundary, blen) != 0)
    return FALSE;
  i = blen + 2;
  *close = len >= i + 2 && line[i] == '-' && line[i + 1] == '-';
  if (*close)
    i += 2;
  for (; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t')
      return FALSE;
  return TRUE;
}

GArray *
pst_mime_split_multipart (const char *body, gsize len, const char *boundary, GError **error)
{
  g_autoptr(GArray) spans = g_array_new (FALSE, FALSE, sizeof (PstMimeSpan));
  gsize blen = boundary != NULL ? strlen (boundary) : 0;
  gsize pos = 0, part_start = 0;
  gboolean in_part = FALSE, seen = FALSE;

  if (blen == 0 || blen > 200)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "multipart without a valid boundary");
      return NULL;
    }
  while (pos < len)
    {
      gsize next, end = line_end (body, len, pos, &next);
      gboolean close = FALSE;

      if (is_delimiter (body + pos, end - pos, boundary, blen, &close))
        {
          if (in_part)
            {
              /* The line end before the delimiter belongs to it. */
              gsize part_end = pos;
              if (part_end > part_start && body[part_end - 1] == '\n')
                part_end--;
              if (part_end > part_start && body[part_end - 1] == '\r')
                part_end--;
              g_array_append_val (spans, ((PstMimeSpan) { part_start, part_end - part_start }));
            }
          seen = TRUE;
          in_part = !close;
          part_start = next;
          if (close)
            break;
        }
      pos = next;
    }
  if (in_part && part_start < len)
    g_array_append_val (spans, ((PstMimeSpan) { part_start, len - part_start }));
  if (!seen)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "multipart body without its boundary delimiter");
      return NULL;
    }
  return g_steal_pointer (&spans);
}

GBytes *
pst_mime_to_crlf (const char *data, gsize len)
{
  GByteArray *out = g_byte_array_sized_new (len + len / 32 + 2);

  for (gsize i = 0; i < len; i++)
    {
      if (data[i] == '\r')
        {
          g_byte_array_append (out, (const guint8 *) "\r\n", 2);
          if (i + 1 < len && data[i + 1] == '\n')
            i++;
        }
      else if (data[i] == '\n')
        g_byte_array_append (out, (const guint8 *) "\r\n", 2);
      else
        g_byte_array_append (out, (const guint8 *) data + i, 1);
    }
  return g_byte_array_free_to_bytes (out);
}

/* --- Messages ------------------------------------------------------------- */

PstMimeMessage *
pst_mime_message_parse (GBytes *data, GError **error)
{
  g_autoptr(PstMimeMessage) message = g_new0 (PstMimeMessage, 1);
  gsize len = 0;
  const char *p = g_bytes_get_data (data, &len);

  if (p == NULL || len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return NULL;
    }
  if (!pst_mime_split_header (p, len, &message->fields, &message->body_offset, error))
    return NULL;
  message->data = g_bytes_ref (data);
  return g_steal_pointer (&message);
}

void
pst_mime_message_free (PstMimeMessage *message)
{
  if (message == NULL)
    return;
  if (message->mime != NULL)
    mailmime_free (message->mime);
  g_clear_pointer (&message->fields, g_ptr_array_unref);
  g_clear_pointer (&message->data, g_bytes_unref);
  g_free (message);
}

static const char *
find_field (PstMimeMessage *message, const char *name, guint *count_out)
{
  const char *first = NULL;
  guint count = 0;

  for (guint i = 0; i < message->fields->len; i++)
    if (pst_mime_field_is (message->fields->pdata[i], name))
      {
        if (first == NULL)
          first = message->fields->pdata[i];
        count++;
      }
  if (count_out != NULL)
    *count_out = count;
  return first;
}

char *
pst_mime_message_get_from_address (PstMimeMessage *message, GError **error)
{
  struct mailimf_mailbox_list *list = NULL;
  g_autofree char *value = NULL;
  const char *field;
  guint count;
  size_t idx = 0;
  char *addr = NULL;

  field = find_field (message, "From", &count);
  if (count != 1)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   count == 0 ? "the message has no From header"
                              : "the message has several From headers");
      return NULL;
    }
  value = pst_mime_field_value (field);
  if (mailimf_mailbox_list_parse (value, strlen (value), &idx, &list) != MAILIMF_NO_ERROR)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the From header is not an address");
      return NULL;
    }
  if (clist_count (list->mb_list) != 1)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "the From header holds several addresses");
  else
    {
      struct mailimf_mailbox *mb = clist_content (clist_begin (list->mb_list));

      addr = pst_addr_extract (mb->mb_addr_spec);
      if (addr == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     "the From header is not an address");
    }
  mailimf_mailbox_list_free (list);
  return addr;
}

static void
add_recipient (GPtrArray *out, const char *spec)
{
  g_autofree char *addr = pst_addr_extract (spec);

  if (addr == NULL)
    return;
  g_ptr_array_add (out, NULL);
  if (!pst_addr_in_list (addr, (const char *const *) out->pdata))
    {
      out->pdata[out->len - 1] = g_steal_pointer (&addr);
      return;
    }
  g_ptr_array_set_size (out, out->len - 1);
}

char **
pst_mime_message_get_recipients (PstMimeMessage *message)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < message->fields->len; i++)
    {
      const char *field = message->fields->pdata[i];
      struct mailimf_address_list *list = NULL;
      g_autofree char *value = NULL;
      size_t idx = 0;

      if (!pst_mime_field_is (field, "To") && !pst_mime_field_is (field, "Cc")
          && !pst_mime_field_is (field, "Bcc"))
        continue;
      value = pst_mime_field_value (field);
      if (mailimf_address_list_parse (value, strlen (value), &idx, &list) != MAILIMF_NO_ERROR)
        continue;
      for (clistiter *it = clist_begin (list->ad_list); it != NULL; it = clist_next (it))
        {
          struct mailimf_address *a = clist_content (it);

          if (a->ad_type == MAILIMF_ADDRESS_MAILBOX)
            add_recipient (out, a->ad_data.ad_mailbox->mb_addr_spec);
          else if (a->ad_type == MAILIMF_ADDRESS_GROUP
                   && a->ad_data.ad_group->grp_mb_list != NULL)
            for (clistiter *m = clist_begin (a->ad_data.ad_group->grp_mb_list->mb_list);
                 m != NULL; m = clist_next (m))
              add_recipient (out, ((struct mailimf_mailbox *) clist_content (m))->mb_addr_spec);
        }
      mailimf_address_list_free (list);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static char *
decode_words (const char *value)
{
  char *decoded = NULL;
  size_t idx = 0;
  char *out;

  if (strstr (value, "=?") == NULL
      || mailmime_encoded_phrase_parse ("utf-8", value, strlen (value), &idx, "utf-8",
                                        &decoded) != MAILIMF_NO_ERROR)
    return g_utf8_make_valid (value, -1);
  out = g_utf8_make_valid (decoded, -1);
  free (decoded);
  return out;
}

char *
pst_mime_message_get_header (PstMimeMessage *message, const char *name)
{
  const char *field = find_field (message, name, NULL);
  g_autofree char *value = NULL;

  if (field == NULL)
    return NULL;
  value = pst_mime_field_value (field);
  return decode_words (value);
}

static struct mailmime *
message_tree (PstMimeMessage *message)
{
  if (!message->mime_parsed)
    {
      gsize len = 0;
      const char *p = g_bytes_get_data (message->data, &len);
      size_t idx = 0;

      message->mime_parsed = TRUE;
      if (mailmime_parse (p, len, &idx, &message->mime) != MAILIMF_NO_ERROR)
        message->mime = NULL;
    }
  return message->mime;
}

typedef struct {
  char *type;          /* "text/plain" */
  char *filename;      /* decoded, or NULL */
  gboolean attachment; /* Content-Disposition: attachment */
  const char *charset; /* owned by the tree */
  int encoding;
} PartInfo;

static void
part_info (struct mailmime *mime, PartInfo *info)
{
  struct mailmime_single_fields sf;
  const char *name;

  memset (info, 0, sizeof *info);
  mailmime_single_fields_init (&sf, mime->mm_mime_fields, mime->mm_content_type);
  info->type = content_type_string (mime->mm_content_type);
  if (info->type == NULL)
    info->type = g_strdup ("text/plain");
  name = sf.fld_disposition_filename != NULL ? sf.fld_disposition_filename : sf.fld_content_name;
  info->filename = name != NULL ? decode_words (name) : NULL;
  info->attachment = sf.fld_disposition != NULL && sf.fld_disposition->dsp_type != NULL
                     && sf.fld_disposition->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT;
  info->charset = sf.fld_content_charset;
  info->encoding = sf.fld_encoding != NULL ? sf.fld_encoding->enc_type : MAILMIME_MECHANISM_8BIT;
}

static gboolean
is_attachment (const PartInfo *info)
{
  return info->attachment || info->filename != NULL || !g_str_has_prefix (info->type, "text/");
}

static char *
decode_text (struct mailmime *mime, const PartInfo *info)
{
  struct mailmime_data *body = mime->mm_data.mm_single;
  char *raw = NULL;
  size_t raw_len = 0, idx = 0;
  g_autofree char *utf8 = NULL;
  GString *out;

  if (body == NULL || body->dt_type != MAILMIME_DATA_TEXT)
    return g_strdup ("");
  if (mailmime_part_parse (body->dt_data.dt_text.dt_data, body->dt_data.dt_text.dt_length,
                           &idx, info->encoding, &raw, &raw_len) != MAILIMF_NO_ERROR)
    return g_strdup ("");
  if (info->charset != NULL && g_ascii_strcasecmp (info->charset, "utf-8") != 0
      && g_ascii_strcasecmp (info->charset, "us-ascii") != 0)
    utf8 = g_convert (raw, raw_len, "UTF-8", info->charset, NULL, NULL, NULL);
  if (utf8 == NULL)
    utf8 = g_utf8_make_valid (raw, raw_len);
  mailmime_decoded_part_free (raw);

  out = g_string_sized_new (strlen (utf8));
  for (const char *p = utf8; *p != '\0'; p++)
    {
      if (*p == '\r')
        {
          g_string_append_c (out, '\n');
          if (p[1] == '\n')
            p++;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static char *
find_text (struct mailmime *mime, int depth)
{
  if (mime == NULL || depth > 32)
    return NULL;
  switch (mime->mm_type)
    {
    case MAILMIME_MESSAGE:
      return depth == 0 ? find_text (mime->mm_data.mm_message.mm_msg_mime, depth + 1) : NULL;
    case MAILMIME_MULTIPLE:
      for (clistiter *it = clist_begin (mime->mm_data.mm_multipart.mm_mp_list); it != NULL;
           it = clist_next (it))
        {
          char *text = find_text (clist_content (it), depth + 1);
          if (text != NULL)
            return text;
        }
      return NULL;
    case MAILMIME_SINGLE:
      {
        PartInfo info;
        char *text = NULL;

        part_info (mime, &info);
        if (g_str_equal (info.type, "text/plain") && !info.attachment)
          text = decode_text (mime, &info);
        g_free (info.type);
        g_free (info.filename);
        return text;
      }
    default:
      return NULL;
    }
}

char *
pst_mime_message_get_body_text (PstMimeMessage *message)
{
  return find_text (message_tree (message), 0);
}

static gboolean
is_protocol_part (struct mailmime *mime)
{
  struct mailmime *parent = mime->mm_parent;
  g_autofree char *ptype = NULL;
  g_autofree char *type = NULL;

  if (parent == NULL || parent->mm_type != MAILMIME_MULTIPLE)
    return FALSE;
  ptype = content_type_string (parent->mm_content_type);
  type = content_type_string (mime->mm_content_type);
  if (ptype == NULL || type == NULL)
    return FALSE;
  return (g_str_equal (ptype, "multipart/signed") && g_str_has_suffix (type, "-signature"))
         || (g_str_equal (ptype, "multipart/encrypted") && g_str_equal (type, "application/pgp-encrypted"));
}

static void
collect_attachments (struct mailmime *mime, GPtrArray *out, int depth)
{
  if (mime == NULL || depth > 32)
    return;
  if (mime->mm_type == MAILMIME_MESSAGE && depth == 0)
    collect_attachments (mime->mm_data.mm_message.mm_msg_mime, out, depth + 1);
  else if (mime->mm_type == MAILMIME_MULTIPLE)
    for (clistiter *it = clist_begin (mime->mm_data.mm_multipart.mm_mp_list); it != NULL;
         it = clist_next (it))
      collect_attachments (clist_content (it), out, depth + 1);
  else if (depth > 0 && (mime->mm_type == MAILMIME_SINGLE || mime->mm_type == MAILMIME_MESSAGE))
    {
      PartInfo info;

      part_info (mime, &info);
      if ((mime->mm_type == MAILMIME_MESSAGE || is_attachment (&info)) && !is_protocol_part (mime))
        g_ptr_array_add (out, g_strdup_printf ("%s\t%s", info.filename != NULL ? info.filename
                                                                              : "(unnamed)",
                                               info.type));
      g_free (info.type);
      g_free (info.filename);
    }
}

GPtrArray *
pst_mime_message_get_attachments (PstMimeMessage *message)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  collect_attachments (message_tree (message), out, 0);
  return out;
}
