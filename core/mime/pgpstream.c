/* pgpstream.c — PGP/MIME on streams (see pgpstream.h).  What is built and
 * what is read back follow pgpmime.c; only the header sections are ever
 * held in memory. */
#include "mime/pgpstream.h"
#include "mime/pgpmime.h"

#include <string.h>

#include "crypto/cipherspool.h"
#include "crypto/pgp.h"
#include "mime/converters.h"
#include "mime/hp.h"
#include "mime/opensink.h"
#include "mime/mime.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"

/* As pgpmime.c (DESIGN.md §4). */
/* A part header inside the multipart/encrypted body. */
#define MAX_PART_HEADER (64 * 1024)

/* --- Header sections -------------------------------------------------------- */

/* The offset after the first empty line that ends in @data at or after
 * @from (not an empty first line: the caller's). */
static gboolean
blank_line_from (const char *data, gsize len, gsize from, gsize *end_out)
{
  const char *a = g_strstr_len (data + from, (gssize) (len - from), "\n\n");
  const char *b = g_strstr_len (data + from, (gssize) (len - from), "\n\r\n");

  if (a == NULL && b == NULL)
    return FALSE;
  if (b == NULL || (a != NULL && a < b))
    *end_out = (gsize) (a - data) + 2;
  else
    *end_out = (gsize) (b - data) + 3;
  return TRUE;
}

gboolean
pst_pgpstream_header_end (const char *data, gsize len, gsize *end_out)
{
  if (len > 0 && data[0] == '\n')
    return *end_out = 1, TRUE;
  if (len > 1 && data[0] == '\r' && data[1] == '\n')
    return *end_out = 2, TRUE;
  return blank_line_from (data, len, 0, end_out);
}

gboolean
pst_pgpstream_header_end_after (const char *data, gsize len, gsize seen, gsize *end_out)
{
  gsize from = seen > 2 ? seen - 2 : 0;

  if (from == 0)
    return pst_pgpstream_header_end (data, len, end_out);
  return blank_line_from (data, len, from, end_out);
}

GInputStream *
pst_pgpstream_input_new (GInputStream *base)
{
  GInputStream *in = g_buffered_input_stream_new_sized (base, PST_PGPSTREAM_MAX_HEADER);

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (in), FALSE);
  return in;
}

GBytes *
pst_pgpstream_peek_header (GInputStream *in, GError **error)
{
  GBufferedInputStream *b;
  gsize avail = 0, end = 0;
  const char *data;

  g_return_val_if_fail (G_IS_BUFFERED_INPUT_STREAM (in), NULL);
  b = G_BUFFERED_INPUT_STREAM (in);
  while (TRUE)
    {
      gssize n;

      data = g_buffered_input_stream_peek_buffer (b, &avail);
      if (pst_pgpstream_header_end (data, avail, &end))
        return g_bytes_new (data, end);
      if (avail >= g_buffered_input_stream_get_buffer_size (b))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the header section is larger than %u bytes", PST_PGPSTREAM_MAX_HEADER);
          return NULL;
        }
      n = g_buffered_input_stream_fill (b, g_buffered_input_stream_get_buffer_size (b) - avail,
                                        NULL, error);
      if (n < 0)
        return NULL;
      if (n == 0)
        return g_bytes_new (data, avail);   /* no body */
    }
}

/* --- A stream of a prefix, then another stream -------------------------------- */

/* GIO has no stream that joins two. */
G_DECLARE_FINAL_TYPE (PstPrefixInput, pst_prefix_input, PST, PREFIX_INPUT, GInputStream)

struct _PstPrefixInput {
  GInputStream parent;
  GBytes *prefix;
  gsize offset;          /* of the prefix, read so far */
  GInputStream *rest;
};

G_DEFINE_TYPE (PstPrefixInput, pst_prefix_input, G_TYPE_INPUT_STREAM)

static gssize
prefix_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
             GError **error)
{
  PstPrefixInput *self = PST_PREFIX_INPUT (stream);
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (self->prefix, &len);

  if (self->offset < len)
    {
      gsize n = MIN (count, len - self->offset);

      memcpy (buffer, p + self->offset, n);
      self->offset += n;
      return (gssize) n;
    }
  return g_input_stream_read (self->rest, buffer, count, cancellable, error);
}

