/* readable.h — a stored message as other mail programs read it (the
 * delivery to a Maildir or an MDA, the bridge's POP3; DESIGN.md §14): the
 * decrypted message, with Postern's verdict on top in a Postern-Status
 * field that no sender can forge (status-field.h). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* Message @id for a reader outside Postern: decrypted when it was
 * encrypted and can be, else as it arrived (asked with @as_received, or the
 * content is withheld: decryption failed, too large, integrity missing),
 * with its Postern-Status field.  @decrypted_out (may be NULL) says which.
 * Errors as pst_open_message (open.h): unknown id, quarantined, not
 * analysable now.  Transfer full. */
GBytes *pst_readable_message (PstAgent *agent, gint64 id, gboolean as_received,
                              gboolean *decrypted_out, GError **error);

G_END_DECLS
