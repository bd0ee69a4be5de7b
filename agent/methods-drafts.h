/* methods-drafts.h — what send shares with the drafts (methods-drafts.c). */
#pragma once

#include "call.h"

G_BEGIN_DECLS

/* Parameter @name of the call: the id of a stored draft (positive).
 * Absent and not @required: TRUE with @id_out 0.  Errors: PST_ERROR_USAGE
 * for what is no id, PST_ERROR_FAILED when there is no such draft
 * ("no draft N"). */
gboolean pst_drafts_get_id (PstCall *call, const char *name, gboolean required, gint64 *id_out,
                            GError **error);

/* Draft @id was queued (its message is in the outbox): it goes for good at
 * once, before any wait for the server, and the subscribers hear of it
 * (draft.deleted).  Whether it was deleted. */
gboolean pst_drafts_delete_sent (PstAgent *agent, gint64 id);

G_END_DECLS
