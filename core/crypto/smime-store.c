/* smime-store.c — the on-disk S/MIME certificate store (see smime.h):
 * anchors/, certs/ and identities/ under the store directory, one PEM file
 * per certificate named by its SHA-256 fingerprint.  Identities keep their
 * private key sealed (smime-keys.c); the in-memory copies of unlocked keys
 * are freed with EVP_PKEY_free (which clears them). */
#include "crypto/smime-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509_vfy.h>
#include <string.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"

#define CAPS_PEM "POSTERN SMIME CAPABILITIES"
#define SEALED_PEM "ENCRYPTED PRIVATE KEY"
/* Says what the key is sealed under when it is not a passphrase the user
 * knows: "secret-service". */
#define PROTECTION_PEM "POSTERN KEY PROTECTION"
/* How long a cached chain check holds at most (a good one also no longer
 * than the chain is valid). */
#define CHECK_GOOD_SECONDS (10 * 60)
#define CHECK_BAD_SECONDS 60

static const char *const kind_dirs[] = { "anchors", "certs", "identities" };

void
pst_smime_entry_free (PstSmimeEntry *entry)
{
  if (entry == NULL)
    return;
  X509_free (entry->cert);
  g_strfreev (entry->emails);
  EVP_PKEY_free (entry->key);
  g_clear_pointer (&entry->sealed, g_bytes_unref);
  sk_X509_pop_free (entry->chain, X509_free);
  g_clear_pointer (&entry->caps, g_bytes_unref);
  g_free (entry->fingerprint);
  g_free (entry);
}

static char *
entry_path (PstSmime *smime, PstSmimeKind kind, const char *fingerprint)
{
  g_autofree char *name = g_strconcat (fingerprint, ".pem", NULL);

  return g_build_filename (smime->dir, kind_dirs[kind], name, NULL);
}

char *
pst_smime_entry_path (PstSmime *smime, PstSmimeEntry *e)
{
  return entry_path (smime, e->kind, e->fingerprint);
}

gboolean
pst_smime_is_cleartext_key_pem (const char *name)
{
  return strcmp (name, "PRIVATE KEY") == 0 || strcmp (name, "RSA PRIVATE KEY") == 0
         || strcmp (name, "EC PRIVATE KEY") == 0;
}

/* Wipes and frees the bytes of a file that may hold a private key. */
static PstSmimeEntry *
entry_parse (PstSmimeKind kind, const char *data, gsize len)
{
  BIO *bio = BIO_new_mem_buf (data, (int) len);
  PstSmimeEntry *e = g_new0 (PstSmimeEntry, 1);
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  long dlen = 0;

  e->kind = kind;
  while (PEM_read_bio (bio, &name, &header, &der, &dlen) == 1)
    {
      const unsigned char *p = der;

      if (strcmp (name, "CERTIFICATE") == 0)
        {
          X509 *x = d2i_X509 (NULL, &p, dlen);

          if (x != NULL && e->cert == NULL)
            e->cert = x;
          else if (x != NULL)
            {
              if (e->chain == NULL)
                e->chain = sk_X509_new_null ();
              sk_X509_push (e->chain, x);
            }
        }
      else if (strcmp (name, SEALED_PEM) == 0 && kind == PST_SMIME_IDENTITY && e->sealed == NULL)
        {
          e->sealed = g_bytes_new (der, dlen);
          if (e->protection == PST_SMIME_KEY_NONE)
            e->protection = PST_SMIME_KEY_PASSPHRASE;
        }
      /* An earlier version's cleartext key is not even parsed: it stays
       * unused until the user encrypts it (smime.h, Migration). */
      else if (pst_smime_is_cleartext_key_pem (name) && kind == PST_SMIME_IDENTITY && e->sealed == NULL)
        e->protection = PST_SMIME_KEY_CLEARTEXT;
      else if (strcmp (name, PROTECTION_PEM) == 0 && dlen == 14 && memcmp (der, "secret-service", 14) == 0)
        e->protection = PST_SMIME_KEY_SECRET_SERVICE;
      else if (strcmp (name, CAPS_PEM) == 0 && e->caps == NULL)
        e->caps = g_bytes_new (der, dlen);
      OPENSSL_cleanse (der, dlen);
      OPENSSL_free (der);
      OPENSSL_free (name);
      OPENSSL_free (header);
      der = NULL, name = NULL, header = NULL;
    }
  ERR_clear_error ();
  BIO_free (bio);
  if (e->sealed != NULL && e->protection == PST_SMIME_KEY_CLEARTEXT)
    e->protection = PST_SMIME_KEY_PASSPHRASE;
  if (e->cert == NULL || (kind == PST_SMIME_IDENTITY && e->protection == PST_SMIME_KEY_NONE))
    {
      pst_smime_entry_free (e);
      return NULL;
    }
  e->fingerprint = pst_smime_x509_fingerprint (e->cert);
  e->emails = pst_smime_x509_emails (e->cert);
  return e;
}

