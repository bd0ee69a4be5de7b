/* smime.h — S/MIME certificates, identities and CMS operations through
 * OpenSSL.  smime.c, smime-stream.c, smime-decrypt-stream.c, smime-verify-stream.c, smime-store.c, smime-keys.c and smime-request.c are the
 * only files (with
 * core/net/transport.c) that include OpenSSL's headers; the rest of Postern
 * sees a PstSmime and the plain types below.
 *
 * The store (a directory, 0700) holds three kinds of PEM files, each 0600:
 *   anchors/     trust anchors: certificates imported with trust_anchor, and
 *                nothing else (a CA certificate imported without it is kept
 *                in certs/ as an intermediate, never as an anchor —
 *                DESIGN.md §4 Trust);
 *   certs/       others' certificates and intermediates; a certificate
 *                collected from a good signature is kept with the signer's
 *                SMIMECapabilities (a "POSTERN SMIME CAPABILITIES" PEM block
 *                holding the DER attribute value);
 *   requests/    own keys waiting for their certificate (see Requests below):
 *                the PKCS#10 request, the ENCRYPTED PRIVATE KEY as for an
 *                identity, named by the SHA-256 of the public key;
 *   identities/  own identities: certificate, ENCRYPTED PRIVATE KEY and
 *                chain in one file (DESIGN.md §10).  The key is never on
 *                disk in the clear: PKCS#8 EncryptedPrivateKeyInfo, PBES2
 *                with scrypt (N 2^14, r 8, p 1: the most OpenSSL 3 accepts
 *                under its default memory limit) and AES-256-CBC, under the
 *                PKCS#12 passphrase given at import, or under a random key
 *                kept in the Secret Service (a "POSTERN KEY PROTECTION"
 *                block then says "secret-service").  Files are written to a
 *                temporary file, fsynced and renamed into place.
 *
 * Locked and unlocked.  A store opened from disk holds no private key: its
 * identities are locked until pst_smime_unlock (or import) puts the key in
 * a PstSmimeKeyring, which lives in the agent's memory only and which
 * every store attached to it (pst_smime_set_keyring) uses.  Signing or
 * decrypting with a locked identity fails with PST_ERROR_POLICY (exit 3)
 * "the S/MIME key of ADDR is locked: run postern keys unlock ADDR".  Why 3
 * and not 4: nothing about the message is bad and no cryptography failed;
 * the agent refuses to act until the user does something, as it does for a
 * missing key (DESIGN.md §6 "refused by policy (no key …)"), and a script
 * can tell "unlock and retry" from "this message is damaged" (4).
 *
 * Migration.  Earlier versions wrote the key as a cleartext PRIVATE KEY
 * block.  Such a key is not loaded at all (it counts as locked, protection
 * PST_SMIME_KEY_CLEARTEXT): there is no passphrase to encrypt it under
 * without asking the user.  pst_smime_unlock with a passphrase encrypts it
 * under that passphrase: the encrypted file is written, synced and renamed
 * over the old one first, and only then are the old file's bytes zeroed
 * through a descriptor kept open on it, so that a crash or a full disk
 * never leaves neither; importing the PKCS#12 file again does the same.  (Overwriting in place does not reach copies a
 * copy-on-write file system, an SSD's wear levelling or a backup kept.)
 * Nothing in this module logs or returns key material.
 *
 * Requests.  pst_smime_request_new makes a private key and a PKCS#10
 * request for an address; the key is sealed at once as an identity's would
 * be and kept in requests/.  When a certificate whose public key is that
 * key's is imported, the two become an identity (locked, as after a
 * restart: pst_smime_unlock with the passphrase, or the Secret Service key
 * of the request, moved to the certificate's fingerprint by the caller).
 *
 * Verification trusts the anchors/ certificates and the system store
 * (OpenSSL's default paths), at the current time.
 *
 * A PstSmime is not thread-safe: use one per thread.
 */
#pragma once

#include <gio/gio.h>
#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstSmime PstSmime;

