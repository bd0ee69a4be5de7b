/* smime-private.h — shared between smime.c (CMS) and smime-store.c (the
 * certificate store).  Not for use outside core/crypto/smime*.c. */
#pragma once

#include <glib.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/remote.h"
#include "crypto/smime.h"

typedef enum { PST_SMIME_ANCHOR, PST_SMIME_CERT, PST_SMIME_IDENTITY } PstSmimeKind;

/* A cached chain check of one entry (see entry_check in smime-store.c). */
typedef struct {
  guint generation;          /* of the PstSmime when made; 0: never */
  gint64 until;              /* seconds since the epoch: recheck from then on */
  int result;                /* X509_V_OK or the X509 verify error */
} PstSmimeCheck;

typedef struct {
  PstSmimeKind kind;
  X509 *cert;
  char **emails;             /* of cert (pst_smime_x509_emails), NULL-terminated */
  EVP_PKEY *key;             /* identities only; NULL while locked (see entry_key) */
  GBytes *sealed;            /* identities: the EncryptedPrivateKeyInfo (DER) as on disk */
  PstSmimeKeyProtection protection;
  STACK_OF (X509) *chain;    /* identities only; may be NULL */
  GBytes *caps;              /* DER SMIMECapabilities, or NULL */
  char *fingerprint;
  PstSmimeCheck checks[2];   /* [0] for encryption, [1] for signing */
} PstSmimeEntry;

struct _PstSmime {
  char *dir;
  GPtrArray *entries;        /* of PstSmimeEntry */
  /* The trust anchors and the system roots, built on first use and
   * dropped (with every entry's cached check, by bumping @generation)
   * whenever @entries change. */
  X509_STORE *trust;
  guint generation;
  PstSmimeKeyring *ring;     /* not owned, or NULL */
  GPtrArray *requests;       /* of PstSmimeRequest: keys waiting for their certificate */
  PstCryptoRemote *remote;   /* not NULL: the agent does the work (remote.h) */
};

/* Certificates (smime.c). */
char *pst_smime_x509_fingerprint (X509 *cert);
char **pst_smime_x509_emails (X509 *cert);
gboolean pst_smime_x509_valid_now (X509 *cert);
/* Seconds since the epoch of @t, or 0 when it cannot be read. */
gint64 pst_smime_asn1_time_unix (const ASN1_TIME *t);
PstSmimeCertInfo *pst_smime_x509_info (X509 *cert, PstSmimeKind kind);
gboolean pst_smime_caps_allow_gcm (GBytes *caps);

/* CMS (smime.c). */
/* The flags of a detached signature (pst_smime_sign). */
#define PST_SMIME_SIGN_FLAGS (CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP)
/* @cms as DER, or NULL.  Transfer full. */
GBytes *pst_smime_cms_to_der (CMS_ContentInfo *cms);
/* Sets PST_ERROR_CRYPTO "@what: <OpenSSL's last error>" and clears
 * OpenSSL's error queue. */
void pst_smime_set_crypto_error (GError **error, const char *what);
/* A SignedData by @sender's identity with its signer, capabilities and
 * chain, not finalised (PST_SMIME_SIGN_FLAGS): the content is still to be
 * digested (CMS_final, or CMS_dataInit and CMS_dataFinal).  @micalg_out
 * gets its micalg (static).  Errors as pst_smime_sign.  Transfer full. */
CMS_ContentInfo *pst_smime_signed_cms_new (PstSmime *smime, const char *sender,
                                           const char **micalg_out, GError **error);
/* The certificates (borrowed, in a new stack) of @recipients, duplicates
 * merged, and in @gcm_out whether every one reads AES-256-GCM.  Errors as
 * pst_smime_encrypt.  Transfer container. */
STACK_OF (X509) *pst_smime_recipient_certs (PstSmime *smime, const char *const *recipients,
                                            gboolean *gcm_out, GError **error);

/* The own identity that opens enveloped @cms (its content-encryption key
 * set in @cms), or NULL with PST_ERROR_POLICY (only a locked identity is
 * a recipient) or PST_ERROR_CRYPTO (see pst_smime_decrypt). */
