#include "util/addr.h"

#include <string.h>

static gboolean
addr_spec_valid (const char *s)
{
  const char *at = strrchr (s, '@');

  if (at == NULL || at == s || at[1] == '\0')
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (g_ascii_isspace (*p) || *p == '<' || *p == '>' || (guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

char *
pst_addr_extract (const char *text)
{
  const char *open = NULL;
  const char *close = NULL;
  gboolean quoted = FALSE;
  g_autofree char *spec = NULL;

  if (text == NULL)
    return NULL;

  /* The angle-addr is the last <...> outside a quoted display name. */
  for (const char *p = text; *p != '\0'; p++)
    {
      if (quoted && *p == '\\' && p[1] != '\0')
        p++;
      else if (*p == '"')
        quoted = !quoted;
      else if (!quoted && *p == '<')
        open = p, close = NULL;
      else if (!quoted && *p == '>' && open != NULL && close == NULL)
        close = p;
    }

  if (open != NULL && close != NULL)
    spec = g_strndup (open + 1, close - open - 1);
  else if (open == NULL)
    spec = g_strdup (text);
  else
    return NULL;

  g_strstrip (spec);
  if (!addr_spec_valid (spec))
    return NULL;
  return g_steal_pointer (&spec);
}

gboolean
pst_addr_equal (const char *a, const char *b)
{
  const char *at_a, *at_b;

  if (a == NULL || b == NULL)
    return FALSE;
  at_a = strrchr (a, '@');
  at_b = strrchr (b, '@');
  if (at_a == NULL || at_b == NULL)
    return FALSE;
  if (at_a - a != at_b - b || memcmp (a, b, at_a - a) != 0)
    return FALSE;
  return g_ascii_strcasecmp (at_a + 1, at_b + 1) == 0;
}

gboolean
pst_addr_in_list (const char *addr, const char *const *list)
{
  for (; list != NULL && *list != NULL; list++)
    if (pst_addr_equal (addr, *list))
      return TRUE;
  return FALSE;
}

gboolean
pst_addr_is_plain (const char *addr)
{
  const char *at = addr != NULL ? strchr (addr, '@') : NULL;
  const char *p;

  if (at == NULL || at == addr || at[1] == '\0' || strlen (addr) > 254)
    return FALSE;
  for (p = addr; p < at; p++)
    if (!g_ascii_isalnum (*p) && strchr ("._%+-", *p) == NULL)
      return FALSE;
  if (at[1] == '.' || at[1] == '-' || addr[strlen (addr) - 1] == '.' || addr[strlen (addr) - 1] == '-')
    return FALSE;
  for (p = at + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return strstr (at + 1, "..") == NULL;
}
