/* fetch-analysis.h — the analysis of the messages a fetch (or an import)
 * stored: display headers, verdict, scan and quarantine, what Autocrypt
 * headers teach (reader.h), then the seal under seal_incoming.
 *
 * Messages are analysed as they are added, by a few threads (each with its
 * own worker process), while the session that stores them goes on: the
 * analysis waits for neither the next message nor the end of the session,
 * and the session waits for no analysis (it never holds the connection
 * open).  What was learned is written at the end, together (one fsync). */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

typedef struct _PstFetchAnalysis PstFetchAnalysis;

/* Told how the analysis of message @id of @account went (the fetcher
 * keeps those that failed, to analyse them again at the next fetch). */
typedef void (*PstFetchAnalysisNote) (gpointer data, const char *account, gint64 id, gboolean ok);

/* For messages of @account (which must outlive it); @note, if not NULL,
 * is called from the analysis threads. */
PstFetchAnalysis *pst_fetch_analysis_new (PstAgent *agent, const PstAccount *account,
                                          PstFetchAnalysisNote note, gpointer note_data);
/* Messages @ids to analyse; @retried: ones whose analysis failed before
 * (skipped when show analysed them meanwhile, or they are gone). */
void pst_fetch_analysis_add (PstFetchAnalysis *fa, const GArray *ids, gboolean retried);
/* Under seal_incoming, seals @account's messages that wait for it
 * (store.h PST_MESSAGE_FLAG_SEAL_PENDING: an agent that died before their
 * seal, a seal that failed).  FALSE when one could not be sealed (the
 * fetch then fails closed: "…; nothing new is fetched until then").  Under
 * the account's fetch lock. */
gboolean pst_fetch_seal_pending (PstAgent *agent, const PstAccount *account, GError **error);
/* No more messages: waits for every analysis (the calling thread takes
 * part), records what was learned, seals, and frees @fa.  FALSE when a
 * message that seal_incoming should have sealed was not (its plaintext is
 * still in the store; the next fetch seals it): said in @error. */
gboolean pst_fetch_analysis_finish (PstFetchAnalysis *fa, GError **error);

G_END_DECLS
