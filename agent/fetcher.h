/* fetcher.h — fetches an account's mail over POP3 (DESIGN.md §3 "Fetch"):
 * every message not yet stored is streamed into the store as received and
 * committed together with its UIDL; only then is it deleted on the server
 * (unless the account keeps mail there). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* The fetchers of one agent (agent->fetchers). */
PstFetchers *pst_fetchers_new (PstAgent *agent);
/* Waits for background fetches to end (at shutdown), then frees. */
void pst_fetchers_free (PstFetchers *fetchers);

/* One session for @account, now, in this thread; a second caller for the
 * same account waits for the first.  @fetched_out: new messages stored. */
gboolean pst_fetchers_run (PstFetchers *fetchers, const char *account, guint *fetched_out,
                           GError **error);
/* (A fetch that comes while a session of the account runs waits for it and
 * reports its outcome: it joins it.) */

/* pst_fetchers_run in a background thread (the schedule). */
void pst_fetchers_kick (PstFetchers *fetchers, const char *account);

/* pst_deliver_pending (deliver.h) for @account in a background thread,
 * under the account's fetch lock: after a quarantined message's release. */
void pst_fetchers_deliver_kick (PstFetchers *fetchers, const char *account);
/* The same for every account that delivers, at the agent's start: what a
 * crash or a stop left pending (and in a Maildir, what it delivered but
 * had not marked done) is settled without waiting for a fetch. */
void pst_fetchers_deliver_at_start (PstFetchers *fetchers);
/* Consecutive failed sessions of @account, for the schedule's backoff. */
guint pst_fetchers_failures (PstFetchers *fetchers, const char *account);

/* What a fetch does with the messages it stored, for messages of @account
 * stored otherwise (import, methods-import.c), ids @ids: a mail.new event
 * for each, then the analysis of a fetched message (reader.h: display
 * headers, verdict, scan and quarantine, what Autocrypt headers teach), and
 * the seal under seal_incoming.  Nothing here delivers a message anywhere.
 * FALSE when a seal failed (pst_fetch_analysis_finish): the messages are
 * stored all the same. */
gboolean pst_fetchers_take_in (PstAgent *agent, const PstAccount *account, GArray *ids,
                               GError **error);

/* Under seal_incoming, whether the account's own OpenPGP key is there to
 * seal with: nothing is stored without it (PST_ERROR_POLICY, "… nothing
 * was @done"). */
gboolean pst_fetchers_seal_key_ready (PstAgent *agent, const PstAccount *account,
                                      const char *done, GError **error);

G_END_DECLS
