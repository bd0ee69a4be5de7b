/* fuzz-opensink-parts — byte 0: whether the multipart's header is
 * protected (its low bit) and the size of the pieces it is written in (the
 * rest, plus one); then the body of a multipart/mixed entity whose
 * boundary is "b".  mime/opensink.h judges it as pgpstream.c has it judge
 * a decrypted multipart, then writes it as the writing pass does; against
 * what the in-memory reader does with the same entity:
 *  - a multipart the sink takes has no part the reader opens: no text/plain
 *    part in which pst_pgpinline_find finds a block, decoded as pgpinline.c
 *    decodes it or as it came, and nothing the reader without OpenPGP
 *    (pst_message_open) says anything of;
 *  - what the writing sink writes is, byte for byte, what the reader writes
 *    (hp.c pst_hp_finish: the header shown, then the entity, written again
 *    part by part when its header is protected);
 *  - what the sinks summed is the body as it came (SHA-256).
 */
#include "fuzz-common.h"

#include <gio/gio.h>
#include <libetpan/libetpan.h>

#include "crypto/status.h"
#include "mime/hp.h"
#include "mime/inlinescan.h"
#include "mime/mime.h"
#include "mime/opensink.h"
#include "mime/pgpinline.h"
#include "mime/reader.h"

#define OUTER "From: alice@postern.test\r\nTo: bob@postern.test\r\nSubject: outer\r\n"

static GPtrArray *outer_fields;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const char outer[] = OUTER "\r\n";
  gsize body = 0;

  (void) argc;
  (void) argv;
  fuzz_make_criticals_fatal ();
  FUZZ_CHECK (pst_mime_split_header (outer, sizeof outer - 1, &outer_fields, &body, NULL),
              "the outer header does not parse");
  return 0;
}

/* @entity through a sink taking texts (@judging or writing), in pieces of
 * @piece bytes; the sink, with what it wrote in *@written_out.  NULL when
 * it did not take the entity. */
static PstOpenSink *
through_sink (const GString *entity, gsize piece, gboolean judging, GBytes **written_out)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  PstStatus *status = pst_status_new ();
  PstOpenSink *sink = pst_open_sink_new (out, outer_fields, status, NULL);
  gsize written = 0;
  gboolean ok = TRUE;

  g_object_set_data_full (G_OBJECT (sink), "status", status, (GDestroyNotify) pst_status_free);
  pst_open_sink_take_text (sink, judging);
  pst_open_sink_set_signer (sink, NULL);
  while (ok && written < entity->len)
    {
      gsize n = MIN (piece, entity->len - written);

      ok = g_output_stream_write_all (G_OUTPUT_STREAM (sink), entity->str + written, n, NULL, NULL,
                                      NULL);
      written += n;
    }
  ok = ok && pst_open_sink_finish (sink, NULL);
  if (!ok || sink->fallback || !sink->passing)
    {
      g_object_unref (sink);
      return NULL;
    }
  g_output_stream_close (out, NULL, NULL);
  *written_out = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  return sink;
}

