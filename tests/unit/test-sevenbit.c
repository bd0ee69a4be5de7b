/* test-sevenbit — re-encoding 8-bit messages for servers without 8BITMIME:
 * only the 8-bit leaves change, everything else stays byte for byte, the
 * result decodes to the same text, and what cannot be converted is
 * refused.  The streamed form (sevenbit-stream.h) gives what the whole
 * form gives, byte for byte and refusal for refusal, whatever the pieces
 * it is fed and read in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"
#include "mime/sevenbit-stream.h"
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

/* A message without MIME's fields: encoded, it says it is MIME, and its
 * charset: utf-8 if its text is UTF-8, else unknown-8bit (RFC 1428). */
static void
test_unlabelled (void **state)
{
  static const struct {
    const char *in, *want_head;
  } cases[] = {
    { "From: a@x\r\nSubject: s\r\n\r\nGr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x98\x80\r\n",
      "From: a@x\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" },
    { "From: a@x\r\n\r\ncaf\xe9\r\n",
      "From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" },
    { "From: a@x\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9\r\n",
      "From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" },
    /* A part is not the message: no MIME-Version in it. */
    { "From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
      "--B\r\n\r\n\xc3\xa9\r\n--B--\r\n",
      "From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
      "--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) in = bytes (cases[i].in);
      g_autoptr (GBytes) out = pst_mime_to_7bit (in, NULL);
      g_autofree char *t = NULL;

      assert_non_null (out);
      t = text_of (out);
      if (!g_str_has_prefix (t, cases[i].want_head))
        fail_msg ("case %u: %s", i, t);
    }
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

/* ---- the streamed form ---- */

/* A GInputStream that gives at most @piece bytes a read. */
#define PIECE_TYPE_INPUT (piece_input_get_type ())
G_DECLARE_FINAL_TYPE (PieceInput, piece_input, PIECE, INPUT, GInputStream)

struct _PieceInput {
  GInputStream parent;
  GBytes *bytes;
  gsize at, piece;
};

G_DEFINE_TYPE (PieceInput, piece_input, G_TYPE_INPUT_STREAM)

static gssize
piece_read (GInputStream *stream, void *buffer, gsize count, GCancellable *c, GError **error)
{
  PieceInput *self = PIECE_INPUT (stream);
  gsize len = 0;
  const char *data = g_bytes_get_data (self->bytes, &len);
  gsize n = MIN (MIN (count, self->piece), len - self->at);

  if (n == 0)
    return 0;
  memcpy (buffer, data + self->at, n);
  self->at += n;
  return (gssize) n;
}

static void
piece_finalize (GObject *object)
{
  g_bytes_unref (PIECE_INPUT (object)->bytes);
  G_OBJECT_CLASS (piece_input_parent_class)->finalize (object);
}

static void
piece_input_class_init (PieceInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = piece_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = piece_read;
}

static void
piece_input_init (PieceInput *self)
{
}

static GInputStream *
piece_input_new (GBytes *bytes, gsize piece)
{
  PieceInput *self = g_object_new (PIECE_TYPE_INPUT, NULL);

  self->bytes = g_bytes_ref (bytes);
  self->piece = piece;
  return G_INPUT_STREAM (self);
}

/* The plan of @in, fed in pieces of @piece bytes. */
static PstSevenBitPlan *
plan_in_pieces (GBytes *in, gsize piece, GError **error)
{
  g_autoptr (PstSevenBitPlanner) p = pst_mime_7bit_planner_new ();
  gsize len = 0;
  const char *data = g_bytes_get_data (in, &len);

  for (gsize at = 0; at < len; at += piece)
    if (!pst_mime_7bit_planner_feed (p, data + at, MIN (piece, len - at), error))
      return NULL;
  return pst_mime_7bit_planner_finish (g_steal_pointer (&p), error);
}

/* The 7-bit copy of @in under @plan, read from pieces of @piece bytes in
 * reads of @count. */
static GBytes *
copy_in_pieces (GBytes *in, const PstSevenBitPlan *plan, gsize piece, gsize count,
                GError **error)
{
  g_autoptr (GInputStream) base = piece_input_new (in, piece);
  g_autoptr (GInputStream) copy = pst_mime_7bit_input_new (base, plan);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree guint8 *buf = g_malloc (count);
  gssize n;

  while ((n = g_input_stream_read (copy, buf, count, NULL, error)) > 0)
    g_byte_array_append (out, buf, (guint) n);
  if (n < 0)
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* @in through the streamed form in pieces of several sizes: the same bytes
 * or the same refusal as pst_mime_to_7bit. */
static void
assert_stream_matches (const char *name, GBytes *in)
{
  static const gsize pieces[] = { 1, 2, 3, 7, 64, 1000, 65536, G_MAXSIZE };
  g_autoptr (GError) whole_error = NULL;
  g_autoptr (GBytes) whole = pst_mime_to_7bit (in, &whole_error);
  gsize len = g_bytes_get_size (in);

  for (guint i = 0; i < G_N_ELEMENTS (pieces); i++)
    {
      gsize piece = pieces[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (PstSevenBitPlan) plan = NULL;
      g_autoptr (GBytes) copy = NULL;

      /* Only the sizes that make a difference; not more than 20,000
       * pieces (valgrind runs this too). */
      if (i > 0 && pieces[i - 1] >= len)
        break;
      if (len / piece > 20000)
        continue;
      plan = plan_in_pieces (in, piece, &error);
      if (whole == NULL)
        {
          if (plan != NULL)
            fail_msg ("%s, pieces of %zu: planned, but the whole form says: %s", name, piece,
                      whole_error->message);
          if (strcmp (error->message, whole_error->message) != 0)
            fail_msg ("%s, pieces of %zu: \"%s\", the whole form \"%s\"", name, piece,
                      error->message, whole_error->message);
          continue;
        }
      if (plan == NULL)
        fail_msg ("%s, pieces of %zu: refused (%s), the whole form was not", name, piece,
                  error->message);
      if (pst_mime_7bit_plan_size (plan) != g_bytes_get_size (whole))
        fail_msg ("%s, pieces of %zu: planned %" G_GUINT64_FORMAT " bytes, made %zu", name, piece,
                  pst_mime_7bit_plan_size (plan), g_bytes_get_size (whole));
      copy = copy_in_pieces (in, plan, piece, piece == 1 ? 5 : 4096, &error);
      assert_null (error);
      if (!g_bytes_equal (copy, whole))
        fail_msg ("%s, pieces of %zu: the copy differs from the whole form's", name, piece);
    }
}

static GBytes *
bytes_len (const char *s, gsize len)
{
  return g_bytes_new (s, len);
}

static void
test_stream_cases (void **state)
{
  static const char *const cases[] = {
    "",
    "From: a@x\r\nSubject: plain\r\n\r\nOnly ASCII.\r\n",
    "From: a@x\r\nSubject: \xc3\xa9\r\n\r\nx\r\n",
    "From: a@x\r\n\r\nGr\xc3\xbc\xc3\x9f" "e, a=b \r\n.\r\nFrom here\r\n",
    /* no line ends at all, bare LF and CR, a body without an empty line */
    "From: a@x\n\n\xe9t\xe9",
    "From: a@x\nSubject: x\n\ncaf\xe9\rcr\nlf\r\n",
    "From: a@x\r\nX: \xe9",
    "From: a@x\r\nX: y",
    "not a header\r\n\r\n\xe9\r\n",
    "not a header\r\n\r\nonly ascii\r\n",
    "\r\n\xe9 with no header\r\n",
    "From a@x Thu Jan  1 00:00:00 1970\r\nFrom: a@x\r\n\r\n\xe9\r\n",
    "From: a@x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\xe9\r\n",
    "From: a@x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: BINARY\r\n\r\n\xe9\r\n",
    "From: a@x\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\x01\x02",
    "From: a@x\r\nContent-Type: application/octet-stream\r\n\r\n\x80",
    "From: a@x\r\nContent-Type: application/octet-stream\r\n\r\n",
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    "preamble\r\n--B\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
    "--B\r\nContent-Type: text/plain; charset=latin1\r\n\r\ncaf\xe9\r\n"
    "--B\r\nContent-Type: application/octet-stream\r\n\r\n\x01\x80\xff\r\n--B--\r\nepilogue\r\n",
    /* 8-bit bytes in the preamble, between the parts, in the epilogue */
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\xe9\r\n--B\r\n\r\nx\r\n--B--\r\n",
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\n\xe9\r\n--B--\r\n\xe9\r\n",
    /* no close delimiter; an empty last part; no delimiter at all */
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\n\xe9\r\n--B\r\n",
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\n\xe9",
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\nno delimiter \xe9\r\n",
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B  \t\r\nContent-Type: text/html\r\n\r\n"
    "<p>\xe9</p>\r\n--B--  \r\n",
    /* a multipart without a boundary is a leaf; one with an empty boundary */
    "From: a@x\r\nContent-Type: multipart/mixed\r\n\r\n\xe9\r\n",
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n\xe9\r\n",
    /* nested, and a message inside */
    "From: a@x\r\nContent-Type: multipart/mixed; boundary=O\r\n\r\n--O\r\n"
    "Content-Type: multipart/alternative; boundary=I\r\n\r\n--I\r\n\r\n\xe9\r\n--I\r\n"
    "Content-Type: text/html\r\n\r\n<b>\xe9</b>\r\n--I--\r\n--O\r\n"
    "Content-Type: message/rfc822\r\n\r\nFrom: b@y\r\nSubject: inner\r\n\r\ninner \xe9\r\n--O--\r\n",
    "From: a@x\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@y\r\nSubject: \xe9\r\n\r\nx\r\n",
    /* signed and encrypted entities are never changed */
    "From: a@x\r\nContent-Type: multipart/signed; boundary=S; protocol=\"application/pgp-signature\"\r\n\r\n"
    "--S\r\nContent-Type: text/plain\r\n\r\n\xe9\r\n--S\r\nContent-Type: application/pgp-signature\r\n\r\nx\r\n--S--\r\n",
    "From: a@x\r\nContent-Type: multipart/signed; boundary=S\r\n\r\n--S\r\n\r\nascii\r\n--S--\r\n",
    "From: a@x\r\nContent-Type: application/pkcs7-mime\r\n\r\n\xe9",
    /* without MIME's fields: UTF-8 (characters of 2, 3 and 4 bytes, cut by
     * the pieces), not UTF-8, a character cut at the end, an overlong one */
    "From: a@x\r\n\r\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\r\n",
    "From: a@x\r\n\r\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe9\r\n",
    "From: a@x\r\n\r\n\xc3\xa9\xe2\x82",
    "From: a@x\r\n\r\n\xc0\xaf and \xed\xa0\x80\r\n",
    "From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    "--B\r\n\r\n\xe2\x82\xac\r\n--B\r\n\r\n\xe2\x82\r\n--B--\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) in = bytes (cases[i]);
      g_autofree char *name = g_strdup_printf ("case %u", i);

      assert_stream_matches (name, in);
    }
  /* NUL bytes: in a binary body, and in a header. */
  {
    static const char body_nul[] = "From: a@x\r\nContent-Type: application/x\r\n\r\n\x00\xff\x00";
    static const char head_nul[] = "From: a@x\r\nX: \x00\r\n\r\n\xff";
    static const char text_nul[] = "From: a@x\r\n\r\n\xc3\xa9\x00\xc3\xa9\r\n";
    g_autoptr (GBytes) a = bytes_len (body_nul, sizeof body_nul - 1);
    g_autoptr (GBytes) b = bytes_len (head_nul, sizeof head_nul - 1);
    g_autoptr (GBytes) c = bytes_len (text_nul, sizeof text_nul - 1);

    assert_stream_matches ("NUL in a body", a);
    assert_stream_matches ("NUL in a header", b);
    assert_stream_matches ("NUL in an unlabelled text", c);
  }
}

/* Nesting at the limit and past it. */
static void
test_stream_depth (void **state)
{
  for (int depth = 30; depth <= 35; depth++)
    {
      g_autoptr (GString) m = g_string_new ("From: a@x\r\n");
      g_autoptr (GBytes) in = NULL;
      g_autofree char *name = g_strdup_printf ("nesting %d", depth);

      for (int i = 0; i < depth; i++)
        g_string_append_printf (m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
      g_string_append (m, "Content-Type: text/plain\r\n\r\n\xc3\xa9\r\n");
      for (int i = depth - 1; i >= 0; i--)
        g_string_append_printf (m, "--b%d--\r\n", i);
      in = g_bytes_new (m->str, m->len);
      assert_stream_matches (name, in);
    }
}

/* The fuzz corpus of MIME messages, and large parts that cross every
 * piece boundary. */
static void
test_stream_corpus (void **state)
{
  g_autoptr (GDir) dir = g_dir_open (SRCDIR "/../fuzz/corpus/mime", 0, NULL);
  const char *name;
  guint n = 0;

  assert_non_null (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (SRCDIR "/../fuzz/corpus/mime", name, NULL);
      g_autofree char *data = NULL;
      gsize len = 0;
      g_autoptr (GBytes) in = NULL;

      assert_true (g_file_get_contents (path, &data, &len, NULL));
      in = g_bytes_new (data, len);
      assert_stream_matches (name, in);
      n++;
    }
  assert_true (n >= 10);
  {
    g_autoptr (GString) m = g_string_new ("From: a@x\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n"
                                          "--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    g_autoptr (GRand) rand = g_rand_new_with_seed (7);
    g_autoptr (GBytes) in = NULL;

    for (int i = 0; i < 90000; i++)
      {
        static const char alphabet[] = "ab =\t.\xc3\xa9\r\n-";

        g_string_append_c (m, alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)]);
      }
    g_string_append (m, "\r\n--=_b\r\nContent-Type: application/octet-stream\r\n\r\n");
    for (int i = 0; i < 70001; i++)
      g_string_append_c (m, (char) g_rand_int_range (rand, 0, 256));
    g_string_append (m, "\r\n--=_b--\r\n");
    in = g_bytes_new (m->str, m->len);
    assert_stream_matches ("large random parts", in);
  }
}

/* A second reading that is not what was planned fails; it does not give
 * a wrong copy. */
static void
test_stream_changed (void **state)
{
  g_autoptr (GBytes) a = bytes ("From: a@x\r\n\r\ncaf\xe9\r\n");
  g_autoptr (GBytes) b = bytes ("From: a@x\r\n\r\ncaf\xe9 au lait\r\n");
  g_autoptr (GBytes) c = bytes ("From: a@x\r\nSubject: longer\r\n\r\ncaf\xe9\r\n");
  g_autoptr (PstSevenBitPlan) plan = plan_in_pieces (a, G_MAXSIZE, NULL);
  GBytes *others[] = { b, c };

  assert_non_null (plan);
  assert_int_equal (pst_mime_7bit_plan_leaves (plan), 1);
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) copy = copy_in_pieces (others[i], plan, 3, 100, &error);

      assert_null (copy);
      assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FAILED));
      assert_non_null (strstr (error->message, "not the one its 7-bit copy was planned for"));
    }
}