static void
pst_prefix_input_finalize (GObject *object)
{
  PstPrefixInput *self = PST_PREFIX_INPUT (object);

  g_bytes_unref (self->prefix);
  g_object_unref (self->rest);
  G_OBJECT_CLASS (pst_prefix_input_parent_class)->finalize (object);
}

static void
pst_prefix_input_class_init (PstPrefixInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_prefix_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = prefix_read;
}

static void
pst_prefix_input_init (PstPrefixInput *self)
{
  (void) self;
}

GInputStream *
pst_pgpstream_input_with_prefix (GBytes *prefix, GInputStream *message)
{
  PstPrefixInput *self = g_object_new (pst_prefix_input_get_type (), NULL);
  GInputStream *joined;

  self->prefix = g_bytes_ref (prefix);
  self->rest = g_object_ref (message);
  joined = pst_pgpstream_input_new (G_INPUT_STREAM (self));
  g_object_unref (self);
  return joined;
}

static GPtrArray *
header_fields (GBytes *header, GError **error)
{
  GPtrArray *fields = NULL;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (header, &len);

  if (p == NULL || len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return NULL;
    }
  if (!pst_mime_split_header (p, len, &fields, &body, error))
    return NULL;
  return fields;
}

/* Whether the protected entity's header for @header depends on the body
 * (@seven_bit: signing without encryption). */
static gboolean
can_stream (GBytes *header, gboolean seven_bit, gboolean *scan_out)
{
  g_autoptr(GPtrArray) fields = header_fields (header, NULL);

  *scan_out = fields != NULL && pst_mime_entity_head_needs_body (fields, seven_bit);
  return fields != NULL;
}

gboolean
pst_pgpmime_can_protect_stream (GBytes *header, gboolean *scan_out)
{
  return can_stream (header, FALSE, scan_out);
}

gboolean
pst_pgpmime_can_sign_stream (GBytes *header, gboolean *scan_out)
{
  return can_stream (header, TRUE, scan_out);
}

gboolean
pst_pgpstream_scan_body (GInputStream *in, gsize header_len, PstBodyScan *out, GError **error)
{
  PstQpScan scan;
  char chunk[65536];
  gssize n = 0;

  pst_mime_qp_scan_init (&scan);
  if (g_input_stream_skip (in, header_len, NULL, error) < 0)
    return FALSE;
  /* Read until both are known, or to the end. */
  while (!(scan.needs && scan.eight_bit)
         && (n = g_input_stream_read (in, chunk, sizeof chunk, NULL, error)) > 0)
    pst_mime_qp_scan_feed (&scan, chunk, (gsize) n);
  if (n < 0)
    return FALSE;
  out->needs_qp = pst_mime_qp_scan_end (&scan);
  out->eight_bit = scan.eight_bit;
  return TRUE;
}

gboolean
pst_pgpstream_check_input (gboolean can, gboolean scan, const PstBodyScan *body,
                           const char *sender, const char *scheme, GError **error)
{
  if (!can)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot protect this message with %s as a stream: its header section "
                   "cannot be read alone", scheme);
      return FALSE;
    }
  if (scan && body == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot protect this message with %s as a stream: its body was not scanned "
                   "for what its protected header says (charset, 8bit, quoted-printable)",
                   scheme);
      return FALSE;
    }
  if (sender == NULL || strchr (sender, '@') == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no sender address");
      return FALSE;
    }
  return TRUE;
}

/* --- Writing -------------------------------------------------------------- */

GInputStream *
pst_pgpstream_entity_input (GInputStream *message, GBytes *entity_head, gboolean qp)
{
  g_autoptr(PstCrlfConverter) lines = pst_crlf_converter_new (qp ? NULL : entity_head);
  g_autoptr(GInputStream) crlf = g_converter_input_stream_new (message, G_CONVERTER (lines));
  g_autoptr(PstQpConverter) encoder = NULL;

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (crlf), FALSE);
  if (!qp)
    return g_steal_pointer (&crlf);
  encoder = pst_qp_converter_new (entity_head);
  /* holds @crlf, which does not close @message */
  return g_converter_input_stream_new (crlf, G_CONVERTER (encoder));
}

static gboolean
write_str (GOutputStream *out, const char *s, gsize len, GError **error)
{
  return g_output_stream_write_all (out, s, len, NULL, NULL, error);
}

