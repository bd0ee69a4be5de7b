/* hp.c — header protection (RFC 9788; see hp.h), shared by pgpmime.c and
 * smimemime.c. */
#include "mime/hp.h"

#include <string.h>

#include "mime/mime.h"
#include "util/secret.h"

#define OBSCURED_SUBJECT_FIELD "Subject: ...\r\n"

/* --- Writing -------------------------------------------------------------- */

void
pst_hp_add_missing_fields (GPtrArray *fields, const char *sender)
{
  const char *at = sender != NULL ? strrchr (sender, '@') : NULL;

  if (pst_mime_find_field (fields, "Date", NULL) == NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *date = pst_mime_format_date (now);
      g_ptr_array_add (fields, g_strdup_printf ("Date: %s\r\n", date));
    }
  if (pst_mime_find_field (fields, "Message-ID", NULL) == NULL)
    {
      g_autofree char *token = pst_mime_random_token ();
      g_ptr_array_add (fields, g_strdup_printf ("Message-ID: <%s@%s>\r\n", token,
                                                at != NULL ? at + 1 : "localhost"));
    }
}

/* The header fields that RFC 9788 header protection copies onto the
 * cryptographic payload root. */
static const char *const protected_names[] = {
  "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To", "References",
  NULL
};

static gboolean
is_protected_name (const char *field)
{
  for (const char *const *n = protected_names; *n != NULL; n++)
    if (pst_mime_field_is (field, *n))
      return TRUE;
  return FALSE;
}

/* The fields of @fields to protect, and with @encrypt an HP-Outer field
 * for each of them that goes outside (RFC 9788 §2.2.1), so that a reader
 * can tell what the outside said.  Transfer full. */
static GPtrArray *
protected_fields (GPtrArray *fields, gboolean encrypt)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < fields->len; i++)
    if (is_protected_name (fields->pdata[i]))
      g_ptr_array_add (out, g_strdup (fields->pdata[i]));
  if (encrypt)
    {
      gboolean subject = FALSE;

      for (guint i = 0; i < fields->len; i++)
        {
          const char *f = fields->pdata[i];

          if (!is_protected_name (f))
            continue;
          if (pst_mime_field_is (f, "Subject"))
            {
              if (!subject)
                g_ptr_array_add (out, g_strdup ("HP-Outer: " OBSCURED_SUBJECT_FIELD));
              subject = TRUE;
            }
          else
            g_ptr_array_add (out, g_strconcat ("HP-Outer: ", f, NULL));
        }
      if (!subject)
        g_ptr_array_add (out, g_strdup ("HP-Outer: " OBSCURED_SUBJECT_FIELD));
    }
  return out;
}

GBytes *
pst_hp_payload (GPtrArray *fields, const char *body, gsize body_len, gboolean encrypt,
                gboolean seven_bit)
{
  g_autoptr(GPtrArray) protected = protected_fields (fields, encrypt);

  return pst_mime_build_entity (fields, body, body_len, seven_bit,
                                encrypt ? "hp=\"cipher\"" : "hp=\"clear\"", protected);
}

GBytes *
pst_hp_outer_header (GPtrArray *fields, gboolean encrypt)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = fields->pdata[i];

      if (pst_mime_is_content_field (f) || pst_mime_field_is (f, "Bcc")
          || pst_mime_field_is (f, "Resent-Bcc") || pst_mime_field_is (f, "MIME-Version"))
        continue;
      if (encrypt && pst_mime_field_is (f, "Subject"))
        f = OBSCURED_SUBJECT_FIELD;
      pst_mime_append_field (out, f);
    }
  if (encrypt && pst_mime_find_field (fields, "Subject", NULL) == NULL)
    g_string_append (out, OBSCURED_SUBJECT_FIELD);
  g_string_append (out, "MIME-Version: 1.0\r\n");
  return pst_mime_to_crlf (out->str, out->len);
}

/* --- Reading -------------------------------------------------------------- */

typedef enum { HP_NONE, HP_RFC9788, HP_LEGACY_V1 } HpKind;

