/* worker-main.c — the analysis worker process (worker.h says what it is for).
 *
 * `posternd-worker --analysis-worker VERSION` (worker-exe.c; or the agent's
 * own binary as `posternd --analysis-worker`) starts as the zygote: it
 * closes every descriptor but its control socket (3) and stderr, confines
 * itself for good (util/sandbox.h), and then only waits: for each job the
 * agent sends a job id and one end of a socketpair; the zygote hands it to
 * a child it forked ahead of time, which reads that one message and exits,
 * and tells the agent the child's pid, then its end (how it exited, or
 * which signal killed it).  The zygote itself never reads mail.
 * Single-threaded throughout, so fork is safe.
 *
 * Control messages (SOCK_SEQPACKET, fixed size, host byte order: both ends
 * are of one build on the same machine — posternd-worker checks the
 * agent's version):
 *   agent -> zygote: WorkerJob, with the job's socket as SCM_RIGHTS;
 *   zygote -> agent: WorkerEvent, "started" (pid) or "ended" (wait status).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "worker.h"
#include "worker-proto.h"
#include "worker-view.h"
#include "crypto/remote.h"
#include "crypto/wire.h"
#include "mime/mime.h"
#include "mime/reader.h"
#include "rpc/workerframe.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/sandbox.h"

#define MAX_CHILDREN 256

static struct { pid_t pid; guint64 id; } children[MAX_CHILDREN];

static void
send_event (int ctl, guint32 kind, guint64 id, gint32 pid, gint32 status)
{
  WorkerEvent ev = { .kind = kind, .id = id, .pid = pid, .status = status };

  if (send (ctl, &ev, sizeof ev, MSG_NOSIGNAL) != (ssize_t) sizeof ev)
    _exit (0);   /* the agent is gone */
}

#ifdef PST_WORKER_TEST_HOOKS
/* Faults on demand, for the tests only (meson -Dtest_hooks=true, and
 * POSTERN_WORKER_TEST_HOOKS=1 in the agent's environment): a message
 * carrying "X-Postern-Worker-Test: crash|spin|connect|write" makes the
 * worker crash, spin until its CPU time is up, or try to reach the network
 * or write a file (and fail the job saying what the sandbox answered).
 * The lies it is to tell in its answer, "forge" and "decrypted", are
 * returned (NULL: none). */
static const char *
test_hook (GBytes *message)
{
  g_autoptr (PstMimeMessage) msg = NULL;
  g_autofree char *what = NULL;

  if (g_strcmp0 (g_getenv ("POSTERN_WORKER_TEST_HOOKS"), "1") != 0
      || !(msg = pst_mime_message_parse (message, NULL))
      || !(what = pst_mime_message_get_header (msg, "X-Postern-Worker-Test")))
    return NULL;
  g_strstrip (what);
  /* A compromised parser lying: a good signature of the sender's, for
   * plain mail (run_job writes it into the verdict). */
  if (g_str_equal (what, "forge"))
    return "forge";
  /* Or, of an encrypted message it had decrypted, that the plaintext is
   * the message itself (the agent would scan and hand out the ciphertext
   * as what was decrypted). */
  if (g_str_equal (what, "decrypted"))
    return "decrypted";
  /* Or that the attachment asked for is a byte shorter than it sends
   * (the agent keeps one of 1 MiB or more by that length: worker.c). */
  if (g_str_equal (what, "attachment-len"))
    return "attachment-len";
  /* Silence: the agent's deadline ends the job. */
  if (g_str_equal (what, "stall"))
    for (;;)
      pause ();
  /* Its zygote, its process group, every process of the user; a process of
   * its own: all refused (exit 41), any allowed (42). */
  if (g_str_equal (what, "signal") || g_str_equal (what, "fork"))
    {
      gboolean refused;

      if (g_str_equal (what, "signal"))
        refused = kill (getppid (), SIGKILL) != 0 && kill (0, SIGKILL) != 0
                  && kill (-1, SIGKILL) != 0;
      else
        {
          pid_t pid = fork ();

          if (pid == 0)
            _exit (0);
          refused = pid < 0;
        }
      fprintf (stderr, "posternd worker: test hook %s: %s\n", what,
               refused ? g_strerror (errno) : "ALLOWED");
      _exit (refused ? 41 : 42);
    }
  if (g_str_equal (what, "crash"))
    {
      /* As a bug would end it, not through a sanitizer's handler. */
      signal (SIGSEGV, SIG_DFL);
      raise (SIGSEGV);
    }
  if (g_str_equal (what, "spin"))
    for (volatile guint64 i = 0;; i++)
      ;
  if (g_str_equal (what, "connect") || g_str_equal (what, "write"))
    {
      gboolean connect_ = g_str_equal (what, "connect");
      int fd = connect_ ? socket (AF_INET, SOCK_STREAM, 0)
                        : open ("/tmp/postern-worker-was-here", O_WRONLY | O_CREAT, 0600);
      int e = errno;

      fprintf (stderr, "posternd worker: test hook %s: %s\n", what,
               fd >= 0 ? "ALLOWED" : g_strerror (e));
      _exit (fd >= 0 ? 42 : 41);
    }
  return NULL;
}
#endif

