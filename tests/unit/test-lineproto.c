/* Unit tests for core/net/lineproto.c, the shell under the SMTP and POP3
 * engines: lines over every chunk boundary, an over-long line refused, the
 * sanitiser, the first failure kept and nothing queued after it, the
 * channel binding given in either order, and the credentials (and the AUTH
 * line) wiped.
 *
 * The test is linked with --wrap=pst_secret_free: every string handed to
 * it is noted before it is wiped, so that the test sees what was wiped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/lineproto.h"
#include "util/error.h"
#include "util/secret.h"

void __real_pst_secret_free (char *secret);
void __wrap_pst_secret_free (char *secret);

static GPtrArray *wiped;   /* copies of what went to pst_secret_free */

void
__wrap_pst_secret_free (char *secret)
{
  if (secret != NULL && wiped != NULL)
    g_ptr_array_add (wiped, g_strdup (secret));
  __real_pst_secret_free (secret);
}

static gboolean
was_wiped (const char *text)
{
  for (guint i = 0; i < wiped->len; i++)
    if (strcmp (wiped->pdata[i], text) == 0)
      return TRUE;
  return FALSE;
}

static int
setup (void **state)
{
  wiped = g_ptr_array_new_with_free_func (g_free);
  return 0;
}

static int
teardown (void **state)
{
  g_clear_pointer (&wiped, g_ptr_array_unref);
  return 0;
}

/* Takes every whole line, joined as "[line]" so that empty lines show. */
static void
take_all (PstLineProto *lp, GString *got)
{
  const char *line;
  gsize len;

  while (pst_lineproto_take_line (lp, &line, &len) == PST_LINEBUF_LINE)
    {
      assert_int_equal (line[len], '\0');
      g_string_append_c (got, '[');
      g_string_append_len (got, line, len);
      g_string_append_c (got, ']');
    }
}

/* The output queued so far, all of it, as a string. */
static char *
output (PstLineProto *lp)
{
  gsize len;
  const guint8 *p = pst_lineproto_get_output (lp, &len);

  return g_strndup ((const char *) p, len);
}

static const char reply[] = "250-first\r\n250-\r\n\n250 last one\nhalf a line";
static const char reply_lines[] = "[250-first][250-][][250 last one]";

static void
test_lines_every_split (void **state)
{
  gsize n = strlen (reply);

  for (gsize k = 0; k <= n; k++)
    {
      g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);
      g_autoptr (GString) got = g_string_new (NULL);

      assert_true (pst_lineproto_feed (lp, (const guint8 *) reply, k));
      take_all (lp, got);
      assert_true (pst_lineproto_feed (lp, (const guint8 *) reply + k, n - k));
      take_all (lp, got);
      assert_string_equal (got->str, reply_lines);
      assert_int_equal (pst_lineproto_pending_input (lp), strlen ("half a line"));
    }
}

static void
test_lines_bytewise (void **state)
{
  g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);
  g_autoptr (GString) got = g_string_new (NULL);

  for (gsize i = 0; reply[i] != '\0'; i++)
    {
      assert_true (pst_lineproto_feed (lp, (const guint8 *) reply + i, 1));
      take_all (lp, got);
    }
  assert_string_equal (got->str, reply_lines);
}

/* A CR split from its LF, and raw bytes after the lines (streamed data). */
static void
test_lines_then_raw (void **state)
{
  g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);
  const char *line;
  const guint8 *raw;
  gsize len;

  pst_lineproto_feed (lp, (const guint8 *) "+OK\r", 4);
  assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_NEED_MORE);
  pst_lineproto_feed (lp, (const guint8 *) "\nbody", 5);
  assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_LINE);
  assert_string_equal (line, "+OK");
  raw = pst_lineproto_peek_input (lp, &len);
  assert_int_equal (len, 4);
  assert_memory_equal (raw, "body", 4);
  pst_lineproto_consume_input (lp, 2);
  raw = pst_lineproto_peek_input (lp, &len);
  assert_int_equal (len, 2);
  assert_memory_equal (raw, "dy", 2);
}

static void
test_long_line_refused (void **state)
{
  const char *line;
  gsize len;

  /* Exactly the limit, with CRLF or a bare LF: taken. */
  {
    g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 8);

    pst_lineproto_feed (lp, (const guint8 *) "12345678\r\n12345678\n", 20);
    assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_LINE);
    assert_int_equal (len, 8);
    assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_LINE);
    assert_int_equal (len, 8);
  }
  /* The limit and a CR, then a byte that is not LF, fed in pieces: refused
   * once the limit is passed, without waiting for the end of the line. */
  {
    g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 8);

    pst_lineproto_feed (lp, (const guint8 *) "12345", 5);
    assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_NEED_MORE);
    pst_lineproto_feed (lp, (const guint8 *) "678\r", 4);
    assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_NEED_MORE);
    pst_lineproto_feed (lp, (const guint8 *) "x", 1);
    assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_TOO_LONG);
    /* Nothing was taken: the engine fails the session in its words. */
    assert_int_equal (pst_lineproto_pending_input (lp), 10);
    assert_false (pst_lineproto_failed (lp));
  }
  /* Nine bytes and a LF. */
  {
    g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 8);

    pst_lineproto_feed (lp, (const guint8 *) "123456789\n", 10);
    assert_int_equal (pst_lineproto_take_line (lp, &line, &len), PST_LINEBUF_TOO_LONG);
  }
}

