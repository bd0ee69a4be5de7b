/* methods-keys.c — keys.import, keys.list, keys.show, keys.remove: OpenPGP
 * keys in the agent's GnuPG home, X.509 certificates and PKCS#12 identities
 * in its S/MIME store; keys.unlock: an S/MIME identity's private key into
 * the agent's memory (DESIGN.md §10); keys.check: what send would do for
 * some recipients. */
#include <glib/gi18n.h>
#include <string.h>

#include "crypto/pgp-keys.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "handlers.h"
#include "outgoing.h"
#include "keysupport.h"
#include "methods-keyops.h"
#include "methods-keys.h"
#include "protect.h"
#include "reader.h"
#include "rpc/client.h"
#include "peers.h"
#include "rpc/frame.h"
#include "util/addr.h"
#include "store/keys.h"
#include "util/error.h"
#include "util/secret.h"

#define MAX_KEY_FILE (16u * 1024 * 1024)

/* The members DESIGN.md §6 gives every key of keys.list: scheme,
 * fingerprint, addresses, validity, source, first_seen, last_seen, and
 * replaces when it replaced another key for an address that nobody
 * vouched for. */
static void
add_record (JsonObject *o, PstStore *store, const char *scheme, const char *fingerprint,
            char **addresses, const char *validity)
{
  g_autofree char *replaces = pst_store_key_replaced (store, scheme, fingerprint, NULL);
  PstKeyRecord rec = { PST_KEY_SOURCE_IMPORTED, 0, 0 };
  gboolean known = pst_store_key_record (store, scheme, fingerprint, &rec, NULL);

  json_object_set_string_member (o, "scheme", scheme);
  json_object_set_string_member (o, "fingerprint", fingerprint);
  json_object_set_array_member (o, "addresses", pst_json_strv (addresses));
  json_object_set_string_member (o, "validity", validity);
  json_object_set_string_member (o, "source", pst_key_source_to_string (rec.source));
  if (known)
    {
      json_object_set_int_member (o, "first_seen", rec.first_seen);
      json_object_set_int_member (o, "last_seen", rec.last_seen);
    }
  else
    {
      json_object_set_null_member (o, "first_seen");
      json_object_set_null_member (o, "last_seen");
    }
  if (replaces != NULL)
    json_object_set_string_member (o, "replaces", replaces);
}

/* Records that the user imported these keys (store/keys.h): for each
 * address it binds. */
static void
learn_imported (PstStore *store, const char *scheme, const char *fingerprint, char **addresses)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  for (char **a = addresses; a != NULL && *a != NULL; a++)
    {
      g_autoptr (GError) error = NULL;

      if (!pst_store_key_learn (store, scheme, *a, fingerprint, PST_KEY_SOURCE_IMPORTED, NULL,
                                now, NULL, &error))
        g_warning ("keys: %s", error->message);
    }
}

static JsonObject *
pgp_key_json (PstStore *store, const PstPgpKeyInfo *k)
{
  JsonObject *o = json_object_new ();
  const char *status = k->revoked ? "revoked" : k->expired ? "expired" : k->disabled ? "disabled"
                     : k->invalid ? "invalid" : "valid";

  json_object_set_string_member (o, "type", "openpgp");
  json_object_set_string_member (o, "id", k->fingerprint);
  json_object_set_array_member (o, "uids", pst_json_strv (k->uids));
  json_object_set_array_member (o, "emails", pst_json_strv (k->emails));
  json_object_set_boolean_member (o, "secret", k->secret);
  json_object_set_string_member (o, "status", status);
  json_object_set_boolean_member (o, "can_encrypt", k->can_encrypt);
  json_object_set_boolean_member (o, "can_sign", k->can_sign);
  if (k->expires)
    json_object_set_int_member (o, "expires", k->expires);
  else
    json_object_set_null_member (o, "expires");
  add_record (o, store, "pgp", k->fingerprint, k->emails, status);
  return o;
}