/* The plan keeps a small record per re-encoded leaf, and no more than
 * PST_MIME_7BIT_MAX_LEAVES of them. */
static void
test_stream_leaves_cap (void **state)
{
  for (int extra = 0; extra <= 1; extra++)
    {
      g_autoptr (GString) m = g_string_new ("From: a@x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n");
      g_autoptr (GError) error = NULL;
      g_autoptr (PstSevenBitPlan) plan = NULL;
      g_autoptr (GBytes) in = NULL;

      for (int i = 0; i < PST_MIME_7BIT_MAX_LEAVES + extra; i++)
        g_string_append (m, "--B\r\nContent-Type: a/b\r\n\r\n\xff\r\n");
      g_string_append (m, "--B--\r\n");
      in = g_bytes_new (m->str, m->len);
      plan = plan_in_pieces (in, 65536, &error);
      if (extra == 0)
        {
          assert_non_null (plan);
          assert_int_equal (pst_mime_7bit_plan_leaves (plan), PST_MIME_7BIT_MAX_LEAVES);
        }
      else
        {
          assert_null (plan);
          assert_non_null (strstr (error->message, "more than 100000 parts to re-encode"));
        }
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_unchanged),
    cmocka_unit_test (test_text_part),
    cmocka_unit_test (test_long_line),
    cmocka_unit_test (test_multipart),
    cmocka_unit_test (test_unlabelled),
    cmocka_unit_test (test_refused),
    cmocka_unit_test (test_has_8bit),
    cmocka_unit_test (test_stream_cases),
    cmocka_unit_test (test_stream_depth),
    cmocka_unit_test (test_stream_corpus),
    cmocka_unit_test (test_stream_changed),
    cmocka_unit_test (test_stream_leaves_cap),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