PstSmimeEntry *pst_smime_open_recipient (PstSmime *smime, CMS_ContentInfo *cms, GError **error);

/* Whether an AuthEnvelopedData mac of @mac_len bytes (-1: none found) is
 * one to check at all: 12 to 16 bytes (RFC 5084).  A shorter one would be
 * checked on as few bytes as it has (OpenSSL), so it is refused as
 * tampered with.  pst_smime_auth_mac_acceptable finds the mac in @der
 * (smime-decrypt-stream.c's walker) and says the same. */
gboolean pst_smime_mac_acceptable (gint64 mac_len);
gboolean pst_smime_auth_mac_acceptable (GBytes *der);
#define PST_SMIME_SHORT_MAC \
  "the S/MIME message was tampered with: its authentication tag is missing or shorter than 12 bytes"

/* Whether the content of SignedData @cms (its signers' certificates set)
 * checks, as CMS_verify with CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY would
 * say; for pst_smime_verify_cms. */
typedef gboolean (*PstSmimeContentCheck) (CMS_ContentInfo *cms, gpointer data);
/* pst_smime_verify on @cms (taken; NULL: not CMS), in this process: with
 * @check the content is detached and @check says whether it checks (its
 * digests were computed elsewhere: smime-verify-stream.c), else as
 * pst_smime_verify with @content. */
PstSmimeSignature *pst_smime_verify_cms (PstSmime *smime, CMS_ContentInfo *cms, GBytes *content,
                                         GBytes **econtent_out, PstSmimeContentCheck check,
                                         gpointer check_data);

/* Streams (smime-stream.c). */
typedef struct {
  GOutputStream *out;   /* not owned */
  GError *error;        /* the first write error */
} PstSmimeGioSink;
/* A BIO method of Postern's own (a source or a sink), made on first use:
 * give it static storage with name, read or write, and ctrl filled in. */
typedef struct {
  const char *name;
  int (*write) (BIO *bio, const char *data, int len);
  int (*read) (BIO *bio, char *buf, int len);
  long (*ctrl) (BIO *bio, int cmd, long num, void *ptr);
  gsize once;
  BIO_METHOD *method;
} PstSmimeBioMethod;
/* A BIO of @method with @data (BIO_get_data).  Transfer full. */
BIO *pst_smime_custom_bio_new (PstSmimeBioMethod *method, void *data);
/* A BIO that writes to @sink->out, keeping the first error in @sink.
 * Transfer full. */
BIO *pst_smime_gio_bio_new (PstSmimeGioSink *sink);

/* Store (smime-store.c). */
void pst_smime_entry_free (PstSmimeEntry *entry);
/* The X509 verify result (X509_V_OK when it chains to an anchor or the
 * system store at the current time) of @cert for @purpose, with @extra
 * (may be NULL) as untrusted intermediates; @chain_out (may be NULL) gets
 * the verified chain.  */
int pst_smime_store_verify (PstSmime *smime, X509 *cert, STACK_OF (X509) *extra, int purpose,
                            STACK_OF (X509) **chain_out);
/* Every stored certificate (borrowed pointers).  Transfer container. */
STACK_OF (X509) *pst_smime_store_all_certs (PstSmime *smime);
/* A usable encryption certificate for @address (borrowed), with its entry. */
PstSmimeEntry *pst_smime_store_find_recipient (PstSmime *smime, const char *address);
/* A usable signing identity for @address (borrowed); it may be locked. */
PstSmimeEntry *pst_smime_store_find_identity (PstSmime *smime, const char *address);
/* The private key of identity @e (borrowed), or NULL while it is locked. */
EVP_PKEY *pst_smime_entry_key (PstSmime *smime, PstSmimeEntry *e);
/* Keys at rest (smime-keys.c).  The path of @e's file.  Transfer full. */
char *pst_smime_entry_path (PstSmime *smime, PstSmimeEntry *e);
/* Writes @e's file: temporary file, fsync, rename, fsync of the folder;
 * 0600.  An identity whose key is not sealed (a cleartext one of an
 * earlier version) is never written. */
