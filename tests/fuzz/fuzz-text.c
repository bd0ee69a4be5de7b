/* fuzz-text — the input is any bytes, as a header field, a body, a JSON
 * document or an address; util/text.h must make them safe to show:
 *  - every output is UTF-8 and holds no unsafe character
 *    (pst_text_unichar_is_unsafe), but for line feed and tab in a body
 *    (and line ends in JSON, which json-glib writes only between tokens);
 *  - a line has no line feed, tab or carriage return;
 *  - the visible forms are exact: undoing them (\\, \xHH, \uHHHH,
 *    \UHHHHHHHH, each only for what the header says it stands for) gives
 *    back the input, with tab, CR, LF, U+2028 and U+2029 made spaces in a
 *    line and CR before LF dropped in a body; so nothing is lost, added or
 *    reordered, and safe text without a backslash comes out unchanged;
 *  - the length given and NUL termination (-1) agree;
 *  - JSON as json-glib writes it (the input as a string and a member name,
 *    when it is UTF-8) still parses, to the same string, once sanitised;
 *  - pst_text_is_plain_address says TRUE exactly for what text.h
 *    describes, and such an address is shown as a line unchanged but for
 *    doubled backslashes.
 */
#include "fuzz-common.h"

#include <json-glib/json-glib.h>

#include "util/text.h"

typedef enum { MODE_LINE, MODE_BODY } Mode;

/* Whether @c may stand in output of @mode as itself. */
static gboolean
allowed (gunichar c, Mode mode)
{
  if (mode == MODE_BODY && (c == '\n' || c == '\t'))
    return TRUE;
  return !pst_text_unichar_is_unsafe (c);
}

static void
check_safe (const char *out, Mode mode, const char *what)
{
  FUZZ_CHECK (g_utf8_validate (out, -1, NULL), "%s: not UTF-8", what);
  for (const char *p = out; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      FUZZ_CHECK (allowed (c, mode), "%s: U+%04X at %zu", what, c, (size_t) (p - out));
    }
}

static int
hex_digits (const char *p, const char *end, int n, guint32 *value_out)
{
  guint32 v = 0;

  if (end - p < n)
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      if (!g_ascii_isxdigit (p[i]) || g_ascii_isupper (p[i]))
        return FALSE;
      v = v * 16 + g_ascii_xdigit_value (p[i]);
    }
  *value_out = v;
  return TRUE;
}

/* Undoes the visible forms of text.h in @out, checking that each stands
 * for what it may: \xHH below 0x80 a C0 control or DEL the mode does not
 * keep, above it a byte that is not UTF-8 where it stood (checked by the
 * comparison with the input); \u and \U an unsafe character that needs
 * them.  Transfer full. */
static GByteArray *
unescape (const char *out, Mode mode, const char *what, GArray *bytes_at)
{
  GByteArray *raw = g_byte_array_new ();
  const char *p = out, *end = out + strlen (out);

  while (p < end)
    {
      guint32 v = 0;
      char utf8[6];

      if (*p != '\\')
        {
          g_byte_array_append (raw, (const guint8 *) p, 1);
          p++;
          continue;
        }
      if (p + 1 < end && p[1] == '\\')
        {
          g_byte_array_append (raw, (const guint8 *) "\\", 1);
          p += 2;
        }
      else if (p + 1 < end && p[1] == 'x')
        {
          guint8 b;

          FUZZ_CHECK (hex_digits (p + 2, end, 2, &v), "%s: malformed \\x at %zu", what, (size_t) (p - out));
          b = (guint8) v;
          if (b < 0x80)
            FUZZ_CHECK (pst_text_unichar_is_unsafe (b) && !allowed (b, mode)
                        && (mode == MODE_BODY || (b != '\t' && b != '\n' && b != '\r')),
                        "%s: \\x%02x for a character shown as itself", what, b);
          else
            g_array_append_val (bytes_at, raw->len);
          g_byte_array_append (raw, &b, 1);
          p += 4;
        }
      else if (p + 1 < end && (p[1] == 'u' || p[1] == 'U'))
        {
          int n = p[1] == 'u' ? 4 : 8;

          FUZZ_CHECK (hex_digits (p + 2, end, n, &v), "%s: malformed \\%c at %zu", what, p[1],
                      (size_t) (p - out));
          FUZZ_CHECK (n == 4 ? v >= 0x80 && v <= 0xffff : v > 0xffff, "%s: \\%c%0*x: wrong form", what,
                      p[1], n, v);
          FUZZ_CHECK (g_unichar_validate (v) && pst_text_unichar_is_unsafe (v),
                      "%s: U+%04X escaped but safe", what, v);
          FUZZ_CHECK (mode == MODE_BODY || (v != 0x2028 && v != 0x2029),
                      "%s: U+%04X escaped in a line, where it is a space", what, v);
          g_byte_array_append (raw, (const guint8 *) utf8, g_unichar_to_utf8 (v, utf8));
          p += 2 + n;
        }
      else
        {
          /* A backslash left alone: what follows must not read as a form. */
          g_byte_array_append (raw, (const guint8 *) "\\", 1);
          p++;
        }
    }
  return raw;
}

