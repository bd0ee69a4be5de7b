/* failing-streams.h — streams for the unit tests that fail as the agent's
 * client descriptors do (PST_ERROR, not GIO's): FailingOut takes @room
 * bytes, then fails (a full disk, a closed descriptor); FailingIn gives
 * @room bytes of its base, then fails (a file that cannot be read).
 * Included by one test program each. */
#pragma once

#include <gio/gio.h>

#include "util/error.h"

typedef struct {
  GOutputStream parent;
  gsize room;
} FailingOut;
typedef struct {
  GOutputStreamClass parent_class;
} FailingOutClass;
GType failing_out_get_type (void);
G_DEFINE_TYPE (FailingOut, failing_out, G_TYPE_OUTPUT_STREAM)

static gssize
failing_out_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
                   GError **error)
{
  FailingOut *self = (FailingOut *) stream;

  (void) buffer;
  (void) cancellable;
  if (self->room == 0)
    {
      g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, "cannot write the output: no room");
      return -1;
    }
  count = MIN (count, self->room);
  self->room -= count;
  return (gssize) count;
}

static void
failing_out_class_init (FailingOutClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = failing_out_write;
}

static void
failing_out_init (FailingOut *self)
{
  (void) self;
}

typedef struct {
  GFilterInputStream parent;
  gsize room;
} FailingIn;
typedef struct {
  GFilterInputStreamClass parent_class;
} FailingInClass;
GType failing_in_get_type (void);
G_DEFINE_TYPE (FailingIn, failing_in, G_TYPE_FILTER_INPUT_STREAM)

static gssize
failing_in_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                 GError **error)
{
  FailingIn *self = (FailingIn *) stream;
  GInputStream *base = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));
  gssize n;

  if (self->room == 0)
    {
      g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, "cannot read the input: gone");
      return -1;
    }
  n = g_input_stream_read (base, buffer, MIN (count, self->room), cancellable, error);
  if (n > 0)
    self->room -= (gsize) n;
  return n;
}

static void
failing_in_class_init (FailingInClass *klass)
{
  GInputStreamClass *plain = g_type_class_peek (G_TYPE_INPUT_STREAM);

  G_INPUT_STREAM_CLASS (klass)->read_fn = failing_in_read;
  /* Skipped bytes are read too (GFilterInputStream would skip the base). */
  G_INPUT_STREAM_CLASS (klass)->skip = plain->skip;
}

static void
failing_in_init (FailingIn *self)
{
  (void) self;
}

/* @base (not owned) read through a FailingIn giving @room bytes. */
static GInputStream *
failing_in_new (GInputStream *base, gsize room)
{
  FailingIn *self = g_object_new (failing_in_get_type (), "base-stream", base, NULL);

  self->room = room;
  return G_INPUT_STREAM (self);
}
