/* pgp-direct.c — OpenPGP sign+encrypt without a gpg process per message
 * (pgp-private.h, pst_pgp_direct_encrypt).
 *
 * Why not gpg, and why our own packets: a gpg process per message costs
 * start-up, keyring and trustdb reading and an agent connection, which is
 * all of the time for a 4 KiB message (docs/performance.md).  No library
 * fits the constraints: secret keys stay in gpg-agent, which signs a digest
 * over its Assuan protocol (SIGKEY, SETHASH, PKSIGN; GPGME speaks it), and
 * RNP or GPGME cannot put such an outside signature into the one
 * encrypted-and-signed OpenPGP message (RFC 3156 §6.2) that Postern sends,
 * so the packets around it are built here (RFC 4880 §5, RFC 6637 for
 * Curve25519 ECDH), with OpenSSL for every primitive.  gpg reads all of it:
 * tests/integration/test-pgp-batch.sh decrypts and verifies with gpg.
 *
 * Only what the keys in use need is here: an Ed25519 or RSA signing key,
 * Cv25519 or RSA encryption subkeys, SHA-256, AES-256.  Anything else, a
 * key whose material cannot be read, or gpg-agent not answering (a secret
 * key that wants a passphrase not cached: pinentry-mode is "cancel" here)
 * makes the caller use gpg, which then asks or says what is wrong.  So do
 * a recipient key whose preferences lack AES-256 and a signature from
 * gpg-agent that does not verify; gpg.conf options that change what gpg
 * writes are checked by the caller (pgp-home.c). */
#include "crypto/pgp-private.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define ALGO_RSA 1
#define ALGO_RSA_E 2
#define ALGO_RSA_S 3
#define ALGO_ECDH 18
#define ALGO_EDDSA 22
#define HASH_SHA256 8
#define SYM_AES256 9

/* Cv25519: 1.3.6.1.4.1.3029.1.5.1; Ed25519: 1.3.6.1.4.1.11591.15.1 */
static const guint8 oid_cv25519[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01 };
static const guint8 oid_ed25519[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01 };

/* --- Bytes -------------------------------------------------------------------- */

static void
put_u8 (GByteArray *a, guint v)
{
  guint8 b = (guint8) v;
  g_byte_array_append (a, &b, 1);
}

static void
put_u16 (GByteArray *a, guint v)
{
  put_u8 (a, v >> 8);
  put_u8 (a, v);
}

static void
put_u32 (GByteArray *a, guint32 v)
{
  put_u16 (a, v >> 16);
  put_u16 (a, v & 0xffff);
}

/* An MPI: a bit count, then the number without leading zeros. */
static void
put_mpi (GByteArray *a, const guint8 *p, gsize len)
{
  guint bits;

  while (len > 0 && *p == 0)
    p++, len--;
  bits = len == 0 ? 0 : (guint) (len - 1) * 8 + g_bit_storage (p[0]);
  put_u16 (a, bits);
  g_byte_array_append (a, p, (guint) len);
}

/* A packet in the new format (RFC 4880 §4.2.2), never partial. */
static void
put_packet (GByteArray *a, guint tag, const guint8 *body, gsize len)
{
  put_u8 (a, 0xc0 | tag);
  if (len < 192)
    put_u8 (a, len);
  else if (len < 8384)
    {
      put_u8 (a, ((len - 192) >> 8) + 192);
      put_u8 (a, (len - 192) & 0xff);
    }
  else
    {
      put_u8 (a, 0xff);
      put_u32 (a, (guint32) len);
    }
  g_byte_array_append (a, body, (guint) len);
}

