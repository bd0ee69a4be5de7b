#include "clientfd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "util/error.h"

/* Process-wide by nature: stopping (SIGTERM, agent.stop) ends every wait
 * at once.  The stop cancellable's descriptor, set once before threads
 * start (GCancellable makes it readable when cancelled). */
static int cancel_fd = -1;
static GCancellable *cancel;
static guint stall_timeout_s = PST_CLIENT_FD_STALL_TIMEOUT_S;

/* What a descriptor is, for how it is waited on and read or written. */
typedef enum {
  FD_WAITS,     /* a pipe, FIFO, terminal, ...: polled before each call */
  FD_SOCKET,    /* the same, with recv and send (MSG_DONTWAIT: one call non-blocking) */
  FD_FILE,      /* a regular file or block device: always ready (poll says so at once), so
                 * not polled; the agent's stop is still seen before each call */
} FdKind;

static FdKind
fd_kind (int fd)
{
  struct stat st;

  if (fstat (fd, &st) != 0)
    return FD_WAITS;   /* the call that follows reports it */
  if (S_ISREG (st.st_mode) || S_ISBLK (st.st_mode))
    return FD_FILE;
  return S_ISSOCK (st.st_mode) ? FD_SOCKET : FD_WAITS;
}

guint
pst_client_timeout_override (void)
{
  const char *env = g_getenv ("POSTERN_CLIENT_TIMEOUT");
  guint64 v = 0;

  if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, 24 * 3600, &v, NULL))
    return (guint) v;
  return 0;
}

void
pst_client_fd_init (guint timeout_s, GCancellable *stop)
{
  if (timeout_s == 0)
    timeout_s = pst_client_timeout_override ();
  if (timeout_s > 0)
    stall_timeout_s = timeout_s;
  cancel_fd = stop != NULL ? g_cancellable_get_fd (stop) : -1;
  cancel = stop;
}

gboolean
pst_client_fds_admit (GArray *fds, GError **error)
{
  g_autofree struct stat *st = g_new0 (struct stat, MAX (fds->len, 1));
  g_autofree gboolean *fifo = g_new0 (gboolean, MAX (fds->len, 1));

  for (guint i = 0; i < fds->len; i++)
    {
      int fd = g_array_index (fds, int, i), flags;

      fifo[i] = fstat (fd, &st[i]) == 0 && S_ISFIFO (st[i].st_mode);
      if (!fifo[i])
        continue;
      flags = fcntl (fd, F_GETFL);
      if (flags >= 0 && (flags & O_ACCMODE) == O_RDWR)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       _("descriptor %u is a pipe opened for reading and writing: the agent "
                         "would hold the end it waits for; pass one end only"), i);
          return FALSE;
        }
      for (guint j = 0; j < i; j++)
        if (fifo[j] && st[j].st_dev == st[i].st_dev && st[j].st_ino == st[i].st_ino)
          {
            g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                         _("descriptors %u and %u are the same pipe: the agent would hold the "
                           "write end of what it reads, and the input would never end; pass "
                           "each pipe once"), j, i);
            return FALSE;
          }
    }
  /* A pipe's blocking read can outlive any poll: whoever else holds the
   * read end may drain what poll saw.  An open file description of our own
   * (a pipe opened again through /proc) can be non-blocking without
   * touching the client's.  When that fails (a write end nobody reads
   * yet), the original stays: poll still bounds the wait before each call. */
  for (guint i = 0; i < fds->len; i++)
    {
      int fd = g_array_index (fds, int, i), flags, fresh;
      char path[64];

      if (!fifo[i] || (flags = fcntl (fd, F_GETFL)) < 0)
        continue;
      g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
      fresh = open (path, (flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
      if (fresh < 0)
        continue;
      close (fd);
      g_array_index (fds, int, i) = fresh;
    }
  return TRUE;
}

static gboolean
stopping (GError **error)
{
  g_set_error_literal (error, PST_ERROR, PST_ERROR_AGENT, _("the agent is stopping"));
  return FALSE;
}

/* Waits until @fd (of @kind) is ready for @events, at most until @deadline
 * (monotonic µs).  Errors: the stall timeout passed, or the agent is
 * stopping. */
static gboolean
wait_for (int fd, FdKind kind, short events, gint64 deadline, GError **error)
{
  if (kind == FD_FILE && g_cancellable_is_cancelled (cancel))
    return stopping (error);
  if (kind == FD_FILE && g_get_monotonic_time () < deadline)
    return TRUE;
  for (;;)
    {
      struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = cancel_fd, .events = POLLIN } };
      gint64 left = deadline - g_get_monotonic_time ();
      int n;

      if (left <= 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       events == POLLIN
                         ? _("the input made no progress for %u seconds; the request was given up")
                         : _("the output was not taken for %u seconds; the request was given up"),
                       stall_timeout_s);
          return FALSE;
        }
      n = poll (p, cancel_fd >= 0 ? 2 : 1, (int) MIN ((left + 999) / 1000, G_MAXINT));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "poll: %s", g_strerror (errno));
          return FALSE;
        }
      if (cancel_fd >= 0 && (p[1].revents & POLLIN))
        return stopping (error);
      /* Errors and hang-ups are for the read or write to report. */
      if (p[0].revents != 0)
        return TRUE;
    }
}

