/* daemon.c — see daemon.h. */
#include "daemon.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <glib-unix.h>

#include "agent.h"
#include "bridge.h"
#include "clientfd.h"
#include "events.h"
#include "fetcher.h"
#include "methods-keys.h"
#include "outgoing-stream.h"
#include "scheduler.h"
#include "sender.h"
#include "server.h"
#include "subjects.h"
#include "locate.h"
#include "util/error.h"
#include "worker.h"

/* Signals are handled in a thread of their own, through GLib's signal
 * sources (which do the async-signal-safe part), so that their handlers
 * may take locks: SIGTERM and SIGINT stop the agent, SIGHUP reloads. */
typedef struct {
  PstAgent *agent;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  gint open;        /* atomic: the agent is open, a reload may read the file again */
  GMutex hup_lock;  /* held by a reload: the bridge is not freed under it */
} Signals;

static gboolean
on_stop_signal (gpointer data)
{
  Signals *sig = data;

  g_message ("stop requested by a signal");
  pst_agent_request_stop (sig->agent);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_hangup (gpointer data)
{
  Signals *sig = data;
  g_autoptr (GError) error = NULL;

  /* Before the agent is open, there is nothing to read again. */
  g_mutex_lock (&sig->hup_lock);
  if (g_atomic_int_get (&sig->open) && !pst_agent_reload (sig->agent, &error))
    g_warning ("reload: %s; keeping the configuration as it was", error->message);
  else if (g_atomic_int_get (&sig->open) && sig->agent->bridge != NULL)
    pst_bridge_apply (sig->agent->bridge, NULL);   /* it logs what failed */
  g_mutex_unlock (&sig->hup_lock);
  return G_SOURCE_CONTINUE;
}

static void
add_signal (Signals *sig, int signum, GSourceFunc func)
{
  g_autoptr (GSource) source = g_unix_signal_source_new (signum);

  g_source_set_callback (source, func, sig, NULL);
  g_source_attach (source, sig->context);
}

static gpointer
signals_thread (gpointer data)
{
  Signals *sig = data;

  g_main_context_push_thread_default (sig->context);
  g_main_loop_run (sig->loop);
  g_main_context_pop_thread_default (sig->context);
  return NULL;
}

/* The handlers are in place from here on (a signal that comes before the
 * thread runs waits for it). */
static void
signals_start (Signals *sig, PstAgent *agent)
{
  sig->agent = agent;
  g_mutex_init (&sig->hup_lock);
  sig->context = g_main_context_new ();
  sig->loop = g_main_loop_new (sig->context, FALSE);
  add_signal (sig, SIGTERM, on_stop_signal);
  add_signal (sig, SIGINT, on_stop_signal);
  add_signal (sig, SIGHUP, on_hangup);
  /* main() blocked SIGHUP until now, so that one sent at start waits for
   * its handler instead of ending the agent; threads made from here on
   * take it (GLib's handler then wakes the signals thread). */
  {
    sigset_t hup;

    sigemptyset (&hup);
    sigaddset (&hup, SIGHUP);
    pthread_sigmask (SIG_UNBLOCK, &hup, NULL);
  }
  sig->thread = g_thread_new ("signals", signals_thread, sig);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
signals_stop (Signals *sig)
{
  /* From inside the loop: a g_main_loop_quit before the thread reached
   * g_main_loop_run would be lost, and the join would wait for ever. */
  g_autoptr (GSource) quit = g_idle_source_new ();

  g_source_set_callback (quit, quit_loop, sig->loop, NULL);
  g_source_attach (quit, sig->context);
  g_thread_join (sig->thread);
  g_main_loop_unref (sig->loop);
  g_main_context_unref (sig->context);
  g_mutex_clear (&sig->hup_lock);
}

int
pst_daemon_run (const char *home)
{
  g_autoptr (GError) error = NULL;
  PstAgent *agent = pst_agent_new (home);
  Signals sig = { 0 };
  int status = 0;

  /* Large attachments come from the worker into the agent's unnamed
   * files (worker.h), not into its memory. */
  pst_worker_set_spool (agent->worker, pst_outgoing_cipher_spool_file, agent);
  signals_start (&sig, agent);
  pst_client_fd_init (0, agent->stop);
  if (!pst_agent_open (agent, &error)
      || !(agent->server = pst_server_new (agent, &error)))
    {
      g_warning ("cannot start: %s", error->message);
      fprintf (stderr, "posternd: %s\n", error->message);
      signals_stop (&sig);
      pst_agent_free (agent);
      return pst_error_exit_code (error);
    }
  g_atomic_int_set (&sig.open, 1);
  agent->events = pst_events_new ();
  agent->subjects = pst_subjects_new ();
  agent->locator = pst_locator_new ();
  agent->senders = pst_senders_new (agent);
  agent->fetchers = pst_fetchers_new (agent);
  agent->bridge = pst_bridge_new (agent);
  /* A listener that cannot start is a warning and is kept as the
   * bridge's failure (agent status, bridge credentials); the rest of the
   * agent runs. */
  pst_bridge_apply (agent->bridge, NULL);

  g_message ("agent %s listening on %s", PACKAGE_VERSION, agent->paths->socket_path);
  pst_keys_unlock_at_start (agent);
  agent->scheduler = pst_scheduler_start (agent);
  pst_fetchers_deliver_at_start (agent->fetchers);
  pst_server_run (agent->server);
  g_message ("agent stopping");
  /* No new work from the clock, then none from clients (their requests
   * may kick senders), then the sessions in progress end. */
  pst_scheduler_stop (agent->scheduler);
  agent->scheduler = NULL;
  /* The bridge's sessions queue mail and kick senders: they end first.
   * No reload touches it from here on. */
  g_mutex_lock (&sig.hup_lock);
  g_atomic_int_set (&sig.open, 0);
  g_mutex_unlock (&sig.hup_lock);
  pst_bridge_free (agent->bridge);
  agent->bridge = NULL;
  if (!pst_server_end_clients (agent->server))
    {
      /* A client thread is stuck inside a request: freeing what it uses
       * would be worse than leaving it to the kernel. */
      g_warning ("a client request did not end; exiting without cleanup");
      pst_server_free (agent->server);
      _exit (status);
    }
  /* Each freed before its pointer is cleared: the threads a free waits for
   * (background sessions) reach their service through the agent. */
  pst_senders_free (agent->senders);
  agent->senders = NULL;
  pst_fetchers_free (agent->fetchers);
  agent->fetchers = NULL;
  pst_server_free (agent->server);
  agent->server = NULL;
  pst_events_free (agent->events);
  agent->events = NULL;
  pst_subjects_free (agent->subjects);
  agent->subjects = NULL;
  pst_locator_free (agent->locator);
  agent->locator = NULL;
  signals_stop (&sig);
  pst_client_fd_init (0, NULL);   /* the stop's descriptor goes with the agent */
  pst_agent_free (agent);
  return status;
}