static gboolean
hex_to_bin (const char *hex, guint8 *out, gsize len)
{
  if (hex == NULL || strlen (hex) != len * 2)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

/* --- Public keys from the keyring ---------------------------------------------- */

/* The public material of one (sub)key, read from gpg's export of its key. */
typedef struct {
  guint algo;                 /* the key's own algorithm byte */
  guint8 fpr[20];
  GBytes *n, *e;              /* RSA */
  guint8 point[32];           /* Cv25519 or Ed25519, native */
  guint8 kdf_hash, kdf_sym;   /* Cv25519 */
  gboolean aes256;            /* the user ids' self-signatures list AES-256 */
} PubKey;

static void
pub_key_free (PubKey *k)
{
  if (k->n)
    g_bytes_unref (k->n);
  if (k->e)
    g_bytes_unref (k->e);
  g_free (k);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PubKey, pub_key_free)

static PubKey *
pub_key_copy (const PubKey *k)
{
  PubKey *c = g_memdup2 (k, sizeof *k);

  if (c->n)
    g_bytes_ref (c->n);
  if (c->e)
    g_bytes_ref (c->e);
  return c;
}

/* One packet at *@off in @p; FALSE at the end or on what keys do not hold. */
static gboolean
next_packet (const guint8 *p, gsize len, gsize *off, guint *tag, const guint8 **body, gsize *blen)
{
  gsize o = *off, l;
  guint8 c;

  if (o >= len || !((c = p[o++]) & 0x80))
    return FALSE;
  if (c & 0x40)
    {
      *tag = c & 0x3f;
      if (o >= len)
        return FALSE;
      if (p[o] < 192)
        l = p[o++];
      else if (p[o] < 224)
        {
          if (o + 2 > len)
            return FALSE;
          l = ((gsize) (p[o] - 192) << 8) + p[o + 1] + 192;
          o += 2;
        }
      else if (p[o] == 255)
        {
          if (o + 5 > len)
            return FALSE;
          l = (gsize) p[o + 1] << 24 | (gsize) p[o + 2] << 16 | (gsize) p[o + 3] << 8 | p[o + 4];
          o += 5;
        }
      else
        return FALSE;
    }
  else
    {
      guint lt = c & 3, n = lt == 0 ? 1 : lt == 1 ? 2 : 4;

      *tag = (c >> 2) & 0xf;
      if (lt == 3 || o + n > len)
        return FALSE;
      for (l = 0; n > 0; n--)
        l = l << 8 | p[o++];
    }
  if (l > len - o)
    return FALSE;
  *body = p + o;
  *blen = l;
  *off = o + l;
  return TRUE;
}

static gboolean
read_mpi (const guint8 *p, gsize len, gsize *off, const guint8 **v, gsize *vlen)
{
  gsize bytes;

  if (*off + 2 > len)
    return FALSE;
  bytes = (((gsize) p[*off] << 8 | p[*off + 1]) + 7) / 8;
  if (bytes > len - *off - 2)
    return FALSE;
  *v = p + *off + 2;
  *vlen = bytes;
  *off += 2 + bytes;
  return TRUE;
}

/* The key packet @body, when it is one we do here. */
static PubKey *
parse_key (const guint8 *body, gsize len, const guint8 fpr[20])
{
  g_autoptr (PubKey) k = NULL;
  gsize off = 6, vlen;
  const guint8 *v;
  guint algo;

  if (len < 7 || body[0] != 4)
    return NULL;
  algo = body[5];
  k = g_new0 (PubKey, 1);
  k->algo = algo;
  memcpy (k->fpr, fpr, 20);
  if (algo == ALGO_RSA || algo == ALGO_RSA_E || algo == ALGO_RSA_S)
    {
      const guint8 *n;
      gsize nlen;

      if (!read_mpi (body, len, &off, &n, &nlen) || !read_mpi (body, len, &off, &v, &vlen)
          || nlen < 128)
        return NULL;
      k->n = g_bytes_new (n, nlen);
      k->e = g_bytes_new (v, vlen);
    }
  else if (algo == ALGO_ECDH)
    {
      if (body[6] != sizeof oid_cv25519 || len < 7 + sizeof oid_cv25519
          || memcmp (body + 7, oid_cv25519, sizeof oid_cv25519) != 0)
        return NULL;
      off = 7 + sizeof oid_cv25519;
      if (!read_mpi (body, len, &off, &v, &vlen) || vlen != 33 || v[0] != 0x40
          || off + 4 > len || body[off] != 3 || body[off + 1] != 1)
        return NULL;
      memcpy (k->point, v + 1, 32);
      k->kdf_hash = body[off + 2];
      k->kdf_sym = body[off + 3];
      if (k->kdf_hash != HASH_SHA256 && k->kdf_hash != 9 && k->kdf_hash != 10)
        return NULL;
      if (k->kdf_sym < 7 || k->kdf_sym > 9)
        return NULL;
    }
  else if (algo == ALGO_EDDSA)
    {
      if (body[6] != sizeof oid_ed25519 || len < 7 + sizeof oid_ed25519
          || memcmp (body + 7, oid_ed25519, sizeof oid_ed25519) != 0)
        return NULL;
      off = 7 + sizeof oid_ed25519;
      if (!read_mpi (body, len, &off, &v, &vlen) || vlen != 33 || v[0] != 0x40)
        return NULL;
      memcpy (k->point, v + 1, 32);
    }
  else
    return NULL;
  return g_steal_pointer (&k);
}

/* Whether the user id self-signature @body (RFC 4880 §5.2.3) has a
 * preferred symmetric algorithms subpacket (11): *@has set, and whether
 * it lists AES-256. */
static gboolean
self_sig_lists_aes256 (const guint8 *body, gsize len, gboolean *has)
{
  gsize off = 6, end;

  *has = FALSE;
  if (len < 6 || body[0] != 4 || body[1] < 0x10 || body[1] > 0x13)
    return TRUE;
  end = 6 + ((gsize) body[4] << 8 | body[5]);
  if (end > len)
    return TRUE;
  while (off < end)
    {
      gsize l;

      if (body[off] < 192)
        l = body[off++];
      else if (body[off] < 255 && off + 2 <= end)
        l = ((gsize) (body[off] - 192) << 8) + body[off + 1] + 192, off += 2;
      else if (body[off] == 255 && off + 5 <= end)
        l = (gsize) body[off + 1] << 24 | (gsize) body[off + 2] << 16 | (gsize) body[off + 3] << 8 | body[off + 4], off += 5;
      else
        return FALSE;
      if (l == 0 || l > end - off)
        return FALSE;
      if ((body[off] & 0x7f) == 11)
        {
          *has = TRUE;
          return memchr (body + off + 1, SYM_AES256, l - 1) != NULL;
        }
      off += l;
    }
  return TRUE;
}

/* The (sub)key @sub_fpr of @key from gpg's export of it; its aes256 is
 * FALSE when a user id's self-signature lacks AES-256 in its preferences
 * (or none has preferences): gpg would then choose another cipher. */
static PubKey *
export_pub_key (const char *home, gpgme_key_t key, const guint8 sub_fpr[20])
{
  gpgme_ctx_t ctx = pst_pgp_keys_open_ctx (home, NULL);
  gpgme_data_t out = NULL;
  char *data = NULL;
  size_t len = 0;
  gsize off = 0, blen;
  const guint8 *body;
  guint tag;
  PubKey *k = NULL;
  gboolean prefs_seen = FALSE, aes256 = TRUE;

  if (ctx == NULL)
    return NULL;
  gpgme_set_armor (ctx, 0);
  if (gpgme_data_new (&out) == GPG_ERR_NO_ERROR
      && gpgme_op_export (ctx, key->fpr, GPGME_EXPORT_MODE_MINIMAL, out) == GPG_ERR_NO_ERROR)
    data = gpgme_data_release_and_get_mem (g_steal_pointer (&out), &len);
  if (out != NULL)
    gpgme_data_release (out);
  gpgme_release (ctx);
  while (data != NULL && next_packet ((guint8 *) data, len, &off, &tag, &body, &blen))
    if (tag == 2)
      {
        gboolean has;

        /* export-minimal keeps the self-signatures only. */
        aes256 = self_sig_lists_aes256 (body, blen, &has) && aes256;
        prefs_seen = prefs_seen || has;
      }
    else if (k == NULL && (tag == 6 || tag == 14))
      {
        guint8 fpr[20], head[3] = { 0x99, (guint8) (blen >> 8), (guint8) blen };
        size_t flen = sizeof fpr;
        EVP_MD_CTX *md = EVP_MD_CTX_new ();
        gboolean hashed = md != NULL && EVP_DigestInit_ex (md, EVP_sha1 (), NULL)
                          && EVP_DigestUpdate (md, head, 3) && EVP_DigestUpdate (md, body, blen)
                          && EVP_DigestFinal_ex (md, fpr, (unsigned int *) &flen);

        EVP_MD_CTX_free (md);
        if (hashed && blen < 65536 && memcmp (fpr, sub_fpr, 20) == 0)
          k = parse_key (body, blen, fpr);
      }
  gpgme_free (data);
  if (k != NULL)
    k->aes256 = prefs_seen && aes256;
  return k;
}

/* Key material never changes under a fingerprint, but its key's
 * preferences may: kept until pst_pgp_forget_keys. */
static GMutex key_cache_lock;
static GHashTable *key_cache;   /* "home\nsubkey fpr" -> PubKey* */

void
pst_pgp_direct_forget (void)
{
  g_mutex_lock (&key_cache_lock);
  if (key_cache != NULL)
    g_hash_table_remove_all (key_cache);
  g_mutex_unlock (&key_cache_lock);
}

/* Not expired now: gpg's key listing may be up to 30 s old (pgp.c). */
static gboolean
subkey_current (gpgme_key_t key, gpgme_subkey_t sk)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  return sk != NULL && (sk->expires == 0 || sk->expires > now) && key->subkeys != NULL
         && (key->subkeys->expires == 0 || key->subkeys->expires > now);
}

