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
/* TOO_LARGE: decryption (or decompression) was stopped because its output
 * passed PST_DECRYPTION_MAX_OUTPUT; the content is withheld as for FAILED,
 * and the message stays in the store as received. */
typedef enum {
  PST_DECRYPTION_NOT_ENCRYPTED, PST_DECRYPTION_OK, PST_DECRYPTION_FAILED, PST_DECRYPTION_TOO_LARGE,
} PstDecryption;

/* The most decrypted (decompressed) content one message may yield in
 * memory, all its layers together, unless the message itself is larger
 * (what a sender sent in full is no bomb: content up to the message's own
 * size always passes, so only content compressed more than that is
 * refused).  A compressed OpenPGP packet expands a thousandfold: 3 KB of
 * mail made 1 GiB.  Why 16 MiB and not the 256 MiB of the input caps:
 * reading a message holds several copies of its plaintext at once (the
 * decrypted one, the one rebuilt for display, the parsed and decoded body,
 * the analysis, or show's reply with control characters escaped six
 * times over), and a plaintext just under the limit must stay within the
 * 256 MiB a hostile message may cost the agent (DESIGN.md §13): measured,
 * 64 MiB took fetch to 266 MiB, 32 MiB took show to 313 MiB, 16 MiB stays
 * under 180 MiB.
 * All decryptions of the process at once share the same amount beyond
 * their messages' size (PST_SINK_SHARED_MAX, util/sink.h), so that
 * parallel bombs (a batch) do not add up. */
#define PST_DECRYPTION_MAX_OUTPUT ((gsize) 16 * 1024 * 1024)
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
  GPtrArray *header_mismatches;    /* of PstHeaderMismatch*, see below */
  GPtrArray *gossip;               /* of char*: the Autocrypt-Gossip field values of a
                                    * decrypted payload that is the whole message
                                    * (agent/peers.h); never in pst_status_to_json */
} PstStatus;

/* A header field whose protected (inner) value differs from the outer one
 * that is shown instead (DESIGN.md §4, "Headers without a signature").
 * @inner is decrypted text: it is kept out of pst_status_to_json, whose
 * string the agent stores, and given to clients only on request
 * (pst_status_header_mismatches_to_json, for show --json). */
typedef struct {
  char *field;                     /* "From", "To", "Cc" or "Reply-To" */
  char *shown;                     /* the outer value, shown; NULL when absent */
  char *inner;                     /* the protected value, not shown; NULL when absent */
} PstHeaderMismatch;

/* A status for a message with no cryptography at all.  Transfer full. */
PstStatus *pst_status_new (void);
void pst_status_free (PstStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstStatus, pst_status_free)

void pst_status_add_warning (PstStatus *status, const char *word);

/* At most this many Autocrypt-Gossip values, each at most this long, are
 * kept; the rest are dropped. */
#define PST_STATUS_MAX_GOSSIP 16
#define PST_STATUS_MAX_GOSSIP_VALUE (24u * 1024)
/* Keeps one Autocrypt-Gossip field value (copied), within the bounds
 * above. */
void pst_status_add_gossip (PstStatus *status, const char *value);

/* Records that header @field is shown as @shown while the protected
 * headers said @inner (display forms, either may be NULL; copied), and
 * adds the warning "header-mismatch". */
void pst_status_add_header_mismatch (PstStatus *status, const char *field, const char *shown,
                                     const char *inner);

/* The header mismatches of @status as a JSON array, one object per field:
 *   [{"field": "From", "shown": "mallory@evil.test", "inner": "CEO <ceo@bank.test>"}]
 * ("shown"/"inner" null when that side has no such field); an empty array
 * when there are none.  Holds decrypted text: for answers, never for the
 * store.  Transfer full. */
JsonNode *pst_status_header_mismatches_to_json (const PstStatus *status);

/* Whether @status keeps the content from the reader: decryption failed or
 * was stopped (too large), or integrity protection is missing. */
gboolean pst_status_withholds_content (const PstStatus *status);

/* The "crypto" object of DESIGN.md §4.  Transfer full. */
JsonNode *pst_status_to_json (const PstStatus *status);
/* The same, serialised on one line.  Transfer full. */
char *pst_status_to_json_string (const PstStatus *status);

/* The status as the one line of a Postern-Status header field (DESIGN.md
 * §14), for mail programs that read what Postern delivers:
 *   scheme=pgp; decryption=ok; signature=good; signer=alice@example.org;
 *   from-match=yes; scan=clean
 * values as in pst_status_to_json, `none` where absent; @scan_verdict
 * (clean | infected | error | skipped, or NULL) is the scanner's.  Bytes
 * of the signer's address outside a safe ASCII set are written %XX.
 * Transfer full. */
char *pst_status_to_field_value (const PstStatus *status, const char *scan_verdict);

/* What one signature layer says, whatever the scheme. */
typedef struct {
  PstSigStatus status;          /* the crypto library's verdict */
  char **addresses;             /* the signer's addresses (user ids, rfc822Names); may be NULL */
  const char *fingerprint;      /* may be NULL */
  gint64 signing_time;          /* seconds since the epoch, 0 when unknown */
  gboolean weak_digest;         /* SHA-1 or weaker */
} PstSignatureFacts;

/* A signing time more than PST_SIG_FUTURE_SKEW_SECONDS in the future makes
 * a good signature bad; one more than PST_SIG_DATE_SKEW_SECONDS from the
 * Date the reader is shown (either way) is only a warning (DESIGN.md §4):
 * old mail is re-sent and re-signed, and notmuch and gpg call it good. */
#define PST_SIG_FUTURE_SKEW_SECONDS (15 * 60)
#define PST_SIG_DATE_SKEW_SECONDS (24 * 60 * 60)

/* Records the message's signature verdict in @status from @facts, by the
 * rules every scheme shares (DESIGN.md §4): a weak digest or a signing
 * time in the future turns good into bad (with warnings weak-digest,
 * date-mismatch); a signing time far from @date only warns (date-differs);
 * from_match is true only when one of the signer's addresses is @from (the
 * one From addr-spec the reader is shown, or NULL); signer is that address,
 * else the first one.  @date is the shown Date (0 when none).  Returns the
 * verdict recorded. */
/* The verdict pst_status_set_signature would record for @facts, without
 * recording anything: what the readers ask before choosing the header
 * fields to show (the From it is matched against). */
PstSigStatus pst_signature_verdict (const PstSignatureFacts *facts);

PstSigStatus pst_status_set_signature (PstStatus *status, PstScheme scheme,
                                       const PstSignatureFacts *facts, PstCovers covers,
                                       const char *from, gint64 date);

const char *pst_sig_status_to_string (PstSigStatus status);
const char *pst_covers_to_string (PstCovers covers);

G_END_DECLS
