/* smimestream.h — S/MIME (RFC 8551) messages written as streams: the
 * messages pst_smimemime_protect writes, for bodies too large to hold in
 * memory; memory is bounded by the header section, never the body.  The
 * CMS work is crypto/smime.h's streams (OpenSSL's CMS streaming).
 *
 * Two differences from the in-memory writer, neither visible to a
 * reader: the CMS EnvelopedData is BER with indefinite lengths (the
 * in-memory one is DER), and the multipart/signed boundary is a fresh
 * random one ("=-pst-" and 192 random bits, pst_mime_new_boundary) not
 * checked against the body, which is not read ahead.
 *
 * Reading: pst_smimemime_open_stream decrypts an application/pkcs7-mime
 * message as crypto/smime.h's pst_smime_decrypt_stream does, reading it
 * twice, for the entities that the in-memory reader passes on untouched
 * (mime/opensink.h), and, through mime/smimeread.h, for a signature inside
 * and text/plain. */
#pragma once

#include <gio/gio.h>
#include "crypto/status.h"
#include "mime/pgpstream.h"

G_BEGIN_DECLS

typedef struct _PstSmime PstSmime;   /* from crypto/smime.h */

/* Whether pst_smimemime_protect_stream can write the message whose header
 * section is @header exactly as pst_smimemime_protect would, and whether
 * the body must be scanned first (*@scan_out): as pgpstream.h
 * pst_pgpmime_can_protect_stream, or with @sign pst_pgpmime_can_sign_stream
 * (a body declared 7bit, 8bit or binary may become quoted-printable). */
gboolean pst_smimemime_can_protect_stream (GBytes *header, gboolean sign, gboolean *scan_out);

/* pst_smimemime_protect on streams: reads the message from @message (from
 * pst_pgpstream_input_new) to its end and writes the protected message to
 * @out (not closed).  @body: what the caller's scan of the body found
 * (pgpstream.h pst_pgpstream_scan_body; NULL: none, which is refused when
 * a scan is needed; a body that needs quoted-printable is made so as it
 * passes).  Errors as pst_smimemime_protect, and PST_ERROR_FAILED for a
 * message that cannot be written as a stream.  On failure @out may hold
 * part of a message: the caller discards it. */
gboolean pst_smimemime_protect_stream (PstSmime *smime, GInputStream *message, GOutputStream *out,
                                       const char *sender, const char *const *recipients,
                                       gboolean encrypt, gboolean sign,
                                       const PstBodyScan *body, GError **error);

/* A new stream over the message from its start, as pst_pgpstream_input_new
 * makes them, or NULL with @error set.  Transfer full. */
typedef GInputStream *(*PstSmimeMessageReopen) (gpointer data, GError **error);

/* pst_message_open on streams, for a message whose top level is
 * application/pkcs7-mime (or x-pkcs7-mime) in base64 or binary holding
 * EnvelopedData or AuthEnvelopedData that an own identity opens, and whose
 * decrypted entity is one that mime/opensink.h passes on (decrypted once,
 * written as it comes) or one of mime/smimeread.h's shapes (decrypted
 * twice: judged, then written).  Then
 * *@streamable_out is TRUE, @plain_out (not closed) gets what
 * pst_message_open's @plain_out holds and @status_out the same status.
 * @message (from pst_pgpstream_input_new) is only peeked at; the message
 * is read (twice) through @reopen.
 *
 * Otherwise *@streamable_out is FALSE, @status_out is not set, nothing was
 * written to @plain_out, and the caller reads the message in memory, from
 * its start again (@reopen read it): also for every failure before the
 * first plaintext byte was written (a locked key, no identity, what is not
 * CMS the walker reads), so that the in-memory reader says what it says.
 * When the status says decryption failed, @plain_out may hold plaintext
 * that was not authenticated: the caller discards it.  Errors: the
 * streams' errors.  Transfer full. */
gboolean pst_smimemime_open_stream (PstSmime *smime, GInputStream *message,
                                    PstSmimeMessageReopen reopen, gpointer reopen_data,
                                    GOutputStream *plain_out, PstStatus **status_out,
                                    gboolean *streamable_out, GError **error);

G_END_DECLS