gboolean pst_smime_entry_save (PstSmime *smime, PstSmimeEntry *e, GError **error);
/* The file at @e's path, opened for reading and writing (it holds an
 * earlier version's cleartext key), for pst_smime_entry_replace_cleartext;
 * -1 with PST_ERROR_FAILED when it cannot be opened. */
int pst_smime_open_cleartext (PstSmime *smime, PstSmimeEntry *e, GError **error);
/* Writes @e's file (pst_smime_entry_save) over the cleartext one open on
 * @old_fd (from pst_smime_open_cleartext; taken, closed in every case),
 * and only once the new file is in place and synced zero-fills the old
 * file's bytes through @old_fd: a failure or a crash before that leaves the
 * old key whole.  FALSE (the old file untouched) when the save fails. */
gboolean pst_smime_entry_replace_cleartext (PstSmime *smime, PstSmimeEntry *e, int old_fd,
                                            GError **error);
/* @key as a DER EncryptedPrivateKeyInfo (PBES2: scrypt, AES-256-CBC) under
 * @passphrase.  Transfer full. */
GBytes *pst_smime_seal_key (EVP_PKEY *key, const char *passphrase, GError **error);
/* Overwrites the bytes of the file at @path with zeros and syncs them
 * (TRUE when it is absent).  For a file being removed: one being replaced
 * goes through pst_smime_entry_replace_cleartext. */
gboolean pst_smime_shred (const char *path);
/* Whether PEM block @name holds a private key in the clear. */
gboolean pst_smime_is_cleartext_key_pem (const char *name);
/* @e is unlocked with @key (transfer full): kept in @e and the keyring. */
void pst_smime_entry_unlocked (PstSmime *smime, PstSmimeEntry *e, EVP_PKEY *key);
/* Whether a recipientInfo of enveloped @cms is for @cert. */
gboolean pst_smime_cms_is_for (CMS_ContentInfo *cms, X509 *cert);
/* Sets PST_ERROR_POLICY "the S/MIME key of ADDR is locked: …" for @e, the
 * address being @address or else @e's first one. */
void pst_smime_set_locked_error (PstSmimeEntry *e, const char *address, GError **error);
/* Keeps @cert (and the untrusted certificates of @chain, not the anchor) in
 * certs/, with @caps (may be NULL) replacing the stored capabilities. */
void pst_smime_store_collect (PstSmime *smime, X509 *cert, STACK_OF (X509) *chain, GBytes *caps);

/* Requests (smime-request.c): a key waiting for its certificate. */
typedef struct _PstSmimeRequest PstSmimeRequest;
void pst_smime_request_free (PstSmimeRequest *request);
/* Reads requests/ (creating it) into smime->requests. */
void pst_smime_requests_load (PstSmime *smime);
/* The request whose public key @cert carries (borrowed), or NULL. */
PstSmimeRequest *pst_smime_request_for_cert (PstSmime *smime, X509 *cert);
/* FALSE with PST_ERROR_FAILED when @cert (not a CA) binds an address that
 * has a request but carries another public key: the wrong certificate for
 * the key waiting (the wrong request signed), which must not be taken for
 * someone else's certificate of the user's own address. */
gboolean pst_smime_request_check_cert (PstSmime *smime, X509 *cert, GError **error);
/* The id of @request (borrowed) and its sealed key (transfer full). */
const char *pst_smime_request_id (PstSmimeRequest *request);
GBytes *pst_smime_request_sealed (PstSmimeRequest *request, PstSmimeKeyProtection *protection_out);
/* Removes @request (its certificate made it an identity): file and entry;
 * frees it. */
void pst_smime_request_done (PstSmime *smime, PstSmimeRequest *request);
/* Removes the request whose id starts with @prefix; @found_out says whether
 * any matched (FALSE then with several). */
gboolean pst_smime_request_remove (PstSmime *smime, const char *prefix, gboolean *found_out);