gboolean
pst_pgpmime_protect_stream (PstPgp *pgp, GInputStream *message, GOutputStream *out,
                            const char *sender, const char *const *recipients, gboolean sign,
                            const PstBodyScan *body, GError **error)
{
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) entity_head = NULL;
  g_autoptr(GBytes) outer = NULL;
  g_autoptr(GPtrArray) to = g_ptr_array_new ();
  g_autoptr(PstCrlfConverter) armor_conv = NULL;
  g_autoptr(GInputStream) plain = NULL;
  g_autoptr(GOutputStream) armor = NULL;
  g_autofree char *boundary = NULL;
  g_autofree char *intro = NULL;
  g_autofree char *outro = NULL;
  gboolean ok, scan = FALSE, can, qp = FALSE;

  if (!(header = pst_pgpstream_peek_header (message, error))
      || !(fields = header_fields (header, error)))
    return FALSE;
  can = pst_pgpmime_can_protect_stream (header, &scan);
  if (!pst_pgpstream_check_input (can, scan, body, sender, "OpenPGP", error))
    return FALSE;
  if (g_input_stream_skip (message, g_bytes_get_size (header), NULL, error) < 0)
    return FALSE;

  pst_hp_add_missing_fields (fields, sender);
  /* The entity's header, before the body: what it depends on in the body
   * is in @body. */
  entity_head = pst_hp_payload_head (fields, TRUE, FALSE, body, &qp);
  for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
    g_ptr_array_add (to, (gpointer) *r);
  g_ptr_array_add (to, (gpointer) sender);   /* encrypt to self; duplicates are merged */
  g_ptr_array_add (to, NULL);

  boundary = pst_mime_new_boundary (NULL, NULL);   /* "--=" never starts an armor line */
  outer = pst_hp_outer_header (fields, TRUE);
  intro = g_strdup_printf (
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
  if (!write_str (out, g_bytes_get_data (outer, NULL), g_bytes_get_size (outer), error)
      || !write_str (out, intro, strlen (intro), error))
    return FALSE;

  plain = pst_pgpstream_entity_input (message, entity_head, FALSE);
  armor_conv = pst_crlf_converter_new (NULL);
  armor = g_converter_output_stream_new (out, G_CONVERTER (armor_conv));
  g_filter_output_stream_set_close_base_stream (G_FILTER_OUTPUT_STREAM (armor), FALSE);

  ok = pst_pgp_encrypt_stream (pgp, plain, armor, (const char *const *) to->pdata,
                               sign ? sender : NULL, error);
  if (!ok)
    return FALSE;
  if (!g_output_stream_close (armor, NULL, error))
    return FALSE;
  outro = g_strdup_printf ("%s\r\n--%s--\r\n", pst_crlf_converter_last (armor_conv) != '\n' ? "\r\n" : "", boundary);
  return write_str (out, outro, strlen (outro), error);
}

/* --- Reading: the multipart/encrypted body ------------------------------------ */

/* One line (or, for a line longer than the buffer, a piece of it) at the
 * head of the buffered stream; valid until consumed.  @len 0: the end. */