/* The entries changed: the trust store and every cached check are stale. */
static void
store_changed (PstSmime *smime)
{
  smime->generation++;
  g_clear_pointer (&smime->trust, X509_STORE_free);
}

gboolean
pst_smime_entry_save (PstSmime *smime, PstSmimeEntry *e, GError **error)
{
  g_autofree char *path = entry_path (smime, e->kind, e->fingerprint);
  BIO *bio;
  BUF_MEM *mem = NULL;
  gboolean ok;

  if (e->kind == PST_SMIME_IDENTITY && e->sealed == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot write the S/MIME store: the key of %s is not encrypted", e->fingerprint);
      return FALSE;
    }
  bio = BIO_new (BIO_s_mem ());
  PEM_write_bio_X509 (bio, e->cert);
  if (e->sealed != NULL)
    PEM_write_bio (bio, SEALED_PEM, "", g_bytes_get_data (e->sealed, NULL),
                   (long) g_bytes_get_size (e->sealed));
  if (e->protection == PST_SMIME_KEY_SECRET_SERVICE)
    PEM_write_bio (bio, PROTECTION_PEM, "", (const unsigned char *) "secret-service", 14);
  for (int i = 0; e->chain != NULL && i < sk_X509_num (e->chain); i++)
    PEM_write_bio_X509 (bio, sk_X509_value (e->chain, i));
  if (e->caps != NULL)
    PEM_write_bio (bio, CAPS_PEM, "", g_bytes_get_data (e->caps, NULL),
                   (long) g_bytes_get_size (e->caps));
  BIO_get_mem_ptr (bio, &mem);
  /* A temporary file (0600 from its creation), fsynced and renamed over
   * the old one: a crash leaves the old file or the new one. */
  ok = g_file_set_contents_full (path, mem->data, mem->length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, error);
  OPENSSL_cleanse (mem->data, mem->length);
  BIO_free (bio);
  /* The rename is durable once the folder is synced too: a caller may
   * destroy what the old file held after this returns. */
  if (ok)
    {
      g_autofree char *dir = g_path_get_dirname (path);
      int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      if (fd < 0 || fsync (fd) != 0)
        {
          int saved = errno;

          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot sync %s: %s", dir,
                       g_strerror (saved));
          ok = FALSE;
        }
      if (fd >= 0)
        close (fd);
    }
  if (!ok)
    pst_error_prefix (error, "cannot write the S/MIME store");
  return ok;
}

static void
load_kind (PstSmime *smime, PstSmimeKind kind)
{
  g_autofree char *path = g_build_filename (smime->dir, kind_dirs[kind], NULL);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = NULL;
      char *data = NULL;
      gsize len = 0;
      PstSmimeEntry *e;

      if (!g_str_has_suffix (name, ".pem"))
        continue;
      file = g_build_filename (path, name, NULL);
      if (!g_file_get_contents (file, &data, &len, NULL))
        continue;
      e = entry_parse (kind, data, len);
      pst_secret_free_len (data, len);
      if (e != NULL)
        g_ptr_array_add (smime->entries, e);
      else
        g_warning ("S/MIME store: ignoring unreadable %s", file);
    }
}

