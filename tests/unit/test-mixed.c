/* Unit tests for mime/reader.c on messages that nest one scheme inside the
 * other, made with the real tools: gpg (through GPGME, pgp-fixture.h's
 * throwaway homes) and `openssl cms` with a test CA made at test time.
 * Each asserts the whole verdict of DESIGN.md §4: the status's scheme (the
 * encryption layer's), decryption, integrity, the counted signature and its
 * own scheme (by its fingerprint: OpenPGP's key fingerprint, or the SHA-256
 * of the S/MIME certificate), signer, covers, from_match and warnings. */
#include "pgp-fixture.h"

#include "crypto/smime.h"

#define MALLORY "mallory@evil.test"
#define SECRET "The meeting is at noon."

static const char smime_script[] =
  "set -e\n"
  "req () { openssl req \"$@\" 2>/dev/null; }\n"
  "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj '/CN=Postern Mixed Test CA' -days 30"
  " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
  "mk () {\n"
  "  req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr -subj \"/CN=$1/emailAddress=$2\"\n"
  "  printf 'subjectAltName=email:%s\\nkeyUsage=critical,digitalSignature,keyEncipherment\\n"
  "extendedKeyUsage=emailProtection\\nbasicConstraints=CA:FALSE\\n' $2 > $1.ext\n"
  "  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $1.pem -days 30"
  " -extfile $1.ext 2>/dev/null\n"
  "  openssl pkcs12 -export -in $1.pem -inkey $1.key -certfile ca.pem -out $1.p12 -passout pass:test\n"
  "}\n"
  "mk alice " ALICE "\n"
  "mk bob " BOB "\n"
  "mk mallory " MALLORY "\n";

static struct {
  char *dir;
  PstSmime *bob;          /* Bob's S/MIME store: the CA as anchor, his identity, Alice's certificate */
  char *alice_cert_fpr;   /* SHA-256 of alice.pem, lower-case hex */
  char *mallory_cert_fpr;
} sx;

/* Runs @cmd with sh in the S/MIME fixture directory; its stdout into @out. */
static gboolean
sh_out (const char *cmd, char **out)
{
  const char *argv[] = { "sh", "-c", cmd, NULL };
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (sx.dir, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, &err, &status,
                     NULL))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_printerr ("# command failed: %s\n# %s\n", cmd, err);
      return FALSE;
    }
  return TRUE;
}

static gboolean G_GNUC_PRINTF (1, 2)
sh (const char *format, ...)
{
  g_autofree char *cmd = NULL;
  g_autofree char *out = NULL;
  va_list ap;

  va_start (ap, format);
  cmd = g_strdup_vprintf (format, ap);
  va_end (ap);
  return sh_out (cmd, &out);
}

static GBytes *
read_sx (const char *name)
{
  g_autofree char *path = g_build_filename (sx.dir, name, NULL);
  char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL))
    fail_msg ("cannot read %s", name);
  return g_bytes_new_take (data, len);
}

