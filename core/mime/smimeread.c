/* smimeread.c — S/MIME entities with a signature, text or parts read as
 * streams (see smimeread.h).
 *
 * A scanner reads the entity as it passes: header sections, the parts of
 * a multipart (partsplit.h: pst_mime_split_multipart's rules line by
 * line, which is why it is a parser of our own: mime.c's works on a whole
 * body in memory), the digests of a signed part.  The verdict is then
 * built as reader.c builds it for these shapes (record_decryption,
 * record_signature, the CBC integrity a good signature vouches for,
 * pst_hp_finish), on a stand-in of the displayed entity: its header
 * section and the first line-complete 64 KiB of its body, which is all
 * that pst_hp_finish reads of it (the legacy display block, when there is
 * one, must end there; a multipart's parts are rewritten as hp.c's
 * strip_legacy_display writes them). */
#define _GNU_SOURCE 1   /* memrchr */
#include "mime/smimeread.h"

#include <string.h>

#include "mime/converters.h"
#include "mime/hp.h"
#include "mime/inlinescan.h"
#include "mime/mime.h"
#include "mime/partsplit.h"
#include "mime/pgpstream.h"
#include "mime/reader-backend.h"
#include "mime/streamhead.h"
#include "util/error.h"
#include "util/secret.h"

#define PREFIX_MAX (64 * 1024)
#define SIG_PART_MAX (1024 * 1024)

typedef enum { LEAF_TOP, LEAF_INNER, LEAF_PART } LeafKind;

/* An entity: the top one, the signed part of a multipart/signed, or a
 * part of the multipart displayed.  The one displayed is read in full
 * detail (its header, the prefix of its body, its parts when it is a
 * multipart); a part is only looked at. */
typedef struct {
  LeafKind kind;
  PstStreamHead head;       /* its header section */
  GPtrArray *fields;
  GHashTable *params;
  char *type;
  guint64 start;            /* of the entity in the stream */
  guint64 len;              /* bytes of it seen */
  GByteArray *prefix;       /* the first PREFIX_MAX bytes of its body */
  gboolean text;            /* text/plain: looked at for inline OpenPGP */
  PstInlineScan inline_scan;  /* its body, decoded as the in-memory reader decodes it */
  PstPartSplit *split;      /* a multipart (not signed): its parts */
  char *boundary;
} Leaf;

typedef enum { PART_SIGNED = 0, PART_SIGNATURE = 1 } Part;

typedef struct {
  PstSmimeDigests *sum;     /* SHA-256 of all that was read (decrypting: to compare), or NULL */
  guint64 pos;
  gboolean unsupported;
  gboolean top_done;
  Leaf top;
  Leaf inner;               /* multipart/signed: its first part */
  Leaf part;                /* the part of a multipart being looked at */
  gboolean is_signed;
  gboolean opaque;          /* the eContent of opaque SignedData: no multipart/signed in it */
  PstPartSplit *signed_split;
  int signed_parts;         /* begun */
  gboolean canon_cr;        /* the signed part's CRLF form: a CR was last */
  char canon[65536];        /* its CRLF form, to be digested */
  gsize canon_len;
  PstSmimeDigests *digests;
  GByteArray *sig_part;
} Scan;

static void
leaf_init (Leaf *l, LeafKind kind)
{
  memset (l, 0, sizeof *l);
  l->kind = kind;
  pst_stream_head_init (&l->head, PST_PGPSTREAM_MAX_HEADER);
  l->prefix = g_byte_array_new ();
}

static void
leaf_clear (Leaf *l)
{
  pst_stream_head_clear (&l->head);
  if (l->prefix != NULL)
    {
      pst_secret_byte_array_clear (l->prefix);
      g_byte_array_unref (l->prefix);
    }
  g_clear_pointer (&l->fields, g_ptr_array_unref);
  g_clear_pointer (&l->params, g_hash_table_unref);
  g_clear_pointer (&l->type, g_free);
  g_clear_pointer (&l->split, pst_part_split_free);
  g_clear_pointer (&l->boundary, g_free);
  pst_inline_scan_clear (&l->inline_scan);
}

