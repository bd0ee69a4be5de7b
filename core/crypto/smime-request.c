/* smime-request.c — own S/MIME keys before their certificate (see smime.h,
 * "Requests"): a new private key and its PKCS#10 certificate request,
 * kept sealed in requests/ until the certificate a CA signed for it is
 * imported, which makes the two an identity; and a certificate exported as
 * PEM. */
#include "crypto/smime-private.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/text.h"

#define REQUESTS_DIR "requests"
#define SEALED_PEM "ENCRYPTED PRIVATE KEY"
#define PROTECTION_PEM "POSTERN KEY PROTECTION"

struct _PstSmimeRequest {
  char *id;                  /* SHA-256 of the SubjectPublicKeyInfo (DER), lower-case hex */
  char *address;
  char *key_type;            /* "ec-p256", "rsa-3072", … */
  X509_REQ *req;
  GBytes *sealed;            /* the EncryptedPrivateKeyInfo (DER) */
  PstSmimeKeyProtection protection;
  gint64 created;            /* the file's time */
};

void
pst_smime_request_free (PstSmimeRequest *r)
{
  if (r == NULL)
    return;
  g_free (r->id);
  g_free (r->address);
  g_free (r->key_type);
  X509_REQ_free (r->req);
  g_clear_pointer (&r->sealed, g_bytes_unref);
  g_free (r);
}

void
pst_smime_request_info_free (PstSmimeRequestInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->id);
  g_free (info->address);
  g_free (info->key_type);
  g_free (info->csr_pem);
  g_free (info);
}

static char *
hex (const unsigned char *p, gsize n)
{
  GString *s = g_string_sized_new (2 * n);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf (s, "%02x", p[i]);
  return g_string_free (s, FALSE);
}

/* SHA-256 of @key's SubjectPublicKeyInfo, lower-case hex: what names a
 * request, and what a certificate must carry to be its.  Transfer full. */
static char *
public_key_id (EVP_PKEY *key)
{
  unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int len = i2d_PUBKEY (key, &der);
  char *id = NULL;

  if (len > 0 && EVP_Digest (der, (size_t) len, md, &mdlen, EVP_sha256 (), NULL))
    id = hex (md, mdlen);
  OPENSSL_free (der);
  ERR_clear_error ();
  return id;
}

static const char *
key_type_of (EVP_PKEY *key)
{
  if (EVP_PKEY_is_a (key, "RSA"))
    return EVP_PKEY_get_bits (key) == 3072 ? "rsa-3072" : "rsa";
  if (EVP_PKEY_is_a (key, "EC"))
    {
      char curve[64] = "";
      size_t n = 0;

      if (EVP_PKEY_get_utf8_string_param (key, "group", curve, sizeof curve, &n)
          && strcmp (curve, "prime256v1") == 0)
        return "ec-p256";
      return "ec";
    }
  return "other";
}

/* The address a request is for: its subject's emailAddress.  Transfer full. */
static char *
request_address (X509_REQ *req)
{
  X509_NAME *subject = X509_REQ_get_subject_name (req);
  int idx = subject != NULL ? X509_NAME_get_index_by_NID (subject, NID_pkcs9_emailAddress, -1) : -1;
  ASN1_STRING *v;
  char *s;

  if (idx < 0)
    return NULL;
  v = X509_NAME_ENTRY_get_data (X509_NAME_get_entry (subject, idx));
  s = g_strndup ((const char *) ASN1_STRING_get0_data (v), (gsize) ASN1_STRING_length (v));
  if (!pst_text_is_plain_address (s))
    g_clear_pointer (&s, g_free);
  return s;
}

static char *
request_path (PstSmime *smime, const char *id)
{
  g_autofree char *name = g_strconcat (id, ".pem", NULL);

  return g_build_filename (smime->dir, REQUESTS_DIR, name, NULL);
}

