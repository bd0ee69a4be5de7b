/* pgpmime.h — PGP/MIME (RFC 3156) messages: writing encrypted and signed
 * mail, and the OpenPGP layers (PGP/MIME and inline) of the message reader
 * (mime/reader.h, back-end pst_pgpmime_reader_backend), which gives the
 * verdict (DESIGN.md §4).
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
/* The pieces of pst_pgpmime_protect's multipart/signed, for
 * pgpstream.h: what comes before the signed entity (the header fields
 * naming @micalg and @boundary, the preamble, the first delimiter), and
 * after it (the delimiter, the signature part holding @signature, the
 * close delimiter).  Transfer full. */
char *pst_pgpmime_signed_intro (const char *micalg, const char *boundary);
char *pst_pgpmime_signed_outro (const char *boundary, GBytes *signature);

char **pst_pgpmime_missing_keys (PstPgp *pgp, const char *const *recipients, GError **error);

/* The boundary of a PGP/MIME encrypted entity (RFC 3156 §4) whose content
 * type is @type with parameters @params: multipart/encrypted, protocol
 * "application/pgp-encrypted", a boundary of 1 to PST_PGPMIME_MAX_BOUNDARY
 * characters (the limit pst_mime_split_multipart keeps).  NULL when it is
 * not one.  Owned by @params.  The one test of the in-memory reader (its
 * back-end for mime/reader.c) and the streaming one (pgpstream.c). */
#define PST_PGPMIME_MAX_BOUNDARY 200
const char *pst_pgpmime_encrypted_boundary (const char *type, GHashTable *params);

/* Where the OpenPGP data starts in @part (@len bytes), the second body part
 * of a PGP/MIME encrypted entity or its beginning: after its header section
 * and the empty line that ends it.  FALSE when @part has no header section
 * (pst_mime_split_header refuses it); @start_out is then not set.  Shared
 * by the in-memory and the streaming readers. */
gboolean pst_pgpmime_cipher_start (const char *part, gsize len, gsize *start_out);

/* Records the verdict of OpenPGP signature @sig (the outermost layer,
 * covering @covers) in @status, against the From and Date the reader is
 * shown; the rules are pst_status_set_signature's.  Shared by the in-memory
 * and the streaming readers. */
void pst_pgpmime_set_signature (PstStatus *status, const PstPgpSignature *sig, PstCovers covers,
                                const char *from, gint64 date);

G_END_DECLS
