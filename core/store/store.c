#include "store/store.h"

#include "store/schema.h"
#include "store/threads.h"
#include "store/store-private.h"
#include "util/error.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <sqlite3.h>

#define CHUNK_SIZE (256 * 1024)
#define BUSY_TIMEOUT_MS 10000


/* The two kinds of stored bytes differ only in their table names. */
typedef struct {
  const char *owner;        /* messages | outbox */
  const char *chunks;       /* its chunk table */
  const char *insert_chunk;
  const char *find_chunk;
  const char *finish;       /* sets size and time, clears unfinished, at commit */
  const char *discard;      /* deletes an unfinished row, its chunks by cascade */
  const char *exists;
  const char *last_chunk;   /* the highest chunk rowid of the table */
  const char *chunk_is;     /* whether chunk rowid ?1 is still entry ?2's */
  const char *missing_fmt;  /* "no … with id %" */
} ByteTable;

static const ByteTable message_table = {
  "messages", "message_chunks",
  "INSERT INTO message_chunks (message_id, seq, data) VALUES (?1, ?2, ?3)",
  "SELECT id, length(data) FROM message_chunks WHERE message_id = ?1 AND seq = ?2",
  "UPDATE messages SET size = ?2, received_at = ?3, unfinished = 0"
  " WHERE id = ?1 AND unfinished",
  "DELETE FROM messages WHERE id = ?1 AND unfinished",
  "SELECT 1 FROM messages WHERE id = ?1 AND NOT unfinished",
  "SELECT coalesce(max(id), 0) FROM message_chunks",
  "SELECT 1 FROM message_chunks WHERE id = ?1 AND message_id = ?2",
  N_("no message with id %" PRId64),
};

static const ByteTable outbox_table = {
  "outbox", "outbox_chunks",
  "INSERT INTO outbox_chunks (outbox_id, seq, data) VALUES (?1, ?2, ?3)",
  "SELECT id, length(data) FROM outbox_chunks WHERE outbox_id = ?1 AND seq = ?2",
  "UPDATE outbox SET size = ?2, created_at = ?3, updated_at = ?3, unfinished = 0"
  " WHERE id = ?1 AND unfinished",
  "DELETE FROM outbox WHERE id = ?1 AND unfinished",
  "SELECT 1 FROM outbox WHERE id = ?1 AND NOT unfinished",
  "SELECT coalesce(max(id), 0) FROM outbox_chunks",
  "SELECT 1 FROM outbox_chunks WHERE id = ?1 AND outbox_id = ?2",
  N_("no outbox entry with id %" PRId64),
};

static const char *const state_names[] = {
  [PST_OUTBOX_QUEUED] = "queued",
  [PST_OUTBOX_SENDING] = "sending",
  [PST_OUTBOX_SENT] = "sent",
  [PST_OUTBOX_FAILED] = "failed",
  [PST_OUTBOX_CANCELLED] = "cancelled",
};

static const char *const scan_verdicts[] = { "clean", "infected", "error", "skipped" };

/* ---- helpers ---- */

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static PstStore *
store_ref (PstStore *store)
{
  g_atomic_ref_count_inc (&store->ref);
  return store;
}

static void
store_unref (PstStore *store)
{
  if (!g_atomic_ref_count_dec (&store->ref))
    return;
  if (store->db != NULL)
    pst_store_stmt_cache_close (store->db);
  if (store->db != NULL && sqlite3_close (store->db) != SQLITE_OK)
    g_warning ("cannot close store %s: %s", store->path, sqlite3_errmsg (store->db));
  g_rec_mutex_clear (&store->lock);
  g_free (store->path);
  g_free (store);
}

/* SQLite's words, or plain ones when the disk is the cause. */
static const char *
db_reason (PstStore *store)
{
  int code = sqlite3_errcode (store->db), sys = sqlite3_system_errno (store->db);

  if (code == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT)
    return _("the disk is full");
  if (sys == EFBIG)
    return _("the file size limit is reached (the disk is full for this process)");
  return sqlite3_errmsg (store->db);
}


static sqlite3_stmt *
prepare (PstStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = pst_store_stmt_take (store->db, sql);

  if (stmt != NULL)
    return stmt;
  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      pst_store_set_db_error (store, error, _("store %s"), store->path);
      return NULL;
    }
  return stmt;
}


/* ---- search ---- */

#define SEARCH_ESCAPE '\\'

/* Whether @text is ASCII only: LIKE ignores ASCII case by itself. */
static gboolean
is_ascii (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p >= 0x80)
      return FALSE;
  return TRUE;
}

/* @text made comparable without regard to case, beyond what LIKE does for
 * ASCII: Unicode case folding (so "ß" finds "SS"), composed (NFC) when it
 * holds combining marks (so a decomposed "é" finds a precomposed one).
 * Normalising only then keeps a search over many non-ASCII subjects fast.
 * Transfer full. */
static char *
fold_text (const char *text)
{
  g_autofree char *valid = g_utf8_validate (text, -1, NULL) ? NULL : g_utf8_make_valid (text, -1);
  char *folded = g_utf8_casefold (valid != NULL ? valid : text, -1);
  char *composed;

  /* U+0300..U+036F, the combining diacritical marks, begin with 0xCC or 0xCD */
  if (strchr (folded, '\xcc') == NULL && strchr (folded, '\xcd') == NULL)
    return folded;
  composed = g_utf8_normalize (folded, -1, G_NORMALIZE_DEFAULT_COMPOSE);
  g_free (folded);
  return composed;
}

/* SQL pst_fold (text): fold_text for text with non-ASCII characters, the
 * text itself when it is ASCII (LIKE folds that), NULL for NULL. */
static void
sql_fold (sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  const char *text = (const char *) sqlite3_value_text (argv[0]);

  (void) argc;
  if (text == NULL || is_ascii (text))
    sqlite3_result_value (ctx, argv[0]);
  else
    sqlite3_result_text (ctx, fold_text (text), -1, g_free);
}

/* One statement, run once through the statement cache: the transaction
 * statements that every write runs. */
static gboolean
run_cached (PstStore *store, const char *sql, GError **error)
{
  g_autoptr (Stmt) stmt = prepare (store, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    return TRUE;
  pst_store_set_db_error (store, error, _("store %s"), store->path);
  return FALSE;
}

static gboolean
exec (PstStore *store, const char *sql, GError **error)
{
  if (sqlite3_exec (store->db, sql, NULL, NULL, NULL) == SQLITE_OK)
    return TRUE;
  pst_store_set_db_error (store, error, _("store %s"), store->path);
  return FALSE;
}

static void
rollback (PstStore *store)
{
  /* SQLite rolls back by itself after some errors (SQLITE_FULL among them). */
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Opens a write transaction; under the lock.  One that is not @durable runs
 * with synchronous=NORMAL: it holds only unfinished rows, which a crash may
 * lose harmlessly, and in WAL mode the next durable commit syncs its frames
 * too. */
static gboolean
txn_begin (PstStore *store, gboolean durable, GError **error)
{
  if (!durable && !run_cached (store, "PRAGMA synchronous = NORMAL", error))
    return FALSE;
  if (run_cached (store, "BEGIN IMMEDIATE", error))
    return TRUE;
  run_cached (store, "PRAGMA synchronous = FULL", NULL);
  return FALSE;
}

static void
txn_rollback (PstStore *store)
{
  rollback (store);
  run_cached (store, "PRAGMA synchronous = FULL", NULL);
}

static gboolean
txn_commit (PstStore *store, GError **error)
{
  if (!run_cached (store, "COMMIT", error))
    {
      txn_rollback (store);
      return FALSE;
    }
  /* Every other change (outbox states above all) relies on FULL. */
  if (!run_cached (store, "PRAGMA synchronous = FULL", NULL))
    g_warning ("cannot restore synchronous=FULL on store %s: %s", store->path,
               sqlite3_errmsg (store->db));
  return TRUE;
}

/* Left by writers that never finished (a crash, a kill): invisible, but
 * their chunks take space. */
static gboolean
remove_unfinished (PstStore *store, GError **error)
{
  if (!txn_begin (store, TRUE, error))
    return FALSE;
  if (!exec (store,
             "DELETE FROM messages WHERE unfinished;"
             "DELETE FROM outbox WHERE unfinished",
             error))
    {
      txn_rollback (store);
      return FALSE;
    }
  return txn_commit (store, error);
}

static gboolean
make_private (const char *path, gboolean create, GError **error)
{
  struct stat st;
  int fd;

  fd = open (path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0)
    {
      int saved = errno;

      if (!create && saved == ENOENT)
        return TRUE;
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot open store %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) == 0 && (st.st_mode & 077) != 0 && fchmod (fd, 0600) != 0)
    {
      int saved = errno;

      close (fd);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot make store %s private: %s"),
                   path, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* ---- open and close ---- */

PstStore *
pst_store_open (const char *path, GError **error)
{
  g_autoptr (PstStore) store = NULL;
  g_autofree char *wal = NULL;
  g_autofree char *shm = NULL;
  sqlite3_stmt *stmt = NULL;
  gboolean wal_on;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);

  /* SQLite gives the -wal and -shm files the main file's mode, so creating
   * that one 0600 ourselves covers all three without touching the
   * process-wide umask; the others are tightened in case an older run left
   * them wider. */
  wal = g_strconcat (path, "-wal", NULL);
  shm = g_strconcat (path, "-shm", NULL);
  if (!make_private (path, TRUE, error) || !make_private (wal, FALSE, error)
      || !make_private (shm, FALSE, error))
    return NULL;

  store = g_new0 (PstStore, 1);
  g_atomic_ref_count_init (&store->ref);
  g_rec_mutex_init (&store->lock);
  store->path = g_strdup (path);

  rc = sqlite3_open_v2 (path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot open store %s: %s"), path,
                   store->db != NULL ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc));
      return NULL;
    }
  sqlite3_busy_timeout (store->db, BUSY_TIMEOUT_MS);
  pst_store_stmt_cache_open (store->db);
  if (sqlite3_create_function_v2 (store->db, "pst_fold", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                  NULL, sql_fold, NULL, NULL, NULL) != SQLITE_OK)
    {
      pst_store_set_db_error (store, error, _("cannot open store %s"), path);
      return NULL;
    }

  /* Pages of 16 KiB for a new store (an existing one keeps its own:
   * page_size changes only an empty database).  A message is kept in
   * chunks of 256 KiB, which SQLite writes, checkpoints and reads back a
   * page per system call: with 4 KiB pages a 200 MB arrival, fetched and
   * sealed, took 13.1 s, with 16 KiB 9.7 s (64 KiB: 9.0 s); a fetch of
   * 1,000 messages of 4 KiB took the same (tests/bench/bench-fetch.sh,
   * two runs each: 7.26 and 6.79 s against 7.28 and 6.47 s). */
  if (sqlite3_exec (store->db, "PRAGMA page_size = 16384", NULL, NULL, NULL) != SQLITE_OK)
    {
      pst_store_set_db_error (store, error, _("cannot open store %s"), path);
      return NULL;
    }
  rc = sqlite3_prepare_v2 (store->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  wal_on = rc == SQLITE_ROW
           && g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), "wal") == 0;
  sqlite3_finalize (stmt);
  if (!wal_on)
    {
      if (rc == SQLITE_ROW)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     _("cannot open store %s: the file system does not allow WAL mode"), path);
      else
        pst_store_set_db_error (store, error, _("cannot open store %s"), path);
      return NULL;
    }
  /* secure_delete: bytes of deleted rows are overwritten, so that a sealed
   * message (seal_incoming) leaves no plaintext behind in free pages. */
  if (sqlite3_exec (store->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                               " PRAGMA secure_delete = ON", NULL,
                    NULL, NULL) != SQLITE_OK)
    {
      pst_store_set_db_error (store, error, _("cannot open store %s"), path);
      return NULL;
    }
  if (!pst_store_schema_migrate (store->db, path, NULL, error))
    return NULL;
  if (!remove_unfinished (store, error) || !pst_store_thread_unthreaded (store, error))
    {
      g_prefix_error (error, _("cannot open store %s: "), path);
      return NULL;
    }

  return g_steal_pointer (&store);
}

