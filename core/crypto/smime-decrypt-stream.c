/* smime-decrypt-stream.c — CMS decryption on a stream (smime.h,
 * pst_smime_decrypt_stream).
 *
 * Why a BER walker of our own: OpenSSL 3 has no streaming CMS parser.
 * d2i_CMS_bio reads the whole object into memory (asn1_d2i_read_bio) and
 * d2i then copies the encrypted content into an OCTET STRING of its own,
 * so CMS_decrypt on a parsed object holds the message twice before a byte
 * is decrypted.  What OpenSSL does stream is the content: CMS_decrypt
 * reads detached content from a BIO (dcont) through the cipher.  So this
 * file reads the object twice: the first pass walks the BER, keeps
 * everything but the encrypted content (a few KiB: recipient infos,
 * algorithm, the GCM tag after the content) and builds that "skeleton"
 * again in DER, without the content, for d2i_CMS_ContentInfo; the second
 * pass walks to the content again and hands it, segment by segment, to
 * CMS_decrypt through a BIO.  Memory: the skeleton and fixed buffers.
 * The walker knows only what it needs of RFC 5652 (ContentInfo,
 * EnvelopedData, RFC 5083 AuthEnvelopedData, EncryptedContentInfo): every
 * other element is copied as it is; what it does not expect fails. */
#include "crypto/smime-private.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <string.h>

#include "util/error.h"

/* The elements kept (everything but the content) may not exceed this. */
#define MAX_SKELETON (4 * 1024 * 1024)
/* Constructed OCTET STRINGs nested in one another. */
#define MAX_NESTING 8

/* --- Reading ----------------------------------------------------------------- */

typedef struct {
  GInputStream *in;
  guchar buf[65536];
  gsize pos, len;
  guint64 offset;       /* of buf[pos] in the object */
  gboolean malformed;   /* an element ran past the end of its container */
  GError *error;
} Reader;

/* At least @want bytes (at most 2) in the buffer; FALSE at the end. */
static gboolean
rd_ensure (Reader *r, gsize want)
{
  while (r->len - r->pos < want)
    {
      gssize n;

      if (r->pos > 0)
        {
          memmove (r->buf, r->buf + r->pos, r->len - r->pos);
          r->len -= r->pos;
          r->pos = 0;
        }
      n = g_input_stream_read (r->in, r->buf + r->len, sizeof r->buf - r->len, NULL,
                               r->error == NULL ? &r->error : NULL);
      if (n <= 0)
        return FALSE;
      r->len += (gsize) n;
    }
  return TRUE;
}

/* @n bytes, appended to @to (NULL: dropped). */
static gboolean
rd_copy (Reader *r, guint64 n, GByteArray *to)
{
  while (n > 0)
    {
      gsize take;

      if (!rd_ensure (r, 1))
        return FALSE;
      take = (gsize) MIN (n, (guint64) (r->len - r->pos));
      if (to != NULL)
        {
          if (to->len + take > MAX_SKELETON)
            return FALSE;
          g_byte_array_append (to, r->buf + r->pos, (guint) take);
        }
      r->pos += take;
      r->offset += take;
      n -= take;
    }
  return TRUE;
}

typedef struct {
  guchar tag;           /* the identifier octet (low tag numbers only) */
  gboolean indefinite;
  guint64 len;
  guint64 end;          /* offset after the content, when definite */
  guchar raw[10];       /* the header as read */
  gsize raw_len;
} Tlv;

static gboolean
rd_header (Reader *r, Tlv *t)
{
  guchar b;

  memset (t, 0, sizeof *t);
  if (!rd_ensure (r, 2))
    return FALSE;
  t->tag = r->buf[r->pos];
  b = r->buf[r->pos + 1];
  t->raw[0] = t->tag;
  t->raw[1] = b;
  t->raw_len = 2;
  if ((t->tag & 0x1f) == 0x1f)
    return FALSE;   /* high tag numbers: none in what is walked */
  r->pos += 2;
  r->offset += 2;
  if (b == 0x80)
    {
      if (!(t->tag & 0x20))
        return FALSE;
      t->indefinite = TRUE;
      return TRUE;
    }
  if (b < 0x80)
    t->len = b;
  else
    {
      guint n = b & 0x7f;

      if (n > 8)
        return FALSE;
      for (guint i = 0; i < n; i++)
        {
          if (!rd_ensure (r, 1))
            return FALSE;
          t->len = (t->len << 8) | r->buf[r->pos];
          t->raw[t->raw_len++] = r->buf[r->pos];
          r->pos++;
          r->offset++;
        }
    }
  t->end = r->offset + t->len;
  return TRUE;
}

