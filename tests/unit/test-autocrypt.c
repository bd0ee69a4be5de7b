/* Autocrypt Level 1 (crypto/autocrypt.h, crypto/pgp-autocrypt.h): the
 * header grammar, the peer-state update with its forgeries, the
 * recommendation, and a header's key into a real keyring. */
#include "pgp-fixture.h"

#include "crypto/autocrypt.h"
#include "crypto/pgp-autocrypt.h"

#define CORPUS SRCDIR "/../../../shared/corpus/autocrypt"
#define DAY (24 * 3600)

/* The Autocrypt field of a corpus message, unfolded, or NULL. */
static char *
corpus_header (const char *name, const char *field)
{
  g_autofree char *path = g_build_filename (CORPUS, name, NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GPtrArray) fields = NULL;
  gsize body = 0;
  const char *f;

  if (!g_file_get_contents (path, &data, &len, NULL))
    return NULL;
  assert_true (pst_mime_split_header (data, len, &fields, &body, NULL));
  f = pst_mime_find_field (fields, field, NULL);
  return f != NULL ? pst_mime_field_value (f) : NULL;
}

static GBytes *
some_keydata (void)
{
  return g_bytes_new_static ("\x98\x33\x04key-material", 16);
}

static void
test_parse (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstAutocryptHeader) h = NULL;
  g_autofree char *value = NULL;
  static const char *const bad[][2] = {
    { "prefer-encrypt=mutual; keydata=AAAA", "no addr" },
    { "addr=a@b.test", "no keydata" },
    { "addr=a@b.test; keydata=AA!A", "not base64" },
    { "addr=a@b.test; keydata=AAA", "not base64" },
    { "addr=a@b.test; colour=blue; keydata=AAAA", "unknown critical attribute colour" },
    { "addr=a@b.test; type=2; keydata=AAAA", "unknown key type" },
    { "addr=not an address; keydata=AAAA", "not an address" },
    { "addr=a@b.test; addr=c@d.test; keydata=AAAA", "unknown critical attribute addr" },
  };

  /* The grammar, non-critical attributes ignored, Level 0's type=1 taken. */
  h = pst_autocrypt_header_parse (" addr=Alice@Example.org ; _x=whatever;type=1; "
                                  "prefer-encrypt=mutual; keydata=\r\n AAEC\r\n Aw==", &error);
  g_assert_no_error (error);
  assert_string_equal (h->addr, "Alice@Example.org");
  assert_true (h->mutual);
  assert_int_equal (g_bytes_get_size (h->keydata), 4);
  g_clear_pointer (&h, pst_autocrypt_header_free);
  h = pst_autocrypt_header_parse ("addr=a@b.test; prefer-encrypt=nopreference; keydata=AAAA",
                                  &error);
  assert_false (h->mutual);
  g_clear_pointer (&h, pst_autocrypt_header_free);
  h = pst_autocrypt_header_parse ("addr=a@b.test; prefer-encrypt=yes-please; keydata=AAAA",
                                  &error);
  assert_false (h->mutual);
  g_clear_pointer (&h, pst_autocrypt_header_free);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e = NULL;

      assert_null (pst_autocrypt_header_parse (bad[i][0], &e));
      assert_non_null (e);
      if (strstr (e->message, bad[i][1]) == NULL)
        fail_msg ("%s: %s (expected %s)", bad[i][0], e->message, bad[i][1]);
    }

  /* Round trip of what Postern writes: folded, at most 78 wide. */
  {
    g_autoptr (GBytes) key = g_bytes_new_static ("0123456789abcdefghijklmnopqrstuvwxyz"
                                                 "0123456789abcdefghijklmnopqrstuvwxyz"
                                                 "0123456789abcdefghijklmnopqrstuvwxyz", 108);
    g_auto (GStrv) lines = NULL;

    value = pst_autocrypt_header_format ("bob@example.org", TRUE, key, FALSE);
    lines = g_strsplit (value, "\r\n", -1);
    for (char **l = lines; *l; l++)
      assert_true (strlen (*l) + (l == lines ? strlen ("Autocrypt: ") : 0) <= 78);
    assert_non_null (strstr (value, "prefer-encrypt=mutual"));
    h = pst_autocrypt_header_parse (value, &error);
    g_assert_no_error (error);
    assert_string_equal (h->addr, "bob@example.org");
    assert_true (h->mutual);
    assert_true (g_bytes_equal (h->keydata, key));
    g_clear_pointer (&value, g_free);
    g_clear_pointer (&h, pst_autocrypt_header_free);
    /* Gossip carries no prefer-encrypt. */
    value = pst_autocrypt_header_format ("bob@example.org", TRUE, key, TRUE);
    assert_null (strstr (value, "prefer-encrypt"));
  }
}