static HpKind
hp_kind (GHashTable *params)
{
  if (g_hash_table_contains (params, "hp"))
    return HP_RFC9788;
  if (g_hash_table_contains (params, "protected-headers"))
    return HP_LEGACY_V1;
  return HP_NONE;
}

/* Trace fields of the outer header that stay with protected headers: they
 * say how the message travelled, never who wrote it or to whom. */
static gboolean
is_trace_field (const char *field)
{
  return pst_mime_field_is (field, "Received") || pst_mime_field_is (field, "Return-Path")
         || pst_mime_field_is (field, "Delivered-To") || pst_mime_field_is (field, "X-Original-To")
         || pst_mime_field_is (field, "MIME-Version");
}

static gboolean
same_field_name (const char *a, const char *b)
{
  const char *colon = strchr (b, ':');
  g_autofree char *name = NULL;

  if (colon == NULL)
    return FALSE;
  name = g_strstrip (g_strndup (b, colon - b));
  return pst_mime_field_is (a, name);
}

/* Removes the header block ("Subject: …" lines and the empty line after
 * them) that starts the body of a legacy display text part. */
static gboolean
strip_header_block (const char *body, gsize len, gsize *skip_out)
{
  gsize pos = 0;
  guint lines = 0;

  while (pos < len)
    {
      const char *nl = memchr (body + pos, '\n', len - pos);
      gsize end = nl != NULL ? (gsize) (nl - body) : len;
      gsize next = nl != NULL ? end + 1 : len;
      gsize stop = end > pos && body[end - 1] == '\r' ? end - 1 : end;

      if (stop == pos)
        {
          if (lines == 0)
            return FALSE;
          *skip_out = next;
          return TRUE;
        }
      if (body[pos] != ' ' && body[pos] != '\t')
        {
          gsize i = pos;

          while (i < stop && body[i] > 32 && body[i] < 127 && body[i] != ':')
            i++;
          if (i == pos || i >= stop || body[i] != ':')
            return FALSE;
        }
      lines++;
      pos = next;
    }
  return FALSE;
}

/* @entity without its legacy display elements: a text/rfc822-headers part
 * or a text part marked protected-headers among the children of the
 * payload root (the older draft), the leading header block of a text/plain
 * part marked hp-legacy-display (RFC 9788 §4.6).  Transfer full. */
static GBytes *
strip_legacy_display (GBytes *entity, int depth)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;
  g_autoptr(GArray) spans = NULL;
  gsize body = 0, len = 0, skip = 0;
  const char *data = g_bytes_get_data (entity, &len);
  const char *boundary;
  GString *out;

  if (depth > 3 || !pst_mime_entity_split (entity, &fields, &body))
    return g_bytes_ref (entity);
  type = pst_mime_entity_content_type (fields, &params);
  if (g_str_equal (type, "text/plain") && g_hash_table_contains (params, "hp-legacy-display"))
    {
      const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
      g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;

      if (cte != NULL && g_ascii_strcasecmp (cte, "base64") == 0)
        return g_bytes_ref (entity);   /* not worth decoding: shown as it is */
      if (!strip_header_block (data + body, len - body, &skip))
        return g_bytes_ref (entity);
      return pst_secret_bytes_new (data, body, data + body + skip, len - body - skip);
    }
  if (!g_str_has_prefix (type, "multipart/") || g_str_equal (type, "multipart/signed")
      || g_str_equal (type, "multipart/encrypted"))
    return g_bytes_ref (entity);
  boundary = g_hash_table_lookup (params, "boundary");
  spans = pst_mime_split_multipart (data + body, len - body, boundary, NULL);
  if (spans == NULL)
    return g_bytes_ref (entity);

  out = g_string_new_len (data, body);
  for (guint i = 0; i < spans->len; i++)
    {
      g_autoptr(GBytes) part = pst_mime_span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, i));
      g_autoptr(GPtrArray) pfields = NULL;
      g_autoptr(GHashTable) pparams = NULL;
      g_autofree char *ptype = NULL;
      gsize pbody = 0;

      if (pst_mime_entity_split (part, &pfields, &pbody))
        {
          ptype = pst_mime_entity_content_type (pfields, &pparams);
          if (depth == 0 && (g_str_equal (ptype, "text/rfc822-headers")
                             || (g_str_has_prefix (ptype, "text/")
                                 && g_hash_table_contains (pparams, "protected-headers"))))
            continue;
        }
      {
        g_autoptr(GBytes) stripped = strip_legacy_display (part, depth + 1);
        gsize slen = 0;
        const char *sdata = g_bytes_get_data (stripped, &slen);

        g_string_append_printf (out, "--%s\r\n", boundary);
        g_string_append_len (out, sdata, slen);
        g_string_append (out, "\r\n");
      }
    }
  g_string_append_printf (out, "--%s--\r\n", boundary);
  return pst_secret_bytes_from_gstring (out);
}

