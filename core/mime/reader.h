/* reader.h — reading a stored message, whatever its schemes: one walk over
 * the MIME tree that recognises each layer as it reaches it (PGP/MIME,
 * inline PGP, S/MIME, or none; one scheme nested in the other too) and
 * gives the verdict of DESIGN.md §4, whose rules live here once:
 *   - a layer covers the whole message only when it is the body entity or
 *     directly inside another whole layer; anything inside another
 *     multipart covers a part, and decrypted content is never shown next
 *     to content that was not encrypted;
 *   - the counted signature is the first met from the outside, depth first;
 *     any other adds "nested-signature" (inside a whole one) or
 *     "multiple-signatures", never promoted, whatever its scheme; one
 *     directly around an encryption layer (of either scheme) is not counted
 *     ("outer-signature-ignored");
 *   - a multipart/signed whose signature is missing, empty, of the wrong
 *     type or of a protocol no scheme knows is "error", never "none";
 *   - protected headers, From and Date: mime/hp.h (pst_hp_finish);
 *   - all layers together yield at most PST_DECRYPTION_MAX_OUTPUT or the
 *     message's own size (crypto/status.h).
 * The status has one scheme: that of the outermost encryption layer when
 * there is one, else that of the counted signature, else of the first layer
 * met (null when none).  The counted signature's own scheme shows in its
 * fingerprint (OpenPGP: upper-case hex; S/MIME: SHA-256, lower case).
 * The scheme-specific parts are the back-ends of mime/reader-backend.h. */
#pragma once

#include <glib.h>

#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstPgp PstPgp;
typedef struct _PstSmime PstSmime;

/* Reads @message: decrypts and verifies what it can.  @plain_out gets the
 * message to display (the shown header with the decrypted or unwrapped
 * body entity when a layer covers the whole message; the message itself
 * otherwise, or, OpenPGP, a part decrypted alone), @status_out its verdict.
 * @pgp and @smime may each be NULL: that scheme's layers are then still
 * recognised, and none is opened (decryption "failed", signature "error").
 * A failed decryption is in the status, not an error.  Errors: a message
 * that cannot be parsed at all (PST_ERROR_FAILED), and the shared
 * decryption budget held by other operations (pst_sink_set_busy_error: no
 * verdict, try again).  Transfer full. */
gboolean pst_message_open (PstPgp *pgp, PstSmime *smime, GBytes *message, GBytes **plain_out,
                           PstStatus **status_out, GError **error);

G_END_DECLS