static gssize
read_some (int fd, FdKind kind, void *buf, gsize size, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) stall_timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      gssize n;

      if (!wait_for (fd, kind, POLLIN, deadline, error))
        return -1;
      /* Sockets cannot be opened again: MSG_DONTWAIT makes this one call
       * non-blocking instead. */
      n = kind == FD_SOCKET ? recv (fd, buf, size, MSG_DONTWAIT) : read (fd, buf, size);
      if (n >= 0)
        return n;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot read the input: %s"),
                       g_strerror (errno));
          return -1;
        }
    }
}

gssize
pst_client_fd_read (int fd, void *buf, gsize size, GError **error)
{
  return read_some (fd, fd_kind (fd), buf, size, error);
}

static gssize
write_some (int fd, FdKind kind, const void *data, gsize len, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) stall_timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      gssize n;

      if (!wait_for (fd, kind, POLLOUT, deadline, error))
        return -1;
      n = kind == FD_SOCKET ? send (fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL)
                            : write (fd, data, len);
      if (n > 0)
        return n;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot write the output: %s"),
                       g_strerror (errno));
          return -1;
        }
    }
}

gboolean
pst_client_fd_write_all (int fd, const void *data, gsize len, GError **error)
{
  const guint8 *p = data;
  FdKind kind = fd_kind (fd);

  while (len > 0)
    {
      gssize n = write_some (fd, kind, p, len, error);

      if (n < 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* ---- streams ---- */

#define PST_TYPE_CLIENT_FD_INPUT (pst_client_fd_input_get_type ())
G_DECLARE_FINAL_TYPE (PstClientFdInput, pst_client_fd_input, PST, CLIENT_FD_INPUT, GInputStream)

struct _PstClientFdInput {
  GInputStream parent_instance;
  int fd;
  FdKind kind;
};

G_DEFINE_TYPE (PstClientFdInput, pst_client_fd_input, G_TYPE_INPUT_STREAM)

static gssize
input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
            GError **error)
{
  PstClientFdInput *self = PST_CLIENT_FD_INPUT (stream);

  return read_some (self->fd, self->kind, buffer, count, error);
}

static void
pst_client_fd_input_class_init (PstClientFdInputClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = input_read;
}

static void
pst_client_fd_input_init (PstClientFdInput *self)
{
  self->fd = -1;
}

GInputStream *
pst_client_fd_input_stream_new (int fd)
{
  PstClientFdInput *s = g_object_new (PST_TYPE_CLIENT_FD_INPUT, NULL);

  s->fd = fd;
  s->kind = fd_kind (fd);
  return G_INPUT_STREAM (s);
}

#define PST_TYPE_CLIENT_FD_OUTPUT (pst_client_fd_output_get_type ())
G_DECLARE_FINAL_TYPE (PstClientFdOutput, pst_client_fd_output, PST, CLIENT_FD_OUTPUT,
                      GOutputStream)

struct _PstClientFdOutput {
  GOutputStream parent_instance;
  int fd;
  FdKind kind;
};

G_DEFINE_TYPE (PstClientFdOutput, pst_client_fd_output, G_TYPE_OUTPUT_STREAM)

static gssize
output_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
              GError **error)
{
  PstClientFdOutput *self = PST_CLIENT_FD_OUTPUT (stream);

  return write_some (self->fd, self->kind, buffer, count, error);
}

static void
pst_client_fd_output_class_init (PstClientFdOutputClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = output_write;
}

static void
pst_client_fd_output_init (PstClientFdOutput *self)
{
  self->fd = -1;
}

GOutputStream *
pst_client_fd_output_stream_new (int fd)
{
  PstClientFdOutput *s = g_object_new (PST_TYPE_CLIENT_FD_OUTPUT, NULL);

  s->fd = fd;
  s->kind = fd_kind (fd);
  return G_OUTPUT_STREAM (s);
}
