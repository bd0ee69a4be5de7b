/* writerstream.c — a GOutputStream over a store writer (writerstream.h). */
#include "store/writerstream.h"

struct _PstStoreWriterStream {
  GOutputStream parent;
  PstStoreWriter *writer;
};

G_DEFINE_FINAL_TYPE (PstStoreWriterStream, pst_store_writer_stream, G_TYPE_OUTPUT_STREAM)

static gssize
writer_stream_write (GOutputStream *stream, const void *buffer, gsize count,
                     GCancellable *cancellable, GError **error)
{
  PstStoreWriterStream *self = PST_STORE_WRITER_STREAM (stream);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  count = MIN (count, (gsize) G_MAXSSIZE);
  if (!pst_store_writer_write (self->writer, buffer, count, error))
    return -1;
  return (gssize) count;
}

static void
pst_store_writer_stream_class_init (PstStoreWriterStreamClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = writer_stream_write;
}

static void
pst_store_writer_stream_init (PstStoreWriterStream *self)
{
  (void) self;
}

GOutputStream *
pst_store_writer_stream_new (PstStoreWriter *writer)
{
  PstStoreWriterStream *self;

  g_return_val_if_fail (writer != NULL, NULL);
  self = g_object_new (PST_TYPE_STORE_WRITER_STREAM, NULL);
  self->writer = writer;
  return G_OUTPUT_STREAM (self);
}
