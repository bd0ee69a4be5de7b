/* The Autocrypt Setup Message format (mime/autocrypt-setup.h): the Setup
 * Code made, written and read; the armor headers; the packet check; the
 * message built and parsed back, refused when anything of its structure is
 * missing, and every prefix of it parsed without harm; the spec's own
 * example (../shared/corpus/autocrypt, skipped when absent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <glib.h>

#include "mime/autocrypt-setup.h"
#include "util/error.h"
#include "util/secret.h"

#define CORPUS SRCDIR "/../../../shared/corpus/autocrypt"

static void
test_code_format (void **state)
{
  char *code = pst_setup_code_from_digits ("123456789012345678901234567890123456");
  g_autofree char *begin = pst_setup_code_begin (code);

  assert_string_equal (code, "1234-5678-9012-3456-7890-1234-5678-9012-3456");
  assert_int_equal (strlen (code), PST_SETUP_CODE_LEN);
  assert_string_equal (begin, "12");
  pst_secret_free (code);
}

static void
test_code_new (void **state)
{
  guint counts[10] = { 0 };
  char *first = pst_setup_code_new (NULL);

  assert_non_null (first);
  assert_true (g_regex_match_simple ("^[0-9]{4}(-[0-9]{4}){8}$", first, 0, 0));
  /* 200 codes: 7,200 digits, every one of the ten about 720 times. */
  for (int n = 0; n < 200; n++)
    {
      char *code = pst_setup_code_new (NULL);

      assert_string_not_equal (code, first);
      for (const char *p = code; *p; p++)
        if (*p != '-')
          counts[*p - '0']++;
      pst_secret_free (code);
    }
  for (int d = 0; d < 10; d++)
    assert_in_range (counts[d], 560, 880);
  pst_secret_free (first);
}

static void
test_code_parse (void **state)
{
  static const char *const good[] = {
    "1234-5678-9012-3456-7890-1234-5678-9012-3456",
    "123456789012345678901234567890123456",
    "1234 5678 9012 3456 7890 1234 5678 9012 3456\n",
    "  1234-5678-9012-\r\n  3456-7890-1234-\r\n  5678-9012-3456\r\n",
  };
  static const char *const bad[] = {
    "", "1234", "1234-5678-9012-3456-7890-1234-5678-9012-345",
    "1234-5678-9012-3456-7890-1234-5678-9012-34567",
    "1234-5678-9012-3456-7890-1234-5678-9012-345x",
    "1234_5678_9012_3456_7890_1234_5678_9012_3456",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      char *code = pst_setup_code_parse (good[i], strlen (good[i]), NULL);

      assert_non_null (code);
      assert_string_equal (code, "1234-5678-9012-3456-7890-1234-5678-9012-3456");
      pst_secret_free (code);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      assert_null (pst_setup_code_parse (bad[i], strlen (bad[i]), &error));
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
      /* the error never repeats the digits */
      assert_null (strstr (error->message, "1234"));
    }
}

/* An armored message of @packets (@len bytes). */
static char *
armor (const guint8 *packets, gsize len)
{
  g_autofree char *b64 = g_base64_encode (packets, len);

  return g_strdup_printf ("-----BEGIN PGP MESSAGE-----\n\n%s\n=abcd\n-----END PGP MESSAGE-----\n",
                          b64);
}

