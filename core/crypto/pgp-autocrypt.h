/* pgp-autocrypt.h — the OpenPGP side of Autocrypt: the key an outgoing
 * header carries, and a key from an incoming header into the keyring.
 * Part of the GPGME back-end (pgp*.c).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The public key @fingerprint as an Autocrypt header carries it: binary,
 * minimal (no third-party signatures, only the newest self-signatures).
 * Errors: PST_ERROR_CRYPTO.  Transfer full. */
GBytes *pst_pgp_autocrypt_export (const char *gnupg_home, const char *fingerprint,
                                  GError **error);

/* Imports @keydata, a key an Autocrypt or Autocrypt-Gossip header gave for
 * @address, into the keyring at @gnupg_home: only when it holds exactly one
 * key, with a user id whose address is @address, and then with that user
 * id only (gpg's import filter), so that a header never makes a key known
 * for another address.  @can_encrypt_out (may be NULL): whether the key
 * can encrypt now (not expired nor revoked, an encryption subkey).
 * Returns the fingerprint.  Errors: PST_ERROR_FAILED for keydata that is
 * not such a key (saying why), PST_ERROR_CRYPTO when gpg fails.  Transfer
 * full. */
char *pst_pgp_autocrypt_import (const char *gnupg_home, GBytes *keydata, const char *address,
                                gboolean *can_encrypt_out, GError **error);

G_END_DECLS
