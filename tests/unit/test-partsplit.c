/* Unit tests for mime/partsplit.h: the streamed parts are
 * pst_mime_split_multipart's spans (tests/fuzz/partsplit-check.h), for the
 * fuzz seeds and for random bodies made of the lines that matter
 * (delimiters, near-delimiters, white space, CR and LF in every
 * combination), each fed in pieces of every size.  And for
 * mime/streamhead.h, which reads a part's header section as the parts
 * pass: the section pst_pgpstream_header_end finds in the whole, in
 * pieces of every size, within its bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../fuzz/partsplit-check.h"
#include "mime/mime.h"
#include "mime/pgpstream.h"
#include "mime/streamhead.h"

static void
check (const guint8 *data, gsize size, const char *what)
{
  const char *why = partsplit_check (data, size);

  if (why != NULL)
    fail_msg ("%s: %s", what, why);
}

static void
test_seeds (void **state)
{
  g_autoptr(GDir) dir = g_dir_open (SRCDIR "/../fuzz/corpus/partsplit", 0, NULL);
  const char *name;
  guint n = 0;

  assert_non_null (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (SRCDIR "/../fuzz/corpus/partsplit", name, NULL);
      g_autofree char *data = NULL;
      gsize len = 0;

      assert_true (g_file_get_contents (path, &data, &len, NULL));
      for (int piece = 0; piece < 256; piece += 7)
        {
          data[0] = (char) piece;
          check ((const guint8 *) data, len, name);
        }
      n++;
    }
  assert_true (n >= 5);
}

static void
test_random (void **state)
{
  static const char *const bits[] = {
    "--b", "--b--", "--bb", "--b-", "-b", "--", "b", " ", "\t", "\r", "\n", "\r\n", "x",
    "Content-Type: text/plain", "--b \t", "--b--  ",
  };
  GRand *rand = g_rand_new_with_seed (16);

  for (int i = 0; i < 20000; i++)
    {
      GByteArray *body = g_byte_array_new ();
      guint8 piece = (guint8) g_rand_int_range (rand, 0, 256);
      int n = g_rand_int_range (rand, 0, 40);
      g_autofree char *what = g_strdup_printf ("random body %d", i);

      g_byte_array_append (body, &piece, 1);
      for (int j = 0; j < n; j++)
        {
          const char *b = bits[g_rand_int_range (rand, 0, G_N_ELEMENTS (bits))];

          g_byte_array_append (body, (const guint8 *) b, (guint) strlen (b));
        }
      check (body->data, body->len, what);
      g_byte_array_unref (body);
    }
  g_rand_free (rand);
}

/* @entity fed to a head of at most @max bytes in pieces of @piece bytes:
 * the section it holds when done, the bytes taken, and what it says. */
static PstStreamHeadState
feed_in_pieces (const char *entity, gsize max, gsize piece, PstStreamHead *head, gsize *taken_out)
{
  gsize len = strlen (entity), at = 0;
  PstStreamHeadState state = PST_STREAM_HEAD_MORE;

  pst_stream_head_init (head, max);
  while (at < len && state == PST_STREAM_HEAD_MORE)
    {
      gsize n = MIN (piece, len - at), used = 99;

      state = pst_stream_head_feed (head, entity + at, n, &used);
      assert_true (used <= n);
      if (state == PST_STREAM_HEAD_MORE)
        assert_int_equal (used, n);   /* all of it taken */
      at += used;
    }
  *taken_out = at;
  return state;
}

static void
test_stream_head (void **state)
{
  static const char *const entities[] = {
    "A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\n\nbody", "A: 1\n\r\nbody", "A: 1\r\n\nbody",
    "\r\nbody", "\nbody", "\r\n", "A: 1\r\n folded\r\n\r\n\r\nbody", "A: 1\r\n\r\n",
    "A: 1\r\nB: 2\r\n", "A: 1", "", "A: 1\r\r\nbody\r\n\r\nmore",
  };

  (void) state;
  for (gsize i = 0; i < G_N_ELEMENTS (entities); i++)
    for (gsize piece = 1; piece <= strlen (entities[i]) + 1; piece++)
      {
        const char *e = entities[i];
        gsize end = 0, taken = 0;
        gboolean ends = pst_pgpstream_header_end (e, strlen (e), &end);
        PstStreamHead head;
        PstStreamHeadState st = feed_in_pieces (e, 1024, piece, &head, &taken);

        if (!ends)
          {
            assert_int_equal (st, PST_STREAM_HEAD_MORE);
            assert_false (head.done);
            assert_int_equal (taken, strlen (e));
          }
        else
          {
            g_autoptr(GPtrArray) fields = NULL;

            /* The section, and not a byte of the body. */
            assert_int_equal (st, PST_STREAM_HEAD_DONE);
            assert_true (head.done);
            assert_int_equal (taken, end);
            assert_int_equal (head.bytes->len, end);
            assert_memory_equal (head.bytes->data, e, end);
            /* The fields of the whole entity, or none when it does not
             * parse ("body" in the last one is not a field). */
            fields = pst_stream_head_fields (&head);
            {
              g_autoptr(GBytes) whole = g_bytes_new_static (e, strlen (e));
              g_autoptr(GPtrArray) whole_fields = NULL;
              gsize body = 0;

              if (!pst_mime_entity_split (whole, &whole_fields, &body))
                assert_null (fields);
              else
                {
                  assert_non_null (fields);
                  assert_int_equal (body, end);
                  assert_int_equal (fields->len, whole_fields->len);
                  for (guint f = 0; f < fields->len; f++)
                    assert_string_equal (fields->pdata[f], whole_fields->pdata[f]);
                }
            }
            /* Ready for the next entity. */
            pst_stream_head_reset (&head);
            assert_false (head.done);
            assert_int_equal (head.bytes->len, 0);
          }
        pst_stream_head_clear (&head);
        pst_stream_head_clear (&head);   /* twice is allowed */
      }

  /* The bound: a section of max bytes + 1 is taken, one more byte is too
   * large, and a head too large stays so without taking more. */
  for (gsize piece = 1; piece <= 40; piece++)
    {
      PstStreamHead head;
      gsize taken = 0, used = 99;

      /* 21 bytes, then 22, in a head of 20 */
      assert_int_equal (feed_in_pieces ("A: 12345678901234\r\n\r\nbody", 20, piece, &head, &taken),
                        PST_STREAM_HEAD_DONE);
      assert_int_equal (taken, 21);
      pst_stream_head_clear (&head);
      assert_int_equal (feed_in_pieces ("A: 123456789012345\r\n\r\nbody", 20, piece, &head, &taken),
                        PST_STREAM_HEAD_TOO_LARGE);
      assert_int_equal (head.bytes->len, 21);
      assert_int_equal (taken, 21);
      assert_int_equal (pst_stream_head_feed (&head, "\r\n", 2, &used), PST_STREAM_HEAD_TOO_LARGE);
      assert_int_equal (used, 0);
      pst_stream_head_clear (&head);
    }

  /* A section that does not parse. */
  {
    PstStreamHead head;
    gsize taken = 0;
    g_autoptr(GPtrArray) fields = NULL;

    assert_int_equal (feed_in_pieces ("no colon here\r\n\r\nbody", 1024, 7, &head, &taken),
                      PST_STREAM_HEAD_DONE);
    fields = pst_stream_head_fields (&head);
    pst_stream_head_clear (&head);
    assert_null (fields);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_seeds),
    cmocka_unit_test (test_random),
    cmocka_unit_test (test_stream_head),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
