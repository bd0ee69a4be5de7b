/* test-pgpstream.c — PGP/MIME on streams gives what the in-memory writer
 * and reader give (pgpstream.h). */
#define _GNU_SOURCE 1   /* O_TMPFILE */
#include "pgp-fixture.h"

#include <fcntl.h>
#include <unistd.h>
#include <gio/gio.h>

#include "mime/pgpstream.h"
#include "crypto/cipherspool.h"
#include "failing-streams.h"

static const char *const to_bob[] = { BOB, NULL };

#define HEAD \
  "From: Alice <" ALICE ">\r\n" \
  "To: Bob <" BOB ">\r\n" \
  "Subject: the plans\r\n" \
  "Date: %s\r\n" \
  "Message-ID: <plans-1@postern.test>\r\n" \
  "Bcc: eve@postern.test\r\n"

static char *
now_date (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  return pst_mime_format_date (now);
}

/* A message with an attachment-like body: bare LF, CRLF and a lone CR. */
static GBytes *
leaf_message (const char *type)
{
  g_autofree char *date = now_date ();
  g_autofree char *head = g_strdup_printf (HEAD, date);
  GString *s = g_string_new (head);

  g_string_append_printf (s, "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", type);
  for (int i = 0; i < 2000; i++)
    g_string_append_printf (s, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo%04d%s", i,
                            i % 3 == 0 ? "\n" : i % 3 == 1 ? "\r\n" : "\r");
  return g_string_free_to_bytes (s);
}

/* The scan of @msg's body (pst_pgpstream_scan_body) into *@body, from a
 * stream of its own, as the agent makes it. */
static void
scan_body (GBytes *msg, PstBodyScan *body)
{
  g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_bytes (msg);
  g_autoptr(GInputStream) in = pst_pgpstream_input_new (mem);
  g_autoptr(GBytes) header = pst_pgpstream_peek_header (in, NULL);

  assert_non_null (header);
  assert_true (pst_pgpstream_scan_body (in, g_bytes_get_size (header), body, NULL));
}

/* @msg encrypted (and signed, @sign) as a stream; its body scanned first
 * when pst_pgpmime_can_protect_stream asks for it and @scan allows. */
static GBytes *
protect_stream (PstPgp *pgp, GBytes *msg, gboolean sign, gboolean scan, GError **error)
{
  g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_bytes (msg);
  g_autoptr(GInputStream) in = pst_pgpstream_input_new (mem);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  PstBodyScan body;
  gboolean needed = FALSE;

  assert_true (pst_pgpmime_can_protect_stream (msg, &needed));
  if (scan && needed)
    scan_body (msg, &body);
  if (!pst_pgpmime_protect_stream (pgp, in, out, ALICE, to_bob, sign,
                                   scan && needed ? &body : NULL, error))
    return NULL;
  g_output_stream_close (out, NULL, NULL);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

/* The armored OpenPGP message inside @msg. */
static GBytes *
armor_of (GBytes *msg)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (msg, &len);
  const char *b = g_strstr_len (p, len, "-----BEGIN PGP MESSAGE-----");
  const char *e = b ? g_strstr_len (b, len - (b - p), "-----END PGP MESSAGE-----") : NULL;

  assert_non_null (e);
  return g_bytes_new (b, e + strlen ("-----END PGP MESSAGE-----") - b);
}

static GBytes *
decrypt_entity (GBytes *msg)
{
  g_autoptr(GBytes) armor = armor_of (msg);
  g_autoptr(PstPgpSignature) sig = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *plain = NULL;
  PstIntegrity integrity;

  assert_true (pst_pgp_decrypt_verify (fx.bob, armor, &plain, &sig, &integrity, &error));
  return plain;
}

static gsize
prefix_until (GBytes *b, const char *needle)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (b, &len);
  const char *at = g_strstr_len (p, len, needle);

  assert_non_null (at);
  return at - p;
}

/* A text message whose header names no Content-Type (@ct NULL) or only
 * @ct, and no Content-Transfer-Encoding: the protected entity's header
 * then depends on the body (charset, 8bit).  Transfer full. */
static GBytes *
text_without_cte (const char *ct, const char *body)
{
  g_autofree char *date = now_date ();
  g_autofree char *head = g_strdup_printf (HEAD, date);

  char *s = g_strdup_printf ("%s%s%s%s\r\n%s", head, ct != NULL ? "Content-Type: " : "",
                             ct != NULL ? ct : "", ct != NULL ? "\r\n" : "", body);

  return g_bytes_new_take (s, strlen (s));
}

static void
test_protect_same_as_memory (void **state)
{
  (void) state;
  for (guint i = 0; i < 8; i++)
    {
      gboolean sign = i % 2 == 0;
      g_autoptr(GBytes) msg = i < 2 ? leaf_message ("application/octet-stream")
                              : i < 4 ? text_without_cte (NULL, "Plain 7-bit text.\nFrom here \n")
                              : i < 6 ? text_without_cte (NULL, "Gr\xc3\xbc\xc3\x9f\x65, 8-bit.\r\n")
                              : text_without_cte ("text/plain; charset=iso-8859-1", "caf\xe9\n");
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) mem = pst_pgpmime_protect (fx.alice, msg, ALICE, to_bob, TRUE, sign, &error);
      g_autoptr(GBytes) str = protect_stream (fx.alice, msg, sign, TRUE, &error);
      g_autoptr(GBytes) e1 = NULL, e2 = NULL;
      g_autofree char *file = g_build_filename (fx.bob_home, "m.asc", NULL);
      g_autoptr(GBytes) armor = NULL;
      char *gpg_out = NULL;
      gsize gpg_len = 0, h1, h2;

      assert_null (error);
      assert_non_null (mem);
      assert_non_null (str);
      /* The same outer header (no Bcc, Subject "..."), then the structure. */
      h1 = prefix_until (mem, "Content-Type: multipart/encrypted");
      h2 = prefix_until (str, "Content-Type: multipart/encrypted");
      assert_int_equal (h1, h2);
      assert_memory_equal (g_bytes_get_data (mem, NULL), g_bytes_get_data (str, NULL), h1);
      assert_false (contains (str, "eve@"));
      assert_true (contains (str, "\r\nSubject: ...\r\n"));
      assert_true (contains (str, "\r\nContent-Type: application/pgp-encrypted\r\n"));
      assert_false (contains (str, "\n\n"));
      /* The same protected entity inside. */
      e1 = decrypt_entity (mem);
      e2 = decrypt_entity (str);
      assert_true (g_bytes_equal (e1, e2));
      assert_true (contains (e2, "hp=\"cipher\""));
      /* The entity's header as the body decides it, for a text without one. */
      if (i >= 2 && i < 6)
        assert_true (contains (e2, i < 4 ? "Content-Type: text/plain; charset=us-ascii; hp="
                                         : "Content-Type: text/plain; charset=utf-8; hp="));
      if (i >= 4)
        assert_true (contains (e2, "\r\nContent-Transfer-Encoding: 8bit\r\n"));
      /* gpg reads it. */
      armor = armor_of (str);
      assert_true (g_file_set_contents (file, g_bytes_get_data (armor, NULL),
                                        g_bytes_get_size (armor), NULL));
      assert_true (gpg (fx.bob_home, &gpg_out, &gpg_len, "--decrypt", file, NULL));
      assert_int_equal (gpg_len, g_bytes_get_size (e1));
      assert_memory_equal (gpg_out, g_bytes_get_data (e1, NULL), gpg_len);
      g_free (gpg_out);
      g_unlink (file);
    }
}

/* The part of the multipart/signed @msg between its first delimiter and
 * the second (the signed entity), and its micalg. */
