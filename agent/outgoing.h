/* outgoing.h — send as a use case (DESIGN.md §3 "Send"): a message the
 * user wrote goes from the account it is from, through the limits, the
 * scanner and the policy, into the outbox, every copy durably before any
 * network I/O.  The message is parsed once; each copy is queued with what
 * the sender must know of it (its 8-bit facts), so that the sender reads
 * it once. */
#pragma once

#include "agent.h"
#include "crypto/policy.h"
#include "protect.h"

G_BEGIN_DECLS

typedef struct {
  char *account;       /* the account it goes from */
  GArray *ids;         /* gint64: the outbox entries, one per copy, in order */
  PstScheme scheme;
  gboolean encrypted;
  gboolean signed_;
  char **missing;      /* recipients without a key (encrypt = auto), NULL-terminated */
  char **not_recommended; /* recipients whose key Autocrypt does not recommend (auto) */
  char **encrypted_to; /* when encrypted with OpenPGP: the recipients (To, Cc, Bcc; not the
                        * sender), NULL-terminated; else NULL */
} PstQueued;

void pst_queued_free (PstQueued *queued);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstQueued, pst_queued_free)

/* Queues @input (RFC 5322) for sending from account @account (NULL: the
 * account whose address its From is) with the per-message @overrides, and
 * tells the subscribers (outbox.changed).  @envelope (NULL-terminated, or
 * NULL: To, Cc and Bcc) gives the recipients instead of the header
 * (pst_plain_message_set_envelope); the limits count them.  Sends nothing.
 * Errors: PST_ERROR_USAGE for an envelope entry that is no address;
 * PST_ERROR_FAILED for a message that is not RFC 5322, has no single From
 * or no recipient; PST_ERROR_POLICY when the From is not the account's,
 * a limit is reached, or the policy refuses; PST_ERROR_INFECTED, or
 * PST_ERROR_FAILED when it cannot be scanned (on_scan_error = quarantine);
 * the store's.  "…; nothing was sent" in each.  Transfer full. */
PstQueued *pst_outgoing_queue (PstAgent *agent, GBytes *input, const char *account,
                               const char *const *envelope, const PstPolicySettings *overrides,
                               GError **error);

/* What both ways of queueing share (outgoing.c, outgoing-stream.h). */

/* The checks before the scanner and the policy: @envelope made the
 * recipients (may be NULL), their SMTP paths, the account (@name or the
 * From's; *@account_out, transfer full), its limits.  Errors as
 * pst_outgoing_queue's. */
gboolean pst_outgoing_check (PstAgent *agent, PstPlainMessage *plain, const char *name,
                             const char *const *envelope, PstAccount **account_out,
                             GError **error);
/* Addresses SMTP cannot carry: PST_ERROR_USAGE. */
gboolean pst_outgoing_check_paths (const PstPlainMessage *plain, GError **error);
/* The configured scanner's verdict on the message in @in (read to its
 * end) as send takes it: PST_ERROR_INFECTED, or PST_ERROR_FAILED when it
 * cannot be scanned and on_scan_error = quarantine. */
gboolean pst_outgoing_scan (PstAgent *agent, GInputStream *in, GError **error);
/* Commits @writers (PstStoreWriter*, one per copy of @prot, in order,
 * their bytes and 8-bit facts written) in one durable transaction, tells
 * the subscribers (outbox.changed) and says what was queued.  On failure
 * nothing is queued.  Transfer full. */
PstQueued *pst_outgoing_commit (PstAgent *agent, const PstAccount *account,
                                const PstPlainMessage *plain, const PstProtected *prot,
                                GPtrArray *writers, GError **error);

/* The account that sends mail From @from: account @name when given (whose
 * address must be @from), else the account whose address it is.  Errors:
 * no account @name; PST_ERROR_POLICY when @from is not the account's or
 * no account's.  Transfer full. */
PstAccount *pst_outgoing_account (PstAgent *agent, const char *name, const char *from,
                                  GError **error);

/* The account's limits for one more message with @n_recipients:
 * max_recipients, max_messages_per_hour (so that the agent cannot be made
 * a relay by whatever can reach its socket).  Errors: PST_ERROR_POLICY
 * ("…; nothing was sent"), or the store's. */
gboolean pst_outgoing_check_limits (PstAgent *agent, const PstAccount *account,
                                    guint n_recipients, GError **error);

G_END_DECLS
