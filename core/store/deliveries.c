/* deliveries.c — see deliveries.h. */
#include "store/deliveries.h"

#include <inttypes.h>

#include "store/store-private.h"
#include "util/error.h"

#include <glib/gi18n-lib.h>

GArray *
pst_store_deliveries_pending (PstStore *store, const char *account, GError **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (PstDelivery));
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok = TRUE;
  int rc;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store,
                            "SELECT m.id, m.received_at FROM deliveries d"
                            " JOIN messages m ON m.id = d.message_id"
                            " WHERE d.account = ?1 AND d.state = 'pending'"
                            " AND NOT m.unfinished AND NOT m.quarantined"
                            " ORDER BY d.message_id",
                            error);
  if (stmt == NULL)
    ok = FALSE;
  else
    {
      sqlite3_bind_text (stmt, 1, account, -1, SQLITE_STATIC);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          PstDelivery d = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };
          g_array_append_val (out, d);
        }
      if (rc != SQLITE_DONE)
        {
          pst_store_set_db_error (store, error, _("cannot list the deliveries of %s in store %s"),
                                  account, store->path);
          ok = FALSE;
        }
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok ? g_steal_pointer (&out) : NULL;
}

gboolean
pst_store_delivery_done (PstStore *store, gint64 id, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok;

  g_rec_mutex_lock (&store->lock);
  ok = pst_store_txn_begin (store, error);
  if (ok)
    {
      stmt = pst_store_prepare (store,
                                "UPDATE deliveries SET state = 'done', done_at = ?2"
                                " WHERE message_id = ?1 AND state = 'pending'",
                                error);
      ok = stmt != NULL;
      if (ok)
        {
          sqlite3_bind_int64 (stmt, 1, id);
          sqlite3_bind_int64 (stmt, 2, g_get_real_time () / G_USEC_PER_SEC);
          if (sqlite3_step (stmt) != SQLITE_DONE)
            {
              pst_store_set_db_error (store, error,
                                      _("cannot record the delivery of message %" PRId64
                                        " in store %s"), id, store->path);
              ok = FALSE;
            }
        }
      g_clear_pointer (&stmt, pst_store_stmt_release);
      if (ok)
        ok = pst_store_txn_commit (store, error);
      else
        pst_store_txn_rollback (store);
    }
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

gboolean
pst_store_delivery_state (PstStore *store, gint64 id, char **state_out, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  gboolean ok = TRUE;
  int rc;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "SELECT state FROM deliveries WHERE message_id = ?1", error);
  if (stmt == NULL)
    ok = FALSE;
  else
    {
      sqlite3_bind_int64 (stmt, 1, id);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        *state_out = pst_store_column_strdup (stmt, 0);
      else if (rc == SQLITE_DONE)
        *state_out = NULL;
      else
        {
          pst_store_set_db_error (store, error, _("store %s"), store->path);
          ok = FALSE;
        }
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return ok;
}

char *
pst_store_delivery_token (PstStore *store, GError **error)
{
  g_autoptr (Stmt) stmt = NULL;
  char *token = NULL;

  g_rec_mutex_lock (&store->lock);
  stmt = pst_store_prepare (store, "SELECT value FROM store_info WHERE key = 'delivery_token'",
                            error);
  if (stmt != NULL)
    {
      if (sqlite3_step (stmt) == SQLITE_ROW)
        token = pst_store_column_strdup (stmt, 0);
      else
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("store %s has no delivery token"),
                     store->path);
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  g_rec_mutex_unlock (&store->lock);
  return token;
}