/* What a line or a body stands for: the input with tab, CR, LF, U+2028
 * and U+2029 each a space (line), or with CR before LF dropped (body). */
static GByteArray *
expected (const uint8_t *data, size_t size, Mode mode)
{
  GByteArray *e = g_byte_array_new ();
  const char *p = (const char *) data, *end = p + size;

  while (p < end)
    {
      guchar b = (guchar) *p;
      gunichar c = b < 0x80 ? b : g_utf8_get_char_validated (p, end - p);
      gsize n = b < 0x80 || c == (gunichar) -1 || c == (gunichar) -2 ? 1 : (gsize) g_utf8_skip[b];

      if (mode == MODE_LINE && (c == '\t' || c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029))
        g_byte_array_append (e, (const guint8 *) " ", 1);
      else if (mode == MODE_BODY && c == '\r' && p + 1 < end && p[1] == '\n')
        ;
      else
        g_byte_array_append (e, (const guint8 *) p, n);
      p += n;
    }
  return e;
}

/* Valid UTF-8 whose every character the mode shows as itself, and no
 * backslash: what must come out unchanged. */
static gboolean
is_safe_text (const uint8_t *data, size_t size, Mode mode)
{
  const char *end = (const char *) data + size;

  if (!g_utf8_validate_len ((const char *) data, size, NULL))
    return FALSE;
  for (const char *p = (const char *) data; p < end; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\\' || !allowed (c, mode) || c == 0)
        return FALSE;
    }
  return TRUE;
}

static void
check_text (const uint8_t *data, size_t size, Mode mode)
{
  const char *what = mode == MODE_LINE ? "line" : "body";
  g_autofree char *out = mode == MODE_LINE ? pst_text_sanitize_line ((const char *) data, (gssize) size)
                                           : pst_text_sanitize_body ((const char *) data, (gssize) size);
  g_autoptr(GByteArray) raw = NULL;
  g_autoptr(GByteArray) want = NULL;
  g_autoptr(GArray) bytes_at = g_array_new (FALSE, FALSE, sizeof (guint));

  FUZZ_CHECK (out != NULL, "%s: NULL for %zu bytes", what, size);
  check_safe (out, mode, what);
  if (mode == MODE_LINE)
    FUZZ_CHECK (strpbrk (out, "\t\n\r") == NULL, "line: a tab or line end");

  raw = unescape (out, mode, what, bytes_at);
  want = expected (data, size, mode);
  FUZZ_CHECK (raw->len == want->len && (raw->len == 0 || memcmp (raw->data, want->data, raw->len) == 0),
              "%s: \"%s\" does not read back as the input (%u bytes, %u expected)", what, out,
              raw->len, want->len);
  /* A byte written \xHH (>= 0x80) was not UTF-8 where it stood: the bytes
   * around it are the input's, or spaces for ASCII controls. */
  for (guint i = 0; i < bytes_at->len; i++)
    {
      guint at = g_array_index (bytes_at, guint, i);
      gunichar c = g_utf8_get_char_validated ((const char *) raw->data + at, raw->len - at);

      FUZZ_CHECK (c == (gunichar) -1 || c == (gunichar) -2, "%s: UTF-8 byte 0x%02x at %u escaped", what,
                  raw->data[at], at);
    }
  if (is_safe_text (data, size, mode))
    FUZZ_CHECK (strlen (out) == size && (size == 0 || memcmp (out, data, size) == 0), "%s: safe text changed: \"%s\"",
                what, out);

  /* Up to the first NUL, the same with -1. */
  {
    g_autofree char *z = g_strndup ((const char *) data, size);
    g_autofree char *a = mode == MODE_LINE ? pst_text_sanitize_line (z, -1) : pst_text_sanitize_body (z, -1);
    g_autofree char *b = mode == MODE_LINE ? pst_text_sanitize_line (z, (gssize) strlen (z))
                                           : pst_text_sanitize_body (z, (gssize) strlen (z));
    FUZZ_CHECK (g_str_equal (a, b), "%s: -1 and strlen differ", what);
  }
}

