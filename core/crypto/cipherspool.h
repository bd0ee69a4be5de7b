/* cipherspool.h — decrypted text kept on disk for a moment, unreadable
 * there: the plaintext a first pass over a message judged (pgpstream.c)
 * goes through AES-256-CTR, under a key made for it and kept only in
 * memory, into an unnamed file the caller made; it is read back from
 * there, and its SHA-256 must be the one written, instead of decrypting
 * the message a second time. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PstCipherSpool PstCipherSpool;

/* A spool looks at the room left on its file system every this many
 * bytes, and gives up unless what must stay free and this much more are
 * there: a spool that must take N bytes needs N and this much room. */
#define PST_CIPHER_SPOOL_ROOM_CHECK (G_GUINT64_CONSTANT (16) * 1024 * 1024)

/* How a reader asks its caller for a spool: an unnamed file of the
 * caller's (0600, linked nowhere), empty, open for reading and writing, in
 * *@max_out how much it may hold, and in *@keep_free_out what must stay
 * free on its file system as it grows; or -1 when there is none.
 * Transfer full: the callee closes it. */
typedef int (*PstCipherSpoolOpen) (gpointer data, guint64 *max_out, guint64 *keep_free_out);

/* Whether everything written so far is kept: FALSE once a write failed or
 * went past what the file may hold or into what must stay free (the spool
 * then takes nothing more, its file is emptied, and the caller does
 * without it). */
gboolean pst_cipher_spool_ok (const PstCipherSpool *spool);

/* Asked after each write whether the copy is still wanted. */
typedef gboolean (*PstCipherSpoolKeep) (gpointer data);

/* A stream that writes to @base (not owned) and keeps a copy of what
 * @base took in a spool for as long as @keep (may be NULL) says, after
 * each write, that it is wanted: then, or when the spool fails, the spool
 * is given up, not the write.  The spool is asked of @open_fn with
 * @open_data at the first write kept, so that what is given up at once
 * (an attachment that passes as it comes) costs no file and no key.
 * Transfer full. */
GOutputStream *pst_cipher_spool_tee_new (GOutputStream *base, PstCipherSpoolOpen open_fn,
                                         gpointer open_data, PstCipherSpoolKeep keep,
                                         gpointer keep_data);

/* The spool of @tee (a pst_cipher_spool_tee_new): borrowed, or NULL when
 * none was opened (nothing kept, or @open_fn gave none). */
PstCipherSpool *pst_cipher_spool_tee_get (GOutputStream *tee);

/* The same, taken from @tee: transfer full. */
PstCipherSpool *pst_cipher_spool_tee_steal (GOutputStream *tee);

/* A spool of its own, not behind a tee: asked of @open_fn with @data now;
 * NULL when it gives none or no key can be made.  Transfer full. */
PstCipherSpool *pst_cipher_spool_open (PstCipherSpoolOpen open_fn, gpointer data);

/* Keeps @len more bytes, or gives the spool up (pst_cipher_spool_ok then
 * says so): past what its file may hold, into what must stay free, or a
 * write that failed. */
void pst_cipher_spool_write (PstCipherSpool *spool, const void *data, gsize len);

/* How many bytes it holds. */
guint64 pst_cipher_spool_size (const PstCipherSpool *spool);

/* Writes what the spool holds, decrypted, to @out, from its start.  FALSE
 * with @error: @out's error, or PST_ERROR_FAILED with *@spool_failed_out
 * set when the file cannot be read back or does not hold what was written
 * (its SHA-256 differs; @out then holds bytes the caller discards). */
gboolean pst_cipher_spool_replay (PstCipherSpool *spool, GOutputStream *out,
                                  gboolean *spool_failed_out, GError **error);

/* Wipes the key, closes the file. */
void pst_cipher_spool_free (PstCipherSpool *spool);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstCipherSpool, pst_cipher_spool_free)

G_END_DECLS
