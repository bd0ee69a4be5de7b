/* store-private.h — what the store's files share (store.c, keys.c): the
 * handle and the helpers that run SQL under its lock.  Not for outside
 * core/store, but for the store's own unit test (tests/unit/test-store.c).
 */
#pragma once

#include <sqlite3.h>
#include "store/store.h"

struct _PstStore {
  gatomicrefcount ref;
  sqlite3 *db;
  char *path;
  /* Held by every call while it runs, never between calls. */
  GRecMutex lock;
};

/* The messages of account ?1 still to seal (PST_MESSAGE_FLAG_SEAL_PENDING,
 * 2, written out) and not sealed (?2: PST_MESSAGE_FLAG_SEALED): the
 * condition of the partial index messages_seal_pending (schema.c), which
 * SQLite uses only for a query whose condition it can see implies the
 * index's.  Here for test-store.c to check that it does. */
#define PST_STORE_SEAL_PENDING_SQL \
  "SELECT id FROM messages WHERE account = ?1 AND flags & 2 != 0 AND flags & ?2 = 0" \
  " AND NOT unfinished ORDER BY id"

/* Prepared statements kept for reuse (stmtcache.c): a statement from
 * pst_store_prepare is given back with pst_store_stmt_release, never
 * finalized by its user. */
void pst_store_stmt_cache_open (sqlite3 *db);
/* Finalizes what the cache of @db holds: before sqlite3_close. */
void pst_store_stmt_cache_close (sqlite3 *db);
/* A cached statement for @sql, checked out, or NULL. */
sqlite3_stmt *pst_store_stmt_take (sqlite3 *db, const char *sql);
/* Resets @stmt and keeps it for the next pst_store_prepare of its SQL, or
 * finalizes it. */
void pst_store_stmt_release (sqlite3_stmt *stmt);

/* A statement given back when it goes out of scope (g_autoptr (Stmt)). */
typedef sqlite3_stmt Stmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Stmt, pst_store_stmt_release)

/* Binds @text, or NULL when it is NULL. */
void pst_store_bind_text_or_null (sqlite3_stmt *stmt, int i, const char *text);
/* Column @i as a new string (NULL for NULL). */
char *pst_store_column_strdup (sqlite3_stmt *stmt, int i);

/* A cached statement, or sqlite3_prepare_v2's, or NULL with @error set
 * ("store PATH: why"). */
sqlite3_stmt *pst_store_prepare (PstStore *store, const char *sql, GError **error);
/* Sets @error to "WHAT: sqlite's message" (call under the lock). */
void pst_store_set_db_error (PstStore *store, GError **error, const char *format, ...)
  G_GNUC_PRINTF (3, 4);
/* A durable write transaction (synchronous=FULL), under the lock. */
gboolean pst_store_txn_begin (PstStore *store, GError **error);
gboolean pst_store_txn_commit (PstStore *store, GError **error);
void pst_store_txn_rollback (PstStore *store);
