/* smimestream.c — S/MIME messages written as streams (see smimestream.h).
 * The structure follows smimemime.c's pst_smimemime_protect, whose pieces
 * it shares. */
#include "mime/smimestream.h"

#include <string.h>

#include "crypto/smime.h"
#include "mime/converters.h"
#include "mime/hp.h"
#include "mime/mime.h"
#include "mime/opensink.h"
#include "mime/pgpstream.h"
#include "mime/smimemime.h"
#include "mime/smimeread.h"
#include "util/error.h"

gboolean
pst_smimemime_can_protect_stream (GBytes *header, gboolean sign, gboolean *scan_out)
{
  /* The same conditions as OpenPGP's: pst_mime_build_entity decides. */
  return sign ? pst_pgpmime_can_sign_stream (header, scan_out)
              : pst_pgpmime_can_protect_stream (header, scan_out);
}

static gboolean
write_str (GOutputStream *out, const char *s, GError **error)
{
  return g_output_stream_write_all (out, s, strlen (s), NULL, NULL, error);
}

static gboolean
write_bytes (GOutputStream *out, GBytes *b, GError **error)
{
  return g_output_stream_write_all (out, g_bytes_get_data (b, NULL), g_bytes_get_size (b), NULL,
                                    NULL, error);
}

/* The entity (@entity_head, then the body CRLF-normalised, quoted-printable
 * when @qp) to @target, inside a multipart/signed when @signer (writing to
 * @target) is given. */
static gboolean
write_entity (GInputStream *message, GBytes *entity_head, gboolean qp, GOutputStream *target,
              GOutputStream *signer, const char *micalg, GError **error)
{
  g_autoptr(GInputStream) plain = pst_pgpstream_entity_input (message, entity_head, qp);
  g_autofree char *boundary = NULL;
  g_autofree char *intro = NULL;
  g_autofree char *outro = NULL;
  g_autoptr(GBytes) sig = NULL;

  if (signer == NULL)
    return g_output_stream_splice (target, plain, G_OUTPUT_STREAM_SPLICE_NONE, NULL, error) >= 0;
  boundary = pst_mime_new_boundary (NULL, NULL);
  intro = pst_smimemime_signed_intro (micalg, boundary);
  if (!write_str (target, intro, error)
      || g_output_stream_splice (signer, plain, G_OUTPUT_STREAM_SPLICE_NONE, NULL, error) < 0
      || !(sig = pst_smime_sign_stream_finish (signer, error)))
    return FALSE;
  outro = pst_smimemime_signed_outro (boundary, sig);
  return write_str (target, outro, error);
}

gboolean
pst_smimemime_protect_stream (PstSmime *smime, GInputStream *message, GOutputStream *out,
                              const char *sender, const char *const *recipients,
                              gboolean encrypt, gboolean sign, const PstBodyScan *body,
                              GError **error)
{
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GPtrArray) to = g_ptr_array_new ();
  g_autoptr(GBytes) entity_head = NULL;
  g_autoptr(GBytes) outer = NULL;
  g_autoptr(PstBase64Converter) b64_conv = NULL;
  g_autoptr(GOutputStream) b64 = NULL;
  g_autoptr(GOutputStream) enc = NULL;
  g_autoptr(GOutputStream) signer = NULL;
  g_autofree char *enveloped_head = NULL;
  const char *micalg = NULL;
  gboolean scan = FALSE, gcm = FALSE, can, qp = FALSE;
  gsize len = 0, body_off = 0;
  const char *p;

  if (!encrypt && !sign)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "nothing to do: neither encryption nor signature asked for");
      return FALSE;
    }
  if (!(header = pst_pgpstream_peek_header (message, error)))
    return FALSE;
  p = g_bytes_get_data (header, &len);
  if (len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return FALSE;
    }
  if (!pst_mime_split_header (p, len, &fields, &body_off, error))
    return FALSE;
  can = pst_smimemime_can_protect_stream (header, sign, &scan);
  if (!pst_pgpstream_check_input (can, scan, body, sender, "S/MIME", error))
    return FALSE;
  for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
    g_ptr_array_add (to, (gpointer) *r);
  g_ptr_array_add (to, (gpointer) sender);   /* encrypt to self; duplicates are merged */
  g_ptr_array_add (to, NULL);
  if (!pst_smimemime_check_keys (smime, (const char *const *) to->pdata, sender, encrypt, sign,
                                 error))
    return FALSE;

  /* The CMS streams before anything is written: a locked key fails here. */
  if (encrypt)
    {
      b64_conv = pst_base64_converter_new ();
      b64 = g_converter_output_stream_new (out, G_CONVERTER (b64_conv));
      g_filter_output_stream_set_close_base_stream (G_FILTER_OUTPUT_STREAM (b64), FALSE);
      if (!(enc = pst_smime_encrypt_stream_new (smime, (const char *const *) to->pdata, b64, &gcm,
                                                error)))
        return FALSE;
    }
  if (sign && !(signer = pst_smime_sign_stream_new (smime, sender, encrypt ? enc : out, &micalg,
                                                    error)))
    return FALSE;
  if (g_input_stream_skip (message, len, NULL, error) < 0)
    return FALSE;

  pst_hp_add_missing_fields (fields, sender);
  /* The entity's header (7-bit when signing), before the body: what it
   * depends on in the body is in @body. */
  entity_head = pst_hp_payload_head (fields, encrypt, sign, body, &qp);
  outer = pst_hp_outer_header (fields, encrypt);
  if (!write_bytes (out, outer, error))
    return FALSE;
  if (encrypt)
    {
      enveloped_head = pst_smimemime_enveloped_head (gcm);
      if (!write_str (out, enveloped_head, error))
        return FALSE;
    }
  if (!write_entity (message, entity_head, qp, encrypt ? enc : out, signer, micalg, error))
    return FALSE;
  return !encrypt
         || (g_output_stream_close (enc, NULL, error) && g_output_stream_close (b64, NULL, error));
}

