/* protect.h — turning a message the user wrote into what goes out: the
 * policy decides (core/crypto/policy.h), then PGP/MIME or S/MIME writes one
 * protected copy per recipient group (a Bcc recipient gets a copy of their
 * own).  Used by send and encrypt.  Every copy from a sender with an
 * OpenPGP key carries its Autocrypt header (agent/peers.h). */
#pragma once

#include "agent.h"
#include "crypto/policy.h"
#include "mime/mime.h"

G_BEGIN_DECLS

/* A message the user wrote, read once: its bytes, its parse, and who it is
 * from and to.  What send, encrypt and the policy need of it. */
typedef struct {
  GBytes *data;
  PstMimeMessage *mime;
  char *from;          /* the addr-spec of its one From mailbox */
  char **recipients;   /* To, Cc and Bcc (NULL-terminated, may be empty) */
  char **bcc;          /* Bcc alone */
} PstPlainMessage;

/* Parses @data (RFC 5322; a header section alone will do).  Errors
 * (PST_ERROR_FAILED): "not an RFC 5322 message: …", no From, several From
 * fields or mailboxes.  Takes a reference on @data.  Transfer full. */
PstPlainMessage *pst_plain_message_parse (GBytes *data, GError **error);
/* Makes @envelope (addr-specs, NULL-terminated, not empty) the recipients
 * of @plain, whatever its header says (sendmail's recipient arguments):
 * the ones that are in its To or Cc stay visible, every other one becomes
 * a Bcc recipient (a copy of their own, seen in no other); duplicates go.
 * Errors (PST_ERROR_USAGE): an entry that is not an addr-spec. */
gboolean pst_plain_message_set_envelope (PstPlainMessage *plain, const char *const *envelope,
                                         GError **error);
void pst_plain_message_free (PstPlainMessage *plain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPlainMessage, pst_plain_message_free)

typedef struct {
  char **envelope;   /* RCPT TO addresses, NULL-terminated */
  GBytes *data;      /* the message to submit */
  char **protect_to; /* whom the copy is protected for: the addresses it is
                      * encrypted to, else its RCPT TO addresses */
  gboolean bcc;      /* a Bcc recipient's copy of their own (no gossip in it) */
} PstOutgoing;

void pst_outgoing_free (PstOutgoing *out);

typedef struct {
  GPtrArray *copies;          /* of PstOutgoing* */
  PstScheme scheme;
  gboolean encrypted;
  gboolean signed_;
  char **missing;             /* recipients without a key (encrypt=auto), NULL-terminated */
  char **not_recommended;     /* recipients with a key that Autocrypt does not recommend
                               * encrypting to (encrypt=auto; agent/peers.h), NULL-terminated */
  char *sender;               /* the From addr-spec */
} PstProtected;

void pst_protected_free (PstProtected *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstProtected, pst_protected_free)

/* Protects @plain for sending from an account with settings
 * @account_settings, with the per-message @overrides.  @recipients_override
 * (NULL-terminated, may be NULL) replaces the message's To/Cc/Bcc as the
 * recipients (postern encrypt --to).  Errors: PST_ERROR_FAILED for a
 * message without a recipient; PST_ERROR_POLICY when the policy refuses.
 * Transfer full. */
PstProtected *pst_protect_message (PstAgent *agent, const PstPlainMessage *plain,
                                   const PstPolicySettings *account_settings,
                                   const PstPolicySettings *overrides,
                                   const char *const *recipients_override, GError **error);

/* What pst_protect_message would do with @plain (its header section is
 * enough: the body plays no part in the decision), without protecting
 * anything: each copy's data is NULL and its envelope holds the addresses
 * that copy is encrypted to (the sender included) or, unencrypted, its
 * RCPT TO addresses.  Errors as pst_protect_message.  Transfer full. */
PstProtected *pst_protect_decide (PstAgent *agent, const PstPlainMessage *plain,
                                  const PstPolicySettings *account_settings,
                                  const PstPolicySettings *overrides,
                                  const char *const *recipients_override, GError **error);

/* What pst_protect_message would do with @plain (its header section is
 * enough), as send needs it to protect the message as a stream
 * (outgoing.h): each copy's data is NULL, its envelope its RCPT TO
 * addresses, protect_to and bcc set.  Errors as pst_protect_message.
 * Transfer full. */
PstProtected *pst_protect_plan (PstAgent *agent, const PstPlainMessage *plain,
                                const PstPolicySettings *account_settings,
                                const PstPolicySettings *overrides, GError **error);

/* What the policy says of one recipient for keys.check. */
typedef struct {
  char *address;
  gboolean pgp;      /* a usable OpenPGP key */
  gboolean smime;    /* a usable S/MIME certificate */
  char *problem;     /* why no scheme the message may use can encrypt to it
                      * ("its OpenPGP key has expired", "no OpenPGP key"…), or NULL */
} PstRecipientCheck;

typedef struct {
  PstPolicySettings effective;  /* the settings that apply (pst_policy_effective) */
  PstScheme scheme;             /* NONE when refused or neither encrypting nor signing */
  gboolean encrypt;
  gboolean sign;
  char **missing;               /* as PstProtected's; empty when refused */
  char **not_recommended;       /* as PstProtected's; empty when refused */
  GPtrArray *recipients;        /* of PstRecipientCheck*, in order, without duplicates */
  GError *refusal;              /* PST_ERROR_POLICY: the error send would fail with, or NULL */
  gboolean reply_to_encrypted;  /* the message answers or forwards mail that arrived encrypted */
} PstProtectCheck;

void pst_protect_check_free (PstProtectCheck *check);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstProtectCheck, pst_protect_check_free)

/* What send would decide for a message from @sender to @recipients
 * (NULL-terminated addr-specs; the sender's own key is asked for too, as
 * encrypt-to-self needs it, but the sender is not listed), through the
 * same decision as pst_protect_message and the same key lookups, and
 * which keys each recipient has.  A refusal of the policy is no error: it
 * is in ->refusal.  Errors: the keys cannot be read; PST_ERROR_USAGE for
 * no recipient.  @in_reply_to and @references (may be NULL) are those
 * of the message to be sent: an answer to encrypted mail stays encrypted
 * (peers.h pst_peers_replies_to_encrypted, crypto/policy.h).  Transfer
 * full. */
PstProtectCheck *pst_protect_check (PstAgent *agent, const char *sender,
                                    const char *const *recipients,
                                    const PstPolicySettings *account_settings,
                                    const PstPolicySettings *overrides, const char *in_reply_to,
                                    const char *references, GError **error);

/* @input without its Bcc fields, for a copy that goes out unprotected;
 * the rest byte for byte.  Given the header section alone, its header
 * section so (the body follows it unchanged).  Transfer full. */
GBytes *pst_protect_without_bcc (GBytes *input);

/* The account's settings as policy input. */
PstPolicySettings pst_protect_account_settings (const PstAccount *account);

G_END_DECLS
