/* test-pgp-remote.c — the analysis worker's OpenPGP calls through the agent
 * (crypto/remote.h), both ends in one process: the reader on a remote
 * PstPgp in a thread, pst_crypto_serve with bob's keys here.  What is
 * checked: that a part which is bytes of the message is named by its range
 * rather than sent back, that the agent then reads it from its own copy
 * (in memory, or a stream read again) with the same verdict, and that a
 * wrong range is the worker's fault while a copy that cannot be read again
 * is not. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#include "crypto/pgp.h"
#include "crypto/remote.h"
#include "mime/reader.h"
#include "rpc/workerframe.h"
#include "util/error.h"

#include "pgp-fixture.h"

#define SIGNED_MSG \
  "From: Alice <" ALICE ">\r\n" \
  "To: Bob <" BOB ">\r\n" \
  "Subject: Signed\r\n" \
  "\r\n" \
  "Signed, not sealed.\r\n"

/* The worker's side: reads @message with a remote PstPgp over @fd. */
typedef struct {
  int fd;
  GBytes *message;
  gboolean name_ranges;   /* pst_crypto_remote_set_message */
  gboolean ok;
  GBytes *plain;
  PstStatus *status;
} Worker;

static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;
  g_autoptr (PstCryptoRemote) remote = pst_crypto_remote_new (w->fd);
  g_autoptr (PstPgp) pgp = NULL;

  if (w->name_ranges)
    pst_crypto_remote_set_message (remote, w->message);
  pgp = pst_pgp_new_remote (remote);
  w->ok = pst_message_open (pgp, NULL, w->message, &w->plain, &w->status, NULL);
  g_clear_pointer (&pgp, pst_pgp_free);
  shutdown (w->fd, SHUT_RDWR);
  return NULL;
}

/* What the agent saw of the worker's requests. */
typedef struct {
  guint requests;
  guint ranged;         /* requests that named bytes of the message */
  gsize largest_blob;
} Seen;

static GInputStream *
reopen_memory (gpointer data, GError **error)
{
  (void) error;
  return g_memory_input_stream_new_from_bytes (data);
}

/* Reads @message in a worker thread, serving its requests with bob's keys;
 * the message given to the server as bytes (@in_memory) or read again
 * through a stream.  Returns the worker's result. */
static void
read_through_agent (GBytes *message, gboolean name_ranges, gboolean in_memory, Worker *w,
                    Seen *seen)
{
  PstCryptoServer server = {
    .pgp = fx.bob, .budget = PST_DECRYPTION_MAX_OUTPUT,
    .message = in_memory ? message : NULL,
    .reopen = in_memory ? NULL : reopen_memory, .reopen_data = message,
    .message_size = g_bytes_get_size (message),
  };
  GThread *thread;
  int sv[2];

  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  *w = (Worker) { .fd = sv[1], .message = message, .name_ranges = name_ranges };
  *seen = (Seen) { 0 };
  thread = g_thread_new ("worker", worker_thread, w);
  for (;;)
    {
      g_autoptr (JsonObject) req = NULL, reply = NULL;
      g_autoptr (GBytes) blob = NULL, out = NULL;
      g_autoptr (GError) error = NULL;

      if (!pst_worker_frame_read (sv[0], PST_CRYPTO_REMOTE_MAX_BLOB, 0, &req, &blob, NULL))
        break;
      seen->requests++;
      if (json_object_has_member (req, "at") || json_object_has_member (req, "data_at"))
        seen->ranged++;
      seen->largest_blob = MAX (seen->largest_blob, g_bytes_get_size (blob));
      assert_true (pst_crypto_serve (&server, req, blob, &reply, &out, &error));
      assert_null (error);
      assert_true (pst_worker_frame_write (sv[0], reply, out, NULL));
    }
  g_thread_join (thread);
  pst_crypto_server_clear (&server);
  close (sv[0]);
  close (sv[1]);
}

static void
worker_clear (Worker *w)
{
  g_clear_pointer (&w->plain, g_bytes_unref);
  g_clear_pointer (&w->status, pst_status_free);
}

/* An encrypted and signed message, and a signed one: the same verdict and
 * plaintext whether the parts are sent or named, and read from memory or
 * again from a stream; named, no request carries more than a signature. */
