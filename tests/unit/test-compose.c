/* test-compose — writing a new message (compose.h) and reading it back
 * with the MIME layer that reads every stored message: body, Subject and
 * file names in any script, attachment bytes exact; header injection and
 * addresses that do not parse are refused; every line within 998 octets,
 * CRLF only.  Also pst_mime_message_get_attachment on messages that other
 * writers make (RFC 2231 sections, message/rfc822, quoted-printable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "mime/compose.h"
#include "mime/mime.h"
#include "util/error.h"

static const char *const bob[] = { "Bob <bob@example.org>", NULL };

static GBytes *
compose_ok (const PstComposeFields *f)
{
  g_autoptr (GError) error = NULL;
  GBytes *out = pst_compose_message (f, &error);

  if (out == NULL)
    fail_msg ("compose failed: %s", error->message);
  return out;
}

static PstMimeMessage *
parse_ok (GBytes *data)
{
  g_autoptr (GError) error = NULL;
  PstMimeMessage *m = pst_mime_message_parse (data, &error);

  if (m == NULL)
    fail_msg ("the composed message does not parse: %s", error->message);
  return m;
}

/* Every line ends in CRLF, none is longer than 998 octets (without its
 * CRLF), no bare CR or LF, and header lines stay within @header_max. */
static void
assert_lines (GBytes *data, gsize header_max)
{
  gsize len = 0, start = 0;
  const char *p = g_bytes_get_data (data, &len);
  gboolean in_header = TRUE;

  assert_true (len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n');
  for (gsize i = 0; i < len; i++)
    {
      if (p[i] == '\r')
        {
          assert_true (i + 1 < len && p[i + 1] == '\n');
          if (i - start > 998)
            fail_msg ("line at %zu is %zu octets long", start, i - start);
          if (in_header && i - start > header_max)
            fail_msg ("header line at %zu is %zu columns: %.*s", start, i - start,
                      (int) (i - start), p + start);
          if (i == start)
            in_header = FALSE;
          start = i + 2;
          i++;
        }
      else
        assert_true (p[i] != '\n' && p[i] != '\0');
    }
}

static char *
header_of (PstMimeMessage *m, const char *name)
{
  char *v = pst_mime_message_get_header (m, name);

  assert_non_null (v);
  return v;
}

static void
test_plain_text (void **state)
{
  const char *const cc[] = { "carol@example.net", "\"Doe, Dave\" <dave@example.com>", NULL };
  PstComposeFields f = {
    .from = "alice@example.org", .from_name = "Alice Liddell", .to = bob, .cc = cc,
    .subject = "Lunch on Friday?", .body = "Hello Bob,\nsee you at noon.\n",
    .in_reply_to = "abc.123@example.org",
  };
  g_autoptr (GBytes) out = compose_ok (&f);
  g_autoptr (PstMimeMessage) m = parse_ok (out);
  g_autofree char *from = NULL, *subject = NULL, *body = NULL, *to = NULL, *cc_v = NULL;
  g_autofree char *mid = NULL, *irt = NULL, *refs = NULL, *date = NULL, *ct = NULL;
  g_autofree char *from_addr = NULL;
  g_auto (GStrv) rcpts = NULL;
  g_autoptr (GPtrArray) att = NULL;
  const char *text = g_bytes_get_data (out, NULL);

  assert_lines (out, 78);
  from = header_of (m, "From");
  assert_string_equal (from, "Alice Liddell <alice@example.org>");
  from_addr = pst_mime_message_get_from_address (m, NULL);
  assert_string_equal (from_addr, "alice@example.org");
  subject = header_of (m, "Subject");
  assert_string_equal (subject, "Lunch on Friday?");
  to = header_of (m, "To");
  assert_string_equal (to, "Bob <bob@example.org>");
  cc_v = header_of (m, "Cc");
  assert_string_equal (cc_v, "carol@example.net, \"Doe, Dave\" <dave@example.com>");
  rcpts = pst_mime_message_get_recipients (m);
  assert_int_equal (g_strv_length (rcpts), 3);
  assert_string_equal (rcpts[2], "dave@example.com");
  mid = header_of (m, "Message-ID");
  assert_true (g_str_has_prefix (mid, "<") && g_str_has_suffix (mid, "@example.org>"));
  irt = header_of (m, "In-Reply-To");
  assert_string_equal (irt, "<abc.123@example.org>");
  refs = header_of (m, "References");
  assert_string_equal (refs, "<abc.123@example.org>");
  date = header_of (m, "Date");
  assert_true (pst_mime_parse_date (date) > 0);
  ct = header_of (m, "Content-Type");
  assert_string_equal (ct, "text/plain; charset=utf-8");
  assert_non_null (strstr (text, "\r\nMIME-Version: 1.0\r\n"));
  assert_non_null (strstr (text, "Content-Transfer-Encoding: 7bit\r\n"));
  body = pst_mime_message_get_body_text (m);
  assert_string_equal (body, "Hello Bob,\nsee you at noon.\n");
  att = pst_mime_message_get_attachments (m);
  assert_int_equal (att->len, 0);
  /* Two messages, two Message-IDs. */
  {
    g_autoptr (GBytes) again = compose_ok (&f);
    g_autoptr (PstMimeMessage) m2 = parse_ok (again);
    g_autofree char *mid2 = header_of (m2, "Message-ID");
    assert_string_not_equal (mid, mid2);
  }
}

static void
test_non_ascii (void **state)
{
  const char *const to[] = { "Jörg Müller <joerg@example.de>", "李小龍 <lee@example.cn>", NULL };
  static const char subject[] =
    "Grüße aus Köln — ein längerer Betreff, der über mehrere Zeilen gefaltet werden muss, "
    "mit Ümläuten, 日本語のテキスト und einem Emoji 🎉 am Ende";
  static const char body[] = "Grüße!\n\nZeile mit Leerzeichen am Ende \nFrom here on\n"
                             "a=b\n";
  PstComposeFields f = {
    .from = "Zoë <zoe@example.org>", .to = to, .subject = subject, .body = body,
  };
  g_autoptr (GBytes) out = compose_ok (&f);
  g_autoptr (PstMimeMessage) m = parse_ok (out);
  g_autofree char *got_subject = header_of (m, "Subject");
  g_autofree char *got_to = header_of (m, "To");
  g_autofree char *got_from = header_of (m, "From");
  g_autofree char *got_body = pst_mime_message_get_body_text (m);
  gsize len = 0;
  const guchar *raw = g_bytes_get_data (out, &len);

  assert_lines (out, 78);
  /* 7bit on the wire: encoded words and quoted-printable */
  for (gsize i = 0; i < len; i++)
    assert_true (raw[i] < 0x80);
  assert_non_null (strstr ((const char *) raw, "Content-Transfer-Encoding: quoted-printable\r\n"));
  assert_string_equal (got_subject, subject);
  assert_string_equal (got_to, "Jörg Müller <joerg@example.de>, 李小龍 <lee@example.cn>");
  assert_string_equal (got_from, "Zoë <zoe@example.org>");
  assert_string_equal (got_body, body);
}

/* Plain ASCII that must still be encoded or folded. */
static void
test_subject_forms (void **state)
{
  static const char *const subjects[] = {
    "looks like =?utf-8?q?an_encoded_word?= but is not",
    "x-a-very-long-word-without-any-space-that-cannot-be-folded-anywhere-at-all-0123456789",
    "  two leading spaces and  two inside  ",
    "tab\tinside",
    "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (subjects); i++)
    {
      PstComposeFields f = { .from = "a@example.org", .to = bob, .subject = subjects[i] };
      g_autoptr (GBytes) out = compose_ok (&f);
      g_autoptr (PstMimeMessage) m = parse_ok (out);
      g_autofree char *got = header_of (m, "Subject");
      g_autofree char *want = g_strstrip (g_strdup (subjects[i]));

      assert_lines (out, 78);
      assert_string_equal (got, want);
    }
}

/* Every byte value, in an order that repeats only every 65536 bytes. */
static GBytes *
binary_bytes (gsize len, guint32 seed)
{
  guint8 *p = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    p[i] = (guint8) ((i * seed) ^ (i >> 8));
  /* the bytes that trip up text handling */
  if (len > 8)
    memcpy (p, "\0\r\n\r\n.\r\n", 8);
  return g_bytes_new_take (p, len);
}

static void
test_attachments (void **state)
{
  static const char long_name[] =
    "Ein sehr langer Dateiname mit Ümläuten und Leerzeichen, der in RFC-2231-Abschnitte "
    "aufgeteilt werden muss (Entwurf 3).pdf";
  g_autoptr (GBytes) bin = binary_bytes (100003, 7);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) png = g_bytes_new ("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  g_autoptr (GBytes) eml = g_bytes_new ("From: x@y\r\n\r\nhi\r\n", 18);
  PstComposeAttachment a[] = {
    { "report.bin", "application/x-test; foo=bar", bin },
    { "Übersicht 2024 — 日本.txt", NULL, g_bytes_new_static ("text\n", 5) },
    { long_name, "application/pdf", empty },
    { NULL, NULL, png },
    { "name with \"quotes\" and \\.dat", NULL, g_bytes_new_static ("q", 1) },
    { "old.eml", NULL, eml },
  };
  PstComposeFields f = {
    .from = "alice@example.org", .to = bob, .subject = "Files", .body = "See the files.",
    .attachments = a, .n_attachments = G_N_ELEMENTS (a),
  };
  g_autoptr (GBytes) out = compose_ok (&f);
  g_autoptr (PstMimeMessage) m = parse_ok (out);
  g_autoptr (GPtrArray) list = pst_mime_message_get_attachments (m);
  g_autofree char *body = pst_mime_message_get_body_text (m);
  g_autofree char *ct = header_of (m, "Content-Type");
  const char *text = g_bytes_get_data (out, NULL);

  assert_lines (out, 78);
  assert_true (g_str_has_prefix (ct, "multipart/mixed;"));
  assert_string_equal (body, "See the files.\n");
  assert_int_equal (list->len, G_N_ELEMENTS (a));
  assert_string_equal (list->pdata[0], "report.bin\tapplication/x-test");
  assert_string_equal (list->pdata[1], "Übersicht 2024 — 日本.txt\ttext/plain");
  {
    g_autofree char *want = g_strdup_printf ("%s\tapplication/pdf", long_name);
    assert_string_equal (list->pdata[2], want);
  }
  assert_string_equal (list->pdata[3], "(unnamed)\timage/png");
  assert_string_equal (list->pdata[4], "name with \"quotes\" and \\.dat\ttext/plain");
  /* message/rfc822 cannot be base64: sent as an opaque file */
  assert_string_equal (list->pdata[5], "old.eml\tapplication/octet-stream");
  assert_non_null (strstr (text, "filename*0*=utf-8''"));
  assert_non_null (strstr (text, "filename=\"report.bin\""));

  for (guint i = 0; i < G_N_ELEMENTS (a); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = NULL, *type = NULL;
      g_autoptr (GBytes) got = pst_mime_message_get_attachment (m, i, 1 << 20, &name, &type,
                                                                &error);
      g_auto (GStrv) parts = g_strsplit (list->pdata[i], "\t", 2);

      assert_null (error);
      assert_non_null (got);
      assert_true (g_bytes_equal (got, a[i].data));
      assert_string_equal (name, parts[0]);
      assert_string_equal (type, parts[1]);
    }
  /* base64 lines of 76 columns */
  {
    const char *b = strstr (text, "Content-Transfer-Encoding: base64\r\n\r\n");
    const char *eol;

    assert_non_null (b);
    b = strchr (b, '\n') + 3;
    eol = strstr (b, "\r\n");
    assert_int_equal (eol - b, 76);
  }
  for (guint i = 1; i < G_N_ELEMENTS (a); i++)
    if (a[i].data != bin && a[i].data != empty && a[i].data != png && a[i].data != eml)
      g_bytes_unref (a[i].data);
}

static void
test_attachment_errors (void **state)
{
  g_autoptr (GBytes) big = binary_bytes (4000, 3);
  PstComposeAttachment a[] = { { "big.bin", NULL, big } };
  PstComposeFields f = { .from = "a@example.org", .to = bob, .attachments = a, .n_attachments = 1 };
  g_autoptr (GBytes) out = compose_ok (&f);
  g_autoptr (PstMimeMessage) m = parse_ok (out);
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;

  /* over the cap */
  assert_null (pst_mime_message_get_attachment (m, 0, 3999, &name, NULL, &error));
  assert_int_equal (error->code, PST_ERROR_FAILED);
  assert_non_null (strstr (error->message, "larger than 3999 bytes"));
  assert_null (name);
  g_clear_error (&error);
  /* out of range */
  assert_null (pst_mime_message_get_attachment (m, 1, 1 << 20, NULL, NULL, &error));
  assert_non_null (strstr (error->message, "there is no attachment 1: the message has 1"));
  g_clear_error (&error);
  {
    PstComposeFields plain = { .from = "a@example.org", .to = bob, .body = "x" };
    g_autoptr (GBytes) p = compose_ok (&plain);
    g_autoptr (PstMimeMessage) pm = parse_ok (p);

    assert_null (pst_mime_message_get_attachment (pm, 0, 100, NULL, NULL, &error));
    assert_non_null (strstr (error->message, "has no attachments"));
  }
}

/* Attachments as other writers make them. */
static void
test_foreign_attachments (void **state)
{
  static const char msg[] =
    "From: x@example.org\r\nTo: y@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
    "--b\r\nContent-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename*0*=iso-8859-1''%E9t%E9;\r\n"
    " filename*1=\" r\"; filename*2*=%E9sum%E9%2Etxt\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "caf=C3=A9 =\r\nau lait\r\n"
    "--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
    "From: inner@example.org\r\nSubject: inner\r\n\r\ninner body\r\n"
    "--b\r\nContent-Type: application/pdf; name*=utf-8''na%C3%AFve%0Aname.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
    "--b--\r\n";
  g_autoptr (GBytes) data = g_bytes_new_static (msg, sizeof msg - 1);
  g_autoptr (PstMimeMessage) m = parse_ok (data);
  g_autoptr (GPtrArray) list = pst_mime_message_get_attachments (m);
  g_autofree char *n0 = NULL, *n1 = NULL, *n2 = NULL, *t1 = NULL;
  g_autoptr (GBytes) a0 = NULL, a1 = NULL, a2 = NULL;

  assert_int_equal (list->len, 3);
  a0 = pst_mime_message_get_attachment (m, 0, 1000, &n0, NULL, NULL);
  assert_non_null (a0);
  assert_string_equal (n0, "été résumé.txt");
  assert_int_equal (g_bytes_get_size (a0), 13);
  assert_memory_equal (g_bytes_get_data (a0, NULL), "caf\xc3\xa9 au lait", 13);
  a1 = pst_mime_message_get_attachment (m, 1, 1000, &n1, &t1, NULL);
  assert_non_null (a1);
  assert_string_equal (t1, "message/rfc822");
  assert_string_equal (n1, "(unnamed)");
  assert_non_null (g_strstr_len (g_bytes_get_data (a1, NULL), g_bytes_get_size (a1),
                                 "Subject: inner\r\n\r\ninner body"));
  /* a control character in a name is made harmless */
  a2 = pst_mime_message_get_attachment (m, 2, 1000, &n2, NULL, NULL);
  assert_non_null (a2);
  assert_string_equal (n2, "naïve_name.pdf");
  assert_int_equal (g_bytes_get_size (a2), 5);
  assert_memory_equal (g_bytes_get_data (a2, NULL), "%PDF-", 5);
}

static void
assert_refused (const PstComposeFields *f, const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = pst_compose_message (f, &error);

  assert_null (out);
  assert_non_null (error);
  assert_int_equal (error->code, PST_ERROR_USAGE);
  if (strstr (error->message, words) == NULL)
    fail_msg ("error '%s' does not say '%s'", error->message, words);
}

static void
test_header_injection (void **state)
{
  const char *const evil_to[] = { "bob@example.org\r\nBcc: eve@example.net", NULL };
  const char *const evil_name[] = { "Bob\n <bob@example.org>", NULL };
  const char *const evil_cc[] = { "x@example.org", "carol@example.net\rX: y", NULL };
  const char *const evil_bcc[] = { "a@b.example\n", NULL };
  g_autoptr (GBytes) data = g_bytes_new_static ("x", 1);
  PstComposeAttachment evil_file[] = { { "a.txt\r\nContent-Type: text/html", NULL, data } };
  PstComposeAttachment evil_type[] = { { "a.txt", "text/plain\r\nX-Evil: 1", data } };
  PstComposeFields f;

  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .subject = "Hi\r\nBcc: eve@example.net" };
  assert_refused (&f, "Subject holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .subject = "Hi\nthere" };
  assert_refused (&f, "Subject holds a line break");
  f = (PstComposeFields) { .from = "a@example.org\r\nBcc: eve@example.net", .to = bob };
  assert_refused (&f, "From holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .from_name = "A\rB", .to = bob };
  assert_refused (&f, "the From display name holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = evil_to };
  assert_refused (&f, "To holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = evil_name };
  assert_refused (&f, "To holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .cc = evil_cc };
  assert_refused (&f, "Cc holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .bcc = evil_bcc };
  assert_refused (&f, "Bcc holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .in_reply_to = "<a@b>\r\nX: y" };
  assert_refused (&f, "In-Reply-To holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .attachments = evil_file,
                           .n_attachments = 1 };
  assert_refused (&f, "the file name of attachment 0 holds a line break");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .attachments = evil_type,
                           .n_attachments = 1 };
  assert_refused (&f, "the content type of attachment 0 holds a line break");
  /* a line break in the body is just text */
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .body = "a\r\nBcc: x@y\r\n" };
  g_bytes_unref (compose_ok (&f));
}

static void
test_bad_input (void **state)
{
  static const char *const bad[] = {
    "not an address", "bob@", "@example.org", "Bob <bob@example.org", "a@b.example, c@d.example",
    "Bob <>", "", "user@exämple.org",
  };
  PstComposeAttachment bad_type[] = { { "a", "not a type", NULL } };
  PstComposeFields f;

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *const to[] = { "ok@example.org", bad[i], NULL };

      f = (PstComposeFields) { .from = "a@example.org", .to = to };
      assert_refused (&f, "To: '");
      f = (PstComposeFields) { .from = bad[i], .to = bob };
      assert_refused (&f, "From");
    }
  f = (PstComposeFields) { .to = bob };
  assert_refused (&f, "From: the sender's address is missing");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .subject = "\xff\xfe" };
  assert_refused (&f, "Subject is not UTF-8");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .body = "caf\xe9" };
  assert_refused (&f, "the body is not UTF-8");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .in_reply_to = "no id here" };
  assert_refused (&f, "In-Reply-To: 'no id here' is not a Message-ID");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .attachments = bad_type,
                           .n_attachments = 1 };
  assert_refused (&f, "'not a type' is not a MIME type");
}

/* A body with a line far over 998 octets still leaves none on the wire. */
static void
test_long_lines (void **state)
{
  g_autofree char *line = g_strnfill (5000, 'x');
  g_autofree char *body = g_strdup_printf ("%s\n%s", line, line);
  g_autofree char *name = g_strnfill (300, 'n');
  const char *const to[] = { name, NULL };
  g_autofree char *named = g_strdup_printf ("%s <long@example.org>", name);
  const char *const to2[] = { named, NULL };
  PstComposeFields f = { .from = "a@example.org", .to = to2, .subject = line, .body = body };
  g_autoptr (GBytes) out = compose_ok (&f);
  g_autoptr (PstMimeMessage) m = parse_ok (out);
  g_autofree char *got = pst_mime_message_get_body_text (m);
  g_autofree char *got_subject = header_of (m, "Subject");
  g_autofree char *got_to = header_of (m, "To");

  assert_lines (out, 78);
  /* a last line end is added */
  assert_true (g_str_has_suffix (got, "\n") && strncmp (got, body, strlen (body)) == 0
               && strlen (got) == strlen (body) + 1);
  assert_string_equal (got_subject, line);
  assert_string_equal (got_to, named);
  f = (PstComposeFields) { .from = "a@example.org", .to = to };
  assert_refused (&f, "is not an address");
}

/* One mailbox field (postern sendmail's From): the display name quoted or
 * an RFC 2047 word, header injection refused. */
static void
test_mailbox_field (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *plain = pst_compose_mailbox_field ("From", "me@x.test", "CronDaemon", NULL);
  g_autofree char *bare = pst_compose_mailbox_field ("From", "Me <me@x.test>", "", NULL);
  g_autofree char *own = pst_compose_mailbox_field ("From", "Me Too <me@x.test>", NULL, NULL);
  g_autofree char *utf8 = pst_compose_mailbox_field ("From", "me@x.test", "Jürgen", NULL);
  g_autofree char *evil = pst_compose_mailbox_field ("From", "me@x.test", "A\r\nBcc: x@y.test",
                                                     &error);

  (void) state;
  assert_string_equal (plain, "From: CronDaemon <me@x.test>\r\n");
  assert_string_equal (bare, "From: me@x.test\r\n");
  assert_string_equal (own, "From: Me Too <me@x.test>\r\n");
  assert_non_null (strstr (utf8, "=?UTF-8?"));
  assert_null (strstr (utf8, "Jürgen"));
  assert_null (evil);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
}

/* The same field from an addr-spec without libetpan (the command line's
 * sendmail From): the same bytes as pst_compose_mailbox_field for each
 * display name, and what is not a plain addr-spec refused. */
static void
test_addr_spec_field (void **state)
{
  static const char *const names[] = { "CronDaemon", "", "Me Too", "Jürgen", "Dr. \"Q\" O'Neil",
                                       "A name long enough that it has to be folded somewhere "
                                       "before the address", NULL };
  static const char *const specs[] = { "me@x.test", "first.last+tag@sub.x-y.test",
                                       "a!#$%&'*/=?^_`{|}~-@x.test", "me@[192.0.2.1]",
                                       "me@my_host.lan", "me@localhost", NULL };
  static const char *const bad[] = { "me", "@x.test", "me@", "\"a b\"@x.test", "a b@x.test",
                                     "a(c)@x.test", "Me <me@x.test>", "me@x.test>", "me@[1.2]x",
                                     "me@[a]b]", "me@[\"]", "me@[a\\b]", "me@[]", "mé@x.test",
                                     "a,b@x.test", "a..b@x.test", ".a@x.test", "a.@x.test",
                                     "a@x..test", "a@.x.test", "a@x.test.", "a@b@x.test",
                                     "me@x.test\r\nBcc: y@z.test", NULL };

  (void) state;
  for (guint i = 0; specs[i] != NULL; i++)
    for (guint j = 0; names[j] != NULL; j++)
      {
        g_autoptr (GError) e1 = NULL;
        g_autoptr (GError) e2 = NULL;
        g_autofree char *parsed = pst_compose_mailbox_field ("From", specs[i], names[j], &e1);
        g_autofree char *written = pst_compose_addr_spec_field ("From", specs[i], names[j], &e2);

        if (parsed == NULL || written == NULL)
          fail_msg ("%s / %s: %s / %s", specs[i], names[j], e1 ? e1->message : "ok",
                    e2 ? e2->message : "ok");
        assert_string_equal (written, parsed);
      }
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *f = pst_compose_addr_spec_field ("From", bad[i], "Me", &error);

      if (f != NULL)
        fail_msg ("taken: %s -> %s", bad[i], f);
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
    }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *evil = pst_compose_addr_spec_field ("From", "me@x.test", "A\r\nBcc: x@y.test",
                                                         &error);
    g_autofree char *latin1 = pst_compose_addr_spec_field ("From", "me@x.test", "J\xfcrgen", NULL);

    assert_null (evil);
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
    assert_null (latin1);
  }
}

