/* Unit tests for core/net/linebuf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/linebuf.h"

/* Takes every complete line, joined as "[line]" so that empty lines show. */
static void
take_all (PstLinebuf *buf, GString *got)
{
  const char *line;
  gsize len;

  while (pst_linebuf_take_line (buf, &line, &len) == PST_LINEBUF_LINE)
    {
      assert_int_equal (line[len], '\0');
      g_string_append_c (got, '[');
      g_string_append_len (got, line, len);
      g_string_append_c (got, ']');
    }
}

static const char mixed[] = "one\r\ntwo\n\r\n\nthree has\rCR\r\nlast without end";
static const char mixed_lines[] = "[one][two][][][three has\rCR]";

static void
test_lines_whole (void **state)
{
  g_autoptr (PstLinebuf) buf = pst_linebuf_new (100);
  g_autoptr (GString) got = g_string_new (NULL);

  pst_linebuf_append (buf, mixed, strlen (mixed));
  take_all (buf, got);
  assert_string_equal (got->str, mixed_lines);
  assert_int_equal (pst_linebuf_get_pending (buf), strlen ("last without end"));
}

static void
test_lines_every_split (void **state)
{
  gsize n = strlen (mixed);

  /* Every split point, and one byte at a time. */
  for (gsize k = 0; k <= n; k++)
    {
      g_autoptr (PstLinebuf) buf = pst_linebuf_new (100);
      g_autoptr (GString) got = g_string_new (NULL);

      pst_linebuf_append (buf, mixed, k);
      take_all (buf, got);
      pst_linebuf_append (buf, mixed + k, n - k);
      take_all (buf, got);
      assert_string_equal (got->str, mixed_lines);
    }
  {
    g_autoptr (PstLinebuf) buf = pst_linebuf_new (100);
    g_autoptr (GString) got = g_string_new (NULL);

    for (gsize i = 0; i < n; i++)
      {
        pst_linebuf_append (buf, mixed + i, 1);
        take_all (buf, got);
      }
    assert_string_equal (got->str, mixed_lines);
    assert_int_equal (pst_linebuf_get_pending (buf), strlen ("last without end"));
  }
}

static void
test_pending_after_line (void **state)
{
  g_autoptr (PstLinebuf) buf = pst_linebuf_new (100);
  const char *line;
  gsize len;

  /* What the STARTTLS check relies on: bytes behind a line are counted. */
  pst_linebuf_append_str (buf, "220 go ahead\r\n250 x");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);
  assert_string_equal (line, "220 go ahead");
  assert_int_equal (pst_linebuf_get_pending (buf), 5);
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_NEED_MORE);
  pst_linebuf_append_str (buf, "\r\n");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);
  assert_string_equal (line, "250 x");
  assert_int_equal (pst_linebuf_get_pending (buf), 0);
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_NEED_MORE);
}

static void
test_max_line (void **state)
{
  g_autoptr (PstLinebuf) buf = pst_linebuf_new (8);
  const char *line;
  gsize len;

  assert_int_equal (pst_linebuf_get_max_line (buf), 8);
  /* Exactly 8 bytes, with CRLF or LF, are fine. */
  pst_linebuf_append_str (buf, "12345678\r\n12345678\n");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);
  assert_int_equal (len, 8);
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);
  assert_string_equal (line, "12345678");

  /* 8 bytes and a CR: the LF may still come. */
  pst_linebuf_append_str (buf, "12345678\r");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_NEED_MORE);
  pst_linebuf_append_str (buf, "\n");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);

  /* 9 bytes with a LF, with a CRLF, or without a terminator at all. */
  pst_linebuf_append_str (buf, "123456789\n");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_TOO_LONG);
  assert_int_equal (pst_linebuf_get_pending (buf), 10);
  pst_linebuf_clear (buf);
  pst_linebuf_append_str (buf, "123456789\r\n");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_TOO_LONG);
  pst_linebuf_clear (buf);
  for (int i = 0; i < 9; i++)
    {
      pst_linebuf_append_str (buf, "x");
      assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_NEED_MORE);
    }
  pst_linebuf_append_str (buf, "x");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_TOO_LONG);
  pst_linebuf_append_str (buf, "a lot more without an end");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_TOO_LONG);

  /* Raising the limit lets it through. */
  pst_linebuf_set_max_line (buf, 0);
  pst_linebuf_append_str (buf, "\n");
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);
  assert_int_equal (len, 35);
}

static void
test_nul_in_line (void **state)
{
  g_autoptr (PstLinebuf) buf = pst_linebuf_new (0);
  const char *line;
  gsize len;

  pst_linebuf_append (buf, "a\0b\r\n", 5);
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);
  assert_int_equal (len, 3);
  assert_memory_equal (line, "a\0b", 4);
}

static void
test_peek_consume (void **state)
{
  g_autoptr (PstLinebuf) buf = pst_linebuf_new (0);
  const guint8 *p;
  const char *line;
  gsize len;

  p = pst_linebuf_peek (buf, &len);
  assert_null (p);
  assert_int_equal (len, 0);
  pst_linebuf_consume (buf, 10);

  pst_linebuf_append_str (buf, "hello\r\nworld");
  pst_linebuf_consume (buf, 2);
  p = pst_linebuf_peek (buf, &len);
  assert_int_equal (len, 10);
  assert_memory_equal (p, "llo\r\nworld", 10);
  assert_int_equal (pst_linebuf_take_line (buf, &line, &len), PST_LINEBUF_LINE);
  assert_string_equal (line, "llo");
  pst_linebuf_consume (buf, 100);
  assert_int_equal (pst_linebuf_get_pending (buf), 0);
  assert_null (pst_linebuf_peek (buf, &len));
}

static void
test_growth (void **state)
{
  g_autoptr (PstLinebuf) buf = pst_linebuf_new (0);
  g_autoptr (GString) expect = g_string_new (NULL);
  const guint8 *p;
  gsize len, consumed = 0;

  /* Interleaved appends and consumes exercise compaction and growth. */
  for (guint i = 0; i < 20000; i++)
    {
      char chunk[32];
      int n = g_snprintf (chunk, sizeof chunk, "%u,", i);

      pst_linebuf_append (buf, chunk, n);
      g_string_append_len (expect, chunk, n);
      if (i % 7 == 0)
        {
          gsize take = MIN (pst_linebuf_get_pending (buf), (gsize) (i % 50));
          p = pst_linebuf_peek (buf, &len);
          assert_memory_equal (p, expect->str + consumed, take);
          pst_linebuf_consume (buf, take);
          consumed += take;
        }
    }
  p = pst_linebuf_peek (buf, &len);
  assert_int_equal (len, expect->len - consumed);
  assert_memory_equal (p, expect->str + consumed, len);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lines_whole),
    cmocka_unit_test (test_lines_every_split),
    cmocka_unit_test (test_pending_after_line),
    cmocka_unit_test (test_max_line),
    cmocka_unit_test (test_nul_in_line),
    cmocka_unit_test (test_peek_consume),
    cmocka_unit_test (test_growth),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
