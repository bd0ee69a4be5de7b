#include "crypto/pgp.h"

#include <errno.h>
#include <gio/gio.h>
#include <gpgme.h>
#include <openssl/crypto.h>
#include <string.h>

#include "crypto/pgp-private.h"
#include "crypto/remote.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"
#include "util/sink.h"

struct _PstPgp {
  gpgme_ctx_t ctx;
  char *home;          /* for the key cache; NULL: the default home */
  gsize max_output;    /* pst_pgp_set_output_limit */
  gboolean too_large;  /* the last consuming operation passed it */
  gboolean busy;       /* the last consuming operation found the shared
                        * budget held by others (sink.h) */
  gboolean not_encrypted;  /* the last decryption found no encrypted data */
  PstCryptoRemote *remote; /* not NULL: the agent does the work (remote.h) */
  PstPgpPreferKey prefer;  /* pst_pgp_set_preferred_key */
  gpointer prefer_data;
  gboolean direct;         /* pst_pgp_set_direct_default */
  gboolean keep_session_key;  /* pst_pgp_keep_session_key */
  char *session_key;       /* the last decryption's, kept; wiped when freed */
};

/* pst_pgp_set_direct_default: for the PstPgp objects a thread makes. */
static __thread gboolean direct_default;

void
pst_pgp_set_direct_default (gboolean direct)
{
  direct_default = direct;
}

/* Key lookups run gpg (about 17 ms each) and a message needs several: the
 * answers are kept process-wide for KEY_CACHE_TTL seconds, keyed by home,
 * kind and address, negative answers included.  pst_pgp_forget_keys()
 * drops them when keys change through Postern, pst_pgp_home_check when the
 * keyring files change under it. */
#define KEY_CACHE_TTL 30

typedef struct {
  gpgme_key_t key;     /* NULL: no usable key */
  gint64 at;
} CachedKey;

static GMutex key_cache_lock;
static GHashTable *key_cache;   /* char* -> CachedKey* */

static void
cached_key_free (CachedKey *c)
{
  if (c->key != NULL)
    gpgme_key_unref (c->key);
  g_free (c);
}

/* Addresses match with the local part exact and the domain in any case
 * (DESIGN.md §4), so only the domain is folded. */
static char *
cache_key (PstPgp *pgp, const char *kind, const char *what)
{
  g_autofree char *folded = g_strdup (what);
  char *at = strrchr (folded, '@');

  for (char *p = at ? at : folded + strlen (folded); *p; p++)
    *p = g_ascii_tolower (*p);
  return g_strdup_printf ("%s\n%s\n%s", pgp->home ? pgp->home : "", kind, folded);
}

/* TRUE when the cache knows; *key_out is then a new reference or NULL. */
static gboolean
cache_get (PstPgp *pgp, const char *kind, const char *what, gpgme_key_t *key_out)
{
  g_autofree char *k = cache_key (pgp, kind, what);
  CachedKey *c;
  gboolean found = FALSE;

  /* A keyring changed by gpg (a revocation imported) empties the cache. */
  pst_pgp_home_check (pgp->home);
  g_mutex_lock (&key_cache_lock);
  c = key_cache ? g_hash_table_lookup (key_cache, k) : NULL;
  if (c != NULL && g_get_monotonic_time () - c->at < (gint64) KEY_CACHE_TTL * G_USEC_PER_SEC)
    {
      if (c->key != NULL)
        gpgme_key_ref (c->key);
      *key_out = c->key;
      found = TRUE;
    }
  g_mutex_unlock (&key_cache_lock);
  return found;
}

static void
cache_put (PstPgp *pgp, const char *kind, const char *what, gpgme_key_t key)
{
  CachedKey *c = g_new0 (CachedKey, 1);

  c->key = key;
  if (key != NULL)
    gpgme_key_ref (key);
  c->at = g_get_monotonic_time ();
  g_mutex_lock (&key_cache_lock);
  if (key_cache == NULL)
    key_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) cached_key_free);
  g_hash_table_replace (key_cache, cache_key (pgp, kind, what), c);
  g_mutex_unlock (&key_cache_lock);
}

void
pst_pgp_forget_keys (void)
{
  g_mutex_lock (&key_cache_lock);
  if (key_cache != NULL)
    g_hash_table_remove_all (key_cache);
  g_mutex_unlock (&key_cache_lock);
  pst_pgp_autocrypt_forget ();
  pst_pgp_direct_forget ();
}

static void
set_crypto_error (GError **error, gpgme_error_t err, const char *what)
{
  g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "%s: %s", what, gpgme_strerror (err));
}

static gboolean
pgp_init (GError **error)
{
  static gsize done = 0;
  static gboolean ok = FALSE;

  if (g_once_init_enter (&done))
    {
      ok = gpgme_check_version (NULL) != NULL
           && gpgme_engine_check_version (GPGME_PROTOCOL_OpenPGP) == GPG_ERR_NO_ERROR;
      g_once_init_leave (&done, 1);
    }
  if (!ok)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                 "OpenPGP is not available: GPGME cannot run gpg");
  return ok;
}

PstPgp *
pst_pgp_new (const char *gnupg_home, GError **error)
{
  g_autoptr(PstPgp) pgp = g_new0 (PstPgp, 1);
  gpgme_error_t err;

  if (!pgp_init (error))
    return NULL;
  err = gpgme_new (&pgp->ctx);
  if (err == GPG_ERR_NO_ERROR)
    err = gpgme_set_protocol (pgp->ctx, GPGME_PROTOCOL_OpenPGP);
  if (err == GPG_ERR_NO_ERROR && gnupg_home != NULL)
    err = gpgme_ctx_set_engine_info (pgp->ctx, GPGME_PROTOCOL_OpenPGP, NULL, gnupg_home);
  if (err == GPG_ERR_NO_ERROR)
    err = gpgme_set_keylist_mode (pgp->ctx, GPGME_KEYLIST_MODE_LOCAL | GPGME_KEYLIST_MODE_WITH_KEYGRIP);
  if (err != GPG_ERR_NO_ERROR)
    {
      set_crypto_error (error, err, "cannot open the OpenPGP keyring");
      return NULL;
    }
  gpgme_set_armor (pgp->ctx, 1);
  gpgme_set_textmode (pgp->ctx, 0);
  pgp->home = g_strdup (gnupg_home);
  pgp->max_output = PST_DECRYPTION_MAX_OUTPUT;
  pgp->direct = direct_default;
  return g_steal_pointer (&pgp);
}

PstPgp *
pst_pgp_new_remote (PstCryptoRemote *remote)
{
  PstPgp *pgp = g_new0 (PstPgp, 1);

  pgp->remote = remote;
  pgp->max_output = PST_DECRYPTION_MAX_OUTPUT;
  return pgp;
}

