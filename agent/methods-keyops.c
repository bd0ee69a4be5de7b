/* methods-keyops.c — what the user does with their own keys after making
 * them (issue 13, "Your own keys"): keys.export, keys.expire, keys.revoke;
 * the S/MIME half of keys.generate (a key and its certificate request),
 * and the identity its certificate makes when keys.import brings it. */
#include <glib/gi18n.h>
#include <string.h>

#include "config/config.h"
#include "crypto/pgp-keys.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "handlers.h"
#include "keysupport.h"
#include "methods-keyops.h"
#include "rpc/frame.h"
#include "store/keys.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"

/* Records that the user made @fingerprint for @address (DESIGN.md §14,
 * source "generated").  A store that fails does not undo a key that
 * exists: it is logged, and keys list shows the key as from before. */
static void
learn_generated (PstAgent *agent, const char *scheme, const char *address, const char *fingerprint)
{
  g_autoptr (GError) error = NULL;

  /* The fingerprint as its keyring writes it (store/keys.h), as keys.import
   * records it and keys.list looks it up: upper case for OpenPGP, lower for
   * S/MIME. */
  if (!pst_store_key_learn (agent->store, scheme, address, fingerprint, PST_KEY_SOURCE_GENERATED, NULL,
                            g_get_real_time () / G_USEC_PER_SEC, NULL, &error))
    g_warning ("keys: cannot record where key %s of %s came from: %s", fingerprint, address,
               error->message);
}

void
pst_keys_learn_generated_pgp (PstAgent *agent, const char *address, const char *fingerprint)
{
  learn_generated (agent, "pgp", address, fingerprint);
}

/* A passphrase from parameter "passphrase_fd", or NULL (none given, or
 * failure: see @error).  Empty is a usage error. */
static GBytes *
get_passphrase (PstCall *call, GError **error)
{
  GBytes *passphrase;
  int pfd = pst_call_get_fd (call, "passphrase_fd", FALSE, error);

  if (pfd < 0)
    return NULL;
  if (!(passphrase = pst_call_read_passphrase (pfd, error)))
    return NULL;
  if (g_bytes_get_size (passphrase) == 0)
    {
      g_bytes_unref (passphrase);
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, _("the passphrase is empty"));
      return NULL;
    }
  return passphrase;
}

static const char *
passphrase_text (GBytes *passphrase)
{
  return passphrase != NULL ? g_bytes_get_data (passphrase, NULL) : NULL;
}

/* --- keys.export ------------------------------------------------------------ */

static JsonObject *
export_pgp (PstCall *call, const char *address, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (call->agent);
  g_auto (GStrv) fprs = NULL;
  g_autoptr (GBytes) data = NULL;
  gboolean own = FALSE;
  gsize len = 0;
  const char *p;
  JsonObject *r;

  if (!(data = pst_pgp_keys_export (home, address, &fprs, &own, error)))
    return NULL;
  p = g_bytes_get_data (data, &len);
  r = json_object_new ();
  json_object_set_string_member (r, "scheme", "pgp");
  json_object_set_array_member (r, "fingerprints", pst_json_strv (fprs));
  json_object_set_boolean_member (r, "own", own);
  {
    g_autofree char *text = g_strndup (p, len);
    json_object_set_string_member (r, "data", text);
  }
  return r;
}

/* Whether an S/MIME key of @address waits for its certificate. */
static gboolean
request_waits (PstSmime *smime, const char *address)
{
  g_autoptr (GPtrArray) requests = pst_smime_requests (smime);

  for (guint i = 0; i < requests->len; i++)
    if (pst_addr_equal (((PstSmimeRequestInfo *) requests->pdata[i])->address, address))
      return TRUE;
  return FALSE;
}

/* @no_pgp: there is no OpenPGP key either (no scheme was asked for): a
 * missing certificate is said as missing both, unless a key waits for it. */
static JsonObject *
export_smime (PstCall *call, const char *address, gboolean no_pgp, GError **error)
{
  g_autoptr (PstSmime) smime = pst_keys_smime_open (call->agent, error);
  g_autoptr (GError) local = NULL;
  g_autofree char *fpr = NULL;
  char *pem;
  gboolean own = FALSE;
  char *fprs[2] = { NULL, NULL };
  JsonObject *r;

  if (smime == NULL)
    return NULL;
  if (!(pem = pst_smime_export_cert (smime, address, &fpr, &own, &local)))
    {
      if (no_pgp && g_error_matches (local, PST_ERROR, PST_ERROR_POLICY) && !request_waits (smime, address))
        g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                     _("no OpenPGP key and no S/MIME certificate for %s"), address);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  fprs[0] = fpr;
  r = json_object_new ();
  json_object_set_string_member (r, "scheme", "smime");
  json_object_set_array_member (r, "fingerprints", pst_json_strv (fprs));
  json_object_set_boolean_member (r, "own", own);
  json_object_set_string_member (r, "data", pem);
  g_free (pem);
  return r;
}

