/* Unit tests for mime/partsplit.h: the streamed parts are
 * pst_mime_split_multipart's spans (tests/fuzz/partsplit-check.h), for the
 * fuzz seeds and for random bodies made of the lines that matter
 * (delimiters, near-delimiters, white space, CR and LF in every
 * combination), each fed in pieces of every size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../fuzz/partsplit-check.h"

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

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_seeds),
    cmocka_unit_test (test_random),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