/* How an identity's private key is kept on disk. */
typedef enum {
  PST_SMIME_KEY_NONE,            /* no private key: a certificate */
  PST_SMIME_KEY_PASSPHRASE,      /* encrypted under the user's passphrase */
  PST_SMIME_KEY_SECRET_SERVICE,  /* encrypted under a random key in the Secret Service */
  PST_SMIME_KEY_CLEARTEXT,       /* left in the clear by an earlier version: never used */
} PstSmimeKeyProtection;

typedef struct {
  char *fingerprint;      /* SHA-256 of the DER, lower-case hex */
  char *subject;          /* one-line RFC 2253 form */
  char *issuer;
  char **emails;          /* rfc822Name SANs and subject emailAddress, NULL-terminated */
  gint64 not_before;      /* seconds since the epoch */
  gint64 not_after;
  gboolean has_key;       /* an own identity (certificate with private key) */
  gboolean locked;        /* has_key, and the key is not in memory (see above) */
  PstSmimeKeyProtection protection;
  gboolean trust_anchor;
  gboolean is_ca;
  gboolean expired;       /* not valid at the time of listing/import */
  char *request_id;       /* import: the request this identity was made from now, or NULL */
} PstSmimeCertInfo;

void pst_smime_cert_info_free (PstSmimeCertInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmimeCertInfo, pst_smime_cert_info_free)

/* "passphrase", "secret-service", "cleartext" or "none". */
const char *pst_smime_key_protection_name (PstSmimeKeyProtection protection);

/* The unlocked private keys of S/MIME identities, by certificate
 * fingerprint, in memory only; shared by the stores attached to it.
 * Thread-safe and reference counted (a thread that unlocks keys in the
 * background holds its own reference).  The last unref frees the keys
 * (EVP_PKEY_free clears them). */
typedef struct _PstSmimeKeyring PstSmimeKeyring;

/* Transfer full. */
PstSmimeKeyring *pst_smime_keyring_new (void);
PstSmimeKeyring *pst_smime_keyring_ref (PstSmimeKeyring *ring);
void pst_smime_keyring_unref (PstSmimeKeyring *ring);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmimeKeyring, pst_smime_keyring_unref)
/* Forgets the key of @fingerprint (its identity was removed). */
void pst_smime_keyring_forget (PstSmimeKeyring *ring, const char *fingerprint);

/* Opens the store at @dir, creating it (and its three folders, 0700) when
 * absent.  Errors: PST_ERROR_FAILED when @dir cannot be created or read.
 * Transfer full. */
PstSmime *pst_smime_new (const char *dir, GError **error);
/* Frees @smime and wipes the private keys it held. */
void pst_smime_free (PstSmime *smime);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmime, pst_smime_free)

/* Makes @smime take unlocked keys from @ring and put the keys it imports
 * or unlocks there.  @ring (not owned) must outlive @smime.  Without a
 * ring a store keeps such keys for itself, until it is freed. */
void pst_smime_set_keyring (PstSmime *smime, PstSmimeKeyring *ring);

/* Whether @data is a PKCS#12 file (DER PFX). */
gboolean pst_smime_is_pkcs12 (GBytes *data);

/* Unlocks the locked identities that bind @address with @passphrase:
 * decrypts each key, checks it against its certificate, and keeps it in
 * memory (the keyring).  A cleartext key of an earlier version is encrypted
 * under @passphrase on disk now (see Migration above).  @unlocked_out (may
 * be NULL) gets the fingerprints unlocked, NULL-terminated, transfer full.
 * Identities already unlocked count as done.  Errors: PST_ERROR_FAILED "no
 * S/MIME identity for ADDR", "wrong passphrase for the S/MIME key of ADDR"
 * (when it opens none of them); a write failure of the store. */
gboolean pst_smime_unlock (PstSmime *smime, const char *address, const char *passphrase,
                           char ***unlocked_out, GError **error);

/* Unlocks the identity with @fingerprint (exact) with @passphrase, as
 * above: for keys kept under a Secret Service key.  Errors as above. */
gboolean pst_smime_unlock_fingerprint (PstSmime *smime, const char *fingerprint,
                                       const char *passphrase, GError **error);

