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

      if (l->seen < want)
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

static int
base64_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes @len bytes of a base64 or quoted-printable body into
 * scan_lines.  Only what every decoder reads alike is decoded: base64's
 * alphabet, white space, and padding at the end; quoted-printable's "="
 * and two hexadecimal digits, and "=" ending a line.  Anything else (a
 * character outside the alphabet, data after padding, "=" followed by
 * something else, white space before a soft line break included) leaves
 * the text to the in-memory reader.  A quoted-printable CR alone ends a
 * line, as LF alone and CR LF do: libetpan makes each CR LF.  The last
 * base64 bits that make no
 * whole byte are not looked at: they would end the text, and a block
 * begun there would have no end line, which pgpinline.c needs. */
static void
decode_and_scan (PstInlineScan *self, const char *data, gsize len)
{
  char out[4096];
  gsize o = 0;

  for (gsize i = 0; i < len && !self->found; i++)
    {
      char c = data[i];

      if (self->coding == PST_INLINE_SCAN_BASE64)
        {
          int v = base64_value (c);

          if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
          if (c == '=')
            {
              self->padded = TRUE;
              continue;
            }
          if (v < 0 || self->padded)
            {
              undecodable (self);
              break;
            }
          self->acc = (self->acc << 6) | (guint) v;
          self->bits += 6;
          if (self->bits >= 8)
            {
              self->bits -= 8;
              out[o++] = (char) ((self->acc >> self->bits) & 0xff);
            }
        }
      else
        {
          int hex = g_ascii_xdigit_value (c);

          if (self->state == 4)
            {
              /* After CR: libetpan ends a line at a CR alone too. */
              self->state = 0;
              if (c == '\n')
                continue;
            }
          switch (self->state)
            {
            case 0:   /* text */
              if (c == '=')
                self->state = 1;
              else if (c == '\r')
                {
                  /* A line's end, CR LF, as libetpan gives it for CR,
                   * LF and CR LF. */
                  out[o++] = '\r';
                  if (o == sizeof out)
                    {
                      scan_lines (self, out, o);
                      o = 0;
                    }
                  out[o++] = '\n';
                  self->state = 4;
                }
              else
                out[o++] = c;
              break;
            case 1:   /* after "=" */
              if (hex >= 0)
                {
                  self->acc = (guint) hex;
                  self->state = 2;
                }
              else if (c == '\r')
                self->state = 3;
              else if (c == '\n')
                self->state = 0;   /* a soft line break */
              else
                undecodable (self);
              break;
            case 2:   /* after "=" and a digit */
              if (hex < 0)
                {
                  undecodable (self);
                  break;
                }
              out[o++] = (char) ((self->acc << 4) | (guint) hex);
              self->state = 0;
              break;
            default:  /* after "=" and CR */
              if (c != '\n')
                undecodable (self);
              self->state = 0;
              break;
            }
        }
      if (o == sizeof out)
        {
          scan_lines (self, out, o);
          o = 0;
        }
    }
  if (!self->found)
    scan_lines (self, out, o);
  explicit_bzero (out, sizeof out);
}

void
pst_inline_scan_init (PstInlineScan *scan, PstInlineScanCoding coding)
{
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
