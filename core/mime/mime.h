/* mime.h — RFC 5322 / RFC 2045 messages, parsed with libetpan.
 *
 * The rest of Postern never includes libetpan's headers: it sees a
 * PstMimeMessage and asks it for what it needs.
 */
#pragma once

#include <glib.h>

#include "mime/header.h"

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
/* The addresses of a header section @header (a message, or its fields
 * alone): *@from_out the addr-spec of its one From, or NULL with
 * *@from_problem_out saying why (as pst_mime_message_get_from_address);
 * *@recipients_out as pst_mime_message_get_recipients.  FALSE with @error
 * when @header does not parse.  Transfer full. */
gboolean pst_mime_header_addresses (GBytes *header, char **from_out, char **from_problem_out,
                                    char ***recipients_out, GError **error);
/* The same for the header fields named in @fields (NULL-terminated), e.g.
 * only Bcc. */
char **pst_mime_message_get_addresses (PstMimeMessage *message, const char *const *fields);
/* The same, from the first field of each name only: the one show displays
 * (pst_mime_message_get_header).  A reply goes to whom the user saw, not to
 * a second To or Reply-To a sender hid behind the first. */
char **pst_mime_message_get_shown_addresses (PstMimeMessage *message, const char *const *fields);

/* A display form of header @name (RFC 2047 words decoded to UTF-8, folding
 * removed), or NULL when absent.  Transfer full. */
char *pst_mime_message_get_header (PstMimeMessage *message, const char *name);

/* The text of the message body for display: the first text/plain part that
 * is not an attachment, transfer-decoded and converted to UTF-8 (invalid
 * sequences replaced), line ends made "\n"; NULL when there is none.
 * Transfer full. */
char *pst_mime_message_get_body_text (PstMimeMessage *message);

/* The first part of @type (a lower-case "text/..." type) that is not an
 * attachment, decoded as pst_mime_message_get_body_text does; NULL when
 * there is none.  Transfer full. */
char *pst_mime_message_get_text_part (PstMimeMessage *message, const char *type);

/* File names (or "(unnamed)") and content types of the attachments, as a
 * GPtrArray of char* "name\ttype".  File names are decoded from RFC 2231
 * or RFC 2047, control characters replaced by '_'.  Transfer full. */
GPtrArray *pst_mime_message_get_attachments (PstMimeMessage *message);

/* The decoded content of attachment @index (0-based, in the order of
 * pst_mime_message_get_attachments), at most @max_size bytes.  @name_out
 * and @type_out (each may be NULL) get its file name ("(unnamed)") and
 * content type as that list gives them.  Errors (PST_ERROR_FAILED): no
 * attachment @index, one larger than @max_size, a transfer encoding that
 * cannot be decoded.  Transfer full (all three). */
GBytes *pst_mime_message_get_attachment (PstMimeMessage *message, guint index, gsize max_size,
                                         char **name_out, char **type_out, GError **error);

/* --- Entities: raw access for the crypto layers ----------------------------
 * These work on the bytes of a MIME entity (a message or a body part) and
 * keep them exact, as signatures need. */

/* Parses a Content-Type value.  Returns "type/subtype" in lower case, or
 * NULL when @value cannot be parsed; @params_out (may be NULL) gets the
 * parameters, names in lower case (transfer full).  Transfer full. */
char *pst_mime_parse_content_type (const char *value, GHashTable **params_out);

typedef struct {
  gsize offset;   /* from the start of the multipart body */
  gsize length;
} PstMimeSpan;

/* The body parts of the multipart body @body with @boundary, as a GArray of
 * PstMimeSpan: each part from after its delimiter line to the line end
 * before the next delimiter (RFC 2046 §5.1.1: that line end belongs to the
 * delimiter, so a span is exactly what RFC 3156 signs).  A missing close
 * delimiter is tolerated.  Errors (PST_ERROR_FAILED): no delimiter at all.
 * Transfer full. */
GArray *pst_mime_split_multipart (const char *body, gsize len, const char *boundary,
                                  GError **error);

/* Whether @line (@len bytes, with or without its line end) is the
 * delimiter "--@boundary", or (*@close_out TRUE) the close delimiter
 * "--@boundary--", followed only by white space: the test
 * pst_mime_split_multipart applies, for readers that go line by line. */
gboolean pst_mime_is_delimiter (const char *line, gsize len, const char *boundary,
                                gboolean *close_out);

/* Appends @body (lines ending in CRLF) as quoted-printable (RFC 2045
 * §6.7): lines of at most 76 characters, '=' and bytes outside printable
 * ASCII encoded, and a space or tab before a line end, and "From " at the
 * start of a line (so that no mbox mangles a signed part). */
void pst_mime_qp_encode (GString *out, const char *body, gsize len);

/* Whether @body (CRLF lines) needs quoted-printable to travel as 7bit and
 * survive signing: 8-bit bytes, NUL or bare CR, a line over 998 octets, a
 * space or tab before a line end, "From " at the start of a line. */
gboolean pst_mime_body_needs_qp (const char *body, gsize len);

/* pst_mime_body_needs_qp of pst_mime_to_crlf (body), for a body read in
 * pieces: init, feed every piece in order, then end says it; and whether
 * the body has a byte of 0x80 or more (@eight_bit). */
typedef struct {
  gsize col;            /* bytes in the line so far */
  char head[5];         /* its first bytes */
  char last;            /* its last byte */
  gboolean after_cr;
  gboolean needs;
  gboolean eight_bit;
} PstQpScan;

void pst_mime_qp_scan_init (PstQpScan *scan);
void pst_mime_qp_scan_feed (PstQpScan *scan, const char *data, gsize len);
gboolean pst_mime_qp_scan_end (PstQpScan *scan);