/* The spec's example header (another implementation's output) parses. */
static void
test_corpus_header (void **state)
{
  g_autofree char *value = corpus_header ("example-simple-autocrypt.eml", "Autocrypt");
  g_autofree char *gossip = corpus_header ("example-gossip-cleartext.eml", "Autocrypt-Gossip");
  g_autoptr (GError) error = NULL;
  g_autoptr (PstAutocryptHeader) h = NULL, g = NULL;

  if (value == NULL)
    {
      g_printerr ("# skipped: the shared corpus is absent (%s)\n", CORPUS);
      return;
    }
  h = pst_autocrypt_header_parse (value, &error);
  g_assert_no_error (error);
  assert_string_equal (h->addr, "alice@autocrypt.example");
  assert_true (h->mutual);
  /* An Ed25519 primary key packet (tag 6, new or old format) comes first. */
  assert_true (g_bytes_get_size (h->keydata) > 100);
  assert_non_null (gossip);
  g = pst_autocrypt_header_parse (gossip, &error);
  g_assert_no_error (error);
  assert_string_equal (g->addr, "bob@autocrypt.example");
  assert_false (g->mutual);
}

static PstAutocryptUpdate
update (const PstAutocryptPeer *peer, const char *from, gint64 date, const char *const *headers,
        gint64 now, PstAutocryptPeer **out, const char **why)
{
  PstAutocryptMessage m = { .from = from, .date = date, .headers = headers };
  g_autoptr (PstAutocryptHeader) h = NULL;

  return pst_autocrypt_update (peer, &m, now, out, &h, why);
}