/* Whether the container @t has another element: for an indefinite one,
 * the end-of-contents octets end it (and are consumed). */
static gboolean
has_more (Reader *r, const Tlv *t)
{
  if (!t->indefinite)
    {
      if (r->offset > t->end)
        r->malformed = TRUE;
      return r->offset < t->end;
    }
  if (!rd_ensure (r, 2))
    {
      r->malformed = TRUE;   /* the end of the input before the end-of-contents */
      return FALSE;
    }
  if (r->buf[r->pos] == 0 && r->buf[r->pos + 1] == 0)
    {
      r->pos += 2;
      r->offset += 2;
      return FALSE;
    }
  return TRUE;
}

/* The rest of the element whose header @t was just read, to @to. */
static gboolean
rd_element_rest (Reader *r, const Tlv *t, GByteArray *to, int depth)
{
  if (to != NULL)
    {
      if (to->len + t->raw_len > MAX_SKELETON)
        return FALSE;
      g_byte_array_append (to, t->raw, (guint) t->raw_len);
    }
  if (!t->indefinite)
    return rd_copy (r, t->len, to);
  if (depth > 32)
    return FALSE;
  while (has_more (r, t))
    {
      Tlv child;

      if (!rd_header (r, &child) || !rd_element_rest (r, &child, to, depth + 1))
        return FALSE;
    }
  if (r->error != NULL)
    return FALSE;
  if (to != NULL)
    g_byte_array_append (to, (const guint8 *) "\0\0", 2);
  return TRUE;
}

/* --- The encrypted content, segment by segment ------------------------------------ */

typedef struct {
  Reader *r;
  Tlv stack[MAX_NESTING];   /* the constructed strings open */
  int depth;
  guint64 left;             /* in the primitive segment being read */
  gboolean in_segment;
  gboolean done;
  gboolean failed;
} Content;

/* Starts at the content's header @t: [0] primitive or constructed. */
static gboolean
content_start (Content *c, Reader *r, const Tlv *t)
{
  memset (c, 0, sizeof *c);
  c->r = r;
  if (t->tag == 0x80)
    {
      c->left = t->len;
      c->in_segment = TRUE;
      return TRUE;
    }
  if (t->tag != 0xa0)
    return FALSE;
  c->stack[c->depth++] = *t;
  return TRUE;
}

/* Up to @n bytes of content to @buf (NULL: dropped); 0 at its end, -1 on
 * an error. */
static gssize
content_read (Content *c, guchar *buf, gsize n)
{
  gsize take;

  while (!c->done && !(c->in_segment && c->left > 0))
    {
      Tlv t;

      if (c->in_segment && c->depth == 0)
        {
          c->done = TRUE;   /* a primitive content: read */
          break;
        }
      c->in_segment = FALSE;
      if (!has_more (c->r, &c->stack[c->depth - 1]))
        {
          if (c->r->error != NULL)
            goto fail;
          if (--c->depth == 0)
            c->done = TRUE;
          continue;
        }
      if (!rd_header (c->r, &t))
        goto fail;
      if (!c->stack[c->depth - 1].indefinite && !t.indefinite && t.end > c->stack[c->depth - 1].end)
        goto fail;   /* past the end of its container */
      if (t.tag == 0x04)
        {
          c->left = t.len;
          c->in_segment = TRUE;
        }
      else if (t.tag == 0x24 && c->depth < MAX_NESTING)
        c->stack[c->depth++] = t;
      else
        goto fail;
    }
  if (c->done || n == 0)
    return 0;
  if (!rd_ensure (c->r, 1))
    goto fail;
  take = (gsize) MIN ((guint64) n, MIN (c->left, (guint64) (c->r->len - c->r->pos)));
  if (buf != NULL)
    memcpy (buf, c->r->buf + c->r->pos, take);
  c->r->pos += take;
  c->r->offset += take;
  c->left -= take;
  return (gssize) take;

fail:
  c->failed = TRUE;
  return -1;
}

