/* converters.c — see converters.h. */
#include "mime/converters.h"

#include <string.h>

/* --- A prefix given out first --------------------------------------------------- */

typedef struct {
  GBytes *bytes;   /* what is left to give out, or NULL */
  gsize done;
} Prefix;

static void
prefix_init (Prefix *p, GBytes *bytes)
{
  p->bytes = bytes != NULL && g_bytes_get_size (bytes) > 0 ? g_bytes_ref (bytes) : NULL;
  p->done = 0;
}

/* Copies what is left of @p to @out (at most @size bytes); the count. */
static gsize
prefix_copy (Prefix *p, char *out, gsize size)
{
  gsize len = 0, n;
  const char *data;

  if (p->bytes == NULL)
    return 0;
  data = g_bytes_get_data (p->bytes, &len);
  n = MIN (len - p->done, size);
  memcpy (out, data + p->done, n);
  p->done += n;
  if (p->done == len)
    g_clear_pointer (&p->bytes, g_bytes_unref);
  return n;
}

/* --- CRLF on the fly ---------------------------------------------------------- */

struct _PstCrlfConverter {
  GObject parent;
  Prefix prefix;
  gboolean after_cr;
  char last;          /* the last byte given out, or 0 */
};

static void pst_crlf_converter_iface_init (GConverterIface *iface);

G_DEFINE_TYPE_WITH_CODE (PstCrlfConverter, pst_crlf_converter, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_CONVERTER, pst_crlf_converter_iface_init))

static GConverterResult
crlf_convert (GConverter *converter, const void *inbuf, gsize inbuf_size, void *outbuf,
              gsize outbuf_size, GConverterFlags flags, gsize *bytes_read, gsize *bytes_written,
              GError **error)
{
  PstCrlfConverter *self = PST_CRLF_CONVERTER (converter);
  const char *in = inbuf;
  char *out = outbuf;
  gsize i = 0, o = 0;

  o = prefix_copy (&self->prefix, out, outbuf_size);
  if (o > 0)
    self->last = out[o - 1];
  while (self->prefix.bytes == NULL && i < inbuf_size)
    {
      char c = in[i];

      if (c != '\r' && c != '\n')
        {
          /* The bytes up to the next line end, at once: two memchr over
           * the line instead of a test and a store for each byte (a tenth
           * of the agent's CPU when it encrypted a large text). */
          gsize n = MIN (inbuf_size - i, outbuf_size - o);
          const char *lf, *cr;

          if (n == 0)
            break;
          if ((lf = memchr (in + i, '\n', n)) != NULL)
            n = (gsize) (lf - (in + i));
          if ((cr = memchr (in + i, '\r', n)) != NULL)
            n = (gsize) (cr - (in + i));
          memcpy (out + o, in + i, n);
          o += n;
          i += n;
          self->after_cr = FALSE;
          self->last = out[o - 1];
          continue;
        }
      if (c == '\n' && self->after_cr)
        {
          self->after_cr = FALSE;
          i++;
          continue;
        }
      if (c == '\r' || c == '\n')
        {
          if (outbuf_size - o < 2)
            break;
          out[o++] = '\r';
          out[o++] = '\n';
        }
      else
        {
          if (outbuf_size - o < 1)
            break;
          out[o++] = c;
        }
      self->after_cr = c == '\r';
      self->last = out[o - 1];
      i++;
    }
  if (i == 0 && o == 0 && (inbuf_size > 0 || self->prefix.bytes != NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "no space");
      return G_CONVERTER_ERROR;
    }
  *bytes_read = i;
  *bytes_written = o;
  if (self->prefix.bytes == NULL && i == inbuf_size && (flags & G_CONVERTER_INPUT_AT_END))
    return G_CONVERTER_FINISHED;
  if (self->prefix.bytes == NULL && i == inbuf_size && (flags & G_CONVERTER_FLUSH))
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
crlf_reset (GConverter *converter)
{
  PstCrlfConverter *self = PST_CRLF_CONVERTER (converter);

  self->after_cr = FALSE;
}

static void
pst_crlf_converter_iface_init (GConverterIface *iface)
{
  iface->convert = crlf_convert;
  iface->reset = crlf_reset;
}

static void
pst_crlf_converter_finalize (GObject *object)
{
  PstCrlfConverter *self = PST_CRLF_CONVERTER (object);

  g_clear_pointer (&self->prefix.bytes, g_bytes_unref);
  G_OBJECT_CLASS (pst_crlf_converter_parent_class)->finalize (object);
}

static void
pst_crlf_converter_class_init (PstCrlfConverterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_crlf_converter_finalize;
}

static void
pst_crlf_converter_init (PstCrlfConverter *self)
{
  (void) self;
}

PstCrlfConverter *
pst_crlf_converter_new (GBytes *prefix)
{
  PstCrlfConverter *c = g_object_new (PST_TYPE_CRLF_CONVERTER, NULL);

  prefix_init (&c->prefix, prefix);
  return c;
}

char
pst_crlf_converter_last (PstCrlfConverter *converter)
{
  return converter->last;
}

/* --- Quoted-printable on the fly ------------------------------------------------ */

/* pst_mime_qp_encode needs to know, for a space or a tab, whether the line
 * ends after it, and for an 'F' at a line's start, whether "From " follows:
 * so a space or tab is held until the next byte, and a line's first bytes
 * until they are not "From " or are. */
#define QP_LINE 75      /* characters before a soft line break */
#define QP_ROOM 64      /* output one input byte can give, at most */

struct _PstQpConverter {
  GObject parent;
  Prefix prefix;
  gsize col;          /* characters on the output line */
  char start[5];      /* the line's first bytes while "From " is possible */
  gsize start_len;
  gboolean decided;   /* the line's start was written */
  char ws;            /* a space or tab held, or 0 */
  gboolean cr;        /* a CR held: a line end if LF follows */
  gboolean ended;
};

static void pst_qp_converter_iface_init (GConverterIface *iface);

G_DEFINE_TYPE_WITH_CODE (PstQpConverter, pst_qp_converter, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_CONVERTER, pst_qp_converter_iface_init))