/* Parses a requests/ file: the request, the sealed key, its protection. */
static PstSmimeRequest *
request_parse (const char *data, gsize len, gint64 created)
{
  BIO *bio = BIO_new_mem_buf (data, (int) len);
  PstSmimeRequest *r = g_new0 (PstSmimeRequest, 1);
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  long dlen = 0;
  EVP_PKEY *pub;

  r->created = created;
  while (PEM_read_bio (bio, &name, &header, &der, &dlen) == 1)
    {
      const unsigned char *p = der;

      if (strcmp (name, "CERTIFICATE REQUEST") == 0 && r->req == NULL)
        r->req = d2i_X509_REQ (NULL, &p, dlen);
      else if (strcmp (name, SEALED_PEM) == 0 && r->sealed == NULL)
        {
          r->sealed = g_bytes_new (der, dlen);
          if (r->protection == PST_SMIME_KEY_NONE)
            r->protection = PST_SMIME_KEY_PASSPHRASE;
        }
      else if (strcmp (name, PROTECTION_PEM) == 0 && dlen == 14 && memcmp (der, "secret-service", 14) == 0)
        r->protection = PST_SMIME_KEY_SECRET_SERVICE;
      OPENSSL_free (der);
      OPENSSL_free (name);
      OPENSSL_free (header);
      der = NULL, name = NULL, header = NULL;
    }
  BIO_free (bio);
  ERR_clear_error ();
  pub = r->req != NULL ? X509_REQ_get0_pubkey (r->req) : NULL;
  if (pub == NULL || r->sealed == NULL || !(r->id = public_key_id (pub))
      || !(r->address = request_address (r->req)))
    {
      pst_smime_request_free (r);
      return NULL;
    }
  r->key_type = g_strdup (key_type_of (pub));
  return r;
}

void
pst_smime_requests_load (PstSmime *smime)
{
  g_autofree char *path = g_build_filename (smime->dir, REQUESTS_DIR, NULL);
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (g_mkdir_with_parents (path, 0700) != 0)
    g_warning ("S/MIME store: cannot create %s: %s", path, g_strerror (errno));
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = NULL;
      char *data = NULL;
      gsize len = 0;
      GStatBuf st;
      PstSmimeRequest *r;

      if (!g_str_has_suffix (name, ".pem"))
        continue;
      file = g_build_filename (path, name, NULL);
      if (g_stat (file, &st) != 0 || !g_file_get_contents (file, &data, &len, NULL))
        continue;
      r = request_parse (data, len, (gint64) st.st_mtime);
      pst_secret_free_len (data, len);
      if (r != NULL)
        g_ptr_array_add (smime->requests, r);
      else
        g_warning ("S/MIME store: ignoring unreadable %s", file);
    }
}

static PstSmimeRequest *
request_of (PstSmime *smime, const char *address)
{
  for (guint i = 0; i < smime->requests->len; i++)
    {
      PstSmimeRequest *r = smime->requests->pdata[i];

      if (pst_addr_equal (r->address, address))
        return r;
    }
  return NULL;
}

static gboolean
add_ext (STACK_OF (X509_EXTENSION) *exts, X509V3_CTX *ctx, int nid, const char *value)
{
  X509_EXTENSION *ext = X509V3_EXT_conf_nid (NULL, ctx, nid, value);

  return ext != NULL && sk_X509_EXTENSION_push (exts, ext) > 0;
}

/* A PKCS#10 request for @address signed by @key: subject CN and
 * emailAddress, subjectAltName rfc822Name, the key usage for S/MIME with
 * this kind of key, extended key usage emailProtection.  Transfer full. */
static X509_REQ *
make_request (EVP_PKEY *key, const char *address)
{
  X509_REQ *req = X509_REQ_new ();
  X509_NAME *name = X509_REQ_get_subject_name (req);
  STACK_OF (X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null ();
  g_autofree char *san = g_strconcat ("email:", address, NULL);
  X509V3_CTX ctx;
  gboolean ok;

  X509V3_set_ctx (&ctx, NULL, NULL, req, NULL, 0);
  ok = X509_REQ_set_version (req, 0)
       /* a CN holds at most 64 characters (RFC 5280 ub-common-name) */
       && (strlen (address) > 64
           || X509_NAME_add_entry_by_NID (name, NID_commonName, MBSTRING_UTF8,
                                          (const unsigned char *) address, -1, -1, 0))
       && X509_NAME_add_entry_by_NID (name, NID_pkcs9_emailAddress, MBSTRING_ASC,
                                      (const unsigned char *) address, -1, -1, 0)
       && X509_REQ_set_pubkey (req, key)
       && add_ext (exts, &ctx, NID_subject_alt_name, san)
       && add_ext (exts, &ctx, NID_key_usage,
                   EVP_PKEY_is_a (key, "RSA") ? "critical,digitalSignature,keyEncipherment"
                                              : "critical,digitalSignature,keyAgreement")
       && add_ext (exts, &ctx, NID_ext_key_usage, "emailProtection")
       && X509_REQ_add_extensions (req, exts)
       && X509_REQ_sign (req, key, EVP_sha256 ()) > 0;
  sk_X509_EXTENSION_pop_free (exts, X509_EXTENSION_free);
  ERR_clear_error ();
  if (!ok)
    g_clear_pointer (&req, X509_REQ_free);
  return req;
}

static char *
request_pem (X509_REQ *req)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  BUF_MEM *mem = NULL;
  char *pem;

  PEM_write_bio_X509_REQ (bio, req);
  BIO_get_mem_ptr (bio, &mem);
  pem = g_strndup (mem->data, mem->length);
  BIO_free (bio);
  return pem;
}