/* --- The walk --------------------------------------------------------------------- */

typedef struct {
  GByteArray *oid;        /* ContentInfo.contentType, TLV */
  GByteArray *before;     /* the elements before the EncryptedContentInfo */
  GByteArray *eci;        /* its contentType and algorithm */
  GByteArray *after;      /* the elements after it (the GCM tag, attributes) */
} Skeleton;

static void
skeleton_clear (Skeleton *s)
{
  g_clear_pointer (&s->oid, g_byte_array_unref);
  g_clear_pointer (&s->before, g_byte_array_unref);
  g_clear_pointer (&s->eci, g_byte_array_unref);
  g_clear_pointer (&s->after, g_byte_array_unref);
}

/* Whether the container @t ended well once has_more said it has no
 * further element: exactly at its definite end. */
static gboolean
ended (Reader *r, const Tlv *t)
{
  return r->error == NULL && !r->malformed && (t->indefinite || r->offset == t->end);
}

/* The containers open at the encrypted content, outermost first. */
typedef struct {
  Tlv ci;         /* ContentInfo */
  Tlv x;          /* its [0] EXPLICIT content */
  Tlv env;        /* EnvelopedData or AuthEnvelopedData */
  Tlv eci;        /* EncryptedContentInfo */
  Tlv content;    /* [0] encryptedContent */
} Frame;

/* Walks @r to the encrypted content (its header read into @f->content),
 * keeping what comes before in @s (NULL: the second pass, keeping none). */
static gboolean
walk_to_content (Reader *r, Skeleton *s, Frame *f)
{
  Tlv t;

  if (!rd_header (r, &f->ci) || f->ci.tag != 0x30 || !rd_header (r, &t) || t.tag != 0x06
      || !rd_element_rest (r, &t, s != NULL ? s->oid : NULL, 0)
      || !has_more (r, &f->ci) || !rd_header (r, &f->x) || f->x.tag != 0xa0
      || !rd_header (r, &f->env) || f->env.tag != 0x30)
    return FALSE;
  /* version, originatorInfo, recipientInfos: up to the first SEQUENCE. */
  while (TRUE)
    {
      if (!has_more (r, &f->env) || !rd_header (r, &t))
        return FALSE;
      if (t.tag == 0x30)
        break;
      if (!rd_element_rest (r, &t, s != NULL ? s->before : NULL, 0))
        return FALSE;
    }
  f->eci = t;
  /* contentType, contentEncryptionAlgorithm, then [0] the content. */
  for (int i = 0; i < 2; i++)
    if (!has_more (r, &f->eci) || !rd_header (r, &t) || t.tag != (i == 0 ? 0x06 : 0x30)
        || !rd_element_rest (r, &t, s != NULL ? s->eci : NULL, 0))
      return FALSE;
  return has_more (r, &f->eci) && rd_header (r, &f->content)
         && (f->content.tag == 0x80 || f->content.tag == 0xa0);
}

/* Whether the container @t, whose elements have all been read but for
 * its end-of-contents octets, ends here: those (read), or its definite
 * length reached exactly. */
static gboolean
closes (Reader *r, const Tlv *t)
{
  return !has_more (r, t) && ended (r, t);
}

/* After the content: the end of the EncryptedContentInfo, the rest of the
 * EnvelopedData into @after (NULL: dropped), and the end of every
 * container around it, as d2i wants them.  What follows the object is
 * not read (d2i ignores it too). */
static gboolean
walk_after_content (Reader *r, const Frame *f, GByteArray *after)
{
  if (!closes (r, &f->eci))
    return FALSE;
  while (has_more (r, &f->env))
    {
      Tlv t;

      if (!rd_header (r, &t) || !rd_element_rest (r, &t, after, 0))
        return FALSE;
    }
  return ended (r, &f->env) && closes (r, &f->x) && closes (r, &f->ci);
}

static void
append_len (GByteArray *out, gsize len)
{
  guint8 b[9];
  int n = 0;

  if (len < 0x80)
    {
      b[0] = (guint8) len;
      g_byte_array_append (out, b, 1);
      return;
    }
  for (gsize l = len; l > 0; l >>= 8)
    n++;
  b[0] = (guint8) (0x80 | n);
  for (int i = 0; i < n; i++)
    b[1 + i] = (guint8) (len >> (8 * (n - 1 - i)));
  g_byte_array_append (out, b, (guint) n + 1);
}

