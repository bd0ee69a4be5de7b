#include "peers.h"

#include <string.h>

#include "crypto/pgp-autocrypt.h"
#include "store/keys.h"
#include "util/error.h"

char *
pst_peers_outgoing_field (PstAgent *agent, PstPgp *pgp, const char *sender)
{
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  g_autofree char *fpr = pst_pgp_find_key (pgp, sender, TRUE, NULL);
  g_autofree char *value = NULL;
  g_autoptr (GBytes) keydata = NULL;
  g_autoptr (GError) error = NULL;

  if (fpr == NULL)
    return NULL;
  if (!(keydata = pst_pgp_autocrypt_export (home, fpr, &error)))
    {
      g_warning ("no Autocrypt header for %s: %s", sender, error->message);
      return NULL;
    }
  value = pst_autocrypt_header_format (sender, TRUE, keydata, FALSE);
  return g_strdup_printf ("Autocrypt: %s\r\n", value);
}

/* The key the keyring uses for @address now, before a header's key comes
 * in (NULL: none). */
static char *
current_key (const char *home, const char *address)
{
  g_autoptr (PstPgp) pgp = pst_pgp_new (home, NULL);

  return pgp != NULL ? pst_pgp_find_key (pgp, address, FALSE, NULL) : NULL;
}

gboolean
pst_peers_learn (PstAgent *agent, const PstView *view)
{
  PstAutocryptMessage msg = {
    .from = view->autocrypt_from, .date = view->autocrypt_date,
    .report = view->autocrypt_report, .headers = (const char *const *) view->autocrypt_headers,
  };
  g_autoptr (PstAutocryptPeer) peer = NULL, next = NULL;
  g_autoptr (PstAutocryptHeader) header = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *home = NULL, *previous = NULL, *fpr = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *why = NULL;
  gboolean changed = FALSE, usable = FALSE, new_key = FALSE;
  PstAutocryptUpdate update;

  if (msg.from == NULL)
    return FALSE;
  peer = pst_store_peer_get (agent->store, msg.from, &error);
  if (error != NULL)
    {
      g_warning ("Autocrypt: %s", error->message);
      return FALSE;
    }
  update = pst_autocrypt_update (peer, &msg, now, &next, &header, &why);
  if (why != NULL && msg.headers != NULL && msg.headers[0] != NULL)
    g_message ("Autocrypt header from %s not taken: %s", msg.from, why);
  if (update == PST_AUTOCRYPT_IGNORED)
    return FALSE;
  if (update == PST_AUTOCRYPT_KEY)
    {
      home = pst_agent_get_gnupg_home (agent);
      previous = current_key (home, msg.from);
      fpr = pst_pgp_autocrypt_import (home, header->keydata, msg.from, &usable, &error);
      if (fpr == NULL)
        {
          /* A key that cannot be taken changes nothing but last_seen. */
          g_message ("Autocrypt key from %s not taken: %s", msg.from, error->message);
          g_clear_pointer (&next->keydata, g_bytes_unref);
          next->keydata = peer != NULL && peer->keydata ? g_bytes_ref (peer->keydata) : NULL;
          next->fingerprint = peer != NULL ? g_strdup (peer->fingerprint) : NULL;
          next->autocrypt_timestamp = peer != NULL ? peer->autocrypt_timestamp : 0;
          next->mutual = peer != NULL && peer->mutual;
        }
      else
        {
          next->fingerprint = g_strdup (fpr);
          new_key = previous == NULL || g_ascii_strcasecmp (previous, fpr) != 0;
          if (!pst_store_key_learn (agent->store, "pgp", msg.from, fpr, PST_KEY_SOURCE_AUTOCRYPT,
                                    previous, now, &changed, &error))
            {
              g_warning ("Autocrypt: %s", error->message);
              g_clear_error (&error);
            }
          if (changed)
            g_message ("the OpenPGP key of %s changed: %s replaces %s", msg.from, fpr,
                       previous != NULL ? previous : "an earlier one");
          if (new_key)
            {
              pst_key_cache_invalidate (agent->keys);
              pst_pgp_forget_keys ();
            }
        }
    }
  if (!pst_store_peer_put (agent->store, next, &error))
    g_warning ("Autocrypt: %s", error->message);
  return new_key || changed;
}

void
pst_peers_check_verdict (PstAgent *agent, PstStatus *status)
{
  g_autofree char *replaced = NULL;
  const char *scheme = status->scheme == PST_SCHEME_SMIME ? "smime" : "pgp";

  if (status->sig_status != PST_SIG_GOOD || status->fingerprint == NULL)
    return;
  replaced = pst_store_key_replaced (agent->store, scheme, status->fingerprint, NULL);
  if (replaced != NULL)
    pst_status_add_warning (status, "key-changed");
}

PstAutocryptRecommendation
pst_peers_recommend (PstAgent *agent, const char *address, gboolean key_usable,
                     gboolean reply_to_encrypted)
{
  g_autoptr (PstAutocryptPeer) peer = NULL;
  g_autofree char *bound = NULL;
  PstKeyRecord rec;

  if (!key_usable)
    return PST_AUTOCRYPT_DISABLE;
  /* The key the keyring would use: one the user gave, or one that no
   * Autocrypt state speaks for, is as good as asked for. */
  bound = pst_store_key_binding (agent->store, "pgp", address, NULL, NULL);
  if (bound == NULL || !pst_store_key_record (agent->store, "pgp", bound, &rec, NULL)
      || (rec.source != PST_KEY_SOURCE_AUTOCRYPT && rec.source != PST_KEY_SOURCE_GOSSIP))
    return PST_AUTOCRYPT_ENCRYPT;
  peer = pst_store_peer_get (agent->store, address, NULL);
  if (peer == NULL)
    return PST_AUTOCRYPT_ENCRYPT;
  return pst_autocrypt_recommend (peer, TRUE, TRUE, reply_to_encrypted);
}
