/* pgpstream.h — PGP/MIME (RFC 3156) encryption and decryption of messages
 * too large to hold in memory: the same messages and the same verdicts as
 * pgpmime.h, with memory bounded by the header sections, never the body.
 *
 * Both functions read the message from a GBufferedInputStream made by
 * pst_pgpstream_input_new(), whose buffer holds a whole header section, so
 * that the header can be looked at (peeked) before anything is consumed.
 */
#pragma once

#include <gio/gio.h>
#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstPgp PstPgp;   /* from crypto/pgp.h */

/* The largest header section (outer, or of the decrypted entity) these
 * functions buffer. */
#define PST_PGPSTREAM_MAX_HEADER (1024 * 1024)

/* The offset after the empty line that ends the header section in @data
 * (@len bytes) in @end_out; FALSE when there is none yet. */
gboolean pst_pgpstream_header_end (const char *data, gsize len, gsize *end_out);

/* A buffered stream over @base (not closed with it) whose buffer holds
 * PST_PGPSTREAM_MAX_HEADER bytes.  Transfer full. */
GInputStream *pst_pgpstream_input_new (GInputStream *base);

/* The header section of the message @in (a stream from
 * pst_pgpstream_input_new), up to and including the empty line that ends
 * it (all of the message when there is none), without consuming it.
 * Errors: PST_ERROR_FAILED when it is larger than PST_PGPSTREAM_MAX_HEADER;
 * the stream's errors.  Transfer full. */
GBytes *pst_pgpstream_peek_header (GInputStream *in, GError **error);

/* Whether pst_pgpmime_protect_stream can write the message whose header
 * section is @header exactly as pst_pgpmime_protect would: it must name
 * its Content-Type and Content-Transfer-Encoding (else the protected
 * entity's header depends on the body's bytes, which are not read ahead). */
gboolean pst_pgpmime_can_protect_stream (GBytes *header);

/* What the caller of a streaming signer found of the message's body
 * (mime.h PstQpScan), which decides the signed entity's header before the
 * body is read. */
typedef enum {
  PST_BODY_UNSCANNED,   /* not scanned */
  PST_BODY_AS_IS,       /* scanned: it needs no quoted-printable */
  PST_BODY_QP,          /* scanned: it becomes quoted-printable */
} PstBodyScan;

/* Whether pst_pgpmime_sign_stream can write the message whose header
 * section is @header as pst_pgpmime_protect signs it: as
 * pst_pgpmime_can_protect_stream, and a body declared 7bit, 8bit or binary
 * (not multipart/ or message/) becomes quoted-printable when its bytes
 * need it (mime.h pst_mime_body_needs_qp): then *@scan_out is TRUE and the
 * body must be scanned first (PstQpScan) to say which (PstBodyScan). */
gboolean pst_pgpmime_can_sign_stream (GBytes *header, gboolean *scan_out);

/* The checks of the streaming encoders (this file's and smimestream.h's)
 * before anything is read: @can, what pst_*_can_*_stream said of the
 * header (@scan: a body scan it asked for, @body: what the scan found),
 * and a @sender address.  Errors (PST_ERROR_FAILED) name the @scheme. */
gboolean pst_pgpstream_check_input (gboolean can, gboolean scan, PstBodyScan body,
                                    const char *sender, const char *scheme, GError **error);

/* The signed entity as a stream: @entity_head, then the body of
 * @message (positioned after its header section) with CRLF line ends, as
 * quoted-printable when @body is PST_BODY_QP (and @entity_head says so:
 * pst_hp_payload_head).  Transfer full; @message is not closed with it. */
GInputStream *pst_pgpstream_entity_input (GInputStream *message, GBytes *entity_head,
                                          PstBodyScan body);

/* pst_pgpmime_protect with @encrypt FALSE and @sign TRUE, on streams:
 * reads the message from @message (from pst_pgpstream_input_new) to its
 * end and writes the multipart/signed message to @out (not closed): the
 * same outer header, protected headers and structure, but a fresh random
 * boundary (not checked against the entity).  The micalg is learnt before
 * (crypto/pgp.h pst_pgp_sign_micalg: the key is used twice).
 * @body: what the caller's scan of the body found (looked at only when
 * pst_pgpmime_can_sign_stream asks for a scan; a body that needs it is
 * made quoted-printable as it passes).  Errors as pst_pgpmime_protect, and
 * PST_ERROR_FAILED for a message that cannot be signed as a stream.  On
 * failure @out may hold part of a message: the caller discards it. */
