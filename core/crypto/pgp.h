/* pgp.h — OpenPGP through GPGME.  The only file that includes gpgme.h is
 * pgp.c.  Private keys stay in gpg-agent.
 *
 * A PstPgp is a GPGME context: use one per thread.
 *
 * Trust (DESIGN.md §4): a public key in the keyring is known; it binds only
 * the addresses in its user ids.  Key lookups by address therefore accept a
 * key only when one of its user ids has exactly that address (pst_addr_equal)
 * and the key is usable (not expired, revoked, disabled or invalid), and
 * encryption uses GPGME's "always trust".
 */
#pragma once

#include <gio/gio.h>

#include "util/secret.h"
#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstPgp PstPgp;

/* Opens a context on @gnupg_home (NULL: $GNUPGHOME or ~/.gnupg).
 * Errors: PST_ERROR_CRYPTO when GPGME or its gpg engine is unusable.
 * Transfer full. */
PstPgp *pst_pgp_new (const char *gnupg_home, GError **error);
void pst_pgp_free (PstPgp *pgp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPgp, pst_pgp_free)

/* Key lookups (by address, and signers' keys by fingerprint) are cached
 * process-wide for 30 s, since each costs a gpg run.  Call this after keys
 * were imported or removed, so that the next lookup asks gpg again. */
void pst_pgp_forget_keys (void);

/* Whether the PstPgp objects the calling thread makes from now on encrypt
 * (pst_pgp_encrypt, pst_pgp_encrypt_stream) in this process, with the
 * signature made by gpg-agent, instead of running gpg for each message:
 * the same OpenPGP message and keys, for plaintexts up to 1 MiB and the
 * key algorithms pgp-direct.c does (Ed25519, RSA signing keys; Cv25519,
 * RSA encryption subkeys), gpg otherwise.  Batch encryption uses it. */
void pst_pgp_set_direct_default (gboolean direct);

/* --- Keys ---------------------------------------------------------------- */

/* The fingerprint of the key to use for @address: with @secret FALSE a usable
 * public key that can encrypt, with @secret TRUE a usable secret key that can
 * sign.  When several keys qualify, the one with the newest usable subkey.
 * Errors: PST_ERROR_POLICY when there is none ("no OpenPGP key for: ADDR" /
 * "no OpenPGP secret key for: ADDR"), PST_ERROR_CRYPTO when the key listing
 * fails.  Transfer full. */
char *pst_pgp_find_key (PstPgp *pgp, const char *address, gboolean secret, GError **error);
/* The fingerprint of the public key to use for @address when the keyring
 * has several (transfer full), or NULL for no preference. */
typedef char *(*PstPgpPreferKey) (const char *address, gpointer user_data);
/* Makes public key lookups on @pgp (pst_pgp_find_key, the recipients of
 * pst_pgp_encrypt, missing keys) take the key @prefer names when it is
 * usable and binds the address, over a newer one: the key the policy
 * judged is the key encryption uses (the agent prefers the key its store
 * binds to the address, store/keys.h). */
void pst_pgp_set_preferred_key (PstPgp *pgp, PstPgpPreferKey prefer, gpointer user_data);
/* The preference for encrypting to oneself (drafts, seal_incoming): for an
 * address with a secret key, the key whose secret is here, not a newer
 * public key that merely names the address (one imported by mistake, or
 * planted), which would make the mail unreadable to its owner. */
void pst_pgp_prefer_own_keys (PstPgp *pgp);

/* The addresses of @addresses (NULL-terminated) that have no public key
 * pst_pgp_find_key accepts, in order (NULL-terminated, transfer full, empty
 * when every one has a key).  Errors: PST_ERROR_CRYPTO when the key listing
 * fails. */
/* Why @address has no usable public key when a key carries it but cannot
 * be used ("its OpenPGP key is revoked", "… has expired"…), or NULL.
 * Transfer full. */
char *pst_pgp_key_problem (PstPgp *pgp, const char *address);

char **pst_pgp_missing_keys (PstPgp *pgp, const char *const *addresses, GError **error);

/* --- Producing ------------------------------------------------------------ */

/* Encrypts @data to the keys of @recipients (NULL-terminated addresses; the
 * caller includes the sender for encrypt-to-self) and, unless @signer is NULL,
 * signs it with the secret key of the address @signer in the same OpenPGP
 * message (RFC 3156 §6.2).  Returns the ASCII-armored OpenPGP message.
 * Errors: PST_ERROR_POLICY naming every recipient without a key ("no OpenPGP
 * key for: a@x, b@y") or the signer without a secret key; PST_ERROR_CRYPTO
 * when GPGME fails.  Transfer full. */
