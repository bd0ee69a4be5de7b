#include "store/schema.h"

#include "util/error.h"

#include <glib/gi18n-lib.h>

/* Step i takes the database from version i to i + 1.  Never edit a step
 * that has shipped: append a new one. */
static const char *const steps[] = {
  /* 0 → 1: messages, seen UIDLs, outbox. */
  "CREATE TABLE messages ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  account TEXT NOT NULL,"
  "  uidl TEXT NOT NULL,"
  "  received_at INTEGER NOT NULL,"
  "  size INTEGER NOT NULL DEFAULT 0,"
  "  from_addr TEXT,"
  "  subject TEXT,"
  "  date TEXT,"
  "  crypto_json TEXT,"
  "  scan_verdict TEXT,"
  "  flags INTEGER NOT NULL DEFAULT 0"
  ");"
  /* Lists go newest first by id, which is commit order (writers are
   * serialized) and, unlike received_at, immune to clock jumps. */
  "CREATE INDEX messages_by_account ON messages (account, id DESC);"
  /* A rowid table, so that chunks can be read with sqlite3_blob_open(). */
  "CREATE TABLE message_chunks ("
  "  id INTEGER PRIMARY KEY,"
  "  message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
  "  seq INTEGER NOT NULL,"
  "  data BLOB NOT NULL,"
  "  UNIQUE (message_id, seq)"
  ");"
  /* Outlives the message: a deleted message must not be fetched again. */
  "CREATE TABLE seen ("
  "  account TEXT NOT NULL,"
  "  uidl TEXT NOT NULL,"
  "  seen_at INTEGER NOT NULL,"
  "  PRIMARY KEY (account, uidl)"
  ") WITHOUT ROWID;"
  "CREATE TABLE outbox ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  account TEXT NOT NULL,"
  "  reverse_path TEXT NOT NULL,"
  "  state TEXT NOT NULL DEFAULT 'queued',"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  next_try INTEGER NOT NULL DEFAULT 0,"
  "  last_reply TEXT,"
  "  in_doubt INTEGER NOT NULL DEFAULT 0,"
  "  size INTEGER NOT NULL DEFAULT 0,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL"
  ");"
  "CREATE INDEX outbox_by_state ON outbox (state, next_try);"
  "CREATE INDEX outbox_by_account ON outbox (account, id);"
  "CREATE TABLE outbox_recipients ("
  "  outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,"
  "  pos INTEGER NOT NULL,"
  "  address TEXT NOT NULL,"
  "  PRIMARY KEY (outbox_id, pos)"
  ") WITHOUT ROWID;"
  "CREATE TABLE outbox_chunks ("
  "  id INTEGER PRIMARY KEY,"
  "  outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,"
  "  seq INTEGER NOT NULL,"
  "  data BLOB NOT NULL,"
  "  UNIQUE (outbox_id, seq)"
  ");",
  /* 1 → 2: a writer's row exists from begin on, flagged unfinished until its
   * commit, so that it holds no transaction while its bytes come in; reads
   * skip such rows and open deletes those a crash left.  Ids are now given
   * at begin: they follow the order in which writers began, which is the
   * order of commits only when writers do not overlap. */
  "ALTER TABLE messages ADD COLUMN unfinished INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE outbox ADD COLUMN unfinished INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX messages_unfinished ON messages (id) WHERE unfinished;"
  "CREATE INDEX outbox_unfinished ON outbox (id) WHERE unfinished;",
  /* 2 → 3: what the scanner called what it found, and quarantine: such a
   * message is kept, but no list shows it and no client opens it. */
  "ALTER TABLE messages ADD COLUMN scan_name TEXT;"
  "ALTER TABLE messages ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;",
  /* 3 → 4: what the sender must know of a queued message before it talks
   * to the server (8-bit bytes at all, and in the header), recorded when
   * it is queued so that the sender reads it once; NULL for entries queued
   * before (the sender then finds out as it reads). */
  "ALTER TABLE outbox ADD COLUMN eight_bit INTEGER;"
  "ALTER TABLE outbox ADD COLUMN utf8_headers INTEGER;",
  /* 4 → 5: keys that find themselves (DESIGN.md §14).  key_sources: where
   * each key came from; key_bindings: the key an address has now (the one
   * encryption uses); key_changes: a discovered key that came for an
   * address which had another, kept until the user vouches for it (the
   * "key-changed" warning); autocrypt_peers: the Autocrypt Level 1 peer
   * state, by lower-cased address. */
  "CREATE TABLE key_sources ("
  "  scheme TEXT NOT NULL,"
  "  fingerprint TEXT NOT NULL,"
  "  source TEXT NOT NULL,"
  "  first_seen INTEGER NOT NULL,"
  "  last_seen INTEGER NOT NULL,"
  "  PRIMARY KEY (scheme, fingerprint)"
  ") WITHOUT ROWID;"
  "CREATE TABLE key_bindings ("
  "  scheme TEXT NOT NULL,"
  "  address TEXT NOT NULL,"
  "  fingerprint TEXT NOT NULL,"
  "  changed_at INTEGER NOT NULL,"
  "  PRIMARY KEY (scheme, address)"
  ") WITHOUT ROWID;"
  "CREATE TABLE key_changes ("
  "  scheme TEXT NOT NULL,"
  "  address TEXT NOT NULL,"
  "  fingerprint TEXT NOT NULL,"
  "  replaces TEXT NOT NULL,"
  "  changed_at INTEGER NOT NULL,"
  "  PRIMARY KEY (scheme, address, fingerprint)"
  ") WITHOUT ROWID;"
  "CREATE INDEX key_changes_by_key ON key_changes (scheme, fingerprint);"
  /* The outer Message-IDs of mail that arrived encrypted: a reply to one
   * is encrypted when Autocrypt allows it at all (Level 1 §2.4). */
  "CREATE TABLE encrypted_messages ("
  "  message_id TEXT PRIMARY KEY,"
  "  seen_at INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE TABLE autocrypt_peers ("
  "  addr TEXT PRIMARY KEY,"
  "  last_seen INTEGER NOT NULL DEFAULT 0,"
  "  autocrypt_timestamp INTEGER NOT NULL DEFAULT 0,"
  "  fingerprint TEXT,"
  "  keydata BLOB,"
  "  prefer_encrypt TEXT NOT NULL DEFAULT 'nopreference',"
  "  gossip_timestamp INTEGER NOT NULL DEFAULT 0,"
  "  gossip_fingerprint TEXT,"
  "  gossip_keydata BLOB"
  ") WITHOUT ROWID;",
  /* 5 → 6: delivery to other mail programs (an account's deliver).  A
   * message to deliver gets its pending row in the transaction that stores
   * it, and the row becomes done once the message is in the Maildir (or
   * the MDA took it).  store_info: facts about this store; delivery_token,
   * random, makes the Maildir names of two stores differ. */
  "CREATE TABLE deliveries ("
  "  message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,"
  "  account TEXT NOT NULL,"
  "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),"
  "  done_at INTEGER"
  ");"
  "CREATE INDEX deliveries_pending ON deliveries (account, message_id) WHERE state = 'pending';"
  "CREATE TABLE store_info ("
  "  key TEXT PRIMARY KEY,"
  "  value TEXT NOT NULL"
  ") WITHOUT ROWID;"
  "INSERT INTO store_info (key, value) VALUES ('delivery_token', lower(hex(randomblob(8))));",
  /* 6 → 7: read state and threads (DESIGN.md §6, issue 15).  unread: new
   * messages are unread (the writer says so), those stored before count as
   * read.  thread: the number of the message's thread (the id of one of
   * its messages), NULL until it is known: pst_store_open() threads those
   * rows from the header of their stored bytes (core/store/threads.c), so
   * the mail stored before is threaded too.  thread_ids: every Message-ID a
   * stored message has or refers to (Message-ID, In-Reply-To, References
   * of the outer header), with its thread; a message that names one joins
   * that thread, and one naming two merges them. */
  "ALTER TABLE messages ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE messages ADD COLUMN thread INTEGER;"
  "CREATE INDEX messages_unread ON messages (id) WHERE unread;"
  "CREATE INDEX messages_unread_by_account ON messages (account, id) WHERE unread;"
  "CREATE INDEX messages_by_thread ON messages (thread, id);"
  "CREATE TABLE thread_ids ("
  "  msgid TEXT PRIMARY KEY,"
  "  thread INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE INDEX thread_ids_by_thread ON thread_ids (thread);",
  /* 7 → 8: drafts (issue 15), kept only sealed: encrypted to the own
   * OpenPGP key of their account by the agent before they come here
   * (store/drafts.h).  Their Subject and recipients are inside the seal:
   * a list decrypts them. */
  "CREATE TABLE drafts ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  account TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  sealed BLOB NOT NULL"
  ");"
  "CREATE INDEX drafts_by_account ON drafts (account, updated_at);",
  /* 8 → 9: the messages a seal_incoming account has still to seal
   * (PST_MESSAGE_FLAG_SEAL_PENDING, flags bit 2), which every fetch of the
   * account looks for first: by a partial index, not a walk over all of
   * the account's mail.  pst_store_messages_seal_pending says the same
   * condition, with the number written out, for SQLite to use it. */
  "CREATE INDEX messages_seal_pending ON messages (account, id) WHERE flags & 2 != 0;",
  /* 9 → 10: the copies of one message (its Bcc recipients' own copies,
   * DESIGN.md §3) queued together: message is the id of the group's first
   * entry, in every entry of a group of two or more, NULL in one queued
   * alone or before this step.  The hour's limit counts messages, not
   * copies: count (DISTINCT coalesce (message, id)). */
  "ALTER TABLE outbox ADD COLUMN message INTEGER;",
  /* 10 → 11: which reading of the agent's wrote a message's crypto_json
   * (PST_READER_VERSION, agent/reader.h), NULL for a summary written before
   * (or by a writer that does not say): a summary is trusted instead of a
   * new reading (export of a message neither encrypted nor signed,
   * agent/open.c) only when the reading that wrote it is the current one. */
  "ALTER TABLE messages ADD COLUMN reader_version INTEGER;",
};

