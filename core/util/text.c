/* text.c — see text.h. */
#include "text.h"

#include <string.h>

typedef enum { MODE_LINE, MODE_BODY } Mode;

/* What becomes of one unit of the input: a character, or a byte that does
 * not begin a valid UTF-8 sequence. */
typedef enum {
  UNIT_KEEP,
  UNIT_SPACE,
  UNIT_DROP,
  UNIT_ESCAPE_CHAR,
  UNIT_ESCAPE_BYTE,
} UnitFate;

gboolean
pst_text_unichar_is_unsafe (gunichar c)
{
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
    return TRUE;
  if (c == 0x00ad || c == 0x200c || c == 0x200d)
    return FALSE;
  /* Listed although they are format characters, so that the rule does not
   * depend on how recent GLib's Unicode tables are. */
  if (c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e)
      || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff || (c >= 0xe0000 && c <= 0xe007f))
    return TRUE;
  if (c == 0x2028 || c == 0x2029 || c == 0x115f || c == 0x1160 || c == 0x3164 || c == 0xffa0)
    return TRUE;
  return g_unichar_type (c) == G_UNICODE_FORMAT;
}

/* The unit at @p (before @end): its length, its character (or byte) and
 * what becomes of it in @mode. */
static UnitFate
unit_at (const char *p, const char *end, Mode mode, gunichar *c_out, gsize *len_out)
{
  guchar b = (guchar) *p;
  gunichar c;

  if (b < 0x80)
    {
      *c_out = b;
      *len_out = 1;
      if (b == '\t')
        return mode == MODE_LINE ? UNIT_SPACE : UNIT_KEEP;
      if (b == '\n')
        return mode == MODE_LINE ? UNIT_SPACE : UNIT_KEEP;
      if (b == '\r')
        {
          if (mode == MODE_LINE)
            return UNIT_SPACE;
          /* A line end written CRLF is still one line end: the CR moves the
           * cursor nowhere the LF does not. */
          return p + 1 < end && p[1] == '\n' ? UNIT_DROP : UNIT_ESCAPE_CHAR;
        }
      return pst_text_unichar_is_unsafe (b) ? UNIT_ESCAPE_CHAR : UNIT_KEEP;
    }
  c = g_utf8_get_char_validated (p, end - p);
  if (c == (gunichar) -1 || c == (gunichar) -2)
    {
      *c_out = b;
      *len_out = 1;
      return UNIT_ESCAPE_BYTE;
    }
  *c_out = c;
  *len_out = (gsize) g_utf8_skip[b];
  if (mode == MODE_LINE && (c == 0x2028 || c == 0x2029))
    return UNIT_SPACE;
  return pst_text_unichar_is_unsafe (c) ? UNIT_ESCAPE_CHAR : UNIT_KEEP;
}

/* Whether the unit at @p is shown beginning with a character that, after
 * a backslash, would read as an escape. */
static gboolean
reads_as_escape (const char *p, const char *end, Mode mode)
{
  gunichar c;
  gsize len;
  UnitFate fate;

  if (p >= end)
    return FALSE;
  fate = unit_at (p, end, mode, &c, &len);
  if (fate == UNIT_ESCAPE_CHAR || fate == UNIT_ESCAPE_BYTE)
    return TRUE;
  return fate == UNIT_KEEP && (c == '\\' || c == 'x' || c == 'u' || c == 'U');
}

static char *
sanitize (const char *text, gssize len, Mode mode)
{
  const char *p, *end;
  GString *out;

  if (text == NULL)
    return NULL;
  end = text + (len < 0 ? strlen (text) : (gsize) len);
  out = g_string_sized_new ((gsize) (end - text) + 1);
  for (p = text; p < end;)
    {
      gunichar c;
      gsize n;

      switch (unit_at (p, end, mode, &c, &n))
        {
        case UNIT_KEEP:
          if (c == '\\' && reads_as_escape (p + 1, end, mode))
            g_string_append (out, "\\\\");
          else
            g_string_append_len (out, p, (gssize) n);
          break;
        case UNIT_SPACE:
          g_string_append_c (out, ' ');
          break;
        case UNIT_DROP:
          break;
        case UNIT_ESCAPE_BYTE:
          g_string_append_printf (out, "\\x%02x", c);
          break;
        case UNIT_ESCAPE_CHAR:
          if (c < 0x80)
            g_string_append_printf (out, "\\x%02x", c);
          else if (c <= 0xffff)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_printf (out, "\\U%08x", c);
          break;
        }
      p += n;
    }
  return g_string_free (out, FALSE);
}

