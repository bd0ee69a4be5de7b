/* Unit tests for core/util/text.c: every class of terminal control that a
 * message or a key could carry comes out visible and inert, ordinary text
 * comes out as it went in, and the visible form can be read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <json-glib/json-glib.h>

#include "util/text.h"

/* Nothing in @s that a terminal would act on: valid UTF-8, and no
 * character the sanitiser calls unsafe (tab and line feed allowed when
 * @lines). */
static void
assert_inert (const char *s, gboolean lines)
{
  assert_true (g_utf8_validate (s, -1, NULL));
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (lines && (c == '\n' || c == '\t'))
        continue;
      if (pst_text_unichar_is_unsafe (c))
        fail_msg ("U+%04X left in \"%s\"", c, s);
    }
}

static void
assert_body (const char *in, gssize len, const char *want)
{
  g_autofree char *got = pst_text_sanitize_body (in, len);

  assert_string_equal (got, want);
  assert_inert (got, TRUE);
}

static void
assert_line (const char *in, gssize len, const char *want)
{
  g_autofree char *got = pst_text_sanitize_line (in, len);

  assert_string_equal (got, want);
  assert_inert (got, FALSE);
  assert_null (strchr (got, '\n'));
  assert_null (strchr (got, '\t'));
}

/* The forged status block of issue 11: up, erase, rewrite. */
static void
test_csi_cursor_movement (void **state)
{
  assert_body ("\x1b[3A\x1b[2K\rEncryption: encrypted\n\x1b[1;1H\x1b[J",  -1,
               "\\x1b[3A\\x1b[2K\\x0dEncryption: encrypted\n\\x1b[1;1H\\x1b[J");
  assert_line ("Hi\x1b[1A\x1b[2KSignature: good", -1, "Hi\\x1b[1A\\x1b[2KSignature: good");
}

static void
test_osc_title (void **state)
{
  /* Ended by BEL, by ESC \ (ST) and by the C1 ST. */
  assert_line ("\x1b]0;pwned\x07rest", -1, "\\x1b]0;pwned\\x07rest");
  assert_line ("\x1b]2;pwned\x1b\\rest", -1, "\\x1b]2;pwned\\x1b\\rest");
  assert_body ("\xc2\x9d" "0;pwned\xc2\x9c", -1, "\\u009d0;pwned\\u009c");
  /* OSC 8 hyperlink: the text shown would hide where it goes. */
  assert_body ("\x1b]8;;http://evil.test\x1b\\bank.test\x1b]8;;\x1b\\", -1,
               "\\x1b]8;;http://evil.test\\x1b\\bank.test\\x1b]8;;\\x1b\\");
}

static void
test_c1 (void **state)
{
  /* U+009B is CSI to a terminal that reads C1 in UTF-8 (xterm does). */
  assert_body ("\xc2\x9b" "2J\xc2\x85next", -1, "\\u009b2J\\u0085next");
  assert_line ("\xc2\x80\xc2\x9f", -1, "\\u0080\\u009f");
  /* The raw byte 0x9b is no UTF-8: a byte, and said to be one. */
  assert_body ("\x9b" "2J", -1, "\\x9b2J");
}

static void
test_bidi (void **state)
{
  assert_line ("invoice\xe2\x80\xae" "fdp.exe", -1, "invoice\\u202efdp.exe");
  assert_line ("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", -1,
               "\\u202a\\u202b\\u202c\\u202d");
  assert_line ("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", -1,
               "\\u2066\\u2067\\u2068\\u2069");
  assert_body ("a\xe2\x80\x8e" "b\xe2\x80\x8f" "c\xd8\x9c" "d", -1, "a\\u200eb\\u200fc\\u061cd");
}