/* Imports @data: one or more PEM certificates, one DER certificate, or a
 * PKCS#12 file (certificate, private key and chain).  The private key is
 * stored encrypted under @passphrase, the PKCS#12 file's (or, for a file
 * without one, the passphrase given to keep the key under on disk), and is
 * unlocked at once.  A PKCS#12 file without a passphrase and no @passphrase
 * is refused (PST_ERROR_USAGE): see pst_smime_import_wrapped.  Certificates
 * that are expired or not yet valid
 * are imported and flagged (info->expired).  With @trust_anchor the
 * certificates (not a PKCS#12 identity) become trust anchors; without it a
 * CA certificate is stored as an intermediate.  A PKCS#12 chain goes to
 * certs/.  @imported_out (may be NULL) gets a GPtrArray of PstSmimeCertInfo,
 * transfer full.  Errors: PST_ERROR_FAILED "wrong passphrase for the PKCS#12
 * file" (also when none was given), "not a certificate or PKCS#12 file";
 * a write failure of the store. */
gboolean pst_smime_import (PstSmime *smime, GBytes *data, const char *passphrase,
                           gboolean trust_anchor, GPtrArray **imported_out, GError **error);

/* The same, for a PKCS#12 file without a passphrase: its key is stored
 * encrypted under @wrap_key (a random secret the caller keeps in the Secret
 * Service), protection PST_SMIME_KEY_SECRET_SERVICE.  A file with a
 * passphrase is refused (PST_ERROR_FAILED "wrong passphrase"). */
gboolean pst_smime_import_wrapped (PstSmime *smime, GBytes *data, const char *wrap_key,
                                   GPtrArray **imported_out, GError **error);

typedef struct {
  char *id;               /* SHA-256 of the public key (SubjectPublicKeyInfo DER), lower-case hex */
  char *address;
  char *key_type;         /* "ec-p256", "rsa-3072" */
  char *csr_pem;          /* the PKCS#10 request, PEM */
  PstSmimeKeyProtection protection;
  gint64 created;
} PstSmimeRequestInfo;

void pst_smime_request_info_free (PstSmimeRequestInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmimeRequestInfo, pst_smime_request_info_free)

/* Makes a private key for @address (EC P-256, or RSA 3072 with @rsa) and a
 * PKCS#10 request signed by it: subject CN and emailAddress @address,
 * subjectAltName rfc822Name @address, keyUsage digitalSignature with
 * keyEncipherment (RSA) or keyAgreement (EC), extendedKeyUsage
 * emailProtection.  The key is kept only sealed (see Requests above) under
 * @secret: the user's passphrase (@protection PST_SMIME_KEY_PASSPHRASE) or
 * a random key the caller keeps in the Secret Service
 * (PST_SMIME_KEY_SECRET_SERVICE).  Errors: PST_ERROR_USAGE not an address,
 * or @address has a request waiting already; PST_ERROR_CRYPTO; a write
 * failure of the store.  Transfer full. */
PstSmimeRequestInfo *pst_smime_request_new (PstSmime *smime, const char *address, gboolean rsa,
                                            const char *secret, PstSmimeKeyProtection protection,
                                            GError **error);

/* The requests waiting, as a GPtrArray of PstSmimeRequestInfo.  Transfer
 * full. */
GPtrArray *pst_smime_requests (PstSmime *smime);

/* The certificate of @address as PEM: an own identity's when there is one
 * (never its key), else the stored certificate binding @address (not a CA);
 * of several, the one valid longest.  @fingerprint_out and @own_out (may be
 * NULL) say which and whether it is an identity.  Errors: PST_ERROR_POLICY
 * none (saying so when a request waits for its certificate).  Transfer
 * full. */
char *pst_smime_export_cert (PstSmime *smime, const char *address, char **fingerprint_out,
                             gboolean *own_out, GError **error);

/* Every certificate in the store (anchors, certificates, identities) as a
 * GPtrArray of PstSmimeCertInfo.  Transfer full. */
GPtrArray *pst_smime_list (PstSmime *smime);