static void
write_sx (const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (sx.dir, name, NULL);

  assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
import_sx (const char *name, const char *pass, gboolean anchor)
{
  g_autoptr(GBytes) data = read_sx (name);
  g_autoptr(GError) error = NULL;

  if (!pst_smime_import (sx.bob, data, pass, anchor, NULL, &error))
    fail_msg ("import %s: %s", name, error->message);
}

static char *
cert_fingerprint (const char *pem)
{
  g_autofree char *cmd = g_strdup_printf ("openssl x509 -in %s -outform DER | sha256sum", pem);
  g_autofree char *out = NULL;

  assert_true (sh_out (cmd, &out));
  return g_strndup (out, 64);
}

static int
setup_all (void **state)
{
  g_autofree char *store = NULL;

  if (setup (state) != 0)
    return -1;
  sx.dir = g_dir_make_tmp ("pst-mixed-XXXXXX", NULL);
  assert_non_null (sx.dir);
  if (!sh ("%s", smime_script))
    return -1;
  store = g_build_filename (sx.dir, "store-bob", NULL);
  sx.bob = pst_smime_new (store, NULL);
  assert_non_null (sx.bob);
  import_sx ("ca.pem", NULL, TRUE);
  import_sx ("bob.p12", "test", FALSE);
  import_sx ("alice.pem", NULL, FALSE);
  sx.alice_cert_fpr = cert_fingerprint ("alice.pem");
  sx.mallory_cert_fpr = cert_fingerprint ("mallory.pem");
  return 0;
}

static int
teardown_all (void **state)
{
  g_clear_pointer (&sx.bob, pst_smime_free);
  remove_tree (sx.dir);
  g_clear_pointer (&sx.dir, g_free);
  g_clear_pointer (&sx.alice_cert_fpr, g_free);
  g_clear_pointer (&sx.mallory_cert_fpr, g_free);
  return teardown (state);
}

/* --- Building the layers ------------------------------------------------ */

#define HEAD(from) "From: " from "\r\nTo: Bob <" BOB ">\r\nSubject: mixed\r\n"
#define TEXT_ENTITY "Content-Type: text/plain; charset=utf-8\r\n\r\n" SECRET "\r\n"

/* @entity signed by @signer's S/MIME certificate (detached,
 * multipart/signed, openssl's MIME form: "MIME-Version" and the
 * multipart/signed entity).  Transfer full. */
static char *
smime_sign (const char *signer, const char *entity)
{
  g_autoptr(GBytes) out = NULL;

  write_sx ("in.txt", entity);
  assert_true (sh ("openssl cms -sign -in in.txt -signer %s.pem -inkey %s.key -out signed.eml", signer,
                   signer));
  out = read_sx ("signed.eml");
  return g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
}

/* @entity encrypted to Bob's certificate (AES-256-CBC EnvelopedData,
 * application/pkcs7-mime).  Transfer full. */
static char *
smime_encrypt (const char *entity)
{
  g_autoptr(GBytes) out = NULL;

  write_sx ("in.txt", entity);
  assert_true (sh ("openssl cms -encrypt -aes256 -in in.txt -out enveloped.eml bob.pem"));
  out = read_sx ("enveloped.eml");
  return g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
}

/* @entity (header and body) in a PGP/MIME multipart/signed by @pgp's key of
 * @signer (RFC 3156 §5: the signature over the CRLF form).  Transfer full. */
static char *
pgp_sign (PstPgp *pgp, const char *signer, const char *entity)
{
  g_autoptr(GBytes) canon = pst_mime_to_crlf (entity, strlen (entity));
  g_autoptr(GError) error = NULL;
  g_autofree char *micalg = NULL;
  g_autoptr(GBytes) sig = pst_pgp_sign_detached (pgp, canon, signer, &micalg, &error);

  assert_null (error);
  return g_strdup_printf ("Content-Type: multipart/signed; micalg=%s;\r\n"
                          " protocol=\"application/pgp-signature\"; boundary=\"pgpsig\"\r\n\r\n"
                          "--pgpsig\r\n%.*s\r\n--pgpsig\r\n"
                          "Content-Type: application/pgp-signature\r\n\r\n%.*s\r\n--pgpsig--\r\n",
                          micalg, (int) g_bytes_get_size (canon), (const char *) g_bytes_get_data (canon, NULL),
                          (int) g_bytes_get_size (sig), (const char *) g_bytes_get_data (sig, NULL));
}

/* The Content-* fields and body of message @text: its body entity.
 * Transfer full. */
static char *
entity_of (const char *text)
{
  g_autoptr(GBytes) m = bytes (text);

  return top_entity (m);
}

static PstStatus *
read_mixed (const char *text, GBytes **plain_out)
{
  g_autoptr(GBytes) m = bytes (text);
  g_autoptr(GError) error = NULL;
  PstStatus *st = NULL;

  if (!pst_message_open (fx.bob, sx.bob, m, plain_out, &st, &error))
    fail_msg ("open: %s", error->message);
  {
    g_autofree char *json = pst_status_to_json_string (st);
    g_print ("# %s\n", json);
  }
  return st;
}

static void
assert_signature (PstStatus *st, PstSigStatus status, const char *signer, const char *fingerprint,
                  gboolean from_match, PstCovers covers)
{
  assert_int_equal (st->sig_status, status);
  assert_string_equal (st->signer, signer);
  assert_string_equal (st->fingerprint, fingerprint);
  assert_int_equal (st->from_match, from_match);
  assert_int_equal (st->sig_covers, covers);
}

/* --- The cases ------------------------------------------------------------ */

/* S/MIME signature (Alice's) directly around a PGP/MIME encrypted entity
 * that Alice signed inside: encrypt-then-sign, so the S/MIME signature is
 * not counted (outer-signature-ignored) and the OpenPGP layers decide. */
static void
test_smime_signed_around_pgp_encrypted (void **state)
{
  g_autoptr(GBytes) enc = encrypt_entity (HEAD (ALICE), TEXT_ENTITY, TRUE);
  g_autofree char *enc_entity = top_entity (enc);
  g_autofree char *signed_ = smime_sign ("alice", enc_entity);
  g_autofree char *text = g_strconcat (HEAD (ALICE), signed_, NULL);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = read_mixed (text, &plain);

  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);
  assert_signature (st, PST_SIG_GOOD, ALICE, fx.alice_fpr, TRUE, PST_COVERS_WHOLE);
  assert_true (has_warning (st, "outer-signature-ignored"));
  assert_false (has_warning (st, "nested-signature"));
  assert_int_equal (st->warnings->len, 1);
  assert_true (contains (plain, SECRET));
}

