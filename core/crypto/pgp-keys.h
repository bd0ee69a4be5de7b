/* pgp-keys.h — managing the OpenPGP keyring the agent uses: import, list,
 * generate, export, expire, revoke, remove.  Part of the GPGME backend (with pgp.c): the rest of Postern
 * never includes gpgme.h.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *fingerprint;    /* of the primary key */
  char **uids;          /* user ids as written, NULL-terminated */
  char **emails;        /* their addresses, NULL-terminated */
  gboolean secret;      /* the secret key is in the keyring */
  gboolean expired, revoked, disabled, invalid;
  gboolean can_encrypt, can_sign;
  gint64 created, expires;   /* unix seconds; expires 0 = never */
} PstPgpKeyInfo;

void pst_pgp_key_info_free (PstPgpKeyInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPgpKeyInfo, pst_pgp_key_info_free)

/* Whether @data looks like OpenPGP key material (armored or binary). */
gboolean pst_pgp_keys_looks_like_openpgp (GBytes *data);

/* Imports every key in @data into the keyring at @gnupg_home (NULL:
 * $GNUPGHOME).  @imported_out: a GPtrArray of PstPgpKeyInfo for the keys
 * imported or updated (transfer full).  Errors: PST_ERROR_FAILED when @data
 * holds no key ("no OpenPGP key found"), PST_ERROR_CRYPTO when gpg fails. */
gboolean pst_pgp_keys_import (const char *gnupg_home, GBytes *data, GPtrArray **imported_out,
                              GError **error);

/* Imports from @data, keys someone else vouched for @address (a Web Key
 * Directory's answer), only what binds @address: the keys of @data that
 * have a user id whose address is @address (pst_addr_equal), each with only
 * the user ids of that address (gpg's import filter "keep-uid=mbox = …",
 * which compares without case).  Returns the fingerprint of the key
 * imported (when several, the first).  Errors: PST_ERROR_POLICY when no key
 * of @data has a user id of @address, naming the addresses it does have
 * (nothing is imported); PST_ERROR_FAILED when @data holds no OpenPGP key;
 * PST_ERROR_CRYPTO when gpg fails.  Transfer full. */
char *pst_pgp_keys_import_for_address (const char *gnupg_home, GBytes *data, const char *address,
                                       GError **error);

/* Keys whose user ids contain @pattern (NULL: all).  Transfer full. */
GPtrArray *pst_pgp_keys_list (const char *gnupg_home, const char *pattern, GError **error);

/* Makes an OpenPGP key for @address in the keyring at @gnupg_home: an
 * Ed25519 primary key that signs and certifies, a Cv25519 subkey that
 * encrypts, the user id "<@address>", expiring after @expires_s seconds (0:
 * never; the user can extend it).  Its secret part is protected by
 * @passphrase, or by none when NULL.  Returns the fingerprint.  Errors:
 * PST_ERROR_USAGE when @address is no e-mail address or already has a
 * usable secret key (one key per address: which would sign?);
 * PST_ERROR_CRYPTO when gpg fails (nothing is left half made).  Transfer
 * full. */
char *pst_pgp_keys_generate (const char *gnupg_home, const char *address, const char *passphrase,
                             guint64 expires_s, GError **error);

/* The public keys of @address (a user id of exactly that address), armored,
 * minimal (the latest self-signatures and any revocation, no third-party
 * certifications), never a secret part: the own keys when the keyring has
 * a secret key for @address (revoked and expired ones too: that is how
 * peers learn of a revocation), else every key known for it.
 * @fingerprints_out (may be NULL) gets those exported, NULL-terminated;
 * @own_out (may be NULL) whether they are own keys.  Errors:
 * PST_ERROR_USAGE not an address; PST_ERROR_POLICY no key (exit 3, as for
 * a missing key); PST_ERROR_CRYPTO when gpg fails.  Transfer full. */
GBytes *pst_pgp_keys_export (const char *gnupg_home, const char *address, char ***fingerprints_out,
                             gboolean *own_out, GError **error);