/* The material of @sk of @key, a copy (transfer full): the cache may be
 * emptied while a message is made. */
static PubKey *
pub_key_for (const char *home, gpgme_key_t key, gpgme_subkey_t sk)
{
  g_autofree char *name = NULL;
  guint8 fpr[20];
  PubKey *k;

  if (!subkey_current (key, sk) || !hex_to_bin (sk->fpr, fpr, 20))
    return NULL;
  name = g_strdup_printf ("%s\n%s", home ? home : "", sk->fpr);
  g_mutex_lock (&key_cache_lock);
  k = key_cache ? g_hash_table_lookup (key_cache, name) : NULL;
  k = k != NULL ? pub_key_copy (k) : NULL;
  g_mutex_unlock (&key_cache_lock);
  if (k != NULL || !(k = export_pub_key (home, key, fpr)))
    return k;
  g_mutex_lock (&key_cache_lock);
  if (key_cache == NULL)
    key_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) pub_key_free);
  g_hash_table_replace (key_cache, g_steal_pointer (&name), pub_key_copy (k));
  g_mutex_unlock (&key_cache_lock);
  return k;
}

/* The encryption subkey of @key, when it is one we do here. */
static PubKey *
enc_key_for (const char *home, gpgme_key_t key)
{
  g_autoptr (PubKey) k = pub_key_for (home, key, pst_pgp_usable_subkey (key, FALSE));

  if (k == NULL || !(k->algo == ALGO_RSA || k->algo == ALGO_RSA_E || k->algo == ALGO_ECDH))
    return NULL;
  /* AES-256 is fixed here; gpg would choose one the recipient lists. */
  if (!k->aes256)
    return NULL;
  return g_steal_pointer (&k);
}

/* --- Session keys ----------------------------------------------------------------- */

/* algo, key, checksum (RFC 4880 §5.1) */
static void
session_block (GByteArray *m, const guint8 key[32])
{
  guint sum = 0;

  put_u8 (m, SYM_AES256);
  g_byte_array_append (m, key, 32);
  for (int i = 0; i < 32; i++)
    sum += key[i];
  put_u16 (m, sum & 0xffff);
}

