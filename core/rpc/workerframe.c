#include "rpc/workerframe.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/frame.h"
#include "util/error.h"

#define MAGIC "PSTW"

typedef enum {
  STATE_HEAD,
  STATE_JSON,
  STATE_BLOB,
  STATE_TAIL,
  STATE_DONE,
  STATE_FAILED,
} State;

/* A buffer that grows with what arrives, never to more than @want: the
 * length a peer announces is only a promise. */
typedef struct {
  guint8 *data;
  gsize len;
  gsize cap;
  gsize want;
} Buf;

struct _PstWorkerDecoder {
  guint64 max_blob;
  State state;
  guint8 head[PST_WORKER_FRAME_HEAD];
  gsize head_len;
  Buf json;
  Buf blob;
  JsonObject *obj;   /* the complete frame's object, from STATE_BLOB on */
  /* pst_worker_decoder_set_split's: the blob's last tail_want bytes go to
   * @tail, not into @blob. */
  PstWorkerFrameSplit split;
  PstWorkerFrameTail tail;
  gpointer split_data;
  guint64 tail_want, tail_have;
};

static void
buf_clear (Buf *b)
{
  g_free (b->data);
  memset (b, 0, sizeof *b);
}

/* Appends what @b still wants of @data[0..@len); returns how many bytes it
 * took. */
static gsize
buf_take (Buf *b, const guint8 *data, gsize len)
{
  gsize n = MIN (len, b->want - b->len);

  if (n == 0)
    return 0;
  if (b->len + n > b->cap)
    {
      gsize cap = MAX (b->cap, 4096);

      while (cap < b->len + n)
        cap = cap > G_MAXSIZE / 2 ? G_MAXSIZE : cap * 2;
      b->cap = MIN (cap, b->want);
      b->data = g_realloc (b->data, b->cap);
    }
  memcpy (b->data + b->len, data, n);
  b->len += n;
  return n;
}

PstWorkerDecoder *
pst_worker_decoder_new (guint64 max_blob)
{
  PstWorkerDecoder *d = g_new0 (PstWorkerDecoder, 1);

  d->max_blob = max_blob;
  d->state = STATE_HEAD;
  return d;
}

static void
decoder_reset (PstWorkerDecoder *d)
{
  buf_clear (&d->json);
  buf_clear (&d->blob);
  g_clear_pointer (&d->obj, json_object_unref);
  d->head_len = 0;
  d->tail_want = d->tail_have = 0;
  d->state = STATE_HEAD;
}

void
pst_worker_decoder_set_split (PstWorkerDecoder *d, PstWorkerFrameSplit split,
                              PstWorkerFrameTail tail, gpointer data)
{
  d->split = split;
  d->tail = tail;
  d->split_data = data;
}

void
pst_worker_decoder_free (PstWorkerDecoder *d)
{
  if (d == NULL)
    return;
  decoder_reset (d);
  g_free (d);
}

static gboolean
decoder_fail (PstWorkerDecoder *d, GError **error, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
decoder_fail (PstWorkerDecoder *d, GError **error, const char *format, ...)
{
  va_list ap;
  g_autofree char *message = NULL;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "bad worker frame: %s", message);
  decoder_reset (d);
  d->state = STATE_FAILED;
  return FALSE;
}

static gboolean
parse_head (PstWorkerDecoder *d, GError **error)
{
  guint32 json_len;
  guint64 blob_len;

  if (memcmp (d->head, MAGIC, 4) != 0)
    return decoder_fail (d, error, "it does not start with \"" MAGIC "\"");
  memcpy (&json_len, d->head + 4, sizeof json_len);
  memcpy (&blob_len, d->head + 8, sizeof blob_len);
  json_len = GUINT32_FROM_BE (json_len);
  blob_len = GUINT64_FROM_BE (blob_len);
  if (json_len == 0)
    return decoder_fail (d, error, "its JSON is empty");
  if (json_len > PST_WORKER_FRAME_MAX_JSON)
    return decoder_fail (d, error, "its JSON is %" G_GUINT32_FORMAT " bytes, more than %d",
                         json_len, PST_WORKER_FRAME_MAX_JSON);
  if (blob_len > d->max_blob || blob_len > G_MAXSIZE)
    return decoder_fail (d, error,
                         "its blob is %" G_GUINT64_FORMAT " bytes, more than %" G_GUINT64_FORMAT,
                         blob_len, MIN (d->max_blob, (guint64) G_MAXSIZE));
  d->json.want = json_len;
  d->blob.want = (gsize) blob_len;
  d->state = STATE_JSON;
  return TRUE;
}