void
pst_store_free (PstStore *store)
{
  if (store != NULL)
    store_unref (store);
}

gboolean
pst_store_set_size_limit (PstStore *store, gint64 max_bytes, GError **error)
{
  g_autofree char *sql = NULL;
  gint64 pages;
  int page_size = 4096;
  gboolean ok;

  g_return_val_if_fail (store != NULL && max_bytes >= 0, FALSE);

  g_rec_mutex_lock (&store->lock);
  {
    g_autoptr (Stmt) stmt = prepare (store, "PRAGMA page_size", error);

    if (stmt == NULL)
      {
        g_rec_mutex_unlock (&store->lock);
        return FALSE;
      }
    if (sqlite3_step (stmt) == SQLITE_ROW)
      page_size = sqlite3_column_int (stmt, 0);
  }
  /* SQLite's own default maximum is 2^32 - 2 pages. */
  pages = max_bytes == 0 ? G_GINT64_CONSTANT (4294967294) : MAX (max_bytes / page_size, 1);
  sql = g_strdup_printf ("PRAGMA max_page_count = %" PRId64, pages);
  ok = exec (store, sql, error);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

/* ---- seen UIDLs ---- */

/* Under the lock. */
static gboolean
lookup_seen (PstStore *store, const char *account, const char *uidl, gboolean *seen_out,
             gint64 *seen_at_out, GError **error)
{
  g_autoptr (Stmt) stmt = prepare (store,
                                   "SELECT seen_at FROM seen WHERE account = ?1 AND uidl = ?2",
                                   error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, account, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, uidl, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot look up UIDL %s of %s in store %s"), uidl, account,
                    store->path);
      return FALSE;
    }
  *seen_out = rc == SQLITE_ROW;
  if (seen_at_out != NULL)
    *seen_at_out = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  return TRUE;
}

static void
set_seen_error (PstStore *store, const char *account, const char *uidl, GError **error)
{
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               _("store %s already has UIDL %s of account %s"), store->path, uidl, account);
}

gboolean
pst_store_uidl_seen (PstStore *store, const char *account, const char *uidl,
                     gboolean *seen_out, GError **error)
{
  return pst_store_uidl_seen_at (store, account, uidl, seen_out, NULL, error);
}

gboolean
pst_store_uidl_seen_at (PstStore *store, const char *account, const char *uidl,
                        gboolean *seen_out, gint64 *seen_at_out, GError **error)
{
  gboolean seen = FALSE;
  gint64 at = 0;
  gboolean ok;

  g_return_val_if_fail (store != NULL && account != NULL && uidl != NULL, FALSE);

  g_rec_mutex_lock (&store->lock);
  ok = lookup_seen (store, account, uidl, &seen, &at, error);
  g_rec_mutex_unlock (&store->lock);
  if (ok && seen_out != NULL)
    *seen_out = seen;
  if (ok && seen_at_out != NULL)
    *seen_at_out = at;
  return ok;
}

/* ---- writers ---- */

/* A writer's row exists from begin on, flagged unfinished, which every read
 * skips; its chunks go in as they fill, each in a short transaction of its
 * own, so that no lock and no transaction is held while the caller waits
 * for more bytes.  Commit clears the flag; anything else deletes the row
 * (and by cascade its chunks), and so does the next open after a crash. */
struct _PstStoreWriter {
  PstStore *store;
  const ByteTable *table;
  gboolean done;        /* committed or given up: only free() is valid */
  gboolean row_left;    /* an unfinished row still to delete */
  char *account;        /* messages only: marked seen at commit */
  char *uidl;
  gboolean deliver;     /* messages only: a pending delivery row at commit */
  gboolean seal_pending; /* messages only: committed with PST_MESSAGE_FLAG_SEAL_PENDING */
  gint64 id;
  gint64 seals;         /* messages only: the message whose bytes these replace (sealing) */
  gint64 seq;
  gint64 size;
  guint8 *buf;          /* CHUNK_SIZE bytes once needed */
  gsize buf_len;
};

static PstStoreWriter *
writer_new (PstStore *store, const ByteTable *table, gint64 id)
{
  PstStoreWriter *writer = g_new0 (PstStoreWriter, 1);

  writer->store = store_ref (store);
  writer->table = table;
  writer->id = id;
  writer->row_left = TRUE;
  return writer;
}

/* Deletes the writer's unfinished row and its chunks.  A failure leaves an
 * invisible row behind, which the next open deletes. */
static void
writer_delete_row (PstStoreWriter *writer)
{
  PstStore *store = writer->store;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (!writer->row_left)
    return;
  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, FALSE, &error);
  if (ok)
    {
      g_autoptr (Stmt) stmt = prepare (store, writer->table->discard, &error);

      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_int64 (stmt, 1, writer->id);
          if (sqlite3_step (stmt) != SQLITE_DONE)
            {
              pst_store_set_db_error (store, &error, _("store %s"), store->path);
              ok = FALSE;
            }
        }
    }
  if (ok)
    ok = txn_commit (store, &error);
  else
    txn_rollback (store);
  g_rec_mutex_unlock (&store->lock);
  if (ok)
    writer->row_left = FALSE;
  else
    g_warning ("cannot remove unfinished %s entry %" PRId64
               " (the next start removes it): %s",
               writer->table->owner, writer->id, error->message);
}

/* After a failure: nothing of the writer stays, and only free() is valid. */
static void
writer_give_up (PstStoreWriter *writer)
{
  writer->done = TRUE;
  writer_delete_row (writer);
}

static gboolean
writer_usable (PstStoreWriter *writer, GError **error)
{
  if (!writer->done)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               _("store %s: this writer was already committed or rolled back"),
               writer->store->path);
  return FALSE;
}

/* Inside a transaction; the caller advances seq once it commits. */
static gboolean
writer_insert_chunk (PstStoreWriter *writer, const guint8 *data, gsize len, GError **error)
{
  PstStore *store = writer->store;
  g_autoptr (Stmt) stmt = prepare (store, writer->table->insert_chunk, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, writer->id);
  sqlite3_bind_int64 (stmt, 2, writer->seq);
  sqlite3_bind_blob (stmt, 3, data, (int) len, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot store bytes in %s of store %s"), writer->table->owner,
                    store->path);
      return FALSE;
    }
  return TRUE;
}