PstSmime *
pst_smime_new (const char *dir, GError **error)
{
  PstSmime *smime;

  g_return_val_if_fail (dir != NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (kind_dirs); i++)
    {
      g_autofree char *path = g_build_filename (dir, kind_dirs[i], NULL);

      if (g_mkdir_with_parents (path, 0700) != 0)
        {
          int saved = errno;
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot create the S/MIME store %s: %s",
                       path, g_strerror (saved));
          return NULL;
        }
    }
  g_chmod (dir, 0700);
  smime = g_new0 (PstSmime, 1);
  smime->dir = g_strdup (dir);
  smime->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_smime_entry_free);
  smime->generation = 1;
  smime->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_smime_request_free);
  for (guint i = 0; i < G_N_ELEMENTS (kind_dirs); i++)
    load_kind (smime, i);
  pst_smime_requests_load (smime);
  return smime;
}

PstSmime *
pst_smime_new_remote (PstCryptoRemote *remote)
{
  PstSmime *smime = g_new0 (PstSmime, 1);

  smime->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_smime_entry_free);
  smime->generation = 1;
  smime->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_smime_request_free);
  smime->remote = remote;
  return smime;
}

void
pst_smime_free (PstSmime *smime)
{
  if (smime == NULL)
    return;
  g_ptr_array_unref (smime->entries);
  g_ptr_array_unref (smime->requests);
  g_clear_pointer (&smime->trust, X509_STORE_free);
  g_free (smime->dir);
  g_free (smime);
}

static PstSmimeEntry *
find_fingerprint (PstSmime *smime, const char *fingerprint)
{
  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      if (g_str_equal (e->fingerprint, fingerprint))
        return e;
    }
  return NULL;
}

/* Drops @e from memory and the keyring; with @unlink its file too (an
 * earlier version's cleartext key zero-filled first). */
static void
entry_drop (PstSmime *smime, PstSmimeEntry *e, gboolean unlink)
{
  g_autofree char *path = entry_path (smime, e->kind, e->fingerprint);

  if (unlink && e->protection == PST_SMIME_KEY_CLEARTEXT)
    pst_smime_shred (path);
  if (unlink)
    g_unlink (path);
  if (e->kind == PST_SMIME_IDENTITY)
    pst_smime_keyring_forget (smime->ring, e->fingerprint);
  g_ptr_array_remove (smime->entries, e);
  store_changed (smime);
}

static void
entry_remove (PstSmime *smime, PstSmimeEntry *e)
{
  entry_drop (smime, e, TRUE);
}

/* Adds or upgrades: an identity supersedes a certificate, an anchor a
 * plain certificate; nothing is ever downgraded.  The new file is written
 * before the old entry goes: a failed write leaves the old one as it was.
 * Takes @e. */
static PstSmimeEntry *
store_add (PstSmime *smime, PstSmimeEntry *e, GError **error)
{
  PstSmimeEntry *old = find_fingerprint (smime, e->fingerprint);
  gboolean same_file, ok;

  if (old != NULL)
    {
      gboolean upgrade = e->kind == PST_SMIME_IDENTITY
                         || (e->kind == PST_SMIME_ANCHOR && old->kind == PST_SMIME_CERT);

      if (!upgrade)
        {
          if (e->caps != NULL && old->kind != PST_SMIME_ANCHOR
              && (old->caps == NULL || !g_bytes_equal (old->caps, e->caps)))
            {
              g_clear_pointer (&old->caps, g_bytes_unref);
              old->caps = g_bytes_ref (e->caps);
              pst_smime_entry_save (smime, old, NULL);
            }
          pst_smime_entry_free (e);
          return old;
        }
      if (e->caps == NULL && old->caps != NULL)
        e->caps = g_bytes_ref (old->caps);
    }
  same_file = old != NULL && old->kind == e->kind;
  if (same_file && old->protection == PST_SMIME_KEY_CLEARTEXT)
    {
      int fd = pst_smime_open_cleartext (smime, old, error);

      ok = fd >= 0 && pst_smime_entry_replace_cleartext (smime, e, fd, error);
    }
  else
    ok = pst_smime_entry_save (smime, e, error);
  if (!ok)
    {
      pst_smime_entry_free (e);
      return NULL;
    }
  if (old != NULL)
    entry_drop (smime, old, !same_file);
  g_ptr_array_add (smime->entries, e);
  store_changed (smime);
  return e;
}

