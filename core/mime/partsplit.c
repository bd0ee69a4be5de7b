/* partsplit.c — see partsplit.h.  Why our own: mime.c's splitter and
 * libetpan's parser work on a body held whole in memory. */
#include "mime/partsplit.h"

#include <string.h>

#include "mime/mime.h"

struct _PstPartSplit {
  char *boundary;
  gsize blen;
  const PstPartSplitFuncs *funcs;
  gpointer data;
  guint64 pos;              /* of the next byte */
  int part;                 /* -1: the preamble */
  gboolean started;         /* part_start was called for it */
  guint64 part_offset;
  gboolean closed;
  gboolean failed;
  gboolean line_start;
  gboolean in_cand;         /* the line so far may be a delimiter */
  char cand[PST_PART_SPLIT_MAX_CANDIDATE];
  gsize cand_len;
  char eol[2];              /* the line end before this line, held */
  gsize eol_len;
  gboolean held_cr;         /* a CR that may start the line end */
};

PstPartSplit *
pst_part_split_new (const char *boundary, guint64 offset, const PstPartSplitFuncs *funcs,
                    gpointer data)
{
  PstPartSplit *s = g_new0 (PstPartSplit, 1);

  s->boundary = g_strdup (boundary);
  s->blen = strlen (boundary);
  s->funcs = funcs;
  s->data = data;
  s->pos = offset;
  s->part = -1;
  s->line_start = TRUE;
  return s;
}

void
pst_part_split_free (PstPartSplit *s)
{
  if (s == NULL)
    return;
  explicit_bzero (s->cand, sizeof s->cand);
  g_free (s->boundary);
  g_free (s);
}

int
pst_part_split_parts (PstPartSplit *s)
{
  return s->part + 1;
}

gboolean
pst_part_split_closed (PstPartSplit *s)
{
  return s->closed;
}

/* A part is begun with its first byte or its delimiter: an empty part at
 * the end of the body without a close delimiter is none (as
 * pst_mime_split_multipart has it). */
static void
start (PstPartSplit *s)
{
  if (s->started)
    return;
  s->started = TRUE;
  s->funcs->part_start (s->data, s->part, s->part_offset);
}

static void
bytes (PstPartSplit *s, const char *data, gsize len)
{
  if (len == 0 || s->part < 0)
    return;
  start (s);
  s->funcs->part_bytes (s->data, s->part, data, len);
}

static void
flush_eol (PstPartSplit *s)
{
  bytes (s, s->eol, s->eol_len);
  s->eol_len = 0;
}

/* Whether the line begun in s->cand may still be a delimiter, given that
 * it could be before its last character came: only that one is checked
 * (checking the whole line at each character made a candidate line
 * quadratic, up to half a million comparisons for one of 1 KiB).  A
 * delimiter: "--", the boundary, "--" or nothing, then blanks, a CR
 * only last. */
static gboolean
may_be_delimiter (PstPartSplit *s)
{
  gsize i = s->cand_len - 1, b = s->blen + 2;
  char c = s->cand[i];

  if (i < b)
    return c == (i < 2 ? '-' : s->boundary[i - 2]);
  if (i > b && s->cand[i - 1] == '\r')
    return FALSE;
  if (i == b && c == '-')
    return TRUE;
  if (i == b + 1 && s->cand[b] == '-')
    return c == '-';
  return c == ' ' || c == '\t' || c == '\r';
}

static void
delimiter (PstPartSplit *s, gboolean close)
{
  s->eol_len = 0;   /* the line end before a delimiter is the delimiter's */
  if (s->part >= 0)
    {
      start (s);
      s->funcs->part_end (s->data, s->part);
    }
  if (close)
    {
      s->closed = TRUE;
      return;
    }
  s->part++;
  s->started = FALSE;
  s->part_offset = s->pos;
}

/* The line in s->cand ended (@nl: with an LF, else at the end). */
static void
cand_line_end (PstPartSplit *s, gboolean nl)
{
  gsize len = s->cand_len;
  gboolean cr = nl && len > 0 && s->cand[len - 1] == '\r', close = FALSE;

  /* line_end takes one CR before an LF, none without (where
   * pst_mime_is_delimiter would take it). */
  if ((nl || len == 0 || s->cand[len - 1] != '\r')
      && pst_mime_is_delimiter (s->cand, len, s->boundary, &close))
    {
      delimiter (s, close);
      return;
    }
  if (cr)
    len--;
  flush_eol (s);
  bytes (s, s->cand, len);
  if (nl)
    {
      memcpy (s->eol, cr ? "\r\n" : "\n", cr ? 2 : 1);
      s->eol_len = cr ? 2 : 1;
    }
}

gboolean
pst_part_split_feed (PstPartSplit *s, const char *data, gsize len)
{
  while (len > 0 && !s->closed && !s->failed)
    {
      if (s->line_start)
        {
          s->line_start = FALSE;
          s->in_cand = TRUE;
          s->cand_len = 0;
        }
      if (s->in_cand)
        {
          char c = *data++;

          len--;
          s->pos++;
          if (c == '\n')
            {
              cand_line_end (s, TRUE);
              s->line_start = TRUE;
              continue;
            }
          if (s->cand_len == sizeof s->cand)
            {
              s->failed = TRUE;
              break;
            }
          s->cand[s->cand_len++] = c;
          if (!may_be_delimiter (s))
            {
              gboolean cr = s->cand[s->cand_len - 1] == '\r';

              flush_eol (s);
              bytes (s, s->cand, s->cand_len - (cr ? 1 : 0));
              s->held_cr = cr;
              s->in_cand = FALSE;
            }
          continue;
        }
      {
        const char *nl = memchr (data, '\n', len);
        gsize n = nl != NULL ? (gsize) (nl - data) : len;

        if (n > 0)
          {
            gboolean cr = data[n - 1] == '\r';

            if (s->held_cr)
              bytes (s, "\r", 1);
            bytes (s, data, n - (cr ? 1 : 0));
            s->held_cr = cr;
          }
        s->pos += n;
        data += n;
        len -= n;
        if (nl != NULL)
          {
            memcpy (s->eol, s->held_cr ? "\r\n" : "\n", s->held_cr ? 2 : 1);
            s->eol_len = s->held_cr ? 2 : 1;
            s->held_cr = FALSE;
            s->pos++;
            data++;
            len--;
            s->line_start = TRUE;
          }
      }
    }
  s->pos += len;   /* after the close delimiter: nothing counts */
  return !s->failed;
}

gboolean
pst_part_split_end (PstPartSplit *s)
{
  if (s->failed)
    return FALSE;
  if (s->closed)
    return TRUE;
  if (s->in_cand && !s->line_start)
    cand_line_end (s, FALSE);
  else
    {
      if (s->held_cr)
        bytes (s, "\r", 1);
      flush_eol (s);
    }
  s->held_cr = FALSE;
  if (s->closed)
    return TRUE;   /* the last line was the close delimiter */
  if (s->part >= 0 && s->started)
    s->funcs->part_end (s->data, s->part);
  else if (s->part >= 0)
    s->part--;
  return TRUE;
}
