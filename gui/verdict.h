/* verdict.h — the words and the colour of a message's status (DESIGN.md §4),
 * drawn by the GUI from the agent's status object and never from the
 * message.  No GTK here, so that the unit tests read the same words. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  PST_VERDICT_NEUTRAL,   /* not signed by its author (encrypted or not): nothing is claimed of who wrote it */
  PST_VERDICT_GOOD,      /* signed whole by the From address (and encrypted whole, if at all), nothing wrong */
  PST_VERDICT_PROBLEM,   /* a claim that does not hold: show it as a warning */
} PstVerdictLevel;

/* The status in words, one short sentence per aspect joined by " · ":
 * scheme, encryption, signature (with the signer's address and whether it
 * is the sender), integrity, the warnings, the scan.  @crypto and @scan are
 * the agent's objects (may be NULL).  @level_out: how to colour it.
 * Transfer full. */
char *pst_verdict_describe (JsonObject *crypto, JsonObject *scan, PstVerdictLevel *level_out);

/* @text (from a message: a header, a file name) made safe to show next to
 * the status: pst_text_sanitize_line() (core/util/text.h), so that it can
 * neither add lines nor turn text around, and each control shows as an
 * escape ("\x1b", "\u202e").  NULL gives "".  Transfer full. */
char *pst_verdict_safe_text (const char *text);

/* The short mark of the message list ("encrypted, signed", "signature
 * problem", "quarantined"…), from the list's crypto summary and scan.
 * Static, translated. */
const char *pst_verdict_mark (JsonObject *crypto, JsonObject *scan);

/* The icon name of that mark, or NULL for none. */
const char *pst_verdict_icon (JsonObject *crypto, JsonObject *scan);

G_END_DECLS