/* Removes the certificate (or identity, with its key) whose fingerprint is
 * or starts with @fingerprint_or_prefix (at least 8 hex digits), or else
 * the request (with its key) whose id does.  Errors:
 * PST_ERROR_FAILED when none or several match. */
gboolean pst_smime_remove (PstSmime *smime, const char *fingerprint_or_prefix, GError **error);

/* The addresses of @addresses (NULL-terminated) without a usable encryption
 * certificate: valid now, chaining to a trust anchor, key usage (when
 * present) allowing key encipherment or key agreement, and binding the
 * address.  NULL-terminated, in order, transfer full, empty when every one
 * has one.  Own identities count too. */
char **pst_smime_missing_certs (PstSmime *smime, const char *const *addresses, GError **error);

/* Whether there is a usable own identity for @address (certificate valid
 * now, chaining to an anchor, with its private key, allowing signatures).
 * A locked identity counts: signing then fails with the locked error
 * rather than sending unsigned or with another scheme behind the user's
 * back. */
gboolean pst_smime_has_identity (PstSmime *smime, const char *address);

/* --- CMS operations (used by core/mime/smimemime.c) ----------------------- */

/* A detached CMS SignedData (DER) over @content by @sender's identity, with
 * SMIMECapabilities (AES-256-GCM, AES-256-CBC) and the chain.  @micalg_out
 * gets "sha-256", "sha-384" or "sha-512" (by key size).  Errors:
 * PST_ERROR_POLICY "no S/MIME identity for: ADDR", "the S/MIME key of ADDR
 * is locked: …" (see Locked above); PST_ERROR_CRYPTO.
 * Transfer full. */
GBytes *pst_smime_sign (PstSmime *smime, GBytes *content, const char *sender,
                        char **micalg_out, GError **error);

/* Encrypts @content (DER output) to the certificates of @recipients
 * (NULL-terminated; duplicates merged): AES-256-GCM AuthEnvelopedData when
 * every recipient's stored SMIMECapabilities list AES-256-GCM, AES-256-CBC
 * EnvelopedData otherwise.  @auth_out (may be NULL) says which.  Errors:
 * PST_ERROR_POLICY "no S/MIME certificate for: a, b"; PST_ERROR_CRYPTO.
 * Transfer full. */
GBytes *pst_smime_encrypt (PstSmime *smime, GBytes *content, const char *const *recipients,
                           gboolean *auth_out, GError **error);

/* --- Streams (used by core/mime/smimestream.c) ------------------------------
 * The same CMS as pst_smime_sign and pst_smime_encrypt, for content too
 * large to hold: memory does not grow with it.  The encryption is written
 * in BER with indefinite lengths (as openssl cms -stream does), which
 * every CMS reader takes. */

/* A stream that writes what it is given to @base (not owned, never
 * closed) unchanged while digesting it for a detached signature by
 * @sender's identity; pst_smime_sign_stream_finish gives that signature.
 * @micalg_out gets the micalg (static).  Errors as pst_smime_sign.
 * Transfer full. */
GOutputStream *pst_smime_sign_stream_new (PstSmime *smime, const char *sender,
                                          GOutputStream *base, const char **micalg_out,
                                          GError **error);
/* The detached CMS SignedData (DER) over everything written to @stream
 * (from pst_smime_sign_stream_new), which takes no more.  Errors:
 * PST_ERROR_CRYPTO; @base's errors.  Transfer full. */
GBytes *pst_smime_sign_stream_finish (GOutputStream *stream, GError **error);

/* A stream that encrypts what it is given to @recipients as
 * pst_smime_encrypt does (the same choice of AES-256-GCM or CBC, in
 * @auth_out), writing the CMS object to @base (not owned, never closed).
 * Nothing is written to @base before the first write; closing the stream
 * writes the end of the object (the GCM tag).  Errors as
 * pst_smime_encrypt; writes and close: PST_ERROR_CRYPTO, @base's errors.
 * Transfer full. */
GOutputStream *pst_smime_encrypt_stream_new (PstSmime *smime, const char *const *recipients,
                                             GOutputStream *base, gboolean *auth_out,
                                             GError **error);

