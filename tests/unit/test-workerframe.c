/* Unit tests for rpc/workerframe.c (the agent–worker frames) and
 * crypto/wire.c (verdicts, signatures and errors as JSON in them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/wire.h"
#include "rpc/workerframe.h"
#include "util/error.h"

#define MAX_BLOB ((guint64) 256 * 1024 * 1024)

/* --- Helpers ---------------------------------------------------------------- */

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* A frame by hand: @magic, the two lengths as announced, then @body. */
static GByteArray *
raw_frame (const char *magic, guint32 json_len, guint64 blob_len, const void *body, gsize body_len)
{
  GByteArray *f = g_byte_array_new ();
  guint32 j = GUINT32_TO_BE (json_len);
  guint64 b = GUINT64_TO_BE (blob_len);

  g_byte_array_append (f, (const guint8 *) magic, 4);
  g_byte_array_append (f, (const guint8 *) &j, 4);
  g_byte_array_append (f, (const guint8 *) &b, 8);
  g_byte_array_append (f, body, (guint) body_len);
  return f;
}

/* A whole frame: head, JSON of @json_text, @blob. */
static GByteArray *
make_frame (const char *json_text, const char *blob, gsize blob_len)
{
  g_autoptr (JsonObject) obj = parse_object (json_text);
  g_autoptr (GBytes) head = pst_worker_frame_encode (obj, blob_len);
  GByteArray *f = g_byte_array_new ();
  gsize n;
  const guint8 *d = g_bytes_get_data (head, &n);

  g_byte_array_append (f, d, (guint) n);
  g_byte_array_append (f, (const guint8 *) blob, (guint) blob_len);
  return f;
}

static void
assert_frame (JsonObject *obj, GBytes *blob, const char *json_text, const char *blob_data,
              gsize blob_len)
{
  g_autoptr (JsonObject) want = parse_object (json_text);
  g_autoptr (JsonNode) a = json_node_init_object (json_node_alloc (), obj);
  g_autoptr (JsonNode) b = json_node_init_object (json_node_alloc (), want);

  assert_true (json_node_equal (a, b));
  assert_non_null (blob);
  assert_int_equal (g_bytes_get_size (blob), blob_len);
  if (blob_len > 0)
    assert_memory_equal (g_bytes_get_data (blob, NULL), blob_data, blob_len);
}

static const char FRAME_JSON[] = "{\"op\":\"verify\",\"n\":3,\"s\":\"gr\xc3\xbc\xc3\x9f\","
                                 "\"a\":[true,null,{\"x\":1.5}]}";
static const char FRAME_BLOB[] = "From: a@example.org\r\n\r\nbody\0with a NUL";

/* --- Decoder ---------------------------------------------------------------- */

static void
test_round_trip_whole_and_bytewise (void **state)
{
  g_autoptr (GByteArray) f = make_frame (FRAME_JSON, FRAME_BLOB, sizeof FRAME_BLOB);

  /* Whole, then one byte at a time, then cut at every point. */
  for (gsize split = 0; split <= f->len; split++)
    {
      g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (MAX_BLOB);
      g_autoptr (JsonObject) obj = NULL;
      g_autoptr (GBytes) blob = NULL;
      g_autoptr (GError) error = NULL;

      assert_int_equal (pst_worker_decoder_feed (d, f->data, split, &error), split);
      assert_int_equal (pst_worker_decoder_done (d), split == f->len);
      assert_int_equal (pst_worker_decoder_feed (d, f->data + split, f->len - split, &error),
                        f->len - split);
      assert_null (error);
      assert_true (pst_worker_decoder_done (d));
      assert_true (pst_worker_decoder_take (d, &obj, &blob));
      assert_frame (obj, blob, FRAME_JSON, FRAME_BLOB, sizeof FRAME_BLOB);
      assert_false (pst_worker_decoder_done (d));
      assert_false (pst_worker_decoder_take (d, NULL, NULL));
    }
  {
    g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (MAX_BLOB);
    g_autoptr (JsonObject) obj = NULL;
    g_autoptr (GBytes) blob = NULL;

    for (guint i = 0; i < f->len; i++)
      {
        assert_false (pst_worker_decoder_done (d));
        assert_int_equal (pst_worker_decoder_feed (d, f->data + i, 1, NULL), 1);
      }
    assert_true (pst_worker_decoder_take (d, &obj, &blob));
    assert_frame (obj, blob, FRAME_JSON, FRAME_BLOB, sizeof FRAME_BLOB);
  }
}

static void
test_frame_without_blob (void **state)
{
  g_autoptr (GByteArray) f = make_frame ("{}", NULL, 0);
  g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (0);
  g_autoptr (JsonObject) obj = NULL;
  g_autoptr (GBytes) blob = NULL;

  assert_int_equal (f->len, PST_WORKER_FRAME_HEAD + 2);
  assert_memory_equal (f->data, "PSTW\0\0\0\x02\0\0\0\0\0\0\0\0", PST_WORKER_FRAME_HEAD);
  assert_int_equal (pst_worker_decoder_feed (d, f->data, f->len, NULL), f->len);
  assert_true (pst_worker_decoder_take (d, &obj, &blob));
  assert_frame (obj, blob, "{}", NULL, 0);
}

static void
test_two_frames_in_one_feed (void **state)
{
  g_autoptr (GByteArray) both = make_frame (FRAME_JSON, FRAME_BLOB, sizeof FRAME_BLOB);
  g_autoptr (GByteArray) second = make_frame ("{\"op\":\"done\"}", "xy", 2);
  g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (MAX_BLOB);
  guint first_len = both->len;
  gssize n;

  g_byte_array_append (both, second->data, second->len);
  n = pst_worker_decoder_feed (d, both->data, both->len, NULL);
  assert_int_equal (n, first_len);
  assert_true (pst_worker_decoder_done (d));
  /* A complete frame not yet taken takes nothing more. */
  assert_int_equal (pst_worker_decoder_feed (d, both->data + n, both->len - n, NULL), 0);
  {
    g_autoptr (JsonObject) obj = NULL;
    g_autoptr (GBytes) blob = NULL;

    assert_true (pst_worker_decoder_take (d, &obj, &blob));
    assert_frame (obj, blob, FRAME_JSON, FRAME_BLOB, sizeof FRAME_BLOB);
  }
  assert_int_equal (pst_worker_decoder_feed (d, both->data + n, both->len - n, NULL),
                    second->len);
  {
    g_autoptr (JsonObject) obj = NULL;
    g_autoptr (GBytes) blob = NULL;

    assert_true (pst_worker_decoder_take (d, &obj, &blob));
    assert_frame (obj, blob, "{\"op\":\"done\"}", "xy", 2);
  }
}

static char *
nested (guint depth)
{
  char *s = g_malloc (2 * depth + 1);

  memset (s, '[', depth);
  memset (s + depth, ']', depth);
  s[2 * depth] = '\0';
  return s;
}