/* @k's RSA public key for OpenSSL, or NULL. */
static EVP_PKEY *
rsa_pkey (const PubKey *k)
{
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new ();
  OSSL_PARAM *params = NULL;
  BIGNUM *n = BN_bin2bn (g_bytes_get_data (k->n, NULL), (int) g_bytes_get_size (k->n), NULL);
  BIGNUM *e = BN_bin2bn (g_bytes_get_data (k->e, NULL), (int) g_bytes_get_size (k->e), NULL);
  EVP_PKEY_CTX *pctx = NULL;
  EVP_PKEY *pkey = NULL;

  if (bld != NULL && n != NULL && e != NULL
      && OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_N, n)
      && OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_E, e)
      && (params = OSSL_PARAM_BLD_to_param (bld)) != NULL
      && (pctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL)) != NULL
      && EVP_PKEY_fromdata_init (pctx) > 0)
    EVP_PKEY_fromdata (pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free (pctx);
  OSSL_PARAM_free (params);
  OSSL_PARAM_BLD_free (bld);
  BN_free (n);
  BN_free (e);
  return pkey;
}

static gboolean
pkesk_rsa (GByteArray *a, const PubKey *k, const guint8 key[32])
{
  g_autoptr (GByteArray) m = g_byte_array_new ();
  EVP_PKEY *pkey = g_bytes_get_size (k->n) <= 1024 ? rsa_pkey (k) : NULL;
  EVP_PKEY_CTX *ectx = NULL;
  guint8 out[1024];
  size_t outlen = sizeof out;
  gboolean ok = FALSE;

  session_block (m, key);
  if (pkey != NULL
      && (ectx = EVP_PKEY_CTX_new (pkey, NULL)) != NULL
      && EVP_PKEY_encrypt_init (ectx) > 0
      && EVP_PKEY_CTX_set_rsa_padding (ectx, RSA_PKCS1_PADDING) > 0
      && EVP_PKEY_encrypt (ectx, out, &outlen, m->data, m->len) > 0)
    {
      put_mpi (a, out, outlen);
      ok = TRUE;
    }
  OPENSSL_cleanse (m->data, m->len);
  EVP_PKEY_CTX_free (ectx);
  EVP_PKEY_free (pkey);
  return ok;
}

/* RFC 6637 §7-8 with Curve25519 (RFC 4880bis): an ephemeral X25519 key,
 * the KDF over the shared secret, AES key wrap of the padded session key. */
static gboolean
pkesk_cv25519 (GByteArray *a, const PubKey *k, const guint8 key[32])
{
  static const guint8 counter[4] = { 0, 0, 0, 1 };
  g_autoptr (GByteArray) m = g_byte_array_new ();
  g_autoptr (GByteArray) param = g_byte_array_new ();
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key (EVP_PKEY_X25519, NULL, k->point, 32);
  EVP_PKEY *eph = EVP_PKEY_Q_keygen (NULL, NULL, "X25519");
  EVP_PKEY_CTX *dctx = NULL;
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new ();
  const EVP_MD *hash = k->kdf_hash == HASH_SHA256 ? EVP_sha256 () : k->kdf_hash == 9 ? EVP_sha384 () : EVP_sha512 ();
  const EVP_CIPHER *wrap = k->kdf_sym == 7 ? EVP_aes_128_wrap () : k->kdf_sym == 8 ? EVP_aes_192_wrap () : EVP_aes_256_wrap ();
  guint8 z[32], eph_pub[33], kek[64], wrapped[64];
  size_t zlen = sizeof z, publen = 32;
  unsigned int keklen = 0;
  int wlen = 0, flen = 0;
  guint pad;
  gboolean ok = FALSE;

  session_block (m, key);
  pad = 8 - m->len % 8;
  for (guint i = 0; i < pad; i++)
    put_u8 (m, pad);
  put_u8 (param, sizeof oid_cv25519);
  g_byte_array_append (param, oid_cv25519, sizeof oid_cv25519);
  put_u8 (param, ALGO_ECDH);
  put_u8 (param, 3);
  put_u8 (param, 1);
  put_u8 (param, k->kdf_hash);
  put_u8 (param, k->kdf_sym);
  g_byte_array_append (param, (const guint8 *) "Anonymous Sender    ", 20);
  g_byte_array_append (param, k->fpr, 20);
  eph_pub[0] = 0x40;
  if (peer != NULL && eph != NULL && md != NULL && cc != NULL
      && EVP_PKEY_get_raw_public_key (eph, eph_pub + 1, &publen) > 0 && publen == 32
      && (dctx = EVP_PKEY_CTX_new (eph, NULL)) != NULL
      && EVP_PKEY_derive_init (dctx) > 0 && EVP_PKEY_derive_set_peer (dctx, peer) > 0
      && EVP_PKEY_derive (dctx, z, &zlen) > 0 && zlen == 32
      && EVP_DigestInit_ex (md, hash, NULL) && EVP_DigestUpdate (md, counter, 4)
      && EVP_DigestUpdate (md, z, 32) && EVP_DigestUpdate (md, param->data, param->len)
      && EVP_DigestFinal_ex (md, kek, &keklen)
      && EVP_EncryptInit_ex (cc, wrap, NULL, kek, NULL)
      && EVP_EncryptUpdate (cc, wrapped, &wlen, m->data, (int) m->len)
      && EVP_EncryptFinal_ex (cc, wrapped + wlen, &flen) && wlen + flen == (int) m->len + 8)
    {
      put_mpi (a, eph_pub, 33);
      put_u8 (a, wlen + flen);
      g_byte_array_append (a, wrapped, (guint) (wlen + flen));
      ok = TRUE;
    }
  OPENSSL_cleanse (z, sizeof z);
  OPENSSL_cleanse (kek, sizeof kek);
  OPENSSL_cleanse (m->data, m->len);
  EVP_CIPHER_CTX_free (cc);
  EVP_MD_CTX_free (md);
  EVP_PKEY_CTX_free (dctx);
  EVP_PKEY_free (eph);
  EVP_PKEY_free (peer);
  return ok;
}