static void
write_or_exit (int fd, JsonObject *obj, GBytes *blob)
{
  g_autoptr (GError) error = NULL;

  if (!pst_worker_frame_write (fd, obj, blob, &error))
    _exit (PST_CRYPTO_REMOTE_EXIT_LOST);
}

/* One job: read the message, answer with the verdict and the view. */
static G_NORETURN void
run_job (int fd)
{
  const char *lie = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) req = NULL, reply = json_object_new ();
  g_autoptr (GBytes) message = NULL, plain = NULL;
  g_autoptr (PstCryptoRemote) remote = pst_crypto_remote_new (fd);
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (PstSmime) smime = NULL;
  g_autoptr (PstStatus) status = NULL;

  if (!pst_worker_frame_read (fd, PST_CRYPTO_REMOTE_MAX_BLOB, 0, &req, &message, &error))
    _exit (PST_CRYPTO_REMOTE_EXIT_LOST);
#ifdef PST_WORKER_TEST_HOOKS
  lie = test_hook (message);
#endif
  pst_crypto_remote_set_message (remote, message);
  pgp = pst_pgp_new_remote (remote);
  if (json_object_get_boolean_member_with_default (req, "smime", FALSE))
    smime = pst_smime_new_remote (remote);
  if (!pst_message_open (pgp, smime, message, &plain, &status, &error))
    {
      json_object_set_string_member (reply, "op", "failed");
      json_object_set_member (reply, "error", pst_error_to_wire (error));
      write_or_exit (fd, reply, NULL);
      _exit (0);
    }
  if (g_strcmp0 (lie, "forge") == 0)
    {
      g_autoptr (PstMimeMessage) msg = pst_mime_message_parse (message, NULL);
      g_autofree char *from = msg ? pst_mime_message_get_header (msg, "From") : NULL;

      status->sig_status = PST_SIG_GOOD;
      status->sig_covers = PST_COVERS_WHOLE;
      status->from_match = TRUE;
      g_free (status->signer);
      status->signer = from ? pst_addr_extract (from) : NULL;
      g_free (status->fingerprint);
      status->fingerprint = g_strdup ("0123456789ABCDEF0123456789ABCDEF01234567");
    }
  {
    g_autofree char *body = NULL;
    g_autoptr (GBytes) out = NULL, attachment = NULL;
    JsonNode *an = json_object_get_member (req, "attachment");
    int index = an != NULL && JSON_NODE_HOLDS_VALUE (an) ? (int) json_node_get_int (an) : -1;

    gboolean is_message = pst_worker_plain_is_message (message, plain, status);
    JsonObject *view;

    json_object_set_string_member (reply, "op", "result");
    json_object_set_member (reply, "status", pst_status_to_wire (status));
    view = pst_worker_make_view (message, plain, status, index, &body, &attachment);
    if (g_strcmp0 (lie, "decrypted") == 0)
      {
        json_object_set_int_member (view, "plain_len", -1);
        is_message = TRUE;
      }
    if (g_strcmp0 (lie, "attachment-len") == 0 && json_object_has_member (view, "attachment"))
      {
        JsonObject *a = json_object_get_object_member (view, "attachment");

        json_object_set_int_member (a, "len", json_object_get_int_member (a, "len") - 1);
      }
    json_object_set_object_member (reply, "view", view);
    out = pst_worker_result_blob (is_message ? NULL : plain, body, attachment);
    write_or_exit (fd, reply, out);
  }
  _exit (0);
}

/* The child forked ahead of its job: confined, waiting on @chan for the
 * job's socket.  Forking the next one while the current one works takes
 * the fork off the time a job waits (and off the zygote's, which forks for
 * every job one after another). */
