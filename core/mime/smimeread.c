/* smimeread.c — S/MIME entities with a signature or text read as streams
 * (see smimeread.h).
 *
 * Why a multipart reader of our own: mime.c's pst_mime_split_multipart
 * and the reader (reader.c) work on a whole body in memory.  This file
 * applies the same rules line by line: a delimiter line is what
 * pst_mime_is_delimiter says, a part runs from after its delimiter line to
 * the line end before the next one (which belongs to the delimiter), a
 * missing close delimiter is tolerated, and after the close delimiter
 * nothing counts.  The verdict is then built as reader.c builds it for
 * these shapes (record_decryption, record_signature, the CBC integrity a
 * good signature vouches for, pst_hp_finish), on a stand-in of the
 * displayed entity: its header section and the first line-complete 64 KiB
 * of its body, which is all that pst_hp_finish reads of it (the legacy
 * display block, when there is one, must end there). */
#define _GNU_SOURCE 1   /* memrchr */
#include "mime/smimeread.h"

#include <string.h>

#include "mime/hp.h"
#include "mime/mime.h"
#include "mime/pgpstream.h"
#include "mime/reader-backend.h"
#include "util/error.h"
#include "util/secret.h"

#define PREFIX_MAX (64 * 1024)
#define SIG_PART_MAX (1024 * 1024)
/* A line that may still be a delimiter is held at most this long. */
#define CAND_MAX 1024
/* An inline OpenPGP block starts so (pgpinline.c): the in-memory reader
 * opens it. */
#define PGP_MARK "-----BEGIN PGP "

/* The entity whose body is displayed: the top one, or the signed part. */
typedef struct {
  GByteArray *head;         /* its header section, until it is complete */
  gboolean head_done;
  gsize head_len;
  GPtrArray *fields;
  GHashTable *params;
  char *type;
  guint64 start;            /* of the entity in the stream */
  guint64 len;              /* bytes of it seen */
  GByteArray *prefix;       /* the first PREFIX_MAX bytes of its body */
  gboolean text;            /* text/plain: looked at for inline OpenPGP */
  char tail[sizeof PGP_MARK];
  gsize tail_len;
} Leaf;

typedef enum { PART_PREAMBLE = -1, PART_SIGNED = 0, PART_SIGNATURE = 1, PART_OTHER = 2 } Part;

typedef struct {
  guint64 pos;              /* bytes seen */
  GChecksum *sum;           /* of all of them */
  gboolean unsupported;
  const char *why;          /* static, for the debug log */
  gboolean top_done;
  Leaf top;
  Leaf inner;               /* multipart/signed: its first part */
  gboolean is_signed;
  /* multipart/signed, line by line */
  char *boundary;
  Part part;
  gboolean closed;
  gboolean line_start;
  gboolean in_cand;         /* the line so far may be a delimiter */
  char cand[CAND_MAX];
  gsize cand_len;
  char eol[2];              /* the line end before this line, held */
  gsize eol_len;
  gboolean held_cr;         /* a CR that may start the line end */
  guint64 line_start_pos;
  gboolean canon_cr;        /* the signed part's CRLF form: a CR was last */
  PstSmimeDigests *digests;
  GByteArray *sig_part;
} Scan;

static void
leaf_init (Leaf *l)
{
  memset (l, 0, sizeof *l);
  l->head = g_byte_array_new ();
  l->prefix = g_byte_array_new ();
}

static void
leaf_clear (Leaf *l)
{
  if (l->head != NULL)
    {
      pst_secret_byte_array_clear (l->head);
      g_byte_array_unref (l->head);
    }
  if (l->prefix != NULL)
    {
      pst_secret_byte_array_clear (l->prefix);
      g_byte_array_unref (l->prefix);
    }
  g_clear_pointer (&l->fields, g_ptr_array_unref);
  g_clear_pointer (&l->params, g_hash_table_unref);
  g_clear_pointer (&l->type, g_free);
}