/* @s (valid UTF-8) as json-glib writes it, as a string and as a member
 * name, sanitised: safe, and parsing back to @s. */
static void
check_json_of (const char *s)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *safe = NULL;
  JsonArray *array;
  JsonObject *object;

  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, s);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, s);
  json_builder_add_string_value (builder, s);
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  node = json_builder_get_root (builder);
  json = json_to_string (node, FALSE);

  safe = pst_text_sanitize_json (json);
  FUZZ_CHECK (safe != NULL, "json: NULL");
  check_safe (safe, MODE_LINE, "json");
  FUZZ_CHECK (json_parser_load_from_data (parser, safe, -1, &error), "json: \"%s\" does not parse: %s",
              safe, error->message);
  FUZZ_CHECK (JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)), "json: not an array");
  array = json_node_get_array (json_parser_get_root (parser));
  FUZZ_CHECK (json_array_get_length (array) == 2, "json: %u elements", json_array_get_length (array));
  FUZZ_CHECK (g_strcmp0 (json_array_get_string_element (array, 0), s) == 0, "json: string changed: %s",
              safe);
  object = json_array_get_object_element (array, 1);
  FUZZ_CHECK (object != NULL && json_object_get_size (object) == 1 && json_object_has_member (object, s)
              && g_strcmp0 (json_object_get_string_member (object, s), s) == 0,
              "json: member changed: %s", safe);

  /* What json-glib wrote safe already comes out unchanged. */
  {
    gboolean all_safe = TRUE;

    for (const char *p = json; *p != '\0' && all_safe; p = g_utf8_next_char (p))
      all_safe = !pst_text_unichar_is_unsafe (g_utf8_get_char (p));
    if (all_safe)
      FUZZ_CHECK (g_str_equal (json, safe), "json: safe document changed: %s", safe);
  }
}

/* Any bytes as a "JSON text": whatever they are, the result is UTF-8 with
 * no unsafe character but line ends and tabs, which json-glib may write
 * between tokens. */
static void
check_json_raw (const char *z)
{
  g_autofree char *safe = pst_text_sanitize_json (z);

  FUZZ_CHECK (safe != NULL, "json: NULL");
  FUZZ_CHECK (g_utf8_validate (safe, -1, NULL), "json raw: not UTF-8");
  for (const char *p = safe; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      FUZZ_CHECK (c == '\n' || c == '\t' || c == '\r' || !pst_text_unichar_is_unsafe (c),
                  "json raw: U+%04X", c);
    }
}

/* text.h's description of an address a status may show. */
static gboolean
is_plain_address (const char *s)
{
  gboolean at = FALSE;

  if (*s == '\0' || strlen (s) > 254 || !g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '@')
        at = TRUE;
      if (g_unichar_isspace (c) || g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT
          || pst_text_unichar_is_unsafe (c) || c == '<' || c == '>')
        return FALSE;
    }
  return at;
}

static void
check_address (const char *z)
{
  gboolean plain = pst_text_is_plain_address (z);

  FUZZ_CHECK (plain == is_plain_address (z), "is_plain_address (\"%s\") is %d", z, plain);
  if (plain)
    {
      g_autofree char *line = pst_text_sanitize_line (z, -1);

      /* Only a backslash may change, and only to two. */
      if (!g_str_equal (line, z))
        {
          const char *p = line;

          for (const char *q = z; *q != '\0'; q++)
            {
              FUZZ_CHECK (*p == *q, "address \"%s\" shown as \"%s\"", z, line);
              p++;
              if (*q == '\\' && *p == '\\' && (q[1] == '\\' || q[1] == 'x' || q[1] == 'u' || q[1] == 'U'))
                p++;
            }
          FUZZ_CHECK (*p == '\0', "address \"%s\" shown as \"%s\"", z, line);
        }
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *z = g_strndup ((const char *) data, size);

  check_text (data, size, MODE_LINE);
  check_text (data, size, MODE_BODY);
  check_json_raw (z);
  if (g_utf8_validate (z, -1, NULL))
    check_json_of (z);
  check_address (z);
  return 0;
}
