/* smime-verify-stream.c — detached CMS signatures over content that was
 * digested as it passed (smime.h, pst_smime_verify_digested).
 *
 * CMS_verify reads detached content from a BIO and digests it; in a
 * multipart/signed the content comes first and the SignedData after it,
 * so a stream would have to be read twice.  Instead the content is
 * digested as it passes, with the algorithms micalg names, and the check
 * CMS_verify makes is made here on those digests, step by step as
 * OpenSSL 3.0's CMS_verify with CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY
 * does it: every signer's certificate found, the signed attributes'
 * signatures, then CMS_dataInit's digest BIOs (one per digestAlgorithm of
 * the SignedData: an unknown one fails as it fails there) given the
 * digests' state, and CMS_SignerInfo_verify_content on that chain.  The
 * rest of the verdict is pst_smime_verify's own (pst_smime_verify_cms). */
#include "crypto/smime-private.h"

#include <openssl/err.h>

#define MAX_DIGESTS 4

struct _PstSmimeDigests {
  EVP_MD_CTX *ctx[MAX_DIGESTS];
  guint n;
};

static void
digests_add (PstSmimeDigests *d, const char *name)
{
  const EVP_MD *md = EVP_get_digestbyname (name);

  if (md == NULL || d->n == MAX_DIGESTS)
    return;
  for (guint i = 0; i < d->n; i++)
    if (EVP_MD_CTX_get_type (d->ctx[i]) == EVP_MD_get_type (md))
      return;
  d->ctx[d->n] = EVP_MD_CTX_new ();
  if (d->ctx[d->n] == NULL || !EVP_DigestInit_ex (d->ctx[d->n], md, NULL))
    {
      EVP_MD_CTX_free (d->ctx[d->n]);
      d->ctx[d->n] = NULL;
      ERR_clear_error ();
      return;
    }
  d->n++;
}

PstSmimeDigests *
pst_smime_digests_new (const char *micalg)
{
  PstSmimeDigests *d = g_new0 (PstSmimeDigests, 1);
  g_auto(GStrv) names = g_strsplit (micalg != NULL ? micalg : "", ",", -1);

  digests_add (d, "SHA256");
  for (char **n = names; *n != NULL; n++)
    {
      g_autofree char *name = g_ascii_strdown (g_strstrip (*n), -1);
      GString *openssl = g_string_new (NULL);

      /* RFC 8551's names ("sha-256") are OpenSSL's without the dash. */
      for (const char *c = name; *c != '\0'; c++)
        if (*c != '-' && *c != '"')
          g_string_append_c (openssl, *c);
      if (g_str_has_prefix (openssl->str, "sha") || g_str_equal (openssl->str, "md5"))
        digests_add (d, openssl->str);
      g_string_free (openssl, TRUE);
    }
  return d;
}

void
pst_smime_digests_update (PstSmimeDigests *d, const void *data, gsize len)
{
  for (guint i = 0; i < d->n; i++)
    EVP_DigestUpdate (d->ctx[i], data, len);
}

char *
pst_smime_digests_sha256 (PstSmimeDigests *d)
{
  EVP_MD_CTX *copy = EVP_MD_CTX_new ();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  GString *hex = g_string_new (NULL);

  /* SHA-256 is always the first (pst_smime_digests_new). */
  if (copy != NULL && d->n > 0 && EVP_MD_CTX_copy_ex (copy, d->ctx[0])
      && EVP_DigestFinal_ex (copy, md, &len))
    for (unsigned int i = 0; i < len; i++)
      g_string_append_printf (hex, "%02x", md[i]);
  EVP_MD_CTX_free (copy);
  ERR_clear_error ();
  return g_string_free (hex, FALSE);
}

void
pst_smime_digests_free (PstSmimeDigests *d)
{
  if (d == NULL)
    return;
  for (guint i = 0; i < d->n; i++)
    EVP_MD_CTX_free (d->ctx[i]);
  g_free (d);
}

typedef struct {
  PstSmimeDigests *digests;
  gboolean unusable;   /* a digest the content was not digested with */
} Check;

static EVP_MD_CTX *
digest_of (PstSmimeDigests *d, int nid)
{
  for (guint i = 0; i < d->n; i++)
    if (EVP_MD_CTX_get_type (d->ctx[i]) == nid)
      return d->ctx[i];
  return NULL;
}

static gboolean
digested_check (CMS_ContentInfo *cms, gpointer data)
{
  Check *c = data;
  STACK_OF (CMS_SignerInfo) *sis = CMS_get0_SignerInfos (cms);
  int n = sis != NULL ? sk_CMS_SignerInfo_num (sis) : 0;
  BIO *null, *chain;
  gboolean ok = FALSE;

  if (n <= 0)
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      X509 *signer = NULL;

      CMS_SignerInfo_get0_algs (sk_CMS_SignerInfo_value (sis, i), NULL, &signer, NULL, NULL);
      if (signer == NULL)
        return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      CMS_SignerInfo *si = sk_CMS_SignerInfo_value (sis, i);

      if (CMS_signed_get_attr_count (si) >= 0 && CMS_SignerInfo_verify (si) <= 0)
        return FALSE;
    }
  null = BIO_new (BIO_s_null ());
  if (null == NULL || !(chain = CMS_dataInit (cms, null)))
    {
      BIO_free (null);
      return FALSE;
    }
  for (BIO *b = chain; b != NULL && b != null; b = BIO_next (b))
    {
      EVP_MD_CTX *theirs = NULL, *mine;

      if (BIO_method_type (b) != BIO_TYPE_MD || BIO_get_md_ctx (b, &theirs) <= 0 || theirs == NULL)
        continue;
      if (!(mine = digest_of (c->digests, EVP_MD_CTX_get_type (theirs))))
        {
          c->unusable = TRUE;
          goto out;
        }
      if (!EVP_MD_CTX_copy_ex (theirs, mine))
        goto out;
    }
  ok = TRUE;
  for (int i = 0; i < n && ok; i++)
    ok = CMS_SignerInfo_verify_content (sk_CMS_SignerInfo_value (sis, i), chain) > 0;

out:
  BIO_free_all (chain);
  ERR_clear_error ();
  return ok;
}

PstSmimeSignature *
pst_smime_verify_digested (PstSmime *smime, GBytes *der, PstSmimeDigests *digests,
                           gboolean *usable_out)
{
  gsize len = 0;
  const unsigned char *p = der != NULL ? g_bytes_get_data (der, &len) : NULL;
  CMS_ContentInfo *cms = NULL;
  ASN1_OCTET_STRING **econtent;
  PstSmimeSignature *sig;
  Check check = { digests, FALSE };

  *usable_out = FALSE;
  if (smime->remote != NULL)
    return NULL;
  if (p != NULL && len > 0 && len <= G_MAXLONG)
    cms = d2i_CMS_ContentInfo (NULL, &p, (long) len);
  ERR_clear_error ();
  if (cms != NULL && OBJ_obj2nid (CMS_get0_type (cms)) == NID_pkcs7_signed
      && (econtent = CMS_get0_content (cms)) != NULL && *econtent != NULL)
    {
      CMS_ContentInfo_free (cms);
      return NULL;   /* compared with the content: in memory */
    }
  sig = pst_smime_verify_cms (smime, cms, NULL, NULL, digested_check, &check);
  if (check.unusable)
    {
      pst_smime_signature_free (sig);
      return NULL;
    }
  *usable_out = TRUE;
  return sig;
}
