/* smimemime.c — S/MIME (RFC 8551) messages on top of crypto/smime.h: the
 * MIME structure around CMS objects, header protection (hp.h), and the
 * verdict of DESIGN.md §4 (see smimemime.h for the choices made for
 * S/MIME).
 */
#include "mime/smimemime.h"

#include <string.h>

#include "crypto/smime.h"
#include "mime/hp.h"
#include "mime/mime.h"
#include "util/addr.h"
#include "util/error.h"

#define MAX_DEPTH 16

/* --- Writing -------------------------------------------------------------- */

/* Base64 in lines of 76 characters, CRLF. */
static void
append_base64 (GString *out, GBytes *der)
{
  gsize len = 0;
  const guchar *p = g_bytes_get_data (der, &len);
  g_autofree char *b64 = g_base64_encode (p, len);
  gsize blen = strlen (b64);

  for (gsize i = 0; i < blen; i += 76)
    {
      g_string_append_len (out, b64 + i, MIN (76, blen - i));
      g_string_append (out, "\r\n");
    }
}

static GBytes *
signed_entity (GBytes *entity, GBytes *sig, const char *micalg)
{
  g_autofree char *boundary = pst_mime_new_boundary (entity, NULL);
  GString *s = g_string_new (NULL);
  gsize elen = 0;
  const char *e = g_bytes_get_data (entity, &elen);

  g_string_append_printf (s,
    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
    " micalg=%s; boundary=\"%s\"\r\n"
    "\r\n"
    "This is an S/MIME signed message (RFC 8551)\r\n"
    "--%s\r\n", micalg, boundary, boundary);
  g_string_append_len (s, e, elen);
  g_string_append_printf (s,
    "\r\n--%s\r\n"
    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
    "Content-Description: S/MIME Cryptographic Signature\r\n"
    "\r\n", boundary);
  append_base64 (s, sig);
  g_string_append_printf (s, "\r\n--%s--\r\n", boundary);
  return g_string_free_to_bytes (s);
}

/* @recipients (NULL-terminated, may be NULL) and @sender, as a
 * NULL-terminated array of borrowed strings.  Transfer container. */
static GPtrArray *
recipients_and_self (const char *const *recipients, const char *sender)
{
  GPtrArray *to = g_ptr_array_new_null_terminated (0, NULL, TRUE);

  for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
    g_ptr_array_add (to, (gpointer) *r);
  g_ptr_array_add (to, (gpointer) sender);
  return to;
}

GBytes *
pst_smimemime_protect (PstSmime *smime, GBytes *message, const char *sender,
                       const char *const *recipients, gboolean encrypt, gboolean sign,
                       GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GPtrArray) to = NULL;
  g_autoptr(GBytes) entity = NULL;
  g_autoptr(GBytes) head = NULL;
  GString *out;
  gsize len = 0, body_off = 0;
  const char *p = g_bytes_get_data (message, &len);

  if (!encrypt && !sign)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "nothing to do: neither encryption nor signature asked for");
      return NULL;
    }
  if (p == NULL || !pst_mime_split_header (p, len, &fields, &body_off, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return NULL;
    }
  if (sender == NULL || strchr (sender, '@') == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no sender address");
      return NULL;
    }

  /* Every refusal before any work: recipients (and self) first, then the
   * signing identity. */
  to = recipients_and_self (recipients, sender);   /* encrypt to self */
  if (encrypt)
    {
      g_auto(GStrv) missing = pst_smime_missing_certs (smime, (const char *const *) to->pdata, error);

      if (missing == NULL)
        return NULL;
      if (missing[0] != NULL)
        {
          g_autofree char *list = g_strjoinv (", ", missing);

          g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no S/MIME certificate for: %s", list);
          return NULL;
        }
    }
  if (sign && !pst_smime_has_identity (smime, sender))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no S/MIME identity for: %s", sender);
      return NULL;
    }

  pst_hp_add_missing_fields (fields, sender);
  entity = pst_hp_payload (fields, p + body_off, len - body_off, encrypt, sign);
  if (sign)
    {
      g_autofree char *micalg = NULL;
      g_autoptr(GBytes) sig = pst_smime_sign (smime, entity, sender, &micalg, error);
      GBytes *signed_part;

      if (sig == NULL)
        return NULL;
      signed_part = signed_entity (entity, sig, micalg);
      g_bytes_unref (entity);
      entity = signed_part;
    }
  if (encrypt)
    {
      g_autoptr(GBytes) der = NULL;
      gboolean gcm = FALSE;
      GString *e;

      der = pst_smime_encrypt (smime, entity, (const char *const *) to->pdata, &gcm, error);
      if (der == NULL)
        return NULL;
      e = g_string_new (NULL);
      g_string_append_printf (e,
        "Content-Type: application/pkcs7-mime; smime-type=%s;\r\n"
        " name=\"smime.p7m\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n"
        "Content-Description: S/MIME Encrypted Message\r\n"
        "\r\n", gcm ? "authEnveloped-data" : "enveloped-data");
      append_base64 (e, der);
      g_bytes_unref (entity);
      entity = g_string_free_to_bytes (e);
    }

  /* The outer header; with encryption the Subject says only "..."
   * (DESIGN.md §10). */
  head = pst_hp_outer_header (fields, encrypt);
  out = g_string_sized_new (g_bytes_get_size (head) + g_bytes_get_size (entity));
  g_string_append_len (out, g_bytes_get_data (head, NULL), g_bytes_get_size (head));
  g_string_append_len (out, g_bytes_get_data (entity, NULL), g_bytes_get_size (entity));
  return g_string_free_to_bytes (out);
}

