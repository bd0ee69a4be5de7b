/* mail-view.h — the mailbox page: the stored messages with their marks, a
 * search, and the selected message under a status bar that the GUI draws
 * from the agent's status object (DESIGN.md §4), never from the message. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_MAIL_VIEW (pst_mail_view_get_type ())
G_DECLARE_FINAL_TYPE (PstMailView, pst_mail_view, PST, MAIL_VIEW, GtkBox)

PstMailView *pst_mail_view_new (PstAgentLink *agent);
/* Reloads the list (keeping the search). */
void pst_mail_view_refresh (PstMailView *view);

G_END_DECLS