/* A new stream over the CMS object (DER or BER) from its start, for
 * pst_smime_decrypt_stream.  NULL with @error set when it cannot be
 * opened.  Transfer full. */
typedef GInputStream *(*PstSmimeReopen) (gpointer data, GError **error);

/* pst_smime_decrypt on a stream: the object that @reopen gives is read
 * twice (smime-decrypt-stream.c says why: OpenSSL 3 parses no CMS as a
 * stream), first for what surrounds the encrypted content, then for the
 * content, which is decrypted to @plain_out (not closed) as it comes.
 * Memory does not grow with the content.  Errors as pst_smime_decrypt,
 * and the streams' errors; on PST_ERROR_CRYPTO after the recipient was
 * found (a CBC padding or a GCM tag that does not check, a damaged
 * object), @plain_out may hold plaintext written before the failure was
 * known: the caller discards it. */
gboolean pst_smime_decrypt_stream (PstSmime *smime, PstSmimeReopen reopen, gpointer reopen_data,
                                   GOutputStream *plain_out, PstIntegrity *integrity_out,
                                   GError **error);

/* pst_smime_decrypt_stream in two steps, for a caller that decrypts the
 * same object more than once (mime/smimeread.h: judged, then written):
 * pst_smime_decryptor_new reads the object once for what surrounds the
 * content (errors before any decryption: not CMS, a short GCM tag, as
 * pst_smime_decrypt_stream; @io_failed_out, when not NULL, says whether
 * the error was reading the object, which says nothing of the message),
 * and each pst_smime_decryptor_run opens the
 * content-encryption key and decrypts the content again, with the results
 * and errors of pst_smime_decrypt_stream.  @reopen and @reopen_data must
 * outlive the decryptor.  Transfer full. */
typedef struct _PstSmimeDecryptor PstSmimeDecryptor;
PstSmimeDecryptor *pst_smime_decryptor_new (PstSmime *smime, PstSmimeReopen reopen,
                                            gpointer reopen_data, PstIntegrity *integrity_out,
                                            gboolean *io_failed_out, GError **error);
gboolean pst_smime_decryptor_run (PstSmimeDecryptor *decryptor, GOutputStream *plain_out,
                                  PstIntegrity *integrity_out, GError **error);
void pst_smime_decryptor_free (PstSmimeDecryptor *decryptor);
/* Whether the last pst_smime_decryptor_run failed reading the object or
 * writing to its output: its error is then the call's (a full disk, a
 * closed descriptor), whatever its domain, and says nothing of the
 * message. */
gboolean pst_smime_decryptor_io_failed (PstSmimeDecryptor *decryptor);
/* The store @decryptor decrypts with (borrowed). */
PstSmime *pst_smime_decryptor_smime (PstSmimeDecryptor *decryptor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmimeDecryptor, pst_smime_decryptor_free)

typedef enum {
  PST_SMIME_CMS_OTHER,
  PST_SMIME_CMS_SIGNED,
  PST_SMIME_CMS_ENVELOPED,
  PST_SMIME_CMS_AUTH_ENVELOPED,
  /* RFC 3274 compressedData: never opened, since its content would need a
   * decompressor with no bound of its own (the reader says so instead). */
  PST_SMIME_CMS_COMPRESSED,
} PstSmimeCmsType;

/* The content type of the CMS object @der (DER); PST_SMIME_CMS_OTHER for
 * anything else, including bytes that are not CMS. */
PstSmimeCmsType pst_smime_cms_type (GBytes *der);

/* Decrypts CMS EnvelopedData/AuthEnvelopedData @der with the own
 * identities.  On success @plain_out gets the content (transfer full; wiped
 * when freed) and @integrity_out (may be NULL) PST_INTEGRITY_OK for
 * AuthEnvelopedData (its AEAD tag checked), PST_INTEGRITY_NONE for
 * EnvelopedData (CBC: no integrity check of its own).
 * Errors: PST_ERROR_POLICY "the S/MIME key of ADDR is locked: …" when
 * only a locked identity is a recipient (the one case of this code here:
 * callers report it as the warning key-locked);
 * PST_ERROR_CRYPTO "no S/MIME identity can decrypt this message",
 * "... damaged or was tampered with", "... authentication tag does not
 * check".  No plaintext is returned on failure (not even what was decrypted
 * before the tag check failed; it is wiped) and, as an exception to the
 * _out rule, @integrity_out says PST_INTEGRITY_FAILED when an identity
 * opened AuthEnvelopedData but its tag did not check, PST_INTEGRITY_NONE
 * otherwise. */