void
pst_pgp_free (PstPgp *pgp)
{
  if (pgp == NULL)
    return;
  if (pgp->ctx != NULL)
    gpgme_release (pgp->ctx);
  pst_secret_free (pgp->session_key);
  g_free (pgp->home);
  g_free (pgp);
}

/* --- Session keys ----------------------------------------------------------- */

void
pst_pgp_keep_session_key (PstPgp *pgp, gboolean keep)
{
  pgp->keep_session_key = keep;
}

char *
pst_pgp_take_session_key (PstPgp *pgp)
{
  return g_steal_pointer (&pgp->session_key);
}

void
pst_pgp_use_session_key (PstPgp *pgp, const char *key)
{
  /* GPGME gives it to gpg by a descriptor (--override-session-key-fd),
   * not on the command line that ps shows.  An empty one clears it.  A
   * remote context (no GPGME context of its own) has none to use. */
  if (pgp->ctx == NULL)
    return;
  gpgme_set_ctx_flag (pgp->ctx, "override-session-key", key != NULL ? key : "");
}

/* --- Keys ---------------------------------------------------------------- */

static gboolean
key_has_address (gpgme_key_t key, const char *address)
{
  for (gpgme_user_id_t uid = key->uids; uid != NULL; uid = uid->next)
    if (!uid->revoked && !uid->invalid && pst_addr_equal (uid->email, address))
      return TRUE;
  return FALSE;
}

gpgme_subkey_t
pst_pgp_usable_subkey (gpgme_key_t key, gboolean secret)
{
  gpgme_subkey_t best = NULL;

  if (key->revoked || key->expired || key->disabled || key->invalid)
    return NULL;
  for (gpgme_subkey_t sk = key->subkeys; sk != NULL; sk = sk->next)
    {
      if (sk->revoked || sk->expired || sk->disabled || sk->invalid)
        continue;
      if (secret ? !(sk->can_sign && sk->secret) : !sk->can_encrypt)
        continue;
      if (best == NULL || sk->timestamp > best->timestamp)
        best = sk;
    }
  return best;
}

/* The creation time of the newest subkey that can do the job, or -1. */
static gint64
usable_subkey_time (gpgme_key_t key, gboolean secret)
{
  gpgme_subkey_t sk = pst_pgp_usable_subkey (key, secret);

  return sk != NULL ? (gint64) sk->timestamp : -1;
}

/* Transfer full; NULL without an error when no key qualifies. */
static gpgme_key_t
lookup_key (PstPgp *pgp, const char *address, gboolean secret, GError **error)
{
  g_autofree char *pattern = NULL;
  gpgme_key_t best = NULL;
  gint64 best_time = -1;
  gpgme_error_t err;

  g_autofree char *preferred = NULL, *kind = NULL;

  /* gpg would read these as other kinds of pattern; no user id holds them. */
  if (address == NULL || strpbrk (address, "<> \t\r\n") != NULL || strchr (address, '@') == NULL)
    return NULL;
  if (!secret && pgp->prefer != NULL)
    preferred = pgp->prefer (address, pgp->prefer_data);
  kind = preferred != NULL ? g_strconcat ("public:", preferred, NULL)
                           : g_strdup (secret ? "secret" : "public");
  if (cache_get (pgp, kind, address, &best))
    return best;
  /* "<addr>" asks gpg for an exact (case-insensitive) e-mail match; the
   * filter below is the one that counts. */
  pattern = g_strdup_printf ("<%s>", address);
  err = gpgme_op_keylist_start (pgp->ctx, pattern, secret ? 1 : 0);
  while (err == GPG_ERR_NO_ERROR)
    {
      gpgme_key_t key = NULL;
      gint64 t;

      err = gpgme_op_keylist_next (pgp->ctx, &key);
      if (err != GPG_ERR_NO_ERROR)
        break;
      t = usable_subkey_time (key, secret);
      /* The key the caller prefers, when usable, wins over a newer one. */
      if (t >= 0 && preferred != NULL && key->fpr != NULL
          && g_ascii_strcasecmp (key->fpr, preferred) == 0)
        t = G_MAXINT64;
      if (t >= 0 && key_has_address (key, address) && t > best_time)
        {
          if (best != NULL)
            gpgme_key_unref (best);
          best = key;
          best_time = t;
        }
      else
        gpgme_key_unref (key);
    }
  gpgme_op_keylist_end (pgp->ctx);
  if (gpgme_err_code (err) != GPG_ERR_EOF)
    {
      if (best != NULL)
        gpgme_key_unref (best);
      set_crypto_error (error, err, "cannot list OpenPGP keys");
      return NULL;
    }
  cache_put (pgp, kind, address, best);
  return best;
}

void
pst_pgp_set_preferred_key (PstPgp *pgp, PstPgpPreferKey prefer, gpointer user_data)
{
  pgp->prefer = prefer;
  pgp->prefer_data = user_data;
}

char *
pst_pgp_find_key (PstPgp *pgp, const char *address, gboolean secret, GError **error)
{
  GError *local = NULL;
  gpgme_key_t key = lookup_key (pgp, address, secret, &local);
  char *fpr;

  if (key == NULL)
    {
      if (local != NULL)
        g_propagate_error (error, local);
      else
        g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no OpenPGP %skey for: %s",
                     secret ? "secret " : "", address != NULL ? address : "(none)");
      return NULL;
    }
  fpr = g_strdup (key->fpr);
  gpgme_key_unref (key);
  return fpr;
}

static char *
prefer_own (const char *address, gpointer user_data)
{
  return pst_pgp_find_key (user_data, address, TRUE, NULL);
}

void
pst_pgp_prefer_own_keys (PstPgp *pgp)
{
  pst_pgp_set_preferred_key (pgp, prefer_own, pgp);
}

char *
pst_pgp_key_problem (PstPgp *pgp, const char *address)
{
  g_autofree char *pattern = NULL;
  char *why = NULL;
  gpgme_error_t err;

  if (address == NULL || strpbrk (address, "<> \t\r\n") != NULL || strchr (address, '@') == NULL)
    return NULL;
  pattern = g_strdup_printf ("<%s>", address);
  err = gpgme_op_keylist_start (pgp->ctx, pattern, 0);
  while (err == GPG_ERR_NO_ERROR && why == NULL)
    {
      gpgme_key_t key = NULL;
      gboolean has = FALSE;

      if ((err = gpgme_op_keylist_next (pgp->ctx, &key)) != GPG_ERR_NO_ERROR)
        break;
      for (gpgme_user_id_t uid = key->uids; uid != NULL; uid = uid->next)
        has = has || pst_addr_equal (uid->email, address);
      if (has)
        why = g_strdup (key->revoked ? "its OpenPGP key is revoked"
                        : key->expired ? "its OpenPGP key has expired"
                        : key->disabled ? "its OpenPGP key is disabled"
                        : key->invalid ? "its OpenPGP key is not valid"
                        : usable_subkey_time (key, FALSE) < 0
                          ? "its OpenPGP key has no usable encryption subkey (revoked or expired)"
                          : NULL);
      gpgme_key_unref (key);
    }
  gpgme_op_keylist_end (pgp->ctx);
  return why;
}

