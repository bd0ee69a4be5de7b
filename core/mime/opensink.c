/* opensink.c — see opensink.h. */
#include "mime/opensink.h"

#include <string.h>

#include "mime/hp.h"
#include "mime/mime.h"
#include "mime/pgpstream.h"
#include "util/secret.h"

G_DEFINE_TYPE (PstOpenSink, pst_open_sink, G_TYPE_OUTPUT_STREAM)

/* Writes to the sink's output, noting its failure (out_failed). */
static gboolean
write_out (PstOpenSink *self, const char *s, gsize len, GError **error)
{
  if (g_output_stream_write_all (self->out, s, len, NULL, NULL, error))
    return TRUE;
  self->out_failed = TRUE;
  return FALSE;
}

/* Whether the in-memory reader passes the entity with @fields on untouched
 * (open_entity in pgpmime.c and strip_legacy_display in hp.c). */
static gboolean
leaf_entity (GPtrArray *fields)
{
  g_autofree char *type = pst_mime_entity_content_type (fields, NULL);

  return type != NULL && !g_str_has_prefix (type, "multipart/") && !g_str_equal (type, "text/plain")
         && !g_str_equal (type, "message/rfc822")    /* may wrap the protected header (hp.h) */
         /* another layer of S/MIME, which the reader opens */
         && !g_str_equal (type, "application/pkcs7-mime")
         && !g_str_equal (type, "application/x-pkcs7-mime");
}

/* A text/plain entity whose body the in-memory reader passes on as it is
 * (pst_open_sink_take_text). */
static gboolean
plain_text_entity (GPtrArray *fields)
{
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = pst_mime_entity_content_type (fields, &params);
  guint n_cte = 0, n_type = 0;
  const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", &n_cte);
  g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;

  /* One of each at most: readers differ in which of several they take
   * (pgpinline.c decodes when any says so). */
  pst_mime_find_field (fields, "Content-Type", &n_type);
  if (n_cte > 1 || n_type > 1)
    return FALSE;
  if (type == NULL || !g_str_equal (type, "text/plain")
      || (params != NULL && g_hash_table_contains (params, "hp-legacy-display")))
    return FALSE;
  /* The encoded ones decoded as they pass, only to be looked at. */
  return cte == NULL || g_ascii_strcasecmp (cte, "7bit") == 0 || g_ascii_strcasecmp (cte, "8bit") == 0
         || g_ascii_strcasecmp (cte, "binary") == 0 || g_ascii_strcasecmp (cte, "base64") == 0
         || g_ascii_strcasecmp (cte, "quoted-printable") == 0;
}

/* A multipart the in-memory reader splits into parts and looks into
 * (reader.c open_entity; not multipart/signed or multipart/encrypted, which
 * it opens), with one Content-Type and a boundary the splitter takes: its
 * boundary in *@boundary_out. */
static gboolean
multipart_entity (GPtrArray *fields, char **boundary_out)
{
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = pst_mime_entity_content_type (fields, &params);
  guint n_type = 0;
  const char *boundary;

  pst_mime_find_field (fields, "Content-Type", &n_type);
  if (n_type != 1 || type == NULL || !g_str_has_prefix (type, "multipart/")
      || g_str_equal (type, "multipart/signed") || g_str_equal (type, "multipart/encrypted")
      || params == NULL || (boundary = g_hash_table_lookup (params, "boundary")) == NULL
      || *boundary == '\0' || strlen (boundary) > 200)
    return FALSE;
  *boundary_out = g_strdup (boundary);
  return TRUE;
}

/* Whether the in-memory reader passes a part of a multipart with @fields
 * on untouched, as it would the entity itself (leaf_entity, or a text
 * whose body is looked at: *@text_out), or a message/rfc822 part (a
 * forwarded message: the reader does not look into it, and only the
 * entity itself may wrap the protected header).  A part hp.c
 * strip_legacy_display leaves out of a protected multipart (a legacy
 * display part: text/rfc822-headers, a text with protected-headers) is
 * not. */
