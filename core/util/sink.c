/* mremap */
#define _GNU_SOURCE
#include "util/sink.h"

#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error.h"

/* The buffer is an anonymous mapping grown with mremap: growing moves
 * pages instead of copying them, so no old block is left behind holding
 * plaintext and the peak is the content, not the content and its last
 * copy (with malloc, the freed smaller blocks stayed resident too: twice
 * the limit for a bomb).  It is left out of core dumps. */
struct _PstSink {
  char *data;
  gsize len, alloc, max;
  gsize own;        /* bytes not counted against the shared budget */
  PstSinkState state;
};

/* The shared budget.  A write that needs more than is free waits for
 * other sinks to give some back, up to wait_ms: running out is a matter of
 * timing, which must never read as a verdict on the content (a sender who
 * could fill the budget with one message would otherwise get every other
 * message decrypted meanwhile called a bomb). */
static GMutex shared_lock;
static GCond shared_freed;
static gsize shared_held;
static guint holders;          /* sinks with a share of it */
static guint holders_waiting;  /* of those, how many wait for more */
static guint wait_ms = PST_SINK_WAIT_DEFAULT_MS;

static gsize
counted (gsize len, gsize own)
{
  return len > own ? len - own : 0;
}

/* Takes one sink's share of the shared budget from @before to @after
 * counted bytes, waiting for others to free what it needs; nothing is
 * taken unless PST_SINK_OK. */
static PstSinkState
shared_take (gsize before, gsize after)
{
  gint64 deadline;

  if (after == before)
    return PST_SINK_OK;
  /* More than the whole budget: no wait would ever make it fit. */
  if (after > PST_SINK_SHARED_MAX)
    return PST_SINK_OVER;
  g_mutex_lock (&shared_lock);
  if (after < before)
    {
      shared_held -= before - after;
      if (after == 0)
        holders--;
      g_cond_broadcast (&shared_freed);
      g_mutex_unlock (&shared_lock);
      return PST_SINK_OK;
    }
  /* @before is part of shared_held: only other sinks' shares are waited for. */
  deadline = g_get_monotonic_time ()
             + (gint64) g_atomic_int_get (&wait_ms) * G_TIME_SPAN_MILLISECOND;
  while (after - before > PST_SINK_SHARED_MAX - shared_held)
    {
      gboolean woken;

      /* A sink that holds a share and waits for more keeps others waiting
       * too: when every holder would be waiting, none would ever give back,
       * and all would sit out the deadline.  The last one to start waiting
       * gives up at once instead, and its share frees the others. */
      if (before > 0 && holders_waiting + 1 >= holders)
        {
          g_mutex_unlock (&shared_lock);
          return PST_SINK_BUSY;
        }
      if (before > 0)
        holders_waiting++;
      woken = g_cond_wait_until (&shared_freed, &shared_lock, deadline);
      if (before > 0)
        holders_waiting--;
      if (!woken && after - before > PST_SINK_SHARED_MAX - shared_held)
        {
          g_mutex_unlock (&shared_lock);
          return PST_SINK_BUSY;
        }
    }
  if (before == 0)
    holders++;
  shared_held += after - before;
  g_mutex_unlock (&shared_lock);
  return PST_SINK_OK;
}

void
pst_sink_set_wait (guint ms)
{
  g_atomic_int_set (&wait_ms, ms);
}

void
pst_sink_set_busy_error (GError **error)
{
  g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED,
                       _("the agent is busy with other large messages; try again"));
}

PstSink *
pst_sink_new (gsize max, gsize own)
{
  PstSink *sink = g_new0 (PstSink, 1);

  sink->max = max;
  sink->own = own;
  return sink;
}

static void
unmap (char *data, gsize len, gsize alloc, gsize own)
{
  if (data == NULL)
    return;
  explicit_bzero (data, len);
  munmap (data, alloc);
  shared_take (counted (len, own), 0);
}

void
pst_sink_free (PstSink *sink)
{
  if (sink == NULL)
    return;
  unmap (sink->data, sink->len, sink->alloc, sink->own);
  g_free (sink);
}

static void
grow (PstSink *sink, gsize need)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  gsize alloc = MAX (sink->alloc, 65536);
  void *p;

  while (alloc < need)
    alloc = alloc <= G_MAXSIZE / 2 ? alloc * 2 : G_MAXSIZE;
  alloc = MIN (alloc, sink->max + 1);
  alloc = (alloc + page - 1) / page * page;
  if (sink->data == NULL)
    p = mmap (NULL, alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  else
    p = mremap (sink->data, sink->alloc, alloc, MREMAP_MAYMOVE);
  if (p == MAP_FAILED)
    g_error ("out of memory: cannot map %" G_GSIZE_FORMAT " bytes", alloc);
  madvise (p, alloc, MADV_DONTDUMP);
  sink->data = p;
  sink->alloc = alloc;
}

gboolean
pst_sink_write (PstSink *sink, const void *data, gsize len)
{
  if (sink->state != PST_SINK_OK)
    return FALSE;
  if (len > sink->max - sink->len)
    sink->state = PST_SINK_OVER;
  else
    sink->state = shared_take (counted (sink->len, sink->own), counted (sink->len + len, sink->own));
  if (sink->state != PST_SINK_OK)
    return FALSE;
  if (sink->len + len + 1 > sink->alloc)
    grow (sink, sink->len + len + 1);
  if (len > 0)
    memcpy (sink->data + sink->len, data, len);
  sink->len += len;
  return TRUE;
}

PstSinkState
pst_sink_state (const PstSink *sink)
{
  return sink->state;
}

gboolean
pst_sink_overflowed (const PstSink *sink)
{
  return sink->state == PST_SINK_OVER;
}

gsize
pst_sink_max (const PstSink *sink)
{
  return sink->max;
}

typedef struct {
  char *data;
  gsize len, alloc, own;
} Stolen;

static void
stolen_free (gpointer p)
{
  Stolen *s = p;

  unmap (s->data, s->len, s->alloc, s->own);
  g_free (s);
}

GBytes *
pst_sink_steal (PstSink *sink)
{
  Stolen *s = g_new (Stolen, 1);

  if (sink->data == NULL)
    grow (sink, 1);
  sink->data[sink->len] = '\0';
  s->data = g_steal_pointer (&sink->data);
  s->len = sink->len;
  s->alloc = sink->alloc;
  s->own = sink->own;
  sink->len = sink->alloc = 0;
  return g_bytes_new_with_free_func (s->data, s->len, stolen_free, s);
}
