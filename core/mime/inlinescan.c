/* inlinescan.c — see inlinescan.h.  Written here rather than taken from
 * libetpan: its decoder (mailmime_part_parse) takes a whole buffer, and
 * GIO's converters have no quoted-printable decoder; only the start of each
 * decoded line is looked at, so nothing decoded is kept. */
#include "mime/inlinescan.h"

#include <string.h>

#include "mime/mime.h"

/* The start of an inline OpenPGP block, as pgpinline.c looks for them
 * (both begin with it), at the start of a line. */
#define INLINE_MARKER "-----BEGIN PGP"

/* Whether a line of @data (following what @l saw) begins an inline
 * block: only the first bytes of each line are looked at. */
static gboolean
lines_feed (PstInlineLines *l, const char *data, gsize len)
{
  const gsize want = strlen (INLINE_MARKER);
  gsize i = 0;

  while (i < len)
    {
      const char *nl;

      if (l->seen == 0 && data[i] != '-')
        l->seen = (guint) want;   /* not the marker: skip to the line's end */
      else if (l->seen < want)
        {
          gsize n = MIN (want - l->seen, len - i);
          const char *stop = memchr (data + i, '\n', n);

          if (stop != NULL)
            n = (gsize) (stop - (data + i));
          memcpy (l->head + l->seen, data + i, n);
          l->seen += n;
          i += n;
          if (l->seen == want && memcmp (l->head, INLINE_MARKER, want) == 0)
            return TRUE;
          if (stop == NULL)
            continue;
        }
      /* The rest of this line, to the start of the next. */
      if ((nl = memchr (data + i, '\n', len - i)) == NULL)
        {
          /* Within the marker's length: looked at above.  Past it: skip. */
          l->seen = MAX (l->seen, (guint) want);
          return FALSE;
        }
      i = (gsize) (nl - data) + 1;
      l->seen = 0;
    }
  return FALSE;
}

/* Decoded body bytes looked at for a line that begins an inline block. */
static void
scan_lines (PstInlineScan *self, const char *data, gsize len)
{
  if (lines_feed (&self->lines, data, len))
    self->found = TRUE;
}

/* A body not decoded here as pgpinline.c's decoder (libetpan's) surely
 * would: left to the in-memory reader, as if it held a block. */
static void
undecodable (PstInlineScan *self)
{
  self->found = TRUE;
}

/* Base64's value of each byte: 0-63, or one of these. */
enum { B64_SPACE = 64, B64_PAD, B64_OTHER };

static guint8 base64_table[256];

static void
base64_table_init (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

      memset (base64_table, B64_OTHER, sizeof base64_table);
      for (guint i = 0; i < 64; i++)
        base64_table[(guchar) alphabet[i]] = (guint8) i;
      base64_table[' '] = base64_table['\t'] = base64_table['\r'] = base64_table['\n'] = B64_SPACE;
      base64_table['='] = B64_PAD;
      g_once_init_leave (&done, 1);
    }
}

/* The decoders below write into a buffer of this size, looked at when
 * full and at the end of each call. */
typedef struct {
  PstInlineScan *scan;
  gsize o;
  char out[4096];
} Decoded;

/* Whether the scan may go on after the buffer, when full, was looked at. */
static inline gboolean
decoded_full (Decoded *d)
{
  if (d->o < sizeof d->out)
    return TRUE;
  scan_lines (d->scan, d->out, d->o);
  d->o = 0;
  return !d->scan->found;
}

static inline gboolean
decoded_put (Decoded *d, char c)
{
  d->out[d->o++] = c;
  return decoded_full (d);
}

/* Only what every decoder reads alike is decoded, here and in decode_qp:
 * base64's alphabet, white space, and padding at the end.  Anything else
 * (a character outside the alphabet, data after padding) leaves the text
 * to the in-memory reader.  The last bits that make no whole byte are not
 * looked at: they would end the text, and a block begun there would have
 * no end line, which pgpinline.c needs.  The state is kept in locals, the
 * buffer being char (which may alias the scan). */
static void
decode_base64 (PstInlineScan *self, Decoded *d, const char *data, gsize len)
{
  guint acc = self->acc, bits = self->bits;
  gboolean padded = self->padded;

  for (gsize i = 0; i < len; i++)
    {
      guint v = base64_table[(guchar) data[i]];

      if (G_LIKELY (v < 64 && !padded))
        {
          acc = (acc << 6) | v;
          bits += 6;
          if (bits >= 8)
            {
              bits -= 8;
              if (!decoded_put (d, (char) ((acc >> bits) & 0xff)))
                break;
            }
          continue;
        }
      if (v == B64_SPACE)
        continue;
      if (v == B64_PAD)
        {
          padded = TRUE;
          continue;
        }
      undecodable (self);
      break;
    }
  self->acc = acc & 0xff;
  self->bits = bits;
  self->padded = padded;
}