/* --- Reading -------------------------------------------------------------- */

typedef struct {
  PstSmime *smime;
  PstStatus *status;
  PstSmimeSignature *sig;     /* the outermost signature layer */
  PstCovers sig_covers;
  gboolean integrity_by_aead; /* an AuthEnvelopedData tag checked */
  gboolean integrity_by_sig;  /* a CBC layer vouched for by the signature inside it */
} OpenCtx;

static gboolean
is_pkcs7_mime (const char *type)
{
  return g_str_equal (type, "application/pkcs7-mime") || g_str_equal (type, "application/x-pkcs7-mime");
}

static gboolean
is_pkcs7_signature (const char *value)
{
  return value != NULL && (g_ascii_strcasecmp (value, "application/pkcs7-signature") == 0
                           || g_ascii_strcasecmp (value, "application/x-pkcs7-signature") == 0);
}

/* The DER of a body part carrying CMS: base64 unless it says binary. */
static GBytes *
part_der (GPtrArray *fields, GBytes *entity, gsize body)
{
  const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;
  gsize len = 0;
  const char *p = g_bytes_get_data (entity, &len);

  if (cte != NULL && (g_ascii_strcasecmp (cte, "binary") == 0 || g_ascii_strcasecmp (cte, "8bit") == 0))
    return g_bytes_new_from_bytes (entity, body, len - body);
  {
    g_autofree char *text = g_strndup (p + body, len - body);
    gsize dlen = 0;
    guchar *der = g_base64_decode (text, &dlen);

    return g_bytes_new_take (der, dlen);
  }
}

/* Whether @entity is an S/MIME encryption layer. */
static gboolean
entity_is_encrypted (GBytes *entity)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) der = NULL;
  g_autofree char *type = NULL;
  PstSmimeCmsType t;
  gsize body = 0;

  if (!pst_mime_entity_split (entity, &fields, &body))
    return FALSE;
  type = pst_mime_entity_content_type (fields, NULL);
  if (g_str_equal (type, "multipart/encrypted"))
    return TRUE;
  if (!is_pkcs7_mime (type))
    return FALSE;
  der = part_der (fields, entity, body);
  t = pst_smime_cms_type (der);
  return t == PST_SMIME_CMS_ENVELOPED || t == PST_SMIME_CMS_AUTH_ENVELOPED;
}

/* Keeps @sig (transfer full) when it is the first signature layer met; the
 * verdict waits for the From and Date the reader is shown
 * (finish_signature). */
static void
record_signature (OpenCtx *c, PstSmimeSignature *sig, PstCovers covers)
{
  if (c->sig != NULL)
    {
      pst_status_add_warning (c->status, c->sig_covers == PST_COVERS_WHOLE ? "nested-signature"
                                                                          : "multiple-signatures");
      pst_smime_signature_free (sig);
      return;
    }
  c->sig = sig;
  c->sig_covers = covers;
}

/* What the S/MIME signature @sig says, in the terms every scheme shares;
 * what only CMS can say goes to @st's warnings. */
static void
signature_facts (PstStatus *st, const PstSmimeSignature *sig, PstSignatureFacts *facts)
{
  if (sig->signer_count > 1)
    pst_status_add_warning (st, "multiple-signers");
  else if (sig->signer_count == 0 && sig->status != PST_SIG_ERROR)
    pst_status_add_warning (st, "no-signer");
  if (sig->econtent_mismatch)
    pst_status_add_warning (st, "econtent-mismatch");
  facts->status = sig->status;
  facts->addresses = sig->addresses;
  facts->fingerprint = sig->fingerprint;
  facts->signing_time = sig->signing_time;
  facts->weak_digest = sig->weak_digest;
}