/* keys.export {address, scheme?}: the public key of @address, own or
 * another's: armored OpenPGP, or the certificate as PEM.  Without a scheme
 * OpenPGP when there is a key, else the certificate.  Never secret
 * material.  Result {address, scheme, fingerprints, own, data}. */
JsonObject *
pst_method_keys_export (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", "scheme", NULL };
  const char *address, *scheme = NULL;
  g_autoptr (GError) pgp_error = NULL;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &address, error)
      || !pst_rpc_get_string (call->params, "scheme", FALSE, &scheme, error))
    return NULL;
  if (scheme != NULL && strcmp (scheme, "pgp") != 0 && strcmp (scheme, "smime") != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "scheme must be pgp or smime, not '%s'", scheme);
      return NULL;
    }
  if (scheme == NULL || strcmp (scheme, "pgp") == 0)
    {
      r = export_pgp (call, address, &pgp_error);
      if (r == NULL && (scheme != NULL || !g_error_matches (pgp_error, PST_ERROR, PST_ERROR_POLICY)))
        {
          g_propagate_error (error, g_steal_pointer (&pgp_error));
          return NULL;
        }
    }
  else
    r = NULL;
  if (r == NULL && !(r = export_smime (call, address, scheme == NULL, error)))
    return NULL;
  json_object_set_string_member (r, "address", address);
  return r;
}

/* --- keys.expire ------------------------------------------------------------ */

/* keys.expire {address, days | never: true, passphrase_fd?}: the own
 * OpenPGP key of @address (primary and encryption subkeys) expires @days
 * from now, or never.  Result {address, fingerprint, expires (unix
 * seconds, 0: never)}. */
JsonObject *
pst_method_keys_expire (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", "days", "never", "passphrase_fd", NULL };
  const char *address;
  gint64 days = -1, expires = 0;
  gboolean never = FALSE;
  g_autoptr (GBytes) passphrase = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *home = NULL, *fpr = NULL;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &address, error)
      || !pst_rpc_get_int (call->params, "days", FALSE, -1, &days, error)
      || !pst_rpc_get_bool (call->params, "never", FALSE, &never, error))
    return NULL;
  if ((days >= 0) == never)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "give days or never: true");
      return NULL;
    }
  if (!never && (days < 1 || days > 36500))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "days must be from 1 to 36500");
      return NULL;
    }
  passphrase = get_passphrase (call, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  home = pst_agent_get_gnupg_home (call->agent);
  if (!pst_pgp_keys_set_expiry (home, address, passphrase_text (passphrase),
                                never ? 0 : (guint64) days * 86400, &fpr, &expires, error))
    return NULL;
  pst_key_cache_invalidate (call->agent->keys);
  pst_pgp_forget_keys ();
  g_message ("keys: OpenPGP key %s of %s now expires %s%" G_GINT64_FORMAT, fpr, address,
             expires ? "at " : "never", expires ? expires : (gint64) 0);
  r = json_object_new ();
  json_object_set_string_member (r, "address", address);
  json_object_set_string_member (r, "fingerprint", fpr);
  json_object_set_int_member (r, "expires", expires);
  return r;
}

/* --- keys.revoke ------------------------------------------------------------ */

static const char *const reasons[] = {
  [PST_PGP_REVOKE_UNSPECIFIED] = "unspecified",
  [PST_PGP_REVOKE_COMPROMISED] = "compromised",
  [PST_PGP_REVOKE_SUPERSEDED] = "superseded",
  [PST_PGP_REVOKE_RETIRED] = "retired",
};

/* keys.revoke {address, confirm: true, reason?, passphrase_fd?}: revokes
 * the own OpenPGP key of @address, for good.  confirm must be true: no
 * client revokes a key by leaving a member out.  Result {address,
 * fingerprint, reason}. */
JsonObject *
pst_method_keys_revoke (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", "confirm", "reason", "passphrase_fd", NULL };
  const char *address, *reason_name = NULL;
  gboolean confirm = FALSE;
  PstPgpRevokeReason reason = PST_PGP_REVOKE_UNSPECIFIED;
  g_autoptr (GBytes) passphrase = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *home = NULL, *fpr = NULL;
  gboolean known_reason = FALSE;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &address, error)
      || !pst_rpc_get_bool (call->params, "confirm", FALSE, &confirm, error)
      || !pst_rpc_get_string (call->params, "reason", FALSE, &reason_name, error))
    return NULL;
  for (guint i = 0; reason_name != NULL && i < G_N_ELEMENTS (reasons); i++)
    if (strcmp (reason_name, reasons[i]) == 0)
      {
        reason = (PstPgpRevokeReason) i;
        known_reason = TRUE;
      }
  if (reason_name != NULL && !known_reason)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "reason must be compromised, superseded, retired or unspecified, not '%s'",
                   reason_name);
      return NULL;
    }
  if (!confirm)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "revoking a key cannot be undone: confirm it (confirm: true)");
      return NULL;
    }
  passphrase = get_passphrase (call, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  home = pst_agent_get_gnupg_home (call->agent);
  if (!pst_pgp_keys_revoke (home, address, reason, passphrase_text (passphrase), &fpr, error))
    return NULL;
  pst_key_cache_invalidate (call->agent->keys);
  pst_pgp_forget_keys ();
  g_message ("keys: revoked OpenPGP key %s of %s (%s)", fpr, address, reasons[reason]);
  r = json_object_new ();
  json_object_set_string_member (r, "address", address);
  json_object_set_string_member (r, "fingerprint", fpr);
  json_object_set_string_member (r, "reason", reasons[reason]);
  return r;
}