static GBytes *
signed_entity (GBytes *msg, char **micalg_out)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (msg, &len);
  const char *b = g_strstr_len (p, len, "boundary=\"");
  const char *m = g_strstr_len (p, len, "micalg=");
  g_autofree char *boundary = NULL, *delim = NULL;
  const char *start, *end;

  assert_non_null (b);
  assert_non_null (m);
  boundary = g_strndup (b + 10, strcspn (b + 10, "\""));
  *micalg_out = g_strndup (m + 7, strcspn (m + 7, ";\r"));
  delim = g_strconcat ("\r\n--", boundary, "\r\n", NULL);
  start = g_strstr_len (p, len, delim);
  assert_non_null (start);
  start += strlen (delim);
  end = g_strstr_len (start, len - (start - p), delim);
  assert_non_null (end);
  return g_bytes_new (start, end - start);
}

/* Signing without encryption as a stream: the same outer header, micalg
 * and signed entity as in memory, and gpg verifies the signature; also for
 * a body that signing makes quoted-printable as it passes. */
static void
test_sign_same_as_memory (void **state)
{
  g_autofree char *date = now_date ();
  g_autofree char *head = g_strdup_printf (HEAD, date);
  g_autofree char *text = g_strdup_printf ("%sContent-Type: text/plain; charset=us-ascii\r\n"
                                           "Content-Transfer-Encoding: 7bit\r\n\r\n"
                                           "Plain lines.\nAnd CRLF ones.\r\nThe end.\r\n", head);
  g_autofree char *eight = g_strdup_printf ("%sContent-Type: text/plain; charset=utf-8\r\n"
                                            "Content-Transfer-Encoding: 8bit\r\n\r\n"
                                            "Gr\xc3\xbc\xc3\x9f\x65 = \nFrom here\n\t\r\n%0990d\n"
                                            "no end ", head, 7);
  GBytes *msgs[] = { leaf_message ("application/octet-stream"),
                     g_bytes_new (text, strlen (text)), g_bytes_new (eight, strlen (eight)),
                     text_without_cte (NULL, "Gr\xc3\xbc\xc3\x9f\x65, no MIME header.\n"),
                     text_without_cte (NULL, "7-bit, no MIME header.\n") };

  (void) state;
  for (guint i = 0; i < G_N_ELEMENTS (msgs); i++)
    {
      g_autoptr(GBytes) msg = msgs[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) mem = pst_pgpmime_protect (fx.alice, msg, ALICE, to_bob, FALSE, TRUE,
                                                   &error);
      g_autoptr(GInputStream) src = g_memory_input_stream_new_from_bytes (msg);
      g_autoptr(GInputStream) in = pst_pgpstream_input_new (src);
      g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
      g_autoptr(GBytes) str = NULL, e1 = NULL, e2 = NULL;
      g_autofree char *m1 = NULL, *m2 = NULL, *sig = NULL;
      g_autofree char *efile = g_build_filename (fx.bob_home, "entity", NULL);
      g_autofree char *sfile = g_build_filename (fx.bob_home, "entity.asc", NULL);
      gboolean scan = FALSE;
      PstBodyScan body;
      const char *at, *end;
      gsize h1, h2;

      assert_non_null (mem);
      assert_true (pst_pgpmime_can_sign_stream (msg, &scan));
      assert_int_equal (scan, i >= 1);
      if (scan)
        {
          /* A 7bit body not scanned for quoted-printable: refused, nothing written. */
          assert_false (pst_pgpmime_sign_stream (fx.alice, in, out, ALICE, NULL, &error));
          assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
          g_clear_error (&error);
          assert_int_equal (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)), 0);
          scan_body (msg, &body);
          assert_int_equal (body.needs_qp, i == 2 || i == 3);
        }
      assert_true (pst_pgpmime_sign_stream (fx.alice, in, out, ALICE, scan ? &body : NULL, &error));
      assert_null (error);
      g_output_stream_close (out, NULL, NULL);
      str = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
      h1 = prefix_until (mem, "Content-Type: multipart/signed");
      h2 = prefix_until (str, "Content-Type: multipart/signed");
      assert_int_equal (h1, h2);
      assert_memory_equal (g_bytes_get_data (mem, NULL), g_bytes_get_data (str, NULL), h1);
      e1 = signed_entity (mem, &m1);
      e2 = signed_entity (str, &m2);
      assert_string_equal (m1, m2);
      assert_true (g_bytes_equal (e1, e2));
      assert_true (contains (e2, "hp=\"clear\""));
      if (i == 2)
        assert_true (contains (e2, "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe =3D=20\r\n=46rom here\r\n=09\r\n"));
      if (i == 3)
        assert_true (contains (e2, "Content-Type: text/plain; charset=utf-8; hp=\"clear\""));
      /* gpg verifies the streamed signature over the entity. */
      at = g_strstr_len (g_bytes_get_data (str, NULL), g_bytes_get_size (str),
                         "-----BEGIN PGP SIGNATURE-----");
      assert_non_null (at);
      end = strstr (at, "-----END PGP SIGNATURE-----");
      assert_non_null (end);
      sig = g_strndup (at, end + strlen ("-----END PGP SIGNATURE-----") - at);
      assert_true (g_file_set_contents (efile, g_bytes_get_data (e2, NULL), g_bytes_get_size (e2),
                                        NULL));
      assert_true (g_file_set_contents (sfile, sig, -1, NULL));
      assert_true (gpg (fx.bob_home, NULL, NULL, "--verify", sfile, efile, NULL));
      g_unlink (efile);
      g_unlink (sfile);
    }
}

