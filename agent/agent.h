/* agent.h — the state of one running posternd, shared by its threads. */
#pragma once

#include <gio/gio.h>

#include "config/config.h"
#include "config/paths.h"
#include "store/store.h"
#include "keycache.h"
#include "scan/scan.h"

G_BEGIN_DECLS

typedef struct {
  PstPaths *paths;
  PstStore *store;

  GMutex config_lock;        /* guards config: take it for every access */
  PstConfig *config;

  GMutex sessions_lock;      /* guards account_locks */
  GHashTable *account_locks; /* "send:NAME" / "fetch:NAME" -> GMutex*: one session at a time */

  gint connections;          /* live client connections (atomic) */
  gint stopping;             /* set once to ask the accept loop to end (atomic) */
  GSocket *listener;
  PstKeyCache *keys;         /* key lookups and S/MIME stores, shared by all threads */
  struct _PstWorker *worker; /* the analysis worker (worker.h) */
  PstScanner *scanner;       /* [general] scan, or NULL */
  gboolean scan_error_delivers;  /* on_scan_error = deliver */
} PstAgent;

/* A copy of account @name (transfer full), or NULL and PST_ERROR_FAILED
 * "no account named NAME".  With @name NULL: the only account, or an error
 * when there are none or several. */
PstAccount *pst_agent_get_account (PstAgent *agent, const char *name, GError **error);

/* The GnuPG home the agent uses (config, else NULL for $GNUPGHOME). Transfer full. */
char *pst_agent_get_gnupg_home (PstAgent *agent);

/* The lock that serialises sessions of @kind ("send" or "fetch") for
 * @account.  Owned by the agent, lives as long as it. */
GMutex *pst_agent_session_lock (PstAgent *agent, const char *kind, const char *account);

/* Asks the agent to stop after the current requests. */
void pst_agent_request_stop (PstAgent *agent);

/* Reads the configuration file again, as SIGHUP does, and puts the new
 * scanner in place (the old one is kept until the agent ends: a scan may
 * be using it).  Sessions and requests in progress hold copies of their
 * accounts and go on as they were.  A file with errors changes nothing:
 * FALSE with the error naming file, group and key. */
gboolean pst_agent_reload (PstAgent *agent, GError **error);

G_END_DECLS