static void
test_invisible_format (void **state)
{
  /* Zero width space, word joiner, BOM, a tag character, a Hangul filler. */
  assert_line ("ce\xe2\x80\x8bo@bank.test", -1, "ce\\u200bo@bank.test");
  assert_line ("\xe2\x81\xa0\xef\xbb\xbf", -1, "\\u2060\\ufeff");
  assert_line ("x\xf3\xa0\x81\x81", -1, "x\\U000e0041");
  assert_line ("\xe3\x85\xa4", -1, "\\u3164");
  /* Line separators: a space on one line, visible in a body. */
  assert_line ("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", -1, "a b c");
  assert_body ("a\xe2\x80\xa8" "b", -1, "a\\u2028b");
}

static void
test_invalid_utf8 (void **state)
{
  assert_body ("ok\xff", -1, "ok\\xff");
  assert_body ("trunc\xc3", -1, "trunc\\xc3");
  assert_body ("\xc0\x80", -1, "\\xc0\\x80");              /* overlong NUL */
  assert_body ("\xed\xa0\x80", -1, "\\xed\\xa0\\x80");     /* a surrogate */
  assert_body ("\xf4\x90\x80\x80", -1, "\\xf4\\x90\\x80\\x80");   /* beyond U+10FFFF */
  assert_line ("\xe2\x80", -1, "\\xe2\\x80");
}

static void
test_c0_and_del (void **state)
{
  assert_body ("a\0b", 3, "a\\x00b");
  assert_body ("over\rwrite", -1, "over\\x0dwrite");
  assert_body ("ab\b\bXY", -1, "ab\\x08\\x08XY");
  assert_body ("del\x7f", -1, "del\\x7f");
  assert_body ("\x0b\x0c\x0e\x1f", -1, "\\x0b\\x0c\\x0e\\x1f");
  assert_line ("bell\x07", -1, "bell\\x07");
}

static void
test_ordinary_text_survives (void **state)
{
  static const char *const kept[] = {
    "Plain ASCII, with punctuation: (a) [b] {c} <d@e.test> ~!@#$%^&*_+=|;:'\",./?",
    "Grüße aus Köln — “quotes”, l’apostrophe, ½ €",
    "東京, Москва, שלום, مرحبا, ελληνικά, हिन्दी, ไทย",
    "Emoji: 👍🏽 ❤️ 👨\xe2\x80\x8d👩\xe2\x80\x8d👧 🇩🇪",
    "Zero width non-joiner in Persian: می\xe2\x80\x8cخواهم; soft hy\xc2\xadphen",
    "Combining: e\xcc\x81 n\xcc\x83",
    "C:\\temp\\report.txt and a \\ alone",
    "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      assert_line (kept[i], -1, kept[i]);
      assert_body (kept[i], -1, kept[i]);
    }
  assert_body ("one\n\ttwo\n\nthree\n", -1, "one\n\ttwo\n\nthree\n");
  assert_body ("crlf\r\nends\r\n", -1, "crlf\nends\n");
  assert_line ("one\ttwo\nthree\r\nfour", -1, "one two three  four");
  assert_null (pst_text_sanitize_line (NULL, -1));
  assert_null (pst_text_sanitize_body (NULL, -1));
}

static void
test_short (void **state)
{
  /* A certificate's subject faking the lines drawn after it: one line,
   * no separator, no bidi control, cut where it is too long. */
  g_autofree char *fake = pst_text_sanitize_short ("CN=x\xe2\x80\xa8  Pin: sha256//REAL=\xe2\x80\xa9\xe2\x80\xae"
                                                   "\nTrusted by: a certificate authority", 200);
  g_autoptr (GString) long_cn = g_string_new ("CN=");
  g_autofree char *cut = NULL, *exact = NULL;

  assert_string_equal (fake, "CN=x Pin: sha256//REAL= \\u202e Trusted by: a certificate authority");
  for (int i = 0; i < 300; i++)
    g_string_append (long_cn, "\xc3\xa9");     /* é: two bytes, one character */
  cut = pst_text_sanitize_short (long_cn->str, 64);
  assert_int_equal (g_utf8_strlen (cut, -1), 64);
  assert_true (g_str_has_prefix (cut, "CN=\xc3\xa9"));
  assert_true (g_str_has_suffix (cut, "\xc3\xa9…"));
  exact = pst_text_sanitize_short ("CN=abc", 6);
  assert_string_equal (exact, "CN=abc");
  assert_null (pst_text_sanitize_short (NULL, 10));
  /* Padding that would push a fake line to the start of a wrapped one,
   * and a tower of combining marks, are tidied away. */
  {
    g_autofree char *padded = pst_text_sanitize_short ("x\t   \xe3\x80\x80  SPKI pin: sha256//X=", 200);
    g_autofree char *tower = pst_text_sanitize_short ("a\xcc\x81\xcc\x82\xcc\x83\xcc\x84\xcc\x85" "b", 200);

    assert_string_equal (padded, "x SPKI pin: sha256//X=");
    assert_string_equal (tower, "a\xcc\x81\xcc\x82\xcc\x83" "b");
  }
}