gboolean pst_pgpmime_sign_stream (PstPgp *pgp, GInputStream *message, GOutputStream *out,
                                  const char *sender, PstBodyScan body, GError **error);

/* pst_pgpmime_protect with @encrypt TRUE, on streams: reads the message
 * from @message (from pst_pgpstream_input_new) to its end and writes the
 * multipart/encrypted message to @out (not closed): the same outer header,
 * protected headers (hp.c) and structure, the body CRLF-normalised into
 * the OpenPGP layer, signed by @sender's key when @sign.
 * Errors as pst_pgpmime_protect, and PST_ERROR_FAILED for a message that
 * pst_pgpmime_can_protect_stream refuses.  On failure @out may hold part
 * of a message: the caller discards it. */
gboolean pst_pgpmime_protect_stream (PstPgp *pgp, GInputStream *message, GOutputStream *out,
                                     const char *sender, const char *const *recipients,
                                     gboolean sign, GError **error);

/* A new stream over the message from its start, as pst_pgpstream_input_new
 * makes them, or NULL with @error set.  Transfer full. */
typedef GInputStream *(*PstPgpMessageReopen) (gpointer data, GError **error);

/* pst_pgpmime_open on streams, for a message whose top level is
 * multipart/encrypted; protocol="application/pgp-encrypted" and whose
 * decrypted entity is a single leaf part (what the in-memory reader passes
 * on untouched).  Then *@streamable_out is TRUE, @plain_out (not closed)
 * gets what pst_pgpmime_open's @plain_out holds and @status_out the same
 * status.
 *
 * A text/plain entity is streamed only with @reopen (else it is left to
 * the in-memory reader, as below), and only when its body is its text
 * (one Content-Type, at most one Content-Transfer-Encoding: none, 7bit,
 * 8bit or binary) and it has no hp-legacy-display parameter (opensink.h
 * pst_open_sink_take_text).  So is an entity whose header shown a good
 * signature would change (RFC 9788 promotion, hp.h): the first
 * decryption judges it, writing nothing (a line that begins an inline
 * OpenPGP block in a text leaves it to the in-memory reader; a failed or
 * too large decryption is said without anything written), and the
 * message, read again from its start through @reopen, is decrypted a
 * second time into @plain_out with the header the signature gives, which
 * must give the plaintext judged (SHA-256), or the status says decryption
 * failed (the file changed in between).
 *
 * Otherwise *@streamable_out is FALSE, @status_out is not set, nothing was
 * written to @plain_out and the caller opens the message in memory:
 *   - decided from the outer header alone, nothing is consumed from
 *     @message (it was only peeked), so the caller reads it from @message;
 *   - decided from the decrypted entity's header (a multipart, text/plain,
 *     message/rfc822, no header section, a second part that is not what
 *     RFC 3156 says, or protected address fields that differ from the outer
 *     ones, since then the header shown depends on the signature, known
 *     only at the end: mime/hp.h),
 *     part of @message was consumed: the caller reads the message again
 *     from its start (the agent streams only from seekable input).
 *
 * Plaintext past the decryption limit (the in-memory reader's rule,
 * crypto/status.h: PST_DECRYPTION_MAX_OUTPUT or as much as came in) stops
 * the decryption, with the status "too-large".
 * When the status says decryption failed, @plain_out may already hold
 * plaintext that was not authenticated (gpg checks the MDC at the end):
 * the caller discards it, as pst_pgpmime_open would give the message as
 * received.  Errors: the streams' errors, and PST_ERROR_FAILED for a
 * message that cannot be parsed (see pst_pgpmime_open).  Transfer full. */
gboolean pst_pgpmime_open_stream (PstPgp *pgp, GInputStream *message,
                                  PstPgpMessageReopen reopen, gpointer reopen_data,
                                  GOutputStream *plain_out, PstStatus **status_out,
                                  gboolean *streamable_out, GError **error);

G_END_DECLS