/* One full chunk, in a transaction of its own. */
static gboolean
writer_flush_chunk (PstStoreWriter *writer, const guint8 *data, GError **error)
{
  PstStore *store = writer->store;
  gboolean ok;

  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, FALSE, error);
  if (ok && !writer_insert_chunk (writer, data, CHUNK_SIZE, error))
    {
      txn_rollback (store);
      ok = FALSE;
    }
  if (ok)
    ok = txn_commit (store, error);
  g_rec_mutex_unlock (&store->lock);
  if (ok)
    writer->seq++;
  return ok;
}

static gboolean
insert_returning_id (PstStore *store, sqlite3_stmt *stmt, gint64 *id_out, GError **error,
                     const char *what)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, "%s", what);
      return FALSE;
    }
  if (id_out != NULL)
    *id_out = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

/* Under the lock, inside a transaction. */
static gboolean
message_insert_unfinished (PstStore *store, const char *account, const char *uidl,
                           gint64 *id_out, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autofree char *what = NULL;
  gboolean seen = FALSE;

  if (!lookup_seen (store, account, uidl, &seen, NULL, error))
    return FALSE;
  if (seen)
    {
      set_seen_error (store, account, uidl, error);
      return FALSE;
    }
  stmt = prepare (store,
                  "INSERT INTO messages (account, uidl, received_at, unfinished, unread)"
                  " VALUES (?1, ?2, ?3, 1, 1)",
                  error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, account, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, uidl, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, now_seconds ());
  what = g_strdup_printf (_("cannot add a message to store %s"), store->path);
  return insert_returning_id (store, stmt, id_out, error, what);
}

PstStoreWriter *
pst_store_message_begin (PstStore *store, const char *account, const char *uidl,
                         GError **error)
{
  PstStoreWriter *writer;
  gint64 id = 0;
  gboolean ok;

  g_return_val_if_fail (store != NULL && account != NULL && uidl != NULL, NULL);

  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, FALSE, error);
  if (ok && !message_insert_unfinished (store, account, uidl, &id, error))
    {
      txn_rollback (store);
      ok = FALSE;
    }
  if (ok)
    ok = txn_commit (store, error);
  g_rec_mutex_unlock (&store->lock);
  if (!ok)
    return NULL;

  writer = writer_new (store, &message_table, id);
  writer->account = g_strdup (account);
  writer->uidl = g_strdup (uidl);
  return writer;
}

/* Under the lock, inside a transaction. */
static gboolean
outbox_insert_unfinished (PstStore *store, const char *account, const char *reverse_path,
                          const char *const *recipients, gint64 *id_out, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autofree char *what = NULL;
  gint64 id = 0;

  what = g_strdup_printf (_("cannot add to the outbox of store %s"), store->path);
  stmt = prepare (store,
                  "INSERT INTO outbox (account, reverse_path, created_at, updated_at, unfinished)"
                  " VALUES (?1, ?2, ?3, ?3, 1)",
                  error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, account, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, reverse_path, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, now_seconds ());
  if (!insert_returning_id (store, stmt, &id, error, what))
    return FALSE;
  g_clear_pointer (&stmt, pst_store_stmt_release);

  stmt = prepare (store,
                  "INSERT INTO outbox_recipients (outbox_id, pos, address) VALUES (?1, ?2, ?3)",
                  error);
  if (stmt == NULL)
    return FALSE;
  for (gsize i = 0; recipients[i] != NULL; i++)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int64 (stmt, 2, (gint64) i);
      sqlite3_bind_text (stmt, 3, recipients[i], -1, SQLITE_STATIC);
      if (!insert_returning_id (store, stmt, NULL, error, what))
        return FALSE;
    }
  *id_out = id;
  return TRUE;
}

PstStoreWriter *
pst_store_outbox_begin (PstStore *store, const char *account, const char *reverse_path,
                        const char *const *recipients, GError **error)
{
  gint64 id = 0;
  gboolean ok;

  g_return_val_if_fail (store != NULL && account != NULL && reverse_path != NULL, NULL);

  if (recipients == NULL || recipients[0] == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("cannot queue a message without recipients"));
      return NULL;
    }
  for (gsize i = 0; recipients[i] != NULL; i++)
    if (recipients[i][0] == '\0')
      {
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     _("cannot queue a message for an empty recipient address"));
        return NULL;
      }

  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, FALSE, error);
  if (ok && !outbox_insert_unfinished (store, account, reverse_path, recipients, &id, error))
    {
      txn_rollback (store);
      ok = FALSE;
    }
  if (ok)
    ok = txn_commit (store, error);
  g_rec_mutex_unlock (&store->lock);
  if (!ok)
    return NULL;
  return writer_new (store, &outbox_table, id);
}

gboolean
pst_store_writer_write (PstStoreWriter *writer, const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (writer != NULL && (data != NULL || len == 0), FALSE);

  if (!writer_usable (writer, error))
    return FALSE;

  while (len > 0)
    {
      gsize n;

      /* Whole chunks straight from the caller's buffer. */
      if (writer->buf_len == 0 && len >= CHUNK_SIZE)
        {
          if (!writer_flush_chunk (writer, data, error))
            goto fail;
          data += CHUNK_SIZE;
          len -= CHUNK_SIZE;
          writer->size += CHUNK_SIZE;
          continue;
        }
      if (writer->buf == NULL)
        writer->buf = g_malloc (CHUNK_SIZE);
      n = MIN (len, CHUNK_SIZE - writer->buf_len);
      memcpy (writer->buf + writer->buf_len, data, n);
      writer->buf_len += n;
      writer->size += n;
      data += n;
      len -= n;
      if (writer->buf_len == CHUNK_SIZE)
        {
          if (!writer_flush_chunk (writer, writer->buf, error))
            goto fail;
          writer->buf_len = 0;
        }
    }
  return TRUE;

fail:
  writer_give_up (writer);
  return FALSE;
}

/* Under the lock, inside the commit's transaction: the sealed bytes of
 * @writer's staging row become its message's, whose plaintext chunks go
 * (overwritten: secure_delete), and the staging row goes. */
static gboolean
seal_swap (PstStoreWriter *writer, GError **error)
{
  static const char *const steps[] = {
    "DELETE FROM message_chunks WHERE message_id = ?1",
    "UPDATE message_chunks SET message_id = ?1 WHERE message_id = ?2",
    "DELETE FROM messages WHERE id = ?2 AND unfinished",
    /* Sealed, and no longer waiting for a seal (seal pending). */
    "UPDATE messages SET size = ?3, flags = (flags | ?4) & ~?5 WHERE id = ?1 AND NOT unfinished"
    " AND flags & ?4 = 0",
  };
  PstStore *store = writer->store;

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr (Stmt) stmt = prepare (store, steps[i], error);

      if (stmt == NULL)
        return FALSE;
      /* Parameters a statement does not have are ignored by SQLite's
       * bind (SQLITE_RANGE), harmlessly. */
      sqlite3_bind_int64 (stmt, 1, writer->seals);
      sqlite3_bind_int64 (stmt, 2, writer->id);
      sqlite3_bind_int64 (stmt, 3, writer->size);
      sqlite3_bind_int (stmt, 4, PST_MESSAGE_FLAG_SEALED);
      sqlite3_bind_int (stmt, 5, PST_MESSAGE_FLAG_SEAL_PENDING);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pst_store_set_db_error (store, error, _("cannot seal message %" PRId64 " in store %s"),
                                  writer->seals, store->path);
          return FALSE;
        }
      if (i >= 2 && sqlite3_changes (store->db) != 1)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(message_table.missing_fmt),
                       writer->seals);
          return FALSE;
        }
    }
  return TRUE;
}

PstStoreWriter *
pst_store_message_seal_begin (PstStore *store, gint64 id, GError **error)
{
  PstStoreWriter *writer;
  g_autoptr (Stmt) stmt = NULL;
  gint64 staging = 0;
  gboolean ok;

  g_return_val_if_fail (store != NULL, NULL);

  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, FALSE, error);
  /* An invisible row of the same account for the sealed bytes while they
   * come; the next open deletes it if they never finish. */
  if (ok)
    ok = (stmt = prepare (store,
                          "INSERT INTO messages (account, uidl, received_at, unfinished, unread)"
                          " SELECT account, '', ?2, 1, 0 FROM messages"
                          " WHERE id = ?1 AND NOT unfinished AND flags & ?3 = 0", error)) != NULL;
  if (ok)
    {
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int64 (stmt, 2, now_seconds ());
      sqlite3_bind_int (stmt, 3, PST_MESSAGE_FLAG_SEALED);
      ok = insert_returning_id (store, stmt, &staging, error, _("cannot seal a message"));
      if (ok && sqlite3_changes (store->db) != 1)
        {
          /* None, or sealed already (twice would open to the seal). */
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(message_table.missing_fmt), id);
          ok = FALSE;
        }
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  if (ok)
    ok = txn_commit (store, error);
  else
    txn_rollback (store);
  g_rec_mutex_unlock (&store->lock);
  if (!ok)
    return NULL;
  writer = writer_new (store, &message_table, staging);
  writer->seals = id;
  return writer;
}