static void
test_protect_refuses (void **state)
{
  g_autoptr(GBytes) no_cte = bytes ("From: " ALICE "\r\nTo: " BOB "\r\nContent-Type: text/plain\r\n\r\nhi\r\n");
  g_autoptr(GBytes) nobody = bytes ("From: " ALICE "\r\nTo: " BOB "\r\n");
  g_autoptr(GBytes) ok = bytes ("From: " ALICE "\r\nTo: " BOB "\r\nContent-Type: text/plain\r\n"
                                "Content-Transfer-Encoding: 7bit\r\n\r\nhi\r\n");
  g_autoptr(GBytes) eve = bytes ("From: " ALICE "\r\nTo: eve@postern.test\r\nContent-Type: text/plain\r\n"
                                 "Content-Transfer-Encoding: 7bit\r\n\r\nhi\r\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_bytes (eve);
  g_autoptr(GInputStream) in = pst_pgpstream_input_new (mem);
  g_autoptr(GOutputStream) sink = g_memory_output_stream_new_resizable ();
  const char *const to_eve[] = { "eve@postern.test", NULL };

  gboolean scan = FALSE;

  (void) state;
  /* Without Content-Transfer-Encoding (or without a body at all), the
   * protected header depends on the body: a scan first. */
  assert_true (pst_pgpmime_can_protect_stream (no_cte, &scan));
  assert_true (scan);
  assert_true (pst_pgpmime_can_protect_stream (nobody, &scan));
  assert_true (scan);
  assert_true (pst_pgpmime_can_protect_stream (ok, &scan));
  assert_false (scan);
  /* Not scanned: refused before anything is written. */
  out = protect_stream (fx.alice, no_cte, FALSE, FALSE, &error);
  assert_null (out);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  g_clear_error (&error);
  assert_false (pst_pgpmime_protect_stream (fx.alice, in, sink, ALICE, to_eve, FALSE, NULL, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
  assert_non_null (strstr (error->message, "eve@postern.test"));
}

/* How a judged text is kept for its writing (pst_pgpmime_open_stream's
 * spool): in an unnamed file, as the agent keeps it; without one (it is
 * decrypted again from the message read again); in a file that may hold
 * only a few bytes (given up: decrypted again). */
typedef enum { SPOOL_FILE, SPOOL_NONE, SPOOL_SMALL, SPOOL_UNREADABLE } SpoolMode;

/* The message read again from its start: @msg, or @later from the
 * @change_at-th reading on (a file that changed meanwhile). */
typedef struct {
  GBytes *msg, *later;
  int change_at, readings;
  SpoolMode spool;
  int spools;              /* files given */
  int pipe_read;           /* SPOOL_UNREADABLE's other end, for the test to close */
} Reopen;

static int
spool_tmp (gpointer data, guint64 *max_out, guint64 *keep_free_out)
{
  Reopen *r = data;
  int fd, pair[2];

  if (r->spool == SPOOL_NONE)
    return -1;
  r->spools++;
  *max_out = r->spool == SPOOL_SMALL ? 16 : G_MAXUINT64;
  *keep_free_out = 0;
  if (r->spool == SPOOL_UNREADABLE)
    {
      /* Written (a small text fits in the pipe), never read back: no seek. */
      assert_int_equal (pipe2 (pair, O_CLOEXEC), 0);
      r->pipe_read = pair[0];
      return pair[1];
    }
  fd = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  return fd;
}

static GInputStream *
reopen_mem (gpointer data, GError **error)
{
  Reopen *r = data;
  g_autoptr(GInputStream) mem = NULL;

  (void) error;
  r->readings++;
  mem = g_memory_input_stream_new_from_bytes (r->later != NULL && r->readings >= r->change_at
                                              ? r->later : r->msg);
  return pst_pgpstream_input_new (mem);
}

/* Opens @msg on a stream as bob: the status JSON and the plain message;
 * read again through @reopen (NULL: from @msg, a judged text kept in a
 * file as the agent keeps it). */
static gboolean
open_stream_reopen (GBytes *msg, Reopen *reopen, char **status_json, GBytes **plain, GBytes **rest)
{
  g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_bytes (msg);
  g_autoptr(GInputStream) in = pst_pgpstream_input_new (mem);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GError) error = NULL;
  Reopen again = { msg, NULL, 0, 0, SPOOL_FILE, 0, -1 };
  gboolean streamable = TRUE;

  assert_true (pst_pgpmime_open_stream (fx.bob, in, reopen_mem, spool_tmp, reopen ? reopen : &again,
                                        out, &st, &streamable, &error));
  assert_null (error);
  g_output_stream_close (out, NULL, NULL);
  *plain = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  if (streamable)
    *status_json = pst_status_to_json_string (st);
  else
    {
      g_autoptr(GOutputStream) all = g_memory_output_stream_new_resizable ();

      assert_null (st);
      assert_int_equal (g_bytes_get_size (*plain), 0);
      g_output_stream_splice (all, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL);
      *rest = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (all));
    }
  return streamable;
}

static gboolean
open_stream (GBytes *msg, char **status_json, GBytes **plain, GBytes **rest)
{
  return open_stream_reopen (msg, NULL, status_json, plain, rest);
}

static void
assert_same_as_memory (GBytes *msg)
{
  g_autoptr(GBytes) plain_mem = NULL, plain_str = NULL, rest = NULL;
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json_mem = NULL, *json_str = NULL;

  assert_true (pst_message_open (fx.bob, NULL, msg, &plain_mem, &st, &error));
  json_mem = pst_status_to_json_string (st);
  assert_true (open_stream (msg, &json_str, &plain_str, &rest));
  assert_string_equal (json_str, json_mem);
  if (st->decryption == PST_DECRYPTION_OK)
    {
      if (!g_bytes_equal (plain_str, plain_mem))
        fail_msg ("streamed:\n%.*s\n--- in memory:\n%.*s", (int) MIN (g_bytes_get_size (plain_str), 600),
                  (const char *) g_bytes_get_data (plain_str, NULL),
                  (int) MIN (g_bytes_get_size (plain_mem), 600), (const char *) g_bytes_get_data (plain_mem, NULL));
    }
}

/* @msg, judged and streamed with @json and @plain, written the same way
 * whichever way the writing goes: kept in a file, the plaintext is not read
 * again; without one, or in one too small, the message is read again and
 * decrypted a second time. */
static void
assert_same_each_writing (GBytes *msg, const char *json, GBytes *plain)
{
  for (SpoolMode mode = SPOOL_FILE; mode <= SPOOL_SMALL; mode++)
    {
      Reopen r = { msg, NULL, 0, 0, mode, 0, -1 };
      g_autoptr(GBytes) p2 = NULL, rest2 = NULL;
      g_autofree char *json2 = NULL;

      assert_true (open_stream_reopen (msg, &r, &json2, &p2, &rest2));
      assert_string_equal (json2, json);
      assert_true (g_bytes_equal (p2, plain));
      assert_int_equal (r.spools, mode == SPOOL_NONE ? 0 : 1);
      assert_int_equal (r.readings, mode == SPOOL_FILE ? 0 : 1);
    }
}

/* Whether a case of the matrices of test_open_text and
 * test_open_multipart is left out: under valgrind (tests/unit/valgrind.sh
 * sets PST_UNDER_VALGRIND) every other one, by the parity of @sum (an
 * entity's index and whether it is signed), so that each entity still
 * comes, signed or not; the normal and sanitizer runs take them all.
 * test_open_text's took 79 s of the 135 s this test took there. */
static gboolean
thinned (guint sum)
{
  return g_getenv ("PST_UNDER_VALGRIND") != NULL && sum % 2 == 1;
}

/* Encrypted as pgpmime.c does, around an @entity of our own. */
static GBytes *
wrap_encrypted (const char *outer, GBytes *entity, gboolean sign)
{
  const char *const to[] = { BOB, ALICE, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) armor = pst_pgp_encrypt (fx.alice, entity, to, sign ? ALICE : NULL, &error);
  GString *s = g_string_new (outer);

  assert_non_null (armor);
  g_string_append (s, "MIME-Version: 1.0\r\n"
                   "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n"
                   " boundary=\"XyZ\"\r\n\r\npreamble\r\n--XyZ\r\n"
                   "Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--XyZ\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n");
  g_string_append_len (s, g_bytes_get_data (armor, NULL), g_bytes_get_size (armor));
  g_string_append (s, "\r\n--XyZ--\r\nepilogue\r\n");
  return g_string_free_to_bytes (s);
}

/* Each of the @n entities, encrypted and signed under @outer, left to the
 * in-memory reader, which reads it otherwise than the stream would
 * (open_stream checks that nothing was written). */
static void
assert_left_to_memory (const char *outer, const char *const *entities, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GBytes) entity = bytes (entities[i]);
      g_autoptr(GBytes) msg = wrap_encrypted (outer, entity, TRUE);
      g_autoptr(GBytes) p = NULL, rest = NULL;
      g_autofree char *json = NULL;

      if (open_stream (msg, &json, &p, &rest))
        fail_msg ("streamed, but the in-memory reader reads it otherwise: %s", entities[i]);
    }
}

static void
test_open_same_as_memory (void **state)
{
  g_autoptr(GBytes) msg = leaf_message ("application/pdf; name=\"x.pdf\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) signed_enc = pst_pgpmime_protect (fx.alice, msg, ALICE, to_bob, TRUE, TRUE, &error);
  g_autoptr(GBytes) enc = pst_pgpmime_protect (fx.alice, msg, ALICE, to_bob, TRUE, FALSE, &error);
  g_autoptr(GBytes) legacy_entity = bytes ("Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
                                           "\r\niVBORw0KGgo=\r\n");
  g_autoptr(GBytes) legacy = wrap_encrypted ("From: Mallory <" ALICE ">\r\nTo: " BOB "\r\nSubject: hi\r\n",
                                             legacy_entity, TRUE);
  g_autoptr(GBytes) hp_entity = bytes ("Content-Type: application/zip; protected-headers=\"v1\"\r\n"
                                       "Subject: inner subject\r\nFrom: " ALICE "\r\n\r\nUEsDBA==\r\n");
  g_autoptr(GBytes) hp_legacy = wrap_encrypted ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\n",
                                                hp_entity, FALSE);
  g_autoptr(GBytes) other = wrap_encrypted ("From: someone@postern.test\r\nTo: " BOB "\r\n",
                                            legacy_entity, TRUE);
  GBytes *all[] = { signed_enc, enc, legacy, hp_legacy, other };

  (void) state;
  assert_null (error);
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    assert_same_as_memory (all[i]);
}

