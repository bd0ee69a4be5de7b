/* smimeread.h — reading S/MIME messages that hold a signature or text as
 * streams: the verdict and plaintext of mime/reader.h for a restricted set
 * of shapes, with memory bounded by header sections and fixed buffers.
 *
 * The shapes (the "entity" is the decrypted one, or for verify the message
 * itself):
 *   - a leaf entity: not multipart/, not message/rfc822, not another
 *     S/MIME layer (text/plain included);
 *   - a multipart (not signed or encrypted) whose parts are such leaves
 *     (not legacy display parts) or forwarded messages (message/rfc822,
 *     which the in-memory reader does not look into either);
 *   - multipart/signed; protocol="application/pkcs7-signature" (or x-)
 *     whose first part is one of the above, its signature part at most
 *     1 MiB;
 *   - for verify, opaque signed-data (application/pkcs7-mime) whose
 *     eContent is a leaf or a multipart as above.
 * Anything else (a multipart in a multipart, an inline OpenPGP block in a
 * text part, found in it decoded as the in-memory reader decodes it
 * (inlinescan.h), opaque signed-data inside an encryption, an eContent in a
 * detached signature, a digest micalg did not announce, a legacy display
 * block not within the first 64 KiB) is left to the in-memory reader:
 * *streamable_out FALSE and nothing written.
 *
 * The entity is read once to judge it (structure, digests, SHA-256 of all
 * of it) without writing anything, and, when decrypting, decrypted again
 * for the output: nothing is written before the verdict (the GCM tag, the
 * signature) is known.  No plaintext is spooled: the ciphertext, a regular
 * file the agent reads twice anyway, is what is read again.  The second
 * decryption must give the same bytes (SHA-256); if the file changed in
 * between, the status says decryption failed and the caller discards
 * what was written. */
#pragma once

#include <gio/gio.h>
#include "crypto/smime.h"
#include "crypto/status.h"

G_BEGIN_DECLS

/* The decrypting half of pst_smimemime_open_stream: the CMS object of
 * @decryptor is decrypted (twice, crypto/smime.h); the message's outer
 * header fields are @outer_fields.  On return TRUE with
 * *@streamable_out, @plain_out holds what pst_message_open's @plain_out
 * holds (nothing when the status withholds the content) and @status_out
 * the same status.  Otherwise (TRUE, *@streamable_out FALSE) nothing was
 * written.  Errors: the streams' errors.  Transfer full. */
gboolean pst_smimeread_open_decrypted (PstSmimeDecryptor *decryptor, GPtrArray *outer_fields,
                                       GOutputStream *plain_out, PstStatus **status_out,
                                       gboolean *streamable_out, GError **error);

/* pst_message_open's status (for `verify`) of the message in @message
 * (read to its end) when it is a multipart/signed or opaque signed-data of
 * the shapes above;
 * otherwise *@streamable_out FALSE and the caller reads the message again
 * from its start.  Errors: the stream's errors.  Transfer full. */
gboolean pst_smimeread_verify (PstSmime *smime, GInputStream *message, PstStatus **status_out,
                               gboolean *streamable_out, GError **error);

G_END_DECLS
