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
#include "crypto/cipherspool.h"
#include "crypto/status.h"
#include "mime/mime.h"

G_BEGIN_DECLS

typedef struct _PstPgp PstPgp;   /* from crypto/pgp.h */

/* The largest header section (outer, or of the decrypted entity) these
 * functions buffer. */
#define PST_PGPSTREAM_MAX_HEADER (1024 * 1024)

/* The offset after the empty line that ends the header section in @data
 * (@len bytes) in @end_out; FALSE when there is none yet. */
gboolean pst_pgpstream_header_end (const char *data, gsize len, gsize *end_out);
/* pst_pgpstream_header_end over @data, when its first @seen bytes were
 * searched before: only the new bytes (and the two before them, where an
 * empty line may have begun) are searched again.  Fed a line at a time by
 * a multipart splitter, a search from the start each time was quadratic:
 * a 256 KiB header of short lines took 25 s (review of the S/MIME read
 * streams). */
gboolean pst_pgpstream_header_end_after (const char *data, gsize len, gsize seen, gsize *end_out);

/* A buffered stream over @base (not closed with it) whose buffer holds
 * PST_PGPSTREAM_MAX_HEADER bytes.  Transfer full. */
GInputStream *pst_pgpstream_input_new (GInputStream *base);

/* pst_pgpstream_input_new over @prefix (header fields, e.g. the
 * Autocrypt-Gossip ones that go on top of the message inside the
 * encryption: agent/peers.h pst_peers_with_gossip), then @message (not
 * closed with it).  Transfer full. */
GInputStream *pst_pgpstream_input_with_prefix (GBytes *prefix, GInputStream *message);

/* The header section of the message @in (a stream from
 * pst_pgpstream_input_new), up to and including the empty line that ends
 * it (all of the message when there is none), without consuming it.
 * Errors: PST_ERROR_FAILED when it is larger than PST_PGPSTREAM_MAX_HEADER;
 * the stream's errors.  Transfer full. */
GBytes *pst_pgpstream_peek_header (GInputStream *in, GError **error);

/* Whether pst_pgpmime_protect_stream can write the message whose header
 * section is @header exactly as pst_pgpmime_protect would.  When the
 * protected entity's header depends on the body's bytes (mime.h
 * pst_mime_entity_head_needs_body: no Content-Type or no
 * Content-Transfer-Encoding, whose charset and 8bit the body decides),
 * *@scan_out is TRUE: the body must be scanned first
 * (pst_pgpstream_scan_body), and the stream read again. */
gboolean pst_pgpmime_can_protect_stream (GBytes *header, gboolean *scan_out);

/* The same for pst_pgpmime_sign_stream (pst_pgpmime_protect signing):
 * there a body declared 7bit, 8bit or binary (not multipart/ or message/)
 * becomes quoted-printable when its bytes need it, which a scan says too. */
gboolean pst_pgpmime_can_sign_stream (GBytes *header, gboolean *scan_out);

/* Scans the body of the message in @in (from pst_pgpstream_input_new, its
 * header section of @header_len bytes not consumed) into *@out (mime.h
 * PstQpScan); reads @in to its end, or until both facts are known.
 * Errors: the stream's. */
gboolean pst_pgpstream_scan_body (GInputStream *in, gsize header_len, PstBodyScan *out,
                                  GError **error);

/* The checks of the streaming encoders (this file's and smimestream.h's)
 * before anything is read: @can, what pst_*_can_*_stream said of the
 * header (@scan: a body scan it asked for, @body: what the scan found,
 * NULL when there was none), and a @sender address.  Errors
 * (PST_ERROR_FAILED) name the @scheme. */
gboolean pst_pgpstream_check_input (gboolean can, gboolean scan, const PstBodyScan *body,
                                    const char *sender, const char *scheme, GError **error);

/* The protected entity as a stream: @entity_head, then the body of
 * @message (positioned after its header section) with CRLF line ends, as
 * quoted-printable when @qp (pst_hp_payload_head said so).  Transfer full;
 * @message is not closed with it. */