static void
test_open_tampered (void **state)
{
  g_autoptr(GBytes) msg = leaf_message ("application/octet-stream");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) enc = pst_pgpmime_protect (fx.alice, msg, ALICE, to_bob, TRUE, TRUE, &error);
  gsize len = 0, at;
  const char *data = g_bytes_get_data (enc, &len);
  char *copy = g_memdup2 (data, len);
  g_autoptr(GBytes) bad = NULL;
  g_autoptr(GBytes) plain = NULL, rest = NULL;
  g_autofree char *json = NULL;

  (void) state;
  at = prefix_until (enc, "-----END PGP MESSAGE-----") - 300;
  copy[at] = copy[at] == 'A' ? 'B' : 'A';
  bad = g_bytes_new_take (copy, len);
  assert_same_as_memory (bad);
  assert_true (open_stream (bad, &json, &plain, &rest));
  assert_non_null (strstr (json, "\"decryption\":\"failed\""));
}

static void
test_open_not_streamable (void **state)
{
  g_autoptr(GBytes) plain_msg = bytes ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: hi\r\n\r\nhello\r\n");
  g_autoptr(GBytes) one_part = bytes ("From: " ALICE "\r\nMIME-Version: 1.0\r\n"
                                      "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=q\r\n"
                                      "\r\n--q\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--q--\r\n");
  /* the protected From differs: which header is shown depends on the
   * signature, known only at the end (mime/hp.h) */
  g_autoptr(GBytes) hp_from_entity = bytes ("Content-Type: application/zip; hp=\"cipher\"\r\n"
                                            "From: CEO <ceo@bank.test>\r\nSubject: x\r\n\r\nUEsDBA==\r\n");
  g_autoptr(GBytes) hp_from = wrap_encrypted ("From: " ALICE "\r\nTo: " BOB "\r\n", hp_from_entity, FALSE);
  g_autoptr(GBytes) p = NULL, rest = NULL;
  g_autofree char *json = NULL;

  (void) state;
  assert_false (open_stream (hp_from, &json, &p, &rest));
  g_clear_pointer (&p, g_bytes_unref);
  g_clear_pointer (&rest, g_bytes_unref);
  /* Decided from the outer header: nothing consumed. */
  assert_false (open_stream (plain_msg, &json, &p, &rest));
  assert_true (g_bytes_equal (rest, plain_msg));
  g_clear_pointer (&p, g_bytes_unref);
  g_clear_pointer (&rest, g_bytes_unref);
  assert_false (open_stream (one_part, &json, &p, &rest));
}

/* Text entities: streamed (judged, then written) with the status and
 * plaintext of the in-memory reader, quoted-printable and base64 ones too
 * (decoded only to be looked at); those it would change (an inline block,
 * also an encoded one, a legacy display block) left to it, and an encoding
 * not read as every decoder reads it. */