/* --- S/MIME: a key and its certificate request ------------------------------ */

JsonObject *
pst_keys_generate_smime (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", "scheme", "passphrase_fd", "no_passphrase",
                                       "rsa", NULL };
  const char *address;
  gboolean no_passphrase = FALSE, rsa = FALSE;
  g_autoptr (GBytes) passphrase = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (PstSmime) smime = NULL;
  g_autoptr (PstSmimeRequestInfo) info = NULL;
  char *wrap = NULL;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &address, error)
      || !pst_rpc_get_bool (call->params, "no_passphrase", FALSE, &no_passphrase, error)
      || !pst_rpc_get_bool (call->params, "rsa", FALSE, &rsa, error))
    return NULL;
  passphrase = get_passphrase (call, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if ((passphrase != NULL) == no_passphrase)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "give the key a passphrase (passphrase_fd) or say it has none (no_passphrase)");
      return NULL;
    }
  if (!(smime = pst_keys_smime_open (call->agent, error)))
    return NULL;
  if (passphrase != NULL)
    info = pst_smime_request_new (smime, address, rsa, passphrase_text (passphrase),
                                  PST_SMIME_KEY_PASSPHRASE, error);
  else
    {
      /* As for a PKCS#12 file without a passphrase (methods-keys.c
       * import_wrapped): sealed under a random key in the Secret Service,
       * or refused when it cannot be reached, never kept in the clear. */
      if (!(wrap = pst_keys_random_wrap_key (error)))
        return NULL;
      info = pst_smime_request_new (smime, address, rsa, wrap, PST_SMIME_KEY_SECRET_SERVICE, error);
      if (info != NULL && !pst_secret_service_store_smime_key (info->id, address, wrap, &local))
        {
          pst_smime_remove (smime, info->id, NULL);
          g_clear_pointer (&info, pst_smime_request_info_free);
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       _("a key without a passphrase is kept under a key in the Secret Service, and "
                         "%s: give a passphrase (--passphrase-fd N)"), local->message);
        }
      pst_secret_free (wrap);
    }
  if (info == NULL)
    return NULL;
  g_message ("keys: made an S/MIME key (%s) for %s, request %s (%s)", info->key_type, address,
             info->id, passphrase ? "under a passphrase" : "under a Secret Service key");
  r = json_object_new ();
  json_object_set_string_member (r, "scheme", "smime");
  json_object_set_string_member (r, "address", address);
  json_object_set_string_member (r, "request", info->id);
  json_object_set_string_member (r, "key_type", info->key_type);
  json_object_set_string_member (r, "protection", pst_smime_key_protection_name (info->protection));
  json_object_set_string_member (r, "csr", info->csr_pem);
  return r;
}

void
pst_keys_adopt_requests (PstAgent *agent, PstSmime *smime, GPtrArray *imported, GBytes *passphrase)
{
  for (guint i = 0; imported != NULL && i < imported->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (imported, i);
      g_autoptr (GError) error = NULL;
      char *key;

      if (c->request_id == NULL)
        continue;
      for (char **e = c->emails; e != NULL && *e != NULL; e++)
        learn_generated (agent, "smime", *e, c->fingerprint);
      if (c->protection == PST_SMIME_KEY_SECRET_SERVICE)
        {
          /* The sealing key moves to the certificate's fingerprint, where
           * keys unlock and the start-up unlock look for it. */
          key = pst_secret_service_lookup_smime_key (c->request_id, &error);
          if (key != NULL
              && pst_secret_service_store_smime_key (c->fingerprint, c->emails && c->emails[0]
                                                     ? c->emails[0] : c->fingerprint, key, &error))
            {
              pst_secret_service_clear_smime_key (c->request_id, NULL);
              c->locked = !pst_smime_unlock_fingerprint (smime, c->fingerprint, key, &error);
            }
          pst_secret_free (key);
        }
      else if (passphrase != NULL)
        c->locked = !pst_smime_unlock_fingerprint (smime, c->fingerprint,
                                                   g_bytes_get_data (passphrase, NULL), &error);
      if (error != NULL)
        g_message ("keys: the S/MIME identity %s made from request %s stays locked: %s",
                   c->fingerprint, c->request_id, error->message);
      else
        g_message ("keys: request %s has its certificate: S/MIME identity %s%s", c->request_id,
                   c->fingerprint, c->locked ? " (locked)" : "");
    }
}
