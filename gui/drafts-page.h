/* drafts-page.h — the Drafts page of the main window: the drafts the
 * agent keeps (drafts.list: Subject, To, account, last change), opened in
 * a compose window on activation or Open, deleted after a question. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

/* The page (a PstTableView), reloaded when the agent says a draft was
 * saved or deleted. */
GtkWidget *pst_drafts_page_new (PstAgentLink *agent);

G_END_DECLS