GInputStream *pst_pgpstream_entity_input (GInputStream *message, GBytes *entity_head, gboolean qp);

/* pst_pgpmime_protect with @encrypt FALSE and @sign TRUE, on streams:
 * reads the message from @message (from pst_pgpstream_input_new) to its
 * end and writes the multipart/signed message to @out (not closed): the
 * same outer header, protected headers and structure, but a fresh random
 * boundary (not checked against the entity).  The micalg is learnt before
 * (crypto/pgp.h pst_pgp_sign_micalg: the key is used twice).
 * @body: what the caller's scan of the body found (NULL: none; needed
 * when pst_pgpmime_can_sign_stream asks for one; a body that needs it is
 * made quoted-printable as it passes).  Errors as pst_pgpmime_protect, and
 * PST_ERROR_FAILED for a message that cannot be signed as a stream.  On
 * failure @out may hold part of a message: the caller discards it. */
gboolean pst_pgpmime_sign_stream (PstPgp *pgp, GInputStream *message, GOutputStream *out,
                                  const char *sender, const PstBodyScan *body, GError **error);

/* pst_pgpmime_protect with @encrypt TRUE, on streams: reads the message
 * from @message (from pst_pgpstream_input_new) to its end and writes the
 * multipart/encrypted message to @out (not closed): the same outer header,
 * protected headers (hp.c) and structure, the body CRLF-normalised into
 * the OpenPGP layer, signed by @sender's key when @sign.  @body: the
 * caller's scan of the body (NULL: none), needed when
 * pst_pgpmime_can_protect_stream asks for one.
 * Errors as pst_pgpmime_protect, and PST_ERROR_FAILED for a message that
 * pst_pgpmime_can_protect_stream refuses or whose body was not scanned
 * when it had to be.  On failure @out may hold part of a message: the
 * caller discards it. */
gboolean pst_pgpmime_protect_stream (PstPgp *pgp, GInputStream *message, GOutputStream *out,
                                     const char *sender, const char *const *recipients,
                                     gboolean sign, const PstBodyScan *body, GError **error);

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
 * 8bit, binary, quoted-printable or base64) and it has no
 * hp-legacy-display parameter (opensink.h pst_open_sink_take_text).  So
 * is a multipart (not signed or encrypted) whose parts are such leaves and
 * texts, and an entity whose header shown a good
 * signature would change (RFC 9788 promotion, hp.h): the first
 * decryption judges it, writing nothing (a line that begins an inline
 * OpenPGP block in a text or a text part, a part that is a multipart,
 * message/rfc822 or a legacy display part, leave it to the in-memory
 * reader; a failed or
 * too large decryption is said without anything written), and then
 * written to @plain_out with the header the signature gives.  What is
 * written must give the plaintext judged (SHA-256), or the status says
 * decryption failed.  It comes from the plaintext the first decryption
 * kept in the file @spool_open gives (called with @reopen_data; may be
 * NULL), encrypted there with a key held only in memory (cipherspool.h);
 * without one, or when the plaintext grew past what the file may hold or
 * could not be written, the message is read again from its start through
 * @reopen and decrypted a second time (with the session key the first
 * found: the file must not have changed in between).
 *
 * Otherwise *@streamable_out is FALSE, @status_out is not set, nothing was
 * written to @plain_out and the caller opens the message in memory:
 *   - decided from the outer header alone, nothing is consumed from
 *     @message (it was only peeked), so the caller reads it from @message;
 *   - decided from the decrypted entity (a multipart or a text/plain
 *     without @reopen, a part as above, message/rfc822, no header section, a second part that is not what
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
                                  PstPgpMessageReopen reopen, PstCipherSpoolOpen spool_open,
                                  gpointer reopen_data,
                                  GOutputStream *plain_out, PstStatus **status_out,
                                  gboolean *streamable_out, GError **error);

G_END_DECLS
