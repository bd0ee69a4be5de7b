/* sender.h — submits an account's outbox over SMTP (DESIGN.md §3 "Send"). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* An entry queued more than five days ago fails for good. */
#define PST_SENDER_GIVE_UP_S (5 * 24 * 3600)

/* The senders of one agent (agent->senders). */
PstSenders *pst_senders_new (PstAgent *agent);
/* Waits for the background senders to finish (at shutdown), then frees. */
void pst_senders_free (PstSenders *senders);

/* Submits every queued entry of @account in one session, now, in this
 * thread (one session per account at a time).  An entry is marked sent only
 * after the server's 2xx to its final dot; 5xx marks it failed, 4xx leaves
 * it queued; each with the server's reply.  Errors: the session's
 * (PST_ERROR_NETWORK…); entries not yet sent stay queued. */
gboolean pst_senders_run (PstSenders *senders, const char *account, gboolean force,
                          GError **error);
/* (Only entries that are due are sent, unless @force; a temporary failure
 * sets the next try with pst_sender_backoff, durably; an entry queued more
 * than five days ago fails for good.) */

/* pst_senders_run in a background thread, one per account (a kick while it
 * runs makes it run once more); errors are logged and sent as
 * account.error events; at the end, pst_agent_changed. */
void pst_senders_kick (PstSenders *senders, const char *account);

/* The outbox state machine's decisions, apart from the network. */

/* Seconds to wait after the @failures-th consecutive temporary failure:
 * 60 s doubling up to 4 h, with ±20% jitter. */
gint64 pst_sender_backoff (guint failures);

/* The state an entry takes after the server's reply @code to it (to its
 * final dot, or a refusal before): 2xx sent, 4xx queued again, else failed. */
PstOutboxState pst_sender_state_after_reply (guint code);

typedef enum {
  PST_SENDER_SEND,      /* goes in this session */
  PST_SENDER_WAIT,      /* the server deferred it, and its next try has not come */
  PST_SENDER_GIVE_UP,   /* queued more than PST_SENDER_GIVE_UP_S ago: fails for good */
} PstSenderPlan;

/* What a session at unix time @now does with queued entry @e (@force: the
 * user asked, outbox.retry or send --now). */
PstSenderPlan pst_sender_plan (const PstOutboxEntry *e, gint64 now, gboolean force);

G_END_DECLS