/* A multipart/signed whose signature part is missing, empty or of the
 * wrong type (DESIGN.md §4): an error, never "none". */
static PstSmimeSignature *
malformed_signature (void)
{
  PstSmimeSignature *sig = g_new0 (PstSmimeSignature, 1);

  sig->status = PST_SIG_ERROR;
  return sig;
}

static GBytes *open_entity (OpenCtx *c, GBytes *entity, gboolean whole, int depth);

static GBytes *
open_enveloped (OpenCtx *c, GBytes *entity, GBytes *der, gboolean whole, int depth)
{
  PstStatus *st = c->status;
  PstCovers covers = whole ? PST_COVERS_WHOLE : PST_COVERS_PART;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GError) err = NULL;
  PstIntegrity integrity = PST_INTEGRITY_NONE;
  gboolean signed_before = c->sig != NULL;
  GBytes *inner;

  st->scheme = PST_SCHEME_SMIME;
  if (covers > st->encryption_covers)
    st->encryption_covers = covers;
  if (!pst_smime_decrypt (c->smime, der, &plain, &integrity, &err))
    {
      st->decryption = PST_DECRYPTION_FAILED;
      if (integrity == PST_INTEGRITY_FAILED)
        st->integrity = PST_INTEGRITY_FAILED;
      /* The one PST_ERROR_POLICY of pst_smime_decrypt: the key is locked;
       * keys.unlock analyses such mail again. */
      if (g_error_matches (err, PST_ERROR, PST_ERROR_POLICY))
        pst_status_add_warning (st, "key-locked");
      return g_bytes_ref (entity);
    }
  if (st->decryption != PST_DECRYPTION_FAILED)
    st->decryption = PST_DECRYPTION_OK;
  inner = open_entity (c, plain, whole, depth + 1);
  if (st->integrity != PST_INTEGRITY_FAILED)
    {
      if (integrity == PST_INTEGRITY_OK)
        {
          st->integrity = PST_INTEGRITY_OK;
          c->integrity_by_aead = TRUE;
        }
      else if (!signed_before && c->sig != NULL && c->sig->status == PST_SIG_GOOD)
        {
          st->integrity = PST_INTEGRITY_OK;
          c->integrity_by_sig = TRUE;
        }
      else if (st->integrity != PST_INTEGRITY_OK)
        st->integrity = PST_INTEGRITY_NONE;
    }
  if (whole)
    return inner;
  g_bytes_unref (inner);
  return g_bytes_ref (entity);
}

