/* smime-keys.c — S/MIME private keys at rest and in memory (see smime.h,
 * "Locked and unlocked" and "Migration"): sealing a key into a PKCS#8
 * EncryptedPrivateKeyInfo, opening one, the keyring of unlocked keys, and
 * the locked error. */
#include "crypto/smime-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/error.h"

/* scrypt as RFC 7914 recommends for interactive use: 16 MiB and some 50 ms
 * per unlock.  N 2^15 would exceed the 32 MiB OpenSSL 3 allows by default
 * when it decrypts, and `openssl pkey` could not read the file. */
#define SCRYPT_N 16384
#define SCRYPT_R 8
#define SCRYPT_P 1

struct _PstSmimeKeyring {
  gint refs;          /* atomic */
  GMutex lock;
  GHashTable *keys;   /* fingerprint -> EVP_PKEY* (one reference) */
};

PstSmimeKeyring *
pst_smime_keyring_new (void)
{
  PstSmimeKeyring *ring = g_new0 (PstSmimeKeyring, 1);

  ring->refs = 1;
  g_mutex_init (&ring->lock);
  ring->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) EVP_PKEY_free);
  return ring;
}

PstSmimeKeyring *
pst_smime_keyring_ref (PstSmimeKeyring *ring)
{
  g_atomic_int_inc (&ring->refs);
  return ring;
}

void
pst_smime_keyring_unref (PstSmimeKeyring *ring)
{
  if (ring == NULL || !g_atomic_int_dec_and_test (&ring->refs))
    return;
  g_hash_table_unref (ring->keys);
  g_mutex_clear (&ring->lock);
  g_free (ring);
}

void
pst_smime_keyring_forget (PstSmimeKeyring *ring, const char *fingerprint)
{
  if (ring == NULL)
    return;
  g_mutex_lock (&ring->lock);
  g_hash_table_remove (ring->keys, fingerprint);
  g_mutex_unlock (&ring->lock);
}

/* The key of @fingerprint with a reference for the caller, or NULL. */
static EVP_PKEY *
keyring_get (PstSmimeKeyring *ring, const char *fingerprint)
{
  EVP_PKEY *key;

  g_mutex_lock (&ring->lock);
  key = g_hash_table_lookup (ring->keys, fingerprint);
  if (key != NULL)
    EVP_PKEY_up_ref (key);
  g_mutex_unlock (&ring->lock);
  return key;
}

static void
keyring_put (PstSmimeKeyring *ring, const char *fingerprint, EVP_PKEY *key)
{
  EVP_PKEY_up_ref (key);
  g_mutex_lock (&ring->lock);
  g_hash_table_replace (ring->keys, g_strdup (fingerprint), key);
  g_mutex_unlock (&ring->lock);
}

void
pst_smime_set_keyring (PstSmime *smime, PstSmimeKeyring *ring)
{
  smime->ring = ring;
  for (guint i = 0; ring != NULL && i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      if (e->key != NULL)
        keyring_put (ring, e->fingerprint, e->key);
    }
}

const char *
pst_smime_key_protection_name (PstSmimeKeyProtection protection)
{
  switch (protection)
    {
    case PST_SMIME_KEY_PASSPHRASE: return "passphrase";
    case PST_SMIME_KEY_SECRET_SERVICE: return "secret-service";
    case PST_SMIME_KEY_CLEARTEXT: return "cleartext";
    case PST_SMIME_KEY_NONE: break;
    }
  return "none";
}

EVP_PKEY *
pst_smime_entry_key (PstSmime *smime, PstSmimeEntry *e)
{
  if (e->kind != PST_SMIME_IDENTITY)
    return NULL;
  if (e->key == NULL && smime->ring != NULL)
    e->key = keyring_get (smime->ring, e->fingerprint);
  return e->key;
}