static void
unsupported (Scan *s, const char *why)
{
  if (!s->unsupported)
    g_debug ("S/MIME stream reader: %s: read in memory", why);
  s->unsupported = TRUE;
}

static gboolean
is_leaf_type (const char *type)
{
  return !g_str_has_prefix (type, "multipart/") && !g_str_equal (type, "message/rfc822")
         && !g_str_equal (type, "application/pkcs7-mime")
         && !g_str_equal (type, "application/x-pkcs7-mime");
}

static gboolean
is_signature_type (const char *type)
{
  return g_ascii_strcasecmp (type, "application/pkcs7-signature") == 0
         || g_ascii_strcasecmp (type, "application/x-pkcs7-signature") == 0;
}

/* Body bytes of @l: kept while within the prefix, looked at for OpenPGP. */
static void
leaf_body (Scan *s, Leaf *l, const char *data, gsize len)
{
  if (l->kind != LEAF_PART && l->prefix->len < PREFIX_MAX)
    g_byte_array_append (l->prefix, (const guint8 *) data,
                         (guint) MIN (len, (gsize) PREFIX_MAX - l->prefix->len));
  if (l->text && len > 0)
    {
      /* The in-memory reader opens an inline block (pgpinline.c). */
      pst_inline_scan_feed (&l->inline_scan, data, len);
      if (l->inline_scan.found)
        unsupported (s, "an inline OpenPGP block in a text part");
    }
}

static void part_start (gpointer data, int index, guint64 offset);
static void part_bytes (gpointer data, int index, const char *bytes, gsize len);
static void part_end (gpointer data, int index);
static const PstPartSplitFuncs part_funcs = { part_start, part_bytes, part_end };

/* The header section of @l is complete: what it is decides how it is
 * read on. */
static void
leaf_header_done (Scan *s, Leaf *l)
{
  const char *boundary = g_hash_table_lookup (l->params, "boundary");

  if (l->kind == LEAF_PART)
    {
      /* What the reader (open_entity) and hp.c (strip_legacy_display)
       * take as they are: no layer, no legacy display element.  A
       * forwarded message (message/rfc822) is not looked into: only the
       * entity itself may wrap the protected header (hp.h). */
      if (!is_leaf_type (l->type) && !g_str_equal (l->type, "message/rfc822"))
        unsupported (s, "a multipart or nested part inside a multipart");
      else if ((g_str_equal (l->type, "text/plain")
                && g_hash_table_contains (l->params, "hp-legacy-display"))
               || g_str_equal (l->type, "text/rfc822-headers")
               || (g_str_has_prefix (l->type, "text/")
                   && g_hash_table_contains (l->params, "protected-headers")))
        unsupported (s, "a legacy display part");
      return;
    }
  if (l->kind == LEAF_TOP && g_str_equal (l->type, "multipart/signed"))
    return;   /* scan_feed's */
  if (g_str_has_prefix (l->type, "multipart/") && !g_str_equal (l->type, "multipart/signed")
      && !g_str_equal (l->type, "multipart/encrypted"))
    {
      if (boundary == NULL || *boundary == '\0' || strlen (boundary) > 200)
        {
          unsupported (s, "a multipart without a boundary");
          return;
        }
      l->boundary = g_strdup (boundary);
      l->split = pst_part_split_new (boundary, l->start + l->head.bytes->len, &part_funcs, s);
      return;
    }
  if (!is_leaf_type (l->type))
    unsupported (s, "a nested entity");
}

/* Bytes of the entity @l. */
static void
leaf_feed (Scan *s, Leaf *l, const char *data, gsize len)
{
  l->len += len;
  if (!l->head.done)
    {
      gsize used = 0;

      switch (pst_stream_head_feed (&l->head, data, len, &used))
        {
        case PST_STREAM_HEAD_MORE:
          return;
        case PST_STREAM_HEAD_TOO_LARGE:
          unsupported (s, "a header section larger than 1 MiB");
          return;
        case PST_STREAM_HEAD_DONE:
          break;
        }
      if ((l->fields = pst_stream_head_fields (&l->head)) == NULL)
        {
          unsupported (s, "an entity without a header section that parses");
          return;
        }
      l->type = pst_mime_entity_content_type (l->fields, &l->params);
      l->text = g_str_equal (l->type, "text/plain");
      if (l->text)
        pst_inline_scan_init (&l->inline_scan, pst_inline_scan_coding (l->fields));
      data += used;
      len -= used;
      leaf_header_done (s, l);
      if (s->unsupported)
        return;
    }
  if (l->split != NULL)
    {
      if (!pst_part_split_feed (l->split, data, len))
        unsupported (s, "a long line of white space after a delimiter");
    }
  else
    leaf_body (s, l, data, len);
}

