/* sevenbit.h — 8-bit content for servers without 8BITMIME (see sevenbit.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @message with every 8-bit leaf part re-encoded (text: quoted-printable,
 * others: base64); the rest is kept byte for byte.  Errors
 * (PST_ERROR_FAILED): 8-bit bytes in a header (that needs SMTPUTF8), in a
 * signed or encrypted entity (re-encoding would break it), or in a part
 * that claims base64 or quoted-printable.  Transfer full. */
GBytes *pst_mime_to_7bit (GBytes *message, GError **error);

/* Whether @data has any byte >= 0x80; *@header_8bit_out (may be NULL):
 * whether its header section has. */
gboolean pst_mime_has_8bit (GBytes *data, gboolean *header_8bit_out);

G_END_DECLS
