/* test-mbox.c — core/mime/mbox.c: splitting mboxo and mboxrd files into
 * messages, undoing the quoting, and writing mboxrd that reads back the
 * same. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mime/mbox.h"

/* @text in a temporary file; its path.  Transfer full. */
static char *
temp_file (const char *text)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("test-mbox-XXXXXX", &path, &error);

  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
  close (fd);
  return path;
}

/* What @fd holds; closes it.  Transfer full. */
static char *
slurp (int fd)
{
  GString *s = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  assert_int_equal (lseek (fd, 0, SEEK_CUR), 0);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (s, buf, n);
  close (fd);
  return g_string_free (s, FALSE);
}

/* The messages of mbox @text, as a NULL-terminated array. */
static char **
messages_of (const char *text)
{
  g_autofree char *path = temp_file (text);
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMbox) mbox = pst_mbox_open (path, &error);
  GPtrArray *out = g_ptr_array_new ();
  int fd;

  assert_non_null (mbox);
  while ((fd = pst_mbox_next (mbox, &error)) >= 0)
    {
      g_ptr_array_add (out, slurp (fd));
      assert_int_equal (pst_mbox_index (mbox), out->len);
    }
  assert_null (error);
  g_unlink (path);
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static void
test_split (void **state)
{
  g_auto (GStrv) m = messages_of (
      "From a@example.org Sat Dec  5 10:00:00 2026\n"
      "Subject: one\n\n>From the start\n>From quoted once\n>>From quoted twice\n"
      ">not a From line\nno blank line before\nFrom this is text\n\n"
      "From b@example.org Sat Dec  5 10:00:00 2026\n"
      "Subject: two\r\n\r\nbody\r\n\r\n\r\n"
      "From c@example.org Sat Dec  5 10:00:00 2026\n"
      "Subject: three, no end of line");

  (void) state;
  assert_int_equal (g_strv_length (m), 3);
  /* One '>' is taken from each quoted "From " line (mboxrd); a "From "
   * line begins a message only after an empty line. */
  assert_string_equal (m[0], "Subject: one\n\nFrom the start\nFrom quoted once\n>From quoted twice\n"
                             ">not a From line\nno blank line before\nFrom this is text\n");
  /* CRLF kept; of the two empty lines at its end, the last is the mbox's. */
  assert_string_equal (m[1], "Subject: two\r\n\r\nbody\r\n\r\n");
  assert_string_equal (m[2], "Subject: three, no end of line");
}

static void
test_not_mbox (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *empty = temp_file ("");
  g_autofree char *text = temp_file ("Subject: no From line\n\nbody\n");
  PstMbox *mbox;

  (void) state;
  assert_null (mbox = pst_mbox_open (empty, &error));
  assert_non_null (strstr (error->message, "empty"));
  g_clear_error (&error);
  assert_null (mbox = pst_mbox_open (text, &error));
  assert_non_null (strstr (error->message, "not an mbox"));
  g_clear_error (&error);
  assert_null (mbox = pst_mbox_open ("/nonexistent/mbox", &error));
  assert_non_null (error);
  g_unlink (empty);
  g_unlink (text);
}

/* mboxrd written, then read: the same messages. */
static void
test_round_trip (void **state)
{
  static const char *const messages[] = {
    "Subject: a\n\nFrom here\n>From there\n>>>From far\nplain\n",
    "Subject: b\n\nno final line end",
    "Subject: c\r\n\r\nFrom crlf\r\n",
  };
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) back = NULL;
  g_autofree char *text = NULL;
  FILE *out;
  int fd = g_file_open_tmp ("test-mbox-XXXXXX", &path, &error);

  (void) state;
  assert_true (fd >= 0);
  out = fdopen (fd, "w");
  for (gsize i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      int m = memfd_create ("m", MFD_CLOEXEC);

      assert_int_equal (write (m, messages[i], strlen (messages[i])), (ssize_t) strlen (messages[i]));
      assert_true (pst_mbox_write (out, "a@example.org", 1796464800, m, &error));
      close (m);
    }
  fclose (out);
  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  /* asctime's form, UTC; one '>' more on every From line of a message. */
  assert_non_null (strstr (text, "From a@example.org Sat Dec  5 10:00:00 2026\nSubject: a\n\n>From here\n"
                                 ">>From there\n>>>>From far\n"));
  back = messages_of (text);
  assert_int_equal (g_strv_length (back), 3);
  assert_string_equal (back[0], messages[0]);
  /* A line end is added to a message that had none. */
  assert_string_equal (back[1], "Subject: b\n\nno final line end\n");
  assert_string_equal (back[2], messages[2]);
  g_unlink (path);
}

