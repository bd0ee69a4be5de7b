/* reader.c — one walk over a message for every scheme (see reader.h); the
 * schemes' own parts are in pgpmime.c and smimemime.c. */
#include "mime/reader.h"

#include "mime/hp.h"
#include "mime/mime.h"
#include "mime/reader-backend.h"
#include "util/error.h"

#define MAX_DEPTH 16

static const PstReaderBackend *const backends[] = {
  &pst_pgpmime_reader_backend,
  &pst_smimemime_reader_backend,
};

typedef struct {
  gpointer ctx[G_N_ELEMENTS (backends)];
  PstStatus *status;
  const PstReaderBackend *sig_backend;  /* of the counted signature; NULL: malformed, no scheme */
  gpointer sig;                         /* the counted signature (NULL when malformed) */
  PstSigStatus sig_raw;                 /* its status as the crypto library said it */
  gboolean has_sig;
  PstCovers sig_covers;
  PstScheme enc_scheme;                 /* of the outermost encryption layer */
  PstScheme first_scheme;               /* of the first layer met */
  GBytes *partial_plain;                /* the first part decrypted alone (shows_partial) */
  gboolean integrity_own;               /* a layer's own MDC or AEAD checked */
  gboolean integrity_by_sig;            /* a layer without either vouched for by a signature inside */
  gsize budget;                         /* what decryption may still yield */
  GError *busy;                         /* no verdict: see reader.h */
} Walk;

static void
met (Walk *w, PstScheme scheme)
{
  if (w->first_scheme == PST_SCHEME_NONE)
    w->first_scheme = scheme;
}

/* Keeps @sig (transfer full) when it is the first signature met; the
 * verdict waits for the From and Date shown (pst_hp_finish).  Only the
 * outermost speaks; a sibling in a multipart is no more trusted than the
 * first. */
static void
record_signature (Walk *w, const PstReaderBackend *b, gpointer sig, PstSigStatus raw, PstCovers covers)
{
  if (w->has_sig)
    {
      pst_status_add_warning (w->status, w->sig_covers == PST_COVERS_WHOLE ? "nested-signature"
                                                                          : "multiple-signatures");
      if (sig != NULL)
        b->sig_free (sig);
      return;
    }
  if (b != NULL)
    met (w, b->scheme);
  w->has_sig = TRUE;
  w->sig_backend = b;
  w->sig = sig;
  w->sig_raw = raw;
  w->sig_covers = covers;
}

/* A multipart/signed whose signature cannot even be looked at (DESIGN.md
 * §4): an error, so that stripping a signature never makes a message look
 * unsigned.  @b: the scheme that reports it. */
static void
record_malformed (Walk *w, const PstReaderBackend *b, PstCovers covers)
{
  record_signature (w, b, NULL, PST_SIG_ERROR, covers);
}

static void
record_decryption (Walk *w, PstScheme scheme, gboolean ok, gboolean too_large, PstIntegrity integrity,
                   PstCovers covers)
{
  PstStatus *st = w->status;

  met (w, scheme);
  if (w->enc_scheme == PST_SCHEME_NONE)
    w->enc_scheme = scheme;
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
      if (integrity == PST_INTEGRITY_OK)
        {
          w->integrity_own = TRUE;
          if (st->integrity == PST_INTEGRITY_NONE)
            st->integrity = PST_INTEGRITY_OK;
        }
    }
}

/* A decrypted part of a message that is not encrypted as a whole: kept to
 * be shown on its own (the first one only). */
static void
keep_partial (Walk *w, GBytes *plain)
{
  if (w->partial_plain == NULL)
    w->partial_plain = g_bytes_ref (plain);
  else
    pst_status_add_warning (w->status, "several-encrypted-parts");
}

