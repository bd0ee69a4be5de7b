#include "store/keys.h"

#include "store/store-private.h"
#include "util/error.h"

#include <glib/gi18n-lib.h>

static const char *const source_names[] = {
  [PST_KEY_SOURCE_IMPORTED] = "imported",
  [PST_KEY_SOURCE_GENERATED] = "generated",
  [PST_KEY_SOURCE_AUTOCRYPT] = "autocrypt",
  [PST_KEY_SOURCE_GOSSIP] = "gossip",
  [PST_KEY_SOURCE_WKD] = "wkd",
  [PST_KEY_SOURCE_HARVESTED] = "harvested",
};

const char *
pst_key_source_to_string (PstKeySource source)
{
  if ((guint) source >= G_N_ELEMENTS (source_names))
    return "imported";
  return source_names[source];
}

gboolean
pst_key_source_from_string (const char *text, PstKeySource *out)
{
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (source_names); i++)
    if (g_str_equal (text, source_names[i]))
      {
        *out = (PstKeySource) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
pst_key_source_is_explicit (PstKeySource source)
{
  return source == PST_KEY_SOURCE_IMPORTED || source == PST_KEY_SOURCE_GENERATED;
}

/* Whether a key from @source needs no "key-changed" when it replaces
 * another: the user's own doing, or a certificate whose chain a trusted
 * CA vouches for (a renewed S/MIME certificate is no surprise). */
static gboolean
source_is_vouched (PstKeySource source)
{
  return pst_key_source_is_explicit (source) || source == PST_KEY_SOURCE_HARVESTED;
}


static void
bind_bytes_or_null (sqlite3_stmt *stmt, int i, GBytes *bytes)
{
  gsize len = 0;
  const void *data = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;

  if (bytes != NULL)
    sqlite3_bind_blob64 (stmt, i, data != NULL ? data : "", len, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, i);
}


static GBytes *
column_bytes (sqlite3_stmt *stmt, int i)
{
  if (sqlite3_column_type (stmt, i) == SQLITE_NULL)
    return NULL;
  return g_bytes_new (sqlite3_column_blob (stmt, i), (gsize) sqlite3_column_bytes (stmt, i));
}

/* Runs @stmt to its end; FALSE with @error set ("WHAT: why") otherwise. */
static gboolean
step_done (PstStore *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
  if (sqlite3_step (stmt) == SQLITE_DONE)
    return TRUE;
  pst_store_set_db_error (store, error, "%s (store %s)", what, store->path);
  return FALSE;
}

/* The source recorded for @fingerprint, or FALSE when none. */
static gboolean
get_source (PstStore *store, const char *scheme, const char *fingerprint, PstKeySource *out)
{
  g_autoptr (Stmt) get = pst_store_prepare (store, "SELECT source FROM key_sources"
                                            " WHERE scheme = ?1 AND fingerprint = ?2", NULL);

  if (get == NULL)
    return FALSE;
  sqlite3_bind_text (get, 1, scheme, -1, SQLITE_STATIC);
  sqlite3_bind_text (get, 2, fingerprint, -1, SQLITE_STATIC);
  if (sqlite3_step (get) != SQLITE_ROW)
    return FALSE;
  if (!pst_key_source_from_string ((const char *) sqlite3_column_text (get, 0), out))
    *out = PST_KEY_SOURCE_IMPORTED;
  return TRUE;
}

/* Records @fingerprint's source; *@merged_out gets the source it has now
 * (the user's own doing wins over discovery, never the other way). */
static gboolean
learn_source (PstStore *store, const char *scheme, const char *fingerprint, PstKeySource source,
              gint64 now, PstKeySource *merged_out, GError **error)
{
  g_autoptr (Stmt) put = NULL;
  PstKeySource old;
  gboolean known = get_source (store, scheme, fingerprint, &old);

  if (known && (!pst_key_source_is_explicit (source) || pst_key_source_is_explicit (old)))
    source = old;
  *merged_out = source;
  put = pst_store_prepare (store, known
                           ? "UPDATE key_sources SET source = ?3, last_seen = MAX (last_seen, ?4)"
                             " WHERE scheme = ?1 AND fingerprint = ?2"
                           : "INSERT INTO key_sources (scheme, fingerprint, source, first_seen,"
                             " last_seen) VALUES (?1, ?2, ?3, ?4, ?4)", error);
  if (put == NULL)
    return FALSE;
  sqlite3_bind_text (put, 1, scheme, -1, SQLITE_STATIC);
  sqlite3_bind_text (put, 2, fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_text (put, 3, pst_key_source_to_string (source), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (put, 4, now);
  return step_done (store, put, _("cannot record a key's source"), error);
}

/* Runs @sql with ?1 scheme, ?2 address, ?3 fingerprint, ?4 text (may be
 * NULL), ?5 now. */
static gboolean
run5 (PstStore *store, const char *sql, const char *scheme, const char *address,
      const char *fingerprint, const char *text, gint64 now, GError **error)
{
  g_autoptr (Stmt) stmt = pst_store_prepare (store, sql, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, scheme, -1, SQLITE_STATIC);
  pst_store_bind_text_or_null (stmt, 2, address);
  pst_store_bind_text_or_null (stmt, 3, fingerprint);
  pst_store_bind_text_or_null (stmt, 4, text);
  sqlite3_bind_int64 (stmt, 5, now);
  return step_done (store, stmt, _("cannot record an address's key"), error);
}

/* Whether @fingerprint is recorded as an unvouched replacement of
 * @replaced for @address. */
static gboolean
change_recorded (PstStore *store, const char *scheme, const char *address, const char *fingerprint,
                 const char *replaced)
{
  g_autoptr (Stmt) get = pst_store_prepare (store, "SELECT 1 FROM key_changes WHERE scheme = ?1"
                                            " AND address = ?2 AND fingerprint = ?3"
                                            " AND replaces = ?4", NULL);

  if (get == NULL)
    return FALSE;
  sqlite3_bind_text (get, 1, scheme, -1, SQLITE_STATIC);
  sqlite3_bind_text (get, 2, address, -1, SQLITE_STATIC);
  sqlite3_bind_text (get, 3, fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_text (get, 4, replaced, -1, SQLITE_STATIC);
  return sqlite3_step (get) == SQLITE_ROW;
}

static gboolean
learn_binding (PstStore *store, const char *scheme, const char *address, const char *fingerprint,
               PstKeySource source, const char *previous, gint64 now, gboolean *changed_out,
               GError **error)
{
  static const char *const bind_sql =
    "INSERT OR REPLACE INTO key_bindings (scheme, address, fingerprint, changed_at)"
    " VALUES (?1, ?2, ?3, ?5)";
  static const char *const vouch_sql =
    "DELETE FROM key_changes WHERE scheme = ?1 AND fingerprint = ?3";
  g_autoptr (Stmt) get = NULL;
  g_autofree char *old = NULL;
  PstKeySource old_source;

  if (!(get = pst_store_prepare (store, "SELECT fingerprint FROM key_bindings"
                                 " WHERE scheme = ?1 AND address = ?2", error)))
    return FALSE;
  sqlite3_bind_text (get, 1, scheme, -1, SQLITE_STATIC);
  sqlite3_bind_text (get, 2, address, -1, SQLITE_STATIC);
  if (sqlite3_step (get) == SQLITE_ROW)
    old = pst_store_column_strdup (get, 0);
  else if (previous != NULL)
    old = g_ascii_strup (previous, -1);

  /* The user's own doing, or a CA's chain: bound, and vouched for. */
  if (source_is_vouched (source))
    return run5 (store, bind_sql, scheme, address, fingerprint, NULL, now, error)
           && run5 (store, vouch_sql, scheme, NULL, fingerprint, NULL, now, error);
  if (old == NULL)
    return run5 (store, bind_sql, scheme, address, fingerprint, NULL, now, error);
  if (g_ascii_strcasecmp (old, fingerprint) == 0)
    return TRUE;
  /* A discovered key for an address that has another.  Back to a key that
   * the bound one had replaced without anyone vouching: that one stays
   * flagged, this one is no new change. */
  if (change_recorded (store, scheme, address, old, fingerprint))
    return run5 (store, bind_sql, scheme, address, fingerprint, NULL, now, error);
  if (!run5 (store, "INSERT OR REPLACE INTO key_changes (scheme, address, fingerprint, replaces,"
             " changed_at) VALUES (?1, ?2, ?3, ?4, ?5)", scheme, address, fingerprint, old, now,
             error))
    return FALSE;
  if (changed_out != NULL)
    *changed_out = TRUE;
  /* Encryption moves on to it only from a key that was discovered too: a
   * key the user gave (or one in the keyring from before, which the store
   * has no source for) stays the one used until the user says otherwise. */
  if (!get_source (store, scheme, old, &old_source) || source_is_vouched (old_source))
    return run5 (store, bind_sql, scheme, address, old, NULL, now, error);
  return run5 (store, bind_sql, scheme, address, fingerprint, NULL, now, error);
}

gboolean
pst_store_key_learn (PstStore *store, const char *scheme, const char *address,
                     const char *fingerprint, PstKeySource source, const char *previous,
                     gint64 now, gboolean *changed_out, GError **error)
{
  g_autofree char *addr = g_ascii_strdown (address, -1);
  PstKeySource merged = source;
  gboolean ok;

  if (changed_out != NULL)
    *changed_out = FALSE;
  g_rec_mutex_lock (&store->lock);
  ok = pst_store_txn_begin (store, error)
       && learn_source (store, scheme, fingerprint, source, now, &merged, error)
       && learn_binding (store, scheme, addr, fingerprint, merged, previous, now, changed_out,
                         error);
  if (ok)
    ok = pst_store_txn_commit (store, error);
  else
    pst_store_txn_rollback (store);
  if (!ok && changed_out != NULL)
    *changed_out = FALSE;
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_key_record (PstStore *store, const char *scheme, const char *fingerprint,
                      PstKeyRecord *record_out, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean found = FALSE;
  int rc;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "SELECT source, first_seen, last_seen FROM key_sources"
                            " WHERE scheme = ?1 AND fingerprint = ?2", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, scheme, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, fingerprint, -1, SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          found = TRUE;
          if (!pst_key_source_from_string ((const char *) sqlite3_column_text (stmt, 0),
                                           &record_out->source))
            record_out->source = PST_KEY_SOURCE_IMPORTED;
          record_out->first_seen = sqlite3_column_int64 (stmt, 1);
          record_out->last_seen = sqlite3_column_int64 (stmt, 2);
        }
      else if (rc != SQLITE_DONE)
        pst_store_set_db_error (store, error, _("cannot read a key's source (store %s)"),
                                store->path);
    }
  g_rec_mutex_unlock (&store->lock);
  return found;
}

char *
pst_store_key_binding (PstStore *store, const char *scheme, const char *address,
                       char **replaces_out, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autofree char *addr = g_ascii_strdown (address, -1);
  char *fingerprint = NULL;
  int rc;

  if (replaces_out != NULL)
    *replaces_out = NULL;
  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "SELECT b.fingerprint, c.replaces FROM key_bindings b"
                            " LEFT JOIN key_changes c ON c.scheme = b.scheme"
                            " AND c.address = b.address AND c.fingerprint = b.fingerprint"
                            " WHERE b.scheme = ?1 AND b.address = ?2", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, scheme, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, addr, -1, SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          fingerprint = pst_store_column_strdup (stmt, 0);
          if (replaces_out != NULL)
            *replaces_out = pst_store_column_strdup (stmt, 1);
        }
      else if (rc != SQLITE_DONE)
        pst_store_set_db_error (store, error, _("cannot read an address's key (store %s)"),
                                store->path);
    }
  g_rec_mutex_unlock (&store->lock);
  return fingerprint;
}

char *
pst_store_key_replaced (PstStore *store, const char *scheme, const char *fingerprint,
                        GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  char *replaces = NULL;
  int rc;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "SELECT replaces FROM key_changes WHERE scheme = ?1"
                            " AND fingerprint = ?2 ORDER BY changed_at LIMIT 1", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, scheme, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, fingerprint, -1, SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        replaces = pst_store_column_strdup (stmt, 0);
      else if (rc != SQLITE_DONE)
        pst_store_set_db_error (store, error, _("cannot read an address's key (store %s)"),
                                store->path);
    }
  g_rec_mutex_unlock (&store->lock);
  return replaces;
}

