/* status.h — the verdict model of DESIGN.md §4.
 *
 * One PstStatus per message read or verified.  Clients display it and
 * nothing else; it is built only by the crypto code, never from anything a
 * message says about itself.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum { PST_SCHEME_NONE, PST_SCHEME_PGP, PST_SCHEME_SMIME } PstScheme;
typedef enum { PST_DECRYPTION_NOT_ENCRYPTED, PST_DECRYPTION_OK, PST_DECRYPTION_FAILED } PstDecryption;
typedef enum { PST_COVERS_NONE, PST_COVERS_PART, PST_COVERS_WHOLE } PstCovers;
typedef enum { PST_INTEGRITY_NONE, PST_INTEGRITY_OK, PST_INTEGRITY_MISSING, PST_INTEGRITY_FAILED } PstIntegrity;
typedef enum {
  PST_SIG_NONE, PST_SIG_GOOD, PST_SIG_BAD, PST_SIG_UNKNOWN_KEY, PST_SIG_EXPIRED_KEY,
  PST_SIG_REVOKED_KEY, PST_SIG_ERROR,
} PstSigStatus;

typedef struct {
  PstScheme scheme;
  PstDecryption decryption;
  PstCovers encryption_covers;
  PstIntegrity integrity;          /* NONE serialises as null */
  PstSigStatus sig_status;
  char *signer;                    /* the signer's address that matched, or the first one; may be NULL */
  char *fingerprint;               /* may be NULL */
  gboolean from_match;
  PstCovers sig_covers;
  gboolean protected_headers;
  GPtrArray *warnings;             /* of char*, machine-readable words */
} PstStatus;

/* A status for a message with no cryptography at all.  Transfer full. */
PstStatus *pst_status_new (void);
void pst_status_free (PstStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstStatus, pst_status_free)

void pst_status_add_warning (PstStatus *status, const char *word);

/* The "crypto" object of DESIGN.md §4.  Transfer full. */
JsonNode *pst_status_to_json (const PstStatus *status);
/* The same, serialised on one line.  Transfer full. */
char *pst_status_to_json_string (const PstStatus *status);

/* What one signature layer says, whatever the scheme. */
typedef struct {
  PstSigStatus status;          /* the crypto library's verdict */
  char **addresses;             /* the signer's addresses (user ids, rfc822Names); may be NULL */
  const char *fingerprint;      /* may be NULL */
  gint64 signing_time;          /* seconds since the epoch, 0 when unknown */
  gboolean weak_digest;         /* SHA-1 or weaker */
} PstSignatureFacts;

/* A signing time more than this far in the future, or this far from the
 * Date the reader is shown, makes a good signature bad (DESIGN.md §4). */
#define PST_SIG_FUTURE_SKEW_SECONDS (5 * 60)
#define PST_SIG_DATE_SKEW_SECONDS (60 * 60)

/* Records the message's signature verdict in @status from @facts, by the
 * rules every scheme shares (DESIGN.md §4): a weak digest or a date
 * mismatch turns good into bad (with warnings weak-digest, date-mismatch);
 * from_match is true only when one of the signer's addresses is @from (the
 * one From addr-spec the reader is shown, or NULL); signer is that address,
 * else the first one.  @date is the shown Date (0 when none).  Returns the
 * verdict recorded. */
PstSigStatus pst_status_set_signature (PstStatus *status, PstScheme scheme,
                                       const PstSignatureFacts *facts, PstCovers covers,
                                       const char *from, gint64 date);

const char *pst_sig_status_to_string (PstSigStatus status);
const char *pst_covers_to_string (PstCovers covers);

G_END_DECLS