/* What pst_mbox_write gives for @message after its "From " line: each
 * line that begins with '>'s and "From " with one '>' more, a line end
 * where the last line has none, and the empty line (the rule, a line at a
 * time). */
static GString *
quoted_by_lines (const char *message, gsize len)
{
  GString *want = g_string_new (NULL);
  gsize at = 0;

  while (at < len)
    {
      const char *nl = memchr (message + at, '\n', len - at);
      gsize end = nl ? (gsize) (nl - message) + 1 : len, j = at;

      while (j < end && message[j] == '>')
        j++;
      if (end - j >= 5 && memcmp (message + j, "From ", 5) == 0)
        g_string_append_c (want, '>');
      g_string_append_len (want, message + at, (gssize) (end - at));
      at = end;
    }
  if (len > 0 && message[len - 1] != '\n')
    g_string_append_c (want, '\n');
  g_string_append_c (want, '\n');
  return want;
}

/* pst_mbox_write_blocks gives what the rule gives, whatever a block's end
 * cuts: a "From " or a run of '>'s before one, at a line's start or not,
 * at the end of the message, a line end or none; in blocks of 1 to 13
 * bytes and of 1 MiB. */
static void
test_write_blocks (void **state)
{
  static const char *const pieces[] = {
    "From ", "From", "Fro", "F", ">", ">>>>>>>>>>>>>>>>", "x", " ", "\n", "\r\n", "From x\n",
    ">From y\n", ">>>From z\n", "text From mid\n", "\n\n",
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed (4155);
  (void) state;

  for (guint r = 0; r < 300; r++)
    {
      g_autoptr(GString) m = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 0, 40);

      for (guint k = 0; k < n; k++)
        g_string_append (m, pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))]);
      g_autoptr(GString) want = quoted_by_lines (m->str, m->len);
      int fd = memfd_create ("m", MFD_CLOEXEC);

      assert_int_equal (write (fd, m->str, m->len), (ssize_t) m->len);
      for (gsize block = 1; block <= 14; block++)
        {
          gsize b = block == 14 ? 1024 * 1024 : block;
          g_autofree char *got = NULL;
          size_t got_len = 0;
          g_autoptr(GError) error = NULL;
          FILE *out = open_memstream (&got, &got_len);
          const char *body;

          assert_true (pst_mbox_write_blocks (out, "a@example.org", 1796464800, fd, b, &error));
          fclose (out);
          body = memchr (got, '\n', got_len) + 1;
          if (got_len - (gsize) (body - got) != want->len || memcmp (body, want->str, want->len) != 0)
            fail_msg ("message %u in blocks of %zu: got \"%.*s\", want \"%s\"", r, b,
                      (int) (got_len - (gsize) (body - got)), body, want->str);
        }
      close (fd);
    }
}

/* The messages pst_mbox_open_blocks reads from @path in blocks of @block
 * bytes, a message over @max as "too large", one line each. */
static GString *
read_in_blocks (const char *path, gsize block, gsize max)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PstMbox) mbox = pst_mbox_open_blocks (path, block, &error);
  GString *all = g_string_new (NULL);

  assert_non_null (mbox);
  pst_mbox_set_max_message (mbox, max);
  for (;;)
    {
      int fd = pst_mbox_next (mbox, &error);

      if (fd >= 0)
        {
          g_autofree char *m = slurp (fd);

          g_string_append_printf (all, "%u [%s]\n", pst_mbox_index (mbox), m);
          continue;
        }
      if (error == NULL)
        break;
      assert_non_null (strstr (error->message, "larger than"));
      g_string_append_printf (all, "%u too large\n", pst_mbox_index (mbox));
      g_clear_error (&error);
    }
  return all;
}

