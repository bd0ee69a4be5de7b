/* header.c — the header section as text: where it ends, its fields, a
 * field's name and value, the mbox "From " line before it; and the Date and
 * random tokens written into new messages.  Nothing here uses libetpan, so
 * that the command line (sendmail input, mbox import and export) does not
 * load it and the libraries behind it (mime.c parses with it). */
#include "mime/header.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "util/error.h"

gsize
pst_mime_line_end (const char *data, gsize len, gsize pos, gsize *next_out)
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

/* Where the message in @data starts: after a leading mbox "From " line
 * (Thunderbird saves .eml files with one), which is no header field; 0
 * when there is none.  "From : x" is an obsolete-syntax From field, not
 * such a line. */
gsize
pst_mime_mbox_line_length (const char *data, gsize len)
{
  gsize next = 0;
  gsize end;

  if (len < 5 || memcmp (data, "From ", 5) != 0)
    return 0;
  end = pst_mime_line_end (data, len, 0, &next);
  return is_field_line (data, end) ? 0 : next;
}

gboolean
pst_mime_split_header (const char *data, gsize len, GPtrArray **fields_out,
                       gsize *body_offset_out, GError **error)
{
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  gsize pos = pst_mime_mbox_line_length (data, len), field_start = pos, body = len;
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
      gsize end = pst_mime_line_end (data, len, pos, &next);

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

char *
pst_mime_format_date (GDateTime *dt)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  gint64 offset = g_date_time_get_utc_offset (dt) / G_TIME_SPAN_MINUTE;
  gint64 abs_off = offset < 0 ? -offset : offset;

  return g_strdup_printf ("%s, %d %s %d %02d:%02d:%02d %c%02d%02d",
                          days[g_date_time_get_day_of_week (dt) - 1],
                          g_date_time_get_day_of_month (dt),
                          months[g_date_time_get_month (dt) - 1],
                          g_date_time_get_year (dt), g_date_time_get_hour (dt),
                          g_date_time_get_minute (dt), g_date_time_get_second (dt),
                          offset < 0 ? '-' : '+', (int) (abs_off / 60), (int) (abs_off % 60));
}

/* From the kernel's random source, not g_random_int: GLib's Mersenne
 * Twister can be predicted from its outputs, which every boundary and
 * Message-ID shows, and a boundary that can be predicted can be planted in
 * a body that is then signed (review of the send stream). */
char *
pst_mime_random_token (void)
{
  guint32 words[6];
  GString *s = g_string_new (NULL);
  gsize got = 0;

  while (got < sizeof words)
    {
      ssize_t n = getrandom ((guint8 *) words + got, sizeof words - got, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        g_error ("getrandom: %s", g_strerror (errno));   /* no kernel randomness: no safe boundary */
      got += (gsize) n;
    }
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    g_string_append_printf (s, "%08x", words[i]);
  return g_string_free (s, FALSE);
}