/* Appends raw header field @f to @s with a line end. */

GPtrArray *
pst_hp_shown_fields (PstStatus *status, gboolean good_whole_signature, GPtrArray *outer_fields,
                     GBytes *message, GBytes *display)
{
  gboolean covered = (status->decryption == PST_DECRYPTION_OK
                      && status->encryption_covers == PST_COVERS_WHOLE)
                     || good_whole_signature;
  GBytes *payload = display != message ? display : NULL;
  GPtrArray *shown = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) inner = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;
  HpKind hp = HP_NONE;
  gsize body = 0;

  if (covered && payload != NULL && pst_mime_entity_split (payload, &inner, &body))
    {
      guint n = 0;

      type = pst_mime_entity_content_type (inner, &params);
      for (guint i = 0; i < inner->len; i++)
        if (!pst_mime_is_content_field (inner->pdata[i]))
          n++;
      if (n > 0)
        hp = hp_kind (params);
    }

  /* With RFC 9788 protection the protected fields only (and the trace
   * fields); with the older draft's, the protected ones in place of the
   * outer fields of the same name. */
  for (guint i = 0; i < outer_fields->len; i++)
    {
      const char *f = outer_fields->pdata[i];
      gboolean replaced = FALSE;

      if (pst_mime_is_content_field (f))
        continue;
      if (hp == HP_NONE)
        {
          g_ptr_array_add (shown, g_strdup (f));
          continue;
        }
      for (guint j = 0; j < inner->len && !replaced; j++)
        replaced = same_field_name (f, inner->pdata[j]);
      if (hp == HP_RFC9788 ? is_trace_field (f) : !replaced)
        g_ptr_array_add (shown, g_strdup (f));
    }
  for (guint j = 0; hp != HP_NONE && j < inner->len; j++)
    {
      const char *f = inner->pdata[j];

      if (!pst_mime_is_content_field (f) && !pst_mime_field_is (f, "HP-Outer"))
        g_ptr_array_add (shown, g_strdup (f));
    }
  status->protected_headers = hp != HP_NONE;
  return shown;
}

GBytes *
pst_hp_plain_message (GPtrArray *shown, GBytes *message, GBytes *display, gboolean is_protected)
{
  GString *all;
  g_autoptr(GBytes) content = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  gsize len = 0, body = 0;
  const char *d;

  if (display == message)
    return g_bytes_ref (message);
  all = g_string_new (NULL);
  for (guint i = 0; i < shown->len; i++)
    pst_mime_append_field (all, shown->pdata[i]);
  content = is_protected ? strip_legacy_display (display, 0) : g_bytes_ref (display);
  d = g_bytes_get_data (content, &len);
  /* The payload's own Content-* fields, then its body. */
  if (pst_mime_entity_split (content, &fields, &body))
    {
      for (guint i = 0; i < fields->len; i++)
        if (pst_mime_is_content_field (fields->pdata[i]))
          pst_mime_append_field (all, fields->pdata[i]);
      g_string_append (all, "\r\n");
      g_string_append_len (all, d + body, len - body);
    }
  else
    g_string_append_len (all, d, len);
  return pst_secret_bytes_from_gstring (all);
}
