/* Unit tests for core/net/wkd.c: the hashed local part and the URLs of
 * draft-koch-openpgp-webkey-service, and a lookup that cannot reach
 * anything ending within its deadline.  The lookups against a real HTTPS
 * server are in tests/integration/test-wkd.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/wkd.h"
#include "util/error.h"

/* The draft's example (§3.1): "Joe.Doe@Example.ORG". */
static void
test_hash_draft_example (void **state)
{
  g_autofree char *h = pst_wkd_hash ("Joe.Doe");
  g_autofree char *lower = pst_wkd_hash ("joe.doe");

  assert_string_equal (h, "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
  assert_string_equal (lower, h);
}

static void
test_hash_shape (void **state)
{
  const char *locals[] = { "a", "", "bob", "someone+tag", "UPPER" };

  for (gsize i = 0; i < G_N_ELEMENTS (locals); i++)
    {
      g_autofree char *h = pst_wkd_hash (locals[i]);

      assert_int_equal (strlen (h), 32);
      assert_int_equal (strspn (h, "ybndrfg8ejkmcpqxot1uwisza345h769"), 32);
    }
}

static void
test_urls (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *adv = pst_wkd_url ("Joe.Doe@Example.ORG", PST_WKD_ADVANCED, &error);
  g_autofree char *direct = pst_wkd_url ("Joe.Doe@Example.ORG", PST_WKD_DIRECT, &error);
  g_autofree char *escaped = pst_wkd_url ("a+b%c@example.org", PST_WKD_DIRECT, &error);

  assert_null (error);
  assert_string_equal (adv, "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/"
                            "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
  assert_string_equal (direct, "https://example.org/.well-known/openpgpkey/hu/"
                               "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
  assert_true (g_str_has_suffix (escaped, "?l=a%2Bb%25c"));
}

static void
test_not_addresses (void **state)
{
  const char *bad[] = { "no-at-sign", "@example.org", "a@", "a b@example.org",
                        "a@exa mple.org", "a@example.org/evil", "a@.example.org",
                        "a@example..org", "a@ex:443", "a@b@c\r\n.org", "a@ex\xc3\xa4mple.org" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *url = pst_wkd_url (bad[i], PST_WKD_ADVANCED, &error);

      assert_null (url);
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
    }
}

/* No such domain (RFC 2606 .invalid): the advanced host does not resolve,
 * so the direct method is tried, which does not resolve either; a network
 * error naming both, well within the deadline.  A non-address in the same
 * call gets its own error. */
static void
test_fetch_nowhere (void **state)
{
  const char *addresses[] = { "someone@wkd-test.invalid", "not an address", NULL };
  PstWkdOptions o = { .timeout_ms = 3000 };
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GPtrArray) answers = pst_wkd_fetch (addresses, &o);
  PstWkdAnswer *a = g_ptr_array_index (answers, 0), *b = g_ptr_array_index (answers, 1);

  assert_true (g_get_monotonic_time () - t0 < 3500 * 1000);
  assert_int_equal (answers->len, 2);
  assert_null (a->key);
  assert_true (g_error_matches (a->error, PST_ERROR, PST_ERROR_NETWORK));
  /* Without a resolver at all both fail the same way; with one, each
   * method is named. */
  assert_int_equal (a->method, PST_WKD_DIRECT);
  assert_non_null (strstr (a->error->message, "advanced method"));
  assert_null (b->key);
  assert_true (g_error_matches (b->error, PST_ERROR, PST_ERROR_USAGE));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_hash_draft_example),
    cmocka_unit_test (test_hash_shape),
    cmocka_unit_test (test_urls),
    cmocka_unit_test (test_not_addresses),
    cmocka_unit_test (test_fetch_nowhere),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
