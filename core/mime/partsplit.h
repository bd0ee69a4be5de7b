/* partsplit.h — the body parts of a multipart body as it streams past:
 * pst_mime_split_multipart (mime.h) line by line, for bodies too large to
 * hold (mime/smimeread.c).  The same rules: a delimiter line is what
 * pst_mime_is_delimiter says of a line without its line end (mime.c's
 * line_end: an LF, and one CR before it), a part runs from after its
 * delimiter line to the line end before the next delimiter (which belongs
 * to the delimiter), a missing close delimiter is tolerated (the last part
 * then runs to the end, its last line end included), and after the close
 * delimiter nothing counts.  Memory: a line is held only while it may
 * still be a delimiter (at most PST_PART_SPLIT_MAX_CANDIDATE bytes). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PST_PART_SPLIT_MAX_CANDIDATE 1024

typedef struct {
  /* Part @index (0 for the first) starts at @offset of the stream. */
  void (*part_start) (gpointer data, int index, guint64 offset);
  /* Bytes of part @index, in order; all of them are the part's span. */
  void (*part_bytes) (gpointer data, int index, const char *bytes, gsize len);
  /* Part @index ended: at its delimiter, or at the end of the body. */
  void (*part_end) (gpointer data, int index);
} PstPartSplitFuncs;

typedef struct _PstPartSplit PstPartSplit;

/* A splitter for the body with @boundary (at most 200 bytes) that starts
 * at @offset of the stream.  Transfer full. */
PstPartSplit *pst_part_split_new (const char *boundary, guint64 offset,
                                  const PstPartSplitFuncs *funcs, gpointer data);
void pst_part_split_free (PstPartSplit *split);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPartSplit, pst_part_split_free)

/* The next bytes of the body.  FALSE when a line that may be a delimiter
 * is longer than PST_PART_SPLIT_MAX_CANDIDATE (white space after the
 * boundary): not judged here. */
gboolean pst_part_split_feed (PstPartSplit *split, const char *data, gsize len);
/* The end of the body (the last line without its line end judged).
 * FALSE as above. */
gboolean pst_part_split_end (PstPartSplit *split);
/* The parts begun so far, and whether the close delimiter was met. */
int pst_part_split_parts (PstPartSplit *split);
gboolean pst_part_split_closed (PstPartSplit *split);

G_END_DECLS
