/* threads.h — threading of stored messages by Message-ID (threads.c).
 * Store-internal: every function runs under the store's lock.
 */
#pragma once

#include "store/store-private.h"

G_BEGIN_DECLS

/* Threads committed message @id by the Message-IDs of its outer header,
 * merging the threads it joins.  Inside the caller's transaction. */
gboolean pst_store_thread_message (PstStore *store, gint64 id, GError **error);

/* Threads every message whose thread is not known yet (stored before
 * schema 7), oldest first, in one durable transaction of its own. */
gboolean pst_store_thread_unthreaded (PstStore *store, GError **error);

/* After messages of @thread were deleted: when none is left, the
 * Message-IDs that thread knew go too.  Inside the caller's transaction. */
gboolean pst_store_thread_forget (PstStore *store, gint64 thread, GError **error);

G_END_DECLS
