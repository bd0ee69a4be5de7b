/* mime.h — RFC 5322 / RFC 2045 messages, parsed with libetpan.
 *
 * The rest of Postern never includes libetpan's headers: it sees a
 * PstMimeMessage and asks it for what it needs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PstMimeMessage PstMimeMessage;

/* Parses @data (an RFC 5322 message).  The message keeps a reference to
 * @data.  Errors (PST_ERROR_FAILED): not a message (no header section, no
 * header field at all, a header line that is not a field). Transfer full. */
PstMimeMessage *pst_mime_message_parse (GBytes *data, GError **error);
void pst_mime_message_free (PstMimeMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstMimeMessage, pst_mime_message_free)

/* The addr-spec of the one From mailbox.  Errors (PST_ERROR_FAILED): no From
 * header, several From headers or several mailboxes in it.  Transfer full. */
char *pst_mime_message_get_from_address (PstMimeMessage *message, GError **error);

/* The addr-specs of To, Cc and Bcc, in order, without duplicates
 * (NULL-terminated; transfer full; may be empty). */
char **pst_mime_message_get_recipients (PstMimeMessage *message);

/* A display form of header @name (RFC 2047 words decoded to UTF-8, folding
 * removed), or NULL when absent.  Transfer full. */
char *pst_mime_message_get_header (PstMimeMessage *message, const char *name);

/* The text of the message body for display: the first text/plain part that
 * is not an attachment, transfer-decoded and converted to UTF-8; NULL when
 * there is none.  Transfer full. */
char *pst_mime_message_get_body_text (PstMimeMessage *message);

/* File names (or "(unnamed)") and content types of the attachments, as a
 * GPtrArray of char* "name\ttype".  Transfer full. */
GPtrArray *pst_mime_message_get_attachments (PstMimeMessage *message);

G_END_DECLS
