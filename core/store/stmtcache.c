/* stmtcache.c — the store's prepared statements, kept for the next call.
 *
 * Every store call prepared its SQL afresh and finalized it at the end: a
 * fetch of 1,000 messages parsed about ten statements per message (the seen
 * check, the writer's rows and chunks, the commit, the analysis's reads and
 * updates), and SQLite's parser was the largest part of the agent's own CPU
 * time in that fetch (perf, issue 16).  SQLite keeps no cache of its own in
 * the C API, so this is one: statements are checked out whole (a statement
 * in use is in no cache, so two calls never share one, whatever their
 * nesting) and given back reset, their bindings cleared — as free of state
 * as a finalized one (sqlite3_reset ends the statement's read of the
 * database).  Per connection, keyed by the statement's text; at most
 * CACHE_MAX each, beyond which a statement is finalized as before.
 */
#include "store/store-private.h"

#define CACHE_MAX 96

static GMutex lock;
static GHashTable *caches;  /* sqlite3* → GHashTable (SQL text → sqlite3_stmt*) */

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

void
pst_store_stmt_cache_open (sqlite3 *db)
{
  g_mutex_lock (&lock);
  if (caches == NULL)
    caches = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_hash_table_unref);
  g_hash_table_replace (caches, db,
                        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, finalize_stmt));
  g_mutex_unlock (&lock);
}

void
pst_store_stmt_cache_close (sqlite3 *db)
{
  g_mutex_lock (&lock);
  if (caches != NULL)
    g_hash_table_remove (caches, db);
  g_mutex_unlock (&lock);
}

sqlite3_stmt *
pst_store_stmt_take (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  GHashTable *cache;
  gpointer key = NULL, value = NULL;

  g_mutex_lock (&lock);
  cache = caches != NULL ? g_hash_table_lookup (caches, db) : NULL;
  if (cache != NULL && g_hash_table_steal_extended (cache, sql, &key, &value))
    {
      g_free (key);
      stmt = value;
    }
  g_mutex_unlock (&lock);
  return stmt;
}

void
pst_store_stmt_release (sqlite3_stmt *stmt)
{
  const char *sql;
  GHashTable *cache;

  if (stmt == NULL)
    return;
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  sql = sqlite3_sql (stmt);
  g_mutex_lock (&lock);
  cache = caches != NULL ? g_hash_table_lookup (caches, sqlite3_db_handle (stmt)) : NULL;
  if (cache != NULL && sql != NULL && g_hash_table_size (cache) < CACHE_MAX
      && !g_hash_table_contains (cache, sql))
    {
      g_hash_table_insert (cache, g_strdup (sql), stmt);
      stmt = NULL;
    }
  g_mutex_unlock (&lock);
  if (stmt != NULL)
    sqlite3_finalize (stmt);
}
