#include "crypto/pgp-keys.h"
#include "crypto/pgp-private.h"

#include <gpgme.h>
#include <string.h>

#include "util/addr.h"
#include "util/error.h"

void
pst_pgp_key_info_free (PstPgpKeyInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->fingerprint);
  g_strfreev (info->uids);
  g_strfreev (info->emails);
  g_free (info);
}

static gpgme_ctx_t
open_ctx (const char *home, GError **error)
{
  gpgme_ctx_t ctx = NULL;
  gpgme_error_t err;

  if (gpgme_check_version (NULL) == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "OpenPGP is not available");
      return NULL;
    }
  err = gpgme_new (&ctx);
  if (!err)
    err = gpgme_set_protocol (ctx, GPGME_PROTOCOL_OpenPGP);
  if (!err && home != NULL)
    err = gpgme_ctx_set_engine_info (ctx, GPGME_PROTOCOL_OpenPGP, NULL, home);
  if (!err)
    err = gpgme_set_pinentry_mode (ctx, GPGME_PINENTRY_MODE_CANCEL);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot open the OpenPGP keyring: %s",
                   gpgme_strerror (err));
      if (ctx)
        gpgme_release (ctx);
      return NULL;
    }
  return ctx;
}

gboolean
pst_pgp_keys_looks_like_openpgp (GBytes *data)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);

  if (len >= 14 && g_strstr_len ((const char *) p, MIN (len, 4096), "-----BEGIN PGP ") != NULL)
    return TRUE;
  /* A binary packet: the tag byte has bit 7 set; 0x30 (DER SEQUENCE) does not. */
  return len > 2 && (p[0] & 0x80) != 0;
}

static PstPgpKeyInfo *
info_from_key (gpgme_key_t key, gboolean secret)
{
  PstPgpKeyInfo *info = g_new0 (PstPgpKeyInfo, 1);
  g_autoptr (GPtrArray) uids = g_ptr_array_new ();
  g_autoptr (GPtrArray) emails = g_ptr_array_new ();

  info->fingerprint = g_strdup (key->fpr);
  for (gpgme_user_id_t u = key->uids; u; u = u->next)
    {
      g_ptr_array_add (uids, g_strdup (u->uid));
      if (u->email && *u->email)
        g_ptr_array_add (emails, g_strdup (u->email));
    }
  g_ptr_array_add (uids, NULL);
  g_ptr_array_add (emails, NULL);
  info->uids = (char **) g_ptr_array_free (g_steal_pointer (&uids), FALSE);
  info->emails = (char **) g_ptr_array_free (g_steal_pointer (&emails), FALSE);
  info->secret = secret || key->secret;
  info->expired = key->expired;
  info->revoked = key->revoked;
  info->disabled = key->disabled;
  info->invalid = key->invalid;
  info->can_encrypt = key->can_encrypt;
  info->can_sign = key->can_sign;
  if (key->subkeys)
    {
      info->created = key->subkeys->timestamp;
      info->expires = key->subkeys->expires;
    }
  return info;
}

/* Keys matching @pattern; with @fpr_exact only the one fingerprint. */
static GPtrArray *
list_keys (gpgme_ctx_t ctx, const char *pattern, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_pgp_key_info_free);
  g_autoptr (GHashTable) secret = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gpgme_key_t key;
  gpgme_error_t err;

  /* Which keys have a secret part, then all public keys. */
  err = gpgme_op_keylist_start (ctx, pattern, 1);
  while (!err && !(err = gpgme_op_keylist_next (ctx, &key)))
    {
      g_hash_table_add (secret, g_strdup (key->fpr));
      gpgme_key_unref (key);
    }
  if (gpg_err_code (err) != GPG_ERR_EOF)
    goto fail;
  err = gpgme_op_keylist_start (ctx, pattern, 0);
  while (!err && !(err = gpgme_op_keylist_next (ctx, &key)))
    {
      g_ptr_array_add (out, info_from_key (key, g_hash_table_contains (secret, key->fpr)));
      gpgme_key_unref (key);
    }
  if (gpg_err_code (err) != GPG_ERR_EOF)
    goto fail;
  return g_steal_pointer (&out);