static void
test_update (void **state)
{
  g_autofree char *mine = NULL, *other = NULL, *forged = NULL;
  g_autoptr (GBytes) key = some_keydata ();
  g_autoptr (PstAutocryptPeer) p1 = NULL, p2 = NULL, p3 = NULL, p4 = NULL;
  PstAutocryptPeer *p = NULL;
  const char *why = NULL;
  gint64 now = 1000 * DAY;

  mine = g_strdup_printf ("addr=alice@example.org; prefer-encrypt=mutual; keydata=%s",
                          "mDMEXEcE6RYJKwYB");
  other = g_strdup_printf ("addr=ALICE@example.org; keydata=%s", "mDMEXEcE6RYJKwYC");
  forged = g_strdup_printf ("addr=bob@example.org; keydata=%s", "mDMEXEcE6RYJKwYD");
  (void) key;

  /* A first header: state created, key taken. */
  {
    const char *hs[] = { mine, NULL };
    assert_int_equal (update (NULL, "alice@example.org", now - 10 * DAY, hs, now, &p1, &why),
                      PST_AUTOCRYPT_KEY);
    assert_int_equal (p1->autocrypt_timestamp, now - 10 * DAY);
    assert_int_equal (p1->last_seen, now - 10 * DAY);
    assert_true (p1->mutual);
  }
  /* addr not equal to From: ignored for the key, the message still seen. */
  {
    const char *hs[] = { forged, NULL };
    assert_int_equal (update (p1, "alice@example.org", now - 5 * DAY, hs, now, &p2, &why),
                      PST_AUTOCRYPT_SEEN);
    assert_non_null (strstr (why, "not the From address"));
    assert_true (g_bytes_equal (p2->keydata, p1->keydata));
    assert_int_equal (p2->last_seen, now - 5 * DAY);
    assert_int_equal (p2->autocrypt_timestamp, now - 10 * DAY);
  }
  /* Older than the last header seen: nothing at all changes. */
  {
    const char *hs[] = { other, NULL };
    assert_int_equal (update (p2, "alice@example.org", now - 20 * DAY, hs, now, &p, &why),
                      PST_AUTOCRYPT_IGNORED);
    assert_null (p);
    assert_non_null (strstr (why, "older"));
  }
  /* Several From mailboxes (the caller passes none): ignored. */
  {
    const char *hs[] = { other, NULL };
    assert_int_equal (update (p2, NULL, now, hs, now, &p, &why), PST_AUTOCRYPT_IGNORED);
    assert_null (p);
  }
  /* Two valid headers are as none. */
  {
    const char *hs[] = { mine, other, NULL };
    assert_int_equal (update (p2, "alice@example.org", now - 4 * DAY, hs, now, &p3, &why),
                      PST_AUTOCRYPT_SEEN);
    assert_non_null (strstr (why, "several"));
    g_clear_pointer (&p3, pst_autocrypt_peer_free);
  }
  /* A newer header replaces the key; prefer-encrypt follows it; a date in
   * the future counts as now. */
  {
    const char *hs[] = { other, NULL };
    assert_int_equal (update (p2, "alice@example.org", now + 50 * DAY, hs, now, &p3, &why),
                      PST_AUTOCRYPT_KEY);
    assert_int_equal (p3->autocrypt_timestamp, now);
    assert_false (p3->mutual);
    assert_false (g_bytes_equal (p3->keydata, p2->keydata));
  }
  /* A delivery report never counts. */
  {
    const char *hs[] = { mine, NULL };
    PstAutocryptMessage m = { .from = "alice@example.org", .date = now, .report = TRUE,
                              .headers = hs };
    assert_int_equal (pst_autocrypt_update (p3, &m, now, &p, NULL, &why), PST_AUTOCRYPT_IGNORED);
  }
  /* Gossip: only about recipients, only when newer. */
  {
    g_autofree char *g = g_strdup_printf ("addr=carol@example.org; keydata=%s", "mDMEXEcE6RYJ");
    const char *rcpt[] = { "bob@example.org", "Carol@example.org", NULL };
    const char *not_rcpt[] = { "bob@example.org", NULL };
    g_autoptr (PstAutocryptHeader) h = NULL;

    assert_null (pst_autocrypt_gossip (NULL, g, now, not_rcpt, now, &h, &why));
    assert_non_null (strstr (why, "no recipient"));
    p4 = pst_autocrypt_gossip (NULL, g, now - DAY, rcpt, now, &h, &why);
    assert_non_null (p4);
    assert_int_equal (p4->gossip_timestamp, now - DAY);
    assert_null (p4->fingerprint);
    g_clear_pointer (&h, pst_autocrypt_header_free);
    assert_null (pst_autocrypt_gossip (p4, g, now - 2 * DAY, rcpt, now, &h, &why));
  }
}