/* PGP/MIME signature (Alice's) directly around an S/MIME enveloped entity:
 * the same rule the other way round.  CBC without a signature inside has no
 * integrity of its own: null, shown (docs/verdict.md). */
static void
test_pgp_signed_around_smime_enveloped (void **state)
{
  g_autofree char *env = smime_encrypt (TEXT_ENTITY);
  g_autofree char *signed_ = pgp_sign (fx.alice, ALICE, env);
  g_autofree char *text = g_strconcat (HEAD (ALICE), "MIME-Version: 1.0\r\n", signed_, NULL);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = read_mixed (text, &plain);

  assert_int_equal (st->scheme, PST_SCHEME_SMIME);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_NONE);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  assert_int_equal (st->sig_covers, PST_COVERS_NONE);
  assert_null (st->signer);
  assert_false (st->from_match);
  assert_true (has_warning (st, "outer-signature-ignored"));
  assert_int_equal (st->warnings->len, 1);
  assert_true (contains (plain, SECRET));
}

/* PGP/MIME encryption (whole) holding an S/MIME signed message by Alice:
 * the S/MIME signature is the message's, covering the whole of it, and
 * matches From; the scheme is the encryption's. */
static void
test_pgp_encrypted_holding_smime_signed (void **state)
{
  g_autofree char *signed_ = smime_sign ("alice", TEXT_ENTITY);
  g_autoptr(GBytes) msg = encrypt_entity (HEAD ("Alice <" ALICE ">"), signed_, FALSE);
  g_autoptr(GBytes) plain = NULL;
  g_autofree char *text = g_strndup (g_bytes_get_data (msg, NULL), g_bytes_get_size (msg));
  g_autoptr(PstStatus) st = read_mixed (text, &plain);

  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);
  assert_signature (st, PST_SIG_GOOD, ALICE, sx.alice_cert_fpr, TRUE, PST_COVERS_WHOLE);
  assert_int_equal (st->warnings->len, 0);
  assert_true (contains (plain, SECRET));
  assert_false (contains (plain, "application/pgp-encrypted"));
}

/* S/MIME encryption (CBC) holding a PGP/MIME signed entity by Alice: her
 * OpenPGP signature counts, and being good and inside the CBC layer it
 * vouches for its integrity (docs/verdict.md). */
static void
test_smime_enveloped_holding_pgp_signed (void **state)
{
  g_autofree char *signed_ = pgp_sign (fx.alice, ALICE, TEXT_ENTITY);
  g_autofree char *env = smime_encrypt (signed_);
  g_autofree char *text = g_strconcat (HEAD ("Alice <" ALICE ">"), env, NULL);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = read_mixed (text, &plain);

  assert_int_equal (st->scheme, PST_SCHEME_SMIME);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);
  assert_signature (st, PST_SIG_GOOD, ALICE, fx.alice_fpr, TRUE, PST_COVERS_WHOLE);
  assert_int_equal (st->warnings->len, 0);
  assert_true (contains (plain, SECRET));
}

/* Spoofing Alice with someone else's good signature.
 * 1. PGP/MIME encrypted (anyone can encrypt to Bob), From Alice, holding an
 *    S/MIME message signed by Mallory's valid certificate: good, but
 *    Mallory's, not From.
 * 2. Mallory's S/MIME signature around Alice's genuine PGP/MIME signed
 *    entity, From Alice: the outermost signature (Mallory's) is the
 *    verdict; Alice's good one inside is only "nested-signature", never
 *    promoted, so from_match stays false.
 * 3. A PGP/MIME signature by a key Bob does not have, around Alice's good
 *    S/MIME signed entity: unknown-key, and Alice's inside is not
 *    promoted either. */
