/* fuzz-cms-stream — core/crypto/smime-decrypt-stream.c, its BER walker
 * above all, against pst_smime_decrypt on the same bytes.  The input says
 * how to make a CMS object that the target's own identity (an EC P-256
 * certificate and key made at start with the openssl command) can open,
 * and how to damage it:
 *   byte 0: bit 0 AES-256-GCM (else CBC), bit 1 BER with indefinite
 *           lengths (i2d_CMS_bio_stream, else DER), bit 2 cut the object at
 *           the position instead of changing a byte, bit 3 use the rest of
 *           the input as the object itself, unencrypted by the target;
 *   bytes 1-4: a position in the object (modulo its size), byte 5 the XOR
 *           applied there;
 *   the rest: the plaintext.
 * Checks: an object the stream decrypts is one pst_smime_decrypt decrypts,
 * with the same integrity, and to the same bytes when it is undamaged or
 * authenticated (damaged unauthenticated content may differ: where the
 * key does not fit the algorithm named, OpenSSL decrypts with a random key
 * rather than say so, against padding oracles); an undamaged object
 * decrypts as a stream, to the plaintext. */
#include "fuzz-common.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "crypto/smime.h"

static PstSmime *smime;
static X509 *cert;
static char *home;

static void
remove_home (void)
{
  const char *names[] = { "k.pem", "c.pem", "id.p12", NULL };

  g_clear_pointer (&smime, pst_smime_free);
  X509_free (cert);
  for (const char *const *n = names; *n != NULL; n++)
    {
      g_autofree char *p = g_build_filename (home, *n, NULL);
      g_unlink (p);
    }
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", home);
    if (system (cmd) != 0)
      fprintf (stderr, "cannot remove %s\n", home);
  }
  g_clear_pointer (&home, g_free);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *store = NULL, *cmd = NULL, *p12 = NULL, *pem = NULL;
  g_autoptr(GBytes) data = NULL;
  char *contents = NULL;
  gsize len = 0;
  BIO *bio;

  fuzz_make_criticals_fatal ();
  home = g_dir_make_tmp ("postern-fuzz-cms-XXXXXX", &error);
  FUZZ_CHECK (home != NULL, "temporary directory: %s", error->message);
  cmd = g_strdup_printf (
    "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    " -keyout k.pem -out c.pem -subj /CN=fuzz/emailAddress=fuzz@postern.test -days 2"
    " -addext subjectAltName=email:fuzz@postern.test 2>/dev/null"
    " && openssl pkcs12 -export -in c.pem -inkey k.pem -out id.p12 -passout pass:fuzz", home);
  FUZZ_CHECK (system (cmd) == 0, "%s", cmd);
  store = g_build_filename (home, "smime", NULL);
  smime = pst_smime_new (store, &error);
  FUZZ_CHECK (smime != NULL, "pst_smime_new: %s", error->message);
  p12 = g_build_filename (home, "id.p12", NULL);
  FUZZ_CHECK (g_file_get_contents (p12, &contents, &len, NULL), "read %s", p12);
  data = g_bytes_new_take (contents, len);
  FUZZ_CHECK (pst_smime_import (smime, data, "fuzz", FALSE, NULL, &error), "import: %s",
              error->message);
  pem = g_build_filename (home, "c.pem", NULL);
  bio = BIO_new_file (pem, "r");
  cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL);
  BIO_free (bio);
  FUZZ_CHECK (cert != NULL, "read %s", pem);
  atexit (remove_home);
  return 0;
}

static GBytes *
encrypt (const guint8 *plain, gsize len, gboolean gcm, gboolean ber)
{
  STACK_OF (X509) *certs = sk_X509_new_null ();
  BIO *in = BIO_new_mem_buf (plain, (int) len);
  BIO *out = BIO_new (BIO_s_mem ());
  unsigned int flags = CMS_BINARY | (ber ? CMS_STREAM : 0);
  CMS_ContentInfo *cms;
  BUF_MEM *mem = NULL;
  GBytes *der;

  sk_X509_push (certs, cert);
  cms = CMS_encrypt (certs, in, gcm ? EVP_aes_256_gcm () : EVP_aes_256_cbc (), flags);
  FUZZ_CHECK (cms != NULL, "CMS_encrypt");
  /* OpenSSL 3.0 streams no AuthEnvelopedData of empty content: no object
   * then, and nothing to check. */
  if (ber ? i2d_CMS_bio_stream (out, cms, in, flags) == 1 : i2d_CMS_bio (out, cms) == 1)
    {
      BIO_get_mem_ptr (out, &mem);
      der = g_bytes_new (mem->data, mem->length);
    }
  else
    der = NULL;
  CMS_ContentInfo_free (cms);
  BIO_free (in);
  BIO_free (out);
  sk_X509_free (certs);
  return der;
}

static GInputStream *
reopen_bytes (gpointer data, GError **error)
{
  return g_memory_input_stream_new_from_bytes (data);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) der = NULL;
  g_autoptr(GBytes) mem_plain = NULL;
  g_autoptr(GBytes) str_plain = NULL;
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) mem_error = NULL;
  g_autoptr(GError) str_error = NULL;
  PstIntegrity mem_i = PST_INTEGRITY_NONE, str_i = PST_INTEGRITY_NONE;
  gboolean mem_ok, str_ok, damaged;
  guint32 pos;
  gsize len;

  if (size < 6)
    return 0;
  pos = (guint32) data[1] << 24 | (guint32) data[2] << 16 | (guint32) data[3] << 8 | data[4];
  if (data[0] & 8)
    {
      der = g_bytes_new (data + 6, size - 6);
      damaged = TRUE;
    }
  else
    {
      g_autoptr(GBytes) whole = encrypt (data + 6, size - 6, data[0] & 1, (data[0] & 2) != 0);

      if (whole == NULL)
        {
          FUZZ_CHECK (size == 6, "OpenSSL cannot write the object");
          ERR_clear_error ();
          return 0;
        }
      len = g_bytes_get_size (whole);
      damaged = (data[0] & 4) || data[5] != 0;
      if (data[0] & 4)
        der = g_bytes_new_from_bytes (whole, 0, pos % len);
      else
        {
          guint8 *copy = g_memdup2 (g_bytes_get_data (whole, NULL), len);

          copy[pos % len] ^= data[5];
          der = g_bytes_new_take (copy, len);
        }
    }
  mem_ok = pst_smime_decrypt (smime, der, &mem_plain, &mem_i, &mem_error);
  str_ok = pst_smime_decrypt_stream (smime, reopen_bytes, der, out, &str_i, &str_error);
  FUZZ_CHECK (g_output_stream_close (out, NULL, NULL), "close");
  str_plain = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  if (str_ok)
    {
      FUZZ_CHECK (mem_ok, "the stream decrypts what pst_smime_decrypt refuses: %s",
                  mem_error->message);
      FUZZ_CHECK (g_bytes_equal (mem_plain, str_plain) || (damaged && str_i != PST_INTEGRITY_OK),
                  "different plaintexts");
      FUZZ_CHECK (mem_i == str_i, "integrity %d in memory, %d as a stream", mem_i, str_i);
    }
  else
    FUZZ_CHECK (str_error != NULL, "failed without an error");
  if (!damaged)
    {
      g_autoptr(GBytes) plain = g_bytes_new_static (data + 6, size - 6);

      FUZZ_CHECK (str_ok, "an undamaged object: %s", str_error->message);
      FUZZ_CHECK (g_bytes_equal (str_plain, plain), "not the plaintext");
    }
  ERR_clear_error ();
  return 0;
}
