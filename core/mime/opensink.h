/* opensink.h — where a message decrypted as a stream goes (pgpstream.c,
 * smimestream.c): the decrypted entity's header section is held back
 * (bounded) until the header shown (hp.h) can be written in its place;
 * then everything passes through.  An entity that the in-memory reader
 * would look into (a multipart, text/plain, message/rfc822, another S/MIME
 * layer), a header section too large, or protected address fields that
 * differ from the outer ones (the header shown would then depend on a
 * signature known only at the end) set @fallback and fail the write
 * before anything was written: the caller reads the message in memory. */
#pragma once

#include <gio/gio.h>
#include "crypto/status.h"

G_BEGIN_DECLS

#define PST_TYPE_OPEN_SINK (pst_open_sink_get_type ())
G_DECLARE_FINAL_TYPE (PstOpenSink, pst_open_sink, PST, OPEN_SINK, GOutputStream)

/* The fields are the sink's; callers read passing, fallback, too_large
 * and shown after the decryption. */
struct _PstOpenSink {
  GOutputStream parent;
  GOutputStream *out;
  GPtrArray *outer_fields;
  GByteArray *head;         /* wiped when freed */
  gboolean passing;         /* the header was written */
  gboolean fallback;
  PstStatus *status;        /* decryption, encryption_covers, protected_headers set here */
  GPtrArray *shown;         /* the header fields shown */
  const guint64 *consumed;  /* input read so far, or NULL */
  guint64 passed;
  gboolean too_large;
};

/* A sink writing to @out (not owned) for the message whose outer header
 * fields are @outer_fields (not owned), setting @status (not owned).
 * With @consumed (not owned, may be NULL: no limit), the plaintext may not
 * exceed MAX (PST_DECRYPTION_MAX_OUTPUT, *@consumed): past it the write
 * fails and too_large says so (crypto/status.h).  Transfer full. */
PstOpenSink *pst_open_sink_new (GOutputStream *out, GPtrArray *outer_fields, PstStatus *status,
                                const guint64 *consumed);

G_END_DECLS
