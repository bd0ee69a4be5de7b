/* showing.h — a widget shown or hidden, and its window laid out again. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* gtk_widget_set_visible, then a new allocation of its whole window.  A
 * widget shown on a window whose layout GTK 3 had left with a resize
 * pending below it (a resize queued during an allocation) stayed
 * unallocated: never drawn, never "showing" to screen readers (the GUI
 * test saw the account switcher and the activity line stay away for good,
 * once in several runs under load).  Allocating from the window down
 * reaches it either way. */
void pst_widget_show_now (GtkWidget *widget, gboolean visible);

G_END_DECLS