static void
test_open_text (void **state)
{
  const char *outer = "From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n";
  const char *streamed[] = {
    "Content-Type: text/plain\r\n\r\nhello\r\n",
    "\r\nno header fields at all, and no line end",
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
      "Gr\xc3\xbc\xc3\x9f\xc3\xa9\r\nbare LF\nlone CR\r a line that mentions -----BEGIN PGP MESSAGE----- inside\r\n"
      " -----BEGIN PGP MESSAGE----- after a space\r\n-----BEGIN PG\r\n",
    "Content-Type: text/plain; charset=us-ascii; protected-headers=\"v1\"\r\n"
      "Content-Transfer-Encoding: 7bit\r\nSubject: the real subject\r\nFrom: " ALICE "\r\n\r\nbody\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n",
    /* a soft line break, a marker encoded mid-line, line ends alone */
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n"
      "Gr=C3=BC=C3=9Fe, a soft=\r\n break, then text\r\n"
      "and =2D----BEGIN PGP=20in the middle=\r\n, a lone CR\rand a lone LF\nat the end",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n",
    /* markers mid-line, after a space, cut short; in four lines of base64 */
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
      "R3LDvMOfZSwNCmEgbGluZSB0aGF0IG1lbnRpb25zIC0tLS0tQkVHSU4gUEdQIE1FU1NBR0UtLS0t\r\n"
      "LSBpbnNpZGUNCiAtLS0tLUJFR0lOIFBHUCBNRVNTQUdFLS0tLS0gYWZ0ZXIgYSBzcGFjZQ0KLS0t\r\n"
      "LS1CRUdJTiBQRw0KYW5kIGEgbGFzdCBsaW5lIGxvbmcgZW5vdWdoIHRvIHdyYXAgdGhlIGJhc2U2\r\n"
      "NCBpbnRvIG1vcmUgdGhhbiBvbmUgbGluZSBvZiBpdA0K\r\n",
  };
  const char *in_memory[] = {
    /* an inline block, which the reader opens */
    "Content-Type: text/plain\r\n\r\nsee below\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA==\r\n"
      "-----END PGP MESSAGE-----\r\n",
    /* a block that never ends: left to the reader too (its rule, not ours) */
    "Content-Type: text/plain\r\n\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n",
    /* RFC 9788's legacy display block, which the reader strips */
    "Content-Type: text/plain; hp-legacy-display=\"1\"; protected-headers=\"v1\"\r\n"
      "Subject: s\r\n\r\nSubject: s\r\n\r\nbody\r\n",
    /* inline blocks, encoded: in base64; in quoted-printable, its first
     * character encoded, and its marker cut by a soft line break */
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "c2VlIGJlbG93DQotLS0tLUJFR0lOIFBHUCBNRVNTQUdFLS0tLS0NCg0KaFFFTUE9PQ0KLS0tLS1F\r\n"
      "TkQgUEdQIE1FU1NBR0UtLS0tLQ0K\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsee below\r\n"
      "=2D----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA=3D=3D\r\n-----END PGP MESSAGE-----\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsee below\r\n"
      "-----BEG=\r\nIN PGP MESSAGE-----\r\n\r\nhQEMA=3D=3D\r\n-----END PGP MESSAGE-----\r\n",
    /* a marker line after a soft line break: joined to the line before
     * once decoded, but the reader without OpenPGP looks at the text as it
     * came (pgpmime.c open_inline) */
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=\r\n"
      "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA=3D=3D\r\n-----END PGP MESSAGE-----\r\n",
    /* after a CR alone, which libetpan's decoder makes a line end (found
     * by fuzz-opensink) */
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsee below\r"
      "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA=3D=3D\r\n-----END PGP MESSAGE-----\r\n",
    /* encodings not read alike by every decoder: white space before a soft
     * line break, "=" and no digits, a character outside base64's
     * alphabet, data after its padding */
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na= \r\nb\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=G1b\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs*bG8=\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=aGVsbG8=\r\n",
    /* two transfer encodings: pgpinline.c decodes when any says base64 */
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n"
      "\r\naGVsbG8=\r\n",
  };
  g_autoptr(GString) big = g_string_new ("Content-Type: text/plain\r\n\r\n");
  g_autoptr(GString) big_qp = g_string_new ("Content-Type: text/plain\r\n"
                                            "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
  g_autoptr(GString) big_b64 = g_string_new ("Content-Type: text/plain\r\n"
                                             "Content-Transfer-Encoding: base64\r\n\r\n");
  GString *bigs[] = { big, big_qp, big_b64 };

  gsize encoded_end = 0;

  (void) state;
  /* The encoded ones 0.2 MB each: past GPGME's 64 KiB pieces and the
   * scanner's 4 KiB buffer many times over, at a sixth of the cost of
   * 1.2 MB under valgrind. */
  for (int i = 0; i < 20000; i++)
    {
      g_string_append_printf (big, "line %d of a long text, with -----BEGIN PGP in the middle\r\n", i);
      if (i < 3000)
        g_string_append_printf (big_qp, "line %d of a long text, with =2D----BEGIN PGP in the=\r\n"
                                " middle, =3D and a soft line break\r\n", i);
      if (i == 3000)
        encoded_end = big->len;
    }
  {
    /* The 8-bit text's first 3000 lines, in lines of 76 characters. */
    gsize body = strlen ("Content-Type: text/plain\r\n\r\n");
    g_autofree char *b64 = g_base64_encode ((const guchar *) big->str + body, encoded_end - body);

    for (gsize at = 0, n = strlen (b64); at < n; at += 76)
      {
        g_string_append_len (big_b64, b64 + at, (gssize) MIN ((gsize) 76, n - at));
        g_string_append (big_b64, "\r\n");
      }
  }
  /* What Postern writes (pgpmime.c): protected headers, the outer ones
   * the same but for the Subject; streamed signed and not. */
  for (int sign = 0; sign < 2; sign++)
    {
      g_autofree char *date = now_date ();
      g_autofree char *head = g_strdup_printf (HEAD, date);
      g_autofree char *text = g_strconcat (head, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                           "Content-Transfer-Encoding: 8bit\r\n\r\nthe plans\r\n", NULL);
      g_autoptr(GBytes) plain = bytes (text);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) msg = pst_pgpmime_protect (fx.alice, plain, ALICE, to_bob, TRUE, sign, &error);
      g_autoptr(GBytes) p = NULL, rest = NULL;
      g_autofree char *json = NULL;

      assert_non_null (msg);
      if (!open_stream (msg, &json, &p, &rest))
        fail_msg ("Postern's own text message%s is not streamed", sign ? ", signed," : "");
      assert_same_as_memory (msg);
      /* As it arrives: an Autocrypt field and a DKIM signature outside. */
      {
        GString *arrived = g_string_new ("DKIM-Signature: v=1; d=postern.test; b=AAAA\r\n"
                                         "Autocrypt: addr=" ALICE "; keydata=AAAA\r\n");
        g_autoptr(GBytes) m2 = NULL;
        g_autoptr(GBytes) p2 = NULL, rest2 = NULL;
        g_autofree char *json2 = NULL;

        g_string_append_len (arrived, g_bytes_get_data (msg, NULL), (gssize) g_bytes_get_size (msg));
        m2 = g_string_free_to_bytes (arrived);
        if (!open_stream (m2, &json2, &p2, &rest2))
          fail_msg ("Postern's own text message with outer fields%s is not streamed", sign ? ", signed," : "");
        assert_same_as_memory (m2);
      }
    }
  for (guint i = 0; i < G_N_ELEMENTS (streamed) + G_N_ELEMENTS (bigs); i++)
    for (int sign = 0; sign < 2; sign++)
      {
        if (thinned (i + (guint) sign))
          continue;
        const GString *b = i >= G_N_ELEMENTS (streamed) ? bigs[i - G_N_ELEMENTS (streamed)] : NULL;
        g_autoptr(GBytes) entity = b == NULL ? bytes (streamed[i]) : g_bytes_new (b->str, b->len);
        g_autoptr(GBytes) msg = wrap_encrypted (outer, entity, sign);
        g_autoptr(GBytes) p = NULL, rest = NULL;
        g_autofree char *json = NULL;

        assert_true (open_stream (msg, &json, &p, &rest));
        assert_same_as_memory (msg);
        assert_same_each_writing (msg, json, p);
      }
  /* A good signature by the protected From promotes the protected header
   * (hp.c): an outer Reply-To the inside does not name goes, an inner
   * Message-ID comes.  Known only at the end: the entity is judged, then
   * written with the header the signature gives, as the reader writes it;
   * the same for an attachment.  Signed by someone else, or not signed,
   * nothing is promoted. */
  for (int kind = 0; kind < 2; kind++)
    for (int sign = 0; sign < 2; sign++)
      {
        g_autofree char *text = g_strdup_printf ("Content-Type: %s; hp=\"cipher\"\r\nFrom: " ALICE "\r\n"
                                                 "To: " BOB "\r\nSubject: real\r\nMessage-ID: <in@x>\r\n\r\n%s\r\n",
                                                 kind ? "application/zip" : "text/plain",
                                                 kind ? "UEsDBA==" : "body");
        g_autoptr(GBytes) entity = bytes (text);
        g_autoptr(GBytes) msg = wrap_encrypted ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\n"
                                                "Reply-To: mallory@evil.test\r\nDKIM-Signature: v=1; d=x\r\n"
                                                "Autocrypt: addr=" ALICE "; keydata=AAAA\r\n", entity, sign);
        g_autoptr(GBytes) p = NULL, rest = NULL;
        g_autofree char *json = NULL;

        if (!open_stream (msg, &json, &p, &rest))
          fail_msg ("not streamed: %s, %s", kind ? "attachment" : "text", sign ? "signed" : "not signed");
        assert_same_as_memory (msg);
        /* Signed, the protected header speaks: the outer Reply-To is gone. */
        assert_true ((g_strstr_len (g_bytes_get_data (p, NULL), (gssize) g_bytes_get_size (p), "mallory")
                      == NULL) == (sign != 0));
      }
  assert_left_to_memory (outer, in_memory, G_N_ELEMENTS (in_memory));
}

/* Multipart entities: streamed (judged, then written) with the status and
 * plaintext of the in-memory reader, which looks into each part: written
 * as they came, or, under a protected header, part by part without
 * preamble and epilogue (hp.c strip_legacy_display); those whose parts it
 * reads otherwise left to it. */
