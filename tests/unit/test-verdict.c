/* Unit tests for gui/verdict.c: the words and colour of the GUI's status
 * bar, from status objects made by crypto/status.c as the agent makes
 * them.  Every claim that does not hold must read as a problem. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "crypto/status.h"
#include "verdict.h"

static char *
describe (PstStatus *st, const char *scan_json, PstVerdictLevel *level)
{
  g_autoptr (JsonNode) crypto = pst_status_to_json (st);
  g_autoptr (JsonNode) scan = json_from_string (scan_json, NULL);

  return pst_verdict_describe (json_node_get_object (crypto), json_node_get_object (scan), level);
}

static PstStatus *
good_pgp (void)
{
  PstStatus *st = pst_status_new ();

  st->scheme = PST_SCHEME_PGP;
  st->decryption = PST_DECRYPTION_OK;
  st->encryption_covers = PST_COVERS_WHOLE;
  st->integrity = PST_INTEGRITY_OK;
  st->sig_status = PST_SIG_GOOD;
  st->signer = g_strdup ("alice@postern.test");
  st->from_match = TRUE;
  st->sig_covers = PST_COVERS_WHOLE;
  return st;
}

static void
test_good (void **state)
{
  g_autoptr (PstStatus) st = good_pgp ();
  PstVerdictLevel level;
  g_autofree char *t = describe (st, "{\"verdict\":\"clean\",\"name\":null}", &level);
  g_autoptr (JsonNode) crypto = pst_status_to_json (st);

  assert_int_equal (level, PST_VERDICT_GOOD);
  assert_non_null (strstr (t, "OpenPGP"));
  assert_non_null (strstr (t, "encrypted"));
  assert_non_null (strstr (t, "signed by alice@postern.test"));
  assert_non_null (strstr (t, "the signer is the sender"));
  assert_non_null (strstr (t, "virus scan: clean"));
  assert_string_equal (pst_verdict_mark (json_node_get_object (crypto), NULL), "encrypted, signed");
}

static void
test_problems (void **state)
{
  /* Each of these breaks one condition of a good signature. */
  for (int i = 0; i < 5; i++)
    {
      g_autoptr (PstStatus) st = good_pgp ();
      PstVerdictLevel level;
      g_autofree char *t = NULL;
      const char *expect = NULL;

      switch (i)
        {
        case 0: st->from_match = FALSE; expect = "the signer is NOT the sender"; break;
        case 1: st->sig_covers = PST_COVERS_PART; expect = "covers only part"; break;
        case 2: st->sig_status = PST_SIG_BAD; expect = "is NOT good"; break;
        case 3: st->encryption_covers = PST_COVERS_PART; expect = "only PART"; break;
        case 4: st->sig_status = PST_SIG_UNKNOWN_KEY; expect = "NOT verified"; break;
        }
      t = describe (st, "{\"verdict\":\"clean\"}", &level);
      assert_int_equal (level, PST_VERDICT_PROBLEM);
      assert_non_null (strstr (t, expect));
    }
}

static void
test_plain_is_neutral_and_warnings_said (void **state)
{
  g_autoptr (PstStatus) plain = pst_status_new ();
  g_autoptr (PstStatus) weak = good_pgp ();
  PstVerdictLevel level;
  g_autofree char *t = describe (plain, "{\"verdict\":\"skipped\"}", &level);
  g_autofree char *w = NULL;

  assert_int_equal (level, PST_VERDICT_NEUTRAL);
  assert_non_null (strstr (t, "not encrypted"));
  assert_non_null (strstr (t, "not signed"));
  weak->sig_status = PST_SIG_BAD;
  pst_status_add_warning (weak, "weak-digest");
  pst_status_add_warning (weak, "key-changed");
  w = describe (weak, "{\"verdict\":\"clean\"}", &level);
  assert_int_equal (level, PST_VERDICT_PROBLEM);
  assert_non_null (strstr (w, "weak digest"));
  assert_non_null (strstr (w, "key CHANGED"));
}

static void
test_scan_and_integrity (void **state)
{
  g_autoptr (PstStatus) st = good_pgp ();
  PstVerdictLevel level;
  g_autofree char *infected = describe (st, "{\"verdict\":\"infected\",\"name\":\"Eicar.UNOFFICIAL\"}", &level);
  g_autofree char *missing = NULL;
  g_autoptr (JsonNode) scan = json_from_string ("{\"verdict\":\"infected\"}", NULL);

  assert_int_equal (level, PST_VERDICT_PROBLEM);
  assert_non_null (strstr (infected, "INFECTED with Eicar.UNOFFICIAL"));
  assert_string_equal (pst_verdict_mark (NULL, json_node_get_object (scan)), "quarantined");
  st->integrity = PST_INTEGRITY_MISSING;
  missing = describe (st, "{\"verdict\":\"clean\"}", &level);
  assert_int_equal (level, PST_VERDICT_PROBLEM);
  assert_non_null (strstr (missing, "MISSING"));
}

static void
test_no_words_from_the_message (void **state)
{
  /* A signer that is no plain address (an S/MIME certificate says what it
   * likes) is not shown; an unknown warning still counts. */
  g_autoptr (PstStatus) st = good_pgp ();
  g_autoptr (PstStatus) enc_only = good_pgp ();
  PstVerdictLevel level;
  g_autofree char *t = NULL, *e = NULL, *safe = NULL;
  g_autoptr (JsonNode) crypto = NULL;

  g_free (st->signer);
  st->signer = g_strdup ("x@y\n\n✔ OpenPGP · encrypted · signed by alice@postern.test");
  st->sig_status = PST_SIG_BAD;
  pst_status_add_warning (st, "multiple-signatures");
  t = describe (st, "{\"verdict\":\"clean\"}", &level);
  assert_int_equal (level, PST_VERDICT_PROBLEM);
  assert_null (strchr (t, '\n'));
  assert_non_null (strstr (t, "an unknown signer"));
  assert_non_null (strstr (t, "also: multiple-signatures"));

  enc_only->sig_status = PST_SIG_NONE;
  e = describe (enc_only, "{\"verdict\":\"clean\"}", &level);
  assert_int_equal (level, PST_VERDICT_NEUTRAL);   /* anyone can encrypt to you */
  assert_non_null (strstr (e, "not signed"));

  enc_only->integrity = PST_INTEGRITY_MISSING;
  crypto = pst_status_to_json (enc_only);
  assert_string_equal (pst_verdict_mark (json_node_get_object (crypto), NULL), "integrity problem: withheld");

  safe = pst_verdict_safe_text ("Pay\nFrom: bank\xe2\x80\xae<tset.knab@ecilA>\x01");
  assert_null (strchr (safe, '\n'));
  assert_null (strstr (safe, "\xe2\x80\xae"));
  assert_null (strchr (safe, '\x01'));
  assert_non_null (strstr (safe, "Pay From: bank"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_good),
    cmocka_unit_test (test_problems),
    cmocka_unit_test (test_plain_is_neutral_and_warnings_said),
    cmocka_unit_test (test_scan_and_integrity),
    cmocka_unit_test (test_no_words_from_the_message),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