int
pst_store_schema_latest (void)
{
  return (int) G_N_ELEMENTS (steps);
}

static gboolean
exec (sqlite3 *db, const char *sql, const char *path, int to_version, GError **error)
{
  char *msg = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &msg) == SQLITE_OK)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               _("cannot migrate store %s to schema version %d: %s"), path, to_version,
               msg != NULL ? msg : sqlite3_errmsg (db));
  sqlite3_free (msg);
  return FALSE;
}

static void
rollback (sqlite3 *db)
{
  if (!sqlite3_get_autocommit (db))
    sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
}

static gboolean
read_version (sqlite3 *db, const char *path, int *version_out, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("cannot read the schema version of store %s: %s"), path,
                   sqlite3_errmsg (db));
      sqlite3_finalize (stmt);
      return FALSE;
    }
  *version_out = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return TRUE;
}

gboolean
pst_store_schema_migrate (sqlite3 *db, const char *path, guint *applied_out, GError **error)
{
  int latest = pst_store_schema_latest ();
  guint applied = 0;

  for (;;)
    {
      g_autofree char *set_version = NULL;
      int version;

      /* The version is read inside the write transaction, so two processes
       * opening an old database at once cannot both run the same step. */
      if (!exec (db, "BEGIN IMMEDIATE", path, latest, error))
        return FALSE;
      if (!read_version (db, path, &version, error))
        {
          rollback (db);
          return FALSE;
        }
      if (version > latest || version < 0)
        {
          rollback (db);
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       _("store %s has schema version %d, but this Postern knows only "
                         "versions up to %d; use a newer Postern"),
                       path, version, latest);
          return FALSE;
        }
      if (version == latest)
        {
          rollback (db);
          break;
        }
      set_version = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
      if (!exec (db, steps[version], path, version + 1, error)
          || !exec (db, set_version, path, version + 1, error)
          || !exec (db, "COMMIT", path, version + 1, error))
        {
          rollback (db);
          return FALSE;
        }
      applied++;
    }

  if (applied_out != NULL)
    *applied_out = applied;
  return TRUE;
}
