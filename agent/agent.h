/* agent.h — one running posternd: what its threads share, and the
 * services it owns (docs/architecture.md, "The agent").
 *
 * The agent is the lowest floor of agent/: every service may call it, it
 * calls none of them (they are made and ended by daemon.c).  What never
 * changes after start (paths, store, keys, worker) is read directly; what
 * a reload swaps (config, scanner) only under config_lock or through the
 * accessors below. */
#pragma once

#include <gio/gio.h>

#include "config/config.h"
#include "config/paths.h"
#include "store/store.h"
#include "keycache.h"
#include "scan/scan.h"

G_BEGIN_DECLS

/* The services, each defined by its own file. */
typedef struct _PstServer PstServer;         /* server.h: the socket and its clients */
typedef struct _PstScheduler PstScheduler;   /* scheduler.h: the clock */
typedef struct _PstSenders PstSenders;       /* sender.h: outbox submission, per account */
typedef struct _PstFetchers PstFetchers;     /* fetcher.h: POP3 sessions, per account */
typedef struct _PstEvents PstEvents;         /* events.h: notifications to subscribers */
typedef struct _PstSubjects PstSubjects;     /* subjects.h: decrypted Subjects, in memory */
typedef struct _PstLocator PstLocator;       /* locate.h: Web Key Directory misses, in memory */
typedef struct _PstBridge PstBridge;         /* bridge.h: the local bridge's listeners */

typedef struct {
  PstPaths *paths;
  PstStore *store;
  PstKeyCache *keys;         /* key lookups and S/MIME stores, shared by all threads */
  struct _PstWorker *worker; /* the analysis worker (worker.h) */

  GMutex config_lock;        /* guards config, scanner and scan_error_delivers */
  PstConfig *config;
  PstScanner *scanner;       /* [general] scan, or NULL: use pst_agent_get_scanner */
  gboolean scan_error_delivers;  /* on_scan_error = deliver */
  GPtrArray *retired_scanners;   /* replaced by a reload, freed at the end */

  GMutex sessions_lock;      /* guards account_locks */
  GHashTable *account_locks; /* "send:NAME" / "fetch:NAME" -> GMutex*: one session at a time */

  GCancellable *stop;        /* cancelled once, when the agent is to stop */

  GMutex peers_lock;         /* one message's Autocrypt learning at a time (reader.c, peers.c):
                              * read the peer, decide, import the key, write the peer */
  GMutex backoff_lock;       /* guards mda_backoff */
  GHashTable *mda_backoff;   /* gint64* message id -> when to try its MDA again (deliver.c) */

  GMutex changed_lock;       /* "something changed": a message queued, a session ended, */
  GCond changed_cond;        /* a reload; the scheduler waits for it */
  guint64 changes;

  /* The services (set by daemon.c, which makes and ends them). */
  PstServer *server;
  PstScheduler *scheduler;
  PstSenders *senders;
  PstFetchers *fetchers;
  PstEvents *events;
  PstSubjects *subjects;
  PstLocator *locator;
  PstBridge *bridge;
} PstAgent;

/* An agent for @home (NULL: the XDG directories), with nothing opened yet:
 * no service, no file.  Free with pst_agent_free after its services. */
PstAgent *pst_agent_new (const char *home);
/* Makes the directories, reads the configuration, opens the store and
 * makes the scanner.  Errors name the file (and group and key). */
gboolean pst_agent_open (PstAgent *agent, GError **error);
void pst_agent_free (PstAgent *agent);

/* A copy of account @name (transfer full), or NULL and PST_ERROR_FAILED
 * "no account named NAME".  With @name NULL: the only account, or an error
 * when there are none or several. */
PstAccount *pst_agent_get_account (PstAgent *agent, const char *name, GError **error);

/* The GnuPG home the agent uses (config, else NULL for $GNUPGHOME). Transfer full. */
char *pst_agent_get_gnupg_home (PstAgent *agent);

/* The scanner of [general] scan, or NULL; @delivers_out (may be NULL):
 * whether on_scan_error = deliver.  The scanner stays valid until the agent
 * is freed, a reload that replaces it included. */
PstScanner *pst_agent_get_scanner (PstAgent *agent, gboolean *delivers_out);

/* The lock that serialises sessions of @kind ("send", "fetch", "bridge-pop3") for
 * @account.  Owned by the agent, lives as long as it. */
GMutex *pst_agent_session_lock (PstAgent *agent, const char *kind, const char *account);

/* Asks the agent to stop after the current requests: cancels agent->stop,
 * which the server and every wait on a client's descriptor watch. */
void pst_agent_request_stop (PstAgent *agent);
gboolean pst_agent_is_stopping (PstAgent *agent);

/* Something changed that the scheduler should look at again. */
void pst_agent_changed (PstAgent *agent);
/* How many changes there have been so far. */
guint64 pst_agent_changes (PstAgent *agent);
/* Waits until there have been more than @seen changes (a value of
 * pst_agent_changes), monotonic time @until (µs) or the stop, whichever
 * comes first. */
void pst_agent_wait_changed (PstAgent *agent, guint64 seen, gint64 until);

/* Reads the configuration file again, as SIGHUP does, and puts the new
 * scanner in place (the old one is kept until the agent ends: a scan may
 * be using it).  Sessions and requests in progress hold copies of their
 * accounts and go on as they were.  A file with errors changes nothing:
 * FALSE with the error naming file, group and key. */
gboolean pst_agent_reload (PstAgent *agent, GError **error);

G_END_DECLS