/* TAG, length, then @parts (NULL-terminated). */
static GByteArray *
der_wrap (guint8 tag, GByteArray *const *parts)
{
  GByteArray *out = g_byte_array_new ();
  gsize len = 0;

  for (GByteArray *const *p = parts; *p != NULL; p++)
    len += (*p)->len;
  g_byte_array_append (out, &tag, 1);
  append_len (out, len);
  for (GByteArray *const *p = parts; *p != NULL; p++)
    g_byte_array_append (out, (*p)->data, (*p)->len);
  return out;
}

/* The object of @s without its encrypted content, parsed. */
static CMS_ContentInfo *
skeleton_cms (Skeleton *s)
{
  GByteArray *eci_parts[] = { s->eci, NULL };
  g_autoptr(GByteArray) eci = der_wrap (0x30, eci_parts);
  GByteArray *env_parts[] = { s->before, eci, s->after, NULL };
  g_autoptr(GByteArray) env = der_wrap (0x30, env_parts);
  GByteArray *x_parts[] = { env, NULL };
  g_autoptr(GByteArray) x = der_wrap (0xa0, x_parts);
  GByteArray *ci_parts[] = { s->oid, x, NULL };
  g_autoptr(GByteArray) ci = der_wrap (0x30, ci_parts);
  const unsigned char *p = ci->data;
  CMS_ContentInfo *cms = d2i_CMS_ContentInfo (NULL, &p, (long) ci->len);

  ERR_clear_error ();
  return cms;
}

/* --- The content as a BIO ------------------------------------------------------------- */

typedef struct {
  Content content;
  Reader *r;
  const Frame *frame;
  gboolean finished;        /* the content and the rest walked */
} Feed;

static int
feed_bio_read (BIO *bio, char *buf, int len)
{
  Feed *f = BIO_get_data (bio);
  gssize n;

  if (len <= 0 || f->finished)
    return 0;
  n = content_read (&f->content, (guchar *) buf, (gsize) len);
  if (n < 0)
    return -1;
  if (n == 0)
    {
      /* The content has ended: the rest of the object must be whole. */
      if (!walk_after_content (f->r, f->frame, NULL))
        {
          f->content.failed = TRUE;
          return -1;
        }
      f->finished = TRUE;
    }
  return (int) n;
}

