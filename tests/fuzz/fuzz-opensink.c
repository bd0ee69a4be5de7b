/* fuzz-opensink — byte 0: the text's Content-Transfer-Encoding (its low
 * two bits: none, quoted-printable, base64, 8bit) and the size of the
 * pieces it is written in (the rest, plus one); then the body of a
 * text/plain entity.  mime/opensink.h judges it as pgpstream.c has it
 * judge a decrypted text, against what the in-memory reader does with the
 * same entity (pgpinline.c: libetpan decodes the body, pst_pgpinline_find
 * looks for a block in it):
 *  - a text in which that reader finds an inline block is never passed on
 *    as it is: the sink saw a marker, fell back, or did not take it; nor
 *    one in which the reader without OpenPGP finds one, which looks at the
 *    body as it came (pgpmime.c open_inline);
 *  - what the sink summed of a text it took is the body as it came
 *    (SHA-256), whatever it decoded to look at.
 */
#include "fuzz-common.h"

#include <gio/gio.h>
#include <libetpan/libetpan.h>

#include "crypto/status.h"
#include "mime/mime.h"
#include "mime/opensink.h"
#include "mime/pgpinline.h"

static GPtrArray *outer_fields;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const char outer[] = "From: alice@postern.test\r\nTo: bob@postern.test\r\n\r\n";
  gsize body = 0;

  (void) argc;
  (void) argv;
  fuzz_make_criticals_fatal ();
  FUZZ_CHECK (pst_mime_split_header (outer, sizeof outer - 1, &outer_fields, &body, NULL),
              "the outer header does not parse");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const ctes[] = { NULL, "quoted-printable", "base64", "8bit" };
  static const int mechanisms[] = { MAILMIME_MECHANISM_8BIT, MAILMIME_MECHANISM_QUOTED_PRINTABLE,
                                    MAILMIME_MECHANISM_BASE64, MAILMIME_MECHANISM_8BIT };
  g_autoptr(GString) entity = NULL;
  g_autoptr(GOutputStream) out = NULL;
  g_autoptr(PstOpenSink) sink = NULL;
  g_autoptr(PstStatus) status = NULL;
  g_autoptr(GBytes) decoded = NULL;
  const char *body;
  gsize body_len, piece, written = 0;
  guint cte;
  gboolean ok = TRUE, block = FALSE;

  if (size < 1)
    return 0;
  cte = data[0] & 3;
  piece = (gsize) (data[0] >> 2) * 97 + 1;
  body = (const char *) data + 1;
  body_len = size - 1;

  entity = g_string_new ("Content-Type: text/plain\r\n");
  if (ctes[cte] != NULL)
    g_string_append_printf (entity, "Content-Transfer-Encoding: %s\r\n", ctes[cte]);
  g_string_append (entity, "\r\n");
  g_string_append_len (entity, body, (gssize) body_len);

  out = g_memory_output_stream_new_resizable ();
  status = pst_status_new ();
  sink = pst_open_sink_new (out, outer_fields, status, NULL);
  pst_open_sink_take_text (sink, TRUE);
  while (ok && written < entity->len)
    {
      gsize n = MIN (piece, entity->len - written);

      ok = g_output_stream_write_all (G_OUTPUT_STREAM (sink), entity->str + written, n, NULL, NULL,
                                      NULL);
      written += n;
    }

  /* What the in-memory reader would find. */
  decoded = pst_mime_decode_transfer (body, body_len, mechanisms[cte]);
  if (decoded != NULL)
    {
      gsize len = 0, start = 0, end = 0;
      const char *plain = g_bytes_get_data (decoded, &len);
      PstPgpInlineKind kind;
      gboolean entire = FALSE;

      block = plain != NULL && pst_pgpinline_find (plain, len, &kind, &start, &end, &entire);
    }
  {
    gsize start = 0, end = 0;
    PstPgpInlineKind kind;
    gboolean entire = FALSE;

    block = block || pst_pgpinline_find (body, body_len, &kind, &start, &end, &entire);
  }

  if (ok && sink->judging && !sink->fallback)
    {
      g_autofree char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) body,
                                                         body_len);

      FUZZ_CHECK (!block || sink->scan.found,
                  "a %s text holding an inline block would be passed on as it is",
                  ctes[cte] != NULL ? ctes[cte] : "plain");
      FUZZ_CHECK (strcmp (pst_sha256_get_string (sink->body_sum), sum) == 0,
                  "the sum is not the body's");
    }
  return 0;
}