static void
test_open_multipart (void **state)
{
  const char *outer = "From: " ALICE "\r\nTo: " BOB "\r\nSubject: ...\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n";
  const char *attachment = "Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
                           "Content-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nJVBERi0xLjQK\r\n";
  g_autofree char *plain_mixed = g_strdup_printf (
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\nthe preamble\r\n--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nsee the attachment\r\n -----BEGIN PGP MESSAGE----- not at a line start\r\n"
    "--b1\r\n%s--b1--\r\nthe epilogue\r\n", attachment);
  g_autofree char *protected_mixed = g_strdup_printf (
    "Content-Type: multipart/mixed; boundary=\"b2\"; protected-headers=\"v1\"\r\n"
    "Subject: the real subject\r\nFrom: " ALICE "\r\nTo: " BOB "\r\n\r\npreamble\r\n--b2\r\n"
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe=\r\n, soft\r\n"
    "--b2  \r\n%s\r\n--b2--\r\nepilogue", attachment);
  const char *streamed[] = {
    plain_mixed,
    protected_mixed,
    /* a part without header fields (text/plain), no close delimiter */
    "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\n"
      "Content-Type: text/html\r\n\r\n<p>x</p>\r\n",
    /* protected, lines ended by LF alone, no close delimiter */
    "Content-Type: multipart/mixed; boundary=l; protected-headers=v1\nSubject: s\n\npreamble\n--l\n"
      "Content-Type: text/plain\n\nline\n--l\t\n\nsecond\n",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
    /* a forwarded message, which the reader does not look into, even one
     * that holds a block or is encrypted itself */
    "Content-Type: multipart/mixed; boundary=o; protected-headers=v1\r\nSubject: fwd\r\n\r\n--o\r\n\r\nforwarded:\r\n"
      "--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\n"
      "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA==\r\n-----END PGP MESSAGE-----\r\n--o--\r\n",
  };
  const char *in_memory[] = {
    /* a multipart in a part */
    "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
      "--i\r\n\r\nx\r\n--i--\r\n--o--\r\n",
    /* an inline block in a text part, which the reader opens; encoded;
     * in a part that others follow (its verdict was lost when the next
     * part began in the same write: found by review and by
     * fuzz-opensink-parts) */
    "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\r\nsee below\r\n-----BEGIN PGP MESSAGE-----\r\n\r\n"
      "hQEMA==\r\n-----END PGP MESSAGE-----\r\n--o\r\nContent-Type: application/pdf\r\n\r\nxx\r\n--o--\r\n",
    "Content-Type: multipart/alternative; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\n"
      "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nhi\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\n"
      "iQ==\r\n-----END PGP SIGNATURE-----\r\n--o\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--o--\r\n",
    "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nLS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tDQo=\r\n--o\r\n\r\nafter\r\n--o--\r\n",
    "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\r\nsee below\r\n-----BEGIN PGP MESSAGE-----\r\n\r\n"
      "hQEMA==\r\n-----END PGP MESSAGE-----\r\n--o--\r\n",
    "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nLS0tLS1CRUdJTiBQR1AgTUVTU0FHRS0tLS0tDQo=\r\n--o--\r\n",
    /* legacy display parts, which the reader leaves out */
    "Content-Type: multipart/mixed; boundary=o; protected-headers=v1\r\nSubject: s\r\n\r\n--o\r\n"
      "Content-Type: text/rfc822-headers\r\n\r\nSubject: s\r\n--o\r\n\r\nbody\r\n--o--\r\n",
    "Content-Type: multipart/mixed; boundary=o; protected-headers=\"v1\"\r\nSubject: s\r\n\r\n--o\r\n"
      "Content-Type: text/plain; protected-headers=\"v1\"\r\n\r\nSubject: s\r\n--o\r\n\r\nbody\r\n--o--\r\n",
    /* no boundary; no part; a part whose header section does not end */
    "Content-Type: multipart/mixed\r\n\r\n--o\r\n\r\nx\r\n--o--\r\n",
    "Content-Type: multipart/mixed; boundary=o\r\n\r\nonly a preamble\r\n",
    "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n--o--\r\n",
  };
  const char *to[] = { BOB, NULL };
  g_autoptr(GString) big = g_string_new ("Content-Type: multipart/mixed; boundary=\"=-big\"; protected-headers=v1\r\n"
                                         "Subject: big\r\n\r\npreamble\r\n--=-big\r\n"
                                         "Content-Type: text/plain\r\n\r\nbig\r\n--=-big\r\n"
                                         "Content-Type: application/octet-stream\r\n\r\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) own = NULL;
  g_autofree char *own_head = NULL;

  (void) state;
  for (int i = 0; i < 5000; i++)   /* 0.25 MB: the 64 KiB blocks written again several times */
    g_string_append_printf (big, "line %05d of an attachment, with --=-big- in it\r\n", i);
  g_string_append (big, "--=-big--\r\n");
  for (guint i = 0; i <= G_N_ELEMENTS (streamed); i++)
    for (int sign = 0; sign < 2; sign++)
      {
        if (thinned (i + (guint) sign))
          continue;
        g_autoptr(GBytes) entity = i < G_N_ELEMENTS (streamed) ? bytes (streamed[i])
                                                               : g_bytes_new (big->str, big->len);
        g_autoptr(GBytes) msg = wrap_encrypted (outer, entity, sign);
        g_autoptr(GBytes) p = NULL, rest = NULL;
        g_autofree char *json = NULL;

        if (!open_stream (msg, &json, &p, &rest))
          fail_msg ("not streamed: %u, %s", i, sign ? "signed" : "not signed");
        assert_same_as_memory (msg);
        if (i == 1 && sign)
          {
            /* Written again, from the copy or decrypted again: the same. */
            assert_null (g_strstr_len (g_bytes_get_data (p, NULL), (gssize) g_bytes_get_size (p), "preamble"));
            assert_same_each_writing (msg, json, p);
          }
      }
  /* What Postern itself sends with an attachment. */
  own_head = g_strdup_printf ("From: " ALICE "\r\nTo: " BOB "\r\nSubject: with a file\r\nMIME-Version: 1.0\r\n"
                              "Content-Type: multipart/mixed; boundary=\"own\"\r\n\r\n--own\r\n"
                              "Content-Type: text/plain\r\n\r\nhere it is\r\n--own\r\n%s--own--\r\n", attachment);
  {
    g_autoptr(GBytes) m = bytes (own_head);
    g_autoptr(GBytes) p = NULL, rest = NULL;
    g_autofree char *json = NULL;

    own = pst_pgpmime_protect (fx.alice, m, ALICE, to, TRUE, TRUE, &error);
    assert_non_null (own);
    if (!open_stream (own, &json, &p, &rest))
      fail_msg ("Postern's own message with an attachment not streamed");
    assert_same_as_memory (own);
  }
  assert_left_to_memory (outer, in_memory, G_N_ELEMENTS (in_memory));
}

/* A text entity whose ciphertext is damaged: said without anything written;
 * one whose file changed between the judging and the writing: decryption
 * failed, and the caller discards what was written. */
static void
test_open_text_failures (void **state)
{
  const char *outer = "From: " ALICE "\r\nTo: " BOB "\r\n";
  g_autoptr(GBytes) e1 = bytes ("Content-Type: text/plain\r\n\r\nthe first text\r\n");
  g_autoptr(GBytes) e2 = bytes ("Content-Type: text/plain\r\n\r\nanother text\r\n");
  g_autoptr(GBytes) m1 = wrap_encrypted (outer, e1, TRUE);
  g_autoptr(GBytes) m2 = wrap_encrypted (outer, e2, TRUE);
  g_autoptr(GBytes) bad = NULL, p = NULL, rest = NULL;
  g_autofree char *json = NULL;
  gsize len = 0, at;
  const char *data = g_bytes_get_data (m1, &len);
  char *copy = g_memdup2 (data, len);
  Reopen changed = { m1, m2, 1, 0, SPOOL_NONE, 0, -1 };

  (void) state;
  at = prefix_until (m1, "-----END PGP MESSAGE-----") - 60;
  copy[at] = copy[at] == 'A' ? 'B' : 'A';
  bad = g_bytes_new_take (copy, len);
  assert_same_as_memory (bad);
  assert_true (open_stream (bad, &json, &p, &rest));
  assert_non_null (strstr (json, "\"decryption\":\"failed\""));
  assert_int_equal (g_bytes_get_size (p), 0);
  g_clear_pointer (&p, g_bytes_unref);
  g_clear_pointer (&json, g_free);
  /* Judged on m1 (the first reading), written from m2 (read again). */
  assert_true (open_stream_reopen (m1, &changed, &json, &p, &rest));
  assert_int_equal (changed.readings, 1);
  assert_non_null (strstr (json, "\"decryption\":\"failed\""));
  g_clear_pointer (&p, g_bytes_unref);
  g_clear_pointer (&json, g_free);
  /* A copy kept that cannot be read back: decryption failed, nothing said
   * of the message's integrity, the message not read again. */
  {
    Reopen unreadable = { m1, NULL, 0, 0, SPOOL_UNREADABLE, 0, -1 };

    assert_true (open_stream_reopen (m1, &unreadable, &json, &p, &rest));
    close (unreadable.pipe_read);
    assert_int_equal (unreadable.spools, 1);
    assert_int_equal (unreadable.readings, 0);
    assert_non_null (strstr (json, "\"decryption\":\"failed\""));
    assert_null (strstr (json, "\"integrity\":\"ok\""));
  }
}

/* A reopen that first takes the secret keys out of the home in @data (the
 * files and the gpg-agent that read them): what opens the message then is
 * only the session key the first reading kept. */
typedef struct {
  GBytes *msg;
  const char *home;
  int readings;
} ReopenKeyless;

static GInputStream *
reopen_keyless (gpointer data, GError **error)
{
  ReopenKeyless *r = data;
  g_autofree char *keys = g_build_filename (r->home, "private-keys-v1.d", NULL);
  g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_bytes (r->msg);
  const char *argv[] = { "gpgconf", "--homedir", r->home, "--kill", "gpg-agent", NULL };

  (void) error;
  r->readings++;
  remove_tree (keys);
  assert_false (g_file_test (keys, G_FILE_TEST_EXISTS));
  assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                             NULL, NULL));
  return pst_pgpstream_input_new (mem);
}