static long
feed_bio_ctrl (BIO *bio, int cmd, long num, void *ptr)
{
  Feed *f = BIO_get_data (bio);

  (void) num;
  (void) ptr;
  if (cmd == BIO_CTRL_EOF)
    return f->finished;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO *
feed_bio_new (Feed *feed)
{
  static PstSmimeBioMethod method = { .name = "postern cms content", .read = feed_bio_read,
                                      .ctrl = feed_bio_ctrl };

  return pst_smime_custom_bio_new (&method, feed);
}

/* --- Decryption ----------------------------------------------------------------------- */

/* The length of the mac (RFC 5083) among @after, the elements after the
 * EncryptedContentInfo, in DER as the walker copied them: authAttrs [1]
 * (optional), then the mac, a primitive OCTET STRING.  -1 when there is
 * none or it is not that. */
static gint64
mac_length (const GByteArray *after)
{
  gsize pos = 0;

  while (pos + 2 <= after->len)
    {
      guchar tag = after->data[pos], b = after->data[pos + 1];
      guint64 len = 0;
      gsize hdr = 2;

      if (b == 0x80)
        return -1;   /* indefinite: a constructed element; the mac is not one */
      if (b < 0x80)
        len = b;
      else
        {
          guint n = b & 0x7f;

          if (n == 0 || n > 8 || pos + 2 + n > after->len)
            return -1;
          for (guint i = 0; i < n; i++)
            len = (len << 8) | after->data[pos + 2 + i];
          hdr += n;
        }
      if (len > after->len - pos - hdr)
        return -1;
      if (tag == 0x04)
        return (gint64) len;
      if (tag != 0xa1)
        return -1;
      pos += hdr + (gsize) len;
    }
  return -1;
}

/* The first pass: the skeleton, the content skipped.  NULL when @in is not
 * enveloped CMS the walker reads, with @error set for a read error only.
 * *@mac_len_out: the length of its mac (AuthEnvelopedData), or -1. */
static CMS_ContentInfo *
first_pass (GInputStream *in, gint64 *mac_len_out, gboolean *io_failed_out, GError **error)
{
  g_autofree Reader *r = g_new0 (Reader, 1);
  Skeleton s = { g_byte_array_new (), g_byte_array_new (), g_byte_array_new (),
                 g_byte_array_new () };
  Frame f;
  Content c;
  CMS_ContentInfo *cms = NULL;
  guchar scratch[65536];
  gssize n;

  *mac_len_out = -1;
  r->in = in;
  if (walk_to_content (r, &s, &f) && content_start (&c, r, &f.content))
    {
      while ((n = content_read (&c, scratch, sizeof scratch)) > 0)
        ;
      if (n == 0 && walk_after_content (r, &f, s.after))
        {
          cms = skeleton_cms (&s);
          *mac_len_out = mac_length (s.after);
        }
    }
  if (r->error != NULL)
    {
      /* Reading failed: no verdict on the message. */
      if (io_failed_out != NULL)
        *io_failed_out = TRUE;
      g_clear_pointer (&cms, CMS_ContentInfo_free);
      g_propagate_error (error, g_steal_pointer (&r->error));
    }
  skeleton_clear (&s);
  return cms;
}

gboolean
pst_smime_mac_acceptable (gint64 mac_len)
{
  /* RFC 5084: an AES-GCM tag (ICV) is 12 to 16 bytes.  OpenSSL checks as
   * many bytes as the message gives, one if it gives one: a forger then
   * needs 256 tries, not 2^96. */
  return mac_len >= 12 && mac_len <= 16;
}

gboolean
pst_smime_auth_mac_acceptable (GBytes *der)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes (der);
  gint64 mac_len = -1;
  CMS_ContentInfo *cms = first_pass (in, &mac_len, NULL, NULL);

  CMS_ContentInfo_free (cms);
  return cms != NULL && pst_smime_mac_acceptable (mac_len);
}

/* --- SignedData with its content (opaque signed-data) -------------------------------- */

/* Starts at the header @t of an eContent OCTET STRING: primitive or
 * constructed (segments), as content_start does for [0] IMPLICIT. */
static gboolean
octets_start (Content *c, Reader *r, const Tlv *t)
{
  Tlv implicit = *t;

  if (t->tag != 0x04 && t->tag != 0x24)
    return FALSE;
  implicit.tag = t->tag == 0x04 ? 0x80 : 0xa0;
  return content_start (c, r, &implicit);
}

