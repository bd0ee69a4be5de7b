/* scheduler.h — the agent's clock: sends what the outbox holds when its
 * next try comes (DESIGN.md §3 "Send": retry with backoff, kept across
 * restarts and offline periods). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* Starts the scheduler thread; it kicks the sender of every account with
 * an entry due, fetches the accounts that have a fetch_interval when their
 * time comes (with jitter, and backing off after failed sessions), and
 * sleeps until the next thing is due. */
void pst_scheduler_start (PstAgent *agent);
/* Something changed (a message queued, a session ended): look again. */
void pst_scheduler_wake (void);
/* Ends the thread and waits for it. */
void pst_scheduler_stop (void);

G_END_DECLS
