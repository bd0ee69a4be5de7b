/* showing.c — see showing.h. */
#include "showing.h"

void
pst_widget_show_now (GtkWidget *widget, gboolean visible)
{
  GtkWidget *toplevel;

  if (gtk_widget_get_visible (widget) == visible)
    return;
  gtk_widget_set_visible (widget, visible);
  toplevel = gtk_widget_get_toplevel (widget);
  if (gtk_widget_is_toplevel (toplevel))
    gtk_widget_queue_allocate (toplevel);
}
