/* smime-stream.c — CMS signing and encryption as GOutputStreams (see
 * smime.h, "Streams"), for messages too large to hold in memory: OpenSSL's
 * own streaming (CMS_dataInit/CMS_dataFinal for the detached signature,
 * BIO_new_CMS for indefinite-length EnvelopedData and AuthEnvelopedData,
 * as i2d_CMS_bio_stream does) over a BIO that writes to a GOutputStream. */
#include "crypto/smime-private.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>

#include "util/error.h"

/* --- A BIO writing to a GOutputStream ------------------------------------- */

static int
gio_bio_write (BIO *bio, const char *data, int len)
{
  PstSmimeGioSink *s = BIO_get_data (bio);

  if (s->error != NULL || len < 0)
    return -1;
  if (len > 0 && !g_output_stream_write_all (s->out, data, (gsize) len, NULL, NULL, &s->error))
    return -1;
  return len;
}

static long
gio_bio_ctrl (BIO *bio, int cmd, long num, void *ptr)
{
  (void) bio;
  (void) num;
  (void) ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
custom_bio_create (BIO *bio)
{
  BIO_set_init (bio, 1);
  return 1;
}

BIO *
pst_smime_custom_bio_new (PstSmimeBioMethod *m, void *data)
{
  BIO *bio;

  if (g_once_init_enter (&m->once))
    {
      m->method = BIO_meth_new (BIO_get_new_index () | BIO_TYPE_SOURCE_SINK, m->name);
      if (m->write != NULL)
        BIO_meth_set_write (m->method, m->write);
      if (m->read != NULL)
        BIO_meth_set_read (m->method, m->read);
      BIO_meth_set_ctrl (m->method, m->ctrl);
      BIO_meth_set_create (m->method, custom_bio_create);
      g_once_init_leave (&m->once, 1);
    }
  bio = BIO_new (m->method);
  BIO_set_data (bio, data);
  return bio;
}

BIO *
pst_smime_gio_bio_new (PstSmimeGioSink *sink)
{
  static PstSmimeBioMethod method = { .name = "postern gio sink", .write = gio_bio_write,
                                      .ctrl = gio_bio_ctrl };

  return pst_smime_custom_bio_new (&method, sink);
}

/* --- The stream ------------------------------------------------------------ */

#define PST_TYPE_CMS_OUTPUT (pst_cms_output_get_type ())
G_DECLARE_FINAL_TYPE (PstCmsOutput, pst_cms_output, PST, CMS_OUTPUT, GOutputStream)

struct _PstCmsOutput {
  GOutputStream parent;
  CMS_ContentInfo *cms;
  PstSmimeGioSink sink;
  BIO *base;            /* the gio BIO, last in the chain */
  BIO *top;             /* what is written to: the filters OpenSSL pushed on @base */
  gboolean encrypt;     /* closing finishes the EnvelopedData */
  gboolean finished;
};

G_DEFINE_TYPE (PstCmsOutput, pst_cms_output, G_TYPE_OUTPUT_STREAM)

/* Frees the filters above @base. */
static void
free_filters (PstCmsOutput *self)
{
  while (self->top != NULL && self->top != self->base)
    {
      BIO *next = BIO_pop (self->top);

      BIO_free (self->top);
      self->top = next;
    }
  self->top = NULL;
}

/* The error of a failed BIO call: the output's, else OpenSSL's. */
static void
set_stream_error (PstCmsOutput *self, GError **error, const char *what)
{
  if (self->sink.error != NULL)
    {
      g_propagate_error (error, self->sink.error);
      self->sink.error = NULL;
      ERR_clear_error ();
      return;
    }
  pst_smime_set_crypto_error (error, what);
}

static gssize
cms_output_write (GOutputStream *stream, const void *buffer, gsize count,
                  GCancellable *cancellable, GError **error)
{
  PstCmsOutput *self = PST_CMS_OUTPUT (stream);
  int n = (int) MIN (count, (gsize) G_MAXINT / 2);

  (void) cancellable;
  if (self->top == NULL || self->finished)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the CMS stream is finished");
      return -1;
    }
  if (n > 0 && BIO_write (self->top, buffer, n) != n)
    {
      set_stream_error (self, error, self->encrypt ? "cannot encrypt with S/MIME"
                                                   : "cannot sign with the S/MIME identity");
      return -1;
    }
  return n;
}

