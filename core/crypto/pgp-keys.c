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

static gboolean
is_address (const char *address)
{
  return address != NULL && strchr (address, '@') != NULL
         && strpbrk (address, " <>\r\n\t") == NULL;
}

static gboolean
binds (gpgme_key_t key, const char *address)
{
  for (gpgme_user_id_t u = key->uids; u != NULL; u = u->next)
    if (u->email != NULL && pst_addr_equal (u->email, address))
      return TRUE;
  return FALSE;
}

/* The keys with a user id of @address (exactly, not as a substring), with
 * their secret part in the keyring (@secret) or all.  A GPtrArray of
 * gpgme_key_t (a reference each).  Transfer full. */
static GPtrArray *
keys_of (gpgme_ctx_t ctx, const char *address, gboolean secret, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) gpgme_key_unref);
  g_autofree char *pattern = g_strdup_printf ("<%s>", address);
  gpgme_key_t key;
  gpgme_error_t err;

  err = gpgme_op_keylist_start (ctx, pattern, secret ? 1 : 0);
  while (!err && !(err = gpgme_op_keylist_next (ctx, &key)))
    {
      if (binds (key, address))
        g_ptr_array_add (out, key);
      else
        gpgme_key_unref (key);
    }
  if (gpg_err_code (err) != GPG_ERR_EOF)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot list the OpenPGP keys of %s: %s",
                   address, gpgme_strerror (err));
      return NULL;
    }
  return g_steal_pointer (&out);
}

/* The own key of @address that keys expire and keys revoke act on: a
 * secret key of @address that is not revoked; of several, the only one
 * that is valid now (an expired key is still the one to extend when it is
 * the only one).  Errors: PST_ERROR_POLICY none (exit 3, as for a missing
 * key); PST_ERROR_USAGE several, naming them.  Transfer full. */
static gpgme_key_t
own_key (gpgme_ctx_t ctx, const char *address, GError **error)
{
  g_autoptr (GPtrArray) all = keys_of (ctx, address, TRUE, error);
  g_autoptr (GPtrArray) live = g_ptr_array_new ();
  g_autoptr (GPtrArray) valid = g_ptr_array_new ();
  GPtrArray *pick;
  g_autoptr (GString) names = g_string_new (NULL);

  if (all == NULL)
    return NULL;
  for (guint i = 0; i < all->len; i++)
    {
      gpgme_key_t k = all->pdata[i];

      if (k->revoked || k->invalid)
        continue;
      g_ptr_array_add (live, k);
      if (!k->expired && !k->disabled)
        g_ptr_array_add (valid, k);
    }
  pick = valid->len > 0 ? valid : live;
  if (pick->len == 1)
    {
      gpgme_key_ref (pick->pdata[0]);
      return pick->pdata[0];
    }
  if (pick->len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "%s has no OpenPGP secret key that is not revoked (postern keys generate %s "
                   "makes one)", address, address);
      return NULL;
    }
  for (guint i = 0; i < pick->len; i++)
    g_string_append_printf (names, "%s%s", i ? ", " : "", ((gpgme_key_t) pick->pdata[i])->fpr);
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
               "%s has several OpenPGP secret keys (%s): remove the ones no longer wanted "
               "(postern keys remove ID)", address, names->str);
  return NULL;
}

/* Sets up @ctx to give gpg @passphrase when it asks (loopback), or to fail
 * when it asks and there is none (a key without a passphrase never asks). */
static void
use_passphrase (gpgme_ctx_t ctx, const char *passphrase)
{
  if (passphrase == NULL)
    return;
  gpgme_set_pinentry_mode (ctx, GPGME_PINENTRY_MODE_LOOPBACK);
  gpgme_set_passphrase_cb (ctx, give_passphrase, (void *) passphrase);
}

/* The error of an operation on the own key of @address that needed its
 * passphrase: says which one to give. */
static void
set_key_error (GError **error, const char *what, const char *address, const char *passphrase,
               gpgme_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_BAD_PASSPHRASE:
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot %s the OpenPGP key of %s: "
                   "wrong passphrase", what, address);
      return;
    case GPG_ERR_CANCELED:
    case GPG_ERR_NO_PIN_ENTRY:
    case GPG_ERR_NO_PASSPHRASE:
      if (passphrase == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "cannot %s the OpenPGP key of %s: it is "
                       "protected by a passphrase: give it (--passphrase-fd N)", what, address);
          return;
        }
      break;
    default:
      break;
    }
  g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot %s the OpenPGP key of %s: %s", what,
               address, gpgme_strerror (err));
}