/* What listing says of @e, locked or not included.  Transfer full. */
static PstSmimeCertInfo *
entry_info (PstSmime *smime, PstSmimeEntry *e)
{
  PstSmimeCertInfo *info = pst_smime_x509_info (e->cert, e->kind);

  info->protection = e->kind == PST_SMIME_IDENTITY ? e->protection : PST_SMIME_KEY_NONE;
  info->locked = e->kind == PST_SMIME_IDENTITY && pst_smime_entry_key (smime, e) == NULL;
  return info;
}

static PstSmimeEntry *
entry_new (PstSmimeKind kind, X509 *cert)
{
  PstSmimeEntry *e = g_new0 (PstSmimeEntry, 1);

  e->kind = kind;
  e->cert = cert;
  e->fingerprint = pst_smime_x509_fingerprint (cert);
  e->emails = pst_smime_x509_emails (cert);
  return e;
}

static gboolean
is_ca (X509 *cert)
{
  return X509_check_ca (cert) != 0;
}

/* @cert (taken) is the certificate of the key @request waits with: the
 * two become an identity, locked (the key stays sealed as it was), and the
 * request goes. */
static gboolean
adopt_request (PstSmime *smime, X509 *cert, PstSmimeRequest *request, GPtrArray *infos,
               GError **error)
{
  PstSmimeEntry *e = entry_new (PST_SMIME_IDENTITY, cert);
  PstSmimeCertInfo *info;

  e->sealed = pst_smime_request_sealed (request, &e->protection);
  if (!(e = store_add (smime, e, error)))
    return FALSE;
  info = entry_info (smime, e);
  info->request_id = g_strdup (pst_smime_request_id (request));
  g_ptr_array_add (infos, info);
  pst_smime_request_done (smime, request);
  return TRUE;
}

static gboolean
add_cert (PstSmime *smime, X509 *cert, gboolean trust_anchor, GPtrArray *infos, GError **error)
{
  PstSmimeRequest *request = trust_anchor ? NULL : pst_smime_request_for_cert (smime, cert);
  PstSmimeEntry *e;

  if (request != NULL)
    return adopt_request (smime, cert, request, infos, error);
  e = entry_new (trust_anchor ? PST_SMIME_ANCHOR : PST_SMIME_CERT, cert);
  e = store_add (smime, e, error);
  if (e == NULL)
    return FALSE;
  g_ptr_array_add (infos, pst_smime_x509_info (e->cert, e->kind));
  return TRUE;
}