static void
test_parts_named_by_range (void **state)
{
  const char *texts[] = { MSG, SIGNED_MSG };
  gboolean encrypt[] = { TRUE, FALSE };

  (void) state;
  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GBytes) message = send_message (fx.alice, texts[i], encrypt[i], TRUE, NULL);
      g_autoptr (GBytes) plain = NULL;
      g_autoptr (PstStatus) status = NULL;
      g_autofree char *want = NULL;

      assert_non_null (message);
      open_message (fx.bob, message, &plain, &status);
      want = pst_status_to_json_string (status);
      for (int mode = 0; mode < 3; mode++)
        {
          gboolean name_ranges = mode > 0, in_memory = mode == 1;
          g_autofree char *got = NULL;
          Worker w;
          Seen seen;

          read_through_agent (message, name_ranges, in_memory, &w, &seen);
          assert_true (w.ok);
          got = pst_status_to_json_string (w.status);
          assert_string_equal (got, want);
          assert_true (g_bytes_equal (w.plain, plain));
          assert_int_equal (seen.requests, 1);
          assert_int_equal (seen.ranged, name_ranges ? 1 : 0);
          if (name_ranges)
            assert_true (seen.largest_blob < 1024);   /* a signature at most */
          else
            assert_true (seen.largest_blob > 200);
          worker_clear (&w);
        }
      assert_int_equal (status->sig_status, PST_SIG_GOOD);
    }
}

/* A signed message signed again twice, each layer around the last, of
 * more than 64 KiB: each layer's signed part is most of the message, so
 * the third would take the bytes named past what the agent allows
 * (pst_crypto_remote_range_allowance).  The worker sends that one; every
 * signature is verified, with the verdict a local reading gives. */
/* A message from alice to bob with a text of about 100 KB. */
static GString *
long_text (void)
{
  GString *text = g_string_new ("From: Alice <" ALICE ">\r\nTo: Bob <" BOB ">\r\n"
                                "Subject: Long\r\n\r\n");

  for (int i = 0; i < 1500; i++)
    g_string_append_printf (text, "line %d of a text long enough to pass the slack\r\n", i);
  return text;
}

static void
test_nested_signatures (void **state)
{
  GString *text = long_text ();
  g_autoptr (GBytes) message = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autofree char *want = NULL, *got = NULL;
  Worker w;
  Seen seen;

  (void) state;
  for (int layer = 0; layer < 3; layer++)
    {
      g_autoptr (GBytes) next = send_message (fx.alice, text->str, FALSE, TRUE, NULL);

      assert_non_null (next);
      g_string_assign (text, "");
      g_string_append_len (text, g_bytes_get_data (next, NULL), (gssize) g_bytes_get_size (next));
    }
  message = g_string_free_to_bytes (text);
  assert_true (g_bytes_get_size (message) > 64 * 1024);
  open_message (fx.bob, message, &plain, &status);
  want = pst_status_to_json_string (status);
  read_through_agent (message, TRUE, FALSE, &w, &seen);
  assert_true (w.ok);
  got = pst_status_to_json_string (w.status);
  assert_string_equal (got, want);
  assert_int_equal (seen.requests, 3);
  assert_int_equal (seen.ranged, 2);
  assert_true (seen.largest_blob > 64 * 1024);
  worker_clear (&w);
}

/* One request to a server over @message; TRUE when served. */
static gboolean
serve_one (PstCryptoServer *server, JsonObject *req, GBytes *blob, GError **error)
{
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);

  return pst_crypto_serve (server, req, blob != NULL ? blob : empty, &reply, &out, error);
}

/* @req refused by @s, for the worker's fault or (@unread) not. */
static void
assert_refused (PstCryptoServer *s, JsonObject *req, GBytes *blob, gboolean unread,
                const char *why)
{
  g_autoptr (GError) error = NULL;

  assert_false (serve_one (s, req, blob, &error));
  assert_non_null (error);
  if (strstr (error->message, why) == NULL)
    fail_msg ("%s", error->message);
  assert_int_equal (s->unread, unread);
}

static JsonObject *
decrypt_request (gint64 at, gint64 len)
{
  JsonObject *req = json_object_new ();

  json_object_set_string_member (req, "op", "pgp.decrypt");
  json_object_set_int_member (req, "limit", 1 << 20);
  json_object_set_int_member (req, "at", at);
  json_object_set_int_member (req, "len", len);
  return req;
}

static GInputStream *
reopen_fails (gpointer data, GError **error)
{
  (void) data;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "messages entry 7 changed while it was read");
  return NULL;
}

/* Ranges the agent refuses as the worker's fault, and copies that cannot
 * be read again, which are not. */