GBytes *
pst_pgp_keys_export (const char *home, const char *address, char ***fingerprints_out,
                     gboolean *own_out, GError **error)
{
  gpgme_ctx_t ctx;
  g_autoptr (GPtrArray) secret = NULL, all = NULL, chosen = NULL;
  g_autoptr (GPtrArray) fprs = NULL;
  gpgme_data_t out = NULL;
  gpgme_error_t err;
  GBytes *bytes = NULL;
  char *text;
  size_t len = 0;

  if (!is_address (address))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not an e-mail address",
                   address ? address : "");
      return NULL;
    }
  if (!(ctx = open_ctx (home, error)))
    return NULL;
  if (!(secret = keys_of (ctx, address, TRUE, error)) || !(all = keys_of (ctx, address, FALSE, error)))
    goto out;
  /* The own keys when there are any (a revoked one too: that is how
   * peers learn of the revocation); else every key known for it. */
  chosen = g_ptr_array_new ();
  for (guint i = 0; i < all->len; i++)
    {
      gpgme_key_t k = all->pdata[i];
      gboolean own = FALSE;

      for (guint j = 0; j < secret->len && !own; j++)
        own = g_str_equal (((gpgme_key_t) secret->pdata[j])->fpr, k->fpr);
      if (own || secret->len == 0)
        g_ptr_array_add (chosen, k);
    }
  if (chosen->len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no OpenPGP key for %s", address);
      goto out;
    }
  fprs = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < chosen->len; i++)
    g_ptr_array_add (fprs, g_strdup (((gpgme_key_t) chosen->pdata[i])->fpr));
  g_ptr_array_add (fprs, NULL);
  g_ptr_array_add (chosen, NULL);
  gpgme_set_armor (ctx, 1);
  err = gpgme_data_new (&out);
  /* GPGME_EXPORT_MODE_MINIMAL: the latest self-signatures and the
   * revocation; no third-party signatures (they say who knows whom). */
  if (!err)
    err = gpgme_op_export_keys (ctx, (gpgme_key_t *) chosen->pdata, GPGME_EXPORT_MODE_MINIMAL, out);
  if (err)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot export the OpenPGP key of %s: %s",
                   address, gpgme_strerror (err));
      goto out;
    }
  text = gpgme_data_release_and_get_mem (out, &len);
  out = NULL;
  if (text == NULL || len == 0)
    {
      gpgme_free (text);
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot export the OpenPGP key of %s: "
                   "gpg wrote nothing", address);
      goto out;
    }
  bytes = g_bytes_new (text, len);
  gpgme_free (text);
  if (fingerprints_out != NULL)
    *fingerprints_out = (char **) g_ptr_array_free (g_steal_pointer (&fprs), FALSE);
  if (own_out != NULL)
    *own_out = secret->len > 0;
out:
  gpgme_data_release (out);
  gpgme_release (ctx);
  return bytes;
}

gboolean
pst_pgp_keys_set_expiry (const char *home, const char *address, const char *passphrase,
                         guint64 expires_s, char **fingerprint_out, gint64 *expires_out,
                         GError **error)
{
  gpgme_ctx_t ctx;
  gpgme_key_t key = NULL, after = NULL;
  gpgme_error_t err;
  g_autoptr (GString) subkeys = g_string_new (NULL);
  gboolean ok = FALSE;

  if (!is_address (address))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not an e-mail address",
                   address ? address : "");
      return FALSE;
    }
  if (!(ctx = open_ctx (home, error)))
    return FALSE;
  if (!(key = own_key (ctx, address, error)))
    goto out;
  use_passphrase (ctx, passphrase);
  /* The subkeys that encrypt (an expired one too: extending it is the
   * point), named one by one: "*" would skip expired ones. */
  for (gpgme_subkey_t s = key->subkeys ? key->subkeys->next : NULL; s != NULL; s = s->next)
    if (s->can_encrypt && !s->revoked && s->fpr != NULL)
      g_string_append_printf (subkeys, "%s%s", subkeys->len ? "\n" : "", s->fpr);
  err = gpgme_op_setexpire (ctx, key, (unsigned long) expires_s, NULL, 0);
  if (!err && subkeys->len > 0)
    err = gpgme_op_setexpire (ctx, key, (unsigned long) expires_s, subkeys->str, 0);
  if (err)
    {
      set_key_error (error, "extend", address, passphrase, err);
      goto out;
    }
  if ((err = gpgme_get_key (ctx, key->fpr, &after, 0)) != 0)
    {
      set_key_error (error, "read back", address, passphrase, err);
      goto out;
    }
  if (fingerprint_out != NULL)
    *fingerprint_out = g_strdup (key->fpr);
  if (expires_out != NULL)
    *expires_out = after->subkeys != NULL ? after->subkeys->expires : 0;
  ok = TRUE;
out:
  if (key != NULL)
    gpgme_key_unref (key);
  if (after != NULL)
    gpgme_key_unref (after);
  gpgme_release (ctx);
  return ok;
}