static gboolean
import_pkcs12 (PstSmime *smime, PKCS12 *p12, const char *passphrase, const char *wrap_key,
               GPtrArray *infos, GError **error)
{
  static gsize legacy_loaded = 0;
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  STACK_OF (X509) *ca = NULL;
  gboolean given = passphrase != NULL && *passphrase != '\0';
  const char *pass;
  GBytes *sealed;
  PstSmimeEntry *e;

  /* The passphrase opens the file, or, for a file without one, is the one
   * to keep the key under on disk. */
  if (given && PKCS12_verify_mac (p12, passphrase, -1))
    pass = passphrase;
  else if (PKCS12_verify_mac (p12, "", -1) || PKCS12_verify_mac (p12, NULL, 0))
    pass = "";
  else
    {
      ERR_clear_error ();
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "wrong passphrase for the PKCS#12 file");
      return FALSE;
    }
  ERR_clear_error ();
  if (wrap_key != NULL && *pass != '\0')
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "wrong passphrase for the PKCS#12 file");
      return FALSE;
    }
  /* A key must never reach the disk in the clear (DESIGN.md §10), and there
   * is nothing to encrypt it under: the caller may get a key from the
   * Secret Service (pst_smime_import_wrapped) or ask the user. */
  if (!given && wrap_key == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   _("the PKCS#12 file has no passphrase: give one (--passphrase-fd N) to keep "
                     "its private key encrypted under on disk"));
      return FALSE;
    }
  if (!PKCS12_parse (p12, pass, &key, &cert, &ca))
    {
      /* Older PKCS#12 files use RC2 or RC4, which OpenSSL 3 keeps in its
       * legacy provider. */
      ERR_clear_error ();
      if (g_once_init_enter (&legacy_loaded))
        {
          OSSL_PROVIDER_try_load (NULL, "legacy", 1);
          g_once_init_leave (&legacy_loaded, 1);
        }
      if (!PKCS12_parse (p12, pass, &key, &cert, &ca))
        {
          ERR_clear_error ();
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "cannot read the PKCS#12 file: unsupported encryption");
          return FALSE;
        }
    }
  if (cert == NULL || key == NULL)
    {
      X509_free (cert);
      EVP_PKEY_free (key);
      sk_X509_pop_free (ca, X509_free);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the PKCS#12 file holds no certificate with its private key");
      return FALSE;
    }
  if (!X509_check_private_key (cert, key))
    {
      ERR_clear_error ();
      X509_free (cert);
      EVP_PKEY_free (key);
      sk_X509_pop_free (ca, X509_free);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the PKCS#12 file's private key does not match its certificate");
      return FALSE;
    }
  if (!(sealed = pst_smime_seal_key (key, given ? passphrase : wrap_key, error)))
    {
      X509_free (cert);
      EVP_PKEY_free (key);
      sk_X509_pop_free (ca, X509_free);
      return FALSE;
    }
  e = entry_new (PST_SMIME_IDENTITY, cert);
  e->key = key;
  e->sealed = sealed;
  e->protection = given ? PST_SMIME_KEY_PASSPHRASE : PST_SMIME_KEY_SECRET_SERVICE;
  e->chain = ca;
  e = store_add (smime, e, error);
  if (e == NULL)
    return FALSE;
  /* The user just gave what unlocks it. */
  pst_smime_entry_unlocked (smime, e, e->key);
  g_ptr_array_add (infos, entry_info (smime, e));
  /* The chain is kept with the identity; CA certificates in it are never
   * anchors. */
  for (int i = 0; e->chain != NULL && i < sk_X509_num (e->chain); i++)
    {
      X509 *x = sk_X509_value (e->chain, i);

      X509_up_ref (x);
      if (!add_cert (smime, x, FALSE, infos, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
pst_smime_is_pkcs12 (GBytes *data)
{
  gsize len = 0;
  const unsigned char *p = g_bytes_get_data (data, &len);
  PKCS12 *p12 = p != NULL && len > 0 && len <= G_MAXINT ? d2i_PKCS12 (NULL, &p, (long) len) : NULL;

  ERR_clear_error ();
  PKCS12_free (p12);
  return p12 != NULL;
}

static gboolean import_any (PstSmime *smime, GBytes *data, const char *passphrase,
                            const char *wrap_key, gboolean trust_anchor,
                            GPtrArray **imported_out, GError **error);

gboolean
pst_smime_import (PstSmime *smime, GBytes *data, const char *passphrase, gboolean trust_anchor,
                  GPtrArray **imported_out, GError **error)
{
  return import_any (smime, data, passphrase, NULL, trust_anchor, imported_out, error);
}

gboolean
pst_smime_import_wrapped (PstSmime *smime, GBytes *data, const char *wrap_key,
                          GPtrArray **imported_out, GError **error)
{
  g_return_val_if_fail (wrap_key != NULL && *wrap_key != '\0', FALSE);
  if (!pst_smime_is_pkcs12 (data))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a PKCS#12 file");
      return FALSE;
    }
  return import_any (smime, data, NULL, wrap_key, FALSE, imported_out, error);
}

static gboolean
import_any (PstSmime *smime, GBytes *data, const char *passphrase, const char *wrap_key,
            gboolean trust_anchor, GPtrArray **imported_out, GError **error)
{
  g_autoptr(GPtrArray) infos = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_smime_cert_info_free);
  gsize len = 0;
  const unsigned char *p = g_bytes_get_data (data, &len);
  const unsigned char *q = p;
  PKCS12 *p12;
  BIO *bio;
  X509 *x;
  gboolean ok = TRUE;

  if (p == NULL || len == 0 || len > G_MAXINT)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a certificate or PKCS#12 file: it is empty");
      return FALSE;
    }
  p12 = d2i_PKCS12 (NULL, &q, (long) len);
  if (p12 != NULL)
    {
      ok = import_pkcs12 (smime, p12, passphrase, wrap_key, infos, error);
      PKCS12_free (p12);
    }
  else
    {
      STACK_OF (X509) *certs = sk_X509_new_null ();

      ERR_clear_error ();
      bio = BIO_new_mem_buf (p, (int) len);
      while ((x = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push (certs, x);
      BIO_free (bio);
      ERR_clear_error ();
      q = p;
      if (sk_X509_num (certs) == 0 && (x = d2i_X509 (NULL, &q, (long) len)) != NULL)
        sk_X509_push (certs, x);
      ERR_clear_error ();
      if (sk_X509_num (certs) == 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "not a certificate or PKCS#12 file (PEM, DER or PKCS#12 expected)");
          ok = FALSE;
        }
      /* All checked before any is kept: a refused file leaves nothing. */
      for (int i = 0; ok && !trust_anchor && i < sk_X509_num (certs); i++)
        ok = pst_smime_request_check_cert (smime, sk_X509_value (certs, i), error);
      while (ok && sk_X509_num (certs) > 0)
        ok = add_cert (smime, sk_X509_shift (certs), trust_anchor, infos, error);
      sk_X509_pop_free (certs, X509_free);
    }
  if (ok && imported_out != NULL)
    *imported_out = g_steal_pointer (&infos);
  return ok;
}

GPtrArray *
pst_smime_list (PstSmime *smime)
{
  GPtrArray *infos = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_smime_cert_info_free);

  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      g_ptr_array_add (infos, entry_info (smime, e));
    }
  return infos;
}