static PstSmimeRequestInfo *
request_info (PstSmimeRequest *r)
{
  PstSmimeRequestInfo *info = g_new0 (PstSmimeRequestInfo, 1);

  info->id = g_strdup (r->id);
  info->address = g_strdup (r->address);
  info->key_type = g_strdup (r->key_type);
  info->csr_pem = request_pem (r->req);
  info->protection = r->protection;
  info->created = r->created;
  return info;
}

/* Writes @r's file: the request, the sealed key and its protection, 0600,
 * through a temporary file, synced, renamed. */
static gboolean
request_save (PstSmime *smime, PstSmimeRequest *r, GError **error)
{
  g_autofree char *path = request_path (smime, r->id);
  BIO *bio = BIO_new (BIO_s_mem ());
  BUF_MEM *mem = NULL;
  gboolean ok;

  PEM_write_bio_X509_REQ (bio, r->req);
  PEM_write_bio (bio, SEALED_PEM, "", g_bytes_get_data (r->sealed, NULL),
                 (long) g_bytes_get_size (r->sealed));
  if (r->protection == PST_SMIME_KEY_SECRET_SERVICE)
    PEM_write_bio (bio, PROTECTION_PEM, "", (const unsigned char *) "secret-service", 14);
  BIO_get_mem_ptr (bio, &mem);
  ok = g_file_set_contents_full (path, mem->data, mem->length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, error);
  BIO_free (bio);
  if (!ok)
    pst_error_prefix (error, "cannot write the S/MIME store");
  return ok;
}

PstSmimeRequestInfo *
pst_smime_request_new (PstSmime *smime, const char *address, gboolean rsa, const char *secret,
                       PstSmimeKeyProtection protection, GError **error)
{
  PstSmimeRequest *r, *old;
  EVP_PKEY *key;

  g_return_val_if_fail (secret != NULL && *secret != '\0', NULL);
  g_return_val_if_fail (protection == PST_SMIME_KEY_PASSPHRASE
                        || protection == PST_SMIME_KEY_SECRET_SERVICE, NULL);
  if (!pst_text_is_plain_address (address) || strchr (address, '@') == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not an e-mail address",
                   address ? address : "");
      return NULL;
    }
  if ((old = request_of (smime, address)) != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "a key for %s already waits for its certificate (request %s): import the "
                   "certificate, or remove the request first (postern keys remove %s)",
                   address, old->id, old->id);
      return NULL;
    }
  key = rsa ? EVP_PKEY_Q_keygen (NULL, NULL, "RSA", (size_t) 3072)
            : EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
  r = g_new0 (PstSmimeRequest, 1);
  r->protection = protection;
  r->created = g_get_real_time () / G_USEC_PER_SEC;
  if (key == NULL || !(r->req = make_request (key, address)) || !(r->id = public_key_id (key)))
    {
      ERR_clear_error ();
      EVP_PKEY_free (key);
      pst_smime_request_free (r);
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "cannot make an S/MIME key and request for %s", address);
      return NULL;
    }
  r->address = g_strdup (address);
  r->key_type = g_strdup (key_type_of (key));
  r->sealed = pst_smime_seal_key (key, secret, error);
  EVP_PKEY_free (key);   /* clears it: only the sealed copy lives on */
  if (r->sealed == NULL || !request_save (smime, r, error))
    {
      pst_smime_request_free (r);
      return NULL;
    }
  g_ptr_array_add (smime->requests, r);
  return request_info (r);
}

GPtrArray *
pst_smime_requests (PstSmime *smime)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_smime_request_info_free);

  for (guint i = 0; i < smime->requests->len; i++)
    g_ptr_array_add (out, request_info (smime->requests->pdata[i]));
  return out;
}

