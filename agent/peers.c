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

/* Whether @address is one of the accounts' own: what arrives about it is
 * never taken (a forged header for the user's own address would take
 * encrypt-to-self over). */
static gboolean
is_own_address (PstAgent *agent, const char *address)
{
  gboolean own = FALSE;
  GPtrArray *accounts;

  g_mutex_lock (&agent->config_lock);
  accounts = pst_config_get_accounts (agent->config);
  for (guint i = 0; accounts != NULL && i < accounts->len && !own; i++)
    {
      const PstAccount *a = g_ptr_array_index (accounts, i);
      own = a->address != NULL && g_ascii_strcasecmp (a->address, address) == 0;
    }
  g_mutex_unlock (&agent->config_lock);
  return own;
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
    .truncated = view->autocrypt_truncated,
  };
  g_autoptr (PstAutocryptPeer) peer = NULL, next = NULL;
  g_autoptr (PstAutocryptHeader) header = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *home = NULL, *previous = NULL, *fpr = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *why = NULL;
  gboolean changed = FALSE, usable = FALSE, new_key = FALSE;
  PstAutocryptUpdate update;

  if (msg.from == NULL || is_own_address (agent, msg.from))
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
          /* The same primary key may come with a subkey added or revoked:
           * every import empties the caches, not only a new key's. */
          pst_key_cache_invalidate (agent->keys);
          pst_pgp_forget_keys ();
        }
    }
  if (!pst_store_peer_put (agent->store, next, &error))
    g_warning ("Autocrypt: %s", error->message);
  return new_key || changed;
}

void
pst_peers_note_encrypted (PstAgent *agent, const PstView *view, const PstStatus *status)
{
  g_autoptr (GError) error = NULL;

  const char *ids[] = { view->autocrypt_message_id, view->message_id };

  if (status->decryption != PST_DECRYPTION_OK)
    return;
  /* The outer Message-ID, and the protected one when it differs: a reply
   * or forward draft names the one shown (methods-reply.c), and being
   * noted as encrypted only ever keeps more mail encrypted. */
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *id = NULL;
      const char *lt = ids[i] != NULL ? strchr (ids[i], '<') : NULL;
      const char *gt = lt != NULL ? strchr (lt, '>') : NULL;

      if (gt == NULL || (i == 1 && g_strcmp0 (ids[0], ids[1]) == 0))
        continue;
      id = g_strndup (lt, (gsize) (gt - lt + 1));
      if (!pst_store_note_encrypted_message (agent->store, id, g_get_real_time () / G_USEC_PER_SEC,
                                             &error))
        {
          g_warning ("%s", error->message);
          g_clear_error (&error);
        }
    }
}

/* At most this many Message-IDs of one References field are looked up (a
 * thread's whole history is seldom longer; a hostile draft's is not
 * looked up without end). */
#define MAX_REFERENCES_LOOKED_UP 200

/* Whether an "<id>" of @ids names a message that arrived encrypted. */
static gboolean
names_encrypted (PstAgent *agent, const char *ids)
{
  const char *p = ids;

  for (guint n = 0; p != NULL && n < MAX_REFERENCES_LOOKED_UP; n++)
    {
      const char *lt = strchr (p, '<');
      const char *gt = lt != NULL ? strchr (lt, '>') : NULL;
      g_autofree char *id = NULL;

      if (gt == NULL)
        return FALSE;
      id = g_strndup (lt, (gsize) (gt - lt + 1));
      if (pst_store_is_encrypted_message (agent->store, id))
        return TRUE;
      p = gt + 1;
    }
  return FALSE;
}

gboolean
pst_peers_replies_to_encrypted (PstAgent *agent, const char *in_reply_to, const char *references)
{
  return names_encrypted (agent, in_reply_to) || names_encrypted (agent, references);
}

void
pst_peers_learn_harvested (PstAgent *agent, const PstStatus *status)
{
  g_autoptr (GError) error = NULL;

  if (status->scheme != PST_SCHEME_SMIME || status->sig_status != PST_SIG_GOOD
      || !status->from_match || status->fingerprint == NULL || status->signer == NULL)
    return;
  if (!pst_store_key_learn (agent->store, "smime", status->signer, status->fingerprint,
                            PST_KEY_SOURCE_HARVESTED, NULL, g_get_real_time () / G_USEC_PER_SEC,
                            NULL, &error))
    g_warning ("S/MIME: %s", error->message);
}

void
pst_peers_check_verdict (PstAgent *agent, PstStatus *status)
{
  g_autofree char *replaced = NULL;
  const char *scheme = status->scheme == PST_SCHEME_SMIME ? "smime" : "pgp";

  if (status->sig_status != PST_SIG_GOOD || status->fingerprint == NULL)
    return;
  PstKeyRecord rec;

  replaced = pst_store_key_replaced (agent->store, scheme, status->fingerprint, NULL);
  if (replaced != NULL)
    pst_status_add_warning (status, "key-changed");
  /* Gossip is for encrypting to, not for believing: a key that only
   * another sender vouched for says so on its signatures. */
  if (pst_store_key_record (agent->store, scheme, status->fingerprint, &rec, NULL)
      && rec.source == PST_KEY_SOURCE_GOSSIP)
    pst_status_add_warning (status, "gossip-key");
}