static gboolean
split_entity (GBytes *bytes, PstReaderEntity *e, GPtrArray **fields, GHashTable **params, char **type)
{
  if (!pst_mime_entity_split (bytes, fields, &e->body))
    return FALSE;
  *type = pst_mime_entity_content_type (*fields, params);
  e->bytes = bytes;
  e->fields = *fields;
  e->params = *params;
  e->type = *type;
  return TRUE;
}

/* Whether @content is an encryption layer of any scheme: a signature
 * directly around it is encrypt-then-sign (DESIGN.md §4). */
static gboolean
is_encrypted (GBytes *content)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;
  PstReaderEntity e;

  if (!split_entity (content, &e, &fields, &params, &type))
    return FALSE;
  if (g_str_equal (type, "multipart/encrypted"))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (backends); i++)
    if (backends[i]->is_encrypted != NULL && backends[i]->is_encrypted (&e))
      return TRUE;
  return FALSE;
}

static GBytes *open_entity (Walk *w, GBytes *entity, gboolean whole, int depth);

/* What to display for the layer @entity that back-end @bi opened into @l. */
static GBytes *
open_layer (Walk *w, guint bi, GBytes *entity, PstReaderLayer *l, gboolean whole, int depth)
{
  const PstReaderBackend *b = backends[bi];
  PstCovers covers = whole && !l->partial_entity ? PST_COVERS_WHOLE : PST_COVERS_PART;
  g_autoptr(GBytes) content = g_steal_pointer (&l->content);
  gpointer sig = g_steal_pointer (&l->sig);
  GBytes *inner;

  if (l->busy)
    {
      w->busy = g_steal_pointer (&l->error);
      if (sig != NULL)
        b->sig_free (sig);
      return g_bytes_ref (entity);
    }
  g_clear_error (&l->error);
  if (l->limited && content != NULL)
    w->budget -= MIN (g_bytes_get_size (content), w->budget);
  if (l->warning != NULL)
    pst_status_add_warning (w->status, l->warning);
  if (l->unopened)
    {
      /* Shown as received, and said, rather than silently passed. */
      met (w, b->scheme);
      return g_bytes_ref (entity);
    }

  if (l->encrypted)
    {
      gboolean signed_before = w->has_sig;

      record_decryption (w, b->scheme, l->ok, l->too_large, l->integrity, covers);
      if (!l->ok || content == NULL)
        {
          if (sig != NULL)
            b->sig_free (sig);
          return g_bytes_ref (entity);
        }
      if (sig != NULL)
        record_signature (w, b, sig, b->sig_status (sig), covers);
      inner = l->descend ? open_entity (w, content, covers == PST_COVERS_WHOLE, depth + 1)
                         : g_bytes_ref (content);
      /* No MDC and no AEAD (S/MIME CBC): only a good signature inside the
       * layer vouches for it; checked again against the final verdict. */
      if (l->integrity != PST_INTEGRITY_OK && !signed_before && w->has_sig
          && w->sig_raw == PST_SIG_GOOD && w->status->integrity == PST_INTEGRITY_NONE)
        {
          w->status->integrity = PST_INTEGRITY_OK;
          w->integrity_by_sig = TRUE;
        }
      if (covers == PST_COVERS_WHOLE)
        return inner;
      if (b->shows_partial)
        keep_partial (w, inner);
      g_bytes_unref (inner);
      return g_bytes_ref (entity);
    }

  /* A signature layer whose content came back (opaque S/MIME, inline PGP). */
  if (content != NULL && is_encrypted (content))
    {
      pst_status_add_warning (w->status, "outer-signature-ignored");
      met (w, b->scheme);
      if (sig != NULL)
        b->sig_free (sig);
    }
  else if (sig != NULL)
    record_signature (w, b, sig, b->sig_status (sig), covers);
  if (content == NULL || !l->ok)
    return g_bytes_ref (entity);
  inner = l->descend ? open_entity (w, content, covers == PST_COVERS_WHOLE, depth + 1)
                     : g_bytes_ref (content);
  if (covers == PST_COVERS_WHOLE)
    return inner;
  g_bytes_unref (inner);
  return g_bytes_ref (entity);
}

