/* bench-partsplit — a benchmark, not a test: the streamed multipart
 * splitter (core/mime/partsplit.c) over 16 MiB of lines that begin as a
 * delimiter and stop being one only at their 1,001st byte, the shape that
 * made it quadratic, against the same size of ordinary text lines (the
 * bound: one pass over the bytes), in one run on this machine.
 *
 *   ninja -C BUILD tests/bench/bench-partsplit
 *   BUILD/tests/bench/bench-partsplit [MIB]     (default 16) */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "mime/partsplit.h"

static guint64 total;

static void
part_start (gpointer data, int index, guint64 offset)
{
  (void) data, (void) index, (void) offset;
}

static void
part_bytes (gpointer data, int index, const char *bytes, gsize len)
{
  (void) data, (void) index, (void) bytes;
  total += len;
}

static void
part_end (gpointer data, int index)
{
  (void) data, (void) index;
}

/* Seconds to split a multipart whose one part is @line repeated to @size
 * bytes, fed in 64 KiB pieces. */
static double
split (const char *line, gsize size)
{
  static const PstPartSplitFuncs funcs = { part_start, part_bytes, part_end };
  g_autoptr (GString) body = g_string_new ("--b1\r\nContent-Type: text/plain\r\n\r\n");
  PstPartSplit *s;
  gint64 t0;

  while (body->len < size)
    g_string_append (body, line);
  g_string_append (body, "--b1--\r\n");
  total = 0;
  t0 = g_get_monotonic_time ();
  s = pst_part_split_new ("b1", 0, &funcs, NULL);
  for (gsize off = 0; off < body->len; off += 65536)
    if (!pst_part_split_feed (s, body->str + off, MIN (65536, body->len - off)))
      g_error ("the split failed");
  if (!pst_part_split_end (s) || pst_part_split_parts (s) != 1)
    g_error ("not one part");
  pst_part_split_free (s);
  return (g_get_monotonic_time () - t0) / 1e6;
}

int
main (int argc, char **argv)
{
  gsize mib = argc > 1 ? strtoul (argv[1], NULL, 10) : 16;
  g_autoptr (GString) cand = g_string_new ("--b1");
  g_autoptr (GString) text = g_string_new (NULL);
  double c, t;

  while (cand->len < 1000)
    g_string_append_c (cand, ' ');
  g_string_append (cand, "x\r\n");
  while (text->len < cand->len - 2)
    g_string_append_c (text, 'a');
  g_string_append (text, "\r\n");
  t = split (text->str, mib << 20);
  c = split (cand->str, mib << 20);
  printf ("%zu MiB of 1 KiB lines, split: ordinary text %.3f s; lines that begin as a delimiter %.3f s (%.1fx)\n",
          mib, t, c, c / t);
  return 0;
}
