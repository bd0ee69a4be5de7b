/* policy.h — what to do with one outgoing message (DESIGN.md §1, §3, §10).
 *
 * A pure function: the account's defaults, the per-message overrides, the
 * sender, the recipients and two callbacks that say which keys exist go in;
 * a decision comes out (scheme, encrypt, sign, and the copies to produce),
 * or a PST_ERROR_POLICY error when the message must not be sent.  It does no
 * I/O of its own: key lookups are the callbacks' business.
 *
 * The rules:
 *   - Each setting of the message overrides the account's; what is unset in
 *     both takes the default: encrypt auto, sign yes, scheme auto.
 *   - Except that a message never lowers an account's "encrypt always"
 *     (DESIGN.md §10): encrypt never or auto on such an account is refused
 *     (PST_ERROR_POLICY, saying to change the account instead).  An account
 *     on auto already sends in the clear whenever a key is missing, so a
 *     message's never there changes which mail goes out in the clear, not
 *     whether the account allows it: that stays the sender's choice.
 *   - Encrypt-to-self is always on: a scheme "covers" the message only when
 *     every recipient (To, Cc and Bcc) *and* the sender have a key in it.
 *   - Scheme pgp or smime: that scheme only.  Scheme auto: the scheme that
 *     covers the message, trying the preferred one first (the account's
 *     scheme when it names one, else OpenPGP); when signing, a covering
 *     scheme in which the sender has an identity wins over one without.
 *   - encrypt always: no covering scheme → refused (PST_ERROR_POLICY), with
 *     a message naming every address without a key ("encryption is required
 *     but there is no OpenPGP key for: a, b; nothing was sent").
 *     encrypt auto: no covering scheme → not encrypted; @missing lists the
 *     addresses without a key (in the preferred scheme) so that the caller
 *     can say so before sending.  Under auto a scheme covers only when,
 *     besides, every recipient's key is recommended (the @recommends
 *     callback: Autocrypt's recommendation, DESIGN.md §14); those that are
 *     not are listed in @not_recommended.  encrypt never: not encrypted.
 *   - Replies stay encrypted: under auto, a message that answers or
 *     forwards mail that arrived encrypted (@reply_to_encrypted) is
 *     encrypted whenever a scheme has every key, whatever Autocrypt
 *     recommends; when none has, it is refused (PST_ERROR_POLICY, naming
 *     the addresses without a key and the way out, `--encrypt never`),
 *     never sent in the clear.  encrypt never is the user's explicit
 *     decision and is obeyed.
 *   - Signing (sign yes): when encrypting, with the chosen scheme; when not,
 *     with the forced scheme, or under auto the preferred scheme in which
 *     the sender has an identity, else the other one.  No identity where one
 *     is needed → refused (PST_ERROR_POLICY, "signing is required but there
 *     is no OpenPGP secret key for: ADDR; nothing was sent").
 *   - Copies: when encrypting, one copy for To+Cc (encrypted to them and the
 *     sender) and one per Bcc recipient (encrypted to that address and the
 *     sender only, so that key ids do not reveal Bcc recipients to the
 *     others, nor the others' to a Bcc recipient beyond the visible header).
 *     A Bcc address that is also in To/Cc gets no copy of its own.  When not
 *     encrypting, one copy for every recipient (the Bcc header is removed by
 *     the writer).
 */
#pragma once

#include <glib.h>
#include "crypto/status.h"

G_BEGIN_DECLS

typedef enum {
  PST_POLICY_ENCRYPT_UNSET = 0,
  PST_POLICY_ENCRYPT_NEVER,
  PST_POLICY_ENCRYPT_AUTO,
  PST_POLICY_ENCRYPT_ALWAYS,
} PstPolicyEncrypt;

typedef enum {
  PST_POLICY_SIGN_UNSET = 0,
  PST_POLICY_SIGN_NO,
  PST_POLICY_SIGN_YES,
} PstPolicySign;

typedef enum {
  PST_POLICY_SCHEME_UNSET = 0,
  PST_POLICY_SCHEME_AUTO,
  PST_POLICY_SCHEME_PGP,
  PST_POLICY_SCHEME_SMIME,
} PstPolicyScheme;

/* One level of settings: the account's defaults or one message's overrides
 * (UNSET: not said at this level). */
typedef struct {
  PstPolicyEncrypt encrypt;
  PstPolicySign sign;
  PstPolicyScheme scheme;
} PstPolicySettings;

/* Whether @address has a usable public key (OpenPGP) or certificate (S/MIME)
 * in @scheme. */
typedef gboolean (*PstPolicyHasKey) (PstScheme scheme, const char *address, gpointer user_data);
/* Whether @sender has a usable secret key / certificate with private key in
 * @scheme, to sign with. */
