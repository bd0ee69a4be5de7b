/* Unit tests for gui/mailto.c: what a mailto: link may put in a compose
 * window, and what it may not (RFC 6068 §6: attachments, other headers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "mailto.h"

static void
test_addresses_and_fields (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMailto) m = pst_mailto_parse (
    "mailto:bob@postern.test,%22Carol%20C%22%20%3Ccarol@postern.test%3E"
    "?cc=dave@postern.test&bcc=erin@postern.test&subject=Gr%C3%BC%C3%9Fe%20aus%20Bonn"
    "&body=line%201%0D%0Aline%202&to=frank@postern.test", &error);

  assert_non_null (m);
  assert_int_equal (m->to->len, 3);
  assert_string_equal (g_ptr_array_index (m->to, 0), "bob@postern.test");
  assert_string_equal (g_ptr_array_index (m->to, 1), "\"Carol C\" <carol@postern.test>");
  assert_string_equal (g_ptr_array_index (m->to, 2), "frank@postern.test");
  assert_int_equal (m->cc->len, 1);
  assert_string_equal (g_ptr_array_index (m->bcc, 0), "erin@postern.test");
  assert_string_equal (m->subject, "Grüße aus Bonn");
  assert_string_equal (m->body, "line 1\nline 2");
  assert_int_equal (m->ignored->len, 0);
}

static void
test_attach_and_headers_ignored (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMailto) m = pst_mailto_parse (
    "MAILTO:bob@postern.test?attach=/etc/passwd&Attachment=file:///home/u/.ssh/id_ed25519"
    "&X-Mailer=evil&From=ceo@postern.test&subject=hi", &error);

  assert_non_null (m);
  assert_string_equal (m->subject, "hi");
  assert_int_equal (m->ignored->len, 4);
  assert_string_equal (g_ptr_array_index (m->ignored, 0), "attach");
  assert_string_equal (g_ptr_array_index (m->ignored, 1), "Attachment");
  assert_string_equal (g_ptr_array_index (m->ignored, 3), "From");
}

static void
test_no_header_injection (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMailto) m = pst_mailto_parse (
    "mailto:bob@postern.test%0D%0ABcc:%20spy@evil.test?subject=a%0D%0ABcc:%20spy@evil.test", &error);

  assert_non_null (m);
  assert_null (strchr (m->subject, '\n'));
  assert_null (strchr (m->subject, '\r'));
  assert_null (strchr (g_ptr_array_index (m->to, 0), '\n'));
}

static void
test_bad_links (void **state)
{
  const char *bad[] = { "http://example.org/", "mailto:bob%ZZ@x", "mailto:a?subject=%00x",
                        "mailto:a?subject=%C3%28", NULL };

  for (const char **p = bad; *p; p++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PstMailto) m = pst_mailto_parse (*p, &error);
      assert_null (m);
      assert_non_null (error);
      assert_non_null (error->message);
    }
}

static void
test_in_reply_to (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMailto) good = pst_mailto_parse ("mailto:a@b.test?In-Reply-To=%3Cx.1@b.test%3E", &error);
  g_autoptr (PstMailto) bad = pst_mailto_parse ("mailto:a@b.test?in-reply-to=not%20an%20id", &error);

  assert_non_null (good);
  assert_string_equal (good->in_reply_to, "<x.1@b.test>");
  assert_non_null (bad);
  assert_null (bad->in_reply_to);
  assert_int_equal (bad->ignored->len, 1);
}

static void
test_empty (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMailto) m = pst_mailto_parse ("mailto:", &error);

  assert_non_null (m);
  assert_int_equal (m->to->len, 0);
  assert_null (m->subject);
  assert_null (m->body);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_addresses_and_fields),
    cmocka_unit_test (test_attach_and_headers_ignored),
    cmocka_unit_test (test_no_header_injection),
    cmocka_unit_test (test_bad_links),
    cmocka_unit_test (test_in_reply_to),
    cmocka_unit_test (test_empty),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
