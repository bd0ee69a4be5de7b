/* sha256.h — SHA-256 of bytes given in pieces, by OpenSSL, which uses the
 * CPU's SHA instructions where it has them: 1.7 GB/s on this project's
 * machines against 0.2 GB/s for GLib's GChecksum, in which the sums of a
 * streamed decryption (opensink.h, cipherspool.h) spent most of the
 * agent's time.  The same use as GChecksum's: update, then the digest as a
 * string, after which nothing more is added. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PstSha256 PstSha256;

/* Transfer full. */
PstSha256 *pst_sha256_new (void);
void pst_sha256_update (PstSha256 *sum, const void *data, gsize len);
/* The digest in lowercase hexadecimal (64 characters), owned by @sum:
 * once asked for, @sum takes nothing more. */
const char *pst_sha256_get_string (PstSha256 *sum);
void pst_sha256_free (PstSha256 *sum);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSha256, pst_sha256_free)

G_END_DECLS
