/* Unit tests for gui/key-words.c: the compose window's marks (where a key
 * came from, a changed key in the problem colour, Autocrypt's refusal to
 * recommend), an address's own key among keys.list, what keys.generate did,
 * and the passphrase rules of the key dialog. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "key-words.h"
#include "util/error.h"

static JsonObject *
parse (const char *json)
{
  g_autoptr (JsonNode) n = json_from_string (json, NULL);

  assert_non_null (n);
  return json_object_ref (json_node_get_object (n));
}

/* Whether @markup parses as Pango would read it: well-formed XML. */
static gboolean
well_formed (const char *markup)
{
  static const GMarkupParser parser = { 0 };
  g_autofree char *doc = g_strdup_printf ("<markup>%s</markup>", markup);
  g_autoptr (GMarkupParseContext) c = g_markup_parse_context_new (&parser, 0, NULL, NULL);

  return g_markup_parse_context_parse (c, doc, -1, NULL) && g_markup_parse_context_end_parse (c, NULL);
}

static void
test_sources (void **state)
{
  const char *sources[] = { "imported", "generated", "autocrypt", "gossip", "wkd", "harvested" };

  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      assert_non_null (pst_key_source_words (sources[i]));
      for (gsize j = 0; j < i; j++)
        assert_string_not_equal (pst_key_source_words (sources[i]), pst_key_source_words (sources[j]));
    }
  assert_null (pst_key_source_words (NULL));
  assert_null (pst_key_source_words ("carrier-pigeon"));
  assert_non_null (strstr (pst_key_source_words ("wkd"), "Web Key Directory"));
  assert_non_null (strstr (pst_key_source_words ("autocrypt"), "Autocrypt"));
}

static void
test_fingerprint (void **state)
{
  g_autofree char *g = pst_key_fingerprint_grouped ("0123456789ABCDEF0123456789ABCDEF01234567");
  g_autofree char *odd = pst_key_fingerprint_grouped ("ABC\x1b[2J");
  g_autofree char *none = pst_key_fingerprint_grouped (NULL);

  assert_string_equal (g, "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567");
  assert_null (strchr (odd, '\x1b'));
  assert_string_equal (none, "");
}

static void
test_marks (void **state)
{
  g_autoptr (JsonObject) r = parse (
    "{\"will_encrypt\": true, \"recipients\": ["
    "{\"address\": \"bob@x.test\", \"pgp\": true, \"smime\": false, \"source\": \"wkd\", \"key_changed\": false,"
    " \"problem\": null},"
    "{\"address\": \"carol@x.test\", \"pgp\": true, \"smime\": false, \"source\": \"autocrypt\","
    " \"key_changed\": true, \"problem\": null},"
    "{\"address\": \"dan<b>@x.test\", \"pgp\": false, \"smime\": false, \"source\": null, \"key_changed\": false,"
    " \"problem\": \"no OpenPGP key\"}]}");
  g_autofree char *m = pst_key_marks_markup (r);
  g_auto (GStrv) lines = g_strsplit (m, "\n", -1);

  assert_int_equal (g_strv_length (lines), 3);
  assert_non_null (strstr (lines[0], "bob@x.test: OpenPGP key known (from the Web Key Directory of their domain)"));
  assert_null (strstr (lines[0], "key changed"));
  assert_non_null (strstr (lines[1], "(from their mail (Autocrypt))"));
  /* the change in the problem colour, bold */
  assert_non_null (strstr (lines[1], "<span foreground=\"" PST_KEY_PROBLEM_COLOUR "\" weight=\"bold\">⚠ key changed"));
  assert_non_null (strstr (lines[2], "dan&lt;b&gt;@x.test: no OpenPGP key"));
  assert_true (well_formed (m));
}

