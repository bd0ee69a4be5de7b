/* test-sendmail-input.c — what `postern sendmail` reads (cli/sendmail-input.c):
 * the "." line with and without -i, in LF and CRLF; the cap; the header it
 * reads (its addresses as the agent parses them for it); the From, Date and
 * Message-ID it adds, in the message's own line ends, and nothing else
 * changed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sendmail.h"
#include "mime/mime.h"
#include "util/error.h"

/* What pst_sendmail_read makes of @input, as a string (NULL on error). */
static char *
read_text (const char *input, gboolean ignore_dots, gsize max)
{
  FILE *in = fmemopen ((void *) input, strlen (input), "r");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) got = NULL;

  assert_non_null (in);
  got = pst_sendmail_read (in, ignore_dots, max, &error);
  fclose (in);
  if (got == NULL)
    {
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
      return NULL;
    }
  /* (an empty GBytes may have no data at all) */
  return g_strndup (g_bytes_get_size (got) ? g_bytes_get_data (got, NULL) : "",
                    g_bytes_get_size (got));
}

static void
test_dot_line (void **state)
{
  static const struct { const char *in; gboolean i; const char *out; } cases[] = {
    { "a\n.\nb\n", FALSE, "a\n" },
    { "a\n.\nb\n", TRUE, "a\n.\nb\n" },
    { "a\r\n.\r\nb\r\n", FALSE, "a\r\n" },
    { "a\r\n.\r\nb\r\n", TRUE, "a\r\n.\r\nb\r\n" },
    { "a\n.", FALSE, "a\n" },
    { ".\nb\n", FALSE, "" },
    /* not a line with a single dot */
    { "a\n. \n..\n.x\nb", FALSE, "a\n. \n..\n.x\nb" },
    { "a\n", FALSE, "a\n" },
    { "", FALSE, "" },
  };

  (void) state;
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autofree char *got = read_text (cases[k].in, cases[k].i, 1024);
      assert_string_equal (got, cases[k].out);
    }
}

static void
test_cap (void **state)
{
  g_autofree char *over = NULL, *at = NULL;

  (void) state;
  over = read_text ("12345\n6\n", TRUE, 7);
  assert_null (over);
  at = read_text ("12345\n6", TRUE, 7);
  assert_string_equal (at, "12345\n6");
}

/* The header of @message as sendmail gets it: read here, its addresses
 * parsed as the agent's message.addresses does (pst_mime_header_addresses
 * of its header section); NULL with @error from either. */
static PstSendmailHeader *
header_read (GBytes *message, GError **error)
{
  g_autoptr (PstSendmailHeader) h = pst_sendmail_header_read (message, error);
  g_autoptr (GBytes) section = NULL;
  g_autofree char *from = NULL, *problem = NULL;
  g_auto (GStrv) recipients = NULL;

  if (h == NULL)
    return NULL;
  if (h->fields->len == 0)
    return g_steal_pointer (&h);
  section = g_bytes_new_from_bytes (message, 0, h->header_len);
  if (!pst_mime_header_addresses (section, &from, &problem, &recipients, error)
      || !pst_sendmail_header_set_addresses (h, from, problem, recipients, error))
    return NULL;
  return g_steal_pointer (&h);
}

/* header_read of @message, which must succeed. */
static PstSendmailHeader *
header_of (GBytes *message)
{
  g_autoptr (GError) error = NULL;
  PstSendmailHeader *h = header_read (message, &error);

  if (h == NULL)
    fail_msg ("%s", error->message);
  return h;
}

/* pst_sendmail_complete of @text as a string. */
static char *
complete (const char *text, const char *from, const char *name, PstSendmailHeader **h_out)
{
  g_autoptr (GBytes) in = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = NULL;
  PstSendmailHeader *h = header_of (in);

  out = pst_sendmail_complete (in, h, from, name, &error);
  if (out == NULL)
    fail_msg ("%s", error->message);
  if (h_out)
    *h_out = h;
  else
    pst_sendmail_header_free (h);
  return g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
}

static void
test_adds_what_is_missing_lf (void **state)
{
  g_autoptr (PstSendmailHeader) h = NULL;
  g_autofree char *out = complete ("To: b@x.test\nSubject: s\n\nbody\n", "me@x.test", "Me", &h);
  const char *rest;

  (void) state;
  assert_null (h->from);
  assert_string_equal (h->recipients[0], "b@x.test");
  assert_null (h->recipients[1]);
  assert_true (g_str_has_prefix (out, "From: Me <me@x.test>\nDate: "));
  assert_null (strchr (out, '\r'));
  rest = strstr (out, "\nMessage-ID: <");
  assert_non_null (rest);
  rest = strstr (rest, "@x.test>\n");
  assert_non_null (rest);
  assert_string_equal (rest, "@x.test>\nTo: b@x.test\nSubject: s\n\nbody\n");
}