static JsonObject *
cert_json (PstStore *store, const PstSmimeCertInfo *c)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "type", "x509");
  json_object_set_string_member (o, "id", c->fingerprint);
  json_object_set_string_member (o, "subject", c->subject ? c->subject : "");
  json_object_set_string_member (o, "issuer", c->issuer ? c->issuer : "");
  json_object_set_array_member (o, "emails", pst_json_strv (c->emails));
  json_object_set_boolean_member (o, "secret", c->has_key);
  if (c->has_key)
    {
      json_object_set_boolean_member (o, "locked", c->locked);
      json_object_set_string_member (o, "protection", pst_smime_key_protection_name (c->protection));
    }
  json_object_set_boolean_member (o, "trust_anchor", c->trust_anchor);
  json_object_set_boolean_member (o, "ca", c->is_ca);
  json_object_set_string_member (o, "status", c->expired ? "expired" : "valid");
  json_object_set_int_member (o, "expires", c->not_after);
  add_record (o, store, "smime", c->fingerprint, c->emails, c->expired ? "expired" : "valid");
  return o;
}

/* Imports a PKCS#12 file without a passphrase: its key is sealed under a
 * random key that goes into the Secret Service.  Without a reachable
 * Secret Service the import is refused rather than the key written in the
 * clear (DESIGN.md §10) or under a key kept next to it on disk, which
 * would protect nothing; the user can give a passphrase instead. */
static gboolean
import_wrapped (PstSmime *smime, GBytes *data, GPtrArray **imported_out, GError **error)
{
  g_autoptr (GPtrArray) imported = NULL;
  g_autoptr (GError) local = NULL;
  char *key = pst_keys_random_wrap_key (error);
  gboolean ok;

  if (key == NULL)
    return FALSE;
  ok = pst_smime_import_wrapped (smime, data, key, &imported, error);
  for (guint i = 0; ok && i < imported->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (imported, i);

      if (c->has_key
          && !pst_secret_service_store_smime_key (c->fingerprint, c->emails && c->emails[0]
                                                  ? c->emails[0] : c->fingerprint, key, &local))
        {
          pst_smime_remove (smime, c->fingerprint, NULL);
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       _("the PKCS#12 file has no passphrase and %s: give a passphrase to keep "
                         "its private key encrypted under on disk (--passphrase-fd N)"),
                       local->message);
          ok = FALSE;
        }
    }
  pst_secret_free (key);
  if (ok)
    *imported_out = g_steal_pointer (&imported);
  return ok;
}

/* The fingerprints of the identities kept under a Secret Service key. */
static GHashTable *
wrapped_identities (PstSmime *smime)
{
  g_autoptr (GPtrArray) certs = pst_smime_list (smime);
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < certs->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (certs, i);

      if (c->has_key && c->protection == PST_SMIME_KEY_SECRET_SERVICE)
        g_hash_table_add (set, g_strdup (c->fingerprint));
    }
  return set;
}

JsonObject *
pst_method_keys_import (PstCall *call, GError **error)
{
  g_autoptr (GBytes) data = NULL;
  g_autofree char *home = NULL;
  g_autoptr (GPtrArray) imported = NULL;
  g_autoptr (PstSmime) smime = NULL;
  g_autoptr (GBytes) passphrase = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GHashTable) wrapped = NULL;
  gboolean anchor = FALSE, ok;
  int fd, pfd;
  JsonArray *arr;
  JsonObject *r;

  if ((fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (pfd = pst_call_get_fd (call, "passphrase_fd", FALSE, error)) == -1
      || !pst_rpc_get_bool (call->params, "trust_anchor", FALSE, &anchor, error)
      || !(data = pst_fd_read_all (fd, MAX_KEY_FILE, error)))
    return NULL;
  arr = json_array_new ();
  if (pst_pgp_keys_looks_like_openpgp (data))
    {
      if (anchor)
        {
          json_array_unref (arr);
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "--trust-anchor applies to X.509 CA certificates, not to OpenPGP keys");
          return NULL;
        }
      home = pst_agent_get_gnupg_home (call->agent);
      if (!pst_pgp_keys_import (home, data, &imported, error))
        {
          json_array_unref (arr);
          return NULL;
        }
      for (guint i = 0; i < imported->len; i++)
        {
          PstPgpKeyInfo *k = g_ptr_array_index (imported, i);

          learn_imported (call->agent->store, "pgp", k->fingerprint, k->emails);
          json_array_add_object_element (arr, pgp_key_json (call->agent->store, k));
        }
    }
  else
    {
      if (pfd >= 0 && !(passphrase = pst_call_read_passphrase (pfd, error)))
        {
          json_array_unref (arr);
          return NULL;
        }
      smime = pst_keys_smime_open (call->agent, error);
      if (smime != NULL)
        wrapped = wrapped_identities (smime);
      ok = smime != NULL
           && pst_smime_import (smime, data, passphrase ? g_bytes_get_data (passphrase, NULL) : NULL,
                                anchor, &imported, &local);
      /* PST_ERROR_USAGE from import: a PKCS#12 file without a passphrase
       * and none given (smime.h). */
      if (smime != NULL && !ok && passphrase == NULL
          && g_error_matches (local, PST_ERROR, PST_ERROR_USAGE))
        {
          g_clear_error (&local);
          ok = import_wrapped (smime, data, &imported, &local);
        }
      if (local != NULL)
        g_propagate_error (error, g_steal_pointer (&local));
      if (!ok)
        {
          json_array_unref (arr);
          return NULL;
        }
      pst_keys_adopt_requests (call->agent, smime, imported, passphrase);
      for (guint i = 0; i < imported->len; i++)
        {
          PstSmimeCertInfo *c = g_ptr_array_index (imported, i);

          /* Imported again under a passphrase: its Secret Service key
           * protects nothing any more. */
          if (c->has_key && c->protection != PST_SMIME_KEY_SECRET_SERVICE
              && g_hash_table_contains (wrapped, c->fingerprint))
            pst_secret_service_clear_smime_key (c->fingerprint, NULL);
          if (!c->is_ca)
            learn_imported (call->agent->store, "smime", c->fingerprint, c->emails);
          json_array_add_object_element (arr, cert_json (call->agent->store, c));
        }
    }
  pst_key_cache_invalidate (call->agent->keys);
  pst_pgp_forget_keys ();
  r = json_object_new ();
  json_object_set_array_member (r, "imported", arr);
  return r;
}