char **
pst_pgp_missing_keys (PstPgp *pgp, const char *const *addresses, GError **error)
{
  g_autoptr(GStrvBuilder) missing = g_strv_builder_new ();

  for (; addresses != NULL && *addresses != NULL; addresses++)
    {
      GError *local = NULL;
      gpgme_key_t key = lookup_key (pgp, *addresses, FALSE, &local);

      if (local != NULL)
        {
          g_propagate_error (error, local);
          return NULL;
        }
      if (key == NULL)
        g_strv_builder_add (missing, *addresses);
      else
        gpgme_key_unref (key);
    }
  return g_strv_builder_end (missing);
}

/* --- Producing ------------------------------------------------------------ */

static gboolean
set_signer (PstPgp *pgp, const char *signer, GError **error)
{
  gpgme_key_t key;
  gpgme_error_t err;
  GError *local = NULL;

  gpgme_signers_clear (pgp->ctx);
  key = lookup_key (pgp, signer, TRUE, &local);
  if (key == NULL)
    {
      if (local != NULL)
        g_propagate_error (error, local);
      else
        g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no OpenPGP secret key for: %s",
                     signer != NULL ? signer : "(none)");
      return FALSE;
    }
  err = gpgme_signers_add (pgp->ctx, key);
  gpgme_key_unref (key);
  if (err != GPG_ERR_NO_ERROR)
    {
      set_crypto_error (error, err, "cannot use the signing key");
      return FALSE;
    }
  return TRUE;
}

static GBytes *
data_to_bytes (gpgme_data_t data)
{
  size_t len = 0;
  char *buf = gpgme_data_release_and_get_mem (data, &len);
  GBytes *bytes = g_bytes_new (buf, len);

  gpgme_free (buf);
  return bytes;
}

/* gpg decompresses what it decrypts or verifies: its output goes to a
 * bounded sink, whose refusal makes GPGME stop the operation (and gpg). */
static ssize_t
sink_write_cb (void *handle, const void *buffer, size_t size)
{
  if (!pst_sink_write (handle, buffer, size))
    {
      errno = EFBIG;
      return -1;
    }
  return (ssize_t) size;
}

static struct gpgme_data_cbs sink_cbs = { NULL, sink_write_cb, NULL, NULL };

void
pst_pgp_set_output_limit (PstPgp *pgp, gsize max)
{
  pgp->max_output = max;
}

gboolean
pst_pgp_output_too_large (PstPgp *pgp)
{
  return pgp->too_large;
}

gboolean
pst_pgp_output_busy (PstPgp *pgp)
{
  return pgp->busy;
}

gboolean
pst_pgp_not_encrypted (PstPgp *pgp)
{
  return pgp->not_encrypted;
}

/* Records why @sink refused a write, if it did. */
static void
note_sink (PstPgp *pgp, PstSink *sink)
{
  pgp->too_large = pst_sink_state (sink) == PST_SINK_OVER;
  pgp->busy = pst_sink_state (sink) == PST_SINK_BUSY;
}

static gpgme_error_t
data_from_bytes (gpgme_data_t *out, GBytes *bytes)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (bytes, &len);

  return gpgme_data_new_from_mem (out, p != NULL ? p : "", len, 0);
}

/* The keys of @recipients, duplicates merged (NULL-terminated array of
 * gpgme_key_t, transfer full), or NULL with @error set. */
static GPtrArray *
recipient_keys (PstPgp *pgp, const char *const *recipients, GError **error)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) gpgme_key_unref);
  g_autoptr(GPtrArray) missing = g_ptr_array_new ();

  for (; recipients != NULL && *recipients != NULL; recipients++)
    {
      GError *local = NULL;
      gpgme_key_t key = lookup_key (pgp, *recipients, FALSE, &local);
      gboolean dup = FALSE;

      if (local != NULL)
        {
          g_propagate_error (error, local);
          return NULL;
        }
      if (key == NULL)
        {
          g_ptr_array_add (missing, (gpointer) *recipients);
          continue;
        }
      for (guint i = 0; i < keys->len && !dup; i++)
        dup = g_str_equal (((gpgme_key_t) keys->pdata[i])->fpr, key->fpr);
      if (dup)
        gpgme_key_unref (key);
      else
        g_ptr_array_add (keys, key);
    }
  if (missing->len > 0)
    {
      g_ptr_array_add (missing, NULL);
      g_autofree char *list = g_strjoinv (", ", (char **) missing->pdata);
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no OpenPGP key for: %s", list);
      return NULL;
    }
  if (keys->len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no recipients to encrypt to");
      return NULL;
    }
  g_ptr_array_add (keys, NULL);
  return g_steal_pointer (&keys);
}

/* Encrypts (and signs) @in into @out; the keys and trust rules of
 * pst_pgp_encrypt. */
static gboolean
encrypt_data (PstPgp *pgp, gpgme_data_t in, gpgme_data_t out, const char *const *recipients,
              const char *signer, GError **error)
{
  g_autoptr(GPtrArray) keys = recipient_keys (pgp, recipients, error);
  gpgme_key_t *k;
  gpgme_error_t err;
  gpgme_encrypt_result_t res;

  if (keys == NULL || (signer != NULL && !set_signer (pgp, signer, error)))
    return FALSE;
  k = (gpgme_key_t *) keys->pdata;
  /* An imported key counts as known (DESIGN.md §4), hence ALWAYS_TRUST.
   * No compression: compressing before encrypting lets the ciphertext's
   * length tell about the content, and mail attachments are mostly
   * compressed already; it also made a 1 GiB message four times slower. */
  if (signer != NULL)
    err = gpgme_op_encrypt_sign (pgp->ctx, k, GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS,
                                 in, out);
  else
    err = gpgme_op_encrypt (pgp->ctx, k, GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS,
                            in, out);
  gpgme_signers_clear (pgp->ctx);
  res = err == GPG_ERR_NO_ERROR ? gpgme_op_encrypt_result (pgp->ctx) : NULL;
  if (err == GPG_ERR_NO_ERROR && res != NULL && res->invalid_recipients != NULL)
    err = res->invalid_recipients->reason != GPG_ERR_NO_ERROR
          ? res->invalid_recipients->reason : gpg_error (GPG_ERR_UNUSABLE_PUBKEY);
  if (err == GPG_ERR_NO_ERROR && signer != NULL)
    {
      gpgme_sign_result_t sres = gpgme_op_sign_result (pgp->ctx);

      if (sres == NULL || sres->signatures == NULL || sres->invalid_signers != NULL)
        err = gpg_error (GPG_ERR_UNUSABLE_SECKEY);
    }
  if (err != GPG_ERR_NO_ERROR)
    {
      set_crypto_error (error, err, "OpenPGP encryption failed");
      return FALSE;
    }
  return TRUE;
}