/* Under the lock, inside the commit's transaction. */
static gboolean
writer_finish_row (PstStoreWriter *writer, GError **error)
{
  PstStore *store = writer->store;
  g_autoptr (Stmt) stmt = NULL;

  if (writer->uidl != NULL)
    {
      /* Another writer for the same UIDL may have committed since begin. */
      stmt = prepare (store, "INSERT INTO seen (account, uidl, seen_at) VALUES (?1, ?2, ?3)",
                      error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, writer->account, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, writer->uidl, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 3, now_seconds ());
      switch (sqlite3_step (stmt) & 0xff)
        {
        case SQLITE_DONE:
          break;
        case SQLITE_CONSTRAINT:
          set_seen_error (store, writer->account, writer->uidl, error);
          return FALSE;
        default:
          pst_store_set_db_error (store, error, _("cannot mark UIDL %s of %s seen in store %s"),
                        writer->uidl, writer->account, store->path);
          return FALSE;
        }
      g_clear_pointer (&stmt, pst_store_stmt_release);
    }

  if (writer->deliver)
    {
      stmt = prepare (store, "INSERT INTO deliveries (message_id, account) VALUES (?1, ?2)", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, writer->id);
      sqlite3_bind_text (stmt, 2, writer->account, -1, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pst_store_set_db_error (store, error, _("cannot record the delivery of message %" PRId64
                                                  " in store %s"), writer->id, store->path);
          return FALSE;
        }
      g_clear_pointer (&stmt, pst_store_stmt_release);
    }

  if (writer->buf_len > 0 && !writer_insert_chunk (writer, writer->buf, writer->buf_len, error))
    return FALSE;
  if (writer->seals != 0)
    return seal_swap (writer, error);

  stmt = prepare (store, writer->table->finish, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, writer->id);
  sqlite3_bind_int64 (stmt, 2, writer->size);
  sqlite3_bind_int64 (stmt, 3, now_seconds ());
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot finish %s entry %" PRId64 " in store %s"),
                    writer->table->owner, writer->id, store->path);
      return FALSE;
    }
  /* Only a second open of the same file removes unfinished rows. */
  if (sqlite3_changes (store->db) != 1)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("cannot finish %s entry %" PRId64 " in store %s: it was removed "
                     "while being written (is the store open twice?)"),
                   writer->table->owner, writer->id, store->path);
      return FALSE;
    }
  /* Waiting for its seal from its commit on, so that an agent that dies
   * before the seal leaves it noted. */
  if (writer->seal_pending)
    {
      g_clear_pointer (&stmt, pst_store_stmt_release);
      stmt = prepare (store, "UPDATE messages SET flags = flags | ?2 WHERE id = ?1", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, writer->id);
      sqlite3_bind_int (stmt, 2, PST_MESSAGE_FLAG_SEAL_PENDING);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pst_store_set_db_error (store, error, _("cannot update message %" PRId64 " in store %s"),
                                  writer->id, store->path);
          return FALSE;
        }
    }
  /* Its thread, in the same transaction as its bytes (threads.c). */
  if (writer->table == &message_table && !pst_store_thread_message (store, writer->id, error))
    return FALSE;
  return TRUE;
}

gboolean
pst_store_writer_commit (PstStoreWriter *writer, gint64 *id_out, GError **error)
{
  PstStore *store;
  gboolean ok;

  g_return_val_if_fail (writer != NULL, FALSE);

  if (!writer_usable (writer, error))
    return FALSE;
  store = writer->store;

  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, TRUE, error);
  if (ok && !writer_finish_row (writer, error))
    {
      txn_rollback (store);
      ok = FALSE;
    }
  if (ok)
    ok = txn_commit (store, error);
  g_rec_mutex_unlock (&store->lock);
  if (!ok)
    {
      writer_give_up (writer);
      return FALSE;
    }
  writer->done = TRUE;
  writer->row_left = FALSE;
  writer->buf_len = 0;
  if (id_out != NULL)
    *id_out = writer->id;
  return TRUE;
}

/* Under the lock, inside the commit's transaction: @writer's entry is a
 * copy of the message whose first entry is @first (schema step 10). */
static gboolean
outbox_set_message (PstStoreWriter *writer, gint64 first, GError **error)
{
  PstStore *store = writer->store;
  g_autoptr (Stmt) stmt = prepare (store, "UPDATE outbox SET message = ?2 WHERE id = ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, writer->id);
  sqlite3_bind_int64 (stmt, 2, first);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot update outbox entry %" PRId64 " in store %s"),
                              writer->id, store->path);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_store_writers_commit (PstStoreWriter *const *writers, guint n, GError **error)
{
  PstStore *store;
  gboolean ok;

  if (n == 0)
    return TRUE;
  store = writers[0]->store;
  for (guint i = 0; i < n; i++)
    {
      g_return_val_if_fail (writers[i]->store == store, FALSE);
      if (!writer_usable (writers[i], error))
        return FALSE;
    }
  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, TRUE, error);
  for (guint i = 0; ok && i < n; i++)
    if (!writer_finish_row (writers[i], error)
        || (n > 1 && writers[i]->table == &outbox_table
            && !outbox_set_message (writers[i], writers[0]->id, error)))
      {
        txn_rollback (store);
        ok = FALSE;
      }
  if (ok)
    ok = txn_commit (store, error);
  g_rec_mutex_unlock (&store->lock);
  if (!ok)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      writers[i]->done = TRUE;
      writers[i]->row_left = FALSE;
      writers[i]->buf_len = 0;
    }
  return TRUE;
}

void
pst_store_writer_set_seal_pending (PstStoreWriter *writer)
{
  g_return_if_fail (writer != NULL && writer->table == &message_table && writer->seals == 0
                    && !writer->done);
  writer->seal_pending = TRUE;
}

void
pst_store_writer_set_deliver (PstStoreWriter *writer)
{
  g_return_if_fail (writer != NULL && writer->uidl != NULL && !writer->done);
  writer->deliver = TRUE;
}

gint64
pst_store_writer_get_id (PstStoreWriter *writer)
{
  return writer->id;
}

void
pst_store_writer_free (PstStoreWriter *writer)
{
  if (writer == NULL)
    return;
  writer_delete_row (writer);
  if (writer->buf != NULL)
    {
      /* Incoming mail may be plaintext. */
      explicit_bzero (writer->buf, CHUNK_SIZE);
      g_free (writer->buf);
    }
  g_free (writer->account);
  g_free (writer->uidl);
  store_unref (writer->store);
  g_free (writer);
}

/* ---- streams ---- */

#define PST_TYPE_STORE_STREAM (pst_store_stream_get_type ())
G_DECLARE_FINAL_TYPE (PstStoreStream, pst_store_stream, PST, STORE_STREAM, GInputStream)

struct _PstStoreStream {
  GInputStream parent_instance;
  PstStore *store;
  const ByteTable *table;
  gint64 id;
  gint64 next_seq;
  gint64 chunk_rowid;
  gint64 last_rowid;    /* the table's highest chunk rowid at open */
  gint64 first_rowid;   /* the rowid of the entry's first chunk at open (0: none) */
  gsize chunk_len;
  gsize chunk_off;
  gboolean eof;
};

G_DEFINE_FINAL_TYPE (PstStoreStream, pst_store_stream, G_TYPE_INPUT_STREAM)

/* The rowid of chunk @seq of @table's entry @id into *@rowid_out (and its
 * length), or SQLITE_DONE when there is none. */
static int
find_chunk (PstStore *store, const ByteTable *table, gint64 id, gint64 seq, gint64 *rowid_out,
            gsize *len_out, GError **error)
{
  g_autoptr (Stmt) stmt = prepare (store, table->find_chunk, error);
  int rc;

  if (stmt == NULL)
    return SQLITE_ERROR;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, seq);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *rowid_out = sqlite3_column_int64 (stmt, 0);
      if (len_out != NULL)
        *len_out = (gsize) sqlite3_column_int64 (stmt, 1);
    }
  else if (rc != SQLITE_DONE)
    pst_store_set_db_error (store, error, _("cannot read %s entry %" PRId64 " from store %s"),
                            table->owner, id, store->path);
  return rc;
}

/* Moves to the next chunk; FALSE with no error at the end. */
static gboolean
stream_next_chunk (PstStoreStream *self, GError **error)
{
  PstStore *store = self->store;
  gint64 first = 0;
  int rc;

  /* The entry's chunks replaced (a seal swaps its own in, which keep their
   * rowids, older than the stream when they were written before it
   * opened) or deleted: its first chunk is then another row, or none. */
  if (self->next_seq > 0)
    {
      rc = find_chunk (store, self->table, self->id, 0, &first, NULL, error);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return FALSE;
      if (first != self->first_rowid)
        goto changed;
    }
  rc = find_chunk (store, self->table, self->id, self->next_seq, &self->chunk_rowid,
                   &self->chunk_len, error);
  if (rc == SQLITE_DONE)
    {
      if (self->next_seq == 0 && self->first_rowid != 0)
        goto changed;
      self->eof = TRUE;
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    return FALSE;
  if (self->next_seq == 0 && self->chunk_rowid != self->first_rowid)
    goto changed;
  /* Every chunk of a finished entry existed when the stream opened; one
   * written since is of bytes that replaced them (a seal): the reader
   * must not get the first part of one and the rest of the other. */
  if (self->chunk_rowid > self->last_rowid)
    goto changed;
  self->chunk_off = 0;
  self->next_seq++;
  return TRUE;

changed:
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               _("%s entry %" PRId64 " changed while it was read (deleted or sealed "
                 "meanwhile?); read it again"), self->table->owner, self->id);
  return FALSE;
}

