/* smimestream.h — S/MIME (RFC 8551) messages written as streams: the
 * messages pst_smimemime_protect writes, for bodies too large to hold in
 * memory; memory is bounded by the header section, never the body.  The
 * CMS work is crypto/smime.h's streams (OpenSSL's CMS streaming).
 *
 * Two differences from the in-memory writer, neither visible to a
 * reader: the CMS EnvelopedData is BER with indefinite lengths (the
 * in-memory one is DER), and the multipart/signed boundary is a fresh
 * random one ("=-pst-" and 192 random bits, pst_mime_new_boundary) not
 * checked against the body, which is not read ahead. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PstSmime PstSmime;   /* from crypto/smime.h */

/* Whether pst_smimemime_protect_stream can write the message whose header
 * section is @header exactly as pst_smimemime_protect would: it must name
 * its Content-Type and Content-Transfer-Encoding (else the protected
 * entity's header depends on the body: pgpstream.h).  With @sign, a body
 * declared 7bit, 8bit or binary (not multipart/ or message/) becomes
 * quoted-printable when its bytes need it (mime.h pst_mime_body_needs_qp):
 * then *@scan_out is TRUE, and the body must be scanned first
 * (PstQpScan) and found not to need it.  Otherwise *@scan_out is FALSE. */
gboolean pst_smimemime_can_protect_stream (GBytes *header, gboolean sign, gboolean *scan_out);

/* pst_smimemime_protect on streams: reads the message from @message (from
 * pst_pgpstream_input_new) to its end and writes the protected message to
 * @out (not closed).  @body_scanned: the caller scanned the body and it
 * needs no quoted-printable (see above; looked at only when a scan is
 * needed).  Errors as pst_smimemime_protect, and PST_ERROR_FAILED for a
 * message that cannot be written as a stream.  On failure @out may hold
 * part of a message: the caller discards it. */
gboolean pst_smimemime_protect_stream (PstSmime *smime, GInputStream *message, GOutputStream *out,
                                       const char *sender, const char *const *recipients,
                                       gboolean encrypt, gboolean sign, gboolean body_scanned,
                                       GError **error);

G_END_DECLS