void
pst_peers_describe_key (PstAgent *agent, const char *address, gboolean has_key, JsonObject *o)
{
  g_autofree char *bound = NULL, *replaces = NULL;
  PstKeyRecord rec;

  bound = has_key ? pst_store_key_binding (agent->store, "pgp", address, &replaces, NULL) : NULL;
  if (bound != NULL && pst_store_key_record (agent->store, "pgp", bound, &rec, NULL))
    json_object_set_string_member (o, "source", pst_key_source_to_string (rec.source));
  else if (has_key)
    json_object_set_string_member (o, "source", "imported");
  else
    json_object_set_null_member (o, "source");
  json_object_set_boolean_member (o, "key_changed", replaces != NULL);
}

char *
pst_peers_bound_key (const char *address, gpointer user_data)
{
  PstAgent *agent = user_data;

  return pst_store_key_binding (agent->store, "pgp", address, NULL, NULL);
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

GBytes *
pst_peers_with_gossip (PstAgent *agent, PstPgp *pgp, GBytes *message, const char *sender,
                       const char *const *recipients)
{
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  g_autoptr (GString) fields = g_string_new (NULL);
  guint others = 0;
  gsize len = 0;
  const char *data;

  for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
    others += g_ascii_strcasecmp (*r, sender) != 0;
  if (others < 2)
    return g_bytes_ref (message);
  for (const char *const *r = recipients; *r != NULL; r++)
    {
      g_autofree char *fpr = NULL, *value = NULL;
      g_autoptr (GBytes) keydata = NULL;

      if (g_ascii_strcasecmp (*r, sender) == 0
          || !(fpr = pst_pgp_find_key (pgp, *r, FALSE, NULL))
          || !(keydata = pst_pgp_autocrypt_export (home, fpr, NULL)))
        continue;
      value = pst_autocrypt_header_format (*r, FALSE, keydata, TRUE);
      g_string_append_printf (fields, "Autocrypt-Gossip: %s\r\n", value);
    }
  if (fields->len == 0)
    return g_bytes_ref (message);
  data = g_bytes_get_data (message, &len);
  g_string_append_len (fields, data, (gssize) len);
  return g_string_free_to_bytes (g_steal_pointer (&fields));
}

GBytes *
pst_peers_gossip_fields (PstAgent *agent, PstPgp *pgp, const char *sender,
                         const char *const *recipients)
{
  g_autoptr (GBytes) none = g_bytes_new_static ("", 0);
  GBytes *fields = pst_peers_with_gossip (agent, pgp, none, sender, recipients);

  if (g_bytes_get_size (fields) == 0)
    g_clear_pointer (&fields, g_bytes_unref);
  return fields;
}

void
pst_peers_learn_gossip (PstAgent *agent, const PstStatus *status, gint64 date,
                        const char *const *recipients)
{
  g_autofree char *home = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  for (guint i = 0; status->gossip != NULL && i < status->gossip->len; i++)
    {
      const char *value = g_ptr_array_index (status->gossip, i);
      g_autoptr (PstAutocryptHeader) h = pst_autocrypt_header_parse (value, NULL);
      g_autoptr (PstAutocryptPeer) peer = NULL, next = NULL;
      g_autoptr (PstAutocryptHeader) taken = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *current = NULL, *fpr = NULL;
      const char *why = NULL;

      /* Gossip came out of a decryption: its addresses stay out of the
       * log (DESIGN.md §3). */
      if (h == NULL || is_own_address (agent, h->addr))
        continue;
      peer = pst_store_peer_get (agent->store, h->addr, NULL);
      next = pst_autocrypt_gossip (peer, value, date, recipients, now, &taken, &why);
      if (next == NULL)
        {
          g_message ("an Autocrypt-Gossip header not taken: %s", why ? why : "");
          continue;
        }
      if (home == NULL)
        home = pst_agent_get_gnupg_home (agent);
      current = current_key (home, taken->addr);
      if (current == NULL)
        {
          fpr = pst_pgp_autocrypt_import (home, taken->keydata, taken->addr, NULL, &error);
          if (fpr == NULL)
            {
              g_message ("an Autocrypt-Gossip key not taken (it has no user id for its addr,"
                         " or is no single key)");
              continue;
            }
          if (!pst_store_key_learn (agent->store, "pgp", taken->addr, fpr, PST_KEY_SOURCE_GOSSIP,
                                    NULL, now, NULL, &error))
            g_warning ("Autocrypt-Gossip: %s", error->message);
          g_clear_error (&error);
          pst_key_cache_invalidate (agent->keys);
          pst_pgp_forget_keys ();
          next->gossip_fingerprint = g_steal_pointer (&fpr);
        }
      if (!pst_store_peer_put (agent->store, next, &error))
        g_warning ("Autocrypt-Gossip: %s", error->message);
    }
}
