/* attachment-bar.h — the attachments of the message shown: a button for
 * each (its content type's icon, its name) that saves it through a file
 * chooser, and Save all into a folder when there are several.  The agent
 * writes each attachment (`attachment`) to a new file, 0600. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

/* Why an attachment was not saved (translated); @owner as given. */
typedef void (*PstAttachmentSaid) (const char *text, GObject *owner);

/* Adds the buttons for @attachments (the `attachments` of `show`) of
 * message @message to @bar (a container); @said, with @owner (held while
 * a save is under way), hears the errors. */
void pst_attachment_bar_fill (GtkWidget *bar, PstAgentLink *agent, gint64 message, JsonArray *attachments,
                              PstAttachmentSaid said, GObject *owner);

G_END_DECLS