static void
test_replace_unsafe (void **state)
{
  const char *forged = "CN=x\xe2\x80\xa8  Pin: sha256//REAL=\xe2\x80\xae\x1b[2J\xff\nTrusted by: a CA\xe2\x80\x8b";
  g_autofree char *replaced = pst_text_replace_unsafe (forged, 256);
  g_autofree char *shown = pst_text_sanitize_line (replaced, -1);
  g_autofree char *kept = pst_text_replace_unsafe ("CN=Müller GmbH, O=日本", 256);
  g_autofree char *cut = pst_text_replace_unsafe ("CN=abcdefgh", 6);

  assert_string_equal (replaced, "CN=x\xef\xbf\xbd Pin: sha256//REAL=\xef\xbf\xbd\xef\xbf\xbd[2J\xef\xbf\xbd"
                                 "\xef\xbf\xbdTrusted by: a CA\xef\xbf\xbd");
  /* Shown again where it is read (the CLI, the GUI): as it is, not
   * escaped twice. */
  assert_string_equal (shown, replaced);
  assert_string_equal (kept, "CN=Müller GmbH, O=日本");
  assert_string_equal (cut, "CN=ab…");
  assert_null (pst_text_replace_unsafe (NULL, 10));
}

static void
test_backslash_unambiguous (void **state)
{
  /* The text "\x1b" written in a message is not shown as an ESC was. */
  assert_line ("\\x1b", -1, "\\\\x1b");
  assert_line ("\x1b", -1, "\\x1b");
  assert_line ("\\u202e \\U000e0041 \\\\", -1, "\\\\u202e \\\\U000e0041 \\\\\\");
  assert_line ("C:\\Users\\xavier", -1, "C:\\\\Users\\\\xavier");
  /* A backslash before an escape is doubled too. */
  assert_line ("\\\x1b", -1, "\\\\\\x1b");
  assert_body ("end\\\r\n", -1, "end\\\n");
}

/* Reads the visible form back (text.h): the inverse of the body form,
 * CRLF taken as LF. */
static GString *
unescape (const char *s)
{
  GString *out = g_string_new (NULL);

  for (const char *p = s; *p;)
    {
      int digits = p[0] != '\\' ? 0 : p[1] == 'x' ? 2 : p[1] == 'u' ? 4 : p[1] == 'U' ? 8 : 0;

      if (p[0] == '\\' && p[1] == '\\')
        {
          g_string_append_c (out, '\\');
          p += 2;
        }
      else if (digits)
        {
          char hex[9] = { 0 };
          guint64 v;

          memcpy (hex, p + 2, (gsize) digits);
          assert_true (g_ascii_string_to_unsigned (hex, 16, 0, 0x10ffff, &v, NULL));
          if (digits == 2)
            g_string_append_c (out, (char) v);
          else
            g_string_append_unichar (out, (gunichar) v);
          p += 2 + digits;
        }
      else
        g_string_append_c (out, *p++);
    }
  return out;
}

/* Random strings of the awkward pieces: the form is always inert and
 * always reads back to what it was made from. */
