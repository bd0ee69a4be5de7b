/* cipherspool.c — see cipherspool.h.  OpenSSL's EVP does the cipher; the
 * file and the stream that tees into it are this file's: GIO has no
 * encrypting stream, and OpenSSL's cipher BIO would add a BIO chain to
 * write 64 KiB pieces to a descriptor. */
#include "crypto/cipherspool.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/sha256.h"
#include "util/error.h"

#define CHUNK (64 * 1024)
#define ROOM_CHECK PST_CIPHER_SPOOL_ROOM_CHECK

struct _PstCipherSpool {
  int fd;
  guint64 max;
  guint64 keep_free;
  guint64 have;            /* bytes written */
  gboolean ok;
  EVP_CIPHER_CTX *enc;
  guchar key[32];
  guchar iv[16];
  PstSha256 *sum;          /* of the plaintext written */
  guchar *buf;             /* CHUNK, wiped when freed */
};

/* A spool over @fd (empty, read and written, taken: closed when freed)
 * that holds at most @max bytes and, looked at every 16 MiB, leaves
 * @keep_free bytes free on its file system.  NULL when no key can be made
 * (the fd is closed then). */
static PstCipherSpool *
spool_new (int fd, guint64 max, guint64 keep_free)
{
  PstCipherSpool *s = g_new0 (PstCipherSpool, 1);

  s->fd = fd;
  s->max = max;
  s->keep_free = keep_free;
  s->ok = TRUE;
  s->sum = pst_sha256_new ();
  s->buf = g_malloc (CHUNK);
  if (RAND_priv_bytes (s->key, sizeof s->key) != 1 || RAND_bytes (s->iv, sizeof s->iv) != 1
      || !(s->enc = EVP_CIPHER_CTX_new ())
      || EVP_EncryptInit_ex (s->enc, EVP_aes_256_ctr (), NULL, s->key, s->iv) != 1)
    {
      pst_cipher_spool_free (s);
      return NULL;
    }
  return s;
}

PstCipherSpool *
pst_cipher_spool_open (PstCipherSpoolOpen open_fn, gpointer data)
{
  guint64 max = 0, keep_free = 0;
  int fd = open_fn != NULL ? open_fn (data, &max, &keep_free) : -1;

  return fd >= 0 ? spool_new (fd, max, keep_free) : NULL;
}

gboolean
pst_cipher_spool_ok (const PstCipherSpool *spool)
{
  return spool->ok;
}

guint64
pst_cipher_spool_size (const PstCipherSpool *spool)
{
  return spool->have;
}

static gboolean
write_fd (int fd, const guchar *p, gsize n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, p, n);

      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return FALSE;
      p += w;
      n -= (gsize) w;
    }
  return TRUE;
}

/* Gives the spool up: it takes nothing more, and its room is freed now. */
static void
give_up (PstCipherSpool *s)
{
  s->ok = FALSE;
  if (ftruncate (s->fd, 0) != 0)
    g_debug ("cannot empty a spool given up: %s", g_strerror (errno));
}

/* Whether the file system keeps keep_free beyond the next ROOM_CHECK. */
static gboolean
has_room (PstCipherSpool *s)
{
  struct statvfs sv;

  return fstatvfs (s->fd, &sv) == 0
         && (guint64) sv.f_bavail * sv.f_frsize >= s->keep_free + ROOM_CHECK;
}

void
pst_cipher_spool_write (PstCipherSpool *s, const void *bytes, gsize len)
{
  const guchar *data = bytes;

  if (!s->ok)
    return;
  if (len > s->max - s->have
      || (s->have / ROOM_CHECK != (s->have + len) / ROOM_CHECK && !has_room (s)))
    {
      give_up (s);
      return;
    }
  pst_sha256_update (s->sum, data, len);
  while (len > 0)
    {
      int n = (int) MIN (len, (gsize) CHUNK), out = 0;

      /* CTR: as many bytes out as in, nothing held back. */
      if (EVP_EncryptUpdate (s->enc, s->buf, &out, data, n) != 1 || out != n
          || !write_fd (s->fd, s->buf, (gsize) n))
        {
          give_up (s);
          return;
        }
      data += n;
      len -= (gsize) n;
      s->have += (guint64) n;
    }
}