static inline gboolean
qp_plain (guchar c)
{
  return c > 32 && c < 127 && c != '=';
}

static void
qp_put (PstQpConverter *self, char *out, gsize *o, const char *enc, gsize n)
{
  if (self->col + n > QP_LINE)
    {
      memcpy (out + *o, "=\r\n", 3);
      *o += 3;
      self->col = 0;
    }
  memcpy (out + *o, enc, n);
  *o += n;
  self->col += n;
}

static void
qp_put_encoded (PstQpConverter *self, char *out, gsize *o, guchar c)
{
  static const char hex[] = "0123456789ABCDEF";
  char enc[3] = { '=', hex[c >> 4], hex[c & 15] };

  qp_put (self, out, o, enc, 3);
}

/* A byte of the line that is not its last (a space or tab is held). */
static void
qp_data (PstQpConverter *self, char *out, gsize *o, guchar c, gboolean force)
{
  if (self->ws != 0)
    {
      qp_put (self, out, o, &self->ws, 1);
      self->ws = 0;
    }
  if ((c == ' ' || c == '\t') && !force)
    self->ws = (char) c;
  else if (qp_plain (c) && !force)
    qp_put (self, out, o, (const char *) &c, 1);
  else
    qp_put_encoded (self, out, o, c);
}

static void
qp_decide (PstQpConverter *self, char *out, gsize *o, gboolean from)
{
  self->decided = TRUE;
  for (gsize k = 0; k < self->start_len; k++)
    qp_data (self, out, o, (guchar) self->start[k], k == 0 && from);
  self->start_len = 0;
}

static void
qp_byte (PstQpConverter *self, char *out, gsize *o, guchar c)
{
  if (self->decided)
    {
      qp_data (self, out, o, c, FALSE);
      return;
    }
  self->start[self->start_len++] = (char) c;
  if (memcmp (self->start, "From ", self->start_len) != 0)
    qp_decide (self, out, o, FALSE);
  else if (self->start_len == sizeof self->start)
    qp_decide (self, out, o, TRUE);
}

/* The line ends (@newline: with CRLF; else the input's end). */
static void
qp_line_end (PstQpConverter *self, char *out, gsize *o, gboolean newline)
{
  if (!self->decided)
    qp_decide (self, out, o, FALSE);
  if (self->ws != 0)
    qp_put_encoded (self, out, o, (guchar) self->ws);
  self->ws = 0;
  if (newline)
    {
      memcpy (out + *o, "\r\n", 2);
      *o += 2;
    }
  self->col = 0;
  self->decided = FALSE;
}

