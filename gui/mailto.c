/* mailto.c — see mailto.h.  GLib's GUri does not split a mailto: query
 * into fields (it is not a hierarchical URI), so the few lines of splitting
 * are here; percent-decoding is g_uri_unescape_bytes. */
#include "mailto.h"

#include <string.h>
#include <glib/gi18n.h>

static char *
unescape (const char *s, gssize len, gboolean header, GError **error)
{
  g_autoptr (GBytes) b = g_uri_unescape_bytes (s, len, NULL, error);
  gsize n;
  const char *data;
  GString *out;

  if (b == NULL)
    return NULL;
  data = g_bytes_get_data (b, &n);
  if (memchr (data, '\0', n) != NULL || !g_utf8_validate (data, (gssize) n, NULL))
    {
      g_set_error (error, G_URI_ERROR, G_URI_ERROR_FAILED,
                   _("the mailto: link holds text that is not UTF-8"));
      return NULL;
    }
  out = g_string_sized_new (n);
  for (gsize i = 0; i < n; i++)
    {
      char c = data[i];
      if (c == '\r' && i + 1 < n && data[i + 1] == '\n')
        continue;
      if (header && (c == '\r' || c == '\n'))
        c = ' ';
      else if (c == '\r')
        c = '\n';
      g_string_append_c (out, c);
    }
  return g_string_free (out, FALSE);
}

/* "<left@right>", no spaces, no angle brackets inside. */
static gboolean
is_msg_id (const char *s)
{
  gsize n = strlen (s);
  const char *at = strchr (s, '@');

  if (n < 5 || n > 250 || s[0] != '<' || s[n - 1] != '>' || at == NULL || at == s + 1 || at == s + n - 2)
    return FALSE;
  for (gsize i = 1; i + 1 < n; i++)
    if (s[i] == '<' || s[i] == '>' || g_ascii_isspace (s[i]) || (guchar) s[i] < 0x21 || (guchar) s[i] > 0x7e)
      return FALSE;
  return TRUE;
}

static gboolean
add_addresses (GPtrArray *list, const char *s, gssize len, GError **error)
{
  g_autofree char *text = unescape (s, len, TRUE, error);
  g_auto (GStrv) parts = NULL;

  if (text == NULL)
    return FALSE;
  parts = g_strsplit (text, ",", -1);
  for (char **p = parts; *p; p++)
    {
      g_strstrip (*p);
      if (**p)
        g_ptr_array_add (list, g_strdup (*p));
    }
  return TRUE;
}

PstMailto *
pst_mailto_parse (const char *uri, GError **error)
{
  g_autoptr (PstMailto) m = g_new0 (PstMailto, 1);
  const char *rest, *query;
  g_auto (GStrv) fields = NULL;

  m->to = g_ptr_array_new_with_free_func (g_free);
  m->cc = g_ptr_array_new_with_free_func (g_free);
  m->bcc = g_ptr_array_new_with_free_func (g_free);
  m->ignored = g_ptr_array_new_with_free_func (g_free);
  if (uri == NULL || g_ascii_strncasecmp (uri, "mailto:", 7) != 0)
    {
      g_set_error (error, G_URI_ERROR, G_URI_ERROR_BAD_SCHEME, _("not a mailto: link: %s"),
                   uri ? uri : "");
      return NULL;
    }
  rest = uri + 7;
  query = strchr (rest, '?');
  if (!add_addresses (m->to, rest, query ? query - rest : -1, error))
    return NULL;
  if (query == NULL)
    return g_steal_pointer (&m);
  fields = g_strsplit (query + 1, "&", -1);
  for (char **f = fields; *f; f++)
    {
      const char *eq = strchr (*f, '=');
      g_autofree char *name = NULL;
      const char *value = eq ? eq + 1 : "";

      if (**f == '\0')
        continue;
      name = unescape (*f, eq ? eq - *f : -1, TRUE, error);
      if (name == NULL)
        return NULL;
      if (g_ascii_strcasecmp (name, "to") == 0 || g_ascii_strcasecmp (name, "cc") == 0
          || g_ascii_strcasecmp (name, "bcc") == 0)
        {
          GPtrArray *list = g_ascii_tolower (name[0]) == 't' ? m->to
                            : g_ascii_tolower (name[0]) == 'c' ? m->cc : m->bcc;
          if (!add_addresses (list, value, -1, error))
            return NULL;
        }
      else if (g_ascii_strcasecmp (name, "subject") == 0 || g_ascii_strcasecmp (name, "body") == 0
               || g_ascii_strcasecmp (name, "in-reply-to") == 0)
        {
          gboolean body = g_ascii_strcasecmp (name, "body") == 0;
          char **slot = body ? &m->body : name[0] == 's' || name[0] == 'S' ? &m->subject
                                                                           : &m->in_reply_to;
          char *v = unescape (value, -1, !body, error);

          if (v == NULL)
            return NULL;
          if (slot == &m->in_reply_to && !is_msg_id (v))
            {
              /* Never shown, so only a real Message-ID is taken. */
              g_free (v);
              g_ptr_array_add (m->ignored, g_steal_pointer (&name));
              continue;
            }
          g_free (*slot);
          *slot = v;
        }
      else
        g_ptr_array_add (m->ignored, g_steal_pointer (&name));
    }
  return g_steal_pointer (&m);
}

void
pst_mailto_free (PstMailto *m)
{
  if (m == NULL)
    return;
  g_clear_pointer (&m->to, g_ptr_array_unref);
  g_clear_pointer (&m->cc, g_ptr_array_unref);
  g_clear_pointer (&m->bcc, g_ptr_array_unref);
  g_clear_pointer (&m->ignored, g_ptr_array_unref);
  g_free (m->subject);
  g_free (m->body);
  g_free (m->in_reply_to);
  g_free (m);
}