static void
test_spoof_inner_signature (void **state)
{
  {
    g_autofree char *signed_ = smime_sign ("mallory", TEXT_ENTITY);
    g_autoptr(GBytes) msg = encrypt_entity (HEAD ("Alice <" ALICE ">"), signed_, FALSE);
    g_autofree char *text = g_strndup (g_bytes_get_data (msg, NULL), g_bytes_get_size (msg));
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = read_mixed (text, &plain);

    assert_int_equal (st->scheme, PST_SCHEME_PGP);
    assert_int_equal (st->decryption, PST_DECRYPTION_OK);
    assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
    assert_signature (st, PST_SIG_GOOD, MALLORY, sx.mallory_cert_fpr, FALSE, PST_COVERS_WHOLE);
    assert_true (contains (plain, "From: Alice <" ALICE ">"));
  }
  {
    g_autofree char *alice_signed = pgp_sign (fx.alice, ALICE, TEXT_ENTITY);
    g_autofree char *outer = smime_sign ("mallory", alice_signed);
    g_autofree char *text = g_strconcat (HEAD (ALICE), outer, NULL);
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = read_mixed (text, &plain);

    assert_int_equal (st->scheme, PST_SCHEME_SMIME);
    assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
    assert_signature (st, PST_SIG_GOOD, MALLORY, sx.mallory_cert_fpr, FALSE, PST_COVERS_WHOLE);
    assert_true (has_warning (st, "nested-signature"));
    assert_int_equal (st->warnings->len, 1);
  }
  {
    g_autofree char *alice_signed = smime_sign ("alice", TEXT_ENTITY);
    g_autofree char *inner = entity_of (alice_signed);
    g_autofree char *outer = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = NULL;
    g_autoptr(PstPgp) stranger = NULL;
    g_autofree char *stranger_fpr = NULL;
    char *stranger_home = make_home ();

    stranger_fpr = make_key (stranger_home, "Alice <" ALICE ">", ALICE);
    stranger = pst_pgp_new (stranger_home, NULL);
    assert_non_null (stranger);
    outer = pgp_sign (stranger, ALICE, inner);
    text = g_strconcat (HEAD (ALICE), "MIME-Version: 1.0\r\n", outer, NULL);
    st = read_mixed (text, &plain);
    assert_int_equal (st->scheme, PST_SCHEME_PGP);
    assert_int_equal (st->sig_status, PST_SIG_UNKNOWN_KEY);
    assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
    assert_false (st->from_match);
    assert_true (st->fingerprint != NULL && g_str_has_suffix (stranger_fpr, st->fingerprint));
    assert_true (has_warning (st, "nested-signature"));
    g_clear_pointer (&stranger, pst_pgp_free);
    kill_home (stranger_home);
  }
}

/* The same messages read without the other scheme's context: its layers
 * are recognised and open nothing, so a signature never vanishes. */
static void
test_missing_backend (void **state)
{
  g_autofree char *signed_ = smime_sign ("alice", TEXT_ENTITY);
  g_autoptr(GBytes) enc = encrypt_entity (HEAD ("Alice <" ALICE ">"), signed_, FALSE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GError) error = NULL;

  assert_true (pst_message_open (fx.bob, NULL, enc, &plain, &st, &error));
  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->sig_status, PST_SIG_ERROR);
  assert_int_equal (st->sig_covers, PST_COVERS_WHOLE);
  assert_false (st->from_match);
  g_clear_pointer (&st, pst_status_free);
  g_clear_pointer (&plain, g_bytes_unref);
  assert_true (pst_message_open (NULL, sx.bob, enc, &plain, &st, &error));
  assert_int_equal (st->scheme, PST_SCHEME_PGP);
  assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  assert_true (g_bytes_equal (plain, enc));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_smime_signed_around_pgp_encrypted),
    cmocka_unit_test (test_pgp_signed_around_smime_enveloped),
    cmocka_unit_test (test_pgp_encrypted_holding_smime_signed),
    cmocka_unit_test (test_smime_enveloped_holding_pgp_signed),
    cmocka_unit_test (test_spoof_inner_signature),
    cmocka_unit_test (test_missing_backend),
  };

  return cmocka_run_group_tests (tests, setup_all, teardown_all);
}
