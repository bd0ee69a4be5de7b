/* Unit tests for the verdict rules of DESIGN.md §4 that concern the header
 * shown (mime/hp.c, shared by both schemes) and the message's framing, on
 * OpenPGP messages built at test time (pgp-fixture.h):
 *   - protected headers are shown only under a good, whole signature that
 *     matches the protected From; encryption alone keeps the outer From,
 *     To, Cc and Reply-To (warning header-mismatch), the Subject may come
 *     from inside;
 *   - exactly one From field with one mailbox, else from_match false;
 *   - a stripped signature part is an error;
 *   - a leading mbox "From " line is skipped;
 *   - notmuch's protected-headers corpus cases, as equivalent messages:
 *     a whole message wrapped as message/rfc822 (forwarded="no") inside
 *     the encryption, and an encrypted part inside a multipart/mixed;
 *   - a cleartext-signed (inline) message is not encrypted, and verified. */
#include "pgp-fixture.h"

#include "crypto/status.h"
#include "mime/reader.h"

#define MALLORY "mallory@evil.test"

static GBytes *
open_plain (GBytes *msg, PstStatus **st)
{
  GBytes *plain = NULL;

  open_message (fx.bob, msg, &plain, st);
  return plain;
}

static const PstHeaderMismatch *
mismatch (PstStatus *st, const char *field)
{
  for (guint i = 0; i < st->header_mismatches->len; i++)
    if (g_str_equal (((PstHeaderMismatch *) st->header_mismatches->pdata[i])->field, field))
      return st->header_mismatches->pdata[i];
  return NULL;
}

/* Encrypted by anyone, unsigned: the protected header names the CEO, the
 * outside Mallory.  Mallory stays the sender shown (and stored, since the
 * agent stores what is shown); the inner value is reported. */
static void
test_unsigned_inner_from (void **state)
{
  g_autoptr(GBytes) m = encrypt_entity ("From: " MALLORY "\r\nTo: " BOB "\r\nSubject: ...\r\n",
                                        "Content-Type: text/plain; hp=\"cipher\"\r\n"
                                        "From: CEO <" ALICE ">\r\nTo: " BOB "\r\n"
                                        "Reply-To: " ALICE "\r\nSubject: Wire the money\r\n"
                                        "\r\nPlease.\r\n", FALSE);
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) plain = open_plain (m, &st);
  g_autofree char *from = header (plain, "From");
  g_autofree char *reply = header (plain, "Reply-To");
  g_autofree char *subject = header (plain, "Subject");
  const PstHeaderMismatch *f = mismatch (st, "From");
  const PstHeaderMismatch *r = mismatch (st, "Reply-To");

  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  assert_string_equal (from, MALLORY);
  assert_null (reply);
  assert_false (contains (plain, "CEO"));
  assert_string_equal (subject, "Wire the money");   /* the Subject may come from inside */
  assert_true (st->protected_headers);
  assert_true (has_warning (st, "header-mismatch"));
  assert_non_null (f);
  assert_string_equal (f->shown, MALLORY);
  assert_string_equal (f->inner, "CEO <" ALICE ">");
  assert_non_null (r);
  assert_null (r->shown);
  assert_string_equal (r->inner, ALICE);
  assert_null (mismatch (st, "To"));   /* the same on both sides */
}

/* The signed counterpart: a good signature by the protected From, over the
 * whole message: the protected header is the one shown. */
static void
test_signed_inner_from (void **state)
{
  g_autoptr(GBytes) m = encrypt_entity ("From: " MALLORY "\r\nTo: " BOB "\r\nSubject: ...\r\n",
                                        "Content-Type: text/plain; hp=\"cipher\"\r\n"
                                        "From: CEO <" ALICE ">\r\nTo: " BOB "\r\nSubject: Wire the money\r\n"
                                        "\r\nPlease.\r\n", TRUE);
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) plain = open_plain (m, &st);
  g_autofree char *from = header (plain, "From");

  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_true (st->from_match);
  assert_true (st->protected_headers);
  assert_string_equal (from, "CEO <" ALICE ">");
  assert_false (has_warning (st, "header-mismatch"));
  assert_false (contains (plain, MALLORY));
}