gboolean
pst_cipher_spool_replay (PstCipherSpool *s, GOutputStream *out, gboolean *spool_failed_out,
                         GError **error)
{
  g_autoptr(PstSha256) sum = pst_sha256_new ();
  g_autofree guchar *in = g_malloc (CHUNK);
  EVP_CIPHER_CTX *dec = NULL;
  guint64 left = s->have;
  gboolean ok = FALSE;

  g_return_val_if_fail (s->ok, FALSE);
  *spool_failed_out = TRUE;
  if (lseek (s->fd, 0, SEEK_SET) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot read the decrypted text back: %s", g_strerror (errno));
      goto out;
    }
  if (!(dec = EVP_CIPHER_CTX_new ())
      || EVP_DecryptInit_ex (dec, EVP_aes_256_ctr (), NULL, s->key, s->iv) != 1)
    {
      g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED,
                           "cannot read the decrypted text back: the cipher failed");
      goto out;
    }
  while (left > 0)
    {
      ssize_t n = read (s->fd, in, (gsize) MIN (left, (guint64) CHUNK));
      int plain = 0;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "cannot read the decrypted text back: %s",
                       n < 0 ? g_strerror (errno) : "it was cut short");
          goto out;
        }
      if (EVP_DecryptUpdate (dec, s->buf, &plain, in, (int) n) != 1 || plain != n)
        {
          g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED,
                               "cannot read the decrypted text back: the cipher failed");
          goto out;
        }
      pst_sha256_update (sum, s->buf, (gsize) n);
      if (!g_output_stream_write_all (out, s->buf, (gsize) n, NULL, NULL, error))
        {
          *spool_failed_out = FALSE;   /* @out's error */
          goto out;
        }
      left -= (guint64) n;
    }
  if (strcmp (pst_sha256_get_string (s->sum), pst_sha256_get_string (sum)) != 0)
    g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED,
                         "the decrypted text kept on disk changed before it was written");
  else
    {
      ok = TRUE;
      *spool_failed_out = FALSE;
    }
out:
  EVP_CIPHER_CTX_free (dec);
  OPENSSL_cleanse (in, CHUNK);
  OPENSSL_cleanse (s->buf, CHUNK);
  return ok;
}

void
pst_cipher_spool_free (PstCipherSpool *s)
{
  if (s == NULL)
    return;
  if (s->fd >= 0)
    close (s->fd);
  EVP_CIPHER_CTX_free (s->enc);
  OPENSSL_cleanse (s->key, sizeof s->key);
  OPENSSL_cleanse (s->buf, CHUNK);
  g_free (s->buf);
  pst_sha256_free (s->sum);
  g_free (s);
}

/* --- The stream that keeps a copy ----------------------------------------- */

typedef struct {
  GOutputStream parent;
  GOutputStream *base;
  PstCipherSpoolOpen open_fn;
  gpointer open_data;
  PstCipherSpool *spool;   /* opened at the first write kept */
  gboolean done;           /* a write not kept, or no spool to be had: no copy */
  PstCipherSpoolKeep keep;
  gpointer keep_data;
} PstSpoolTee;

typedef struct {
  GOutputStreamClass parent_class;
} PstSpoolTeeClass;

GType pst_spool_tee_get_type (void);
G_DEFINE_TYPE (PstSpoolTee, pst_spool_tee, G_TYPE_OUTPUT_STREAM)

static gssize
spool_tee_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
                 GError **error)
{
  PstSpoolTee *self = (PstSpoolTee *) stream;
  gssize n = g_output_stream_write (self->base, buffer, count, cancellable, error);

  if (n <= 0 || self->done)
    return n;
  if (self->keep != NULL && !self->keep (self->keep_data))
    {
      /* Not wanted (any more): given up, or never made. */
      if (self->spool != NULL)
        give_up (self->spool);
      self->done = TRUE;
      return n;
    }
  if (self->spool == NULL && !(self->spool = pst_cipher_spool_open (self->open_fn, self->open_data)))
    {
      self->done = TRUE;
      return n;
    }
  pst_cipher_spool_write (self->spool, buffer, (gsize) n);
  return n;
}

static void
spool_tee_finalize (GObject *object)
{
  PstSpoolTee *self = (PstSpoolTee *) object;

  g_clear_pointer (&self->spool, pst_cipher_spool_free);
  G_OBJECT_CLASS (pst_spool_tee_parent_class)->finalize (object);
}

/* No flush or close of its own: @base is not the tee's (the sinks it is
 * used with hold nothing back for a flush either). */
static void
pst_spool_tee_class_init (PstSpoolTeeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = spool_tee_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = spool_tee_write;
}

static void
pst_spool_tee_init (PstSpoolTee *self)
{
  (void) self;
}

GOutputStream *
pst_cipher_spool_tee_new (GOutputStream *base, PstCipherSpoolOpen open_fn, gpointer open_data,
                          PstCipherSpoolKeep keep, gpointer keep_data)
{
  PstSpoolTee *self = g_object_new (pst_spool_tee_get_type (), NULL);

  self->base = base;
  self->open_fn = open_fn;
  self->open_data = open_data;
  self->keep = keep;
  self->keep_data = keep_data;
  return G_OUTPUT_STREAM (self);
}

PstCipherSpool *
pst_cipher_spool_tee_get (GOutputStream *tee)
{
  return ((PstSpoolTee *) tee)->spool;
}

PstCipherSpool *
pst_cipher_spool_tee_steal (GOutputStream *tee)
{
  return g_steal_pointer (&((PstSpoolTee *) tee)->spool);
}