static GConverterResult
qp_convert (GConverter *converter, const void *inbuf, gsize inbuf_size, void *outbuf,
            gsize outbuf_size, GConverterFlags flags, gsize *bytes_read, gsize *bytes_written,
            GError **error)
{
  PstQpConverter *self = PST_QP_CONVERTER (converter);
  const guchar *in = inbuf;
  char *out = outbuf;
  gsize i = 0, o = 0;
  gboolean end = (flags & G_CONVERTER_INPUT_AT_END) != 0;

  o = prefix_copy (&self->prefix, out, outbuf_size);
  while (self->prefix.bytes == NULL && i < inbuf_size && outbuf_size - o >= QP_ROOM)
    {
      guchar c = in[i];

      if (self->decided && self->ws == 0 && !self->cr && c != '\r')
        {
          /* What needs no look-ahead, in one loop (a text's every byte
           * went through qp_byte before: half of a 7-bit copy's time):
           * a printable byte as it is, a byte to encode as "=XX", and a
           * space or tab that a byte other than CR follows (so it does
           * not end its line) as it is. */
          gsize from = i;

          while (i < inbuf_size && outbuf_size - o >= 6)
            {
              guchar b = in[i];

              if (b == '\r')
                break;
              if ((b == ' ' || b == '\t') && (i + 1 == inbuf_size || in[i + 1] == '\r'))
                break;
              if (qp_plain (b) || b == ' ' || b == '\t')
                qp_put (self, out, &o, (const char *) &in[i], 1);
              else
                qp_put_encoded (self, out, &o, b);
              i++;
            }
          if (i > from)
            continue;
        }
      i++;
      if (self->cr)
        {
          self->cr = FALSE;
          if (c == '\n')
            {
              qp_line_end (self, out, &o, TRUE);
              continue;
            }
          qp_byte (self, out, &o, '\r');   /* a CR alone is data */
        }
      if (c == '\r')
        self->cr = TRUE;
      else
        qp_byte (self, out, &o, c);
    }
  if (self->prefix.bytes == NULL && end && i == inbuf_size && !self->ended
      && outbuf_size - o >= QP_ROOM)
    {
      if (self->cr)
        qp_byte (self, out, &o, '\r');
      self->cr = FALSE;
      qp_line_end (self, out, &o, FALSE);
      self->ended = TRUE;
    }
  if (i == 0 && o == 0 && (inbuf_size > 0 || self->prefix.bytes != NULL || (end && !self->ended)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "no space");
      return G_CONVERTER_ERROR;
    }
  if (i == 0 && o == 0 && !end && !(flags & G_CONVERTER_FLUSH))
    {
      /* What it holds (a line's start, a space) waits for the next byte:
       * a GConverterInputStream reads more only when told so. */
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "more input needed");
      return G_CONVERTER_ERROR;
    }
  *bytes_read = i;
  *bytes_written = o;
  if (self->prefix.bytes == NULL && i == inbuf_size && self->ended)
    return G_CONVERTER_FINISHED;
  if (self->prefix.bytes == NULL && i == inbuf_size && (flags & G_CONVERTER_FLUSH))
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
qp_reset (GConverter *converter)
{
  PstQpConverter *self = PST_QP_CONVERTER (converter);

  self->col = 0;
  self->start_len = 0;
  self->decided = FALSE;
  self->ws = 0;
  self->cr = FALSE;
  self->ended = FALSE;
}

static void
pst_qp_converter_iface_init (GConverterIface *iface)
{
  iface->convert = qp_convert;
  iface->reset = qp_reset;
}

static void
pst_qp_converter_finalize (GObject *object)
{
  PstQpConverter *self = PST_QP_CONVERTER (object);

  g_clear_pointer (&self->prefix.bytes, g_bytes_unref);
  G_OBJECT_CLASS (pst_qp_converter_parent_class)->finalize (object);
}

static void
pst_qp_converter_class_init (PstQpConverterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_qp_converter_finalize;
}

static void
pst_qp_converter_init (PstQpConverter *self)
{
  (void) self;
}

PstQpConverter *
pst_qp_converter_new (GBytes *prefix)
{
  PstQpConverter *c = g_object_new (PST_TYPE_QP_CONVERTER, NULL);

  prefix_init (&c->prefix, prefix);
  return c;
}

/* --- Base64 in lines ------------------------------------------------------------ */

/* 57 bytes make one line of 76 characters. */
#define B64_GROUP 57
#define B64_LINE (76 + 2)

struct _PstBase64Converter {
  GObject parent;
  guchar group[B64_GROUP];
  gsize held;
};

static void pst_base64_converter_iface_init (GConverterIface *iface);

G_DEFINE_TYPE_WITH_CODE (PstBase64Converter, pst_base64_converter, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_CONVERTER, pst_base64_converter_iface_init))

/* One line of the @held bytes (1 to 57) at @out: its length. */
static gsize
b64_line (const guchar *group, gsize held, char *out)
{
  int state = 0, save = 0;
  gsize n = g_base64_encode_step (group, held, FALSE, out, &state, &save);

  n += g_base64_encode_close (FALSE, out + n, &state, &save);
  out[n++] = '\r';
  out[n++] = '\n';
  return n;
}