static gboolean
parse_json (PstWorkerDecoder *d, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  JsonNode *root;

  /* The parser reads a C string: a NUL would hide what follows it from the
   * nesting count and from json-glib alike. */
  if (memchr (d->json.data, '\0', d->json.len) != NULL)
    return decoder_fail (d, error, "its JSON holds a NUL byte");
  if (!g_utf8_validate ((const char *) d->json.data, (gssize) d->json.len, NULL))
    return decoder_fail (d, error, "its JSON is not UTF-8");
  text = g_strndup ((const char *) d->json.data, d->json.len);
  buf_clear (&d->json);
  if (!pst_rpc_parse_line (parser, text, &local))
    {
      const char *why = local->message;

      if (g_str_has_prefix (why, "malformed line: "))
        why += strlen ("malformed line: ");
      return decoder_fail (d, error, "its JSON is malformed: %s", why);
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return decoder_fail (d, error, "its JSON is not an object");
  d->obj = json_object_ref (json_node_get_object (root));
  if (d->split != NULL && d->blob.want > 0)
    {
      guint64 keep = d->split (d->obj, d->blob.want, d->split_data);

      keep = MIN (keep, (guint64) d->blob.want);
      d->tail_want = d->blob.want - keep;
      d->blob.want = (gsize) keep;
    }
  d->state = d->blob.want > 0 ? STATE_BLOB : d->tail_want > 0 ? STATE_TAIL : STATE_DONE;
  return TRUE;
}

gssize
pst_worker_decoder_feed (PstWorkerDecoder *d, const guint8 *data, gsize len, GError **error)
{
  gsize used = 0;

  if (d->state == STATE_FAILED)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "bad worker frame: the decoder already failed on an earlier one");
      return -1;
    }
  while (used < len && d->state != STATE_DONE)
    {
      switch (d->state)
        {
        case STATE_HEAD:
          {
            gsize n = MIN (len - used, PST_WORKER_FRAME_HEAD - d->head_len);

            memcpy (d->head + d->head_len, data + used, n);
            d->head_len += n;
            used += n;
            if (d->head_len == PST_WORKER_FRAME_HEAD && !parse_head (d, error))
              return -1;
          }
          break;
        case STATE_JSON:
          used += buf_take (&d->json, data + used, len - used);
          if (d->json.len == d->json.want && !parse_json (d, error))
            return -1;
          break;
        case STATE_BLOB:
          used += buf_take (&d->blob, data + used, len - used);
          if (d->blob.len == d->blob.want)
            d->state = d->tail_want > 0 ? STATE_TAIL : STATE_DONE;
          break;
        case STATE_TAIL:
          {
            gsize n = (gsize) MIN ((guint64) (len - used), d->tail_want - d->tail_have);

            d->tail (data + used, n, d->split_data);
            d->tail_have += n;
            used += n;
            if (d->tail_have == d->tail_want)
              d->state = STATE_DONE;
          }
          break;
        case STATE_DONE:
        case STATE_FAILED:
          g_assert_not_reached ();
        }
    }
  return (gssize) used;
}

gboolean
pst_worker_decoder_done (PstWorkerDecoder *d)
{
  return d->state == STATE_DONE;
}

gboolean
pst_worker_decoder_take (PstWorkerDecoder *d, JsonObject **obj_out, GBytes **blob_out)
{
  GBytes *blob;

  if (d->state != STATE_DONE)
    return FALSE;
  blob = g_bytes_new_take (g_steal_pointer (&d->blob.data), d->blob.len);
  if (obj_out != NULL)
    *obj_out = g_steal_pointer (&d->obj);
  if (blob_out != NULL)
    *blob_out = blob;
  else
    g_bytes_unref (blob);
  decoder_reset (d);
  return TRUE;
}

/* How many bytes the frame being decoded still needs: the most a reader
 * may take from the descriptor without eating into the next frame. */
static gsize
decoder_wants (PstWorkerDecoder *d)
{
  switch (d->state)
    {
    case STATE_HEAD: return PST_WORKER_FRAME_HEAD - d->head_len;
    case STATE_JSON: return d->json.want - d->json.len;
    case STATE_BLOB: return d->blob.want - d->blob.len;
    case STATE_TAIL: return (gsize) MIN (d->tail_want - d->tail_have, (guint64) G_MAXSIZE);
    case STATE_DONE:
    case STATE_FAILED: break;
    }
  return 0;
}

static gboolean
decoder_started (PstWorkerDecoder *d)
{
  return d->state != STATE_HEAD || d->head_len > 0;
}

/* The frame's JSON text; transfer full. */
static char *
encode_json (JsonObject *obj, gsize *len_out)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), obj);
  char *text = json_to_string (node, FALSE);

  *len_out = strlen (text);
  return text;
}