typedef gboolean (*PstPolicyHasIdentity) (PstScheme scheme, const char *sender, gpointer user_data);
/* Why @address has no usable key in @scheme when it has one that cannot be
 * used ("its key is revoked"…), or NULL.  Transfer full.  For the refusal's
 * message only. */
typedef char *(*PstPolicyWhyNoKey) (PstScheme scheme, const char *address, gpointer user_data);
/* Whether `encrypt auto` may encrypt to @address's key in @scheme: the
 * Autocrypt recommendation (DESIGN.md §14; agent/peers.h) says "encrypt".
 * Asked only under auto, only for recipients that have a key, never for
 * the sender. */
typedef gboolean (*PstPolicyRecommends) (PstScheme scheme, const char *address, gpointer user_data);

typedef struct {
  PstPolicySettings account;
  PstPolicySettings message;
  const char *sender;                /* the From addr-spec */
  const char *const *recipients;     /* To and Cc addr-specs, NULL-terminated (may be NULL) */
  const char *const *bcc;            /* Bcc addr-specs, NULL-terminated (may be NULL) */
  PstPolicyHasKey has_key;           /* NULL: nobody has a key */
  PstPolicyHasIdentity has_identity; /* NULL: the sender has no identity */
  PstPolicyWhyNoKey why_no_key;      /* may be NULL */
  PstPolicyRecommends recommends;    /* NULL: every key is recommended */
  gboolean reply_to_encrypted;       /* the message answers or forwards mail that
                                      * arrived encrypted (its In-Reply-To or
                                      * References name such a message) */
  gpointer user_data;                /* for the callbacks */
} PstPolicyInput;

/* One message to produce and submit. */
typedef struct {
  char **envelope;      /* SMTP RCPT TO addresses, NULL-terminated, never empty */
  char **encrypt_to;    /* when encrypting: the addresses to encrypt to, the
                         * sender included; NULL when not encrypting */
  gboolean bcc;         /* a Bcc recipient's own copy */
} PstPolicyCopy;

typedef struct {
  PstScheme scheme;     /* NONE when neither encrypting nor signing */
  gboolean encrypt;
  gboolean sign;
  GPtrArray *copies;    /* of PstPolicyCopy*, at least one */
  char **missing;       /* addresses (recipients, or the sender) without a key in
                         * the preferred/forced scheme; NULL-terminated, empty when
                         * none or when encryption was never asked for */
  char **not_recommended; /* under auto, when not encrypting although every address
                           * has a key in the preferred scheme: the recipients whose
                           * Autocrypt recommendation is not "encrypt"
                           * (NULL-terminated, empty otherwise) */
} PstPolicyDecision;

/* Decides for one message (see the rules above).  Addresses are compared
 * with pst_addr_equal and kept in their first spelling, in order, without
 * duplicates.  Errors: PST_ERROR_POLICY when the message must not be sent
 * (encryption required and not possible; signing required and no
 * identity); PST_ERROR_USAGE for no sender or no recipient at all.
 * Transfer full. */
PstPolicyDecision *pst_policy_decide (const PstPolicyInput *input, GError **error);
void pst_policy_decision_free (PstPolicyDecision *decision);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPolicyDecision, pst_policy_decision_free)

/* Whether @message's encrypt setting keeps to @account's (the rule above:
 * nothing weaker than "always").  Errors: PST_ERROR_POLICY with the reason
 * and the way out.  pst_policy_decide checks it; callers that only show the
 * effective settings may ask first. */
gboolean pst_policy_check_lowering (const PstPolicySettings *account,
                                    const PstPolicySettings *message, GError **error);

/* The settings that apply to a message: each of @message's that is set,
 * else @account's, else the default (encrypt auto, sign yes, scheme auto).
 * Never UNSET. */
PstPolicySettings pst_policy_effective (const PstPolicySettings *account,
                                        const PstPolicySettings *message);

/* The schemes pst_policy_decide tries, in order, into @order_out: the
 * forced one, or under auto the preferred one and then the other.  Returns
 * how many (1 or 2). */
guint pst_policy_schemes (const PstPolicySettings *account, const PstPolicySettings *message,
                          PstScheme order_out[2]);

/* "never" | "auto" | "always"; FALSE for anything else (@out untouched). */
gboolean pst_policy_encrypt_from_string (const char *text, PstPolicyEncrypt *out);
/* "auto" | "pgp" | "smime"; FALSE for anything else (@out untouched). */
gboolean pst_policy_scheme_from_string (const char *text, PstPolicyScheme *out);
/* The names above; "unset" for UNSET.  Static strings. */
const char *pst_policy_encrypt_to_string (PstPolicyEncrypt encrypt);
const char *pst_policy_scheme_to_string (PstPolicyScheme scheme);

G_END_DECLS
