/* drafts.c — see drafts.h. */
#include "store/drafts.h"

#include <inttypes.h>

#include "store/store-private.h"
#include "util/error.h"

#include <glib/gi18n-lib.h>

void
pst_draft_free (PstDraft *draft)
{
  if (draft == NULL)
    return;
  g_free (draft->account);
  g_clear_pointer (&draft->sealed, g_bytes_unref);
  g_free (draft);
}

static void
no_draft (GError **error, gint64 id)
{
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("no draft %" PRId64), id);
}

/* Under the lock: one write statement in a durable transaction, which
 * must change exactly one row (else no draft @id). */
static gboolean
write_one (PstStore *store, sqlite3_stmt *stmt, gint64 id, gboolean deleting, GError **error)
{
  gboolean ok = sqlite3_step (stmt) == SQLITE_DONE;

  if (!ok && deleting)
    pst_store_set_db_error (store, error, _("cannot delete draft %" PRId64 " from store %s"), id,
                            store->path);
  else if (!ok)
    pst_store_set_db_error (store, error, _("cannot store draft %" PRId64 " in store %s"), id,
                            store->path);
  else if (sqlite3_changes (store->db) != 1)
    {
      no_draft (error, id);
      ok = FALSE;
    }
  return ok;
}

/* Ends the transaction under way: committed when @ok, else rolled back. */
static gboolean
txn_end (PstStore *store, gboolean ok, GError **error)
{
  if (ok)
    return pst_store_txn_commit (store, error);
  pst_store_txn_rollback (store);
  return FALSE;
}

gint64
pst_store_draft_save (PstStore *store, gint64 id, const char *account, GBytes *sealed,
                      GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gsize len = 0;
  const void *data = g_bytes_get_data (sealed, &len);
  gboolean ok;

  g_return_val_if_fail (store != NULL && account != NULL && sealed != NULL && id >= 0, 0);
  g_rec_mutex_lock (&store->lock);
  ok = pst_store_txn_begin (store, error);
  if (ok)
    ok = (stmt = pst_store_prepare (store,
                                    id == 0
                                      ? "INSERT INTO drafts (account, created_at, updated_at, sealed)"
                                        " VALUES (?2, ?3, ?3, ?4)"
                                      : "UPDATE drafts SET account = ?2, updated_at = ?3, sealed = ?4"
                                        " WHERE id = ?1",
                                    error)) != NULL;
  if (ok)
    {
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_text (stmt, 2, account, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 3, now);
      sqlite3_bind_blob64 (stmt, 4, data ? data : "", len, SQLITE_STATIC);
      ok = write_one (store, stmt, id, FALSE, error);
      if (ok && id == 0)
        id = sqlite3_last_insert_rowid (store->db);
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  ok = txn_end (store, ok, error);
  g_rec_mutex_unlock (&store->lock);
  return ok ? id : 0;
}

static PstDraft *
draft_from_row (sqlite3_stmt *stmt)
{
  PstDraft *d = g_new0 (PstDraft, 1);

  d->id = sqlite3_column_int64 (stmt, 0);
  d->account = pst_store_column_strdup (stmt, 1);
  d->created_at = sqlite3_column_int64 (stmt, 2);
  d->updated_at = sqlite3_column_int64 (stmt, 3);
  d->sealed = g_bytes_new (sqlite3_column_blob (stmt, 4), sqlite3_column_bytes (stmt, 4));
  return d;
}

/* Rows of "SELECT id, account, created_at, updated_at, sealed …" with
 * ?1 bound to @id (when > 0) and ?2 to @account. */
static GPtrArray *
select_drafts (PstStore *store, const char *sql, gint64 id, const char *account, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_draft_free);
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok;
  int rc = SQLITE_DONE;

  g_rec_mutex_lock (&store->lock);
  ok = (stmt = pst_store_prepare (store, sql, error)) != NULL;
  if (ok)
    {
      sqlite3_bind_int64 (stmt, 1, id);
      pst_store_bind_text_or_null (stmt, 2, account);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        g_ptr_array_add (out, draft_from_row (stmt));
      if (rc != SQLITE_DONE)
        {
          pst_store_set_db_error (store, error, _("cannot read the drafts in store %s"), store->path);
          ok = FALSE;
        }
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok ? g_steal_pointer (&out) : NULL;
}

GPtrArray *
pst_store_draft_list (PstStore *store, const char *account, GError **error)
{
  return select_drafts (store,
                        "SELECT id, account, created_at, updated_at, sealed FROM drafts"
                        " WHERE ?2 IS NULL OR account = ?2 ORDER BY updated_at DESC, id DESC",
                        0, account, error);
}

PstDraft *
pst_store_draft_get (PstStore *store, gint64 id, GError **error)
{
  g_autoptr (GPtrArray) rows = select_drafts (store,
                                              "SELECT id, account, created_at, updated_at, sealed"
                                              " FROM drafts WHERE id = ?1",
                                              id, NULL, error);

  if (rows == NULL)
    return NULL;
  if (rows->len == 0)
    {
      no_draft (error, id);
      return NULL;
    }
  return g_ptr_array_steal_index (rows, 0);
}

gboolean
pst_store_draft_delete (PstStore *store, gint64 id, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok;

  g_rec_mutex_lock (&store->lock);
  ok = pst_store_txn_begin (store, error);
  if (ok)
    ok = (stmt = pst_store_prepare (store, "DELETE FROM drafts WHERE id = ?1", error)) != NULL;
  if (ok)
    {
      sqlite3_bind_int64 (stmt, 1, id);
      ok = write_one (store, stmt, id, TRUE, error);
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  ok = txn_end (store, ok, error);
  g_rec_mutex_unlock (&store->lock);
  /* As messages are deleted (store.c): the pages were overwritten, the
   * log still holds them as they were. */
  if (ok && !pst_store_checkpoint (store, error))
    {
      g_prefix_error (error, _("deleted, but not yet wiped from the write-ahead log: "));
      return FALSE;
    }
  return ok;
}
