/* bridge-tls.c — see bridge-tls.h. */
#include "bridge-tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "util/error.h"

#define VALID_DAYS (10 * 365)

/* One at a time: two threads starting both listeners must not make two
 * CAs. */
static GMutex make_lock;

char *
pst_bridge_dir (const char *data_dir)
{
  return g_build_filename (data_dir, "bridge", NULL);
}

static gboolean
openssl_failed (GError **error, const char *what)
{
  char buf[256] = "";

  ERR_error_string_n (ERR_get_error (), buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "bridge certificate: %s: %s", what, buf);
  return FALSE;
}

/* Writes @key (private, PKCS#8 PEM) or @cert (PEM, then @ca when given) to
 * @path, mode 0600, through a temporary file renamed into place. */
static gboolean
write_pem (const char *path, EVP_PKEY *key, X509 *cert, X509 *ca, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  int fd = g_open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE *f;
  gboolean ok;

  if (fd < 0 || !(f = fdopen (fd, "w")))
    {
      if (fd >= 0)
        close (fd);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "bridge certificate: cannot write %s: %s",
                   tmp, g_strerror (errno));
      return FALSE;
    }
  ok = key ? PEM_write_PrivateKey (f, key, NULL, NULL, 0, NULL, NULL) == 1
           : PEM_write_X509 (f, cert) == 1 && (ca == NULL || PEM_write_X509 (f, ca) == 1);
  ok = fflush (f) == 0 && fsync (fileno (f)) == 0 && ok;
  fclose (f);
  if (!ok || g_rename (tmp, path) != 0)
    {
      g_unlink (tmp);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "bridge certificate: cannot write %s",
                   path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
add_ext (X509 *cert, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  gboolean ok;

  X509V3_set_ctx_nodb (&ctx);
  X509V3_set_ctx (&ctx, issuer, cert, NULL, NULL, 0);
  if (!(ext = X509V3_EXT_conf_nid (NULL, &ctx, nid, value)))
    return FALSE;
  ok = X509_add_ext (cert, ext, -1) == 1;
  X509_EXTENSION_free (ext);
  return ok;
}

/* A certificate for @key named @cn, signed by @issuer_key (@issuer NULL:
 * itself). */
static X509 *
make_cert (EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, gboolean is_ca)
{
  X509 *cert = X509_new ();
  X509_NAME *name = X509_NAME_new ();
  BIGNUM *serial = BN_new ();
  gboolean ok;

  ok = cert && name && serial && X509_set_version (cert, 2)
       && BN_rand (serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
       && BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (cert))
       && X509_gmtime_adj (X509_getm_notBefore (cert), -3600)
       && X509_gmtime_adj (X509_getm_notAfter (cert), (long) VALID_DAYS * 24 * 3600)
       && X509_set_pubkey (cert, key)
       && X509_NAME_add_entry_by_txt (name, "O", MBSTRING_UTF8, (const guchar *) "Postern", -1,
                                      -1, 0)
       && X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8, (const guchar *) cn, -1, -1, 0)
       && X509_set_subject_name (cert, name)
       && X509_set_issuer_name (cert, issuer ? X509_get_subject_name (issuer) : name);
  if (ok && is_ca)
    ok = add_ext (cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")
         && add_ext (cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign")
         /* Should the CA be trusted system-wide, it still names nothing
          * but this host. */
         && add_ext (cert, cert, NID_name_constraints,
                     "critical,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0,"
                     "permitted;IP:0:0:0:0:0:0:0:1/"
                     "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF")
         && add_ext (cert, cert, NID_subject_key_identifier, "hash");
  else if (ok)
    ok = add_ext (cert, issuer, NID_basic_constraints, "critical,CA:FALSE")
         && add_ext (cert, issuer, NID_key_usage, "critical,digitalSignature")
         && add_ext (cert, issuer, NID_ext_key_usage, "serverAuth")
         && add_ext (cert, issuer, NID_subject_alt_name,
                     "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1")
         && add_ext (cert, issuer, NID_authority_key_identifier, "keyid:always");
  ok = ok && X509_sign (cert, issuer_key, EVP_sha256 ()) > 0;
  X509_NAME_free (name);
  BN_free (serial);
  if (!ok)
    {
      X509_free (cert);
      return NULL;
    }
  return cert;
}

static gboolean
make_all (const char *dir, GError **error)
{
  g_autofree char *ca_path = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *cert_path = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key_path = g_build_filename (dir, "key.pem", NULL);
  g_autofree char *cn = g_strdup_printf ("Postern bridge CA (%s, uid %u)", g_get_host_name (),
                                         (guint) getuid ());
  EVP_PKEY *ca_key = EVP_EC_gen ("P-256"), *key = EVP_EC_gen ("P-256");
  X509 *ca = NULL, *cert = NULL;
  gboolean ok = FALSE;

  if (ca_key == NULL || key == NULL)
    openssl_failed (error, "cannot make a key");
  else if (!(ca = make_cert (ca_key, cn, NULL, ca_key, TRUE))
           || !(cert = make_cert (key, "localhost", ca, ca_key, FALSE)))
    openssl_failed (error, "cannot make the certificates");
  /* The CA certificate last: its presence says the set is complete.  The
   * CA's key is written nowhere: it has signed its one certificate, and
   * a new server certificate comes with a new CA. */
  else
    ok = write_pem (key_path, key, NULL, NULL, error)
         && write_pem (cert_path, NULL, cert, ca, error)
         && write_pem (ca_path, NULL, ca, NULL, error);
  if (ok)
    g_message ("bridge: made its certificate authority %s", ca_path);
  EVP_PKEY_free (ca_key);
  EVP_PKEY_free (key);
  X509_free (ca);
  X509_free (cert);
  return ok;
}

char *
pst_bridge_tls_ensure (const char *data_dir, GError **error)
{
  g_autofree char *dir = pst_bridge_dir (data_dir);
  g_autofree char *ca_path = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *cert_path = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key_path = g_build_filename (dir, "key.pem", NULL);
  g_autofree char *ca_key_path = g_build_filename (dir, "ca-key.pem", NULL);
  gboolean ok = TRUE;

  g_mutex_lock (&make_lock);
  /* An earlier build kept the CA's key: it is needed no more. */
  if (g_unlink (ca_key_path) != 0 && errno != ENOENT)
    g_warning ("bridge: cannot remove %s: %s", ca_key_path, g_strerror (errno));
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot make %s: %s", dir,
                   g_strerror (errno));
      ok = FALSE;
    }
  else if (!g_file_test (ca_path, G_FILE_TEST_IS_REGULAR)
           || !g_file_test (cert_path, G_FILE_TEST_IS_REGULAR)
           || !g_file_test (key_path, G_FILE_TEST_IS_REGULAR))
    ok = make_all (dir, error);
  g_mutex_unlock (&make_lock);
  return ok ? g_steal_pointer (&ca_path) : NULL;
}

SSL_CTX *
pst_bridge_tls_context (const char *data_dir, GError **error)
{
  g_autofree char *ca = pst_bridge_tls_ensure (data_dir, error);
  g_autofree char *dir = pst_bridge_dir (data_dir);
  g_autofree char *cert_path = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key_path = g_build_filename (dir, "key.pem", NULL);
  SSL_CTX *ctx;

  if (ca == NULL)
    return NULL;
  if (!(ctx = SSL_CTX_new (TLS_server_method ())))
    {
      openssl_failed (error, "cannot make a TLS context");
      return NULL;
    }
  if (SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION) != 1
      || SSL_CTX_use_certificate_chain_file (ctx, cert_path) != 1
      || SSL_CTX_use_PrivateKey_file (ctx, key_path, SSL_FILETYPE_PEM) != 1
      || SSL_CTX_check_private_key (ctx) != 1)
    {
      SSL_CTX_free (ctx);
      openssl_failed (error, cert_path);
      return NULL;
    }
  SSL_CTX_set_options (ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  return ctx;
}
