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

/* For messages of @account (which must outlive it). */
PstFetchAnalysis *pst_fetch_analysis_new (PstAgent *agent, const PstAccount *account);
/* Messages @ids to analyse; @retried: ones whose analysis failed before
 * (skipped when show analysed them meanwhile, or they are gone). */
void pst_fetch_analysis_add (PstFetchAnalysis *fa, const GArray *ids, gboolean retried);
/* No more messages: waits for every analysis (the calling thread takes
 * part), records what was learned, seals, and frees @fa. */
void pst_fetch_analysis_finish (PstFetchAnalysis *fa);

G_END_DECLS