/* Every key and certificate; with @address only those that bind it. */
static JsonObject *
list_keys (PstCall *call, const char *address, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (call->agent);
  g_autoptr (GPtrArray) pgp = pst_pgp_keys_list (home, address, error);
  g_autoptr (PstSmime) smime = NULL;
  g_autoptr (GPtrArray) certs = NULL;
  JsonArray *arr;
  JsonObject *r;

  if (pgp == NULL || !(smime = pst_keys_smime_open (call->agent, error)))
    return NULL;
  certs = pst_smime_list (smime);
  arr = json_array_new ();
  for (guint i = 0; i < pgp->len; i++)
    {
      PstPgpKeyInfo *k = g_ptr_array_index (pgp, i);
      if (address == NULL || pst_addr_in_list (address, (const char *const *) k->emails))
        json_array_add_object_element (arr, pgp_key_json (call->agent->store, k));
    }
  for (guint i = 0; certs && i < certs->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (certs, i);
      if (address == NULL || pst_addr_in_list (address, (const char *const *) c->emails))
        json_array_add_object_element (arr, cert_json (call->agent->store, c));
    }
  r = json_object_new ();
  json_object_set_array_member (r, "keys", arr);
  return r;
}

JsonObject *
pst_method_keys_list (PstCall *call, GError **error)
{
  return list_keys (call, NULL, error);
}

JsonObject *
pst_method_keys_show (PstCall *call, GError **error)
{
  const char *address;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "address", TRUE, &address, error))
    return NULL;
  r = list_keys (call, address, error);
  if (r != NULL && json_array_get_length (json_object_get_array_member (r, "keys")) == 0)
    {
      json_object_unref (r);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no key or certificate for %s", address);
      return NULL;
    }
  return r;
}

/* Waits for the fetch sessions running now to end.  One that analysed its
 * messages before a key was unlocked records them as key-locked when it
 * ends, possibly after a re-analysis listed the store; one that starts
 * after this sees the key.  (A session holds its account's fetch lock
 * from its start to its last recorded analysis: fetcher.c run_one and
 * fetch_session.) */
static void
wait_for_fetches (PstAgent *agent)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  g_mutex_lock (&agent->config_lock);
  {
    GPtrArray *accounts = pst_config_get_accounts (agent->config);

    for (guint i = 0; i < accounts->len; i++)
      g_ptr_array_add (names, g_strdup (((PstAccount *) g_ptr_array_index (accounts, i))->name));
  }
  g_mutex_unlock (&agent->config_lock);
  for (guint i = 0; i < names->len; i++)
    {
      GMutex *lock = pst_agent_session_lock (agent, "fetch", g_ptr_array_index (names, i));

      g_mutex_lock (lock);
      g_mutex_unlock (lock);
    }
}

