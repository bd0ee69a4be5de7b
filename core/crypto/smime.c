/* smime.c — certificates and CMS operations for S/MIME (see smime.h).
 * The certificate store itself is in smime-store.c. */
#include "crypto/smime-private.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

#include "crypto/remote.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/sink.h"
#include "util/text.h"

/* --- Certificates --------------------------------------------------------- */

char *
pst_smime_x509_fingerprint (X509 *cert)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  GString *s = g_string_new (NULL);

  if (X509_digest (cert, EVP_sha256 (), md, &len))
    for (unsigned int i = 0; i < len; i++)
      g_string_append_printf (s, "%02x", md[i]);
  return g_string_free (s, FALSE);
}

static void
add_email (GPtrArray *list, const char *value, int len)
{
  g_autofree char *s = NULL;

  if (value == NULL || len <= 0 || memchr (value, '\0', len) != NULL)
    return;
  s = g_strndup (value, len);
  /* An address is shown, compared and written into the status's JSON: what
   * is not one plain address (bytes that are not UTF-8, found by fuzz-smime;
   * controls, bidi or format characters, white space, angle brackets) is
   * none at all, by the rule every client shows signers by. */
  if (!pst_text_is_plain_address (s) || pst_addr_in_list (s, (const char *const *) list->pdata))
    return;
  g_ptr_array_add (list, g_steal_pointer (&s));
}

char **
pst_smime_x509_emails (X509 *cert)
{
  GPtrArray *list = g_ptr_array_new_null_terminated (2, NULL, TRUE);
  GENERAL_NAMES *names = X509_get_ext_d2i (cert, NID_subject_alt_name, NULL, NULL);
  X509_NAME *subject = X509_get_subject_name (cert);
  int idx = -1;

  for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num (names); i++)
    {
      GENERAL_NAME *gn = sk_GENERAL_NAME_value (names, i);

      if (gn->type == GEN_EMAIL)
        add_email (list, (const char *) ASN1_STRING_get0_data (gn->d.rfc822Name),
                   ASN1_STRING_length (gn->d.rfc822Name));
    }
  GENERAL_NAMES_free (names);
  while ((idx = X509_NAME_get_index_by_NID (subject, NID_pkcs9_emailAddress, idx)) >= 0)
    {
      ASN1_STRING *v = X509_NAME_ENTRY_get_data (X509_NAME_get_entry (subject, idx));

      add_email (list, (const char *) ASN1_STRING_get0_data (v), ASN1_STRING_length (v));
    }
  ERR_clear_error ();
  return (char **) g_ptr_array_free (list, FALSE);
}

gboolean
pst_smime_x509_valid_now (X509 *cert)
{
  return X509_cmp_current_time (X509_get0_notBefore (cert)) < 0
         && X509_cmp_current_time (X509_get0_notAfter (cert)) > 0;
}

gint64
pst_smime_asn1_time_unix (const ASN1_TIME *t)
{
  struct tm tm = { 0 };

  if (t == NULL || !ASN1_TIME_to_tm (t, &tm))
    return 0;
  return (gint64) timegm (&tm);
}

static char *
name_to_string (const X509_NAME *name)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  BUF_MEM *mem = NULL;
  char *s;

  X509_NAME_print_ex (bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  BIO_get_mem_ptr (bio, &mem);
  s = g_strndup (mem->data, mem->length);
  BIO_free (bio);
  return s;
}

PstSmimeCertInfo *
pst_smime_x509_info (X509 *cert, PstSmimeKind kind)
{
  PstSmimeCertInfo *info = g_new0 (PstSmimeCertInfo, 1);

  info->fingerprint = pst_smime_x509_fingerprint (cert);
  info->subject = name_to_string (X509_get_subject_name (cert));
  info->issuer = name_to_string (X509_get_issuer_name (cert));
  info->emails = pst_smime_x509_emails (cert);
  info->not_before = pst_smime_asn1_time_unix (X509_get0_notBefore (cert));
  info->not_after = pst_smime_asn1_time_unix (X509_get0_notAfter (cert));
  info->has_key = kind == PST_SMIME_IDENTITY;
  info->trust_anchor = kind == PST_SMIME_ANCHOR;
  info->is_ca = X509_check_ca (cert) != 0;
  info->expired = !pst_smime_x509_valid_now (cert);
  return info;
}