GBytes *pst_pgp_encrypt (PstPgp *pgp, GBytes *data, const char *const *recipients,
                         const char *signer, GError **error);

/* pst_pgp_encrypt on streams: reads the plaintext from @in up to its end
 * and writes the ASCII-armored OpenPGP message (LF line ends) to @out as gpg
 * produces it; memory does not grow with the message.  Neither stream is
 * closed.  Same keys, trust and errors as pst_pgp_encrypt, plus the
 * streams' own errors (G_IO_ERROR, prefixed).  On failure part of the
 * output may already be written: the caller discards it. */
gboolean pst_pgp_encrypt_stream (PstPgp *pgp, GInputStream *in, GOutputStream *out,
                                 const char *const *recipients, const char *signer,
                                 GError **error);

/* An ASCII-armored detached signature over @data (exactly these bytes) by the
 * secret key of @signer.  @micalg_out gets the RFC 3156 micalg of the hash
 * used ("pgp-sha256"; transfer full).  Errors as pst_pgp_encrypt.
 * Transfer full. */
GBytes *pst_pgp_sign_detached (PstPgp *pgp, GBytes *data, const char *signer,
                               char **micalg_out, GError **error);

/* The RFC 3156 micalg of what gpg signs with @signer's key ("pgp-sha512"),
 * learnt by signing nothing (a use of the key: the hash does not depend on
 * the data): a multipart/signed written as a stream names it before the
 * signed entity.  Errors as pst_pgp_sign_detached.  Transfer full. */
char *pst_pgp_sign_micalg (PstPgp *pgp, const char *signer, GError **error);

/* pst_pgp_sign_detached over what @in holds, read to its end through
 * GPGME in chunks, every byte also written to @copy (not closed; may be
 * NULL) as it is read.  Errors: the streams', and pst_pgp_sign_detached's.
 * Transfer full. */
GBytes *pst_pgp_sign_detached_stream (PstPgp *pgp, GInputStream *in, GOutputStream *copy,
                                      const char *signer, char **micalg_out, GError **error);

/* --- Consuming ------------------------------------------------------------ */

/* What GPGME said about one signature layer (the first signature of it when
 * there are several; @count says how many). */
typedef struct {
  PstSigStatus status;   /* NONE when the data carried no signature */
  char *fingerprint;     /* of the signing key, or its key id when the key is unknown; may be NULL */
  char **addresses;      /* the e-mail addresses of the signing key's valid user ids (NULL-terminated, may be empty) */
  gint64 created;        /* signature time, seconds since the epoch; 0 when unknown */
  gboolean weak_digest;  /* made with SHA-1 or a weaker hash: status is then BAD */
  guint count;           /* signatures in the layer */
} PstPgpSignature;

void pst_pgp_signature_free (PstPgpSignature *sig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPgpSignature, pst_pgp_signature_free)

/* The most that one pst_pgp_decrypt_verify or pst_pgp_verify_cleartext
 * on @pgp may return (a new context: PST_DECRYPTION_MAX_OUTPUT).  gpg
 * decompresses what it decrypts or verifies, so its output is collected
 * in a buffer that refuses to grow past @max: the operation stops there
 * and fails, and pst_pgp_output_too_large says why. */
void pst_pgp_set_output_limit (PstPgp *pgp, gsize max);

/* Whether the last pst_pgp_decrypt_verify or pst_pgp_verify_cleartext on
 * @pgp stopped because its output passed the limit: a verdict on the
 * message (PST_DECRYPTION_TOO_LARGE). */
gboolean pst_pgp_output_too_large (PstPgp *pgp);

/* Whether it stopped because the budget that all decryptions of the
 * process share (util/sink.h) stayed held by other operations until the
 * wait ended.  Never a verdict on the message: the caller fails the whole
 * operation (PST_ERROR_FAILED, "the agent is busy…"), to be tried again. */
gboolean pst_pgp_output_busy (PstPgp *pgp);

/* Whether the last pst_pgp_decrypt_verify (or _stream) on @pgp failed
 * because the OpenPGP data holds nothing encrypted: a signed-only message
 * (gpg --sign --armor), which pst_pgp_verify_cleartext then reads. */
gboolean pst_pgp_not_encrypted (PstPgp *pgp);