/* Analyses again the stored messages whose summary says key-locked (they
 * were analysed while the key they needed was locked), so that list shows
 * them as they are now.  Called after every unlock, in a client's thread
 * (keys.unlock; the start-up unlock asks for it through the socket): the
 * agent ends those before it frees what analysis uses.  The number
 * analysed. */
static guint
reanalyse_locked (PstAgent *agent)
{
  g_autoptr (GPtrArray) infos = NULL;
  guint n = 0;

  wait_for_fetches (agent);
  infos = pst_store_message_list (agent->store, NULL, 0, NULL);
  for (guint i = 0; infos != NULL && i < infos->len; i++)
    {
      PstMessageInfo *m = g_ptr_array_index (infos, i);
      g_autoptr (GError) local = NULL;

      if (m->crypto_json == NULL || strstr (m->crypto_json, "\"key-locked\"") == NULL)
        continue;
      if (pst_reader_analyze (agent, m->id, &local))
        n++;
      else
        g_warning ("message %" G_GINT64_FORMAT ": cannot analyse it again: %s", m->id, local->message);
    }
  return n;
}

/* Unlocks the identities of @address (all when NULL) whose key is sealed
 * under a Secret Service key; @passphrase_needed_out says whether one of
 * @address is sealed under a passphrase instead.  Fingerprints of the
 * identities of @address unlocked now or before.  Transfer full. */
static GPtrArray *
unlock_from_secret_service (PstSmime *smime, const char *address, gboolean *passphrase_needed_out,
                            GError **error)
{
  g_autoptr (GPtrArray) certs = pst_smime_list (smime);
  GPtrArray *done = g_ptr_array_new_with_free_func (g_free);

  *passphrase_needed_out = FALSE;
  for (guint i = 0; i < certs->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (certs, i);
      char *key;

      if (!c->has_key || (address != NULL && !pst_addr_in_list (address, (const char *const *) c->emails)))
        continue;
      if (!c->locked)
        g_ptr_array_add (done, g_strdup (c->fingerprint));
      else if (c->protection != PST_SMIME_KEY_SECRET_SERVICE)
        *passphrase_needed_out = TRUE;
      else if (error != NULL && *error != NULL)
        continue;   /* the service failed once: asking again would only wait again */
      else if ((key = pst_secret_service_lookup_smime_key (c->fingerprint, error)))
        {
          if (pst_smime_unlock_fingerprint (smime, c->fingerprint, key, error))
            g_ptr_array_add (done, g_strdup (c->fingerprint));
          pst_secret_free (key);
        }
    }
  return done;
}

/* The identities of @address that are still locked, their fingerprints
 * added to @locked; TRUE when one of them needs a passphrase (it is not
 * kept under a Secret Service key). */
static gboolean
still_locked (PstSmime *smime, const char *address, JsonArray *locked)
{
  g_autoptr (GPtrArray) certs = pst_smime_list (smime);
  gboolean passphrase = FALSE;

  for (guint i = 0; i < certs->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (certs, i);

      if (!c->has_key || !c->locked || !pst_addr_in_list (address, (const char *const *) c->emails))
        continue;
      json_array_add_string_element (locked, c->fingerprint);
      passphrase |= c->protection != PST_SMIME_KEY_SECRET_SERVICE;
    }
  return passphrase;
}

/* keys.unlock {address, passphrase_fd?}: the private keys of @address's
 * S/MIME identities into the agent's memory: those kept under a Secret
 * Service key from it, and, with a passphrase read from the descriptor,
 * those under a passphrase.  A cleartext key of an earlier version is
 * encrypted under the passphrase on disk now (smime.h, Migration).  Then
 * mail analysed while a key was locked is analysed again.  The result:
 * "unlocked" (fingerprints unlocked now or before), "locked" (those of
 * @address still locked), "passphrase_needed" (one of those is under a
 * passphrase: ask for it and call again), "reanalysed".  Errors:
 * PST_ERROR_FAILED no identity, wrong passphrase (one that opens none of
 * the locked keys under a passphrase), the Secret Service unreachable;
 * PST_ERROR_USAGE a passphrase is needed, none was given and nothing could
 * be unlocked without one. */