void
pst_smime_cert_info_free (PstSmimeCertInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->fingerprint);
  g_free (info->subject);
  g_free (info->issuer);
  g_strfreev (info->emails);
  g_free (info->request_id);
  g_free (info);
}

gboolean
pst_smime_caps_allow_gcm (GBytes *caps)
{
  gsize len = 0;
  const unsigned char *p = caps != NULL ? g_bytes_get_data (caps, &len) : NULL;
  STACK_OF (X509_ALGOR) *algs;
  gboolean gcm = FALSE;

  if (p == NULL || (algs = d2i_X509_ALGORS (NULL, &p, (long) len)) == NULL)
    {
      ERR_clear_error ();
      return FALSE;
    }
  for (int i = 0; i < sk_X509_ALGOR_num (algs); i++)
    {
      const ASN1_OBJECT *obj = NULL;

      X509_ALGOR_get0 (&obj, NULL, NULL, sk_X509_ALGOR_value (algs, i));
      if (OBJ_obj2nid (obj) == NID_aes_256_gcm)
        gcm = TRUE;
    }
  sk_X509_ALGOR_pop_free (algs, X509_ALGOR_free);
  return gcm;
}

/* --- Buffers --------------------------------------------------------------- */

GBytes *
pst_smime_cms_to_der (CMS_ContentInfo *cms)
{
  unsigned char *der = NULL;
  int len = i2d_CMS_ContentInfo (cms, &der);
  GBytes *out;

  if (len <= 0)
    return NULL;
  out = g_bytes_new (der, len);
  OPENSSL_free (der);
  return out;
}

static CMS_ContentInfo *
cms_from_der (GBytes *der)
{
  gsize len = 0;
  const unsigned char *p = der != NULL ? g_bytes_get_data (der, &len) : NULL;
  CMS_ContentInfo *cms;

  if (p == NULL || len == 0 || len > G_MAXLONG)
    return NULL;
  cms = d2i_CMS_ContentInfo (NULL, &p, (long) len);
  ERR_clear_error ();
  return cms;
}

