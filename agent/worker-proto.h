/* worker-proto.h — the control protocol between the agent and its
 * analysis worker process (worker.c and worker-main.c).  Declarations
 * only. */
#pragma once

#include <glib.h>

/* The control socket's descriptor in the worker. */
#define WORKER_CONTROL_FD 3
/* The zygote's exit status when the sandbox could not be entered. */
#define WORKER_EXIT_NO_SANDBOX 70
/* posternd-worker's exit status when it is not the agent's version (an
 * upgrade installed a new one beside an agent still running): the agent
 * runs its own binary as the worker from then on. */
#define WORKER_EXIT_VERSION 71

enum { WORKER_JOB_START = 1, WORKER_JOB_KILL = 2 };

/* START comes with the job's socket; KILL ends a job's child (the zygote
 * does it: it holds the child until it reaps it, so the pid cannot have
 * been reused). */
typedef struct {
  guint32 op;
  guint32 pad;
  guint64 id;
} WorkerJob;

enum { WORKER_EVENT_STARTED = 1, WORKER_EVENT_ENDED = 2 };

typedef struct {
  guint32 kind;
  gint32 pid;
  guint64 id;
  gint32 status;   /* ENDED: the wait status; -1 when no child could be made */
  gint32 pad;
} WorkerEvent;
