/* workerframe.h — the frames between posternd and its analysis worker.
 *
 * The analysis worker (agent/worker.c) parses hostile mail in a sandboxed
 * process; it and the agent talk over one socketpair per job, both ends
 * blocking.  Every frame is a small JSON object and an optional blob of
 * bytes (a message, a ciphertext, a plaintext):
 *
 *   "PSTW"  json_len (u32, big-endian)  blob_len (u64, big-endian)
 *   json_len bytes: one JSON object, UTF-8
 *   blob_len bytes: the blob
 *
 * The agent reads what a worker that may be compromised writes, so the
 * decoder is strict and bounded: json_len at most PST_WORKER_FRAME_MAX_JSON,
 * blob_len at most the caller's limit, the JSON an object nested at most 64
 * deep (pst_rpc_parse_line), memory grown only as bytes arrive (a frame
 * that announces 200 MiB and sends 10 bytes costs 10 bytes).  The decoder is
 * sans-I/O (fed bytes, gives frames), so that it is fuzzed without
 * sockets; pst_worker_frame_read/_write do the I/O on a descriptor. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PST_WORKER_FRAME_HEAD 16
#define PST_WORKER_FRAME_MAX_JSON (1024 * 1024)

typedef struct _PstWorkerDecoder PstWorkerDecoder;

/* A decoder for frames whose blob is at most @max_blob bytes. */
PstWorkerDecoder *pst_worker_decoder_new (guint64 max_blob);
void pst_worker_decoder_free (PstWorkerDecoder *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstWorkerDecoder, pst_worker_decoder_free)

/* Takes bytes @data[0..@len): returns how many it used (it stops at the end
 * of a frame, so that the rest belongs to the next one), or -1 with @error
 * (PST_ERROR_FAILED naming what was wrong: bad magic, too long, not JSON,
 * not an object, nested too deep) when the frame is bad; the decoder is
 * then useless.  After a frame is complete, pst_worker_decoder_take gives
 * it and the decoder starts the next. */
gssize pst_worker_decoder_feed (PstWorkerDecoder *d, const guint8 *data, gsize len,
                                GError **error);
/* Whether a whole frame is in. */
gboolean pst_worker_decoder_done (PstWorkerDecoder *d);
/* The complete frame's object and blob (an empty GBytes when it had none);
 * transfer full.  FALSE when no frame is complete. */
gboolean pst_worker_decoder_take (PstWorkerDecoder *d, JsonObject **obj_out, GBytes **blob_out);

/* A frame whose blob ends in something the reader does not hold (a large
 * attachment, which it keeps elsewhere): once the frame's JSON is in,
 * @split is asked, with its object and the blob's length, how many of the
 * blob's first bytes to hold (more than the blob: all of it); the rest
 * goes to @tail as it arrives, in pieces, and not into the blob the frame
 * gives.  Both get the data given with them.  The frame is only whole when
 * the tail has arrived too. */
typedef guint64 (*PstWorkerFrameSplit) (JsonObject *obj, guint64 blob_len, gpointer data);
typedef void (*PstWorkerFrameTail) (const guint8 *bytes, gsize len, gpointer data);
/* For every frame @d decodes from now on (@split NULL: none). */
void pst_worker_decoder_set_split (PstWorkerDecoder *d, PstWorkerFrameSplit split,
                                   PstWorkerFrameTail tail, gpointer data);

/* The 16-byte head and the JSON text of a frame carrying @obj and a blob of
 * @blob_len bytes (which the caller sends after it).  Transfer full. */
GBytes *pst_worker_frame_encode (JsonObject *obj, guint64 blob_len);

/* Reads one whole frame from @fd (blocking).  @deadline: a monotonic time
 * (g_get_monotonic_time) after which the read fails with
 * G_IO_ERROR_TIMED_OUT; 0 for none.  End of file before a whole frame is
 * G_IO_ERROR_CLOSED ("the worker closed the connection" when nothing of a
 * frame was read, "… in the middle of a frame" otherwise).  Transfer full. */
gboolean pst_worker_frame_read (int fd, guint64 max_blob, gint64 deadline, JsonObject **obj_out,
                                GBytes **blob_out, GError **error);
/* The same, its blob split by @split and @tail as
 * pst_worker_decoder_set_split says.  The time they take (the reader's,
 * not the peer's: a tail written to a slow disk) pushes @deadline back,
 * and *@took_out (may be NULL) gets it, in µs, also on failure. */
gboolean pst_worker_frame_read_split (int fd, guint64 max_blob, gint64 deadline,
                                      PstWorkerFrameSplit split, PstWorkerFrameTail tail,
                                      gpointer data, gint64 *took_out, JsonObject **obj_out,
                                      GBytes **blob_out, GError **error);
/* Writes a frame (@blob may be NULL).  EPIPE is an error, never a signal
 * (MSG_NOSIGNAL, or send()). */
gboolean pst_worker_frame_write (int fd, JsonObject *obj, GBytes *blob, GError **error);
/* The same, failing with G_IO_ERROR_TIMED_OUT when the peer has not taken
 * the whole frame by @deadline (monotonic; 0: none), on a socket: a peer
 * that writes instead of reading cannot block the writer for ever. */
gboolean pst_worker_frame_write_until (int fd, JsonObject *obj, GBytes *blob, gint64 deadline,
                                       GError **error);
/* The same with a blob of @blob_len bytes read from @in as they are
 * written, so that it is never held whole: fails, the frame left cut,
 * when @in gives fewer or more, or with @in's error.  The time spent
 * reading @in pushes @deadline back (it is not the peer's), and
 * *@reading_out (may be NULL) gets it, in µs, also on failure. */
gboolean pst_worker_frame_write_stream_until (int fd, JsonObject *obj, GInputStream *in,
                                              guint64 blob_len, gint64 deadline,
                                              gint64 *reading_out, GError **error);

G_END_DECLS