static void
unsupported (Scan *s, const char *why)
{
  if (!s->unsupported)
    g_debug ("S/MIME stream reader: %s: read in memory", why);
  s->unsupported = TRUE;
  s->why = why;
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
  if (l->prefix->len < PREFIX_MAX)
    g_byte_array_append (l->prefix, (const guint8 *) data,
                         (guint) MIN (len, (gsize) PREFIX_MAX - l->prefix->len));
  if (l->text && len > 0)
    {
      gsize keep = sizeof PGP_MARK - 2;
      char window[2 * sizeof PGP_MARK];
      gsize head = MIN (len, keep);

      /* Across the boundary between two writes, then within this one. */
      memcpy (window, l->tail, l->tail_len);
      memcpy (window + l->tail_len, data, head);
      if (g_strstr_len (window, l->tail_len + head, PGP_MARK) != NULL
          || g_strstr_len (data, len, PGP_MARK) != NULL)
        {
          unsupported (s, "an inline OpenPGP block in a text part");
          return;
        }
      if (len >= keep)
        {
          memcpy (l->tail, data + len - keep, keep);
          l->tail_len = keep;
        }
      else
        {
          gsize total = l->tail_len + len, drop = total > keep ? total - keep : 0;
          char joined[2 * sizeof PGP_MARK];

          memcpy (joined, l->tail, l->tail_len);
          memcpy (joined + l->tail_len, data, len);
          memcpy (l->tail, joined + drop, total - drop);
          l->tail_len = total - drop;
        }
    }
}

/* Bytes of the entity @l; FALSE once the header section says it is not
 * read here (s->unsupported) or it is found to be multipart/signed
 * (the caller goes on). */
static void
leaf_feed (Scan *s, Leaf *l, const char *data, gsize len)
{
  l->len += len;
  if (!l->head_done)
    {
      gsize before = l->head->len, end = 0, take;
      g_autoptr(GBytes) head = NULL;
      gsize body = 0;

      take = MIN (len, (gsize) PST_PGPSTREAM_MAX_HEADER + 1 - before);
      g_byte_array_append (l->head, (const guint8 *) data, (guint) take);
      if (!pst_pgpstream_header_end ((const char *) l->head->data, l->head->len, &end))
        {
          if (l->head->len > PST_PGPSTREAM_MAX_HEADER)
            unsupported (s, "a header section larger than 1 MiB");
          return;
        }
      head = g_bytes_new (l->head->data, end);
      if (!pst_mime_entity_split (head, &l->fields, &body))
        {
          unsupported (s, "an entity without a header section that parses");
          return;
        }
      l->type = pst_mime_entity_content_type (l->fields, &l->params);
      l->text = g_str_equal (l->type, "text/plain");
      l->head_done = TRUE;
      l->head_len = end;
      g_byte_array_set_size (l->head, (guint) end);
      data += end - before;
      len -= end - before;
    }
  leaf_body (s, l, data, len);
}

/* --- multipart/signed, line by line ------------------------------------------ */