/* A public-key encrypted session key packet (RFC 4880 §5.1). */
static gboolean
put_pkesk (GByteArray *out, const PubKey *k, const guint8 key[32])
{
  g_autoptr (GByteArray) b = g_byte_array_new ();

  put_u8 (b, 3);
  g_byte_array_append (b, k->fpr + 12, 8);
  put_u8 (b, k->algo);
  /* The key's own algorithm byte: 1 or 2 (RSA-E) for RSA, as gpg writes. */
  if (!(k->algo == ALGO_ECDH ? pkesk_cv25519 (b, k, key) : pkesk_rsa (b, k, key)))
    return FALSE;
  put_packet (out, 1, b->data, b->len);
  return TRUE;
}

/* --- Signing in gpg-agent ------------------------------------------------------- */

/* One Assuan connection to gpg-agent per concurrent user, kept for the
 * process: a batch signs every message over the connections it opened
 * first. */
typedef struct {
  char *socket;
  GPtrArray *idle;   /* of gpgme_ctx_t */
} AgentPool;

static GMutex pool_lock;
static GHashTable *pools;   /* home ("" for the default) -> AgentPool* */

static char *
gpgconf (const char *home, const char *what, const char *arg)
{
  const char *argv[] = { "gpgconf", "--homedir", home, what, arg, NULL };
  const char *plain[] = { "gpgconf", what, arg, NULL };
  g_autofree char *out = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) (home != NULL ? argv : plain), NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return NULL;
  g_strchomp (out);
  return g_steal_pointer (&out);
}

/* The agent's socket for @home, its agent started once. */
static AgentPool *
agent_pool (const char *home)
{
  AgentPool *pool;

  g_mutex_lock (&pool_lock);
  if (pools == NULL)
    pools = g_hash_table_new (g_str_hash, g_str_equal);
  pool = g_hash_table_lookup (pools, home ? home : "");
  if (pool == NULL)
    {
      g_autofree char *socket = gpgconf (home, "--list-dirs", "agent-socket");
      g_autofree char *launched = gpgconf (home, "--launch", "gpg-agent");

      pool = g_new0 (AgentPool, 1);
      /* gpgconf escapes ':' and '%' only (as %3a, %25). */
      pool->socket = socket != NULL ? g_uri_unescape_string (socket, NULL) : NULL;
      pool->idle = g_ptr_array_new ();
      g_hash_table_insert (pools, g_strdup (home ? home : ""), pool);
    }
  g_mutex_unlock (&pool_lock);
  return pool->socket != NULL ? pool : NULL;
}

static gpgme_error_t
collect_cb (void *opaque, const void *data, size_t len)
{
  g_byte_array_append (opaque, data, (guint) len);
  return 0;
}

static gboolean
transact (gpgme_ctx_t ctx, const char *command, GByteArray *data)
{
  gpgme_error_t op_err = 0;
  gpgme_error_t err = gpgme_op_assuan_transact_ext (ctx, command, data ? collect_cb : NULL, data,
                                                    NULL, NULL, NULL, NULL, &op_err);

  if (err == GPG_ERR_NO_ERROR)
    err = op_err;
  if (err != GPG_ERR_NO_ERROR)
    g_debug ("gpg-agent: %s: %s", command, gpgme_strerror (err));
  return err == GPG_ERR_NO_ERROR;
}

static gpgme_ctx_t
agent_take (AgentPool *pool)
{
  gpgme_ctx_t ctx = NULL;

  g_mutex_lock (&pool_lock);
  if (pool->idle->len > 0)
    ctx = g_ptr_array_steal_index_fast (pool->idle, pool->idle->len - 1);
  g_mutex_unlock (&pool_lock);
  if (ctx != NULL)
    return ctx;
  if (gpgme_new (&ctx) != GPG_ERR_NO_ERROR)
    return NULL;
  if (gpgme_set_protocol (ctx, GPGME_PROTOCOL_ASSUAN) != GPG_ERR_NO_ERROR
      || gpgme_ctx_set_engine_info (ctx, GPGME_PROTOCOL_ASSUAN, pool->socket, NULL) != GPG_ERR_NO_ERROR
      /* Never a pinentry from here: a key that wants one goes through gpg. */
      || !transact (ctx, "OPTION pinentry-mode=cancel", NULL))
    {
      gpgme_release (ctx);
      return NULL;
    }
  return ctx;
}

static void
agent_give_back (AgentPool *pool, gpgme_ctx_t ctx, gboolean healthy)
{
  if (!healthy)
    {
      gpgme_release (ctx);
      return;
    }
  g_mutex_lock (&pool_lock);
  g_ptr_array_add (pool->idle, ctx);
  g_mutex_unlock (&pool_lock);
}