static gssize
pst_store_stream_read (GInputStream *stream, void *buffer, gsize count,
                       GCancellable *cancellable, GError **error)
{
  PstStoreStream *self = PST_STORE_STREAM (stream);
  PstStore *store = self->store;
  sqlite3_blob *blob = NULL;
  gssize result = -1;
  gsize n;
  int rc;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  if (count == 0 || self->eof)
    return 0;

  g_rec_mutex_lock (&store->lock);
  /* Empty chunks are never written, but skipping them costs nothing. */
  while (self->chunk_off == self->chunk_len)
    if (!stream_next_chunk (self, error))
      {
        result = self->eof ? 0 : -1;
        goto out;
      }
  n = MIN (count, self->chunk_len - self->chunk_off);
  {
    /* The entry deleted or sealed meanwhile: its chunk is gone, or its
     * rowid taken by another entry's (SQLite reuses the highest). */
    g_autoptr (Stmt) still = prepare (store, self->table->chunk_is, error);

    if (still == NULL)
      goto out;
    sqlite3_bind_int64 (still, 1, self->chunk_rowid);
    sqlite3_bind_int64 (still, 2, self->id);
    if (sqlite3_step (still) != SQLITE_ROW)
      {
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     _("%s entry %" PRId64 " changed while it was read (deleted or sealed "
                       "meanwhile?); read it again"), self->table->owner, self->id);
        goto out;
      }
  }
  rc = sqlite3_blob_open (store->db, "main", self->table->chunks, "data", self->chunk_rowid, 0,
                          &blob);
  if (rc == SQLITE_OK)
    rc = sqlite3_blob_read (blob, buffer, (int) n, (int) self->chunk_off);
  if (rc != SQLITE_OK)
    {
      pst_store_set_db_error (store, error, _("cannot read %s entry %" PRId64 " from store %s"),
                    self->table->owner, self->id, store->path);
      goto out;
    }
  self->chunk_off += n;
  result = (gssize) n;
out:
  if (blob != NULL)
    sqlite3_blob_close (blob);
  g_rec_mutex_unlock (&store->lock);
  return result;
}

/* Moves on without reading: only the chunks' rows are looked up (with
 * the same checks as a read), so a reader that wants a range late in a
 * large entry does not pull the bytes before it out of the database. */
static gssize
pst_store_stream_skip (GInputStream *stream, gsize count, GCancellable *cancellable,
                       GError **error)
{
  PstStoreStream *self = PST_STORE_STREAM (stream);
  gsize done = 0;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  g_rec_mutex_lock (&self->store->lock);
  while (done < count && !self->eof)
    {
      gsize n;

      if (self->chunk_off == self->chunk_len && !stream_next_chunk (self, error))
        {
          if (!self->eof)
            {
              g_rec_mutex_unlock (&self->store->lock);
              return -1;
            }
          break;
        }
      n = MIN (count - done, self->chunk_len - self->chunk_off);
      self->chunk_off += n;
      done += n;
    }
  g_rec_mutex_unlock (&self->store->lock);
  return (gssize) MIN (done, (gsize) G_MAXSSIZE);
}

static void
pst_store_stream_finalize (GObject *object)
{
  PstStoreStream *self = PST_STORE_STREAM (object);

  g_clear_pointer (&self->store, store_unref);
  G_OBJECT_CLASS (pst_store_stream_parent_class)->finalize (object);
}

static void
pst_store_stream_class_init (PstStoreStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_store_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = pst_store_stream_read;
  G_INPUT_STREAM_CLASS (klass)->skip = pst_store_stream_skip;
}

static void
pst_store_stream_init (PstStoreStream *self)
{
}

/* Under the lock: FALSE with "no … with id N" when the row is missing. */
static gboolean
check_exists (PstStore *store, const ByteTable *table, gint64 id, GError **error)
{
  g_autoptr (Stmt) stmt = prepare (store, table->exists, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(table->missing_fmt), id);
  else
    pst_store_set_db_error (store, error, _("cannot look up %s entry %" PRId64 " in store %s"),
                  table->owner, id, store->path);
  return FALSE;
}

/* A stream over @table's entry @id as it was when @last and @first (its
 * first chunk's rowid) were read. */
static GInputStream *
stream_new (PstStore *store, const ByteTable *table, gint64 id, gint64 last, gint64 first)
{
  PstStoreStream *self = g_object_new (PST_TYPE_STORE_STREAM, NULL);

  self->store = store_ref (store);
  self->table = table;
  self->id = id;
  self->last_rowid = last;
  self->first_rowid = first;
  return G_INPUT_STREAM (self);
}

static GInputStream *
open_stream (PstStore *store, const ByteTable *table, gint64 id, GError **error)
{
  gint64 last = 0, first = 0;
  gboolean ok;

  g_rec_mutex_lock (&store->lock);
  ok = check_exists (store, table, id, error);
  if (ok)
    {
      g_autoptr (Stmt) stmt = prepare (store, table->last_chunk, error);

      ok = stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW;
      if (ok)
        last = sqlite3_column_int64 (stmt, 0);
      else if (stmt != NULL)
        pst_store_set_db_error (store, error, _("cannot look up %s entry %" PRId64 " in store %s"),
                                table->owner, id, store->path);
    }
  if (ok)
    {
      int rc = find_chunk (store, table, id, 0, &first, NULL, error);

      ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
    }
  g_rec_mutex_unlock (&store->lock);
  if (!ok)
    return NULL;
  return stream_new (store, table, id, last, first);
}

GInputStream *
pst_store_message_open (PstStore *store, gint64 id, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  return open_stream (store, &message_table, id, error);
}

GInputStream *
pst_store_outbox_open (PstStore *store, gint64 id, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  return open_stream (store, &outbox_table, id, error);
}

GInputStream *
pst_store_stream_reopen (GInputStream *stream)
{
  PstStoreStream *old;

  g_return_val_if_fail (PST_IS_STORE_STREAM (stream), NULL);
  old = PST_STORE_STREAM (stream);
  return stream_new (old->store, old->table, old->id, old->last_rowid, old->first_rowid);
}

/* ---- message info ---- */

void
pst_message_info_free (PstMessageInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->account);
  g_free (info->uidl);
  g_free (info->from);
  g_free (info->subject);
  g_free (info->date);
  g_free (info->crypto_json);
  g_free (info->scan_verdict);
  g_free (info->scan_name);
  g_free (info);
}

/* thread: the lowest id of the thread's messages that are not in
 * quarantine (messages_by_thread), so that it names one a list shows. */
#define MESSAGE_COLUMNS \
  "id, account, uidl, received_at, size, from_addr, subject, date, crypto_json, scan_verdict," \
  " scan_name, quarantined, flags, unread," \
  " coalesce ((SELECT min (t.id) FROM messages t WHERE t.thread = messages.thread" \
  "            AND NOT t.quarantined), id)," \
  " reader_version"

static PstMessageInfo *
message_info_from_row (sqlite3_stmt *stmt)
{
  PstMessageInfo *info = g_new0 (PstMessageInfo, 1);

  info->id = sqlite3_column_int64 (stmt, 0);
  info->account = pst_store_column_strdup (stmt, 1);
  info->uidl = pst_store_column_strdup (stmt, 2);
  info->received_at = sqlite3_column_int64 (stmt, 3);
  info->size = sqlite3_column_int64 (stmt, 4);
  info->from = pst_store_column_strdup (stmt, 5);
  info->subject = pst_store_column_strdup (stmt, 6);
  info->date = pst_store_column_strdup (stmt, 7);
  info->crypto_json = pst_store_column_strdup (stmt, 8);
  info->scan_verdict = pst_store_column_strdup (stmt, 9);
  info->scan_name = pst_store_column_strdup (stmt, 10);
  info->quarantined = sqlite3_column_int (stmt, 11) != 0;
  info->sealed = (sqlite3_column_int (stmt, 12) & PST_MESSAGE_FLAG_SEALED) != 0;
  info->unread = sqlite3_column_int (stmt, 13) != 0;
  info->thread = sqlite3_column_int64 (stmt, 14);
  info->reader_version = sqlite3_column_int (stmt, 15);
  return info;
}