static gboolean
part_passes (GPtrArray *fields, gboolean *text_out)
{
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = pst_mime_entity_content_type (fields, &params);

  *text_out = FALSE;
  if (type == NULL || g_str_equal (type, "text/rfc822-headers")
      || (g_str_has_prefix (type, "text/") && params != NULL
          && g_hash_table_contains (params, "protected-headers")))
    return FALSE;
  if (leaf_entity (fields) || g_str_equal (type, "message/rfc822"))
    return TRUE;
  return (*text_out = plain_text_entity (fields));
}

/* A multipart written again part by part: what the splitter hands on,
 * up to three pieces a line, gathered into blocks of this size (a write
 * each took 23 s for a 256 MiB attachment, against 4 s in blocks). */
#define REBUILD_BLOCK (64 * 1024)

static void
rebuild_flush (PstOpenSink *self)
{
  if (self->rebuild_buf->len > 0 && self->rebuild_error == NULL)
    write_out (self, (const char *) self->rebuild_buf->data, self->rebuild_buf->len,
               &self->rebuild_error);
  pst_secret_byte_array_clear (self->rebuild_buf);
}

static void
rebuild_write (PstOpenSink *self, const char *data, gsize len)
{
  if (!self->rebuild || self->judging || self->rebuild_error != NULL || self->out_failed)
    return;
  g_byte_array_append (self->rebuild_buf, (const guint8 *) data, (guint) len);
  if (self->rebuild_buf->len >= REBUILD_BLOCK)
    rebuild_flush (self);
}

/* Whether a write of the multipart written again failed: its error. */
static gboolean
rebuild_failed (PstOpenSink *self, GError **error)
{
  if (self->rebuild_error == NULL)
    return FALSE;
  g_propagate_error (error, g_steal_pointer (&self->rebuild_error));
  return TRUE;
}

/* A part's header section is looked at once it is complete; parts larger
 * are left to the in-memory reader. */
#define PART_HEAD_MAX (64 * 1024)

static void
part_start (gpointer data, int index, guint64 offset)
{
  PstOpenSink *self = data;

  (void) index;
  (void) offset;
  pst_stream_head_reset (&self->part_head);
  pst_inline_scan_clear (&self->scan);
  /* As strip_legacy_display writes each part: "--boundary", CR LF, the
   * part, CR LF; "--boundary--" and CR LF after the last. */
  if (self->rebuild && !self->judging)
    {
      g_autofree char *line = g_strdup_printf ("--%s\r\n", self->boundary);

      rebuild_write (self, line, strlen (line));
    }
}

static void
part_bytes (gpointer data, int index, const char *bytes, gsize len)
{
  PstOpenSink *self = data;

  (void) index;
  rebuild_write (self, bytes, len);
  if (self->parts_for_memory)
    return;
  if (!self->part_head.done)
    {
      g_autoptr(GPtrArray) fields = NULL;
      gsize used = 0;
      gboolean text = FALSE;

      switch (pst_stream_head_feed (&self->part_head, bytes, len, &used))
        {
        case PST_STREAM_HEAD_MORE:
          return;
        case PST_STREAM_HEAD_TOO_LARGE:
          self->parts_for_memory = TRUE;
          return;
        case PST_STREAM_HEAD_DONE:
          break;
        }
      fields = pst_stream_head_fields (&self->part_head);
      pst_stream_head_wipe (&self->part_head);
      if (fields == NULL || !part_passes (fields, &text))
        {
          self->parts_for_memory = TRUE;
          return;
        }
      if (text)
        pst_inline_scan_init (&self->scan, pst_inline_scan_coding (fields));
      bytes += used;
      len -= used;
    }
  pst_inline_scan_feed (&self->scan, bytes, len);
}