static gboolean
peek_line (GBufferedInputStream *b, const char **line_out, gsize *len_out, GError **error)
{
  gsize avail = 0;
  const char *data = g_buffered_input_stream_peek_buffer (b, &avail);
  const char *nl = avail > 0 ? memchr (data, '\n', avail) : NULL;

  while (nl == NULL && avail < g_buffered_input_stream_get_buffer_size (b))
    {
      gssize n = g_buffered_input_stream_fill (b, g_buffered_input_stream_get_buffer_size (b) - avail,
                                               NULL, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      data = g_buffered_input_stream_peek_buffer (b, &avail);
      nl = memchr (data, '\n', avail);
    }
  *line_out = data;
  *len_out = nl != NULL ? (gsize) (nl - data) + 1 : avail;
  return TRUE;
}

/* The body of the second part of a multipart body, up to the delimiter
 * that ends it (the line end before the delimiter belongs to it), or to
 * the end of the message. */
#define PST_TYPE_PART_STREAM (pst_part_stream_get_type ())
G_DECLARE_FINAL_TYPE (PstPartStream, pst_part_stream, PST, PART_STREAM, GInputStream)

struct _PstPartStream {
  GInputStream parent;
  GBufferedInputStream *base;
  char *boundary;
  char eol[2];          /* the held-back line end of the previous line */
  gsize eol_len;
  gboolean line_start;
  gboolean done;
  gboolean failed;      /* reading the message failed: its error, not a verdict */
  guint64 consumed;     /* bytes given to the reader: the limit of open_sink_write */
};

G_DEFINE_TYPE (PstPartStream, pst_part_stream, G_TYPE_INPUT_STREAM)

static gssize
part_stream_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                  GError **error)
{
  PstPartStream *self = PST_PART_STREAM (stream);
  char *out = buffer;
  gsize o = 0;

  (void) cancellable;
  while (o < count && !self->done)
    {
      const char *line;
      gsize len, content;
      gboolean close = FALSE;

      if (!peek_line (self->base, &line, &len, error))
        {
          self->failed = TRUE;
          return -1;
        }
      if (len == 0)
        {
          /* No closing delimiter: the part runs to the end of the message. */
          if (count - o < self->eol_len)
            break;
          memcpy (out + o, self->eol, self->eol_len);
          o += self->eol_len;
          self->eol_len = 0;
          self->done = TRUE;
          break;
        }
      if (self->line_start && pst_mime_is_delimiter (line, len, self->boundary, &close))
        {
          self->eol_len = 0;
          self->done = TRUE;
          break;
        }
      if (count - o < self->eol_len)
        break;
      memcpy (out + o, self->eol, self->eol_len);
      o += self->eol_len;
      self->eol_len = 0;
      content = len;
      self->line_start = line[len - 1] == '\n';
      if (self->line_start)
        {
          content--;
          self->eol[self->eol_len++] = '\n';
          if (content > 0 && line[content - 1] == '\r')
            {
              content--;
              self->eol[0] = '\r';
              self->eol[1] = '\n';
              self->eol_len = 2;
            }
        }
      /* Copy the line's content out, then drop the whole line from base. */
      {
        gsize n = MIN (content, count - o);

        memcpy (out + o, line, n);
        o += n;
        if (n < content)
          {
            /* Keep the rest in base's buffer: consume only what was given. */
            if (g_input_stream_skip (G_INPUT_STREAM (self->base), n, NULL, error) < 0)
              {
                self->failed = TRUE;
                return -1;
              }
            self->line_start = FALSE;
            self->eol_len = 0;
            break;
          }
        if (g_input_stream_skip (G_INPUT_STREAM (self->base), len, NULL, error) < 0)
          {
            self->failed = TRUE;
            return -1;
          }
      }
    }
  self->consumed += o;
  return (gssize) o;
}

static gboolean
part_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  (void) stream;
  (void) cancellable;
  (void) error;
  return TRUE;
}

static void
pst_part_stream_finalize (GObject *object)
{
  PstPartStream *self = PST_PART_STREAM (object);

  g_clear_object (&self->base);
  g_free (self->boundary);
  G_OBJECT_CLASS (pst_part_stream_parent_class)->finalize (object);
}

static void
pst_part_stream_class_init (PstPartStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_part_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = part_stream_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = part_stream_close;
}

static void
pst_part_stream_init (PstPartStream *self)
{
  self->line_start = TRUE;
}

/* Skips to the body of the second part.  FALSE without an error when the
 * body is not what RFC 3156 says (fewer than two parts, a second part
 * without a header section); the in-memory reader then decides. */
static gboolean
skip_to_second_body (GBufferedInputStream *b, const char *boundary, gboolean *found_out,
                     GError **error)
{
  guint delimiters = 0;
  gboolean line_start = TRUE;
  gsize header_len = 0;
  g_autoptr(GString) part_header = g_string_new (NULL);

  *found_out = FALSE;
  while (delimiters < 2)
    {
      const char *line;
      gsize len;
      gboolean close = FALSE;

      if (!peek_line (b, &line, &len, error))
        return FALSE;
      if (len == 0)
        return TRUE;
      if (line_start && pst_mime_is_delimiter (line, len, boundary, &close))
        {
          if (close)
            return TRUE;
          delimiters++;
        }
      line_start = line[len - 1] == '\n';
      if (g_input_stream_skip (G_INPUT_STREAM (b), len, NULL, error) < 0)
        return FALSE;
    }
  /* The second part's header section, up to its empty line. */
  while (TRUE)
    {
      const char *line;
      gsize len, end = 0;
      gboolean close = FALSE;

      if (!peek_line (b, &line, &len, error))
        return FALSE;
      if (len == 0 || line[len - 1] != '\n' || pst_mime_is_delimiter (line, len, boundary, &close))
        return TRUE;
      header_len += len;
      if (header_len > MAX_PART_HEADER)
        return TRUE;
      g_string_append_len (part_header, line, len);
      if (g_input_stream_skip (G_INPUT_STREAM (b), len, NULL, error) < 0)
        return FALSE;
      if (pst_pgpstream_header_end (part_header->str, part_header->len, &end))
        {
          gsize start = 0;

          /* The in-memory reader's test (pgpmime.h); one that fails is
           * left to it. */
          *found_out = end == part_header->len
                       && pst_pgpmime_cipher_start (part_header->str, part_header->len, &start)
                       && start == part_header->len;
          return TRUE;
        }
    }
}

