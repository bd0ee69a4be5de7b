/* worker-private.h — what the agent and its analysis worker process share
 * (worker.c and worker-main.c). */
#pragma once

#include <json-glib/json-glib.h>

#include "crypto/status.h"

/* The control socket's descriptor in the worker. */
#define WORKER_CONTROL_FD 3
/* The zygote's exit status when the sandbox could not be entered. */
#define WORKER_EXIT_NO_SANDBOX 70

/* At most this many attachments, and this many bytes of their names and
 * types, are listed for show (the answer is one line of at most
 * PST_RPC_MAX_LINE: a message of 100,000 parts made it too long). */
#define PST_SHOW_MAX_ATTACHMENTS 1000
#define PST_SHOW_MAX_ATTACHMENT_BYTES (256u * 1024)

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

/* What show displays of @plain (the message as read from @message with
 * verdict @status), as the "view" member of a result; @body_out gets the
 * body text that goes in the blob after the plaintext (or NULL).  Parses
 * hostile mail: the worker's to call.  Transfer full. */
JsonObject *pst_worker_make_view (GBytes *message, GBytes *plain, const PstStatus *status,
                                  int attachment, char **body_out, GBytes **attachment_out);
/* A result's blob: @plain, then @body and @attachment (may be NULL).
 * Transfer full. */
GBytes *pst_worker_result_blob (GBytes *plain, const char *body, GBytes *attachment);

/* The largest attachment the attachment method writes. */
#define PST_WORKER_MAX_ATTACHMENT (256u * 1024 * 1024)