void
pst_smime_set_crypto_error (GError **error, const char *what)
{
  unsigned long e = ERR_peek_last_error ();
  char buf[256] = "";

  if (e != 0)
    ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

/* --- Signing and encryption ------------------------------------------------ */

CMS_ContentInfo *
pst_smime_signed_cms_new (PstSmime *smime, const char *sender, const char **micalg_out,
                          GError **error)
{
  PstSmimeEntry *id = pst_smime_store_find_identity (smime, sender);
  STACK_OF (X509_ALGOR) *caps = NULL;
  CMS_ContentInfo *cms;
  CMS_SignerInfo *si;
  const EVP_MD *md;
  EVP_PKEY *key;
  int bits;

  if (id == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no S/MIME identity for: %s", sender);
      return NULL;
    }
  if (!(key = pst_smime_entry_key (smime, id)))
    {
      pst_smime_set_locked_error (id, sender, error);
      return NULL;
    }
  bits = EVP_PKEY_get_security_bits (key);
  md = bits >= 256 ? EVP_sha512 () : bits >= 192 ? EVP_sha384 () : EVP_sha256 ();
  *micalg_out = bits >= 256 ? "sha-512" : bits >= 192 ? "sha-384" : "sha-256";

  cms = CMS_sign (NULL, NULL, id->chain, NULL, PST_SMIME_SIGN_FLAGS);
  si = cms != NULL ? CMS_add1_signer (cms, id->cert, key, md, PST_SMIME_SIGN_FLAGS) : NULL;
  caps = sk_X509_ALGOR_new_null ();
  if (si != NULL)
    {
      PKCS7_simple_smimecap (caps, NID_aes_256_gcm, 0);
      PKCS7_simple_smimecap (caps, NID_aes_128_gcm, 0);
      PKCS7_simple_smimecap (caps, NID_aes_256_cbc, 0);
      PKCS7_simple_smimecap (caps, NID_aes_128_cbc, 0);
    }
  if (si == NULL || !CMS_add_smimecap (si, caps))
    {
      pst_smime_set_crypto_error (error, "cannot sign with the S/MIME identity");
      CMS_ContentInfo_free (cms);
      cms = NULL;
    }
  sk_X509_ALGOR_pop_free (caps, X509_ALGOR_free);
  return cms;
}

GBytes *
pst_smime_sign (PstSmime *smime, GBytes *content, const char *sender, char **micalg_out,
                GError **error)
{
  const char *micalg = NULL;
  CMS_ContentInfo *cms = pst_smime_signed_cms_new (smime, sender, &micalg, error);
  GBytes *out = NULL;
  BIO *in;

  if (cms == NULL)
    return NULL;
  in = BIO_new_mem_buf (g_bytes_get_data (content, NULL), (int) g_bytes_get_size (content));
  if (CMS_final (cms, in, NULL, PST_SMIME_SIGN_FLAGS))
    out = pst_smime_cms_to_der (cms);
  if (out == NULL)
    pst_smime_set_crypto_error (error, "cannot sign with the S/MIME identity");
  else if (micalg_out != NULL)
    *micalg_out = g_strdup (micalg);
  BIO_free (in);
  CMS_ContentInfo_free (cms);
  return out;
}

STACK_OF (X509) *
pst_smime_recipient_certs (PstSmime *smime, const char *const *recipients, gboolean *gcm_out,
                           GError **error)
{
  g_autoptr(GPtrArray) missing = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(GPtrArray) seen = g_ptr_array_new_null_terminated (0, NULL, TRUE);
  STACK_OF (X509) *certs = sk_X509_new_null ();
  gboolean gcm = TRUE;

  for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
    {
      PstSmimeEntry *e;

      if (pst_addr_in_list (*r, (const char *const *) seen->pdata))
        continue;
      g_ptr_array_add (seen, (gpointer) *r);
      e = pst_smime_store_find_recipient (smime, *r);
      if (e == NULL)
        {
          g_ptr_array_add (missing, g_strdup (*r));
          continue;
        }
      /* Postern reads GCM: own identities need no capabilities. */
      if (e->kind != PST_SMIME_IDENTITY && !pst_smime_has_identity (smime, *r)
          && !pst_smime_caps_allow_gcm (e->caps))
        gcm = FALSE;
      sk_X509_push (certs, e->cert);
    }
  if (missing->len > 0 || sk_X509_num (certs) == 0)
    {
      g_autofree char *list = g_strjoinv (", ", (char **) missing->pdata);

      g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no S/MIME certificate for: %s",
                   missing->len > 0 ? list : "(no recipient)");
      sk_X509_free (certs);
      return NULL;
    }
  *gcm_out = gcm;
  return certs;
}

GBytes *
pst_smime_encrypt (PstSmime *smime, GBytes *content, const char *const *recipients,
                   gboolean *auth_out, GError **error)
{
  gboolean gcm = TRUE;
  STACK_OF (X509) *certs = pst_smime_recipient_certs (smime, recipients, &gcm, error);
  CMS_ContentInfo *cms = NULL;
  GBytes *out = NULL;
  BIO *in;

  if (certs == NULL)
    return NULL;
  in = BIO_new_mem_buf (g_bytes_get_data (content, NULL), (int) g_bytes_get_size (content));
  cms = CMS_encrypt (certs, in, gcm ? EVP_aes_256_gcm () : EVP_aes_256_cbc (), CMS_BINARY);
  if (cms != NULL)
    out = pst_smime_cms_to_der (cms);
  if (out == NULL)
    pst_smime_set_crypto_error (error, "cannot encrypt with S/MIME");
  else if (auth_out != NULL)
    *auth_out = gcm;
  CMS_ContentInfo_free (cms);
  BIO_free (in);
  sk_X509_free (certs);
  return out;
}

/* --- Reading --------------------------------------------------------------- */