/* pst_pgp_direct_encrypt with the keys encrypt_data would use, when
 * @pgp may; NULL: use gpg (which also says what is wrong, if anything). */
static GBytes *
direct_encrypt (PstPgp *pgp, GBytes *data, const char *const *recipients, const char *signer)
{
  g_autoptr(GPtrArray) keys = NULL;
  gpgme_key_t skey = NULL;
  GBytes *result;

  /* Options in gpg.conf that change what gpg writes (encrypt-to,
   * throw-keyids, …) are not done in process: gpg then writes. */
  if (!pgp->direct || pgp->remote != NULL || !pst_pgp_home_check (pgp->home)
      || !(keys = recipient_keys (pgp, recipients, NULL))
      || (signer != NULL && !(skey = lookup_key (pgp, signer, TRUE, NULL))))
    return NULL;
  result = pst_pgp_direct_encrypt (pgp->home, (gpgme_key_t *) keys->pdata, skey, data);
  if (skey != NULL)
    gpgme_key_unref (skey);
  return result;
}

GBytes *
pst_pgp_encrypt (PstPgp *pgp, GBytes *data, const char *const *recipients,
                 const char *signer, GError **error)
{
  gpgme_data_t in = NULL, out = NULL;
  gpgme_error_t err;
  gboolean ok;
  GBytes *direct = direct_encrypt (pgp, data, recipients, signer);

  if (direct != NULL)
    return direct;

  err = data_from_bytes (&in, data);
  if (err == GPG_ERR_NO_ERROR)
    err = gpgme_data_new (&out);
  if (err != GPG_ERR_NO_ERROR)
    {
      if (in != NULL)
        gpgme_data_release (in);
      set_crypto_error (error, err, "OpenPGP encryption failed");
      return NULL;
    }
  ok = encrypt_data (pgp, in, out, recipients, signer, error);
  gpgme_data_release (in);
  if (!ok)
    {
      gpgme_data_release (out);
      return NULL;
    }
  return data_to_bytes (out);
}

/* --- Streams ---------------------------------------------------------------- */

/* GPGME data on a GIO stream: GPGME reads and writes through these in
 * chunks of its own (a few KiB), so nothing grows with the message.  A GIO
 * error is kept here and reported instead of GPGME's. */
typedef struct {
  GInputStream *in;
  GOutputStream *out;
  GError *error;
  GBytes *prefix;      /* read before @in (direct_encrypt_stream) */
  gsize prefix_off;
  gboolean bounded;    /* @in must give exactly @left bytes more (the _from functions) */
  guint64 left;
} StreamCb;

static ssize_t
stream_read_cb (void *handle, void *buffer, size_t size)
{
  StreamCb *cb = handle;
  gssize n;

  if (cb->error != NULL)
    {
      errno = EIO;
      return -1;
    }
  if (cb->prefix != NULL && cb->prefix_off < g_bytes_get_size (cb->prefix))
    {
      gsize left = g_bytes_get_size (cb->prefix) - cb->prefix_off;

      n = (gssize) MIN (left, size);
      memcpy (buffer, (const guint8 *) g_bytes_get_data (cb->prefix, NULL) + cb->prefix_off, (gsize) n);
      cb->prefix_off += (gsize) n;
      return n;
    }
  if (size == 0)
    return 0;
  if (cb->bounded)
    {
      if (cb->left == 0)
        return 0;
      size = (size_t) MIN ((guint64) size, cb->left);
    }
  n = g_input_stream_read (cb->in, buffer, MIN (size, (size_t) G_MAXSSIZE), NULL, &cb->error);
  if (n == 0 && cb->bounded)
    {
      g_set_error (&cb->error, PST_ERROR, PST_ERROR_FAILED,
                   "the data ended %" G_GUINT64_FORMAT " bytes early", cb->left);
      n = -1;
    }
  if (n < 0)
    {
      errno = EIO;
      return -1;
    }
  if (cb->bounded)
    cb->left -= (guint64) n;
  return n;
}

static ssize_t
stream_write_cb (void *handle, const void *buffer, size_t size)
{
  StreamCb *cb = handle;
  gsize done = 0;

  if (cb->error != NULL || !g_output_stream_write_all (cb->out, buffer, size, &done, NULL, &cb->error))
    {
      errno = EIO;
      return -1;
    }
  return (ssize_t) size;
}

static struct gpgme_data_cbs stream_read_cbs = { stream_read_cb, NULL, NULL, NULL };
static struct gpgme_data_cbs stream_write_cbs = { NULL, stream_write_cb, NULL, NULL };

/* GPGME moves a stream's bytes between gpg's pipe and the callbacks 4 KiB
 * at a time (a poll, a read or write, a callback each) unless the data
 * object's "io-buffer-size" says otherwise (GPGME 1.16 on): a pipe's
 * capacity, 64 KiB, here.  A GPGME that does not know the flag keeps its
 * default, which works as before. */
#define STREAM_IO_BUFFER "65536"

static gpgme_error_t
stream_data_new (gpgme_data_t *dh, struct gpgme_data_cbs *cbs, StreamCb *cb)
{
  gpgme_error_t err = gpgme_data_new_from_cbs (dh, cbs, cb);

  if (err == GPG_ERR_NO_ERROR)
    (void) gpgme_data_set_flag (*dh, "io-buffer-size", STREAM_IO_BUFFER);
  return err;
}

/* Replaces GPGME's error in @error by the stream's, which says more. */
static void
prefer_stream_error (StreamCb *a, StreamCb *b, GError **error)
{
  GError *e = a->error != NULL ? a->error : b->error;

  if (e == NULL)
    return;
  if (error != NULL && *error != NULL)
    g_clear_error (error);
  g_propagate_prefixed_error (error, g_error_copy (e), "OpenPGP: ");
}