static void
test_not_recommended (void **state)
{
  g_autoptr (JsonObject) none = parse ("{\"will_encrypt\": false, \"not_recommended\": []}");
  g_autoptr (JsonObject) two = parse ("{\"will_encrypt\": false, \"not_recommended\": [\"a@x.test\", \"b@x.test\"]}");
  g_autoptr (JsonObject) forced = parse ("{\"will_encrypt\": true, \"not_recommended\": [\"a@x.test\"]}");
  g_autofree char *t = pst_key_not_recommended_words (two);

  assert_null (pst_key_not_recommended_words (none));
  assert_null (pst_key_not_recommended_words (forced));
  assert_string_equal (t, "It will NOT be encrypted: Autocrypt does not recommend encrypting to a@x.test, b@x.test.");
}

/* An answer to encrypted mail that keys.check refused for a recipient
 * without a key: the reason names that recipient, the marks say it blocks
 * Send; not for a refusal of a message that answers no encrypted mail. */
static void
test_reply_blocked (void **state)
{
  static const char *const rcpts =
    "\"recipients\": ["
    "{\"address\": \"alice@x.test\", \"pgp\": true, \"smime\": false, \"source\": \"imported\", \"problem\": null},"
    "{\"address\": \"bob@x.test\", \"pgp\": false, \"smime\": false, \"source\": null, \"problem\": \"no OpenPGP key\"},"
    "{\"address\": \"c\\u001b[2J@x.test\", \"pgp\": false, \"smime\": false, \"problem\": \"no OpenPGP key\"}]";
  g_autofree char *blocked_json = g_strdup_printf (
    "{\"encrypt\": \"auto\", \"reply_to_encrypted\": true, \"refused\": \"this message answers\", %s}", rcpts);
  g_autofree char *always_json = g_strdup_printf (
    "{\"encrypt\": \"always\", \"reply_to_encrypted\": false, \"refused\": \"encryption is required\", %s}", rcpts);
  g_autofree char *plain_json = g_strdup_printf (
    "{\"encrypt\": \"auto\", \"reply_to_encrypted\": false, \"refused\": null, %s}", rcpts);
  g_autoptr (JsonObject) blocked = parse (blocked_json);
  g_autoptr (JsonObject) always = parse (always_json);
  g_autoptr (JsonObject) plain = parse (plain_json);
  g_autoptr (JsonObject) self_only = parse ("{\"encrypt\": \"auto\", \"reply_to_encrypted\": true,"
                                            " \"refused\": \"no key for you\", \"recipients\": []}");
  g_autofree char *reply = pst_key_reply_blocked_words (blocked, FALSE);
  g_autofree char *forward = pst_key_reply_blocked_words (blocked, TRUE);
  g_autofree char *marks = pst_key_marks_markup (blocked);
  g_autofree char *plain_marks = pst_key_marks_markup (plain);
  g_auto (GStrv) lines = g_strsplit (marks, "\n", -1);

  assert_non_null (reply);
  assert_non_null (strstr (reply, "No key for bob@x.test, c"));
  assert_null (strchr (reply, '\x1b'));
  assert_null (strstr (reply, "alice"));
  assert_non_null (strstr (reply, ": the reply to an encrypted message cannot go out in the clear."));
  assert_non_null (strstr (forward, ": the forward of an encrypted message cannot go out in the clear."));
  assert_null (pst_key_reply_blocked_words (always, FALSE));
  assert_null (pst_key_reply_blocked_words (plain, FALSE));
  assert_null (pst_key_reply_blocked_words (self_only, FALSE));
  assert_int_equal (g_strv_length (lines), 3);
  assert_null (strstr (lines[0], "blocks Send"));
  assert_non_null (strstr (lines[1], "⚠ blocks Send"));
  assert_non_null (strstr (lines[2], "⚠ blocks Send"));
  assert_true (well_formed (marks));
  assert_null (strstr (plain_marks, "blocks Send"));
  assert_non_null (strstr (pst_key_reply_clear_warning (FALSE), "quoted"));
  assert_non_null (strstr (pst_key_reply_clear_warning (FALSE), "providers"));
  assert_string_not_equal (pst_key_reply_clear_warning (FALSE), pst_key_reply_clear_warning (TRUE));
}