/* The value of the list (NAME VALUE) in the canonical S-expression @p. */
static gboolean
sexp_find (const guint8 *p, gsize len, const char *name, const guint8 **val, gsize *vlen)
{
  gboolean after_open = FALSE, want = FALSE;
  gsize i = 0;

  while (i < len)
    {
      gsize n = 0;
      const guint8 *tok;

      if (p[i] == '(' || p[i] == ')')
        {
          after_open = p[i++] == '(';
          continue;
        }
      while (i < len && g_ascii_isdigit (p[i]) && n <= len)
        n = n * 10 + (gsize) (p[i++] - '0');
      if (i >= len || p[i] != ':' || n > len - i - 1)
        return FALSE;
      tok = p + i + 1;
      i += 1 + n;
      if (want)
        {
          *val = tok;
          *vlen = n;
          return TRUE;
        }
      want = after_open && n == strlen (name) && memcmp (tok, name, n) == 0;
      after_open = FALSE;
    }
  return FALSE;
}

/* Whether @sig (Ed25519: r and s, 32 bytes each; RSA: s) is @pub's
 * signature over @digest: gpg checks what gpg-agent returns before it
 * writes it (a fault in the signing would otherwise be sent, and may
 * leak the key), and so does this file. */
static gboolean
signature_good (const PubKey *pub, const guint8 digest[32], const guint8 *sig, gsize siglen)
{
  EVP_PKEY *pkey = NULL;
  gboolean ok = FALSE;

  if (pub->algo == ALGO_EDDSA)
    {
      EVP_MD_CTX *md = EVP_MD_CTX_new ();

      pkey = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pub->point, 32);
      /* OpenPGP's EdDSA signs the digest as the message. */
      ok = pkey != NULL && md != NULL && siglen == 64
           && EVP_DigestVerifyInit (md, NULL, NULL, NULL, pkey) > 0
           && EVP_DigestVerify (md, sig, 64, digest, 32) == 1;
      EVP_MD_CTX_free (md);
    }
  else if (pub->n != NULL)
    {
      gsize nlen = g_bytes_get_size (pub->n);
      g_autofree guint8 *padded = g_malloc0 (MAX (nlen, 1));
      EVP_PKEY_CTX *vctx = NULL;

      pkey = rsa_pkey (pub);
      if (siglen <= nlen)
        memcpy (padded + nlen - siglen, sig, siglen);
      ok = pkey != NULL && siglen <= nlen
           && (vctx = EVP_PKEY_CTX_new (pkey, NULL)) != NULL
           && EVP_PKEY_verify_init (vctx) > 0
           && EVP_PKEY_CTX_set_rsa_padding (vctx, RSA_PKCS1_PADDING) > 0
           && EVP_PKEY_CTX_set_signature_md (vctx, EVP_sha256 ()) > 0
           && EVP_PKEY_verify (vctx, padded, nlen, digest, 32) == 1;
      EVP_PKEY_CTX_free (vctx);
    }
  EVP_PKEY_free (pkey);
  if (!ok)
    g_warning ("gpg-agent's signature does not verify: OpenPGP signing goes through gpg");
  return ok;
}

/* Appends the value @v (@len bytes, leading zeros dropped) left-padded to
 * @width bytes to @a; FALSE when it is longer. */
static gboolean
put_padded (GByteArray *a, const guint8 *v, gsize len, gsize width)
{
  static const guint8 zeros[64] = { 0 };

  while (len > 0 && *v == 0)
    v++, len--;
  if (len > width || width - len > sizeof zeros)
    return FALSE;
  g_byte_array_append (a, zeros, (guint) (width - len));
  g_byte_array_append (a, v, (guint) len);
  return TRUE;
}

/* The signature MPIs for @digest (SHA-256) by @pub, whose secret key has
 * the keygrip @grip, made by gpg-agent and checked, appended to @sig. */
static gboolean
agent_sign (const char *home, const char *grip, const PubKey *pub, const guint8 digest[32],
            GByteArray *sig)
{
  AgentPool *pool = agent_pool (home);
  gpgme_ctx_t ctx = pool != NULL ? agent_take (pool) : NULL;
  g_autoptr (GByteArray) answer = g_byte_array_new ();
  g_autoptr (GByteArray) raw = g_byte_array_new ();
  g_autofree char *sigkey = g_strdup_printf ("SIGKEY %s", grip);
  g_autofree char *hex = NULL, *sethash = NULL;
  const guint8 *r = NULL, *s = NULL;
  gsize rlen = 0, slen = 0;
  gboolean ok;

  if (ctx == NULL)
    return FALSE;
  hex = g_malloc (65);
  for (int i = 0; i < 32; i++)
    g_snprintf (hex + 2 * i, 3, "%02X", digest[i]);
  /* SETHASH takes libgcrypt's number, which for SHA-256 is OpenPGP's (8). */
  sethash = g_strdup_printf ("SETHASH %d %s", HASH_SHA256, hex);
  ok = transact (ctx, sigkey, NULL) && transact (ctx, sethash, NULL) && transact (ctx, "PKSIGN", answer);
  agent_give_back (pool, ctx, ok);
  if (!ok || !sexp_find (answer->data, answer->len, "s", &s, &slen) || slen == 0
      || (pub->algo == ALGO_EDDSA && !sexp_find (answer->data, answer->len, "r", &r, &rlen)))
    return FALSE;
#ifdef PST_PGP_TEST_HOOKS
  /* tests/integration/test-pgp-batch.sh: a signature gone wrong in gpg-agent. */
  if (g_getenv ("POSTERN_TEST_PGP_BAD_AGENT_SIG") != NULL)
    ((guint8 *) s)[slen - 1] ^= 1;
#endif
  if (pub->algo == ALGO_EDDSA)
    ok = put_padded (raw, r, rlen, 32) && put_padded (raw, s, slen, 32);
  else
    g_byte_array_append (raw, s, (guint) slen);
  if (!ok || !signature_good (pub, digest, raw->data, raw->len))
    return FALSE;
  if (pub->algo == ALGO_EDDSA)
    put_mpi (sig, r, rlen);
  put_mpi (sig, s, slen);
  return TRUE;
}