/* Two From fields (Eve's first), or one with two mailboxes, or one with
 * junk after the mailbox: from_match is false on every path. */
static void
test_several_from (void **state)
{
  const char *outers[] = {
    "From: eve@evil.test\r\nFrom: " ALICE "\r\nTo: " BOB "\r\n",
    "From: eve@evil.test, " ALICE "\r\nTo: " BOB "\r\n",
    "From: eve@evil.test " ALICE "\r\nTo: " BOB "\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (outers); i++)
    {
      /* encrypted and signed, header protected with the one From inside */
      g_autofree char *hp = g_strconcat ("Content-Type: text/plain; hp=\"cipher\"\r\n"
                                         "From: " ALICE "\r\nTo: " BOB "\r\nSubject: hi\r\n\r\nhello\r\n",
                                         NULL);
      g_autofree char *outer_sub = g_strconcat (outers[i], "Subject: ...\r\n", NULL);
      g_autoptr(GBytes) e1 = encrypt_entity (outer_sub, hp, TRUE);
      /* encrypted and signed, no header protection */
      g_autoptr(GBytes) e2 = encrypt_entity (outer_sub, "Content-Type: text/plain\r\n\r\nhello\r\n", TRUE);
      g_autoptr(PstStatus) s1 = NULL, s2 = NULL;
      g_autoptr(GBytes) p1 = open_plain (e1, &s1);
      g_autoptr(GBytes) p2 = open_plain (e2, &s2);

      assert_int_equal (s1->sig_status, PST_SIG_GOOD);
      if (s1->from_match)
        fail_msg ("outer %u: from_match with %s", i, s1->signer);
      assert_int_equal (s2->sig_status, PST_SIG_GOOD);
      assert_false (s2->from_match);
      assert_true (contains (p1, "eve@evil.test"));   /* the outside stays shown */
    }
  /* and with the two Froms inside, under one good From outside */
  {
    g_autoptr(GBytes) e = encrypt_entity ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\n",
                                          "Content-Type: text/plain; hp=\"cipher\"\r\n"
                                          "From: eve@evil.test\r\nFrom: " ALICE "\r\nSubject: hi\r\n"
                                          "\r\nhello\r\n", TRUE);
    g_autoptr(PstStatus) st = NULL;
    g_autoptr(GBytes) p = open_plain (e, &st);

    assert_int_equal (st->sig_status, PST_SIG_GOOD);
    assert_false (st->from_match);
  }
  /* the send path refuses them too (the same rule) */
  {
    g_autoptr(GBytes) two = bytes ("From: eve@evil.test\r\nFrom: " ALICE "\r\n\r\nx\r\n");
    g_autoptr(PstMimeMessage) m = pst_mime_message_parse (two, NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *from = pst_mime_message_get_from_address (m, &error);

    assert_null (from);
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  }
}

/* A multipart/signed whose signature part is missing, empty, of the wrong
 * type, or which names no protocol: error, never none. */
static void
test_stripped_signature (void **state)
{
  const char *text = "From: " ALICE "\r\nTo: " BOB "\r\nSubject: signed\r\n\r\nsigned text\r\n";
  g_autoptr(GBytes) good = send_message (fx.alice, text, FALSE, TRUE, NULL);
  g_autoptr(GBytes) content = top_part (good, 0, FALSE);
  g_autoptr(GBytes) sigbody = top_part (good, 1, TRUE);
  g_autofree char *c = g_strndup (g_bytes_get_data (content, NULL), g_bytes_get_size (content));
  g_autofree char *sg = g_strndup (g_bytes_get_data (sigbody, NULL), g_bytes_get_size (sigbody));
  const char *head = "From: " ALICE "\r\nTo: " BOB "\r\nSubject: signed\r\nMIME-Version: 1.0\r\n";
  const char *pgp_ct = "Content-Type: multipart/signed; micalg=pgp-sha256; "
                       "protocol=\"application/pgp-signature\"; boundary=\"S\"\r\n\r\n";
  g_autofree char *missing = g_strdup_printf ("%s%s--S\r\n%s\r\n--S--\r\n", head, pgp_ct, c);
  g_autofree char *empty = g_strdup_printf ("%s%s--S\r\n%s\r\n--S\r\n"
                                            "Content-Type: application/pgp-signature\r\n\r\n\r\n--S--\r\n",
                                            head, pgp_ct, c);
  g_autofree char *wrong = g_strdup_printf ("%s%s--S\r\n%s\r\n--S\r\nContent-Type: text/plain\r\n\r\n%s\r\n--S--\r\n",
                                            head, pgp_ct, c, sg);
  g_autofree char *noproto = g_strdup_printf ("%sContent-Type: multipart/signed; boundary=\"S\"\r\n\r\n"
                                              "--S\r\n%s\r\n--S--\r\n", head, c);
  g_autofree char *noparts = g_strdup_printf ("%s%sno parts at all\r\n", head, pgp_ct);
  const char *all[] = { missing, empty, wrong, noproto, noparts };
  g_autoptr(PstStatus) sg_st = NULL;

  open_message (fx.bob, good, NULL, &sg_st);
  assert_int_equal (sg_st->sig_status, PST_SIG_GOOD);
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      g_autoptr(GBytes) m = bytes (all[i]);
      g_autoptr(PstStatus) st = NULL;
      g_autofree char *json = NULL;

      open_message (fx.bob, m, NULL, &st);
      json = pst_status_to_json_string (st);
      if (st->sig_status != PST_SIG_ERROR)
        fail_msg ("variant %u: %s", i, json);
      assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
      assert_false (st->from_match);
    }
}

