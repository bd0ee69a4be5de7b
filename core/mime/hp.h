/* hp.h — header protection (RFC 9788) for PGP/MIME and S/MIME alike: which
 * header fields travel inside the cryptographic payload, what the outside
 * says, and which header fields a reader is shown.
 *
 * Writing: the payload root (the body entity) carries copies of From, To,
 * Cc, Subject, Date, Message-ID, Reply-To, In-Reply-To and References, and
 * a Content-Type parameter hp="cipher" when encrypted (then the outer
 * Subject is "..." and HP-Outer fields record what the outside says) or
 * hp="clear" when only signed.
 *
 * Reading: the protected fields are shown only when the layer that carries
 * them is the whole message and either decrypted or signed with a good
 * signature (the caller says so); a bad, failed or partial layer never
 * overrides the outer header.  The older draft's "protected-headers" marker
 * and legacy display parts are accepted on input.
 */
#pragma once

#include <glib.h>
#include "crypto/status.h"

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

/* The outer header section of the message to send, CRLF line ends, ending
 * with "MIME-Version: 1.0" and its line end (no empty line): every field of
 * @fields but Bcc, Resent-Bcc, MIME-Version and the Content-* ones; with
 * @encrypt the Subject says "...".  Transfer full. */
GBytes *pst_hp_outer_header (GPtrArray *fields, gboolean encrypt);

/* The header fields a reader is shown (as copies, transfer full) for
 * @message with outer header @outer_fields whose content to display is
 * @display (@message itself when nothing was opened).  The protected
 * fields are shown, and @status->protected_headers set, only when @display
 * is marked for header protection and comes from a whole decryption
 * (@status says so) or a whole good signature (@good_whole_signature): a
 * failed, bad or partial layer never speaks for the header.  Then RFC 9788
 * protection shows those fields and the outer trace fields; the older
 * draft's shows them in place of the outer fields of the same names.
 * Otherwise the outer fields but Content-*. */
GPtrArray *pst_hp_shown_fields (PstStatus *status, gboolean good_whole_signature,
                                GPtrArray *outer_fields, GBytes *message, GBytes *display);

/* The message to display: @message itself (a new reference) when
 * @display is @message; else the @shown fields, then the Content-* fields
 * and the body of @display, from which, with @is_protected, the legacy
 * display elements are removed first (in wiped memory).  Transfer full. */
GBytes *pst_hp_plain_message (GPtrArray *shown, GBytes *message, GBytes *display,
                              gboolean is_protected);

G_END_DECLS