static void
test_round_trip (void **state)
{
  static const char *const pieces[] = {
    "a", "x", "u", "U", "0", "f", "\\", "\\\\", "\x1b", "\r", "\n", "\t", "\r\n", "\x07",
    "\x7f", "\xc2\x9b", "\xe2\x80\xae", "\xff", "\xc3", "\xe9", "é", "👍", "\xf3\xa0\x81\x81",
    "\xe2\x80\xa8", "\xe2\x80\x8d", " ",
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);

  for (int round = 0; round < 20000; round++)
    {
      g_autoptr (GString) in = g_string_new (NULL);
      g_autoptr (GString) back = NULL;
      g_autofree char *body = NULL, *line = NULL, *want = NULL;
      int n = g_rand_int_range (rand, 0, 12);

      for (int i = 0; i < n; i++)
        g_string_append (in, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
      if (g_rand_boolean (rand))
        g_string_append_len (in, "\0", 1);
      body = pst_text_sanitize_body (in->str, (gssize) in->len);
      line = pst_text_sanitize_line (in->str, (gssize) in->len);
      assert_inert (body, TRUE);
      assert_inert (line, FALSE);
      assert_null (strpbrk (line, "\n\t"));
      back = unescape (body);
      {
        g_autoptr (GString) crlf_as_lf = g_string_new_len (in->str, (gssize) in->len);
        g_string_replace (crlf_as_lf, "\r\n", "\n", 0);
        assert_int_equal (back->len, crlf_as_lf->len);
        assert_memory_equal (back->str, crlf_as_lf->str, back->len);
      }
    }
}

static void
test_json (void **state)
{
  static const char value[] = "a\x1b[1A\xc2\x9b" "2J\xe2\x80\xae" "b\x07\x7f\xf3\xa0\x81\x81\n\"\\ é 👍";
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *raw = NULL, *safe = NULL;
  JsonObject *o;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "subject");
  json_builder_add_string_value (b, value);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  raw = json_to_string (root, TRUE);
  safe = pst_text_sanitize_json (raw);
  /* json-glib alone leaves C1 and bidi controls raw. */
  assert_non_null (strstr (raw, "\xc2\x9b"));
  assert_inert (safe, TRUE);
  assert_non_null (strstr (safe, "\\u009b"));
  assert_non_null (strstr (safe, "\\u202e"));
  assert_non_null (strstr (safe, "\\udb40\\udc41"));
  assert_non_null (strstr (safe, "é 👍"));
  assert_true (json_parser_load_from_data (parser, safe, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  assert_string_equal (json_object_get_string_member (o, "subject"), value);
  g_free (safe);
  safe = pst_text_sanitize_json ("{\"s\": \"bad \xff byte\"}");
  assert_string_equal (safe, "{\"s\": \"bad \\ufffd byte\"}");
}

static void
test_plain_address (void **state)
{
  assert_true (pst_text_is_plain_address ("alice@postern.test"));
  assert_true (pst_text_is_plain_address ("jürgen@köln.test"));
  assert_false (pst_text_is_plain_address (NULL));
  assert_false (pst_text_is_plain_address (""));
  assert_false (pst_text_is_plain_address ("no-at-sign"));
  assert_false (pst_text_is_plain_address ("a@b (F00), matches From"));
  assert_false (pst_text_is_plain_address ("Alice <a@b.test>"));
  assert_false (pst_text_is_plain_address ("a@b\x1b[2K"));
  assert_false (pst_text_is_plain_address ("a@b\xe2\x80\xae"));
  assert_false (pst_text_is_plain_address ("a\xe2\x80\x8d@b"));
  assert_false (pst_text_is_plain_address ("a@\xff"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_csi_cursor_movement),
    cmocka_unit_test (test_osc_title),
    cmocka_unit_test (test_c1),
    cmocka_unit_test (test_bidi),
    cmocka_unit_test (test_invisible_format),
    cmocka_unit_test (test_invalid_utf8),
    cmocka_unit_test (test_c0_and_del),
    cmocka_unit_test (test_ordinary_text_survives),
    cmocka_unit_test (test_short),
    cmocka_unit_test (test_replace_unsafe),
    cmocka_unit_test (test_backslash_unambiguous),
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_json),
    cmocka_unit_test (test_plain_address),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