gboolean
pst_smime_remove (PstSmime *smime, const char *fingerprint_or_prefix, GError **error)
{
  g_autofree char *want = g_ascii_strdown (fingerprint_or_prefix != NULL ? fingerprint_or_prefix : "", -1);
  PstSmimeEntry *found = NULL;
  guint count = 0;

  g_strdelimit (want, ":", ' ');
  g_strstrip (want);
  if (strlen (want) < 8)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "give at least 8 hex digits of the certificate's fingerprint");
      return FALSE;
    }
  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      if (g_str_has_prefix (e->fingerprint, want))
        found = e, count++;
    }
  if (count == 0)
    {
      gboolean any = FALSE;

      if (pst_smime_request_remove (smime, want, &any))
        return TRUE;
      if (any)
        count = 2;
    }
  if (count != 1)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   count == 0 ? "no certificate with fingerprint %s"
                              : "several certificates match %s: give more digits", want);
      return FALSE;
    }
  entry_remove (smime, found);
  return TRUE;
}

STACK_OF (X509) *
pst_smime_store_all_certs (PstSmime *smime)
{
  STACK_OF (X509) *all = sk_X509_new_null ();

  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      sk_X509_push (all, e->cert);
      for (int j = 0; e->chain != NULL && j < sk_X509_num (e->chain); j++)
        sk_X509_push (all, sk_X509_value (e->chain, j));
    }
  return all;
}

/* The certificates of the system store (OpenSSL's default file, or
 * $SSL_CERT_FILE), read once per process and shared read-only: OpenSSL 3
 * reference counts and locks X509 objects. */