static void
test_bad_frames (void **state)
{
  g_autofree char *deep = nested (80000);
  g_autofree char *long_json = g_strnfill (PST_WORKER_FRAME_MAX_JSON + 1, ' ');
  struct {
    const char *magic;
    guint32 json_len;
    guint64 blob_len;
    const char *body;
    gsize body_len;
    const char *why;
  } cases[] = {
    { "PSTX", 2, 0, "{}", 2, "does not start with \"PSTW\"" },
    { "pstw", 2, 0, "{}", 2, "does not start with \"PSTW\"" },
    { "PSTW", PST_WORKER_FRAME_MAX_JSON + 1, 0, long_json, PST_WORKER_FRAME_MAX_JSON + 1,
      "more than 1048576" },
    { "PSTW", G_MAXUINT32, 0, "{}", 2, "more than 1048576" },
    { "PSTW", 0, 0, "", 0, "JSON is empty" },
    { "PSTW", 2, 1025, "{}", 2, "blob is 1025 bytes, more than 1024" },
    { "PSTW", 2, G_MAXUINT64, "{}", 2, "more than 1024" },
    { "PSTW", 8, 0, "not json", 8, "malformed" },
    { "PSTW", 3, 0, "{\"a", 3, "malformed" },
    { "PSTW", 9, 0, "[1,2,{}] ", 9, "not an object" },
    { "PSTW", 4, 0, "  \n ", 4, "not an object" },
    { "PSTW", 160000, 0, deep, 160000, "nested deeper than 64" },
    { "PSTW", 9, 0, "{\"a\":\"\0\"}", 9, "NUL" },
    { "PSTW", 9, 0, "{\"a\":\"\xff\"}", 9, "not UTF-8" },
    { "PSTW", 7, 0, "{'a':1}", 7, "malformed" },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    for (int bytewise = 0; bytewise <= 1; bytewise++)
      {
        g_autoptr (GByteArray) f = raw_frame (cases[c].magic, cases[c].json_len, cases[c].blob_len,
                                              cases[c].body, cases[c].body_len);
        g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (1024);
        g_autoptr (GError) error = NULL;
        gssize n = 0;

        /* Byte by byte (but for the long ones): the error comes with the
         * byte that makes the frame bad, whichever it is. */
        if (bytewise && f->len < 1000)
          for (guint i = 0; i < f->len && n >= 0; i++)
            n = pst_worker_decoder_feed (d, f->data + i, 1, &error);
        else
          n = pst_worker_decoder_feed (d, f->data, f->len, &error);
        assert_int_equal (n, -1);
        assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
        if (strstr (error->message, cases[c].why) == NULL)
          fail_msg ("case %zu: \"%s\" does not say \"%s\"", c, error->message, cases[c].why);
        assert_false (pst_worker_decoder_done (d));
        /* The decoder is useless afterwards. */
        g_clear_error (&error);
        assert_int_equal (pst_worker_decoder_feed (d, (const guint8 *) "PSTW", 4, &error), -1);
        assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
      }
}

/* A frame that announces much and sends little costs what it sent: were
 * the announced length allocated up front, 2^62 bytes would abort. */
static void
test_big_announcement_small_cost (void **state)
{
  guint64 announced[][2] = {
    { (guint64) 200 * 1024 * 1024, MAX_BLOB },
    { (guint64) 1 << 62, G_MAXUINT64 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (announced); i++)
    {
      g_autoptr (GByteArray) f = raw_frame ("PSTW", 2, announced[i][0], "{}0123456789", 12);
      g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (announced[i][1]);
      g_autoptr (GError) error = NULL;

      assert_int_equal (pst_worker_decoder_feed (d, f->data, f->len, &error), f->len);
      assert_null (error);
      assert_false (pst_worker_decoder_done (d));
      assert_false (pst_worker_decoder_take (d, NULL, NULL));
    }
}

/* --- Descriptors ------------------------------------------------------------ */

typedef struct {
  int fd;
  GByteArray *bytes;
} Writer;

static gpointer
write_bytes (gpointer data)
{
  Writer *w = data;
  gsize off = 0;

  while (off < w->bytes->len)
    {
      ssize_t n = write (w->fd, w->bytes->data + off, w->bytes->len - off);

      if (n <= 0)
        break;
      off += (gsize) n;
    }
  return NULL;
}

typedef struct {
  int fd;
  JsonObject *obj;
  GBytes *blob;
  gboolean ok;
} FrameWriter;

static gpointer
write_frames (gpointer data)
{
  FrameWriter *w = data;

  w->ok = pst_worker_frame_write (w->fd, w->obj, w->blob, NULL)
          && pst_worker_frame_write (w->fd, w->obj, NULL, NULL);
  return NULL;
}

static void
socket_pair (int sv[2])
{
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void
test_read_write_socketpair (void **state)
{
  g_autoptr (JsonObject) obj = parse_object (FRAME_JSON);
  gsize big_len = 3 * 1024 * 1024 + 17;   /* far more than the socket buffer: partial writes */
  guint8 *big_data = g_malloc (big_len);
  g_autoptr (GBytes) big = NULL;
  FrameWriter w;
  GThread *thread;
  int sv[2];

  for (gsize i = 0; i < big_len; i++)
    big_data[i] = (guint8) (i * 7 + i / 251);
  big = g_bytes_new_take (big_data, big_len);
  socket_pair (sv);
  w = (FrameWriter) { sv[1], obj, big, FALSE };
  thread = g_thread_new ("frame-writer", write_frames, &w);
  {
    g_autoptr (JsonObject) got = NULL;
    g_autoptr (GBytes) blob = NULL;
    g_autoptr (GError) error = NULL;

    assert_true (pst_worker_frame_read (sv[0], MAX_BLOB, g_get_monotonic_time () + 60 * G_USEC_PER_SEC,
                                        &got, &blob, &error));
    assert_null (error);
    assert_frame (got, blob, FRAME_JSON, (const char *) big_data, big_len);
  }
  {
    /* The first read took nothing of the second frame. */
    g_autoptr (JsonObject) got = NULL;
    g_autoptr (GBytes) blob = NULL;
    g_autoptr (GError) error = NULL;

    assert_true (pst_worker_frame_read (sv[0], 0, 0, &got, &blob, &error));
    assert_frame (got, blob, FRAME_JSON, NULL, 0);
  }
  g_thread_join (thread);
  assert_true (w.ok);
  close (sv[0]);
  close (sv[1]);
}

/* A frame whose blob's end goes elsewhere (pst_worker_decoder_set_split:
 * the agent's large attachments): the decoder holds the first bytes the
 * split says, hands the rest to the tail in order, and decodes the frames
 * that follow, split or whole, as before. */
typedef struct {
  guint splits;
  guint64 blob_len;     /* the last split's */
  GByteArray *tail;
} Split;

/* Keeps what the frame's "keep" says; all of a frame without one. */
static guint64
split_by_keep (JsonObject *obj, guint64 blob_len, gpointer data)
{
  Split *s = data;

  s->splits++;
  s->blob_len = blob_len;
  return json_object_has_member (obj, "keep") ? (guint64) json_object_get_int_member (obj, "keep")
                                              : G_MAXUINT64;
}

static void
split_tail (const guint8 *bytes, gsize len, gpointer data)
{
  Split *s = data;

  assert_true (len > 0);
  g_byte_array_append (s->tail, bytes, (guint) len);
}

static void
test_split (void **state)
{
  static const char blob[] = "held part|the tail, not held";
  g_autoptr (GByteArray) f = make_frame ("{\"keep\":9}", blob, sizeof blob - 1);
  g_autoptr (GByteArray) whole = make_frame ("{\"op\":\"done\"}", "xy", 2);
  g_autoptr (GByteArray) all_tail = make_frame ("{\"keep\":0}", "abc", 3);
  g_autoptr (GByteArray) none = make_frame ("{\"keep\":0}", NULL, 0);
  g_autoptr (GByteArray) stream = g_byte_array_new ();

  g_byte_array_append (stream, f->data, f->len);
  g_byte_array_append (stream, whole->data, whole->len);
  g_byte_array_append (stream, all_tail->data, all_tail->len);
  g_byte_array_append (stream, none->data, none->len);
  /* Fed in pieces of every size from 1 to the whole stream. */
  for (gsize piece = 1; piece <= stream->len; piece++)
    {
      g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (MAX_BLOB);
      g_autoptr (GByteArray) tail = g_byte_array_new ();
      Split s = { .tail = tail };
      gsize at = 0, ends[4];
      guint frames = 0;
      g_autoptr (GPtrArray) objs = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
      g_autoptr (GPtrArray) blobs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

      pst_worker_decoder_set_split (d, split_by_keep, split_tail, &s);
      while (at < stream->len)
        {
          gsize n = MIN (piece, stream->len - at);
          gssize used = pst_worker_decoder_feed (d, stream->data + at, n, NULL);

          assert_true (used >= 0);
          at += (gsize) used;
          if (pst_worker_decoder_done (d))
            {
              JsonObject *obj = NULL;
              GBytes *b = NULL;

              assert_true (frames < 4);
              assert_true (pst_worker_decoder_take (d, &obj, &b));
              g_ptr_array_add (objs, obj);
              g_ptr_array_add (blobs, b);
              ends[frames++] = tail->len;
            }
        }
      assert_int_equal (frames, 4);
      /* Asked once per frame with a blob, with the blob's whole length. */
      assert_int_equal (s.splits, 3);
      assert_frame (objs->pdata[0], blobs->pdata[0], "{\"keep\":9}", "held part", 9);
      assert_int_equal (ends[0], sizeof blob - 1 - 9);
      assert_frame (objs->pdata[1], blobs->pdata[1], "{\"op\":\"done\"}", "xy", 2);
      assert_int_equal (ends[1], ends[0]);
      assert_frame (objs->pdata[2], blobs->pdata[2], "{\"keep\":0}", NULL, 0);
      assert_int_equal (ends[2], ends[1] + 3);
      assert_frame (objs->pdata[3], blobs->pdata[3], "{\"keep\":0}", NULL, 0);
      assert_int_equal (tail->len, sizeof blob - 1 - 9 + 3);
      assert_memory_equal (tail->data, "|the tail, not heldabc", tail->len);
    }
  /* Over a socket: a blob far larger than its buffer, nearly all of it
   * the tail, which arrives in pieces, never held whole. */
  {
    g_autoptr (JsonObject) obj = parse_object ("{\"keep\":17}");
    gsize big_len = 3 * 1024 * 1024 + 5;
    guint8 *big_data = g_malloc (big_len);
    g_autoptr (GBytes) big = NULL;
    g_autoptr (GByteArray) tail = g_byte_array_new ();
    g_autoptr (JsonObject) got = NULL;
    g_autoptr (GBytes) held = NULL;
    g_autoptr (GError) error = NULL;
    Split s = { .tail = tail };
    FrameWriter w;
    GThread *thread;
    int sv[2];

    for (gsize i = 0; i < big_len; i++)
      big_data[i] = (guint8) (i * 13 + i / 509);
    big = g_bytes_new_take (big_data, big_len);
    socket_pair (sv);
    w = (FrameWriter) { sv[1], obj, big, FALSE };
    thread = g_thread_new ("frame-writer", write_frames, &w);
    assert_true (pst_worker_frame_read_split (sv[0], MAX_BLOB, 0, split_by_keep, split_tail, &s,
                                              NULL, &got, &held, &error));
    assert_null (error);
    assert_int_equal (s.blob_len, big_len);
    assert_frame (got, held, "{\"keep\":17}", (const char *) big_data, 17);
    assert_int_equal (tail->len, big_len - 17);
    assert_memory_equal (tail->data, big_data + 17, big_len - 17);
    g_clear_pointer (&got, json_object_unref);
    g_clear_pointer (&held, g_bytes_unref);
    /* The writer's second frame, without a blob: not split. */
    assert_true (pst_worker_frame_read_split (sv[0], 0, 0, split_by_keep, split_tail, &s, NULL,
                                              &got, &held, &error));
    assert_int_equal (s.splits, 1);
    g_thread_join (thread);
    assert_true (w.ok);
    close (sv[0]);
    close (sv[1]);
  }
}

/* A tail that takes its time (a slow disk): 150 ms a piece. */
static void
slow_tail (const guint8 *bytes, gsize len, gpointer data)
{
  split_tail (bytes, len, data);
  g_usleep (150 * 1000);
}

/* The time the split and the tail take is the reader's: it pushes the
 * deadline back, and the caller is told it.  A blob of 256 KiB comes in
 * four pieces or more (reads of at most 64 KiB), 600 ms of the tail's
 * against a deadline of 300 ms. */
static void
test_split_deadline (void **state)
{
  g_autoptr (JsonObject) obj = parse_object ("{\"keep\":0}");
  g_autoptr (GBytes) blob = g_bytes_new_take (g_malloc0 (256 * 1024), 256 * 1024);
  g_autoptr (GByteArray) tail = g_byte_array_new ();
  g_autoptr (JsonObject) got = NULL;
  g_autoptr (GBytes) held = NULL;
  g_autoptr (GError) error = NULL;
  Split s = { .tail = tail };
  gint64 took = -1;
  FrameWriter w;
  GThread *thread;
  int sv[2];

  socket_pair (sv);
  w = (FrameWriter) { sv[1], obj, blob, FALSE };
  thread = g_thread_new ("frame-writer", write_frames, &w);
  assert_true (pst_worker_frame_read_split (sv[0], MAX_BLOB, g_get_monotonic_time () + 300 * 1000,
                                            split_by_keep, slow_tail, &s, &took, &got, &held,
                                            &error));
  assert_null (error);
  assert_int_equal (tail->len, 256 * 1024);
  assert_true (took >= 4 * 150 * 1000);
  g_clear_pointer (&got, json_object_unref);
  g_clear_pointer (&held, g_bytes_unref);
  assert_true (pst_worker_frame_read (sv[0], 0, 0, &got, &held, &error));
  g_thread_join (thread);
  assert_true (w.ok);
  close (sv[0]);
  close (sv[1]);
}

/* A frame whose blob is read from a stream as it is written (the stored
 * message, agent/worker.c): the reader gets the same frame; a stream that
 * gives fewer or more bytes than the head says fails the write. */
typedef struct {
  int fd;
  JsonObject *obj;
  GInputStream *in;
  guint64 len;
  gboolean ok;
  GError *error;
} StreamWriter;

static gpointer
write_stream_frame (gpointer data)
{
  StreamWriter *w = data;

  gint64 reading = -1;

  w->ok = pst_worker_frame_write_stream_until (w->fd, w->obj, w->in, w->len,
                                               g_get_monotonic_time () + 60 * G_USEC_PER_SEC,
                                               &reading, &w->error);
  w->ok = w->ok && reading >= 0;
  /* The reader sees the end, however the write went. */
  shutdown (w->fd, SHUT_WR);
  return NULL;
}

static void
test_write_stream (void **state)
{
  g_autoptr (JsonObject) obj = parse_object (FRAME_JSON);
  gsize len = 3 * 1024 * 1024 + 17;   /* pieces of the stream and of the socket buffer */
  guint8 *data = g_malloc (len);
  g_autoptr (GBytes) bytes = NULL;

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (i * 7 + i / 251);
  bytes = g_bytes_new_take (data, len);
  /* Said: all of it, one byte less than it holds, one byte more. */
  for (int c = 0; c < 3; c++)
    {
      guint64 said = c == 0 ? len : c == 1 ? len - 1 : len + 1;
      g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (bytes);
      g_autoptr (JsonObject) got = NULL;
      g_autoptr (GBytes) blob = NULL;
      g_autoptr (GError) error = NULL;
      StreamWriter w = { 0, obj, in, said, FALSE, NULL };
      GThread *thread;
      gboolean read_ok;
      int sv[2];

      socket_pair (sv);
      w.fd = sv[1];
      thread = g_thread_new ("stream-writer", write_stream_frame, &w);
      read_ok = pst_worker_frame_read (sv[0], MAX_BLOB, g_get_monotonic_time () + 60 * G_USEC_PER_SEC,
                                       &got, &blob, &error);
      g_thread_join (thread);
      if (c == 0)
        {
          assert_true (w.ok);
          assert_null (w.error);
          assert_true (read_ok);
          assert_frame (got, blob, FRAME_JSON, (const char *) data, len);
        }
      else
        {
          assert_false (w.ok);
          assert_true (g_error_matches (w.error, PST_ERROR, PST_ERROR_FAILED));
          assert_non_null (strstr (w.error->message, c == 1 ? "longer than" : "short of"));
          /* One byte less: the reader has its frame, the writer knows it
           * said too little; one byte more: the frame is cut. */
          assert_true (c == 1 ? read_ok : !read_ok);
          g_clear_error (&w.error);
        }
      close (sv[0]);
      close (sv[1]);
    }
}

static void
test_read_over_pipe_and_limit (void **state)
{
  g_autoptr (JsonObject) obj = parse_object ("{\"k\":\"v\"}");
  g_autoptr (GBytes) blob = g_bytes_new_static ("12345", 5);
  int p[2];

  assert_int_equal (pipe (p), 0);
  assert_true (pst_worker_frame_write (p[1], obj, blob, NULL));
  assert_true (pst_worker_frame_write (p[1], obj, blob, NULL));
  {
    g_autoptr (JsonObject) got = NULL;
    g_autoptr (GBytes) got_blob = NULL;
    g_autoptr (GError) error = NULL;

    assert_true (pst_worker_frame_read (p[0], 5, 0, &got, &got_blob, &error));
    assert_frame (got, got_blob, "{\"k\":\"v\"}", "12345", 5);
  }
  {
    /* A smaller limit refuses the same frame. */
    g_autoptr (GError) error = NULL;
    JsonObject *got = NULL;
    GBytes *got_blob = NULL;

    assert_false (pst_worker_frame_read (p[0], 4, 0, &got, &got_blob, &error));
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
    assert_null (got);
    assert_null (got_blob);
  }
  close (p[0]);
  close (p[1]);
}

static void
test_read_deadline (void **state)
{
  int sv[2];

  socket_pair (sv);
  for (int partial = 0; partial <= 1; partial++)
    {
      g_autoptr (GError) error = NULL;
      gint64 start = g_get_monotonic_time ();

      if (partial)
        assert_int_equal (write (sv[1], "PSTW\0\0\0\x02", 8), 8);
      assert_false (pst_worker_frame_read (sv[0], 0, start + 150 * 1000, NULL, NULL, &error));
      assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
      assert_true (g_get_monotonic_time () - start >= 150 * 1000);
    }
  {
    /* A deadline already passed fails at once, even with bytes waiting. */
    g_autoptr (GError) error = NULL;

    assert_false (pst_worker_frame_read (sv[0], 0, g_get_monotonic_time () - 1, NULL, NULL,
                                         &error));
    assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  }
  close (sv[0]);
  close (sv[1]);
}

/* A peer that writes instead of reading: a frame larger than the socket's
 * buffer fails at the deadline instead of blocking for ever. */
static void
test_write_deadline (void **state)
{
  int sv[2];
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) obj = json_object_new ();
  g_autofree guint8 *big = g_malloc0 (8 * 1024 * 1024);
  g_autoptr (GBytes) blob = g_bytes_new_static (big, 8 * 1024 * 1024);
  gint64 start = g_get_monotonic_time ();

  socket_pair (sv);
  json_object_set_string_member (obj, "op", "open");
  assert_false (pst_worker_frame_write_until (sv[0], obj, blob, start + 150 * 1000, &error));
  assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  assert_true (g_get_monotonic_time () - start >= 150 * 1000);
  close (sv[0]);
  close (sv[1]);
}

static void
test_read_peer_closes (void **state)
{
  g_autoptr (GByteArray) f = make_frame (FRAME_JSON, FRAME_BLOB, sizeof FRAME_BLOB);
  /* Nothing at all, a bit of the head, the head and part of the JSON,
   * everything but the last byte of the blob. */
  guint cuts[] = { 0, 3, PST_WORKER_FRAME_HEAD + 5, f->len - 1 };

  for (gsize c = 0; c < G_N_ELEMENTS (cuts); c++)
    {
      g_autoptr (GError) error = NULL;
      JsonObject *obj = NULL;
      GBytes *blob = NULL;
      int sv[2];

      socket_pair (sv);
      assert_int_equal (write (sv[1], f->data, cuts[c]), cuts[c]);
      close (sv[1]);
      assert_false (pst_worker_frame_read (sv[0], MAX_BLOB, g_get_monotonic_time () + 10 * G_USEC_PER_SEC,
                                           &obj, &blob, &error));
      assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED));
      if (cuts[c] == 0)
        assert_string_equal (error->message, "the worker closed the connection");
      else
        assert_non_null (strstr (error->message, "in the middle of a frame"));
      assert_null (obj);
      assert_null (blob);
      close (sv[0]);
    }
}

