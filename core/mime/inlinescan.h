/* inlinescan.h — whether a text part holds what the in-memory reader
 * opens as inline OpenPGP (pgpinline.c: the body decoded by libetpan as its
 * Content-Transfer-Encoding says, then a line that begins a block looked
 * for), found from its body as it passes, in pieces of any size, without
 * keeping it (opensink.h, smimeread.h); a quoted-printable text is also
 * looked at as it came, as the reader without OpenPGP looks at it
 * (pgpmime.c open_inline: the raw body), since a soft line break can join
 * a marker line to the one before.  It errs one way only: it may say
 * found where that reader finds no block (a line that begins with
 * "-----BEGIN PGP" and no end line, or an encoding not every decoder reads
 * alike), never the other way; the caller then leaves the text to that
 * reader.  tests/fuzz/fuzz-opensink.c checks this against libetpan. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How a body is decoded to be looked at. */
typedef enum {
  PST_INLINE_SCAN_AS_IS,
  PST_INLINE_SCAN_BASE64,
  PST_INLINE_SCAN_QP,
} PstInlineScanCoding;

/* The start of the current line, looked at up to the marker's length. */
typedef struct {
  guint seen;
  char head[16];
} PstInlineLines;

/* The fields are the scan's own. */
typedef struct {
  gboolean active;          /* pst_inline_scan_init: fed; a scan all zero ignores what it is fed */
  PstInlineScanCoding coding;
  gboolean found;           /* a line begins an inline block, or the body is not decoded here */
  guint acc;                /* the decoder's bits (base64) or first digit (quoted-printable) */
  guint bits;
  gboolean padded;          /* base64: "=" seen */
  int state;                /* quoted-printable: 0 text, 1 after "=", 2 after "=" and a digit,
                             * 3 after "=" and CR, 4 after CR */
  PstInlineLines lines;     /* of the decoded text */
  PstInlineLines raw_lines; /* quoted-printable: of the text as it came */
} PstInlineScan;

void pst_inline_scan_init (PstInlineScan *scan, PstInlineScanCoding coding);
/* How pgpinline.c decodes the body of an entity with @fields: the first
 * Content-Transfer-Encoding that says base64 or quoted-printable. */
PstInlineScanCoding pst_inline_scan_coding (GPtrArray *fields);
/* The next @len bytes of the body; scan->found once it is known. */
void pst_inline_scan_feed (PstInlineScan *scan, const char *data, gsize len);
/* Wipes what it holds of the text. */
void pst_inline_scan_clear (PstInlineScan *scan);

G_END_DECLS