/* A spool's file given by the test: @fd once, with its limits. */
typedef struct {
  int fd;
  guint64 max, keep_free;
  int opened;
} GivenFile;

static int
open_given (gpointer data, guint64 *max_out, guint64 *keep_free_out)
{
  GivenFile *g = data;

  g->opened++;
  *max_out = g->max;
  *keep_free_out = g->keep_free;
  return g_steal_fd (&g->fd);
}

/* PstCipherSpoolKeep: as the test says in *@data. */
static gboolean
wanted (gpointer data)
{
  return *(gboolean *) data;
}

/* The spool itself: what comes back is what went in; the file holds no
 * plaintext; a file changed in between, or more than it may hold, is said;
 * no file is asked for until a write is kept. */
static void
test_cipher_spool (void **state)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GOutputStream) sink = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) tee = NULL;
  g_autoptr(GOutputStream) back = g_memory_output_stream_new_resizable ();
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *disk = NULL;
  PstCipherSpool *spool;
  gboolean spool_failed = TRUE;
  GivenFile given = { -1, G_MAXUINT64, 0, 0 };
  int fd, peek;

  (void) state;
  for (int i = 0; i < 30000; i++)
    g_string_append_printf (text, "secret line %d\r\n", i);
  fd = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  peek = dup (fd);
  given = (GivenFile) { fd, G_MAXUINT64, 0, 0 };
  tee = pst_cipher_spool_tee_new (sink, open_given, &given, NULL, NULL);
  assert_null (pst_cipher_spool_tee_get (tee));
  assert_int_equal (given.opened, 0);
  for (gsize at = 0; at < text->len; at += 7777)
    assert_true (g_output_stream_write_all (tee, text->str + at, MIN (7777, text->len - at), NULL, NULL,
                                            &error));
  assert_int_equal (given.opened, 1);
  spool = pst_cipher_spool_tee_get (tee);
  assert_non_null (spool);
  assert_true (pst_cipher_spool_ok (spool));
  disk = g_malloc0 (text->len + 1);
  assert_int_equal (pread (peek, disk, text->len, 0), (gssize) text->len);
  assert_null (g_strstr_len (disk, (gssize) text->len, "secret line"));
  assert_true (pst_cipher_spool_replay (spool, back, &spool_failed, &error));
  assert_null (error);
  g_output_stream_close (back, NULL, NULL);
  got = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (back));
  assert_int_equal (g_bytes_get_size (got), text->len);
  assert_memory_equal (g_bytes_get_data (got, NULL), text->str, text->len);
  assert_false (spool_failed);
  g_clear_object (&tee);

  /* A byte changed on disk between the writing and the reading. */
  fd = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  close (peek);
  peek = dup (fd);
  given = (GivenFile) { fd, G_MAXUINT64, 0, 0 };
  tee = pst_cipher_spool_tee_new (sink, open_given, &given, NULL, NULL);
  assert_true (g_output_stream_write_all (tee, text->str, text->len, NULL, NULL, &error));
  spool = pst_cipher_spool_tee_get (tee);
  {
    /* Flipped, not set: a byte set to a value it may already hold would
     * change nothing one run in 256. */
    char c;

    assert_int_equal (pread (peek, &c, 1, 1000), 1);
    c = (char) ~c;
    assert_int_equal (pwrite (peek, &c, 1, 1000), 1);
  }
  g_clear_object (&back);
  back = g_memory_output_stream_new_resizable ();
  assert_false (pst_cipher_spool_replay (spool, back, &spool_failed, &error));
  assert_true (spool_failed);
  assert_non_null (error);
  assert_non_null (strstr (error->message, "changed"));
  g_clear_error (&error);
  g_clear_object (&tee);
  close (peek);

  /* More than it may hold: given up, the writes still go through. */
  fd = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  given = (GivenFile) { fd, 1000, 0, 0 };
  tee = pst_cipher_spool_tee_new (sink, open_given, &given, NULL, NULL);
  assert_true (g_output_stream_write_all (tee, text->str, 600, NULL, NULL, &error));
  spool = pst_cipher_spool_tee_get (tee);
  assert_true (pst_cipher_spool_ok (spool));
  assert_true (g_output_stream_write_all (tee, text->str, 600, NULL, NULL, &error));
  assert_false (pst_cipher_spool_ok (spool));
  g_clear_object (&tee);

  /* Past 16 MiB on a file system that cannot leave what must stay free:
   * given up, and its file emptied at once. */
  fd = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  peek = dup (fd);
  given = (GivenFile) { fd, G_MAXUINT64, G_MAXUINT64 / 2, 0 };
  tee = pst_cipher_spool_tee_new (sink, open_given, &given, NULL, NULL);
  assert_true (g_output_stream_write_all (tee, text->str, 1, NULL, NULL, &error));
  spool = pst_cipher_spool_tee_get (tee);
  while (pst_cipher_spool_ok (spool))
    {
      struct stat st;

      assert_true (g_output_stream_write_all (tee, text->str, text->len, NULL, NULL, &error));
      assert_int_equal (fstat (peek, &st), 0);
      assert_true (st.st_size <= 17 * 1024 * 1024);
    }
  {
    struct stat st;

    assert_int_equal (fstat (peek, &st), 0);
    assert_int_equal (st.st_size, 0);
  }
  g_clear_object (&tee);
  close (peek);

  /* Not wanted at the first write (an attachment passing as it comes): no
   * file asked for, then or later.  Wanted, then not: given up. */
  {
    gboolean want = FALSE;
    struct stat st;

    fd = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    given = (GivenFile) { fd, G_MAXUINT64, 0, 0 };
    tee = pst_cipher_spool_tee_new (sink, open_given, &given, wanted, &want);
    assert_true (g_output_stream_write_all (tee, text->str, 100, NULL, NULL, &error));
    want = TRUE;
    assert_true (g_output_stream_write_all (tee, text->str, 100, NULL, NULL, &error));
    assert_int_equal (given.opened, 0);
    assert_null (pst_cipher_spool_tee_get (tee));
    g_clear_object (&tee);
    close (given.fd);

    fd = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    peek = dup (fd);
    given = (GivenFile) { fd, G_MAXUINT64, 0, 0 };
    tee = pst_cipher_spool_tee_new (sink, open_given, &given, wanted, &want);
    assert_true (g_output_stream_write_all (tee, text->str, 100, NULL, NULL, &error));
    assert_int_equal (given.opened, 1);
    assert_int_equal (fstat (peek, &st), 0);
    assert_int_equal (st.st_size, 100);
    want = FALSE;
    assert_true (g_output_stream_write_all (tee, text->str, 100, NULL, NULL, &error));
    assert_false (pst_cipher_spool_ok (pst_cipher_spool_tee_get (tee)));
    assert_int_equal (fstat (peek, &st), 0);
    assert_int_equal (st.st_size, 0);
    g_clear_object (&tee);
    close (peek);
  }
}

/* A spool of its own, not behind a tee (the agent's large attachments,
 * agent/worker.c): written in pieces, the same bytes back, its size; none
 * when the caller gives no file; given up past what it may hold. */