/* Frees a buffer of PST_PGP_DIRECT_MAX_INPUT + 1 bytes, wiped. */
static void
wipe_input (gpointer buf)
{
  OPENSSL_cleanse (buf, PST_PGP_DIRECT_MAX_INPUT + 1);
  g_free (buf);
}

/* Reads up to PST_PGP_DIRECT_MAX_INPUT bytes of @in into *@prefix_out
 * and, when that was all of it, encrypts them with direct_encrypt into
 * @out.  TRUE: done (or failed, @error set); FALSE: gpg does the rest,
 * beginning with *@prefix_out. */
static gboolean
direct_encrypt_stream (PstPgp *pgp, GInputStream *in, GOutputStream *out,
                       const char *const *recipients, const char *signer, GBytes **prefix_out,
                       gboolean *ok_out, GError **error)
{
  g_autoptr(GBytes) data = NULL, armored = NULL;
  gsize done = 0;
  guint8 *buf;

  *ok_out = FALSE;
  if (!pgp->direct)
    return FALSE;
  buf = g_malloc (PST_PGP_DIRECT_MAX_INPUT + 1);
  if (!g_input_stream_read_all (in, buf, PST_PGP_DIRECT_MAX_INPUT + 1, &done, NULL, error))
    {
      wipe_input (buf);
      g_prefix_error (error, "OpenPGP: ");
      return TRUE;
    }
  /* Not reallocated (that would leave a copy of the plaintext behind),
   * and wiped when freed. */
  data = g_bytes_new_with_free_func (buf, done, wipe_input, buf);
  *prefix_out = g_bytes_ref (data);
  if (done > PST_PGP_DIRECT_MAX_INPUT
      || !(armored = direct_encrypt (pgp, data, recipients, signer)))
    return FALSE;
  *ok_out = g_output_stream_write_all (out, g_bytes_get_data (armored, NULL),
                                       g_bytes_get_size (armored), NULL, NULL, error);
  if (!*ok_out)
    g_prefix_error (error, "OpenPGP: ");
  return TRUE;
}

gboolean
pst_pgp_encrypt_stream (PstPgp *pgp, GInputStream *in, GOutputStream *out,
                        const char *const *recipients, const char *signer, GError **error)
{
  StreamCb icb = { .in = in }, ocb = { .out = out };
  gpgme_data_t din = NULL, dout = NULL;
  gpgme_error_t err;
  gboolean ok = FALSE;
  g_autoptr(GBytes) prefix = NULL;

  if (direct_encrypt_stream (pgp, in, out, recipients, signer, &prefix, &ok, error))
    return ok;
  icb.prefix = prefix;

  err = stream_data_new (&din, &stream_read_cbs, &icb);
  if (err == GPG_ERR_NO_ERROR)
    err = stream_data_new (&dout, &stream_write_cbs, &ocb);
  if (err != GPG_ERR_NO_ERROR)
    set_crypto_error (error, err, "OpenPGP encryption failed");
  else
    {
      ok = encrypt_data (pgp, din, dout, recipients, signer, error);
      if (icb.error != NULL || ocb.error != NULL)
        {
          prefer_stream_error (&icb, &ocb, error);
          ok = FALSE;
        }
    }
  if (din != NULL)
    gpgme_data_release (din);
  if (dout != NULL)
    gpgme_data_release (dout);
  g_clear_error (&icb.error);
  g_clear_error (&ocb.error);
  return ok;
}

/* A detached signature over @in by @signer's key, armored, into a new
 * buffer; @micalg_out (may be NULL) as pst_pgp_sign_detached's. */
static GBytes *
sign_data (PstPgp *pgp, gpgme_data_t in, const char *signer, char **micalg_out, GError **error)
{
  gpgme_data_t out = NULL;
  gpgme_error_t err;
  gpgme_sign_result_t res = NULL;
  const char *hash = NULL;

  if (!set_signer (pgp, signer, error))
    return NULL;
  err = gpgme_data_new (&out);
  if (err == GPG_ERR_NO_ERROR)
    err = gpgme_op_sign (pgp->ctx, in, out, GPGME_SIG_MODE_DETACH);
  gpgme_signers_clear (pgp->ctx);
  if (err == GPG_ERR_NO_ERROR)
    {
      res = gpgme_op_sign_result (pgp->ctx);
      if (res == NULL || res->signatures == NULL || res->invalid_signers != NULL)
        err = gpg_error (GPG_ERR_UNUSABLE_SECKEY);
      else
        hash = gpgme_hash_algo_name (res->signatures->hash_algo);
    }
  if (err == GPG_ERR_NO_ERROR && hash == NULL)
    err = gpg_error (GPG_ERR_DIGEST_ALGO);
  if (err != GPG_ERR_NO_ERROR)
    {
      if (out != NULL)
        gpgme_data_release (out);
      set_crypto_error (error, err, "OpenPGP signing failed");
      return NULL;
    }
  if (micalg_out != NULL)
    {
      g_autofree char *lower = g_ascii_strdown (hash, -1);
      *micalg_out = g_strconcat ("pgp-", lower, NULL);
    }
  return data_to_bytes (out);
}

GBytes *
pst_pgp_sign_detached (PstPgp *pgp, GBytes *data, const char *signer,
                       char **micalg_out, GError **error)
{
  gpgme_data_t in = NULL;
  gpgme_error_t err = data_from_bytes (&in, data);
  GBytes *sig;

  if (err != GPG_ERR_NO_ERROR)
    {
      set_crypto_error (error, err, "OpenPGP signing failed");
      return NULL;
    }
  sig = sign_data (pgp, in, signer, micalg_out, error);
  gpgme_data_release (in);
  return sig;
}

char *
pst_pgp_sign_micalg (PstPgp *pgp, const char *signer, GError **error)
{
  g_autoptr(GBytes) none = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) sig = NULL;
  char *micalg = NULL;

  sig = pst_pgp_sign_detached (pgp, none, signer, &micalg, error);
  return sig != NULL ? micalg : NULL;
}

/* Reads as stream_read_cb, and writes what it read to cb->out too. */
static ssize_t
stream_tee_read_cb (void *handle, void *buffer, size_t size)
{
  StreamCb *cb = handle;
  ssize_t n = stream_read_cb (handle, buffer, size);

  if (n > 0 && cb->out != NULL
      && !g_output_stream_write_all (cb->out, buffer, (gsize) n, NULL, NULL, &cb->error))
    {
      errno = EIO;
      return -1;
    }
  return n;
}

static struct gpgme_data_cbs stream_tee_cbs = { stream_tee_read_cb, NULL, NULL, NULL };