static void
part_end (gpointer data, int index)
{
  PstOpenSink *self = data;

  (void) index;
  if (!self->part_head.done)
    self->parts_for_memory = TRUE;   /* no header section that ends */
  /* The part's verdict, kept before the next part's scan begins (within
   * the same write, before judged_for_memory looks). */
  if (self->scan.found)
    self->parts_for_memory = TRUE;
  rebuild_write (self, "\r\n", 2);
}

static const PstPartSplitFuncs part_funcs = { part_start, part_bytes, part_end };

/* The body's bytes, after the header section: summed as they are, and,
 * decoded as pgpinline.c decodes them, looked at for a line that begins an
 * inline block (in a text, or in each text part of a multipart, whose
 * parts are looked at too). */
static void
body_bytes (PstOpenSink *self, const char *data, gsize len)
{
  if (self->body_sum != NULL)
    pst_sha256_update (self->body_sum, data, len);
  if (self->parts == NULL)
    pst_inline_scan_feed (&self->scan, data, len);
  else if ((!self->judging || !self->parts_for_memory) && !pst_part_split_feed (self->parts, data, len))
    {
      /* A long line that may be a delimiter: not judged here.  Written
       * again, the splitter would drop the rest: never silently (the
       * plaintext judged had no such line). */
      self->parts_for_memory = TRUE;
      if (self->rebuild && !self->judging && self->rebuild_error == NULL)
        g_set_error_literal (&self->rebuild_error, G_IO_ERROR, G_IO_ERROR_FAILED,
                             "the decrypted multipart is not the one judged");
    }
}

/* Whether a good signature by the protected From, known only at the end,
 * would show the same header and status as none (hp.c promotes the
 * protected header then: outer fields it does not name go, inner ones it
 * has come, the Date checked may differ).  The in-memory reader decides
 * with the signature in hand; streamed, both must agree. */
static gboolean
same_if_signed (PstOpenSink *self, GPtrArray *fields, GBytes *display)
{
  g_autoptr(GPtrArray) inner = g_ptr_array_new ();
  g_autofree char *inner_from = NULL;
  g_autoptr(PstStatus) signed_status = NULL;
  g_autoptr(GPtrArray) signed_shown = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) display2 = g_bytes_ref (display);
  g_autofree char *json = NULL, *signed_json = NULL;

  for (guint i = 0; i < fields->len; i++)
    if (!pst_mime_is_content_field (fields->pdata[i]))
      g_ptr_array_add (inner, fields->pdata[i]);
  if ((inner_from = pst_mime_single_from (inner)) == NULL)
    return TRUE;   /* no one to be the signer: never promoted */
  {
    const char *signer[] = { inner_from, NULL };

    signed_status = pst_status_new ();
    signed_status->decryption = self->status->decryption;
    signed_status->encryption_covers = self->status->encryption_covers;
    signed_shown = pst_hp_shown_fields (signed_status, signer, self->outer_fields, message, &display2);
  }
  if (signed_shown->len != self->shown->len)
    return FALSE;
  for (guint i = 0; i < self->shown->len; i++)
    if (strcmp (signed_shown->pdata[i], self->shown->pdata[i]) != 0)
      return FALSE;
  json = pst_status_to_json_string (self->status);
  signed_json = pst_status_to_json_string (signed_status);
  return strcmp (json, signed_json) == 0;
}

/* Whether a judged text was found to hold what the in-memory reader opens
 * (an inline block, or what is not decoded here), or a judged multipart a
 * part it looks into: then nothing more of it is worth decrypting, and the
 * write fails, the caller reading the message in memory as for any
 * fallback (nothing was written). */
static gboolean
judged_for_memory (PstOpenSink *self, GError **error)
{
  if (!self->judging || !(self->scan.found || self->parts_for_memory))
    return FALSE;
  self->fallback = TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "the decrypted entity holds what the in-memory reader looks into: read in memory");
  return TRUE;
}