/* References: the given ones, then the answered one (not twice); alone
 * when forwarding; anything but Message-IDs refused. */
static void
test_references (void **state)
{
  PstComposeFields f = {
    .from = "a@example.org", .to = bob, .in_reply_to = "<c@x.test>",
    .references = "<a@x.test>\t <b@x.test>",
  };
  g_autoptr (GBytes) out = compose_ok (&f);
  g_autoptr (PstMimeMessage) m = parse_ok (out);
  g_autofree char *refs = header_of (m, "References");
  g_autofree char *irt = header_of (m, "In-Reply-To");
  g_autoptr (GBytes) out2 = NULL, out3 = NULL;
  g_autoptr (PstMimeMessage) m2 = NULL, m3 = NULL;
  g_autofree char *refs2 = NULL, *refs3 = NULL, *irt3 = NULL;

  (void) state;
  assert_lines (out, 78);
  assert_string_equal (refs, "<a@x.test> <b@x.test> <c@x.test>");
  assert_string_equal (irt, "<c@x.test>");
  f.references = "<a@x.test> <c@x.test>";
  out2 = compose_ok (&f);
  m2 = parse_ok (out2);
  refs2 = header_of (m2, "References");
  assert_string_equal (refs2, "<a@x.test> <c@x.test>");
  f = (PstComposeFields) { .from = "a@example.org", .to = bob, .references = "<fwd@x.test>" };
  out3 = compose_ok (&f);
  m3 = parse_ok (out3);
  refs3 = header_of (m3, "References");
  assert_string_equal (refs3, "<fwd@x.test>");
  irt3 = pst_mime_message_get_header (m3, "In-Reply-To");
  assert_null (irt3);
  f.references = "<a@x.test> junk";
  assert_refused (&f, "References: 'junk' is not a Message-ID");
  f.references = "<a@x.test>\r\nBcc: evil@x.test";
  assert_refused (&f, "header injection");
}

