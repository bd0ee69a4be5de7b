/* Unit tests for crypto/status.c: the JSON of DESIGN.md §4. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "crypto/status.h"
#include "util/addr.h"

static void
test_plain_json (void **state)
{
  g_autoptr(PstStatus) st = pst_status_new ();
  g_autofree char *json = pst_status_to_json_string (st);

  assert_string_equal (json,
    "{\"scheme\":null,\"decryption\":\"not-encrypted\",\"encryption_covers\":\"none\","
    "\"integrity\":null,\"signature\":{\"status\":\"none\",\"signer\":null,"
    "\"fingerprint\":null,\"from_match\":false,\"covers\":\"none\"},"
    "\"protected_headers\":false,\"warnings\":[]}");
}

static void
test_full_json (void **state)
{
  g_autoptr(PstStatus) st = pst_status_new ();
  g_autofree char *json = NULL;

  st->scheme = PST_SCHEME_PGP;
  st->decryption = PST_DECRYPTION_OK;
  st->encryption_covers = PST_COVERS_WHOLE;
  st->integrity = PST_INTEGRITY_OK;
  st->sig_status = PST_SIG_GOOD;
  st->signer = g_strdup ("alice@example.org");
  st->fingerprint = g_strdup ("ABCD");
  st->from_match = TRUE;
  st->sig_covers = PST_COVERS_WHOLE;
  st->protected_headers = TRUE;
  pst_status_add_warning (st, "nested-signature");
  pst_status_add_warning (st, "nested-signature");
  pst_status_add_warning (st, "weak-digest");
  json = pst_status_to_json_string (st);
  assert_string_equal (json,
    "{\"scheme\":\"pgp\",\"decryption\":\"ok\",\"encryption_covers\":\"whole\","
    "\"integrity\":\"ok\",\"signature\":{\"status\":\"good\",\"signer\":\"alice@example.org\","
    "\"fingerprint\":\"ABCD\",\"from_match\":true,\"covers\":\"whole\"},"
    "\"protected_headers\":true,\"warnings\":[\"nested-signature\",\"weak-digest\"]}");
}

static void
test_enum_strings (void **state)
{
  g_autoptr(PstStatus) st = pst_status_new ();
  g_autofree char *json = NULL;

  assert_string_equal (pst_sig_status_to_string (PST_SIG_BAD), "bad");
  assert_string_equal (pst_sig_status_to_string (PST_SIG_UNKNOWN_KEY), "unknown-key");
  assert_string_equal (pst_sig_status_to_string (PST_SIG_EXPIRED_KEY), "expired-key");
  assert_string_equal (pst_sig_status_to_string (PST_SIG_REVOKED_KEY), "revoked-key");
  assert_string_equal (pst_sig_status_to_string (PST_SIG_ERROR), "error");
  assert_string_equal (pst_sig_status_to_string (PST_SIG_NONE), "none");
  assert_string_equal (pst_covers_to_string (PST_COVERS_PART), "part");

  st->scheme = PST_SCHEME_SMIME;
  st->decryption = PST_DECRYPTION_FAILED;
  st->encryption_covers = PST_COVERS_PART;
  st->integrity = PST_INTEGRITY_MISSING;
  json = pst_status_to_json_string (st);
  assert_non_null (strstr (json, "\"scheme\":\"smime\",\"decryption\":\"failed\","
                                 "\"encryption_covers\":\"part\",\"integrity\":\"missing\""));
  st->integrity = PST_INTEGRITY_FAILED;
  g_free (json);
  json = pst_status_to_json_string (st);
  assert_non_null (strstr (json, "\"integrity\":\"failed\""));
}

static void
test_json_node (void **state)
{
  g_autoptr(PstStatus) st = pst_status_new ();
  g_autoptr(JsonNode) node = pst_status_to_json (st);
  JsonObject *o = json_node_get_object (node);
  JsonObject *sig = json_object_get_object_member (o, "signature");

  assert_true (json_object_get_null_member (o, "integrity"));
  assert_true (json_object_get_null_member (o, "scheme"));
  assert_string_equal (json_object_get_string_member (sig, "status"), "none");
  assert_int_equal (json_array_get_length (json_object_get_array_member (o, "warnings")), 0);
}

static void
test_addr (void **state)
{
  const char *const list[] = { "bob@example.org", "carol@Example.ORG", NULL };
  struct { const char *in, *out; } cases[] = {
    { "alice@example.org", "alice@example.org" },
    { "  alice@example.org \t", "alice@example.org" },
    { "Alice <alice@example.org>", "alice@example.org" },
    { "\"Smith, <Al>\" <al@example.org>", "al@example.org" },
    { "<a@b>", "a@b" },
    { "Alice", NULL },
    { "alice@", NULL },
    { "@example.org", NULL },
    { "Alice <alice@example.org", NULL },
    { "a b@example.org", NULL },
    { "", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = pst_addr_extract (cases[i].in);
      if (cases[i].out == NULL)
        assert_null (got);
      else
        assert_string_equal (got, cases[i].out);
    }
  assert_null (pst_addr_extract (NULL));

  assert_true (pst_addr_equal ("alice@example.org", "alice@EXAMPLE.org"));
  assert_false (pst_addr_equal ("Alice@example.org", "alice@example.org"));
  assert_false (pst_addr_equal ("alice@example.org", "alice@example.org.evil"));
  assert_false (pst_addr_equal ("alice@example.org", "alicex@example.org"));
  assert_false (pst_addr_equal ("alice@example.org", NULL));
  assert_false (pst_addr_equal ("alice", "alice"));
  assert_true (pst_addr_in_list ("carol@example.org", list));
  assert_false (pst_addr_in_list ("carl@example.org", list));
  assert_false (pst_addr_in_list ("bob@example.org", NULL));
}

static gboolean
has_warning (PstStatus *st, const char *word)
{
  return g_ptr_array_find_with_equal_func (st->warnings, word, g_str_equal, NULL);
}

/* DESIGN.md §4 (updated): a signing time in the future (beyond the clock
 * skew) is bad; one far from the Date header, either way, only warns. */