static void
test_sanitize (void **state)
{
  static const char hostile[] = "a\x1b[2Jb\tc\x7f\0d\r\ne\xff\xfe" "f\xc3\xa9";
  g_autofree char *clean = pst_lineproto_sanitize (hostile, sizeof hostile - 1);

  assert_string_equal (clean, "a?[2Jb c??d??e\xef\xbf\xbd\xef\xbf\xbd" "f\xc3\xa9");
  assert_true (g_utf8_validate (clean, -1, NULL));
  for (const char *p = clean; *p; p++)
    assert_false ((guchar) *p < 0x20 || *p == 0x7f);

  {
    g_autofree char *empty = pst_lineproto_sanitize ("", 0);

    assert_string_equal (empty, "");
  }
}

static void
test_output (void **state)
{
  g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);
  g_autofree char *all = NULL;
  const guint8 *p;
  gsize len;

  pst_lineproto_send_line (lp, "EHLO %s", "[127.0.0.1]");
  pst_lineproto_send_secret_line (lp, "c2VjcmV0");
  pst_lineproto_send (lp, ".\r\n", 3);
  all = output (lp);
  assert_string_equal (all, "EHLO [127.0.0.1]\r\nc2VjcmV0\r\n.\r\n");
  pst_lineproto_consume_output (lp, 6);
  p = pst_lineproto_get_output (lp, &len);
  assert_int_equal (len, strlen (all) - 6);
  assert_memory_equal (p, all + 6, len);
  pst_lineproto_consume_output (lp, len);
  p = pst_lineproto_get_output (lp, &len);
  assert_int_equal (len, 0);
}

static void
test_fail_once (void **state)
{
  g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);
  g_autoptr (GError) error = NULL;
  gsize len;

  assert_true (pst_lineproto_check (lp, NULL));
  assert_null (pst_lineproto_get_error (lp));
  pst_lineproto_send_line (lp, "PASS %s", "queued");
  pst_lineproto_fail (lp, "first failure: %d", 1);
  pst_lineproto_fail (lp, "second failure");

  assert_true (pst_lineproto_failed (lp));
  assert_true (g_error_matches (pst_lineproto_get_error (lp), PST_ERROR, PST_ERROR_NETWORK));
  assert_string_equal (pst_lineproto_get_error (lp)->message, "first failure: 1");
  assert_false (pst_lineproto_check (lp, &error));
  assert_string_equal (error->message, "first failure: 1");
  assert_false (pst_lineproto_check (lp, NULL));

  /* What was queued is dropped, and nothing more is queued. */
  pst_lineproto_get_output (lp, &len);
  assert_int_equal (len, 0);
  pst_lineproto_send_line (lp, "QUIT");
  pst_lineproto_send_secret_line (lp, "secret");
  pst_lineproto_send (lp, "x", 1);
  pst_lineproto_get_output (lp, &len);
  assert_int_equal (len, 0);

  /* Input is not taken either. */
  assert_false (pst_lineproto_feed (lp, (const guint8 *) "250 ok\r\n", 8));
  assert_int_equal (pst_lineproto_pending_input (lp), 0);
}

static void
test_close_and_eof (void **state)
{
  g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);

  assert_false (pst_lineproto_at_eof (lp));
  pst_lineproto_close (lp);
  assert_false (pst_lineproto_feed (lp, (const guint8 *) "221 bye\r\n", 9));
  assert_int_equal (pst_lineproto_pending_input (lp), 0);
  assert_false (pst_lineproto_failed (lp));
  pst_lineproto_feed_eof (lp);
  assert_true (pst_lineproto_at_eof (lp));
}

/* The binding is the TLS session's: whatever the order, the credentials
 * carry it, and a binding put into the credentials by hand counts for
 * nothing. */