/* Under the lock. */
static gboolean
set_info_one (PstStore *store, const PstMessageInfoUpdate *u, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;

  if (u->scan_verdict != NULL
      && !g_strv_contains ((const char *const *) scan_verdicts, u->scan_verdict))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("unknown scan verdict \"%s\" for message %" PRId64), u->scan_verdict,
                   u->id);
      return FALSE;
    }
  stmt = prepare (store,
                  "UPDATE messages SET from_addr = coalesce(?2, from_addr),"
                  " subject = coalesce(?3, subject), date = coalesce(?4, date),"
                  " crypto_json = coalesce(?5, crypto_json),"
                  " reader_version = CASE WHEN ?5 IS NULL THEN reader_version"
                  "   WHEN ?11 > 0 THEN ?11 END,"
                  /* A scan's result (a verdict) never lifts a quarantine
                   * nor replaces what it found (a clean one racing in after
                   * the one that found something, or a scan error after
                   * malware was found): only "infected" replaces what a
                   * quarantine holds that is not.  A release, which has no
                   * verdict, lifts it (pst_store_message_set_quarantined). */
                  " scan_verdict = CASE WHEN ?6 IS NULL OR (quarantined AND NOT"
                  "   (?6 = 'infected' AND scan_verdict IS NOT 'infected')) THEN scan_verdict"
                  "   ELSE ?6 END,"
                  " scan_name = CASE WHEN ?6 IS NULL OR (quarantined AND NOT"
                  "   (?6 = 'infected' AND scan_verdict IS NOT 'infected')) THEN scan_name"
                  "   ELSE ?7 END,"
                  " quarantined = CASE WHEN ?8 < 0 THEN quarantined"
                  "   WHEN ?6 IS NOT NULL THEN max(quarantined, ?8) ELSE ?8 END,"
                  " flags = CASE WHEN ?9 THEN flags & ~?10 ELSE flags END"
                  " WHERE id = ?1 AND NOT unfinished",
                  error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, u->id);
  pst_store_bind_text_or_null (stmt, 2, u->from);
  pst_store_bind_text_or_null (stmt, 3, u->subject);
  pst_store_bind_text_or_null (stmt, 4, u->date);
  pst_store_bind_text_or_null (stmt, 5, u->crypto_json);
  pst_store_bind_text_or_null (stmt, 6, u->scan_verdict);
  pst_store_bind_text_or_null (stmt, 7, u->scan_name);
  sqlite3_bind_int (stmt, 8, u->quarantine);
  sqlite3_bind_int (stmt, 9, u->seal_not_needed ? 1 : 0);
  sqlite3_bind_int (stmt, 10, PST_MESSAGE_FLAG_SEAL_PENDING);
  sqlite3_bind_int (stmt, 11, u->reader_version);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot update message %" PRId64 " in store %s"),
                    u->id, store->path);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(message_table.missing_fmt), u->id);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_store_message_set_info (PstStore *store, gint64 id, const char *from, const char *subject,
                            const char *date, const char *crypto_json,
                            const char *scan_verdict, GError **error)
{
  PstMessageInfoUpdate u = { id, from, subject, date, crypto_json, scan_verdict, NULL, -1, FALSE, 0 };
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);
  g_rec_mutex_lock (&store->lock);
  ok = set_info_one (store, &u, error);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_messages_set_info (PstStore *store, const PstMessageInfoUpdate *updates, guint n,
                             GError **error)
{
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);
  if (n == 0)
    return TRUE;
  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, TRUE, error);
  for (guint i = 0; ok && i < n; i++)
    if (!set_info_one (store, &updates[i], error))
      {
        txn_rollback (store);
        ok = FALSE;
      }
  if (ok)
    ok = txn_commit (store, error);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_message_record_scan (PstStore *store, PstMessageInfo *info, const char *verdict,
                               const char *name, gboolean quarantine, GError **error)
{
  PstMessageInfoUpdate u = { .id = info->id, .scan_verdict = verdict, .scan_name = name,
                             .quarantine = quarantine ? 1 : 0 };
  g_autoptr (PstMessageInfo) now = NULL;

  g_return_val_if_fail (store != NULL && verdict != NULL, FALSE);
  /* Written and read back under one hold of the lock: what @info says is
   * what this write left, not a later writer's. */
  g_rec_mutex_lock (&store->lock);
  if (pst_store_messages_set_info (store, &u, 1, error))
    now = pst_store_message_get_info (store, info->id, error);
  g_rec_mutex_unlock (&store->lock);
  if (now == NULL)
    return FALSE;
  g_free (info->scan_verdict);
  info->scan_verdict = g_steal_pointer (&now->scan_verdict);
  g_free (info->scan_name);
  info->scan_name = g_steal_pointer (&now->scan_name);
  info->quarantined = now->quarantined;
  return TRUE;
}

PstMessageInfo *
pst_store_message_get_info (PstStore *store, gint64 id, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  PstMessageInfo *info = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);

  g_rec_mutex_lock (&store->lock);
  stmt = prepare (store, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?1 AND NOT unfinished", error);
  if (stmt == NULL)
    goto out;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    info = message_info_from_row (stmt);
  else if (rc == SQLITE_DONE)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(message_table.missing_fmt), id);
  else
    pst_store_set_db_error (store, error, _("cannot read message %" PRId64 " from store %s"), id,
                  store->path);
out:
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return info;
}

static GPtrArray *list_messages (PstStore *store, const char *account, const char *query,
                                 guint limit, gboolean quarantined, GError **error);

GPtrArray *
pst_store_message_list (PstStore *store, const char *account, guint limit, GError **error)
{
  return list_messages (store, account, NULL, limit, FALSE, error);
}

GPtrArray *
pst_store_message_search (PstStore *store, const char *account, const char *query, guint limit,
                          GError **error)
{
  return list_messages (store, account, query, limit, FALSE, error);
}

GPtrArray *
pst_store_message_list_full (PstStore *store, const char *account, guint limit,
                             gboolean quarantined, GError **error)
{
  return list_messages (store, account, NULL, limit, quarantined, error);
}

/* The LIKE pattern that finds @query anywhere: folded as the column values
 * are (pst_fold), with the escape character and the wildcards taken
 * literally.  Transfer full. */
static char *
search_pattern (const char *query)
{
  g_autofree char *folded = is_ascii (query) ? g_strdup (query) : fold_text (query);
  GString *pattern = g_string_new ("%");

  for (const char *p = folded; *p != '\0'; p++)
    {
      if (*p == SEARCH_ESCAPE || *p == '%' || *p == '_')
        g_string_append_c (pattern, SEARCH_ESCAPE);
      g_string_append_c (pattern, *p);
    }
  g_string_append_c (pattern, '%');
  return g_string_free (pattern, FALSE);
}

static GPtrArray *
list_messages (PstStore *store, const char *account, const char *query, guint limit,
               gboolean quarantined, GError **error)
{
  PstMessageQuery q = { .account = account, .query = query, .limit = limit,
                        .quarantined = quarantined };

  return pst_store_message_page (store, &q, error);
}

/* The statement is made of the conditions given only, so that SQLite sees
 * each one it can use an index for: "id < ?" a range of the rowid,
 * "account = ?" messages_by_account (account, id DESC).  A condition
 * written as "(? IS NULL OR id < ?)" is planned as a scan of every row,
 * and paging through 100,000 messages would read the table once per page. */
GPtrArray *
pst_store_message_page (PstStore *store, const PstMessageQuery *q, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GString) sql = g_string_new ("SELECT " MESSAGE_COLUMNS " FROM messages"
                                          " WHERE NOT unfinished AND quarantined = ?3");
  gboolean search = q->query != NULL && *q->query != '\0';
  int rc;

  g_return_val_if_fail (store != NULL, NULL);

  if (q->account != NULL)
    g_string_append (sql, " AND account = ?2");
  if (q->before > 0)
    g_string_append (sql, " AND id < ?5");
  if (q->unread)
    g_string_append (sql, " AND unread");
  if (search)
    {
      g_string_append (sql, " AND (pst_fold (from_addr) LIKE ?4 ESCAPE '\\'"
                            " OR pst_fold (subject) LIKE ?4 ESCAPE '\\'");
      /* The ids the caller found otherwise (the agent's decrypted
       * Subjects), as a JSON array: one statement pages through both. */
      if (q->also != NULL && q->also->len > 0)
        g_string_append (sql, " OR id IN (SELECT value FROM json_each (?6))");
      g_string_append (sql, ")");
    }
  g_string_append (sql, " ORDER BY id DESC LIMIT ?1 OFFSET ?7");

  g_rec_mutex_lock (&store->lock);
  stmt = prepare (store, sql->str, error);
  if (stmt == NULL)
    goto out;
  sqlite3_bind_int64 (stmt, 1, q->limit == 0 ? -1 : (gint64) q->limit);
  if (q->account != NULL)
    sqlite3_bind_text (stmt, 2, q->account, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 3, q->quarantined ? 1 : 0);
  if (search)
    sqlite3_bind_text (stmt, 4, search_pattern (q->query), -1, g_free);
  if (q->before > 0)
    sqlite3_bind_int64 (stmt, 5, q->before);
  if (search && q->also != NULL && q->also->len > 0)
    {
      GString *ids = g_string_new ("[");

      for (guint i = 0; i < q->also->len; i++)
        g_string_append_printf (ids, "%s%" G_GINT64_FORMAT, i ? "," : "",
                                g_array_index (q->also, gint64, i));
      g_string_append_c (ids, ']');
      sqlite3_bind_text (stmt, 6, g_string_free (ids, FALSE), -1, g_free);
    }
  sqlite3_bind_int64 (stmt, 7, (gint64) q->offset);
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_message_info_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (list, message_info_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot list the messages in store %s"), store->path);
      g_clear_pointer (&list, g_ptr_array_unref);
    }
out:
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return g_steal_pointer (&list);
}

gboolean
pst_store_message_set_quarantined (PstStore *store, gint64 id, gboolean quarantined,
                                   GError **error)
{
  PstMessageInfoUpdate u = { id, NULL, NULL, NULL, NULL, NULL, NULL, quarantined ? 1 : 0, FALSE, 0 };

  return pst_store_messages_set_info (store, &u, 1, error);
}

