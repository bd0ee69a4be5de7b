/* sha256.c — see sha256.h. */
#include "crypto/sha256.h"

#include <openssl/evp.h>

struct _PstSha256 {
  EVP_MD_CTX *ctx;
  gboolean done;
  char hex[2 * 32 + 1];
};

PstSha256 *
pst_sha256_new (void)
{
  PstSha256 *s = g_new0 (PstSha256, 1);

  s->ctx = EVP_MD_CTX_new ();
  if (s->ctx == NULL || EVP_DigestInit_ex (s->ctx, EVP_sha256 (), NULL) != 1)
    g_error ("OpenSSL cannot make a SHA-256 context");
  return s;
}

void
pst_sha256_update (PstSha256 *s, const void *data, gsize len)
{
  g_return_if_fail (!s->done);
  if (len > 0 && EVP_DigestUpdate (s->ctx, data, len) != 1)
    g_error ("OpenSSL's SHA-256 failed");
}

const char *
pst_sha256_get_string (PstSha256 *s)
{
  if (!s->done)
    {
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int n = 0;

      if (EVP_DigestFinal_ex (s->ctx, md, &n) != 1 || n != 32)
        g_error ("OpenSSL's SHA-256 failed");
      for (unsigned int i = 0; i < n; i++)
        g_snprintf (s->hex + 2 * i, 3, "%02x", md[i]);
      s->done = TRUE;
    }
  return s->hex;
}

void
pst_sha256_free (PstSha256 *s)
{
  if (s == NULL)
    return;
  EVP_MD_CTX_free (s->ctx);
  g_free (s);
}
