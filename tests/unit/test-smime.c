/* Unit tests for crypto/smime.c, crypto/smime-store.c and
 * mime/smimemime.c: round trips between Alice's and Bob's stores, interop
 * with `openssl cms` and gpgsm both ways, the attack classes of DESIGN.md §4,
 * and the certificate store.  Every fixture (a test CA, RSA and EC
 * certificates, PKCS#12 files, an expired certificate, a foreign CA) is made
 * at test time with the openssl command in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "crypto/smime.h"
#include "mime/converters.h"
#include "mime/mime.h"
#include "mime/pgpstream.h"
#include "mime/smimemime.h"
#include "mime/smimeread.h"
#include "mime/smimestream.h"
#include "mime/reader.h"
#include "util/error.h"
#include "failing-streams.h"

#define ALICE "alice@postern.test"
#define BOB "bob@postern.test"
#define EC_ALICE "ec-alice@postern.test"
#define EC_BOB "ec-bob@postern.test"
#define BODY "Hello Bob, the meeting is at noon.\n"

static const char fixture_script[] =
  "set -e\n"
  "req () { openssl req \"$@\" 2>/dev/null; }\n"
  "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj '/CN=Postern Test CA' -days 30"
  " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
  "req -x509 -newkey rsa:2048 -nodes -keyout evilca.key -out evilca.pem -subj '/CN=Evil CA' -days 30"
  " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
  "mk () {\n"
  "  if [ \"$3\" = ec ]; then kopt='-newkey ec -pkeyopt ec_paramgen_curve:P-384'; ku=digitalSignature,keyAgreement;\n"
  "  else kopt='-newkey rsa:2048'; ku=digitalSignature,keyEncipherment; fi\n"
  "  req $kopt -nodes -keyout $1.key -out $1.csr -subj \"/CN=$1/emailAddress=$2\"\n"
  "  printf 'subjectAltName=email:%s\\nkeyUsage=critical,%s\\nextendedKeyUsage=emailProtection\\n"
  "basicConstraints=CA:FALSE\\n' $2 $ku > $1.ext\n"
  "  if [ -n \"$5\" ]; then\n"
  "    printf '[ca]\\ndefault_ca=d\\n[d]\\ndir=.\\ndatabase=index.txt\\nnew_certs_dir=.\\ncertificate=%s.pem\\n"
  "private_key=%s.key\\nserial=serial\\ndefault_md=sha256\\npolicy=p\\nunique_subject=no\\n[p]\\n"
  "commonName=supplied\\nemailAddress=optional\\n' $4 $4 > ca.cnf\n"
  "    : > index.txt; echo 1000 > serial\n"
  "    openssl ca -batch -config ca.cnf -startdate $5 -enddate $6 -in $1.csr -out $1.pem -extfile $1.ext"
  " -notext 2>/dev/null\n"
  "  else\n"
  "    openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial -out $1.pem -days 30"
  " -extfile $1.ext 2>/dev/null\n"
  "  fi\n"
  "  openssl pkcs12 -export -in $1.pem -inkey $1.key -certfile $4.pem -out $1.p12 -passout pass:test\n"
  "}\n"
  "mk alice alice@postern.test rsa ca\n"
  "mk bob bob@postern.test rsa ca\n"
  "mk ecalice ec-alice@postern.test ec ca\n"
  "mk ecbob ec-bob@postern.test ec ca\n"
  "mk mallory alice@postern.test rsa evilca\n"
  "mk old old@postern.test rsa ca 20200101000000Z 20210101000000Z\n"
  "openssl pkcs12 -export -in bob.pem -inkey bob.key -certfile ca.pem -out bob-legacy.p12 -passout pass:test"
  " -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1\n";

static struct {
  char *dir;
  PstSmime *alice;
  PstSmime *bob;
} fx;

/* --- Helpers ---------------------------------------------------------------- */

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* Runs a shell command in the fixture directory; @stdin_data may be NULL. */
static gboolean G_GNUC_PRINTF (1, 2)
sh (const char *format, ...)
{
  g_autofree char *cmd = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *argv[] = { "sh", "-c", NULL, NULL };
  int status = 0;
  va_list ap;

  va_start (ap, format);
  cmd = g_strdup_vprintf (format, ap);
  va_end (ap);
  argv[2] = cmd;
  if (!g_spawn_sync (fx.dir, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, NULL))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_printerr ("# command failed: %s\n# %s\n", cmd, err);
      return FALSE;
    }
  return TRUE;
}

static GBytes *
read_fx (const char *name)
{
  g_autofree char *path = g_build_filename (fx.dir, name, NULL);
  char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL))
    fail_msg ("cannot read %s", name);
  return g_bytes_new_take (data, len);
}

static void
write_fx (const char *name, GBytes *bytes)
{
  g_autofree char *path = g_build_filename (fx.dir, name, NULL);

  assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL));
}

static void
import (PstSmime *smime, const char *name, const char *pass, gboolean anchor)
{
  g_autoptr(GBytes) data = read_fx (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) infos = NULL;

  if (!pst_smime_import (smime, data, pass, anchor, &infos, &error))
    fail_msg ("import %s: %s", name, error->message);
}

static GBytes *
message (const char *from, const char *to, const char *extra_headers, const char *body)
{
  char *s = g_strdup_printf ("From: %s\r\nTo: %s\r\nSubject: test\r\n"
                             "Date: Sat, 1 Jan 2000 00:00:00 +0000\r\n%s\r\n%s",
                             from, to, extra_headers, body);
  return g_bytes_new_take (s, strlen (s));
}

/* A message with no Date header (so that signing time is not compared). */
static GBytes *
message_now (const char *from, const char *to, const char *extra_headers, const char *body)
{
  char *s = g_strdup_printf ("From: %s\r\nTo: %s\r\nSubject: test\r\n%s\r\n%s", from, to,
                             extra_headers, body);
  return g_bytes_new_take (s, strlen (s));
}

static gboolean
contains (GBytes *b, const char *needle)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (b, &len);

  return p != NULL && g_strstr_len (p, len, needle) != NULL;
}

static gboolean
has_warning (PstStatus *st, const char *word)
{
  return g_ptr_array_find_with_equal_func (st->warnings, word, g_str_equal, NULL);
}

static PstStatus *
open_msg (PstSmime *smime, GBytes *msg, GBytes **plain_out)
{
  g_autoptr(GError) error = NULL;
  PstStatus *st = NULL;
  GBytes *plain = NULL;

  if (!pst_message_open (NULL, smime, msg, &plain, &st, &error))
    fail_msg ("open: %s", error->message);
  if (plain_out != NULL)
    *plain_out = plain;
  else
    g_bytes_unref (plain);
  {
    g_autofree char *json = pst_status_to_json_string (st);
    g_print ("# %s\n", json);
  }
  return st;
}

static GBytes *
protect (PstSmime *smime, const char *sender, const char *rcpt, gboolean encrypt, gboolean sign)
{
  g_autoptr(GBytes) msg = message_now (sender, rcpt, "", BODY);
  g_autoptr(GError) error = NULL;
  const char *rcpts[] = { rcpt, NULL };
  GBytes *out = pst_smimemime_protect (smime, msg, sender, rcpts, encrypt, sign, &error);

  if (out == NULL)
    fail_msg ("protect: %s", error->message);
  return out;
}

/* The first header-less body of @msg (what follows the blank line). */
static GBytes *
body_of (GBytes *msg)
{
  g_autoptr(GPtrArray) fields = NULL;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (msg, &len);

  assert_true (pst_mime_split_header (p, len, &fields, &body, NULL));
  return g_bytes_new_from_bytes (msg, body, len - body);
}

static GBytes *
base64_body (GBytes *entity)
{
  g_autoptr(GBytes) b = body_of (entity);
  g_autofree char *text = g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  gsize len = 0;
  guchar *der = g_base64_decode (text, &len);

  return g_bytes_new_take (der, len);
}

/* Parts of the top-level multipart of @msg. */
static GBytes *
part_of (GBytes *msg, guint index)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GArray) spans = NULL;
  g_autofree char *type = NULL;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (msg, &len);

  assert_true (pst_mime_split_header (p, len, &fields, &body, NULL));
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], "Content-Type"))
      {
        g_autofree char *v = pst_mime_field_value (fields->pdata[i]);
        type = pst_mime_parse_content_type (v, &params);
      }
  assert_non_null (type);
  spans = pst_mime_split_multipart (p + body, len - body, g_hash_table_lookup (params, "boundary"), NULL);
  assert_non_null (spans);
  assert_true (index < spans->len);
  return g_bytes_new_from_bytes (msg, body + g_array_index (spans, PstMimeSpan, index).offset,
                                 g_array_index (spans, PstMimeSpan, index).length);
}

/* The body entity of @msg (Content-* fields and body), for wrapping. */
static char *
entity_of (GBytes *msg)
{
  g_autoptr(GPtrArray) fields = NULL;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (msg, &len);
  GString *s = g_string_new (NULL);

  assert_true (pst_mime_split_header (p, len, &fields, &body, NULL));
  for (guint i = 0; i < fields->len; i++)
    if (g_ascii_strncasecmp (fields->pdata[i], "Content-", 8) == 0)
      g_string_append (s, fields->pdata[i]);
  g_string_append (s, "\r\n");
  g_string_append_len (s, p + body, len - body);
  return g_string_free (s, FALSE);
}

static void
assert_sig (PstStatus *st, PstSigStatus sig, PstCovers covers, gboolean from_match)
{
  assert_int_equal (st->scheme, PST_SCHEME_SMIME);
  assert_int_equal (st->sig_status, sig);
  assert_int_equal (st->sig_covers, covers);
  assert_int_equal (st->from_match, from_match);
}

static void
assert_error (const GError *error, GQuark domain, int code)
{
  assert_non_null (error);
  assert_true (error->domain == domain);
  assert_int_equal (error->code, code);
}

/* --- Setup -------------------------------------------------------------------- */

static int
setup (void **state)
{
  g_autofree char *adir = NULL;
  g_autofree char *bdir = NULL;

  fx.dir = g_dir_make_tmp ("pst-smime-XXXXXX", NULL);
  assert_non_null (fx.dir);
  if (!sh ("%s", fixture_script))
    return -1;
  adir = g_build_filename (fx.dir, "store-alice", NULL);
  bdir = g_build_filename (fx.dir, "store-bob", NULL);
  fx.alice = pst_smime_new (adir, NULL);
  fx.bob = pst_smime_new (bdir, NULL);
  import (fx.alice, "ca.pem", NULL, TRUE);
  import (fx.alice, "alice.p12", "test", FALSE);
  import (fx.alice, "ecalice.p12", "test", FALSE);
  import (fx.alice, "bob.pem", NULL, FALSE);
  import (fx.alice, "ecbob.pem", NULL, FALSE);
  import (fx.bob, "ca.pem", NULL, TRUE);
  import (fx.bob, "bob.p12", "test", FALSE);
  import (fx.bob, "ecbob.p12", "test", FALSE);
  import (fx.bob, "alice.pem", NULL, FALSE);
  import (fx.bob, "ecalice.pem", NULL, FALSE);
  return 0;
}

static int
teardown (void **state)
{
  g_clear_pointer (&fx.alice, pst_smime_free);
  g_clear_pointer (&fx.bob, pst_smime_free);
  if (g_getenv ("PST_TEST_KEEP") == NULL)
    rm_rf (fx.dir);
  else
    g_printerr ("# kept %s\n", fx.dir);
  g_clear_pointer (&fx.dir, g_free);
  return 0;
}

/* --- Round trips ---------------------------------------------------------------- */