/* Decrypts @ciphertext (armored or binary OpenPGP) and verifies a signature
 * inside it.  On success @plain_out gets the plaintext (transfer full; its
 * memory is wiped when the last reference goes), @sig_out what was said about
 * the signature (status NONE when unsigned; transfer full) and @integrity_out
 * PST_INTEGRITY_OK.
 * Errors: PST_ERROR_CRYPTO when it cannot decrypt; then no plaintext is
 * returned (not even the part gpg wrote before it failed) and, as an
 * exception to the _out rule, @integrity_out says why: MISSING for a message
 * without integrity protection (no MDC nor AEAD), NONE when no secret key
 * fits, FAILED for anything else (damaged or not OpenPGP at all).  Output
 * past the limit (pst_pgp_set_output_limit) is PST_ERROR_CRYPTO naming the
 * limit, with @integrity_out NONE (gpg stopped before the integrity check)
 * and pst_pgp_output_too_large TRUE.  Output that found the shared budget
 * busy is PST_ERROR_FAILED (pst_sink_set_busy_error), @integrity_out NONE
 * and pst_pgp_output_busy TRUE. */
gboolean pst_pgp_decrypt_verify (PstPgp *pgp, GBytes *ciphertext, GBytes **plain_out,
                                 PstPgpSignature **sig_out, PstIntegrity *integrity_out,
                                 GError **error);

/* pst_pgp_decrypt_verify of the @size bytes that @in gives next (read as
 * gpg wants them, not held), into memory as pst_pgp_decrypt_verify.  When
 * @in fails, or ends before @size bytes, @unread is set and @error is that
 * stream's error: nothing is said about the data then.  Local contexts
 * only. */
gboolean pst_pgp_decrypt_verify_from (PstPgp *pgp, GInputStream *in, guint64 size,
                                      GBytes **plain_out, PstPgpSignature **sig_out,
                                      PstIntegrity *integrity_out, gboolean *unread,
                                      GError **error);

/* pst_pgp_decrypt_verify on streams: reads the OpenPGP message from @in
 * and writes the plaintext to @out as gpg releases it, so memory does not
 * grow with the message.  Neither stream is closed.
 * Whatever was written to @out before a failure is the caller's to
 * discard: gpg checks the MDC (or AEAD tag) only at the end, so on failure
 * (@integrity_out MISSING or FAILED) @out may hold unauthenticated or
 * truncated plaintext, which must never be shown as the message.
 * @sig_out and @integrity_out as pst_pgp_decrypt_verify; a stream error is
 * reported with @integrity_out FAILED.  Transfer full. */
gboolean pst_pgp_decrypt_stream (PstPgp *pgp, GInputStream *in, GOutputStream *out,
                                 PstPgpSignature **sig_out, PstIntegrity *integrity_out,
                                 GError **error);

/* Session keys, for reading one message twice (core/mime/pgpstream.c):
 * with @keep TRUE the decryptions that follow keep the message's session
 * key ("ALGO:HEX"), which pst_pgp_take_session_key gives (NULL: none;
 * free it with pst_secret_free, which wipes it).  With a @key,
 * pst_pgp_use_session_key makes the decryptions that follow open the
 * message with it instead of a secret key: gpg-agent is not asked again,
 * so a passphrase or a smartcard's touch is not asked for twice.  NULL
 * goes back to the secret keys.  Local contexts only (not remote). */
void pst_pgp_keep_session_key (PstPgp *pgp, gboolean keep);
char *pst_pgp_take_session_key (PstPgp *pgp);
void pst_pgp_use_session_key (PstPgp *pgp, const char *key);
typedef char PstPgpSessionKey;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPgpSessionKey, pst_secret_free)

/* Verifies @signature (armored or binary, detached) over exactly @data.  Never
 * fails: an unusable signature has status ERROR.  Transfer full. */
PstPgpSignature *pst_pgp_verify_detached (PstPgp *pgp, GBytes *data, GBytes *signature);
/* The same over the @size bytes that @in gives next.  NULL with @error
 * when @in fails or ends before them (the stream's error: no verdict).
 * Local contexts only. */
PstPgpSignature *pst_pgp_verify_detached_from (PstPgp *pgp, GInputStream *in, guint64 size,
                                               GBytes *signature, GError **error);

/* Verifies an ASCII-armored cleartext signature (or, the same way, a
 * signed-only OpenPGP message: "-----BEGIN PGP MESSAGE-----" that
 * pst_pgp_not_encrypted says holds nothing encrypted) ("-----BEGIN PGP SIGNED
 * MESSAGE-----" … "-----END PGP SIGNATURE-----", exactly these bytes).
 * @text_out (may be NULL) gets the signed text as gpg gives it back (dash
 * escapes removed), or NULL when gpg gives nothing (also when it would be
 * larger than the output limit: pst_pgp_output_too_large then says so, or
 * when the shared budget was busy: pst_pgp_output_busy, and then the
 * status ERROR is no verdict, the caller must fail the operation).
 * Never fails: an unusable block has status ERROR.  Transfer full. */
PstPgpSignature *pst_pgp_verify_cleartext (PstPgp *pgp, GBytes *block, GBytes **text_out);

G_END_DECLS