static void
test_find_own (void **state)
{
  g_autoptr (JsonObject) keys = parse (
    "{\"keys\": ["
    "{\"scheme\": \"pgp\", \"fingerprint\": \"1111111111111111111111111111111111111111\","
    " \"addresses\": [\"alice@x.test\"], \"secret\": false, \"validity\": \"valid\"},"
    "{\"scheme\": \"smime\", \"fingerprint\": \"22\", \"addresses\": [\"alice@x.test\"], \"secret\": true,"
    " \"validity\": \"valid\"},"
    "{\"scheme\": \"pgp\", \"fingerprint\": \"3333333333333333333333333333333333333333\","
    " \"addresses\": [\"alice@x.test\"], \"secret\": true, \"validity\": \"expired\"},"
    "{\"scheme\": \"pgp\", \"fingerprint\": \"4444444444444444444444444444444444444444\","
    " \"addresses\": [\"bob@x.test\", \"alice@X.TEST\"], \"secret\": true, \"validity\": \"valid\","
    " \"expires\": 1893456000}]}");
  JsonObject *k = pst_key_find_own (keys, "alice@x.test");
  g_autofree char *words = NULL;

  assert_non_null (k);
  assert_string_equal (json_object_get_string_member (k, "fingerprint"), "4444444444444444444444444444444444444444");
  assert_null (pst_key_find_own (keys, "carol@x.test"));
  assert_null (pst_key_find_own (keys, "Alice@x.test"));   /* local parts are case-sensitive */
  words = pst_key_describe_own (k, "alice@x.test");
  assert_non_null (strstr (words, "4444 4444 4444"));
  assert_non_null (strstr (words, "It expires on 20"));
}

static void
test_generated (void **state)
{
  g_autoptr (JsonObject) r = parse ("{\"fingerprint\": \"ABCDABCDABCDABCDABCDABCDABCDABCDABCDABCD\","
                                    " \"address\": \"alice@x.test\", \"expires\": 1893456000}");
  g_autoptr (JsonObject) never = parse ("{\"fingerprint\": \"ABCDABCDABCDABCDABCDABCDABCDABCDABCDABCD\","
                                        " \"address\": \"alice@x.test\", \"expires\": 0}");
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (1893456000);
  g_autofree char *date = g_date_time_format (dt, "%Y-%m-%d");
  g_autofree char *t = pst_key_describe_generated (r);
  g_autofree char *t0 = pst_key_describe_generated (never);

  assert_non_null (strstr (t, "ABCD ABCD ABCD ABCD ABCD ABCD ABCD ABCD ABCD ABCD"));
  assert_non_null (strstr (t, "alice@x.test"));
  assert_non_null (strstr (t, "now signed"));
  assert_non_null (strstr (t, "Autocrypt"));
  assert_non_null (strstr (t, date));
  assert_non_null (strstr (t0, "does not expire"));
}

static void
test_passphrase (void **state)
{
  GError *error = NULL;

  assert_true (pst_key_check_passphrase ("", "", TRUE, &error));
  assert_true (pst_key_check_passphrase ("correct horse", "correct horse", FALSE, &error));
  assert_false (pst_key_check_passphrase ("", "", FALSE, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  assert_non_null (strstr (error->message, "No passphrase"));
  g_clear_error (&error);
  assert_false (pst_key_check_passphrase ("one", "two", FALSE, &error));
  assert_non_null (strstr (error->message, "differ"));
  g_clear_error (&error);
  assert_false (pst_key_check_passphrase ("a\nb", "a\nb", FALSE, &error));
  g_clear_error (&error);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sources),
    cmocka_unit_test (test_fingerprint),
    cmocka_unit_test (test_marks),
    cmocka_unit_test (test_reply_blocked),
    cmocka_unit_test (test_not_recommended),
    cmocka_unit_test (test_find_own),
    cmocka_unit_test (test_generated),
    cmocka_unit_test (test_passphrase),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
