/* Unit tests for mime/mime.c: parsing messages, addresses, headers, bodies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "mime/converters.h"
#include "mime/html.h"
#include "mime/inlinescan.h"
#include "mime/mime.h"
#include "mime/status-field.h"
#include "util/error.h"

static PstMimeMessage *
parse (const char *text, GError **error)
{
  g_autoptr(GBytes) b = g_bytes_new (text, strlen (text));

  return pst_mime_message_parse (b, error);
}

static PstMimeMessage *
parse_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  PstMimeMessage *m = parse (text, &error);

  assert_null (error);
  assert_non_null (m);
  return m;
}

static void
test_parse_good (void **state)
{
  g_autoptr(PstMimeMessage) m = parse_ok ("From: Alice <alice@example.org>\r\n"
                                          "To: bob@example.org\r\n"
                                          "Subject: hi\r\n"
                                          "\r\n"
                                          "Hello Bob\r\n");
  g_autofree char *from = pst_mime_message_get_from_address (m, NULL);
  g_autofree char *subject = pst_mime_message_get_header (m, "subject");
  g_autofree char *body = pst_mime_message_get_body_text (m);
  g_autoptr(PstMimeMessage) lf = parse_ok ("From: a@b.example\nSubject: x\n  folded\n\nbody\n");
  g_autofree char *folded = pst_mime_message_get_header (lf, "Subject");
  g_autoptr(PstMimeMessage) nobody = parse_ok ("From: a@b.example\r\nSubject: none");
  g_autofree char *missing = pst_mime_message_get_header (nobody, "X-Nothing");

  assert_string_equal (from, "alice@example.org");
  assert_string_equal (subject, "hi");
  assert_string_equal (body, "Hello Bob\n");
  assert_string_equal (folded, "x  folded");
  assert_null (missing);
}

static void
test_reject (void **state)
{
  static const char junk[] = { 0x7f, 'E', 'L', 'F', 0x02, 0x01, 0x00, 0x00, (char) 0xff, (char) 0xfe, ':', 0 };
  const char *bad[] = {
    "hello world\n",
    "hello world\nFrom: a@b\n\nbody\n",
    "From: a@b\nthis line is not a field\n\nbody\n",
    " continuation first: x\n\n",
    "\nbody only\n",
    ": no name\n\n",
    "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PstMimeMessage) m = parse (bad[i], &error);

      assert_null (m);
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
    }
  {
    g_autoptr(GBytes) b = g_bytes_new (junk, sizeof junk);
    g_autoptr(GError) error = NULL;
    g_autoptr(PstMimeMessage) m = pst_mime_message_parse (b, &error);

    assert_null (m);
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  }
  {
    /* NUL in the header section */
    static const char nul[] = "From: a@b\0x\n\nbody";
    g_autoptr(GBytes) b = g_bytes_new (nul, sizeof nul - 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(PstMimeMessage) m = pst_mime_message_parse (b, &error);

    assert_null (m);
  }
}

/* Every prefix of a good message that ends inside the header section parses
 * or fails cleanly, never crashes. */
static void
test_truncated (void **state)
{
  const char *text = "From: Alice <alice@example.org>\r\nTo: b@example.org\r\n"
                     "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n";

  for (gsize n = 0; n <= strlen (text); n++)
    {
      g_autoptr(GBytes) b = g_bytes_new (text, n);
      g_autoptr(PstMimeMessage) m = pst_mime_message_parse (b, NULL);

      if (m != NULL)
        {
          g_autofree char *s = pst_mime_message_get_header (m, "Subject");
          g_autofree char *t = pst_mime_message_get_body_text (m);
          g_auto(GStrv) r = pst_mime_message_get_recipients (m);
          g_autoptr(GPtrArray) a = pst_mime_message_get_attachments (m);
          g_autofree char *f = pst_mime_message_get_from_address (m, NULL);
        }
    }
}

static void
test_from (void **state)
{
  struct { const char *msg; const char *addr; } cases[] = {
    { "From: alice@example.org\n\nx\n", "alice@example.org" },
    { "FROM:   \"Alice, A.\" <alice@example.org>\n\nx\n", "alice@example.org" },
    { "From: Alice\n <alice@example.org>\n\nx\n", "alice@example.org" },
    { "To: b@example.org\n\nx\n", NULL },
    { "From: a@example.org\nFrom: b@example.org\n\nx\n", NULL },
    { "From: a@example.org, b@example.org\n\nx\n", NULL },
    { "From: not an address\n\nx\n", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PstMimeMessage) m = parse_ok (cases[i].msg);
      g_autoptr(GError) error = NULL;
      g_autofree char *from = pst_mime_message_get_from_address (m, &error);

      if (cases[i].addr != NULL)
        {
          assert_null (error);
          assert_string_equal (from, cases[i].addr);
        }
      else
        {
          assert_null (from);
          assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
        }
    }
}

