/* test-sevenbit — re-encoding 8-bit messages for servers without 8BITMIME:
 * only the 8-bit leaves change, everything else stays byte for byte, the
 * result decodes to the same text, and what cannot be converted is
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"
#include "mime/sevenbit.h"

static GBytes *
bytes (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static char *
text_of (GBytes *b)
{
  return g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
}

static gboolean
all_7bit (GBytes *b)
{
  return !pst_mime_has_8bit (b, NULL);
}

static void
test_unchanged (void **state)
{
  g_autoptr (GBytes) in = bytes ("From: a@x\r\nSubject: plain\r\n\r\nOnly ASCII.\r\n");
  g_autoptr (GBytes) out = pst_mime_to_7bit (in, NULL);

  assert_non_null (out);
  assert_true (g_bytes_equal (in, out));
}

static void
test_text_part (void **state)
{
  g_autoptr (GBytes) in = bytes ("From: a@x\r\nSubject: Gr\xc3\xbc\xc3\x9f" "e?=\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Transfer-Encoding: 8bit\r\n\r\n"
                                 "Gr\xc3\xbc\xc3\x9f" "e, a=b \r\n.\r\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = NULL;

  /* The Subject above is 8-bit: a header needs SMTPUTF8, not this. */
  assert_null (pst_mime_to_7bit (in, &error));
  assert_non_null (strstr (error->message, "header"));
  g_clear_error (&error);
  g_bytes_unref (in);
  in = bytes ("From: a@x\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 8bit\r\n\r\n"
              "Gr\xc3\xbc\xc3\x9f" "e, a=b \r\n.\r\n");
  out = pst_mime_to_7bit (in, &error);
  assert_non_null (out);
  assert_true (all_7bit (out));
  {
    g_autofree char *t = text_of (out);
    g_autoptr (PstMimeMessage) msg = pst_mime_message_parse (out, NULL);
    g_autofree char *body = pst_mime_message_get_body_text (msg);

    assert_non_null (strstr (t, "\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"));
    assert_null (strstr (t, "8bit"));
    /* '=' and the space before the line end are encoded. */
    assert_non_null (strstr (t, "Gr=C3=BC=C3=9Fe, a=3Db=20\r\n.\r\n"));
    assert_string_equal (body, "Gr\xc3\xbc\xc3\x9f" "e, a=b \n.\n");
  }
}

static void
test_long_line (void **state)
{
  g_autoptr (GString) msg = g_string_new ("From: a@x\r\n\r\n");
  g_autoptr (GBytes) in = NULL, out = NULL;
  g_auto (GStrv) lines = NULL;

  for (int i = 0; i < 100; i++)
    g_string_append (msg, "\xc3\xa9");
  g_string_append (msg, "\r\n");
  in = g_bytes_new (msg->str, msg->len);
  out = pst_mime_to_7bit (in, NULL);
  assert_non_null (out);
  {
    g_autofree char *t = text_of (out);
    lines = g_strsplit (t, "\r\n", -1);
  }
  for (guint i = 0; lines[i] != NULL; i++)
    assert_true (strlen (lines[i]) <= 76);
}

static void
test_multipart (void **state)
{
  static const char seven[] = "Content-Type: text/plain\r\n\r\nplain part\r\n";
  g_autofree char *src = g_strconcat (
    "From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
    "preamble\r\n--B\r\n", seven,
    "--B\r\nContent-Type: text/plain; charset=latin1\r\n\r\ncaf\xe9\r\n"
    "--B\r\nContent-Type: application/octet-stream\r\n\r\n\x01\x80\xff\r\n--B--\r\nepilogue\r\n",
    NULL);
  g_autoptr (GBytes) in = bytes (src);
  g_autoptr (GBytes) out = pst_mime_to_7bit (in, NULL);
  g_autofree char *t = NULL;
  g_autoptr (PstMimeMessage) msg = NULL;
  g_autoptr (GPtrArray) att = NULL;

  assert_non_null (out);
  assert_true (all_7bit (out));
  t = text_of (out);
  /* Header, preamble, the 7-bit part, delimiters and epilogue are kept. */
  assert_true (g_str_has_prefix (t, "From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                                    "boundary=\"B\"\r\n\r\npreamble\r\n--B\r\n"));
  assert_non_null (strstr (t, seven));
  assert_true (g_str_has_suffix (t, "\r\n--B--\r\nepilogue\r\n"));
  assert_non_null (strstr (t, "charset=latin1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n"));
  assert_non_null (strstr (t, "application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAYD/\r\n"));
  msg = pst_mime_message_parse (out, NULL);
  assert_non_null (msg);
  att = pst_mime_message_get_attachments (msg);
  assert_int_equal (att->len, 1);
}

static void
test_refused (void **state)
{
  static const char *const cases[] = {
    /* signed: re-encoding would break the signature */
    "From: a@x\r\nContent-Type: multipart/signed; boundary=S; protocol=\"application/pgp-signature\"\r\n\r\n"
    "--S\r\nContent-Type: text/plain\r\n\r\n\xe9\r\n--S\r\nContent-Type: application/pgp-signature\r\n\r\nx\r\n--S--\r\n",
    /* 8-bit in a part that says it is base64 */
    "From: a@x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\xe9\r\n",
    /* 8-bit in a preamble */
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\xe9\r\n--B\r\n\r\nx\r\n--B--\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) in = bytes (cases[i]);
      g_autoptr (GError) error = NULL;

      assert_null (pst_mime_to_7bit (in, &error));
      assert_non_null (error);
      assert_true (g_str_has_prefix (error->message, "cannot make the message 7-bit: "));
    }
}

static void
test_has_8bit (void **state)
{
  g_autoptr (GBytes) a = bytes ("From: a@x\r\nSubject: \xc3\xa9\r\n\r\nx\r\n");
  g_autoptr (GBytes) b = bytes ("From: a@x\r\n\r\n\xc3\xa9\r\n");
  gboolean header = FALSE;

  assert_true (pst_mime_has_8bit (a, &header));
  assert_true (header);
  assert_true (pst_mime_has_8bit (b, &header));
  assert_false (header);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_unchanged),
    cmocka_unit_test (test_text_part),
    cmocka_unit_test (test_long_line),
    cmocka_unit_test (test_multipart),
    cmocka_unit_test (test_refused),
    cmocka_unit_test (test_has_8bit),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