/* A body in transfer encoding @mechanism (libetpan's MAILMIME_MECHANISM_*),
 * decoded; NULL when libetpan cannot.  Every decoding goes through here: it
 * pads the input against libetpan's quoted-printable over-read.  Transfer
 * full. */
GBytes *pst_mime_decode_transfer (const char *data, gsize len, int mechanism);

/* @data with every line end (CR, LF or CRLF) made CRLF.  Transfer full. */
GBytes *pst_mime_to_crlf (const char *data, gsize len);
/* The same of @bytes: @bytes itself (a new reference) when every line end
 * in it is CRLF already, so that a part of a message stays a part of it. */
GBytes *pst_mime_bytes_to_crlf (GBytes *bytes);

/* Whether raw field @field is a Content-* field (ASCII case ignored). */
gboolean pst_mime_is_content_field (const char *field);

/* The first raw field of @fields (may be NULL) named @name, or NULL;
 * @count_out (may be NULL) gets how many there are.  Owned by @fields. */
const char *pst_mime_find_field (GPtrArray *fields, const char *name, guint *count_out);

/* Appends raw field @field to @s, and a CRLF when it has no line end. */
void pst_mime_append_field (GString *s, const char *field);

/* Splits entity @entity (a message or a body part) into its raw header
 * fields (@fields_out, transfer full; empty for a body part with no header
 * field at all) and the offset of its body.  FALSE (and nothing set) when
 * @entity has no header section that pst_mime_split_header accepts. */
gboolean pst_mime_entity_split (GBytes *entity, GPtrArray **fields_out, gsize *body_out);

/* The content type ("type/subtype", lower case) of an entity with header
 * @fields: "text/plain" when there is no readable Content-Type (RFC 2045
 * §5.2).  @params_out (may be NULL) gets the parameters (empty then).
 * Transfer full. */
char *pst_mime_entity_content_type (GPtrArray *fields, GHashTable **params_out);

/* The body part @span of the multipart body that starts at @body_offset in
 * @entity, sharing @entity's memory.  Transfer full. */
GBytes *pst_mime_span_bytes (GBytes *entity, gsize body_offset, const PstMimeSpan *span);

/* The addr-spec of the one mailbox of the one From field among @fields, or
 * NULL when there is no From, several, or several mailboxes in it (the
 * same rule as pst_mime_message_get_from_address).  Transfer full. */
char *pst_mime_single_from (GPtrArray *fields);

/* A display form of raw field @field's value: unfolded, RFC 2047 words
 * decoded, valid UTF-8.  Transfer full. */
char *pst_mime_field_display_value (const char *field);

/* The signature part of multipart/signed @entity (body at @body_offset,
 * parts @spans): the body of its second part when that part exists, is not
 * empty (white space aside) and its Content-Type is one of @types
 * (NULL-terminated, lower case); else NULL, which DESIGN.md §4 makes a
 * signature "error" (a stripped signature).  Transfer full. */
GBytes *pst_mime_signature_part (GBytes *entity, gsize body_offset, GArray *spans,
                                 const char *const *types);

/* Seconds since the epoch of RFC 5322 date-time @value, or 0 when it cannot
 * be read. */
gint64 pst_mime_parse_date (const char *value);

/* The date of the first Date field among @fields (pst_mime_parse_date), or
 * 0 when there is none. */
gint64 pst_mime_fields_date (GPtrArray *fields);

/* A multipart boundary whose delimiter occurs in neither @a nor @b (each may
 * be NULL).  Transfer full. */
char *pst_mime_new_boundary (GBytes *a, GBytes *b);

/* The body entity of a message to protect: the Content-* fields of
 * @fields (a text/plain one made when there is none) and @body, with CRLF
 * line ends.  @ct_param (may be NULL; e.g. "hp=\"cipher\"") is added to the
 * Content-Type; @extra_fields (may be NULL) are appended to the entity's
 * header as they are.  With @seven_bit, a single part that is not 7bit-safe
 * is re-encoded as quoted-printable (RFC 3156 §3, RFC 8551 §3.1.1).
 * Transfer full. */
GBytes *pst_mime_build_entity (GPtrArray *fields, const char *body, gsize body_len,
                               gboolean seven_bit, const char *ct_param, GPtrArray *extra_fields);

/* What a scan of a body (PstQpScan) found: what the header of the entity
 * pst_mime_build_entity makes depends on. */
typedef struct {
  gboolean eight_bit;   /* a byte of 0x80 or more */
  gboolean needs_qp;    /* pst_mime_body_needs_qp */
} PstBodyScan;

/* Whether pst_mime_build_entity's header for @fields depends on the
 * body's bytes (with @seven_bit as it is given): when @fields name no
 * Content-Type or no Content-Transfer-Encoding (charset, 8bit), and with
 * @seven_bit for a single part declared 7bit, 8bit or binary
 * (quoted-printable). */
gboolean pst_mime_entity_head_needs_body (GPtrArray *fields, gboolean seven_bit);

/* The header section (with its empty line) pst_mime_build_entity writes
 * for @fields and a body that @body (may be NULL when
 * pst_mime_entity_head_needs_body says no) describes; *@qp_out: whether
 * the body is to be quoted-printable, which the caller then encodes as it
 * passes (converters.h PstQpConverter).  For messages written as streams.
 * Transfer full. */
GBytes *pst_mime_build_entity_head (GPtrArray *fields, gboolean seven_bit, const PstBodyScan *body,
                                    const char *ct_param, GPtrArray *extra_fields,
                                    gboolean *qp_out);

G_END_DECLS
