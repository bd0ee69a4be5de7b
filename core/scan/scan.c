/* scan.c — see scan.h.  The clamd client speaks INSTREAM (clamd(8)): the
 * command, then chunks each prefixed by its length as four bytes in network
 * order, a zero length to end, and one reply ending in NUL.  Written here:
 * libclamav would link the scanner into the agent, and the point is to talk
 * to a separate daemon the user chose. */
#include "scan/scan.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error.h"

#define CHUNK (64 * 1024)
#define MAX_REPLY 4096

typedef enum { KIND_CLAMD_UNIX, KIND_CLAMD_TCP, KIND_COMMAND } Kind;

struct _PstScanner {
  Kind kind;
  char *path;        /* Unix socket */
  char *host;
  char *port;
  char **argv;       /* command */
  guint timeout_ms;
};

PstScanner *
pst_scanner_new (const char *spec, guint timeout_s, GError **error)
{
  g_autoptr (PstScanner) s = g_new0 (PstScanner, 1);
  const char *rest;

  s->timeout_ms = (timeout_s ? timeout_s : 60) * 1000;
  if (spec != NULL && g_str_has_prefix (spec, "clamd:"))
    {
      const char *colon;

      rest = spec + 6;
      if (rest[0] == '/')
        {
          if (strlen (rest) >= sizeof ((struct sockaddr_un *) 0)->sun_path)
            goto bad;
          s->kind = KIND_CLAMD_UNIX;
          s->path = g_strdup (rest);
          return g_steal_pointer (&s);
        }
      colon = strrchr (rest, ':');
      if (colon == NULL || colon == rest || colon[1] == '\0')
        goto bad;
      s->kind = KIND_CLAMD_TCP;
      s->host = g_strndup (rest, colon - rest);
      s->port = g_strdup (colon + 1);
      return g_steal_pointer (&s);
    }
  if (spec != NULL && g_str_has_prefix (spec, "command:"))
    {
      GError *local = NULL;

      s->kind = KIND_COMMAND;
      if (!g_shell_parse_argv (spec + 8, NULL, &s->argv, &local))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "scan command '%s': %s", spec + 8,
                       local->message);
          g_error_free (local);
          return NULL;
        }
      return g_steal_pointer (&s);
    }
bad:
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
               "scan = '%s': use clamd:/path/to/clamd.ctl, clamd:HOST:PORT or "
               "command:PROGRAM ARGS", spec ? spec : "");
  return NULL;
}

void
pst_scanner_free (PstScanner *s)
{
  if (s == NULL)
    return;
  g_free (s->path);
  g_free (s->host);
  g_free (s->port);
  g_strfreev (s->argv);
  g_free (s);
}

const char *
pst_scan_verdict_name (PstScanVerdict v)
{
  switch (v)
    {
    case PST_SCAN_CLEAN: return "clean";
    case PST_SCAN_INFECTED: return "infected";
    case PST_SCAN_ERROR: break;
    }
  return "error";
}

static gboolean
wait_fd (int fd, short events, gint64 deadline)
{
  struct pollfd p = { .fd = fd, .events = events };
  int r;

  do
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      if (left <= 0)
        return FALSE;
      r = poll (&p, 1, (int) MIN (left, G_MAXINT));
    }
  while (r < 0 && errno == EINTR);
  return r > 0;
}

