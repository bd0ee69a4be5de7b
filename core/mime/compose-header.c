/* compose-header.c — writing header fields for compose.c: folded lines,
 * RFC 2047 words, display names, and the mailbox field of an address
 * already written as an addr-spec.  Apart from compose.c, which parses the
 * addresses it is given with libetpan, so that the command line (which
 * adds sendmail's From from an addr-spec) does not load libetpan. */
#include "mime/compose-header.h"
#include "mime/compose-header-private.h"

#include <string.h>

#include "util/addr.h"
#include "util/error.h"

/* UTF-8 bytes per RFC 2047 B word: 56 base64 characters, a 68-column word */
#define WORD_BYTES 42

/* ---- header lines, folded ---- */

void
pst_compose_header_begin (Header *h, GString *out, const char *name)
{
  h->out = out;
  g_string_append_printf (out, "%s:", name);
  h->col = strlen (name) + 1;
}

/* Adds @token after a space, folding before that space when the line would
 * grow past FOLD_COLUMNS (unless it is a continuation line with nothing
 * on it yet: a token longer than a line stays whole). */
void
pst_compose_header_add (Header *h, const char *token)
{
  gsize len = strlen (token);

  if (h->col > 0 && h->col + 1 + len > FOLD_COLUMNS)
    {
      g_string_append (h->out, "\r\n");
      h->col = 0;
    }
  g_string_append_c (h->out, ' ');
  g_string_append (h->out, token);
  h->col += 1 + len;
}

void
pst_compose_header_end (Header *h)
{
  g_string_append (h->out, "\r\n");
}

/* ---- checks ---- */

