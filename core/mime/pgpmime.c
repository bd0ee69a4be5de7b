#include "mime/pgpmime.h"

#include <string.h>

#include "crypto/pgp.h"
#include "mime/hp.h"
#include "mime/mime.h"
#include "mime/pgpinline.h"
#include "mime/reader-backend.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/sink.h"

/* --- Writing -------------------------------------------------------------- */

char *
pst_pgpmime_signed_intro (const char *micalg, const char *boundary)
{
  return g_strdup_printf (
    "Content-Type: multipart/signed; micalg=%s;\r\n"
    " protocol=\"application/pgp-signature\"; boundary=\"%s\"\r\n"
    "\r\n"
    "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n"
    "--%s\r\n", micalg, boundary, boundary);
}

char *
pst_pgpmime_signed_outro (const char *boundary, GBytes *signature)
{
  g_autoptr(GBytes) sig = pst_mime_to_crlf (g_bytes_get_data (signature, NULL),
                                            g_bytes_get_size (signature));
  gsize slen = 0;
  const char *s = g_bytes_get_data (sig, &slen);
  GString *out = g_string_new (NULL);

  g_string_append_printf (out,
    "\r\n--%s\r\n"
    "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
    "Content-Description: OpenPGP digital signature\r\n"
    "Content-Disposition: attachment; filename=\"signature.asc\"\r\n"
    "\r\n", boundary);
  g_string_append_len (out, s, (gssize) slen);
  if (slen > 0 && s[slen - 1] != '\n')
    g_string_append (out, "\r\n");
  g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
  return g_string_free (out, FALSE);
}

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
      g_autofree char *intro = pst_pgpmime_signed_intro (micalg, boundary);
      g_autofree char *outro = pst_pgpmime_signed_outro (boundary, payload);

      g_string_append (out, intro);
      g_string_append_len (out, g_bytes_get_data (entity, NULL), g_bytes_get_size (entity));
      g_string_append (out, outro);
    }
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

char **
pst_pgpmime_missing_keys (PstPgp *pgp, const char *const *recipients, GError **error)
{
  return pst_pgp_missing_keys (pgp, recipients, error);
}

/* --- The multipart/encrypted layer (RFC 3156 §4) ---------------------------- */

const char *
pst_pgpmime_encrypted_boundary (const char *type, GHashTable *params)
{
  const char *protocol = params != NULL ? g_hash_table_lookup (params, "protocol") : NULL;
  const char *boundary = params != NULL ? g_hash_table_lookup (params, "boundary") : NULL;

  if (g_strcmp0 (type, "multipart/encrypted") != 0 || protocol == NULL
      || g_ascii_strcasecmp (protocol, "application/pgp-encrypted") != 0
      || boundary == NULL || *boundary == '\0' || strlen (boundary) > PST_PGPMIME_MAX_BOUNDARY)
    return NULL;
  return boundary;
}

gboolean
pst_pgpmime_cipher_start (const char *part, gsize len, gsize *start_out)
{
  g_autoptr(GPtrArray) fields = NULL;

  if (len > 0 && part[0] == '\n')
    return *start_out = 1, TRUE;
  if (len > 1 && part[0] == '\r' && part[1] == '\n')
    return *start_out = 2, TRUE;
  return part != NULL && pst_mime_split_header (part, len, &fields, start_out, NULL);
}

/* --- Reading: the OpenPGP back-end of mime/reader.c ----------------------- */

/* What OpenPGP signature @sig says, in the terms every scheme shares; a
 * layer with several signatures is said in @status's warnings. */
static void
pgp_facts (gpointer sig_, PstStatus *status, PstSignatureFacts *facts)
{
  PstPgpSignature *sig = sig_;

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

  pgp_facts ((gpointer) sig, status, &facts);
  pst_status_set_signature (status, PST_SCHEME_PGP, &facts, covers, from, date);
}

static PstPgpSignature *
error_signature (void)
{
  PstPgpSignature *sig = g_new0 (PstPgpSignature, 1);

  sig->status = PST_SIG_ERROR;
  return sig;
}

/* Inline PGP in a text/plain entity (read, never written): the block
 * covers a part unless it is all of the body; the opened text is not
 * looked into further. */
