/* reader.h — opening a stored message for a client: decrypt, verify, and
 * the display headers (DESIGN.md §3 "Read").  Plaintext is never written to
 * disk: each read decrypts again. */
#pragma once

#include "agent.h"
#include "crypto/status.h"
#include "worker.h"

G_BEGIN_DECLS

/* The reading's version, stored with each summary it writes (the store's
 * reader_version).  Raise it when the reading learns to decrypt, verify or
 * warn about something that it took for plain mail before: summaries
 * written before then are not trusted instead of a new reading
 * (open.c). */
#define PST_READER_VERSION 1

/* Loads message @id, decrypts and verifies it, in the analysis worker
 * (worker.h).  @plain_out: the message to show (RFC 5322), NULL when that
 * is the message as stored (nothing decrypted or rebuilt: it was streamed
 * to the worker, and is read again from the store where it is wanted,
 * pst_reader_arrived_to); @status_out: its verdict; @view_out (may be
 * NULL): what show displays, and attachment number @attachment (-1: none).
 * Transfer full. */
gboolean pst_reader_open (PstAgent *agent, gint64 id, int attachment, GBytes **plain_out,
                          PstStatus **status_out, PstView **view_out, GError **error);

/* Message @id as it arrived, a seal of Postern's own opened, nothing
 * parsed (export --raw: also a message no worker could read).  Refused
 * (PST_ERROR_INFECTED) for a quarantined message.  Transfer full. */
gboolean pst_reader_arrived (PstAgent *agent, gint64 id, GBytes **arrived_out, GError **error);
/* The same, written to @out as it is read (memory does not grow with the
 * message).  On failure part of it may be written: the caller discards
 * it. */
gboolean pst_reader_arrived_to (PstAgent *agent, gint64 id, GOutputStream *out, GError **error);

/* Reads a stream to its end into memory.  Transfer full. */
GBytes *pst_reader_slurp (GInputStream *in, gsize max_size, GError **error);

/* What analysis learns of a stored message (display headers and the
 * crypto summary as JSON); pst_analysis_clear frees the strings. */
typedef struct {
  gint64 id;
  char *from, *subject, *date, *crypto;
  const char *scan_verdict;  /* clean | infected | error | skipped (no scanner) */
  char *scan_name;           /* what was found, or why the scan failed */
  gboolean quarantine;       /* infected, or a scan error under on_scan_error=quarantine */
  gboolean arrived_plain;    /* not encrypted whole: what seal_incoming seals */
  gboolean analysis_failed;  /* the worker failed on it, or too_large: crypto is
                              * pst_reader_failed_summary; scan_verdict NULL (the stored
                              * scan stays) unless too_large scanned it */
  gboolean too_large;        /* analysis_failed: too large to read whole; scanned from the
                              * store as it arrived (a seal opened) unless scanned before */
} PstAnalysis;
/* A worker that failed on the message is no error here: @out then holds
 * the analysis-failed summary (analysis_failed TRUE, no headers). */
gboolean pst_reader_analyze_to (PstAgent *agent, gint64 id, PstAnalysis *out, GError **error);

/* The crypto summary stored for a message whose analysis failed:
 *   {"analysis": "failed", "reason": "the analysis worker was killed by …"}
 * with, for one too large to read whole, "arrived_size": its size in bytes
 * as it arrived (@arrived_size; 0: none), which a seal hides; whether a
 * stored summary is one, and the size it records (0 when none).
 * Transfer full. */
char *pst_reader_failed_summary (const char *reason, guint64 arrived_size);
gboolean pst_reader_summary_failed (const char *crypto_json);
guint64 pst_reader_summary_arrived_size (const char *crypto_json);
void pst_analysis_clear (PstAnalysis *analysis);
/* What @a says to record (pst_store_messages_set_info). */
PstMessageInfoUpdate pst_analysis_update (const PstAnalysis *a);

/* Scans @plain, the shown form of message @info (NULL: the message as
 * stored, read from the store as a stream), with the agent's scanner
 * (DESIGN.md §11) into @a's scan fields. */
void pst_reader_scan (PstAgent *agent, const PstMessageInfo *info, GBytes *plain, PstAnalysis *a);

/* After a message was stored: records its display headers and crypto
 * summary in the store, so that list needs no decryption.  The Subject of
 * mail whose header was protected inside the encryption is recorded as the
 * outside gave it ("..."), not decrypted, unless the account has
 * store_decrypted_subject (DESIGN.md §3: no plaintext on disk by default). */
/* A worker that failed on it: the analysis-failed summary is recorded, and
 * the error (PST_WORKER_ERROR) says why. */
gboolean pst_reader_analyze (PstAgent *agent, gint64 id, GError **error);

G_END_DECLS