static GConverterResult
b64_convert (GConverter *converter, const void *inbuf, gsize inbuf_size, void *outbuf,
             gsize outbuf_size, GConverterFlags flags, gsize *bytes_read, gsize *bytes_written,
             GError **error)
{
  PstBase64Converter *self = PST_BASE64_CONVERTER (converter);
  const guchar *in = inbuf;
  char *out = outbuf;
  gsize i = 0, o = 0;
  gboolean end = (flags & G_CONVERTER_INPUT_AT_END) != 0;

  while (TRUE)
    {
      gsize take = MIN (B64_GROUP - self->held, inbuf_size - i);

      if (take > 0)
        memcpy (self->group + self->held, in + i, take);
      self->held += take;
      i += take;
      if (self->held < B64_GROUP && !(end && i == inbuf_size && self->held > 0))
        break;
      if (outbuf_size - o < B64_LINE)
        break;
      o += b64_line (self->group, self->held, out + o);
      self->held = 0;
    }
  if (i == 0 && o == 0 && (inbuf_size > 0 || (end && self->held > 0)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "no space");
      return G_CONVERTER_ERROR;
    }
  *bytes_read = i;
  *bytes_written = o;
  if (end && i == inbuf_size && self->held == 0)
    return G_CONVERTER_FINISHED;
  if ((flags & G_CONVERTER_FLUSH) && i == inbuf_size)
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
b64_reset (GConverter *converter)
{
  PST_BASE64_CONVERTER (converter)->held = 0;
}

static void
pst_base64_converter_iface_init (GConverterIface *iface)
{
  iface->convert = b64_convert;
  iface->reset = b64_reset;
}

static void
pst_base64_converter_class_init (PstBase64ConverterClass *klass)
{
  (void) klass;
}

static void
pst_base64_converter_init (PstBase64Converter *self)
{
  (void) self;
}

PstBase64Converter *
pst_base64_converter_new (void)
{
  return g_object_new (PST_TYPE_BASE64_CONVERTER, NULL);
}

/* --- Base64 decoding -------------------------------------------------------------- */

struct _PstBase64DecodeConverter {
  GObject parent;
  gint state;
  guint save;
  gboolean stopped;   /* a NUL was met: the rest is dropped */
};

static void pst_base64_decode_converter_iface_init (GConverterIface *iface);

G_DEFINE_TYPE_WITH_CODE (PstBase64DecodeConverter, pst_base64_decode_converter, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_CONVERTER,
                                                pst_base64_decode_converter_iface_init))

static GConverterResult
b64d_convert (GConverter *converter, const void *inbuf, gsize inbuf_size, void *outbuf,
              gsize outbuf_size, GConverterFlags flags, gsize *bytes_read, gsize *bytes_written,
              GError **error)
{
  PstBase64DecodeConverter *self = PST_BASE64_DECODE_CONVERTER (converter);
  /* g_base64_decode_step writes at most len * 3 / 4 + 3 bytes. */
  gsize take = outbuf_size >= 6 ? MIN (inbuf_size, (outbuf_size - 3) / 3 * 4) : 0;

  if (take == 0 && inbuf_size > 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "no space");
      return G_CONVERTER_ERROR;
    }
  if (inbuf_size == 0 && !(flags & (G_CONVERTER_INPUT_AT_END | G_CONVERTER_FLUSH)))
    {
      /* Nothing to decode yet (the last input gave nothing: a NUL, or only
       * what is not base64): GConverter's way of asking for more, without
       * which GConverterInputStream calls again at once. */
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "more input needed");
      return G_CONVERTER_ERROR;
    }
  {
    /* smimemime.c's part_der decodes a C string: up to the first NUL. */
    const char *nul = self->stopped || take == 0 ? NULL : memchr (inbuf, '\0', take);
    gsize decode = self->stopped ? 0 : nul != NULL ? (gsize) (nul - (const char *) inbuf) : take;

    *bytes_written = decode > 0 ? g_base64_decode_step (inbuf, decode, outbuf, &self->state,
                                                        &self->save)
                                : 0;
    if (nul != NULL)
      self->stopped = TRUE;
  }
  *bytes_read = take;
  if ((flags & G_CONVERTER_INPUT_AT_END) && take == inbuf_size)
    return G_CONVERTER_FINISHED;
  if ((flags & G_CONVERTER_FLUSH) && take == inbuf_size)
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
b64d_reset (GConverter *converter)
{
  PstBase64DecodeConverter *self = PST_BASE64_DECODE_CONVERTER (converter);

  self->state = 0;
  self->save = 0;
  self->stopped = FALSE;
}

static void
pst_base64_decode_converter_iface_init (GConverterIface *iface)
{
  iface->convert = b64d_convert;
  iface->reset = b64d_reset;
}

static void
pst_base64_decode_converter_class_init (PstBase64DecodeConverterClass *klass)
{
  (void) klass;
}

static void
pst_base64_decode_converter_init (PstBase64DecodeConverter *self)
{
  (void) self;
}

PstBase64DecodeConverter *
pst_base64_decode_converter_new (void)
{
  return g_object_new (PST_TYPE_BASE64_DECODE_CONVERTER, NULL);
}
