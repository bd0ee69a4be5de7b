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

/* How a reader asks its caller for a spool: an unnamed file of the
 * caller's (0600, linked nowhere), empty, open for reading and writing, in
 * *@max_out how much it may hold, and in *@keep_free_out what must stay
 * free on its file system as it grows; or -1 when there is none.
 * Transfer full: the callee closes it. */
typedef int (*PstCipherSpoolOpen) (gpointer data, guint64 *max_out, guint64 *keep_free_out);

/* A spool over @fd (empty, read and written, taken: closed when freed)
 * that holds at most @max bytes and, looked at every 16 MiB, leaves
 * @keep_free bytes free on its file system.  NULL when no key can be made
 * (the fd is closed then).  Transfer full. */
PstCipherSpool *pst_cipher_spool_new (int fd, guint64 max, guint64 keep_free);

/* Whether everything written so far is kept: FALSE once a write failed or
 * went past @max or into @keep_free (the spool then takes nothing more,
 * its file is emptied, and the caller does without it). */
gboolean pst_cipher_spool_ok (const PstCipherSpool *spool);

/* Asked after each write whether the copy is still wanted. */
typedef gboolean (*PstCipherSpoolKeep) (gpointer data);

/* A stream that writes to @base (not owned) and keeps a copy of what
 * @base took in @spool (not owned; it must outlive the stream) for as long
 * as @keep (may be NULL) says, after each write, that it is wanted: then,
 * or when the spool fails, the spool is given up, not the write.
 * Transfer full. */
GOutputStream *pst_cipher_spool_tee_new (GOutputStream *base, PstCipherSpool *spool,
                                         PstCipherSpoolKeep keep, gpointer keep_data);

/* Writes what the spool holds, decrypted, to @out, from its start.  FALSE
 * with @error: @out's error, or PST_ERROR_FAILED with *@spool_failed_out
 * set when the file cannot be read back or does not hold what was written
 * (its SHA-256 differs; @out then holds bytes the caller discards). */
gboolean pst_cipher_spool_replay (PstCipherSpool *spool, GOutputStream *out,
                                  gboolean *spool_failed_out, GError **error);

/* A spool from @open_fn (may be NULL) called with @data, or NULL. */
PstCipherSpool *pst_cipher_spool_open (PstCipherSpoolOpen open_fn, gpointer data);

/* Wipes the key, closes the file. */
void pst_cipher_spool_free (PstCipherSpool *spool);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstCipherSpool, pst_cipher_spool_free)

G_END_DECLS