PstSmimeCmsType
pst_smime_cms_type (GBytes *der)
{
  CMS_ContentInfo *cms = cms_from_der (der);
  PstSmimeCmsType type = PST_SMIME_CMS_OTHER;

  if (cms == NULL)
    return type;
  switch (OBJ_obj2nid (CMS_get0_type (cms)))
    {
    case NID_pkcs7_signed: type = PST_SMIME_CMS_SIGNED; break;
    case NID_pkcs7_enveloped: type = PST_SMIME_CMS_ENVELOPED; break;
    case NID_id_smime_ct_authEnvelopedData: type = PST_SMIME_CMS_AUTH_ENVELOPED; break;
    case NID_id_smime_ct_compressedData: type = PST_SMIME_CMS_COMPRESSED; break;
    default: break;
    }
  CMS_ContentInfo_free (cms);
  return type;
}

/* A BIO over a PstSink: decrypted content goes to a bounded buffer, and a
 * write past its limit fails, which makes CMS_decrypt fail. */
static int
sink_bio_write (BIO *bio, const char *data, int len)
{
  if (len < 0 || !pst_sink_write (BIO_get_data (bio), data, (gsize) len))
    return -1;
  return len;
}

static long
sink_bio_ctrl (BIO *bio, int cmd, long num, void *ptr)
{
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO *
sink_bio_new (PstSink *sink)
{
  static PstSmimeBioMethod method = { .name = "postern sink", .write = sink_bio_write,
                                      .ctrl = sink_bio_ctrl };

  return pst_smime_custom_bio_new (&method, sink);
}

/* The key-wrap algorithm (NID) of key-agreement recipient @ri: the
 * parameter of its keyEncryptionAlgorithm; NID_undef when unreadable. */
static int
kari_wrap_nid (CMS_RecipientInfo *ri)
{
  X509_ALGOR *alg = NULL, *wrap = NULL;
  ASN1_OCTET_STRING *ukm = NULL;
  const ASN1_OBJECT *obj = NULL;
  const void *pval = NULL;
  const unsigned char *p;
  int ptype = 0, nid = NID_undef;

  if (!CMS_RecipientInfo_kari_get0_alg (ri, &alg, &ukm) || alg == NULL)
    return NID_undef;
  X509_ALGOR_get0 (&obj, &ptype, &pval, alg);
  if (ptype != V_ASN1_SEQUENCE || pval == NULL)
    return NID_undef;
  p = ASN1_STRING_get0_data (pval);
  if ((wrap = d2i_X509_ALGOR (NULL, &p, ASN1_STRING_length (pval))) != NULL)
    {
      X509_ALGOR_get0 (&obj, NULL, NULL, wrap);
      nid = OBJ_obj2nid (obj);
    }
  X509_ALGOR_free (wrap);
  return nid;
}

/* Whether every key-agreement recipient of @cms names what OpenSSL reads
 * safely: an originator key of a key-agreement algorithm and AES key wrap
 * without padding (RFC 3394, what RFC 5753 and every S/MIME writer use).
 * OpenSSL 3.0.19 reads out of bounds in CMS_RecipientInfo_kari_decrypt
 * on a message with one byte changed there (found by fuzz-cms-stream: the
 * originator's id-ecPublicKey OID; id-aes256-wrap made id-aes256-wrap-pad):
 * such a message is refused before it reaches OpenSSL. */
static gboolean
kari_acceptable (CMS_ContentInfo *cms)
{
  STACK_OF (CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos (cms);

  for (int i = 0; ris != NULL && i < sk_CMS_RecipientInfo_num (ris); i++)
    {
      CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value (ris, i);
      X509_ALGOR *alg = NULL;
      ASN1_BIT_STRING *key = NULL;
      const ASN1_OBJECT *obj = NULL;
      int nid, wrap;

      if (CMS_RecipientInfo_type (ri) != CMS_RECIPINFO_AGREE)
        continue;
      wrap = kari_wrap_nid (ri);
      if (wrap != NID_id_aes128_wrap && wrap != NID_id_aes192_wrap && wrap != NID_id_aes256_wrap)
        return FALSE;
      if (!CMS_RecipientInfo_kari_get0_orig_id (ri, &alg, &key, NULL, NULL, NULL) || alg == NULL)
        continue;
      X509_ALGOR_get0 (&obj, NULL, NULL, alg);
      nid = OBJ_obj2nid (obj);
      if (nid != NID_X9_62_id_ecPublicKey && nid != NID_X25519 && nid != NID_X448
          && nid != NID_dhpublicnumber)
        return FALSE;
    }
  ERR_clear_error ();
  return TRUE;
}

PstSmimeEntry *
pst_smime_open_recipient (PstSmime *smime, CMS_ContentInfo *cms, GError **error)
{
  PstSmimeEntry *opened = NULL, *locked = NULL;
  gboolean key_failed = FALSE;

  if (!kari_acceptable (cms))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "the S/MIME message cannot be decrypted: it is damaged or was tampered with");
      return NULL;
    }

  /* First the content-encryption key, with the identity it is for; then
   * the content, so that a content that fails (a GCM tag that does not
   * check) is told apart from a message for somebody else. */
  for (guint i = 0; i < smime->entries->len && opened == NULL; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];
      EVP_PKEY *key;

      if (e->kind != PST_SMIME_IDENTITY)
        continue;
      if (!(key = pst_smime_entry_key (smime, e)))
        {
          if (locked == NULL && pst_smime_cms_is_for (cms, e->cert))
            locked = e;
          continue;
        }
      if (CMS_decrypt_set1_pkey (cms, key, e->cert))
        opened = e;
      /* "no matching recipient" means another identity may do. */
      else if (ERR_GET_REASON (ERR_peek_last_error ()) != CMS_R_NO_MATCHING_RECIPIENT)
        key_failed = TRUE;
      ERR_clear_error ();
    }
  if (opened == NULL && locked != NULL && !key_failed)
    pst_smime_set_locked_error (locked, NULL, error);
  else if (opened == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, key_failed
                 ? "the S/MIME message cannot be decrypted: it is damaged or was tampered with"
                 : "no S/MIME identity can decrypt this message");
  return opened;
}