fail:
  g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot list OpenPGP keys: %s",
               gpgme_strerror (err));
  return NULL;
}

gboolean
pst_pgp_keys_import (const char *home, GBytes *data, GPtrArray **imported_out, GError **error)
{
  gpgme_ctx_t ctx = open_ctx (home, error);
  gpgme_data_t in = NULL;
  gpgme_import_result_t result;
  g_autoptr (GPtrArray) imported = NULL, fprs = NULL;
  gpgme_error_t err;
  gsize len;
  const char *bytes = g_bytes_get_data (data, &len);
  gboolean ok = FALSE;

  if (ctx == NULL)
    return FALSE;
  err = gpgme_data_new_from_mem (&in, bytes, len, 0);
  if (!err)
    err = gpgme_op_import (ctx, in);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot import the OpenPGP key: %s",
                   gpgme_strerror (err));
      goto out;
    }
  result = gpgme_op_import_result (ctx);
  if (result == NULL || result->considered == 0 || result->imports == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no OpenPGP key found in the input");
      goto out;
    }
  /* The result belongs to the context: take what we need before the
   * key listings below reuse it. */
  fprs = g_ptr_array_new_with_free_func (g_free);
  for (gpgme_import_status_t s = result->imports; s; s = s->next)
    {
      if (s->result != GPG_ERR_NO_ERROR)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "key %s was not imported: %s",
                       s->fpr ? s->fpr : "?", gpgme_strerror (s->result));
          goto out;
        }
      if (s->fpr && !g_ptr_array_find_with_equal_func (fprs, s->fpr, g_str_equal, NULL))
        g_ptr_array_add (fprs, g_strdup (s->fpr));
    }
  imported = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_pgp_key_info_free);
  for (guint i = 0; i < fprs->len; i++)
    {
      g_autoptr (GPtrArray) keys = list_keys (ctx, g_ptr_array_index (fprs, i), NULL);
      while (keys && keys->len > 0)
        g_ptr_array_add (imported, g_ptr_array_steal_index (keys, 0));
    }
  if (imported_out)
    *imported_out = g_steal_pointer (&imported);
  ok = TRUE;
out:
  gpgme_data_release (in);
  gpgme_release (ctx);
  return ok;
}

/* The fingerprints of the keys in @data with a user id of @address, and in
 * @others the addresses of the keys without one.  NULL with @error when
 * gpg cannot read @data. */
static GPtrArray *
keys_for_address (gpgme_ctx_t ctx, gpgme_data_t data, const char *address, GPtrArray *others,
                  GError **error)
{
  g_autoptr (GPtrArray) match = g_ptr_array_new_with_free_func (g_free);
  gpgme_key_t key;
  gpgme_error_t err;

  err = gpgme_op_keylist_from_data_start (ctx, data, 0);
  while (!err && !(err = gpgme_op_keylist_next (ctx, &key)))
    {
      gboolean has = FALSE;

      for (gpgme_user_id_t u = key->uids; u != NULL; u = u->next)
        has = has || pst_addr_equal (u->email, address);
      if (has)
        g_ptr_array_add (match, g_strdup (key->fpr));
      else
        for (gpgme_user_id_t u = key->uids; u != NULL; u = u->next)
          if (u->email != NULL && *u->email != '\0' && others->len < 5)
            g_ptr_array_add (others, g_strdup (u->email));
      gpgme_key_unref (key);
    }
  if (gpg_err_code (err) != GPG_ERR_EOF)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot read the OpenPGP key: %s",
                   gpgme_strerror (err));
      return NULL;
    }
  return g_steal_pointer (&match);
}

