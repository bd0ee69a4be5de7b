/* compose.h — a new message from what a composer holds: sender,
 * recipients, Subject, text and attachments, written as the RFC 5322 /
 * MIME message that `send` takes (which then protects it: nothing here
 * encrypts or signs).
 *
 * The message: Date (now), Message-ID (random, at the From domain),
 * MIME-Version, From, To, Cc, Bcc (send gives each Bcc recipient a copy of
 * their own and removes the field from the others'), Subject (RFC 2047
 * when it is not plain ASCII), In-Reply-To and References when answering
 * (References: the given ones, then the one answered), References alone
 * when forwarding; a text/plain; charset=utf-8 body (quoted-printable when
 * 7bit would not do), or multipart/mixed with the text first, then a
 * forwarded message as message/rfc822 (7bit, 8bit or binary, as its bytes
 * are: never base64, RFC 2046 §5.2.1), then each attachment in base64 with
 * a Content-Disposition (RFC 2231 file names when not plain ASCII).  CRLF line ends, header lines folded at 78 columns, no line
 * longer than 998 octets.
 */
#pragma once

#include <glib.h>

#include "mime/compose-header.h"

G_BEGIN_DECLS

typedef struct {
  const char *filename;      /* UTF-8, shown to the recipient; NULL: none */
  const char *content_type;  /* "type/subtype" (parameters allowed), or NULL: guessed from
                              * the name and the bytes, else application/octet-stream */
  GBytes *data;              /* the content, any bytes */
} PstComposeAttachment;

typedef struct {
  const char *from;                /* the sender: "addr@domain" (or "Name <addr@domain>") */
  const char *from_name;           /* the sender's display name (UTF-8), or NULL */
  const char *const *to;           /* "addr" or "Display Name <addr>", NULL-terminated; may be NULL */
  const char *const *cc;           /* the same */
  const char *const *bcc;          /* the same */
  const char *subject;             /* UTF-8, or NULL: none */
  const char *body;                /* UTF-8 text, any line ends, or NULL: empty */
  const PstComposeAttachment *attachments;  /* @n_attachments of them (may be NULL when 0) */
  guint n_attachments;
  const char *in_reply_to;         /* the Message-ID answered, "<id@host>" or "id@host", or NULL */
  const char *references;          /* Message-IDs "<a@h> <b@h>…" the References start with
                                    * (the answered message's References), or NULL */
  GBytes *forward;                 /* a message (RFC 5322) attached as message/rfc822, or NULL */
} PstComposeFields;

/* Writes the message of @fields.  Nothing in @fields is kept.  Errors
 * (PST_ERROR_USAGE, naming the field): a CR or LF in a header input (From,
 * a display name, To, Cc, Bcc, Subject, a file name, a content type,
 * In-Reply-To: header injection), an address that does not parse or holds
 * several, a From with no address, text that is not UTF-8, a content type
 * that does not parse, an In-Reply-To that is no Message-ID, References
 * that hold anything but Message-IDs.  Transfer
 * full. */
GBytes *pst_compose_message (const PstComposeFields *fields, GError **error);

/* The header field "NAME: Display Name <addr>" (CRLF at its end, folded,
 * the display name an RFC 2047 word when it is not plain ASCII) for
 * mailbox @addr ("addr" or "Name <addr>") with display name @display (NULL:
 * @addr's own, if any).  Errors as pst_compose_message's for From.
 * Transfer full. */
char *pst_compose_mailbox_field (const char *name, const char *addr, const char *display,
                                 GError **error);

G_END_DECLS