JsonObject *
pst_method_keys_unlock (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", "passphrase_fd", NULL };
  g_autoptr (PstSmime) smime = NULL;
  g_autoptr (GBytes) passphrase = NULL;
  g_autoptr (GPtrArray) done = NULL;
  g_autoptr (GError) local = NULL;
  const char *address;
  gboolean needed = FALSE;
  JsonArray *arr, *locked;
  JsonObject *r;
  int pfd;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &address, error)
      || (pfd = pst_call_get_fd (call, "passphrase_fd", FALSE, error)) == -1
      || !(smime = pst_keys_smime_open (call->agent, error)))
    return NULL;
  if (pfd >= 0 && !(passphrase = pst_call_read_passphrase (pfd, error)))
    return NULL;
  if (passphrase != NULL && g_bytes_get_size (passphrase) == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, _("the passphrase is empty"));
      return NULL;
    }
  done = unlock_from_secret_service (smime, address, &needed, &local);
  if (passphrase != NULL)
    {
      g_auto (GStrv) unlocked = NULL;

      if (local != NULL)
        g_message ("S/MIME keys of %s under the Secret Service stay locked: %s", address,
                   local->message);
      if (!pst_smime_unlock (smime, address, g_bytes_get_data (passphrase, NULL), &unlocked, error))
        return NULL;
      g_ptr_array_set_size (done, 0);
      for (char **f = unlocked; *f != NULL; f++)
        g_ptr_array_add (done, g_strdup (*f));
    }
  else if (done->len == 0)
    {
      if (needed)
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                     _("the S/MIME key of %s is encrypted under a passphrase: give it "
                       "(postern keys unlock %s --passphrase-fd N)"), address, address);
      else if (local != NULL)
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("no S/MIME identity for %s"), address);
      return NULL;
    }
  r = json_object_new ();
  json_object_set_string_member (r, "address", address);
  arr = json_array_new ();
  for (guint i = 0; i < done->len; i++)
    json_array_add_string_element (arr, g_ptr_array_index (done, i));
  json_object_set_array_member (r, "unlocked", arr);
  locked = json_array_new ();
  needed = still_locked (smime, address, locked);
  json_object_set_boolean_member (r, "passphrase_needed", needed);
  json_object_set_array_member (r, "locked", locked);
  /* An answer that sends the user to a passphrase prompt comes at once: the
   * re-analysis (which first waits for running fetches) follows the call
   * that brings the passphrase, not the one before it. */
  json_object_set_int_member (r, "reanalysed",
                              passphrase != NULL || !needed ? reanalyse_locked (call->agent) : 0);
  return r;
}

typedef struct {
  char *dir;
  char *socket_path;
  PstSmimeKeyring *ring;
} StartUnlock;

/* An address of one of the identities @fingerprints names, or NULL.
 * Transfer full. */
static char *
address_of (PstSmime *smime, GPtrArray *fingerprints)
{
  g_autoptr (GPtrArray) certs = pst_smime_list (smime);

  for (guint i = 0; i < certs->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (certs, i);

      for (guint j = 0; c->emails != NULL && c->emails[0] != NULL && j < fingerprints->len; j++)
        if (g_str_equal (c->fingerprint, g_ptr_array_index (fingerprints, j)))
          return g_strdup (c->emails[0]);
    }
  return NULL;
}

/* Has the agent at @socket_path analyse again the mail that needed a key
 * just unlocked: keys.unlock for @address, which finds the key unlocked
 * and re-analyses.  Through the socket, so that the re-analysis runs in a
 * client's thread, one the agent waits for before it frees the store, the
 * scanner and the key cache; this thread is not waited for (the Secret
 * Service may keep it a long time). */
static void
ask_for_reanalysis (const char *socket_path, const char *address)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = pst_rpc_client_connect (socket_path, &error);
  JsonObject *params, *r = NULL;

  if (client != NULL)
    {
      params = json_object_new ();
      json_object_set_string_member (params, "address", address);
      r = pst_rpc_client_call (client, "keys.unlock", params, NULL, 0, &error);
    }
  if (r != NULL)
    json_object_unref (r);
  else if (!g_error_matches (error, PST_ERROR, PST_ERROR_AGENT))
    g_warning ("cannot analyse again the mail that needed an S/MIME key: %s", error->message);
}

/* A thread of its own: the Secret Service may be slow to answer, or ask the
 * user to unlock a keyring, and the agent must serve meanwhile.  It holds
 * its own store and a reference on the keyring, so an agent that stops
 * first frees nothing it uses. */