/* The parts of the multipart displayed: each looked at. */
static void
part_start (gpointer data, int index, guint64 offset)
{
  Scan *s = data;

  (void) index;
  leaf_clear (&s->part);
  leaf_init (&s->part, LEAF_PART);
  s->part.start = offset;
}

static void
part_bytes (gpointer data, int index, const char *bytes, gsize len)
{
  Scan *s = data;

  (void) index;
  if (!s->unsupported)
    leaf_feed (s, &s->part, bytes, len);
}

static void
part_end (gpointer data, int index)
{
  Scan *s = data;

  (void) index;
  if (!s->part.head.done)
    unsupported (s, "a part without a header section");
}

/* The parts of the multipart/signed: the signed one digested as RFC 8551
 * wants it (pst_mime_to_crlf: a CR, an LF or a CRLF is one CRLF), the
 * signature kept. */
static void
signed_start (gpointer data, int index, guint64 offset)
{
  Scan *s = data;

  s->signed_parts = index + 1;
  if (index == PART_SIGNED)
    s->inner.start = offset;
}

static void
signed_bytes (gpointer data, int index, const char *bytes, gsize len)
{
  Scan *s = data;

  if (s->unsupported)
    return;
  if (index == PART_SIGNED)
    {
      char *canon = s->canon;
      gsize n = s->canon_len;

      leaf_feed (s, &s->inner, bytes, len);
      for (gsize i = 0; i < len; i++)
        {
          char c = bytes[i];

          if (n + 2 > sizeof s->canon)
            {
              pst_smime_digests_update (s->digests, canon, n);
              n = 0;
            }
          if (c == '\n' && s->canon_cr)
            {
              s->canon_cr = FALSE;
              continue;
            }
          s->canon_cr = c == '\r';
          if (c == '\r' || c == '\n')
            {
              canon[n++] = '\r';
              canon[n++] = '\n';
            }
          else
            canon[n++] = c;
        }
      s->canon_len = n;
    }
  else if (index == PART_SIGNATURE)
    {
      if (s->sig_part->len + len > SIG_PART_MAX)
        unsupported (s, "a signature part larger than 1 MiB");
      else
        g_byte_array_append (s->sig_part, (const guint8 *) bytes, (guint) len);
    }
}

static void
signed_end (gpointer data, int index)
{
  (void) data;
  (void) index;
}

static const PstPartSplitFuncs signed_funcs = { signed_start, signed_bytes, signed_end };

/* --- The scan ---------------------------------------------------------------------- */

static void
scan_init (Scan *s)
{
  memset (s, 0, sizeof *s);
  leaf_init (&s->top, LEAF_TOP);
  leaf_init (&s->inner, LEAF_INNER);
  leaf_init (&s->part, LEAF_PART);
  s->sig_part = g_byte_array_new ();
}

static void
scan_clear (Scan *s)
{
  g_clear_pointer (&s->sum, pst_smime_digests_free);
  leaf_clear (&s->top);
  leaf_clear (&s->inner);
  leaf_clear (&s->part);
  g_clear_pointer (&s->signed_split, pst_part_split_free);
  pst_smime_digests_free (s->digests);
  pst_secret_byte_array_clear (s->sig_part);
  g_byte_array_unref (s->sig_part);
  explicit_bzero (s->canon, sizeof s->canon);
}