static void
test_bad_ranges (void **state)
{
  g_autoptr (GBytes) message = send_message (fx.alice, MSG, TRUE, TRUE, NULL);
  gsize size = g_bytes_get_size (message);
  g_autoptr (GBytes) short_copy = g_bytes_new_from_bytes (message, 0, size / 2);
  PstCryptoServer s = { 0 };

  (void) state;
  assert_non_null (message);
#define SERVER(msg, re, data) \
  (PstCryptoServer) { .pgp = fx.bob, .budget = PST_DECRYPTION_MAX_OUTPUT, .message = (msg), \
                      .reopen = (re), .reopen_data = (data), .message_size = size }

  /* Past the end, or beside a blob that carries the data too; with no copy
   * to read it from (a worker that names bytes of a message it was not
   * given as one); not a count of bytes, or one past any message. */
  {
    g_autoptr (JsonObject) past = decrypt_request ((gint64) size, 1);
    g_autoptr (JsonObject) all = decrypt_request (0, (gint64) size);
    g_autoptr (JsonObject) one = decrypt_request (0, 1);
    g_autoptr (JsonObject) negative = decrypt_request (-1, 1);
    g_autoptr (JsonObject) huge = decrypt_request (1, G_MAXINT64);
    g_autoptr (JsonObject) text = decrypt_request (0, 1);
    g_autoptr (GBytes) blob = bytes ("x");
    struct { JsonObject *req; GBytes *blob; GBytes *copy; const char *why; } cases[] = {
      { past, NULL, message, "past the end of its message" },
      { all, blob, message, "sends it too" },
      { one, NULL, NULL, "past the end of its message" },
      { negative, NULL, message, "bad 'at'" },
      { huge, NULL, message, "past the end of its message" },
      { text, NULL, message, "bad 'len'" },
    };

    json_object_set_string_member (text, "len", "1");
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        pst_crypto_server_clear (&s);
        s = SERVER (cases[i].copy, NULL, NULL);
        assert_refused (&s, cases[i].req, cases[i].blob, FALSE, cases[i].why);
      }
  }
  /* All requests together may name twice the message and 64 KiB more,
   * not beyond (gpg finds the armored block inside the whole message, and
   * decrypts it each time).  A message above the 64 KiB, so that the slack
   * does not take most of the requests. */
  {
    g_autoptr (GString) text = long_text ();
    g_autoptr (GBytes) big = send_message (fx.alice, text->str, TRUE, TRUE, NULL);
    gsize big_size = g_bytes_get_size (big);
    guint64 named = 0, allowed = 2 * (guint64) big_size + 64 * 1024;
    gboolean refused = FALSE;

    assert_true (big_size > 64 * 1024);
    pst_crypto_server_clear (&s);
    s = (PstCryptoServer) { .pgp = fx.bob, .budget = PST_DECRYPTION_MAX_OUTPUT, .message = big,
                            .message_size = big_size };
    while (!refused && named <= allowed)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (JsonObject) req = decrypt_request (0, (gint64) big_size);

        if (serve_one (&s, req, NULL, &error))
          named += big_size;
        else
          {
            refused = TRUE;
            assert_non_null (strstr (error->message, "more of its message than twice its size"));
          }
      }
    assert_true (refused);
    assert_true (named <= allowed && named + big_size > allowed);
  }
  /* A copy that cannot be opened again, or that ends early: no verdict,
   * and not the worker's fault (unread). */
  {
    g_autoptr (JsonObject) some = decrypt_request (0, 10);
    g_autoptr (JsonObject) all = decrypt_request (0, (gint64) size);
    g_autoptr (JsonObject) last = decrypt_request ((gint64) size - 1, 1);

    pst_crypto_server_clear (&s);
    s = SERVER (NULL, reopen_fails, NULL);
    assert_refused (&s, some, NULL, TRUE, "changed while it was read");
    pst_crypto_server_clear (&s);
    s = SERVER (NULL, reopen_memory, short_copy);
    assert_refused (&s, all, NULL, TRUE, "ended");
    pst_crypto_server_clear (&s);
    s = SERVER (NULL, reopen_memory, short_copy);
    assert_refused (&s, last, NULL, TRUE, "the message ended before");
  }
  {
    g_autoptr (JsonObject) req = json_object_new ();
    g_autoptr (GBytes) signed_message = send_message (fx.alice, SIGNED_MSG, FALSE, TRUE, NULL);
    g_autoptr (GBytes) sig = top_part (signed_message, 1, TRUE);

    json_object_set_string_member (req, "op", "pgp.verify_detached");
    json_object_set_int_member (req, "data_at", 0);
    json_object_set_int_member (req, "data_len", (gint64) size);
    json_object_set_int_member (req, "signature_len", (gint64) g_bytes_get_size (sig));
    pst_crypto_server_clear (&s);
    s = SERVER (NULL, reopen_memory, short_copy);
    assert_refused (&s, req, sig, TRUE, "ended");
    /* The signature's length must be what it sent. */
    json_object_set_int_member (req, "signature_len", 1);
    pst_crypto_server_clear (&s);
    s = SERVER (message, NULL, NULL);
    assert_refused (&s, req, sig, FALSE, "longer than what it sent");
  }
  pst_crypto_server_clear (&s);
#undef SERVER
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parts_named_by_range),
    cmocka_unit_test (test_nested_signatures),
    cmocka_unit_test (test_bad_ranges),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
