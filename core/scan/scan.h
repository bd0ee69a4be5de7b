/* scan.h — the local virus-scan hook (DESIGN.md §11): a second-vendor
 * scanner run on decrypted incoming mail and on outgoing mail before it is
 * encrypted, which no server can do. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  PST_SCAN_CLEAN,
  PST_SCAN_INFECTED,
  PST_SCAN_ERROR,      /* the scanner could not say: down, timed out, refused */
} PstScanVerdict;

typedef struct _PstScanner PstScanner;

/* @spec is "clamd:/path/to/clamd.ctl" (a Unix socket), "clamd:HOST:PORT"
 * (TCP), or "command:PROGRAM ARGS…" (the message on stdin; exit 0 clean,
 * 1 infected with the name on the first line of stdout, anything else an
 * error).  @timeout_s bounds one scan (0: 60 s).  Errors (PST_ERROR_USAGE):
 * a spec of another form.  Transfer full. */
PstScanner *pst_scanner_new (const char *spec, guint timeout_s, GError **error);
void pst_scanner_free (PstScanner *scanner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstScanner, pst_scanner_free)

/* Scans @data.  *@name_out (transfer full): what was found (INFECTED), or
 * why it could not scan (ERROR); NULL when CLEAN. */
PstScanVerdict pst_scanner_scan (PstScanner *scanner, GBytes *data, char **name_out);
/* The same for the message @in holds, read to its end chunk by chunk (to
 * clamd's INSTREAM or the command's stdin): memory does not grow with it.
 * A read error of @in is PST_SCAN_ERROR, its message in *@name_out. */
PstScanVerdict pst_scanner_scan_stream (PstScanner *scanner, GInputStream *in, char **name_out);

/* "clean", "infected" or "error". */
const char *pst_scan_verdict_name (PstScanVerdict verdict);

G_END_DECLS
