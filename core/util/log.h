/* log.h — the agent's log: one line per event, with a timestamp.
 *
 * Nothing secret is ever passed to the log (passwords, AUTH lines, message
 * bodies): callers log what happened, not what was said.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sends GLib's structured log to stderr as "2026-11-28T01:02:03Z posternd[pid]:
 * LEVEL message", or, when stderr is the systemd journal's stream, to the
 * journal with the message's priority.  Debug messages are shown when
 * @verbose. */
void pst_log_init (const char *program, gboolean verbose);

G_END_DECLS
