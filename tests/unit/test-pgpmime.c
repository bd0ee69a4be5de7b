/* Unit tests for mime/pgpmime.c and crypto/pgp.c: PGP/MIME round trips
 * between two throwaway GnuPG homes (alice and bob), made at test time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <glib/gstdio.h>

#include "crypto/pgp.h"
#include "mime/mime.h"
#include "mime/pgpmime.h"
#include "mime/reader.h"
#include "util/error.h"

#include "pgp-fixture.h"

/* --- tests --------------------------------------------------------------- */

static void
test_encrypt_sign_roundtrip (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = send_message (fx.alice, MSG, TRUE, TRUE, &error);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) self_plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(PstStatus) self_st = NULL;
  g_autoptr(PstMimeMessage) outer = NULL;
  g_autofree char *text = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *json = NULL;
  g_autofree char *expect = NULL;
  g_autofree char *self_text = NULL;

  assert_null (error);
  assert_non_null (out);
  assert_false (contains (out, "secret"));
  assert_false (contains (out, "Bcc:"));
  assert_true (contains (out, "\r\nSubject: ...\r\n"));   /* RFC 9788: the real one is inside */
  assert_false (contains (out, "Subject: Test"));
  assert_true (contains (out, "\r\nDate: "));
  assert_true (contains (out, "\r\nMessage-ID: <"));
  assert_true (contains (out, "MIME-Version: 1.0\r\n"));
  assert_true (contains (out, "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\""));
  assert_true (contains (out, "-----BEGIN PGP MESSAGE-----"));
  outer = pst_mime_message_parse (out, NULL);
  assert_non_null (outer);

  open_message (fx.bob, out, &plain, &st);
  text = body_text (plain);
  assert_string_equal (text, "Hello Bob, this is secret.\n");
  subject = header (plain, "Subject");
  assert_string_equal (subject, "Test");
  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_true (st->from_match);
  assert_string_equal (st->signer, ALICE);
  assert_string_equal (st->fingerprint, fx.alice_fpr);
  assert_int_equal (st->warnings->len, 0);
  assert_true (st->protected_headers);
  assert_false (contains (plain, "HP-Outer"));
  assert_false (contains (plain, "Subject: ..."));

  json = pst_status_to_json_string (st);
  expect = g_strdup_printf ("{\"scheme\":\"pgp\",\"decryption\":\"ok\",\"encryption_covers\":\"whole\","
                            "\"integrity\":\"ok\",\"signature\":{\"status\":\"good\",\"signer\":\"" ALICE "\","
                            "\"fingerprint\":\"%s\",\"from_match\":true,\"covers\":\"whole\"},"
                            "\"protected_headers\":true,\"warnings\":[]}", fx.alice_fpr);
  assert_string_equal (json, expect);

  /* encrypt-to-self */
  open_message (fx.alice, out, &self_plain, &self_st);
  self_text = body_text (self_plain);
  assert_string_equal (self_text, "Hello Bob, this is secret.\n");
  assert_int_equal (self_st->decryption, PST_DECRYPTION_OK);
}

/* gpg itself decrypts what we wrote, to the entity we meant. */
static void
test_gpg_interop (void **state)
{
  g_autoptr(GBytes) out = send_message (fx.alice, MSG, TRUE, TRUE, NULL);
  g_autoptr(GBytes) version = top_part (out, 0, TRUE);
  g_autoptr(GBytes) armor = top_part (out, 1, TRUE);
  g_autofree char *file = g_build_filename (fx.bob_home, "interop.asc", NULL);
  g_autofree char *plain = NULL;

  assert_non_null (out);
  assert_true (contains (version, "Version: 1"));
  write_file (fx.bob_home, "interop.asc", armor);
  assert_true (gpg (fx.bob_home, &plain, NULL, "--decrypt", file, NULL));
  /* the cryptographic payload root carries the protected headers (RFC 9788) */
  assert_true (g_str_has_prefix (plain, "Content-Type: text/plain; charset=us-ascii; hp=\"cipher\"\r\n"
                                        "From: Alice <" ALICE ">\r\n"
                                        "To: Bob <" BOB ">\r\n"
                                        "Subject: Test\r\n"
                                        "Date: "));
  assert_non_null (strstr (plain, "\r\nHP-Outer: Subject: ...\r\n"));
  assert_non_null (strstr (plain, "\r\nHP-Outer: From: Alice <" ALICE ">\r\n"));
  assert_null (strstr (plain, "Bcc"));
  assert_true (g_str_has_suffix (plain, "\r\n\r\nHello Bob, this is secret.\r\n"));
  g_unlink (file);
}

