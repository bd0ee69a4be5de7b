/* worker.c — the agent's side of the analysis worker (worker.h).
 *
 * The zygote is started at the first job and again after it ended.  A
 * reader thread per zygote takes its events (which pid runs which job, and
 * how it ended) into the job table; the thread running a job talks to its
 * worker over the job's own socketpair, serves its decryptions and
 * verifications, and turns whatever went wrong into the reason the message
 * is marked analysis-failed with. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include "worker.h"
#include "worker-proto.h"
#include "worker-view.h"
#include "crypto/remote.h"
#include "crypto/wire.h"
#include "mime/reader.h"
#include "rpc/workerframe.h"
#include "util/error.h"

G_DEFINE_QUARK (pst-worker-error-quark, pst_worker_error)

typedef struct {
  guint64 id;
  guint zygote;        /* the generation that took it */
  pid_t pid;           /* 0 until started */
  gboolean ended;
  int status;          /* the wait status; -1: never ran; -2: its zygote ended */
} Job;

struct _PstWorker {
  GMutex lock;
  GCond cond;
  int ctl;             /* the zygote's control socket; -1: none runs */
  GPid zygote;         /* its pid (unreaped until its reader ends) */
  guint generation;    /* of the zygote that runs */
  GHashTable *jobs;    /* guint64* id -> Job* (not owned) */
  guint64 next_id;
  GThread *reader;     /* the last zygote's; joined before the next starts */
  char *last_end;      /* how the last zygote ended, for the jobs it had */
  gboolean own_refused; /* posternd-worker said it is another version */
  PstCipherSpoolOpen spool_open;  /* pst_worker_set_spool's */
  gpointer spool_data;
};

typedef struct {
  PstWorker *w;
  int ctl;
  guint generation;
  GPid pid;
} Reader;

void
pst_view_free (PstView *v)
{
  if (v == NULL)
    return;
  g_free (v->from);
  g_free (v->to);
  g_free (v->cc);
  g_free (v->subject);
  g_free (v->date);
  g_free (v->message_id);
  g_free (v->references);
  g_strfreev (v->reply_addresses);
  g_strfreev (v->to_cc_addresses);
  g_free (v->outer_from);
  g_free (v->outer_date);
  g_free (v->outer_subject);
  g_free (v->body_text);
  g_clear_pointer (&v->attachments, g_ptr_array_unref);
  g_clear_pointer (&v->attachment, g_bytes_unref);
  g_clear_pointer (&v->attachment_spool, pst_cipher_spool_free);
  g_free (v->attachment_name);
  g_free (v->attachment_type);
  g_free (v->attachment_error);
  g_free (v->autocrypt_from);
  g_strfreev (v->autocrypt_headers);
  g_strfreev (v->autocrypt_recipients);
  g_free (v->autocrypt_message_id);
  g_free (v);
}

PstWorker *
pst_worker_new (void)
{
  PstWorker *w = g_new0 (PstWorker, 1);

  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  w->ctl = -1;
  w->jobs = g_hash_table_new (g_int64_hash, g_int64_equal);
  return w;
}

void
pst_worker_free (PstWorker *w)
{
  if (w == NULL)
    return;
  g_mutex_lock (&w->lock);
  /* The zygote ends when its control socket closes (and its children with
   * it); killed too, so that one stuck cannot hold the agent's exit.  Not
   * reaped yet (its reader waits for it), so its pid is still its own. */
  if (w->ctl >= 0)
    {
      shutdown (w->ctl, SHUT_RDWR);
      kill (w->zygote, SIGKILL);
    }
  g_mutex_unlock (&w->lock);
  if (w->reader != NULL)
    g_thread_join (w->reader);
  g_hash_table_unref (w->jobs);
  g_free (w->last_end);
  g_cond_clear (&w->cond);
  g_mutex_clear (&w->lock);
  g_free (w);
}

void
pst_worker_set_spool (PstWorker *w, PstCipherSpoolOpen open_fn, gpointer data)
{
  w->spool_open = open_fn;
  w->spool_data = data;
}

/* Why a process with wait status @status ended, as a phrase. */
static char *
describe_end (int status, const char *who)
{
  if (WIFSIGNALED (status))
    {
      int sig = WTERMSIG (status);

      if (sig == SIGXCPU)
        return g_strdup_printf ("%s ran out of CPU time", who);
      if (sig == SIGSYS)
        return g_strdup_printf ("%s was stopped by its sandbox (a forbidden system call)", who);
      return g_strdup_printf ("%s was killed by signal %d (%s)", who, sig, strsignal (sig));
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == WORKER_EXIT_NO_SANDBOX)
    return g_strdup_printf ("%s could not enter its sandbox (see the agent's log); nothing is "
                            "analysed outside it", who);
  if (WIFEXITED (status))
    return g_strdup_printf ("%s exited with status %d", who, WEXITSTATUS (status));
  return g_strdup_printf ("%s ended", who);
}