/* What a block's end cuts changes nothing: random mboxes of "From " lines,
 * quoted ones, empty lines (LF and CRLF), no final line end, read in
 * blocks of 1 to 13 bytes, and with lines longer than a piece too, in
 * blocks of 4 KiB, a piece and one byte either side, give the messages
 * read in one block, with a cap on their size and without. */
static void
test_read_blocks (void **state)
{
  static const char *const pieces[] = {
    "From a@example.org Sat Dec  5 10:00:00 2026\n", "\n", "\r\n", "From ", ">From x\n",
    ">>From y\n", "From z\n", "text\n", "From", "\n\nFrom b@example.org Sat Dec  5 10:00:00 2026\n",
    "Subject: s\r\n", "x", ">", "LONG",
  };
  static const gsize small[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0 };
  static const gsize large[] = { 4096, 65535, 65536, 65537, 0 };
  g_autoptr(GRand) rand = g_rand_new_with_seed (4155);
  g_autofree char *longline = g_strnfill (70000, 'l');
  (void) state;

  for (guint r = 0; r < 16; r++)
    {
      /* Odd: with long lines, in large blocks. */
      const gsize *blocks = r % 2 ? large : small;
      guint kinds = G_N_ELEMENTS (pieces) - (r % 2 ? 0 : 1);
      g_autoptr(GString) text = g_string_new ("From first@example.org Sat Dec  5 10:00:00 2026\n");
      g_autoptr(GError) error = NULL;
      g_autofree char *path = NULL;
      guint n = g_rand_int_range (rand, 0, 300);
      int fd;

      for (guint k = 0; k < n; k++)
        {
          const char *p = pieces[g_rand_int_range (rand, 0, (gint32) kinds)];

          g_string_append (text, g_str_equal (p, "LONG") ? longline : p);
        }
      fd = g_file_open_tmp ("test-mbox-XXXXXX", &path, &error);
      assert_true (fd >= 0);
      assert_int_equal (write (fd, text->str, text->len), (ssize_t) text->len);
      close (fd);
      for (guint capped = 0; capped < 2; capped++)
        {
          gsize max = capped ? 300 : PST_MBOX_MAX_MESSAGE;
          g_autoptr(GString) want = read_in_blocks (path, text->len + 1, max);

          for (gsize b = 0; blocks[b] != 0; b++)
            {
              g_autoptr(GString) got = read_in_blocks (path, blocks[b], max);

              if (!g_string_equal (got, want))
                fail_msg ("mbox %u (%zu bytes), blocks of %zu, cap %zu: got \"%s\", want \"%s\"", r,
                          text->len, blocks[b], max, got->str, want->str);
            }
        }
      g_unlink (path);
    }
}

/* A message that cannot be read (a directory's descriptor: read fails
 * with EISDIR) fails the write, and what was written of its entry still
 * ends as an entry does, so that the next one's "From " line begins a
 * line. */