/* --- Reading -------------------------------------------------------------------- */

typedef struct {
  PstSmimeMessageReopen reopen;
  gpointer data;
  gsize header_len;
  gboolean base64;
} DerSource;

/* The CMS object of the message: its body, base64-decoded. */
static GInputStream *
reopen_der (gpointer data, GError **error)
{
  DerSource *src = data;
  g_autoptr(GInputStream) message = src->reopen (src->data, error);
  g_autoptr(PstBase64DecodeConverter) conv = NULL;

  if (message == NULL || g_input_stream_skip (message, src->header_len, NULL, error) < 0)
    return NULL;
  if (!src->base64)
    return g_steal_pointer (&message);
  conv = pst_base64_decode_converter_new ();
  return g_converter_input_stream_new (message, G_CONVERTER (conv));
}

gboolean
pst_smimemime_open_stream (PstSmime *smime, GInputStream *message, PstSmimeMessageReopen reopen,
                           gpointer reopen_data, GOutputStream *plain_out, PstStatus **status_out,
                           gboolean *streamable_out, GError **error)
{
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(PstStatus) status = NULL;
  g_autoptr(PstOpenSink) sink = NULL;
  g_autoptr(PstSmimeDecryptor) decryptor = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *type = NULL;
  g_autofree char *cte = NULL;
  const char *cte_field;
  PstIntegrity integrity = PST_INTEGRITY_NONE;
  DerSource src = { reopen, reopen_data, 0, FALSE };
  gsize len = 0, body = 0;
  gboolean io_failed = FALSE;
  const char *p;
  gboolean ok;

  *streamable_out = FALSE;
  if (!(header = pst_pgpstream_peek_header (message, error)))
    return FALSE;
  p = g_bytes_get_data (header, &len);
  if (len == 0 || !pst_mime_split_header (p, len, &fields, &body, NULL))
    return TRUE;
  type = pst_mime_entity_content_type (fields, NULL);
  if (!g_str_equal (type, "application/pkcs7-mime") && !g_str_equal (type, "application/x-pkcs7-mime"))
    return TRUE;
  cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
  cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;
  if (cte == NULL)
    return TRUE;
  src.base64 = g_ascii_strcasecmp (cte, "base64") == 0;
  if (!src.base64 && g_ascii_strcasecmp (cte, "binary") != 0 && g_ascii_strcasecmp (cte, "8bit") != 0)
    return TRUE;
  src.header_len = len;

  /* What surrounds the content, read once for every decryption below. */
  if (!(decryptor = pst_smime_decryptor_new (smime, reopen_der, &src, NULL, &io_failed, &local)))
    {
      if (!io_failed)
        return TRUE;   /* the in-memory reader says what it says */
      /* The input failed: the call's error, not the message's. */
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  status = pst_status_new ();
  sink = pst_open_sink_new (plain_out, fields, status, NULL);
  /* A leaf the sink takes carries no signature (a signed entity is no
   * leaf: smimeread.h reads it): the header shown is the unsigned one. */
  pst_open_sink_set_signer (sink, NULL);
  ok = pst_smime_decryptor_run (decryptor, G_OUTPUT_STREAM (sink), &integrity, &local);
  if (sink->fallback)
    /* A signature inside, text/plain, ...: read twice by smimeread.h, or
     * else in memory. */
    return pst_smimeread_open_decrypted (decryptor, fields, plain_out, status_out, streamable_out,
                                         error);
  if (!ok && local != NULL
      && (pst_smime_decryptor_io_failed (decryptor) || local->domain != PST_ERROR))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!sink->passing)
    return TRUE;   /* the in-memory reader says what it says */
  status->scheme = PST_SCHEME_SMIME;
  status->encryption_covers = PST_COVERS_WHOLE;
  status->integrity = integrity;
  if (!ok)
    {
      status->decryption = PST_DECRYPTION_FAILED;
      status->protected_headers = FALSE;
    }
  *streamable_out = TRUE;
  if (status_out != NULL)
    *status_out = g_steal_pointer (&status);
  return TRUE;
}