/* The back-end whose protocol a multipart/signed with @params names, or
 * NULL. */
static const PstReaderBackend *
signature_backend (GHashTable *params, guint *index_out)
{
  const char *protocol = g_hash_table_lookup (params, "protocol");

  for (guint i = 0; protocol != NULL && i < G_N_ELEMENTS (backends); i++)
    for (const char *const *t = backends[i]->signature_types; *t != NULL; t++)
      if (g_ascii_strcasecmp (protocol, *t) == 0)
        {
          *index_out = i;
          return backends[i];
        }
  return NULL;
}

/* Who reports a multipart/signed that names no protocol, or one no scheme
 * knows: OpenPGP, as before S/MIME had a reader (its status must name a
 * scheme: there is a verdict). */
static const PstReaderBackend *
malformed_backend (const PstReaderBackend *b)
{
  return b != NULL ? b : backends[0];
}

static GBytes *
open_signed (Walk *w, const PstReaderEntity *e, GArray *spans, gboolean whole, int depth)
{
  PstCovers covers = whole ? PST_COVERS_WHOLE : PST_COVERS_PART;
  guint bi = 0;
  const PstReaderBackend *b = signature_backend (e->params, &bi);
  g_autoptr(GBytes) content = pst_mime_span_bytes (e->bytes, e->body, &g_array_index (spans, PstMimeSpan, 0));
  g_autoptr(GBytes) sig_body = NULL;
  GBytes *inner;

  if (b != NULL)
    sig_body = pst_mime_signature_part (e->bytes, e->body, spans, b->signature_types);
  if (is_encrypted (content))
    {
      /* Encrypt-then-sign: the inner layers decide (DESIGN.md §4). */
      pst_status_add_warning (w->status, "outer-signature-ignored");
      if (b != NULL)
        met (w, b->scheme);
    }
  else if (sig_body == NULL)
    record_malformed (w, malformed_backend (b), covers);
  else
    {
      /* Itself when it is canonical already: then the worker names these
       * bytes of the message to the agent rather than send them. */
      g_autoptr(GBytes) canon = pst_mime_bytes_to_crlf (content);
      g_autoptr(GBytes) sig_part = pst_mime_span_bytes (e->bytes, e->body,
                                                        &g_array_index (spans, PstMimeSpan, 1));
      gpointer sig = b->verify_detached (w->ctx[bi], canon, sig_part, sig_body);

      record_signature (w, b, sig, b->sig_status (sig), covers);
    }
  inner = open_entity (w, content, whole, depth + 1);
  if (whole)
    return inner;
  g_bytes_unref (inner);
  return g_bytes_ref (e->bytes);
}

/* What to display in place of @entity (transfer full; @entity itself when
 * nothing changes). */
static GBytes *
open_entity (Walk *w, GBytes *entity, gboolean whole, int depth)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GArray) spans = NULL;
  g_autofree char *type = NULL;
  PstReaderEntity e;
  gsize len = 0;
  const char *data = g_bytes_get_data (entity, &len);

  if (w->busy != NULL)
    return g_bytes_ref (entity);
  if (depth > MAX_DEPTH)
    {
      pst_status_add_warning (w->status, "too-deep");
      return g_bytes_ref (entity);
    }
  if (!split_entity (entity, &e, &fields, &params, &type))
    return g_bytes_ref (entity);

  for (guint i = 0; i < G_N_ELEMENTS (backends); i++)
    {
      PstReaderLayer layer = { 0 };

      if (backends[i]->open (w->ctx[i], &e, w->budget, &layer))
        return open_layer (w, i, entity, &layer, whole, depth);
    }

  if (!g_str_has_prefix (type, "multipart/"))
    return g_bytes_ref (entity);
  spans = pst_mime_split_multipart (data + e.body, len - e.body, g_hash_table_lookup (params, "boundary"),
                                    NULL);
  if (spans == NULL || spans->len == 0)
    {
      if (g_str_equal (type, "multipart/signed"))
        {
          guint bi = 0;

          record_malformed (w, malformed_backend (signature_backend (params, &bi)),
                            whole ? PST_COVERS_WHOLE : PST_COVERS_PART);
        }
      return g_bytes_ref (entity);
    }
  if (g_str_equal (type, "multipart/signed"))
    return open_signed (w, &e, spans, whole, depth);

  /* Any other multipart: whatever is inside covers a part only, and is
   * never merged with its unprotected siblings for display. */
  for (guint i = 0; i < spans->len; i++)
    {
      g_autoptr(GBytes) part = pst_mime_span_bytes (entity, e.body, &g_array_index (spans, PstMimeSpan, i));
      g_autoptr(GBytes) inner = open_entity (w, part, FALSE, depth + 1);
    }
  return g_bytes_ref (entity);
}

