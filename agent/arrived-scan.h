/* arrived-scan.h — the scanner's verdict on a stored message as it
 * arrived, read from the store as a stream (a seal opened as it passes):
 * for a message too large to analyse, and for one exported raw before
 * any scan (DESIGN.md §11: what a client gets has been scanned). */
#pragma once

#include "agent.h"
#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  const char *verdict;   /* clean | infected | error | skipped (no scanner) */
  char *name;            /* what was found, or why the scan failed; the caller frees it */
  gboolean quarantine;   /* infected, or a scan error under on_scan_error = quarantine */
} PstArrivedScan;

/* Whether message @info wants a scan before a client gets it: a scanner is
 * configured and it was not scanned (or was while none was). */
gboolean pst_arrived_scan_wanted (PstAgent *agent, const PstMessageInfo *info);

/* Scans message @info as it arrived into @out. */
void pst_arrived_scan (PstAgent *agent, const PstMessageInfo *info, PstArrivedScan *out);

/* The same, and a quarantine it calls for recorded in the store and in
 * @info (nothing else: a clean scan of the bytes as they arrived is no
 * verdict on what decrypting them shows). */
gboolean pst_arrived_scan_quarantine (PstAgent *agent, PstMessageInfo *info, GError **error);

G_END_DECLS