char *
pst_text_sanitize_line (const char *text, gssize len)
{
  return sanitize (text, len, MODE_LINE);
}

/* @s cut to @max_chars characters, the last "…", when longer; takes @s. */
static char *
cut_to (char *s, gsize max_chars)
{
  char *cut;

  if (s == NULL || g_utf8_strlen (s, -1) <= (glong) max_chars)
    return s;
  /* @s is valid UTF-8: the cut falls between characters. */
  *g_utf8_offset_to_pointer (s, (glong) max_chars - 1) = '\0';
  cut = g_strconcat (s, "…", NULL);
  g_free (s);
  return cut;
}

/* At most this many combining marks on one character: more pile up into
 * a column that can paint over the lines around it. */
#define MAX_MARKS 3

/* @s (valid UTF-8) with every run of white space (any space separator, a
 * tab) made one space, and combining marks after the third on a character
 * dropped: a name padded with spaces cannot push text onto a line of its
 * own where a line wraps, nor stack marks over other lines.  Takes @s. */
static char *
tidy_runs (char *s)
{
  GString *out;
  gboolean in_space = FALSE;
  guint marks = 0;

  if (s == NULL)
    return NULL;
  out = g_string_sized_new (strlen (s) + 1);
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType t = g_unichar_type (c);
      gboolean space = c == '\t' || t == G_UNICODE_SPACE_SEPARATOR;
      gboolean mark = t == G_UNICODE_NON_SPACING_MARK || t == G_UNICODE_ENCLOSING_MARK
                      || t == G_UNICODE_SPACING_MARK;

      if (space)
        {
          if (!in_space)
            g_string_append_c (out, ' ');
          in_space = TRUE;
          marks = 0;
          continue;
        }
      in_space = FALSE;
      if (mark && ++marks > MAX_MARKS)
        continue;
      if (!mark)
        marks = 0;
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  g_free (s);
  return g_string_free (out, FALSE);
}

char *
pst_text_sanitize_short (const char *text, gsize max_chars)
{
  g_return_val_if_fail (max_chars >= 2, NULL);
  return cut_to (tidy_runs (pst_text_sanitize_line (text, -1)), max_chars);
}

char *
pst_text_replace_unsafe (const char *text, gsize max_chars)
{
  g_autofree char *valid = NULL;
  GString *out;

  g_return_val_if_fail (max_chars >= 2, NULL);
  if (text == NULL)
    return NULL;
  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (strlen (valid) + 1);
  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (pst_text_unichar_is_unsafe (c))
        g_string_append_unichar (out, 0xfffd);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return cut_to (tidy_runs (g_string_free (out, FALSE)), max_chars);
}

char *
pst_text_sanitize_body (const char *text, gssize len)
{
  return sanitize (text, len, MODE_BODY);
}

char *
pst_text_sanitize_json (const char *json)
{
  const char *p, *end;
  GString *out;

  if (json == NULL)
    return NULL;
  end = json + strlen (json);
  out = g_string_sized_new ((gsize) (end - json) + 1);
  for (p = json; p < end;)
    {
      guchar b = (guchar) *p;
      gunichar c;
      gsize n;

      /* Outside strings json-glib writes only ASCII and white space, so
       * every character rewritten here is inside a string. */
      if (b < 0x80)
        {
          if (b == '\n' || b == '\t' || b == '\r' || !pst_text_unichar_is_unsafe (b))
            g_string_append_c (out, (char) b);
          else
            g_string_append_printf (out, "\\u%04x", b);
          p++;
          continue;
        }
      c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\\ufffd");
          p++;
          continue;
        }
      n = (gsize) g_utf8_skip[b];
      if (!pst_text_unichar_is_unsafe (c))
        g_string_append_len (out, p, (gssize) n);
      else if (c <= 0xffff)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_printf (out, "\\u%04x\\u%04x", 0xd800 + ((c - 0x10000) >> 10),
                                0xdc00 + ((c - 0x10000) & 0x3ff));
      p += n;
    }
  return g_string_free (out, FALSE);
}

gboolean
pst_text_is_plain_address (const char *address)
{
  if (address == NULL || *address == '\0' || strlen (address) > 254
      || !g_utf8_validate (address, -1, NULL) || strchr (address, '@') == NULL)
    return FALSE;
  for (const char *p = address; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) || pst_text_unichar_is_unsafe (c)
          || g_unichar_type (c) == G_UNICODE_FORMAT || c == '<' || c == '>')
        return FALSE;
    }
  return TRUE;
}
