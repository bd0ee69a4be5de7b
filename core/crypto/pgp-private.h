/* pgp-private.h — what the GPGME back-end's files (pgp*.c) share.  Only
 * they include gpgme.h. */
#pragma once

#include <gpgme.h>
#include <glib.h>

G_BEGIN_DECLS

/* A GPGME context on the OpenPGP keyring at @home (NULL: $GNUPGHOME), no
 * pinentry.  Errors: PST_ERROR_CRYPTO. */
gpgme_ctx_t pst_pgp_keys_open_ctx (const char *home, GError **error);

/* The subkey of @key that gpg uses to sign (@secret TRUE: with its secret
 * key) or to encrypt: the newest usable one; NULL when there is none or
 * @key itself is not usable.  Owned by @key. */
gpgme_subkey_t pst_pgp_usable_subkey (gpgme_key_t key, gboolean secret);

/* The largest plaintext pst_pgp_direct_encrypt takes (it is held whole). */
#define PST_PGP_DIRECT_MAX_INPUT (1024 * 1024)

/* The ASCII-armored OpenPGP message gpg --encrypt [--sign] would write for
 * @data to the keys @recipients (NULL-terminated, duplicates merged),
 * signed by @signer unless it is NULL, made in this process with the
 * signature from gpg-agent (pgp-direct.c).  NULL when it cannot be made
 * here (a key algorithm not done here, gpg-agent not answering or wanting
 * a passphrase, @data larger than PST_PGP_DIRECT_MAX_INPUT): the caller
 * then uses gpg.  Transfer full. */
GBytes *pst_pgp_direct_encrypt (const char *home, gpgme_key_t *recipients, gpgme_key_t signer,
                                GBytes *data);

/* Checks the GnuPG home @home (NULL: the default) at each key lookup: when
 * its keyring or trustdb files changed since the last call, the cached key
 * lookups and exports are dropped (pst_pgp_forget_keys).  TRUE when its
 * gpg.conf and common.conf (and /etc/gnupg's) set only options that do not
 * change what gpg writes, so that pst_pgp_direct_encrypt may be used
 * (pgp-home.c). */
gboolean pst_pgp_home_check (const char *home);

/* Drops pgp-direct.c's cached key material (pst_pgp_forget_keys). */
void pst_pgp_direct_forget (void);

/* Drops pgp-autocrypt.c's cached exports (pst_pgp_forget_keys). */
void pst_pgp_autocrypt_forget (void);

G_END_DECLS
