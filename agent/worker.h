/* worker.h — the analysis of untrusted mail, in a sandboxed process.
 *
 * Parsing hostile mail is the riskiest thing the agent does, and the agent
 * holds the store, the socket and the S/MIME keys.  So the reading of a
 * message (MIME structure, every layer the crypto opens, protected headers,
 * the verdict, and what show displays: header values, the body as text,
 * HTML turned into text, the list of attachments) runs in a worker process
 * (worker-main.c) that can do nothing else: no network, no file it can
 * write or create, no files outside /usr and /etc to read, limits on CPU
 * time and memory (util/sandbox.h).  It has no keys: what it needs
 * decrypted or verified it asks of the agent over its socketpair
 * (crypto/remote.h).
 *
 * One process per message.  A zygote, started once (`posternd
 * --analysis-worker`, sandboxed before it reads anything), forks a child
 * for each job, so that a job costs a fork, not an exec, and no message
 * is ever read by a process that read another one.
 *
 * A worker that dies, overruns its CPU time, stays silent past the
 * deadline or breaks the protocol ends its job with an error in
 * PST_WORKER_ERROR: the message is marked analysis-failed with the reason,
 * kept as it is, and analysed again when it is next opened. */
#pragma once

#include <glib.h>

#include "crypto/cipherspool.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "crypto/status.h"

G_BEGIN_DECLS

#define PST_WORKER_ERROR (pst_worker_error_quark ())
GQuark pst_worker_error_quark (void);
typedef enum {
  PST_WORKER_ERROR_FAILED = 1,   /* the worker died, overran or misbehaved */
  PST_WORKER_ERROR_UNAVAILABLE,  /* no worker could be started (sandbox refused…) */
} PstWorkerError;

/* Seconds of CPU time one job may use, and seconds the agent waits for its
 * answers, all of them together (POSTERN_WORKER_CPU_SECONDS and
 * POSTERN_WORKER_ANSWER_SECONDS replace them, for tests). */
#define PST_WORKER_CPU_SECONDS 30
#define PST_WORKER_ANSWER_SECONDS 120

/* What show displays of a message, as the worker read it: the header
 * values of the message shown and of the one that arrived (outer_*: they
 * differ when headers were protected inside the encryption), the body as
 * text (NULL when there is none or the content is withheld), and the
 * attachments ("name\ttype", at most PST_SHOW_MAX_ATTACHMENTS of
 * worker-view.h). */
typedef struct {
  char *from, *to, *cc, *subject, *date, *message_id, *references;
  char **reply_addresses;       /* Reply-To's addr-specs, else From's (never NULL) */
  char **to_cc_addresses;       /* To's and Cc's addr-specs (never NULL) */
  char *outer_from, *outer_date, *outer_subject;
  char *body_text;
  const char *body_format;      /* "text", "html-as-text", or NULL */
  GPtrArray *attachments;       /* of char* */
  guint attachments_total;
  /* The attachment asked for (pst_worker_open's @attachment): its decoded
   * content, name and type; or why there is none (no such index).  The
   * content is held (@attachment), or, from PST_WORKER_ATTACHMENT_SPOOL
   * bytes on where the agent's spool has the room, kept encrypted in the
   * spool (@attachment_spool, which pst_cipher_spool_replay writes out);
   * @attachment_len is its size either way. */
  GBytes *attachment;
  PstCipherSpool *attachment_spool;
  guint64 attachment_len;
  char *attachment_name, *attachment_type, *attachment_error;
  /* What Autocrypt needs of the outer header (agent/peers.c): the single
   * From address (NULL: none or several), the Date (0: none), a delivery
   * report, and the Autocrypt field values (NULL-terminated, never NULL). */
  char *autocrypt_from;
  gint64 autocrypt_date;
  gboolean autocrypt_report;
  char **autocrypt_headers;
  gboolean autocrypt_truncated; /* more (or longer) Autocrypt fields than those */
  char **autocrypt_recipients;  /* the To and Cc addresses (NULL-terminated, never NULL) */
  char *autocrypt_message_id;   /* the outer Message-ID, or NULL */
} PstView;

void pst_view_free (PstView *view);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstView, pst_view_free)

typedef struct _PstWorker PstWorker;

/* The agent's handle on its workers; the zygote starts at the first job. */
PstWorker *pst_worker_new (void);
void pst_worker_free (PstWorker *worker);

/* An attachment of at least this many bytes is not held as it comes from
 * the worker, but kept in a spool (PstView). */
#define PST_WORKER_ATTACHMENT_SPOOL (G_GUINT64_CONSTANT (1) << 20)

/* Where the worker's attachments are kept (pst_cipher_spool_open's
 * @open_fn and @data, the agent's unnamed files): set before the first
 * job; without it they are held. */
void pst_worker_set_spool (PstWorker *worker, PstCipherSpoolOpen open_fn, gpointer data);

/* Reads @message as pst_message_open would (@plain_out, @status_out), and
 * what show displays of it (@view_out, may be NULL), and the attachment
 * numbered @attachment (from 0; -1 for none) when the content is not
 * withheld (pst_status_withholds_content), in a worker; its
 * decryptions and verifications done here with @pgp and @smime (may be
 * NULL).  Errors: those of pst_message_open (a message that is no message;
 * the agent busy, util/sink.h), and PST_WORKER_ERROR when the worker
 * failed, whose message is the reason ("the analysis worker was killed by
 * signal 11 (Segmentation fault)").  Transfer full. */
gboolean pst_worker_open (PstWorker *worker, PstPgp *pgp, PstSmime *smime, GBytes *message,
                          int attachment, GBytes **plain_out, PstStatus **status_out,
                          PstView **view_out, GError **error);
/* Reads the message a job read from its start again, for a request of the
 * worker that names bytes of it: a stream that fails when the message
 * changed since the job's own stream was opened.  Transfer full. */
typedef GInputStream *(*PstWorkerReopen) (gpointer data, GError **error);

/* The same for the @size bytes of the message @in holds (a stored one),
 * sent to the worker as they are read: the agent never holds it whole.
 * @reopen (with @reopen_data) reads it again when the worker names a part
 * of it to decrypt or verify.  *@plain_out is NULL when the plaintext is
 * that message itself (nothing was decrypted or rebuilt): the caller reads
 * it again where it is.  A stream that gives fewer or more bytes is an
 * error (PST_ERROR_FAILED). */
gboolean pst_worker_open_stream (PstWorker *worker, PstPgp *pgp, PstSmime *smime, GInputStream *in,
                                 guint64 size, PstWorkerReopen reopen, gpointer reopen_data,
                                 int attachment, GBytes **plain_out, PstStatus **status_out,
                                 PstView **view_out, GError **error);

/* The worker process: `posternd --analysis-worker`, with the control
 * socket as descriptor 3.  Never returns. */
G_NORETURN void pst_worker_main (void);

G_END_DECLS
