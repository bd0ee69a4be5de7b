/* mbox.h — reading mbox files (mboxo and mboxrd) one message at a time, and
 * writing mboxrd (postern import and export --all, cli/import.c, cli/export-all.c). */
#pragma once

#include <stdio.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PstMbox PstMbox;

/* The largest message an import takes (the agent's cap too). */
#define PST_MBOX_MAX_MESSAGE ((gsize) 64 * 1024 * 1024)

/* Opens @path to read.  Errors (PST_ERROR_FAILED, naming no path): the
 * file cannot be read, is empty, or does not begin with a "From " line
 * (not an mbox).  Transfer full. */
PstMbox *pst_mbox_open (const char *path, GError **error);
/* The same, reading the file @block bytes at a time (pst_mbox_open: 1 MiB),
 * for tests of what a block's end cuts. */
PstMbox *pst_mbox_open_blocks (const char *path, gsize block, GError **error);
void pst_mbox_free (PstMbox *mbox);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstMbox, pst_mbox_free)

/* The next message, in a memfd of its own positioned at its start: its
 * "From " line not part of it, one '>' taken from each line that begins
 * with '>'s and "From " (mboxrd; see mbox.c for mboxo), the empty line that
 * ends each message in an mbox dropped.  -1 at the end (@error unset) or on
 * an error.  The caller closes it.  A message larger than the cap is an
 * error after which pst_mbox_has_next says whether another one follows;
 * after any other error, none does.  Memory stays bounded (see mbox.c). */
int pst_mbox_next (PstMbox *mbox, GError **error);
/* Whether pst_mbox_next has another message to give. */
gboolean pst_mbox_has_next (PstMbox *mbox);
/* The cap on a message's size (default PST_MBOX_MAX_MESSAGE). */
void pst_mbox_set_max_message (PstMbox *mbox, gsize max);
/* The number (from 1) of the message pst_mbox_next gave last. */
guint pst_mbox_index (PstMbox *mbox);

/* Writes the message that @fd holds (read from offset 0) to @out as one
 * mboxrd entry: "From @sender DATE" (@date unix seconds, UTC, in asctime
 * form), the lines of the message with every line that begins with '>'s and
 * "From " given one '>' more, a line end added when the message has none at
 * its end, then an empty line. */
gboolean pst_mbox_write (FILE *out, const char *sender, gint64 date, int fd, GError **error);
/* pst_mbox_write reading @fd in blocks of @block bytes (1 MiB there; more
 * than 0): for tests of what a block's end cuts. */
gboolean pst_mbox_write_blocks (FILE *out, const char *sender, gint64 date, int fd, gsize block,
                                GError **error);

G_END_DECLS