static void
test_write_read_error (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *got = NULL;
  size_t got_len = 0;
  FILE *out = open_memstream (&got, &got_len);
  int dir = open (g_get_tmp_dir (), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  (void) state;
  assert_true (dir >= 0);
  assert_false (pst_mbox_write_blocks (out, "a@example.org", 1796464800, dir, 7, &error));
  assert_non_null (error);
  fclose (out);
  close (dir);
  /* (Where the file system refuses lseek on a directory, nothing was.) */
  if (got_len > 0)
    {
      assert_true (g_str_has_prefix (got, "From a@example.org "));
      assert_true (g_str_has_suffix (got, "\n\n"));
    }
}

/* A line longer than a piece of the reader comes back whole, and a "From "
 * inside it (at a piece's start) begins nothing. */
static void
test_long_line (void **state)
{
  GString *text = g_string_new ("From a@example.org Sat Dec  5 10:00:00 2026\nSubject: long\n\n");
  g_autofree char *line = NULL;
  g_autofree char *want = NULL;
  g_auto (GStrv) m = NULL;
  GString *body = g_string_new (NULL);

  (void) state;
  /* 64 KiB of 'x', then "\n\nFrom " mid-line at the next piece's start. */
  g_string_append_c (body, 'y');
  for (int i = 0; i < 3 * 65536; i++)
    g_string_append_c (body, i == 65536 - 1 ? '\n' : 'x');
  g_string_append (body, "From not a message\n>From quoted\n");
  line = g_string_free (body, FALSE);
  g_string_append (text, line);
  g_string_append (text, "\nFrom b@example.org Sat Dec  5 10:00:00 2026\nSubject: two\n");
  m = messages_of (text->str);
  g_string_free (text, TRUE);
  assert_int_equal (g_strv_length (m), 2);
  want = g_strconcat ("Subject: long\n\n", line, NULL);
  /* The quoted line loses its '>'; the one inside the long line keeps all. */
  want[strlen (want) - strlen (">From quoted\n")] = '\0';
  assert_int_equal (strlen (m[0]), strlen (want) + strlen ("From quoted\n"));
  assert_memory_equal (m[0], want, strlen (want));
  assert_string_equal (m[0] + strlen (want), "From quoted\n");
  assert_string_equal (m[1], "Subject: two\n");
}

/* A "From " line longer than a piece is all the envelope's. */
static void
test_long_from_line (void **state)
{
  GString *text = g_string_new ("From ");
  g_auto (GStrv) m = NULL;

  (void) state;
  for (int i = 0; i < 200000; i++)
    g_string_append_c (text, 'a');
  g_string_append (text, "\nSubject: one\n\nbody\n\nFrom ");
  for (int i = 0; i < 70000; i++)
    g_string_append_c (text, 'b');
  g_string_append (text, "\nSubject: two\n");
  m = messages_of (text->str);
  g_string_free (text, TRUE);
  assert_int_equal (g_strv_length (m), 2);
  assert_string_equal (m[0], "Subject: one\n\nbody\n");
  assert_string_equal (m[1], "Subject: two\n");
}

/* A message over the cap is reported and skipped; the next one is read. */
static void
test_too_large (void **state)
{
  g_autofree char *path = temp_file ("From a@example.org Sat Dec  5 10:00:00 2026\nSubject: small\n\nok\n\n"
                                     "From b@example.org Sat Dec  5 10:00:00 2026\nSubject: large\n\n"
                                     "0123456789012345678901234567890123456789\n\n"
                                     "From c@example.org Sat Dec  5 10:00:00 2026\nSubject: last\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMbox) mbox = pst_mbox_open (path, &error);
  g_autofree char *first = NULL;
  g_autofree char *last = NULL;

  (void) state;
  assert_non_null (mbox);
  pst_mbox_set_max_message (mbox, 40);
  first = slurp (pst_mbox_next (mbox, &error));
  assert_string_equal (first, "Subject: small\n\nok\n");
  assert_int_equal (pst_mbox_next (mbox, &error), -1);
  assert_non_null (error);
  assert_non_null (strstr (error->message, "larger than"));
  assert_int_equal (pst_mbox_index (mbox), 2);
  assert_true (pst_mbox_has_next (mbox));
  g_clear_error (&error);
  last = slurp (pst_mbox_next (mbox, &error));
  assert_string_equal (last, "Subject: last\n");
  assert_int_equal (pst_mbox_next (mbox, &error), -1);
  assert_null (error);
  assert_false (pst_mbox_has_next (mbox));
  g_unlink (path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_split),
    cmocka_unit_test (test_not_mbox),
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_write_blocks),
    cmocka_unit_test (test_read_blocks),
    cmocka_unit_test (test_write_read_error),
    cmocka_unit_test (test_long_line),
    cmocka_unit_test (test_too_large),
    cmocka_unit_test (test_long_from_line),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
