/* outbox-stream.c — see outbox-stream.h. */
#include "outbox-stream.h"

#include <string.h>

#include "mime/mime.h"
#include "mime/pgpstream.h"

/* The most of the message's beginning kept to find its header section: a
 * header section the streams write is at most PST_PGPSTREAM_MAX_HEADER,
 * with the Autocrypt field and the protection's own fields on top. */
#define MAX_HEAD (4 * PST_PGPSTREAM_MAX_HEADER)

G_DECLARE_FINAL_TYPE (PstOutboxStream, pst_outbox_stream, PST, OUTBOX_STREAM, GOutputStream)

struct _PstOutboxStream {
  GOutputStream parent;
  PstStoreWriter *writer;
  GByteArray *head;       /* the beginning, until the empty line after the header */
  gboolean head_done;     /* the empty line was seen, or MAX_HEAD reached */
  gboolean eight_bit;     /* a byte >= 0x80 so far */
};

G_DEFINE_TYPE (PstOutboxStream, pst_outbox_stream, G_TYPE_OUTPUT_STREAM)

static gboolean
has_8bit (const guint8 *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] >= 0x80)
      return TRUE;
  return FALSE;
}

/* Whether @p (@len bytes) holds an empty line ("\n\n" or "\n\r\n"),
 * looked for from @from on. */
static gboolean
has_empty_line (const guint8 *p, gsize len, gsize from)
{
  for (gsize i = from; i + 1 < len; i++)
    if (p[i] == '\n' && (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')))
      return TRUE;
  return FALSE;
}

static gssize
outbox_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
              GError **error)
{
  PstOutboxStream *self = PST_OUTBOX_STREAM (stream);

  (void) cancellable;
  if (!self->head_done)
    {
      gsize old = self->head->len, take = MIN (count, MAX_HEAD - old);

      g_byte_array_append (self->head, buffer, (guint) take);
      self->head_done = self->head->len >= MAX_HEAD
                        || has_empty_line (self->head->data, self->head->len,
                                           old > 2 ? old - 2 : 0);
    }
  self->eight_bit = self->eight_bit || has_8bit (buffer, count);
  if (!pst_store_writer_write (self->writer, buffer, count, error))
    return -1;
  return (gssize) count;
}

gboolean
pst_outbox_stream_finish (GOutputStream *stream, GError **error)
{
  PstOutboxStream *self = PST_OUTBOX_STREAM (stream);
  g_autoptr (GPtrArray) fields = NULL;
  gsize body = 0;
  gboolean header_8bit = FALSE;

  /* As pst_mime_has_8bit: the header section as pst_mime_split_header
   * finds it (in a beginning cut at MAX_HEAD, what was kept of it). */
  if (pst_mime_split_header ((const char *) self->head->data, self->head->len, &fields, &body,
                             NULL))
    header_8bit = has_8bit (self->head->data, body);
  return pst_store_writer_set_8bit (self->writer, self->eight_bit, header_8bit, error);
}

static void
pst_outbox_stream_finalize (GObject *object)
{
  PstOutboxStream *self = PST_OUTBOX_STREAM (object);

  g_byte_array_unref (self->head);
  G_OBJECT_CLASS (pst_outbox_stream_parent_class)->finalize (object);
}

static void
pst_outbox_stream_class_init (PstOutboxStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_outbox_stream_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = outbox_write;
}

static void
pst_outbox_stream_init (PstOutboxStream *self)
{
  self->head = g_byte_array_new ();
}

GOutputStream *
pst_outbox_stream_new (PstStoreWriter *writer)
{
  PstOutboxStream *self = g_object_new (pst_outbox_stream_get_type (), NULL);

  self->writer = writer;
  return G_OUTPUT_STREAM (self);
}
