/* status-field.c — see status-field.h.
 *
 * The header section is read line by line here rather than through
 * pst_mime_split_header: that parser refuses what it cannot read (a NUL, a
 * line that is no field), and a message it refuses must still reach the
 * user's reader, with no field of that name left in it.  What other
 * readers could split differently from us is made plain first: a CR that
 * does not end a line, and a NUL, become spaces. */
#include "mime/status-field.h"

#include <string.h>

#include "mime/mime.h"

/* Whether header line @line (@n bytes, no line end) names field
 * Postern-Status: its name, white space before the colon allowed, in any
 * case. */
static gboolean
is_status_field (const char *line, gsize n)
{
  const char *colon = memchr (line, ':', n);
  gsize name;

  if (colon == NULL)
    return FALSE;
  name = (gsize) (colon - line);
  while (name > 0 && (line[name - 1] == ' ' || line[name - 1] == '\t'))
    name--;
  return name == strlen (PST_STATUS_FIELD)
         && g_ascii_strncasecmp (line, PST_STATUS_FIELD, name) == 0;
}

/* Appends @n bytes of a header line with each NUL and each CR that does
 * not end it (@n excludes its line end) made a space. */
static void
append_plain (GString *out, const char *line, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_string_append_c (out, line[i] == '\0' || line[i] == '\r' ? ' ' : line[i]);
}

GBytes *
pst_mime_with_status_field (GBytes *message, const char *value)
{
  gsize len = 0, pos = 0;
  const char *data = g_bytes_get_data (message, &len);
  const char *eol = "\r\n";
  /* A continuation line before any field would fold into ours: dropped. */
  gboolean dropping = TRUE, ended = FALSE;
  GString *out = g_string_sized_new (len + strlen (value) + 32);

  if (data == NULL)
    data = "";
  pos = pst_mime_mbox_line_length (data, len);
  {
    const char *nl = memchr (data + pos, '\n', len - pos);

    if (nl != NULL && (nl == data + pos || nl[-1] != '\r'))
      eol = "\n";
  }
  g_string_append_printf (out, "%s: %s%s", PST_STATUS_FIELD, value, eol);
  while (pos < len)
    {
      const char *line = data + pos;
      const char *nl = memchr (line, '\n', len - pos);
      gsize n = nl ? (gsize) (nl - line) : len - pos;    /* without its line end */
      gsize end = nl ? n + 1 : n;                        /* with it */

      if (nl != NULL && n > 0 && line[n - 1] == '\r')
        n--;
      if (n == 0 && nl != NULL)
        {
          /* The empty line: the body follows, as it was. */
          g_string_append_len (out, line, (gssize) (len - pos));
          ended = TRUE;
          break;
        }
      if (line[0] != ' ' && line[0] != '\t')
        dropping = is_status_field (line, n);
      if (!dropping)
        {
          append_plain (out, line, n);
          g_string_append_len (out, line + n, (gssize) (end - n));
          if (nl == NULL)
            g_string_append (out, eol);
        }
      pos += end;
    }
  if (!ended)
    g_string_append (out, eol);
  return g_string_free_to_bytes (out);
}
