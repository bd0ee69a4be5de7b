/* window.h — the main window: the mailbox, and the message with its status
 * bar drawn by Postern (DESIGN.md §4), never by the message. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PST_TYPE_WINDOW (pst_window_get_type ())
G_DECLARE_FINAL_TYPE (PstWindow, pst_window, PST, WINDOW, GtkApplicationWindow)

/* @home: the agent's home (POSTERN_HOME), or NULL for the default. */
PstWindow *pst_window_new (GtkApplication *app, const char *home);

G_END_DECLS
