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
 *
 * Twice what one message may expand (PST_DECRYPTION_MAX_OUTPUT, 16 MiB):
 * a fetch and a show of two messages each at that limit run side by side,
 * and ordinary mail, which expands by a few times its size at most, never
 * waits however many operations run (batch --jobs 4 leaves 8 MiB to each).
 * A third operation near the limit waits for budget (below) rather than
 * running at once: the budget also bounds what the copies a reader makes
 * of such plaintexts cost (one show of 16 MiB peaked at 180 MiB).
 * One operation's sinks together hold at most PST_DECRYPTION_MAX_OUTPUT
 * (every layer of a message spends one budget: pgpmime.c), so an
 * operation never waits for budget it holds itself. */
#define PST_SINK_SHARED_MAX ((gsize) 32 * 1024 * 1024)

/* How long a write waits for budget that other sinks hold, by default. */
#define PST_SINK_WAIT_DEFAULT_MS 30000

/* Why a sink refused a write. */
typedef enum {
  PST_SINK_OK,     /* no write was refused */
  PST_SINK_OVER,   /* the content passed this sink's limit (or on its own
                    * more than PST_SINK_SHARED_MAX): a fact about the
                    * content, the same on every try */
  PST_SINK_BUSY,   /* other sinks held the shared budget until the wait
                    * ended: a fact about the moment, never about the
                    * content; the operation fails and may be tried again */
} PstSinkState;

/* An empty sink that takes at most @max bytes.  What it holds beyond @own
 * bytes (the size of the input it is decrypted from: content that was sent
 * in full is no expansion) counts against PST_SINK_SHARED_MAX, until the
 * sink or the bytes stolen from it are freed.  Transfer full. */
PstSink *pst_sink_new (gsize max, gsize own);
/* Wipes and frees @sink. */
void pst_sink_free (PstSink *sink);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSink, pst_sink_free)

/* Appends @len bytes of @data.  FALSE, appending nothing, when they would
 * take the sink past its limit (PST_SINK_OVER), or when the shared budget
 * they need is held by other sinks and is not freed within the wait
 * (PST_SINK_BUSY; the write blocks meanwhile).  After a refusal
 * pst_sink_state says which, and every later write is refused. */
gboolean pst_sink_write (PstSink *sink, const void *data, gsize len);

/* PST_SINK_OK, or why a write was refused. */
PstSinkState pst_sink_state (const PstSink *sink);
/* pst_sink_state is PST_SINK_OVER. */
gboolean pst_sink_overflowed (const PstSink *sink);
gsize pst_sink_max (const PstSink *sink);

/* Sets @error to what an operation stopped by PST_SINK_BUSY says:
 * PST_ERROR_FAILED, "the agent is busy with other large messages; try
 * again".  Never a verdict on the message. */
void pst_sink_set_busy_error (GError **error);

/* How long a write waits for budget held by other sinks, in milliseconds
 * (PST_SINK_WAIT_DEFAULT_MS until set; 0: not at all).  Process-wide;
 * for tests, which need the refusal quickly. */
void pst_sink_set_wait (guint ms);

/* What was written, as bytes that are wiped when freed (NUL-terminated past
 * the end), without a copy; @sink is left empty.  Transfer full. */
GBytes *pst_sink_steal (PstSink *sink);

G_END_DECLS