static void
walk_clear (Walk *w)
{
  if (w->sig != NULL)
    w->sig_backend->sig_free (w->sig);
  w->sig = NULL;
  g_clear_pointer (&w->partial_plain, g_bytes_unref);
}

gboolean
pst_message_open (PstPgp *pgp, PstSmime *smime, GBytes *message, GBytes **plain_out,
                  PstStatus **status_out, GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(PstStatus) status = pst_status_new ();
  g_autoptr(GBytes) display = NULL;
  g_autoptr(GBytes) plain = NULL;
  PstSignatureFacts facts = { 0 };
  PstSigStatus verdict = PST_SIG_NONE;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (message, &len);
  Walk w = { 0 };

  G_STATIC_ASSERT (G_N_ELEMENTS (backends) == 2);
  if (p == NULL || !pst_mime_split_header (p, len, &fields, &body, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return FALSE;
    }
  w.ctx[0] = pgp;    /* the order of backends[] */
  w.ctx[1] = smime;
  w.status = status;
  w.budget = MAX (PST_DECRYPTION_MAX_OUTPUT, len);

  display = open_entity (&w, message, TRUE, 0);
  for (guint i = 0; i < G_N_ELEMENTS (backends); i++)
    if (backends[i]->done != NULL)
      backends[i]->done (w.ctx[i]);
  if (w.busy != NULL)
    {
      /* No verdict, not even a partial one: a status saying "failed" or
       * "too-large" here would be stored and shown as the message's. */
      walk_clear (&w);
      g_propagate_error (error, w.busy);
      return FALSE;
    }
  if (w.partial_plain != NULL && status->encryption_covers != PST_COVERS_WHOLE)
    {
      /* Encrypted in part: the decrypted part alone, never next to the
       * unencrypted ones (EFAIL). */
      g_bytes_unref (display);
      display = g_bytes_ref (w.partial_plain);
    }

  if (w.has_sig && w.sig != NULL)
    w.sig_backend->facts (w.sig, status, &facts);
  else if (w.has_sig)
    facts.status = PST_SIG_ERROR;
  plain = pst_hp_finish (status, w.sig_backend != NULL ? w.sig_backend->scheme : PST_SCHEME_NONE,
                         w.has_sig ? &facts : NULL, w.sig_covers, fields, message, display, &verdict);
  /* Integrity vouched for by a signature holds only while that signature
   * stays good (date and digest rules included). */
  if (w.integrity_by_sig && !w.integrity_own && verdict != PST_SIG_GOOD
      && status->integrity == PST_INTEGRITY_OK)
    status->integrity = PST_INTEGRITY_NONE;
  status->scheme = w.enc_scheme != PST_SCHEME_NONE ? w.enc_scheme
                   : w.has_sig && w.sig_backend != NULL ? w.sig_backend->scheme
                   : w.first_scheme;
  walk_clear (&w);
  if (plain_out != NULL)
    *plain_out = g_steal_pointer (&plain);
  if (status_out != NULL)
    *status_out = g_steal_pointer (&status);
  return TRUE;
}