static gboolean
sink_start (PstOpenSink *self, const char *rest, gsize rest_len, GError **error)
{
  /* Decrypted: wiped when freed, as the head it is copied from is. */
  g_autoptr(GBytes) display = pst_secret_bytes_new (self->head.bytes->data, self->head.bytes->len,
                                                    NULL, 0);
  g_autoptr(GBytes) message = g_bytes_new_static ("", 0);
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GString) s = g_string_new (NULL);
  gsize body = 0;
  gboolean ok;

  gboolean text = FALSE, multipart = FALSE, depends;

  if (!pst_mime_entity_split (display, &fields, &body)
      || !(leaf_entity (fields)
           || (text = self->take_text && plain_text_entity (fields))
           || (multipart = self->take_text && multipart_entity (fields, &self->boundary))))
    {
      self->fallback = TRUE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "the decrypted entity is read in memory");
      return FALSE;
    }
  /* As pst_pgpmime_open after a whole decryption; a failure later makes
   * all of this the caller's to discard. */
  self->status->decryption = PST_DECRYPTION_OK;
  self->status->encryption_covers = PST_COVERS_WHOLE;
  /* Streamed only when the signature, known at the end, cannot change the
   * header shown now: the outer and protected address fields agree (hp.h). */
  self->shown = pst_hp_shown_fields (self->status,
                                     self->signer_known ? (const char *const *) self->signer : NULL,
                                     self->outer_fields, message, &display);
  depends = !self->signer_known && !same_if_signed (self, fields, display);
  if (self->status->header_mismatches->len > 0 || (depends && !self->judge_text))
    {
      self->fallback = TRUE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "the protected header differs from the outer one: read in memory");
      return FALSE;
    }
  self->judging = (text || multipart || depends) && self->judge_text;
  /* Summed when judged, and when written after judging; inline blocks
   * looked for in a text only, or in a multipart's text parts. */
  if (text)
    pst_inline_scan_init (&self->scan, pst_inline_scan_coding (fields));
  if (multipart)
    {
      self->parts = pst_part_split_new (self->boundary, 0, &part_funcs, self);
      pst_stream_head_init (&self->part_head, PART_HEAD_MAX);
      /* hp.c strip_legacy_display writes a protected multipart again. */
      self->rebuild = self->status->protected_headers;
      if (self->rebuild && !self->judging)
        self->rebuild_buf = g_byte_array_sized_new (REBUILD_BLOCK + 1024);
    }
  if (self->judge_text && !self->judging)
    g_clear_pointer (&self->body_sum, pst_sha256_free);
  for (guint i = 0; i < self->shown->len; i++)
    pst_mime_append_field (s, self->shown->pdata[i]);
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_is_content_field (fields->pdata[i]))
      pst_mime_append_field (s, fields->pdata[i]);
  g_string_append (s, "\r\n");
  /* The header first: a multipart written again is written as its body
   * passes the splitter. */
  ok = self->judging || write_out (self, s->str, s->len, error);
  if (ok)
    body_bytes (self, rest, rest_len);
  if (ok && judged_for_memory (self, error))
    {
      /* Nothing was written: the caller reads it in memory. */
      explicit_bzero (s->str, s->len);
      pst_stream_head_reset (&self->head);
      return FALSE;
    }
  if (ok && !self->judging)
    ok = self->rebuild ? !rebuild_failed (self, error)
                       : write_out (self, rest, rest_len, error);
  explicit_bzero (s->str, s->len);
  pst_stream_head_reset (&self->head);
  self->passing = TRUE;
  return ok;
}

