/* html.c — see html.h. */
#include "mime/html.h"

#include <string.h>
#include <libxml/HTMLparser.h>

static gboolean
is (const xmlNode *n, const char *name)
{
  return n->name != NULL && g_ascii_strcasecmp ((const char *) n->name, name) == 0;
}

static gboolean
is_block (const xmlNode *n)
{
  static const char *const blocks[] = { "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5",
                                        "h6", "blockquote", "pre", "table", "ul", "ol", "hr", "dt",
                                        "dd", "section", "article", "header", "footer", NULL };
  for (const char *const *b = blocks; *b; b++)
    if (is (n, *b))
      return TRUE;
  return FALSE;
}

static void
newline (GString *out)
{
  if (out->len > 0 && out->str[out->len - 1] != '\n')
    g_string_append_c (out, '\n');
}

static void
append_text (GString *out, const char *text, gboolean pre)
{
  for (const char *p = text; *p; p++)
    {
      if (!pre && g_ascii_isspace (*p))
        {
          if (out->len > 0 && !g_ascii_isspace (out->str[out->len - 1]))
            g_string_append_c (out, ' ');
          continue;
        }
      g_string_append_c (out, *p);
    }
}

static void
walk (const xmlNode *n, GString *out, gboolean pre, int depth)
{
  for (; n != NULL; n = n->next)
    {
      if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
        {
          if (n->content)
            append_text (out, (const char *) n->content, pre);
          continue;
        }
      if (n->type != XML_ELEMENT_NODE || depth > 256)
        continue;
      /* What a reader never sees. */
      if (is (n, "script") || is (n, "style") || is (n, "head") || is (n, "title")
          || is (n, "template") || is (n, "noscript"))
        continue;
      if (is_block (n))
        newline (out);
      if (is (n, "li"))
        g_string_append (out, "• ");
      if (is (n, "img"))
        {
          /* Never loaded; its alternative text stands in. */
          xmlChar *alt = xmlGetProp (n, (const xmlChar *) "alt");
          if (alt && *alt)
            g_string_append_printf (out, "[%s]", (const char *) alt);
          xmlFree (alt);
        }
      walk (n->children, out, pre || is (n, "pre"), depth + 1);
      if (is (n, "a"))
        {
          xmlChar *href = xmlGetProp (n, (const xmlChar *) "href");
          if (href && *href && !g_str_has_prefix ((const char *) href, "#"))
            g_string_append_printf (out, " <%s>", (const char *) href);
          xmlFree (href);
        }
      if (is_block (n))
        newline (out);
    }
}

/* Lines trimmed at the end, no more than one blank line in a row. */
static char *
tidy (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);
  gboolean blank = TRUE;

  for (char **l = lines; *l; l++)
    {
      g_strchomp (*l);
      if (**l == '\0')
        {
          if (!blank)
            g_string_append_c (out, '\n');
          blank = TRUE;
          continue;
        }
      g_string_append_printf (out, "%s\n", g_str_has_prefix (*l, " ") ? *l + 1 : *l);
      blank = FALSE;
    }
  while (out->len > 1 && out->str[out->len - 1] == '\n' && out->str[out->len - 2] == '\n')
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}

char *
pst_html_to_text (const char *html, gsize len)
{
  g_autoptr (GString) out = g_string_new (NULL);
  htmlDocPtr doc;
  char *valid;

  static gsize initialised = 0;

  /* libxml2 must be initialised once before threads use it. */
  if (g_once_init_enter (&initialised))
    {
      xmlInitParser ();
      g_once_init_leave (&initialised, 1);
    }
  if (len > G_MAXINT)
    len = G_MAXINT;
  /* No network, no external entities, no error output on stderr. */
  doc = htmlReadMemory (html, (int) len, NULL, "UTF-8",
                        HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                          | HTML_PARSE_RECOVER | HTML_PARSE_NOBLANKS);
  if (doc != NULL)
    {
      walk (xmlDocGetRootElement (doc), out, FALSE, 0);
      xmlFreeDoc (doc);
    }
  valid = g_utf8_make_valid (out->str, (gssize) out->len);
  {
    char *t = tidy (valid);
    g_free (valid);
    return t;
  }
}

char *
pst_mime_message_get_html_as_text (PstMimeMessage *message)
{
  g_autofree char *html = pst_mime_message_get_text_part (message, "text/html");

  return html ? pst_html_to_text (html, strlen (html)) : NULL;
}
