/* schema.h — the store's versioned schema (internal to core/store).
 *
 * The schema version is PRAGMA user_version.  Each migration step takes the
 * database from version N to N + 1 in its own transaction, so an
 * interrupted upgrade leaves a database at some valid version and the next
 * open carries on from there.
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* The version this code writes: the number of migration steps. */
int pst_store_schema_latest (void);

/* Brings @db up to pst_store_schema_latest().  @path is only for messages.
 * A database newer than the code, or a failed step, is PST_ERROR_FAILED and
 * leaves the database at the last version that committed.  @applied_out (may
 * be NULL) gets the number of steps run by this call. */
gboolean pst_store_schema_migrate (sqlite3 *db, const char *path, guint *applied_out,
                                   GError **error);

G_END_DECLS