/* Thunderbird saves .eml files with an mbox "From " line first. */
static void
test_mbox_from_line (void **state)
{
  const char *text = "From: " ALICE "\r\nTo: " BOB "\r\nSubject: framed\r\n\r\nHello Bob.\r\n";
  g_autoptr(GBytes) enc = send_message (fx.alice, text, TRUE, TRUE, NULL);
  g_autofree char *framed = g_strconcat ("From - Thu Dec  3 10:00:00 2026\r\n",
                                         (const char *) g_bytes_get_data (enc, NULL), NULL);
  g_autoptr(GBytes) f = bytes (framed);
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) plain = open_plain (f, &st);
  g_autofree char *subject = header (plain, "Subject");
  g_autofree char *body = body_text (plain);

  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_true (st->from_match);
  assert_string_equal (subject, "framed");
  assert_string_equal (body, "Hello Bob.\n");
  /* a plain message too: parsed, its body found */
  {
    g_autoptr(GBytes) p = bytes ("From alice@postern.test Thu Dec  3 10:00:00 2026\n"
                                 "From: " ALICE "\nSubject: plain\n\nplain body\n");
    g_autoptr(PstMimeMessage) m = pst_mime_message_parse (p, NULL);
    g_autofree char *from = NULL;
    g_autofree char *b = NULL;

    assert_non_null (m);
    from = pst_mime_message_get_from_address (m, NULL);
    assert_string_equal (from, ALICE);
    b = pst_mime_message_get_body_text (m);
    assert_string_equal (b, "plain body\n");
  }
  /* "From : x" is an obsolete-syntax From field, not an mbox line */
  {
    g_autoptr(GBytes) p = bytes ("From : " ALICE "\r\nSubject: obs\r\n\r\nx\r\n");
    g_autoptr(PstMimeMessage) m = pst_mime_message_parse (p, NULL);
    g_autofree char *from = pst_mime_message_get_from_address (m, NULL);

    assert_string_equal (from, ALICE);
  }
}

/* notmuch's nested-rfc822-message: the encrypted payload is the whole
 * message wrapped as message/rfc822; forwarded="no"; its header is the
 * protected one.  A forwarded message (no such parameter) is content. */