/* --- The message ------------------------------------------------------------------ */

/* The signing subkey of @signer and its material, when this file can use
 * them. */
static gpgme_subkey_t
signing_subkey (const char *home, gpgme_key_t signer, PubKey **pub_out)
{
  gpgme_subkey_t sk = pst_pgp_usable_subkey (signer, TRUE);
  PubKey *pub;

  if (sk == NULL || sk->keygrip == NULL || sk->fpr == NULL || strlen (sk->fpr) != 40)
    return NULL;
  if (!(sk->pubkey_algo == GPGME_PK_EDDSA && g_strcmp0 (sk->curve, "ed25519") == 0)
      && sk->pubkey_algo != GPGME_PK_RSA && sk->pubkey_algo != GPGME_PK_RSA_S)
    return NULL;
  pub = pub_key_for (home, signer, sk);
  if (pub != NULL && pub->algo != ALGO_EDDSA && pub->algo != ALGO_RSA && pub->algo != ALGO_RSA_S)
    g_clear_pointer (&pub, pub_key_free);
  if (pub == NULL)
    return NULL;
  *pub_out = pub;
  return sk;
}

/* The literal data packet of @p (binary, no name, time 0: RFC 4880 §5.9
 * allows it) appended to @out, which has room for it: no copy of the
 * plaintext is left behind. */
static void
put_literal (GByteArray *out, const guint8 *p, gsize len)
{
  g_autoptr (GByteArray) b = g_byte_array_sized_new ((guint) len + 6);

  put_u8 (b, 'b');
  put_u8 (b, 0);
  put_u32 (b, 0);
  g_byte_array_append (b, p, (guint) len);
  put_packet (out, 11, b->data, b->len);
  OPENSSL_cleanse (b->data, b->len);
}

/* One-pass signature, literal data, signature (RFC 4880 §11.3). */
static gboolean
signed_literal (const char *home, gpgme_key_t signer, GBytes *data, GByteArray *out)
{
  g_autoptr (GByteArray) b = g_byte_array_new ();
  g_autoptr (GByteArray) hashed = g_byte_array_new ();
  g_autoptr (PubKey) pub = NULL;
  guint8 fpr[20], digest[32], trailer[6] = { 4, 0xff };
  unsigned int dlen = 0;
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (data, &len);
  gpgme_subkey_t sk = signing_subkey (home, signer, &pub);
  guint algo;
  EVP_MD_CTX *md;
  gboolean ok;

  if (sk == NULL || !hex_to_bin (sk->fpr, fpr, 20))
    return FALSE;
  algo = pub->algo;
  /* version, type (binary), algorithms, the hashed subpackets: creation
   * time, issuer fingerprint */
  put_u8 (hashed, 4);
  put_u8 (hashed, 0);
  put_u8 (hashed, algo);
  put_u8 (hashed, HASH_SHA256);
  put_u16 (hashed, 6 + 23);
  put_u8 (hashed, 5);
  put_u8 (hashed, 2);
  put_u32 (hashed, (guint32) (g_get_real_time () / G_USEC_PER_SEC));
  put_u8 (hashed, 22);
  put_u8 (hashed, 33);
  put_u8 (hashed, 4);
  g_byte_array_append (hashed, fpr, 20);
  trailer[2] = (guint8) (hashed->len >> 24);
  trailer[3] = (guint8) (hashed->len >> 16);
  trailer[4] = (guint8) (hashed->len >> 8);
  trailer[5] = (guint8) hashed->len;
  md = EVP_MD_CTX_new ();
  ok = md != NULL && EVP_DigestInit_ex (md, EVP_sha256 (), NULL) && EVP_DigestUpdate (md, p, len)
       && EVP_DigestUpdate (md, hashed->data, hashed->len) && EVP_DigestUpdate (md, trailer, 6)
       && EVP_DigestFinal_ex (md, digest, &dlen);
  EVP_MD_CTX_free (md);
  if (!ok)
    return FALSE;

  put_u8 (b, 3);
  put_u8 (b, 0);
  put_u8 (b, HASH_SHA256);
  put_u8 (b, algo);
  g_byte_array_append (b, fpr + 12, 8);
  put_u8 (b, 1);
  put_packet (out, 4, b->data, b->len);

  put_literal (out, p, len);

  g_byte_array_set_size (b, 0);
  g_byte_array_append (b, hashed->data, hashed->len);
  put_u16 (b, 10);
  put_u8 (b, 9);
  put_u8 (b, 16);
  g_byte_array_append (b, fpr + 12, 8);
  g_byte_array_append (b, digest, 2);
  if (!agent_sign (home, sk->keygrip, pub, digest, b))
    return FALSE;
  put_packet (out, 2, b->data, b->len);
  return TRUE;
}