static struct { pid_t pid; int chan; } spare = { 0, -1 };

/* In a new child: confined for good, then the job's socket from @chan, and
 * the job. */
static G_NORETURN void
child_main (int ctl, int sfd, pid_t zygote, int chan)
{
  struct rlimit cpu;
  const char *env = g_getenv ("POSTERN_WORKER_CPU_SECONDS");
  guint64 secs = env != NULL ? g_ascii_strtoull (env, NULL, 10) : 0;
  g_autoptr (GError) error = NULL;
  char cbuf[CMSG_SPACE (sizeof (int))];
  char byte;
  struct iovec iov = { &byte, 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm;
  sigset_t all;
  int fd = -1;

  close (ctl);
  close (sfd);
  /* Ends with the zygote (which ends with the agent), and may signal no
   * one but itself, nor start anything (util/sandbox.h). */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != zygote
      || !pst_sandbox_confine_job (&error))
    _exit (WORKER_EXIT_NO_SANDBOX);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);
  /* The child's own CPU time: SIGXCPU at the soft limit, SIGKILL a
   * second later if it ignores that.  Waiting uses none. */
  cpu.rlim_cur = secs > 0 && secs < 3600 ? secs : PST_WORKER_CPU_SECONDS;
  cpu.rlim_max = cpu.rlim_cur + 1;
  if (setrlimit (RLIMIT_CPU, &cpu) != 0)
    _exit (PST_CRYPTO_REMOTE_EXIT_LOST);
  while (recvmsg (chan, &mh, MSG_CMSG_CLOEXEC) < 0)
    if (errno != EINTR)
      _exit (0);
  cm = CMSG_FIRSTHDR (&mh);
  if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS
      && cm->cmsg_len == CMSG_LEN (sizeof (int)))
    memcpy (&fd, CMSG_DATA (cm), sizeof fd);
  close (chan);
  if (fd < 0)
    _exit (0);   /* the zygote gave it up */
  run_job (fd);
}

/* Forks the spare child, if there is none. */
static void
fork_spare (int ctl, int sfd)
{
  pid_t zygote = getpid (), pid;
  int pair[2];

  if (spare.pid != 0)
    return;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return;
  if ((pid = fork ()) < 0)
    {
      close (pair[0]);
      close (pair[1]);
      return;
    }
  if (pid == 0)
    {
      close (pair[0]);
      child_main (ctl, sfd, zygote, pair[1]);
    }
  close (pair[1]);
  spare.pid = pid;
  spare.chan = pair[0];
}

/* Hands @fd to the spare child; its pid, or 0 when there was none (or it
 * died meanwhile: reap() forgets it). */
static pid_t
hand_to_spare (int fd)
{
  char cbuf[CMSG_SPACE (sizeof (int))] = { 0 };
  char byte = 'J';
  struct iovec iov = { &byte, 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  pid_t pid = spare.pid;
  ssize_t n;

  if (pid == 0)
    return 0;
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &fd, sizeof fd);
  do
    n = sendmsg (spare.chan, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  close (spare.chan);
  spare.chan = -1;
  if (n != 1)
    {
      /* Dead or dying: forgotten (reap() ignores a pid that holds no job),
       * so that the next fork_spare makes another. */
      kill (pid, SIGKILL);
      spare.pid = 0;
      return 0;
    }
  spare.pid = 0;
  return pid;
}

static void
start_job (int ctl, int sfd)
{
  WorkerJob job;
  char cbuf[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { &job, sizeof job };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm;
  int fd = -1, slot = -1;
  ssize_t n;
  pid_t pid;

  n = recvmsg (ctl, &mh, MSG_CMSG_CLOEXEC);
  if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
    _exit (0);   /* the agent closed the control socket: it is stopping */
  if (n < 0)
    return;
  cm = CMSG_FIRSTHDR (&mh);
  if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS
      && cm->cmsg_len == CMSG_LEN (sizeof (int)))
    memcpy (&fd, CMSG_DATA (cm), sizeof fd);
  if (n == (ssize_t) sizeof job && job.op == WORKER_JOB_KILL)
    {
      if (fd >= 0)
        close (fd);
      for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid != 0 && children[i].id == job.id)
          kill (children[i].pid, SIGKILL);
      return;
    }
  if (fd < 0 || n != (ssize_t) sizeof job || job.op != WORKER_JOB_START)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
    if (children[i].pid == 0)
      slot = i;
  if (slot >= 0)
    {
      fork_spare (ctl, sfd);
      pid = hand_to_spare (fd);
      if (pid == 0)
        {
          /* The spare was gone: one more try with a new one. */
          fork_spare (ctl, sfd);
          pid = hand_to_spare (fd);
        }
    }
  close (fd);
  if (slot < 0 || pid == 0)
    {
      /* No child: closing its socket ends the job with "closed". */
      send_event (ctl, WORKER_EVENT_ENDED, job.id, 0, -1);
      return;
    }
  children[slot].pid = pid;
  children[slot].id = job.id;
  send_event (ctl, WORKER_EVENT_STARTED, job.id, pid, 0);
  /* The next job's child, made while this one works. */
  fork_spare (ctl, sfd);
}

