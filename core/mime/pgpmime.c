#include "mime/pgpmime.h"

#include <libetpan/libetpan.h>
#include <string.h>

#include "crypto/pgp.h"
#include "mime/hp.h"
#include "mime/mime.h"
#include "mime/pgpinline.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/sink.h"

#define MAX_DEPTH 16

/* --- Small helpers -------------------------------------------------------- */

static gboolean
param_is (GHashTable *params, const char *name, const char *value)
{
  const char *v = g_hash_table_lookup (params, name);

  return v != NULL && g_ascii_strcasecmp (v, value) == 0;
}

/* The body of @part (after its header).  Transfer full. */
static GBytes *
part_body (GBytes *part)
{
  g_autoptr(GPtrArray) fields = NULL;
  gsize body = 0;

  if (!pst_mime_entity_split (part, &fields, &body))
    return g_bytes_ref (part);
  return g_bytes_new_from_bytes (part, body, g_bytes_get_size (part) - body);
}

/* --- Writing -------------------------------------------------------------- */

GBytes *
pst_pgpmime_protect (PstPgp *pgp, GBytes *message, const char *sender,
                     const char *const *recipients, gboolean encrypt, gboolean sign,
                     GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) entity = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) head = NULL;
  g_autofree char *boundary = NULL;
  g_autofree char *micalg = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
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

  pst_hp_add_missing_fields (fields, sender);
  entity = pst_hp_payload (fields, p + body_off, len - body_off, encrypt, !encrypt);
  if (encrypt)
    {
      g_autoptr(GPtrArray) to = g_ptr_array_new ();

      for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
        g_ptr_array_add (to, (gpointer) *r);
      g_ptr_array_add (to, (gpointer) sender);   /* encrypt to self; duplicates are merged */
      g_ptr_array_add (to, NULL);
      payload = pst_pgp_encrypt (pgp, entity, (const char *const *) to->pdata,
                                 sign ? sender : NULL, error);
    }
  else
    payload = pst_pgp_sign_detached (pgp, entity, sender, &micalg, error);
  if (payload == NULL)
    return NULL;

  boundary = pst_mime_new_boundary (entity, payload);

  /* The outer header; with encryption the Subject says only "..."
   * (DESIGN.md §10). */
  head = pst_hp_outer_header (fields, encrypt);
  g_string_append_len (out, g_bytes_get_data (head, NULL), g_bytes_get_size (head));

  if (encrypt)
    {
      g_autoptr(GBytes) armor = NULL;
      gsize alen = 0;
      const char *a;

      armor = pst_mime_to_crlf (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
      a = g_bytes_get_data (armor, &alen);
      g_string_append_printf (out,
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n"
        " boundary=\"%s\"\r\n"
        "\r\n"
        "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
        "--%s\r\n"
        "Content-Type: application/pgp-encrypted\r\n"
        "Content-Description: PGP/MIME version identification\r\n"
        "\r\n"
        "Version: 1\r\n"
        "\r\n"
        "--%s\r\n"
        "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
        "Content-Description: OpenPGP encrypted message\r\n"
        "Content-Disposition: inline; filename=\"encrypted.asc\"\r\n"
        "\r\n", boundary, boundary, boundary);
      g_string_append_len (out, a, alen);
      if (alen > 0 && a[alen - 1] != '\n')
        g_string_append (out, "\r\n");
      g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
    }
  else
    {
      g_autoptr(GBytes) sig = pst_mime_to_crlf (g_bytes_get_data (payload, NULL),
                                                g_bytes_get_size (payload));
      gsize slen = 0, elen = 0;
      const char *s = g_bytes_get_data (sig, &slen);
      const char *e = g_bytes_get_data (entity, &elen);

      g_string_append_printf (out,
        "Content-Type: multipart/signed; micalg=%s;\r\n"
        " protocol=\"application/pgp-signature\"; boundary=\"%s\"\r\n"
        "\r\n"
        "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n"
        "--%s\r\n", micalg, boundary, boundary);
      g_string_append_len (out, e, elen);
      g_string_append_printf (out,
        "\r\n--%s\r\n"
        "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
        "Content-Description: OpenPGP digital signature\r\n"
        "Content-Disposition: attachment; filename=\"signature.asc\"\r\n"
        "\r\n", boundary);
      g_string_append_len (out, s, slen);
      if (slen > 0 && s[slen - 1] != '\n')
        g_string_append (out, "\r\n");
      g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
    }
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

char **
pst_pgpmime_missing_keys (PstPgp *pgp, const char *const *recipients, GError **error)
{
  return pst_pgp_missing_keys (pgp, recipients, error);
}

/* --- Reading -------------------------------------------------------------- */

typedef struct {
  PstPgp *pgp;
  PstStatus *status;
  PstPgpSignature *sig;     /* the outermost signature layer */
  PstCovers sig_covers;
  GBytes *partial_plain;    /* the first decrypted part of a partially encrypted message */
  gsize budget;             /* what decryption may still yield (limit_output) */
  GError *busy;             /* a decryption found the process's shared budget
                             * held by others (util/sink.h): the reading
                             * fails, since no verdict was reached */
} OpenCtx;

/* Lets the next decryption or verification yield at most what is left of
 * the message's budget: all layers together, since a nested layer is
 * opened while the plaintext around it is still held. */
static void
limit_output (OpenCtx *c)
{
  pst_pgp_set_output_limit (c->pgp, c->budget);
}

static void
spend_output (OpenCtx *c, GBytes *plain)
{
  gsize n = plain != NULL ? g_bytes_get_size (plain) : 0;

  c->budget -= MIN (n, c->budget);
}

static void
record_signature (OpenCtx *c, PstPgpSignature *sig, PstCovers covers)
{
  if (c->sig != NULL)
    {
      /* Only the outermost layer speaks; a sibling in a multipart is no
       * more trusted than the first. */
      pst_status_add_warning (c->status, c->sig_covers == PST_COVERS_WHOLE ? "nested-signature"
                                                                          : "multiple-signatures");
      pst_pgp_signature_free (sig);
      return;
    }
  c->sig = sig;
  c->sig_covers = covers;
}

/* What OpenPGP signature @sig says, in the terms every scheme shares; a
 * layer with several signatures is said in @status's warnings. */
static void
signature_facts (PstStatus *status, const PstPgpSignature *sig, PstSignatureFacts *facts)
{
  if (sig->count > 1)
    pst_status_add_warning (status, "multiple-signatures");
  facts->status = sig->status;
  facts->addresses = sig->addresses;
  facts->fingerprint = sig->fingerprint;
  facts->signing_time = sig->created;
  facts->weak_digest = sig->weak_digest;
}

void
pst_pgpmime_set_signature (PstStatus *status, const PstPgpSignature *sig, PstCovers covers,
                           const char *from, gint64 date)
{
  PstSignatureFacts facts;

  signature_facts (status, sig, &facts);
  pst_status_set_signature (status, PST_SCHEME_PGP, &facts, covers, from, date);
}

/* A multipart/signed layer whose signature cannot even be looked at (DESIGN.md
 * §4: missing, empty, of the wrong type or an unknown protocol): an error,
 * so that stripping a signature never makes a message look unsigned. */
static PstPgpSignature *
malformed_signature (void)
{
  PstPgpSignature *sig = g_new0 (PstPgpSignature, 1);

  sig->status = PST_SIG_ERROR;
  return sig;
}

static void
record_decryption (OpenCtx *c, gboolean ok, gboolean too_large, PstIntegrity integrity,
                   PstCovers covers)
{
  PstStatus *st = c->status;

  st->scheme = PST_SCHEME_PGP;
  if (covers > st->encryption_covers)
    st->encryption_covers = covers;
  if (!ok)
    {
      /* A bomb anywhere in the message is what the reader must learn. */
      if (too_large || st->decryption != PST_DECRYPTION_TOO_LARGE)
        st->decryption = too_large ? PST_DECRYPTION_TOO_LARGE : PST_DECRYPTION_FAILED;
      if (integrity != PST_INTEGRITY_NONE || st->integrity == PST_INTEGRITY_OK)
        st->integrity = integrity;
    }
  else if (st->decryption != PST_DECRYPTION_FAILED && st->decryption != PST_DECRYPTION_TOO_LARGE)
    {
      st->decryption = PST_DECRYPTION_OK;
      if (st->integrity == PST_INTEGRITY_NONE)
        st->integrity = PST_INTEGRITY_OK;
    }
}

/* A decrypted part of a message that is not encrypted as a whole: kept to
 * be shown on its own (the first one only). */
static void
keep_partial (OpenCtx *c, GBytes *plain)
{
  if (c->partial_plain == NULL)
    c->partial_plain = g_bytes_ref (plain);
  else
    pst_status_add_warning (c->status, "several-encrypted-parts");
}

/* Inline PGP in a text/plain entity (read, never written).  It covers the
 * whole message only when the entity is the message body and the armored
 * block all of it; else a part, and then the opened text is shown alone,
 * like a decrypted part (encrypted), or not at all in place of the text
 * around it (signed: the entity is shown as received). */
static GBytes *
open_inline (OpenCtx *c, GBytes *entity, gboolean whole)
{
  PstPgpInlineResult r;
  PstCovers covers;
  GBytes *shown = NULL;

  limit_output (c);
  if (!pst_pgpinline_open (c->pgp, entity, &r))
    return g_bytes_ref (entity);
  if (pst_pgp_output_busy (c->pgp))
    {
      pst_sink_set_busy_error (&c->busy);
      pst_pgpinline_result_clear (&r);
      return g_bytes_ref (entity);
    }
  spend_output (c, r.entity);
  covers = whole && r.entire ? PST_COVERS_WHOLE : PST_COVERS_PART;
  pst_status_add_warning (c->status, "inline-pgp");
  if (r.kind == PST_PGP_INLINE_ENCRYPTED)
    {
      record_decryption (c, r.ok, r.too_large, r.integrity, covers);
      if (r.ok && covers == PST_COVERS_WHOLE)
        shown = g_bytes_ref (r.entity);
      else if (r.ok)
        keep_partial (c, r.entity);
    }
  else if (r.ok && covers == PST_COVERS_WHOLE)
    shown = g_bytes_ref (r.entity);
  if (r.sig != NULL && (r.sig->status != PST_SIG_NONE || r.kind == PST_PGP_INLINE_SIGNED))
    record_signature (c, g_steal_pointer (&r.sig), covers);
  pst_pgpinline_result_clear (&r);
  return shown != NULL ? shown : g_bytes_ref (entity);
}

/* What to display in place of @entity (transfer full; @entity itself when
 * nothing changes). */
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

  if (c->busy != NULL)
    return g_bytes_ref (entity);
  if (depth > MAX_DEPTH)
    {
      pst_status_add_warning (c->status, "too-deep");
      return g_bytes_ref (entity);
    }
  if (!pst_mime_entity_split (entity, &fields, &body))
    return g_bytes_ref (entity);
  type = pst_mime_entity_content_type (fields, &params);
  if (g_str_equal (type, "text/plain"))
    return open_inline (c, entity, whole);
  if (!g_str_has_prefix (type, "multipart/"))
    return g_bytes_ref (entity);
  spans = pst_mime_split_multipart (data + body, len - body, g_hash_table_lookup (params, "boundary"),
                                    NULL);
  if (spans == NULL || spans->len == 0)
    {
      if (g_str_equal (type, "multipart/signed")
          && !param_is (params, "protocol", "application/pkcs7-signature")
          && !param_is (params, "protocol", "application/x-pkcs7-signature"))
        record_signature (c, malformed_signature (), covers);
      return g_bytes_ref (entity);
    }

  if (g_str_equal (type, "multipart/encrypted")
      && param_is (params, "protocol", "application/pgp-encrypted") && spans->len >= 2)
    {
      g_autoptr(GBytes) part = pst_mime_span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, 1));
      g_autoptr(GBytes) cipher = part_body (part);
      g_autoptr(GBytes) plain = NULL;
      PstPgpSignature *sig = NULL;
      g_autoptr(GError) err = NULL;
      PstIntegrity integrity = PST_INTEGRITY_NONE;
      gboolean ok;
      GBytes *inner;

      limit_output (c);
      ok = pst_pgp_decrypt_verify (c->pgp, cipher, &plain, &sig, &integrity, &err);
      if (!ok && pst_pgp_output_busy (c->pgp))
        {
          c->busy = g_steal_pointer (&err);
          return g_bytes_ref (entity);
        }
      spend_output (c, plain);
      record_decryption (c, ok, !ok && pst_pgp_output_too_large (c->pgp), integrity, covers);
      if (!ok)
        return g_bytes_ref (entity);
      if (sig->status != PST_SIG_NONE)
        record_signature (c, sig, covers);
      else
        pst_pgp_signature_free (sig);
      inner = open_entity (c, plain, whole, depth + 1);
      if (whole)
        return inner;
      keep_partial (c, inner);
      g_bytes_unref (inner);
      return g_bytes_ref (entity);
    }

  if (g_str_equal (type, "multipart/signed")
      && !param_is (params, "protocol", "application/pkcs7-signature")
      && !param_is (params, "protocol", "application/x-pkcs7-signature"))
    {
      /* S/MIME aside (the S/MIME reader's, or not protected without one),
       * every multipart/signed is OpenPGP's to judge. */
      static const char *const sig_types[] = { "application/pgp-signature", NULL };
      g_autoptr(GBytes) content = pst_mime_span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, 0));
      g_autoptr(GBytes) sigdata = NULL;
      g_autoptr(GPtrArray) cfields = NULL;
      g_autofree char *ctype = NULL;
      gsize cbody = 0;
      GBytes *inner;

      if (param_is (params, "protocol", "application/pgp-signature"))
        sigdata = pst_mime_signature_part (entity, body, spans, sig_types);
      if (pst_mime_entity_split (content, &cfields, &cbody))
        ctype = pst_mime_entity_content_type (cfields, NULL);
      if (ctype != NULL && g_str_equal (ctype, "multipart/encrypted"))
        /* Encrypt-then-sign: the inner layers decide (DESIGN.md §4). */
        pst_status_add_warning (c->status, "outer-signature-ignored");
      else if (sigdata == NULL)
        record_signature (c, malformed_signature (), covers);
      else
        {
          g_autoptr(GBytes) canon = pst_mime_to_crlf (g_bytes_get_data (content, NULL),
                                                      g_bytes_get_size (content));

          record_signature (c, pst_pgp_verify_detached (c->pgp, canon, sigdata), covers);
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
      g_autoptr(GBytes) part = pst_mime_span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, i));
      g_autoptr(GBytes) inner = open_entity (c, part, FALSE, depth + 1);
    }
  return g_bytes_ref (entity);
}