static void
scan_feed (Scan *s, const char *data, gsize len)
{
  if (s->sum != NULL)
    pst_smime_digests_update (s->sum, data, len);
  s->pos += len;
  if (s->signed_split != NULL)
    {
      if (!pst_part_split_feed (s->signed_split, data, len))
        unsupported (s, "a long line of white space after a delimiter");
      return;
    }
  if (!s->top_done)
    {
      gsize before = s->top.head.bytes->len, skip;
      const char *protocol, *boundary;

      leaf_feed (s, &s->top, data, len);
      if (s->unsupported || !s->top.head.done)
        return;
      s->top_done = TRUE;
      if (!g_str_equal (s->top.type, "multipart/signed"))
        return;
      if (s->opaque)
        {
          unsupported (s, "a multipart/signed inside opaque signed-data");
          return;
        }
      protocol = g_hash_table_lookup (s->top.params, "protocol");
      boundary = g_hash_table_lookup (s->top.params, "boundary");
      if (protocol == NULL || !is_signature_type (protocol) || boundary == NULL
          || *boundary == '\0' || strlen (boundary) > 200)
        {
          unsupported (s, "a multipart/signed of another protocol or without a boundary");
          return;
        }
      s->is_signed = TRUE;
      s->digests = pst_smime_digests_new (g_hash_table_lookup (s->top.params, "micalg"));
      s->signed_split = pst_part_split_new (boundary, s->top.head.bytes->len, &signed_funcs, s);
      skip = s->top.head.bytes->len - before;
      if (!pst_part_split_feed (s->signed_split, data + skip, len - skip))
        unsupported (s, "a long line of white space after a delimiter");
      return;
    }
  leaf_feed (s, &s->top, data, len);
}

/* The end of the displayed entity @l. */
static void
leaf_end (Scan *s, Leaf *l)
{
  if (!l->head.done)
    unsupported (s, "no header section");
  else if (l->split != NULL && (!pst_part_split_end (l->split) || pst_part_split_parts (l->split) == 0))
    unsupported (s, "a multipart without parts");
}

/* The scan is complete: what it read is a shape of smimeread.h. */
static gboolean
scan_end (Scan *s)
{
  if (s->unsupported)
    return FALSE;
  if (!s->is_signed)
    {
      leaf_end (s, &s->top);
      return !s->unsupported;
    }
  if (!pst_part_split_end (s->signed_split))
    unsupported (s, "a long line of white space after a delimiter");
  else if (s->signed_parts == 0)
    unsupported (s, "a multipart/signed without parts");
  else
    leaf_end (s, &s->inner);
  pst_smime_digests_update (s->digests, s->canon, s->canon_len);
  s->canon_len = 0;
  return !s->unsupported;
}

/* The GOutputStream a decryption writes to. */
#define SCAN_TYPE_SINK (scan_sink_get_type ())
G_DECLARE_FINAL_TYPE (ScanSink, scan_sink, SCAN, SINK, GOutputStream)

struct _ScanSink {
  GOutputStream parent;
  Scan *scan;               /* the first reading */
  /* the second: */
  PstSmimeDigests *sum;
  guint64 pos;
  guint64 copy_from, copy_to;
  GOutputStream *out;
  PstPartSplit *rebuild;    /* the bytes copied go through it */
  const char *boundary;
  GError *error;            /* of a write the splitter made */
};

static void
rebuild_write (ScanSink *self, const char *data, gsize len)
{
  if (self->error == NULL)
    g_output_stream_write_all (self->out, data, len, NULL, NULL, &self->error);
}

/* As strip_legacy_display writes each part: "--boundary", CRLF, the part,
 * CRLF; then "--boundary--" and CRLF after the last. */
static void
rebuild_start (gpointer data, int index, guint64 offset)
{
  ScanSink *self = data;
  g_autofree char *line = g_strdup_printf ("--%s\r\n", self->boundary);

  (void) index;
  (void) offset;
  rebuild_write (self, line, strlen (line));
}

static void
rebuild_bytes (gpointer data, int index, const char *bytes, gsize len)
{
  (void) index;
  rebuild_write (data, bytes, len);
}

static void
rebuild_end (gpointer data, int index)
{
  (void) index;
  rebuild_write (data, "\r\n", 2);
}

static const PstPartSplitFuncs rebuild_funcs = { rebuild_start, rebuild_bytes, rebuild_end };

G_DEFINE_TYPE (ScanSink, scan_sink, G_TYPE_OUTPUT_STREAM)