static void
test_sign_only (void **state)
{
  const char *text = "From: Alice <" ALICE ">\n"
                     "To: " BOB "\n"
                     "Subject: =?utf-8?q?sign=C3=A9?=\n"
                     "Content-Type: text/plain; charset=utf-8\n"
                     "\n"
                     "Grüße, trailing space \nFrom the start\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = send_message (fx.alice, text, FALSE, TRUE, &error);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) content = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autofree char *body = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *cfile = g_build_filename (fx.bob_home, "content", NULL);
  g_autofree char *sfile = g_build_filename (fx.bob_home, "content.sig", NULL);

  assert_null (error);
  assert_true (contains (out, "Content-Type: multipart/signed; micalg=pgp-sha"));
  assert_true (contains (out, "protocol=\"application/pgp-signature\""));
  assert_true (contains (out, "Content-Transfer-Encoding: quoted-printable"));
  open_message (fx.bob, out, &plain, &st);
  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_int_equal (st->encryption_covers, PST_COVERS_NONE);
  assert_int_equal (st->integrity, PST_INTEGRITY_NONE);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_true (st->from_match);
  body = body_text (plain);
  assert_string_equal (body, "Grüße, trailing space \nFrom the start\n");
  subject = header (plain, "Subject");
  assert_string_equal (subject, "signé");

  /* gpg agrees on the exact bytes signed. */
  content = top_part (out, 0, FALSE);
  sig = top_part (out, 1, TRUE);
  write_file (fx.bob_home, "content", content);
  write_file (fx.bob_home, "content.sig", sig);
  assert_true (gpg (fx.bob_home, NULL, NULL, "--verify", sfile, cfile, NULL));
  g_unlink (cfile);
  g_unlink (sfile);

  /* An empty keyring does not know the key. */
  {
    g_autoptr(PstPgp) empty = pst_pgp_new (fx.empty_home, NULL);
    g_autoptr(PstStatus) st2 = NULL;

    open_message (empty, out, NULL, &st2);
    assert_int_equal (st2->sig_status, PST_SIG_UNKNOWN_KEY);
    assert_false (st2->from_match);
    assert_null (st2->signer);
  }
}

static void
test_missing_keys (void **state)
{
  const char *text = "From: " ALICE "\r\nTo: carol@postern.test, " BOB "\r\n"
                     "Cc: Dave <dave@postern.test>\r\n\r\nhi\r\n";
  const char *const lookups[] = { "lice@postern.test", "ALICE@postern.test", "alice@POSTERN.TEST",
                                  "alice@postern", "alice", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = send_message (fx.alice, text, TRUE, TRUE, &error);
  g_auto(GStrv) missing = pst_pgpmime_missing_keys (fx.bob, lookups, NULL);
  g_autofree char *fpr = pst_pgp_find_key (fx.bob, "alice@POSTERN.test", FALSE, NULL);
  g_autoptr(GError) sec_error = NULL;
  g_autofree char *sec = pst_pgp_find_key (fx.bob, ALICE, TRUE, &sec_error);

  assert_null (out);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
  assert_string_equal (error->message, "no OpenPGP key for: carol@postern.test, dave@postern.test");

  /* substring and case-of-local-part matches are not matches */
  assert_int_equal (g_strv_length (missing), 4);
  assert_string_equal (missing[0], "lice@postern.test");
  assert_string_equal (missing[1], "ALICE@postern.test");
  assert_string_equal (missing[2], "alice@postern");
  assert_string_equal (missing[3], "alice");
  assert_string_equal (fpr, fx.alice_fpr);

  /* bob has alice's public key only */
  assert_null (sec);
  assert_true (g_error_matches (sec_error, PST_ERROR, PST_ERROR_POLICY));
}

static void
test_from_mismatch (void **state)
{
  const char *text = "From: Mallory <mallory@postern.test>\r\nTo: " BOB "\r\n\r\nI am alice\r\n";
  g_autoptr(GBytes) msg = bytes (text);
  const char *const to[] = { BOB, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = pst_pgpmime_protect (fx.alice, msg, ALICE, to, TRUE, TRUE, &error);
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) signed_out = pst_pgpmime_protect (fx.alice, msg, ALICE, to, FALSE, TRUE, NULL);
  g_autoptr(PstStatus) st2 = NULL;

  assert_null (error);
  open_message (fx.bob, out, NULL, &st);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_false (st->from_match);
  assert_string_equal (st->signer, ALICE);
  open_message (fx.bob, signed_out, NULL, &st2);
  assert_int_equal (st2->sig_status, PST_SIG_GOOD);
  assert_false (st2->from_match);
}

static GBytes *
tamper (GBytes *msg)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (msg, &len);
  char *copy = g_memdup2 (p, len);
  char *begin = g_strstr_len (copy, len, "-----BEGIN PGP MESSAGE-----");
  char *end = g_strstr_len (copy, len, "-----END PGP MESSAGE-----");
  char *mid;

  assert_non_null (begin);
  mid = begin + (end - begin) * 2 / 3;
  while (!g_ascii_isalnum (*mid))
    mid++;
  *mid = *mid == 'A' ? 'B' : 'A';
  return g_bytes_new_take (copy, len);
}

