/* pgpmime.h — PGP/MIME (RFC 3156) messages: writing encrypted and signed
 * mail, reading it back with a verdict (DESIGN.md §4).
 */
#pragma once

#include <glib.h>
#include "crypto/pgp.h"
#include "crypto/status.h"

G_BEGIN_DECLS


/* Builds the message to send from @message (RFC 5322 as the user wrote it):
 * the outer headers are kept except Bcc and the Content-* fields; the body
 * entity (its Content-* fields and body) becomes
 *   - with @encrypt: multipart/encrypted, one OpenPGP message that is signed
 *     (when @sign) and encrypted (RFC 3156 §6.2) to every address in
 *     @recipients and to @sender (encrypt-to-self);
 *   - without @encrypt and with @sign: multipart/signed (RFC 3156 §5).
 * @sender is the From address; its secret key signs.
 * Errors: PST_ERROR_POLICY naming every recipient that has no usable key
 * ("no OpenPGP key for: a@x, b@y"), and the sender without a secret key;
 * PST_ERROR_FAILED for a message that cannot be parsed.  Transfer full. */
GBytes *pst_pgpmime_protect (PstPgp *pgp, GBytes *message, const char *sender,
                             const char *const *recipients, gboolean encrypt, gboolean sign,
                             GError **error);

/* The addresses of @recipients without a usable OpenPGP public key
 * (NULL-terminated, transfer full, empty when all have one). */
char **pst_pgpmime_missing_keys (PstPgp *pgp, const char *const *recipients, GError **error);

/* Reads a stored message: decrypts and verifies what it can.  @plain_out
 * gets the message to display (outer headers with the decrypted body entity
 * in place of the encrypted one; the message itself when it was not
 * encrypted); @status_out its verdict.  Failure to decrypt is not an error
 * of this function: the status says decryption "failed" and @plain_out is
 * the message as received, so that a client can still show its headers.
 * Errors only for messages that cannot be parsed at all.  Transfer full. */
gboolean pst_pgpmime_open (PstPgp *pgp, GBytes *message, GBytes **plain_out,
                           PstStatus **status_out, GError **error);

/* Records the verdict of OpenPGP signature @sig (the outermost layer,
 * covering @covers) in @status, against the From and Date the reader is
 * shown; the rules are pst_status_set_signature's.  Shared by the in-memory
 * and the streaming readers. */
void pst_pgpmime_set_signature (PstStatus *status, const PstPgpSignature *sig, PstCovers covers,
                                const char *from, gint64 date);

G_END_DECLS