static gssize
scan_sink_write (GOutputStream *stream, const void *buffer, gsize count,
                 GCancellable *cancellable, GError **error)
{
  ScanSink *self = SCAN_SINK (stream);

  (void) cancellable;
  if (self->scan != NULL)
    {
      scan_feed (self->scan, buffer, count);
      if (self->scan->unsupported)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "the decrypted entity is read in memory");
          return -1;
        }
      return (gssize) count;
    }
  pst_smime_digests_update (self->sum, buffer, count);
  if (self->pos + count > self->copy_from && self->pos < self->copy_to)
    {
      guint64 from = MAX (self->pos, self->copy_from), to = MIN (self->pos + count, self->copy_to);
      const char *p = (const char *) buffer + (from - self->pos);

      if (self->rebuild != NULL)
        {
          pst_part_split_feed (self->rebuild, p, (gsize) (to - from));
          if (self->error != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&self->error));
              return -1;
            }
        }
      else if (!g_output_stream_write_all (self->out, p, (gsize) (to - from), NULL, NULL, error))
        return -1;
    }
  self->pos += count;
  return (gssize) count;
}

static void
scan_sink_finalize (GObject *object)
{
  ScanSink *self = SCAN_SINK (object);

  g_clear_pointer (&self->sum, pst_smime_digests_free);
  g_clear_pointer (&self->rebuild, pst_part_split_free);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (scan_sink_parent_class)->finalize (object);
}

static void
scan_sink_class_init (ScanSinkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = scan_sink_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = scan_sink_write;
}

static void
scan_sink_init (ScanSink *self)
{
  (void) self;
}

/* --- The verdict, as reader.c gives it -------------------------------------------- */

/* The displayed entity (the signed part, or the top one) cut to its
 * header section and the first whole lines of its body.  Sets
 * *@body_prefix_out to the body bytes it holds.  NULL when a legacy
 * display block could reach past them (see the top of the file). */
static GBytes *
stand_in (Scan *s, Leaf *l, gsize *body_prefix_out)
{
  guint64 body_len = l->len - l->head.bytes->len;
  gsize keep = l->split != NULL ? 0 : l->prefix->len;
  const char *p = (const char *) l->prefix->data;

  if (body_len > keep && l->split == NULL)
    {
      const char *nl = keep > 0 ? memrchr (p, '\n', keep) : NULL;

      keep = nl != NULL ? (gsize) (nl - p) + 1 : 0;
      if (l->text && g_hash_table_contains (l->params, "hp-legacy-display")
          && (keep == 0
              || (g_strstr_len (p, keep, "\n\n") == NULL && g_strstr_len (p, keep, "\n\r\n") == NULL
                  && p[0] != '\n' && !(keep > 1 && p[0] == '\r' && p[1] == '\n'))))
        {
          unsupported (s, "a legacy display block that may not end in the first 64 KiB");
          return NULL;
        }
    }
  *body_prefix_out = keep;
  return pst_secret_bytes_new (l->head.bytes->data, l->head.bytes->len, l->prefix->data, keep);
}

typedef struct {
  PstStatus *status;
  GBytes *head_out;         /* what to write before the rest of the body */
  guint64 copy_from, copy_to;
  /* A multipart displayed with protected headers: hp.c's
   * strip_legacy_display writes it again, part by part, without its
   * preamble and epilogue (its boundary, else NULL). */
  const char *rebuild;
} Verdict;

/* Builds @v from the complete scan @s: @decrypted (with @integrity) for a
 * decryption, @outer_fields the message's.  FALSE: not streamable. */