GBytes *
pst_worker_frame_encode (JsonObject *obj, guint64 blob_len)
{
  gsize json_len;
  g_autofree char *text = encode_json (obj, &json_len);
  guint8 *frame = g_malloc (PST_WORKER_FRAME_HEAD + json_len);
  guint32 json_be = GUINT32_TO_BE ((guint32) MIN (json_len, G_MAXUINT32));
  guint64 blob_be = GUINT64_TO_BE (blob_len);

  memcpy (frame, MAGIC, 4);
  memcpy (frame + 4, &json_be, sizeof json_be);
  memcpy (frame + 8, &blob_be, sizeof blob_be);
  memcpy (frame + PST_WORKER_FRAME_HEAD, text, json_len);
  return g_bytes_new_take (frame, PST_WORKER_FRAME_HEAD + json_len);
}

/* Waits until @fd is ready for @events or @deadline (0: none) passes. */
static gboolean
wait_fd (int fd, short events, gint64 deadline, GError **error)
{
  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = events };
      int timeout_ms = -1;
      int rc;

      if (deadline > 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();

          if (left <= 0)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           (events & POLLOUT) ? "the worker took no whole frame before the deadline" : "no whole frame from the worker before the deadline");
              return FALSE;
            }
          /* Rounded up: a poll that wakes a little early would spin. */
          timeout_ms = (int) MIN ((left + 999) / 1000, G_MAXINT);
        }
      rc = poll (&p, 1, timeout_ms);
      if (rc > 0)
        return TRUE;   /* POLLHUP and POLLERR too: the read or write says what */
      if (rc < 0 && errno != EINTR)
        {
          int e = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                       "waiting for the worker's socket failed: %s", g_strerror (e));
          return FALSE;
        }
    }
}

gboolean
pst_worker_frame_read (int fd, guint64 max_blob, gint64 deadline, JsonObject **obj_out,
                       GBytes **blob_out, GError **error)
{
  return pst_worker_frame_read_split (fd, max_blob, deadline, NULL, NULL, NULL, NULL, obj_out,
                                      blob_out, error);
}

gboolean
pst_worker_frame_read_split (int fd, guint64 max_blob, gint64 deadline, PstWorkerFrameSplit split,
                             PstWorkerFrameTail tail, gpointer data, gint64 *took_out,
                             JsonObject **obj_out, GBytes **blob_out, GError **error)
{
  g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (max_blob);
  guint8 chunk[65536];

  if (took_out != NULL)
    *took_out = 0;
  pst_worker_decoder_set_split (d, split, tail, data);
  while (!pst_worker_decoder_done (d))
    {
      gsize want = MIN (decoder_wants (d), sizeof chunk);
      gssize n;

      if (!wait_fd (fd, POLLIN, deadline, error))
        return FALSE;
      n = read (fd, chunk, want);
      if (n < 0)
        {
          int e = errno;

          if (e == EINTR || e == EAGAIN || e == EWOULDBLOCK)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                       "reading from the worker failed: %s", g_strerror (e));
          return FALSE;
        }
      if (n == 0)
        {
          if (decoder_started (d))
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         "the worker closed the connection in the middle of a frame");
          else
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         "the worker closed the connection");
          return FALSE;
        }
      if (split == NULL)
        {
          if (pst_worker_decoder_feed (d, chunk, (gsize) n, error) < 0)
            return FALSE;
        }
      else
        {
          /* The split and the tail run in the feed. */
          gint64 t0 = g_get_monotonic_time ();
          gssize used = pst_worker_decoder_feed (d, chunk, (gsize) n, error);
          gint64 took = g_get_monotonic_time () - t0;

          if (deadline > 0)
            deadline += took;
          if (took_out != NULL)
            *took_out += took;
          if (used < 0)
            return FALSE;
        }
    }
  return pst_worker_decoder_take (d, obj_out, blob_out);
}

/* write(2) on a descriptor that is not a socket, with SIGPIPE held back so
 * that a reader gone is EPIPE, as send() with MSG_NOSIGNAL makes it.
 * A pipe's SIGPIPE goes to the writing thread: blocked here, it is taken
 * off again unless one was already pending before. */
static gssize
write_nosignal (int fd, const guint8 *data, gsize len)
{
  sigset_t pipe_set, old_set, pending;
  gboolean was_pending;
  gssize n;
  int e;

  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old_set);
  sigpending (&pending);
  was_pending = sigismember (&pending, SIGPIPE);
  n = write (fd, data, len);
  e = errno;
  if (n < 0 && e == EPIPE && !was_pending)
    {
      const struct timespec zero = { 0, 0 };

      while (sigtimedwait (&pipe_set, NULL, &zero) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &old_set, NULL);
  errno = e;
  return n;
}