static gpointer
reader_thread (gpointer data)
{
  Reader *r = data;
  PstWorker *w = r->w;
  WorkerEvent ev;
  ssize_t n;
  int status = 0;
  GHashTableIter it;
  gpointer value;

  while ((n = recv (r->ctl, &ev, sizeof ev, 0)) == (ssize_t) sizeof ev || (n < 0 && errno == EINTR))
    {
      Job *job;

      if (n < 0)
        continue;
      g_mutex_lock (&w->lock);
      if ((job = g_hash_table_lookup (w->jobs, &ev.id)) != NULL && job->zygote == r->generation)
        {
          if (ev.kind == WORKER_EVENT_STARTED)
            job->pid = ev.pid;
          else if (ev.kind == WORKER_EVENT_ENDED)
            {
              job->ended = TRUE;
              job->status = ev.status;
            }
          g_cond_broadcast (&w->cond);
        }
      g_mutex_unlock (&w->lock);
    }
  /* The zygote is gone (or the agent is stopping): so are its jobs. */
  while (waitpid (r->pid, &status, 0) < 0 && errno == EINTR)
    ;
  g_mutex_lock (&w->lock);
  if (WIFEXITED (status) && WEXITSTATUS (status) == WORKER_EXIT_VERSION)
    {
      g_warning ("posternd-worker is not of this agent's version %s (upgraded meanwhile?): "
                 "the agent reads mail with its own binary until it is restarted", PACKAGE_VERSION);
      w->own_refused = TRUE;
    }
  if (w->generation == r->generation)
    {
      g_free (w->last_end);
      w->last_end = describe_end (status, "the analysis worker process");
      if (w->ctl == r->ctl)
        w->ctl = -1;
    }
  g_hash_table_iter_init (&it, w->jobs);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Job *job = value;

      if (job->zygote == r->generation && !job->ended)
        {
          job->ended = TRUE;
          job->status = -2;
        }
    }
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  close (r->ctl);
  g_free (r);
  return NULL;
}

/* Whether @path may be trusted to run as the user before any sandbox: a
 * regular file, and it and its directory owned by root or the user and
 * writable by no one else (so that no one else can put another file
 * there, now or between this check and the exec). */