/* Bytes of the part being read (the line ends given back as they were). */
static void
part_bytes (Scan *s, const char *data, gsize len)
{
  if (len == 0)
    return;
  if (s->part == PART_SIGNED)
    {
      char canon[8192];
      gsize n = 0;

      leaf_feed (s, &s->inner, data, len);
      /* pst_mime_to_crlf: a CR or an LF or a CRLF is one CRLF. */
      for (gsize i = 0; i < len; i++)
        {
          char c = data[i];

          if (n + 2 > sizeof canon)
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
      pst_smime_digests_update (s->digests, canon, n);
      explicit_bzero (canon, sizeof canon);
    }
  else if (s->part == PART_SIGNATURE)
    {
      if (s->sig_part->len + len > SIG_PART_MAX)
        unsupported (s, "a signature part larger than 1 MiB");
      else
        g_byte_array_append (s->sig_part, (const guint8 *) data, (guint) len);
    }
}

static void
flush_eol (Scan *s)
{
  part_bytes (s, s->eol, s->eol_len);
  s->eol_len = 0;
}

/* Whether the line begun in s->cand may still be a delimiter. */
static gboolean
may_be_delimiter (Scan *s)
{
  gsize blen = strlen (s->boundary), i;

  for (i = 0; i < s->cand_len && i < blen + 2; i++)
    if (s->cand[i] != (i < 2 ? '-' : s->boundary[i - 2]))
      return FALSE;
  if (i < blen + 2)
    return TRUE;
  if (i < s->cand_len && s->cand[i] == '-')
    {
      if (++i == s->cand_len)
        return TRUE;
      if (s->cand[i++] != '-')
        return FALSE;
    }
  for (; i < s->cand_len; i++)
    if (s->cand[i] != ' ' && s->cand[i] != '\t'
        && !(s->cand[i] == '\r' && i == s->cand_len - 1))
      return FALSE;
  return TRUE;
}

static void
delimiter (Scan *s, gboolean close)
{
  s->eol_len = 0;   /* the line end before a delimiter is the delimiter's */
  if (s->part == PART_PREAMBLE && close)
    {
      unsupported (s, "a multipart/signed without parts");
      return;
    }
  if (s->part == PART_PREAMBLE)
    {
      s->inner.start = s->pos;
      s->part = PART_SIGNED;
    }
  else if (s->part == PART_SIGNED)
    s->part = PART_SIGNATURE;
  else
    s->part = PART_OTHER;
  if (close)
    s->closed = TRUE;
}

/* The line in s->cand ended (@nl: with an LF, else at the end). */
static void
cand_line_end (Scan *s, gboolean nl)
{
  gsize len = s->cand_len;
  gboolean cr = nl && len > 0 && s->cand[len - 1] == '\r', close = FALSE;

  /* mime.c's line_end takes one CR before the LF, and none without an LF
   * (pst_mime_is_delimiter would take it). */
  if ((nl || len == 0 || s->cand[len - 1] != '\r')
      && pst_mime_is_delimiter (s->cand, len, s->boundary, &close))
    {
      delimiter (s, close);
      return;
    }
  if (cr)
    len--;
  flush_eol (s);
  part_bytes (s, s->cand, len);
  if (nl)
    {
      memcpy (s->eol, cr ? "\r\n" : "\n", cr ? 2 : 1);
      s->eol_len = cr ? 2 : 1;
    }
}

static void
signed_feed (Scan *s, const char *data, gsize len)
{
  while (len > 0 && !s->unsupported && !s->closed)
    {
      if (s->line_start)
        {
          s->line_start = FALSE;
          s->in_cand = TRUE;
          s->cand_len = 0;
        }
      if (s->in_cand)
        {
          char c = *data++;

          len--;
          s->pos++;
          if (c == '\n')
            {
              cand_line_end (s, TRUE);
              s->line_start = TRUE;
              continue;
            }
          if (s->cand_len == CAND_MAX)
            {
              unsupported (s, "a long line of white space after a delimiter");
              return;
            }
          s->cand[s->cand_len++] = c;
          if (!may_be_delimiter (s))
            {
              gboolean cr = s->cand[s->cand_len - 1] == '\r';

              flush_eol (s);
              part_bytes (s, s->cand, s->cand_len - (cr ? 1 : 0));
              s->held_cr = cr;
              s->in_cand = FALSE;
            }
          continue;
        }
      {
        const char *nl = memchr (data, '\n', len);
        gsize n = nl != NULL ? (gsize) (nl - data) : len;

        if (n > 0)
          {
            gboolean cr = data[n - 1] == '\r';

            if (s->held_cr)
              part_bytes (s, "\r", 1);
            part_bytes (s, data, n - (cr ? 1 : 0));
            s->held_cr = cr;
          }
        s->pos += n;
        data += n;
        len -= n;
        if (nl != NULL)
          {
            memcpy (s->eol, s->held_cr ? "\r\n" : "\n", s->held_cr ? 2 : 1);
            s->eol_len = s->held_cr ? 2 : 1;
            s->held_cr = FALSE;
            s->pos++;
            data++;
            len--;
            s->line_start = TRUE;
          }
      }
    }
  if (s->closed)
    s->pos += len;   /* the epilogue: nothing counts */
}

/* The end of the entity: the last line, held, is given back. */
static void
signed_end (Scan *s)
{
  if (s->closed || s->unsupported)
    return;
  if (s->in_cand && !s->line_start)
    cand_line_end (s, FALSE);
  else
    {
      if (s->held_cr)
        part_bytes (s, "\r", 1);
      flush_eol (s);
    }
  s->held_cr = FALSE;
}

/* --- The scan ---------------------------------------------------------------------- */

static void
scan_init (Scan *s)
{
  memset (s, 0, sizeof *s);
  s->sum = g_checksum_new (G_CHECKSUM_SHA256);
  leaf_init (&s->top);
  leaf_init (&s->inner);
  s->part = PART_PREAMBLE;
  s->sig_part = g_byte_array_new ();
}

static void
scan_clear (Scan *s)
{
  g_checksum_free (s->sum);
  leaf_clear (&s->top);
  leaf_clear (&s->inner);
  g_free (s->boundary);
  pst_smime_digests_free (s->digests);
  g_byte_array_unref (s->sig_part);
}

static void
scan_feed (Scan *s, const char *data, gsize len)
{
  g_checksum_update (s->sum, (const guchar *) data, len);
  if (!s->top_done)
    {
      gsize before = s->top.head->len;

      leaf_feed (s, &s->top, data, len);
      if (s->unsupported)
        return;
      if (!s->top.head_done)
        {
          s->pos += len;
          return;
        }
      s->top_done = TRUE;
      if (g_str_equal (s->top.type, "multipart/signed"))
        {
          const char *protocol = g_hash_table_lookup (s->top.params, "protocol");
          const char *boundary = g_hash_table_lookup (s->top.params, "boundary");
          gsize skip = s->top.head_len - before;

          if (protocol == NULL || !is_signature_type (protocol) || boundary == NULL
              || *boundary == '\0' || strlen (boundary) > 200)
            {
              unsupported (s, "a multipart/signed of another protocol or without a boundary");
              return;
            }
          s->is_signed = TRUE;
          s->boundary = g_strdup (boundary);
          s->digests = pst_smime_digests_new (g_hash_table_lookup (s->top.params, "micalg"));
          s->line_start = TRUE;
          s->pos += skip;
          signed_feed (s, data + skip, len - skip);
          return;
        }
      if (!is_leaf_type (s->top.type))
        unsupported (s, "a multipart or nested entity");
      s->pos += len;
      return;
    }
  if (s->is_signed)
    signed_feed (s, data, len);
  else
    {
      leaf_body (s, &s->top, data, len);
      s->top.len += len;
      s->pos += len;
    }
}

/* The scan is complete: what it read is a shape of smimeread.h. */
static gboolean
scan_end (Scan *s)
{
  if (s->unsupported)
    return FALSE;
  if (!s->top.head_done)
    {
      unsupported (s, "no header section");
      return FALSE;
    }
  if (!s->is_signed)
    return TRUE;
  signed_end (s);
  if (s->unsupported)
    return FALSE;
  if (s->part == PART_PREAMBLE)
    unsupported (s, "a multipart/signed without a delimiter");
  else if (!s->inner.head_done)
    unsupported (s, "a signed part without a header section");
  else if (!is_leaf_type (s->inner.type))
    unsupported (s, "a signed part that is multipart or nested");
  return !s->unsupported;
}

/* The GOutputStream a decryption writes to. */
#define SCAN_TYPE_SINK (scan_sink_get_type ())
G_DECLARE_FINAL_TYPE (ScanSink, scan_sink, SCAN, SINK, GOutputStream)

struct _ScanSink {
  GOutputStream parent;
  Scan *scan;               /* the first reading */
  /* the second: */
  GChecksum *sum;
  guint64 pos;
  guint64 copy_from, copy_to;
  GOutputStream *out;
};

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
  g_checksum_update (self->sum, buffer, count);
  if (self->pos + count > self->copy_from && self->pos < self->copy_to)
    {
      guint64 from = MAX (self->pos, self->copy_from), to = MIN (self->pos + count, self->copy_to);

      if (!g_output_stream_write_all (self->out, (const char *) buffer + (from - self->pos),
                                      (gsize) (to - from), NULL, NULL, error))
        return -1;
    }
  self->pos += count;
  return (gssize) count;
}