static gboolean
verdict (PstSmime *smime, Scan *s, gboolean decrypted, PstIntegrity integrity,
         GPtrArray *outer_fields, GBytes *opaque, Verdict *v)
{
  const PstReaderBackend *b = &pst_smimemime_reader_backend;
  g_autoptr(PstStatus) st = pst_status_new ();
  g_autoptr(GBytes) message = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) display = NULL;
  PstSmimeSignature *sig = NULL;
  PstSignatureFacts facts = { 0 };
  PstSigStatus verdict_ = PST_SIG_NONE;
  gboolean own = FALSE, by_sig = FALSE;
  Leaf *l = s->is_signed ? &s->inner : &s->top;
  gsize prefix = 0;

  if (!(display = stand_in (s, l, &prefix)))
    return FALSE;
  if (decrypted)
    {
      /* record_decryption, a whole layer that opened */
      st->encryption_covers = PST_COVERS_WHOLE;
      st->decryption = PST_DECRYPTION_OK;
      if (integrity == PST_INTEGRITY_OK)
        {
          own = TRUE;
          if (st->integrity == PST_INTEGRITY_NONE)
            st->integrity = PST_INTEGRITY_OK;
        }
    }
  if (opaque != NULL)
    {
      /* smime_open's SIGNED layer: the eContent displayed, whatever the
       * verdict. */
      gboolean usable = FALSE;

      sig = pst_smime_verify_digested (smime, opaque, s->digests, &usable);
      if (!usable)
        {
          unsupported (s, "a signature the digests passed cannot check");
          return FALSE;
        }
      b->facts (sig, st, &facts);
    }
  else if (s->is_signed)
    {
      g_autoptr(GBytes) part = g_bytes_new (s->sig_part->data, s->sig_part->len);
      g_autoptr(GBytes) sig_body = NULL;
      g_autoptr(GArray) spans = g_array_new (FALSE, FALSE, sizeof (PstMimeSpan));
      PstMimeSpan span = { 0, s->sig_part->len };

      if (s->signed_parts > PART_SIGNATURE)
        {
          /* pst_mime_signature_part on the part as read: */
          g_array_append_val (spans, ((PstMimeSpan) { 0, 0 }));
          g_array_append_val (spans, span);
          sig_body = pst_mime_signature_part (part, 0, spans, b->signature_types);
        }
      if (sig_body != NULL)
        {
          g_autoptr(GPtrArray) fields = NULL;
          g_autoptr(GBytes) der = NULL;
          gsize body = 0;
          gboolean usable = FALSE;

          /* smime_verify_detached's part_der: base64 unless binary */
          if (pst_mime_entity_split (part, &fields, &body))
            {
              const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
              g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;
              gsize len = 0;
              const char *p = g_bytes_get_data (part, &len);

              if (cte != NULL && (g_ascii_strcasecmp (cte, "binary") == 0
                                  || g_ascii_strcasecmp (cte, "8bit") == 0))
                der = g_bytes_new_from_bytes (part, body, len - body);
              else
                {
                  g_autofree char *text = g_strndup (p + body, len - body);
                  gsize dlen = 0;
                  guchar *d = g_base64_decode (text, &dlen);

                  der = g_bytes_new_take (d, dlen);
                }
            }
          sig = pst_smime_verify_digested (smime, der, s->digests, &usable);
          if (!usable)
            {
              unsupported (s, "a signature the digests passed cannot check");
              return FALSE;
            }
        }
      /* record_signature (or record_malformed: sig NULL), covering the whole */
      if (sig != NULL && integrity != PST_INTEGRITY_OK && decrypted && sig->status == PST_SIG_GOOD
          && st->integrity == PST_INTEGRITY_NONE)
        {
          st->integrity = PST_INTEGRITY_OK;
          by_sig = TRUE;
        }
      if (sig != NULL)
        b->facts (sig, st, &facts);
      else
        facts.status = PST_SIG_ERROR;
    }
  v->head_out = pst_hp_finish (st, PST_SCHEME_SMIME, s->is_signed || opaque != NULL ? &facts : NULL,
                               PST_COVERS_WHOLE,
                               outer_fields, message, display, &verdict_);
  if (by_sig && !own && verdict_ != PST_SIG_GOOD && st->integrity == PST_INTEGRITY_OK)
    st->integrity = PST_INTEGRITY_NONE;
  st->scheme = PST_SCHEME_SMIME;
  if (sig != NULL)
    pst_smime_signature_free (sig);
  v->copy_from = l->start + l->head.bytes->len + prefix;
  v->copy_to = l->start + l->len;
  if (l->split != NULL && st->protected_headers)
    v->rebuild = l->boundary;
  v->status = g_steal_pointer (&st);
  return TRUE;
}

static void
verdict_clear (Verdict *v)
{
  g_clear_pointer (&v->status, pst_status_free);
  g_clear_pointer (&v->head_out, g_bytes_unref);
}

