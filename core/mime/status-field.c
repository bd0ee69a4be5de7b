/* status-field.c — see status-field.h. */
#include "mime/status-field.h"

#include <string.h>

#include "mime/mime.h"

/* Whether the @n bytes of @data end with an empty line (LF or CRLF). */
static gboolean
ends_with_empty_line (const char *data, gsize n)
{
  if (n < 2 || data[n - 1] != '\n')
    return FALSE;
  if (data[n - 2] == '\n')
    return TRUE;
  return n >= 3 && data[n - 2] == '\r' && data[n - 3] == '\n';
}

GBytes *
pst_mime_with_status_field (GBytes *message, const char *value, GError **error)
{
  gsize len = 0, body = 0;
  const char *data = g_bytes_get_data (message, &len);
  g_autoptr (GPtrArray) fields = NULL;
  const char *first, *eol;
  GString *out;

  if (!pst_mime_split_header (data, len, &fields, &body, error))
    return NULL;
  first = g_ptr_array_index (fields, 0);
  eol = strstr (first, "\r\n") != NULL || strchr (first, '\n') == NULL ? "\r\n" : "\n";
  out = g_string_sized_new (len + strlen (value) + 32);
  g_string_append_printf (out, "%s: %s%s", PST_STATUS_FIELD, value, eol);
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = g_ptr_array_index (fields, i);

      if (!pst_mime_field_is (f, PST_STATUS_FIELD))
        pst_mime_append_field (out, f);
    }
  /* The empty line and the body, as they were; a header section alone
   * gets its empty line. */
  if (ends_with_empty_line (data, body))
    {
      gsize sep = data[body - 2] == '\r' ? 2 : 1;

      g_string_append_len (out, data + body - sep, (gssize) (len - body + sep));
    }
  else
    g_string_append (out, eol);
  return g_string_free_to_bytes (out);
}