static STACK_OF (X509) *
system_roots (void)
{
  static gsize once = 0;
  static STACK_OF (X509) *roots;

  if (g_once_init_enter (&once))
    {
      X509_STORE *store = X509_STORE_new ();
      X509_LOOKUP *file = X509_STORE_add_lookup (store, X509_LOOKUP_file ());

      if (file != NULL)
        X509_LOOKUP_load_file (file, NULL, X509_FILETYPE_DEFAULT);
      roots = X509_STORE_get1_all_certs (store);
      if (roots == NULL)
        roots = sk_X509_new_null ();
      X509_STORE_free (store);
      ERR_clear_error ();
      g_once_init_leave (&once, 1);
    }
  return roots;
}

/* The trust anchors and the system store: the system roots read once per
 * process, and OpenSSL's default certificate directory (or $SSL_CERT_DIR),
 * looked up by subject hash when an issuer is not found otherwise, as
 * X509_STORE_set_default_paths does.  Owned by @smime. */
static X509_STORE *
trust_store (PstSmime *smime)
{
  STACK_OF (X509) *roots;
  X509_LOOKUP *dir;

  if (smime->trust != NULL)
    return smime->trust;
  smime->trust = X509_STORE_new ();
  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      if (e->kind == PST_SMIME_ANCHOR)
        X509_STORE_add_cert (smime->trust, e->cert);
    }
  roots = system_roots ();
  for (int i = 0; i < sk_X509_num (roots); i++)
    X509_STORE_add_cert (smime->trust, sk_X509_value (roots, i));
  dir = X509_STORE_add_lookup (smime->trust, X509_LOOKUP_hash_dir ());
  if (dir != NULL)
    X509_LOOKUP_add_dir (dir, NULL, X509_FILETYPE_DEFAULT);
  ERR_clear_error ();
  return smime->trust;
}

int
pst_smime_store_verify (PstSmime *smime, X509 *cert, STACK_OF (X509) *extra, int purpose,
                        STACK_OF (X509) **chain_out)
{
  X509_STORE *store = trust_store (smime);
  X509_STORE_CTX *ctx = X509_STORE_CTX_new ();
  STACK_OF (X509) *untrusted = sk_X509_new_null ();
  int result = X509_V_ERR_UNSPECIFIED;

  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      if (e->kind != PST_SMIME_ANCHOR)
        sk_X509_push (untrusted, e->cert);
      for (int j = 0; e->chain != NULL && j < sk_X509_num (e->chain); j++)
        sk_X509_push (untrusted, sk_X509_value (e->chain, j));
    }
  for (int j = 0; extra != NULL && j < sk_X509_num (extra); j++)
    sk_X509_push (untrusted, sk_X509_value (extra, j));
  if (X509_STORE_CTX_init (ctx, store, cert, untrusted) == 1)
    {
      X509_STORE_CTX_set_purpose (ctx, purpose);
      if (X509_verify_cert (ctx) == 1)
        {
          result = X509_V_OK;
          if (chain_out != NULL)
            *chain_out = X509_STORE_CTX_get1_chain (ctx);
        }
      else
        result = X509_STORE_CTX_get_error (ctx);
    }
  ERR_clear_error ();
  X509_STORE_CTX_free (ctx);
  sk_X509_free (untrusted);
  return result;
}

/* The chain check of stored entry @e (with its own chain), cached in @e
 * until the store changes, the chain expires, or a while has passed (a
 * certificate that is not yet valid may become so). */
static int
entry_check (PstSmime *smime, PstSmimeEntry *e, gboolean signing)
{
  PstSmimeCheck *check = &e->checks[signing ? 1 : 0];
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  STACK_OF (X509) *chain = NULL;

  if (check->generation == smime->generation && now < check->until)
    return check->result;
  check->result = pst_smime_store_verify (smime, e->cert, e->chain,
                                          signing ? X509_PURPOSE_SMIME_SIGN : X509_PURPOSE_ANY,
                                          &chain);
  check->generation = smime->generation;
  check->until = now + (check->result == X509_V_OK ? CHECK_GOOD_SECONDS : CHECK_BAD_SECONDS);
  for (int i = 0; chain != NULL && i < sk_X509_num (chain); i++)
    check->until = MIN (check->until, pst_smime_asn1_time_unix (X509_get0_notAfter (sk_X509_value (chain, i))));
  sk_X509_pop_free (chain, X509_free);
  return check->result;
}

