/* spawn.h — starting the agent on demand, for the CLI and the GUI (as gpg
 * starts gpg-agent). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The posternd to start: POSTERN_AGENT, else next to the running program
 * (or in the build tree), else BINDIR, else $PATH.  NULL when none is
 * found.  Transfer full. */
char *pst_agent_find_binary (void);

/* Starts posternd (with --home @home when not NULL) in a session of its
 * own, its output appended to @log_path, and waits up to 5 s until it
 * answers at @socket_path.  The directories must exist.  Blocks: call it
 * from a worker thread in a GUI.  Errors: PST_ERROR_AGENT, with the last
 * line of the log when the agent died.  @pid_out (may be NULL): the
 * agent's pid, a child of the caller still to be reaped. */
/* The size past which the log is rotated when the agent is started. */
#define PST_LOG_ROTATE_BYTES (8 * 1024 * 1024)

gboolean pst_agent_spawn (const char *home, const char *socket_path, const char *log_path,
                          GPid *pid_out, GError **error);

G_END_DECLS
