/* agent.h — the GUI's link to posternd (PstAgentLink: not the daemon's
 * PstAgent of agent/agent.h).  Every call runs on a worker thread
 * with a connection of its own, so the window never waits on the agent; a
 * watcher thread keeps one subscribed connection open, reports whether the
 * agent is running and passes its notifications on, on the main loop. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PST_TYPE_AGENT_LINK (pst_agent_link_get_type ())
G_DECLARE_FINAL_TYPE (PstAgentLink, pst_agent_link, PST, AGENT_LINK, GObject)

/* @home: the agent's home (POSTERN_HOME), or NULL for the default.  The
 * watcher starts at once.  Signals, emitted on the main context of the
 * caller of pst_agent_link_new:
 *   "running-changed" (gboolean running, const char *why) — why is the
 *       reason when not running;
 *   "notification" (const char *method, JsonObject *params) — params
 *       owned by the signal. */
PstAgentLink *pst_agent_link_new (const char *home);

/* The last state the watcher saw. */
gboolean pst_agent_link_is_running (PstAgentLink *agent);

/* Calls @method with @params (transfer full, may be NULL) and passes @fd
 * (-1: none; dup'ed, the caller keeps its own). */
void pst_agent_link_call (PstAgentLink *agent, const char *method, JsonObject *params, int fd,
                          GCancellable *cancellable, GAsyncReadyCallback callback, gpointer data);
/* The same with @n_fds descriptors (each dup'ed). */
void pst_agent_link_call_fds (PstAgentLink *agent, const char *method, JsonObject *params,
                              const int *fds, guint n_fds, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer data);
/* The result object (transfer full), or NULL with @error set (PST_ERROR,
 * its message the agent's words). */
JsonObject *pst_agent_link_call_finish (PstAgentLink *agent, GAsyncResult *result, GError **error);

/* Starts posternd as the CLI does (core/rpc/spawn.h), on a worker thread;
 * the finish says whether it answered.  The watcher notices it too. */
void pst_agent_link_start (PstAgentLink *agent, GAsyncReadyCallback callback, gpointer data);
gboolean pst_agent_link_start_finish (PstAgentLink *agent, GAsyncResult *result, GError **error);

/* JSON helpers for the widgets: a member or NULL when absent or null. */
const char *pst_json_str (JsonObject *object, const char *name);
JsonObject *pst_json_obj (JsonObject *object, const char *name);
JsonArray *pst_json_arr (JsonObject *object, const char *name);
gint64 pst_json_int (JsonObject *object, const char *name);
gboolean pst_json_bool (JsonObject *object, const char *name);

G_END_DECLS