GBytes *
pst_pgp_sign_detached_stream (PstPgp *pgp, GInputStream *in, GOutputStream *copy,
                              const char *signer, char **micalg_out, GError **error)
{
  StreamCb icb = { .in = in, .out = copy }, none = { 0 };
  gpgme_data_t din = NULL;
  gpgme_error_t err = stream_data_new (&din, &stream_tee_cbs, &icb);
  GBytes *sig = NULL;

  if (err != GPG_ERR_NO_ERROR)
    set_crypto_error (error, err, "OpenPGP signing failed");
  else
    {
      sig = sign_data (pgp, din, signer, micalg_out, error);
      if (icb.error != NULL)
        {
          prefer_stream_error (&icb, &none, error);
          g_clear_pointer (&sig, g_bytes_unref);
          if (micalg_out != NULL)
            g_clear_pointer (micalg_out, g_free);
        }
    }
  if (din != NULL)
    gpgme_data_release (din);
  g_clear_error (&icb.error);
  return sig;
}

/* --- Consuming ------------------------------------------------------------ */

void
pst_pgp_signature_free (PstPgpSignature *sig)
{
  if (sig == NULL)
    return;
  g_free (sig->fingerprint);
  g_strfreev (sig->addresses);
  g_free (sig);
}

static gboolean
hash_is_weak (gpgme_hash_algo_t algo)
{
  switch (algo)
    {
    case GPGME_MD_SHA256:
    case GPGME_MD_SHA384:
    case GPGME_MD_SHA512:
    case GPGME_MD_SHA224:
      return FALSE;
    default:
      return TRUE;   /* SHA-1, MD5, RIPEMD-160 and anything we do not know */
    }
}

static PstSigStatus
map_sig_status (gpgme_signature_t s)
{
  PstSigStatus st;

  switch (gpgme_err_code (s->status))
    {
    case GPG_ERR_NO_ERROR: st = PST_SIG_GOOD; break;
    case GPG_ERR_BAD_SIGNATURE: st = PST_SIG_BAD; break;
    case GPG_ERR_SIG_EXPIRED: st = PST_SIG_BAD; break;
    case GPG_ERR_NO_PUBKEY: st = PST_SIG_UNKNOWN_KEY; break;
    case GPG_ERR_KEY_EXPIRED: st = PST_SIG_EXPIRED_KEY; break;
    case GPG_ERR_CERT_REVOKED: st = PST_SIG_REVOKED_KEY; break;
    default: st = PST_SIG_ERROR; break;
    }
  if (st == PST_SIG_GOOD || st == PST_SIG_EXPIRED_KEY)
    {
      if (s->summary & GPGME_SIGSUM_KEY_REVOKED)
        st = PST_SIG_REVOKED_KEY;
      else if (s->summary & GPGME_SIGSUM_KEY_EXPIRED)
        st = PST_SIG_EXPIRED_KEY;
    }
  return st;
}

/* The key with fingerprint @fpr, from the cache or from gpg. */
static gboolean
signer_key (PstPgp *pgp, gpgme_ctx_t ctx, const char *fpr, gpgme_key_t *key_out)
{
  if (cache_get (pgp, "fpr", fpr, key_out))
    return *key_out != NULL;
  if (gpgme_get_key (ctx, fpr, key_out, 0) != GPG_ERR_NO_ERROR)
    *key_out = NULL;
  cache_put (pgp, "fpr", fpr, *key_out);
  return *key_out != NULL;
}

static PstPgpSignature *
signature_from_result (PstPgp *pgp, gpgme_ctx_t ctx, gpgme_verify_result_t res)
{
  PstPgpSignature *sig = g_new0 (PstPgpSignature, 1);
  g_autoptr(GStrvBuilder) addrs = g_strv_builder_new ();
  gpgme_signature_t s;
  gpgme_key_t key = NULL;

  sig->status = PST_SIG_NONE;
  for (s = res != NULL ? res->signatures : NULL; s != NULL; s = s->next)
    sig->count++;
  s = res != NULL ? res->signatures : NULL;
  if (s != NULL)
    {
      sig->status = map_sig_status (s);
      sig->created = s->timestamp;
      sig->weak_digest = hash_is_weak (s->hash_algo);
      if (sig->weak_digest && sig->status == PST_SIG_GOOD)
        sig->status = PST_SIG_BAD;
      sig->fingerprint = g_strdup (s->fpr);
      if (s->fpr != NULL && sig->status != PST_SIG_UNKNOWN_KEY
          && signer_key (pgp, ctx, s->fpr, &key))
        {
          if (key->fpr != NULL)
            {
              g_free (sig->fingerprint);
              sig->fingerprint = g_strdup (key->fpr);
            }
          for (gpgme_user_id_t uid = key->uids; uid != NULL; uid = uid->next)
            if (!uid->revoked && !uid->invalid && uid->email != NULL && *uid->email != '\0')
              g_strv_builder_add (addrs, uid->email);
          gpgme_key_unref (key);
        }
    }
  sig->addresses = g_strv_builder_end (addrs);
  return sig;
}

/* GPGME flags a missing MDC only for legacy ciphers (legacy_cipher_nomdc);
 * gpg says it for every cipher in DECRYPTION_INFO <mdc_method> <algo>
 * [<aead_algo>], so read that line. */
static gpgme_error_t
watch_status (void *opaque, const char *keyword, const char *args)
{
  gboolean *no_mdc = opaque;

  if (g_strcmp0 (keyword, "DECRYPTION_INFO") == 0 && args != NULL)
    {
      g_auto(GStrv) f = g_strsplit (args, " ", -1);
      gboolean mdc = f[0] != NULL && g_strcmp0 (f[0], "0") != 0;
      gboolean aead = f[0] != NULL && f[1] != NULL && f[2] != NULL && g_strcmp0 (f[2], "0") != 0;

      if (!mdc && !aead)
        *no_mdc = TRUE;
    }
  return GPG_ERR_NO_ERROR;
}

/* Decrypts and verifies @in into @out.  On failure @integrity_out says
 * why (see pst_pgp_decrypt_verify) and @error is set. */