static GBytes *
open_entity (OpenCtx *c, GBytes *entity, gboolean whole, int depth)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GArray) spans = NULL;
  g_autofree char *type = NULL;
  PstCovers covers = whole ? PST_COVERS_WHOLE : PST_COVERS_PART;
  gsize body = 0, len = 0;
  const char *data = g_bytes_get_data (entity, &len);

  if (depth > MAX_DEPTH)
    {
      pst_status_add_warning (c->status, "too-deep");
      return g_bytes_ref (entity);
    }
  if (!pst_mime_entity_split (entity, &fields, &body))
    return g_bytes_ref (entity);
  type = pst_mime_entity_content_type (fields, &params);

  if (is_pkcs7_mime (type))
    {
      g_autoptr(GBytes) der = part_der (fields, entity, body);
      PstSmimeCmsType t = pst_smime_cms_type (der);

      if (t == PST_SMIME_CMS_ENVELOPED || t == PST_SMIME_CMS_AUTH_ENVELOPED)
        return open_enveloped (c, entity, der, whole, depth);
      if (t == PST_SMIME_CMS_COMPRESSED)
        {
          /* Shown as received, and said, rather than silently passed. */
          c->status->scheme = PST_SCHEME_SMIME;
          pst_status_add_warning (c->status, "compressed-not-opened");
          return g_bytes_ref (entity);
        }
      if (t == PST_SMIME_CMS_SIGNED)
        {
          g_autoptr(GBytes) econtent = NULL;
          g_autoptr(PstSmimeSignature) sig = pst_smime_verify (c->smime, der, NULL, &econtent);
          GBytes *inner;

          if (econtent == NULL)
            {
              record_signature (c, g_steal_pointer (&sig), covers);
              return g_bytes_ref (entity);
            }
          if (entity_is_encrypted (econtent))
            pst_status_add_warning (c->status, "outer-signature-ignored");
          else
            record_signature (c, g_steal_pointer (&sig), covers);
          inner = open_entity (c, econtent, whole, depth + 1);
          if (whole)
            return inner;
          g_bytes_unref (inner);
        }
      return g_bytes_ref (entity);
    }

  if (!g_str_has_prefix (type, "multipart/"))
    return g_bytes_ref (entity);
  spans = pst_mime_split_multipart (data + body, len - body, g_hash_table_lookup (params, "boundary"),
                                    NULL);
  if (spans == NULL || spans->len == 0)
    {
      if (g_str_equal (type, "multipart/signed"))
        record_signature (c, malformed_signature (), covers);
      return g_bytes_ref (entity);
    }

  if (g_str_equal (type, "multipart/signed"))
    {
      /* In a message read as S/MIME every multipart/signed is CMS's to
       * judge; one whose protocol or signature part is not is malformed. */
      static const char *const sig_types[] = { "application/pkcs7-signature",
                                               "application/x-pkcs7-signature", NULL };
      g_autoptr(GBytes) content = pst_mime_span_bytes (entity, body,
                                                       &g_array_index (spans, PstMimeSpan, 0));
      g_autoptr(GBytes) part = NULL;
      GBytes *inner;

      if (is_pkcs7_signature (g_hash_table_lookup (params, "protocol")))
        part = pst_mime_signature_part (entity, body, spans, sig_types);
      if (entity_is_encrypted (content))
        pst_status_add_warning (c->status, "outer-signature-ignored");
      else if (part == NULL)
        record_signature (c, malformed_signature (), covers);
      else
        {
          g_autoptr(GBytes) spart = pst_mime_span_bytes (entity, body,
                                                         &g_array_index (spans, PstMimeSpan, 1));
          g_autoptr(GPtrArray) sfields = NULL;
          g_autoptr(GBytes) der = NULL;
          g_autoptr(GBytes) canon = pst_mime_to_crlf (g_bytes_get_data (content, NULL),
                                                      g_bytes_get_size (content));
          gsize sbody = 0;

          if (pst_mime_entity_split (spart, &sfields, &sbody))
            der = part_der (sfields, spart, sbody);
          record_signature (c, pst_smime_verify (c->smime, der, canon, NULL), covers);
        }
      inner = open_entity (c, content, whole, depth + 1);
      if (whole)
        return inner;
      g_bytes_unref (inner);
      return g_bytes_ref (entity);
    }

  /* Any other multipart: whatever is inside covers a part only, and is
   * never merged with its unprotected siblings for display. */
  for (guint i = 0; i < spans->len; i++)
    {
      g_autoptr(GBytes) part = pst_mime_span_bytes (entity, body,
                                                    &g_array_index (spans, PstMimeSpan, i));
      g_autoptr(GBytes) inner = open_entity (c, part, FALSE, depth + 1);
    }
  return g_bytes_ref (entity);
}

gboolean
pst_smimemime_open (PstSmime *smime, GBytes *message, GBytes **plain_out,
                    PstStatus **status_out, GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(PstStatus) status = pst_status_new ();
  g_autoptr(GBytes) display = NULL;
  g_autoptr(GBytes) plain = NULL;
  PstSignatureFacts facts;
  PstSigStatus verdict = PST_SIG_NONE;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (message, &len);
  OpenCtx c = { 0 };

  if (p == NULL || !pst_mime_split_header (p, len, &fields, &body, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return FALSE;
    }
  c.smime = smime;
  c.status = status;

  display = open_entity (&c, message, TRUE, 0);

  if (c.sig != NULL)
    signature_facts (status, c.sig, &facts);
  plain = pst_hp_finish (status, PST_SCHEME_SMIME, c.sig != NULL ? &facts : NULL, c.sig_covers,
                         fields, message, display, &verdict);
  /* CBC has no MAC: only a signature that stays good vouches for it. */
  if (c.integrity_by_sig && !c.integrity_by_aead && verdict != PST_SIG_GOOD
      && status->integrity == PST_INTEGRITY_OK)
    status->integrity = PST_INTEGRITY_NONE;
  if (plain_out != NULL)
    *plain_out = g_steal_pointer (&plain);
  g_clear_pointer (&c.sig, pst_smime_signature_free);
  if (status_out != NULL)
    *status_out = g_steal_pointer (&status);
  return TRUE;
}
