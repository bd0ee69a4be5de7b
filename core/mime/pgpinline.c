#include "mime/pgpinline.h"

#include <libetpan/libetpan.h>
#include <string.h>

#include "mime/inlinescan.h"
#include "mime/mime.h"
#include "util/error.h"
#include "util/secret.h"

static const struct {
  const char *begin;
  const char *end;
  PstPgpInlineKind kind;
} markers[] = {
  { "-----BEGIN PGP MESSAGE-----", "-----END PGP MESSAGE-----", PST_PGP_INLINE_ENCRYPTED },
  { "-----BEGIN PGP SIGNED MESSAGE-----", "-----END PGP SIGNATURE-----", PST_PGP_INLINE_SIGNED },
};

static gboolean
all_space (const char *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isspace (p[i]))
      return FALSE;
  return TRUE;
}

/* Whether the line at @pos is @marker, trailing white space aside. */
static gboolean
line_is (const char *text, gsize len, gsize pos, const char *marker, gsize *next_out)
{
  gsize n = strlen (marker), i;

  if (len - pos < n || memcmp (text + pos, marker, n) != 0)
    return FALSE;
  for (i = pos + n; i < len && text[i] != '\n'; i++)
    if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
      return FALSE;
  *next_out = i < len ? i + 1 : len;
  return TRUE;
}

gboolean
pst_pgpinline_find (const char *text, gsize len, PstPgpInlineKind *kind_out,
                    gsize *start_out, gsize *end_out, gboolean *entire_out)
{
  gsize pos = 0;

  while (pos < len)
    {
      const char *nl = memchr (text + pos, '\n', len - pos);
      gsize next = nl != NULL ? (gsize) (nl - text) + 1 : len;

      for (guint m = 0; m < G_N_ELEMENTS (markers); m++)
        {
          gsize after = 0;

          if (!line_is (text, len, pos, markers[m].begin, &after))
            continue;
          /* the end marker, on a line of its own */
          for (gsize q = after; q < len;)
            {
              const char *qnl = memchr (text + q, '\n', len - q);
              gsize qnext = qnl != NULL ? (gsize) (qnl - text) + 1 : len;
              gsize end = 0;

              if (line_is (text, len, q, markers[m].end, &end))
                {
                  *kind_out = markers[m].kind;
                  *start_out = pos;
                  *end_out = end;
                  *entire_out = all_space (text, pos) && all_space (text + end, len - end);
                  return TRUE;
                }
              q = qnext;
            }
          return FALSE;   /* a block that never ends is no block */
        }
      pos = next;
    }
  return FALSE;
}

/* How the body is decoded: inlinescan.c's answer, so that the stream
 * readers judge a text as this reader reads it. */
static int
mechanism (GPtrArray *fields)
{
  switch (pst_inline_scan_coding (fields))
    {
    case PST_INLINE_SCAN_BASE64:
      return MAILMIME_MECHANISM_BASE64;
    case PST_INLINE_SCAN_QP:
      return MAILMIME_MECHANISM_QUOTED_PRINTABLE;
    case PST_INLINE_SCAN_AS_IS:
    default:
      return MAILMIME_MECHANISM_8BIT;
    }
}

/* A text/plain entity with @ct_field (or a plain one) and @text as body. */
static GBytes *
text_entity (const char *ct_field, GBytes *text)
{
  gsize tlen = 0;
  const char *t = g_bytes_get_data (text, &tlen);
  GString *s = g_string_new (NULL);

  if (ct_field != NULL)
    {
      g_string_append (s, ct_field);
      if (s->str[s->len - 1] != '\n')
        g_string_append (s, "\r\n");
    }
  else
    g_string_append (s, "Content-Type: text/plain; charset=utf-8\r\n");
  g_string_append (s, "Content-Transfer-Encoding: 8bit\r\n\r\n");
  g_string_append_len (s, t, tlen);
  /* The opened text is wiped before its memory is freed. */
  return pst_secret_bytes_from_gstring (s);
}

gboolean
pst_pgpinline_open (PstPgp *pgp, GBytes *entity, PstPgpInlineResult *result_out)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) block = NULL;
  g_autoptr(GBytes) text = NULL;
  g_autofree char *type = NULL;
  const char *ct_field = NULL;
  gsize len = 0, body = 0, start = 0, end = 0, decoded_len = 0;
  const char *data = g_bytes_get_data (entity, &len), *plain;
  GBytes *decoded;
  PstPgpInlineResult r = { 0 };
  gboolean found;

  if (data == NULL || len == 0)
    return FALSE;
  if (data[0] == '\n' || (len > 1 && data[0] == '\r' && data[1] == '\n'))
    {
      fields = g_ptr_array_new_with_free_func (g_free);
      body = data[0] == '\n' ? 1 : 2;
    }
  else if (!pst_mime_split_header (data, len, &fields, &body, NULL))
    return FALSE;
  for (guint i = 0; i < fields->len && ct_field == NULL; i++)
    if (pst_mime_field_is (fields->pdata[i], "Content-Type"))
      ct_field = fields->pdata[i];
  if (ct_field != NULL)
    {
      g_autofree char *v = pst_mime_field_value (ct_field);
      type = pst_mime_parse_content_type (v, NULL);
    }
  if (type != NULL && !g_str_equal (type, "text/plain"))
    return FALSE;
  if (!(decoded = pst_mime_decode_transfer (data + body, len - body, mechanism (fields))))
    return FALSE;
  plain = g_bytes_get_data (decoded, &decoded_len);
  if (plain == NULL)
    plain = "";
  found = pst_pgpinline_find (plain, decoded_len, &r.kind, &start, &end, &r.entire);
  if (found)
    block = g_bytes_new (plain + start, end - start);
  g_bytes_unref (decoded);
  if (!found)
    return FALSE;

  if (r.kind == PST_PGP_INLINE_ENCRYPTED)
    {
      g_autoptr(GError) error = NULL;

      r.integrity = PST_INTEGRITY_NONE;
      r.ok = pst_pgp_decrypt_verify (pgp, block, &text, &r.sig, &r.integrity, &error);
      /* The armor says "MESSAGE" for signed-only data too: that is a
       * signed text, not an encrypted one that failed. */
      if (!r.ok && pst_pgp_not_encrypted (pgp) && !pst_pgp_output_too_large (pgp)
          && !pst_pgp_output_busy (pgp))
        {
          PstPgpSignature *sig = pst_pgp_verify_cleartext (pgp, block, &text);

          /* Only when a signed text came out: anything else stays a block
           * that claimed to be a message and could not be opened. */
          if (text != NULL)
            {
              r.kind = PST_PGP_INLINE_SIGNED;
              g_clear_pointer (&r.sig, pst_pgp_signature_free);
              r.sig = sig;
              r.ok = TRUE;
            }
          else
            pst_pgp_signature_free (sig);
        }
    }
  else
    {
      r.sig = pst_pgp_verify_cleartext (pgp, block, &text);
      r.ok = text != NULL;
    }
  r.too_large = !r.ok && pst_pgp_output_too_large (pgp);
  if (r.ok)
    r.entity = text_entity (ct_field, text);
  *result_out = r;
  return TRUE;
}

void
pst_pgpinline_result_clear (PstPgpInlineResult *result)
{
  g_clear_pointer (&result->sig, pst_pgp_signature_free);
  g_clear_pointer (&result->entity, g_bytes_unref);
}