void
pst_smime_entry_unlocked (PstSmime *smime, PstSmimeEntry *e, EVP_PKEY *key)
{
  if (e->key != key)
    {
      EVP_PKEY_free (e->key);
      e->key = key;
    }
  if (smime->ring != NULL)
    keyring_put (smime->ring, e->fingerprint, key);
}

void
pst_smime_set_locked_error (PstSmimeEntry *e, const char *address, GError **error)
{
  const char *who = address != NULL ? address : e->emails != NULL && e->emails[0] != NULL
                    ? e->emails[0] : e->fingerprint;

  if (e->protection == PST_SMIME_KEY_CLEARTEXT)
    g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                 _("the S/MIME key of %s is locked: an earlier version stored it unencrypted, "
                   "so it is not used; run postern keys unlock %s --passphrase-fd N to encrypt it "
                   "under a passphrase (or import its PKCS#12 file again)"), who, who);
  else
    g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                 _("the S/MIME key of %s is locked: run postern keys unlock %s"), who, who);
}

GBytes *
pst_smime_seal_key (EVP_PKEY *key, const char *passphrase, GError **error)
{
  PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8 (key);
  X509_ALGOR *pbe = PKCS5_pbe2_set_scrypt (EVP_aes_256_cbc (), NULL, 0, NULL, SCRYPT_N, SCRYPT_R,
                                           SCRYPT_P);
  X509_SIG *sealed = NULL;
  unsigned char *der = NULL;
  GBytes *out = NULL;
  int len;

  if (p8 != NULL && pbe != NULL)
    sealed = PKCS8_set0_pbe (passphrase, (int) strlen (passphrase), p8, pbe);
  if (sealed == NULL)
    X509_ALGOR_free (pbe);
  PKCS8_PRIV_KEY_INFO_free (p8);   /* clears the key's octets */
  if (sealed != NULL && (len = i2d_X509_SIG (sealed, &der)) > 0)
    {
      out = g_bytes_new (der, (gsize) len);
      OPENSSL_free (der);
    }
  X509_SIG_free (sealed);
  ERR_clear_error ();
  if (out == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot encrypt the S/MIME private key");
  return out;
}

/* The key in @sealed under @passphrase, when it matches @cert; NULL for a
 * wrong passphrase.  Transfer full. */
static EVP_PKEY *
open_key (GBytes *sealed, const char *passphrase, X509 *cert)
{
  gsize len = 0;
  const unsigned char *p = g_bytes_get_data (sealed, &len);
  X509_SIG *sig = d2i_X509_SIG (NULL, &p, (long) len);
  PKCS8_PRIV_KEY_INFO *p8 = sig != NULL ? PKCS8_decrypt (sig, passphrase, (int) strlen (passphrase))
                                        : NULL;
  EVP_PKEY *key = p8 != NULL ? EVP_PKCS82PKEY (p8) : NULL;

  PKCS8_PRIV_KEY_INFO_free (p8);
  X509_SIG_free (sig);
  if (key != NULL && X509_check_private_key (cert, key) != 1)
    g_clear_pointer (&key, EVP_PKEY_free);
  ERR_clear_error ();
  return key;
}

/* Zero-fills the regular file open on @fd from its first byte to its end
 * and syncs it; closes @fd. */
static gboolean
shred_fd (int fd)
{
  char zeros[4096] = { 0 };
  struct stat st;
  off_t done = 0;
  gboolean ok = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);

  while (ok && done < st.st_size)
    {
      ssize_t n = pwrite (fd, zeros, (size_t) MIN (st.st_size - done, (off_t) sizeof zeros), done);

      if (n < 0 && errno == EINTR)
        continue;
      ok = n > 0;
      done += n > 0 ? n : 0;
    }
  ok = ok && fsync (fd) == 0;
  close (fd);
  return ok;
}

gboolean
pst_smime_shred (const char *path)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return errno == ENOENT;
  return shred_fd (fd);
}

/* The contents of the file open on @fd, from its start.  Transfer full;
 * wipe before freeing. */
