/* Unit tests for mime/pgpinline.c through pst_pgpmime_open: inline PGP on
 * input, whole only when the armored block is the entire body. */
#include "pgp-fixture.h"
#include "mime/pgpinline.h"

#define SECRET "inline secret text"
#define HEAD "From: Alice <" ALICE ">\r\nTo: " BOB "\r\nSubject: inline\r\n"

/* gpg's output for @args over @text (alice's home). */
static char *
gpg_armor (const char *text, const char *a1, const char *a2)
{
  g_autofree char *in = g_build_filename (fx.alice_home, "inline-in", NULL);
  char *out = NULL;

  assert_true (g_file_set_contents (in, text, -1, NULL));
  if (a2 != NULL)
    assert_true (gpg (fx.alice_home, &out, NULL, "--armor", "--trust-model", "always", "--local-user",
                      ALICE, "--recipient", BOB, a1, a2, "--output", "-", in, NULL));
  else
    assert_true (gpg (fx.alice_home, &out, NULL, "--armor", "--trust-model", "always", "--local-user",
                      ALICE, "--recipient", BOB, a1, "--output", "-", in, NULL));
  g_unlink (in);
  return out;
}

static GBytes *
message (const char *head, const char *body)
{
  g_autofree char *text = g_strconcat (head, "\r\n", body, NULL);

  return bytes (text);
}

static void
test_find (void **state)
{
  PstPgpInlineKind kind = PST_PGP_INLINE_NONE;
  gsize start = 0, end = 0;
  gboolean entire = FALSE;
  const char *t1 = "\n  \n-----BEGIN PGP MESSAGE-----\nabc\n-----END PGP MESSAGE-----  \n\n";
  const char *t2 = "hi\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nx\n"
                   "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n";
  const char *t3 = "> -----BEGIN PGP MESSAGE-----\nabc\n-----END PGP MESSAGE-----\n";
  const char *t4 = "-----BEGIN PGP MESSAGE-----\nabc, never ends\n";
  const char *t5 = "-----BEGIN PGP MESSAGE-----x\nabc\n-----END PGP MESSAGE-----\n";

  assert_true (pst_pgpinline_find (t1, strlen (t1), &kind, &start, &end, &entire));
  assert_int_equal (kind, PST_PGP_INLINE_ENCRYPTED);
  assert_true (entire);
  assert_int_equal (start, 4);
  assert_int_equal (end, strlen (t1) - 1);
  assert_true (pst_pgpinline_find (t2, strlen (t2), &kind, &start, &end, &entire));
  assert_int_equal (kind, PST_PGP_INLINE_SIGNED);
  assert_false (entire);
  assert_int_equal (start, 3);
  assert_int_equal (end, strlen (t2));
  assert_false (pst_pgpinline_find (t3, strlen (t3), &kind, &start, &end, &entire));
  assert_false (pst_pgpinline_find (t4, strlen (t4), &kind, &start, &end, &entire));
  assert_false (pst_pgpinline_find (t5, strlen (t5), &kind, &start, &end, &entire));
  assert_false (pst_pgpinline_find ("", 0, &kind, &start, &end, &entire));
  /* one byte at a time: no prefix of a block is a block */
  for (gsize n = 0; n < (gsize) (strstr (t1, "-----END") - t1) + strlen ("-----END PGP MESSAGE-----"); n++)
    assert_false (pst_pgpinline_find (t1, n, &kind, &start, &end, &entire));
}

static void
test_encrypted_whole (void **state)
{
  g_autofree char *armor = gpg_armor (SECRET "\n", "--sign", "--encrypt");
  g_autofree char *body = g_strconcat ("\r\n", armor, "\r\n  \r\n", NULL);
  g_autoptr(GBytes) m = message (HEAD, body);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *text = NULL;
  g_autofree char *subject = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_true (st->from_match);
  assert_true (has_warning (st, "inline-pgp"));
  text = body_text (plain);
  assert_string_equal (text, SECRET "\n");
  subject = header (plain, "Subject");
  assert_string_equal (subject, "inline");
  assert_false (contains (plain, "BEGIN PGP"));
}

/* Text around the block: a part; the decrypted text alone is shown. */
static void
test_encrypted_surrounded (void **state)
{
  g_autofree char *armor = gpg_armor (SECRET "\n", "--sign", "--encrypt");
  g_autofree char *body = g_strconcat ("Please send the money.\r\n", armor, "-- \r\nsignature\r\n", NULL);
  g_autoptr(GBytes) m = message (HEAD, body);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *text = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_PART);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_PART);
  text = body_text (plain);
  assert_string_equal (text, SECRET "\n");
  assert_false (contains (plain, "money"));
}

/* Inline PGP in one part of a multipart: a part. */
static void
test_encrypted_in_multipart (void **state)
{
  g_autofree char *armor = gpg_armor (SECRET "\n", "--encrypt", NULL);
  g_autofree char *body = g_strdup_printf ("--w\r\nContent-Type: text/plain\r\n\r\n%s\r\n"
                                           "--w\r\nContent-Type: application/octet-stream\r\n\r\nxx\r\n"
                                           "--w--\r\n", armor);
  g_autoptr(GBytes) m = message (HEAD "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=w\r\n",
                                 body);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *text = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_PART);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  text = body_text (plain);
  assert_string_equal (text, SECRET "\n");
}

