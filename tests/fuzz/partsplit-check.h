/* partsplit-check.h — the differential check of mime/partsplit.h against
 * pst_mime_split_multipart, shared by fuzz-partsplit.c and the unit test
 * test-partsplit.c.  Input: byte 0 chooses the size of the pieces the body
 * is fed in (1 to 64, or all at once), the rest is a multipart body with
 * boundary "b".  The streamed parts must be exactly the spans: as many,
 * at the same offsets, with the same bytes. */
#pragma once

#include <glib.h>
#include <string.h>

#include "mime/mime.h"
#include "mime/partsplit.h"

typedef struct {
  GArray *offsets;          /* guint64 */
  GPtrArray *parts;         /* GByteArray */
  int open;                 /* the part begun and not ended, or -1 */
  gboolean order_ok;
} PartsplitSeen;

static void
partsplit_seen_start (gpointer data, int index, guint64 offset)
{
  PartsplitSeen *s = data;

  if (s->open != -1 || index != (int) s->parts->len)
    s->order_ok = FALSE;
  s->open = index;
  g_array_append_val (s->offsets, offset);
  g_ptr_array_add (s->parts, g_byte_array_new ());
}

static void
partsplit_seen_bytes (gpointer data, int index, const char *bytes, gsize len)
{
  PartsplitSeen *s = data;

  if (index != s->open || len == 0)
    s->order_ok = FALSE;
  else
    g_byte_array_append (s->parts->pdata[index], (const guint8 *) bytes, (guint) len);
}

static void
partsplit_seen_end (gpointer data, int index)
{
  PartsplitSeen *s = data;

  if (index != s->open)
    s->order_ok = FALSE;
  s->open = -1;
}

/* NULL when the streamed parts are the spans, else what differs (static). */
static inline const char *
partsplit_check (const guint8 *data, gsize size)
{
  static const PstPartSplitFuncs funcs = { partsplit_seen_start, partsplit_seen_bytes,
                                           partsplit_seen_end };
  PartsplitSeen seen = { g_array_new (FALSE, FALSE, sizeof (guint64)),
                         g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref), -1,
                         TRUE };
  g_autoptr(GArray) spans = NULL;
  const char *body, *why = NULL;
  gsize len, piece;
  PstPartSplit *split;
  gboolean judged = TRUE;

  if (size == 0)
    return NULL;
  piece = data[0] < 192 ? (gsize) (data[0] % 64) + 1 : G_MAXSIZE;
  body = (const char *) data + 1;
  len = size - 1;
  spans = pst_mime_split_multipart (body, len, "b", NULL);
  split = pst_part_split_new ("b", 0, &funcs, &seen);
  for (gsize pos = 0; pos < len && judged; pos += MIN (piece, len - pos))
    judged = pst_part_split_feed (split, body + pos, MIN (piece, len - pos));
  judged = judged && pst_part_split_end (split);
  if (!judged)
    goto out;   /* a long line of white space: not judged there */
  if (!seen.order_ok || seen.open != -1)
    why = "callbacks out of order";
  else if ((int) seen.parts->len != pst_part_split_parts (split))
    why = "parts counted differently";
  else if (seen.parts->len != (spans != NULL ? spans->len : 0))
    why = "a different number of parts";
  else
    for (guint i = 0; i < seen.parts->len && why == NULL; i++)
      {
        const PstMimeSpan *span = &g_array_index (spans, PstMimeSpan, i);
        GByteArray *got = seen.parts->pdata[i];

        if (g_array_index (seen.offsets, guint64, i) != span->offset)
          why = "a part at another offset";
        else if (got->len != span->length
                 || (got->len > 0 && memcmp (got->data, body + span->offset, got->len) != 0))
          why = "a part with other bytes";
      }
out:
  pst_part_split_free (split);
  g_array_unref (seen.offsets);
  g_ptr_array_unref (seen.parts);
  return why;
}