static GByteArray *
read_fd (int fd)
{
  GByteArray *data = g_byte_array_new ();
  char buf[4096];
  off_t at = 0;
  ssize_t n;

  while ((n = pread (fd, buf, sizeof buf, at)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      g_byte_array_append (data, (const guint8 *) buf, (guint) n);
      at += n;
    }
  OPENSSL_cleanse (buf, sizeof buf);
  return data;
}

/* The cleartext key an earlier version left in @e's file, open on @fd, or
 * NULL.  Transfer full. */
static EVP_PKEY *
read_cleartext_key (PstSmimeEntry *e, int fd)
{
  GByteArray *data = read_fd (fd);
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  long dlen = 0;
  EVP_PKEY *key = NULL;
  BIO *bio;

  bio = BIO_new_mem_buf (data->data, (int) data->len);
  while (key == NULL && PEM_read_bio (bio, &name, &header, &der, &dlen) == 1)
    {
      const unsigned char *p = der;

      if (pst_smime_is_cleartext_key_pem (name))
        key = d2i_AutoPrivateKey (NULL, &p, dlen);
      OPENSSL_cleanse (der, dlen);
      OPENSSL_free (der);
      OPENSSL_free (name);
      OPENSSL_free (header);
      der = NULL, name = NULL, header = NULL;
    }
  BIO_free (bio);
  OPENSSL_cleanse (data->data, data->len);
  g_byte_array_unref (data);
  ERR_clear_error ();
  if (key != NULL && X509_check_private_key (e->cert, key) != 1)
    g_clear_pointer (&key, EVP_PKEY_free);
  ERR_clear_error ();
  return key;
}

int
pst_smime_open_cleartext (PstSmime *smime, PstSmimeEntry *e, GError **error)
{
  g_autofree char *path = pst_smime_entry_path (smime, e);
  int fd = open (path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("the S/MIME key file %s cannot be read: %s"), path, g_strerror (saved));
    }
  return fd;
}

gboolean
pst_smime_entry_replace_cleartext (PstSmime *smime, PstSmimeEntry *e, int old_fd, GError **error)
{
  if (!pst_smime_entry_save (smime, e, error))
    {
      close (old_fd);
      return FALSE;
    }
  /* The encrypted file is in place: only now may the old one's bytes go.
   * (A crash before this leaves them in an unlinked inode: the blocks are
   * freed, not overwritten.) */
  if (!shred_fd (old_fd))
    {
      g_autofree char *path = pst_smime_entry_path (smime, e);

      g_warning ("S/MIME store: %s is encrypted now, but the bytes of its unencrypted "
                 "predecessor could not be overwritten", path);
    }
  return TRUE;
}

/* Encrypts the cleartext key of @e under @passphrase on disk.  The old file
 * stays whole until the encrypted one has replaced it durably; then its
 * bytes are overwritten through the descriptor it was read from. */
static gboolean
migrate (PstSmime *smime, PstSmimeEntry *e, const char *passphrase, GError **error)
{
  g_autofree char *path = pst_smime_entry_path (smime, e);
  int fd = pst_smime_open_cleartext (smime, e, error);
  EVP_PKEY *key;
  GBytes *sealed;

  if (fd < 0)
    return FALSE;
  if (!(key = read_cleartext_key (e, fd)))
    {
      close (fd);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("the S/MIME key file %s cannot be read: import the PKCS#12 file again"), path);
      return FALSE;
    }
  if (!(sealed = pst_smime_seal_key (key, passphrase, error)))
    {
      close (fd);
      EVP_PKEY_free (key);
      return FALSE;
    }
  e->sealed = sealed;
  e->protection = PST_SMIME_KEY_PASSPHRASE;
  if (!pst_smime_entry_replace_cleartext (smime, e, fd, error))
    {
      g_clear_pointer (&e->sealed, g_bytes_unref);
      e->protection = PST_SMIME_KEY_CLEARTEXT;
      EVP_PKEY_free (key);
      return FALSE;
    }
  pst_smime_entry_unlocked (smime, e, key);
  return TRUE;
}

