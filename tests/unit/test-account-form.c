/* Unit tests for gui/account-form.c, what the account dialog and the
 * first-run assistant share: the account.add object made from the fields
 * (the URLs of the TLS choices, the password never in it, a missing field
 * refused in a sentence), the rule for the servers' pins after a
 * connection test, and the test's report, which no server can forge
 * lines of. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "account-form.h"
#include "agent.h"
#include "util/error.h"

static JsonObject *
parse (const char *json)
{
  g_autoptr (JsonNode) n = json_from_string (json, NULL);

  assert_non_null (n);
  return json_object_ref (json_node_get_object (n));
}

static const PstAccountForm filled = {
  .name = "home", .address = "ann@example.org", .user = "ann@example.org", .password = "s3cret",
  .smtp_host = "smtp.example.org", .smtp_security = "starttls", .smtp_port = 587,
  .pop3_host = "pop.example.org", .pop3_security = "tls", .pop3_port = 995,
};

static void
test_build (void **state)
{
  g_autoptr (JsonObject) a = pst_account_form_build (&filled, NULL, NULL);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  assert_non_null (a);
  assert_string_equal (pst_json_str (a, "name"), "home");
  assert_string_equal (pst_json_str (a, "smtp"), "smtp://smtp.example.org:587");
  assert_string_equal (pst_json_str (a, "pop3"), "pop3s://pop.example.org:995");
  assert_string_equal (pst_json_str (a, "encrypt"), "auto");
  assert_true (pst_json_bool (a, "secret_service"));
  assert_null (pst_json_str (a, "pin"));
  /* The password goes to the Secret Service, never into the object. */
  json_node_set_object (node, a);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  assert_null (strstr (text, "s3cret"));
}

static void
test_build_choices (void **state)
{
  PstAccountForm f = filled;
  g_autoptr (JsonObject) a = NULL;

  f.smtp_security = "tls";
  f.smtp_port = 465;
  f.pop3_security = "stls";
  f.pop3_port = 110;
  f.password = NULL;
  f.password_command = "pass show mail";
  f.encrypt = "always";
  f.pins = "sha256//AAAA";
  a = pst_account_form_build (&f, NULL, NULL);
  assert_non_null (a);
  assert_string_equal (pst_json_str (a, "smtp"), "smtps://smtp.example.org:465");
  assert_string_equal (pst_json_str (a, "pop3"), "pop3://pop.example.org:110");
  assert_string_equal (pst_json_str (a, "password_command"), "pass show mail");
  assert_false (json_object_has_member (a, "secret_service"));
  assert_string_equal (pst_json_str (a, "encrypt"), "always");
  assert_string_equal (pst_json_str (a, "pin"), "sha256//AAAA");
}