static gboolean
decrypt_data (PstPgp *pgp, gpgme_data_t in, gpgme_data_t out, PstPgpSignature **sig_out,
              PstIntegrity *integrity_out, GError **error)
{
  gpgme_error_t err;
  gpgme_decrypt_result_t dres;
  PstIntegrity integrity = PST_INTEGRITY_OK;
  gboolean no_mdc = FALSE;

  gpgme_set_ctx_flag (pgp->ctx, "full-status", "1");
  if (pgp->keep_session_key)
    gpgme_set_ctx_flag (pgp->ctx, "export-session-key", "1");
  gpgme_set_status_cb (pgp->ctx, watch_status, &no_mdc);
  err = gpgme_op_decrypt_verify (pgp->ctx, in, out);
  gpgme_set_status_cb (pgp->ctx, NULL, NULL);
  gpgme_set_ctx_flag (pgp->ctx, "full-status", "0");

  dres = gpgme_op_decrypt_result (pgp->ctx);
  if (pgp->keep_session_key)
    {
      gpgme_set_ctx_flag (pgp->ctx, "export-session-key", "0");
      pst_secret_free (g_steal_pointer (&pgp->session_key));
      if (err == GPG_ERR_NO_ERROR && dres != NULL && dres->session_key != NULL)
        {
          pgp->session_key = g_strdup (dres->session_key);
          /* GPGME's copy goes with the result, unwiped: wiped here. */
          explicit_bzero (dres->session_key, strlen (dres->session_key));
        }
    }
  /* gpg found no encrypted session key at all: signed (or bare literal)
   * data, which is no failed decryption but no decryption either. */
  pgp->not_encrypted = gpgme_err_code (err) == GPG_ERR_NO_DATA
                       && (dres == NULL || dres->recipients == NULL);
  if (no_mdc || (dres != NULL && dres->legacy_cipher_nomdc))
    {
      integrity = PST_INTEGRITY_MISSING;
      if (err == GPG_ERR_NO_ERROR)
        err = gpg_error (GPG_ERR_DECRYPT_FAILED);
    }
  else if (err != GPG_ERR_NO_ERROR)
    {
      gboolean no_key = gpgme_err_code (err) == GPG_ERR_NO_SECKEY;

      if (gpgme_err_code (err) == GPG_ERR_DECRYPT_FAILED && dres != NULL
          && dres->recipients != NULL)
        {
          no_key = TRUE;
          for (gpgme_recipient_t r = dres->recipients; r != NULL; r = r->next)
            if (gpgme_err_code (r->status) != GPG_ERR_NO_SECKEY)
              no_key = FALSE;
        }
      integrity = no_key ? PST_INTEGRITY_NONE : PST_INTEGRITY_FAILED;
    }

  if (err != GPG_ERR_NO_ERROR)
    {
      if (integrity_out != NULL)
        *integrity_out = integrity;
      if (integrity == PST_INTEGRITY_MISSING)
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                     "OpenPGP decryption failed: the message is not integrity protected");
      else
        set_crypto_error (error, err, "OpenPGP decryption failed");
      return FALSE;
    }
  if (sig_out != NULL)
    *sig_out = signature_from_result (pgp, pgp->ctx, gpgme_op_verify_result (pgp->ctx));
  if (integrity_out != NULL)
    *integrity_out = integrity;
  return TRUE;
}

/* Refuses what a consuming operation wrote past the limit, or stopped
 * writing for want of shared budget, whatever GPGME made of the refused
 * write.  Only the first is about the message. */
static gboolean
check_sink (PstPgp *pgp, PstSink *sink, PstPgpSignature **sig_out, PstIntegrity *integrity_out,
            GError **error)
{
  note_sink (pgp, sink);
  if (!pgp->too_large && !pgp->busy)
    return TRUE;
  if (sig_out != NULL)
    g_clear_pointer (sig_out, pst_pgp_signature_free);
  if (integrity_out != NULL)
    *integrity_out = PST_INTEGRITY_NONE;
  if (error != NULL)
    g_clear_error (error);
  if (pgp->busy)
    pst_sink_set_busy_error (error);
  else
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                 "OpenPGP decryption stopped: the content expands past the %" G_GSIZE_FORMAT
                 " MiB that Postern decompresses at most (a compression bomb?); the message is kept"
                 " as received", PST_DECRYPTION_MAX_OUTPUT / (1024 * 1024));
  return FALSE;
}

/* Decrypts @in (released here; @size its length, a hint for the output)
 * into a sink: pst_pgp_decrypt_verify's work.  @icb: the stream behind @in,
 * or NULL; when it failed, @unread is set and @error is its error, which is
 * about the data's source, not the message. */
static gboolean
decrypt_to_sink (PstPgp *pgp, gpgme_data_t in, gsize size, StreamCb *icb, GBytes **plain_out,
                 PstPgpSignature **sig_out, PstIntegrity *integrity_out, gboolean *unread,
                 GError **error)
{
  gpgme_data_t out = NULL;
  g_autoptr(PstSink) sink = pst_sink_new (pgp->max_output, size);
  g_autoptr(PstPgpSignature) sig = NULL;
  PstIntegrity integrity = PST_INTEGRITY_FAILED;
  gpgme_error_t err = gpgme_data_new_from_cbs (&out, &sink_cbs, sink);
  gboolean ok = FALSE;

  if (err != GPG_ERR_NO_ERROR)
    set_crypto_error (error, err, "OpenPGP decryption failed");
  else
    {
      ok = decrypt_data (pgp, in, out, &sig, &integrity, error);
      gpgme_data_release (out);
    }
  gpgme_data_release (in);
  if (icb != NULL && icb->error != NULL)
    {
      g_clear_error (error);
      g_propagate_error (error, g_steal_pointer (&icb->error));
      *unread = TRUE;
      ok = FALSE;
      integrity = PST_INTEGRITY_FAILED;
    }
  else if (err == GPG_ERR_NO_ERROR)
    ok = check_sink (pgp, sink, &sig, &integrity, error) && ok;
  if (integrity_out != NULL)
    *integrity_out = integrity;
  if (!ok)
    return FALSE;
  if (sig_out != NULL)
    *sig_out = g_steal_pointer (&sig);
  if (plain_out != NULL)
    *plain_out = pst_sink_steal (sink);
  return TRUE;
}

gboolean
pst_pgp_decrypt_verify (PstPgp *pgp, GBytes *ciphertext, GBytes **plain_out,
                        PstPgpSignature **sig_out, PstIntegrity *integrity_out,
                        GError **error)
{
  gpgme_data_t in = NULL;
  gpgme_error_t err;

  pgp->too_large = pgp->busy = pgp->not_encrypted = FALSE;
  if (pgp->remote != NULL)
    return pst_crypto_remote_pgp_decrypt (pgp->remote, pgp->max_output, ciphertext, plain_out,
                                          sig_out, integrity_out, &pgp->too_large, &pgp->busy,
                                          &pgp->not_encrypted, error);
  err = data_from_bytes (&in, ciphertext);
  if (err != GPG_ERR_NO_ERROR)
    {
      if (integrity_out != NULL)
        *integrity_out = PST_INTEGRITY_FAILED;
      set_crypto_error (error, err, "OpenPGP decryption failed");
      return FALSE;
    }
  return decrypt_to_sink (pgp, in, g_bytes_get_size (ciphertext), NULL, plain_out, sig_out,
                          integrity_out, NULL, error);
}

