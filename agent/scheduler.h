/* scheduler.h — the agent's clock: sends what the outbox holds when its
 * next try comes (DESIGN.md §3 "Send": retry with backoff, kept across
 * restarts and offline periods), and fetches on each account's interval. */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* Starts the scheduler thread; it kicks the sender of every account with
 * an entry due, fetches the accounts that have a fetch_interval when their
 * time comes (with jitter, and backing off after failed sessions), and
 * sleeps until the next thing is due or pst_agent_changed(). */
PstScheduler *pst_scheduler_start (PstAgent *agent);
/* Ends the thread, waits for it, and frees @scheduler. */
void pst_scheduler_stop (PstScheduler *scheduler);

/* The due-times, apart from the thread (for the tests too). */

/* Looks at the queued outbox entries @queued (PstOutboxEntry) at unix time
 * @now: adds to @due (char *, not owned: the entries' account names) each
 * account with an entry due, once, and returns the seconds until the next
 * entry not due yet is (at most @idle_s, at least 1). */
gint64 pst_scheduler_outbox_due (GPtrArray *queued, gint64 now, gint64 idle_s, GPtrArray *due);

/* The seconds to wait before the next scheduled fetch: @interval_s ±10%,
 * doubled after each of @failures consecutive failed sessions, but never
 * more than an hour over the interval (±10%). */
gint64 pst_scheduler_fetch_delay (guint interval_s, guint failures);

G_END_DECLS
