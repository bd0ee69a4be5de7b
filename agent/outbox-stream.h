/* outbox-stream.h — a message written into the outbox as a stream: a
 * GOutputStream over an outbox writer (core/store/store.h), which learns
 * the message's 8-bit facts (mime/sevenbit.h pst_mime_has_8bit) as the
 * bytes pass, holding only its header section, never the message. */
#pragma once

#include <gio/gio.h>
#include "store/store.h"

G_BEGIN_DECLS

/* A stream that appends to @writer (not owned: it must outlive the
 * stream, which neither commits nor frees it).  Closing it does nothing
 * to the writer.  Transfer full. */
GOutputStream *pst_outbox_stream_new (PstStoreWriter *writer);

/* Records with the writer (pst_store_writer_set_8bit) what the bytes
 * written to @stream held: a byte >= 0x80 anywhere, and in the header
 * section, as pst_mime_has_8bit would say of the whole message.  Before
 * the writer's commit.  Errors: the store's. */
gboolean pst_outbox_stream_finish (GOutputStream *stream, GError **error);

G_END_DECLS
