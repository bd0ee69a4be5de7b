/* fetcher.h — fetches an account's mail over POP3 (DESIGN.md §3 "Fetch"):
 * every message not yet stored is streamed into the store as received and
 * committed together with its UIDL; only then is it deleted on the server
 * (unless the account keeps mail there). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* One session for @account, now, in this thread; a second caller for the
 * same account waits for the first.  @fetched_out: new messages stored. */
gboolean pst_fetcher_run (PstAgent *agent, const char *account, guint *fetched_out,
                          GError **error);

G_END_DECLS
