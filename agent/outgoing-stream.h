/* outgoing-stream.h — send in constant memory: a message the client
 * passes in a regular file is queued without being held (outgoing.h
 * pst_outgoing_queue is the in-memory way, for everything else). */
#pragma once

#include "outgoing.h"

G_BEGIN_DECLS

/* The cap on a message send holds in memory: one that cannot be
 * protected as a stream (pst_outgoing_queue_file).  A message in a
 * regular file that can is queued in constant memory, whatever its size,
 * and so is one from a pipe or a socket larger than 1 MiB (spooled to an
 * unnamed file of the agent's first): the server's SIZE is the limit (the
 * sender checks it). */
#define PST_OUTGOING_MAX_WHOLE (64u * 1024 * 1024)
/* What the agent keeps a copy of to send as a stream, at most (4 GiB:
 * past any provider's limit), and the room it leaves on the file system of
 * its data directory, which the store shares. */
#define PST_OUTGOING_MAX_STREAM (G_GUINT64_CONSTANT (4) * 1024 * 1024 * 1024)
#define PST_OUTGOING_FREE_MIN (G_GUINT64_CONSTANT (256) * 1024 * 1024)

/* pst_outgoing_queue for the message a client passes as @fd: read in
 * constant memory from a regular file when it can be protected as a
 * stream (pst_outgoing_queue_file), else read whole (at most
 * PST_OUTGOING_MAX_WHOLE bytes, "input larger than N bytes").  The same
 * decisions, errors and results either way.  Transfer full. */
PstQueued *pst_outgoing_queue_fd (PstAgent *agent, int fd, const char *account,
                                  const char *const *envelope,
                                  const PstPolicySettings *overrides, GError **error);

/* pst_outgoing_queue for the message in @fd, a regular file read from its
 * current offset, as a stream (outgoing-stream.c): the header section
 * alone is parsed and decides (the limits, the policy), the scanner reads
 * the message as a stream, and each copy is protected from the file
 * straight into the outbox store, so that memory does not grow with the
 * message.  When the message cannot be handled so (not a regular file, a
 * header section over PST_PGPSTREAM_MAX_HEADER, one the header alone
 * cannot be parsed from, a copy the streaming encoders cannot write as
 * pst_protect_message would: a body without Content-Type or
 * Content-Transfer-Encoding, one that signing (S/MIME, or OpenPGP without
 * encryption) would make quoted-printable), NULL without an error, *@streamed_out
 * FALSE and @fd back at its offset: the caller reads it whole.  Otherwise
 * *@streamed_out is TRUE, and the result and the errors are
 * pst_outgoing_queue's.  Transfer full. */
PstQueued *pst_outgoing_queue_file (PstAgent *agent, int fd, const char *account,
                                    const char *const *envelope,
                                    const PstPolicySettings *overrides, gboolean *streamed_out,
                                    GError **error);

/* A message from a pipe or a socket @in, taken so that it can be read more
 * than once: whole when it ends within @whole_max bytes (*@whole_out, -1
 * returned); larger, spooled into an unnamed file of the agent's (O_TMPFILE
 * in its data directory, 0600, gone when closed; at most
 * PST_OUTGOING_MAX_STREAM bytes, leaving PST_OUTGOING_FREE_MIN free), whose
 * descriptor is returned at its start; where no unnamed file can be made,
 * whole in memory up to @max bytes (*@whole_out; above it "input larger
 * than N bytes").  -1 with @error set on failure.  Transfer full. */
int pst_outgoing_take_pipe (PstAgent *agent, GInputStream *in, gsize whole_max, gsize max,
                            GBytes **whole_out, GError **error);

/* A message kept as it comes, in an unnamed file of the agent's as
 * pst_outgoing_take_pipe's: at most PST_OUTGOING_MAX_STREAM bytes, leaving
 * PST_OUTGOING_FREE_MIN free.  _new: NULL with @error when there is not
 * that room, NULL without one where no unnamed file can be made.  _finish:
 * its descriptor at its start, for pst_outgoing_queue_fd (transfer full;
 * -1 with @error). */
typedef struct _PstOutgoingSpool PstOutgoingSpool;
/* Whether the agent's data directory takes unnamed files (a spool). */
gboolean pst_outgoing_can_spool (PstAgent *agent);
/* An unnamed file of the agent's (as above), empty, and in *@room_out what
 * it may hold: the free space beyond PST_OUTGOING_FREE_MIN.  -1 when none
 * can be made or there is no such room.  Transfer full. */
int pst_outgoing_unnamed_file (PstAgent *agent, guint64 *room_out);
/* The same as a PstCipherSpoolOpen (cipherspool.h) of @agent (a
 * PstAgent): at most PST_OUTGOING_MAX_STREAM, and PST_OUTGOING_FREE_MIN
 * left free as it grows. */
int pst_outgoing_cipher_spool_file (gpointer agent, guint64 *max_out, guint64 *keep_free_out);
PstOutgoingSpool *pst_outgoing_spool_new (PstAgent *agent, GError **error);
gboolean pst_outgoing_spool_write (PstOutgoingSpool *sp, const void *data, gsize len,
                                   GError **error);
int pst_outgoing_spool_finish (PstOutgoingSpool *sp, GError **error);
void pst_outgoing_spool_free (PstOutgoingSpool *sp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstOutgoingSpool, pst_outgoing_spool_free)
/* pst_outgoing_queue for the message kept in @sp (its descriptor taken):
 * in constant memory as a file is, or read whole from there (at most
 * PST_OUTGOING_MAX_WHOLE) when it cannot be protected as a stream.
 * Transfer full. */
PstQueued *pst_outgoing_queue_spool (PstAgent *agent, PstOutgoingSpool *sp, const char *name,
                                     const char *const *envelope,
                                     const PstPolicySettings *overrides, GError **error);

G_END_DECLS