/* --- The two readers ----------------------------------------------------------------- */

gboolean
pst_smimeread_open_decrypted (PstSmimeDecryptor *decryptor, GPtrArray *outer_fields,
                              GOutputStream *plain_out, PstStatus **status_out,
                              gboolean *streamable_out, GError **error)
{
  g_autoptr(ScanSink) sink = g_object_new (SCAN_TYPE_SINK, NULL);
  g_autoptr(GError) local = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  PstIntegrity integrity = PST_INTEGRITY_NONE;
  Verdict v = { 0 };
  Scan scan;
  gboolean ok;

  *streamable_out = FALSE;
  scan_init (&scan);
  scan.sum = pst_smime_digests_new (NULL);
  sink->scan = &scan;
  ok = pst_smime_decryptor_run (decryptor, G_OUTPUT_STREAM (sink), &integrity, &local);
  if (scan.unsupported)
    goto out;   /* the in-memory reader says what it says */
  if (!ok && local != NULL
      && (pst_smime_decryptor_io_failed (decryptor) || local->domain != PST_ERROR))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      scan_clear (&scan);
      return FALSE;
    }
  if (scan.pos == 0)
    goto out;
  if (!ok)
    {
      /* As pst_smimemime_open_stream says a failed decryption. */
      g_autoptr(PstStatus) st = pst_status_new ();

      st->scheme = PST_SCHEME_SMIME;
      st->encryption_covers = PST_COVERS_WHOLE;
      st->integrity = integrity;
      st->decryption = PST_DECRYPTION_FAILED;
      st->protected_headers = FALSE;
      *streamable_out = TRUE;
      if (status_out != NULL)
        *status_out = g_steal_pointer (&st);
      goto out;
    }
  if (!scan_end (&scan)
      || !verdict (pst_smime_decryptor_smime (decryptor), &scan, TRUE, integrity, outer_fields, NULL,
                   &v))
    goto out;
  first = pst_smime_digests_sha256 (scan.sum);

  /* The second reading, to @plain_out. */
  g_clear_error (&local);
  sink->scan = NULL;
  sink->sum = pst_smime_digests_new (NULL);
  sink->out = plain_out;
  sink->copy_from = v.copy_from;
  sink->copy_to = v.copy_to;
  if (v.rebuild != NULL)
    {
      sink->boundary = v.rebuild;
      sink->rebuild = pst_part_split_new (v.rebuild, v.copy_from, &rebuild_funcs, sink);
    }
  if (!g_output_stream_write_all (plain_out, g_bytes_get_data (v.head_out, NULL),
                                  g_bytes_get_size (v.head_out), NULL, NULL, error))
    goto fail;
  ok = pst_smime_decryptor_run (decryptor, G_OUTPUT_STREAM (sink), NULL, &local);
  if (!ok && local != NULL
      && (pst_smime_decryptor_io_failed (decryptor) || local->domain != PST_ERROR))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      goto fail;
    }
  if (ok && sink->rebuild != NULL)
    {
      g_autofree char *close = g_strdup_printf ("--%s--\r\n", v.rebuild);

      pst_part_split_end (sink->rebuild);
      rebuild_write (sink, close, strlen (close));
      if (sink->error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&sink->error));
          goto fail;
        }
    }
  second = pst_smime_digests_sha256 (sink->sum);
  if (!ok || sink->pos != scan.pos || *first == '\0' || !g_str_equal (first, second))
    {
      /* Not what was judged: nothing written counts. */
      v.status->decryption = PST_DECRYPTION_FAILED;
    }
  *streamable_out = TRUE;
  if (status_out != NULL)
    *status_out = g_steal_pointer (&v.status);

out:
  verdict_clear (&v);
  scan_clear (&scan);
  return TRUE;

fail:
  verdict_clear (&v);
  scan_clear (&scan);
  return FALSE;
}

/* The eContent of opaque SignedData as it passes: digested and scanned. */
static gboolean
opaque_content (gpointer data, const guchar *bytes, gsize len)
{
  Scan *s = data;

  pst_smime_digests_update (s->digests, bytes, len);
  scan_feed (s, (const char *) bytes, len);
  return !s->unsupported;
}