gboolean
pst_pgp_decrypt_verify_from (PstPgp *pgp, GInputStream *in, guint64 size, GBytes **plain_out,
                             PstPgpSignature **sig_out, PstIntegrity *integrity_out,
                             gboolean *unread, GError **error)
{
  StreamCb icb = { .in = in, .bounded = TRUE, .left = size };
  gpgme_data_t din = NULL;
  gpgme_error_t err;
  gboolean ok;

  g_return_val_if_fail (pgp->remote == NULL, FALSE);
  pgp->too_large = pgp->busy = pgp->not_encrypted = FALSE;
  *unread = FALSE;
  err = stream_data_new (&din, &stream_read_cbs, &icb);
  if (err != GPG_ERR_NO_ERROR)
    {
      if (integrity_out != NULL)
        *integrity_out = PST_INTEGRITY_FAILED;
      set_crypto_error (error, err, "OpenPGP decryption failed");
      return FALSE;
    }
  ok = decrypt_to_sink (pgp, din, (gsize) MIN (size, (guint64) G_MAXSIZE), &icb, plain_out,
                        sig_out, integrity_out, unread, error);
  g_clear_error (&icb.error);
  return ok;
}

gboolean
pst_pgp_decrypt_stream (PstPgp *pgp, GInputStream *in, GOutputStream *out,
                        PstPgpSignature **sig_out, PstIntegrity *integrity_out, GError **error)
{
  StreamCb icb = { .in = in }, ocb = { .out = out };
  gpgme_data_t din = NULL, dout = NULL;
  gpgme_error_t err;
  PstIntegrity integrity = PST_INTEGRITY_FAILED;
  g_autoptr(PstPgpSignature) sig = NULL;
  gboolean ok = FALSE;

  err = stream_data_new (&din, &stream_read_cbs, &icb);
  if (err == GPG_ERR_NO_ERROR)
    err = stream_data_new (&dout, &stream_write_cbs, &ocb);
  if (err != GPG_ERR_NO_ERROR)
    set_crypto_error (error, err, "OpenPGP decryption failed");
  else
    {
      ok = decrypt_data (pgp, din, dout, &sig, &integrity, error);
      if (icb.error != NULL || ocb.error != NULL)
        {
          /* A stream that failed is not a verdict on the message. */
          prefer_stream_error (&icb, &ocb, error);
          if (ok)
            integrity = PST_INTEGRITY_FAILED;
          ok = FALSE;
        }
    }
  if (din != NULL)
    gpgme_data_release (din);
  if (dout != NULL)
    gpgme_data_release (dout);
  g_clear_error (&icb.error);
  g_clear_error (&ocb.error);
  if (integrity_out != NULL)
    *integrity_out = integrity;
  if (ok && sig_out != NULL)
    *sig_out = g_steal_pointer (&sig);
  return ok;
}

/* Verifies @signature over @text (both released here; NULL @text: GPGME
 * could not make it, @err says why). */
static PstPgpSignature *
verify_detached_data (PstPgp *pgp, gpgme_data_t text, GBytes *signature, gpgme_error_t err)
{
  gpgme_data_t sig = NULL;
  PstPgpSignature *result;

  if (err == GPG_ERR_NO_ERROR)
    err = data_from_bytes (&sig, signature);
  if (err == GPG_ERR_NO_ERROR)
    err = gpgme_op_verify (pgp->ctx, sig, text, NULL);
  if (sig != NULL)
    gpgme_data_release (sig);
  if (text != NULL)
    gpgme_data_release (text);

  result = signature_from_result (pgp, pgp->ctx, err == GPG_ERR_NO_ERROR
                                            ? gpgme_op_verify_result (pgp->ctx) : NULL);
  if (err != GPG_ERR_NO_ERROR || result->status == PST_SIG_NONE)
    result->status = PST_SIG_ERROR;   /* a signature part that holds no signature */
  return result;
}

PstPgpSignature *
pst_pgp_verify_detached (PstPgp *pgp, GBytes *data, GBytes *signature)
{
  gpgme_data_t text = NULL;

  if (pgp->remote != NULL)
    return pst_crypto_remote_pgp_verify_detached (pgp->remote, data, signature);
  return verify_detached_data (pgp, text, signature, data_from_bytes (&text, data));
}

PstPgpSignature *
pst_pgp_verify_detached_from (PstPgp *pgp, GInputStream *in, guint64 size, GBytes *signature,
                              GError **error)
{
  StreamCb icb = { .in = in, .bounded = TRUE, .left = size };
  gpgme_data_t text = NULL;
  gpgme_error_t err;
  PstPgpSignature *result;

  g_return_val_if_fail (pgp->remote == NULL, NULL);
  err = stream_data_new (&text, &stream_read_cbs, &icb);
  result = verify_detached_data (pgp, text, signature, err);
  if (icb.error != NULL)
    {
      pst_pgp_signature_free (result);
      g_propagate_error (error, icb.error);
      return NULL;
    }
  return result;
}

PstPgpSignature *
pst_pgp_verify_cleartext (PstPgp *pgp, GBytes *block, GBytes **text_out)
{
  gpgme_data_t in = NULL, out = NULL;
  gpgme_error_t err;
  g_autoptr(PstSink) sink = NULL;
  PstPgpSignature *result;
  gboolean whole;

  if (pgp->remote != NULL)
    {
      pgp->too_large = pgp->busy = FALSE;
      return pst_crypto_remote_pgp_verify_cleartext (pgp->remote, pgp->max_output, block, text_out,
                                                     &pgp->too_large, &pgp->busy);
    }
  sink = pst_sink_new (pgp->max_output, g_bytes_get_size (block));
  err = data_from_bytes (&in, block);
  if (err == GPG_ERR_NO_ERROR)
    err = gpgme_data_new_from_cbs (&out, &sink_cbs, sink);
  if (err == GPG_ERR_NO_ERROR)
    err = gpgme_op_verify (pgp->ctx, in, NULL, out);
  if (in != NULL)
    gpgme_data_release (in);
  if (out != NULL)
    gpgme_data_release (out);
  note_sink (pgp, sink);
  whole = err == GPG_ERR_NO_ERROR && pst_sink_state (sink) == PST_SINK_OK;

  result = signature_from_result (pgp, pgp->ctx, whole ? gpgme_op_verify_result (pgp->ctx) : NULL);
  if (!whole || result->status == PST_SIG_NONE)
    result->status = PST_SIG_ERROR;
  if (text_out != NULL)
    *text_out = whole ? pst_sink_steal (sink) : NULL;
  return result;
}