static void
test_sign_only (void **state)
{
  g_autoptr(GBytes) out = protect (fx.alice, ALICE, BOB, FALSE, TRUE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = open_msg (fx.bob, out, &plain);

  assert_true (contains (out, "multipart/signed; protocol=\"application/pkcs7-signature\""));
  assert_true (contains (out, "micalg=sha-256"));
  assert_false (contains (out, "Bcc:"));
  assert_sig (st, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_string_equal (st->signer, ALICE);
  assert_int_equal (st->decryption, PST_DECRYPTION_NOT_ENCRYPTED);
  assert_int_equal (st->encryption_covers, PST_COVERS_NONE);
  assert_int_equal (st->integrity, PST_INTEGRITY_NONE);
  assert_int_equal (st->warnings->len, 0);
  assert_true (contains (plain, "meeting is at noon"));
}

static void
test_encrypt_only (void **state)
{
  g_autoptr(GBytes) out = protect (fx.alice, ALICE, BOB, TRUE, FALSE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) self_plain = NULL;
  g_autoptr(PstStatus) st = open_msg (fx.bob, out, &plain);
  g_autoptr(PstStatus) self = open_msg (fx.alice, out, &self_plain);

  assert_true (contains (out, "smime-type=enveloped-data"));
  assert_false (contains (out, "meeting is at noon"));
  assert_int_equal (st->scheme, PST_SCHEME_SMIME);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_NONE);   /* CBC, nothing signed inside */
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  assert_true (contains (plain, "meeting is at noon"));
  /* Encrypt-to-self. */
  assert_int_equal (self->decryption, PST_DECRYPTION_OK);
  assert_true (contains (self_plain, "meeting is at noon"));
}

static void
test_sign_encrypt (void **state)
{
  g_autoptr(GBytes) out = protect (fx.alice, ALICE, BOB, TRUE, TRUE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = open_msg (fx.bob, out, &plain);

  assert_true (contains (out, "smime-type=enveloped-data"));
  assert_sig (st, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (st->integrity, PST_INTEGRITY_OK);     /* signed inside */
  assert_true (contains (plain, "meeting is at noon"));
  assert_false (contains (plain, "application/pkcs7"));
}

static void
test_gcm_selection (void **state)
{
  g_autofree char *dir = g_build_filename (fx.dir, "store-gcm", NULL);
  g_autoptr(PstSmime) a = pst_smime_new (dir, NULL);
  g_autoptr(GBytes) cbc = NULL;
  g_autoptr(GBytes) gcm = NULL;
  g_autoptr(GBytes) from_bob = protect (fx.bob, BOB, ALICE, FALSE, TRUE);
  g_autoptr(PstStatus) st1 = NULL;
  g_autoptr(PstStatus) st2 = NULL;
  g_autoptr(GBytes) plain = NULL;

  import (a, "ca.pem", NULL, TRUE);
  import (a, "alice.p12", "test", FALSE);
  import (a, "bob.pem", NULL, FALSE);
  /* No capabilities known for Bob: CBC. */
  cbc = protect (a, ALICE, BOB, TRUE, TRUE);
  assert_true (contains (cbc, "smime-type=enveloped-data"));
  /* Bob's signed mail says he reads AES-256-GCM: kept with his certificate. */
  st1 = open_msg (a, from_bob, NULL);
  assert_int_equal (st1->sig_status, PST_SIG_GOOD);
  gcm = protect (a, ALICE, BOB, TRUE, TRUE);
  assert_true (contains (gcm, "smime-type=authEnveloped-data"));
  st2 = open_msg (fx.bob, gcm, &plain);
  assert_sig (st2, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_int_equal (st2->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st2->integrity, PST_INTEGRITY_OK);
  assert_true (contains (plain, "meeting is at noon"));
  /* The capabilities survive a restart of the store. */
  {
    g_autoptr(PstSmime) again = pst_smime_new (dir, NULL);
    g_autoptr(GBytes) gcm2 = protect (again, ALICE, BOB, TRUE, FALSE);

    assert_true (contains (gcm2, "smime-type=authEnveloped-data"));
  }
  /* openssl reads the AuthEnvelopedData. */
  write_fx ("gcm.eml", gcm);
  assert_true (sh ("openssl cms -decrypt -in gcm.eml -recip bob.pem -inkey bob.key -out gcm.out"
                   " && openssl cms -verify -in gcm.out -CAfile ca.pem -out gcm.txt 2>/dev/null"));
  {
    g_autoptr(GBytes) txt = read_fx ("gcm.txt");
    assert_true (contains (txt, "meeting is at noon"));
  }
}

static void
test_ec (void **state)
{
  g_autoptr(GBytes) out = protect (fx.alice, EC_ALICE, EC_BOB, TRUE, TRUE);
  g_autoptr(GBytes) signed_only = protect (fx.alice, EC_ALICE, EC_BOB, FALSE, TRUE);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = open_msg (fx.bob, out, &plain);
  g_autoptr(PstStatus) st2 = open_msg (fx.bob, signed_only, NULL);
  g_autoptr(GBytes) reply = protect (fx.bob, EC_BOB, EC_ALICE, TRUE, TRUE);
  g_autoptr(PstStatus) st3 = open_msg (fx.alice, reply, NULL);

  assert_true (contains (signed_only, "micalg=sha-384"));   /* P-384 */
  assert_sig (st, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_true (contains (plain, "meeting is at noon"));
  assert_sig (st2, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_sig (st3, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_int_equal (st3->decryption, PST_DECRYPTION_OK);
  /* openssl decrypts (ECDH) and verifies (ECDSA). */
  write_fx ("ec.eml", out);
  assert_true (sh ("openssl cms -decrypt -in ec.eml -recip ecbob.pem -inkey ecbob.key -out ec.out"
                   " && openssl cms -verify -in ec.out -CAfile ca.pem -out ec.txt 2>/dev/null"));
}

/* --- Interop ---------------------------------------------------------------- */

static void
test_openssl_reads_postern (void **state)
{
  g_autoptr(GBytes) s = protect (fx.alice, ALICE, BOB, FALSE, TRUE);
  g_autoptr(GBytes) e = protect (fx.alice, ALICE, BOB, TRUE, FALSE);
  g_autoptr(GBytes) se = protect (fx.alice, ALICE, BOB, TRUE, TRUE);
  g_autoptr(GBytes) t1 = NULL;
  g_autoptr(GBytes) t2 = NULL;
  g_autoptr(GBytes) t3 = NULL;

  write_fx ("o-s.eml", s);
  write_fx ("o-e.eml", e);
  write_fx ("o-se.eml", se);
  assert_true (sh ("openssl cms -verify -in o-s.eml -CAfile ca.pem -out o-s.txt 2>/dev/null"));
  assert_true (sh ("openssl cms -decrypt -in o-e.eml -recip bob.pem -inkey bob.key -out o-e.txt"));
  assert_true (sh ("openssl cms -decrypt -in o-se.eml -recip bob.pem -inkey bob.key -out o-se.out"
                   " && openssl cms -verify -in o-se.out -CAfile ca.pem -out o-se.txt 2>/dev/null"));
  /* Tampering is detected by openssl too. */
  assert_false (sh ("sed 's/noon/nine/' o-s.eml > o-t.eml && openssl cms -verify -in o-t.eml"
                    " -CAfile ca.pem -out /dev/null 2>/dev/null"));
  t1 = read_fx ("o-s.txt");
  t2 = read_fx ("o-e.txt");
  t3 = read_fx ("o-se.txt");
  assert_true (contains (t1, "meeting is at noon"));
  assert_true (contains (t2, "meeting is at noon"));
  assert_true (contains (t3, "meeting is at noon"));
}

static void
test_gpgsm_reads_postern (void **state)
{
  g_autoptr(GBytes) e = protect (fx.alice, ALICE, BOB, TRUE, FALSE);
  g_autoptr(GBytes) s = protect (fx.alice, ALICE, BOB, FALSE, TRUE);
  g_autoptr(GBytes) der = base64_body (e);
  g_autoptr(GBytes) content = part_of (s, 0);
  g_autoptr(GBytes) sigpart = part_of (s, 1);
  g_autoptr(GBytes) sig = base64_body (sigpart);
  g_autoptr(GBytes) out = NULL;

  if (!sh ("command -v gpgsm >/dev/null"))
    {
      g_printerr ("# skipped: gpgsm is not installed\n");
      return;
    }
  write_fx ("g-e.der", der);
  write_fx ("g-content", content);
  write_fx ("g-sig.der", sig);
  assert_true (sh ("mkdir -m 700 gh && echo disable-crl-checks > gh/gpgsm.conf"
                   " && echo allow-loopback-pinentry > gh/gpg-agent.conf"
                   " && echo \"$(openssl x509 -in ca.pem -noout -fingerprint -sha1 | cut -d= -f2) S\""
                   " > gh/trustlist.txt"));
  /* gpgsm 2.2.40 cannot open about one PKCS#12 file in twenty that
   * `openssl pkcs12 -export` writes with PBE-SHA1-3DES ("decryption
   * failed" on the key bag; OpenSSL opens the same file; which files
   * depends on the random salts: 2 of 40 exports of one key here).  Not
   * Postern's message: bob's key is exported again until gpgsm takes it. */
  assert_true (sh ("export GNUPGHOME=$PWD/gh; gpgsm --batch --import ca.pem alice.pem 2>/dev/null;"
                   " for i in 1 2 3 4 5 6 7 8; do"
                   "   echo test | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0"
                   "     --import bob-legacy.p12 2>g-i.log && break;"
                   "   openssl pkcs12 -export -in bob.pem -inkey bob.key -certfile ca.pem"
                   "     -out bob-legacy.p12 -passout pass:test -certpbe PBE-SHA1-3DES"
                   "     -keypbe PBE-SHA1-3DES -macalg sha1;"
                   " done;"
                   " echo test | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0"
                   " --decrypt --output g-e.txt g-e.der 2>g-e.log;"
                   " gpgsm --batch --verify g-sig.der g-content 2>g-v.log; rc2=$?;"
                   " gpgconf --kill all; [ $rc2 = 0 ] && grep -q 'Good signature' g-v.log"));
  /* gpgsm exits 2 after trying Alice's (encrypt-to-self) recipient info
   * without her key, even when Bob's decrypts: judge by the output. */
  out = read_fx ("g-e.txt");
  if (!contains (out, "meeting is at noon"))
    {
      /* Seen in CI runs 52 and 65 (under valgrind, by chance): gpgsm had
       * refused bob's PKCS#12 file (above).  What gpgsm said. */
      g_autoptr(GBytes) import_log = read_fx ("g-i.log");
      g_autoptr(GBytes) log = read_fx ("g-e.log");

      fail_msg ("gpgsm did not decrypt it.\n# import: %.*s\n# decrypt: %.*s",
                (int) g_bytes_get_size (import_log), (const char *) g_bytes_get_data (import_log, NULL),
                (int) g_bytes_get_size (log), (const char *) g_bytes_get_data (log, NULL));
    }
}

static void
test_postern_reads_openssl (void **state)
{
  g_autoptr(GBytes) d = NULL, o = NULL, e = NULL, g = NULL, se = NULL;
  g_autoptr(PstStatus) sd = NULL, so = NULL, sen = NULL, sg = NULL, sse = NULL;
  g_autoptr(GBytes) pe = NULL, pg = NULL, pse = NULL;

  assert_true (sh ("printf 'Content-Type: text/plain\\r\\n\\r\\nHello from openssl.\\r\\n' > os-body.txt"));
  assert_true (sh ("H='-from alice@postern.test -to bob@postern.test -subject hi';"
                   " openssl cms -sign -in os-body.txt -signer alice.pem -inkey alice.key $H -out os-d.eml"
                   " && openssl cms -sign -nodetach -in os-body.txt -signer alice.pem -inkey alice.key $H"
                   " -out os-o.eml"
                   " && openssl cms -encrypt -aes256 -in os-body.txt $H -out os-e.eml bob.pem"
                   " && openssl cms -encrypt -aes-256-gcm -in os-body.txt $H -out os-g.eml bob.pem"
                   " && openssl cms -encrypt -aes256 -in os-d.eml $H -out os-se.eml bob.pem"));
  d = read_fx ("os-d.eml");
  o = read_fx ("os-o.eml");
  e = read_fx ("os-e.eml");
  g = read_fx ("os-g.eml");
  se = read_fx ("os-se.eml");
  sd = open_msg (fx.bob, d, NULL);
  assert_sig (sd, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  so = open_msg (fx.bob, o, NULL);
  assert_sig (so, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  sen = open_msg (fx.bob, e, &pe);
  assert_int_equal (sen->decryption, PST_DECRYPTION_OK);
  assert_int_equal (sen->encryption_covers, PST_COVERS_WHOLE);
  assert_int_equal (sen->integrity, PST_INTEGRITY_NONE);
  assert_int_equal (sen->sig_status, PST_SIG_NONE);
  assert_true (contains (pe, "Hello from openssl."));
  sg = open_msg (fx.bob, g, &pg);
  assert_true (contains (g, "authEnveloped-data"));
  assert_int_equal (sg->decryption, PST_DECRYPTION_OK);
  assert_int_equal (sg->integrity, PST_INTEGRITY_OK);
  assert_true (contains (pg, "Hello from openssl."));
  sse = open_msg (fx.bob, se, &pse);
  assert_int_equal (sse->decryption, PST_DECRYPTION_OK);
  assert_sig (sse, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_int_equal (sse->integrity, PST_INTEGRITY_OK);
  assert_true (contains (pse, "Hello from openssl."));
}

/* --- Attacks (DESIGN.md §4, issue 3 item 4) ------------------------------------ */

/* A message from @from whose body is multipart/mixed (or @subtype) around
 * @a and @b (entities: Content-* fields, blank line, body). */
static GBytes *
wrap (const char *from, const char *subtype, const char *a, const char *b)
{
  char *s = g_strdup_printf ("From: %s\r\nTo: " BOB "\r\nSubject: wrapped\r\nMIME-Version: 1.0\r\n"
                             "Content-Type: multipart/%s; boundary=\"WRAP\"\r\n\r\n"
                             "--WRAP\r\n%s\r\n--WRAP\r\n%s\r\n--WRAP--\r\n", from, subtype, a, b);
  return g_bytes_new_take (s, strlen (s));
}

static void
test_attack_wrapped_signature (void **state)
{
  g_autoptr(GBytes) s = protect (fx.alice, ALICE, BOB, FALSE, TRUE);
  g_autofree char *signed_entity = entity_of (s);
  g_autofree char *attachment = g_strconcat ("Content-Disposition: attachment; filename=\"x.p7m\"\r\n",
                                             signed_entity, NULL);
  const char *text = "Content-Type: text/plain\r\n\r\nPay Mallory 1000 EUR today.";
  const char *html = "Content-Type: text/html\r\n\r\n<p>Pay Mallory.</p><div style=\"display:none\">";
  GBytes *cases[] = {
    wrap (ALICE, "mixed", text, signed_entity),          /* prepended */
    wrap (ALICE, "mixed", signed_entity, text),          /* appended */
    wrap (ALICE, "alternative", html, signed_entity),    /* hidden in HTML */
    wrap (ALICE, "mixed", text, attachment),             /* hidden as an attachment */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) plain = NULL;
      g_autoptr(PstStatus) st = open_msg (fx.bob, cases[i], &plain);

      assert_sig (st, PST_SIG_GOOD, PST_COVERS_PART, TRUE);
      assert_false (st->protected_headers);
      /* Shown as received: nothing unwrapped, nothing merged. */
      assert_true (g_bytes_equal (plain, cases[i]));
      g_bytes_unref (cases[i]);
    }
}

static void
test_attack_partial_encryption (void **state)
{
  g_autoptr(GBytes) e = protect (fx.alice, ALICE, BOB, TRUE, TRUE);
  g_autofree char *enc_entity = entity_of (e);
  g_autoptr(GBytes) msg = wrap (ALICE, "mixed", "Content-Type: text/plain\r\n\r\nPlease click here:",
                                enc_entity);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) st = open_msg (fx.bob, msg, &plain);

  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_int_equal (st->encryption_covers, PST_COVERS_PART);
  assert_int_equal (st->sig_covers, PST_COVERS_PART);
  assert_false (st->protected_headers);
  /* The decrypted text is never joined with the plaintext part. */
  assert_true (g_bytes_equal (plain, msg));
  assert_false (contains (plain, "meeting is at noon"));
}

static GBytes *
protect_with_headers (const char *from_header, const char *extra)
{
  g_autoptr(GBytes) msg = message_now (from_header, BOB, extra, BODY);
  g_autoptr(GError) error = NULL;
  const char *rcpts[] = { BOB, NULL };
  GBytes *out = pst_smimemime_protect (fx.alice, msg, ALICE, rcpts, FALSE, TRUE, &error);

  assert_non_null (out);
  return out;
}

static void
test_attack_from (void **state)
{
  const char *froms[][2] = {
    { "mallory@evil.test", "" },                                   /* signer is not From */
    { "\"alice@postern.test\" <mallory@evil.test>", "" },          /* display-name trick */
    { "mallory@evil.test", "Sender: alice@postern.test\r\n" },      /* Sender is not From */
    { "alice@postern.test, mallory@evil.test", "" },               /* two mailboxes */
    { "Alice <alice@postern.test>", "From: mallory@evil.test\r\n" }, /* two From fields */
  };

  for (guint i = 0; i < G_N_ELEMENTS (froms); i++)
    {
      g_autoptr(GBytes) out = protect_with_headers (froms[i][0], froms[i][1]);
      g_autoptr(PstStatus) st = open_msg (fx.bob, out, NULL);

      assert_sig (st, PST_SIG_GOOD, PST_COVERS_WHOLE, FALSE);
      assert_string_equal (st->signer, ALICE);
    }
  /* A display name around the right address is fine. */
  {
    g_autoptr(GBytes) out = protect_with_headers ("\"Mallory\" <alice@postern.test>", "");
    g_autoptr(PstStatus) st = open_msg (fx.bob, out, NULL);

    assert_sig (st, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  }
}

/* multipart/signed around a text part and the CMS object in @der_file. */
static GBytes *
detached_with (const char *der_file)
{
  g_autoptr(GBytes) der = read_fx (der_file);
  g_autofree char *b64 = g_base64_encode (g_bytes_get_data (der, NULL), g_bytes_get_size (der));
  char *s = g_strdup_printf ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
                             "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
                             " micalg=sha-256; boundary=\"SIG\"\r\n\r\n"
                             "--SIG\r\nContent-Type: text/plain\r\n\r\nHello from openssl.\r\n\r\n"
                             "--SIG\r\nContent-Type: application/pkcs7-signature\r\n"
                             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--SIG--\r\n", b64);
  return g_bytes_new_take (s, strlen (s));
}

static void
test_attack_signer_infos (void **state)
{
  g_autoptr(GBytes) two = NULL, zero = NULL, zero_opaque = NULL, mismatch = NULL, same = NULL;
  g_autoptr(PstStatus) s2 = NULL, s0 = NULL, s0o = NULL, sm = NULL, ss = NULL;

  assert_true (sh ("printf 'Content-Type: text/plain\\r\\n\\r\\nHello from openssl.\\r\\n' > a-body.txt"
                   " && printf 'Content-Type: text/plain\\r\\n\\r\\nPay Mallory.\\r\\n' > a-evil.txt"
                   " && openssl cms -sign -binary -in a-body.txt -signer alice.pem -inkey alice.key"
                   " -signer bob.pem -inkey bob.key -outform DER -out a-two.der"
                   " && openssl crl2pkcs7 -nocrl -certfile alice.pem -outform DER -out a-zero.der"
                   " && openssl cms -sign -nodetach -binary -in a-evil.txt -signer alice.pem"
                   " -inkey alice.key -outform DER -out a-evil.der"
                   " && openssl cms -sign -nodetach -binary -in a-body.txt -signer alice.pem"
                   " -inkey alice.key -outform DER -out a-same.der"));
  two = detached_with ("a-two.der");
  s2 = open_msg (fx.bob, two, NULL);
  assert_int_equal (s2->sig_status, PST_SIG_BAD);
  assert_true (has_warning (s2, "multiple-signers"));
  zero = detached_with ("a-zero.der");
  s0 = open_msg (fx.bob, zero, NULL);
  assert_int_equal (s0->sig_status, PST_SIG_BAD);
  /* The same certs-only object as an opaque signature: no content at all. */
  {
    g_autoptr(GBytes) der = read_fx ("a-zero.der");
    g_autofree char *b64 = g_base64_encode (g_bytes_get_data (der, NULL), g_bytes_get_size (der));
    char *s = g_strdup_printf ("From: " ALICE "\r\nTo: " BOB "\r\nMIME-Version: 1.0\r\n"
                               "Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n", b64);
    zero_opaque = g_bytes_new_take (s, strlen (s));
  }
  s0o = open_msg (fx.bob, zero_opaque, NULL);
  assert_true (s0o->sig_status == PST_SIG_BAD || s0o->sig_status == PST_SIG_ERROR);
  /* The eContent confusion: a valid signature over other content. */
  mismatch = detached_with ("a-evil.der");
  sm = open_msg (fx.bob, mismatch, NULL);
  assert_int_equal (sm->sig_status, PST_SIG_BAD);
  assert_true (has_warning (sm, "econtent-mismatch"));
  /* An eContent equal to the signed part is harmless. */
  same = detached_with ("a-same.der");
  ss = open_msg (fx.bob, same, NULL);
  assert_sig (ss, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
}

static void
test_bad_signatures (void **state)
{
  g_autoptr(GBytes) s = protect (fx.alice, ALICE, BOB, FALSE, TRUE);
  g_autofree char *tampered = g_strndup (g_bytes_get_data (s, NULL), g_bytes_get_size (s));
  g_autoptr(GBytes) t = NULL, weak = NULL, old = NULL, evil = NULL, dated = NULL;
  g_autoptr(PstStatus) st = NULL, sw = NULL, so = NULL, se = NULL, sd = NULL;
  char *p = strstr (tampered, "noon");

  assert_non_null (p);
  memcpy (p, "nine", 4);
  t = g_bytes_new (tampered, strlen (tampered));
  st = open_msg (fx.bob, t, NULL);
  assert_sig (st, PST_SIG_BAD, PST_COVERS_WHOLE, TRUE);

  assert_true (sh ("printf 'Content-Type: text/plain\\r\\n\\r\\nHello.\\r\\n' > b-body.txt"
                   " && openssl cms -sign -md sha1 -in b-body.txt -signer alice.pem -inkey alice.key"
                   " -from alice@postern.test -out b-weak.eml"
                   " && openssl cms -sign -in b-body.txt -signer old.pem -inkey old.key"
                   " -from old@postern.test -out b-old.eml"
                   " && openssl cms -sign -in b-body.txt -signer mallory.pem -inkey mallory.key"
                   " -certfile evilca.pem -from alice@postern.test -out b-evil.eml"));
  weak = read_fx ("b-weak.eml");
  sw = open_msg (fx.bob, weak, NULL);
  assert_sig (sw, PST_SIG_BAD, PST_COVERS_WHOLE, TRUE);
  assert_true (has_warning (sw, "weak-digest"));
  old = read_fx ("b-old.eml");
  so = open_msg (fx.bob, old, NULL);
  assert_sig (so, PST_SIG_EXPIRED_KEY, PST_COVERS_WHOLE, TRUE);
  evil = read_fx ("b-evil.eml");
  se = open_msg (fx.bob, evil, NULL);
  assert_int_equal (se->sig_status, PST_SIG_UNKNOWN_KEY);

  /* Signed now, dated 2000. */
  {
    g_autoptr(GBytes) msg = message (ALICE, BOB, "", BODY);
    const char *rcpts[] = { BOB, NULL };

    dated = pst_smimemime_protect (fx.alice, msg, ALICE, rcpts, FALSE, TRUE, NULL);
    assert_non_null (dated);
  }
  /* DESIGN.md §4 as updated: far from the Date is only a warning. */
  sd = open_msg (fx.bob, dated, NULL);
  assert_sig (sd, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_true (has_warning (sd, "date-differs"));
  assert_false (has_warning (sd, "date-mismatch"));
}

static void
test_outer_signature_ignored (void **state)
{
  g_autoptr(GBytes) e = protect (fx.alice, ALICE, BOB, TRUE, FALSE);
  g_autoptr(GBytes) ets = NULL, nested = NULL, plain = NULL, plain2 = NULL;
  g_autoptr(PstStatus) st = NULL, sn = NULL;
  g_autoptr(GBytes) inner = protect (fx.alice, ALICE, BOB, FALSE, TRUE);

  write_fx ("n-enc.eml", e);
  write_fx ("n-signed.eml", inner);
  /* Mallory signs Alice's encrypted message (encrypt-then-sign). */
  assert_true (sh ("openssl cms -sign -nodetach -in n-enc.eml -signer bob.pem -inkey bob.key"
                   " -from bob@postern.test -out n-ets.eml"
                   " && openssl cms -sign -nodetach -in n-signed.eml -signer bob.pem -inkey bob.key"
                   " -from bob@postern.test -out n-nested.eml"));
  ets = read_fx ("n-ets.eml");
  st = open_msg (fx.bob, ets, &plain);
  assert_int_equal (st->sig_status, PST_SIG_NONE);
  assert_true (has_warning (st, "outer-signature-ignored"));
  assert_int_equal (st->decryption, PST_DECRYPTION_OK);
  assert_true (contains (plain, "meeting is at noon"));
  /* Bob's signature around Alice's: Bob's decides, Alice's is a warning.
   * The payload root is Alice's entity, whose protected From is Alice's:
   * Bob's good signature does not match it, so the outer header (Bob's
   * From) is shown (DESIGN.md §4), the inner From is a header mismatch,
   * and with two different From values from_match is false. */
  nested = read_fx ("n-nested.eml");
  sn = open_msg (fx.bob, nested, &plain2);
  assert_sig (sn, PST_SIG_GOOD, PST_COVERS_WHOLE, FALSE);
  assert_string_equal (sn->signer, BOB);
  assert_true (contains (plain2, "From: " BOB));   /* openssl writes LF line ends */
  assert_false (contains (plain2, "From: " ALICE));
  assert_true (has_warning (sn, "header-mismatch"));
  assert_true (has_warning (sn, "nested-signature"));
}

/* --- Header protection (RFC 9788) ------------------------------------------ */

/* @msg with the first @old replaced by @new, in its header section
 * (@in_body FALSE) or in its body.  Transfer full. */
static GBytes *
replace_in (GBytes *msg, gboolean in_body, const char *old, const char *new)
{
  g_autoptr(GPtrArray) fields = NULL;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (msg, &len);
  const char *start, *hit;
  GString *s;

  assert_true (pst_mime_split_header (p, len, &fields, &body, NULL));
  start = in_body ? p + body : p;
  hit = g_strstr_len (start, in_body ? (gssize) (len - body) : (gssize) body, old);
  assert_non_null (hit);
  s = g_string_new_len (p, hit - p);
  g_string_append (s, new);
  g_string_append_len (s, hit + strlen (old), len - (hit - p) - strlen (old));
  return g_string_free_to_bytes (s);
}

/* The message @msg (one application/pkcs7-mime body) with its DER passed
 * through @tamper.  Transfer full. */
static GBytes *
tamper_der (GBytes *msg, void (*tamper) (guchar *der, gsize len))
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) der = base64_body (msg);
  gsize len = 0, body = 0, dlen = 0;
  const char *p = g_bytes_get_data (msg, &len);
  const guchar *raw = g_bytes_get_data (der, &dlen);
  guchar *d = g_memdup2 (raw, dlen);
  g_autofree char *b64 = NULL;
  GString *s;

  assert_true (pst_mime_split_header (p, len, &fields, &body, NULL));
  tamper (d, dlen);
  b64 = g_base64_encode (d, dlen);
  g_free (d);
  s = g_string_new_len (p, body);
  g_string_append (s, b64);
  g_string_append (s, "\r\n");
  return g_string_free_to_bytes (s);
}

/* The last 16 bytes of AuthEnvelopedData are its MAC (no unauthAttrs). */
static void
flip_tag (guchar *der, gsize len)
{
  der[len - 1] ^= 0x01;
}

/* A byte well inside the encrypted content. */
static void
flip_content (guchar *der, gsize len)
{
  der[len - 200] ^= 0x01;
}

static void
test_header_protection (void **state)
{
  g_autoptr(GBytes) msg = message_now (ALICE, BOB, "Cc: carol@postern.test\r\n", BODY);
  g_autoptr(GError) error = NULL;
  const char *rcpts[] = { BOB, NULL };
  g_autoptr(GBytes) se = pst_smimemime_protect (fx.alice, msg, ALICE, rcpts, TRUE, TRUE, &error);
  g_autoptr(GBytes) e = pst_smimemime_protect (fx.alice, msg, ALICE, rcpts, TRUE, FALSE, &error);
  g_autoptr(GBytes) s = pst_smimemime_protect (fx.alice, msg, ALICE, rcpts, FALSE, TRUE, &error);
  g_autoptr(GBytes) inner = NULL;
  g_autoptr(GBytes) p1 = NULL, p2 = NULL, p3 = NULL;
  g_autoptr(PstStatus) st1 = NULL, st2 = NULL, st3 = NULL;

  assert_non_null (se);
  assert_non_null (e);
  assert_non_null (s);
  /* Encrypted: the outside says "...", the real Subject travels inside. */
  assert_true (contains (se, "Subject: ...\r\n"));
  assert_false (contains (se, "Subject: test"));
  assert_true (contains (se, "Cc: carol@postern.test\r\n"));
  st1 = open_msg (fx.bob, se, &p1);
  assert_sig (st1, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_true (st1->protected_headers);
  assert_true (contains (p1, "Subject: test\r\n"));
  assert_false (contains (p1, "Subject: ...")); /* nor in an HP-Outer field */
  assert_false (contains (p1, "HP-Outer"));
  assert_true (contains (p1, "hp=\"cipher\""));
  assert_true (contains (p1, "meeting is at noon"));
  /* What openssl decrypts is the payload with its protected header. */
  write_fx ("hp-se.eml", se);
  assert_true (sh ("openssl cms -decrypt -in hp-se.eml -recip bob.pem -inkey bob.key -out hp-se.out"
                   " && openssl cms -verify -in hp-se.out -CAfile ca.pem -out hp-se.txt 2>/dev/null"));
  inner = read_fx ("hp-se.txt");
  assert_true (contains (inner, "hp=\"cipher\""));
  assert_true (contains (inner, "Subject: test\r\n"));
  assert_true (contains (inner, "HP-Outer: Subject: ...\r\n"));
  assert_true (contains (inner, "HP-Outer: Cc: carol@postern.test\r\n"));
  assert_true (contains (inner, "meeting is at noon"));

  /* Encrypted, not signed: a whole decryption carries the header too. */
  assert_true (contains (e, "Subject: ...\r\n"));
  st2 = open_msg (fx.bob, e, &p2);
  assert_int_equal (st2->decryption, PST_DECRYPTION_OK);
  assert_true (st2->protected_headers);
  assert_true (contains (p2, "Subject: test\r\n"));

  /* Signed only: hp="clear", the outer Subject stays. */
  assert_true (contains (s, "Subject: test\r\n"));
  assert_true (contains (s, "hp=\"clear\""));
  assert_false (contains (s, "HP-Outer"));
  st3 = open_msg (fx.bob, s, &p3);
  assert_sig (st3, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
  assert_true (st3->protected_headers);
  assert_true (contains (p3, "Subject: test\r\n"));
}

/* DESIGN.md §4: a multipart/signed whose signature part was stripped
 * (missing, empty, of the wrong type) is an error, never "none". */
static void
test_stripped_signature (void **state)
{
  g_autoptr(GBytes) s = protect (fx.alice, ALICE, BOB, FALSE, TRUE);
  g_autoptr(GBytes) content = part_of (s, 0);
  g_autoptr(GBytes) sig = part_of (s, 1);
  g_autofree char *head = NULL;
  const char *p = g_bytes_get_data (s, NULL);
  const char *ct = g_strstr_len (p, g_bytes_get_size (s), "Content-Type: multipart/signed");
  const char *variants[] = {
    "--%s\r\n%.*s\r\n--%s--\r\n",                                            /* missing */
    "--%s\r\n%.*s\r\n--%s\r\nContent-Type: application/pkcs7-signature\r\n\r\n\r\n--%s--\r\n",
    "--%s\r\n%.*s\r\n--%s\r\nContent-Type: text/plain\r\n\r\nMIIB\r\n--%s--\r\n",  /* wrong type */
  };

  assert_non_null (ct);
  assert_non_null (sig);
  head = g_strndup (p, ct - p);
  for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      g_autofree char *body = g_strdup_printf (variants[i], "B", (int) g_bytes_get_size (content),
                                               (const char *) g_bytes_get_data (content, NULL), "B", "B");
      g_autofree char *text = g_strconcat (head, "Content-Type: multipart/signed; "
                                           "protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
                                           "boundary=\"B\"\r\n\r\n", body, NULL);
      g_autoptr(GBytes) m = g_bytes_new (text, strlen (text));
      g_autoptr(PstStatus) st = open_msg (fx.bob, m, NULL);

      assert_sig (st, PST_SIG_ERROR, PST_COVERS_WHOLE, FALSE);
      assert_false (st->protected_headers);
    }
}

static void
test_header_protection_not_overridden (void **state)
{
  g_autoptr(GBytes) s = protect (fx.alice, ALICE, BOB, FALSE, TRUE);
  g_autoptr(GBytes) se = protect (fx.alice, ALICE, BOB, TRUE, TRUE);

  /* The outside is rewritten in transit: the signed inside is shown. */
  {
    g_autoptr(GBytes) forged1 = replace_in (s, FALSE, "Subject: test", "Subject: forged");
    g_autoptr(GBytes) forged = replace_in (forged1, FALSE, "From: " ALICE, "From: mallory@postern.test");
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = open_msg (fx.bob, forged, &plain);

    assert_sig (st, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
    assert_true (st->protected_headers);
    assert_true (contains (plain, "Subject: test\r\n"));
    assert_true (contains (plain, "From: " ALICE "\r\n"));
    assert_false (contains (plain, "forged"));
    assert_false (contains (plain, "mallory"));
  }
  /* The inside is rewritten: the signature is bad, and the protected
   * header (which says what the attacker wrote) is not shown. */
  {
    g_autoptr(GBytes) bad = replace_in (s, TRUE, "Subject: test", "Subject: evil");
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = open_msg (fx.bob, bad, &plain);

    assert_int_equal (st->sig_status, PST_SIG_BAD);
    assert_false (st->protected_headers);
    assert_true (contains (plain, "Subject: test\r\n"));
    assert_false (contains (plain, "evil"));
  }
  /* Signed by a certificate nobody vouches for (Mallory's, for Alice's
   * address): not good, so not a header. */
  {
    g_autofree char *dir = g_build_filename (fx.dir, "store-mallory", NULL);
    g_autoptr(PstSmime) m = pst_smime_new (dir, NULL);
    g_autoptr(GBytes) ms = NULL, forged = NULL, plain = NULL;
    g_autoptr(PstStatus) st = NULL;

    import (m, "evilca.pem", NULL, TRUE);
    import (m, "mallory.p12", "test", FALSE);
    ms = protect (m, ALICE, BOB, FALSE, TRUE);
    forged = replace_in (ms, FALSE, "Subject: test", "Subject: outer");
    st = open_msg (fx.bob, forged, &plain);
    assert_int_equal (st->sig_status, PST_SIG_UNKNOWN_KEY);
    assert_false (st->protected_headers);
    assert_true (contains (plain, "Subject: outer\r\n"));
  }
  /* Wrapped in an unsigned multipart: a part, never the header. */
  {
    g_autofree char *signed_part = entity_of (s);
    g_autofree char *enc_part = entity_of (se);
    g_autoptr(GBytes) w1 = wrap (ALICE, "mixed", "Content-Type: text/plain\r\n\r\nhi", signed_part);
    g_autoptr(GBytes) w2 = wrap (ALICE, "mixed", "Content-Type: text/plain\r\n\r\nhi", enc_part);
    g_autoptr(PstStatus) st1 = open_msg (fx.bob, w1, NULL);
    g_autoptr(PstStatus) st2 = open_msg (fx.bob, w2, NULL);

    assert_int_equal (st1->sig_covers, PST_COVERS_PART);
    assert_false (st1->protected_headers);
    assert_int_equal (st2->encryption_covers, PST_COVERS_PART);
    assert_false (st2->protected_headers);
  }
  /* A decryption that fails (not for this reader) keeps the outside. */
  {
    g_autofree char *dir = g_build_filename (fx.dir, "store-nobody", NULL);
    g_autoptr(PstSmime) n = pst_smime_new (dir, NULL);
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = NULL;

    import (n, "ca.pem", NULL, TRUE);
    st = open_msg (n, se, &plain);
    assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
    assert_false (st->protected_headers);
    assert_true (g_bytes_equal (plain, se));
  }
}

/* --- AuthEnvelopedData tampering ------------------------------------------ */

static void
test_gcm_tamper (void **state)
{
  g_autoptr(GBytes) from_bob = protect (fx.bob, BOB, ALICE, FALSE, TRUE);
  g_autoptr(PstStatus) caps = open_msg (fx.alice, from_bob, NULL);   /* Bob reads GCM */
  g_autoptr(GBytes) gcm = protect (fx.alice, ALICE, BOB, TRUE, TRUE);
  void (*tampers[]) (guchar *, gsize) = { flip_tag, flip_content };

  assert_int_equal (caps->sig_status, PST_SIG_GOOD);
  assert_true (contains (gcm, "smime-type=authEnveloped-data"));
  for (guint i = 0; i < G_N_ELEMENTS (tampers); i++)
    {
      g_autoptr(GBytes) bad = tamper_der (gcm, tampers[i]);
      g_autoptr(GBytes) der = base64_body (bad);
      g_autoptr(GBytes) plain = NULL;
      g_autoptr(GBytes) shown = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(PstStatus) st = NULL;
      PstIntegrity integrity = PST_INTEGRITY_OK;

      assert_false (pst_smime_decrypt (fx.bob, der, &plain, &integrity, &error));
      assert_null (plain);
      assert_int_equal (integrity, PST_INTEGRITY_FAILED);
      assert_error (error, PST_ERROR, PST_ERROR_CRYPTO);
      assert_non_null (strstr (error->message, "tampered"));

      st = open_msg (fx.bob, bad, &shown);
      assert_int_equal (st->decryption, PST_DECRYPTION_FAILED);
      assert_int_equal (st->integrity, PST_INTEGRITY_FAILED);
      assert_int_equal (st->sig_status, PST_SIG_NONE);
      assert_false (st->protected_headers);
      assert_false (contains (shown, "meeting is at noon"));
    }
  /* Untampered it opens; for somebody without a key it is not a tamper. */
  {
    g_autoptr(GBytes) der = base64_body (gcm);
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_build_filename (fx.dir, "store-nokey", NULL);
    g_autoptr(PstSmime) n = pst_smime_new (dir, NULL);
    PstIntegrity integrity = PST_INTEGRITY_FAILED;

    assert_true (pst_smime_decrypt (fx.bob, der, &plain, &integrity, &error));
    assert_int_equal (integrity, PST_INTEGRITY_OK);
    assert_true (contains (plain, "meeting is at noon"));
    g_clear_pointer (&plain, g_bytes_unref);
    assert_false (pst_smime_decrypt (n, der, &plain, &integrity, &error));
    assert_int_equal (integrity, PST_INTEGRITY_NONE);
    assert_non_null (strstr (error->message, "no S/MIME identity"));
  }
}

/* --- Cached chain checks ----------------------------------------------------- */

static void
test_store_cache (void **state)
{
  g_autofree char *dir = g_build_filename (fx.dir, "store-cache", NULL);
  g_autoptr(PstSmime) x = pst_smime_new (dir, NULL);
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ca = read_fx ("ca.pem");
  g_autoptr(GBytes) ec_signed = protect (fx.bob, EC_BOB, ALICE, FALSE, TRUE);
  g_autoptr(PstStatus) st = NULL;
  g_autofree char *ca_fpr = NULL;
  const char *const bob[] = { BOB, NULL };
  const char *const ec_bob[] = { EC_BOB, NULL };
  g_auto(GStrv) m1 = NULL, m2 = NULL, m3 = NULL, m4 = NULL, m5 = NULL;

  assert_true (pst_smime_import (x, ca, NULL, TRUE, &infos, &error));
  ca_fpr = g_strdup (((PstSmimeCertInfo *) infos->pdata[0])->fingerprint);
  import (x, "alice.p12", "test", FALSE);
  import (x, "bob.pem", NULL, FALSE);
  assert_true (pst_smime_has_identity (x, ALICE));
  m1 = pst_smime_missing_certs (x, bob, &error);
  assert_int_equal (g_strv_length (m1), 0);
  m2 = pst_smime_missing_certs (x, bob, &error);   /* from the cache */
  assert_int_equal (g_strv_length (m2), 0);
  /* Removing the anchor takes effect at once. */
  assert_true (pst_smime_remove (x, ca_fpr, &error));
  assert_false (pst_smime_has_identity (x, ALICE));
  m3 = pst_smime_missing_certs (x, bob, &error);
  assert_int_equal (g_strv_length (m3), 1);
  /* And so does importing it again. */
  import (x, "ca.pem", NULL, TRUE);
  assert_true (pst_smime_has_identity (x, ALICE));
  m4 = pst_smime_missing_certs (x, ec_bob, &error);
  assert_int_equal (g_strv_length (m4), 1);
  /* A certificate collected from a good signature is usable at once. */
  st = open_msg (x, ec_signed, NULL);
  assert_int_equal (st->sig_status, PST_SIG_GOOD);
  m5 = pst_smime_missing_certs (x, ec_bob, &error);
  assert_int_equal (g_strv_length (m5), 0);
}

/* --- Store -------------------------------------------------------------------- */

static void
test_store (void **state)
{
  g_autofree char *dir = g_build_filename (fx.dir, "store-x", NULL);
  g_autoptr(PstSmime) x = pst_smime_new (dir, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GBytes) p12 = read_fx ("alice.p12");
  g_autoptr(GBytes) ca = read_fx ("ca.pem");
  g_autoptr(GBytes) garbage = g_bytes_new_static ("hello", 5);
  const char *const want[] = { BOB, "nobody@postern.test", "bob@POSTERN.test", NULL };
  g_auto(GStrv) missing = NULL;
  struct stat sb;

  assert_non_null (x);
  assert_false (pst_smime_import (x, p12, "wrong", FALSE, NULL, &error));
  assert_error (error, PST_ERROR, PST_ERROR_FAILED);
  assert_non_null (strstr (error->message, "wrong passphrase"));
  g_clear_error (&error);
  assert_false (pst_smime_import (x, garbage, NULL, FALSE, NULL, &error));
  assert_error (error, PST_ERROR, PST_ERROR_FAILED);
  g_clear_error (&error);

  /* A CA certificate imported without trust_anchor is not an anchor. */
  assert_true (pst_smime_import (x, ca, NULL, FALSE, &infos, &error));
  assert_int_equal (infos->len, 1);
  assert_true (((PstSmimeCertInfo *) infos->pdata[0])->is_ca);
  assert_false (((PstSmimeCertInfo *) infos->pdata[0])->trust_anchor);
  g_clear_pointer (&infos, g_ptr_array_unref);
  assert_true (pst_smime_import (x, p12, "test", FALSE, &infos, &error));
  assert_true (((PstSmimeCertInfo *) infos->pdata[0])->has_key);
  assert_string_equal (((PstSmimeCertInfo *) infos->pdata[0])->emails[0], ALICE);
  g_clear_pointer (&infos, g_ptr_array_unref);
  assert_false (pst_smime_has_identity (x, ALICE));   /* no anchor yet */
  {
    g_autoptr(GBytes) s = protect (fx.bob, BOB, ALICE, FALSE, TRUE);
    g_autoptr(PstStatus) st = open_msg (x, s, NULL);

    assert_int_equal (st->sig_status, PST_SIG_UNKNOWN_KEY);
  }
  /* Now as an anchor. */
  assert_true (pst_smime_import (x, ca, NULL, TRUE, &infos, &error));
  assert_true (((PstSmimeCertInfo *) infos->pdata[0])->trust_anchor);
  g_clear_pointer (&infos, g_ptr_array_unref);
  assert_true (pst_smime_has_identity (x, ALICE));
  assert_false (pst_smime_has_identity (x, BOB));

  /* DER import; expired certificates are imported and flagged. */
  assert_true (sh ("openssl x509 -in bob.pem -outform DER -out bob.der"));
  import (x, "bob.der", NULL, FALSE);
  {
    g_autoptr(GBytes) old = read_fx ("old.pem");

    assert_true (pst_smime_import (x, old, NULL, FALSE, &infos, &error));
    assert_true (((PstSmimeCertInfo *) infos->pdata[0])->expired);
    g_clear_pointer (&infos, g_ptr_array_unref);
  }
  missing = pst_smime_missing_certs (x, want, &error);
  assert_non_null (missing);
  assert_int_equal (g_strv_length (missing), 1);
  assert_string_equal (missing[0], "nobody@postern.test");
  g_clear_pointer (&missing, g_strfreev);
  {
    const char *const o[] = { "old@postern.test", NULL };
    missing = pst_smime_missing_certs (x, o, &error);
    assert_int_equal (g_strv_length (missing), 1);
    g_clear_pointer (&missing, g_strfreev);
  }

  /* Policy errors name what is missing. */
  {
    g_autoptr(GBytes) msg = message_now (ALICE, BOB, "", BODY);
    const char *rcpts[] = { BOB, "nobody@postern.test", "x@y.test", NULL };
    g_autoptr(GBytes) out = pst_smimemime_protect (x, msg, ALICE, rcpts, TRUE, TRUE, &error);

    assert_null (out);
    assert_error (error, PST_ERROR, PST_ERROR_POLICY);
    assert_string_equal (error->message, "no S/MIME certificate for: nobody@postern.test, x@y.test");
    g_clear_error (&error);
  }
  {
    g_autoptr(GBytes) msg = message_now (BOB, ALICE, "", BODY);
    const char *rcpts[] = { ALICE, NULL };
    g_autoptr(GBytes) out = pst_smimemime_protect (x, msg, BOB, rcpts, FALSE, TRUE, &error);

    assert_null (out);
    assert_error (error, PST_ERROR, PST_ERROR_POLICY);
    g_clear_error (&error);
  }

  /* On disk: 0700 folders, 0600 files; a new instance sees the same. */
  {
    g_autofree char *ids = g_build_filename (dir, "identities", NULL);
    g_autoptr(GDir) d = g_dir_open (ids, 0, NULL);
    const char *name = g_dir_read_name (d);
    g_autofree char *file = g_build_filename (ids, name, NULL);

    assert_int_equal (g_stat (ids, &sb), 0);
    assert_int_equal (sb.st_mode & 0777, 0700);
    assert_int_equal (g_stat (file, &sb), 0);
    assert_int_equal (sb.st_mode & 0777, 0600);
  }
  {
    g_autoptr(PstSmime) again = pst_smime_new (dir, NULL);
    g_autoptr(GPtrArray) list = pst_smime_list (again);
    const char *bob_fpr = NULL;

    assert_true (pst_smime_has_identity (again, ALICE));
    assert_int_equal (list->len, 4);   /* CA, Alice, Bob, old */
    for (guint i = 0; i < list->len; i++)
      {
        PstSmimeCertInfo *info = list->pdata[i];

        if (info->emails[0] != NULL && g_str_equal (info->emails[0], BOB))
          bob_fpr = info->fingerprint;
      }
    assert_non_null (bob_fpr);
    assert_false (pst_smime_remove (again, "abc", &error));
    g_clear_error (&error);
    {
      g_autofree char *prefix = g_strndup (bob_fpr, 12);
      const char *const b[] = { BOB, NULL };

      assert_true (pst_smime_remove (again, prefix, &error));
      missing = pst_smime_missing_certs (again, b, &error);
      assert_int_equal (g_strv_length (missing), 1);
    }
  }
}


/* --- Streams (mime/smimestream.h) -------------------------------------------------- */

/* Whether a case of the stream matrices below is left out: under valgrind
 * (tests/unit/valgrind.sh sets PST_UNDER_VALGRIND) every other one, by the
 * parity of @sum, the sum of the case's indices; each value of each index
 * still comes in some of them.  The matrices were two thirds of this test's
 * time there (68 s of 110); the normal and sanitizer runs take them all. */
static gboolean
thinned (guint sum)
{
  return g_getenv ("PST_UNDER_VALGRIND") != NULL && sum % 2 == 1;
}

/* @msg protected as a stream.  Transfer full. */
static GBytes *
protect_stream (PstSmime *smime, GBytes *msg, const char *sender, const char *rcpt,
                gboolean encrypt, gboolean sign, GError **error)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_bytes (msg);
  g_autoptr(GInputStream) in = pst_pgpstream_input_new (base);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GBytes) header = pst_pgpstream_peek_header (in, NULL);
  const char *rcpts[] = { rcpt, NULL };
  PstBodyScan body;
  gboolean scan = FALSE;

  /* As the agent does: a body the protected header depends on (charset,
   * 8bit, quoted-printable) is scanned first, from a stream of its own. */
  if (header != NULL && pst_smimemime_can_protect_stream (header, sign, &scan) && scan)
    {
      g_autoptr(GInputStream) base2 = g_memory_input_stream_new_from_bytes (msg);
      g_autoptr(GInputStream) in2 = pst_pgpstream_input_new (base2);

      assert_true (pst_pgpstream_scan_body (in2, g_bytes_get_size (header), &body, NULL));
    }
  if (!pst_smimemime_protect_stream (smime, in, out, sender, rcpts, encrypt, sign,
                                     scan ? &body : NULL, error))
    return NULL;
  assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

/* What the stream writes reads as what pst_smimemime_protect writes: the
 * same plain message and the same verdict, for each kind of body, each
 * choice of encrypting and signing, RSA (CBC) and EC (GCM) keys; and
 * openssl cms reads it (BER with indefinite lengths). */
static void
test_stream_as_memory (void **state)
{
  g_autofree char *big = NULL;
  const char *bodies[][2] = {
    { "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n", BODY },
    { "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n",
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\n" },
    { "Content-Type: multipart/mixed; boundary=\"b\"\r\nContent-Transfer-Encoding: 7bit\r\n",
      "--b\r\nContent-Type: text/plain\r\n\r\nA part.\r\n--b--\r\n" },
    { "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n",
      "Gr=C3=BC=C3=9Fe\nno CRLF at the end" },
    { "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n", NULL },
    /* Signing makes it quoted-printable as it passes. */
    { "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
      "Gr\xc3\xbc\xc3\x9f\x65 = \nFrom here\n\t\r\nno end " },
    /* No Content-Type or no Content-Transfer-Encoding: the body decides
     * the charset and 8bit. */
    { "", "Gr\xc3\xbc\xc3\x9f\x65, no MIME header.\n" },
    { "", "7-bit, no MIME header.\n" },
    { "Content-Type: text/plain; charset=iso-8859-1\r\n", "caf\xe9\n" },
  };
  const char *pairs[][2] = { { ALICE, BOB }, { EC_ALICE, EC_BOB } };
  GString *b = g_string_new (NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  /* Date and Message-ID given: none is made up (hp.h), differently for each. */
  g_autofree char *date = g_date_time_format (now, "Date: %a, %d %b %Y %H:%M:%S +0000\r\n");

  /* Larger than every buffer on the way (64 KiB, 1 MiB), lines of 76. */
  for (int i = 0; i < 40000; i++)
    g_string_append_printf (b, "%075d\n", i);
  big = g_string_free (b, FALSE);
  bodies[4][1] = big;

  for (guint k = 0; k < G_N_ELEMENTS (pairs); k++)
    for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
      for (int mode = 1; mode <= 3; mode++)
        {
          gboolean encrypt = mode & 1, sign = (mode & 2) != 0;
          /* (+ 1: the encrypted large text of the first pair, checked
           * with openssl below, stays.) */
          if (thinned (k + i + (guint) mode + 1))
            continue;
          g_autofree char *extra = g_strconcat (date, "Message-ID: <stream@postern.test>\r\n",
                                                bodies[i][0], NULL);
          g_autoptr(GBytes) msg = message_now (pairs[k][0], pairs[k][1], extra, bodies[i][1]);
          g_autoptr(GBytes) mem = NULL;
          g_autoptr(GBytes) str = NULL;
          g_autoptr(GBytes) mem_plain = NULL;
          g_autoptr(GBytes) str_plain = NULL;
          g_autoptr(PstStatus) mem_st = NULL;
          g_autoptr(PstStatus) str_st = NULL;
          g_autoptr(GError) error = NULL;
          g_autofree char *mem_json = NULL;
          g_autofree char *str_json = NULL;
          const char *rcpts[] = { pairs[k][1], NULL };

          mem = pst_smimemime_protect (fx.alice, msg, pairs[k][0], rcpts, encrypt, sign, &error);
          assert_non_null (mem);
          str = protect_stream (fx.alice, msg, pairs[k][0], pairs[k][1], encrypt, sign, &error);
          if (str == NULL)
            fail_msg ("stream %u/%u/%d: %s", k, i, mode, error->message);
          mem_st = open_msg (fx.bob, mem, &mem_plain);
          str_st = open_msg (fx.bob, str, &str_plain);
          mem_json = pst_status_to_json_string (mem_st);
          str_json = pst_status_to_json_string (str_st);
          assert_string_equal (str_json, mem_json);
          assert_true (g_bytes_equal (str_plain, mem_plain));
          assert_int_equal (str_st->decryption, encrypt ? PST_DECRYPTION_OK : PST_DECRYPTION_NOT_ENCRYPTED);
          if (sign)
            assert_sig (str_st, PST_SIG_GOOD, PST_COVERS_WHOLE, TRUE);
          if (encrypt && k == 0 && i == 4)
            {
              g_autoptr(GBytes) inner = NULL;

              write_fx ("stream.eml", str);
              assert_true (sh ("openssl cms -decrypt -in stream.eml -recip bob.pem -inkey bob.key"
                               " -out stream-inner.eml"));
              inner = read_fx ("stream-inner.eml");
              assert_true (contains (inner, "000039999\r\n"));
            }
        }
}

/* What cannot be written as a stream is refused before anything is
 * written: no Content-Transfer-Encoding and the body not scanned; signing
 * a 7bit body not scanned; a locked or missing key. */
static void
test_stream_refusals (void **state)
{
  g_autoptr(GBytes) no_cte = message_now (ALICE, BOB, "Content-Type: text/plain\r\n", BODY);
  g_autoptr(GBytes) seven = message_now (ALICE, BOB, "Content-Type: text/plain\r\n"
                                         "Content-Transfer-Encoding: 7bit\r\n", BODY);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_bytes (seven);
  g_autoptr(GInputStream) in = pst_pgpstream_input_new (base);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  const char *rcpts[] = { "carol@postern.test", NULL };
  g_autoptr(GBytes) header = g_bytes_new_static ("Content-Type: text/plain\r\n"
                                                 "Content-Transfer-Encoding: base64\r\n\r\n", 63);
  g_autoptr(GInputStream) no_cte_base = g_memory_input_stream_new_from_bytes (no_cte);
  g_autoptr(GInputStream) no_cte_in = pst_pgpstream_input_new (no_cte_base);
  g_autoptr(GBytes) no_cte_header = pst_pgpstream_peek_header (no_cte_in, NULL);
  const char *bob[] = { BOB, NULL };
  gboolean scan = TRUE;

  /* No Content-Transfer-Encoding: the body decides it; not scanned, refused. */
  assert_true (pst_smimemime_can_protect_stream (no_cte_header, FALSE, &scan));
  assert_true (scan);
  assert_false (pst_smimemime_protect_stream (fx.alice, no_cte_in, out, ALICE, bob, TRUE, FALSE,
                                              NULL, &error));
  assert_error (error, PST_ERROR, PST_ERROR_FAILED);
  g_clear_error (&error);
  assert_true (pst_smimemime_can_protect_stream (header, TRUE, &scan));
  assert_false (scan);
  assert_false (pst_smimemime_protect_stream (fx.alice, in, out, ALICE, rcpts, TRUE, TRUE, NULL,
                                              &error));
  assert_error (error, PST_ERROR, PST_ERROR_FAILED);   /* 7bit, signing, not scanned */
  g_clear_error (&error);
  assert_false (pst_smimemime_protect_stream (fx.alice, in, out, ALICE, rcpts, TRUE, FALSE, NULL,
                                              &error));
  assert_error (error, PST_ERROR, PST_ERROR_POLICY);
  assert_non_null (strstr (error->message, "carol@postern.test"));
  assert_int_equal (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)), 0);
}

static GInputStream *
reopen_bytes (gpointer data, GError **error)
{
  return g_memory_input_stream_new_from_bytes (data);
}

/* @der decrypted by Bob's store as a stream: the plaintext, or NULL with
 * @error set. */
static GBytes *
decrypt_stream (GBytes *der, PstIntegrity *integrity, GError **error)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();

  if (!pst_smime_decrypt_stream (fx.bob, reopen_bytes, der, out, integrity, error))
    return NULL;
  assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

/* @der (AuthEnvelopedData in DER, its 16-byte mac last) with the mac cut
 * to its first @keep bytes and the lengths around it made to fit. */
static GBytes *
shorten_mac (GBytes *der, gsize keep)
{
  gsize len = 0, at = 0;
  const guchar *raw = g_bytes_get_data (der, &len);
  guchar *d = g_memdup2 (raw, len);
  gsize cut = 16 - keep;

  assert_int_equal (d[len - 18], 0x04);
  assert_int_equal (d[len - 17], 0x10);
  d[len - 17] = (guchar) keep;
  /* ContentInfo, its [0], the AuthEnvelopedData: long lengths, the same
   * number of bytes (the message is larger than 255 bytes). */
  for (int level = 0; level < 3; level++)
    {
      guint n = d[at + 1] & 0x7f;
      gsize l = 0;

      assert_true (d[at + 1] & 0x80);
      for (guint i = 0; i < n; i++)
        l = (l << 8) | d[at + 2 + i];
      l -= cut;
      for (guint i = 0; i < n; i++)
        d[at + 2 + i] = (guchar) (l >> (8 * (n - 1 - i)));
      at += 2 + n;
      if (level == 0)
        at += 2 + d[at + 1];   /* the contentType OID */
    }
  return g_bytes_new_take (d, len - cut);
}

/* A mac cut short is refused as tampered with, in memory and as a stream:
 * OpenSSL would check as many bytes as are left (one byte: one forgery in
 * 256 goes through).  12 bytes, RFC 5084's least, still opens. */
static void
test_gcm_short_tag (void **state)
{
  g_autoptr(GBytes) from_bob = protect (fx.bob, BOB, ALICE, FALSE, TRUE);
  g_autoptr(PstStatus) caps = open_msg (fx.alice, from_bob, NULL);   /* Bob reads GCM */
  g_autoptr(GBytes) gcm = protect (fx.alice, ALICE, BOB, TRUE, TRUE);
  g_autoptr(GBytes) der = base64_body (gcm);
  const gsize keeps[] = { 1, 11, 12 };

  assert_int_equal (caps->sig_status, PST_SIG_GOOD);
  assert_true (contains (gcm, "smime-type=authEnveloped-data"));
  for (guint i = 0; i < G_N_ELEMENTS (keeps); i++)
    {
      g_autoptr(GBytes) cut = shorten_mac (der, keeps[i]);
      g_autoptr(GBytes) plain = NULL, streamed = NULL;
      g_autoptr(GError) e1 = NULL, e2 = NULL;
      PstIntegrity i1 = PST_INTEGRITY_NONE, i2 = PST_INTEGRITY_NONE;
      gboolean ok = pst_smime_decrypt (fx.bob, cut, &plain, &i1, &e1);

      streamed = decrypt_stream (cut, &i2, &e2);
      if (keeps[i] >= 12)
        {
          assert_true (ok);
          assert_int_equal (i1, PST_INTEGRITY_OK);
          assert_non_null (streamed);
          assert_int_equal (i2, PST_INTEGRITY_OK);
          assert_true (g_bytes_equal (plain, streamed));
          continue;
        }
      assert_false (ok);
      assert_null (plain);
      assert_int_equal (i1, PST_INTEGRITY_FAILED);
      assert_non_null (strstr (e1->message, "shorter than 12 bytes"));
      assert_null (streamed);
      assert_int_equal (i2, PST_INTEGRITY_FAILED);
      assert_non_null (strstr (e2->message, "shorter than 12 bytes"));
    }
}

/* Decryption as a stream gives what pst_smime_decrypt gives: DER (the
 * in-memory writer), BER with indefinite lengths (the stream writer, and
 * openssl cms -stream), CBC and GCM; a changed byte in the content fails
 * (GCM: integrity failed), so does a truncated object; what is not
 * enveloped CMS is refused. */
static void
test_decrypt_stream (void **state)
{
  /* Bob to himself: GCM (own identities read it); to Bob: CBC. */
  const char *pairs[][2] = { { ALICE, BOB }, { EC_ALICE, EC_BOB }, { BOB, BOB } };
  GString *b = g_string_new (NULL);
  g_autofree char *big = NULL;

  for (int i = 0; i < 30000; i++)
    g_string_append_printf (b, "%075d\n", i);
  big = g_string_free (b, FALSE);
  for (guint k = 0; k < G_N_ELEMENTS (pairs); k++)
    for (int stream = 0; stream < 2; stream++)
      {
        g_autoptr(GBytes) msg = message_now (pairs[k][0], pairs[k][1],
                                             "Content-Type: text/plain\r\n"
                                             "Content-Transfer-Encoding: 7bit\r\n", big);
        const char *rcpts[] = { pairs[k][1], NULL };
        g_autoptr(GError) error = NULL;
        PstSmime *from = k == 2 ? fx.bob : fx.alice;
        g_autoptr(GBytes) out = stream
          ? protect_stream (from, msg, pairs[k][0], pairs[k][1], TRUE, FALSE, &error)
          : pst_smimemime_protect (from, msg, pairs[k][0], rcpts, TRUE, FALSE, &error);
        g_autoptr(GBytes) der = base64_body (out);
        g_autoptr(GBytes) want = NULL;
        g_autoptr(GBytes) got = NULL;
        g_autoptr(GBytes) bad = NULL;
        g_autoptr(GBytes) cut = NULL;
        PstIntegrity want_i = PST_INTEGRITY_FAILED, got_i = PST_INTEGRITY_FAILED;
        gsize len = g_bytes_get_size (der);
        guchar *copy;

        assert_true (pst_smime_decrypt (fx.bob, der, &want, &want_i, &error));
        got = decrypt_stream (der, &got_i, &error);
        if (got == NULL)
          fail_msg ("decrypt stream %u/%d: %s", k, stream, error->message);
        assert_true (g_bytes_equal (got, want));
        assert_int_equal (got_i, want_i);
        assert_int_equal (got_i, k == 2 ? PST_INTEGRITY_OK : PST_INTEGRITY_NONE);

        copy = g_memdup2 (g_bytes_get_data (der, NULL), len);
        copy[len / 2] ^= 0x01;
        bad = g_bytes_new_take (copy, len);
        g_clear_pointer (&got, g_bytes_unref);
        got = decrypt_stream (bad, &got_i, &error);
        if (k == 2)
          {
            assert_null (got);
            assert_error (error, PST_ERROR, PST_ERROR_CRYPTO);
            assert_int_equal (got_i, PST_INTEGRITY_FAILED);
          }
        else
          assert_true (got == NULL || !g_bytes_equal (got, want));   /* CBC: garbled */
        g_clear_error (&error);
        cut = g_bytes_new_from_bytes (der, 0, len - 40);
        g_clear_pointer (&got, g_bytes_unref);
        assert_null (decrypt_stream (cut, &got_i, &error));
        assert_error (error, PST_ERROR, PST_ERROR_CRYPTO);
      }
  {
    g_autoptr(GBytes) inner = g_bytes_new_static ("Content-Type: text/plain\r\n\r\nfrom openssl\r\n", 43);
    g_autoptr(GBytes) der = NULL;
    g_autoptr(GBytes) got = NULL;
    g_autoptr(GError) error = NULL;
    PstIntegrity integrity;

    write_fx ("o-inner.txt", inner);
    assert_true (sh ("openssl cms -encrypt -stream -binary -outform DER -aes-256-gcm"
                     " -in o-inner.txt -out o-stream.der bob.pem"));
    der = read_fx ("o-stream.der");
    got = decrypt_stream (der, &integrity, &error);
    if (got == NULL)
      fail_msg ("openssl's BER: %s", error->message);
    assert_true (g_bytes_equal (got, inner));
    assert_int_equal (integrity, PST_INTEGRITY_OK);
  }
  {
    g_autoptr(GBytes) junk = g_bytes_new_static ("not CMS at all", 14);
    g_autoptr(GError) error = NULL;

    assert_null (decrypt_stream (junk, NULL, &error));
    assert_error (error, PST_ERROR, PST_ERROR_CRYPTO);
  }
}

static GInputStream *
reopen_message (gpointer data, GError **error)
{
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_bytes (data);

  return pst_pgpstream_input_new (base);
}

/* @msg opened as a stream by @smime: FALSE when it is not streamed. */
static gboolean
open_stream (PstSmime *smime, GBytes *msg, GBytes **plain_out, PstStatus **status_out)
{
  g_autoptr(GInputStream) in = reopen_message (msg, NULL);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  gboolean streamable = FALSE;

  if (!pst_smimemime_open_stream (smime, in, reopen_message, msg, out, status_out, &streamable,
                                  &error))
    fail_msg ("open stream: %s", error->message);
  if (!streamable)
    {
      assert_int_equal (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)), 0);
      return FALSE;
    }
  assert_true (g_output_stream_close (out, NULL, NULL));
  *plain_out = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  return TRUE;
}

/* Reading as a stream says what the in-memory reader says, for what it
 * streams (an attachment, encrypted only: CBC and GCM, either writer; a
 * signature inside and text/plain: test_read_stream), and leaves the rest
 * to it: another person's message, a locked key; a GCM tag that does not
 * check fails as it fails in memory. */
static void
test_open_stream (void **state)
{
  const char *att = "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
                    "Content-Transfer-Encoding: base64\r\nMessage-ID: <o@postern.test>\r\n";
  const char *text = "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n";
  GString *b = g_string_new (NULL);
  g_autofree char *body = NULL;
  struct { PstSmime **from; const char *sender, *rcpt, *headers; gboolean sign, streams; } cases[] = {
    { &fx.alice, ALICE, BOB, NULL, FALSE, TRUE },      /* CBC */
    { &fx.bob, BOB, BOB, NULL, FALSE, TRUE },          /* GCM */
    { &fx.alice, ALICE, BOB, NULL, TRUE, TRUE },       /* signed inside (smimeread.h) */
    { &fx.alice, ALICE, BOB, "text", FALSE, TRUE },    /* text/plain (smimeread.h) */
  };

  for (int i = 0; i < 20000; i++)
    g_string_append_printf (b, "%075d\n", i);
  body = g_string_free (b, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int stream = 0; stream < 2; stream++)
      {
        g_autoptr(GBytes) msg = message_now (cases[i].sender, cases[i].rcpt,
                                             cases[i].headers != NULL ? text : att, body);
        const char *rcpts[] = { cases[i].rcpt, NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) out = stream
          ? protect_stream (*cases[i].from, msg, cases[i].sender, cases[i].rcpt, TRUE, cases[i].sign, &error)
          : pst_smimemime_protect (*cases[i].from, msg, cases[i].sender, rcpts, TRUE, cases[i].sign, &error);
        g_autoptr(GBytes) mem_plain = NULL;
        g_autoptr(GBytes) str_plain = NULL;
        g_autoptr(PstStatus) mem_st = NULL;
        g_autoptr(PstStatus) str_st = NULL;
        g_autofree char *mem_json = NULL;
        g_autofree char *str_json = NULL;

        assert_non_null (out);
        assert_int_equal (open_stream (fx.bob, out, &str_plain, &str_st), cases[i].streams);
        if (!cases[i].streams)
          continue;
        mem_st = open_msg (fx.bob, out, &mem_plain);
        mem_json = pst_status_to_json_string (mem_st);
        str_json = pst_status_to_json_string (str_st);
        assert_string_equal (str_json, mem_json);
        assert_true (g_bytes_equal (str_plain, mem_plain));
        if (stream == 1 && i == 1)
          {
            /* A changed byte in the middle of the content: GCM fails. */
            gsize len = g_bytes_get_size (out);
            char *copy = g_memdup2 (g_bytes_get_data (out, NULL), len);
            char *mid = copy + len / 2;
            g_autoptr(GBytes) bad = NULL;
            g_autoptr(GBytes) bad_mem_plain = NULL;
            g_autoptr(GBytes) bad_str_plain = NULL;
            g_autoptr(PstStatus) bad_mem = NULL;
            g_autoptr(PstStatus) bad_str = NULL;
            g_autofree char *bm = NULL;
            g_autofree char *bs = NULL;

            while (!g_ascii_isalpha (*mid))
              mid++;
            *mid = *mid == 'A' ? 'B' : 'A';
            bad = g_bytes_new_take (copy, len);
            assert_true (open_stream (fx.bob, bad, &bad_str_plain, &bad_str));
            bad_mem = open_msg (fx.bob, bad, &bad_mem_plain);
            bm = pst_status_to_json_string (bad_mem);
            bs = pst_status_to_json_string (bad_str);
            assert_string_equal (bs, bm);
            assert_int_equal (bad_str->decryption, PST_DECRYPTION_FAILED);
          }
      }
  {
    /* Not for this store (Carol has no identity): in memory. */
    g_autofree char *dir = g_build_filename (fx.dir, "store-carol", NULL);
    g_autoptr(PstSmime) carol = pst_smime_new (dir, NULL);
    g_autoptr(GBytes) msg = message_now (ALICE, BOB, att, body);
    g_autoptr(GBytes) out = protect_stream (fx.alice, msg, ALICE, BOB, TRUE, FALSE, NULL);
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = NULL;

    assert_false (open_stream (carol, out, &plain, &st));
  }
}

/* The output failing half-way is the call's error, not a verdict on the
 * message ("decryption failed"), whatever its domain: for an attachment
 * (smimestream.h, written as it is decrypted) and for a signed text
 * (smimeread.h, judged, then written). */
static void
test_open_output_fails (void **state)
{
  const char *heads[] = {
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n",
  };
  GString *b = g_string_new (NULL);
  g_autofree char *body = NULL;
  const char *rcpts[] = { BOB, NULL };

  (void) state;
  for (int i = 0; i < 20000; i++)
    g_string_append_printf (b, "line %d of what does not fit\r\n", i);
  body = g_string_free (b, FALSE);
  for (guint h = 0; h < G_N_ELEMENTS (heads); h++)
    {
      g_autoptr(GBytes) msg = message_now (ALICE, BOB, heads[h], body);
      g_autoptr(GBytes) prot = pst_smimemime_protect (fx.alice, msg, ALICE, rcpts, TRUE, h == 1, NULL);
      g_autoptr(GInputStream) in = reopen_message (prot, NULL);
      g_autoptr(GOutputStream) out = g_object_new (failing_out_get_type (), NULL);
      g_autoptr(PstStatus) st = NULL;
      g_autoptr(GError) error = NULL;
      gboolean streamable = FALSE;

      assert_non_null (prot);
      /* Past the header written first, within the 600 KB body. */
      ((FailingOut *) out)->room = 200000;
      assert_false (pst_smimemime_open_stream (fx.bob, in, reopen_message, prot, out, &st, &streamable,
                                               &error));
      assert_non_null (error);
      assert_non_null (strstr (error->message, "no room"));
      assert_null (st);
    }
}

/* The message read again from its start: whole the first @whole times
 * (the first: what surrounds the content), then failing half-way. */
typedef struct {
  GBytes *msg;
  int whole;
  int readings;
} FailingReopen;

static GInputStream *
reopen_failing (gpointer data, GError **error)
{
  FailingReopen *r = data;
  g_autoptr(GInputStream) base = g_memory_input_stream_new_from_bytes (r->msg);
  gsize len = g_bytes_get_size (r->msg);
  g_autoptr(GInputStream) failing = failing_in_new (base, r->readings++ < r->whole ? G_MAXSIZE : len / 2);

  (void) error;
  return pst_pgpstream_input_new (failing);
}

/* Reading the message failing half-way, while what surrounds the content
 * is read or while the content is decrypted, is the call's error too, not
 * a verdict, whatever its domain. */
static void
test_open_input_fails (void **state)
{
  const char *head = "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n";
  GString *b = g_string_new (NULL);
  g_autofree char *body = NULL;
  const char *rcpts[] = { BOB, NULL };

  (void) state;
  for (int i = 0; i < 3000; i++)
    g_string_append_printf (b, "line %d of what is not read\r\n", i);
  body = g_string_free (b, FALSE);
  for (int whole = 0; whole < 2; whole++)
    {
      /* Failing at the first reading (what surrounds the content) or at
       * the second (the content decrypted). */
      g_autoptr(GBytes) msg = message_now (ALICE, BOB, head, body);
      g_autoptr(GBytes) prot = pst_smimemime_protect (fx.alice, msg, ALICE, rcpts, TRUE, FALSE, NULL);
      FailingReopen again = { prot, whole, 0 };
      g_autoptr(GInputStream) in = reopen_message (prot, NULL);
      g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
      g_autoptr(PstStatus) st = NULL;
      g_autoptr(GError) error = NULL;
      gboolean streamable = FALSE;

      assert_non_null (prot);
      assert_false (pst_smimemime_open_stream (fx.bob, in, reopen_failing, &again, out, &st,
                                               &streamable, &error));
      assert_non_null (error);
      assert_non_null (strstr (error->message, "cannot read the input"));
      assert_null (st);
      assert_int_equal (again.readings, whole + 1);
    }
}

/* @msg verified as a stream: FALSE when it is not streamed. */
static gboolean
verify_stream (PstSmime *smime, GBytes *msg, PstStatus **status_out)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes (msg);
  g_autoptr(GError) error = NULL;
  gboolean streamable = FALSE;

  if (!pst_smimeread_verify (smime, in, status_out, &streamable, &error))
    fail_msg ("verify stream: %s", error->message);
  return streamable;
}

/* @msg read as a stream (decrypt or, @verify, verify) and in memory: the
 * same status and (decrypting) the same bytes.  FALSE when not streamed. */
static gboolean
same_as_memory (GBytes *msg, gboolean verify, const char *what)
{
  g_autoptr(GBytes) mem_plain = NULL;
  g_autoptr(GBytes) str_plain = NULL;
  g_autoptr(PstStatus) mem_st = NULL;
  g_autoptr(PstStatus) str_st = NULL;
  g_autofree char *mem_json = NULL;
  g_autofree char *str_json = NULL;
  gboolean streamed = verify ? verify_stream (fx.bob, msg, &str_st)
                             : open_stream (fx.bob, msg, &str_plain, &str_st);

  if (!streamed)
    return FALSE;
  mem_st = open_msg (fx.bob, msg, &mem_plain);
  mem_json = pst_status_to_json_string (mem_st);
  str_json = pst_status_to_json_string (str_st);
  if (strcmp (mem_json, str_json) != 0)
    fail_msg ("%s: stream %s, memory %s", what, str_json, mem_json);
  if (!verify && !pst_status_withholds_content (str_st) && !g_bytes_equal (str_plain, mem_plain))
    fail_msg ("%s: the plaintext differs", what);
  return TRUE;
}

/* A copy of @msg with the first @old after @from replaced by @new (same
 * length). */
static GBytes *
changed (GBytes *msg, const char *from, const char *old, const char *new_)
{
  gsize len = g_bytes_get_size (msg);
  char *copy = g_memdup2 (g_bytes_get_data (msg, NULL), len);
  char *start = g_strstr_len (copy, len, from);
  char *at = start != NULL ? g_strstr_len (start, len - (start - copy), old) : NULL;

  assert_non_null (at);
  memcpy (at, new_, strlen (new_));
  return g_bytes_new_take (copy, len);
}

/* mime/smimeread.h: a signature inside an encryption, text/plain, and
 * verify of multipart/signed, read as streams, say what the in-memory
 * reader says (status and bytes), for both writers, CBC and GCM, bodies
 * with LF, CRLF and bare CR line ends, larger than every buffer, and
 * multipart entities; tampered (a changed signed byte, a changed
 * ciphertext byte, a cut message) they fail as in memory; what is not one
 * of its shapes (a multipart in a multipart, inline OpenPGP in the text, a
 * legacy display part) is left to the in-memory reader. */
static void
test_read_stream (void **state)
{
  const char *heads[] = {
    "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n",
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n",
  };
  GString *b = g_string_new (NULL);
  g_autofree char *big = NULL;
  const char *bodies[4];
  struct { PstSmime **from; const char *sender, *rcpt; } pairs[] = {
    { &fx.alice, ALICE, BOB },   /* CBC */
    { &fx.bob, BOB, BOB },       /* GCM */
  };

  for (int i = 0; i < 3000; i++)
    g_string_append_printf (b, "%075d%s", i, i % 3 == 0 ? "\n" : i % 3 == 1 ? "\r\n" : "\r");
  big = g_string_free (b, FALSE);
  bodies[0] = BODY;
  bodies[1] = big;
  bodies[2] = "no line end at the end\r\n--not-the-boundary\r\n-- \r\nlast";
  bodies[3] = "";
  for (guint k = 0; k < G_N_ELEMENTS (pairs); k++)
    for (guint h = 0; h < G_N_ELEMENTS (heads); h++)
      for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
        for (int mode = 0; mode < 3; mode++)
          for (int stream = 0; stream < 2; stream++)
            {
              gboolean encrypt = mode != 1, sign = mode != 0;
              /* (The changed ciphertext byte below stays for both pairs.) */
              if (thinned (k + h + i + (guint) mode + (guint) stream))
                continue;
              g_autoptr(GBytes) msg = message_now (pairs[k].sender, pairs[k].rcpt, heads[h], bodies[i]);
              const char *rcpts[] = { pairs[k].rcpt, NULL };
              g_autoptr(GError) error = NULL;
              g_autoptr(GBytes) out = NULL;
              g_autofree char *what = g_strdup_printf ("pair %u head %u body %u mode %d stream %d",
                                                       k, h, i, mode, stream);

              if (stream && (h == 0 || sign))
                out = protect_stream (*pairs[k].from, msg, pairs[k].sender, pairs[k].rcpt, encrypt,
                                      sign, &error);
              else
                out = pst_smimemime_protect (*pairs[k].from, msg, pairs[k].sender, rcpts, encrypt,
                                             sign, &error);
              if (out == NULL)
                {
                  /* 7bit text that would need quoted-printable to be signed */
                  assert_true (stream);
                  continue;
                }
              if (!same_as_memory (out, !encrypt, what))
                fail_msg ("%s: not streamed", what);
              if (sign && i == 1)
                {
                  /* One signed byte changed: bad, as in memory. */
                  g_autoptr(GBytes) bad = NULL;

                  if (!encrypt)
                    {
                      bad = changed (out, "0000000000", "00000", "00100");
                      assert_true (same_as_memory (bad, TRUE, what));
                    }
                  /* Cut after the signed part: no signature, as in memory. */
                  {
                    gsize len = g_bytes_get_size (out);
                    g_autoptr(GBytes) cut = g_bytes_new_from_bytes (out, 0, encrypt ? len / 2 : len - 600);

                    same_as_memory (cut, !encrypt, what);
                  }
                }
              if (encrypt && sign && i == 1 && stream)
                {
                  /* A changed ciphertext byte: GCM fails; CBC garbles a block. */
                  gsize len = g_bytes_get_size (out);
                  char *copy = g_memdup2 (g_bytes_get_data (out, NULL), len);
                  char *mid = copy + len / 2;
                  g_autoptr(GBytes) bad = NULL;

                  while (!g_ascii_isalpha (*mid))
                    mid++;
                  *mid = *mid == 'A' ? 'B' : 'A';
                  bad = g_bytes_new_take (copy, len);
                  same_as_memory (bad, FALSE, what);
                }
            }
  {
    /* Multipart entities: with a preamble and an epilogue, without a close
     * delimiter, white space after a delimiter, a large part. */
    const char *mp = "Content-Type: multipart/mixed; boundary=\"b\"\r\nContent-Transfer-Encoding: 7bit\r\n";
    g_autofree char *large = g_strconcat ("preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nA part.\r\n"
                                          "--b\r\nContent-Type: application/octet-stream\r\n\r\n", big,
                                          "\r\n--b--\r\nepilogue\r\n", NULL);
    const char *parts[] = {
      large,
      "--b\r\nContent-Type: text/plain\r\n\r\nA\r\n--b\r\n",
      "--b\r\nContent-Type: text/plain\r\n\r\nA\r\n--b  \r\nContent-Type: text/html\r\n\r\n<p>x</p>\n--b-- \n",
      /* a forwarded message, holding what the reader would open were it
       * not forwarded: an inline block, another S/MIME layer's header */
      "--b\r\nContent-Type: text/plain\r\n\r\nForwarded below.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
      "From: carol@postern.test\r\nSubject: fwd\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\n"
      "-----BEGIN PGP MESSAGE-----\r\n\r\nxx\r\n-----END PGP MESSAGE-----\r\n--b--\r\n",
    };
    const char *rcpts[] = { BOB, NULL };

    for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
      for (int mode = 0; mode < 3; mode++)
        {
          gboolean encrypt = mode != 1, sign = mode != 0;
          g_autoptr(GBytes) m = message_now (ALICE, BOB, mp, parts[i]);
          g_autoptr(GBytes) o = pst_smimemime_protect (fx.alice, m, ALICE, rcpts, encrypt, sign, NULL);
          g_autofree char *what = g_strdup_printf ("multipart %u mode %d", i, mode);

          assert_non_null (o);
          if (!same_as_memory (o, !encrypt, what))
            fail_msg ("%s: not streamed", what);
        }
  }
  {
    /* Inline OpenPGP, a multipart inside a multipart, a legacy display
     * part: in memory. */
    const char *mp = "Content-Type: multipart/mixed; boundary=\"b\"\r\nContent-Transfer-Encoding: 7bit\r\n";
    g_autoptr(GBytes) m1 = message_now (ALICE, BOB, mp, "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
                                                        "--c\r\n\r\nA\r\n--c--\r\n--b--\r\n");
    g_autoptr(GBytes) m2 = message_now (ALICE, BOB, heads[0],
                                        "-----BEGIN PGP MESSAGE-----\r\n\r\nxx\r\n-----END PGP MESSAGE-----\r\n");
    g_autoptr(GBytes) m4 = message_now (ALICE, BOB, mp, "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
                                                        "Subject: x\r\n--b--\r\n");
    const char *rcpts[] = { BOB, NULL };
    g_autoptr(GBytes) o1 = pst_smimemime_protect (fx.alice, m1, ALICE, rcpts, TRUE, TRUE, NULL);
    g_autoptr(GBytes) o2 = pst_smimemime_protect (fx.alice, m2, ALICE, rcpts, TRUE, FALSE, NULL);
    g_autoptr(GBytes) o3 = pst_smimemime_protect (fx.alice, m2, ALICE, rcpts, FALSE, TRUE, NULL);
    g_autoptr(GBytes) o4 = pst_smimemime_protect (fx.alice, m4, ALICE, rcpts, TRUE, FALSE, NULL);
    /* the same block, base64 and quoted-printable ("=2D" for its first
     * dash): the reader with OpenPGP (the agent's) decodes the text before
     * it looks (pgpinline.c), so the stream decodes it too */
    g_autoptr(GBytes) m5 = message_now (ALICE, BOB, "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n",
                                        "LS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tDQoNCnh4DQotLS0tLUVORCBQR1AgTUVTU0FHRS0tLS0tDQo=\r\n");
    g_autoptr(GBytes) m6 = message_now (ALICE, BOB, "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                                        "=2D----BEGIN PGP MESSAGE-----\r\n\r\nxx\r\n-----END PGP MESSAGE-----\r\n");
    g_autoptr(GBytes) o5 = pst_smimemime_protect (fx.alice, m5, ALICE, rcpts, TRUE, FALSE, NULL);
    g_autoptr(GBytes) o6 = pst_smimemime_protect (fx.alice, m6, ALICE, rcpts, TRUE, FALSE, NULL);
    g_autoptr(GBytes) o7 = pst_smimemime_protect (fx.alice, m5, ALICE, rcpts, FALSE, TRUE, NULL);
    /* a marker line after a quoted-printable soft line break: the reader
     * without OpenPGP (this test's) looks at the text as it came */
    g_autoptr(GBytes) m8 = message_now (ALICE, BOB, "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                                        "x=\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nxx\r\n-----END PGP MESSAGE-----\r\n");
    g_autoptr(GBytes) o8 = pst_smimemime_protect (fx.alice, m8, ALICE, rcpts, TRUE, FALSE, NULL);

    assert_false (same_as_memory (o1, FALSE, "nested multipart"));
    assert_false (same_as_memory (o2, FALSE, "inline pgp"));
    assert_false (same_as_memory (o3, TRUE, "inline pgp signed"));
    assert_false (same_as_memory (o4, FALSE, "legacy display part"));
    assert_false (same_as_memory (o5, FALSE, "inline pgp in base64"));
    assert_false (same_as_memory (o6, FALSE, "inline pgp in quoted-printable"));
    assert_false (same_as_memory (o7, TRUE, "inline pgp in base64, signed"));
    assert_false (same_as_memory (o8, FALSE, "inline pgp after a soft line break"));
  }
}

/* Opaque signed-data (application/pkcs7-mime; smime-type=signed-data), as
 * openssl cms writes it (DER, and BER with -stream; text, multipart, a
 * large body, base64 and binary transfer encodings), verified as a stream:
 * the status of the in-memory reader, also with a changed content byte
 * (bad) and a cut object; what holds a multipart/signed goes to memory. */
static void
test_read_stream_opaque (void **state)
{
  const char *bodies[] = {
    "printf 'Content-Type: text/plain\r\n\r\nHello, opaque.\r\n'",
    "printf 'Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
    "A\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\nB\r\n--x--\r\n'",
    "{ printf 'Content-Type: text/plain\r\n\r\n'; seq -w 1 60000; }",
    "printf 'Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=x\r\n\r\n"
    "--x\r\nContent-Type: text/plain\r\n\r\nA\r\n--x--\r\n'",
  };
  const char *opts[] = { "", "-stream", "-outform DER -binary" };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    for (guint o = 0; o < G_N_ELEMENTS (opts); o++)
      {
        g_autofree char *cmd = NULL;
        g_autofree char *what = g_strdup_printf ("opaque body %u opts %u", i, o);
        g_autoptr(GBytes) msg = NULL;

        if (o == 2)
          /* binary: the DER as the body of a message of its own */
          cmd = g_strdup_printf ("%s > op-body.txt && openssl cms -sign -nodetach -binary -in op-body.txt"
                                 " -signer alice.pem -inkey alice.key -outform DER -out op.der"
                                 " && { printf 'From: alice@postern.test\\r\\nTo: bob@postern.test\\r\\n"
                                 "Content-Type: application/pkcs7-mime; smime-type=signed-data\\r\\n"
                                 "Content-Transfer-Encoding: binary\\r\\n\\r\\n'; cat op.der; } > op.eml",
                                 bodies[i]);
        else
          cmd = g_strdup_printf ("%s > op-body.txt && openssl cms -sign -nodetach -binary %s -in op-body.txt"
                                 " -signer alice.pem -inkey alice.key -from alice@postern.test"
                                 " -to bob@postern.test -subject hi -out op.eml", bodies[i], opts[o]);
        assert_true (sh (cmd));
        msg = read_fx ("op.eml");
        if (i == 3)
          {
            assert_false (same_as_memory (msg, TRUE, what));
            continue;
          }
        if (!same_as_memory (msg, TRUE, what))
          fail_msg ("%s: not streamed", what);
        if (o == 0)
          {
            gsize len = g_bytes_get_size (msg);
            g_autoptr(GBytes) cut = g_bytes_new_from_bytes (msg, 0, len - len / 3);
            char *copy = g_memdup2 (g_bytes_get_data (msg, NULL), len);
            /* a base64 character in the middle of the content */
            char *mid = copy + len / 2;
            g_autoptr(GBytes) bad = NULL;

            while (!g_ascii_isalpha (*mid))
              mid++;
            *mid = *mid == 'A' ? 'B' : 'A';
            bad = g_bytes_new_take (copy, len);
            same_as_memory (bad, TRUE, what);
            same_as_memory (cut, TRUE, what);
          }
      }
}

/* The base64 decoding of the stream readers (converters.h): runs of what
 * is not base64 give nothing and the read goes on (it used to spin once an
 * input gave nothing: fuzz-smime-read), and a NUL ends the text as it ends
 * g_base64_decode's C string in the in-memory reader. */
static void
test_base64_decode_stream (void **state)
{
  GString *text = g_string_new ("QUJD");
  g_autoptr(GBytes) in_bytes = NULL;
  g_autoptr(GInputStream) base = NULL;
  g_autoptr(PstBase64DecodeConverter) conv = pst_base64_decode_converter_new ();
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autofree char *got = NULL;

  for (int i = 0; i < 300000; i++)
    g_string_append_c (text, i % 2 ? '!' : '\n');
  g_string_append (text, "REVG");
  g_string_append_c (text, '\0');
  g_string_append (text, "R0hJ");
  in_bytes = g_bytes_new (text->str, text->len);
  g_string_free (text, TRUE);
  base = g_memory_input_stream_new_from_bytes (in_bytes);
  in = g_converter_input_stream_new (base, G_CONVERTER (conv));
  assert_true (g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL) == 6);
  got = g_strndup (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (out)), 6);
  assert_string_equal (got, "ABCDEF");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sign_only),
    cmocka_unit_test (test_stream_as_memory),
    cmocka_unit_test (test_stream_refusals),
    cmocka_unit_test (test_decrypt_stream),
    cmocka_unit_test (test_open_stream),
    cmocka_unit_test (test_open_output_fails),
    cmocka_unit_test (test_open_input_fails),
    cmocka_unit_test (test_read_stream),
    cmocka_unit_test (test_read_stream_opaque),
    cmocka_unit_test (test_base64_decode_stream),
    cmocka_unit_test (test_encrypt_only),
    cmocka_unit_test (test_sign_encrypt),
    cmocka_unit_test (test_gcm_selection),
    cmocka_unit_test (test_ec),
    cmocka_unit_test (test_openssl_reads_postern),
    cmocka_unit_test (test_gpgsm_reads_postern),
    cmocka_unit_test (test_postern_reads_openssl),
    cmocka_unit_test (test_attack_wrapped_signature),
    cmocka_unit_test (test_attack_partial_encryption),
    cmocka_unit_test (test_attack_from),
    cmocka_unit_test (test_attack_signer_infos),
    cmocka_unit_test (test_bad_signatures),
    cmocka_unit_test (test_outer_signature_ignored),
    cmocka_unit_test (test_store),
    cmocka_unit_test (test_header_protection),
    cmocka_unit_test (test_header_protection_not_overridden),
    cmocka_unit_test (test_stripped_signature),
    cmocka_unit_test (test_gcm_tamper),
    cmocka_unit_test (test_gcm_short_tag),
    cmocka_unit_test (test_store_cache),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
