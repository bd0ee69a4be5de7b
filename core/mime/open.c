#include "mime/open.h"

#include <string.h>

#include "mime/mime.h"
#include "mime/pgpmime.h"
#include "mime/smimemime.h"
#include "util/error.h"

static gboolean
is_pkcs7_type (const char *type, GHashTable *params)
{
  const char *protocol = params ? g_hash_table_lookup (params, "protocol") : NULL;

  if (g_strcmp0 (type, "application/pkcs7-mime") == 0
      || g_strcmp0 (type, "application/x-pkcs7-mime") == 0)
    return TRUE;
  return g_strcmp0 (type, "multipart/signed") == 0 && protocol != NULL
         && (g_ascii_strcasecmp (protocol, "application/pkcs7-signature") == 0
             || g_ascii_strcasecmp (protocol, "application/x-pkcs7-signature") == 0);
}

static gboolean
contains (const char *data, gsize len, const char *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= len; i++)
    if (g_ascii_strncasecmp (data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

PstStructure
pst_message_structure (GBytes *message)
{
  gsize len, body = 0;
  const char *data = g_bytes_get_data (message, &len);
  g_autoptr (GPtrArray) fields = NULL;

  if (data == NULL || !pst_mime_split_header (data, len, &fields, &body, NULL))
    return PST_STRUCTURE_PLAIN;
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = g_ptr_array_index (fields, i);
      g_autofree char *value = NULL, *type = NULL;
      g_autoptr (GHashTable) params = NULL;

      if (!pst_mime_field_is (f, "Content-Type"))
        continue;
      value = pst_mime_field_value (f);
      type = pst_mime_parse_content_type (value, &params);
      if (is_pkcs7_type (type, params))
        return PST_STRUCTURE_SMIME;
      break;
    }
  /* Nested S/MIME (e.g. wrapped in multipart/mixed): the S/MIME reader
   * reports it as covering a part. */
  if ((contains (data + body, len - body, "application/pkcs7-")
       || contains (data + body, len - body, "application/x-pkcs7-"))
      && !contains (data + body, len - body, "application/pgp-")
      && !contains (data + body, len - body, "-----BEGIN PGP "))
    return PST_STRUCTURE_SMIME;
  return PST_STRUCTURE_PGP;
}

gboolean
pst_message_open (PstPgp *pgp, PstSmime *smime, GBytes *message, GBytes **plain_out,
                  PstStatus **status_out, GError **error)
{
  if (smime != NULL && pst_message_structure (message) == PST_STRUCTURE_SMIME)
    return pst_smimemime_open (smime, message, plain_out, status_out, error);
  return pst_pgpmime_open (pgp, message, plain_out, status_out, error);
}