static void
test_channel_binding_one_way (void **state)
{
  g_autoptr (GBytes) cb = g_bytes_new_static ("0123456789abcdef", 16);
  g_autoptr (GBytes) forged = g_bytes_new_static ("forged", 6);
  PstSaslCredentials c = { .user = (char *) "user", .password = (char *) "pw" };
  PstSaslCredentials by_hand = { .user = (char *) "user", .password = (char *) "pw",
                                 .cb_type = (char *) "tls-unique", .cb_data = forged };
  const PstSaslCredentials *got;

  /* The binding first, then the credentials, then new credentials. */
  {
    g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);

    assert_null (pst_lineproto_get_credentials (lp));
    pst_lineproto_set_channel_binding (lp, "tls-exporter", cb);
    pst_lineproto_set_credentials (lp, &c);
    got = pst_lineproto_get_credentials (lp);
    assert_string_equal (got->cb_type, "tls-exporter");
    assert_true (g_bytes_equal (got->cb_data, cb));
    pst_lineproto_set_credentials (lp, &by_hand);
    got = pst_lineproto_get_credentials (lp);
    assert_string_equal (got->cb_type, "tls-exporter");
    assert_true (g_bytes_equal (got->cb_data, cb));
  }
  /* The credentials first. */
  {
    g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);

    pst_lineproto_set_credentials (lp, &c);
    assert_null (pst_lineproto_get_credentials (lp)->cb_type);
    pst_lineproto_set_channel_binding (lp, "tls-exporter", cb);
    got = pst_lineproto_get_credentials (lp);
    assert_string_equal (got->cb_type, "tls-exporter");
    assert_true (g_bytes_equal (got->cb_data, cb));
    assert_string_equal (got->user, "user");
    assert_string_equal (got->password, "pw");
  }
  /* No binding: none, whatever the credentials said. */
  {
    g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);

    pst_lineproto_set_credentials (lp, &by_hand);
    got = pst_lineproto_get_credentials (lp);
    assert_null (got->cb_type);
    assert_null (got->cb_data);
    pst_lineproto_set_credentials (lp, NULL);
    assert_null (pst_lineproto_get_credentials (lp));
  }
}

static void
test_credentials_wiped (void **state)
{
  PstSaslCredentials first = { .user = (char *) "old-user", .password = (char *) "old-password" };
  PstSaslCredentials second = { .user = (char *) "user", .password = (char *) "hunter2",
                                .token = (char *) "ya29.token" };
  PstLineProto *lp = pst_lineproto_new ("TEST", 64);

  pst_lineproto_set_credentials (lp, &first);
  assert_int_equal (wiped->len, 0);
  /* Replaced: the old copy is wiped at once. */
  pst_lineproto_set_credentials (lp, &second);
  assert_true (was_wiped ("old-user"));
  assert_true (was_wiped ("old-password"));
  assert_false (was_wiped ("hunter2"));
  pst_lineproto_free (lp);
  assert_true (was_wiped ("user"));
  assert_true (was_wiped ("hunter2"));
  assert_true (was_wiped ("ya29.token"));
}

/* AUTH PLAIN: the command (which holds the password) goes straight into
 * the queue and its copy is wiped. */
static void
test_auth_line_wiped (void **state)
{
  PstSaslCredentials c = { .user = (char *) "user", .password = (char *) "hunter2" };
  g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);
  g_autofree char *plain = g_base64_encode ((const guchar *) "\0user\0hunter2", 13);
  g_autofree char *expect = g_strdup_printf ("AUTH PLAIN %s\r\n", plain);
  g_autofree char *out = NULL;

  pst_lineproto_set_credentials (lp, &c);
  assert_null (pst_lineproto_auth_mechanism (lp));
  assert_false (pst_lineproto_auth_complete (lp));
  assert_true (pst_lineproto_auth_begin (lp, "PLAIN"));
  assert_string_equal (pst_lineproto_auth_mechanism (lp), "PLAIN");
  out = output (lp);
  assert_string_equal (out, expect);
  assert_true (was_wiped (expect));
}

/* A mechanism the credentials cannot do fails the session, and nothing is
 * queued. */
static void
test_auth_refused (void **state)
{
  PstSaslCredentials c = { .user = (char *) "user" };
  g_autoptr (PstLineProto) lp = pst_lineproto_new ("TEST", 64);
  gsize len;

  pst_lineproto_set_credentials (lp, &c);
  assert_false (pst_lineproto_auth_begin (lp, "PLAIN"));
  assert_true (pst_lineproto_failed (lp));
  assert_true (g_error_matches (pst_lineproto_get_error (lp), PST_ERROR, PST_ERROR_NETWORK));
  pst_lineproto_get_output (lp, &len);
  assert_int_equal (len, 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lines_every_split),
    cmocka_unit_test (test_lines_bytewise),
    cmocka_unit_test (test_lines_then_raw),
    cmocka_unit_test (test_long_line_refused),
    cmocka_unit_test (test_sanitize),
    cmocka_unit_test (test_output),
    cmocka_unit_test (test_fail_once),
    cmocka_unit_test (test_close_and_eof),
    cmocka_unit_test (test_channel_binding_one_way),
    cmocka_unit_test_setup_teardown (test_credentials_wiped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_auth_line_wiped, setup, teardown),
    cmocka_unit_test (test_auth_refused),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