/* One decryption of the message as a stream, into a PstOpenSink. */
typedef struct {
  GPtrArray *fields;        /* the outer header's */
  PstStatus *status;
  PstOpenSink *sink;
  PstPgpSignature *sig;
  PstIntegrity integrity;
  gboolean encrypted;       /* multipart/encrypted as RFC 3156 says, decrypted into the sink */
  gboolean ok;              /* the decryption succeeded */
  GError *error;            /* the decryption's error */
  gboolean in_failed;       /* reading the message failed */
  guint64 consumed;         /* the encrypted part's bytes read, at the end */
  PstCipherSpool *spool;    /* a judged text's plaintext kept, or NULL */
} Pass;

static void
pass_clear (Pass *p)
{
  g_clear_pointer (&p->fields, g_ptr_array_unref);
  g_clear_pointer (&p->status, pst_status_free);
  g_clear_object (&p->sink);
  g_clear_pointer (&p->sig, pst_pgp_signature_free);
  g_clear_error (&p->error);
  g_clear_pointer (&p->spool, pst_cipher_spool_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Pass, pass_clear)

/* How an entity that must be judged first (a text/plain one, or one whose
 * header shown depends on its signature) goes through the sink: not taken
 * (the caller reads it in memory), judged (nothing written), written. */
typedef enum { TEXT_NO, TEXT_JUDGE, TEXT_WRITE } TextMode;

/* Whether the sink @data may still judge what it is given: not once an
 * entity passes as it comes (written). */
static gboolean
sink_judges (gpointer data)
{
  PstOpenSink *sink = data;

  return sink->judging || !sink->passing;
}

/* p->sink over @out, as @text and @judged_sig say (run_pass), with the
 * decryption limit counted against *@consumed. */
static void
pass_sink_new (Pass *p, GOutputStream *out, const guint64 *consumed, TextMode text,
               const PstPgpSignature *judged_sig)
{
  p->status = pst_status_new ();
  p->sink = pst_open_sink_new (out, p->fields, p->status, consumed);
  if (text != TEXT_NO)
    pst_open_sink_take_text (p->sink, text == TEXT_JUDGE);
  if (judged_sig != NULL)
    {
      /* The header shown as the in-memory reader chooses it knowing the
       * signature (hp.c pst_hp_finish): promoted by a good one covering
       * it all, with its addresses. */
      PstSignatureFacts facts = { judged_sig->status, judged_sig->addresses,
                                  judged_sig->fingerprint, judged_sig->created,
                                  judged_sig->weak_digest };
      const char *const none[] = { NULL };
      gboolean good = judged_sig->status != PST_SIG_NONE && pst_signature_verdict (&facts) == PST_SIG_GOOD;

      pst_open_sink_set_signer (p->sink, !good ? NULL
                                         : judged_sig->addresses != NULL
                                           ? (const char *const *) judged_sig->addresses : none);
    }
}

/* Decrypts the second part of @message (from pst_pgpstream_input_new, at
 * its start) into a sink over @out, keeping a copy of a judged entity's
 * plaintext in p->spool when @spool_open (may be NULL) gives one.  FALSE
 * only for the streams' errors and a header that cannot be parsed;
 * p->encrypted FALSE when the message is not what this file streams
 * (nothing consumed when the outer header says so). */
static gboolean
run_pass (PstPgp *pgp, GInputStream *message, GOutputStream *out, TextMode text,
          const PstPgpSignature *judged_sig, PstCipherSpoolOpen spool_open, gpointer spool_data,
          Pass *p, GError **error)
{
  g_autoptr(GOutputStream) tee = NULL;
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;
  g_autoptr(PstPartStream) part = NULL;
  const char *boundary;
  gboolean found = FALSE;

  if (!(header = pst_pgpstream_peek_header (message, error))
      || !(p->fields = header_fields (header, error)))
    return FALSE;
  type = pst_mime_entity_content_type (p->fields, &params);
  if (!(boundary = pst_pgpmime_encrypted_boundary (type, params)))
    return TRUE;
  if (g_input_stream_skip (message, g_bytes_get_size (header), NULL, error) < 0
      || !skip_to_second_body (G_BUFFERED_INPUT_STREAM (message), boundary, &found, error))
    return FALSE;
  if (!found)
    return TRUE;
  p->encrypted = TRUE;
  part = g_object_new (PST_TYPE_PART_STREAM, NULL);
  part->base = G_BUFFERED_INPUT_STREAM (g_object_ref (message));
  part->boundary = g_strdup (boundary);
  pass_sink_new (p, out, &part->consumed, text, judged_sig);
  /* A judged text's plaintext is also kept, encrypted, for the writing
   * (nothing of an entity that passes as it comes: no file made for it
   * when its header comes in the first write). */
  if (spool_open != NULL)
    tee = pst_cipher_spool_tee_new (G_OUTPUT_STREAM (p->sink), spool_open, spool_data, sink_judges,
                                    p->sink);
  p->ok = pst_pgp_decrypt_stream (pgp, G_INPUT_STREAM (part),
                                  tee != NULL ? tee : G_OUTPUT_STREAM (p->sink), &p->sig,
                                  &p->integrity, &p->error);
  if (tee != NULL)
    p->spool = pst_cipher_spool_tee_steal (tee);
  /* The part goes with this function: the sink counts on the total. */
  p->in_failed = part->failed;
  p->consumed = part->consumed;
  p->sink->consumed = &p->consumed;
  return TRUE;
}

/* The status of the message @p decrypted (p->ok or not), as
 * pst_pgpmime_open gives it. */
static PstStatus *
pass_status (Pass *p, gboolean decrypted)
{
  PstStatus *status = g_steal_pointer (&p->status);

  status->scheme = PST_SCHEME_PGP;
  status->encryption_covers = PST_COVERS_WHOLE;
  if (p->sink->too_large)
    {
      /* As the in-memory reader says it; what was written is the caller's
       * to discard, as after any failure. */
      status->decryption = PST_DECRYPTION_TOO_LARGE;
      status->integrity = PST_INTEGRITY_NONE;
      status->protected_headers = FALSE;
    }
  else if (!decrypted)
    {
      status->decryption = PST_DECRYPTION_FAILED;
      status->integrity = p->ok ? PST_INTEGRITY_NONE : p->integrity;
      status->protected_headers = FALSE;
    }
  else
    {
      status->decryption = PST_DECRYPTION_OK;
      status->integrity = PST_INTEGRITY_OK;
      if (p->sig->status != PST_SIG_NONE)
        {
          g_autofree char *from = pst_hp_from_address (status, p->fields, p->sink->shown);

          pst_pgpmime_set_signature (status, p->sig, PST_COVERS_WHOLE, from,
                                     pst_mime_fields_date (p->sink->shown));
        }
    }
  return status;
}

/* Sets *@status_out (or frees @status) and says streamed. */
static gboolean
streamed (PstStatus *status, PstStatus **status_out, gboolean *streamable_out)
{
  *streamable_out = TRUE;
  if (status_out != NULL)
    *status_out = status;
  else
    pst_status_free (status);
  return TRUE;
}

/* Whether pass @p failed for a stream, not for the message: the output
 * or the message's input (the client's, whatever the domain of their
 * errors), or a GIO stream.  The decryption limit's own error is a
 * verdict. */
static gboolean
stream_failed (const Pass *p)
{
  return !p->sink->too_large
         && (p->sink->out_failed || p->in_failed || p->error->domain == G_IO_ERROR);
}

/* Whether the writing pass @write wrote the whole plaintext judged (its
 * SHA-256 @judged_sum). */
static gboolean
written_as_judged (Pass *write, const char *judged_sum)
{
  return write->ok && write->sink->passing && !write->sink->too_large
         && write->sink->body_sum != NULL
         && g_strcmp0 (pst_sha256_get_string (write->sink->body_sum), judged_sum) == 0;
}

/* A decrypted text/plain entity, judged by pass @judge (nothing written:
 * an inline OpenPGP block in it is opened by the in-memory reader, so one
 * is left to it; the plaintext summed), decrypted whole: decrypted again
 * from the message @reopen gives, into @plain_out, which must give the
 * same plaintext. */
static gboolean
write_judged_text (PstPgp *pgp, Pass *judge, const char *session_key, PstPgpMessageReopen reopen,
                   gpointer reopen_data, GOutputStream *plain_out, PstStatus **status_out,
                   gboolean *streamable_out, GError **error)
{
  g_autoptr(GInputStream) again = NULL;
  g_auto(Pass) write = { 0 };
  const char *judged_sum = pst_sha256_get_string (judge->sink->body_sum);
  gboolean ran;

  if (!(again = reopen (reopen_data, error)))
    return FALSE;
  /* Opened again with the session key the first reading found, not the
   * secret key: a passphrase or a smartcard's touch is asked for once.  A
   * file changed meanwhile does not open with it, and fails as below. */
  pst_pgp_use_session_key (pgp, session_key);
  ran = run_pass (pgp, again, plain_out, TEXT_WRITE, judge->sig, NULL, NULL, &write, error);
  pst_pgp_use_session_key (pgp, NULL);
  if (!ran)
    return FALSE;
  if (write.ok && !pst_open_sink_finish (write.sink, &write.error))
    write.ok = FALSE;   /* the output failed (out_failed) */
  if (!write.encrypted || (write.sink->fallback && !write.sink->passing))
    return TRUE;   /* changed meanwhile into something else: nothing written, read in memory */
  if (!write.ok && write.error != NULL && stream_failed (&write))
    {
      g_propagate_error (error, g_steal_pointer (&write.error));
      return FALSE;
    }
  /* The same plaintext as judged, or the file changed in between: then
   * what was written is not what was judged, and is discarded. */
  return streamed (pass_status (&write, written_as_judged (&write, judged_sum)), status_out,
                   streamable_out);
}

/* A decrypted text judged by pass @judge, its plaintext kept in @spool:
 * written from there, through a sink that writes, which must give the
 * plaintext judged. */
static gboolean
write_spooled_text (Pass *judge, PstCipherSpool *spool, GOutputStream *plain_out,
                    PstStatus **status_out, gboolean *streamable_out, GError **error)
{
  g_auto(Pass) write = { 0 };
  const char *judged_sum = pst_sha256_get_string (judge->sink->body_sum);
  gboolean spool_failed = FALSE;

  write.fields = g_ptr_array_ref (judge->fields);
  write.encrypted = TRUE;
  write.consumed = judge->consumed;
  pass_sink_new (&write, plain_out, &write.consumed, TEXT_WRITE, judge->sig);
  write.sig = g_steal_pointer (&judge->sig);
  /* A copy that cannot be read back, or that changed, is a failure with
   * nothing to say of the message's integrity (as a second decryption
   * that did not give what was judged). */
  write.integrity = PST_INTEGRITY_NONE;
  write.ok = pst_cipher_spool_replay (spool, G_OUTPUT_STREAM (write.sink), &spool_failed,
                                      &write.error)
             && pst_open_sink_finish (write.sink, &write.error);
  if (write.sink->fallback && !write.sink->passing)
    return TRUE;   /* not what was judged: nothing written, read in memory */
  /* The output's own failure (the client gone, a full disk) is an error,
   * whatever its domain, not a verdict. */
  if (!write.ok && !spool_failed && !write.sink->too_large && write.error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&write.error));
      return FALSE;
    }
  return streamed (pass_status (&write, written_as_judged (&write, judged_sum)), status_out,
                   streamable_out);
}

