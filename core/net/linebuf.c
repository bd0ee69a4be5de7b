#include "net/linebuf.h"

#include <string.h>

struct _PstLinebuf {
  guint8 *data;
  gsize cap;
  gsize start;      /* first unconsumed byte */
  gsize end;        /* one past the last buffered byte */
  gsize scanned;    /* bytes after start already known to hold no '\n' */
  gsize max_line;
  gsize stale_from; /* the last line taken, wiped by the next call */
  gsize stale_to;
};

static void
wipe_stale (PstLinebuf *buf)
{
  if (buf->stale_to > buf->stale_from)
    explicit_bzero (buf->data + buf->stale_from, buf->stale_to - buf->stale_from);
  buf->stale_from = buf->stale_to = 0;
}

PstLinebuf *
pst_linebuf_new (gsize max_line)
{
  PstLinebuf *buf = g_new0 (PstLinebuf, 1);

  buf->max_line = max_line;
  return buf;
}

void
pst_linebuf_free (PstLinebuf *buf)
{
  if (buf == NULL)
    return;
  if (buf->data != NULL)
    explicit_bzero (buf->data, buf->cap);
  g_free (buf->data);
  g_free (buf);
}

void
pst_linebuf_set_max_line (PstLinebuf *buf, gsize max_line)
{
  buf->max_line = max_line;
}

gsize
pst_linebuf_get_max_line (PstLinebuf *buf)
{
  return buf->max_line;
}

/* Makes room for @len more bytes at the tail. */
static void
reserve (PstLinebuf *buf, gsize len)
{
  gsize used = buf->end - buf->start;
  gsize cap;
  guint8 *data;

  if (buf->cap - buf->end >= len)
    return;
  if (buf->cap - used >= len && used <= buf->cap / 2)
    {
      memmove (buf->data, buf->data + buf->start, used);
      explicit_bzero (buf->data + used, buf->end - used);
      buf->start = 0;
      buf->end = used;
      return;
    }
  if (len > G_MAXSIZE / 2 - used)
    g_error ("linebuf: buffer size overflow");
  cap = MAX (buf->cap, 256);
  while (cap < used + len)
    cap *= 2;
  data = g_malloc (cap);
  if (used > 0)
    memcpy (data, buf->data + buf->start, used);
  if (buf->data != NULL)
    explicit_bzero (buf->data, buf->cap);
  g_free (buf->data);
  buf->data = data;
  buf->cap = cap;
  buf->start = 0;
  buf->end = used;
}

void
pst_linebuf_append (PstLinebuf *buf, const void *data, gsize len)
{
  wipe_stale (buf);
  if (len == 0)
    return;
  reserve (buf, len);
  memcpy (buf->data + buf->end, data, len);
  buf->end += len;
}

void
pst_linebuf_append_str (PstLinebuf *buf, const char *str)
{
  pst_linebuf_append (buf, str, strlen (str));
}

PstLinebufResult
pst_linebuf_take_line (PstLinebuf *buf, const char **line_out, gsize *len_out)
{
  gsize avail, limit, len;
  guint8 *head, *nl;

  wipe_stale (buf);
  avail = buf->end - buf->start;
  if (avail == 0)
    return PST_LINEBUF_NEED_MORE;
  limit = avail;
  head = buf->data + buf->start;

  /* A line of max_line bytes needs up to max_line + 2 with its CRLF: look no
   * further, so that a hostile peer cannot make us scan or hold more. */
  if (buf->max_line > 0 && limit > buf->max_line + 2)
    limit = buf->max_line + 2;
  nl = buf->scanned < limit ? memchr (head + buf->scanned, '\n', limit - buf->scanned) : NULL;
  if (nl == NULL)
    {
      buf->scanned = limit;
      if (buf->max_line > 0 && limit == buf->max_line + 2)
        return PST_LINEBUF_TOO_LONG;
      return PST_LINEBUF_NEED_MORE;
    }

  len = nl - head;
  if (len > 0 && head[len - 1] == '\r')
    len--;
  if (buf->max_line > 0 && len > buf->max_line)
    return PST_LINEBUF_TOO_LONG;

  /* The terminator is consumed with the line: reuse its first byte for the
   * NUL, and let the next call wipe the line. */
  head[len] = '\0';
  buf->stale_from = buf->start;
  buf->stale_to = buf->start + (nl - head) + 1;
  buf->start = buf->stale_to;
  buf->scanned = 0;
  if (buf->start == buf->end)
    buf->start = buf->end = 0;
  *line_out = (const char *) head;
  *len_out = len;
  return PST_LINEBUF_LINE;
}

const guint8 *
pst_linebuf_peek (PstLinebuf *buf, gsize *len_out)
{
  *len_out = buf->end - buf->start;
  return *len_out > 0 ? buf->data + buf->start : NULL;
}

void
pst_linebuf_consume (PstLinebuf *buf, gsize n)
{
  wipe_stale (buf);
  n = MIN (n, buf->end - buf->start);
  if (n == 0)
    return;
  explicit_bzero (buf->data + buf->start, n);
  buf->start += n;
  buf->scanned = buf->scanned > n ? buf->scanned - n : 0;
  if (buf->start == buf->end)
    buf->start = buf->end = 0;
}

gsize
pst_linebuf_get_pending (PstLinebuf *buf)
{
  return buf->end - buf->start;
}

void
pst_linebuf_clear (PstLinebuf *buf)
{
  if (buf->data != NULL)
    explicit_bzero (buf->data, buf->cap);
  buf->start = buf->end = buf->scanned = 0;
  buf->stale_from = buf->stale_to = 0;
}
