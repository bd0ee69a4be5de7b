#include "crypto/pgp-autocrypt.h"

#include <string.h>

#include "crypto/pgp-private.h"
#include "util/addr.h"
#include "util/error.h"

/* Every message sent or encrypted carries the sender's key: one gpg run
 * each, as many as the encryption itself (measured in docs/performance.md).
 * The exports are kept process-wide for EXPORT_CACHE_TTL seconds, keyed by
 * home and fingerprint, like pgp.c's key lookups, and dropped with them by
 * pst_pgp_forget_keys(). */
#define EXPORT_CACHE_TTL 30

typedef struct {
  GBytes *keydata;
  gint64 at;
} CachedExport;

static GMutex export_cache_lock;
static GHashTable *export_cache;   /* "home\nfpr" -> CachedExport* */

static void
cached_export_free (CachedExport *c)
{
  g_bytes_unref (c->keydata);
  g_free (c);
}

void
pst_pgp_autocrypt_forget (void)
{
  g_mutex_lock (&export_cache_lock);
  if (export_cache != NULL)
    g_hash_table_remove_all (export_cache);
  g_mutex_unlock (&export_cache_lock);
}

static GBytes *export_uncached (const char *home, const char *fingerprint, GError **error);

GBytes *
pst_pgp_autocrypt_export (const char *home, const char *fingerprint, GError **error)
{
  g_autofree char *k = g_strdup_printf ("%s\n%s", home ? home : "", fingerprint);
  CachedExport *c;
  GBytes *result = NULL;

  pst_pgp_home_check (home);
  g_mutex_lock (&export_cache_lock);
  c = export_cache ? g_hash_table_lookup (export_cache, k) : NULL;
  if (c != NULL && g_get_monotonic_time () - c->at < (gint64) EXPORT_CACHE_TTL * G_USEC_PER_SEC)
    result = g_bytes_ref (c->keydata);
  g_mutex_unlock (&export_cache_lock);
  if (result != NULL || !(result = export_uncached (home, fingerprint, error)))
    return result;
  c = g_new0 (CachedExport, 1);
  c->keydata = g_bytes_ref (result);
  c->at = g_get_monotonic_time ();
  g_mutex_lock (&export_cache_lock);
  if (export_cache == NULL)
    export_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) cached_export_free);
  g_hash_table_replace (export_cache, g_steal_pointer (&k), c);
  g_mutex_unlock (&export_cache_lock);
  return result;
}

static GBytes *
export_uncached (const char *home, const char *fingerprint, GError **error)
{
  gpgme_ctx_t ctx = pst_pgp_keys_open_ctx (home, error);
  gpgme_data_t out = NULL;
  gpgme_error_t err;
  GBytes *result = NULL;
  size_t len = 0;
  char *data;

  if (ctx == NULL)
    return NULL;
  gpgme_set_armor (ctx, 0);
  err = gpgme_data_new (&out);
  if (!err)
    err = gpgme_op_export (ctx, fingerprint, GPGME_EXPORT_MODE_MINIMAL, out);
  if (err)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot export OpenPGP key %s: %s",
                 fingerprint, gpgme_strerror (err));
  else if ((data = gpgme_data_release_and_get_mem (g_steal_pointer (&out), &len)) == NULL || len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "OpenPGP key %s is not in the keyring",
                   fingerprint);
      gpgme_free (data);
    }
  else
    {
      result = g_bytes_new (data, len);
      gpgme_free (data);
    }
  if (out != NULL)
    gpgme_data_release (out);
  gpgme_release (ctx);
  return result;
}

/* The one key in @keydata, listed without importing it; NULL with @error
 * set when there is none or more than one. */
static gpgme_key_t
only_key (gpgme_ctx_t ctx, GBytes *keydata, GError **error)
{
  gpgme_data_t in = NULL;
  gpgme_key_t key = NULL, extra = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (keydata, &len);
  gpgme_error_t err = gpgme_data_new_from_mem (&in, data, len, 0);

  if (!err)
    err = gpgme_op_keylist_from_data_start (ctx, in, 0);
  if (!err)
    err = gpgme_op_keylist_next (ctx, &key);
  if (!err && gpgme_op_keylist_next (ctx, &extra) == 0)
    {
      gpgme_key_unref (extra);
      gpgme_key_unref (key);
      key = NULL;
      gpgme_op_keylist_end (ctx);
      gpgme_data_release (in);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "keydata holds more than one key");
      return NULL;
    }
  gpgme_op_keylist_end (ctx);
  gpgme_data_release (in);
  if (err || key == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "keydata holds no OpenPGP key%s%s",
                   err ? ": " : "", err ? gpgme_strerror (err) : "");
      return NULL;
    }
  return key;
}

char *
pst_pgp_autocrypt_import (const char *home, GBytes *keydata, const char *address,
                          gboolean *can_encrypt_out, GError **error)
{
  gpgme_ctx_t ctx = pst_pgp_keys_open_ctx (home, error);
  gpgme_key_t key = NULL, imported = NULL;
  gpgme_data_t in = NULL;
  gpgme_error_t err;
  gpgme_import_result_t result;
  g_autofree char *filter = NULL, *fpr = NULL;
  const char *mbox = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (keydata, &len);

  if (can_encrypt_out != NULL)
    *can_encrypt_out = FALSE;
  if (ctx == NULL)
    return NULL;
  /* The address goes into gpg's filter expression (util/addr.h). */
  if (!pst_addr_is_plain (address))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a plain address: %s", address);
      goto out;
    }
  if (!(key = only_key (ctx, keydata, error)))
    goto out;
  for (gpgme_user_id_t u = key->uids; u != NULL && mbox == NULL; u = u->next)
    if (u->email != NULL && g_ascii_strcasecmp (u->email, address) == 0)
      mbox = u->email;
  if (mbox == NULL || key->fpr == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the key has no user id for %s", address);
      goto out;
    }
  fpr = g_strdup (key->fpr);
  /* Only the user id of this address comes in: a header speaks for its
   * addr and nothing else.  gpg's mbox is lower case. */
  {
    g_autofree char *lower = g_ascii_strdown (address, -1);
    filter = g_strdup_printf ("keep-uid=mbox = %s", lower);
  }
  err = gpgme_set_ctx_flag (ctx, "import-filter", filter);
  if (!err)
    err = gpgme_data_new_from_mem (&in, data, len, 0);
  if (!err)
    err = gpgme_op_import (ctx, in);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot import the key for %s: %s",
                   address, gpgme_strerror (err));
      g_clear_pointer (&fpr, g_free);
      goto out;
    }
  result = gpgme_op_import_result (ctx);
  if (result == NULL || result->considered == 0 || result->not_imported > 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "gpg did not take the key for %s",
                   address);
      g_clear_pointer (&fpr, g_free);
      goto out;
    }
  /* What the keyring holds now decides whether it can encrypt. */
  gpgme_set_ctx_flag (ctx, "import-filter", "");
  if (gpgme_get_key (ctx, fpr, &imported, 0) == 0 && imported != NULL && can_encrypt_out != NULL)
    *can_encrypt_out = imported->can_encrypt && !imported->expired && !imported->revoked
                       && !imported->disabled && !imported->invalid;
out:
  if (imported != NULL)
    gpgme_key_unref (imported);
  if (key != NULL)
    gpgme_key_unref (key);
  if (in != NULL)
    gpgme_data_release (in);
  gpgme_release (ctx);
  return g_steal_pointer (&fpr);
}