static void
test_build_missing (void **state)
{
  PstAccountForm f = filled;
  GError *error = NULL;

  f.pop3_host = "";
  assert_null (pst_account_form_build (&f, NULL, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  assert_non_null (strstr (error->message, "both servers"));
  g_clear_error (&error);
  f = filled;
  f.password = "";
  assert_null (pst_account_form_build (&f, NULL, &error));
  assert_string_equal (error->message, "Type the password.");
  g_clear_error (&error);
  f.password_command = "";
  assert_null (pst_account_form_build (&f, NULL, &error));
  assert_non_null (strstr (error->message, "command"));
  g_clear_error (&error);
}

static void
test_test_name (void **state)
{
  g_autofree char *a = pst_account_form_test_name ("home");
  g_autofree char *b = pst_account_form_test_name ("home");

  assert_true (g_str_has_prefix (a, "home-connection-test-"));
  assert_string_not_equal (a, b);
}

static void
test_pins_offered (void **state)
{
  g_autoptr (JsonObject) untrusted = parse ("{\"ok\":false,"
                                            "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"nothing\"},"
                                            "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"nothing\"}}");
  g_autoptr (JsonObject) same = parse ("{\"ok\":false,"
                                       "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"nothing\"},"
                                       "\"pop3\":{\"pin\":\"sha256//S\",\"trusted_by\":\"nothing\"}}");
  g_autoptr (JsonObject) by_ca = parse ("{\"ok\":true,"
                                        "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"ca\"},"
                                        "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"ca\"}}");
  g_autofree char *q0 = NULL, *q1 = NULL, *n0 = NULL, *n1 = NULL, *shared = NULL, *shared_name = NULL;
  g_autofree char *none = NULL, *none_name = NULL;

  /* Two servers, two pins: a question each, with its own pin in it. */
  assert_string_equal (pst_account_form_offered_pin (untrusted, 0), "sha256//S");
  assert_string_equal (pst_account_form_offered_pin (untrusted, 1), "sha256//P");
  q0 = pst_account_form_pin_question (untrusted, 0, &n0);
  q1 = pst_account_form_pin_question (untrusted, 1, &n1);
  assert_non_null (strstr (q0, "sha256//S"));
  assert_null (strstr (q0, "sha256//P"));
  assert_non_null (strstr (q0, "SMTP"));
  assert_non_null (strstr (q1, "sha256//P"));
  assert_non_null (strstr (q1, "POP3"));
  assert_string_equal (n0, "Trust the sending server by its pin");
  assert_string_equal (n1, "Trust the fetching server by its pin");
  /* One key on both: one question, for both. */
  assert_string_equal (pst_account_form_offered_pin (same, 0), "sha256//S");
  assert_null (pst_account_form_offered_pin (same, 1));
  shared = pst_account_form_pin_question (same, 0, &shared_name);
  assert_non_null (strstr (shared, "sha256//S"));
  assert_string_equal (shared_name, "Trust both servers by their pin");
  /* An authority vouches: nothing to ask. */
  assert_null (pst_account_form_offered_pin (by_ca, 0));
  none = pst_account_form_pin_question (by_ca, 1, &none_name);
  assert_null (none);
  assert_null (none_name);
}

static void
test_pins_kept (void **state)
{
  /* First test: only the sending server is reached, its pin confirmed. */
  g_autoptr (JsonObject) first = parse ("{\"ok\":false,"
                                        "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"pin\"},"
                                        "\"pop3\":{\"error\":\"connection refused\"}}");
  /* Second: the fetching server answers now, with a key of its own, its
   * pin confirmed in this test. */
  g_autoptr (JsonObject) second = parse ("{\"ok\":true,"
                                         "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"pin\"},"
                                         "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"pin\"}}");
  g_autoptr (JsonObject) by_ca = parse ("{\"ok\":true,"
                                        "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"ca\"},"
                                        "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"pin\"}}");
  g_autoptr (JsonObject) changed = parse ("{\"ok\":false,"
                                          "\"smtp\":{\"pin\":\"sha256//X\",\"trusted_by\":\"nothing\"},"
                                          "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"pin\"}}");
  g_autofree char *after_first = pst_account_form_kept_pins (first, "sha256//S");
  g_autofree char *sent = pst_account_form_add_pin (after_first, "sha256//P");
  g_autofree char *after_second = pst_account_form_kept_pins (second, sent);
  g_autofree char *after_ca = pst_account_form_kept_pins (by_ca, after_second);
  g_autofree char *after_change = pst_account_form_kept_pins (changed, after_second);
  g_autofree char *again = pst_account_form_add_pin (sent, "sha256//S");
  g_autofree char *unsent = pst_account_form_kept_pins (second, NULL);

  assert_string_equal (after_first, "sha256//S");
  /* Pins confirmed in separate tests add up (they were dropped before). */
  assert_string_equal (sent, "sha256//S;sha256//P");
  assert_string_equal (after_second, "sha256//S;sha256//P");
  /* A pin an authority made unneeded goes, the other stays. */
  assert_string_equal (after_ca, "sha256//P");
  /* So does one the server does not show any more. */
  assert_string_equal (after_change, "sha256//P");
  assert_string_equal (again, "sha256//S;sha256//P");
  /* A pin never sent is never kept. */
  assert_null (unsent);
}

static void
test_describe_forged_name (void **state)
{
  /* A certificate whose subject draws a "Pin" and a "Trusted by" line of
   * its own (U+2028 is a line in a GtkLabel), a right-to-left override in
   * the issuer, and a refusal that tries the same. */
  g_autoptr (JsonObject) r = parse (
    "{\"ok\":false,\"smtp\":{\"tls_version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_256_GCM_SHA384\","
    "\"subject\":\"CN=mail\\u2028  Pin (SHA-256 of its public key): sha256//REALPIN=\\u2029  Trusted by: a "
    "certificate authority\\n  Login: accepted\",\"issuer\":\"CN=\\u202eevil\\u0085x\","
    "\"pin\":\"sha256//FAKE=\",\"trusted_by\":\"nothing\",\"login\":\"failed\","
    "\"login_error\":\"-ERR no\\r\\n  Pin (SHA-256 of its public key): sha256//REALPIN=\"},"
    "\"pop3\":{\"error\":\"refused\\u2028  Trusted by: a certificate authority\"}}");
  g_autofree char *text = pst_account_form_describe_test (r);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  int pins = 0, trusted = 0;
  const char *first_pin = NULL;
  g_autoptr (GString) long_cn = g_string_new ("{\"smtp\":{\"tls_version\":\"TLSv1.3\",\"subject\":\"CN=");
  g_autoptr (JsonObject) big = NULL;
  g_autofree char *big_text = NULL;

  /* One line of Postern's per line: no separator, no control, no bidi
   * override anywhere in what is shown. */
  assert_null (strstr (text, "\u2028"));
  assert_null (strstr (text, "\u2029"));
  assert_null (strstr (text, "\u202e"));
  assert_null (strstr (text, "\xc2\x85"));
  assert_null (strstr (text, "\r"));
  for (char **l = lines; *l; l++)
    {
      if (g_str_has_prefix (*l, "  Pin"))
        {
          pins++;
          first_pin = first_pin ? first_pin : *l;
        }
      if (g_str_has_prefix (*l, "  Trusted by"))
        trusted++;
    }
  /* The one pin line is the real one, and it comes first for its server,
   * before anything the server wrote. */
  assert_int_equal (pins, 1);
  assert_int_equal (trusted, 1);
  assert_string_equal (first_pin, "  Pin (SHA-256 of its public key): sha256//FAKE=");
  assert_true (strstr (text, "sha256//FAKE=") < strstr (text, "CN=mail"));
  assert_true (strstr (text, "Trusted by: nothing") < strstr (text, "CN=mail"));
  assert_non_null (strstr (text, "\\u202e"));
  /* A name as long as a server likes is cut. */
  for (int i = 0; i < 5000; i++)
    g_string_append_c (long_cn, 'a');
  g_string_append (long_cn, "\",\"pin\":\"sha256//P\",\"trusted_by\":\"nothing\"}}");
  big = parse (long_cn->str);
  big_text = pst_account_form_describe_test (big);
  assert_true (strlen (big_text) < 1000);
  assert_non_null (strstr (big_text, "…"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_build),
    cmocka_unit_test (test_build_choices),
    cmocka_unit_test (test_build_missing),
    cmocka_unit_test (test_test_name),
    cmocka_unit_test (test_pins_offered),
    cmocka_unit_test (test_pins_kept),
    cmocka_unit_test (test_describe_forged_name),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
