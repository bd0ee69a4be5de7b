/* mbox.c — see mbox.h.
 *
 * Our own reader and writer, not libetpan's mailmbox (which Postern links
 * for MIME): mailmbox maps the whole file, takes locks and rewrites
 * folders, keeps its own X-LibEtPan-UID header, and does not undo mboxrd's
 * quoting; import needs none of that but the quoting rules exactly, and a
 * message at a time in memory.
 *
 * The formats (RFC 4155 and the mbox family it describes): each message
 * begins with a "From " line (envelope sender and date), which is not part
 * of the message, and ends with an empty line.  Lines of a message that
 * begin with "From " were written as ">From " so that they do not begin a
 * message.  mboxo quotes only those; mboxrd quotes every line that begins
 * with '>'s and "From " with one '>' more, so that taking one '>' away gives
 * the message back exactly.  A file does not say which of the two it is.
 * This reader takes one '>' from every such line (mboxrd): right for
 * mboxrd always, and right for mboxo except for a line that began with
 * ">From " in the message itself, which mboxo did not quote and which
 * therefore loses its '>'.  The other choice would leave every "From " line
 * of an mboxo file quoted, which is the more common line by far.
 *
 * A "From " line begins a message only at the start of the file or after
 * an empty line, so that an unquoted "From " in the middle of a paragraph
 * (a careless writer's) stays text.
 *
 * Memory stays bounded whatever the file holds: lines are read in pieces of
 * at most PIECE bytes (only a piece that begins a line can be a "From "
 * line, an empty line or a quoted one), and a message larger than the cap
 * (PST_MBOX_MAX_MESSAGE unless set) is read past, not kept: it is reported
 * and the next message is read as usual.
 *
 * The file is read in blocks of BLOCK bytes, a line found with memchr and
 * given where it lies in the block (copied only when it crosses a block's
 * end), and a message is written to its memfd in blocks too: reading a
 * byte at a time (getc) and writing a line at a time (a write(2) a line)
 * cost the CLI 2.6 s of CPU for a 110 MB mbox. */
#define _GNU_SOURCE
#include "mime/mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "util/error.h"

#define PIECE ((ssize_t) 64 * 1024)
#define BLOCK ((gsize) 1024 * 1024)

struct _PstMbox {
  int in;
  char *block;         /* what was read of the file (block_size bytes) */
  gsize block_size;
  gsize pos, end;      /* the part of @block not taken yet */
  int read_errno;      /* the read that failed, or 0 */
  char *copy;          /* a piece that crossed the end of @block (PIECE bytes) */
  const char *line;    /* the piece of a line read last: in @block or @copy */
  ssize_t len;         /* its length, -1 at the end */
  char *out;           /* what the message's memfd still has to get (BLOCK bytes) */
  gsize out_len;
  gboolean line_start; /* @line begins a line */
  gboolean next_start; /* the next piece begins a line */
  gboolean at_from;    /* @line is the "From " line of the next message */
  guint index;
  gsize max;
};

static gboolean
is_empty_line (const char *line, ssize_t len)
{
  return (len == 1 && line[0] == '\n') || (len == 2 && line[0] == '\r' && line[1] == '\n');
}

/* Whether @line (of @len bytes) is '>'s and then "From ". */
static gboolean
is_quoted_from (const char *line, ssize_t len)
{
  ssize_t i = 0;

  while (i < len && line[i] == '>')
    i++;
  return i > 0 && len - i >= 5 && memcmp (line + i, "From ", 5) == 0;
}

static gboolean
is_from_line (const char *line, ssize_t len)
{
  return len >= 5 && memcmp (line, "From ", 5) == 0;
}

/* Reads the next block; FALSE at the end or on an error (read_errno). */
static gboolean
fill (PstMbox *mbox)
{
  ssize_t n;

  if (mbox->read_errno != 0)
    return FALSE;
  do
    n = read (mbox->in, mbox->block, mbox->block_size);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    mbox->read_errno = errno;
  mbox->pos = 0;
  mbox->end = n > 0 ? (gsize) n : 0;
  return n > 0;
}

/* The next piece: a whole line (with its '\n') or, of a longer one, the
 * next PIECE bytes. */
