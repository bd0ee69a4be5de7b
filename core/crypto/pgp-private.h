/* pgp-private.h — what the GPGME back-end's files (pgp*.c) share.  Only
 * they include gpgme.h. */
#pragma once

#include <gpgme.h>
#include <glib.h>

G_BEGIN_DECLS

/* A GPGME context on the OpenPGP keyring at @home (NULL: $GNUPGHOME), no
 * pinentry.  Errors: PST_ERROR_CRYPTO. */
gpgme_ctx_t pst_pgp_keys_open_ctx (const char *home, GError **error);

/* Drops pgp-autocrypt.c's cached exports (pst_pgp_forget_keys). */
void pst_pgp_autocrypt_forget (void);

G_END_DECLS
