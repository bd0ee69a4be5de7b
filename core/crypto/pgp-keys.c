#include "crypto/pgp-keys.h"
#include "crypto/pgp-private.h"

#include <errno.h>
#include <gpgme.h>
#include <string.h>

#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/sink.h"

/* A transferable secret key is a few KiB; 1 MiB leaves room for a key with
 * many user ids and bounds what a hostile Setup Message expands to. */
#define MAX_SECRET_KEY ((gsize) 1024 * 1024)

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

  /* The address goes into gpg's filter expression (util/addr.h). */
  if (!pst_addr_is_plain (address))
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

static gpgme_error_t
data_from_bytes (gpgme_data_t *out, GBytes *bytes)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (bytes, &len);

  return gpgme_data_new_from_mem (out, p != NULL ? p : "", len, 0);
}

GPtrArray *
pst_pgp_keys_inspect (const char *home, GBytes *data, GError **error)
{
  gpgme_ctx_t ctx = open_ctx (home, error);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_pgp_key_info_free);
  gpgme_data_t in = NULL;
  gpgme_key_t key;
  gpgme_error_t err;

  if (ctx == NULL)
    return NULL;
  err = data_from_bytes (&in, data);
  if (!err)
    err = gpgme_op_keylist_from_data_start (ctx, in, 0);
  while (!err && !(err = gpgme_op_keylist_next (ctx, &key)))
    {
      g_ptr_array_add (out, info_from_key (key, FALSE));
      gpgme_key_unref (key);
    }
  gpgme_data_release (in);
  gpgme_release (ctx);
  if (gpg_err_code (err) != GPG_ERR_EOF)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot read the OpenPGP key: %s",
                   gpgme_strerror (err));
      return NULL;
    }
  return g_steal_pointer (&out);
}

/* What a passphrase callback was given, and what became of it. */
typedef struct {
  const char *passphrase;   /* NULL: none to give */
  gboolean asked, bad;
} PassphraseHook;

static gpgme_error_t
hook_passphrase (void *opaque, const char *uid_hint, const char *info, int prev_was_bad, int fd)
{
  PassphraseHook *hook = opaque;

  hook->asked = TRUE;
  if (prev_was_bad)
    {
      hook->bad = TRUE;
      return gpg_error (GPG_ERR_BAD_PASSPHRASE);
    }
  if (hook->passphrase == NULL)
    return gpg_error (GPG_ERR_NO_PASSPHRASE);
  if (gpgme_io_writen (fd, hook->passphrase, strlen (hook->passphrase)) != 0
      || gpgme_io_writen (fd, "\n", 1) != 0)
    return gpgme_error_from_syserror ();
  return 0;
}

/* Asks gpg for passphrases through @hook, never through a pinentry window
 * or gpg-agent's cache of symmetric passphrases. */
static void
use_hook (gpgme_ctx_t ctx, PassphraseHook *hook)
{
  gpgme_set_pinentry_mode (ctx, GPGME_PINENTRY_MODE_LOOPBACK);
  gpgme_set_passphrase_cb (ctx, hook_passphrase, hook);
  gpgme_set_ctx_flag (ctx, "no-symkey-cache", "1");
}

static ssize_t
sink_write (void *handle, const void *buffer, size_t size)
{
  if (!pst_sink_write (handle, buffer, size))
    {
      errno = EFBIG;
      return -1;
    }
  return (ssize_t) size;
}

static struct gpgme_data_cbs sink_cbs = { NULL, sink_write, NULL, NULL };

