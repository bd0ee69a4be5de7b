/* a11y.c — see a11y.h. */
#include "a11y.h"

static void
name_fields (GtkWidget *w, gpointer data)
{
  if (GTK_IS_LABEL (w))
    {
      GtkWidget *target = gtk_label_get_mnemonic_widget (GTK_LABEL (w));
      if (target != NULL)
        atk_object_set_name (gtk_widget_get_accessible (target), gtk_label_get_text (GTK_LABEL (w)));
    }
  if (GTK_IS_CONTAINER (w))
    gtk_container_forall (GTK_CONTAINER (w), name_fields, NULL);
}

void
pst_a11y_name_fields (GtkWidget *root)
{
  name_fields (root, NULL);
}