static gpointer
unlock_at_start (gpointer data)
{
  StartUnlock *su = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstSmime) smime = pst_smime_new (su->dir, &error);
  gboolean needed;

  if (smime != NULL)
    {
      g_autoptr (GPtrArray) done = NULL;
      g_autofree char *address = NULL;

      pst_smime_set_keyring (smime, su->ring);
      done = unlock_from_secret_service (smime, NULL, &needed, &error);
      if (error != NULL)
        g_warning ("S/MIME keys stay locked: %s", error->message);
      /* Mail fetched before (or while) they were unlocked. */
      if (done->len > 0 && (address = address_of (smime, done)) != NULL)
        ask_for_reanalysis (su->socket_path, address);
    }
  pst_smime_keyring_unref (su->ring);
  g_free (su->socket_path);
  g_free (su->dir);
  g_free (su);
  return NULL;
}

void
pst_keys_unlock_at_start (PstAgent *agent)
{
  StartUnlock *su = g_new0 (StartUnlock, 1);

  su->dir = pst_keys_smime_dir (agent);
  su->socket_path = g_strdup (agent->paths->socket_path);
  su->ring = pst_smime_keyring_ref (pst_key_cache_get_keyring (agent->keys));
  g_thread_unref (g_thread_new ("smime-unlock", unlock_at_start, su));
}

JsonObject *
pst_method_keys_remove (PstCall *call, GError **error)
{
  const char *id;
  g_autofree char *home = NULL, *wrapped = NULL, *removed = NULL;
  g_autoptr (GError) pgp_error = NULL;
  g_autoptr (PstSmime) smime = NULL;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "id", TRUE, &id, error))
    return NULL;
  home = pst_agent_get_gnupg_home (call->agent);
  r = json_object_new ();
  json_object_set_string_member (r, "id", id);
  /* OpenPGP fingerprints are 40 hex digits, X.509 ones (SHA-256) 64. */
  if (strlen (id) <= 40 && pst_pgp_keys_remove (home, id, &pgp_error))
    {
      json_object_set_string_member (r, "type", "openpgp");
      /* Its source and bindings go too (only a whole fingerprint names
       * them; a shorter id leaves them, harmlessly, to a key never seen). */
      if (strlen (id) == 40)
        {
          g_autofree char *fpr = g_ascii_strup (id, -1);
          pst_store_key_forget (call->agent->store, "pgp", fpr, NULL);
        }
      pst_key_cache_invalidate (call->agent->keys);
      pst_pgp_forget_keys ();
      return r;
    }
  if (pgp_error && pgp_error->code == PST_ERROR_CRYPTO)
    {
      json_object_unref (r);
      g_propagate_error (error, g_steal_pointer (&pgp_error));
      return NULL;
    }
  if ((smime = pst_keys_smime_open (call->agent, error)))
    {
      g_autoptr (GPtrArray) certs = pst_smime_list (smime);
      g_autofree char *want = g_ascii_strdown (id, -1);

      /* The Secret Service key of an identity goes with it. */
      for (guint i = 0; i < certs->len; i++)
        {
          PstSmimeCertInfo *c = g_ptr_array_index (certs, i);

          if (strlen (want) >= 8 && g_str_has_prefix (c->fingerprint, want))
            {
              if (c->protection == PST_SMIME_KEY_SECRET_SERVICE)
                wrapped = g_strdup (c->fingerprint);
              g_free (removed);
              removed = g_strdup (c->fingerprint);
            }
        }
      /* … and that of a key still waiting for its certificate */
      if (wrapped == NULL && strlen (want) >= 8)
        {
          g_autoptr (GPtrArray) requests = pst_smime_requests (smime);

          for (guint i = 0; i < requests->len; i++)
            {
              PstSmimeRequestInfo *q = g_ptr_array_index (requests, i);

              if (q->protection == PST_SMIME_KEY_SECRET_SERVICE && g_str_has_prefix (q->id, want))
                wrapped = g_strdup (q->id);
            }
        }
    }
  if (smime != NULL && pst_smime_remove (smime, id, error))
    {
      /* Its source and bindings go with it. */
      if (removed != NULL)
        pst_store_key_forget (call->agent->store, "smime", removed, NULL);
      if (wrapped != NULL)
        pst_secret_service_clear_smime_key (wrapped, NULL);
      json_object_set_string_member (r, "type", "x509");
      pst_key_cache_invalidate (call->agent->keys);
      pst_pgp_forget_keys ();
      return r;
    }
  json_object_unref (r);
  if (error && *error && pgp_error && strstr ((*error)->message, "no ") != NULL)
    {
      g_clear_error (error);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no key or certificate with id %s", id);
    }
  return NULL;
}

/* The addr-specs of parameter "recipients" (a list of "addr" or "Name
 * <addr>"), without duplicates, in order.  Transfer full. */
