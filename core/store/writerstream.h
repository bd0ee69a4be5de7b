/* writerstream.h — a GOutputStream that writes into a store writer
 * (store.h), for producers that write to streams (gpg through GPGME,
 * converters).  It does not own the writer: closing the stream neither
 * commits nor frees it, and a write that fails leaves the writer rolled
 * back, as pst_store_writer_write does. */
#pragma once

#include <gio/gio.h>
#include "store/store.h"

G_BEGIN_DECLS

#define PST_TYPE_STORE_WRITER_STREAM (pst_store_writer_stream_get_type ())
G_DECLARE_FINAL_TYPE (PstStoreWriterStream, pst_store_writer_stream, PST, STORE_WRITER_STREAM,
                      GOutputStream)

/* @writer must outlive the stream. */
GOutputStream *pst_store_writer_stream_new (PstStoreWriter *writer);

G_END_DECLS
