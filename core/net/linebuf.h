/* linebuf.h — a byte queue that hands out complete lines, for the protocol
 * engines (smtp.c, pop3.c).
 *
 * Bytes are appended at the tail and taken from the head, either as whole
 * lines (terminated by CRLF or a bare LF) or as raw bytes (peek/consume, for
 * streamed message data).  A line longer than the configured maximum is
 * reported as such instead of being buffered without bound.  The engines use
 * the same type for their output queue.
 *
 * Every byte that leaves the buffer (taken, consumed, moved on growth or
 * freed) is wiped first, so that credentials queued for writing do not linger
 * in freed memory.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PstLinebuf PstLinebuf;

typedef enum {
  PST_LINEBUF_NEED_MORE,   /* no complete line yet: append more bytes */
  PST_LINEBUF_LINE,        /* a line was taken */
  PST_LINEBUF_TOO_LONG,    /* the line at the head exceeds max_line; nothing was taken */
} PstLinebufResult;

/* Creates an empty buffer whose lines may be at most @max_line bytes long,
 * not counting the terminator (0: no limit).  Transfer full. */
PstLinebuf *pst_linebuf_new (gsize max_line);
/* Wipes and frees @buf.  NULL is allowed. */
void pst_linebuf_free (PstLinebuf *buf);

void pst_linebuf_set_max_line (PstLinebuf *buf, gsize max_line);
gsize pst_linebuf_get_max_line (PstLinebuf *buf);

/* Appends @len bytes (copied) at the tail. */
void pst_linebuf_append (PstLinebuf *buf, const void *data, gsize len);
/* Appends a NUL-terminated string, without its NUL. */
void pst_linebuf_append_str (PstLinebuf *buf, const char *str);

/* Takes the line at the head.  On PST_LINEBUF_LINE, *@line_out points to the
 * line without its terminator, NUL-terminated (it may contain other NUL
 * bytes: use *@len_out), owned by @buf and valid until the next call on
 * @buf.  On the other results nothing is taken and the outputs are not set. */
PstLinebufResult pst_linebuf_take_line (PstLinebuf *buf, const char **line_out, gsize *len_out);

/* The unconsumed bytes, in order; owned by @buf, valid until the next call
 * that appends, takes or consumes.  NULL (and 0) when empty. */
const guint8 *pst_linebuf_peek (PstLinebuf *buf, gsize *len_out);
/* Drops the first @n unconsumed bytes (at most what is buffered). */
void pst_linebuf_consume (PstLinebuf *buf, gsize n);

/* How many bytes are buffered and not yet taken or consumed, complete lines
 * and partial ones alike. */
gsize pst_linebuf_get_pending (PstLinebuf *buf);

/* Drops (and wipes) everything buffered. */
void pst_linebuf_clear (PstLinebuf *buf);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstLinebuf, pst_linebuf_free)

G_END_DECLS
