/* Unit tests for gui/account-form.c, what the account dialog and the
 * first-run assistant share: the account.add object made from the fields
 * (the URLs of the TLS choices, the password never in it, a missing field
 * refused in a sentence) and the rule for the servers' pins after a
 * connection test. */
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
test_pins (void **state)
{
  g_autoptr (JsonObject) untrusted = parse ("{\"ok\":false,"
                                            "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"nothing\"},"
                                            "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"nothing\"}}");
  g_autoptr (JsonObject) same = parse ("{\"ok\":false,"
                                       "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"nothing\"},"
                                       "\"pop3\":{\"pin\":\"sha256//S\",\"trusted_by\":\"nothing\"}}");
  g_autoptr (JsonObject) by_pin = parse ("{\"ok\":true,"
                                         "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"pin\"},"
                                         "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"pin\"}}");
  g_autoptr (JsonObject) by_ca = parse ("{\"ok\":true,"
                                        "\"smtp\":{\"pin\":\"sha256//S\",\"trusted_by\":\"ca\"},"
                                        "\"pop3\":{\"pin\":\"sha256//P\",\"trusted_by\":\"ca\"}}");
  gboolean reset;
  g_autofree char *first = pst_account_form_next_pins (untrusted, NULL, &reset);

  /* New pins: offered, the confirmation to be given again. */
  assert_string_equal (first, "sha256//S;sha256//P");
  assert_true (reset);
  {
    g_autofree char *again = pst_account_form_next_pins (untrusted, first, &reset);

    assert_string_equal (again, first);
    assert_false (reset);
  }
  {
    g_autofree char *one = pst_account_form_next_pins (same, NULL, &reset);

    assert_string_equal (one, "sha256//S");
  }
  {
    /* The confirmed pins made the servers trusted: kept. */
    g_autofree char *kept = pst_account_form_next_pins (by_pin, first, &reset);

    assert_string_equal (kept, first);
    assert_false (reset);
  }
  {
    /* An authority vouches for them now: no pin is kept. */
    g_autofree char *none = pst_account_form_next_pins (by_ca, first, &reset);

    assert_null (none);
    assert_true (reset);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_build),
    cmocka_unit_test (test_build_choices),
    cmocka_unit_test (test_build_missing),
    cmocka_unit_test (test_test_name),
    cmocka_unit_test (test_pins),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
