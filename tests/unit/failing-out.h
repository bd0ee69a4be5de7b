/* failing-out.h — an output stream for the unit tests that takes @room
 * bytes, then fails as the agent's client descriptor does (PST_ERROR, not
 * GIO's): a full disk, a closed descriptor.  Included by one test program
 * each. */
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