gboolean
pst_store_key_forget (PstStore *store, const char *scheme, const char *fingerprint,
                      GError **error)
{
  static const char *const sql[] = {
    "DELETE FROM key_sources WHERE scheme = ?1 AND fingerprint = ?2",
    "DELETE FROM key_bindings WHERE scheme = ?1 AND fingerprint = ?2",
    "DELETE FROM key_changes WHERE scheme = ?1 AND fingerprint = ?2",
  };
  gboolean ok;

  g_rec_mutex_lock (&store->lock);
  ok = pst_store_txn_begin (store, error);
  for (guint i = 0; ok && i < G_N_ELEMENTS (sql); i++)
    {
      g_autoptr (Stmt) stmt = pst_store_prepare (store, sql[i], error);

      if (!(ok = stmt != NULL))
        break;
      sqlite3_bind_text (stmt, 1, scheme, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, fingerprint, -1, SQLITE_STATIC);
      ok = step_done (store, stmt, _("cannot forget a key"), error);
    }
  if (ok)
    ok = pst_store_txn_commit (store, error);
  else
    pst_store_txn_rollback (store);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_note_encrypted_message (PstStore *store, const char *message_id, gint64 now,
                                  GError **error)
{
  gboolean ok;

  g_rec_mutex_lock (&store->lock);
  ok = run5 (store, "INSERT OR REPLACE INTO encrypted_messages (message_id, seen_at)"
             " VALUES (?2, ?5)", "", message_id, NULL, NULL, now, error);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_is_encrypted_message (PstStore *store, const char *message_id)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean found = FALSE;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "SELECT 1 FROM encrypted_messages WHERE message_id = ?1", NULL);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, message_id, -1, SQLITE_STATIC);
      found = sqlite3_step (stmt) == SQLITE_ROW;
    }
  g_rec_mutex_unlock (&store->lock);
  return found;
}