static void
test_replaces_a_local_from (void **state)
{
  g_autoptr (PstSendmailHeader) h = NULL;
  g_autofree char *out = complete ("From: root (Cron Daemon)\r\nTo: b@x.test\r\nDate: Sat, 1 Jan "
                                   "2000 00:00:00 +0000\r\nMessage-ID: <1@host>\r\n\r\nout\r\n",
                                   "me@x.test", "CronDaemon", &h);

  (void) state;
  assert_true (h->local_from);
  assert_null (h->from);
  assert_string_equal (out, "From: CronDaemon <me@x.test>\r\nTo: b@x.test\r\nDate: Sat, 1 Jan "
                            "2000 00:00:00 +0000\r\nMessage-ID: <1@host>\r\n\r\nout\r\n");
}

static void
test_complete_message_unchanged (void **state)
{
  static const char text[] = "From: \"Me\" <me@x.test>\r\nTo: b@x.test\r\nBcc: c@x.test\r\n"
                             "Date: Sat, 1 Jan 2000 00:00:00 +0000\r\nMessage-Id: <1@host>\r\n"
                             "\r\nbody\r\n.\r\n";
  g_autoptr (PstSendmailHeader) h = NULL;
  g_autofree char *out = complete (text, "other@x.test", "Other", &h);

  (void) state;
  assert_string_equal (h->from, "me@x.test");
  assert_string_equal (h->recipients[0], "b@x.test");
  assert_string_equal (h->recipients[1], "c@x.test");
  assert_string_equal (out, text);
}

static void
test_no_header_section (void **state)
{
  g_autofree char *body = complete ("\nbody\n", "me@x.test", NULL, NULL);
  g_autofree char *empty = complete ("", "me@x.test", NULL, NULL);

  (void) state;
  assert_true (g_str_has_prefix (body, "From: me@x.test\nDate: "));
  assert_true (g_str_has_suffix (body, "@x.test>\n\nbody\n"));
  assert_true (g_str_has_prefix (empty, "From: me@x.test\r\nDate: "));
  assert_true (g_str_has_suffix (empty, "@x.test>\r\n\r\n"));
}

static void
test_mbox_from_line_goes (void **state)
{
  g_autofree char *out = complete ("From me@x.test Sat Jan  1 00:00:00 2000\nFrom: me@x.test\n"
                                   "To: b@x.test\nDate: Sat, 1 Jan 2000 00:00:00 +0000\n"
                                   "Message-ID: <1@host>\n\nbody\n", "me@x.test", NULL, NULL);

  (void) state;
  assert_string_equal (out, "From: me@x.test\nTo: b@x.test\nDate: Sat, 1 Jan 2000 00:00:00 "
                            "+0000\nMessage-ID: <1@host>\n\nbody\n");
}

static void
test_refused (void **state)
{
  static const char *const bad[] = {
    "this is not a header\n\nbody\n",
    "From: a@x.test, b@x.test\nTo: c@x.test\n\nbody\n",
  };

  (void) state;
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      g_autoptr (GBytes) in = g_bytes_new (bad[k], strlen (bad[k]));
      g_autoptr (GError) error = NULL;
      PstSendmailHeader *h = header_read (in, &error);

      assert_null (h);
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
    }
}

static void
test_bad_from_option (void **state)
{
  static const char text[] = "To: b@x.test\n\nbody\n";
  g_autoptr (GBytes) in = g_bytes_new (text, strlen (text));
  g_autoptr (PstSendmailHeader) h = header_of (in);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = pst_sendmail_complete (in, h, "me@x.test", "Evil\r\nBcc: x@y", &error);

  (void) state;
  assert_null (out);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_dot_line),
    cmocka_unit_test (test_cap),
    cmocka_unit_test (test_adds_what_is_missing_lf),
    cmocka_unit_test (test_replaces_a_local_from),
    cmocka_unit_test (test_complete_message_unchanged),
    cmocka_unit_test (test_no_header_section),
    cmocka_unit_test (test_mbox_from_line_goes),
    cmocka_unit_test (test_refused),
    cmocka_unit_test (test_bad_from_option),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