static gboolean
trusted_binary (const char *path)
{
  g_autofree char *real = realpath (path, NULL);
  g_autofree char *dir = real != NULL ? g_path_get_dirname (real) : NULL;
  struct stat f, d;
  uid_t me = geteuid ();

  return real != NULL && stat (real, &f) == 0 && stat (dir, &d) == 0 && S_ISREG (f.st_mode)
         && (f.st_mode & S_IXUSR) && S_ISDIR (d.st_mode)
         && (f.st_uid == 0 || f.st_uid == me) && (d.st_uid == 0 || d.st_uid == me)
         && (f.st_mode & (S_IWGRP | S_IWOTH)) == 0 && (d.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* The worker's own binary (worker-exe.c): beside the agent's (a build
 * tree, or both installed in one directory), else in libexecdir, if it is
 * trusted_binary(); NULL when neither is, or when one said it is another
 * version, and the agent's own binary runs the worker (`posternd
 * --analysis-worker`, main.c), at a higher cost per message. */
static char *
worker_binary (PstWorker *w)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self != NULL ? g_path_get_dirname (self) : NULL;
  g_autofree char *beside = dir != NULL ? g_build_filename (dir, "posternd-worker", NULL) : NULL;
  const char *installed = LIBEXECDIR "/posternd-worker";

  if (w->own_refused)
    return NULL;
  if (beside != NULL && g_file_test (beside, G_FILE_TEST_EXISTS))
    return trusted_binary (beside) ? g_steal_pointer (&beside) : NULL;
  if (g_file_test (installed, G_FILE_TEST_EXISTS) && trusted_binary (installed))
    return g_strdup (installed);
  return NULL;
}

/* Starts a zygote (under the lock). */
static gboolean
spawn (PstWorker *w, GError **error)
{
  g_autofree char *binary = worker_binary (w);
  const char *argv[] = { binary != NULL ? binary : "/proc/self/exe",
                         binary != NULL ? "posternd-worker" : "posternd", "--analysis-worker",
                         binary != NULL ? PACKAGE_VERSION : NULL, NULL };
  int sv[2], source[1], target[1] = { WORKER_CONTROL_FD };
  GPid pid;
  Reader *r;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    {
      int e = errno;
      g_set_error (error, PST_WORKER_ERROR, PST_WORKER_ERROR_UNAVAILABLE,
                   "cannot start the analysis worker: %s", g_strerror (e));
      return FALSE;
    }
  source[0] = sv[1];
  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_FILE_AND_ARGV_ZERO,
                                         NULL, NULL, -1, -1, -1, source, target, 1, &pid, NULL,
                                         NULL, NULL, error))
    {
      close (sv[0]);
      close (sv[1]);
      g_prefix_error (error, "cannot start the analysis worker: ");
      if (error != NULL && *error != NULL)
        {
          (*error)->domain = PST_WORKER_ERROR;
          (*error)->code = PST_WORKER_ERROR_UNAVAILABLE;
        }
      return FALSE;
    }
  close (sv[1]);
  /* The previous zygote's reader has ended (it set ctl to -1 last). */
  if (w->reader != NULL)
    g_thread_join (g_steal_pointer (&w->reader));
  w->ctl = sv[0];
  w->zygote = pid;
  w->generation++;
  r = g_new0 (Reader, 1);
  r->w = w;
  r->ctl = sv[0];
  r->generation = w->generation;
  r->pid = pid;
  w->reader = g_thread_new ("worker-events", reader_thread, r);
  return TRUE;
}

/* Hands the job's socket @fd to the zygote (under the lock). */
static gboolean
send_job (PstWorker *w, Job *job, int fd)
{
  WorkerJob msg = { .op = WORKER_JOB_START, .id = job->id };
  char cbuf[CMSG_SPACE (sizeof (int))] = { 0 };
  struct iovec iov = { &msg, sizeof msg };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  ssize_t n;

  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &fd, sizeof fd);
  do
    n = sendmsg (w->ctl, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t) sizeof msg;
}

/* --- Reading the worker's answer ------------------------------------------- */

static gboolean
view_string (JsonObject *o, const char *name, char **out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  const char *s;

  *out = NULL;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING
      || strlen (s = json_node_get_string (n)) > PST_WIRE_MAX_STRING
      || !g_utf8_validate (s, -1, NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view has a bad '%s'", name);
      return FALSE;
    }
  *out = g_strdup (s);
  return TRUE;
}

static gboolean
view_int (JsonObject *o, const char *name, gint64 min, gint64 max, gint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64
      || json_node_get_int (n) < min || json_node_get_int (n) > max)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view has a bad '%s'", name);
      return FALSE;
    }
  *out = json_node_get_int (n);
  return TRUE;
}

/* Member @name of @o: an array of at most @max UTF-8 strings of at most
 * @max_len bytes each, into *@out (NULL-terminated).  FALSE when it is
 * anything else. */
static gboolean
view_strv (JsonObject *o, const char *name, guint max, gsize max_len, char ***out)
{
  JsonNode *n = json_object_get_member (o, name);
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  JsonArray *a;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n) || json_array_get_length (a = json_node_get_array (n)) > max)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      const char *s;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING
          || strlen (s = json_node_get_string (e)) > max_len || !g_utf8_validate (s, -1, NULL))
        return FALSE;
      g_ptr_array_add (list, g_strdup (s));
    }
  g_ptr_array_add (list, NULL);
  *out = (char **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
  return TRUE;
}

/* A boolean member of @o, FALSE when absent; FALSE return when it is no
 * boolean. */
static gboolean
view_bool (JsonObject *o, const char *name, gboolean *out)
{
  JsonNode *n = json_object_get_member (o, name);

  *out = FALSE;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return FALSE;
  *out = json_node_get_boolean (n);
  return TRUE;
}

/* An array of addresses of the view, checked. */
static gboolean
view_addresses (JsonObject *o, const char *name, char ***out, GError **error)
{
  if (view_strv (o, name, PST_VIEW_MAX_RECIPIENTS, PST_WIRE_MAX_STRING, out))
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view has a bad '%s'", name);
  return FALSE;
}

/* The view's "autocrypt" member (worker-view.c), checked. */
static gboolean
take_autocrypt (JsonObject *o, PstView *v, GError **error)
{
  JsonNode *n = json_object_get_member (o, "autocrypt");
  JsonObject *ac;
  gint64 date = 0;

  if (n == NULL || !JSON_NODE_HOLDS_OBJECT (n))
    goto bad;
  ac = json_node_get_object (n);
  if (!view_string (ac, "from", &v->autocrypt_from, error)
      || !view_string (ac, "message_id", &v->autocrypt_message_id, error)
      || !view_int (ac, "date", 0, G_MAXINT64, &date, error))
    return FALSE;
  v->autocrypt_date = date;
  if (!view_bool (ac, "report", &v->autocrypt_report)
      || !view_bool (ac, "truncated", &v->autocrypt_truncated)
      || !view_strv (ac, "headers", PST_VIEW_MAX_AUTOCRYPT, PST_VIEW_MAX_AUTOCRYPT_VALUE,
                     &v->autocrypt_headers)
      || !view_strv (ac, "recipients", PST_VIEW_MAX_RECIPIENTS, PST_WIRE_MAX_STRING,
                     &v->autocrypt_recipients))
    goto bad;
  return TRUE;
bad:
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view has a bad 'autocrypt'");
  return FALSE;
}

/* The "result" frame to the job on @message (NULL when it was streamed:
 * then a plaintext that is the message is given as NULL): checked as what
 * a compromised worker may have written.  When *@spool is not NULL, it
 * holds the blob's last @spooled bytes, which @blob lacks (the attachment,
 * kept as it came: AttachmentTail), and the view takes it. */
static gboolean
take_result (JsonObject *reply, GBytes *blob, PstCipherSpool **spool, guint64 spooled,
             GBytes *message, GBytes **plain_out, PstStatus **status_out, PstView **view_out,
             GError **error)
{
  g_autoptr (PstView) v = g_new0 (PstView, 1);
  g_autoptr (PstStatus) status = NULL;
  JsonNode *sn = json_object_get_member (reply, "status");
  JsonNode *vn = json_object_get_member (reply, "view");
  JsonObject *o, *ao = NULL;
  JsonArray *att;
  g_autofree char *format = NULL;
  gint64 plain_len, body_len, total, att_len = 0;
  guint64 size = g_bytes_get_size (blob) + (*spool != NULL ? spooled : 0);

  if (sn == NULL || !(status = pst_status_from_wire (sn, error)))
    {
      g_prefix_error (error, "its verdict: ");
      return FALSE;
    }
  if (vn == NULL || !JSON_NODE_HOLDS_OBJECT (vn))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its answer has no view");
      return FALSE;
    }
  o = json_node_get_object (vn);
  if (!view_string (o, "from", &v->from, error) || !view_string (o, "to", &v->to, error)
      || !view_string (o, "cc", &v->cc, error) || !view_string (o, "subject", &v->subject, error)
      || !view_string (o, "date", &v->date, error)
      || !view_string (o, "message_id", &v->message_id, error)
      || !view_string (o, "references", &v->references, error)
      || !view_addresses (o, "reply_addresses", &v->reply_addresses, error)
      || !view_addresses (o, "to_cc_addresses", &v->to_cc_addresses, error)
      || !view_string (o, "outer_from", &v->outer_from, error)
      || !view_string (o, "outer_date", &v->outer_date, error)
      || !view_string (o, "outer_subject", &v->outer_subject, error)
      || !view_string (o, "body_format", &format, error)
      || !view_int (o, "plain_len", -1, (gint64) size, &plain_len, error)
      || !view_int (o, "body_len", -1, (gint64) size, &body_len, error)
      || !view_int (o, "attachments_total", 0, G_MAXUINT32, &total, error)
      || !view_string (o, "attachment_error", &v->attachment_error, error)
      || !take_autocrypt (o, v, error))
    return FALSE;
  if ((vn = json_object_get_member (o, "attachment")) != NULL)
    {
      if (!JSON_NODE_HOLDS_OBJECT (vn))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view has a bad 'attachment'");
          return FALSE;
        }
      ao = json_node_get_object (vn);
      if (!view_string (ao, "name", &v->attachment_name, error)
          || !view_string (ao, "type", &v->attachment_type, error)
          || !view_int (ao, "len", 0, (gint64) size, &att_len, error))
        return FALSE;
    }
  /* -1: the plaintext is @message, which the blob does not carry. */
  if (MAX (plain_len, 0) + MAX (body_len, 0) + att_len != (gint64) size
      || (*spool != NULL && (ao == NULL || (guint64) att_len != spooled))
      || (body_len >= 0) != (format != NULL)
      || (format != NULL && !g_str_equal (format, "text") && !g_str_equal (format, "html-as-text")))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view does not match what it sent");
      return FALSE;
    }
  v->body_format = format == NULL ? NULL : g_str_equal (format, "text") ? "text" : "html-as-text";
  v->attachments_total = (guint) total;
  if (body_len >= 0)
    {
      const char *b = (const char *) g_bytes_get_data (blob, NULL) + MAX (plain_len, 0);

      if (memchr (b, '\0', (gsize) body_len) != NULL || !g_utf8_validate_len (b, (gsize) body_len, NULL))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its body text is not UTF-8");
          return FALSE;
        }
      v->body_text = g_strndup (b, (gsize) body_len);
    }
  vn = json_object_get_member (o, "attachments");
  if (vn == NULL || !JSON_NODE_HOLDS_ARRAY (vn)
      || json_array_get_length (att = json_node_get_array (vn)) > PST_SHOW_MAX_ATTACHMENTS
      || json_array_get_length (att) > total)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view has bad attachments");
      return FALSE;
    }
  v->attachments = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (att); i++)
    {
      JsonNode *e = json_array_get_element (att, i);
      const char *s;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING
          || strlen (s = json_node_get_string (e)) > PST_WIRE_MAX_STRING
          || !g_utf8_validate (s, -1, NULL))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its view has bad attachments");
          return FALSE;
        }
      g_ptr_array_add (v->attachments, g_strdup (s));
    }
  if (*spool != NULL)
    v->attachment_spool = g_steal_pointer (spool);
  else if (ao != NULL)
    v->attachment = g_bytes_new_from_bytes (blob, (gsize) (MAX (plain_len, 0) + MAX (body_len, 0)),
                                            (gsize) att_len);
  v->attachment_len = (guint64) att_len;
  *plain_out = plain_len >= 0 ? g_bytes_new_from_bytes (blob, 0, (gsize) plain_len)
               : message != NULL ? g_bytes_ref (message) : NULL;
  *status_out = g_steal_pointer (&status);
  if (view_out != NULL)
    *view_out = g_steal_pointer (&v);
  return TRUE;
}

/* The time the worker of one job may take, all its answers together (the
 * agent's own decryptions and verifications do not count): a job that
 * trickles requests or stops reading cannot hold its thread, its share of
 * the decryption budget or its memory for longer. */
typedef struct {
  gint64 left;      /* µs */
  gint64 since;
} Clock;

static gint64
clock_start (Clock *c)
{
  c->since = g_get_monotonic_time ();
  return c->since + MAX (c->left, 1);
}

static void
clock_stop (Clock *c)
{
  c->left -= g_get_monotonic_time () - c->since;
}

/* PST_WORKER_ANSWER_SECONDS, or POSTERN_WORKER_ANSWER_SECONDS (tests). */
static gint64
answer_seconds (void)
{
  const char *env = g_getenv ("POSTERN_WORKER_ANSWER_SECONDS");
  guint64 s = env != NULL ? g_ascii_strtoull (env, NULL, 10) : 0;

  return s > 0 && s <= 3600 ? (gint64) s : PST_WORKER_ANSWER_SECONDS;
}

/* The largest frame the worker may send now: a request carries part of the
 * message or of what was decrypted from it; a result the plaintext (at
 * most both), its body text and an attachment (each at most that again). */
static guint64
frame_limit (guint64 message_size, const PstCryptoServer *server)
{
  guint64 base = message_size + server->produced + 64 * 1024;

  return MIN (3 * base, 2 * (guint64) PST_CRYPTO_REMOTE_MAX_BLOB);
}

/* The errors a worker may report for a message it could not read: what
 * pst_message_open fails with.  Anything else it says becomes "failed":
 * a worker does not choose the client's exit code (infected, agent…). */
static GError *
error_of_worker (JsonObject *req)
{
  JsonNode *e = json_object_get_member (req, "error");
  GError *why = e != NULL ? pst_error_from_wire (e) : NULL;

  if (why == NULL)
    return g_error_new (PST_ERROR, PST_ERROR_FAILED, "the message cannot be read");
  if (why->domain != PST_ERROR
      || (why->code != PST_ERROR_FAILED && why->code != PST_ERROR_CRYPTO
          && why->code != PST_ERROR_POLICY))
    {
      why->domain = PST_ERROR;
      why->code = PST_ERROR_FAILED;
    }
  return why;
}

/* What a job reads: a message in memory, or the @size bytes of @in, which
 * @reopen reads again for a request that names bytes of it. */
typedef struct {
  GBytes *bytes;
  GInputStream *in;
  guint64 size;
  PstWorkerReopen reopen;
  gpointer reopen_data;
} JobMessage;

/* A plaintext that is the message itself ("plain_len": -1) comes of a
 * reading that decrypted nothing: claimed with a decryption, it would have
 * the agent scan and hand out the ciphertext as what was decrypted. */
static gboolean
plain_is_message_checked (const JobMessage *message, GBytes *plain, const PstStatus *status,
                          GError **error)
{
  gboolean is_message = message->bytes != NULL ? plain == message->bytes : plain == NULL;

  if (is_message && status->decryption == PST_DECRYPTION_OK)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "it says the plaintext is the message, which it says it decrypted");
      return FALSE;
    }
  return TRUE;
}

/* A "result" frame's attachment of PST_WORKER_ATTACHMENT_SPOOL bytes or
 * more, the end of its blob, kept as it arrives in a spool of the agent's
 * (encrypted there under a key held only here: cipherspool.h), so that the
 * agent never holds it whole; held as before where no spool has the room. */
typedef struct {
  PstCipherSpoolOpen open_fn;
  gpointer open_data;
  PstCipherSpool *spool;  /* the frame's, or NULL */
  guint64 len;            /* what it takes */
} AttachmentTail;

static void
attachment_tail_clear (AttachmentTail *t)
{
  g_clear_pointer (&t->spool, pst_cipher_spool_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AttachmentTail, attachment_tail_clear)

/* A spool of the agent's with room for the whole attachment (and the
 * margin the spool keeps), or -1. */
static int
attachment_spool_file (gpointer data, guint64 *max_out, guint64 *keep_free_out)
{
  AttachmentTail *t = data;
  int fd = t->open_fn (t->open_data, max_out, keep_free_out);

  if (fd >= 0 && *max_out < t->len + PST_CIPHER_SPOOL_ROOM_CHECK)
    {
      close (fd);
      return -1;
    }
  return fd;
}

static guint64
attachment_split (JsonObject *obj, guint64 blob_len, gpointer data)
{
  AttachmentTail *t = data;
  JsonNode *vn, *an;
  gint64 len;

  g_clear_pointer (&t->spool, pst_cipher_spool_free);
  t->len = 0;
  /* Anything malformed is held, for take_result to refuse. */
  if (!g_str_equal (pst_crypto_request_op (obj), "result")
      || !(vn = json_object_get_member (obj, "view")) || !JSON_NODE_HOLDS_OBJECT (vn)
      || !(an = json_object_get_member (json_node_get_object (vn), "attachment"))
      || !JSON_NODE_HOLDS_OBJECT (an)
      || !view_int (json_node_get_object (an), "len", PST_WORKER_ATTACHMENT_SPOOL, (gint64) blob_len,
                    &len, NULL))
    return blob_len;
  t->len = (guint64) len;
  if (!(t->spool = pst_cipher_spool_open (attachment_spool_file, t)))
    {
      t->len = 0;
      return blob_len;
    }
  return blob_len - t->len;
}

static void
attachment_tail (const guint8 *bytes, gsize len, gpointer data)
{
  AttachmentTail *t = data;

  if (t->spool != NULL)
    pst_cipher_spool_write (t->spool, bytes, len);
}

/* Talks to the worker of one job until it answers.  FALSE with @error:
 * PST_WORKER_ERROR when the worker failed (@error says how, and the caller
 * adds how it ended), anything else when the analysis itself failed. */
static gboolean
exchange (PstWorker *w, int fd, PstPgp *pgp, PstSmime *smime, const JobMessage *message,
          int attachment, GBytes **plain_out, PstStatus **status_out, PstView **view_out,
          gboolean *timed_out, gboolean *misbehaved, gboolean *unread, GError **error)
{
  g_autoptr (JsonObject) open = json_object_new ();
  g_autoptr (GError) local = NULL;
  PstCryptoServer server = {
    .pgp = pgp, .smime = smime,
    .budget = MAX (PST_DECRYPTION_MAX_OUTPUT, message->size),
    .message = message->bytes, .message_size = message->size,
    .reopen = message->reopen, .reopen_data = message->reopen_data,
  };
  Clock clock = { .left = answer_seconds () * G_USEC_PER_SEC };
  g_auto (AttachmentTail) tail = { .open_fn = w->spool_open, .open_data = w->spool_data };
  gboolean ok;

  json_object_set_string_member (open, "op", "open");
  json_object_set_boolean_member (open, "smime", smime != NULL);
  json_object_set_int_member (open, "attachment", attachment);
  if (message->bytes != NULL)
    ok = pst_worker_frame_write_until (fd, open, message->bytes, clock_start (&clock), &local);
  else
    {
      gint64 reading = 0;

      ok = pst_worker_frame_write_stream_until (fd, open, message->in, message->size,
                                                clock_start (&clock), &reading, &local);
      /* Reading the store is not the worker's time. */
      clock.left += reading;
      /* The store (or a message whose size is not its stored size), not
       * the worker: the job ends, not as the worker's fault. */
      if (!ok && local->domain != G_IO_ERROR)
        {
          clock_stop (&clock);
          *unread = TRUE;
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  clock_stop (&clock);
  while (ok)
    {
      g_autoptr (JsonObject) req = NULL, reply = NULL;
      g_autoptr (GBytes) blob = NULL, out = NULL;
      const char *op;
      gint64 keeping = 0;

      ok = pst_worker_frame_read_split (fd, frame_limit (message->size, &server), clock_start (&clock),
                                        attachment >= 0 && tail.open_fn != NULL ? attachment_split : NULL,
                                        attachment_tail, &tail, &keeping, &req, &blob, &local);
      clock_stop (&clock);
      /* Keeping an attachment is not the worker's time. */
      clock.left += keeping;
      if (!ok)
        {
          /* A frame it must not send, rather than an end or silence. */
          *misbehaved = local->domain == PST_ERROR;
          break;
        }
      op = pst_crypto_request_op (req);
      if (g_str_equal (op, "result"))
        {
          g_autoptr (GBytes) plain = NULL;
          g_autoptr (PstStatus) status = NULL;
          g_autoptr (PstView) view = NULL;

          if (tail.spool != NULL && (!pst_cipher_spool_ok (tail.spool)
                                     || pst_cipher_spool_size (tail.spool) != tail.len))
            {
              /* The agent's disk, not the worker. */
              pst_crypto_server_clear (&server);
              g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED,
                                   "the attachment could not be kept in the agent's data directory "
                                   "(its disk is full, or a write failed)");
              return FALSE;
            }
          /* Nothing of a result that fails its checks is given out. */
          ok = take_result (req, blob, &tail.spool, tail.len, message->bytes, &plain, &status, &view,
                            &local)
               && pst_crypto_serve_check (&server, status, view->from, &local)
               && plain_is_message_checked (message, plain, status, &local);
          if (!ok)
            {
              *misbehaved = TRUE;
              break;
            }
          pst_crypto_server_clear (&server);
          *plain_out = g_steal_pointer (&plain);
          *status_out = g_steal_pointer (&status);
          if (view_out != NULL)
            *view_out = g_steal_pointer (&view);
          return TRUE;
        }
      if (g_str_equal (op, "failed"))
        {
          pst_crypto_server_clear (&server);
          g_propagate_error (error, error_of_worker (req));
          return FALSE;
        }
      if (!pst_crypto_serve_handles (op))
        {
          g_set_error (&local, PST_ERROR, PST_ERROR_FAILED, "it sent '%s', which is no request", op);
          *misbehaved = TRUE;
          ok = FALSE;
          break;
        }
      ok = pst_crypto_serve (&server, req, blob, &reply, &out, &local);
      if (!ok && server.unread)
        {
          /* The message could not be read again: as a cut frame above. */
          *unread = TRUE;
          pst_crypto_server_clear (&server);
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      *misbehaved = !ok;
      if (ok)
        {
          ok = pst_worker_frame_write_until (fd, reply, out, clock_start (&clock), &local);
          clock_stop (&clock);
        }
    }
  *timed_out = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  pst_crypto_server_clear (&server);
  g_set_error (error, PST_WORKER_ERROR, PST_WORKER_ERROR_FAILED, "%s", local ? local->message : "");
  return FALSE;
}

#ifdef PST_WORKER_TEST_HOOKS
/* The same reading in the agent's own process, without the worker, for
 * tests/bench/bench-worker.sh's comparison (POSTERN_ANALYSIS_IN_PROCESS=1
 * in a -Dtest_hooks=true build only: never in a build for users). */
static gboolean
open_in_process (PstPgp *pgp, PstSmime *smime, GBytes *message, int attachment,
                 GBytes **plain_out, PstStatus **status_out, PstView **view_out, GError **error)
{
  g_autoptr (GBytes) plain = NULL, blob = NULL, content = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (JsonObject) reply = json_object_new ();
  g_autofree char *body = NULL;
  PstCipherSpool *none = NULL;   /* held whole here */
  JsonObject *view;

  if (!pst_message_open (pgp, smime, message, &plain, &status, error))
    return FALSE;
  view = pst_worker_make_view (message, plain, status, attachment, &body, &content);
  json_object_set_member (reply, "status", pst_status_to_wire (status));
  json_object_set_object_member (reply, "view", view);
  blob = pst_worker_result_blob (pst_worker_plain_is_message (message, plain, status) ? NULL : plain,
                                 body, content);
  return take_result (reply, blob, &none, 0, message, plain_out, status_out, view_out, error);
}
#endif

/* Asks the zygote to end @job's child (under the lock). */
static void
kill_job (PstWorker *w, Job *job)
{
  WorkerJob msg = { .op = WORKER_JOB_KILL, .id = job->id };

  if (w->ctl >= 0 && job->zygote == w->generation && !job->ended)
    (void) send (w->ctl, &msg, sizeof msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Registers @job and hands its socket @fd to a zygote, started when none
 * runs; once more with a new zygote when the one there just ended. */
static gboolean
start_job (PstWorker *w, Job *job, int fd, GError **error)
{
  for (int attempt = 0; attempt < 2; attempt++)
    {
      gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC;
      gboolean sent;

      g_mutex_lock (&w->lock);
      if (w->ctl < 0 && !spawn (w, error))
        {
          g_mutex_unlock (&w->lock);
          return FALSE;
        }
      job->zygote = w->generation;
      job->pid = 0;
      job->ended = FALSE;
      if (job->id == 0)
        {
          job->id = ++w->next_id;
          g_hash_table_insert (w->jobs, &job->id, job);
        }
      sent = send_job (w, job, fd);
      /* A zygote that died: its reader notices the closed socket soon. */
      while (!sent && w->ctl >= 0 && w->generation == job->zygote)
        if (!g_cond_wait_until (&w->cond, &w->lock, until))
          break;
      g_mutex_unlock (&w->lock);
      if (sent)
        return TRUE;
    }
  g_set_error (error, PST_WORKER_ERROR, PST_WORKER_ERROR_FAILED,
               "the analysis worker process is not running (%s)",
               w->last_end ? w->last_end : "it could not be reached");
  return FALSE;
}

static gboolean
open_job (PstWorker *w, PstPgp *pgp, PstSmime *smime, const JobMessage *message, int attachment,
          GBytes **plain_out, PstStatus **status_out, PstView **view_out, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *how = NULL;
  gboolean ok, timed_out = FALSE, misbehaved = FALSE, unread = FALSE, sent;
  int sv[2];
  Job job = { 0 };

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
      int e = errno;
      g_set_error (error, PST_WORKER_ERROR, PST_WORKER_ERROR_UNAVAILABLE,
                   "cannot start an analysis: %s", g_strerror (e));
      return FALSE;
    }
  sent = start_job (w, &job, sv[1], &local);
  close (sv[1]);
  if (!sent && job.id == 0)
    {
      /* No zygote could be started: nothing registered. */
      close (sv[0]);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }

  ok = sent && exchange (w, sv[0], pgp, smime, message, attachment, plain_out, status_out, view_out,
                         &timed_out, &misbehaved, &unread, &local);
  if (unread)
    {
      /* Its frame was cut, or whole with more behind it: it ends now
       * rather than read a message that is no longer wanted. */
      g_mutex_lock (&w->lock);
      kill_job (w, &job);
      g_mutex_unlock (&w->lock);
    }
  if (!ok && (local == NULL || local->domain == PST_WORKER_ERROR))
    {
      /* The worker failed: end it if it still runs, and say how it ended. */
      gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      g_mutex_lock (&w->lock);
      kill_job (w, &job);
      while (!job.ended && w->ctl >= 0 && job.zygote == w->generation)
        if (!g_cond_wait_until (&w->cond, &w->lock, until))
          break;
      /* What it did wrong, rather than how it ended (killed, here). */
      if (misbehaved)
        how = g_strdup_printf ("the analysis worker failed: %s", local->message);
      else if (timed_out)
        how = g_strdup_printf ("the analysis worker gave no answer within %" G_GINT64_FORMAT " s",
                               answer_seconds ());
      else if (!sent)
        how = g_strdup (local->message);
      else if (job.ended && job.status == -2)
        how = g_strdup_printf ("the analysis worker process is not running (%s)",
                               w->last_end ? w->last_end : "it could not be reached");
      else if (job.ended && job.status >= 0
               && !(WIFEXITED (job.status) && WEXITSTATUS (job.status) == 0))
        how = describe_end (job.status, "the analysis worker");
      else
        how = g_strdup_printf ("the analysis worker failed: %s",
                               local && local->message[0] ? local->message : "it closed its connection");
      g_mutex_unlock (&w->lock);
      g_clear_error (&local);
      g_set_error (&local, PST_WORKER_ERROR, PST_WORKER_ERROR_FAILED, "%s", how);
      g_warning ("analysis failed: %s", how);
    }
  g_mutex_lock (&w->lock);
  g_hash_table_remove (w->jobs, &job.id);
  g_mutex_unlock (&w->lock);
  close (sv[0]);
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local));
  return ok;
}

gboolean
pst_worker_open (PstWorker *w, PstPgp *pgp, PstSmime *smime, GBytes *message, int attachment,
                 GBytes **plain_out, PstStatus **status_out, PstView **view_out, GError **error)
{
  JobMessage m = { .bytes = message, .size = g_bytes_get_size (message) };

#ifdef PST_WORKER_TEST_HOOKS
  if (g_strcmp0 (g_getenv ("POSTERN_ANALYSIS_IN_PROCESS"), "1") == 0)
    return open_in_process (pgp, smime, message, attachment, plain_out, status_out, view_out,
                            error);
#endif
  return open_job (w, pgp, smime, &m, attachment, plain_out, status_out, view_out, error);
}

gboolean
pst_worker_open_stream (PstWorker *w, PstPgp *pgp, PstSmime *smime, GInputStream *in, guint64 size,
                        PstWorkerReopen reopen, gpointer reopen_data, int attachment,
                        GBytes **plain_out, PstStatus **status_out, PstView **view_out,
                        GError **error)
{
  JobMessage m = { .in = in, .size = size, .reopen = reopen, .reopen_data = reopen_data };

#ifdef PST_WORKER_TEST_HOOKS
  if (g_strcmp0 (g_getenv ("POSTERN_ANALYSIS_IN_PROCESS"), "1") == 0)
    {
      /* Read whole here: the comparison is of the analysis, not of this. */
      g_autoptr (GOutputStream) mem = g_memory_output_stream_new_resizable ();
      g_autoptr (GBytes) message = NULL;

      if (g_output_stream_splice (mem, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
        return FALSE;
      message = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
      if (!open_in_process (pgp, smime, message, attachment, plain_out, status_out, view_out,
                               error))
        return FALSE;
      if (*plain_out == message)
        g_clear_pointer (plain_out, g_bytes_unref);
      return TRUE;
    }
#endif
  return open_job (w, pgp, smime, &m, attachment, plain_out, status_out, view_out, error);
}