static void
read_line (PstMbox *mbox)
{
  gsize n = 0;

  mbox->line_start = mbox->next_start;
  mbox->line = mbox->copy;
  for (;;)
    {
      const char *at, *nl;
      gsize take;

      if (mbox->pos == mbox->end && !fill (mbox))
        break;
      at = mbox->block + mbox->pos;
      take = MIN (mbox->end - mbox->pos, (gsize) PIECE - n);
      if ((nl = memchr (at, '\n', take)) != NULL)
        take = (gsize) (nl - at) + 1;
      mbox->pos += take;
      if (n == 0 && (nl != NULL || take == (gsize) PIECE))
        {
          /* Whole in the block: given where it lies. */
          mbox->line = at;
          n = take;
          break;
        }
      memcpy (mbox->copy + n, at, take);
      n += take;
      if (nl != NULL || n == (gsize) PIECE)
        break;
    }
  mbox->len = n > 0 ? (ssize_t) n : -1;
  mbox->next_start = n > 0 && mbox->line[n - 1] == '\n';
}

PstMbox *
pst_mbox_open (const char *path, GError **error)
{
  return pst_mbox_open_blocks (path, BLOCK, error);
}

PstMbox *
pst_mbox_open_blocks (const char *path, gsize block, GError **error)
{
  g_autoptr (PstMbox) mbox = NULL;

  g_return_val_if_fail (block > 0, NULL);
  mbox = g_new0 (PstMbox, 1);
  if ((mbox->in = open (path, O_RDONLY | O_CLOEXEC)) < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s", g_strerror (errno));
      return NULL;
    }
  mbox->block = g_malloc (block);
  mbox->block_size = block;
  mbox->copy = g_malloc (PIECE);
  mbox->out = g_malloc (BLOCK);
  mbox->next_start = TRUE;
  mbox->max = PST_MBOX_MAX_MESSAGE;
  read_line (mbox);
  if (mbox->len < 0 && mbox->read_errno != 0)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s", g_strerror (mbox->read_errno));
  else if (mbox->len < 0)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("the mbox is empty: no message to import"));
  else if (!is_from_line (mbox->line, mbox->len))
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 _("not an mbox: it does not begin with a \"From \" line"));
  else
    {
      mbox->at_from = TRUE;
      return g_steal_pointer (&mbox);
    }
  return NULL;
}

void
pst_mbox_free (PstMbox *mbox)
{
  if (mbox == NULL)
    return;
  if (mbox->in >= 0)
    close (mbox->in);
  g_free (mbox->block);
  g_free (mbox->copy);
  g_free (mbox->out);
  g_free (mbox);
}

guint
pst_mbox_index (PstMbox *mbox)
{
  return mbox->index;
}

void
pst_mbox_set_max_message (PstMbox *mbox, gsize max)
{
  mbox->max = max;
}

gboolean
pst_mbox_has_next (PstMbox *mbox)
{
  return mbox->at_from;
}

static gboolean
write_all (int fd, const char *data, size_t len, GError **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s", g_strerror (errno));
          return FALSE;
        }
      data += n;
      len -= (size_t) n;
    }
  return TRUE;
}

/* Writes what is kept for @fd. */
static gboolean
flush_out (PstMbox *mbox, int fd, GError **error)
{
  gsize len = mbox->out_len;

  mbox->out_len = 0;
  return write_all (fd, mbox->out, len, error);
}

/* @len bytes more for @fd: kept, and written a block at a time. */
static gboolean
put (PstMbox *mbox, int fd, const char *data, gsize len, GError **error)
{
  if (len > BLOCK - mbox->out_len && !flush_out (mbox, fd, error))
    return FALSE;
  if (len >= BLOCK)
    return write_all (fd, data, len, error);
  memcpy (mbox->out + mbox->out_len, data, len);
  mbox->out_len += len;
  return TRUE;
}

int
pst_mbox_next (PstMbox *mbox, GError **error)
{
  ssize_t held = 0;   /* an empty line not written yet (its length): the last of the message? */
  gsize size = 0;     /* what the message holds so far */
  gboolean too_large = FALSE;
  int fd;

  if (!mbox->at_from)
    return -1;
  mbox->at_from = FALSE;
  if ((fd = memfd_create ("postern-import", MFD_CLOEXEC)) < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "memfd: %s", g_strerror (errno));
      return -1;
    }
  mbox->index++;
  mbox->out_len = 0;
  /* The rest of a "From " line longer than a piece is not the message's. */
  while (!mbox->next_start && mbox->len >= 0)
    read_line (mbox);
  for (read_line (mbox); mbox->len >= 0; read_line (mbox))
    {
      const char *line = mbox->line;
      ssize_t len = mbox->len;
      gboolean start = mbox->line_start;

      if (held > 0 && start && is_from_line (line, len))
        {
          mbox->at_from = TRUE;
          break;
        }
      /* Kept as it was ("\r\n" too) when it is not the last. */
      if (held > 0 && !too_large && !put (mbox, fd, &"\r\n"[2 - held], (gsize) held, error))
        goto fail;
      size += (gsize) held;
      held = start && is_empty_line (line, len) ? len : 0;
      if (held > 0)
        continue;
      if (start && is_quoted_from (line, len))
        line++, len--;
      /* Past the cap the rest is read, not kept. */
      size += (gsize) len;
      too_large = too_large || size > mbox->max;
      if (!too_large && !put (mbox, fd, line, (gsize) len, error))
        goto fail;
    }
  if (mbox->len < 0 && mbox->read_errno != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s", g_strerror (mbox->read_errno));
      goto fail;
    }
  if (too_large)
    {
      close (fd);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("the message is larger than %u MiB; not imported"),
                   (guint) (mbox->max >> 20));
      return -1;
    }
  if (!flush_out (mbox, fd, error))
    goto fail;
  if (lseek (fd, 0, SEEK_SET) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "memfd: %s", g_strerror (errno));
      goto fail;
    }
  return fd;