GBytes *
pst_smime_signed_walk (GInputStream *in, PstSmimeContentFn fn, gpointer data, GError **error)
{
  g_autofree Reader *r = g_new0 (Reader, 1);
  g_autoptr(GByteArray) oid = g_byte_array_new ();
  g_autoptr(GByteArray) before = g_byte_array_new ();
  g_autoptr(GByteArray) type = g_byte_array_new ();
  g_autoptr(GByteArray) after = g_byte_array_new ();
  g_autoptr(GByteArray) eci = NULL, sd = NULL, x = NULL, ci = NULL;
  Tlv t_ci, t_x, t_sd, t_eci, t_x0, t, os;
  Content c;
  guchar buf[65536];
  gssize n;
  gboolean ok = FALSE;

  r->in = in;
  if (!rd_header (r, &t_ci) || t_ci.tag != 0x30 || !rd_header (r, &t) || t.tag != 0x06
      || !rd_element_rest (r, &t, oid, 0) || !has_more (r, &t_ci) || !rd_header (r, &t_x)
      || t_x.tag != 0xa0 || !rd_header (r, &t_sd) || t_sd.tag != 0x30)
    goto out;
  /* version, digestAlgorithms: up to the encapContentInfo, a SEQUENCE */
  while (TRUE)
    {
      if (!has_more (r, &t_sd) || !rd_header (r, &t))
        goto out;
      if (t.tag == 0x30)
        break;
      if (!rd_element_rest (r, &t, before, 0))
        goto out;
    }
  t_eci = t;
  if (!has_more (r, &t_eci) || !rd_header (r, &t) || t.tag != 0x06
      || !rd_element_rest (r, &t, type, 0)
      /* eContent [0] EXPLICIT OCTET STRING: without it, not opaque */
      || !has_more (r, &t_eci) || !rd_header (r, &t_x0) || t_x0.tag != 0xa0
      || !has_more (r, &t_x0) || !rd_header (r, &os) || !octets_start (&c, r, &os))
    goto out;
  while ((n = content_read (&c, buf, sizeof buf)) > 0)
    if (!fn (data, buf, (gsize) n))
      {
        explicit_bzero (buf, sizeof buf);
        goto out;
      }
  explicit_bzero (buf, sizeof buf);
  if (n < 0 || !closes (r, &t_x0) || !closes (r, &t_eci))
    goto out;
  /* certificates, crls, signerInfos */
  while (has_more (r, &t_sd))
    if (!rd_header (r, &t) || !rd_element_rest (r, &t, after, 0))
      goto out;
  ok = ended (r, &t_sd) && closes (r, &t_x) && closes (r, &t_ci);

out:
  if (r->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&r->error));
      return NULL;
    }
  if (!ok)
    return NULL;
  /* The same object with its content detached. */
  {
    GByteArray *eci_parts[] = { type, NULL };
    GByteArray *sd_parts[2] = { NULL, NULL };
    GByteArray *x_parts[2] = { NULL, NULL };
    GByteArray *ci_parts[3] = { oid, NULL, NULL };
    GByteArray *joined = g_byte_array_new ();

    eci = der_wrap (0x30, eci_parts);
    g_byte_array_append (joined, before->data, before->len);
    g_byte_array_append (joined, eci->data, eci->len);
    g_byte_array_append (joined, after->data, after->len);
    sd_parts[0] = joined;
    sd = der_wrap (0x30, sd_parts);
    g_byte_array_unref (joined);
    x_parts[0] = sd;
    x = der_wrap (0xa0, x_parts);
    ci_parts[1] = x;
    ci = der_wrap (0x30, ci_parts);
    return g_bytes_new (ci->data, ci->len);
  }
}

struct _PstSmimeDecryptor {
  PstSmime *smime;
  PstSmimeReopen reopen;
  gpointer reopen_data;
  GBytes *skeleton;         /* the first pass's object without its content, DER */
  gboolean auth;
  gboolean io_failed;       /* the last run's input or output failed */
};

void
pst_smime_decryptor_free (PstSmimeDecryptor *d)
{
  if (d == NULL)
    return;
  g_clear_pointer (&d->skeleton, g_bytes_unref);
  g_free (d);
}

gboolean
pst_smime_decryptor_io_failed (PstSmimeDecryptor *d)
{
  return d->io_failed;
}

PstSmime *
pst_smime_decryptor_smime (PstSmimeDecryptor *d)
{
  return d->smime;
}

PstSmimeDecryptor *
pst_smime_decryptor_new (PstSmime *smime, PstSmimeReopen reopen, gpointer reopen_data,
                         PstIntegrity *integrity_out, gboolean *io_failed_out, GError **error)
{
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GBytes) der = NULL;
  PstSmimeDecryptor *d;
  CMS_ContentInfo *cms = NULL;
  gint64 mac_len = -1;
  gboolean auth;
  int nid;

  if (integrity_out != NULL)
    *integrity_out = PST_INTEGRITY_NONE;
  if (io_failed_out != NULL)
    *io_failed_out = FALSE;
  if (smime->remote != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "S/MIME decryption as a stream is the agent's, not a worker's");
      return NULL;
    }
  if (!(in = reopen (reopen_data, error)))
    {
      if (io_failed_out != NULL)
        *io_failed_out = TRUE;
      return NULL;
    }
  cms = first_pass (in, &mac_len, io_failed_out, error);
  g_clear_object (&in);
  if (cms == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "not an S/MIME (CMS) object");
      return NULL;
    }
  nid = OBJ_obj2nid (CMS_get0_type (cms));
  auth = nid == NID_id_smime_ct_authEnvelopedData;
  if (auth && !pst_smime_mac_acceptable (mac_len))
    {
      if (integrity_out != NULL)
        *integrity_out = PST_INTEGRITY_FAILED;
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "%s", PST_SMIME_SHORT_MAC);
      CMS_ContentInfo_free (cms);
      return NULL;
    }
  if ((nid != NID_pkcs7_enveloped && !auth) || !(der = pst_smime_cms_to_der (cms)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "not an S/MIME (CMS) object");
      CMS_ContentInfo_free (cms);
      return NULL;
    }
  CMS_ContentInfo_free (cms);
  d = g_new0 (PstSmimeDecryptor, 1);
  d->smime = smime;
  d->reopen = reopen;
  d->reopen_data = reopen_data;
  d->skeleton = g_steal_pointer (&der);
  d->auth = auth;
  return d;
}

