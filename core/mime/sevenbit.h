/* sevenbit.h — 8-bit content for servers without 8BITMIME (see sevenbit.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @message with every 8-bit leaf part re-encoded (text: quoted-printable,
 * others: base64; pst_mime_7bit_leaf_header says what its header gets);
 * the rest is kept byte for byte.  Errors
 * (PST_ERROR_FAILED): 8-bit bytes in a header (that needs SMTPUTF8), in a
 * signed or encrypted entity (re-encoding would break it), or in a part
 * that claims base64 or quoted-printable.  Transfer full. */
GBytes *pst_mime_to_7bit (GBytes *message, GError **error);

/* Whether @data has any byte >= 0x80; *@header_8bit_out (may be NULL):
 * whether its header section has. */
gboolean pst_mime_has_8bit (GBytes *data, gboolean *header_8bit_out);

/* What pst_mime_to_7bit and its streamed form (sevenbit-stream.h) share. */
#define PST_MIME_7BIT_MAX_DEPTH 32
/* The refusal of a header section with 8-bit bytes. */
#define PST_MIME_7BIT_HEADER_REFUSAL \
  "a header holds 8-bit bytes (UTF-8 headers need a server with SMTPUTF8)"
/* Whether re-encoding an entity of (lower-case) @type would break it: a
 * signature's or an encryption's. */
gboolean pst_mime_7bit_sealed_type (const char *type);
/* Why a leaf with 8-bit bytes, of header @fields and (lower-case) @type,
 * cannot be re-encoded (its transfer encoding says it is 7-bit already), or
 * NULL.  Transfer full. */
char *pst_mime_7bit_leaf_refusal (GPtrArray *fields, const char *type);
/* The header of a re-encoded leaf: @fields but its transfer encoding;
 * MIME-Version if the leaf is the message (@top) and has none; a
 * Content-Type if it has none (text/plain, and the charset utf-8 if its
 * body is UTF-8, @utf8, else unknown-8bit, RFC 1428); the transfer
 * encoding, quoted-printable's (@text) or base64's; the empty line. */
void pst_mime_7bit_leaf_header (GPtrArray *fields, gboolean text, gboolean top, gboolean utf8,
                                GString *out);

G_END_DECLS