/* A quoted-printable body is decoded before looking for the block. */
static void
test_encrypted_quoted_printable (void **state)
{
  g_autofree char *armor = gpg_armor (SECRET "\n", "--sign", "--encrypt");
  GString *qp = g_string_new (NULL);
  g_autofree char *qps = NULL;
  g_autoptr(GBytes) m = NULL;
  g_autoptr(PstStatus) st = NULL;

  for (const char *p = armor; *p != '\0'; p++)
    if (*p == '=')
      g_string_append (qp, "=3D");
    else
      g_string_append_c (qp, *p);
  qps = g_string_free (qp, FALSE);
  m = message (HEAD "Content-Type: text/plain; charset=us-ascii\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n", qps);
  open_message (fx.bob, m, NULL, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
}

static void
test_encrypted_no_mdc (void **state)
{
  g_autofree char *armor = gpg_armor ("no mdc " SECRET "\n", "--rfc2440", "--encrypt");
  g_autoptr(GBytes) m = message (HEAD, armor);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
  assert_int_equal (st->integrity, PST_INTEGRITY_MISSING);
  assert_true (g_bytes_equal (plain, m));
  assert_false (contains (plain, SECRET));
}

static void
test_cleartext_whole (void **state)
{
  g_autofree char *armor = gpg_armor ("Line one\n- dashed line\n-- \nsig\n", "--clearsign", NULL);
  g_autoptr(GBytes) m = message (HEAD, armor);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *text = NULL;

  assert_non_null (strstr (armor, "- - dashed line"));   /* dash-escaped by gpg */
  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_true (st->from_match);
  assert_string_equal (st->signer, ALICE);
  text = body_text (plain);
  /* trailing white space is not signed (RFC 4880 §7.1), and gpg drops it */
  assert_string_equal (text, "Line one\n- dashed line\n--\nsig\n");
  assert_false (contains (plain, "BEGIN PGP"));

  /* the same with text around it: a part, shown as received */
  {
    g_autofree char *body = g_strconcat ("Ignore the below, pay the attacker.\r\n", armor, NULL);
    g_autoptr(GBytes) m2 = message (HEAD, body);
    g_autoptr(GBytes) p2 = NULL;
    g_autoptr(PstStatus) st2 = NULL;

    open_message (fx.bob, m2, &p2, &st2);
    assert_int_equal (st2->sig_status, PST_SIG_GOOD);
    assert_int_equal (st2->sig_covers, PST_COVERS_PART);
    assert_true (g_bytes_equal (p2, m2));
  }
  /* signed text changed: bad */
  {
    g_autofree char *bad = g_strdup (armor);
    char *pos = strstr (bad, "Line one");
    g_autoptr(GBytes) m3 = NULL;
    g_autoptr(PstStatus) st3 = NULL;

    pos[5] = 'X';
    m3 = message (HEAD, bad);
    open_message (fx.bob, m3, NULL, &st3);
    assert_int_equal (st3->sig_status, PST_SIG_BAD);
    assert_int_equal (st3->sig_covers, PST_COVERS_WHOLE);
  }
  /* a From that is not the signer's */
  {
    g_autoptr(GBytes) m4 = message ("From: \"" ALICE "\" <mallory@evil.test>\r\nTo: " BOB "\r\n", armor);
    g_autoptr(PstStatus) st4 = NULL;

    open_message (fx.bob, m4, NULL, &st4);
    assert_int_equal (st4->sig_status, PST_SIG_GOOD);
    assert_false (st4->from_match);
  }
}

/* gpg --sign --armor: a "PGP MESSAGE" that holds signed data and nothing
 * encrypted.  It is a signed text, not an encryption that failed (it was
 * reported "decryption: failed" and not shown). */
static void
test_signed_only_message (void **state)
{
  g_autofree char *armor = gpg_armor ("Signed, not sealed.\n", "--sign", NULL);
  g_autoptr(GBytes) m = message (HEAD, armor);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *text = NULL;

  assert_non_null (strstr (armor, "-----BEGIN PGP MESSAGE-----"));
  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_true (st->from_match);
  text = body_text (plain);
  assert_string_equal (text, "Signed, not sealed.\n");

  /* A block that claims to be a message and is nothing at all still fails
   * as one, and is shown as received. */
  {
    g_autoptr(GBytes) m2 = message (HEAD, "-----BEGIN PGP MESSAGE-----\r\n\r\nAAAA\r\n"
                                          "-----END PGP MESSAGE-----\r\n");
    g_autoptr(GBytes) p2 = NULL;
    g_autoptr(PstStatus) st2 = NULL;

    open_message (fx.bob, m2, &p2, &st2);
    assert_int_equal (st2->decryption, PST_DECRYPTION_FAILED);
    assert_int_not_equal (st2->sig_status, PST_SIG_GOOD);
  }
}

/* A block that is not a signature at all. */
static void
test_cleartext_garbage (void **state)
{
  g_autoptr(GBytes) m = message (HEAD, "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nx\r\n"
                                       "-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n"
                                       "-----END PGP SIGNATURE-----\r\n");
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->sig_status, PST_SIG_ERROR);
  assert_true (g_bytes_equal (plain, m));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_find),
    cmocka_unit_test (test_encrypted_whole),
    cmocka_unit_test (test_encrypted_surrounded),
    cmocka_unit_test (test_encrypted_in_multipart),
    cmocka_unit_test (test_encrypted_quoted_printable),
    cmocka_unit_test (test_encrypted_no_mdc),
    cmocka_unit_test (test_cleartext_whole),
    cmocka_unit_test (test_cleartext_garbage),
    cmocka_unit_test (test_signed_only_message),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