/* Symmetrically encrypted integrity protected data (RFC 4880 §5.13):
 * AES-256 in CFB mode over a random prefix, @plain and the MDC packet,
 * encrypted piece by piece (CFB is a stream here), so that @plain is not
 * copied. */
static gboolean
put_seipd (GByteArray *out, const guint8 key[32], const GByteArray *plain)
{
  static const guint8 zero_iv[16] = { 0 };
  guint8 prefix[18], mdc[22] = { 0xd3, 0x14 };
  g_autoptr (GByteArray) body = NULL;
  unsigned int mdclen = 0;
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new ();
  int n1 = 0, n2 = 0, n3 = 0, n4 = 0;
  gboolean ok;

  ok = md != NULL && cc != NULL && RAND_bytes (prefix, 16) == 1;
  prefix[16] = prefix[14];
  prefix[17] = prefix[15];
  ok = ok && EVP_DigestInit_ex (md, EVP_sha1 (), NULL) && EVP_DigestUpdate (md, prefix, 18)
       && EVP_DigestUpdate (md, plain->data, plain->len) && EVP_DigestUpdate (md, mdc, 2)
       && EVP_DigestFinal_ex (md, mdc + 2, &mdclen);
  body = g_byte_array_sized_new (1 + 18 + plain->len + sizeof mdc + 16);
  g_byte_array_set_size (body, 1 + 18 + plain->len + sizeof mdc + 16);
  body->data[0] = 1;
  ok = ok && EVP_EncryptInit_ex (cc, EVP_aes_256_cfb128 (), NULL, key, zero_iv)
       && EVP_EncryptUpdate (cc, body->data + 1, &n1, prefix, 18)
       && EVP_EncryptUpdate (cc, body->data + 1 + n1, &n2, plain->data, (int) plain->len)
       && EVP_EncryptUpdate (cc, body->data + 1 + n1 + n2, &n3, mdc, sizeof mdc)
       && EVP_EncryptFinal_ex (cc, body->data + 1 + n1 + n2 + n3, &n4);
  EVP_CIPHER_CTX_free (cc);
  EVP_MD_CTX_free (md);
  if (!ok)
    return FALSE;
  put_packet (out, 18, body->data, 1 + (gsize) n1 + (gsize) n2 + (gsize) n3 + (gsize) n4);
  return TRUE;
}

/* ASCII armor as gpg writes it (RFC 4880 §6). */
static GBytes *
armor (const guint8 *p, gsize len)
{
  GString *s = g_string_new ("-----BEGIN PGP MESSAGE-----\n\n");
  g_autofree char *b64 = g_base64_encode (p, len);
  gsize blen = strlen (b64);
  guint32 crc = 0xb704ce;
  guint8 c[3];
  g_autofree char *crc64 = NULL;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= (guint32) p[i] << 16;
      for (int j = 0; j < 8; j++)
        {
          crc <<= 1;
          if (crc & 0x1000000)
            crc ^= 0x1864cfb;
        }
    }
  for (gsize i = 0; i < blen; i += 64)
    {
      g_string_append_len (s, b64 + i, MIN (64, blen - i));
      g_string_append_c (s, '\n');
    }
  c[0] = (guint8) (crc >> 16);
  c[1] = (guint8) (crc >> 8);
  c[2] = (guint8) crc;
  crc64 = g_base64_encode (c, 3);
  g_string_append_printf (s, "=%s\n-----END PGP MESSAGE-----\n", crc64);
  return g_string_free_to_bytes (s);
}

GBytes *
pst_pgp_direct_encrypt (const char *home, gpgme_key_t *recipients, gpgme_key_t signer, GBytes *data)
{
  gsize len = g_bytes_get_size (data);
  /* Room for the packets around the plaintext (an RSA-8192 signature at
   * most), so that it is never reallocated, leaving a copy behind. */
  g_autoptr (GByteArray) inner = g_byte_array_sized_new ((guint) len + 4096);
  g_autoptr (GByteArray) msg = g_byte_array_new ();
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) pub_key_free);
  guint8 session[32];
  gboolean ok = TRUE;
  GBytes *result = NULL;

  if (len > PST_PGP_DIRECT_MAX_INPUT)
    return NULL;
  for (gpgme_key_t *r = recipients; *r != NULL; r++)
    {
      PubKey *k = enc_key_for (home, *r);

      if (k == NULL)
        return NULL;
      g_ptr_array_add (keys, k);
    }
  if (signer != NULL)
    ok = signed_literal (home, signer, data, inner);
  else
    put_literal (inner, g_bytes_get_data (data, NULL), len);
  ok = ok && RAND_bytes (session, sizeof session) == 1;
  for (guint i = 0; i < keys->len && ok; i++)
    ok = put_pkesk (msg, keys->pdata[i], session);
  ok = ok && put_seipd (msg, session, inner);
  OPENSSL_cleanse (session, sizeof session);
  OPENSSL_cleanse (inner->data, inner->len);
  if (ok)
    result = armor (msg->data, msg->len);
  return result;
}