static gboolean
open_inline (PstPgp *pgp, const PstReaderEntity *e, PstReaderLayer *l)
{
  PstPgpInlineResult r;

  if (pgp == NULL)
    {
      gsize len = 0, start = 0, end = 0;
      const char *p = g_bytes_get_data (e->bytes, &len);
      PstPgpInlineKind kind;
      gboolean entire = FALSE;

      /* No OpenPGP here: the block is recognised, and opens nothing. */
      if (!pst_pgpinline_find (p + e->body, len - e->body, &kind, &start, &end, &entire))
        return FALSE;
      l->encrypted = kind == PST_PGP_INLINE_ENCRYPTED;
      l->partial_entity = !entire;
      l->sig = l->encrypted ? NULL : error_signature ();
      l->warning = "inline-pgp";
      return TRUE;
    }
  if (!pst_pgpinline_open (pgp, e->bytes, &r))
    return FALSE;
  if (pst_pgp_output_busy (pgp))
    {
      pst_pgpinline_result_clear (&r);
      l->busy = TRUE;
      pst_sink_set_busy_error (&l->error);
      return TRUE;
    }
  l->encrypted = r.kind == PST_PGP_INLINE_ENCRYPTED;
  l->ok = r.ok;
  l->too_large = r.too_large;
  l->integrity = r.ok && l->encrypted ? PST_INTEGRITY_OK : r.integrity;
  l->partial_entity = !r.entire;
  l->limited = TRUE;
  l->content = g_steal_pointer (&r.entity);
  l->warning = "inline-pgp";
  if (r.sig != NULL && (r.sig->status != PST_SIG_NONE || r.kind == PST_PGP_INLINE_SIGNED))
    l->sig = g_steal_pointer (&r.sig);
  pst_pgpinline_result_clear (&r);
  return TRUE;
}

static gboolean
open_encrypted (PstPgp *pgp, const PstReaderEntity *e, PstReaderLayer *l)
{
  g_autoptr(GArray) spans = NULL;
  g_autoptr(GBytes) part = NULL;
  g_autoptr(GBytes) cipher = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GError) err = NULL;
  PstPgpSignature *sig = NULL;
  const char *boundary = pst_pgpmime_encrypted_boundary (e->type, e->params);
  gsize len = 0, start = 0;
  const char *data = g_bytes_get_data (e->bytes, &len);

  if (boundary == NULL)
    return FALSE;
  spans = pst_mime_split_multipart (data + e->body, len - e->body, boundary, NULL);
  if (spans == NULL || spans->len < 2)
    return FALSE;
  part = pst_mime_span_bytes (e->bytes, e->body, &g_array_index (spans, PstMimeSpan, 1));
  {
    gsize plen = 0;
    const char *pp = g_bytes_get_data (part, &plen);

    /* A second part without a header section: all of it is the OpenPGP data. */
    if (!pst_pgpmime_cipher_start (pp, plen, &start))
      start = 0;
    cipher = g_bytes_new_from_bytes (part, start, plen - start);
  }
  l->encrypted = TRUE;
  l->descend = TRUE;
  l->limited = TRUE;
  if (pgp == NULL)
    return TRUE;
  l->ok = pst_pgp_decrypt_verify (pgp, cipher, &plain, &sig, &l->integrity, &err);
  if (!l->ok && pst_pgp_output_busy (pgp))
    {
      l->busy = TRUE;
      l->error = g_steal_pointer (&err);
      return TRUE;
    }
  l->too_large = !l->ok && pst_pgp_output_too_large (pgp);
  if (!l->ok)
    return TRUE;
  l->content = g_steal_pointer (&plain);
  if (sig->status != PST_SIG_NONE)
    l->sig = sig;
  else
    pst_pgp_signature_free (sig);
  return TRUE;
}

static gboolean
pgp_open (gpointer ctx, const PstReaderEntity *e, gsize limit, PstReaderLayer *l)
{
  PstPgp *pgp = ctx;

  /* Each decryption may yield what is left of the message's budget: all
   * layers together, since a nested layer is opened while the plaintext
   * around it is still held. */
  if (pgp != NULL)
    pst_pgp_set_output_limit (pgp, limit);
  if (g_str_equal (e->type, "text/plain"))
    return open_inline (pgp, e, l);
  return open_encrypted (pgp, e, l);
}

static gpointer
pgp_verify_detached (gpointer ctx, GBytes *content, GBytes *sig_part, GBytes *sig_body)
{
  (void) sig_part;
  if (ctx == NULL)
    return error_signature ();
  return pst_pgp_verify_detached (ctx, content, sig_body);
}

static PstSigStatus
pgp_sig_status (gpointer sig)
{
  return ((PstPgpSignature *) sig)->status;
}

static void
pgp_sig_free (gpointer sig)
{
  pst_pgp_signature_free (sig);
}

static void
pgp_done (gpointer ctx)
{
  if (ctx != NULL)
    pst_pgp_set_output_limit (ctx, PST_DECRYPTION_MAX_OUTPUT);
}

static const char *const pgp_signature_types[] = { "application/pgp-signature", NULL };

const PstReaderBackend pst_pgpmime_reader_backend = {
  .scheme = PST_SCHEME_PGP,
  .signature_types = pgp_signature_types,
  .shows_partial = TRUE,
  .open = pgp_open,
  .is_encrypted = NULL,   /* multipart/encrypted is the reader's */
  .verify_detached = pgp_verify_detached,
  .facts = pgp_facts,
  .sig_status = pgp_sig_status,
  .sig_free = pgp_sig_free,
  .done = pgp_done,
};