static void
test_signature_dates (void **state)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char *addrs[] = { "alice@example.org", NULL };
  struct {
    gint64 signed_at, date;
    PstSigStatus want;
    const char *warning, *not_warning;
  } cases[] = {
    { now + 16 * 60, now, PST_SIG_BAD, "date-mismatch", "date-differs" },
    { now + 14 * 60, now, PST_SIG_GOOD, NULL, "date-mismatch" },
    { now, now - 2 * 86400, PST_SIG_GOOD, "date-differs", "date-mismatch" },   /* old mail re-sent */
    { now - 2 * 86400, now, PST_SIG_GOOD, "date-differs", "date-mismatch" },
    { now - 23 * 3600, now, PST_SIG_GOOD, NULL, "date-differs" },
    { now - 6 * 3600, now, PST_SIG_GOOD, NULL, "date-differs" },   /* the NSS corpus' "future" */
    { now, 0, PST_SIG_GOOD, NULL, "date-differs" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PstStatus) st = pst_status_new ();
      PstSignatureFacts facts = { PST_SIG_GOOD, addrs, "F1", cases[i].signed_at, FALSE };

      assert_int_equal (pst_signature_verdict (&facts), cases[i].want);
      assert_int_equal (pst_status_set_signature (st, PST_SCHEME_PGP, &facts, PST_COVERS_WHOLE,
                                                  "alice@example.org", cases[i].date),
                        cases[i].want);
      assert_int_equal (st->sig_status, cases[i].want);
      assert_true (st->from_match);
      if (cases[i].warning != NULL)
        assert_true (has_warning (st, cases[i].warning));
      assert_false (has_warning (st, cases[i].not_warning));
    }
}

/* The inner values of a header mismatch reach a client only through
 * pst_status_header_mismatches_to_json, never the stored status. */
static void
test_header_mismatch (void **state)
{
  g_autoptr(PstStatus) st = pst_status_new ();
  g_autofree char *stored = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;

  pst_status_add_header_mismatch (st, "From", "mallory@evil.test", "CEO <ceo@bank.test>");
  pst_status_add_header_mismatch (st, "Reply-To", NULL, "ceo@bank.test");
  stored = pst_status_to_json_string (st);
  assert_null (strstr (stored, "ceo@bank.test"));
  assert_non_null (strstr (stored, "\"warnings\":[\"header-mismatch\"]"));
  node = pst_status_header_mismatches_to_json (st);
  json = json_to_string (node, FALSE);
  assert_string_equal (json, "[{\"field\":\"From\",\"shown\":\"mallory@evil.test\","
                             "\"inner\":\"CEO <ceo@bank.test>\"},"
                             "{\"field\":\"Reply-To\",\"shown\":null,\"inner\":\"ceo@bank.test\"}]");
}

/* The Postern-Status line (DESIGN.md §14): every value, `none` where
 * absent, and a signer's address that cannot end the field or add a
 * parameter. */
static void
test_field_value (void **state)
{
  g_autoptr(PstStatus) plain = pst_status_new ();
  g_autoptr(PstStatus) st = pst_status_new ();
  g_autofree char *v1 = NULL, *v2 = NULL, *v3 = NULL;

  (void) state;
  v1 = pst_status_to_field_value (plain, NULL);
  assert_string_equal (v1, "scheme=none; decryption=not-encrypted; signature=none; signer=none; "
                           "from-match=no; scan=none");
  st->scheme = PST_SCHEME_PGP;
  st->decryption = PST_DECRYPTION_OK;
  st->sig_status = PST_SIG_GOOD;
  st->signer = g_strdup ("alice@example.org");
  st->from_match = TRUE;
  v2 = pst_status_to_field_value (st, "clean");
  assert_string_equal (v2, "scheme=pgp; decryption=ok; signature=good; signer=alice@example.org; "
                           "from-match=yes; scan=clean");
  g_free (st->signer);
  st->signer = g_strdup ("x@y.test; signature=good\r\nX: y");
  st->sig_status = PST_SIG_UNKNOWN_KEY;
  v3 = pst_status_to_field_value (st, "skipped");
  assert_string_equal (v3, "scheme=pgp; decryption=ok; signature=unknown-key; "
                           "signer=x@y.test%3B%20signature=good%0D%0AX%3A%20y; from-match=yes; "
                           "scan=skipped");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plain_json),
    cmocka_unit_test (test_full_json),
    cmocka_unit_test (test_enum_strings),
    cmocka_unit_test (test_json_node),
    cmocka_unit_test (test_addr),
    cmocka_unit_test (test_signature_dates),
    cmocka_unit_test (test_header_mismatch),
    cmocka_unit_test (test_field_value),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