static char **
get_recipients (JsonObject *params, GError **error)
{
  JsonNode *n = params ? json_object_get_member (params, "recipients") : NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  JsonArray *list = n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;

  if (list == NULL || json_array_get_length (list) == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "parameter 'recipients' must be a list of one or more addresses");
      return NULL;
    }
  g_ptr_array_add (out, NULL);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonNode *e = json_array_get_element (list, i);
      const char *text = JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
                           ? json_node_get_string (e) : NULL;
      g_autofree char *addr = text != NULL ? pst_addr_extract (text) : NULL;

      if (addr == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "recipient %u is not an address%s%s%s",
                       i, text ? " ('" : "", text ? text : "", text ? "')" : "");
          return NULL;
        }
      if (!pst_addr_in_list (addr, (const char *const *) out->pdata))
        g_ptr_array_insert (out, out->len - 1, g_steal_pointer (&addr));
    }
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

/* The account keys.check asks for: @name, or the one of @from, or the
 * first. */
static PstAccount *
check_account (PstCall *call, const char *name, const char *from, GError **error)
{
  PstAccount *a = NULL;

  if (from != NULL)
    return pst_outgoing_account (call->agent, name, from, error);
  if (name != NULL)
    return pst_agent_get_account (call->agent, name, error);
  g_mutex_lock (&call->agent->config_lock);
  {
    GPtrArray *accounts = pst_config_get_accounts (call->agent->config);
    if (accounts->len > 0)
      a = pst_account_copy (g_ptr_array_index (accounts, 0));
  }
  g_mutex_unlock (&call->agent->config_lock);
  if (a == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "no account is configured (see `postern account add`)");
  return a;
}

static JsonObject *
recipient_json (PstAgent *agent, const PstRecipientCheck *r)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "address", r->address);
  pst_peers_describe_key (agent, r->address, r->pgp, o);
  json_object_set_boolean_member (o, "pgp", r->pgp);
  json_object_set_boolean_member (o, "smime", r->smime);
  if (r->problem != NULL)
    json_object_set_string_member (o, "problem", r->problem);
  else
    json_object_set_null_member (o, "problem");
  return o;
}

/* keys.check {recipients, account?, from?, encrypt?, scheme?, sign?,
 * in_reply_to?, references?}: what send would do with a message from the
 * account to @recipients (answering @in_reply_to, with @references: an
 * answer to encrypted mail stays encrypted), by the same decision
 * (pst_protect_check) and the same limits, and which keys each recipient
 * has.  A refusal is no error: "refused" holds the
 * error text send would fail with. */
JsonObject *
pst_method_keys_check (PstCall *call, GError **error)
{
  const char *name, *from_param, *in_reply_to = NULL, *references = NULL;
  g_auto (GStrv) recipients = NULL;
  g_autofree char *from = NULL;
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (PstProtectCheck) check = NULL;
  g_autoptr (GError) limit = NULL;
  PstPolicySettings overrides, settings;
  const GError *refusal;
  JsonArray *arr;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &name, error)
      || !pst_rpc_get_string (call->params, "from", FALSE, &from_param, error)
      || !pst_rpc_get_string (call->params, "in_reply_to", FALSE, &in_reply_to, error)
      || !pst_rpc_get_string (call->params, "references", FALSE, &references, error)
      || !pst_call_get_overrides (call, &overrides, error)
      || !(recipients = get_recipients (call->params, error)))
    return NULL;
  if (from_param != NULL && !(from = pst_addr_extract (from_param)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "from: '%s' is not an address", from_param);
      return NULL;
    }
  if (!(account = check_account (call, name, from, error)))
    return NULL;
  if (from == NULL)
    from = g_strdup (account->address);
  settings = pst_protect_account_settings (account);
  if (!(check = pst_protect_check (call->agent, from, (const char *const *) recipients, &settings,
                                   &overrides, in_reply_to, references, error)))
    return NULL;
  /* send checks its limits first: their refusal is the one it gives */
  if (!pst_outgoing_check_limits (call->agent, account, g_strv_length (recipients), &limit)
      && !g_error_matches (limit, PST_ERROR, PST_ERROR_POLICY))
    {
      g_propagate_error (error, g_steal_pointer (&limit));
      return NULL;
    }
  refusal = limit != NULL ? limit : check->refusal;

  r = json_object_new ();
  json_object_set_string_member (r, "account", account->name);
  json_object_set_string_member (r, "from", from);
  json_object_set_string_member (r, "encrypt", pst_policy_encrypt_to_string (check->effective.encrypt));
  json_object_set_string_member (r, "scheme", pst_scheme_name (refusal ? PST_SCHEME_NONE : check->scheme));
  json_object_set_boolean_member (r, "will_encrypt", refusal == NULL && check->encrypt);
  json_object_set_boolean_member (r, "will_sign", refusal == NULL && check->sign);
  json_object_set_boolean_member (r, "reply_to_encrypted", check->reply_to_encrypted);
  arr = json_array_new ();
  for (guint i = 0; i < check->recipients->len; i++)
    json_array_add_object_element (arr, recipient_json (call->agent,
                                                        g_ptr_array_index (check->recipients, i)));
  json_object_set_array_member (r, "recipients", arr);
  json_object_set_array_member (r, "missing_keys", pst_json_strv (refusal ? NULL : check->missing));
  json_object_set_array_member (r, "not_recommended",
                                pst_json_strv (refusal ? NULL : check->not_recommended));
  if (refusal != NULL)
    json_object_set_string_member (r, "refused", refusal->message);
  else
    json_object_set_null_member (r, "refused");
  return r;
}