static void
test_tampered (void **state)
{
  g_autoptr(GBytes) out = send_message (fx.alice, MSG, TRUE, TRUE, NULL);
  g_autoptr(GBytes) bad = tamper (out);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;

  open_message (fx.bob, bad, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
  assert_int_equal (st->integrity, PST_INTEGRITY_FAILED);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  assert_true (g_bytes_equal (plain, bad));
  assert_false (contains (plain, "secret"));
}

/* A message without MDC: gpg refuses it, and so do we. */
static void
test_no_mdc (void **state)
{
  g_autofree char *entity = g_build_filename (fx.alice_home, "entity", NULL);
  g_autofree char *armor = NULL;
  g_autofree char *msg = NULL;
  g_autoptr(GBytes) m = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;

  assert_true (g_file_set_contents (entity, "Content-Type: text/plain\r\n\r\nno mdc secret\r\n", -1, NULL));
  assert_true (gpg (fx.alice_home, &armor, NULL, "--rfc2440", "--armor", "--trust-model", "always",
                    "--recipient", BOB, "--encrypt", "--output", "-", entity, NULL));
  g_unlink (entity);
  msg = g_strdup_printf ("From: " ALICE "\r\nTo: " BOB "\r\nMIME-Version: 1.0\r\n"
                         "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
                         "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
                         "--b\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--b--\r\n", armor);
  m = bytes (msg);
  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
  assert_int_equal (st->integrity, PST_INTEGRITY_MISSING);
  assert_true (g_bytes_equal (plain, m));
  assert_false (contains (plain, "no mdc secret"));
}

static void
test_wrapped_part (void **state)
{
  g_autoptr(GBytes) signed_out = send_message (fx.alice, MSG, FALSE, TRUE, NULL);
  g_autoptr(GBytes) enc_out = send_message (fx.alice, MSG, TRUE, TRUE, NULL);
  g_autofree char *signed_entity = top_entity (signed_out);
  g_autofree char *enc_entity = top_entity (enc_out);
  g_autofree char *wrapped = g_strdup_printf (
    "From: Alice <" ALICE ">\r\nTo: " BOB "\r\nSubject: Test\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "--outer\r\nContent-Type: text/plain\r\n\r\nPlease wire the money to the attacker.\r\n"
    "--outer\r\n%s\r\n--outer--\r\n", signed_entity);
  g_autofree char *wrapped_enc = g_strdup_printf (
    "From: Alice <" ALICE ">\r\nTo: " BOB "\r\nSubject: Test\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "--outer\r\nContent-Type: text/plain\r\n\r\nAdded text.\r\n"
    "--outer\r\n%s\r\n--outer--\r\n", enc_entity);
  g_autoptr(GBytes) w = bytes (wrapped);
  g_autoptr(GBytes) we = bytes (wrapped_enc);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) plain_enc = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(PstStatus) st_enc = NULL;

  open_message (fx.bob, w, &plain, &st);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_PART);
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_true (g_bytes_equal (plain, w));

  open_message (fx.bob, we, &plain_enc, &st_enc);
  assert_int_equal (st_enc->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st_enc->encryption_covers, PST_COVERS_PART);
  assert_int_equal (st_enc->sig_status, PST_SIG_GOOD);
  assert_int_equal (st_enc->sig_covers, PST_COVERS_PART);
  /* the decrypted part alone, never merged with the added text */
  {
    g_autofree char *t = body_text (plain_enc);
    g_autofree char *subj = header (plain_enc, "Subject");

    assert_string_equal (t, "Hello Bob, this is secret.\n");
    assert_false (contains (plain_enc, "Added text."));
    /* protected headers of a part do not replace the outer ones */
    assert_false (st_enc->protected_headers);
    assert_string_equal (subj, "Test");
  }
}