static void
test_cipher_spool_direct (void **state)
{
  g_autoptr(GOutputStream) back = g_memory_output_stream_new_resizable ();
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = g_malloc (200000);
  PstCipherSpool *spool;
  gboolean spool_failed = TRUE;
  GivenFile given;

  (void) state;
  for (gsize i = 0; i < 200000; i++)
    data[i] = (guint8) (i * 31 + i / 977);
  given = (GivenFile) { open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600),
                        G_MAXUINT64, 0, 0 };
  assert_true (given.fd >= 0);
  spool = pst_cipher_spool_open (open_given, &given);
  assert_non_null (spool);
  assert_int_equal (given.opened, 1);
  for (gsize at = 0; at < 200000; at += 65537)
    pst_cipher_spool_write (spool, data + at, MIN (65537, 200000 - at));
  assert_true (pst_cipher_spool_ok (spool));
  assert_int_equal (pst_cipher_spool_size (spool), 200000);
  assert_true (pst_cipher_spool_replay (spool, back, &spool_failed, &error));
  assert_false (spool_failed);
  g_output_stream_close (back, NULL, NULL);
  got = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (back));
  assert_int_equal (g_bytes_get_size (got), 200000);
  assert_memory_equal (g_bytes_get_data (got, NULL), data, 200000);
  pst_cipher_spool_free (spool);

  /* No file given: no spool. */
  given = (GivenFile) { -1, G_MAXUINT64, 0, 0 };
  assert_null (pst_cipher_spool_open (open_given, &given));
  assert_int_equal (given.opened, 1);

  /* Past what it may hold. */
  given = (GivenFile) { open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), 1000, 0, 0 };
  spool = pst_cipher_spool_open (open_given, &given);
  assert_non_null (spool);
  pst_cipher_spool_write (spool, data, 1000);
  assert_true (pst_cipher_spool_ok (spool));
  pst_cipher_spool_write (spool, data, 1);
  assert_false (pst_cipher_spool_ok (spool));
  pst_cipher_spool_free (spool);
}

/* The output failing half-way, or reading the message, is the call's
 * error, not a verdict on the message ("decryption failed"), whatever its
 * domain (the agent's client descriptors fail with PST_ERROR): for an
 * attachment written as it comes and for a text written from its copy. */
static void
test_open_streams_fail (void **state)
{
  const char *outer = "From: " ALICE "\r\nTo: " BOB "\r\n";
  g_autoptr(GString) body = g_string_new (NULL);

  (void) state;
  for (int i = 0; i < 3000; i++)
    g_string_append_printf (body, "line %d of what does not get through\r\n", i);
  for (int input = 0; input < 2; input++)
    for (int kind = 0; kind < 3; kind++)
      {
        /* a text, an attachment, a protected multipart (written again) */
        g_autofree char *text = kind == 2
          ? g_strdup_printf ("Content-Type: multipart/mixed; boundary=f; protected-headers=v1\r\n"
                             "Subject: s\r\n\r\n--f\r\nContent-Type: text/plain\r\n\r\n%s--f--\r\n", body->str)
          : g_strdup_printf ("Content-Type: %s\r\n\r\n%s", kind ? "application/octet-stream" : "text/plain",
                             body->str);
        g_autoptr(GBytes) entity = bytes (text);
        g_autoptr(GBytes) msg = wrap_encrypted (outer, entity, TRUE);
        g_autoptr(GInputStream) mem = g_memory_input_stream_new_from_bytes (msg);
        g_autoptr(GInputStream) failing = failing_in_new (mem, input ? g_bytes_get_size (msg) / 2
                                                                     : G_MAXSIZE);
        g_autoptr(GInputStream) in = pst_pgpstream_input_new (failing);
        g_autoptr(GOutputStream) out = input ? g_memory_output_stream_new_resizable ()
                                             : g_object_new (failing_out_get_type (), NULL);
        g_autoptr(PstStatus) st = NULL;
        g_autoptr(GError) error = NULL;
        Reopen again = { msg, NULL, 0, 0, SPOOL_FILE, 0, -1 };
        gboolean streamable = FALSE;

        if (!input)
          ((FailingOut *) out)->room = 1000;
        assert_false (pst_pgpmime_open_stream (fx.bob, in, reopen_mem, spool_tmp, &again, out, &st,
                                               &streamable, &error));
        assert_non_null (error);
        assert_non_null (strstr (error->message, input ? "cannot read the input" : "no room"));
        assert_null (st);
      }
}

static char *carol_home;   /* removed by end_session_key, also when an assertion failed */

/* The text is read twice, and opened the second time with the session key
 * of the first, not the secret key: with carol's secret key gone between
 * the two readings, it is still written, decrypted and signed as judged. */
static void
test_open_text_session_key (void **state)
{
  const char *home = carol_home = make_home ();
  g_autofree char *fpr = make_key (home, "Carol <carol@postern.test>", "carol@postern.test");
  g_autoptr(PstPgp) carol = pst_pgp_new (home, NULL);
  const char *to_carol[] = { "carol@postern.test", NULL };
  g_autofree char *date = now_date ();
  g_autofree char *head = g_strdup_printf (HEAD, date);
  g_autofree char *text = g_strconcat (head, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                       "Content-Transfer-Encoding: 8bit\r\n\r\nthe session key opens it\r\n", NULL);
  g_autoptr(GBytes) plain = bytes (text);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) msg = NULL;
  g_autoptr(GInputStream) mem = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(PstStatus) st = NULL;
  g_autoptr(GBytes) written = NULL;
  g_autofree char *json = NULL;
  ReopenKeyless again = { NULL, home, 0 };
  gboolean streamable = FALSE;

  (void) state;
  assert_non_null (carol);
  copy_public_key (home, fx.alice_home, "carol@postern.test");
  copy_public_key (fx.alice_home, home, ALICE);
  pst_pgp_forget_keys ();
  msg = pst_pgpmime_protect (fx.alice, plain, ALICE, to_carol, TRUE, TRUE, &error);
  assert_non_null (msg);
  again.msg = msg;
  mem = g_memory_input_stream_new_from_bytes (msg);
  in = pst_pgpstream_input_new (mem);
  assert_true (pst_pgpmime_open_stream (carol, in, reopen_keyless, NULL, &again, out, &st, &streamable,
                                        &error));
  assert_null (error);
  assert_true (streamable);
  assert_int_equal (again.readings, 1);
  json = pst_status_to_json_string (st);
  assert_non_null (strstr (json, "\"decryption\":\"ok\""));
  assert_non_null (strstr (json, "\"status\":\"good\""));
  g_output_stream_close (out, NULL, NULL);
  written = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  assert_true (contains (written, "\r\n\r\nthe session key opens it\r\n"));
  /* And the key is gone indeed: a third decryption fails. */
  {
    g_autoptr(GBytes) armored = armor_of (msg);
    g_autoptr(GBytes) none = NULL;
    PstIntegrity integrity = PST_INTEGRITY_OK;

    assert_false (pst_pgp_decrypt_verify (carol, armored, &none, NULL, &integrity, NULL));
  }
}

static int
end_session_key (void **state)
{
  (void) state;
  if (carol_home != NULL)
    kill_home (g_steal_pointer (&carol_home));
  return 0;
}

/* The stream writer's output, read back by the stream reader. */
static void
test_roundtrip (void **state)
{
  g_autoptr(GBytes) msg = leaf_message ("application/octet-stream");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) enc = protect_stream (fx.alice, msg, TRUE, TRUE, &error);
  g_autoptr(GBytes) plain = NULL, rest = NULL;
  g_autofree char *json = NULL;

  (void) state;
  assert_non_null (enc);
  assert_same_as_memory (enc);
  assert_true (open_stream (enc, &json, &plain, &rest));
  assert_non_null (strstr (json, "\"status\":\"good\""));
  assert_non_null (strstr (json, "\"protected_headers\":true"));
  assert_true (contains (plain, "\r\nSubject: the plans\r\n"));
  assert_true (contains (plain, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo1999"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_protect_same_as_memory),
    cmocka_unit_test (test_sign_same_as_memory),
    cmocka_unit_test (test_protect_refuses),
    cmocka_unit_test (test_open_same_as_memory),
    cmocka_unit_test (test_open_tampered),
    cmocka_unit_test (test_open_not_streamable),
    cmocka_unit_test (test_open_text),
    cmocka_unit_test (test_open_multipart),
    cmocka_unit_test (test_open_text_failures),
    cmocka_unit_test (test_cipher_spool),
    cmocka_unit_test (test_cipher_spool_direct),
    cmocka_unit_test (test_open_streams_fail),
    cmocka_unit_test_teardown (test_open_text_session_key, end_session_key),
    cmocka_unit_test (test_roundtrip),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