static void
test_read_bad_frame_from_peer (void **state)
{
  g_autoptr (GByteArray) f = raw_frame ("PSTW", 2, 0, "[]", 2);
  g_autoptr (GError) error = NULL;
  Writer w;
  GThread *thread;
  int sv[2];

  socket_pair (sv);
  w = (Writer) { sv[1], f };
  thread = g_thread_new ("bytes-writer", write_bytes, &w);
  assert_false (pst_worker_frame_read (sv[0], 0, 0, NULL, NULL, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  assert_non_null (strstr (error->message, "not an object"));
  g_thread_join (thread);
  close (sv[0]);
  close (sv[1]);
}

/* A reader gone is an error, never SIGPIPE (which would end this test):
 * over a socket (MSG_NOSIGNAL) and over a pipe (write()). */
static void
test_write_to_closed_peer (void **state)
{
  g_autoptr (JsonObject) obj = parse_object ("{}");
  g_autoptr (GBytes) blob = g_bytes_new_static ("abc", 3);
  int sv[2], p[2];

  socket_pair (sv);
  close (sv[0]);
  {
    g_autoptr (GError) error = NULL;

    assert_false (pst_worker_frame_write (sv[1], obj, blob, &error));
    assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE));
  }
  close (sv[1]);

  assert_int_equal (pipe (p), 0);
  close (p[0]);
  {
    g_autoptr (GError) error = NULL;

    assert_false (pst_worker_frame_write (p[1], obj, blob, &error));
    assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE));
  }
  close (p[1]);
}