static gboolean
cms_output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  PstCmsOutput *self = PST_CMS_OUTPUT (stream);
  gboolean ok = TRUE;

  (void) cancellable;
  if (self->encrypt && !self->finished && self->top != NULL)
    {
      /* The cipher's last block, then (the ASN.1 filter's suffix) the end
       * of the structure: CMS_dataFinal (the GCM tag) and its encoding. */
      self->finished = TRUE;
      if (BIO_flush (self->top) <= 0 || self->sink.error != NULL)
        {
          set_stream_error (self, error, "cannot encrypt with S/MIME");
          ok = FALSE;
        }
      free_filters (self);
    }
  return ok;
}

static void
pst_cms_output_finalize (GObject *object)
{
  PstCmsOutput *self = PST_CMS_OUTPUT (object);

  free_filters (self);
  BIO_free (self->base);
  CMS_ContentInfo_free (self->cms);
  g_clear_error (&self->sink.error);
  ERR_clear_error ();
  G_OBJECT_CLASS (pst_cms_output_parent_class)->finalize (object);
}

static void
pst_cms_output_class_init (PstCmsOutputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pst_cms_output_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = cms_output_write;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = cms_output_close;
}

static void
pst_cms_output_init (PstCmsOutput *self)
{
  (void) self;
}

static PstCmsOutput *
cms_output_new (CMS_ContentInfo *cms, GOutputStream *base, gboolean encrypt)
{
  PstCmsOutput *self = g_object_new (PST_TYPE_CMS_OUTPUT, NULL);

  self->cms = cms;
  self->sink.out = base;
  self->base = pst_smime_gio_bio_new (&self->sink);
  self->encrypt = encrypt;
  return self;
}

/* --- Signing ---------------------------------------------------------------- */

GOutputStream *
pst_smime_sign_stream_new (PstSmime *smime, const char *sender, GOutputStream *base,
                           const char **micalg_out, GError **error)
{
  CMS_ContentInfo *cms = pst_smime_signed_cms_new (smime, sender, micalg_out, error);
  PstCmsOutput *self;

  if (cms == NULL)
    return NULL;
  self = cms_output_new (cms, base, FALSE);
  /* The digests, pushed on the output: what is written passes through. */
  if (!(self->top = CMS_dataInit (cms, self->base)))
    {
      pst_smime_set_crypto_error (error, "cannot sign with the S/MIME identity");
      g_object_unref (self);
      return NULL;
    }
  return G_OUTPUT_STREAM (self);
}

GBytes *
pst_smime_sign_stream_finish (GOutputStream *stream, GError **error)
{
  PstCmsOutput *self = PST_CMS_OUTPUT (stream);
  GBytes *der = NULL;

  g_return_val_if_fail (!self->encrypt, NULL);
  if (self->top == NULL || self->finished)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the CMS stream is finished");
      return NULL;
    }
  self->finished = TRUE;
  if (CMS_dataFinal (self->cms, self->top) > 0)
    der = pst_smime_cms_to_der (self->cms);
  if (der == NULL)
    set_stream_error (self, error, "cannot sign with the S/MIME identity");
  free_filters (self);
  return der;
}

/* --- Encryption -------------------------------------------------------------- */

GOutputStream *
pst_smime_encrypt_stream_new (PstSmime *smime, const char *const *recipients,
                              GOutputStream *base, gboolean *auth_out, GError **error)
{
  gboolean gcm = TRUE;
  STACK_OF (X509) *certs = pst_smime_recipient_certs (smime, recipients, &gcm, error);
  CMS_ContentInfo *cms;
  PstCmsOutput *self;

  if (certs == NULL)
    return NULL;
  cms = CMS_encrypt (certs, NULL, gcm ? EVP_aes_256_gcm () : EVP_aes_256_cbc (),
                     CMS_BINARY | CMS_STREAM | CMS_PARTIAL);
  sk_X509_free (certs);
  if (cms == NULL)
    {
      pst_smime_set_crypto_error (error, "cannot encrypt with S/MIME");
      return NULL;
    }
  self = cms_output_new (cms, base, TRUE);
  /* The cipher on an ASN.1 filter that writes the indefinite-length
   * encoding around what comes through; nothing is written before the
   * first write. */
  if (!(self->top = BIO_new_CMS (self->base, cms)))
    {
      pst_smime_set_crypto_error (error, "cannot encrypt with S/MIME");
      g_object_unref (self);
      return NULL;
    }
  if (auth_out != NULL)
    *auth_out = gcm;
  return G_OUTPUT_STREAM (self);
}
