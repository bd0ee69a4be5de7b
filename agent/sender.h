/* sender.h — submits an account's outbox over SMTP (DESIGN.md §3 "Send"). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* Submits every queued entry of @account in one session, now, in this
 * thread (one session per account at a time).  An entry is marked sent only
 * after the server's 2xx to its final dot; 5xx marks it failed, 4xx leaves
 * it queued; each with the server's reply.  Errors: the session's
 * (PST_ERROR_NETWORK…); entries not yet sent stay queued. */
gboolean pst_sender_run (PstAgent *agent, const char *account, gboolean force, GError **error);
/* (Only entries that are due are sent, unless @force; a temporary failure
 * sets the next try with pst_sender_backoff, durably; an entry queued more
 * than five days ago fails for good.) */

/* Seconds to wait after the @failures-th consecutive temporary failure:
 * 60 s doubling up to 4 h, with ±20% jitter. */
gint64 pst_sender_backoff (guint failures);

/* pst_sender_run in a background thread, one per account (a kick while it
 * runs makes it run once more); errors are logged and sent as
 * account.error events. */
void pst_sender_kick (PstAgent *agent, const char *account);

/* Waits for background senders to finish (at shutdown). */
void pst_sender_wait_all (void);

G_END_DECLS
