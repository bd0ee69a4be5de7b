/* sendmail-input.c — see sendmail.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sendmail.h"
#include "mime/compose-header.h"
#include "mime/header.h"
#include "util/addr.h"
#include "util/error.h"

/* Whether @line (@len bytes, its line end included) is a line holding a
 * single dot: ".", ".\n" or ".\r\n". */
static gboolean
is_dot_line (const char *line, gsize len)
{
  return (len == 1 && line[0] == '.') || (len == 2 && memcmp (line, ".\n", 2) == 0)
         || (len == 3 && memcmp (line, ".\r\n", 3) == 0);
}

GBytes *
pst_sendmail_read (FILE *in, gboolean ignore_dots, gsize max, GError **error)
{
  GByteArray *buf = g_byte_array_new ();
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  /* Line by line, so that a "." typed on a terminal ends the message at
   * once, as sendmail's does. */
  while ((n = getline (&line, &cap, in)) > 0)
    {
      if (!ignore_dots && is_dot_line (line, (gsize) n))
        break;
      if (buf->len + (gsize) n > max)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the message is larger than %" G_GSIZE_FORMAT " MiB", max / (1024 * 1024));
          free (line);
          g_byte_array_unref (buf);
          return NULL;
        }
      g_byte_array_append (buf, (const guint8 *) line, (guint) n);
    }
  free (line);
  if (ferror (in))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "standard input: %s", g_strerror (errno));
      g_byte_array_unref (buf);
      return NULL;
    }
  return g_byte_array_free_to_bytes (buf);
}

void
pst_sendmail_header_free (PstSendmailHeader *h)
{
  if (h == NULL)
    return;
  g_clear_pointer (&h->fields, g_ptr_array_unref);
  g_free (h->from);
  g_strfreev (h->recipients);
  g_free (h);
}

/* Whether raw From field @field names a local user only: no '@' in it at
 * all, as cron's "From: root (Cron Daemon)". */
static gboolean
is_local_from (const char *field)
{
  g_autofree char *value = pst_mime_field_value (field);

  return strchr (value, '@') == NULL;
}

PstSendmailHeader *
pst_sendmail_header_read (GBytes *message, GError **error)
{
  g_autoptr (PstSendmailHeader) h = g_new0 (PstSendmailHeader, 1);
  gsize len, body = 0;
  const char *data = g_bytes_get_data (message, &len);
  gboolean any_from = FALSE;

  h->fields = g_ptr_array_new_with_free_func (g_free);
  /* No header section at all (the input begins with the empty line, or is
   * empty): the fields added make one. */
  if (len == 0 || data[0] == '\n' || (len > 1 && data[0] == '\r' && data[1] == '\n'))
    {
      h->recipients = g_new0 (char *, 1);
      return g_steal_pointer (&h);
    }
  g_clear_pointer (&h->fields, g_ptr_array_unref);
  if (!pst_mime_split_header (data, len, &h->fields, &body, error))
    {
      g_prefix_error (error, "not an RFC 5322 message: ");
      return NULL;
    }
  /* Where the first field begins: after an mbox "From " line, which is
   * no part of the message (split_header skips it). */
  {
    gsize header_len = pst_mime_mbox_line_length (data, len);

    for (guint i = 0; i < h->fields->len; i++)
      header_len += strlen (g_ptr_array_index (h->fields, i));
    h->header_len = header_len;
  }
  for (guint i = 0; i < h->fields->len; i++)
    {
      const char *f = g_ptr_array_index (h->fields, i);

      if (pst_mime_field_is (f, "From"))
        {
          any_from = TRUE;
          h->local_from = h->local_from || is_local_from (f);
        }
      h->has_date = h->has_date || pst_mime_field_is (f, "Date");
      h->has_message_id = h->has_message_id || pst_mime_field_is (f, "Message-ID");
    }
  h->any_from = any_from;
  h->recipients = g_new0 (char *, 1);
  return g_steal_pointer (&h);
}

gboolean
pst_sendmail_header_set_addresses (PstSendmailHeader *h, const char *from,
                                   const char *from_problem, char **recipients, GError **error)
{
  if (h->any_from && !h->local_from)
    {
      if (from == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s",
                       from_problem != NULL ? from_problem : "the From field names no address");
          return FALSE;
        }
      g_free (h->from);
      h->from = g_strdup (from);
    }
  g_strfreev (h->recipients);
  h->recipients = recipients != NULL ? g_strdupv (recipients) : g_new0 (char *, 1);
  return TRUE;
}

/* @field, written with the line ends @eol ("\n" or "\r\n") for CRLF. */
static void
append_with_eol (GString *out, const char *field, const char *eol)
{
  for (const char *p = field; *p != '\0'; p++)
    {
      if (p[0] == '\r' && p[1] == '\n')
        {
          g_string_append (out, eol);
          p++;
        }
      else
        g_string_append_c (out, *p);
    }
}

GBytes *
pst_sendmail_complete (GBytes *message, const PstSendmailHeader *h, const char *from,
                       const char *name, GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  const char *eol = "\r\n";
  GString *out;

  /* The added fields end their lines as the message does. */
  if (h->fields->len > 0)
    {
      const char *first = g_ptr_array_index (h->fields, 0);
      gsize flen = strlen (first);

      if (flen > 0 && first[flen - 1] == '\n' && (flen < 2 || first[flen - 2] != '\r'))
        eol = "\n";
    }
  else if (len > 0 && data[0] == '\n')
    eol = "\n";
  out = g_string_sized_new (len + 512);
  if (h->from == NULL)
    {
      g_autofree char *field = pst_compose_addr_spec_field ("From", from, name, error);

      if (field == NULL)
        {
          g_string_free (out, TRUE);
          return NULL;
        }
      append_with_eol (out, field, eol);
    }
  if (!h->has_date)
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *date = pst_mime_format_date (now);

      g_string_append_printf (out, "Date: %s%s", date, eol);
    }
  if (!h->has_message_id)
    {
      g_autofree char *token = pst_mime_random_token ();
      const char *at = strrchr (from, '@');

      g_string_append_printf (out, "Message-ID: <%s@%s>%s", token, at ? at + 1 : "localhost",
                              eol);
    }
  for (guint i = 0; i < h->fields->len; i++)
    {
      const char *f = g_ptr_array_index (h->fields, i);

      /* A local From ("root (Cron Daemon)") gives way to the one added. */
      if (!(h->local_from && pst_mime_field_is (f, "From")))
        g_string_append (out, f);
    }
  if (h->fields->len == 0 && !(len > 0 && (data[0] == '\n' || data[0] == '\r')))
    g_string_append (out, eol);
  g_string_append_len (out, data + h->header_len, (gssize) (len - h->header_len));
  return g_string_free_to_bytes (out);
}