gboolean
pst_compose_check_text (const char *field, const char *value, gboolean header, GError **error)
{
  if (header && strpbrk (value, "\r\n") != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "%s holds a line break, which would start a header field of its own "
                   "(header injection); refused", field);
      return FALSE;
    }
  if (!g_utf8_validate (value, -1, NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s is not UTF-8 text", field);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_compose_is_plain_ascii (const char *s)
{
  for (; *s != '\0'; s++)
    if ((guchar) *s < 0x20 || (guchar) *s > 0x7e)
      if (*s != '\t')
        return FALSE;
  return TRUE;
}

/* RFC 5322 atext */
gboolean
pst_compose_is_atext (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* ---- RFC 2047 ---- */

/* Adds @text as B-encoded words, each at most WORD_BYTES bytes of whole
 * UTF-8 characters. */
void
pst_compose_header_add_encoded (Header *h, const char *text)
{
  const char *p = text;

  while (*p != '\0')
    {
      const char *end = p;
      g_autofree char *b64 = NULL, *word = NULL;

      while (*end != '\0')
        {
          const char *next = g_utf8_next_char (end);
          if (next - p > WORD_BYTES && end > p)
            break;
          end = next;
        }
      b64 = g_base64_encode ((const guchar *) p, end - p);
      word = g_strdup_printf ("=?UTF-8?B?%s?=", b64);
      pst_compose_header_add (h, word);
      p = end;
    }
}

/* Unstructured text (the Subject): plain words, folded at their spaces,
 * when it is printable ASCII with no word too long to fold and nothing
 * that reads as an encoded word; else encoded words. */
void
pst_compose_header_add_text (Header *h, const char *text)
{
  g_auto (GStrv) words = g_strsplit (text, " ", -1);
  gboolean plain = pst_compose_is_plain_ascii (text) && strstr (text, "=?") == NULL;

  for (char **w = words; plain && *w != NULL; w++)
    plain = strlen (*w) <= MAX_PLAIN_WORD;
  if (!plain)
    {
      pst_compose_header_add_encoded (h, text);
      return;
    }
  for (char **w = words; *w != NULL; w++)
    pst_compose_header_add (h, *w);
}

/* A display name as a phrase: atoms, else one quoted-string, else encoded
 * words. */
void
pst_compose_header_add_phrase (Header *h, const char *name)
{
  g_auto (GStrv) words = g_strsplit (name, " ", -1);
  gboolean atoms = strstr (name, "=?") == NULL, quotable = pst_compose_is_plain_ascii (name);

  for (const char *p = name; *p != '\0' && atoms; p++)
    atoms = *p == ' ' || pst_compose_is_atext (*p);
  for (char **w = words; atoms && *w != NULL; w++)
    atoms = strlen (*w) <= MAX_PLAIN_WORD;
  if (atoms)
    {
      for (char **w = words; *w != NULL; w++)
        if (**w != '\0')
          pst_compose_header_add (h, *w);
      return;
    }
  if (quotable && strlen (name) <= MAX_PLAIN_WORD && strchr (name, '\t') == NULL)
    {
      GString *q = g_string_new ("\"");

      for (const char *p = name; *p != '\0'; p++)
        {
          if (*p == '"' || *p == '\\')
            g_string_append_c (q, '\\');
          g_string_append_c (q, *p);
        }
      g_string_append_c (q, '"');
      pst_compose_header_add (h, q->str);
      g_string_free (q, TRUE);
      return;
    }
  pst_compose_header_add_encoded (h, name);
}

void
pst_compose_header_add_mailbox (Header *h, const char *name, const char *spec, gboolean last)
{
  g_autofree char *token = g_strdup_printf (name != NULL ? "<%s>%s" : "%s%s", spec,
                                            last ? "" : ",");

  if (name != NULL)
    pst_compose_header_add_phrase (h, name);
  pst_compose_header_add (h, token);
}

/* ---- a mailbox from its addr-spec ---- */

/* A dot-atom (RFC 5322 §3.2.3): runs of atext joined by single dots. */
static gboolean
is_dot_atom (const char *s, gsize len)
{
  gboolean after_dot = TRUE;   /* at the start, as after a dot */

  for (gsize i = 0; i < len; i++)
    {
      if (s[i] == '.' && after_dot)
        return FALSE;
      if (s[i] != '.' && !pst_compose_is_atext (s[i]))
        return FALSE;
      after_dot = s[i] == '.';
    }
  return len > 0 && !after_dot;
}

/* An addr-spec as this writer writes it: what pst_addr_extract keeps of
 * it, unchanged; a dot-atom local part (no quoted-string); a dot-atom
 * domain, or a literal in brackets without a quote, bracket or backslash
 * inside; printable ASCII, at most MAX_ADDR_SPEC characters. */
static gboolean
is_plain_addr_spec (const char *spec)
{
  g_autofree char *kept = pst_addr_extract (spec);
  const char *at = strrchr (spec, '@');
  const char *domain;
  gsize domain_len;

  if (kept == NULL || strcmp (kept, spec) != 0 || at == NULL || strlen (spec) > MAX_ADDR_SPEC
      || !pst_compose_is_plain_ascii (spec) || !is_dot_atom (spec, at - spec))
    return FALSE;
  domain = at + 1;
  domain_len = strlen (domain);
  if (domain[0] == '[')
    return domain_len > 2 && domain[domain_len - 1] == ']'
           && strcspn (domain + 1, "[]\\\" \t") == domain_len - 2;
  return is_dot_atom (domain, domain_len);
}

char *
pst_compose_addr_spec_field (const char *name, const char *spec, const char *display,
                             GError **error)
{
  GString *out;
  Header h;

  if (display != NULL && !pst_compose_check_text ("the display name", display, TRUE, error))
    return NULL;
  if (!pst_compose_check_text (name, spec, TRUE, error))
    return NULL;
  if (!is_plain_addr_spec (spec))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s: '%s' is not an address", name, spec);
      return NULL;
    }
  out = g_string_new (NULL);
  pst_compose_header_begin (&h, out, name);
  pst_compose_header_add_mailbox (&h, display != NULL && *display != '\0' ? display : NULL, spec,
                                  TRUE);
  pst_compose_header_end (&h);
  return g_string_free (out, FALSE);
}