GBytes *
pst_pgp_keys_export_secret (const char *home, const char *fingerprint, const char *passphrase,
                            GError **error)
{
  PassphraseHook hook = { .passphrase = passphrase };
  g_autoptr (PstSink) sink = NULL;
  gpgme_ctx_t ctx;
  gpgme_data_t out = NULL;
  gpgme_error_t err;
  gpgme_key_t key = NULL;
  GBytes *armored = NULL;

  if (!is_fingerprint (fingerprint) || strlen (fingerprint) != 40)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not a key fingerprint", fingerprint);
      return NULL;
    }
  if (!(ctx = open_ctx (home, error)))
    return NULL;
  if (gpgme_get_key (ctx, fingerprint, &key, 1) != 0 || key == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no OpenPGP secret key %s", fingerprint);
      gpgme_release (ctx);
      return NULL;
    }
  gpgme_key_unref (key);
  gpgme_set_armor (ctx, 1);
  use_hook (ctx, &hook);
  sink = pst_sink_new (MAX_SECRET_KEY, 0);
  err = gpgme_data_new_from_cbs (&out, &sink_cbs, sink);
  if (!err)
    err = gpgme_op_export (ctx, fingerprint, GPGME_EXPORT_MODE_SECRET | GPGME_EXPORT_MODE_MINIMAL,
                           out);
  gpgme_data_release (out);
  gpgme_release (ctx);
  armored = pst_sink_steal (sink);
  if (!err && g_bytes_get_size (armored) > 0)
    return armored;
  g_bytes_unref (armored);
  if (hook.asked && passphrase == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "the secret key %s is under a passphrase: "
                 "give it (--passphrase-fd N) to export the key", fingerprint);
  else if (hook.asked)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "the passphrase of the secret key %s is "
                 "wrong (%s)", fingerprint, err ? gpgme_strerror (err) : "gpg gave nothing");
  else
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot export the secret key %s: %s",
                 fingerprint, err ? gpgme_strerror (err) : "gpg gave nothing");
  return NULL;
}

char *
pst_pgp_symmetric_encrypt (const char *home, GBytes *plain, const char *passphrase, GError **error)
{
  PassphraseHook hook = { .passphrase = passphrase };
  gpgme_ctx_t ctx = open_ctx (home, error);
  gpgme_data_t in = NULL, out = NULL;
  gpgme_error_t err;
  char *armored = NULL;

  if (ctx == NULL)
    return NULL;
  gpgme_set_armor (ctx, 1);
  use_hook (ctx, &hook);
  err = data_from_bytes (&in, plain);
  if (!err)
    err = gpgme_data_new (&out);
  if (!err)
    err = gpgme_op_encrypt (ctx, NULL, 0, in, out);
  if (err)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot encrypt under the Setup Code: %s",
                 gpgme_strerror (err));
  else
    {
      size_t len = 0;
      char *buf = gpgme_data_release_and_get_mem (out, &len);

      out = NULL;
      armored = g_strndup (buf, len);
      gpgme_free (buf);
    }
  gpgme_data_release (in);
  gpgme_data_release (out);
  gpgme_release (ctx);
  return armored;
}

GBytes *
pst_pgp_symmetric_decrypt (const char *home, const char *armored, gsize len, const char *passphrase,
                           gsize max, GError **error)
{
  PassphraseHook hook = { .passphrase = passphrase };
  g_autoptr (PstSink) sink = pst_sink_new (max, len);
  gpgme_ctx_t ctx = open_ctx (home, error);
  gpgme_data_t in = NULL, out = NULL;
  gpgme_decrypt_result_t result;
  gpgme_error_t err;
  gboolean public_key = FALSE;

  if (ctx == NULL)
    return NULL;
  use_hook (ctx, &hook);
  err = gpgme_data_new_from_mem (&in, armored, len, 0);
  if (!err)
    err = gpgme_data_new_from_cbs (&out, &sink_cbs, sink);
  if (!err)
    err = gpgme_op_decrypt (ctx, in, out);
  /* A session key for a public key would have let a key of ours open it
   * whatever the code (GnuPG T3277): the code would then authenticate
   * nothing. */
  result = gpgme_op_decrypt_result (ctx);
  public_key = result != NULL && result->recipients != NULL;
  gpgme_data_release (in);
  gpgme_data_release (out);
  gpgme_release (ctx);
  if (public_key)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "the message is encrypted to a public key, not only under a Setup Code");
      return NULL;
    }
  if (err)
    {
      if (pst_sink_overflowed (sink))
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "the message decrypts to more than %"
                     G_GSIZE_FORMAT " bytes: it holds no key", max);
      else if (hook.asked)
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                     "the Setup Code does not decrypt it: is it the code shown with this "
                     "message? (%s)", gpgme_strerror (err));
      else
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot decrypt it: %s",
                     gpgme_strerror (err));
      return NULL;
    }
  if (!hook.asked)
    {
      /* Decrypted without the code: not by the code, then. */
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "it was decrypted without the Setup Code: refused");
      return NULL;
    }
  return pst_sink_steal (sink);
}
