/* mail-view.h — the mailbox page: the stored messages with their marks, a
 * search, and the selected message under a status bar that the GUI draws
 * from the agent's status object (DESIGN.md §4), never from the message.
 * Unread messages are in bold; opening one marks it read (`mark`).  A thread
 * of several messages is one row that opens to show them; with several
 * accounts a switcher shows one account's mail or all.
 *
 * Signal "accounts" (guint n): how many accounts the agent has, each time
 * the list is read. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_MAIL_VIEW (pst_mail_view_get_type ())
G_DECLARE_FINAL_TYPE (PstMailView, pst_mail_view, PST, MAIL_VIEW, GtkBox)

PstMailView *pst_mail_view_new (PstAgentLink *agent);
/* Reloads the list (keeping the search) and the accounts. */
void pst_mail_view_refresh (PstMailView *view);

/* Adds the actions on the message shown — "reply", "reply-all", "forward"
 * (the recipients asked first), "delete" (asked first) — to @map (the
 * window: "win.reply", …); they are enabled while a message is shown. */
void pst_mail_view_add_actions (PstMailView *view, GActionMap *map);

G_END_DECLS