/* Key usage (when the certificate has one) allows encryption. */
static gboolean
can_encrypt (X509 *cert)
{
  uint32_t ku = X509_get_key_usage (cert);
  uint32_t eku = X509_get_extended_key_usage (cert);
  EVP_PKEY *pk = X509_get0_pubkey (cert);
  gboolean ec = pk != NULL && EVP_PKEY_is_a (pk, "EC");

  if (pk == NULL)
    return FALSE;
  if (ku != UINT32_MAX && !(ku & (ec ? KU_KEY_AGREEMENT : KU_KEY_ENCIPHERMENT)))
    return FALSE;
  return eku == UINT32_MAX || (eku & (XKU_SMIME | XKU_ANYEKU)) != 0;
}

static PstSmimeEntry *
find_usable (PstSmime *smime, const char *address, gboolean identity)
{
  PstSmimeEntry *best = NULL;

  if (address == NULL)
    return NULL;
  for (guint i = 0; i < smime->entries->len; i++)
    {
      PstSmimeEntry *e = smime->entries->pdata[i];

      if ((identity && e->kind != PST_SMIME_IDENTITY) || is_ca (e->cert)
          || !pst_addr_in_list (address, (const char *const *) e->emails)
          || !pst_smime_x509_valid_now (e->cert))
        continue;
      if (!identity && !can_encrypt (e->cert))
        continue;
      if (entry_check (smime, e, identity) != X509_V_OK)
        continue;
      if (best == NULL || ASN1_TIME_compare (X509_get0_notAfter (e->cert), X509_get0_notAfter (best->cert)) > 0)
        best = e;
    }
  return best;
}

PstSmimeEntry *
pst_smime_store_find_recipient (PstSmime *smime, const char *address)
{
  return find_usable (smime, address, FALSE);
}

PstSmimeEntry *
pst_smime_store_find_identity (PstSmime *smime, const char *address)
{
  return find_usable (smime, address, TRUE);
}

char **
pst_smime_missing_certs (PstSmime *smime, const char *const *addresses, GError **error)
{
  GPtrArray *missing = g_ptr_array_new_null_terminated (0, NULL, TRUE);

  for (const char *const *a = addresses; a != NULL && *a != NULL; a++)
    if (!pst_addr_in_list (*a, (const char *const *) missing->pdata)
        && pst_smime_store_find_recipient (smime, *a) == NULL)
      g_ptr_array_add (missing, g_strdup (*a));
  return (char **) g_ptr_array_free (missing, FALSE);
}

gboolean
pst_smime_has_identity (PstSmime *smime, const char *address)
{
  return address != NULL && pst_smime_store_find_identity (smime, address) != NULL;
}

void
pst_smime_store_collect (PstSmime *smime, X509 *cert, STACK_OF (X509) *chain, GBytes *caps)
{
  PstSmimeEntry *e;

  X509_up_ref (cert);
  e = entry_new (PST_SMIME_CERT, cert);
  if (caps != NULL)
    e->caps = g_bytes_ref (caps);
  if (store_add (smime, e, NULL) == NULL)
    g_warning ("S/MIME store: cannot keep a signer's certificate");
  /* Intermediates: everything between the signer and the anchor. */
  for (int i = 1; chain != NULL && i + 1 < sk_X509_num (chain); i++)
    {
      X509 *x = sk_X509_value (chain, i);
      g_autofree char *fpr = pst_smime_x509_fingerprint (x);

      if (find_fingerprint (smime, fpr) != NULL)
        continue;
      X509_up_ref (x);
      store_add (smime, entry_new (PST_SMIME_CERT, x), NULL);
    }
}