char *
pst_pgp_keys_import_for_address (const char *home, GBytes *data, const char *address,
                                 GError **error)
{
  gpgme_ctx_t ctx;
  gpgme_data_t in = NULL;
  gpgme_import_result_t result;
  gpgme_error_t err;
  g_autoptr (GPtrArray) match = NULL;
  g_autoptr (GPtrArray) others = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *lower = NULL, *filter = NULL;
  char *fpr = NULL;
  gsize len;
  const char *bytes = g_bytes_get_data (data, &len);

  /* The address goes into a filter expression: nothing that could end it. */
  if (address == NULL || strchr (address, '@') == NULL || strpbrk (address, " \t\r\n<>\"") != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not an e-mail address",
                   address ? address : "");
      return NULL;
    }
  if (!pst_pgp_keys_looks_like_openpgp (data))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no OpenPGP key found in the input");
      return NULL;
    }
  if (!(ctx = open_ctx (home, error)))
    return NULL;
  err = gpgme_data_new_from_mem (&in, bytes, len, 0);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot read the OpenPGP key: %s",
                   gpgme_strerror (err));
      goto out;
    }
  if (!(match = keys_for_address (ctx, in, address, others, error)))
    goto out;
  if (match->len == 0)
    {
      g_autofree char *list = NULL;

      g_ptr_array_add (others, NULL);
      list = g_strjoinv (", ", (char **) others->pdata);
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   *list ? "the key found for %s is for %s, not for %s: refused"
                         : "the key found for %s has no user id with an address%s%s: refused",
                   address, list, *list ? address : "");
      goto out;
    }
  lower = g_ascii_strdown (address, -1);
  filter = g_strdup_printf ("keep-uid=mbox = %s", lower);
  gpgme_data_seek (in, 0, SEEK_SET);
  err = gpgme_set_ctx_flag (ctx, "import-filter", filter);
  if (!err)
    err = gpgme_op_import (ctx, in);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot import the OpenPGP key of %s: %s",
                   address, gpgme_strerror (err));
      goto out;
    }
  result = gpgme_op_import_result (ctx);
  for (gpgme_import_status_t st = result ? result->imports : NULL; st && !fpr; st = st->next)
    if (st->result == GPG_ERR_NO_ERROR && st->fpr != NULL
        && g_ptr_array_find_with_equal_func (match, st->fpr, g_str_equal, NULL))
      fpr = g_strdup (st->fpr);
  if (fpr == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "gpg imported no key for %s from the input",
                 address);
out:
  gpgme_data_release (in);
  gpgme_release (ctx);
  return fpr;
}

GPtrArray *
pst_pgp_keys_list (const char *home, const char *pattern, GError **error)
{
  gpgme_ctx_t ctx = open_ctx (home, error);
  GPtrArray *keys;

  if (ctx == NULL)
    return NULL;
  keys = list_keys (ctx, pattern, error);
  gpgme_release (ctx);
  return keys;
}

static gboolean
is_fingerprint (const char *text)
{
  gsize n = strlen (text);

  if (n < 16 || n > 40)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

gboolean
pst_pgp_keys_remove (const char *home, const char *fingerprint, GError **error)
{
  gpgme_ctx_t ctx;
  gpgme_key_t key = NULL, more = NULL;
  gpgme_error_t err;
  gboolean ok = FALSE;
  g_autofree char *upper = NULL;

  if (!is_fingerprint (fingerprint))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "'%s' is not a key fingerprint (16 to 40 hex digits)", fingerprint);
      return FALSE;
    }
  if (!(ctx = open_ctx (home, error)))
    return FALSE;
  fingerprint = upper = g_ascii_strup (fingerprint, -1);
  err = gpgme_op_keylist_start (ctx, fingerprint, 0);
  if (!err)
    err = gpgme_op_keylist_next (ctx, &key);
  if (!err && gpgme_op_keylist_next (ctx, &more) == GPG_ERR_NO_ERROR)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' names several keys: give more digits",
                   fingerprint);
      goto out;
    }
  gpgme_op_keylist_end (ctx);
  if (err || key == NULL || !g_str_has_suffix (key->fpr, fingerprint))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no OpenPGP key %s", fingerprint);
      goto out;
    }
  err = gpgme_op_delete_ext (ctx, key, GPGME_DELETE_ALLOW_SECRET | GPGME_DELETE_FORCE);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot remove key %s: %s", fingerprint,
                   gpgme_strerror (err));
      goto out;
    }
  ok = TRUE;