/* Unlocks @e with @passphrase: TRUE when it is unlocked now.  A wrong
 * passphrase is FALSE without @error. */
static gboolean
unlock_entry (PstSmime *smime, PstSmimeEntry *e, const char *passphrase, GError **error)
{
  EVP_PKEY *key;

  if (pst_smime_entry_key (smime, e) != NULL)
    return TRUE;
  if (e->protection == PST_SMIME_KEY_CLEARTEXT)
    return migrate (smime, e, passphrase, error);
  if (e->sealed == NULL || !(key = open_key (e->sealed, passphrase, e->cert)))
    return FALSE;
  pst_smime_entry_unlocked (smime, e, key);
  return TRUE;
}

gboolean
pst_smime_unlock (PstSmime *smime, const char *address, const char *passphrase,
                  char ***unlocked_out, GError **error)
{
  g_autoptr (GPtrArray) done = g_ptr_array_new_with_free_func (g_free);
  guint found = 0, tried = 0, opened = 0;

  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];
      gboolean user_locked;

      if (e->kind != PST_SMIME_IDENTITY || !pst_addr_in_list (address, (const char *const *) e->emails))
        continue;
      found++;
      /* A locked key the user holds the passphrase of (not one kept under a
       * Secret Service key): what the passphrase is for. */
      user_locked = pst_smime_entry_key (smime, e) == NULL
                    && e->protection != PST_SMIME_KEY_SECRET_SERVICE;
      tried += user_locked;
      if (!unlock_entry (smime, e, passphrase, error))
        {
          if (error != NULL && *error != NULL)
            return FALSE;
          continue;
        }
      opened += user_locked;
      g_ptr_array_add (done, g_strdup (e->fingerprint));
    }
  if (found == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("no S/MIME identity for %s"), address);
      return FALSE;
    }
  /* Another identity of @address being unlocked already does not make a
   * passphrase that opened none of the locked ones right. */
  if (done->len == 0 || (tried > 0 && opened == 0))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("wrong passphrase for the S/MIME key of %s"), address);
      return FALSE;
    }
  if (unlocked_out != NULL)
    {
      g_ptr_array_add (done, NULL);
      *unlocked_out = (char **) g_ptr_array_free (g_steal_pointer (&done), FALSE);
    }
  return TRUE;
}

gboolean
pst_smime_unlock_fingerprint (PstSmime *smime, const char *fingerprint, const char *passphrase,
                              GError **error)
{
  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      if (e->kind != PST_SMIME_IDENTITY || !g_str_equal (e->fingerprint, fingerprint))
        continue;
      if (unlock_entry (smime, e, passphrase, error))
        return TRUE;
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     _("wrong passphrase for the S/MIME key %s"), fingerprint);
      return FALSE;
    }
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("no S/MIME identity %s"), fingerprint);
  return FALSE;
}

gboolean
pst_smime_cms_is_for (CMS_ContentInfo *cms, X509 *cert)
{
  STACK_OF (CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos (cms);
  gboolean yes = FALSE;

  for (int i = 0; ris != NULL && i < sk_CMS_RecipientInfo_num (ris) && !yes; i++)
    {
      CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value (ris, i);

      if (CMS_RecipientInfo_type (ri) == CMS_RECIPINFO_TRANS)
        yes = CMS_RecipientInfo_ktri_cert_cmp (ri, cert) == 0;
      else if (CMS_RecipientInfo_type (ri) == CMS_RECIPINFO_AGREE)
        {
          STACK_OF (CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks (ri);

          for (int j = 0; reks != NULL && j < sk_CMS_RecipientEncryptedKey_num (reks) && !yes; j++)
            yes = CMS_RecipientEncryptedKey_cert_cmp (sk_CMS_RecipientEncryptedKey_value (reks, j),
                                                      cert) == 0;
        }
    }
  ERR_clear_error ();
  return yes;
}
