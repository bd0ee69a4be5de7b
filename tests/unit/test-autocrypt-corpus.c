/* The Autocrypt Level 1 examples (../shared/corpus/autocrypt), written by
 * another implementation: every message gets the status the corpus README
 * says.  Skipped, with a message, when the corpus is absent. */
#include "pgp-fixture.h"

#define CORPUS SRCDIR "/../../../shared/corpus/autocrypt"

static gboolean
corpus_present (void)
{
  if (g_file_test (CORPUS, G_FILE_TEST_IS_DIR))
    return TRUE;
  /* cmocka's skip() reports "not ok # SKIP", which meson counts as a failure. */
  g_printerr ("# skipped: the shared corpus is absent (%s)\n", CORPUS);
  return FALSE;
}

static GBytes *
corpus_file (const char *name)
{
  g_autofree char *path = g_build_filename (CORPUS, name, NULL);
  char *data = NULL;
  gsize len = 0;

  assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_bytes_new_take (data, len);
}

/* Opens corpus message @name with a keyring holding the keys @keys
 * (corpus file names, NULL-terminated). */
static void
open_with (const char *name, const char *const *keys, GBytes **plain_out, PstStatus **status_out)
{
  g_autofree char *home = make_home ();
  g_autoptr (GBytes) msg = corpus_file (name);

  for (const char *const *k = keys; *k; k++)
    {
      g_autofree char *path = g_build_filename (CORPUS, *k, NULL);
      assert_true (gpg (home, NULL, NULL, "--import", path, NULL));
    }
  {
    g_autoptr (PstPgp) pgp = pst_pgp_new (home, NULL);
    assert_non_null (pgp);
    open_message (pgp, msg, plain_out, status_out);
  }
  kill_home (g_steal_pointer (&home));
}

/* The body text of a cleartext file of the corpus (which starts with a
 * folded field, so a field is put in front). */
static char *
expected_text (const char *name)
{
  g_autoptr (GBytes) raw = corpus_file (name);
  g_autofree char *with_field = g_strconcat ("X-Test: 1\n", (const char *) g_bytes_get_data (raw, NULL), NULL);
  g_autoptr (GBytes) b = bytes (with_field);

  return body_text (b);
}

static void
test_simple (void **state)
{
  const char *keys[] = { NULL };
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) st = NULL;

  if (!corpus_present ())
    return;
  open_with ("example-simple-autocrypt.eml", keys, &plain, &st);
  assert_int_equal (st->scheme, PST_SCHEME_NONE);
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_int_equal (st->encryption_covers, PST_COVERS_NONE);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
}

static void
gossip_with (const char *secret)
{
  const char *keys[] = { secret, "alice@autocrypt.example.pub.asc", NULL };
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) st = NULL;
  g_autofree char *want = expected_text ("example-gossip-cleartext.eml");
  g_autofree char *got = NULL;

  open_with ("example-gossip.eml", keys, &plain, &st);
  got = body_text (plain);
  assert_string_equal (got, want);
  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);
  /* a valid signature by a key that has expired since */
  assert_int_equal (st->sig_status, PST_SIG_EXPIRED_KEY);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_string_equal (st->fingerprint, "EB85BB5FA33A75E15E944E63F231550C4F47E38E");
  assert_true (st->from_match);
  /* The two Autocrypt-Gossip fields inside the encryption, for the agent
   * (never in the status JSON). */
  assert_int_equal (st->gossip->len, 2);
  assert_true (g_str_has_prefix (g_ptr_array_index (st->gossip, 0), "addr=bob@autocrypt.example;"));
  assert_true (g_str_has_prefix (g_ptr_array_index (st->gossip, 1), "addr=carol@autocrypt.example;"));
  {
    g_autofree char *json = pst_status_to_json_string (st);
    assert_null (strstr (json, "gossip"));
  }
}

static void
test_gossip_bob (void **state)
{
  if (corpus_present ())
    gossip_with ("bob@autocrypt.example.sec.asc");
}

static void
test_gossip_carol (void **state)
{
  if (corpus_present ())
    gossip_with ("carol@autocrypt.example.sec.asc");
}

static void
test_gossip_alice_cannot (void **state)
{
  /* The stored file is not encrypted to Alice (see the corpus README). */
  const char *keys[] = { "alice@autocrypt.example.sec.asc", NULL };
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) st = NULL;

  if (!corpus_present ())
    return;
  open_with ("example-gossip.eml", keys, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
  assert_false (contains (plain, "Hi Bob and Carol"));
}

static void
test_draft (void **state)
{
  const char *keys[] = { "alice@autocrypt.example.sec.asc", NULL };
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) st = NULL;
  g_autofree char *want = NULL, *got = NULL;

  if (!corpus_present ())
    return;
  want = expected_text ("example-draft-cleartext.eml");
  open_with ("example-draft.eml", keys, &plain, &st);
  got = body_text (plain);
  assert_string_equal (got, want);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
}

static void
test_setup_message (void **state)
{
  const char *keys[] = { "alice@autocrypt.example.sec.asc", NULL };
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) st = NULL;

  if (!corpus_present ())
    return;
  open_with ("example-setup-message.eml", keys, &plain, &st);
  /* not PGP/MIME-encrypted and not signed: the symmetrically encrypted key
   * is an attachment, not a layer of the message */
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_int_equal (st->encryption_covers, PST_COVERS_NONE);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_simple),
    cmocka_unit_test (test_gossip_bob),
    cmocka_unit_test (test_gossip_carol),
    cmocka_unit_test (test_gossip_alice_cannot),
    cmocka_unit_test (test_draft),
    cmocka_unit_test (test_setup_message),
  };
  (void) fx;
  return cmocka_run_group_tests (tests, NULL, NULL);
}