static void
reap (int ctl, int sfd)
{
  struct signalfd_siginfo si;
  int status;
  pid_t pid;

  while (read (sfd, &si, sizeof si) > 0)
    ;
  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    {
      if (pid == spare.pid)
        {
          /* A spare that died before its job (it could not confine
           * itself): the next job forks another. */
          if (spare.chan >= 0)
            close (spare.chan);
          spare.pid = 0;
          spare.chan = -1;
        }
      for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid == pid)
          {
            send_event (ctl, WORKER_EVENT_ENDED, children[i].id, pid, status);
            children[i].pid = 0;
          }
    }
}

void
pst_worker_main (void)
{
  static const char *const readable[] = { "/usr", "/etc", NULL };
  PstSandboxPolicy policy = {
    .readable_dirs = readable,
    .allow_unix_sockets = FALSE,
    .max_address_space = G_GUINT64_CONSTANT (4) << 30,
    .max_open_files = 64,
  };
  g_autoptr (GError) error = NULL;
  PstSandboxReport report;
  sigset_t chld;
  int sfd, devnull;

  /* It ends with the agent: when its control socket closes (start_job).
   * Not PR_SET_PDEATHSIG, which fires when the agent's *thread* that
   * started it ends, and that is any client's. */
  /* Only the control socket and stderr are kept: what the agent had open
   * (the store, its socket, the key files) is not the worker's to use. */
  if (syscall (SYS_close_range, 4, ~0U, 0) != 0)
    for (int fd = 4; fd < 1024; fd++)
      close (fd);
  close (STDIN_FILENO);
  close (STDOUT_FILENO);
  devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  signal (SIGPIPE, SIG_IGN);
  /* A session of its own: not in the agent's process group, whose signals
   * (a terminal's ^C, a kill of the group) are the agent's. */
  setsid ();
  /* What parsing needs later and cannot read in the sandbox (the local
   * time zone) is loaded now. */
  g_time_zone_unref (g_time_zone_new_local ());
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sigprocmask (SIG_SETMASK, &chld, NULL);
  if ((sfd = signalfd (-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
    {
      fprintf (stderr, "posternd worker: signalfd: %s\n", g_strerror (errno));
      _exit (PST_CRYPTO_REMOTE_EXIT_LOST);
    }
  if (!pst_sandbox_enter (&policy, &report, &error))
    {
      /* Fail closed: no analysis outside the sandbox.  The agent reports
       * every job as failed with this reason. */
      fprintf (stderr, "posternd worker: cannot enter the sandbox: %s\n", error->message);
      _exit (WORKER_EXIT_NO_SANDBOX);
    }
  if (report.fs != PST_SANDBOX_FS_LANDLOCK)
    fprintf (stderr, "posternd worker: this kernel has no Landlock: the analysis worker cannot "
                     "write files, but can read every file you can\n");
  /* From here on nothing of the worker's reaches the agent's log (which a
   * compromised job could fill, forge or truncate through the descriptor),
   * but in test builds (-Dtest_hooks=true): the hooks and the sanitizers
   * report there. */
#ifndef PST_WORKER_TEST_HOOKS
  if (devnull >= 0)
    dup2 (devnull, STDERR_FILENO);
#endif
  if (devnull >= 0)
    close (devnull);
  fork_spare (WORKER_CONTROL_FD, sfd);
  for (;;)
    {
      struct pollfd p[2] = { { WORKER_CONTROL_FD, POLLIN, 0 }, { sfd, POLLIN, 0 } };

      if (poll (p, 2, -1) < 0)
        continue;
      if (p[1].revents)
        reap (WORKER_CONTROL_FD, sfd);
      if (p[0].revents)
        start_job (WORKER_CONTROL_FD, sfd);
    }
}