static void
test_write_refuses_long_json (void **state)
{
  g_autoptr (JsonObject) obj = json_object_new ();
  g_autofree char *text = g_strnfill (PST_WORKER_FRAME_MAX_JSON, 'x');
  g_autoptr (GError) error = NULL;
  int sv[2];

  json_object_set_string_member (obj, "x", text);
  socket_pair (sv);
  assert_false (pst_worker_frame_write (sv[1], obj, NULL, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  close (sv[0]);
  close (sv[1]);
}

/* --- Wire ------------------------------------------------------------------- */

static void
assert_strv_equal (char **a, char **b)
{
  if (a == NULL || b == NULL)
    {
      assert_true (a == b);
      return;
    }
  assert_int_equal (g_strv_length (a), g_strv_length (b));
  for (guint i = 0; a[i] != NULL; i++)
    assert_string_equal (a[i], b[i]);
}

static void
assert_string_or_null_equal (const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    assert_true (a == b);
  else
    assert_string_equal (a, b);
}

/* The node through its text and a parser, as it crosses the socket. */
static JsonNode *
through_text (JsonNode *node)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *text = json_to_string (node, FALSE);

  assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_copy (json_parser_get_root (parser));
}

static PstStatus *
rich_status (void)
{
  PstStatus *st = pst_status_new ();

  st->scheme = PST_SCHEME_SMIME;
  st->decryption = PST_DECRYPTION_TOO_LARGE;
  st->encryption_covers = PST_COVERS_PART;
  st->integrity = PST_INTEGRITY_MISSING;
  st->sig_status = PST_SIG_REVOKED_KEY;
  st->signer = g_strdup ("J\xc3\xbcrgen <j@example.org>");
  st->fingerprint = g_strdup ("0123456789ABCDEF0123456789ABCDEF01234567");
  st->from_match = TRUE;
  st->sig_covers = PST_COVERS_WHOLE;
  st->protected_headers = TRUE;
  pst_status_add_warning (st, "weak-digest");
  pst_status_add_header_mismatch (st, "From", "mallory@evil.test", "CEO <ceo@bank.test>");
  pst_status_add_header_mismatch (st, "Reply-To", NULL, "x@bank.test");
  pst_status_add_header_mismatch (st, "Cc", "c@example.org", NULL);
  pst_status_add_header_mismatch (st, "To", NULL, NULL);
  pst_status_add_gossip (st, "addr=c@example.org; keydata=AAAA");
  pst_status_add_warning (st, "date-differs");
  return st;
}

static void
assert_status_equal (const PstStatus *a, const PstStatus *b)
{
  assert_int_equal (a->scheme, b->scheme);
  assert_int_equal (a->decryption, b->decryption);
  assert_int_equal (a->encryption_covers, b->encryption_covers);
  assert_int_equal (a->integrity, b->integrity);
  assert_int_equal (a->sig_status, b->sig_status);
  assert_string_or_null_equal (a->signer, b->signer);
  assert_string_or_null_equal (a->fingerprint, b->fingerprint);
  assert_int_equal (a->from_match, b->from_match);
  assert_int_equal (a->sig_covers, b->sig_covers);
  assert_int_equal (a->protected_headers, b->protected_headers);
  assert_int_equal (a->warnings->len, b->warnings->len);
  for (guint i = 0; i < a->warnings->len; i++)
    assert_string_equal (g_ptr_array_index (a->warnings, i), g_ptr_array_index (b->warnings, i));
  assert_int_equal (a->gossip->len, b->gossip->len);
  for (guint i = 0; i < a->gossip->len; i++)
    assert_string_equal (g_ptr_array_index (a->gossip, i), g_ptr_array_index (b->gossip, i));
  assert_int_equal (a->header_mismatches->len, b->header_mismatches->len);
  for (guint i = 0; i < a->header_mismatches->len; i++)
    {
      const PstHeaderMismatch *ma = g_ptr_array_index (a->header_mismatches, i);
      const PstHeaderMismatch *mb = g_ptr_array_index (b->header_mismatches, i);

      assert_string_equal (ma->field, mb->field);
      assert_string_or_null_equal (ma->shown, mb->shown);
      assert_string_or_null_equal (ma->inner, mb->inner);
    }
}

static void
test_status_round_trip (void **state)
{
  g_autoptr (PstStatus) plain = pst_status_new ();
  g_autoptr (PstStatus) rich = rich_status ();
  const PstStatus *statuses[] = { plain, rich };

  for (gsize i = 0; i < G_N_ELEMENTS (statuses); i++)
    {
      g_autoptr (JsonNode) wire = pst_status_to_wire (statuses[i]);
      g_autoptr (JsonNode) again = through_text (wire);
      g_autoptr (GError) error = NULL;
      g_autoptr (PstStatus) back = pst_status_from_wire (again, &error);

      assert_null (error);
      assert_non_null (back);
      assert_status_equal (statuses[i], back);
    }
  {
    /* Every member, the protected values included, in the encoding. */
    g_autoptr (JsonNode) wire = pst_status_to_wire (rich);
    g_autofree char *text = json_to_string (wire, FALSE);

    assert_string_equal (text,
      "{\"scheme\":\"smime\",\"decryption\":\"too-large\",\"encryption_covers\":\"part\","
      "\"integrity\":\"missing\",\"sig_status\":\"revoked-key\","
      "\"signer\":\"J\xc3\xbcrgen <j@example.org>\","
      "\"fingerprint\":\"0123456789ABCDEF0123456789ABCDEF01234567\",\"from_match\":true,"
      "\"sig_covers\":\"whole\",\"protected_headers\":true,"
      "\"warnings\":[\"weak-digest\",\"header-mismatch\",\"date-differs\"],"
      "\"header_mismatches\":["
      "{\"field\":\"From\",\"shown\":\"mallory@evil.test\",\"inner\":\"CEO <ceo@bank.test>\"},"
      "{\"field\":\"Reply-To\",\"shown\":null,\"inner\":\"x@bank.test\"},"
      "{\"field\":\"Cc\",\"shown\":\"c@example.org\",\"inner\":null},"
      "{\"field\":\"To\",\"shown\":null,\"inner\":null}],"
      "\"gossip\":[\"addr=c@example.org; keydata=AAAA\"]}");
  }
}

static void
test_every_enum_value_round_trips (void **state)
{
  for (int v = PST_SIG_NONE; v <= PST_SIG_ERROR; v++)
    for (int c = PST_COVERS_NONE; c <= PST_COVERS_WHOLE; c++)
      {
        g_autoptr (PstStatus) st = pst_status_new ();
        g_autoptr (JsonNode) wire = NULL;
        g_autoptr (PstStatus) back = NULL;

        st->sig_status = v;
        st->sig_covers = c;
        st->encryption_covers = (c + 1) % 3;
        st->scheme = (v + c) % 3;
        st->decryption = (v + c) % 4;
        st->integrity = v % 4;
        wire = pst_status_to_wire (st);
        back = pst_status_from_wire (wire, NULL);
        assert_non_null (back);
        assert_status_equal (st, back);
      }
  for (int i = PST_INTEGRITY_NONE; i <= PST_INTEGRITY_FAILED; i++)
    assert_int_equal (pst_integrity_from_wire (pst_integrity_to_wire (i)), i);
  assert_string_equal (pst_integrity_to_wire (PST_INTEGRITY_NONE), "none");
  assert_string_equal (pst_integrity_to_wire (PST_INTEGRITY_OK), "ok");
  assert_string_equal (pst_integrity_to_wire (PST_INTEGRITY_MISSING), "missing");
  assert_string_equal (pst_integrity_to_wire (PST_INTEGRITY_FAILED), "failed");
  assert_int_equal (pst_integrity_from_wire ("OK"), -1);
  assert_int_equal (pst_integrity_from_wire (""), -1);
  assert_int_equal (pst_integrity_from_wire (NULL), -1);
}

static void
test_pgp_signature_round_trip (void **state)
{
  char *addresses[] = { "alice@example.org", "al\xc3\xaf" "ce@example.org", NULL };
  char *none[] = { NULL };
  PstPgpSignature sigs[] = {
    { PST_SIG_GOOD, "ABCDEF", addresses, 1700000000, FALSE, 1 },
    { PST_SIG_BAD, NULL, none, -5, TRUE, G_MAXUINT },
    { PST_SIG_NONE, NULL, NULL, 0, FALSE, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (sigs); i++)
    {
      g_autoptr (JsonNode) wire = pst_pgp_signature_to_wire (&sigs[i]);
      g_autoptr (JsonNode) again = through_text (wire);
      g_autoptr (GError) error = NULL;
      g_autoptr (PstPgpSignature) back = pst_pgp_signature_from_wire (again, &error);

      assert_null (error);
      assert_non_null (back);
      assert_int_equal (back->status, sigs[i].status);
      assert_string_or_null_equal (back->fingerprint, sigs[i].fingerprint);
      assert_strv_equal (back->addresses, sigs[i].addresses);
      assert_int_equal (back->created, sigs[i].created);
      assert_int_equal (back->weak_digest, sigs[i].weak_digest);
      assert_int_equal (back->count, sigs[i].count);
    }
}

static void
test_smime_signature_round_trip (void **state)
{
  char *addresses[] = { "bob@example.org", NULL };
  PstSmimeSignature sigs[] = {
    { PST_SIG_EXPIRED_KEY, addresses, "00:11:22", 1234567890, TRUE, 2, TRUE },
    { PST_SIG_ERROR, NULL, NULL, 0, FALSE, 0, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (sigs); i++)
    {
      g_autoptr (JsonNode) wire = pst_smime_signature_to_wire (&sigs[i]);
      g_autoptr (JsonNode) again = through_text (wire);
      g_autoptr (GError) error = NULL;
      g_autoptr (PstSmimeSignature) back = pst_smime_signature_from_wire (again, &error);

      assert_null (error);
      assert_non_null (back);
      assert_int_equal (back->status, sigs[i].status);
      assert_strv_equal (back->addresses, sigs[i].addresses);
      assert_string_or_null_equal (back->fingerprint, sigs[i].fingerprint);
      assert_int_equal (back->signing_time, sigs[i].signing_time);
      assert_int_equal (back->weak_digest, sigs[i].weak_digest);
      assert_int_equal (back->signer_count, sigs[i].signer_count);
      assert_int_equal (back->econtent_mismatch, sigs[i].econtent_mismatch);
    }
}

/* A copy of @wire with member @name of its object (or of the first
 * element of its array member @array) set to @value (transfer full), or
 * removed when @value is NULL. */
static JsonNode *
mutate (JsonNode *wire, const char *array, const char *name, JsonNode *value)
{
  JsonNode *copy = through_text (wire);   /* json_node_copy would share the object */
  JsonObject *o = json_node_get_object (copy);

  if (array != NULL)
    o = json_array_get_object_element (json_object_get_array_member (o, array), 0);
  if (value != NULL)
    json_object_set_member (o, name, value);
  else
    json_object_remove_member (o, name);
  return copy;
}

static JsonNode *
string_node (const char *s)
{
  JsonNode *n = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (n, s);
  return n;
}

static JsonNode *
int_node (gint64 v)
{
  JsonNode *n = json_node_new (JSON_NODE_VALUE);

  json_node_set_int (n, v);
  return n;
}

static JsonNode *
string_array_node (guint n_items, const char *item)
{
  JsonArray *a = json_array_new ();

  JsonNode *n = json_node_new (JSON_NODE_ARRAY);

  for (guint i = 0; i < n_items; i++)
    json_array_add_string_element (a, item);
  json_node_take_array (n, a);
  return n;
}

static JsonNode *
empty_object_node (void)
{
  JsonNode *n = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (n, json_object_new ());
  return n;
}

typedef enum { KIND_STATUS, KIND_PGP, KIND_SMIME } Kind;

static void
assert_rejected (Kind kind, JsonNode *node, const char *why)
{
  g_autoptr (GError) error = NULL;
  gpointer result = NULL;

  switch (kind)
    {
    case KIND_STATUS: result = pst_status_from_wire (node, &error); break;
    case KIND_PGP: result = pst_pgp_signature_from_wire (node, &error); break;
    case KIND_SMIME: result = pst_smime_signature_from_wire (node, &error); break;
    }
  assert_null (result);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  if (strstr (error->message, why) == NULL)
    fail_msg ("\"%s\" does not say \"%s\"", error->message, why);
}

static void
test_strict_rejections (void **state)
{
  g_autoptr (PstStatus) rich = rich_status ();
  g_autoptr (JsonNode) status = pst_status_to_wire (rich);
  char *addresses[] = { "a@example.org", NULL };
  PstPgpSignature pgp_sig = { PST_SIG_GOOD, "AB", addresses, 1, FALSE, 1 };
  PstSmimeSignature smime_sig = { PST_SIG_GOOD, addresses, "CD", 1, FALSE, 1, FALSE };
  g_autoptr (JsonNode) pgp = pst_pgp_signature_to_wire (&pgp_sig);
  g_autoptr (JsonNode) smime = pst_smime_signature_to_wire (&smime_sig);
  g_autofree char *too_long = g_strnfill (PST_WIRE_MAX_STRING + 1, 'a');
  g_autofree char *longest = g_strnfill (PST_WIRE_MAX_STRING, 'a');
  struct {
    Kind kind;
    JsonNode *base;
    const char *array;
    const char *name;
    JsonNode *value;
    const char *why;
  } cases[] = {
    /* Unknown enum words, and the words of another enum. */
    { KIND_STATUS, status, NULL, "sig_status", string_node ("excellent"), "'sig_status' is not a known word" },
    { KIND_STATUS, status, NULL, "sig_status", string_node ("GOOD"), "'sig_status' is not a known word" },
    { KIND_STATUS, status, NULL, "scheme", string_node ("openpgp"), "'scheme' is not a known word" },
    { KIND_STATUS, status, NULL, "decryption", string_node ("none"), "'decryption' is not a known word" },
    { KIND_STATUS, status, NULL, "integrity", string_node ("whole"), "'integrity' is not a known word" },
    { KIND_STATUS, status, NULL, "encryption_covers", string_node ("ok"), "'encryption_covers' is not a known word" },
    { KIND_STATUS, status, NULL, "sig_covers", string_node (""), "'sig_covers' is not a known word" },
    { KIND_PGP, pgp, NULL, "status", string_node ("fine"), "'status' is not a known word" },
    { KIND_SMIME, smime, NULL, "status", string_node ("fine"), "'status' is not a known word" },
    /* Strings too long. */
    { KIND_STATUS, status, NULL, "signer", string_node (too_long), "'signer' is longer than 65536 bytes" },
    { KIND_STATUS, status, "header_mismatches", "inner", string_node (too_long), "'inner' is longer" },
    { KIND_PGP, pgp, NULL, "fingerprint", string_node (too_long), "'fingerprint' is longer" },
    { KIND_SMIME, smime, NULL, "addresses", string_array_node (1, too_long), "'addresses[0]' is longer" },
    /* Arrays too long. */
    { KIND_STATUS, status, NULL, "warnings", string_array_node (PST_WIRE_MAX_ITEMS + 1, "w"), "'warnings' has more than 1024 items" },
    { KIND_PGP, pgp, NULL, "addresses", string_array_node (PST_WIRE_MAX_ITEMS + 1, "a@b"), "'addresses' has more than 1024 items" },
    /* Wrong types. */
    { KIND_STATUS, status, NULL, "from_match", string_node ("true"), "'from_match' must be true or false" },
    { KIND_STATUS, status, NULL, "from_match", int_node (1), "'from_match' must be true or false" },
    { KIND_STATUS, status, NULL, "sig_status", int_node (1), "'sig_status' must be a string" },
    { KIND_STATUS, status, NULL, "sig_status", json_node_new (JSON_NODE_NULL), "'sig_status' must be a string" },
    { KIND_STATUS, status, NULL, "signer", int_node (0), "'signer' must be a string or null" },
    { KIND_STATUS, status, NULL, "warnings", string_node ("weak-digest"), "'warnings' must be an array" },
    { KIND_STATUS, status, NULL, "warnings", string_array_node (0, NULL), NULL },
    { KIND_STATUS, status, NULL, "header_mismatches", json_node_new (JSON_NODE_NULL), "'header_mismatches' must be an array" },
    { KIND_STATUS, status, "header_mismatches", "field", json_node_new (JSON_NODE_NULL), "header_mismatches[0]: member 'field' must be a string" },
    { KIND_PGP, pgp, NULL, "created", string_node ("1"), "'created' must be an integer" },
    { KIND_PGP, pgp, NULL, "count", int_node (-1), "'count' must be an integer from 0" },
    { KIND_PGP, pgp, NULL, "count", int_node ((gint64) G_MAXUINT + 1), "'count' must be an integer" },
    { KIND_SMIME, smime, NULL, "signer_count", json_node_init_double (json_node_alloc (), 1.0), "'signer_count' must be an integer" },
    { KIND_SMIME, smime, NULL, "econtent_mismatch", json_node_new (JSON_NODE_NULL), "'econtent_mismatch' must be true or false" },
    { KIND_SMIME, smime, NULL, "addresses", empty_object_node (), "'addresses' must be an array or null" },
    /* Missing members. */
    { KIND_STATUS, status, NULL, "warnings", NULL, "member 'warnings' is missing" },
    { KIND_STATUS, status, NULL, "fingerprint", NULL, "member 'fingerprint' is missing" },
    { KIND_STATUS, status, "header_mismatches", "shown", NULL, "member 'shown' is missing" },
    { KIND_PGP, pgp, NULL, "count", NULL, "member 'count' is missing" },
    { KIND_SMIME, smime, NULL, "econtent_mismatch", NULL, "member 'econtent_mismatch' is missing" },
    /* Not UTF-8. */
    { KIND_STATUS, status, NULL, "fingerprint", string_node ("AB\xff"), "'fingerprint' is not UTF-8" },
    { KIND_STATUS, status, NULL, "warnings", string_array_node (2, "\xc3("), "'warnings[0]' is not UTF-8" },
    { KIND_STATUS, status, "header_mismatches", "shown", string_node ("\xed\xa0\x80"), "'shown' is not UTF-8" },
    { KIND_PGP, pgp, NULL, "addresses", string_array_node (1, "a@\xfe"), "'addresses[0]' is not UTF-8" },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (JsonNode) node = mutate (cases[c].base, cases[c].array, cases[c].name,
                                          cases[c].value);

      if (cases[c].why == NULL)
        {
          /* A control: an empty warnings array is fine. */
          g_autoptr (PstStatus) back = pst_status_from_wire (node, NULL);

          assert_non_null (back);
          continue;
        }
      assert_rejected (cases[c].kind, node, cases[c].why);
    }

  /* Not objects at all. */
  {
    g_autoptr (JsonNode) array = string_array_node (1, "x");
    g_autoptr (JsonNode) str = string_node ("x");

    assert_rejected (KIND_STATUS, array, "verdict is not a JSON object");
    assert_rejected (KIND_PGP, str, "signature is not a JSON object");
    assert_rejected (KIND_SMIME, NULL, "signature is not a JSON object");
  }
  /* At the limits is fine; unknown members are ignored. */
  {
    g_autoptr (JsonNode) node = mutate (status, NULL, "signer", string_node (longest));
    g_autoptr (JsonNode) with_extra = mutate (node, NULL, "future", string_node ("x"));
    g_autoptr (PstStatus) back = pst_status_from_wire (with_extra, NULL);

    assert_non_null (back);
    assert_int_equal (strlen (back->signer), PST_WIRE_MAX_STRING);
  }
  {
    g_autoptr (JsonNode) node = mutate (pgp, NULL, "addresses",
                                        string_array_node (PST_WIRE_MAX_ITEMS, "a@b"));
    g_autoptr (PstPgpSignature) back = pst_pgp_signature_from_wire (node, NULL);

    assert_non_null (back);
    assert_int_equal (g_strv_length (back->addresses), PST_WIRE_MAX_ITEMS);
  }
}

static void
test_error_round_trip (void **state)
{
  struct {
    GQuark domain;
    int code;
    GQuark want_domain;
    int want_code;
    const char *domain_word;
  } cases[] = {
    { PST_ERROR, PST_ERROR_POLICY, PST_ERROR, PST_ERROR_POLICY, "pst" },
    { PST_ERROR, PST_ERROR_CRYPTO, PST_ERROR, PST_ERROR_CRYPTO, "pst" },
    { PST_ERROR, PST_ERROR_FAILED, PST_ERROR, PST_ERROR_FAILED, "pst" },
    { PST_ERROR, PST_ERROR_INFECTED, PST_ERROR, PST_ERROR_INFECTED, "pst" },
    { PST_ERROR, 99, PST_ERROR, PST_ERROR_FAILED, "pst" },
    { G_IO_ERROR, G_IO_ERROR_TIMED_OUT, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "io" },
    { G_IO_ERROR, G_IO_ERROR_FAILED, G_IO_ERROR, G_IO_ERROR_FAILED, "io" },
    { G_IO_ERROR, 100000, PST_ERROR, PST_ERROR_FAILED, "io" },
    { G_FILE_ERROR, G_FILE_ERROR_NOENT, PST_ERROR, PST_ERROR_FAILED, "other" },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GError) error = g_error_new (cases[c].domain, cases[c].code, "case %zu: \xc3\xa4", c);
      g_autoptr (JsonNode) wire = pst_error_to_wire (error);
      g_autoptr (JsonNode) again = through_text (wire);
      g_autoptr (GError) back = pst_error_from_wire (again);

      assert_string_equal (json_object_get_string_member (json_node_get_object (wire), "domain"),
                           cases[c].domain_word);
      assert_true (g_error_matches (back, cases[c].want_domain, cases[c].want_code));
      assert_string_equal (back->message, error->message);
    }
  {
    /* A message that is not UTF-8 or too long still travels, mended. */
    g_autofree char *long_message = g_strnfill (PST_WIRE_MAX_STRING + 10, 'm');
    g_autoptr (GError) bad = g_error_new_literal (PST_ERROR, PST_ERROR_CRYPTO, "bad \xff byte");
    g_autoptr (GError) big = g_error_new_literal (PST_ERROR, PST_ERROR_CRYPTO, long_message);
    g_autoptr (JsonNode) bad_wire = pst_error_to_wire (bad);
    g_autoptr (JsonNode) big_wire = pst_error_to_wire (big);
    g_autoptr (GError) bad_back = pst_error_from_wire (bad_wire);
    g_autoptr (GError) big_back = pst_error_from_wire (big_wire);

    assert_true (g_error_matches (bad_back, PST_ERROR, PST_ERROR_CRYPTO));
    assert_true (g_utf8_validate (bad_back->message, -1, NULL));
    assert_true (g_error_matches (big_back, PST_ERROR, PST_ERROR_CRYPTO));
    assert_int_equal (strlen (big_back->message), PST_WIRE_MAX_STRING);
  }
  {
    /* Anything malformed is a plain failure, never NULL. */
    const char *malformed[] = {
      "{\"domain\":\"pst\",\"code\":3}",
      "{\"domain\":\"pst\",\"code\":\"3\",\"message\":\"m\"}",
      "{\"domain\":\"gpg\",\"code\":3,\"message\":\"m\"}",
      "{\"domain\":\"pst\",\"code\":99999999999,\"message\":\"m\"}",
      "[1]",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (malformed); i++)
      {
        g_autoptr (JsonParser) parser = json_parser_new ();
        g_autoptr (GError) back = NULL;

        assert_true (json_parser_load_from_data (parser, malformed[i], -1, NULL));
        back = pst_error_from_wire (json_parser_get_root (parser));
        assert_true (g_error_matches (back, PST_ERROR, PST_ERROR_FAILED));
        assert_non_null (strstr (back->message, "worker"));
      }
    {
      g_autoptr (GError) back = pst_error_from_wire (NULL);

      assert_true (g_error_matches (back, PST_ERROR, PST_ERROR_FAILED));
    }
  }
}

/* A verdict travels in a frame, over a socket, and comes out the same. */
static void
test_status_in_a_frame (void **state)
{
  g_autoptr (PstStatus) rich = rich_status ();
  g_autoptr (JsonObject) obj = json_object_new ();
  g_autoptr (JsonObject) got = NULL;
  g_autoptr (GBytes) blob = NULL;
  g_autoptr (PstStatus) back = NULL;
  g_autoptr (GError) error = NULL;
  int sv[2];

  json_object_set_member (obj, "status", pst_status_to_wire (rich));
  socket_pair (sv);
  assert_true (pst_worker_frame_write (sv[1], obj, NULL, &error));
  assert_true (pst_worker_frame_read (sv[0], 0, 0, &got, &blob, &error));
  back = pst_status_from_wire (json_object_get_member (got, "status"), &error);
  assert_non_null (back);
  assert_status_equal (rich, back);
  close (sv[0]);
  close (sv[1]);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip_whole_and_bytewise),
    cmocka_unit_test (test_frame_without_blob),
    cmocka_unit_test (test_two_frames_in_one_feed),
    cmocka_unit_test (test_bad_frames),
    cmocka_unit_test (test_big_announcement_small_cost),
    cmocka_unit_test (test_read_write_socketpair),
    cmocka_unit_test (test_write_stream),
    cmocka_unit_test (test_split),
    cmocka_unit_test (test_split_deadline),
    cmocka_unit_test (test_read_over_pipe_and_limit),
    cmocka_unit_test (test_read_deadline),
    cmocka_unit_test (test_write_deadline),
    cmocka_unit_test (test_read_peer_closes),
    cmocka_unit_test (test_read_bad_frame_from_peer),
    cmocka_unit_test (test_write_to_closed_peer),
    cmocka_unit_test (test_write_refuses_long_json),
    cmocka_unit_test (test_status_round_trip),
    cmocka_unit_test (test_every_enum_value_round_trips),
    cmocka_unit_test (test_pgp_signature_round_trip),
    cmocka_unit_test (test_smime_signature_round_trip),
    cmocka_unit_test (test_strict_rejections),
    cmocka_unit_test (test_error_round_trip),
    cmocka_unit_test (test_status_in_a_frame),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