gboolean
pst_pgpmime_open (PstPgp *pgp, GBytes *message, GBytes **plain_out,
                  PstStatus **status_out, GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(PstStatus) status = pst_status_new ();
  g_autoptr(GBytes) display = NULL;
  g_autoptr(GBytes) plain = NULL;
  PstSignatureFacts facts;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (message, &len);
  OpenCtx c = { 0 };

  if (p == NULL || !pst_mime_split_header (p, len, &fields, &body, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return FALSE;
    }
  c.pgp = pgp;
  c.status = status;
  c.budget = MAX (PST_DECRYPTION_MAX_OUTPUT, len);

  display = open_entity (&c, message, TRUE, 0);
  pst_pgp_set_output_limit (pgp, PST_DECRYPTION_MAX_OUTPUT);
  if (c.busy != NULL)
    {
      /* No verdict, not even a partial one: a status saying "failed" or
       * "too-large" here would be stored and shown as the message's. */
      g_clear_pointer (&c.sig, pst_pgp_signature_free);
      g_clear_pointer (&c.partial_plain, g_bytes_unref);
      g_propagate_error (error, c.busy);
      return FALSE;
    }
  if (c.partial_plain != NULL && status->encryption_covers != PST_COVERS_WHOLE)
    {
      /* Partially encrypted: the decrypted part alone, never next to the
       * unencrypted ones (EFAIL). */
      g_bytes_unref (display);
      display = g_bytes_ref (c.partial_plain);
    }

  if (c.sig != NULL)
    signature_facts (status, c.sig, &facts);
  plain = pst_hp_finish (status, PST_SCHEME_PGP, c.sig != NULL ? &facts : NULL, c.sig_covers,
                         fields, message, display, NULL);
  if (plain_out != NULL)
    *plain_out = g_steal_pointer (&plain);
  g_clear_pointer (&c.sig, pst_pgp_signature_free);
  g_clear_pointer (&c.partial_plain, g_bytes_unref);
  if (status_out != NULL)
    *status_out = g_steal_pointer (&status);
  return TRUE;
}