gboolean
pst_smime_decryptor_run (PstSmimeDecryptor *d, GOutputStream *plain_out,
                         PstIntegrity *integrity_out, GError **error)
{
  g_autoptr(GInputStream) in = NULL;
  g_autofree Reader *r = NULL;
  PstSmimeGioSink sink = { plain_out, NULL };
  const unsigned char *p = g_bytes_get_data (d->skeleton, NULL);
  CMS_ContentInfo *cms = d2i_CMS_ContentInfo (NULL, &p, (long) g_bytes_get_size (d->skeleton));
  PstSmimeEntry *opened;
  Frame frame;
  Feed feed = { 0 };
  BIO *dcont = NULL, *out = NULL;
  gboolean ok = FALSE;

  if (integrity_out != NULL)
    *integrity_out = PST_INTEGRITY_NONE;
  d->io_failed = FALSE;
  ERR_clear_error ();
  /* The content-encryption key again: OpenSSL forgets it once used. */
  if (cms == NULL || !(opened = pst_smime_open_recipient (d->smime, cms, error)))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, "not an S/MIME (CMS) object");
      CMS_ContentInfo_free (cms);
      return FALSE;
    }

  /* To the content again, and through the cipher. */
  if (!(in = d->reopen (d->reopen_data, error)))
    {
      d->io_failed = TRUE;
      CMS_ContentInfo_free (cms);
      return FALSE;
    }
  r = g_new0 (Reader, 1);
  r->in = in;
  if (walk_to_content (r, NULL, &frame) && content_start (&feed.content, r, &frame.content))
    {
      feed.r = r;
      feed.frame = &frame;
      dcont = feed_bio_new (&feed);
      out = pst_smime_gio_bio_new (&sink);
      ok = CMS_decrypt (cms, NULL, opened->cert, dcont, out, CMS_BINARY) == 1 && feed.finished
           && !r->malformed;
    }
  ERR_clear_error ();
  BIO_free (dcont);
  BIO_free (out);
  CMS_ContentInfo_free (cms);
  if (r->error != NULL || sink.error != NULL)
    {
      /* Reading or writing failed: no verdict on the message. */
      d->io_failed = TRUE;
      g_propagate_error (error, r->error != NULL ? g_steal_pointer (&r->error)
                                                 : g_steal_pointer (&sink.error));
      g_clear_error (&r->error);
      g_clear_error (&sink.error);
      return FALSE;
    }
  if (!ok)
    {
      if (d->auth && integrity_out != NULL)
        *integrity_out = PST_INTEGRITY_FAILED;
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO, d->auth
                   ? "the S/MIME message was tampered with: its authentication tag does not check"
                   : "the S/MIME message cannot be decrypted: it is damaged or was tampered with");
      return FALSE;
    }
  if (integrity_out != NULL)
    *integrity_out = d->auth ? PST_INTEGRITY_OK : PST_INTEGRITY_NONE;
  return TRUE;
}

gboolean
pst_smime_decrypt_stream (PstSmime *smime, PstSmimeReopen reopen, gpointer reopen_data,
                          GOutputStream *plain_out, PstIntegrity *integrity_out, GError **error)
{
  PstSmimeDecryptor *d = pst_smime_decryptor_new (smime, reopen, reopen_data, integrity_out, NULL,
                                                  error);
  gboolean ok;

  if (d == NULL)
    return FALSE;
  ok = pst_smime_decryptor_run (d, plain_out, integrity_out, error);
  pst_smime_decryptor_free (d);
  return ok;
}