/* A forwarded message: a message/rfc822 part after the text, its bytes
 * as they were (CRLF), 8bit when they are not ASCII, never base64; its
 * attachment found inside it. */
static void
test_forward (void **state)
{
  static const char inner[] =
    "From: Carol <carol@x.test>\nSubject: Gr\xc3\xbc\xc3\x9f\xc3\xa9\nMessage-ID: <in@x.test>\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
    "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    "gr\xc3\xbc\xc3\x9f\n--b\nContent-Type: text/plain\n"
    "Content-Disposition: attachment; filename=\"n.txt\"\n\nthe attachment\n--b--\n";
  g_autoptr (GBytes) fwd = g_bytes_new_static (inner, strlen (inner));
  PstComposeFields f = { .from = "a@example.org", .to = bob, .subject = "Fwd: x",
                         .body = "see below\n", .forward = fwd };
  g_autoptr (GBytes) out = compose_ok (&f);
  g_autoptr (PstMimeMessage) m = parse_ok (out);
  g_autofree char *body = pst_mime_message_get_body_text (m);
  const char *text = g_bytes_get_data (out, NULL);
  const char *part = strstr (text, "Content-Type: message/rfc822\r\n");

  (void) state;
  assert_lines (out, 78);
  assert_string_equal (body, "see below\n");
  assert_non_null (part);
  assert_non_null (strstr (part, "Content-Transfer-Encoding: 8bit\r\n\r\nFrom: Carol <carol@x.test>\r\n"));
  assert_non_null (strstr (part, "filename=\"n.txt\"\r\n\r\nthe attachment\r\n--b--\r\n"));
  assert_null (strstr (text, "base64"));
  assert_true (strstr (text, "Content-Type: multipart/mixed") < part);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plain_text),
    cmocka_unit_test (test_mailbox_field),
    cmocka_unit_test (test_addr_spec_field),
    cmocka_unit_test (test_non_ascii),
    cmocka_unit_test (test_subject_forms),
    cmocka_unit_test (test_attachments),
    cmocka_unit_test (test_attachment_errors),
    cmocka_unit_test (test_foreign_attachments),
    cmocka_unit_test (test_header_injection),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_long_lines),
    cmocka_unit_test (test_references),
    cmocka_unit_test (test_forward),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
