/* peers.h — Autocrypt Level 1 and key changes in the agent (DESIGN.md
 * §14): the header every outgoing mail of an account with an OpenPGP key
 * carries, what incoming headers teach (the peer table, keys into the
 * keyring), the warning "key-changed" on verdicts, and the recommendation
 * that `encrypt auto` follows.  The rules themselves are
 * crypto/autocrypt.c's; this is the glue to the store and the keyring.
 *
 * Postern's own prefer-encrypt is always "mutual": an account that uses
 * Postern wants its mail encrypted.
 */
#pragma once

#include "agent.h"
#include "crypto/autocrypt.h"
#include "crypto/pgp.h"
#include "worker.h"

G_BEGIN_DECLS

/* The "Autocrypt: …" field (with its CRLF) for mail from @sender, or NULL
 * when @sender has no usable OpenPGP secret key (or its key cannot be
 * exported: logged).  Transfer full. */
char *pst_peers_outgoing_field (PstAgent *agent, PstPgp *pgp, const char *sender);

/* @message with an Autocrypt-Gossip field on top for each of @recipients
 * but @sender (their OpenPGP keys as the keyring has them), for a copy
 * encrypted to more than one recipient (Level 1 §2.6: so that replies to
 * all can be encrypted); hp.c keeps the fields inside the encryption.
 * @message itself (a new reference) when there are fewer than two
 * recipients or no key could be exported.  Transfer full. */
GBytes *pst_peers_with_gossip (PstAgent *agent, PstPgp *pgp, GBytes *message, const char *sender,
                               const char *const *recipients);

/* The Autocrypt-Gossip fields alone that pst_peers_with_gossip would put
 * on top of a message, for a stream to read before it; NULL when there are
 * none.  Transfer full. */
GBytes *pst_peers_gossip_fields (PstAgent *agent, PstPgp *pgp, const char *sender,
                                 const char *const *recipients);

/* Learns from the Autocrypt-Gossip values of a decrypted message
 * (@status->gossip) with effective date @date whose To/Cc are @recipients:
 * the gossip state of each address, and its key into the keyring when the
 * keyring has none for it (gossip never replaces a key).  Failures are
 * logged. */
void pst_peers_learn_gossip (PstAgent *agent, const PstStatus *status, gint64 date,
                             const char *const *recipients);

/* Learns from the outer header of an incoming message (@view's Autocrypt
 * facts): updates the peer state of its From address and, for a header
 * taken, imports its key (with only that address's user id) and records
 * it (source autocrypt; a key that replaces another is recorded as such).
 * Returns TRUE when a key new to the keyring came in, so that the verdict
 * may change (the caller reads the message again).  Failures are logged:
 * they never fail the reading of the message. */
gboolean pst_peers_learn (PstAgent *agent, const PstView *view);

/* Records that the message @view shows arrived encrypted (its outer
 * Message-ID, and the protected one when it differs), when @status says
 * so: an answer to it or a forward of it then stays encrypted
 * (pst_peers_replies_to_encrypted, crypto/policy.h). */
void pst_peers_note_encrypted (PstAgent *agent, const PstView *view, const PstStatus *status);
/* Whether a message whose In-Reply-To is @in_reply_to and whose References
 * is @references (either may be NULL) answers or forwards a message that
 * arrived encrypted: any "<id>" in them that pst_peers_note_encrypted
 * recorded.  A forward draft names the forwarded message in References. */
gboolean pst_peers_replies_to_encrypted (PstAgent *agent, const char *in_reply_to,
                                         const char *references);

/* Records the certificate of a good S/MIME signature with a valid chain
 * (which the S/MIME store keeps, crypto/smime.h) as the signer's, source
 * harvested, so that keys list and keys check say where it came from. */
void pst_peers_learn_harvested (PstAgent *agent, const PstStatus *status);

/* Adds the warning "key-changed" to @status when its good signature is
 * by a key recorded as replacing another for an address that nobody
 * vouched for (store/keys.h). */
void pst_peers_check_verdict (PstAgent *agent, PstStatus *status);

/* What DESIGN.md §14 says of @address's OpenPGP key for keys check, send
 * and the compose window: where the key used for it came from ("source",
 * null without a key) and whether it came in place of another one nobody
 * vouched for ("key_changed"), set on @o. */
void pst_peers_describe_key (PstAgent *agent, const char *address, gboolean has_key, JsonObject *o);

/* The key the store binds to @address (store/keys.h), for
 * pst_pgp_set_preferred_key with the agent as @user_data: what the policy
 * judged is what encryption uses.  Transfer full. */
char *pst_peers_bound_key (const char *address, gpointer user_data);

/* The Autocrypt recommendation for encrypting to @address with OpenPGP
 * (crypto/autocrypt.h): ENCRYPT for a key the user gave (imported,
 * generated, or any key with no Autocrypt state: WKD, the keyring), else
 * what Level 1 says of its peer state.  @key_usable: whether the keyring
 * has a usable key for it. */
PstAutocryptRecommendation pst_peers_recommend (PstAgent *agent, const char *address,
                                                gboolean key_usable, gboolean reply_to_encrypted);

G_END_DECLS
