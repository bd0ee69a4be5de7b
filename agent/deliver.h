/* deliver.h — fetched mail handed to another mail program (an account's
 * deliver setting, DESIGN.md §14): written into a Maildir, or piped to an
 * MDA, decrypted (or as it arrived, with deliver_encrypted) and with
 * Postern's own Postern-Status field on top (readable.h).
 *
 * Each message to deliver has a pending row in the store from the
 * transaction that stored it (store/deliveries.h).  Maildir delivery is
 * exactly once: the file's name is fixed by the message (its id and the
 * store's token), so a message whose file is already in new/ or cur/ (a
 * crash between the rename and the commit) is marked done without writing
 * it again.  MDA delivery is at least once: a crash after the MDA accepted
 * a message and before the commit delivers it again, since no MDA can say
 * whether it has seen a message before. */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* Delivers @account's pending messages, oldest first; quarantined ones
 * wait for their release.  Call with the account's fetch session lock held
 * (pst_agent_session_lock), which keeps two runs for one account apart.  A
 * message that cannot be delivered now (Maildir not writable, disk full,
 * the MDA failing) stays pending for the next run, and the run says so:
 * g_warning and an account.error event.  An MDA that hangs is killed with
 * all it started, and its message waits a while before it is tried again
 * (deliver.c, MDA_TIMEOUT_S).  Nothing leaves the store.  Returns
 * the number of messages delivered. */
guint pst_deliver_pending (PstAgent *agent, const PstAccount *account);

G_END_DECLS