static gboolean
write_all (int fd, const guint8 *data, gsize len, gint64 deadline)
{
  while (len > 0)
    {
      ssize_t n;

      if (!wait_fd (fd, POLLOUT, deadline))
        return FALSE;
      n = send (fd, data, len, MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static int
connect_clamd (PstScanner *s, char **why)
{
  int fd = -1;

  if (s->kind == KIND_CLAMD_UNIX)
    {
      struct sockaddr_un sa = { .sun_family = AF_UNIX };

      g_strlcpy (sa.sun_path, s->path, sizeof sa.sun_path);
      fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd >= 0 && connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
        {
          *why = g_strdup_printf ("clamd at %s: %s", s->path, g_strerror (errno));
          close (fd);
          return -1;
        }
    }
  else
    {
      struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
      int r = getaddrinfo (s->host, s->port, &hints, &res);

      if (r != 0)
        {
          *why = g_strdup_printf ("clamd at %s:%s: %s", s->host, s->port, gai_strerror (r));
          return -1;
        }
      for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        {
          fd = socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
          if (fd >= 0 && connect (fd, ai->ai_addr, ai->ai_addrlen) != 0)
            {
              close (fd);
              fd = -1;
            }
        }
      if (fd < 0)
        *why = g_strdup_printf ("clamd at %s:%s: %s", s->host, s->port, g_strerror (errno));
      freeaddrinfo (res);
    }
  if (fd < 0 && *why == NULL)
    *why = g_strdup_printf ("clamd: %s", g_strerror (errno));
  return fd;
}

/* Reads up to @size bytes of the message; -1 with *@name_out set when it
 * cannot be read (the scan then ends in an error, as a scanner that
 * cannot say would). */
static gssize
read_message (GInputStream *in, guint8 *buf, gsize size, char **name_out)
{
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read (in, buf, size, NULL, &error);

  if (n < 0)
    *name_out = g_strdup_printf ("cannot read the message to scan: %s", error->message);
  return n;
}

static PstScanVerdict
scan_clamd (PstScanner *s, GInputStream *in, char **name_out)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) s->timeout_ms * 1000;
  g_autofree guint8 *chunk = g_malloc (CHUNK);
  gssize got_chunk;
  char reply[MAX_REPLY + 1];
  gsize got = 0;
  char *why = NULL;
  int fd = connect_clamd (s, &why);

  if (fd < 0)
    {
      *name_out = why;
      return PST_SCAN_ERROR;
    }
  if (!write_all (fd, (const guint8 *) "zINSTREAM", 10, deadline))
    goto broken;
  /* INSTREAM takes the message chunk by chunk: it is never held whole. */
  while ((got_chunk = read_message (in, chunk, CHUNK, name_out)) > 0)
    {
      guint32 be = GUINT32_TO_BE ((guint32) got_chunk);

      if (!write_all (fd, (const guint8 *) &be, 4, deadline)
          || !write_all (fd, chunk, (gsize) got_chunk, deadline))
        goto broken;
    }
  if (got_chunk < 0)
    {
      close (fd);
      return PST_SCAN_ERROR;
    }
  if (!write_all (fd, (const guint8 *) "\0\0\0\0", 4, deadline))
    goto broken;
  while (got < MAX_REPLY && memchr (reply, '\0', got) == NULL)
    {
      ssize_t n;

      if (!wait_fd (fd, POLLIN, deadline))
        {
          close (fd);
          *name_out = g_strdup_printf ("clamd did not answer within %u s", s->timeout_ms / 1000);
          return PST_SCAN_ERROR;
        }
      n = recv (fd, reply + got, MAX_REPLY - got, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (gsize) n;
    }
  close (fd);
  reply[got] = '\0';
  g_strchomp (reply);
  /* "stream: OK", "stream: NAME FOUND", or "… ERROR". */
  if (g_str_has_suffix (reply, ": OK"))
    return PST_SCAN_CLEAN;
  if (g_str_has_suffix (reply, " FOUND"))
    {
      const char *start = strstr (reply, ": ");
      start = start ? start + 2 : reply;
      *name_out = g_strndup (start, strlen (start) - strlen (" FOUND"));
      return PST_SCAN_INFECTED;
    }
  *name_out = g_strdup_printf ("clamd: %s", got ? reply : "no answer");
  return PST_SCAN_ERROR;

broken:
  close (fd);
  *name_out = g_strdup_printf ("clamd: the connection broke while sending (%s)", g_strerror (errno));
  return PST_SCAN_ERROR;
}

static PstScanVerdict
scan_command (PstScanner *s, GInputStream *in, char **name_out)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) s->timeout_ms * 1000;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *chunk = g_malloc (CHUNK);
  gsize len = 0, off = 0;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree char *unread = NULL;
  int in_fd = -1, out_fd = -1, status = 0;
  GPid pid = 0;
  gboolean timed_out = FALSE, at_end = FALSE;

  if (!g_spawn_async_with_pipes (NULL, s->argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH
                                   | G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, &pid, &in_fd, &out_fd, NULL, &error))
    {
      *name_out = g_strdup_printf ("scan command: %s", error->message);
      return PST_SCAN_ERROR;
    }
  /* Feed stdin and drain stdout together, so that neither can block. */
  while (in_fd >= 0 || out_fd >= 0)
    {
      struct pollfd pf[2] = { { .fd = in_fd, .events = POLLOUT }, { .fd = out_fd, .events = POLLIN } };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      int r;

      if (left <= 0)
        {
          timed_out = TRUE;
          break;
        }
      r = poll (pf, 2, (int) MIN (left, G_MAXINT));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        break;
      if (in_fd >= 0 && (pf[0].revents & (POLLOUT | POLLERR | POLLHUP)))
        {
          ssize_t n = 0;

          /* The next chunk of the message when this one is out. */
          if (off >= len && !at_end)
            {
              gssize got = read_message (in, chunk, CHUNK, &unread);

              off = 0;
              len = got > 0 ? (gsize) got : 0;
              at_end = got <= 0;
            }
          if (off < len)
            n = write (in_fd, chunk + off, len - off);
          if (n > 0)
            off += (gsize) n;
          if (n <= 0 || (off >= len && at_end))
            {
              close (in_fd);   /* done, or the scanner stopped reading */
              in_fd = -1;
            }
        }
      if (out_fd >= 0 && (pf[1].revents & (POLLIN | POLLERR | POLLHUP)))
        {
          char buf[4096];
          ssize_t n = read (out_fd, buf, sizeof buf);
          if (n > 0 && out->len < MAX_REPLY)
            g_string_append_len (out, buf, n);
          if (n <= 0)
            {
              close (out_fd);
              out_fd = -1;
            }
        }
    }
  if (in_fd >= 0)
    close (in_fd);
  if (out_fd >= 0)
    close (out_fd);
  if (timed_out)
    kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (pid);
  if (unread != NULL)
    {
      *name_out = g_steal_pointer (&unread);
      return PST_SCAN_ERROR;
    }
  if (timed_out)
    {
      *name_out = g_strdup_printf ("the scan command did not finish within %u s",
                                   s->timeout_ms / 1000);
      return PST_SCAN_ERROR;
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return PST_SCAN_CLEAN;
  if (WIFEXITED (status) && WEXITSTATUS (status) == 1)
    {
      const char *nl = strchr (out->str, '\n');
      g_autofree char *first = g_strstrip (g_strndup (out->str, nl ? (gsize) (nl - out->str) : out->len));
      *name_out = g_strdup (*first ? first : "(unnamed)");
      return PST_SCAN_INFECTED;
    }
  *name_out = WIFEXITED (status)
                ? g_strdup_printf ("the scan command failed (exit %d)", WEXITSTATUS (status))
                : g_strdup ("the scan command was killed");
  return PST_SCAN_ERROR;
}

PstScanVerdict
pst_scanner_scan_stream (PstScanner *s, GInputStream *in, char **name_out)
{
  *name_out = NULL;
  return s->kind == KIND_COMMAND ? scan_command (s, in, name_out)
                                 : scan_clamd (s, in, name_out);
}

PstScanVerdict
pst_scanner_scan (PstScanner *s, GBytes *data, char **name_out)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (data);

  return pst_scanner_scan_stream (s, in, name_out);
}