static gssize
open_sink_write (GOutputStream *stream, const void *buffer, gsize count,
                 GCancellable *cancellable, GError **error)
{
  PstOpenSink *self = PST_OPEN_SINK (stream);
  gsize used = 0;

  (void) cancellable;
  if (self->passing)
    {
      /* The in-memory reader's rule (crypto/status.h): no more plaintext
       * than the limit or what came in, so that a compressed packet cannot
       * pour gigabytes out of a few kilobytes. */
      guint64 limit = MAX ((guint64) PST_DECRYPTION_MAX_OUTPUT,
                           self->consumed != NULL ? *self->consumed : G_MAXUINT64);

      if (self->passed > limit || count > limit - self->passed)
        {
          self->too_large = TRUE;
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                               "the decrypted content expands past the decryption limit");
          return -1;
        }
      self->passed += count;
      body_bytes (self, buffer, count);
      if (judged_for_memory (self, error))
        return -1;
      if (self->judging)
        return (gssize) count;
      if (self->rebuild)
        return rebuild_failed (self, error) ? -1 : (gssize) count;
      return write_out (self, buffer, count, error) ? (gssize) count : -1;
    }
  switch (pst_stream_head_feed (&self->head, buffer, count, &used))
    {
    case PST_STREAM_HEAD_MORE:
      self->passed += used;
      return (gssize) used;
    case PST_STREAM_HEAD_TOO_LARGE:
      self->fallback = TRUE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "the decrypted header section is too large to stream");
      return -1;
    case PST_STREAM_HEAD_DONE:
      break;
    }
  /* The body's first bytes, as many as the header could have held. */
  count = MIN (count, used + PST_PGPSTREAM_MAX_HEADER + 1 - self->head.bytes->len);
  self->passed += count;
  return sink_start (self, (const char *) buffer + used, count - used, error) ? (gssize) count : -1;
}

static void
pst_open_sink_finalize (GObject *object)
{
  PstOpenSink *self = PST_OPEN_SINK (object);

  pst_stream_head_clear (&self->head);
  g_clear_pointer (&self->shown, g_ptr_array_unref);
  g_clear_pointer (&self->body_sum, pst_sha256_free);
  g_strfreev (self->signer);
  pst_inline_scan_clear (&self->scan);
  g_clear_pointer (&self->parts, pst_part_split_free);
  g_clear_pointer (&self->boundary, g_free);
  pst_stream_head_clear (&self->part_head);
  if (self->rebuild_buf != NULL)
    {
      pst_secret_byte_array_clear (self->rebuild_buf);
      g_byte_array_unref (self->rebuild_buf);
    }
  g_clear_error (&self->rebuild_error);
  G_OBJECT_CLASS (pst_open_sink_parent_class)->finalize (object);
}

static void
pst_open_sink_class_init (PstOpenSinkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_open_sink_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = open_sink_write;
}

static void
pst_open_sink_init (PstOpenSink *self)
{
  pst_stream_head_init (&self->head, PST_PGPSTREAM_MAX_HEADER);
}

void
pst_open_sink_take_text (PstOpenSink *self, gboolean judging)
{
  self->take_text = TRUE;
  self->judge_text = judging;
  if (self->body_sum == NULL)
    self->body_sum = pst_sha256_new ();
}

gboolean
pst_open_sink_finish (PstOpenSink *self, GError **error)
{
  if (self->parts == NULL || !self->passing)
    return TRUE;
  /* The last part ends (written again: its line end). */
  if (!pst_part_split_end (self->parts) || pst_part_split_parts (self->parts) == 0)
    self->parts_for_memory = TRUE;   /* a long last line, or no part */
  if (self->judging)
    return !judged_for_memory (self, error);
  if (self->rebuild)
    {
      g_autofree char *close = g_strdup_printf ("--%s--\r\n", self->boundary);

      rebuild_write (self, close, strlen (close));
      rebuild_flush (self);
      return !rebuild_failed (self, error);
    }
  return TRUE;
}

void
pst_open_sink_set_signer (PstOpenSink *self, const char *const *signer)
{
  g_strfreev (self->signer);
  self->signer = signer != NULL ? g_strdupv ((char **) signer) : NULL;
  self->signer_known = TRUE;
}

PstOpenSink *
pst_open_sink_new (GOutputStream *out, GPtrArray *outer_fields, PstStatus *status,
                   const guint64 *consumed)
{
  PstOpenSink *self = g_object_new (PST_TYPE_OPEN_SINK, NULL);

  self->out = out;
  self->outer_fields = outer_fields;
  self->status = status;
  self->consumed = consumed;
  return self;
}