/* Opaque SignedData in the body of the message whose header section is
 * @header (@fields): the walk of crypto/smime.h, the eContent scanned. */
static gboolean
verify_opaque (PstSmime *smime, GInputStream *message, GBytes *header, GPtrArray *fields,
               PstStatus **status_out, gboolean *streamable_out, GError **error)
{
  const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;
  g_autoptr(GInputStream) der = NULL;
  g_autoptr(GBytes) skeleton = NULL;
  g_autoptr(GError) local = NULL;
  Verdict v = { 0 };
  Scan scan;

  if (g_input_stream_skip (message, g_bytes_get_size (header), NULL, error) < 0)
    return FALSE;
  /* smimemime.c's part_der: base64 unless binary or 8bit */
  if (cte != NULL && (g_ascii_strcasecmp (cte, "binary") == 0 || g_ascii_strcasecmp (cte, "8bit") == 0))
    der = g_object_ref (message);
  else
    {
      g_autoptr(PstBase64DecodeConverter) conv = pst_base64_decode_converter_new ();

      der = g_converter_input_stream_new (message, G_CONVERTER (conv));
      g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (der), FALSE);
    }
  scan_init (&scan);
  scan.opaque = TRUE;
  /* The digestAlgorithms come first but are not read here: SHA-1 and the
   * SHA-2 digests of smime-verify-stream.c's list. */
  scan.digests = pst_smime_digests_new ("sha-1, sha-384, sha-512");
  skeleton = pst_smime_signed_walk (der, opaque_content, &scan, &local);
  if (local != NULL && !scan.unsupported)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      scan_clear (&scan);
      return FALSE;
    }
  /* What the in-memory reader would not take for CMS (pst_smime_cms_type of
   * the whole object) must not be judged here either. */
  if (skeleton != NULL && pst_smime_cms_type (skeleton) == PST_SMIME_CMS_SIGNED && scan_end (&scan)
      && verdict (smime, &scan, FALSE, PST_INTEGRITY_NONE, fields, skeleton, &v))
    {
      *streamable_out = TRUE;
      if (status_out != NULL)
        *status_out = g_steal_pointer (&v.status);
    }
  verdict_clear (&v);
  scan_clear (&scan);
  return TRUE;
}

gboolean
pst_smimeread_verify (PstSmime *smime, GInputStream *message, PstStatus **status_out,
                      gboolean *streamable_out, GError **error)
{
  g_autoptr(GInputStream) in = pst_pgpstream_input_new (message);
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  g_autofree char *type = NULL;
  gsize len = 0, body = 0;
  const char *p;
  Verdict v = { 0 };
  Scan scan;
  char buf[65536];
  gssize n;

  *streamable_out = FALSE;
  if (!(header = pst_pgpstream_peek_header (in, NULL)))
    return TRUE;   /* too large a header section, or unreadable: in memory */
  p = g_bytes_get_data (header, &len);
  if (len == 0 || !pst_mime_split_header (p, len, &fields, &body, NULL))
    return TRUE;
  type = pst_mime_entity_content_type (fields, NULL);
  if (g_str_equal (type, "application/pkcs7-mime") || g_str_equal (type, "application/x-pkcs7-mime"))
    return verify_opaque (smime, in, header, fields, status_out, streamable_out, error);
  if (!g_str_equal (type, "multipart/signed"))
    return TRUE;

  scan_init (&scan);
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, error)) > 0)
    {
      scan_feed (&scan, buf, (gsize) n);
      if (scan.unsupported || (scan.top_done && !scan.is_signed))
        break;
    }
  if (n < 0)
    {
      scan_clear (&scan);
      return FALSE;
    }
  if (scan.top_done && !scan.is_signed)
    unsupported (&scan, "not multipart/signed");
  if (scan_end (&scan)
      && verdict (smime, &scan, FALSE, PST_INTEGRITY_NONE, scan.top.fields, NULL, &v))
    {
      *streamable_out = TRUE;
      if (status_out != NULL)
        *status_out = g_steal_pointer (&v.status);
    }
  verdict_clear (&v);
  scan_clear (&scan);
  return TRUE;
}