static void
test_recipients (void **state)
{
  g_autoptr(PstMimeMessage) m = parse_ok (
    "From: a@example.org\r\n"
    "To: Bob <bob@example.org>, \"Doe, Carol\" <carol@example.org>\r\n"
    "Cc: friends: dave@example.org, Eve <eve@example.org>;, bob@EXAMPLE.org\r\n"
    "Bcc: hidden@example.org\r\n"
    "Reply-To: nobody@example.org\r\n"
    "Subject: x\r\n\r\nbody\r\n");
  g_auto(GStrv) r = pst_mime_message_get_recipients (m);
  g_autoptr(PstMimeMessage) none = parse_ok ("From: a@example.org\n\nx\n");
  g_auto(GStrv) empty = pst_mime_message_get_recipients (none);

  assert_int_equal (g_strv_length (r), 5);
  assert_string_equal (r[0], "bob@example.org");
  assert_string_equal (r[1], "carol@example.org");
  assert_string_equal (r[2], "dave@example.org");
  assert_string_equal (r[3], "eve@example.org");
  assert_string_equal (r[4], "hidden@example.org");
  assert_non_null (empty);
  assert_null (empty[0]);
}

/* Each address once, the first occurrence kept, equal as pst_addr_equal
 * says (the domain's case aside, not the local part's); and many distinct
 * ones in one header, each kept (a hash set: the list searched for each
 * was quadratic). */
static void
test_recipients_once (void **state)
{
  g_autoptr(PstMimeMessage) m = parse_ok (
    "From: a@example.org\r\n"
    "To: a@x.test, A <a@X.TEST>, B@x.test\r\n"
    "Cc: g: c@x.test, a@x.Test;, b@x.test\r\n"
    "Bcc: c@x.test, b@x.test\r\n"
    "\r\nbody\r\n");
  g_auto(GStrv) r = pst_mime_message_get_recipients (m);
  g_autoptr(GString) text = g_string_new ("From: a@example.org\r\nTo: ");
  g_autoptr(PstMimeMessage) many = NULL;
  g_auto(GStrv) all = NULL;

  (void) state;
  assert_int_equal (g_strv_length (r), 4);
  assert_string_equal (r[0], "a@x.test");
  assert_string_equal (r[1], "B@x.test");
  assert_string_equal (r[2], "c@x.test");
  assert_string_equal (r[3], "b@x.test");
  for (guint i = 0; i < 20000; i++)
    g_string_append_printf (text, "%sr%u@x.test", i ? ",\r\n " : "", i);
  g_string_append (text, ",\r\n R0@x.test, r0@X.test\r\n\r\nbody\r\n");
  many = parse_ok (text->str);
  all = pst_mime_message_get_recipients (many);
  assert_int_equal (g_strv_length (all), 20001);
  assert_string_equal (all[0], "r0@x.test");
  assert_string_equal (all[19999], "r19999@x.test");
  assert_string_equal (all[20000], "R0@x.test");
}

static void
test_rfc2047 (void **state)
{
  g_autoptr(PstMimeMessage) m = parse_ok (
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n"
    "Subject: =?utf-8?B?w6l0w6kgw6AgUGFyaXM=?=\r\n"
    "X-Mixed: plain =?UTF-8?Q?caf=C3=A9?=\r\n =?UTF-8?Q?_cr=C3=A8me?= end\r\n"
    "\r\nx\r\n");
  g_autofree char *subject = pst_mime_message_get_header (m, "Subject");
  g_autofree char *from = pst_mime_message_get_header (m, "From");
  g_autofree char *mixed = pst_mime_message_get_header (m, "X-Mixed");

  assert_string_equal (subject, "été à Paris");
  assert_non_null (strstr (from, "André"));
  assert_non_null (strstr (mixed, "café crème"));
  assert_true (g_str_has_prefix (mixed, "plain "));
  assert_true (g_str_has_suffix (mixed, " end"));
}