out:
  if (key)
    gpgme_key_unref (key);
  if (more)
    gpgme_key_unref (more);
  gpgme_release (ctx);
  return ok;
}

/* Gives gpg the passphrase of a key being made (pinentry in loopback mode:
 * the agent has no terminal, and a pinentry window is not its to open). */
static gpgme_error_t
give_passphrase (void *hook, const char *uid_hint, const char *info, int prev_was_bad, int fd)
{
  const char *passphrase = hook;

  if (prev_was_bad)
    return gpg_error (GPG_ERR_BAD_PASSPHRASE);
  if (gpgme_io_writen (fd, passphrase, strlen (passphrase)) != 0
      || gpgme_io_writen (fd, "\n", 1) != 0)
    return gpgme_error_from_syserror ();
  return 0;
}

char *
pst_pgp_keys_generate (const char *home, const char *address, const char *passphrase,
                       guint64 expires_s, GError **error)
{
  gpgme_ctx_t ctx;
  gpgme_error_t err;
  gpgme_genkey_result_t result;
  gpgme_key_t key = NULL;
  g_autofree char *uid = NULL, *fpr = NULL;
  g_autoptr (GPtrArray) existing = NULL;
  unsigned int flags = GPGME_CREATE_SIGN | GPGME_CREATE_CERT | GPGME_CREATE_FORCE;

  if (address == NULL || strchr (address, '@') == NULL || strpbrk (address, " <>\r\n\t") != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not an e-mail address",
                   address ? address : "");
      return NULL;
    }
  if (!(existing = pst_pgp_keys_list (home, address, error)))
    return NULL;
  for (guint i = 0; i < existing->len; i++)
    {
      PstPgpKeyInfo *k = existing->pdata[i];

      if (k->secret && !k->expired && !k->revoked && !k->disabled && !k->invalid
          && k->emails != NULL && g_strv_contains ((const char *const *) k->emails, address))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "%s already has an OpenPGP secret key, %s: remove it first "
                       "(postern keys remove %s) to make another", address, k->fingerprint,
                       k->fingerprint);
          return NULL;
        }
    }
  if (!(ctx = open_ctx (home, error)))
    return NULL;
  if (passphrase != NULL)
    {
      gpgme_set_pinentry_mode (ctx, GPGME_PINENTRY_MODE_LOOPBACK);
      gpgme_set_passphrase_cb (ctx, give_passphrase, (void *) passphrase);
    }
  else
    flags |= GPGME_CREATE_NOPASSWD;
  if (expires_s == 0)
    flags |= GPGME_CREATE_NOEXPIRE;
  uid = g_strdup_printf ("<%s>", address);
  err = gpgme_op_createkey (ctx, uid, "ed25519", 0, (unsigned long) expires_s, NULL, flags);
  if (!err && (result = gpgme_op_genkey_result (ctx)) != NULL && result->fpr != NULL)
    fpr = g_strdup (result->fpr);
  else if (!err)
    err = gpg_error (GPG_ERR_GENERAL);
  if (!err)
    err = gpgme_get_key (ctx, fpr, &key, 1);
  if (!err)
    err = gpgme_op_createsubkey (ctx, key, "cv25519", 0, (unsigned long) expires_s,
                                 GPGME_CREATE_ENCR | (expires_s == 0 ? GPGME_CREATE_NOEXPIRE : 0)
                                 | (passphrase == NULL ? GPGME_CREATE_NOPASSWD : 0));
  if (err && fpr != NULL)
    {
      /* A primary key without its encryption subkey would be found and
       * used for signing, but nobody could encrypt to it: remove it. */
      if (key != NULL)
        gpgme_op_delete_ext (ctx, key, GPGME_DELETE_ALLOW_SECRET | GPGME_DELETE_FORCE);
    }
  if (key != NULL)
    gpgme_key_unref (key);
  gpgme_release (ctx);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot make an OpenPGP key for %s: %s",
                   address, gpgme_strerror (err));
      return NULL;
    }
  return g_steal_pointer (&fpr);
}

gpgme_ctx_t
pst_pgp_keys_open_ctx (const char *home, GError **error)
{
  return open_ctx (home, error);
}