/* What a streamed blob is read and written in. */
#define STREAM_PIECE ((guint64) 256 * 1024)

static gboolean
write_all (int fd, const guint8 *data, gsize len, gint64 deadline, gboolean *not_socket,
           GError **error)
{
  while (len > 0)
    {
      gsize piece = MIN (len, (gsize) G_MAXSSIZE);
      gssize n;

      if (*not_socket)
        n = write_nosignal (fd, data, piece);
      else
        {
          /* With a deadline a full socket must not block: its peer may
           * be writing too, instead of reading. */
          n = send (fd, data, piece, MSG_NOSIGNAL | (deadline > 0 ? MSG_DONTWAIT : 0));
          if (n < 0 && errno == ENOTSOCK)
            {
              *not_socket = TRUE;
              continue;
            }
        }
      if (n < 0)
        {
          int e = errno;

          if (e == EINTR)
            continue;
          if (e == EAGAIN || e == EWOULDBLOCK)
            {
              if (!wait_fd (fd, POLLOUT, deadline, error))
                return FALSE;
              continue;
            }
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                       "writing a frame to the worker's socket failed: %s", g_strerror (e));
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

gboolean
pst_worker_frame_write (int fd, JsonObject *obj, GBytes *blob, GError **error)
{
  return pst_worker_frame_write_until (fd, obj, blob, 0, error);
}

/* A frame's head and JSON, for a blob of @blob_len bytes to follow. */
static gboolean
write_head (int fd, JsonObject *obj, gsize blob_len, gint64 deadline, gboolean *not_socket,
            GError **error)
{
  g_autoptr (GBytes) head = pst_worker_frame_encode (obj, blob_len);
  gsize head_len;
  const guint8 *head_data = g_bytes_get_data (head, &head_len);

  /* Checked here, not left to the reader: a frame it must refuse would
   * only break the connection at the other end. */
  if (head_len - PST_WORKER_FRAME_HEAD > PST_WORKER_FRAME_MAX_JSON)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "a worker frame's JSON would be %" G_GSIZE_FORMAT " bytes, more than %d",
                   head_len - PST_WORKER_FRAME_HEAD, PST_WORKER_FRAME_MAX_JSON);
      return FALSE;
    }
  return write_all (fd, head_data, head_len, deadline, not_socket, error);
}

gboolean
pst_worker_frame_write_until (int fd, JsonObject *obj, GBytes *blob, gint64 deadline,
                              GError **error)
{
  gsize blob_len = blob != NULL ? g_bytes_get_size (blob) : 0;
  gboolean not_socket = FALSE;

  if (!write_head (fd, obj, blob_len, deadline, &not_socket, error))
    return FALSE;
  if (blob_len > 0
      && !write_all (fd, g_bytes_get_data (blob, NULL), blob_len, deadline, &not_socket, error))
    return FALSE;
  return TRUE;
}

gboolean
pst_worker_frame_write_stream_until (int fd, JsonObject *obj, GInputStream *in, guint64 blob_len,
                                     gint64 deadline, gint64 *reading_out, GError **error)
{
  g_autofree guint8 *buf = g_malloc (STREAM_PIECE);
  gboolean not_socket = FALSE;
  guint64 left = blob_len;
  gint64 reading = 0;
  gssize n;

  if (reading_out != NULL)
    *reading_out = 0;
  if (!write_head (fd, obj, (gsize) blob_len, deadline, &not_socket, error))
    return FALSE;
  while (left > 0)
    {
      gint64 t0 = g_get_monotonic_time (), took;

      n = g_input_stream_read (in, buf, (gsize) MIN (left, STREAM_PIECE), NULL, error);
      /* The time the stream took is not the peer's. */
      took = g_get_monotonic_time () - t0;
      reading += took;
      if (deadline > 0)
        deadline += took;
      if (reading_out != NULL)
        *reading_out = reading;
      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "a worker frame's blob ended %" G_GUINT64_FORMAT " bytes short of the %"
                       G_GUINT64_FORMAT " its head says", left, blob_len);
          return FALSE;
        }
      if (!write_all (fd, buf, (gsize) n, deadline, &not_socket, error))
        return FALSE;
      left -= (guint64) n;
    }
  /* Nothing more may follow: the frame would say less than there is. */
  if ((n = g_input_stream_read (in, buf, 1, NULL, error)) != 0)
    {
      if (n > 0)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     "a worker frame's blob is longer than the %" G_GUINT64_FORMAT " bytes its head "
                     "says", blob_len);
      return FALSE;
    }
  return TRUE;
}
