/* window.h — the main window: the agent's state, and the pages (mail,
 * outbox, quarantine, keys, accounts) in a stack. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_WINDOW (pst_window_get_type ())
G_DECLARE_FINAL_TYPE (PstWindow, pst_window, PST, WINDOW, GtkApplicationWindow)

PstWindow *pst_window_new (GtkApplication *app, PstAgentLink *agent);
/* Reads the accounts, the keys and the mail list again, after they changed
 * outside the window (the first-run assistant). */
void pst_window_reload (PstWindow *window);
/* Shows the page @name: "mail", "outbox", "quarantine", "keys", "accounts". */

G_END_DECLS
