/* smime-private.h — shared between smime.c (CMS) and smime-store.c (the
 * certificate store).  Not for use outside core/crypto/smime*.c. */
#pragma once

#include <glib.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

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
  EVP_PKEY *key;             /* identities only */
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
};

/* Certificates (smime.c). */
char *pst_smime_x509_fingerprint (X509 *cert);
char **pst_smime_x509_emails (X509 *cert);
gboolean pst_smime_x509_has_email (X509 *cert, const char *address);
gboolean pst_smime_x509_valid_now (X509 *cert);
/* Seconds since the epoch of @t, or 0 when it cannot be read. */
gint64 pst_smime_asn1_time_unix (const ASN1_TIME *t);
PstSmimeCertInfo *pst_smime_x509_info (X509 *cert, PstSmimeKind kind);
gboolean pst_smime_caps_allow_gcm (GBytes *caps);

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
/* A usable signing identity for @address (borrowed). */
PstSmimeEntry *pst_smime_store_find_identity (PstSmime *smime, const char *address);
/* Keeps @cert (and the untrusted certificates of @chain, not the anchor) in
 * certs/, with @caps (may be NULL) replacing the stored capabilities. */
void pst_smime_store_collect (PstSmime *smime, X509 *cert, STACK_OF (X509) *chain, GBytes *caps);