fail:
  close (fd);
  mbox->at_from = FALSE;
  return -1;
}

/* The bytes of @fd from where it is to @out, quoted (pst_mbox_write), in
 * blocks of @block bytes: a line at a time (getline and fwrite), a 265 MB
 * message took the CLI twice its time.  A line's quoting '>' is written
 * before its "From ", after its '>'s, which gives the same bytes, so a run
 * of '>'s cut by a block's end needs no look back; only "From "'s first
 * bytes are carried over to the next block.  *@last: the last byte
 * written of the message ('\n' when none was). */
static gboolean
write_quoted (FILE *out, int fd, gsize block, char *last, GError **error)
{
  g_autofree char *buf = g_malloc (block + 4);
  gsize have = 0;                  /* carried bytes at the start of @buf */
  gboolean line_start = TRUE;      /* @buf begins at a line's start (or in its '>'s) */

  for (;;)
    {
      ssize_t n = read (fd, buf + have, block);
      gsize i = 0, from = 0, end;
      gboolean eof;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s", g_strerror (errno));
          return FALSE;
        }
      eof = n == 0;
      end = have + (gsize) n;
      have = 0;
      while (i < end)
        {
          const char *nl;

          if (line_start)
            {
              gsize j = i;

              while (j < end && buf[j] == '>')
                j++;
              if (!eof && end - j < 5 && memcmp (buf + j, "From ", end - j) == 0)
                {
                  /* Cut by the block's end: "From "'s first bytes, if
                   * any, go on in the next block. */
                  fwrite (buf + from, 1, j - from, out);
                  if (j > from)
                    *last = buf[j - 1];
                  have = end - j;
                  memmove (buf, buf + j, have);
                  from = i = end;
                  break;
                }
              if (end - j >= 5 && memcmp (buf + j, "From ", 5) == 0)
                {
                  fwrite (buf + from, 1, j - from, out);
                  fputc ('>', out);
                  from = j;
                }
              i = j;
            }
          nl = memchr (buf + i, '\n', end - i);
          line_start = nl != NULL;
          i = nl != NULL ? (gsize) (nl - buf) + 1 : end;
        }
      if (from < i)
        {
          fwrite (buf + from, 1, i - from, out);
          *last = buf[i - 1];
        }
      if (eof)
        return TRUE;
    }
}

gboolean
pst_mbox_write (FILE *out, const char *sender, gint64 date, int fd, GError **error)
{
  return pst_mbox_write_blocks (out, sender, date, fd, 1024 * 1024, error);
}

gboolean
pst_mbox_write_blocks (FILE *out, const char *sender, gint64 date, int fd, gsize block,
                       GError **error)
{
  static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  time_t t = (time_t) date;
  struct tm tm;
  char last = '\n';
  gboolean ok;

  g_return_val_if_fail (block > 0, FALSE);
  if (lseek (fd, 0, SEEK_SET) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s", g_strerror (errno));
      return FALSE;
    }
  /* asctime's form, in English whatever the locale (RFC 4155). */
  gmtime_r (&t, &tm);
  fprintf (out, "From %s %s %s %2d %02d:%02d:%02d %d\n", sender, days[tm.tm_wday % 7],
           months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           tm.tm_year + 1900);
  /* Ended as an entry even when the message could not be read to its
   * end, so that the next entry's "From " line begins a line. */
  ok = write_quoted (out, fd, block, &last, error);
  if (last != '\n')
    fputc ('\n', out);
  fputc ('\n', out);
  if (!ok)
    return FALSE;
  if (ferror (out))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}