gboolean
pst_smime_decrypt (PstSmime *smime, GBytes *der, GBytes **plain_out, PstIntegrity *integrity_out,
                   GError **error)
{
  CMS_ContentInfo *cms;
  gboolean auth;
  PstSmimeEntry *opened = NULL;
  BIO *out;

  if (smime->remote != NULL)
    return pst_crypto_remote_smime_decrypt (smime->remote, der, plain_out, integrity_out, error);
  cms = cms_from_der (der);
  if (integrity_out != NULL)
    *integrity_out = PST_INTEGRITY_NONE;
  if (cms == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "not an S/MIME (CMS) object");
      return FALSE;
    }
  auth = OBJ_obj2nid (CMS_get0_type (cms)) == NID_id_smime_ct_authEnvelopedData;
  if (auth && !pst_smime_auth_mac_acceptable (der))
    {
      if (integrity_out != NULL)
        *integrity_out = PST_INTEGRITY_FAILED;
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "%s", PST_SMIME_SHORT_MAC);
      CMS_ContentInfo_free (cms);
      return FALSE;
    }
  if (!(opened = pst_smime_open_recipient (smime, cms, error)))
    {
      CMS_ContentInfo_free (cms);
      return FALSE;
    }
  /* Enveloped content is never larger than the message; the limit is the
   * rule every decryption follows (status.h). */
  g_autoptr(PstSink) sink = pst_sink_new (MAX (PST_DECRYPTION_MAX_OUTPUT, g_bytes_get_size (der)),
                                          g_bytes_get_size (der));
  out = sink_bio_new (sink);
  if (!CMS_decrypt (cms, NULL, opened->cert, NULL, out, CMS_BINARY))
    {
      ERR_clear_error ();
      BIO_free (out);
      CMS_ContentInfo_free (cms);
      /* Enveloped content is smaller than @der, all of it @own: it never
       * takes shared budget, so never waits for it; were it to, busy is
       * not a verdict on the message. */
      if (pst_sink_state (sink) == PST_SINK_BUSY)
        {
          pst_sink_set_busy_error (error);
          return FALSE;
        }
      if (pst_sink_overflowed (sink))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                       "S/MIME decryption stopped: the content is larger than %" G_GSIZE_FORMAT
                       " MiB, the most Postern opens", pst_sink_max (sink) / (1024 * 1024));
          return FALSE;
        }
      if (auth && integrity_out != NULL)
        *integrity_out = PST_INTEGRITY_FAILED;
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, auth
                   ? "the S/MIME message was tampered with: its authentication tag does not check"
                   : "the S/MIME message cannot be decrypted: it is damaged or was tampered with");
      return FALSE;
    }
  *plain_out = pst_sink_steal (sink);
  if (integrity_out != NULL)
    *integrity_out = auth ? PST_INTEGRITY_OK : PST_INTEGRITY_NONE;
  BIO_free (out);
  CMS_ContentInfo_free (cms);
  ERR_clear_error ();
  return TRUE;
}