gboolean
pst_pgpmime_open_stream (PstPgp *pgp, GInputStream *message, PstPgpMessageReopen reopen,
                         PstCipherSpoolOpen spool_open, gpointer reopen_data,
                         GOutputStream *plain_out, PstStatus **status_out,
                         gboolean *streamable_out, GError **error)
{
  g_auto(Pass) p = { 0 };
  g_autoptr(PstPgpSessionKey) session_key = NULL;
  gboolean ran;

  *streamable_out = FALSE;
  /* With @reopen a text entity is judged as it is decrypted (nothing
   * written), its plaintext kept in a spool when @spool_open gives one,
   * and written from there; else decrypted again to be written, with the
   * session key the first decryption kept (the secret key is used once). */
  pst_pgp_keep_session_key (pgp, reopen != NULL);
  ran = run_pass (pgp, message, plain_out, reopen != NULL ? TEXT_JUDGE : TEXT_NO, NULL,
                  reopen != NULL ? spool_open : NULL, reopen_data, &p, error);
  pst_pgp_keep_session_key (pgp, FALSE);
  session_key = pst_pgp_take_session_key (pgp);
  if (!ran)
    return FALSE;
  if (!p.encrypted || p.sink->fallback)
    return TRUE;
  if (!p.sink->too_large)
    {
      if (p.ok && !p.sink->passing)
        return TRUE;   /* a plaintext without a header section: in memory */
      if (!p.ok && p.error != NULL && stream_failed (&p))
        {
          g_propagate_error (error, g_steal_pointer (&p.error));
          return FALSE;
        }
    }
  if (p.sink->judging && p.ok && !p.sink->too_large)
    {
      /* A multipart's end: a last part the in-memory reader reads
       * otherwise, or none. */
      if (!pst_open_sink_finish (p.sink, NULL))
        return TRUE;   /* read in memory */
      if (p.spool != NULL && pst_cipher_spool_ok (p.spool))
        {
          /* The session key, kept in case the copy was given up, goes. */
          g_clear_pointer (&session_key, pst_secret_free);
          return write_spooled_text (&p, p.spool, plain_out, status_out, streamable_out, error);
        }
      return write_judged_text (pgp, &p, session_key, reopen, reopen_data, plain_out, status_out,
                                streamable_out, error);
    }
  /* A failed or too large text is said without anything written. */
  return streamed (pass_status (&p, p.ok), status_out, streamable_out);
}