typedef struct {
  PstPgpRevokeReason reason;
  guint prompts;         /* keyedit.prompt answered so far */
  gboolean confirmed;    /* the revocation was confirmed */
  char *unexpected;      /* a question we have no answer to */
  gpgme_error_t failed;  /* the first ERROR status gpg gave */
} Revoke;

/* Answers gpg's --edit-key questions for "revkey" on the whole key (no
 * subkey selected) with the reason, and saves.  Any other question ends
 * the dialogue: better no revocation than one we did not mean. */
static gpgme_error_t
revoke_answer (void *hook, const char *status, const char *args, int fd)
{
  Revoke *r = hook;
  const char *answer = NULL;
  /* gpg's menu: 0 none, 1 compromised, 2 superseded, 3 no longer used. */
  char code[2] = { (char) ('0' + r->reason), '\0' };

  /* "ERROR keysig CODE": the revocation signature was not made (a wrong
   * or missing passphrase); gpg goes on to the next prompt regardless. */
  if (status != NULL && strcmp (status, "ERROR") == 0 && args != NULL && strchr (args, ' ') != NULL
      && r->failed == 0)
    r->failed = (gpgme_error_t) g_ascii_strtoull (strchr (args, ' ') + 1, NULL, 10);
  if (fd < 0 || status == NULL
      || (strcmp (status, "GET_LINE") != 0 && strcmp (status, "GET_BOOL") != 0))
    return 0;   /* status lines, and GET_HIDDEN: the passphrase callback's */
  if (strcmp (args, "keyedit.prompt") == 0)
    answer = r->prompts++ == 0 ? "revkey" : r->confirmed ? "save" : "quit";
  else if (strcmp (args, "keyedit.revoke.subkey.okay") == 0
           || strcmp (args, "keyedit.revoke.key.okay") == 0)
    answer = "y";
  else if (strcmp (args, "ask_revocation_reason.code") == 0)
    answer = code;
  else if (strcmp (args, "ask_revocation_reason.text") == 0)
    answer = "";
  else if (strcmp (args, "ask_revocation_reason.okay") == 0)
    {
      r->confirmed = TRUE;
      answer = "y";
    }
  else if (strcmp (args, "keyedit.save.okay") == 0)
    answer = "y";
  if (answer == NULL)
    {
      g_free (r->unexpected);
      r->unexpected = g_strdup (args);
      return gpg_error (GPG_ERR_CANCELED);
    }
  if (gpgme_io_writen (fd, answer, strlen (answer)) != 0 || gpgme_io_writen (fd, "\n", 1) != 0)
    return gpgme_error_from_syserror ();
  return 0;
}

gboolean
pst_pgp_keys_revoke (const char *home, const char *address, PstPgpRevokeReason reason,
                     const char *passphrase, char **fingerprint_out, GError **error)
{
  gpgme_ctx_t ctx;
  gpgme_key_t key = NULL, after = NULL;
  gpgme_error_t err;
  Revoke r = { .reason = reason };
  gpgme_data_t out = NULL;
  gboolean ok = FALSE;

  if (!is_address (address))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not an e-mail address",
                   address ? address : "");
      return FALSE;
    }
  if (!(ctx = open_ctx (home, error)))
    return FALSE;
  if (!(key = own_key (ctx, address, error)))
    goto out;
  use_passphrase (ctx, passphrase);
  /* gpg's listings during the dialogue: read by nobody, but GPGME wants
   * somewhere to put them. */
  err = gpgme_data_new (&out);
  if (!err)
    err = gpgme_op_interact (ctx, key, 0, revoke_answer, &r, out);
  if (!err && r.unexpected != NULL)
    err = gpg_error (GPG_ERR_CANCELED);
  if (!err && r.failed != 0)
    err = r.failed;
  if (err)
    {
      if (r.unexpected != NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot revoke the OpenPGP key of %s: "
                     "gpg asked '%s', which Postern does not answer", address, r.unexpected);
      else
        set_key_error (error, "revoke", address, passphrase, err);
      goto out;
    }
  /* What the keyring says now, not what the dialogue seemed to do. */
  if ((err = gpgme_get_key (ctx, key->fpr, &after, 0)) != 0 || !after->revoked)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "cannot revoke the OpenPGP key of %s: "
                   "gpg ended without revoking it%s%s", address, err ? ": " : "",
                   err ? gpgme_strerror (err) : "");
      goto out;
    }
  if (fingerprint_out != NULL)
    *fingerprint_out = g_strdup (key->fpr);
  ok = TRUE;
out:
  gpgme_data_release (out);
  g_free (r.unexpected);
  if (key != NULL)
    gpgme_key_unref (key);
  if (after != NULL)
    gpgme_key_unref (after);
  gpgme_release (ctx);
  return ok;
}