gboolean pst_smime_decrypt (PstSmime *smime, GBytes *der, GBytes **plain_out,
                            PstIntegrity *integrity_out, GError **error);

typedef struct {
  PstSigStatus status;
  char **addresses;        /* of the signer certificate, NULL-terminated; may be NULL */
  char *fingerprint;       /* SHA-256 of the signer certificate; may be NULL */
  gint64 signing_time;     /* the signingTime attribute, or 0 */
  gboolean weak_digest;    /* SHA-1 or weaker */
  guint signer_count;      /* signerInfos in the CMS object */
  gboolean econtent_mismatch;
} PstSmimeSignature;

void pst_smime_signature_free (PstSmimeSignature *sig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmimeSignature, pst_smime_signature_free)

/* Verifies CMS SignedData @der.  With @content (detached, multipart/signed)
 * the signature must be over @content, and an eContent inside @der that
 * differs from @content makes it bad (econtent_mismatch); without it the
 * signature must carry its eContent, returned in @econtent_out (transfer
 * full; may be NULL when @content is given).  Never fails: the result's
 * status says what was found (error for unparseable CMS; bad for a wrong
 * digest, zero or several signerInfos, SHA-1).  Good signers' certificates
 * and SMIMECapabilities are collected into the store.  Transfer full. */
PstSmimeSignature *pst_smime_verify (PstSmime *smime, GBytes *der, GBytes *content,
                                     GBytes **econtent_out);

/* Digests of detached content computed as it passes, for
 * pst_smime_verify_digested (smime-verify-stream.c): the signature of a
 * multipart/signed comes after the content it signs, so the content is
 * digested with the algorithms its micalg parameter names (RFC 8551
 * §3.5.3: "sha-256", several separated by commas) and SHA-256 before the
 * signature is known. */
typedef struct _PstSmimeDigests PstSmimeDigests;
/* Digests for @micalg (may be NULL).  Transfer full. */
PstSmimeDigests *pst_smime_digests_new (const char *micalg);
void pst_smime_digests_update (PstSmimeDigests *digests, const void *data, gsize len);
/* The SHA-256 of what @digests saw so far, lower-case hex ("" when it
 * cannot be had); @digests goes on.  Transfer full. */
char *pst_smime_digests_sha256 (PstSmimeDigests *digests);
void pst_smime_digests_free (PstSmimeDigests *digests);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmimeDigests, pst_smime_digests_free)

/* The first pass of opaque SignedData (application/pkcs7-mime;
 * smime-type=signed-data) on a stream: walks the object in @in (DER or
 * BER, smime-decrypt-stream.c's walker), hands its eContent to @fn as it
 * passes (FALSE from @fn stops the walk), and gives the same object with
 * the eContent detached (DER), for pst_smime_verify_digested.  NULL when
 * it is not SignedData with an eContent the walker reads (@error set for a
 * read error only).  Transfer full. */
typedef gboolean (*PstSmimeContentFn) (gpointer data, const guchar *bytes, gsize len);
GBytes *pst_smime_signed_walk (GInputStream *in, PstSmimeContentFn fn, gpointer data,
                               GError **error);

/* pst_smime_verify of detached SignedData @der over the content that
 * @digests saw: the same verdict, collected certificates and flags.
 * NULL (and *@usable_out FALSE) when it cannot say it without the
 * content: a digest algorithm of @der that @digests did not compute, an
 * eContent in @der (compared with the content in memory), a worker's
 * store.  Transfer full. */
PstSmimeSignature *pst_smime_verify_digested (PstSmime *smime, GBytes *der,
                                              PstSmimeDigests *digests, gboolean *usable_out);

G_END_DECLS