gboolean
pst_pgpmime_sign_stream (PstPgp *pgp, GInputStream *message, GOutputStream *out,
                         const char *sender, const PstBodyScan *body, GError **error)
{
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) entity_head = NULL;
  g_autoptr(GBytes) outer = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(GInputStream) plain = NULL;
  g_autofree char *micalg = NULL;
  g_autofree char *signed_with = NULL;
  g_autofree char *boundary = NULL;
  g_autofree char *intro = NULL;
  g_autofree char *outro = NULL;
  gboolean scan = FALSE, can, qp = FALSE;

  if (!(header = pst_pgpstream_peek_header (message, error))
      || !(fields = header_fields (header, error)))
    return FALSE;
  can = pst_pgpmime_can_sign_stream (header, &scan);
  if (!pst_pgpstream_check_input (can, scan, body, sender, "OpenPGP", error))
    return FALSE;
  /* multipart/signed names the hash before the entity: learnt first, and
   * a key that cannot sign fails before anything is written. */
  if (!(micalg = pst_pgp_sign_micalg (pgp, sender, error))
      || g_input_stream_skip (message, g_bytes_get_size (header), NULL, error) < 0)
    return FALSE;

  pst_hp_add_missing_fields (fields, sender);
  /* The entity's header (7-bit, as signing wants it), before the body:
   * what it depends on in the body is in @body. */
  entity_head = pst_hp_payload_head (fields, FALSE, TRUE, body, &qp);
  outer = pst_hp_outer_header (fields, FALSE);
  boundary = pst_mime_new_boundary (NULL, NULL);
  intro = pst_pgpmime_signed_intro (micalg, boundary);
  if (!write_str (out, g_bytes_get_data (outer, NULL), g_bytes_get_size (outer), error)
      || !write_str (out, intro, strlen (intro), error))
    return FALSE;

  /* The entity goes to @out as gpg reads it to sign it. */
  plain = pst_pgpstream_entity_input (message, entity_head, qp);
  if (!(sig = pst_pgp_sign_detached_stream (pgp, plain, out, sender, &signed_with, error)))
    return FALSE;
  if (g_strcmp0 (signed_with, micalg) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "OpenPGP signing failed: gpg signed with %s after announcing %s", signed_with,
                   micalg);
      return FALSE;
    }
  outro = pst_pgpmime_signed_outro (boundary, sig);
  return write_str (out, outro, strlen (outro), error);
}