void
pst_smime_signature_free (PstSmimeSignature *sig)
{
  if (sig == NULL)
    return;
  g_strfreev (sig->addresses);
  g_free (sig->fingerprint);
  g_free (sig);
}

static gboolean
weak_digest_nid (int nid)
{
  return nid == NID_sha1 || nid == NID_md5 || nid == NID_md4 || nid == NID_md2
         || nid == NID_sha1WithRSAEncryption || nid == NID_md5WithRSAEncryption
         || nid == NID_ecdsa_with_SHA1 || nid == NID_dsaWithSHA1 || nid == NID_undef;
}

static gint64
signing_time (CMS_SignerInfo *si)
{
  int idx = CMS_signed_get_attr_by_NID (si, NID_pkcs9_signingTime, -1);
  X509_ATTRIBUTE *attr = idx >= 0 ? CMS_signed_get_attr (si, idx) : NULL;
  ASN1_TYPE *t = attr != NULL ? X509_ATTRIBUTE_get0_type (attr, 0) : NULL;

  if (t == NULL || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
    return 0;
  return pst_smime_asn1_time_unix ((const ASN1_TIME *) t->value.asn1_string);
}

static GBytes *
signer_caps (CMS_SignerInfo *si)
{
  int idx = CMS_signed_get_attr_by_NID (si, NID_SMIMECapabilities, -1);
  X509_ATTRIBUTE *attr = idx >= 0 ? CMS_signed_get_attr (si, idx) : NULL;
  ASN1_TYPE *t = attr != NULL ? X509_ATTRIBUTE_get0_type (attr, 0) : NULL;

  if (t == NULL || t->type != V_ASN1_SEQUENCE)
    return NULL;
  return g_bytes_new (ASN1_STRING_get0_data (t->value.sequence), ASN1_STRING_length (t->value.sequence));
}

static PstSigStatus
chain_status (int result)
{
  switch (result)
    {
    case X509_V_OK: return PST_SIG_GOOD;
    case X509_V_ERR_CERT_HAS_EXPIRED: return PST_SIG_EXPIRED_KEY;
    case X509_V_ERR_CERT_REVOKED: return PST_SIG_REVOKED_KEY;
    default: return PST_SIG_UNKNOWN_KEY;
    }
}

PstSmimeSignature *
pst_smime_verify (PstSmime *smime, GBytes *der, GBytes *content, GBytes **econtent_out)
{
  if (smime->remote != NULL)
    return pst_crypto_remote_smime_verify (smime->remote, der, content, econtent_out);
  return pst_smime_verify_cms (smime, cms_from_der (der), content, econtent_out, NULL, NULL);
}

PstSmimeSignature *
pst_smime_verify_cms (PstSmime *smime, CMS_ContentInfo *cms, GBytes *content,
                      GBytes **econtent_out, PstSmimeContentCheck check, gpointer check_data)
{
  PstSmimeSignature *sig;
  STACK_OF (CMS_SignerInfo) *sis;
  STACK_OF (X509) *all = NULL, *cms_certs = NULL, *chain = NULL;
  ASN1_OCTET_STRING **econtent;
  CMS_SignerInfo *si;
  X509 *signer = NULL;
  X509_ALGOR *dig = NULL, *salg = NULL;
  BIO *in = NULL;
  int verified;
  /* Detached: the content is @content, or what @check digested. */
  gboolean detached = content != NULL || check != NULL;

  sig = g_new0 (PstSmimeSignature, 1);
  sig->status = PST_SIG_ERROR;
  if (cms == NULL || OBJ_obj2nid (CMS_get0_type (cms)) != NID_pkcs7_signed)
    goto done;
  sis = CMS_get0_SignerInfos (cms);
  sig->signer_count = sis != NULL ? sk_CMS_SignerInfo_num (sis) : 0;
  econtent = CMS_get0_content (cms);
  if (content != NULL && econtent != NULL && *econtent != NULL)
    {
      gsize clen = 0;
      const void *c = g_bytes_get_data (content, &clen);

      sig->econtent_mismatch = (gsize) ASN1_STRING_length (*econtent) != clen
                               || memcmp (ASN1_STRING_get0_data (*econtent), c, clen) != 0;
    }
  else if (!detached && (econtent == NULL || *econtent == NULL))
    goto done;   /* opaque without content */
  else if (!detached && econtent_out != NULL)
    /* Shown with whatever verdict follows, as received. */
    *econtent_out = pst_secret_bytes_new (ASN1_STRING_get0_data (*econtent), ASN1_STRING_length (*econtent), NULL, 0);
  if (sig->signer_count == 0)
    {
      sig->status = PST_SIG_BAD;
      goto done;
    }

  all = pst_smime_store_all_certs (smime);
  CMS_set1_signers_certs (cms, all, 0);
  si = sk_CMS_SignerInfo_value (sis, 0);
  CMS_SignerInfo_get0_algs (si, NULL, &signer, &dig, &salg);
  if (dig != NULL)
    {
      const ASN1_OBJECT *obj = NULL;

      X509_ALGOR_get0 (&obj, NULL, NULL, dig);
      sig->weak_digest = weak_digest_nid (OBJ_obj2nid (obj));
    }
  sig->signing_time = signing_time (si);
  if (signer != NULL)
    {
      sig->addresses = pst_smime_x509_emails (signer);
      sig->fingerprint = pst_smime_x509_fingerprint (signer);
    }
  else
    {
      sig->status = PST_SIG_UNKNOWN_KEY;
      if (sig->signer_count == 1 && !sig->weak_digest && !sig->econtent_mismatch)
        goto done;
    }

  /* Behind a buffering filter: handed a memory BIO, OpenSSL 3.0's
   * CMS_verify copies it into one of its own and leaks that copy when the
   * CMS cannot be opened for reading (found by fuzz-smime); any other kind
   * of BIO it reads as it is. */
  if (content != NULL)
    in = BIO_push (BIO_new (BIO_f_buffer ()),
                   BIO_new_mem_buf (g_bytes_get_data (content, NULL), (int) g_bytes_get_size (content)));
  if (signer == NULL)
    verified = FALSE;
  else if (check != NULL)
    verified = check (cms, check_data);
  else
    verified = CMS_verify (cms, NULL, NULL, in, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) == 1;
  ERR_clear_error ();
  if (!verified)
    sig->status = PST_SIG_BAD;
  else
    {
      cms_certs = CMS_get1_certs (cms);
      sig->status = chain_status (pst_smime_store_verify (smime, signer, cms_certs,
                                                          X509_PURPOSE_SMIME_SIGN, &chain));
    }
  if (sig->status == PST_SIG_GOOD && sig->signer_count == 1 && !sig->weak_digest
      && !sig->econtent_mismatch)
    {
      g_autoptr(GBytes) caps = signer_caps (si);

      pst_smime_store_collect (smime, signer, chain, caps);
    }
  if (sig->signer_count != 1 || sig->weak_digest || sig->econtent_mismatch)
    sig->status = PST_SIG_BAD;

done:
  ERR_clear_error ();
  sk_X509_pop_free (chain, X509_free);
  sk_X509_pop_free (cms_certs, X509_free);
  sk_X509_free (all);
  BIO_free_all (in);
  CMS_ContentInfo_free (cms);
  return sig;
}