gboolean
pst_store_message_set_seal_pending (PstStore *store, gint64 id, gboolean pending, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok = FALSE;

  g_rec_mutex_lock (&store->lock);
  stmt = prepare (store,
                  "UPDATE messages SET flags = CASE WHEN ?2 THEN flags | ?3 ELSE flags & ~?3 END"
                  " WHERE id = ?1 AND NOT unfinished AND flags & ?4 = 0", error);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int (stmt, 2, pending ? 1 : 0);
      sqlite3_bind_int (stmt, 3, PST_MESSAGE_FLAG_SEAL_PENDING);
      sqlite3_bind_int (stmt, 4, PST_MESSAGE_FLAG_SEALED);
      ok = sqlite3_step (stmt) == SQLITE_DONE;
      if (!ok)
        pst_store_set_db_error (store, error, _("cannot update message %" PRId64 " in store %s"),
                                id, store->path);
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

GArray *
pst_store_messages_seal_pending (PstStore *store, const char *account, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  GArray *ids = NULL;
  int rc = SQLITE_ERROR;

  g_rec_mutex_lock (&store->lock);
  G_STATIC_ASSERT (PST_MESSAGE_FLAG_SEAL_PENDING == 2);
  stmt = prepare (store, PST_STORE_SEAL_PENDING_SQL, error);
  if (stmt != NULL)
    {
      ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      sqlite3_bind_text (stmt, 1, account, -1, SQLITE_STATIC);
      sqlite3_bind_int (stmt, 2, PST_MESSAGE_FLAG_SEALED);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          gint64 id = sqlite3_column_int64 (stmt, 0);
          g_array_append_val (ids, id);
        }
      if (rc != SQLITE_DONE)
        {
          pst_store_set_db_error (store, error, _("cannot list the messages in store %s"), store->path);
          g_clear_pointer (&ids, g_array_unref);
        }
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ids;
}

gboolean
pst_store_message_exists (PstStore *store, gint64 id, gboolean *exists_out, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  int rc = SQLITE_ERROR;

  g_rec_mutex_lock (&store->lock);
  stmt = prepare (store, message_table.exists, error);
  if (stmt != NULL)
    {
      sqlite3_bind_int64 (stmt, 1, id);
      rc = sqlite3_step (stmt);
      *exists_out = rc == SQLITE_ROW;
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        pst_store_set_db_error (store, error, _("cannot read message %" PRId64 " from store %s"),
                                id, store->path);
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

gboolean
pst_store_checkpoint (PstStore *store, GError **error)
{
  int busy = 0, log = 0, done = 0, rc;

  g_rec_mutex_lock (&store->lock);
  rc = sqlite3_wal_checkpoint_v2 (store->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
  busy = rc == SQLITE_BUSY;
  if (rc != SQLITE_OK && !busy)
    pst_store_set_db_error (store, error, _("cannot checkpoint store %s"), store->path);
  g_rec_mutex_unlock (&store->lock);
  if (busy)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 _("cannot checkpoint store %s now: a reader holds it"), store->path);
  return rc == SQLITE_OK;
}

/* Under the lock, inside a transaction: PST_ERROR_FAILED naming the first
 * of @ids that is not a stored message. */
static gboolean
messages_exist (PstStore *store, const gint64 *ids, guint n, GError **error)
{
  g_autoptr (Stmt) stmt = prepare (store, message_table.exists, error);

  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      int rc;

      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, ids[i]);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_DONE)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(message_table.missing_fmt), ids[i]);
          return FALSE;
        }
      if (rc != SQLITE_ROW)
        {
          pst_store_set_db_error (store, error, _("cannot read message %" PRId64 " from store %s"),
                                  ids[i], store->path);
          return FALSE;
        }
    }
  return TRUE;
}

/* Under the lock, inside a transaction: deletes message @id (its chunks
 * and delivery row by cascade) and, when its thread is left empty, the
 * Message-IDs of that thread. */
static gboolean
delete_one (PstStore *store, gint64 id, GError **error)
{
  g_autoptr (Stmt) stmt = prepare (store, "DELETE FROM messages WHERE id = ?1 AND NOT unfinished"
                                          " RETURNING thread", error);
  gboolean ok;
  gint64 thread = 0;
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    thread = sqlite3_column_int64 (stmt, 0);
  ok = rc == SQLITE_DONE;
  if (!ok)
    pst_store_set_db_error (store, error, _("cannot delete message %" PRId64 " from store %s"), id,
                            store->path);
  g_clear_pointer (&stmt, pst_store_stmt_release);
  return ok && (thread == 0 || pst_store_thread_forget (store, thread, error));
}

gboolean
pst_store_messages_delete (PstStore *store, const gint64 *ids, guint n, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (store != NULL && (ids != NULL || n == 0), FALSE);
  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, TRUE, error);
  /* All or nothing: every id is checked before any goes.  The UIDLs stay
   * seen, so that the messages are not fetched again. */
  if (ok && !messages_exist (store, ids, n, error))
    ok = FALSE;
  for (guint i = 0; ok && i < n; i++)
    ok = delete_one (store, ids[i], error);
  if (ok)
    ok = txn_commit (store, error);
  else
    txn_rollback (store);
  g_rec_mutex_unlock (&store->lock);
  /* secure_delete (on since open) overwrote the rows' bytes in the pages;
   * the log still holds the pages as they were before: empty it. */
  if (ok && !pst_store_checkpoint (store, error))
    {
      g_prefix_error (error, _("deleted, but not yet wiped from the write-ahead log: "));
      return FALSE;
    }
  return ok;
}

gboolean
pst_store_message_delete (PstStore *store, gint64 id, GError **error)
{
  return pst_store_messages_delete (store, &id, 1, error);
}

gboolean
pst_store_messages_mark (PstStore *store, const gint64 *ids, guint n, gboolean unread,
                         GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok;

  g_return_val_if_fail (store != NULL && (ids != NULL || n == 0), FALSE);
  g_rec_mutex_lock (&store->lock);
  ok = txn_begin (store, TRUE, error);
  if (ok && !messages_exist (store, ids, n, error))
    ok = FALSE;
  if (ok && !(stmt = prepare (store, "UPDATE messages SET unread = ?2 WHERE id = ?1", error)))
    ok = FALSE;
  for (guint i = 0; ok && i < n; i++)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, ids[i]);
      sqlite3_bind_int (stmt, 2, unread ? 1 : 0);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pst_store_set_db_error (store, error, _("cannot update message %" PRId64 " in store %s"),
                                  ids[i], store->path);
          ok = FALSE;
        }
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  if (ok)
    ok = txn_commit (store, error);
  else
    txn_rollback (store);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

/* ---- outbox ---- */

gboolean
pst_store_outbox_count_since (PstStore *store, const char *account, gint64 since,
                              guint *count_out, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok = FALSE;

  g_rec_mutex_lock (&store->lock);
  /* Messages, not copies: the copies of one share its message number. */
  stmt = prepare (store, "SELECT count(DISTINCT coalesce(message, id)) FROM outbox"
                         " WHERE account = ?1 AND created_at >= ?2 AND NOT unfinished", error);
  if (stmt != NULL)
    {
      sqlite3_bind_text (stmt, 1, account, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, since);
      if (sqlite3_step (stmt) == SQLITE_ROW)
        {
          *count_out = (guint) sqlite3_column_int64 (stmt, 0);
          ok = TRUE;
        }
      else
        pst_store_set_db_error (store, error, _("cannot count the outbox of store %s"), store->path);
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

const char *
pst_outbox_state_to_string (PstOutboxState state)
{
  if ((guint) state >= G_N_ELEMENTS (state_names))
    return "unknown";
  return state_names[state];
}

gboolean
pst_outbox_state_from_string (const char *name, PstOutboxState *state_out)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (strcmp (name, state_names[i]) == 0)
      {
        if (state_out != NULL)
          *state_out = (PstOutboxState) i;
        return TRUE;
      }
  return FALSE;
}

void
pst_outbox_entry_free (PstOutboxEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->account);
  g_free (entry->reverse_path);
  g_strfreev (entry->recipients);
  g_free (entry->last_reply);
  g_free (entry);
}

#define OUTBOX_COLUMNS \
  "id, account, reverse_path, state, attempts, last_reply, in_doubt, created_at, updated_at," \
  " next_try, size, eight_bit, utf8_headers"

/* Reads the row at @stmt and the entry's recipients with @rcpt. */
static PstOutboxEntry *
outbox_entry_from_row (PstStore *store, sqlite3_stmt *stmt, sqlite3_stmt *rcpt, GError **error)
{
  g_autoptr (PstOutboxEntry) entry = g_new0 (PstOutboxEntry, 1);
  g_autoptr (GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);
  const char *state = (const char *) sqlite3_column_text (stmt, 3);
  int rc;

  entry->id = sqlite3_column_int64 (stmt, 0);
  entry->account = pst_store_column_strdup (stmt, 1);
  entry->reverse_path = pst_store_column_strdup (stmt, 2);
  if (state == NULL || !pst_outbox_state_from_string (state, &entry->state))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("outbox entry %" PRId64 " in store %s has an unknown state \"%s\""),
                   entry->id, store->path, state != NULL ? state : "");
      return NULL;
    }
  entry->attempts = (guint) sqlite3_column_int64 (stmt, 4);
  entry->last_reply = pst_store_column_strdup (stmt, 5);
  entry->in_doubt = sqlite3_column_int (stmt, 6) != 0;
  entry->created_at = sqlite3_column_int64 (stmt, 7);
  entry->updated_at = sqlite3_column_int64 (stmt, 8);
  entry->next_try = sqlite3_column_int64 (stmt, 9);
  entry->size = sqlite3_column_int64 (stmt, 10);
  entry->eight_bit = sqlite3_column_type (stmt, 11) == SQLITE_NULL ? -1
                     : sqlite3_column_int (stmt, 11) != 0;
  entry->utf8_headers = sqlite3_column_type (stmt, 12) == SQLITE_NULL ? -1
                        : sqlite3_column_int (stmt, 12) != 0;

  sqlite3_reset (rcpt);
  sqlite3_bind_int64 (rcpt, 1, entry->id);
  while ((rc = sqlite3_step (rcpt)) == SQLITE_ROW)
    g_ptr_array_add (addresses, pst_store_column_strdup (rcpt, 0));
  if (rc != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error,
                    _("cannot read the recipients of outbox entry %" PRId64
                      " in store %s"),
                    entry->id, store->path);
      return NULL;
    }
  g_ptr_array_add (addresses, NULL);
  entry->recipients = (char **) g_ptr_array_free (g_steal_pointer (&addresses), FALSE);
  return g_steal_pointer (&entry);
}

