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

/* The body's bytes, after the header section: summed as they are, and,
 * decoded as pgpinline.c decodes them, looked at for a line that begins an
 * inline block. */
static void
body_bytes (PstOpenSink *self, const char *data, gsize len)
{
  if (self->body_sum == NULL)
    return;
  pst_sha256_update (self->body_sum, data, len);
  pst_inline_scan_feed (&self->scan, data, len);
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
 * (an inline block, or what is not decoded here): then nothing more of it
 * is worth decrypting, and the write fails, the caller reading the message
 * in memory as for any fallback (nothing was written). */
static gboolean
judged_for_memory (PstOpenSink *self, GError **error)
{
  if (!self->judging || !self->scan.found)
    return FALSE;
  self->fallback = TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "the decrypted text holds an inline OpenPGP block: read in memory");
  return TRUE;
}

static gboolean
sink_start (PstOpenSink *self, gsize end, GError **error)
{
  g_autoptr(GBytes) display = g_bytes_new (self->head->data, end);
  g_autoptr(GBytes) message = g_bytes_new_static ("", 0);
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GString) s = g_string_new (NULL);
  gsize body = 0;
  gboolean ok;

  gboolean text = FALSE, depends;

  if (!pst_mime_entity_split (display, &fields, &body)
      || !(leaf_entity (fields)
           || (text = self->take_text && plain_text_entity (fields))))
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
  self->judging = (text || depends) && self->judge_text;
  /* Summed when judged, and when written after judging; inline blocks
   * looked for in a text only. */
  if (text)
    pst_inline_scan_init (&self->scan, pst_inline_scan_coding (fields));
  if (self->judge_text && !self->judging)
    g_clear_pointer (&self->body_sum, pst_sha256_free);
  for (guint i = 0; i < self->shown->len; i++)
    pst_mime_append_field (s, self->shown->pdata[i]);
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_is_content_field (fields->pdata[i]))
      pst_mime_append_field (s, fields->pdata[i]);
  g_string_append (s, "\r\n");
  body_bytes (self, (const char *) self->head->data + end, self->head->len - end);
  if (judged_for_memory (self, error))
    {
      explicit_bzero (s->str, s->len);
      pst_secret_byte_array_clear (self->head);
      return FALSE;
    }
  ok = self->judging
       || (write_out (self, s->str, s->len, error)
           && write_out (self, (const char *) self->head->data + end, self->head->len - end,
                         error));
  explicit_bzero (s->str, s->len);
  pst_secret_byte_array_clear (self->head);
  self->passing = TRUE;
  return ok;
}

static gssize
open_sink_write (GOutputStream *stream, const void *buffer, gsize count,
                 GCancellable *cancellable, GError **error)
{
  PstOpenSink *self = PST_OPEN_SINK (stream);
  gsize end = 0, before;

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
      return write_out (self, buffer, count, error) ? (gssize) count : -1;
    }
  before = self->head->len;
  count = MIN (count, PST_PGPSTREAM_MAX_HEADER + 1 - before);
  self->passed += count;
  g_byte_array_append (self->head, buffer, count);
  if (pst_pgpstream_header_end ((const char *) self->head->data, self->head->len, &end))
    return sink_start (self, end, error) ? (gssize) count : -1;
  if (self->head->len > PST_PGPSTREAM_MAX_HEADER)
    {
      self->fallback = TRUE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "the decrypted header section is too large to stream");
      return -1;
    }
  return (gssize) count;
}

static void
pst_open_sink_finalize (GObject *object)
{
  PstOpenSink *self = PST_OPEN_SINK (object);

  pst_secret_byte_array_clear (self->head);
  g_byte_array_unref (self->head);
  g_clear_pointer (&self->shown, g_ptr_array_unref);
  g_clear_pointer (&self->body_sum, pst_sha256_free);
  g_strfreev (self->signer);
  pst_inline_scan_clear (&self->scan);
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
  self->head = g_byte_array_new ();
}

void
pst_open_sink_take_text (PstOpenSink *self, gboolean judging)
{
  self->take_text = TRUE;
  self->judge_text = judging;
  if (self->body_sum == NULL)
    self->body_sum = pst_sha256_new ();
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
