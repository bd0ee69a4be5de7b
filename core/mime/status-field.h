/* status-field.h — the Postern-Status header field (DESIGN.md §14): what
 * Postern found of a message, on top of the copy that other mail programs
 * read (delivery to a Maildir or an MDA, the bridge's POP3).  Those
 * programs cannot tell Postern's field from one a sender wrote, so every
 * field of that name that arrived is removed first, as RFC 8601 §5 says of
 * Authentication-Results. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PST_STATUS_FIELD "Postern-Status"

/* @message (RFC 5322) with every Postern-Status field of its header section
 * removed (any case, white space before the colon, with its continuation
 * lines), and any continuation line before the first field (it would
 * continue ours), and one "Postern-Status: @value" put on top, its line end the one
 * the message's first line uses.  In the header section, each NUL and each
 * CR that does not end a line becomes a space, so that no reader can split
 * a line we kept into a field we would have removed.  A leading mbox
 * "From " line is dropped.  Never fails: a message whose header no parser
 * accepts gets the field too.  Transfer full. */
GBytes *pst_mime_with_status_field (GBytes *message, const char *value);

G_END_DECLS
