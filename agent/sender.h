/* sender.h — submits an account's outbox over SMTP (DESIGN.md §3 "Send"). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* Submits every queued entry of @account in one session, now, in this
 * thread (one session per account at a time).  An entry is marked sent only
 * after the server's 2xx to its final dot; 5xx marks it failed, 4xx leaves
 * it queued; each with the server's reply.  Errors: the session's
 * (PST_ERROR_NETWORK…); entries not yet sent stay queued. */
gboolean pst_sender_run (PstAgent *agent, const char *account, GError **error);

/* pst_sender_run in a background thread; errors are logged. */
void pst_sender_kick (PstAgent *agent, const char *account);

/* Kicks every account that has queued entries (at start-up). */
void pst_sender_resume_all (PstAgent *agent);

/* Waits for background senders to finish (at shutdown). */
void pst_sender_wait_all (void);

G_END_DECLS