/* A key made by keys.generate expires after two years, unless asked
 * otherwise: long enough not to surprise, short enough that a key lost with
 * a machine stops being used; the owner extends it. */
#define GENERATED_KEY_DAYS (2 * 365)

/* keys.generate {address, passphrase_fd | no_passphrase: true, expires_days?}:
 * an OpenPGP key for @address (crypto/pgp-keys.h), which the account of that
 * address then signs with and is encrypted to.  The choice of a passphrase
 * is the caller's to make explicitly.  Result {fingerprint, address,
 * expires (unix seconds, 0: never)}. */
JsonObject *
pst_method_keys_generate (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", "scheme", "passphrase_fd", "no_passphrase",
                                       "expires_days", NULL };
  const char *address, *scheme = NULL;
  gboolean no_passphrase = FALSE;
  gint64 days = GENERATED_KEY_DAYS;
  int pfd;
  g_autoptr (GBytes) passphrase = NULL;
  g_autofree char *home = NULL, *fpr = NULL;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "scheme", FALSE, &scheme, error))
    return NULL;
  if (scheme != NULL && strcmp (scheme, "smime") == 0)
    return pst_keys_generate_smime (call, error);
  if (scheme != NULL && strcmp (scheme, "pgp") != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "scheme must be pgp or smime, not '%s'", scheme);
      return NULL;
    }
  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &address, error)
      || !pst_rpc_get_bool (call->params, "no_passphrase", FALSE, &no_passphrase, error)
      || !pst_rpc_get_int (call->params, "expires_days", FALSE, GENERATED_KEY_DAYS, &days, error)
      || (pfd = pst_call_get_fd (call, "passphrase_fd", FALSE, error)) == -1)
    return NULL;
  if ((pfd >= 0) == no_passphrase)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "give the key a passphrase (passphrase_fd) or say it has none (no_passphrase)");
      return NULL;
    }
  if (days < 0 || days > 36500)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "expires_days must be from 0 (never) to 36500");
      return NULL;
    }
  if (pfd >= 0)
    {
      if (!(passphrase = pst_call_read_passphrase (pfd, error)))
        return NULL;
      if (g_bytes_get_size (passphrase) == 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "the passphrase is empty: give one, or say the key has none");
          return NULL;
        }
    }
  home = pst_agent_get_gnupg_home (call->agent);
  fpr = pst_pgp_keys_generate (home, address,
                               passphrase ? g_bytes_get_data (passphrase, NULL) : NULL,
                               (guint64) days * 86400, error);
  if (fpr == NULL)
    return NULL;
  pst_key_cache_invalidate (call->agent->keys);
  pst_pgp_forget_keys ();
  pst_keys_learn_generated_pgp (call->agent, address, fpr);
  g_message ("keys: made OpenPGP key %s for %s (%s)", fpr, address,
             passphrase ? "with a passphrase" : "without a passphrase");
  r = json_object_new ();
  json_object_set_string_member (r, "fingerprint", fpr);
  json_object_set_string_member (r, "address", address);
  json_object_set_int_member (r, "expires",
                              days == 0 ? 0 : g_get_real_time () / G_USEC_PER_SEC + days * 86400);
  return r;
}