/* Quoted-printable's "=" and two hexadecimal digits, and "=" ending a
 * line; anything else after "=" (white space before a soft line break
 * included) leaves the text to the in-memory reader.  A CR alone ends a
 * line, as LF alone and CR LF do: libetpan makes each CR LF. */
static void
decode_qp (PstInlineScan *self, Decoded *d, const char *data, gsize len)
{
  guint acc = self->acc;
  int state = self->state;   /* 0 text, 1 after "=", 2 after "=" and a digit,
                              * 3 after "=" and CR, 4 after CR */

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];
      int hex;

      if (state == 4)
        {
          /* After CR: libetpan ends a line at a CR alone too. */
          state = 0;
          if (c == '\n')
            continue;
        }
      switch (state)
        {
        case 0:   /* text: a run of plain bytes copied at once */
          {
            gsize room = sizeof d->out - d->o, n = 0;

            while (n < len - i && n < room && data[i + n] != '=' && data[i + n] != '\r')
              n++;
            if (n > 0)
              {
                memcpy (d->out + d->o, data + i, n);
                d->o += n;
                i += n - 1;
                if (!decoded_full (d))
                  goto out;
                continue;
              }
          }
          if (c == '=')
            state = 1;
          else
            {
              /* CR: a line's end, CR LF, as libetpan gives it for CR, LF
               * and CR LF. */
              if (!decoded_put (d, '\r') || !decoded_put (d, '\n'))
                goto out;
              state = 4;
            }
          break;
        case 1:   /* after "=" */
          if ((hex = g_ascii_xdigit_value (c)) >= 0)
            {
              acc = (guint) hex;
              state = 2;
            }
          else if (c == '\r')
            state = 3;
          else if (c == '\n')
            state = 0;   /* a soft line break */
          else
            {
              undecodable (self);
              goto out;
            }
          break;
        case 2:   /* after "=" and a digit */
          if ((hex = g_ascii_xdigit_value (c)) < 0)
            {
              undecodable (self);
              goto out;
            }
          state = 0;
          if (!decoded_put (d, (char) ((acc << 4) | (guint) hex)))
            goto out;
          break;
        default:  /* after "=" and CR */
          if (c != '\n')
            {
              undecodable (self);
              goto out;
            }
          state = 0;
          break;
        }
    }
out:
  self->acc = acc;
  self->state = state;
}

/* Decodes @len bytes of a base64 or quoted-printable body into
 * scan_lines. */
static void
decode_and_scan (PstInlineScan *self, const char *data, gsize len)
{
  Decoded d = { .scan = self, .o = 0 };

  if (self->coding == PST_INLINE_SCAN_BASE64)
    decode_base64 (self, &d, data, len);
  else
    decode_qp (self, &d, data, len);
  if (!self->found)
    scan_lines (self, d.out, d.o);
  explicit_bzero (d.out, sizeof d.out);
}

void
pst_inline_scan_init (PstInlineScan *scan, PstInlineScanCoding coding)
{
  base64_table_init ();
  memset (scan, 0, sizeof *scan);
  scan->active = TRUE;
  scan->coding = coding;
}

PstInlineScanCoding
pst_inline_scan_coding (GPtrArray *fields)
{
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], "Content-Transfer-Encoding"))
      {
        g_autofree char *v = pst_mime_field_value (fields->pdata[i]);

        if (g_ascii_strcasecmp (v, "base64") == 0)
          return PST_INLINE_SCAN_BASE64;
        if (g_ascii_strcasecmp (v, "quoted-printable") == 0)
          return PST_INLINE_SCAN_QP;
      }
  return PST_INLINE_SCAN_AS_IS;
}

void
pst_inline_scan_feed (PstInlineScan *scan, const char *data, gsize len)
{
  if (!scan->active || scan->found)
    return;
  if (scan->coding == PST_INLINE_SCAN_QP && lines_feed (&scan->raw_lines, data, len))
    {
      scan->found = TRUE;
      return;
    }
  if (scan->coding == PST_INLINE_SCAN_AS_IS)
    scan_lines (scan, data, len);
  else
    decode_and_scan (scan, data, len);
}

void
pst_inline_scan_clear (PstInlineScan *scan)
{
  explicit_bzero (scan, sizeof *scan);
}