PstSmimeRequest *
pst_smime_request_for_cert (PstSmime *smime, X509 *cert)
{
  EVP_PKEY *pub = X509_get0_pubkey (cert);

  for (guint i = 0; pub != NULL && i < smime->requests->len; i++)
    {
      PstSmimeRequest *r = smime->requests->pdata[i];

      if (EVP_PKEY_eq (X509_REQ_get0_pubkey (r->req), pub) == 1)
        {
          ERR_clear_error ();
          return r;
        }
    }
  ERR_clear_error ();
  return NULL;
}

gboolean
pst_smime_request_check_cert (PstSmime *smime, X509 *cert, GError **error)
{
  g_auto (GStrv) emails = NULL;

  if (X509_check_ca (cert) != 0 || pst_smime_request_for_cert (smime, cert) != NULL)
    return TRUE;
  emails = pst_smime_x509_emails (cert);
  for (char **e = emails; *e != NULL; e++)
    {
      PstSmimeRequest *r = request_of (smime, *e);

      if (r != NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the certificate for %s is not for the key waiting for it (request %s): "
                       "its public key is another; was the right request signed?", *e, r->id);
          return FALSE;
        }
    }
  return TRUE;
}

const char *
pst_smime_request_id (PstSmimeRequest *r)
{
  return r->id;
}

GBytes *
pst_smime_request_sealed (PstSmimeRequest *r, PstSmimeKeyProtection *protection_out)
{
  *protection_out = r->protection;
  return g_bytes_ref (r->sealed);
}

void
pst_smime_request_done (PstSmime *smime, PstSmimeRequest *r)
{
  /* The key in the file is sealed, and the identity made from it holds the
   * same sealed bytes: nothing to overwrite. */
  g_autofree char *path = request_path (smime, r->id);

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning ("S/MIME store: cannot remove %s: %s", path, g_strerror (errno));
  g_ptr_array_remove (smime->requests, r);
}

gboolean
pst_smime_request_remove (PstSmime *smime, const char *prefix, gboolean *found_out)
{
  PstSmimeRequest *found = NULL;
  guint count = 0;

  for (guint i = 0; i < smime->requests->len; i++)
    {
      PstSmimeRequest *r = smime->requests->pdata[i];

      if (g_str_has_prefix (r->id, prefix))
        found = r, count++;
    }
  *found_out = count > 0;
  if (count != 1)
    return FALSE;
  pst_smime_request_done (smime, found);
  return TRUE;
}

/* --- export --------------------------------------------------------------- */

char *
pst_smime_export_cert (PstSmime *smime, const char *address, char **fingerprint_out,
                       gboolean *own_out, GError **error)
{
  PstSmimeEntry *best = NULL;
  BIO *bio;
  BUF_MEM *mem = NULL;
  char *pem;

  /* An own identity before others' certificates; of several, the one
   * valid longest.  A CA certificate is nobody's address. */
  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];
      gboolean better;

      if (X509_check_ca (e->cert) != 0 || !pst_addr_in_list (address, (const char *const *) e->emails))
        continue;
      better = best == NULL
               || (e->kind == PST_SMIME_IDENTITY && best->kind != PST_SMIME_IDENTITY)
               || ((e->kind == PST_SMIME_IDENTITY) == (best->kind == PST_SMIME_IDENTITY)
                   && ASN1_TIME_compare (X509_get0_notAfter (e->cert),
                                         X509_get0_notAfter (best->cert)) > 0);
      if (better)
        best = e;
    }
  ERR_clear_error ();
  if (best == NULL)
    {
      PstSmimeRequest *r = request_of (smime, address);

      if (r != NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                     "no S/MIME certificate for %s yet: its key waits for the certificate a CA "
                     "signs for request %s (then postern keys import it)", address, r->id);
      else
        g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no S/MIME certificate for %s", address);
      return NULL;
    }
  bio = BIO_new (BIO_s_mem ());
  PEM_write_bio_X509 (bio, best->cert);
  BIO_get_mem_ptr (bio, &mem);
  pem = g_strndup (mem->data, mem->length);
  BIO_free (bio);
  if (fingerprint_out != NULL)
    *fingerprint_out = g_strdup (best->fingerprint);
  if (own_out != NULL)
    *own_out = best->kind == PST_SMIME_IDENTITY;
  return pem;
}