static void
test_wrapped_rfc822 (void **state)
{
  g_autoptr(GBytes) m = encrypt_entity ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: Subject Unavailable\r\n",
                                        "Content-Type: message/rfc822; forwarded=\"no\"\r\n\r\n"
                                        "From: " ALICE "\r\nTo: " BOB "\r\nMIME-Version: 1.0\r\n"
                                        "Content-Type: text/plain\r\n"
                                        "Subject: This is a message using draft-melnikov-smime-header-signing\r\n"
                                        "\r\nI think this works.\r\n", FALSE);
  g_autoptr(GBytes) fwd = encrypt_entity ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: outer\r\n",
                                          "Content-Type: message/rfc822\r\n\r\n"
                                          "From: " MALLORY "\r\nSubject: forwarded\r\n\r\nold mail\r\n", FALSE);
  g_autoptr(PstStatus) st = NULL, fst = NULL;
  g_autoptr(GBytes) plain = open_plain (m, &st);
  g_autoptr(GBytes) fplain = open_plain (fwd, &fst);
  g_autofree char *subject = header (plain, "Subject");
  g_autofree char *body = body_text (plain);
  g_autofree char *fsubject = header (fplain, "Subject");
  g_autofree char *ffrom = header (fplain, "From");

  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_true (st->protected_headers);
  assert_string_equal (subject, "This is a message using draft-melnikov-smime-header-signing");
  assert_string_equal (body, "I think this works.\n");
  assert_false (has_warning (st, "header-mismatch"));
  assert_false (fst->protected_headers);
  assert_string_equal (fsubject, "outer");
  assert_string_equal (ffrom, ALICE);
}

/* notmuch's wrapped-protected-header: a mailing list put the encrypted,
 * header-protected part inside a multipart/mixed with a footer.  It covers
 * a part; its protected Subject is not the message's. */
static void
test_wrapped_protected_part (void **state)
{
  g_autoptr(GBytes) inner = encrypt_entity ("From: " ALICE "\r\n",
                                            "Content-Type: text/plain; protected-headers=\"v1\"\r\n"
                                            "Subject: This is a protected header\r\n\r\nsekrit\r\n", FALSE);
  g_autofree char *entity = top_entity (inner);
  g_autofree char *text = g_strdup_printf ("From: " ALICE "\r\nTo: " BOB "\r\n"
                                           "Subject: [mailing-list] Subject Unavailable\r\n"
                                           "MIME-Version: 1.0\r\n"
                                           "Content-Type: multipart/mixed; boundary=\"zzzz\"\r\n\r\n"
                                           "--zzzz\r\n%s\r\n--zzzz\r\nContent-Type: text/plain\r\n\r\n"
                                           "re-wrapped by a mailing list\r\n--zzzz--\r\n", entity);
  g_autoptr(GBytes) m = bytes (text);
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) plain = open_plain (m, &st);
  g_autofree char *subject = header (plain, "Subject");

  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_PART);
  assert_false (st->protected_headers);
  assert_string_equal (subject, "[mailing-list] Subject Unavailable");
}

/* A small cleartext-signed message (gpg --clearsign): not encrypted, its
 * signature verified, through the reader every caller uses. */
static void
test_inline_cleartext_signed (void **state)
{
  g_autofree char *file = g_build_filename (fx.alice_home, "cs.txt", NULL);
  g_autofree char *armor = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GBytes) m = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *body = NULL;

  assert_true (g_file_set_contents (file, "Hi Bob.\n", -1, NULL));
  assert_true (gpg (fx.alice_home, &armor, NULL, "--local-user", ALICE, "--clearsign", "--output", "-",
                    file, NULL));
  g_unlink (file);
  text = g_strconcat ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: cs\r\n\r\n", armor, NULL);
  m = bytes (text);
  assert_true (pst_message_open (fx.bob, NULL, m, &plain, &st, &error));
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_true (st->from_match);
  body = body_text (plain);
  assert_string_equal (body, "Hi Bob.\n");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_unsigned_inner_from),
    cmocka_unit_test (test_signed_inner_from),
    cmocka_unit_test (test_several_from),
    cmocka_unit_test (test_stripped_signature),
    cmocka_unit_test (test_mbox_from_line),
    cmocka_unit_test (test_wrapped_rfc822),
    cmocka_unit_test (test_wrapped_protected_part),
    cmocka_unit_test (test_inline_cleartext_signed),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