static void
test_packets (void **state)
{
  /* SKESK v4, AES-128, iterated+salted S2K (SHA-256, salt, count); then
   * SEIPD with a partial length. */
  static const guint8 good[] = { 0xc3, 0x0d, 4, 7, 3, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0xff,
                                 0xd2, 0xe0, 1, 2, 3 };
  static const guint8 old_format[] = { 0x8c, 0x0d, 4, 9, 3, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0xff,
                                       0xd2, 0x03, 1, 2, 3 };
  static const guint8 weak[] = { 0xc3, 0x0d, 4, 2, 3, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0xff,
                                 0xd2, 0x03, 1, 2, 3 };
  static const guint8 pkesk[] = { 0xc1, 0x03, 3, 0, 0, 0xc3, 0x0d, 4, 7, 3, 8, 1, 2, 3, 4, 5, 6,
                                  7, 8, 0xff, 0xd2, 0x03, 1, 2, 3 };
  static const guint8 no_skesk[] = { 0xd2, 0x03, 1, 2, 3 };
  static const guint8 literal[] = { 0xcb, 0x03, 'b', 0, 0 };
  static const guint8 truncated[] = { 0xc3, 0x0d, 4, 7, 3 };
  struct { const guint8 *p; gsize len; gboolean lenient, strict; } cases[] = {
    { good, sizeof good, TRUE, TRUE },
    { old_format, sizeof old_format, TRUE, TRUE },
    { weak, sizeof weak, TRUE, FALSE },
    { pkesk, sizeof pkesk, FALSE, FALSE },
    { no_skesk, sizeof no_skesk, FALSE, FALSE },
    { literal, sizeof literal, FALSE, FALSE },
    { truncated, sizeof truncated, FALSE, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *a = armor (cases[i].p, cases[i].len);

      assert_int_equal (pst_setup_check_packets (a, strlen (a), FALSE, NULL), cases[i].lenient);
      assert_int_equal (pst_setup_check_packets (a, strlen (a), TRUE, NULL), cases[i].strict);
    }
  assert_false (pst_setup_check_packets ("no armor", 8, FALSE, NULL));
}

static GBytes *
built_message (char **payload_out)
{
  static const guint8 good[] = { 0xc3, 0x0d, 4, 7, 3, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0xff,
                                 0xd2, 0x03, 1, 2, 3 };
  g_autofree char *a = armor (good, sizeof good);
  g_autoptr (GDateTime) date = g_date_time_new_utc (2026, 1, 2, 3, 4, 5);
  char *payload = pst_setup_armor_add_headers (a, "12", NULL);

  assert_non_null (payload);
  assert_non_null (strstr (payload, "-----BEGIN PGP MESSAGE-----\r\nPassphrase-Format: numeric9x4"
                                    "\r\nPassphrase-Begin: 12\r\n\r\n"));
  *payload_out = payload;
  return pst_setup_message_build ("Alice@Example.org", payload, "12", date);
}

static void
test_build_parse (void **state)
{
  g_autofree char *payload = NULL, *address = NULL, *armored = NULL, *begin = NULL;
  g_autoptr (GBytes) msg = built_message (&payload);
  const char *text = g_bytes_get_data (msg, NULL);

  assert_non_null (strstr (text, "\r\nAutocrypt-Setup-Message: v1\r\n"));
  assert_non_null (strstr (text, "Content-Type: application/autocrypt-setup\r\n"));
  assert_true (pst_setup_message_parse (msg, &address, &armored, &begin, NULL));
  assert_string_equal (address, "Alice@Example.org");
  assert_string_equal (begin, "12");
  assert_true (g_str_has_prefix (armored, "-----BEGIN PGP MESSAGE-----"));
  assert_true (pst_setup_check_packets (armored, strlen (armored), TRUE, NULL));
}

/* @msg with @from replaced by @to (the first time). */
static GBytes *
edited (GBytes *msg, const char *from, const char *to)
{
  const char *text = g_bytes_get_data (msg, NULL);
  const char *at = strstr (text, from);
  GString *s;

  assert_non_null (at);
  s = g_string_new_len (text, at - text);
  g_string_append (s, to);
  g_string_append (s, at + strlen (from));
  return g_string_free_to_bytes (s);
}

static void
test_refusals (void **state)
{
  g_autofree char *payload = NULL;
  g_autoptr (GBytes) msg = built_message (&payload);
  struct { const char *from, *to, *why; } edits[] = {
    { "Autocrypt-Setup-Message: v1", "Autocrypt-Setup-Message: v2", "not v1" },
    { "Autocrypt-Setup-Message: v1", "X-Other: v1", "no Autocrypt-Setup-Message" },
    { "To: <Alice@Example.org>", "To: <bob@example.org>", "To is not its From" },
    { "To: <Alice@Example.org>", "To: <alice@example.org>, <bob@example.org>", "To is not its From" },
    { "From: <Alice@Example.org>", "From: <Alice@Example.org>, <bob@example.org>", "From" },
    { "multipart/mixed", "multipart/alternative", "multipart/mixed" },
    { "application/autocrypt-setup", "application/pgp-keys", "not application/autocrypt-setup" },
    { "-----BEGIN PGP MESSAGE-----", "-----BEGIN PGP SIGNATURE-----", "no armored" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      g_autoptr (GBytes) bad = edited (msg, edits[i].from, edits[i].to);
      g_autoptr (GError) error = NULL;
      char *a = NULL, *b = NULL, *c = NULL;

      assert_false (pst_setup_message_parse (bad, &a, &b, &c, &error));
      assert_null (a);
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
      if (strstr (error->message, edits[i].why) == NULL)
        fail_msg ("edit %zu: '%s' does not say '%s'", i, error->message, edits[i].why);
    }
}

/* Every prefix of the message: parsed or refused, never read past. */
static void
test_prefixes (void **state)
{
  g_autofree char *payload = NULL;
  g_autoptr (GBytes) msg = built_message (&payload);
  gsize len;
  const char *data = g_bytes_get_data (msg, &len);

  for (gsize n = 0; n < len; n++)
    {
      g_autoptr (GBytes) part = g_bytes_new (data, n);
      g_autofree char *a = NULL, *b = NULL, *c = NULL;

      if (pst_setup_message_parse (part, &a, &b, &c, NULL))
        assert_true (g_str_has_suffix (b, "-----END PGP MESSAGE-----\n"));
    }
}

static void
test_payload_key (void **state)
{
  static const char plain[] = "\r\n-----BEGIN PGP PRIVATE KEY BLOCK-----\r\nAutocrypt-Prefer-Encrypt: "
                              "mutual\r\n\r\nAAAA\r\n=abcd\r\n-----END PGP PRIVATE KEY BLOCK-----\r\n"
                              "trailing data\r\n";
  g_autoptr (GBytes) in = g_bytes_new_static (plain, sizeof plain - 1);
  g_autoptr (GBytes) key = pst_setup_payload_key (in, NULL);
  g_autoptr (GBytes) junk = g_bytes_new_static ("text\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n", 43);
  g_autoptr (GError) error = NULL;

  assert_non_null (key);
  assert_true (g_str_has_prefix (g_bytes_get_data (key, NULL), "-----BEGIN PGP PRIVATE KEY BLOCK-----"));
  assert_true (g_str_has_suffix (g_bytes_get_data (key, NULL), "-----END PGP PRIVATE KEY BLOCK-----\r\n"));
  assert_null (pst_setup_payload_key (junk, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
}

static void
test_spec_example (void **state)
{
  g_autofree char *path = g_build_filename (CORPUS, "example-setup-message.eml", NULL);
  g_autofree char *data = NULL, *address = NULL, *armored = NULL, *begin = NULL;
  g_autoptr (GBytes) msg = NULL;
  gsize len;

  if (!g_file_get_contents (path, &data, &len, NULL))
    {
      g_printerr ("# skipped: the shared corpus is absent (%s)\n", CORPUS);
      return;
    }
  msg = g_bytes_new (data, len);
  assert_true (pst_setup_message_parse (msg, &address, &armored, &begin, NULL));
  assert_string_equal (address, "alice@autocrypt.example");
  assert_string_equal (begin, "17");
  /* its attachment wraps the armor in HTML: that is dropped */
  assert_true (g_str_has_prefix (armored, "-----BEGIN PGP MESSAGE-----"));
  assert_null (strstr (armored, "<pre>"));
  assert_true (pst_setup_check_packets (armored, strlen (armored), TRUE, NULL));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_code_format),
    cmocka_unit_test (test_code_new),
    cmocka_unit_test (test_code_parse),
    cmocka_unit_test (test_packets),
    cmocka_unit_test (test_build_parse),
    cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_prefixes),
    cmocka_unit_test (test_payload_key),
    cmocka_unit_test (test_spec_example),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