#define RECIPIENTS_SQL "SELECT address FROM outbox_recipients WHERE outbox_id = ?1 ORDER BY pos"

GPtrArray *
pst_store_outbox_list (PstStore *store, const char *account, int state, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autoptr (Stmt) rcpt = NULL;
  g_autoptr (GPtrArray) list = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);

  if (state < -1 || state >= (int) G_N_ELEMENTS (state_names))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("unknown outbox state %d"), state);
      return NULL;
    }

  g_rec_mutex_lock (&store->lock);
  stmt = prepare (store,
                  "SELECT " OUTBOX_COLUMNS " FROM outbox"
                  " WHERE (?1 IS NULL OR account = ?1) AND (?2 IS NULL OR state = ?2)"
                  " AND NOT unfinished"
                  " ORDER BY id",
                  error);
  if (stmt == NULL)
    goto out;
  rcpt = prepare (store, RECIPIENTS_SQL, error);
  if (rcpt == NULL)
    goto out;
  pst_store_bind_text_or_null (stmt, 1, account);
  pst_store_bind_text_or_null (stmt, 2, state >= 0 ? state_names[state] : NULL);
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_outbox_entry_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PstOutboxEntry *entry = outbox_entry_from_row (store, stmt, rcpt, error);

      if (entry == NULL)
        {
          g_clear_pointer (&list, g_ptr_array_unref);
          goto out;
        }
      g_ptr_array_add (list, entry);
    }
  if (rc != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot list the outbox of store %s"), store->path);
      g_clear_pointer (&list, g_ptr_array_unref);
    }
out:
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_clear_pointer (&rcpt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return g_steal_pointer (&list);
}

PstOutboxEntry *
pst_store_outbox_get (PstStore *store, gint64 id, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autoptr (Stmt) rcpt = NULL;
  PstOutboxEntry *entry = NULL;
  int rc;

  g_return_val_if_fail (store != NULL, NULL);

  g_rec_mutex_lock (&store->lock);
  stmt = prepare (store, "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = ?1 AND NOT unfinished", error);
  if (stmt == NULL)
    goto out;
  rcpt = prepare (store, RECIPIENTS_SQL, error);
  if (rcpt == NULL)
    goto out;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    entry = outbox_entry_from_row (store, stmt, rcpt, error);
  else if (rc == SQLITE_DONE)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(outbox_table.missing_fmt), id);
  else
    pst_store_set_db_error (store, error,
                  _("cannot read outbox entry %" PRId64 " from store %s"), id,
                  store->path);
out:
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_clear_pointer (&rcpt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return entry;
}

/* Runs @stmt, an UPDATE of outbox row @id; under the lock. */
static gboolean
outbox_update (PstStore *store, sqlite3_stmt *stmt, gint64 id, GError **error)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error,
                    _("cannot update outbox entry %" PRId64 " in store %s"), id,
                    store->path);
      return FALSE;
    }
  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _(outbox_table.missing_fmt), id);
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_outbox_state (PstStore *store, gint64 id, PstOutboxState state, const char *reply,
                  gboolean not_begun, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  g_autoptr (PstOutboxEntry) entry = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL, FALSE);

  if ((guint) state >= G_N_ELEMENTS (state_names))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("unknown outbox state %d"), (int) state);
      return FALSE;
    }

  /* The lock makes the check and the update one step: the agent is the only
   * process that writes the database. */
  g_rec_mutex_lock (&store->lock);
  entry = pst_store_outbox_get (store, id, error);
  if (entry == NULL)
    goto out;
  if (entry->state == PST_OUTBOX_SENT || entry->state == PST_OUTBOX_CANCELLED)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("outbox entry %" PRId64 " is already %s and cannot become %s"), id,
                   state_names[entry->state], state_names[state]);
      goto out;
    }
  stmt = prepare (store,
                  state == PST_OUTBOX_SENDING
                    ? "UPDATE outbox SET state = ?2, attempts = attempts + 1, in_doubt = 1,"
                      " last_reply = coalesce(?3, last_reply), updated_at = ?4 WHERE id = ?1"
                    : "UPDATE outbox SET state = ?2, in_doubt = 0, attempts = max(attempts - ?5, 0),"
                      " last_reply = coalesce(?3, last_reply), updated_at = ?4 WHERE id = ?1",
                  error);
  if (stmt == NULL)
    goto out;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_text (stmt, 2, state_names[state], -1, SQLITE_STATIC);
  pst_store_bind_text_or_null (stmt, 3, reply);
  sqlite3_bind_int64 (stmt, 4, now_seconds ());
  /* Taken back only from the SENDING that counted it. */
  if (state != PST_OUTBOX_SENDING)
    sqlite3_bind_int (stmt, 5,
                      not_begun && state == PST_OUTBOX_QUEUED && entry->state == PST_OUTBOX_SENDING
                        ? 1 : 0);
  ok = outbox_update (store, stmt, id, error);
out:
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_outbox_set_state (PstStore *store, gint64 id, PstOutboxState state,
                            const char *reply, GError **error)
{
  return set_outbox_state (store, id, state, reply, FALSE, error);
}

gboolean
pst_store_outbox_set_states (PstStore *store, const PstOutboxChange *changes, guint n,
                             GError **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (store != NULL, FALSE);

  if (n == 1)
    return set_outbox_state (store, changes[0].id, changes[0].state, changes[0].reply,
                             changes[0].not_begun, error);
  g_rec_mutex_lock (&store->lock);
  if (!txn_begin (store, TRUE, error))
    {
      g_rec_mutex_unlock (&store->lock);
      return FALSE;
    }
  for (guint i = 0; ok && i < n; i++)
    ok = set_outbox_state (store, changes[i].id, changes[i].state, changes[i].reply,
                           changes[i].not_begun, error);
  if (ok)
    ok = txn_commit (store, error);
  else
    txn_rollback (store);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_writer_set_8bit (PstStoreWriter *writer, gboolean eight_bit, gboolean utf8_headers,
                           GError **error)
{
  PstStore *store = writer->store;
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (writer->table == &outbox_table && !writer->done, FALSE);

  g_rec_mutex_lock (&store->lock);
  /* The row is still unfinished: no reader sees it before the commit. */
  stmt = prepare (store, "UPDATE outbox SET eight_bit = ?2, utf8_headers = ?3"
                         " WHERE id = ?1 AND unfinished", error);
  if (stmt == NULL)
    goto out;
  sqlite3_bind_int64 (stmt, 1, writer->id);
  sqlite3_bind_int (stmt, 2, eight_bit ? 1 : 0);
  sqlite3_bind_int (stmt, 3, utf8_headers ? 1 : 0);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    pst_store_set_db_error (store, error, _("cannot update outbox entry %" PRId64 " in store %s"),
                  writer->id, store->path);
  else
    ok = TRUE;
out:
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_outbox_set_next_try (PstStore *store, gint64 id, gint64 next_try, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL, FALSE);

  g_rec_mutex_lock (&store->lock);
  stmt = prepare (store, "UPDATE outbox SET next_try = ?2 WHERE id = ?1 AND NOT unfinished",
                  error);
  if (stmt == NULL)
    goto out;
  sqlite3_bind_int64 (stmt, 1, id);
  sqlite3_bind_int64 (stmt, 2, MAX (next_try, 0));
  ok = outbox_update (store, stmt, id, error);
out:
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

/* ---- for the store's other files (store-private.h) ---- */

sqlite3_stmt *
pst_store_prepare (PstStore *store, const char *sql, GError **error)
{
  return prepare (store, sql, error);
}

void
pst_store_set_db_error (PstStore *store, GError **error, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list ap;

  va_start (ap, format);
  what = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: %s", what, db_reason (store));
}

gboolean
pst_store_txn_begin (PstStore *store, GError **error)
{
  return txn_begin (store, TRUE, error);
}

gboolean
pst_store_txn_commit (PstStore *store, GError **error)
{
  return txn_commit (store, error);
}

void
pst_store_txn_rollback (PstStore *store)
{
  txn_rollback (store);
}

void
pst_store_bind_text_or_null (sqlite3_stmt *stmt, int i, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, i, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, i);
}

char *
pst_store_column_strdup (sqlite3_stmt *stmt, int i)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, i));
}
