/* hp.h — header protection (RFC 9788) for PGP/MIME and S/MIME alike: which
 * header fields travel inside the cryptographic payload, what the outside
 * says, and which header fields a reader is shown.
 *
 * Writing: the payload root (the body entity) carries copies of From, To,
 * Cc, Subject, Date, Message-ID, Reply-To, In-Reply-To and References, and
 * a Content-Type parameter hp="cipher" when encrypted (then the outer
 * Subject is "..." and HP-Outer fields record what the outside says) or
 * hp="clear" when only signed.  Autocrypt-Gossip fields of the input go
 * inside an encryption and never outside.
 *
 * Reading (DESIGN.md §4): the protected fields are read from a layer that
 * is the whole message and either decrypted or signed with a good
 * signature; a bad, failed or partial layer never speaks for the header.
 * They are *shown* in place of the outer header only when a good signature
 * covers the whole message and its signer is the protected From (and the
 * outside has one From).  Otherwise (encryption alone: anyone can encrypt
 * to the reader) the outer header is shown and stored, From, To, Cc and
 * Reply-To included; only the Subject comes from inside; and an address
 * field whose protected value differs is reported as warning
 * "header-mismatch" with both values (PstStatus.header_mismatches).
 * Accepted on input besides RFC 9788: the older draft's "protected-headers"
 * marker and legacy display parts, and a payload root that is
 * message/rfc822; forwarded="no" (the whole message wrapped).
 */
#pragma once

#include <glib.h>
#include "crypto/status.h"
#include "mime/mime.h"

G_BEGIN_DECLS

/* Adds to @fields (raw header fields) a Date (now) and a Message-ID (at
 * the domain of @sender) when they are absent, so that both travel inside
 * the payload and outside. */
void pst_hp_add_missing_fields (GPtrArray *fields, const char *sender);

/* The cryptographic payload root for a message with header @fields and
 * body @body: the body entity (pst_mime_build_entity, @seven_bit passed
 * on) with hp="cipher" (@encrypt) or hp="clear" and the protected fields.
 * Transfer full. */
GBytes *pst_hp_payload (GPtrArray *fields, const char *body, gsize body_len, gboolean encrypt,
                        gboolean seven_bit);

/* The payload root's header section alone (pst_mime_build_entity_head:
 * @body, the scan of the body, when its header depends on it;
 * *@qp_out, whether the body is to be quoted-printable), for a message
 * written as a stream.  Transfer full. */
GBytes *pst_hp_payload_head (GPtrArray *fields, gboolean encrypt, gboolean seven_bit,
                             const PstBodyScan *body, gboolean *qp_out);

/* The outer header section of the message to send, CRLF line ends, ending
 * with "MIME-Version: 1.0" and its line end (no empty line): every field of
 * @fields but Bcc, Resent-Bcc, MIME-Version and the Content-* ones; with
 * @encrypt the Subject says "...".  Transfer full. */
GBytes *pst_hp_outer_header (GPtrArray *fields, gboolean encrypt);

/* The header fields a reader is shown (as copies, transfer full) for
 * @message with outer header @outer_fields whose content to display is
 * *@display (@message itself when nothing was opened), by the rule above.
 * @good_signer: the addresses of a good signature covering the whole
 * message (an empty list for one without addresses), or NULL.  Sets
 * @status->protected_headers when anything came from inside, and records
 * header mismatches in @status.  When the payload wraps a whole message
 * (message/rfc822), *@display is replaced by that message (a new
 * reference; the old one is released). */
GPtrArray *pst_hp_shown_fields (PstStatus *status, const char *const *good_signer,
                                GPtrArray *outer_fields, GBytes *message, GBytes **display);

/* The one From address the signer must be (DESIGN.md §4): the @shown From
 * when @outer_fields and @shown each have exactly one From field with
 * exactly one mailbox and no From mismatch was recorded in @status; else
 * NULL.  Transfer full. */
char *pst_hp_from_address (const PstStatus *status, GPtrArray *outer_fields, GPtrArray *shown);

/* What both readers (pgpmime.c, smimemime.c) do once their layers are
 * opened, so that the header and From rules live in one place: chooses the
 * shown fields (pst_hp_shown_fields, with @sig's addresses when its
 * verdict is good and @sig_covers whole), records @sig's verdict (NULL: no
 * signature layer) against the From (pst_hp_from_address) and Date shown,
 * and returns the message to display (pst_hp_plain_message).
 * @verdict_out (may be NULL) gets the verdict recorded (NONE without
 * @sig).  Transfer full. */
GBytes *pst_hp_finish (PstStatus *status, PstScheme scheme, const PstSignatureFacts *sig,
                       PstCovers sig_covers, GPtrArray *outer_fields, GBytes *message,
                       GBytes *display, PstSigStatus *verdict_out);

/* The message to display: @message itself (a new reference) when
 * @display is @message; else the @shown fields, then the Content-* fields
 * and the body of @display, from which, with @is_protected, the legacy
 * display elements are removed first (in wiped memory).  Transfer full. */
GBytes *pst_hp_plain_message (GPtrArray *shown, GBytes *message, GBytes *display,
                              gboolean is_protected);

G_END_DECLS
