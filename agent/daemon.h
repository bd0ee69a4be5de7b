/* daemon.h — posternd's life: makes the agent and its services, serves
 * until asked to stop, and ends them in order.  The one file of agent/ that
 * knows every service; nothing calls back into it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs the agent for @home (NULL: the XDG directories) until SIGTERM,
 * SIGINT or agent.stop; SIGHUP reads the configuration again.  Returns the
 * process's exit status (util/error.h's codes when it cannot start). */
int pst_daemon_run (const char *home);

G_END_DECLS
