/* clientfd.h — the descriptors a client passes with a request (DESIGN.md
 * §5): which ones the agent takes, and reading and writing them with a
 * deadline.
 *
 * A client is the same user as the agent but not trusted to be well
 * behaved: a script that passes a pipe nobody writes to, or both ends of
 * one pipe, must cost the agent one request for a bounded time, never a
 * thread for ever, and never keep the agent from stopping.  So:
 *   - a request passes at most PST_RPC_MAX_FDS descriptors (rpc/frame.h);
 *   - two descriptors of one request that are the same pipe or FIFO are
 *     refused: the agent would hold the write end of what it reads, and
 *     the end of the input would never come;
 *   - every wait for a client's descriptor to become readable or writable
 *     ends after the stall timeout without progress, or at once when the
 *     agent stops (the cancellable given to pst_client_fd_init).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Seconds a client's descriptor may make no progress before the request
 * fails.  Generous, for input typed on a terminal or produced slowly by a
 * pipeline; POSTERN_CLIENT_TIMEOUT (seconds) replaces it, for tests. */
#define PST_CLIENT_FD_STALL_TIMEOUT_S 120

/* POSTERN_CLIENT_TIMEOUT in seconds when set (tests use it to shorten
 * every client deadline, this one and the server's idle timeout), else 0. */
guint pst_client_timeout_override (void);

/* Once, before any client is served: the stall timeout in seconds (0: the
 * default), and @stop (may be NULL), whose cancellation makes every wait,
 * then and later, fail with "the agent is stopping".  @stop must outlive
 * every wait. */
void pst_client_fd_init (guint stall_timeout_s, GCancellable *stop);

/* Checks the descriptors of one request (see above) and puts non-blocking
 * descriptors of the agent's own in place of pipes and FIFOs, so that no
 * read or write on them can block past a deadline even when someone else
 * drains the same pipe (the originals are closed).  Errors:
 * PST_ERROR_USAGE naming the two descriptors of one pipe. */
gboolean pst_client_fds_admit (GArray *fds, GError **error);

/* Reads at most @size bytes from @fd, waiting at most the stall timeout.
 * Returns the count, 0 at the end, or -1 with PST_ERROR_FAILED ("no input
 * for N seconds", "the agent is stopping", or the read's error). */
gssize pst_client_fd_read (int fd, void *buf, gsize size, GError **error);
/* Writes all of @data, each part within the stall timeout.  Errors as
 * above. */
gboolean pst_client_fd_write_all (int fd, const void *data, gsize len, GError **error);

/* Streams over @fd with those deadlines; they never close @fd.  Transfer
 * full. */
GInputStream *pst_client_fd_input_stream_new (int fd);
GOutputStream *pst_client_fd_output_stream_new (int fd);

G_END_DECLS
