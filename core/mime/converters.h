/* converters.h — GConverters for messages written as streams (pgpstream.c,
 * smimestream.c): line ends made CRLF, quoted-printable, and base64 in lines. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* pst_mime_to_crlf as a GConverter (CR, LF and CRLF each become CRLF),
 * after an optional @prefix (may be NULL) given out unchanged. */
#define PST_TYPE_CRLF_CONVERTER (pst_crlf_converter_get_type ())
G_DECLARE_FINAL_TYPE (PstCrlfConverter, pst_crlf_converter, PST, CRLF_CONVERTER, GObject)

/* Transfer full. */
PstCrlfConverter *pst_crlf_converter_new (GBytes *prefix);
/* The last byte given out, or 0. */
char pst_crlf_converter_last (PstCrlfConverter *converter);

/* pst_mime_qp_encode as a GConverter, after an optional @prefix (may be
 * NULL) given out unchanged: its input has CRLF line ends (a
 * PstCrlfConverter's output), and its output is byte for byte what
 * pst_mime_qp_encode gives for the whole input. */
#define PST_TYPE_QP_CONVERTER (pst_qp_converter_get_type ())
G_DECLARE_FINAL_TYPE (PstQpConverter, pst_qp_converter, PST, QP_CONVERTER, GObject)

/* Transfer full. */
PstQpConverter *pst_qp_converter_new (GBytes *prefix);

/* Base64 as smimemime.c writes it (g_base64_encode in lines of 76
 * characters, each ending in CRLF, the last one shorter) as a GConverter;
 * nothing for no input. */
#define PST_TYPE_BASE64_CONVERTER (pst_base64_converter_get_type ())
G_DECLARE_FINAL_TYPE (PstBase64Converter, pst_base64_converter, PST, BASE64_CONVERTER, GObject)

/* Transfer full. */
PstBase64Converter *pst_base64_converter_new (void);

/* g_base64_decode_step as a GConverter: what is not base64 (line ends)
 * is skipped, and a NUL ends the text (what follows it is read and
 * dropped), as g_base64_decode of a C string has it (smimemime.c). */
#define PST_TYPE_BASE64_DECODE_CONVERTER (pst_base64_decode_converter_get_type ())
G_DECLARE_FINAL_TYPE (PstBase64DecodeConverter, pst_base64_decode_converter, PST,
                      BASE64_DECODE_CONVERTER, GObject)

/* Transfer full. */
PstBase64DecodeConverter *pst_base64_decode_converter_new (void);

G_END_DECLS
