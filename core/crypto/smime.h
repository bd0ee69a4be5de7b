/* smime.h — S/MIME certificates, identities and CMS operations through
 * OpenSSL.  smime.c and smime-store.c are the only files (with
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
 *   identities/  own identities: certificate, PRIVATE KEY and chain in one
 *                file.  The private key is kept 0600 on disk in the agent's
 *                data directory and loaded into the agent's memory only; no
 *                other process ever sees it.  Nothing in this module logs or
 *                returns key material.
 *
 * Verification trusts the anchors/ certificates and the system store
 * (OpenSSL's default paths), at the current time.
 *
 * A PstSmime is not thread-safe: use one per thread.
 */
#pragma once

#include <glib.h>
#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstSmime PstSmime;

typedef struct {
  char *fingerprint;      /* SHA-256 of the DER, lower-case hex */
  char *subject;          /* one-line RFC 2253 form */
  char *issuer;
  char **emails;          /* rfc822Name SANs and subject emailAddress, NULL-terminated */
  gint64 not_before;      /* seconds since the epoch */
  gint64 not_after;
  gboolean has_key;       /* an own identity (certificate with private key) */
  gboolean trust_anchor;
  gboolean is_ca;
  gboolean expired;       /* not valid at the time of listing/import */
} PstSmimeCertInfo;

void pst_smime_cert_info_free (PstSmimeCertInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmimeCertInfo, pst_smime_cert_info_free)

/* Opens the store at @dir, creating it (and its three folders, 0700) when
 * absent.  Errors: PST_ERROR_FAILED when @dir cannot be created or read.
 * Transfer full. */
PstSmime *pst_smime_new (const char *dir, GError **error);
/* Frees @smime and wipes the private keys it held. */
void pst_smime_free (PstSmime *smime);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmime, pst_smime_free)

/* Imports @data: one or more PEM certificates, one DER certificate, or a
 * PKCS#12 file (certificate, private key and chain; @passphrase may be NULL
 * for an unprotected one).  Certificates that are expired or not yet valid
 * are imported and flagged (info->expired).  With @trust_anchor the
 * certificates (not a PKCS#12 identity) become trust anchors; without it a
 * CA certificate is stored as an intermediate.  A PKCS#12 chain goes to
 * certs/.  @imported_out (may be NULL) gets a GPtrArray of PstSmimeCertInfo,
 * transfer full.  Errors: PST_ERROR_FAILED "wrong passphrase for the PKCS#12
 * file" (also when none was given), "not a certificate or PKCS#12 file";
 * a write failure of the store. */
gboolean pst_smime_import (PstSmime *smime, GBytes *data, const char *passphrase,
                           gboolean trust_anchor, GPtrArray **imported_out, GError **error);

/* Every certificate in the store (anchors, certificates, identities) as a
 * GPtrArray of PstSmimeCertInfo.  Transfer full. */
GPtrArray *pst_smime_list (PstSmime *smime);

/* Removes the certificate (or identity, with its key) whose fingerprint is
 * or starts with @fingerprint_or_prefix (at least 8 hex digits).  Errors:
 * PST_ERROR_FAILED when none or several match. */
gboolean pst_smime_remove (PstSmime *smime, const char *fingerprint_or_prefix, GError **error);

/* The addresses of @addresses (NULL-terminated) without a usable encryption
 * certificate: valid now, chaining to a trust anchor, key usage (when
 * present) allowing key encipherment or key agreement, and binding the
 * address.  NULL-terminated, in order, transfer full, empty when every one
 * has one.  Own identities count too. */
char **pst_smime_missing_certs (PstSmime *smime, const char *const *addresses, GError **error);

/* Whether there is a usable own identity for @address (certificate valid
 * now, chaining to an anchor, with its private key, allowing signatures). */
gboolean pst_smime_has_identity (PstSmime *smime, const char *address);

/* --- CMS operations (used by core/mime/smimemime.c) ----------------------- */

/* A detached CMS SignedData (DER) over @content by @sender's identity, with
 * SMIMECapabilities (AES-256-GCM, AES-256-CBC) and the chain.  @micalg_out
 * gets "sha-256", "sha-384" or "sha-512" (by key size).  Errors:
 * PST_ERROR_POLICY "no S/MIME identity for: ADDR"; PST_ERROR_CRYPTO.
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

typedef enum {
  PST_SMIME_CMS_OTHER,
  PST_SMIME_CMS_SIGNED,
  PST_SMIME_CMS_ENVELOPED,
  PST_SMIME_CMS_AUTH_ENVELOPED,
} PstSmimeCmsType;

/* The content type of the CMS object @der (DER); PST_SMIME_CMS_OTHER for
 * anything else, including bytes that are not CMS. */
PstSmimeCmsType pst_smime_cms_type (GBytes *der);

/* Decrypts CMS EnvelopedData/AuthEnvelopedData @der with the own
 * identities.  On success @plain_out gets the content (transfer full; wiped
 * when freed) and @integrity_out (may be NULL) PST_INTEGRITY_OK for
 * AuthEnvelopedData (its AEAD tag checked), PST_INTEGRITY_NONE for
 * EnvelopedData (CBC: no integrity check of its own).
 * Errors: PST_ERROR_CRYPTO "no S/MIME identity can decrypt this message",
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

G_END_DECLS