static void
test_recommend (void **state)
{
  PstAutocryptPeer peer = { .addr = (char *) "bob@example.org", .fingerprint = (char *) "AA",
                            .last_seen = 100 * DAY, .autocrypt_timestamp = 100 * DAY,
                            .mutual = TRUE };
  PstAutocryptPeer gossip_only = { .addr = (char *) "c@example.org",
                                   .gossip_fingerprint = (char *) "BB" };
  PstAutocryptRecommendation all_enc[] = { PST_AUTOCRYPT_ENCRYPT, PST_AUTOCRYPT_ENCRYPT };
  PstAutocryptRecommendation mixed[] = { PST_AUTOCRYPT_ENCRYPT, PST_AUTOCRYPT_AVAILABLE };
  PstAutocryptRecommendation disc[] = { PST_AUTOCRYPT_AVAILABLE, PST_AUTOCRYPT_DISCOURAGE };
  PstAutocryptRecommendation dis[] = { PST_AUTOCRYPT_ENCRYPT, PST_AUTOCRYPT_DISABLE };

  assert_int_equal (pst_autocrypt_recommend (NULL, FALSE, TRUE, FALSE), PST_AUTOCRYPT_DISABLE);
  assert_int_equal (pst_autocrypt_recommend (&peer, FALSE, TRUE, TRUE), PST_AUTOCRYPT_DISABLE);
  /* mutual both ways: encrypt */
  assert_int_equal (pst_autocrypt_recommend (&peer, TRUE, TRUE, FALSE), PST_AUTOCRYPT_ENCRYPT);
  assert_int_equal (pst_autocrypt_recommend (&peer, TRUE, FALSE, FALSE), PST_AUTOCRYPT_AVAILABLE);
  peer.mutual = FALSE;
  assert_int_equal (pst_autocrypt_recommend (&peer, TRUE, TRUE, FALSE), PST_AUTOCRYPT_AVAILABLE);
  /* a reply to encrypted mail: encrypt */
  assert_int_equal (pst_autocrypt_recommend (&peer, TRUE, TRUE, TRUE), PST_AUTOCRYPT_ENCRYPT);
  /* stale: the key is more than 35 days older than the last mail */
  peer.mutual = TRUE;
  peer.last_seen = peer.autocrypt_timestamp + 36 * DAY;
  assert_int_equal (pst_autocrypt_recommend (&peer, TRUE, TRUE, FALSE), PST_AUTOCRYPT_DISCOURAGE);
  assert_int_equal (pst_autocrypt_recommend (&gossip_only, TRUE, TRUE, FALSE),
                    PST_AUTOCRYPT_DISCOURAGE);

  assert_int_equal (pst_autocrypt_combine (all_enc, 2), PST_AUTOCRYPT_ENCRYPT);
  assert_int_equal (pst_autocrypt_combine (mixed, 2), PST_AUTOCRYPT_AVAILABLE);
  assert_int_equal (pst_autocrypt_combine (disc, 2), PST_AUTOCRYPT_DISCOURAGE);
  assert_int_equal (pst_autocrypt_combine (dis, 2), PST_AUTOCRYPT_DISABLE);
  assert_string_equal (pst_autocrypt_recommendation_to_string (PST_AUTOCRYPT_AVAILABLE),
                       "available");
}

/* A header's key into a real keyring: only its own user id comes in, and
 * keydata for another address is refused. */
static void
test_keyring (void **state)
{
  g_autofree char *home = make_home (), *other = make_home ();
  g_autofree char *fpr = NULL, *got = NULL, *list = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) keydata = NULL;
  gboolean can_encrypt = FALSE;

  /* A key with two user ids: the header speaks for alice only. */
  fpr = make_key (home, "Alice <alice@postern.test>", "alice@postern.test");
  assert_true (gpg (home, NULL, NULL, "--quick-add-uid", fpr, "Boss <boss@bank.test>", NULL));
  keydata = pst_pgp_autocrypt_export (home, fpr, &error);
  g_assert_no_error (error);

  got = pst_pgp_autocrypt_import (other, keydata, "ALICE@postern.test", &can_encrypt, &error);
  g_assert_no_error (error);
  assert_string_equal (got, fpr);
  assert_true (can_encrypt);
  assert_true (gpg (other, &list, NULL, "--with-colons", "--list-keys", NULL));
  assert_non_null (strstr (list, "alice@postern.test"));
  assert_null (strstr (list, "boss@bank.test"));
  g_clear_pointer (&got, g_free);

  /* Keydata with no user id for the address: refused, nothing imported. */
  assert_null (pst_pgp_autocrypt_import (other, keydata, "mallory@evil.test", NULL, &error));
  assert_non_null (strstr (error->message, "no user id for mallory@evil.test"));
  g_clear_error (&error);
  /* Not a key. */
  {
    g_autoptr (GBytes) junk = g_bytes_new_static ("not a key at all", 16);
    assert_null (pst_pgp_autocrypt_import (other, junk, "alice@postern.test", NULL, &error));
    assert_non_null (error);
  }
  kill_home (g_steal_pointer (&home));
  kill_home (g_steal_pointer (&other));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse),
    cmocka_unit_test (test_corpus_header),
    cmocka_unit_test (test_update),
    cmocka_unit_test (test_recommend),
    cmocka_unit_test (test_keyring),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
