/* a11y.h — accessible names for form fields.  GTK 3 does not name an entry
 * after the label whose mnemonic widget it is, so screen readers (and the
 * tests, which drive the GUI as a screen reader would) would meet nameless
 * fields; this names each after its label. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* For every GtkLabel under @root that has a mnemonic widget: names that
 * widget's accessible object after the label's text. */
void pst_a11y_name_fields (GtkWidget *root);

G_END_DECLS
