/* sink.h — a bounded buffer for decrypted or decompressed output: it
 * refuses to grow past its limit, so that the library writing into it
 * stops there (a compressed packet expands a thousandfold; DESIGN.md §7),
 * and what it held is wiped, as every plaintext is (secret.h). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PstSink PstSink;

/* What all sinks of the process together may hold beyond their inputs'
 * own sizes: a bound on decompressed content however many operations run
 * at once (a batch runs up to 64), so that concurrent bombs cannot add up.
 * Equal to the most one message may expand (PST_DECRYPTION_MAX_OUTPUT). */
#define PST_SINK_SHARED_MAX ((gsize) 16 * 1024 * 1024)

/* An empty sink that takes at most @max bytes.  What it holds beyond @own
 * bytes (the size of the input it is decrypted from: content that was sent
 * in full is no expansion) counts against PST_SINK_SHARED_MAX, until the
 * sink or the bytes stolen from it are freed.  Transfer full. */
PstSink *pst_sink_new (gsize max, gsize own);
/* Wipes and frees @sink. */
void pst_sink_free (PstSink *sink);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSink, pst_sink_free)

/* Appends @len bytes of @data.  FALSE, appending nothing, when they would
 * take the sink past its limit or the process past PST_SINK_SHARED_MAX;
 * from then on pst_sink_overflowed is TRUE. */
gboolean pst_sink_write (PstSink *sink, const void *data, gsize len);

gboolean pst_sink_overflowed (const PstSink *sink);
gsize pst_sink_max (const PstSink *sink);

/* What was written, as bytes that are wiped when freed (NUL-terminated past
 * the end), without a copy; @sink is left empty.  Transfer full. */
GBytes *pst_sink_steal (PstSink *sink);

G_END_DECLS