/* RFC 3156 §6.1: a multipart/signed inside the encryption counts as whole. */
static void
test_sign_then_encrypt (void **state)
{
  g_autoptr(GBytes) signed_out = send_message (fx.alice, MSG, FALSE, TRUE, NULL);
  g_autofree char *entity = top_entity (signed_out);
  g_autofree char *text = g_strconcat ("From: Alice <" ALICE ">\r\nTo: " BOB "\r\nSubject: Test\r\n",
                                       entity, NULL);
  g_autoptr(GBytes) msg = bytes (text);
  const char *const to[] = { BOB, NULL };
  g_autoptr(GBytes) out = pst_pgpmime_protect (fx.alice, msg, ALICE, to, TRUE, FALSE, NULL);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *body = NULL;

  assert_non_null (out);
  open_message (fx.bob, out, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_true (st->from_match);
  body = body_text (plain);
  assert_string_equal (body, "Hello Bob, this is secret.\n");

  /* encrypt, then sign: the outer signature is not the verdict */
  {
    g_autoptr(GBytes) enc = pst_pgpmime_protect (fx.alice, msg, ALICE, to, TRUE, FALSE, NULL);
    g_autofree char *enc_entity = top_entity (enc);
    g_autofree char *text2 = g_strconcat ("From: Alice <" ALICE ">\r\nTo: " BOB "\r\n", enc_entity, NULL);
    g_autoptr(GBytes) msg2 = bytes (text2);
    g_autoptr(GBytes) ets = pst_pgpmime_protect (fx.alice, msg2, ALICE, to, FALSE, TRUE, NULL);
    g_autoptr(PstStatus) st2 = NULL;
    g_autoptr(GBytes) plain2 = NULL;
    g_autofree char *body2 = NULL;

    assert_non_null (ets);
    open_message (fx.bob, ets, &plain2, &st2);
    assert_int_equal (st2->decryption, PST_DECRYPTION_OK);
    assert_int_equal (st2->encryption_covers, PST_COVERS_WHOLE);
    /* the signed entity inside the encryption still decides */
    assert_int_equal (st2->sig_status, PST_SIG_GOOD);
    assert_int_equal (st2->sig_covers, PST_COVERS_WHOLE);
    assert_true (has_warning (st2, "outer-signature-ignored"));
    body2 = body_text (plain2);
    assert_string_equal (body2, "Hello Bob, this is secret.\n");
  }
}

/* Signed now, dated long ago (old mail re-sent): only a warning
 * (DESIGN.md §4 as updated); the future case is test-status.c's. */
static void
test_date_mismatch (void **state)
{
  const char *text = "From: " ALICE "\r\nTo: " BOB "\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nold\r\n";
  g_autoptr(GBytes) out = send_message (fx.alice, text, FALSE, TRUE, NULL);
  g_autoptr(PstStatus) st = NULL;

  open_message (fx.bob, out, NULL, &st);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_true (st->from_match);
  assert_true (has_warning (st, "date-differs"));
  assert_false (has_warning (st, "date-mismatch"));
}

static void
test_weak_digest (void **state)
{
  const char *entity = "Content-Type: text/plain\r\n\r\nsigned with sha1\r\n";
  g_autofree char *file = g_build_filename (fx.alice_home, "weak", NULL);
  g_autofree char *sig = NULL;
  g_autofree char *msg = NULL;
  g_autoptr(GBytes) m = NULL;
  g_autoptr(PstStatus) st = NULL;

  assert_true (g_file_set_contents (file, entity, -1, NULL));
  assert_true (gpg (fx.alice_home, &sig, NULL, "--digest-algo", "SHA1", "--armor", "--local-user", ALICE,
                    "--detach-sign", "--output", "-", file, NULL));
  g_unlink (file);
  msg = g_strdup_printf ("From: " ALICE "\r\nTo: " BOB "\r\nMIME-Version: 1.0\r\n"
                         "Content-Type: multipart/signed; micalg=pgp-sha1; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n"
                         "--b\r\n%s\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\n%s\r\n--b--\r\n",
                         entity, sig);
  m = bytes (msg);
  open_message (fx.bob, m, NULL, &st);
  assert_int_equal (st->sig_status, PST_SIG_BAD);
  assert_true (has_warning (st, "weak-digest"));
  assert_true (st->from_match);
}

static void
test_plain_and_bad_input (void **state)
{
  g_autoptr(GBytes) msg = bytes ("From: a@example.org\r\nSubject: plain\r\n\r\nplain text\r\n");
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) junk = bytes ("hello world\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) perror = NULL;
  g_autofree char *json = NULL;
  const char *const to[] = { BOB, NULL };
  g_autoptr(GBytes) p2 = NULL;
  g_autoptr(PstStatus) st2 = NULL;

  open_message (fx.bob, msg, &plain, &st);
  assert_true (g_bytes_equal (plain, msg));
  json = pst_status_to_json_string (st);
  assert_string_equal (json,
    "{\"scheme\":null,\"decryption\":\"not-encrypted\",\"encryption_covers\":\"none\","
    "\"integrity\":null,\"signature\":{\"status\":\"none\",\"signer\":null,"
    "\"fingerprint\":null,\"from_match\":false,\"covers\":\"none\"},"
    "\"protected_headers\":false,\"warnings\":[]}");

  assert_false (pst_message_open (fx.bob, NULL, junk, &p2, &st2, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  assert_null (p2);
  assert_null (pst_pgpmime_protect (fx.alice, junk, ALICE, to, TRUE, TRUE, &perror));
  assert_true (g_error_matches (perror, PST_ERROR, PST_ERROR_FAILED));

  /* a multipart/encrypted that holds garbage */
  {
    g_autoptr(GBytes) g = bytes ("From: a@example.org\r\nContent-Type: multipart/encrypted; "
                                 "protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
                                 "--b\r\n\r\nVersion: 1\r\n--b\r\n\r\nnot openpgp\r\n--b--\r\n");
    g_autoptr(PstStatus) st3 = NULL;
    g_autoptr(GBytes) p3 = NULL;

    open_message (fx.bob, g, &p3, &st3);
    assert_int_equal (st3->decryption, PST_DECRYPTION_FAILED);
    assert_true (g_bytes_equal (p3, g));
  }
  /* a multipart/signed whose signature part is garbage */
  {
    g_autoptr(GBytes) g = bytes ("From: a@example.org\r\nContent-Type: multipart/signed; "
                                 "protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n"
                                 "--b\r\n\r\ntext\r\n--b\r\n\r\nnot a signature\r\n--b--\r\n");
    g_autoptr(PstStatus) st4 = NULL;

    open_message (fx.bob, g, NULL, &st4);
    assert_int_equal (st4->sig_status, PST_SIG_ERROR);
    assert_int_equal (st4->sig_covers, PST_COVERS_WHOLE);
  }
}


/* RFC 9788: the Subject and the other headers travel inside; the outside
 * says "..."; the reader gets the real ones back. */
static void
test_header_protection (void **state)
{
  const char *text = "From: Alice <" ALICE ">\r\n"
                     "To: Bob <" BOB ">\r\n"
                     "Cc: carol@postern.test\r\n"
                     "Subject: The real subject\r\n"
                     "Reply-To: " ALICE "\r\n"
                     "In-Reply-To: <1@postern.test>\r\n"
                     "References: <0@postern.test> <1@postern.test>\r\n"
                     "X-Mailer: test\r\n"
                     "\r\n"
                     "Hello.\r\n";
  g_autoptr(GBytes) msg = bytes (text);
  const char *const to[] = { BOB, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = pst_pgpmime_protect (fx.alice, msg, ALICE, to, TRUE, TRUE, &error);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(PstMimeMessage) outer = NULL;
  g_autoptr(PstMimeMessage) shown = NULL;
  g_autofree char *outer_subject = NULL;
  g_autofree char *outer_to = NULL;
  g_autofree char *body = NULL;

  assert_null (error);
  outer = pst_mime_message_parse (out, NULL);
  outer_subject = pst_mime_message_get_header (outer, "Subject");
  outer_to = pst_mime_message_get_header (outer, "To");
  assert_string_equal (outer_subject, "...");
  assert_string_equal (outer_to, "Bob <" BOB ">");   /* other outer headers stay */
  assert_false (contains (out, "real subject"));

  open_message (fx.bob, out, &plain, &st);
  assert_true (st->protected_headers);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_true (st->from_match);
  shown = pst_mime_message_parse (plain, NULL);
  {
    const char *names[] = { "Subject", "From", "To", "Cc", "Reply-To", "In-Reply-To", "References", "Date",
                            "Message-ID", NULL };
    const char *want[] = { "The real subject", "Alice <" ALICE ">", "Bob <" BOB ">", "carol@postern.test",
                           ALICE, "<1@postern.test>", "<0@postern.test> <1@postern.test>", NULL, NULL };

    for (guint i = 0; names[i] != NULL; i++)
      {
        g_autofree char *v = pst_mime_message_get_header (shown, names[i]);
        g_autofree char *o = pst_mime_message_get_header (outer, names[i]);

        assert_non_null (v);
        if (want[i] != NULL)
          assert_string_equal (v, want[i]);
        else
          assert_string_equal (v, o);   /* the generated Date and Message-ID are the same inside and out */
      }
  }
  /* an unprotected outer field is not shown next to protected ones */
  {
    g_autofree char *x = pst_mime_message_get_header (shown, "X-Mailer");
    assert_null (x);
  }
  body = pst_mime_message_get_body_text (shown);
  assert_string_equal (body, "Hello.\n");
  assert_false (contains (plain, "HP-Outer"));
}

/* Headers added or changed outside a protected message are not shown. */
static void
test_header_protection_outer_tampered (void **state)
{
  g_autoptr(GBytes) out = send_message (fx.alice, MSG, TRUE, TRUE, NULL);
  g_autofree char *text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  g_autofree char *evil = NULL;
  g_autoptr(GBytes) e = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *reply = NULL;
  char *pos = strstr (text, "Subject: ...\r\n");

  assert_non_null (pos);
  memcpy (pos, "Subject: !!!", 12);
  evil = g_strconcat ("Reply-To: mallory@evil.test\r\nReceived: from x by y\r\n", text, NULL);
  e = bytes (evil);
  open_message (fx.bob, e, &plain, &st);
  assert_true (st->protected_headers);
  subject = header (plain, "Subject");
  assert_string_equal (subject, "Test");
  reply = header (plain, "Reply-To");
  assert_null (reply);
  assert_true (contains (plain, "Received: from x by y\r\n"));   /* trace fields stay */
}

/* Signed only: hp="clear", the headers inside the signed part, the outer
 * Subject unchanged; the signed ones win over a changed outside. */
static void
test_header_protection_signed (void **state)
{
  g_autoptr(GBytes) out = send_message (fx.alice, MSG, FALSE, TRUE, NULL);
  g_autoptr(GBytes) content = top_part (out, 0, FALSE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  char *pos;

  assert_true (contains (out, "\r\nSubject: Test\r\n"));
  assert_true (contains (content, "hp=\"clear\""));
  assert_true (contains (content, "\r\nSubject: Test\r\n"));
  assert_false (contains (content, "HP-Outer"));
  assert_false (contains (content, "Bcc"));
  open_message (fx.bob, out, &plain, &st);
  assert_true (st->protected_headers);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);

  /* the outer Subject changed in transit: the signed one is shown */
  pos = strstr (text, "Subject: Test\r\n");
  assert_non_null (pos);
  memcpy (pos, "Subject: Evil", 13);
  {
    g_autoptr(GBytes) e = bytes (text);
    g_autoptr(GBytes) p2 = NULL;
    g_autoptr(PstStatus) st2 = NULL;
    g_autofree char *subject = NULL;

    open_message (fx.bob, e, &p2, &st2);
    assert_true (st2->protected_headers);
    assert_int_equal (st2->sig_status, PST_SIG_GOOD);
    subject = header (p2, "Subject");
    assert_string_equal (subject, "Test");
  }
  /* the inner Subject changed: the signature is bad, the inner headers are not used */
  pos = strstr (text, "Subject: Test\r\n");
  assert_non_null (pos);
  memcpy (pos, "Subject: Bad!", 13);
  {
    g_autoptr(GBytes) e = bytes (text);
    g_autoptr(GBytes) p3 = NULL;
    g_autoptr(PstStatus) st3 = NULL;
    g_autofree char *subject = NULL;

    open_message (fx.bob, e, &p3, &st3);
    assert_int_equal (st3->sig_status, PST_SIG_BAD);
    assert_false (st3->protected_headers);
    subject = header (p3, "Subject");
    assert_string_equal (subject, "Evil");   /* the outer one */
    assert_false (contains (p3, "Bad!"));
  }
  /* an unknown signer: not a good signature, the outer headers stay */
  {
    g_autoptr(PstPgp) empty = pst_pgp_new (fx.empty_home, NULL);
    g_autoptr(PstStatus) st4 = NULL;
    g_autoptr(GBytes) p4 = NULL;

    open_message (empty, out, &p4, &st4);
    assert_int_equal (st4->sig_status, PST_SIG_UNKNOWN_KEY);
    assert_false (st4->protected_headers);
  }
}

/* A signed inner From that is not the signer's: the protected header is
 * not shown (its signature does not match its From), the outer From
 * stays, and with two different From values there is no one From the
 * signer could match. */
static void
test_header_protection_from (void **state)
{
  g_autoptr(GBytes) m = encrypt_entity ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\n",
                                        "Content-Type: text/plain; hp=\"cipher\"\r\n"
                                        "From: mallory@evil.test\r\nTo: " BOB "\r\nSubject: hi\r\n"
                                        "\r\nbody\r\n", TRUE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *from = NULL;
  g_autofree char *subject = NULL;
  const PstHeaderMismatch *mm;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_false (st->from_match);
  assert_true (has_warning (st, "header-mismatch"));
  from = header (plain, "From");
  assert_string_equal (from, ALICE);
  subject = header (plain, "Subject");
  assert_string_equal (subject, "hi");
  assert_int_equal (st->header_mismatches->len, 1);
  mm = st->header_mismatches->pdata[0];
  assert_string_equal (mm->field, "From");
  assert_string_equal (mm->shown, ALICE);
  assert_string_equal (mm->inner, "mallory@evil.test");
}

/* The older draft (protected-headers="v1") and its legacy display part are
 * accepted: the inner fields replace the outer ones of the same name, the
 * legacy display part is not shown. */
static void
test_header_protection_legacy (void **state)
{
  g_autoptr(GBytes) m = encrypt_entity (
    "From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\nX-Outer: kept\r\n",
    "Content-Type: multipart/mixed; boundary=\"x\"; protected-headers=\"v1\"\r\n"
    "Subject: Secret v1\r\n"
    "\r\n"
    "--x\r\n"
    "Content-Type: text/rfc822-headers; protected-headers=\"v1\"\r\n"
    "Content-Disposition: inline\r\n\r\n"
    "Subject: Secret v1\r\n"
    "\r\n--x\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "The body.\r\n"
    "--x--\r\n", TRUE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *kept = NULL;
  g_autofree char *body = NULL;
  g_autoptr(PstMimeMessage) pm = NULL;
  g_autoptr(GPtrArray) att = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_true (st->protected_headers);
  assert_true (st->from_match);
  subject = header (plain, "Subject");
  assert_string_equal (subject, "Secret v1");
  kept = header (plain, "X-Outer");
  assert_string_equal (kept, "kept");
  body = body_text (plain);
  assert_string_equal (body, "The body.");   /* the last line end belongs to the delimiter */
  assert_false (contains (plain, "text/rfc822-headers"));
  pm = pst_mime_message_parse (plain, NULL);
  att = pst_mime_message_get_attachments (pm);
  assert_int_equal (att->len, 0);
}

/* RFC 9788 legacy display element: the header block at the top of the text
 * part marked hp-legacy-display is not shown as body text. */
static void
test_header_protection_legacy_display (void **state)
{
  g_autoptr(GBytes) m = encrypt_entity (
    "From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\n",
    "Content-Type: multipart/alternative; boundary=\"y\"; hp=\"cipher\"\r\n"
    "From: " ALICE "\r\nTo: " BOB "\r\nSubject: Real\r\nHP-Outer: Subject: ...\r\n"
    "\r\n"
    "--y\r\n"
    "Content-Type: text/plain; charset=utf-8; hp-legacy-display=\"1\"\r\n\r\n"
    "Subject: Real\r\n"
    "\r\n"
    "Body text.\r\n"
    "--y\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n"
    "<p>Body text.</p>\r\n"
    "--y--\r\n", FALSE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *body = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_true (st->protected_headers);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  subject = header (plain, "Subject");
  assert_string_equal (subject, "Real");
  body = body_text (plain);
  assert_string_equal (body, "Body text.");
  assert_true (contains (plain, "<p>Body text.</p>"));
}

/* The Autocrypt Level 1 example, written by another implementation. */
static void
test_autocrypt_corpus (void **state)
{
  const char *dir = SRCDIR "/../../../shared/corpus/autocrypt";

  /* cmocka's skip() reports "not ok # SKIP", which meson counts as a
   * failure: say so and return instead. */
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("# skipped: the shared corpus is absent (%s)\n", dir);
      return;
    }
  g_autofree char *eml = g_build_filename (dir, "example-gossip.eml", NULL);
  g_autofree char *clear = g_build_filename (dir, "example-gossip-cleartext.eml", NULL);
  g_autofree char *bob_sec = g_build_filename (dir, "bob@autocrypt.example.sec.asc", NULL);
  g_autofree char *alice_pub = g_build_filename (dir, "alice@autocrypt.example.pub.asc", NULL);
  g_autofree char *home = NULL;
  g_autofree char *raw = NULL;
  g_autofree char *clear_raw = NULL;
  gsize raw_len = 0, clear_len = 0;
  g_autoptr(GBytes) msg = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *got = NULL;
  g_autofree char *want = NULL;

  assert_true (g_file_get_contents (eml, &raw, &raw_len, NULL));
  assert_true (g_file_get_contents (clear, &clear_raw, &clear_len, NULL));
  home = make_home ();
  assert_true (gpg (home, NULL, NULL, "--import", bob_sec, alice_pub, NULL));
  {
    g_autoptr(PstPgp) pgp = pst_pgp_new (home, NULL);

    msg = g_bytes_new (raw, raw_len);
    open_message (pgp, msg, &plain, &st);
  }
  kill_home (g_steal_pointer (&home));
  {
    /* the cleartext file starts with a folded field; parse it as a message all the same */
    g_autofree char *with_from = g_strconcat ("X-Test: 1\n", clear_raw, NULL);
    g_autoptr(GBytes) wf = bytes (with_from);

    want = body_text (wf);
  }
  got = body_text (plain);
  assert_string_equal (got, want);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);
  assert_int_equal (st->sig_status, PST_SIG_EXPIRED_KEY);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_string_equal (st->signer, "alice@autocrypt.example");
  assert_true (st->from_match);
  assert_string_equal (st->fingerprint, "EB85BB5FA33A75E15E944E63F231550C4F47E38E");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_encrypt_sign_roundtrip),
    cmocka_unit_test (test_gpg_interop),
    cmocka_unit_test (test_sign_only),
    cmocka_unit_test (test_missing_keys),
    cmocka_unit_test (test_from_mismatch),
    cmocka_unit_test (test_tampered),
    cmocka_unit_test (test_no_mdc),
    cmocka_unit_test (test_wrapped_part),
    cmocka_unit_test (test_sign_then_encrypt),
    cmocka_unit_test (test_date_mismatch),
    cmocka_unit_test (test_weak_digest),
    cmocka_unit_test (test_plain_and_bad_input),
    cmocka_unit_test (test_header_protection),
    cmocka_unit_test (test_header_protection_outer_tampered),
    cmocka_unit_test (test_header_protection_signed),
    cmocka_unit_test (test_header_protection_from),
    cmocka_unit_test (test_header_protection_legacy),
    cmocka_unit_test (test_header_protection_legacy_display),
    cmocka_unit_test (test_autocrypt_corpus),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
