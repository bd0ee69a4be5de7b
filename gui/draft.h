/* draft.h — a reply or forward draft written by the agent (`reply`,
 * `forward`: it alone can decrypt the message answered), read back and
 * opened in a compose window. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

/* Called with why no window opened (NULL when one did). */
typedef void (*PstDraftDone) (const char *error, gpointer data);

/* Asks @method ("reply" or "forward", or "drafts.get" for a stored draft,
 * which the window then keeps) with @params (transfer full; "fd" is set
 * here) for a draft and opens a compose window of @app filled with it;
 * then calls @done with @data. */
void pst_draft_open (GtkApplication *app, PstAgentLink *agent, const char *method, JsonObject *params,
                     PstDraftDone done, gpointer data);

G_END_DECLS