static void
scan_sink_finalize (GObject *object)
{
  ScanSink *self = SCAN_SINK (object);

  g_clear_pointer (&self->sum, g_checksum_free);
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
  guint64 body_len = l->len - l->head_len;
  gsize keep = l->prefix->len;
  const char *p = (const char *) l->prefix->data;
  GByteArray *b;

  if (body_len > keep)
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
  b = g_byte_array_sized_new (l->head->len + (guint) keep);
  g_byte_array_append (b, l->head->data, l->head->len);
  g_byte_array_append (b, l->prefix->data, (guint) keep);
  *body_prefix_out = keep;
  return pst_secret_bytes_new (b->data, b->len, NULL, 0);
}

typedef struct {
  PstStatus *status;
  GBytes *head_out;         /* what to write before the rest of the body */
  guint64 copy_from, copy_to;
} Verdict;

/* Builds @v from the complete scan @s: @decrypted (with @integrity) for a
 * decryption, @outer_fields the message's.  FALSE: not streamable. */
static gboolean
verdict (PstSmime *smime, Scan *s, gboolean decrypted, PstIntegrity integrity,
         GPtrArray *outer_fields, Verdict *v)
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
  if (s->is_signed)
    {
      g_autoptr(GBytes) part = g_bytes_new (s->sig_part->data, s->sig_part->len);
      g_autoptr(GBytes) sig_body = NULL;
      g_autoptr(GArray) spans = g_array_new (FALSE, FALSE, sizeof (PstMimeSpan));
      PstMimeSpan span = { 0, s->sig_part->len };

      if (s->part >= PART_SIGNATURE)
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
  v->head_out = pst_hp_finish (st, PST_SCHEME_SMIME, s->is_signed ? &facts : NULL, PST_COVERS_WHOLE,
                               outer_fields, message, display, &verdict_);
  if (by_sig && !own && verdict_ != PST_SIG_GOOD && st->integrity == PST_INTEGRITY_OK)
    st->integrity = PST_INTEGRITY_NONE;
  st->scheme = PST_SCHEME_SMIME;
  if (sig != NULL)
    pst_smime_signature_free (sig);
  v->copy_from = l->start + l->head_len + prefix;
  v->copy_to = l->start + l->len;
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
  PstIntegrity integrity = PST_INTEGRITY_NONE;
  Verdict v = { 0 };
  Scan scan;
  gboolean ok;

  *streamable_out = FALSE;
  scan_init (&scan);
  sink->scan = &scan;
  ok = pst_smime_decryptor_run (decryptor, G_OUTPUT_STREAM (sink), &integrity, &local);
  if (scan.unsupported || scan.pos == 0)
    goto out;   /* the in-memory reader says what it says */
  if (!ok && local != NULL && local->domain != PST_ERROR)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      scan_clear (&scan);
      return FALSE;
    }
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
      || !verdict (pst_smime_decryptor_smime (decryptor), &scan, TRUE, integrity, outer_fields, &v))
    goto out;
  first = g_strdup (g_checksum_get_string (scan.sum));

  /* The second reading, to @plain_out. */
  g_clear_error (&local);
  sink->scan = NULL;
  sink->sum = g_checksum_new (G_CHECKSUM_SHA256);
  sink->out = plain_out;
  sink->copy_from = v.copy_from;
  sink->copy_to = v.copy_to;
  if (!g_output_stream_write_all (plain_out, g_bytes_get_data (v.head_out, NULL),
                                  g_bytes_get_size (v.head_out), NULL, NULL, error))
    goto fail;
  ok = pst_smime_decryptor_run (decryptor, G_OUTPUT_STREAM (sink), NULL, &local);
  if (!ok && local != NULL && local->domain != PST_ERROR)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      goto fail;
    }
  if (!ok || sink->pos != scan.pos || !g_str_equal (first, g_checksum_get_string (sink->sum)))
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

gboolean
pst_smimeread_verify (PstSmime *smime, GInputStream *message, PstStatus **status_out,
                      gboolean *streamable_out, GError **error)
{
  Verdict v = { 0 };
  Scan scan;
  char buf[65536];
  gssize n;

  *streamable_out = FALSE;
  scan_init (&scan);
  while ((n = g_input_stream_read (message, buf, sizeof buf, NULL, error)) > 0)
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
  if (scan_end (&scan) && verdict (smime, &scan, FALSE, PST_INTEGRITY_NONE, scan.top.fields, &v))
    {
      *streamable_out = TRUE;
      if (status_out != NULL)
        *status_out = g_steal_pointer (&v.status);
    }
  verdict_clear (&v);
  scan_clear (&scan);
  return TRUE;
}