static void
test_bodies (void **state)
{
  g_autoptr(PstMimeMessage) qp = parse_ok (
    "From: a@example.org\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "caf=C3=A9 soft=\r\nbreak =3D done\r\n");
  g_autoptr(PstMimeMessage) b64 = parse_ok (
    "From: a@example.org\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "Y2Fm6SDgIGxhIGNy6G1lCg==\r\n");
  g_autoptr(PstMimeMessage) latin = parse_ok (
    "From: a@example.org\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=windows-1252\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "\x80 price\r\n");
  g_autofree char *t1 = pst_mime_message_get_body_text (qp);
  g_autofree char *t2 = pst_mime_message_get_body_text (b64);
  g_autofree char *t3 = pst_mime_message_get_body_text (latin);

  assert_string_equal (t1, "café softbreak = done\n");
  assert_string_equal (t2, "café à la crème\n");
  assert_string_equal (t3, "€ price\n");
}

static void
test_multipart (void **state)
{
  g_autoptr(PstMimeMessage) m = parse_ok (
    "From: a@example.org\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: multipart/alternative; boundary=YY\r\n\r\n"
    "--YY\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    "the text\r\n"
    "--YY\r\n"
    "Content-Type: text/html\r\n\r\n"
    "<p>the text</p>\r\n"
    "--YY--\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; name=\"notes.txt\"\r\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n"
    "attached text\r\n"
    "--XX\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "JVBERi0=\r\n"
    "--XX--\r\n");
  g_autofree char *text = pst_mime_message_get_body_text (m);
  g_autoptr(GPtrArray) att = pst_mime_message_get_attachments (m);
  g_autoptr(PstMimeMessage) html = parse_ok (
    "From: a@example.org\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n");
  g_autofree char *none = pst_mime_message_get_body_text (html);

  assert_string_equal (text, "the text");   /* the CRLF before a delimiter is not content */
  assert_int_equal (att->len, 2);   /* the html alternative is no attachment */
  assert_string_equal (att->pdata[0], "notes.txt\ttext/plain");
  assert_string_equal (att->pdata[1], "(unnamed)\tapplication/pdf");
  assert_null (none);
}

static void
test_html_as_text (void **state)
{
  g_autoptr(PstMimeMessage) m = parse_ok (
    "From: a@example.org\r\nContent-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "<html><head><title>T</title><style>p{color:red}</style></head><body>"
    "<p>Gr=C3=BC&szlig;e &amp; hello</p><script>alert(1)</script>"
    "<p>See <a href=3D\"https://evil.example/x\">your bank</a>"
    "<img src=3D\"https://tracker.example/p.gif\" alt=3D\"logo\"></p>"
    "<ul><li>one<li>two</ul>\r\n");
  g_autofree char *text = pst_mime_message_get_html_as_text (m);
  g_autofree char *plain = pst_mime_message_get_body_text (m);

  assert_null (plain);
  assert_non_null (text);
  assert_non_null (strstr (text, "Grüße & hello\n"));
  assert_non_null (strstr (text, "See your bank <https://evil.example/x>[logo]"));
  assert_non_null (strstr (text, "• one\n• two"));
  assert_null (strstr (text, "alert"));
  assert_null (strstr (text, "color"));
  assert_null (strstr (text, "tracker"));
  assert_null (strstr (text, "<p"));
}

static void
test_html_as_text_hostile (void **state)
{
  /* Unclosed tags, a stray NUL-free binary run, deep nesting: text, never a crash. */
  g_autoptr(GString) deep = g_string_new ("From: a@example.org\r\nContent-Type: text/html\r\n\r\n");
  for (int i = 0; i < 5000; i++)
    g_string_append (deep, "<div><b>");
  g_string_append (deep, "x\xff\xfe<a href=");
  {
    g_autoptr(GBytes) b = g_bytes_new (deep->str, deep->len);
    g_autoptr(GError) error = NULL;
    g_autoptr(PstMimeMessage) m = pst_mime_message_parse (b, &error);
    g_autofree char *text = m ? pst_mime_message_get_html_as_text (m) : NULL;

    assert_non_null (m);
    assert_non_null (text);
    assert_true (g_utf8_validate (text, -1, NULL));
  }
}

static void
test_split_multipart (void **state)
{
  const char *body = "pre\r\n--b\r\nA: 1\r\n\r\none\r\n\r\n--b \r\n\r\ntwo\r\n--b--\r\nepilogue\r\n--b\r\n";
  g_autoptr(GArray) spans = pst_mime_split_multipart (body, strlen (body), "b", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) none = pst_mime_split_multipart ("no parts\n", 9, "b", &error);
  g_autoptr(GArray) open = pst_mime_split_multipart ("--b\nx\n", 6, "b", NULL);
  PstMimeSpan *s;

  assert_int_equal (spans->len, 2);
  s = &g_array_index (spans, PstMimeSpan, 0);
  assert_int_equal (s->length, strlen ("A: 1\r\n\r\none\r\n"));
  assert_memory_equal (body + s->offset, "A: 1\r\n\r\none\r\n", s->length);
  s = &g_array_index (spans, PstMimeSpan, 1);
  assert_memory_equal (body + s->offset, "\r\ntwo", s->length);
  assert_null (none);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  assert_int_equal (open->len, 1);
}

static void
test_content_type (void **state)
{
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *t = pst_mime_parse_content_type (
    "Multipart/Signed; micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\"; Boundary=\"a b\"",
    &params);
  g_autofree char *bad = pst_mime_parse_content_type ("", NULL);
  g_autoptr(GBytes) crlf = pst_mime_to_crlf ("a\nb\r\nc\rd", 8);

  assert_string_equal (t, "multipart/signed");
  assert_string_equal (g_hash_table_lookup (params, "protocol"), "application/pgp-signature");
  assert_string_equal (g_hash_table_lookup (params, "boundary"), "a b");
  assert_null (bad);
  assert_int_equal (g_bytes_get_size (crlf), 10);
  assert_memory_equal (g_bytes_get_data (crlf, NULL), "a\r\nb\r\nc\r\nd", 10);
}

/* pst_mime_bytes_to_crlf: the bytes themselves when all line ends are
 * CRLF already, else what pst_mime_to_crlf makes of them. */
static void
test_bytes_to_crlf (void **state)
{
  const char *canonical[] = { "", "abc", "a\r\nb\r\n", "\r\n\r\n" };
  const char *not_canonical[] = { "a\nb", "\n", "a\r", "\ra\r\n", "a\r\r\nb", "a\r\n\nb" };

  for (gsize i = 0; i < G_N_ELEMENTS (canonical); i++)
    {
      g_autoptr(GBytes) in = g_bytes_new (canonical[i], strlen (canonical[i]));
      g_autoptr(GBytes) out = pst_mime_bytes_to_crlf (in);

      assert_ptr_equal (out, in);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (not_canonical); i++)
    {
      const char *s = not_canonical[i];
      g_autoptr(GBytes) in = g_bytes_new (s, strlen (s));
      g_autoptr(GBytes) out = pst_mime_bytes_to_crlf (in);
      g_autoptr(GBytes) want = pst_mime_to_crlf (s, strlen (s));

      assert_ptr_not_equal (out, in);
      assert_true (g_bytes_equal (out, want));
    }
}

/* Every regress-* input the fuzzer found for mime.h, with every accessor;
 * the inputs are copied into buffers of their exact size, so that
 * AddressSanitizer (or valgrind) sees a read past the end. */
static void
test_fuzz_regressions (void **state)
{
  g_autofree char *dir = g_build_filename (SRCDIR, "..", "fuzz", "corpus", "mime", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *text = NULL;
      g_autoptr(GBytes) data = NULL;
      g_autoptr(PstMimeMessage) m = NULL;
      gsize len = 0;

      if (!g_str_has_prefix (name, "regress-"))
        continue;
      assert_true (g_file_get_contents (path, &text, &len, NULL));
      data = g_bytes_new (text, len);
      m = pst_mime_message_parse (data, NULL);
      if (m != NULL)
        {
          g_autofree char *from = pst_mime_message_get_from_address (m, NULL);
          g_auto(GStrv) rcpts = pst_mime_message_get_recipients (m);
          g_autofree char *subject = pst_mime_message_get_header (m, "Subject");
          g_autofree char *body = pst_mime_message_get_body_text (m);
          g_autoptr(GPtrArray) att = pst_mime_message_get_attachments (m);
        }
      n++;
    }
  g_print ("# %u regression inputs\n", n);
}

/* A quoted-printable body that ends in "=" and one more byte: the decoder
 * must not read past the end of the message. */
static void
test_qp_at_end (void **state)
{
  static const char text[] = "Content-Transfer-Encoding: quoted-printable\n\n=\xa0";
  g_autoptr(GBytes) data = g_bytes_new (text, sizeof text - 1);
  g_autoptr(PstMimeMessage) m = pst_mime_message_parse (data, NULL);
  g_autofree char *body = NULL;

  assert_non_null (m);
  body = pst_mime_message_get_body_text (m);
  assert_non_null (body);
}

/* Date zones: "+hhmm" and nothing longer (a zone of fourteen digits
 * overflowed an int in the arithmetic; found by fuzz-smime). */
static void
test_date_zones (void **state)
{
  gint64 utc = pst_mime_parse_date ("Mon, 26 Jan 2026 14:38:03 +0000");

  assert_true (utc > 0);
  assert_int_equal (pst_mime_parse_date ("Mon, 26 Jan 2026 15:38:03 +0100"), utc);
  assert_int_equal (pst_mime_parse_date ("Mon, 26 Jan 2026 09:08:03 -0530"), utc);
  assert_int_equal (pst_mime_parse_date ("Mon, 26 Jan 2026 14:38:03 +000066666666666666"), 0);
  assert_int_equal (pst_mime_parse_date ("Mon, 26 Jan 2026 14:38:03 -99999"), 0);
}

static char *
with_field_len (const char *message, gsize len)
{
  g_autoptr(GBytes) in = g_bytes_new (message, len);
  g_autoptr(GBytes) out = pst_mime_with_status_field (in, "scheme=none");
  gsize n = g_bytes_get_size (out);
  char *copy = g_malloc (n + 1);

  memcpy (copy, g_bytes_get_data (out, NULL), n);   /* NULs too: not g_strndup */
  copy[n] = '\0';
  return copy;
}

static char *
with_field (const char *message)
{
  return with_field_len (message, strlen (message));
}

/* Every Postern-Status field that arrived goes, whatever its case, folding
 * or white space before the colon; ours is on top; the rest stays byte for
 * byte, but for what another reader could split differently (a CR that
 * ends no line, a NUL), which becomes a space. */
static void
test_status_field (void **state)
{
  g_autofree char *crlf = NULL, *lf = NULL, *head = NULL, *mbox = NULL, *bad = NULL, *cr = NULL,
                  *nul = NULL, *lead = NULL, *lead_mbox = NULL;
  static const char with_nul[] = "From: a@b.test\nX: a\0Postern-Status: x\n\nbody\0\n";
  static const char nul_out[] = "Postern-Status: scheme=none\nFrom: a@b.test\nX: a Postern-Status: x\n"
                                "\nbody\0\n";

  (void) state;
  crlf = with_field ("Postern-Status: scheme=pgp; signature=good\r\nFrom: a@b.test\r\n"
                     "POSTERN-STATUS: forged\r\n\tfolded=yes\r\nSubject: s\r\n"
                     "Postern-Status\t : spaced\r\n\r\n"
                     "Postern-Status: in the body\r\n");
  assert_string_equal (crlf, "Postern-Status: scheme=none\r\nFrom: a@b.test\r\nSubject: s\r\n"
                             "\r\nPostern-Status: in the body\r\n");
  lf = with_field ("From: a@b.test\npostern-status: x\n\nbody\n");
  assert_string_equal (lf, "Postern-Status: scheme=none\nFrom: a@b.test\n\nbody\n");
  head = with_field ("From: a@b.test");
  assert_string_equal (head, "Postern-Status: scheme=none\r\nFrom: a@b.test\r\n\r\n");
  mbox = with_field ("From a@b.test Sat Dec  5 05:00:00 2026\nFrom: a@b.test\n\nx\n");
  assert_string_equal (mbox, "Postern-Status: scheme=none\nFrom: a@b.test\n\nx\n");
  /* No header a parser accepts: still the field, nothing lost. */
  bad = with_field ("no header here");
  assert_string_equal (bad, "Postern-Status: scheme=none\r\nno header here\r\n\r\n");
  /* A lone CR would be a line break to some readers: a forged field
   * hidden behind it must not come out as one. */
  cr = with_field ("Subject: hi\rPostern-Status: signature=good\r\n\r\nbody\r\n");
  assert_string_equal (cr, "Postern-Status: scheme=none\r\nSubject: hi Postern-Status: "
                           "signature=good\r\n\r\nbody\r\n");
  /* A continuation line before the first field would continue ours. */
  lead = with_field (" ; signature=good; signer=ceo@example.org\r\nFrom: a@b.test\r\n\r\nx\r\n");
  assert_string_equal (lead, "Postern-Status: scheme=none\r\nFrom: a@b.test\r\n\r\nx\r\n");
  lead_mbox = with_field ("From a@b.test Sat Dec  5 05:00:00 2026\n\tsignature=good\nFrom: a@b.test\n\nx\n");
  assert_string_equal (lead_mbox, "Postern-Status: scheme=none\nFrom: a@b.test\n\nx\n");
  nul = with_field_len (with_nul, sizeof with_nul - 1);
  assert_memory_equal (nul, nul_out, sizeof nul_out - 1);
}

/* PstQpScan says what pst_mime_body_needs_qp says of the CRLF form, and
 * whether a byte is 0x80 or more, fed in pieces of every size. */
static void
test_qp_scan (void **state)
{
#define B(s) { s, sizeof s - 1 }
  struct { const char *s; gsize len; } bodies[] = {
    B (""), B ("plain\n"), B ("plain\r\nlines\r\n"), B ("no end"), B ("From here\n"),
    B ("x\nFrom here\n"), B ("trailing \n"), B ("trailing\t\r\n"), B ("trailing "),
    B ("bare\rcr\n"), B ("8bit \xc3\xa4\n"), B ("nul\0byte\n"), B ("From\n"),
    B ("Fro\nm here\n"), B ("\r\n\r\n"), B ("a \r"), B ("trailing \nthen 8-bit \xe9\n"),
    B ("nul\0then 8-bit \xe9"), { NULL, 998 }, { NULL, 999 },
  };
#undef B
  g_autofree char *long_line = g_strnfill (999, 'x');

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      const char *body = bodies[i].s != NULL ? bodies[i].s : long_line;
      gsize len = bodies[i].len;
      g_autoptr(GBytes) crlf = pst_mime_to_crlf (body, len);
      gboolean want = pst_mime_body_needs_qp (g_bytes_get_data (crlf, NULL), g_bytes_get_size (crlf));
      gboolean high = FALSE;

      for (gsize k = 0; k < len; k++)
        high = high || (guchar) body[k] >= 0x80;

      for (gsize piece = 1; piece <= len + 1; piece++)
        {
          PstQpScan scan;

          pst_mime_qp_scan_init (&scan);
          for (gsize at = 0; at < len; at += piece)
            pst_mime_qp_scan_feed (&scan, body + at, MIN (piece, len - at));
          if (pst_mime_qp_scan_end (&scan) != want)
            fail_msg ("body %u, pieces of %zu: scan says %d", i, piece, !want);
          if (scan.eight_bit != high)
            fail_msg ("body %u, pieces of %zu: eight_bit %d", i, piece, !high);
        }
    }
}

/* @in through @converter, written in pieces of @piece bytes. */
static GBytes *
convert (GConverter *converter, const char *in, gsize len, gsize piece)
{
  g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (mem, converter);

  for (gsize at = 0; at < len; at += piece)
    assert_true (g_output_stream_write_all (out, in + at, MIN (piece, len - at), NULL, NULL, NULL));
  assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
}

/* Base64 in lines of 76 characters, CRLF, as g_base64_encode cut up; the
 * CRLF converter as pst_mime_to_crlf, after its prefix. */
static void
test_converters (void **state)
{
  guchar data[1000];

  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guchar) (i * 7 + 3);
  for (gsize len = 0; len < sizeof data; len += len < 120 ? 1 : 97)
    {
      g_autofree char *b64 = g_base64_encode (data, len);
      g_autoptr(GString) want = g_string_new (NULL);
      gsize blen = strlen (b64);

      for (gsize i = 0; i < blen; i += 76)
        {
          g_string_append_len (want, b64 + i, MIN (76, blen - i));
          g_string_append (want, "\r\n");
        }
      for (gsize piece = 1; piece <= 100; piece += 33)
        {
          g_autoptr(PstBase64Converter) conv = pst_base64_converter_new ();
          g_autoptr(GBytes) got = convert (G_CONVERTER (conv), (const char *) data, len, piece);

          assert_int_equal (g_bytes_get_size (got), want->len);
          assert_memory_equal (g_bytes_get_data (got, NULL), want->str, want->len);
        }
    }
  {
    const char *text = "a\rb\nc\r\nd\r\r\n\nlonger lines, whose bytes the converter copies in runs of"
                       " their own up to the next line end\r\nand on, without a line end at all, for more"
                       " than the largest piece below\rlast\n\re";
    g_autoptr(GBytes) prefix = g_bytes_new_static ("P\n", 2);
    g_autoptr(GBytes) crlf = pst_mime_to_crlf (text, strlen (text));

    for (gsize piece = 1; piece <= strlen (text); piece++)
      {
        g_autoptr(PstCrlfConverter) conv = pst_crlf_converter_new (prefix);
        g_autoptr(GBytes) got = convert (G_CONVERTER (conv), text, strlen (text), piece);

        assert_int_equal (g_bytes_get_size (got), 2 + g_bytes_get_size (crlf));
        assert_memory_equal (g_bytes_get_data (got, NULL), "P\n", 2);
        assert_memory_equal ((const char *) g_bytes_get_data (got, NULL) + 2,
                             g_bytes_get_data (crlf, NULL), g_bytes_get_size (crlf));
        assert_int_equal (pst_crlf_converter_last (conv), 'e');
      }
  }
}

/* @in through a PstCrlfConverter and a PstQpConverter (with @prefix),
 * written in pieces of @piece bytes (@read: read from an input stream in
 * pieces of that size instead). */
static GBytes *
qp_stream (GBytes *prefix, const char *in, gsize len, gsize piece, gboolean read)
{
  g_autoptr(PstCrlfConverter) crlf = pst_crlf_converter_new (NULL);
  g_autoptr(PstQpConverter) qp = pst_qp_converter_new (prefix);

  if (read)
    {
      g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_data (in, len, NULL);
      g_autoptr(GInputStream) lines = g_converter_input_stream_new (mem, G_CONVERTER (crlf));
      g_autoptr(GInputStream) enc = g_converter_input_stream_new (lines, G_CONVERTER (qp));
      g_autoptr(GByteArray) got = g_byte_array_new ();
      g_autofree guint8 *buf = g_malloc (piece);
      gssize n;

      while ((n = g_input_stream_read (enc, buf, piece, NULL, NULL)) > 0)
        g_byte_array_append (got, buf, (guint) n);
      assert_int_equal (n, 0);
      return g_byte_array_free_to_bytes (g_steal_pointer (&got));
    }
  {
    g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
    g_autoptr(GOutputStream) enc = g_converter_output_stream_new (mem, G_CONVERTER (qp));
    g_autoptr(GOutputStream) lines = g_converter_output_stream_new (enc, G_CONVERTER (crlf));

    for (gsize at = 0; at < len; at += piece)
      assert_true (g_output_stream_write_all (lines, in + at, MIN (piece, len - at), NULL, NULL,
                                              NULL));
    assert_true (g_output_stream_close (lines, NULL, NULL));
    return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
  }
}

/* The quoted-printable converter gives what pst_mime_qp_encode gives for
 * the CRLF form, after its prefix, in pieces of every size: the edge
 * cases (a space or tab before a line end, at the input's end, at a soft
 * line break; "From " and its beginnings; '=', NUL, bare CR, 8-bit bytes;
 * lines of 75, 76 and 77 characters) and random bodies made of them. */
static void
test_qp_converter (void **state)
{
  static const char *const pieces[] = {
    "From ", "From", "Fro", "F", "x", " ", "\t", "=", "\r", "\n", "\r\n", "\xc3\xa4", "\0",
    "~", "abcdefghij", "                    ", "0123456789012345678901234567890123456789012345678901234567890123456789012345",
  };
#define B(s) { s, sizeof s - 1 }
  struct { const char *s; gsize len; } fixed[] = {
    B (""), B ("plain\n"), B ("no end"), B ("From here\n"), B ("x\nFrom here\nFrom"),
    B ("From"), B ("From \n"), B ("Fro\nm here\n"), B ("trailing \n"), B ("trailing\t\r\n"),
    B ("trailing "), B ("bare\rcr\n"), B ("a \r"), B ("\r"), B (" "), B ("\t\t\n"),
    B ("8bit \xc3\xa4\n"), B ("nul\0byte\n"), B ("=\n=="), B ("\r\n\r\n"),
  };
#undef B
  g_autoptr(GBytes) prefix = g_bytes_new_static ("Content-Type: text/plain\r\n\r\n", 28);
  g_autoptr(GRand) rand = g_rand_new_with_seed (16);
  g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (bodies, g_bytes_new_static (fixed[i].s, fixed[i].len));
  for (gsize width = 70; width <= 80; width++)
    for (guint k = 0; k < 4; k++)
      {
        /* A line of @width characters ending in a space, a '=', an 8-bit
         * byte or a plain one: where the soft line break falls. */
        const char ends[] = { ' ', '=', (char) 0xe9, 'z' };
        GString *b = g_string_new (NULL);

        for (gsize c = 0; c + 1 < width; c++)
          g_string_append_c (b, (char) ('a' + c % 26));
        g_string_append_c (b, ends[k]);
        g_string_append (b, k % 2 ? "\n" : "");
        g_ptr_array_add (bodies, g_string_free_to_bytes (b));
      }
  for (guint r = 0; r < 60; r++)
    {
      GString *b = g_string_new (NULL);
      guint n = g_rand_int_range (rand, 1, 60);

      for (guint k = 0; k < n; k++)
        {
          const char *p = pieces[g_rand_int_range (rand, 0, G_N_ELEMENTS (pieces))];

          g_string_append_len (b, p, *p == '\0' ? 1 : (gssize) strlen (p));
        }
      g_ptr_array_add (bodies, g_string_free_to_bytes (b));
    }

  for (guint i = 0; i < bodies->len; i++)
    {
      gsize len = 0;
      const char *body = g_bytes_get_data (bodies->pdata[i], &len);
      g_autoptr(GBytes) crlf = pst_mime_to_crlf (body, len);
      g_autoptr(GString) want = g_string_new ("Content-Type: text/plain\r\n\r\n");

      pst_mime_qp_encode (want, g_bytes_get_data (crlf, NULL), g_bytes_get_size (crlf));
      for (gsize piece = 1; piece <= len + 1; piece += piece < 80 ? 1 : 37)
        for (int read = 0; read < 2; read++)
          {
            g_autoptr(GBytes) got = qp_stream (prefix, body, len, piece, read);
            gsize glen = 0;
            const char *g = g_bytes_get_data (got, &glen);

            if (glen != want->len || memcmp (g, want->str, glen) != 0)
              fail_msg ("body %u (%zu bytes), pieces of %zu, %s: got \"%.*s\", want \"%s\"", i,
                        len, piece, read ? "read" : "written", (int) glen, g, want->str);
          }
    }
}

/* @plain encoded as @coding: base64 in lines of 76, or quoted-printable
 * with CR LF line ends, some letters as "=XX" and soft line breaks. */
static GString *
inline_encode (const GString *plain, PstInlineScanCoding coding)
{
  GString *e = g_string_new (NULL);

  if (coding == PST_INLINE_SCAN_BASE64)
    {
      g_autofree char *b = g_base64_encode ((const guchar *) plain->str, plain->len);

      for (gsize i = 0, n = strlen (b); i < n; i += 76)
        {
          g_string_append_len (e, b + i, MIN (76, n - i));
          g_string_append (e, "\r\n");
        }
      return e;
    }
  for (gsize i = 0, col = 0; i < plain->len; i++)
    {
      if (plain->str[i] == '\n')
        {
          g_string_append (e, "\r\n");
          col = 0;
          continue;
        }
      if (col >= 50)
        {
          g_string_append (e, "=\r\n");
          col = 0;
        }
      if (i % 7 == 0)
        g_string_append_printf (e, "=%02X", (guchar) plain->str[i]);
      else
        g_string_append_c (e, plain->str[i]);
      col++;
    }
  return e;
}

/* The scan's decoders write into a 4 KiB buffer: a marker line found
 * wherever it falls against that buffer and against the pieces the body
 * comes in, and a line that only holds the marker later not taken for
 * one. */
static void
test_inline_scan_pieces (void **state)
{
  const gsize pieces[] = { 1, 77, 4096, G_MAXSIZE };

  (void) state;
  for (int coding = PST_INLINE_SCAN_BASE64; coding <= PST_INLINE_SCAN_QP; coding++)
    /* base64: decoded as written; quoted-printable: a CR for each LF, so
     * that 4029 written is 4096 decoded */
    for (gsize off = coding == PST_INLINE_SCAN_BASE64 ? 4086 : 4020;
         off <= (coding == PST_INLINE_SCAN_BASE64 ? 4100u : 4036u); off++)
      for (int marker = 0; marker < 2; marker++)
        {
          g_autoptr(GString) plain = g_string_new (NULL);
          g_autoptr(GString) coded = NULL;

          for (gsize i = 0; i + 1 < off; i++)
            g_string_append_c (plain, i % 61 == 60 ? '\n' : (char) ('a' + i % 26));
          g_string_append (plain, marker ? "\n-----BEGIN PGP MESSAGE-----\nx\n"
                                         : "\n -----BEGIN PGP MESSAGE-----\nx\n");
          g_string_append (plain, "more text\n");
          coded = inline_encode (plain, coding);
          for (gsize p = 0; p < G_N_ELEMENTS (pieces); p++)
            {
              PstInlineScan scan;

              pst_inline_scan_init (&scan, coding);
              for (gsize at = 0; at < coded->len; at += MIN (pieces[p], coded->len - at))
                pst_inline_scan_feed (&scan, coded->str + at, MIN (pieces[p], coded->len - at));
              if (scan.found != marker)
                fail_msg ("coding %d, marker line at %zu, pieces of %zu: found %d", coding, off,
                          pieces[p], scan.found);
              pst_inline_scan_clear (&scan);
            }
        }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_good),
    cmocka_unit_test (test_qp_scan),
    cmocka_unit_test (test_converters),
    cmocka_unit_test (test_qp_converter),
    cmocka_unit_test (test_status_field),
    cmocka_unit_test (test_reject),
    cmocka_unit_test (test_truncated),
    cmocka_unit_test (test_from),
    cmocka_unit_test (test_recipients),
    cmocka_unit_test (test_recipients_once),
    cmocka_unit_test (test_rfc2047),
    cmocka_unit_test (test_bodies),
    cmocka_unit_test (test_multipart),
    cmocka_unit_test (test_html_as_text),
    cmocka_unit_test (test_html_as_text_hostile),
    cmocka_unit_test (test_split_multipart),
    cmocka_unit_test (test_content_type),
    cmocka_unit_test (test_bytes_to_crlf),
    cmocka_unit_test (test_fuzz_regressions),
    cmocka_unit_test (test_qp_at_end),
    cmocka_unit_test (test_date_zones),
    cmocka_unit_test (test_inline_scan_pieces),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