/* Sets the expiry of the own key of @address (a secret key that is not
 * revoked; of several, the one valid now) to @expires_s seconds from now
 * (0: never), for the primary key and its encryption subkeys (expired ones
 * included: extending them is the point).  @passphrase (may be NULL)
 * unlocks the secret key, given to gpg in loopback mode.
 * @fingerprint_out and @expires_out (unix seconds, 0: never; both may be
 * NULL) say which key and what the keyring says now.  Errors:
 * PST_ERROR_POLICY no such key; PST_ERROR_USAGE not an address, several
 * keys, or a passphrase needed and none given; PST_ERROR_CRYPTO a wrong
 * passphrase or gpg failing. */
gboolean pst_pgp_keys_set_expiry (const char *gnupg_home, const char *address,
                                  const char *passphrase, guint64 expires_s,
                                  char **fingerprint_out, gint64 *expires_out, GError **error);

/* The reasons of a key revocation (RFC 4880 §5.2.3.23), in the order of
 * gpg's menu (which is not the RFC's numbering). */
typedef enum {
  PST_PGP_REVOKE_UNSPECIFIED,
  PST_PGP_REVOKE_COMPROMISED,
  PST_PGP_REVOKE_SUPERSEDED,
  PST_PGP_REVOKE_RETIRED,
} PstPgpRevokeReason;

/* Revokes the own key of @address (chosen as for pst_pgp_keys_set_expiry),
 * the whole key, with @reason; cannot be undone.  The key stays in the
 * keyring, revoked: it signs and is encrypted to no more, and
 * pst_pgp_keys_export gives peers its revocation.  @passphrase as above.
 * @fingerprint_out (may be NULL) gets the key's.  Errors as above, and
 * PST_ERROR_CRYPTO when the keyring does not show the key revoked after. */
gboolean pst_pgp_keys_revoke (const char *gnupg_home, const char *address,
                              PstPgpRevokeReason reason, const char *passphrase,
                              char **fingerprint_out, GError **error);

/* Removes the key with fingerprint @fingerprint (at least 16 hex digits),
 * with its secret part.  Unknown: PST_ERROR_FAILED. */
gboolean pst_pgp_keys_remove (const char *gnupg_home, const char *fingerprint, GError **error);

/* --- The Autocrypt Setup Message (mime/autocrypt-setup.h has the format) --- */

/* The keys in @data (armored or binary) as gpg reads them, without
 * importing anything.  Transfer full. */
GPtrArray *pst_pgp_keys_inspect (const char *gnupg_home, GBytes *data, GError **error);

/* The secret key @fingerprint (40 hex digits) as an ASCII-armored
 * transferable secret key: its user ids, subkeys and their secret parts,
 * without third-party signatures.  A key under a passphrase stays under it
 * and gpg wants that passphrase to export it: @passphrase (NULL: none
 * given).  Errors: PST_ERROR_USAGE when the key wants a passphrase and
 * none or a wrong one was given; PST_ERROR_FAILED when there is no such
 * secret key; PST_ERROR_CRYPTO when gpg fails.  Transfer full: secret
 * bytes, wiped when freed. */
GBytes *pst_pgp_keys_export_secret (const char *gnupg_home, const char *fingerprint,
                                    const char *passphrase, GError **error);

/* @plain encrypted under @passphrase alone (no public key: OpenPGP
 * symmetric encryption, gpg's default cipher, AES-128, and its iterated and
 * salted S2K), ASCII-armored.  gpg-agent is told not to cache the
 * passphrase.  Errors: PST_ERROR_CRYPTO.  Transfer full. */
char *pst_pgp_symmetric_encrypt (const char *gnupg_home, GBytes *plain, const char *passphrase,
                                 GError **error);

/* Decrypts @armored (@len bytes), a message encrypted under a passphrase
 * only, with @passphrase, never with a cached passphrase or a key of the
 * keyring: a message that holds a session key for a public key is refused
 * even when it decrypts.  At most @max bytes of output.  Errors:
 * PST_ERROR_CRYPTO when @passphrase does not decrypt it (or anything else
 * in it is wrong).  Transfer full: secret bytes. */
GBytes *pst_pgp_symmetric_decrypt (const char *gnupg_home, const char *armored, gsize len,
                                   const char *passphrase, gsize max, GError **error);

G_END_DECLS
