/* sevenbit.c — re-encodes a message's 8-bit body parts so that a server
 * without 8BITMIME (RFC 6152) can take it: text parts as quoted-printable,
 * others as base64 (RFC 2045).
 *
 * Written here rather than with libetpan's renderer: that rewrites every
 * header and boundary, while this keeps every byte that needs no change
 * (the splice works on the raw spans of mime.c), which matters for the
 * parts of a message that are not touched. */
#include "mime/sevenbit.h"

#include <string.h>

#include "mime/mime.h"
#include "util/error.h"


static gboolean
has_8bit (const char *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar) data[i] >= 0x80)
      return TRUE;
  return FALSE;
}

static void
append_base64 (GString *out, const char *data, gsize len)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);
  gsize n = strlen (b64);

  for (gsize i = 0; i < n; i += 76)
    {
      g_string_append_len (out, b64 + i, MIN (76, n - i));
      g_string_append (out, "\r\n");
    }
}

static gboolean convert (const char *data, gsize len, GString *out, guint depth, GError **error);

gboolean
pst_mime_7bit_sealed_type (const char *type)
{
  return strcmp (type, "multipart/signed") == 0 || strcmp (type, "multipart/encrypted") == 0
         || strcmp (type, "application/pkcs7-mime") == 0;
}

char *
pst_mime_7bit_leaf_refusal (GPtrArray *fields, const char *type)
{
  const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autofree char *cte_raw = cte_field ? pst_mime_field_value (cte_field) : NULL;
  g_autofree char *cte = cte_raw ? g_ascii_strdown (cte_raw, -1) : NULL;

  if (cte != NULL && strcmp (cte, "7bit") != 0 && strcmp (cte, "8bit") != 0
      && strcmp (cte, "binary") != 0)
    return g_strdup_printf ("a %s part has 8-bit bytes despite its transfer encoding %s", type, cte);
  return NULL;
}

void
pst_mime_7bit_leaf_header (GPtrArray *fields, gboolean text, gboolean top, gboolean utf8,
                           GString *out)
{
  for (guint i = 0; i < fields->len; i++)
    if (!pst_mime_field_is (fields->pdata[i], "Content-Transfer-Encoding"))
      pst_mime_append_field (out, fields->pdata[i]);
  /* A message written without MIME's fields (postern send of a text file)
   * is text/plain, and its 8-bit bytes were in no charset: encoded, they
   * must say which, or a reader takes them for US-ASCII. */
  if (top && pst_mime_find_field (fields, "MIME-Version", NULL) == NULL)
    g_string_append (out, "MIME-Version: 1.0\r\n");
  if (pst_mime_find_field (fields, "Content-Type", NULL) == NULL)
    g_string_append (out, utf8 ? "Content-Type: text/plain; charset=utf-8\r\n"
                               : "Content-Type: text/plain; charset=unknown-8bit\r\n");
  g_string_append (out, text ? "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                             : "Content-Transfer-Encoding: base64\r\n\r\n");
}

/* A leaf with 8-bit bytes: the same header without its transfer encoding,
 * then the body encoded. */
static gboolean
convert_leaf (const char *data, GPtrArray *fields, gsize body_off, gsize len, const char *type,
              guint depth, GString *out, GError **error)
{
  g_autofree char *refusal = pst_mime_7bit_leaf_refusal (fields, type);
  gboolean text = g_str_has_prefix (type, "text/");

  if (refusal != NULL)
    {
      g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, refusal);
      return FALSE;
    }
  pst_mime_7bit_leaf_header (fields, text, depth == 0,
                             g_utf8_validate_len (data + body_off, len - body_off, NULL), out);
  if (text)
    {
      /* Quoted-printable works on CRLF lines: a bare LF or CR becomes one. */
      g_autoptr (GBytes) crlf = pst_mime_to_crlf (data + body_off, len - body_off);
      gsize n = 0;
      const char *p = g_bytes_get_data (crlf, &n);

      pst_mime_qp_encode (out, p, n);
    }
  else
    append_base64 (out, data + body_off, len - body_off);
  return TRUE;
}

static gboolean
convert (const char *data, gsize len, GString *out, guint depth, GError **error)
{
  g_autoptr (GPtrArray) fields = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GArray) spans = NULL;
  g_autofree char *type = NULL;
  const char *boundary;
  gsize body_off = 0, at;

  if (!has_8bit (data, len))
    {
      g_string_append_len (out, data, len);
      return TRUE;
    }
  if (depth > PST_MIME_7BIT_MAX_DEPTH)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "MIME nesting deeper than %d",
                   PST_MIME_7BIT_MAX_DEPTH);
      return FALSE;
    }
  {
    g_autoptr (GBytes) entity = g_bytes_new_static (data, len);

    if (!pst_mime_entity_split (entity, &fields, &body_off))
      {
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "a MIME entity has no valid header");
        return FALSE;
      }
  }
  if (has_8bit (data, body_off))
    {
      g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, PST_MIME_7BIT_HEADER_REFUSAL);
      return FALSE;
    }
  type = pst_mime_entity_content_type (fields, &params);
  if (pst_mime_7bit_sealed_type (type))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "a %s part has 8-bit bytes and cannot be re-encoded without breaking it", type);
      return FALSE;
    }
  if (g_str_has_prefix (type, "multipart/")
      && (boundary = params ? g_hash_table_lookup (params, "boundary") : NULL) != NULL)
    {
      const char *body = data + body_off;
      gsize body_len = len - body_off;

      if (!(spans = pst_mime_split_multipart (body, body_len, boundary, error)))
        return FALSE;
      /* Everything between the parts (delimiters, preamble, epilogue) is
       * copied as it is; only the parts themselves are converted. */
      g_string_append_len (out, data, body_off);
      at = 0;
      for (guint i = 0; i < spans->len; i++)
        {
          const PstMimeSpan *sp = &g_array_index (spans, PstMimeSpan, i);

          if (has_8bit (body + at, sp->offset - at))
            break;
          g_string_append_len (out, body + at, sp->offset - at);
          if (!convert (body + sp->offset, sp->length, out, depth + 1, error))
            return FALSE;
          at = sp->offset + sp->length;
        }
      if (has_8bit (body + at, body_len - at))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "8-bit bytes outside the parts of a multipart (preamble or epilogue)");
          return FALSE;
        }
      g_string_append_len (out, body + at, body_len - at);
      return TRUE;
    }
  if (strcmp (type, "message/rfc822") == 0)
    {
      g_string_append_len (out, data, body_off);
      return convert (data + body_off, len - body_off, out, depth + 1, error);
    }
  return convert_leaf (data, fields, body_off, len, type, depth, out, error);
}

GBytes *
pst_mime_to_7bit (GBytes *message, GError **error)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (message, &len);
  GString *out = g_string_sized_new (len + len / 8);

  if (!convert (data, len, out, 0, error))
    {
      g_string_free (out, TRUE);
      g_prefix_error (error, "cannot make the message 7-bit: ");
      return NULL;
    }
  return g_string_free_to_bytes (out);
}

gboolean
pst_mime_has_8bit (GBytes *data, gboolean *header_8bit_out)
{
  gsize len = 0, body_off = 0;
  const char *p = g_bytes_get_data (data, &len);
  g_autoptr (GPtrArray) fields = NULL;

  if (header_8bit_out != NULL)
    {
      *header_8bit_out = FALSE;
      if (pst_mime_split_header (p, len, &fields, &body_off, NULL))
        *header_8bit_out = has_8bit (p, body_off);
    }
  return has_8bit (p, len);
}