/* Whether a text/plain part of @body holds what pgpinline.c finds. */
static gboolean
a_part_holds_a_block (const char *body, gsize len)
{
  g_autoptr(GArray) spans = pst_mime_split_multipart (body, len, "b", NULL);

  for (guint i = 0; spans != NULL && i < spans->len; i++)
    {
      const PstMimeSpan *sp = &g_array_index (spans, PstMimeSpan, i);
      g_autoptr(GBytes) part = g_bytes_new (body + sp->offset, sp->length);
      g_autoptr(GPtrArray) fields = NULL;
      g_autoptr(GBytes) decoded = NULL;
      g_autofree char *type = NULL;
      gsize pbody = 0, plen = 0, start = 0, end = 0;
      const char *p = g_bytes_get_data (part, &plen);
      PstPgpInlineKind kind;
      gboolean entire = FALSE;
      int mechanism;

      if (!pst_mime_entity_split (part, &fields, &pbody))
        continue;
      type = pst_mime_entity_content_type (fields, NULL);
      if (!g_str_equal (type, "text/plain"))
        continue;
      if (pst_pgpinline_find (p + pbody, plen - pbody, &kind, &start, &end, &entire))
        return TRUE;
      switch (pst_inline_scan_coding (fields))
        {
        case PST_INLINE_SCAN_BASE64:
          mechanism = MAILMIME_MECHANISM_BASE64;
          break;
        case PST_INLINE_SCAN_QP:
          mechanism = MAILMIME_MECHANISM_QUOTED_PRINTABLE;
          break;
        default:
          mechanism = MAILMIME_MECHANISM_8BIT;
          break;
        }
      decoded = pst_mime_decode_transfer (p + pbody, plen - pbody, mechanism);
      if (decoded != NULL)
        {
          gsize dlen = 0;
          const char *d = g_bytes_get_data (decoded, &dlen);

          if (d != NULL && pst_pgpinline_find (d, dlen, &kind, &start, &end, &entire))
            return TRUE;
        }
    }
  return FALSE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GString) entity = NULL;
  g_autoptr(PstOpenSink) judge = NULL;
  g_autoptr(PstOpenSink) writer = NULL;
  g_autoptr(GBytes) judged = NULL;
  g_autoptr(GBytes) written = NULL;
  g_autoptr(GBytes) display = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(PstStatus) status = NULL;
  g_autofree char *sum = NULL;
  const char *body;
  gsize body_len, piece;
  gboolean protect;

  if (size < 1)
    return 0;
  protect = data[0] & 1;
  piece = (gsize) (data[0] >> 1) * 61 + 1;
  body = (const char *) data + 1;
  body_len = size - 1;

  entity = g_string_new (protect ? "Content-Type: multipart/mixed; boundary=b; protected-headers=v1\r\n"
                                   "Subject: inner\r\n\r\n"
                                 : "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
  g_string_append_len (entity, body, (gssize) body_len);
  if (!(judge = through_sink (entity, piece, TRUE, &judged)))
    return 0;
  FUZZ_CHECK (g_bytes_get_size (judged) == 0, "the judging sink wrote");
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) body, body_len);
  FUZZ_CHECK (strcmp (pst_sha256_get_string (judge->body_sum), sum) == 0, "the sum is not the body's");

  /* Nothing in it that the reader opens. */
  FUZZ_CHECK (!a_part_holds_a_block (body, body_len),
              "a multipart with an inline block in a text part would be passed on");
  {
    g_autoptr(GString) whole = g_string_new (OUTER);
    g_autoptr(GBytes) msg = NULL;
    g_autoptr(GBytes) plain = NULL;
    g_autoptr(PstStatus) st = NULL;
    g_autoptr(GError) error = NULL;

    g_string_append_len (whole, entity->str, (gssize) entity->len);
    msg = g_bytes_new (whole->str, whole->len);
    if (pst_message_open (NULL, NULL, msg, &plain, &st, &error))
      FUZZ_CHECK (st->warnings->len == 0 && st->sig_status == PST_SIG_NONE
                  && st->decryption == PST_DECRYPTION_NOT_ENCRYPTED,
                  "a multipart the reader finds something in would be passed on");
  }

  /* Written as the reader writes it. */
  writer = through_sink (entity, piece, FALSE, &written);
  FUZZ_CHECK (writer != NULL, "the writing sink did not take what the judging one took");
  FUZZ_CHECK (strcmp (pst_sha256_get_string (writer->body_sum), sum) == 0,
              "the writing sum is not the body's");
  status = pst_status_new ();
  status->decryption = PST_DECRYPTION_OK;
  status->encryption_covers = PST_COVERS_WHOLE;
  display = g_bytes_new (entity->str, entity->len);
  message = g_bytes_new_static ("", 0);
  expected = pst_hp_finish (status, PST_SCHEME_PGP, NULL, PST_COVERS_WHOLE, outer_fields, message,
                            display, NULL);
  FUZZ_CHECK (g_bytes_equal (written, expected), "written (%zu bytes) is not what the reader writes (%zu)",
              g_bytes_get_size (written), g_bytes_get_size (expected));
  return 0;
}