void
pst_autocrypt_peer_free (PstAutocryptPeer *peer)
{
  if (peer == NULL)
    return;
  g_free (peer->addr);
  g_free (peer->fingerprint);
  g_clear_pointer (&peer->keydata, g_bytes_unref);
  g_free (peer->gossip_fingerprint);
  g_clear_pointer (&peer->gossip_keydata, g_bytes_unref);
  g_free (peer);
}

PstAutocryptPeer *
pst_store_peer_get (PstStore *store, const char *addr, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autofree char *lower = g_ascii_strdown (addr, -1);
  PstAutocryptPeer *peer = NULL;
  int rc;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "SELECT last_seen, autocrypt_timestamp, fingerprint, keydata,"
                            " prefer_encrypt, gossip_timestamp, gossip_fingerprint,"
                            " gossip_keydata FROM autocrypt_peers WHERE addr = ?1", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_STATIC);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          peer = g_new0 (PstAutocryptPeer, 1);
          peer->addr = g_strdup (lower);
          peer->last_seen = sqlite3_column_int64 (stmt, 0);
          peer->autocrypt_timestamp = sqlite3_column_int64 (stmt, 1);
          peer->fingerprint = pst_store_column_strdup (stmt, 2);
          peer->keydata = column_bytes (stmt, 3);
          peer->mutual = g_strcmp0 ((const char *) sqlite3_column_text (stmt, 4), "mutual") == 0;
          peer->gossip_timestamp = sqlite3_column_int64 (stmt, 5);
          peer->gossip_fingerprint = pst_store_column_strdup (stmt, 6);
          peer->gossip_keydata = column_bytes (stmt, 7);
        }
      else if (rc != SQLITE_DONE)
        pst_store_set_db_error (store, error, _("cannot read the Autocrypt state of %s (store %s)"),
                                lower, store->path);
    }
  g_rec_mutex_unlock (&store->lock);
  return peer;
}

gboolean
pst_store_peer_put (PstStore *store, const PstAutocryptPeer *peer, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autofree char *lower = g_ascii_strdown (peer->addr, -1);
  gboolean ok = FALSE;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "INSERT OR REPLACE INTO autocrypt_peers (addr, last_seen,"
                            " autocrypt_timestamp, fingerprint, keydata, prefer_encrypt,"
                            " gossip_timestamp, gossip_fingerprint, gossip_keydata)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, peer->last_seen);
      sqlite3_bind_int64 (stmt, 3, peer->autocrypt_timestamp);
      pst_store_bind_text_or_null (stmt, 4, peer->fingerprint);
      bind_bytes_or_null (stmt, 5, peer->keydata);
      sqlite3_bind_text (stmt, 6, peer->mutual ? "mutual" : "nopreference", -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 7, peer->gossip_timestamp);
      pst_store_bind_text_or_null (stmt, 8, peer->gossip_fingerprint);
      bind_bytes_or_null (stmt, 9, peer->gossip_keydata);
      ok = step_done (store, stmt, _("cannot write the Autocrypt state"), error);
    }
  g_rec_mutex_unlock (&store->lock);
  return ok;
}
