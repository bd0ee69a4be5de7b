/* Unit tests for core/util/sandbox.c.  Each test forks a child that enters
 * the sandbox and then tries something; the child reports through its exit
 * status (0: every check held) and, on a failed check, a line on a pipe that
 * the parent prints.  Some checks must kill the child (SIGSYS, SIGXCPU); the
 * parent checks the signal. */
#define _GNU_SOURCE 1   /* pipe2, unshare, CLONE_* */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "util/sandbox.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

#define MIB (1024 * 1024)

typedef struct {
  char *root;       /* a fresh temporary directory */
  char *allowed;    /* root/allowed: the sandbox's one writable directory */
  char *outside;    /* root/outside: readable, not writable */
} Dirs;

/* What a child function gets: the directories and the pipe to complain on. */
typedef struct {
  Dirs *dirs;
  int report_fd;
  gpointer data;
} Child;

typedef int (*ChildFn) (Child *c);

/* In the child: on a failed check say which and why, and exit non-zero. */
#define CHECK(c, cond)                                                                  \
  do {                                                                                  \
    if (!(cond))                                                                        \
      {                                                                                 \
        dprintf ((c)->report_fd, "line %d: %s (errno: %s)\n", __LINE__, #cond,          \
                 g_strerror (errno));                                                   \
        return 1;                                                                       \
      }                                                                                 \
  } while (0)

static gboolean
skip_under_valgrind (const char *test)
{
  /* Valgrind runs its own code inside the sandboxed process and passes its
   * system calls through the sandbox's: 3.19 refuses to load a seccomp
   * filter at all (EINVAL), and its address-space reservations would not
   * survive RLIMIT_AS anyway.  The sandbox's checks run in the plain and
   * ASan builds; under valgrind, test_fails_closed runs pst_sandbox_enter
   * through Landlock and the filter's construction under memcheck, and
   * checks that the refused filter makes it fail. */
  if (!RUNNING_ON_VALGRIND)
    return FALSE;
  g_printerr ("# %s skipped under valgrind: it needs the real kernel sandbox\n", test);
  return TRUE;
}

static PstSandboxPolicy
policy_for (Dirs *d, const char **dirs_list)
{
  PstSandboxPolicy p = { 0 };

  dirs_list[0] = d->allowed;
  dirs_list[1] = NULL;
  p.writable_dirs = dirs_list;
  p.allow_unix_sockets = TRUE;
  p.max_open_files = 64;
  /* No child spins for ever if a check goes wrong (LeakSanitizer's tracer,
   * killed by a filter, left its process spinning: that is how we found it). */
  p.cpu_seconds = 20;
  return p;
}

static int
enter (Child *c, const PstSandboxPolicy *p, PstSandboxReport *report)
{
  g_autoptr (GError) error = NULL;

  if (!pst_sandbox_enter (p, report, &error))
    {
      dprintf (c->report_fd, "pst_sandbox_enter: %s\n", error->message);
      return 1;
    }
  return 0;
}

/* Forks, runs @fn in the child, returns the child's wait status; what the
 * child wrote to its pipe goes to *@msg_out. */
static int
run_child (Dirs *d, ChildFn fn, gpointer data, char **msg_out)
{
  int fds[2];
  pid_t pid;
  int status = 0;
  GString *msg;
  char buf[512];
  ssize_t n;

  assert_int_equal (pipe2 (fds, O_CLOEXEC), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      Child c = { d, fds[1], data };

      close (fds[0]);
      /* _exit: neither cmocka's nor the sanitizer's exit handlers run twice. */
      _exit (fn (&c));
    }
  close (fds[1]);
  msg = g_string_new (NULL);
  while ((n = read (fds[0], buf, sizeof buf)) > 0)
    g_string_append_len (msg, buf, n);
  close (fds[0]);
  assert_int_equal (waitpid (pid, &status, 0), pid);
  *msg_out = g_string_free (msg, FALSE);
  return status;
}

static void
assert_child_ok (Dirs *d, ChildFn fn, gpointer data)
{
  g_autofree char *msg = NULL;
  int status = run_child (d, fn, data, &msg);

  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("child %s %d: %s", WIFSIGNALED (status) ? "killed by signal" : "exited with",
              WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status), msg);
}

static void
assert_child_killed (Dirs *d, ChildFn fn, gpointer data, int sig1, int sig2)
{
  g_autofree char *msg = NULL;
  int status = run_child (d, fn, data, &msg);

  if (!WIFSIGNALED (status) || (WTERMSIG (status) != sig1 && WTERMSIG (status) != sig2))
    fail_msg ("child not killed by signal %d/%d: status 0x%x: %s", sig1, sig2, status, msg);
}

static int
setup (void **state)
{
  Dirs *d = g_new0 (Dirs, 1);

  d->root = g_dir_make_tmp ("test-sandbox-XXXXXX", NULL);
  assert_non_null (d->root);
  d->allowed = g_build_filename (d->root, "allowed", NULL);
  d->outside = g_build_filename (d->root, "outside", NULL);
  assert_int_equal (g_mkdir (d->allowed, 0700), 0);
  assert_int_equal (g_mkdir (d->outside, 0700), 0);
  *state = d;
  return 0;
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_dir_close (dir);
  g_rmdir (path);
}

static int
teardown (void **state)
{
  Dirs *d = *state;

  remove_tree (d->root);
  g_free (d->root);
  g_free (d->allowed);
  g_free (d->outside);
  g_free (d);
  return 0;
}

/* ---- network ---- */

typedef struct {
  int port;
  int preopened;   /* an AF_INET socket made before the sandbox, or -1 */
} TcpTarget;

static int
child_tcp (Child *c)
{
  TcpTarget *t = c->data;
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  PstSandboxReport r;
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (t->port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  guint8 uring_params[256] = { 0 };
  int s;

  if (enter (c, &p, &r) != 0)
    return 1;
  s = socket (AF_INET, SOCK_STREAM, 0);
  CHECK (c, s == -1 && (errno == EACCES || errno == EPERM));
  s = socket (AF_INET6, SOCK_STREAM, 0);
  CHECK (c, s == -1 && (errno == EACCES || errno == EPERM));
  s = socket (AF_PACKET, SOCK_RAW, 0);
  CHECK (c, s == -1 && (errno == EACCES || errno == EPERM));
  s = socket (AF_NETLINK, SOCK_RAW, 0);
  CHECK (c, s == -1 && (errno == EACCES || errno == EPERM));
  /* Garbage in the upper half of the int must not turn AF_INET into "AF_UNIX". */
  s = syscall (SYS_socket, (long) AF_INET | (1L << 32), (long) SOCK_STREAM, 0L);
  CHECK (c, s == -1 && errno == EACCES);
  /* io_uring could open and connect sockets out of the socket() rule's sight. */
  CHECK (c, syscall (SYS_io_uring_setup, 8, uring_params) == -1 && errno == EPERM);
  /* A socket inherited from before the sandbox: Landlock (ABI >= 4) still
   * refuses the TCP connect. */
  if (r.landlock_net)
    {
      CHECK (c, t->preopened >= 0);
      CHECK (c, connect (t->preopened, (struct sockaddr *) &sin, sizeof sin) == -1
                && (errno == EACCES || errno == EPERM));
    }
  return 0;
}

static void
test_tcp_refused (void **state)
{
  Dirs *d = *state;
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof sin;
  TcpTarget t;
  int listener = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (skip_under_valgrind (__func__))
    return;
  assert_true (listener >= 0);
  assert_int_equal (bind (listener, (struct sockaddr *) &sin, sizeof sin), 0);
  assert_int_equal (listen (listener, 8), 0);
  assert_int_equal (getsockname (listener, (struct sockaddr *) &sin, &len), 0);
  t.port = ntohs (sin.sin_port);
  t.preopened = socket (AF_INET, SOCK_STREAM, 0);
  assert_true (t.preopened >= 0);

  assert_child_ok (d, child_tcp, &t);

  /* Nothing reached the listener. */
  assert_int_equal (accept (listener, NULL, NULL), -1);
  assert_int_equal (errno, EAGAIN);
  close (t.preopened);
  close (listener);
}

static int
child_udp (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  int s;

  if (enter (c, &p, NULL) != 0)
    return 1;
  s = socket (AF_INET, SOCK_DGRAM, 0);
  CHECK (c, s == -1 && (errno == EACCES || errno == EPERM));
  s = socket (AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  CHECK (c, s == -1 && (errno == EACCES || errno == EPERM));
  /* socketpair of another family is refused too. */
  int sv[2];
  CHECK (c, socketpair (AF_INET, SOCK_STREAM, 0, sv) == -1 && errno == EACCES);
  return 0;
}

static void
test_udp_refused (void **state)
{
  if (skip_under_valgrind (__func__))
    return;
  assert_child_ok (*state, child_udp, NULL);
}

typedef struct {
  const char *path;
  gboolean allow;
} UnixTarget;

static int
child_unix (Child *c)
{
  UnixTarget *t = c->data;
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int s, sv[2];

  p.allow_unix_sockets = t->allow;
  if (enter (c, &p, NULL) != 0)
    return 1;
  /* The worker's own channel kind keeps working either way. */
  CHECK (c, socketpair (AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK (c, write (sv[0], "x", 1) == 1);
  s = socket (AF_UNIX, SOCK_STREAM, 0);
  if (!t->allow)
    {
      CHECK (c, s == -1 && errno == EACCES);
      return 0;
    }
  CHECK (c, s >= 0);
  g_strlcpy (sun.sun_path, t->path, sizeof sun.sun_path);
  CHECK (c, connect (s, (struct sockaddr *) &sun, sizeof sun) == 0);
  CHECK (c, write (s, "u", 1) == 1);
  return 0;
}

static void
test_unix (void **state)
{
  Dirs *d = *state;
  g_autofree char *path = g_build_filename (d->outside, "sock", NULL);
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  UnixTarget t = { path, TRUE };
  int listener = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int conn;
  char byte = 0;

  if (skip_under_valgrind (__func__))
    {
      close (listener);
      return;
    }
  assert_true (strlen (path) < sizeof sun.sun_path);
  g_strlcpy (sun.sun_path, path, sizeof sun.sun_path);
  assert_int_equal (bind (listener, (struct sockaddr *) &sun, sizeof sun), 0);
  assert_int_equal (listen (listener, 8), 0);

  /* Allowed: gpg reaches gpg-agent this way. */
  assert_child_ok (d, child_unix, &t);
  conn = accept (listener, NULL, NULL);
  assert_true (conn >= 0);
  assert_int_equal (read (conn, &byte, 1), 1);
  assert_int_equal (byte, 'u');
  close (conn);

  /* Not allowed: socket() refused, socketpair() still fine. */
  t.allow = FALSE;
  assert_child_ok (d, child_unix, &t);
  close (listener);
}

typedef struct {
  struct sockaddr_un addr;
  socklen_t len;
} AbstractTarget;

static int
child_scoped (Child *c)
{
  AbstractTarget *t = c->data;
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  PstSandboxReport r;
  int s;

  if (enter (c, &p, &r) != 0)
    return 1;
  if (!r.landlock_scoped)
    {
      dprintf (c->report_fd, "# skipped: Landlock ABI %d has no scopes\n", r.landlock_abi);
      return 0;
    }
  /* Abstract sockets (an X server's, a session bus's) made outside are out of reach. */
  s = socket (AF_UNIX, SOCK_STREAM, 0);
  CHECK (c, s >= 0);
  CHECK (c, connect (s, (struct sockaddr *) &t->addr, t->len) == -1 && errno == EPERM);
  /* So are signals to processes outside: the parent stands for the agent. */
  CHECK (c, kill (getppid (), 0) == -1 && errno == EPERM);
  CHECK (c, kill (getpid (), 0) == 0);
  return 0;
}

static void
test_scoped (void **state)
{
  AbstractTarget t = { .addr.sun_family = AF_UNIX };
  g_autofree char *name = g_strdup_printf ("postern-test-sandbox-%d", (int) getpid ());
  g_autofree char *msg = NULL;
  int listener = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int status;

  if (skip_under_valgrind (__func__))
    {
      close (listener);
      return;
    }
  memcpy (t.addr.sun_path + 1, name, strlen (name));
  t.len = offsetof (struct sockaddr_un, sun_path) + 1 + strlen (name);
  assert_int_equal (bind (listener, (struct sockaddr *) &t.addr, t.len), 0);
  assert_int_equal (listen (listener, 8), 0);
  status = run_child (*state, child_scoped, &t, &msg);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("child status 0x%x: %s", status, msg);
  if (*msg != '\0')
    g_printerr ("%s", msg);
  assert_int_equal (accept (listener, NULL, NULL), -1);
  assert_int_equal (errno, EAGAIN);
  close (listener);
}

static int
child_other_processes (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  struct rlimit lim = { 0, 0 };
  char key = 'x';
  void *page;

  if (enter (c, &p, NULL) != 0)
    return 1;
  /* The agent's limits are not the worker's to lower; its own still are. */
  CHECK (c, prlimit (getppid (), RLIMIT_NOFILE, &lim, NULL) == -1 && errno == EPERM);
  CHECK (c, getrlimit (RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur == 64);
  /* A syscall newer than libseccomp's list (mseal, 462 since Linux 6.10,
   * which would succeed on this page) answers ENOSYS like an older kernel. */
  page = mmap (NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK (c, page != MAP_FAILED);
  CHECK (c, syscall (462, page, 4096L, 0L) == -1 && errno == ENOSYS);
  /* Leaving the worker's session is refused. */
  CHECK (c, setsid () == -1 && errno == EPERM);
  CHECK (c, setpgid (0, 0) == -1 && errno == EPERM);
  /* No keystrokes pushed into a terminal, upper bits or not (the filter
   * answers before the kernel looks at the descriptor). */
  CHECK (c, ioctl (-1, TIOCSTI, &key) == -1 && errno == EPERM);
  CHECK (c, syscall (SYS_ioctl, -1L, (long) TIOCSTI | (1L << 32), &key) == -1 && errno == EPERM);
  return 0;
}

static void
test_other_processes (void **state)
{
  struct rlimit before, after;

  if (skip_under_valgrind (__func__))
    return;
  assert_int_equal (getrlimit (RLIMIT_NOFILE, &before), 0);
  assert_child_ok (*state, child_other_processes, NULL);
  assert_int_equal (getrlimit (RLIMIT_NOFILE, &after), 0);
  assert_int_equal (before.rlim_cur, after.rlim_cur);
}

/* A job of the analysis worker (pst_sandbox_confine_job): signals to
 * itself only, no process, no program. */
static int
child_job (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  g_autoptr (GError) error = NULL;
  char *const argv[] = { (char *) "/bin/true", NULL };

  if (enter (c, &p, NULL) != 0)
    return 1;
  if (!pst_sandbox_confine_job (&error))
    {
      dprintf (c->report_fd, "pst_sandbox_confine_job: %s\n", error->message);
      return 1;
    }
  CHECK (c, kill (getppid (), 0) == -1 && errno == EPERM);
  CHECK (c, kill (0, 0) == -1 && errno == EPERM);
  CHECK (c, kill (-1, 0) == -1 && errno == EPERM);
  CHECK (c, syscall (SYS_tgkill, getppid (), getppid (), 0) == -1 && errno == EPERM);
  CHECK (c, kill (getpid (), 0) == 0);
  signal (SIGUSR1, SIG_IGN);
  CHECK (c, raise (SIGUSR1) == 0);
  CHECK (c, fork () == -1 && errno == EPERM);
  CHECK (c, execve (argv[0], argv, NULL) == -1 && errno == EPERM);
  return 0;
}

static void
test_job (void **state)
{
  if (skip_under_valgrind (__func__))
    return;
  assert_child_ok (*state, child_job, NULL);
}

/* ---- file system ---- */

static int
child_files (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  PstSandboxReport r;
  g_autofree char *inside = g_build_filename (c->dirs->allowed, "new", NULL);
  g_autofree char *inside2 = g_build_filename (c->dirs->allowed, "renamed", NULL);
  g_autofree char *subdir = g_build_filename (c->dirs->allowed, "sub", NULL);
  g_autofree char *big = g_build_filename (c->dirs->allowed, "big", NULL);
  g_autofree char *out_new = g_build_filename (c->dirs->outside, "new", NULL);
  g_autofree char *out_old = g_build_filename (c->dirs->outside, "existing", NULL);
  g_autofree char *out_dir = g_build_filename (c->dirs->outside, "dir", NULL);
  g_autofree char *zeros = g_malloc0 (2 * MIB);
  char buf[16] = { 0 };
  int fd, highest = -1;

  p.max_file_size = MIB;
  p.max_open_files = 32;
  if (enter (c, &p, &r) != 0)
    return 1;
  CHECK (c, r.fs == PST_SANDBOX_FS_LANDLOCK && r.landlock_abi >= 1);

  /* Inside the writable directory: create, write, rename, mkdir, remove. */
  fd = open (inside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  CHECK (c, fd >= 0);
  CHECK (c, write (fd, "inside", 6) == 6);
  close (fd);
  CHECK (c, rename (inside, inside2) == 0);
  CHECK (c, mkdir (subdir, 0700) == 0);
  CHECK (c, rmdir (subdir) == 0);

  /* Outside it: nothing new, nothing changed, nothing removed; reading works. */
  fd = open (out_new, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK (c, fd == -1 && errno == EACCES);
  CHECK (c, open (out_old, O_WRONLY | O_CLOEXEC) == -1 && errno == EACCES);
  CHECK (c, open (out_old, O_RDWR | O_APPEND | O_CLOEXEC) == -1 && errno == EACCES);
  CHECK (c, truncate (out_old, 0) == -1 && errno == EACCES);
  CHECK (c, unlink (out_old) == -1 && errno == EACCES);
  CHECK (c, mkdir (out_dir, 0700) == -1 && errno == EACCES);
  CHECK (c, rename (inside2, out_new) == -1 && (errno == EACCES || errno == EXDEV));
  CHECK (c, chmod (out_old, 0777) == -1 && errno == EPERM);
  fd = open (out_old, O_RDONLY | O_CLOEXEC);
  CHECK (c, fd >= 0);
  CHECK (c, read (fd, buf, sizeof buf - 1) == 8 && strcmp (buf, "existing") == 0);
  /* Nor is fchmodat2 (452 on every architecture since Linux 6.6): refused by
   * name where libseccomp knows it, as unknown (ENOSYS) where it does not. */
  CHECK (c, syscall (452, AT_FDCWD, out_old, 0777, 0) == -1 && (errno == EPERM || errno == ENOSYS));
  /* fchmod on a descriptor opened for reading is not a way round. */
  CHECK (c, fchmod (fd, 0777) == -1 && errno == EPERM);
  close (fd);

  /* RLIMIT_FSIZE: a write past the limit is cut short (SIGXFSZ ignored). */
  signal (SIGXFSZ, SIG_IGN);
  fd = open (big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK (c, fd >= 0);
  CHECK (c, write (fd, zeros, 2 * MIB) == MIB);
  CHECK (c, write (fd, zeros, 1) == -1 && errno == EFBIG);
  close (fd);

  /* RLIMIT_NOFILE: no descriptor at or above 32. */
  for (int i = 0; i < 64; i++)
    {
      fd = dup (0);
      if (fd < 0)
        break;
      highest = MAX (highest, fd);
    }
  CHECK (c, fd == -1 && errno == EMFILE && highest < 32);
  return 0;
}

static void
test_files (void **state)
{
  Dirs *d = *state;
  g_autofree char *existing = g_build_filename (d->outside, "existing", NULL);
  g_autofree char *renamed = g_build_filename (d->allowed, "renamed", NULL);
  g_autofree char *out_new = g_build_filename (d->outside, "new", NULL);
  g_autofree char *contents = NULL;
  struct stat st;

  if (skip_under_valgrind (__func__))
    return;
  assert_true (g_file_set_contents (existing, "existing", -1, NULL));
  assert_int_equal (chmod (existing, 0600), 0);

  assert_child_ok (d, child_files, NULL);

  assert_true (g_file_get_contents (renamed, &contents, NULL, NULL));
  assert_string_equal (contents, "inside");
  assert_false (g_file_test (out_new, G_FILE_TEST_EXISTS));
  g_clear_pointer (&contents, g_free);
  assert_true (g_file_get_contents (existing, &contents, NULL, NULL));
  assert_string_equal (contents, "existing");
  assert_int_equal (stat (existing, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
}

static int
child_reads_confined (Child *c)
{
  const char *dirs[2];
  const char *readable[] = { "/usr", "/lib", "/lib64", "/etc", NULL };
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  g_autofree char *out_old = g_build_filename (c->dirs->outside, "existing", NULL);
  g_autofree char *inside = g_build_filename (c->dirs->allowed, "new", NULL);
  g_autofree char *contents = NULL;
  int fd;

  /* /lib64 is a symlink on merged-/usr systems and absent on others. */
  if (!g_file_test (readable[2], G_FILE_TEST_IS_DIR))
    readable[2] = NULL;
  p.readable_dirs = readable;
  if (enter (c, &p, NULL) != 0)
    return 1;
  /* The user's other files are out of reach, system files are not. */
  CHECK (c, open (out_old, O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES);
  CHECK (c, g_file_get_contents ("/etc/passwd", &contents, NULL, NULL));
  /* The writable directory is readable too (its rule grants everything). */
  fd = open (inside, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  CHECK (c, fd >= 0 && write (fd, "x", 1) == 1 && lseek (fd, 0, SEEK_SET) == 0);
  CHECK (c, read (fd, contents, 1) == 1);
  close (fd);
  return 0;
}

static void
test_reads_confined (void **state)
{
  Dirs *d = *state;
  g_autofree char *existing = g_build_filename (d->outside, "existing", NULL);

  if (skip_under_valgrind (__func__))
    return;
  assert_true (g_file_set_contents (existing, "existing", -1, NULL));
  assert_child_ok (d, child_reads_confined, NULL);
}

static int
child_files_read_only (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  PstSandboxReport r;
  g_autofree char *inside = g_build_filename (c->dirs->allowed, "new", NULL);
  g_autofree char *out_old = g_build_filename (c->dirs->outside, "existing", NULL);
  g_autofree char *out_new = g_build_filename (c->dirs->outside, "new", NULL);
  int fd;

  p.no_landlock = TRUE;
  if (enter (c, &p, &r) != 0)
    return 1;
  CHECK (c, r.fs == PST_SANDBOX_FS_READ_ONLY && r.landlock_abi == 0 && !r.landlock_net);
  /* Without Landlock even the writable directory is read-only. */
  CHECK (c, open (inside, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) == -1 && errno == EACCES);
  CHECK (c, open (out_old, O_RDWR | O_CLOEXEC) == -1 && errno == EACCES);
  CHECK (c, open (out_old, O_RDONLY | O_TRUNC | O_CLOEXEC) == -1 && errno == EACCES);
  CHECK (c, creat (out_new, 0600) == -1 && errno == EACCES);
  CHECK (c, syscall (SYS_openat, AT_FDCWD, out_new, (long) O_WRONLY | O_CREAT, 0600) == -1
            && errno == EACCES);
  CHECK (c, unlink (out_old) == -1 && errno == EACCES);
  CHECK (c, rename (out_old, out_new) == -1 && errno == EACCES);
  CHECK (c, mkdir (inside, 0700) == -1 && errno == EACCES);
  CHECK (c, symlink (out_old, inside) == -1 && errno == EACCES);
  fd = open (out_old, O_RDONLY | O_CLOEXEC);
  CHECK (c, fd >= 0);
  close (fd);
  return 0;
}

static void
test_files_without_landlock (void **state)
{
  Dirs *d = *state;
  g_autofree char *existing = g_build_filename (d->outside, "existing", NULL);
  g_autofree char *inside = g_build_filename (d->allowed, "new", NULL);

  if (skip_under_valgrind (__func__))
    return;
  assert_true (g_file_set_contents (existing, "existing", -1, NULL));
  assert_child_ok (d, child_files_read_only, NULL);
  assert_true (g_file_test (existing, G_FILE_TEST_EXISTS));
  assert_false (g_file_test (inside, G_FILE_TEST_EXISTS));
}

/* ---- limits ---- */

static void *volatile keep;

static int
child_memory (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  PstSandboxReport r;

  p.max_address_space = 256 * MIB;
  if (enter (c, &p, &r) != 0)
    return 1;
#ifdef TEST_ASAN
  CHECK (c, !r.memory_limited);
#else
  CHECK (c, r.memory_limited);
  keep = malloc (16 * MIB);   /* below the limit: works */
  CHECK (c, keep != NULL);
  memset (keep, 1, 16 * MIB);
  free (keep);
  keep = malloc (512 * MIB);
  CHECK (c, keep == NULL && errno == ENOMEM);
  keep = mmap (NULL, 512 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK (c, keep == MAP_FAILED && errno == ENOMEM);
#endif
  return 0;
}

static void
test_memory_limit (void **state)
{
  if (skip_under_valgrind (__func__))
    return;
#ifdef TEST_ASAN
  g_printerr ("# AddressSanitizer: the address-space limit is not applied (checked)\n");
#endif
  assert_child_ok (*state, child_memory, NULL);
}

static volatile guint64 spin;

static int
child_cpu (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);

  p.cpu_seconds = 1;
  if (enter (c, &p, NULL) != 0)
    return 1;
  for (;;)
    spin++;
  return 0;
}

static void
test_cpu_limit (void **state)
{
  gint64 start = g_get_monotonic_time ();

  if (skip_under_valgrind (__func__))
    return;
  /* SIGXCPU at the soft limit, SIGKILL at the hard one a second later. */
  assert_child_killed (*state, child_cpu, NULL, SIGXCPU, SIGKILL);
  /* With two cores shared, allow for a busy machine but not for no limit. */
  assert_true (g_get_monotonic_time () - start < 30 * G_USEC_PER_SEC);
}

/* ---- fatal syscalls ---- */

#ifndef TEST_ASAN
static int
child_ptrace (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);

  if (enter (c, &p, NULL) != 0)
    return 1;
  ptrace (PTRACE_TRACEME, 0, NULL, NULL);
  dprintf (c->report_fd, "ptrace returned\n");
  return 0;
}
#endif

static int
child_unshare (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);

  if (enter (c, &p, NULL) != 0)
    return 1;
  unshare (CLONE_NEWUSER);
  dprintf (c->report_fd, "unshare returned\n");
  return 0;
}

static int
child_clone_newuser (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);

  if (enter (c, &p, NULL) != 0)
    return 1;
  /* clone3 hides its flags: refused with ENOSYS so the check on clone holds. */
  CHECK (c, syscall (SYS_clone3, NULL, 0) == -1 && errno == ENOSYS);
  syscall (SYS_clone, (long) (CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
  dprintf (c->report_fd, "clone(CLONE_NEWUSER) returned\n");
  return 0;
}

static void
test_fatal_syscalls (void **state)
{
  if (skip_under_valgrind (__func__))
    return;
#ifdef TEST_ASAN
  g_printerr ("# AddressSanitizer: ptrace stays allowed for LeakSanitizer (not checked)\n");
#else
  assert_child_killed (*state, child_ptrace, NULL, SIGSYS, SIGSYS);
#endif
  assert_child_killed (*state, child_unshare, NULL, SIGSYS, SIGSYS);
  assert_child_killed (*state, child_clone_newuser, NULL, SIGSYS, SIGSYS);
}

#if defined(__x86_64__)
static int
child_int80 (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  long ret;

  /* A kernel without the 32-bit entry (IA32 emulation off) answers int
   * $0x80 with SIGSEGV: the child dies of it, rather than running
   * cmocka's handler, which it inherited, and with it the rest of the
   * tests a second time. */
  signal (SIGSEGV, SIG_DFL);
  if (c->data != NULL && enter (c, &p, NULL) != 0)
    return 1;
  /* i386 getpid (20) through the 32-bit entry point. */
  __asm__ volatile ("int $0x80" : "=a" (ret) : "a" (20L) : "memory");
  return ret == getpid () ? 0 : 2;
}

static void
test_foreign_abi (void **state)
{
  g_autofree char *msg = NULL;
  int status;

  if (skip_under_valgrind (__func__))
    return;
  /* Only meaningful where the kernel has the 32-bit entry at all. */
  status = run_child (*state, child_int80, NULL, &msg);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_printerr ("# skipped: this kernel has no i386 system call entry\n");
      return;
    }
  assert_child_killed (*state, child_int80, GINT_TO_POINTER (1), SIGSYS, SIGSYS);
}
#endif

/* ---- what must keep working ---- */

static gpointer
wait_for_unlock (gpointer lock)
{
  g_mutex_lock (lock);
  g_mutex_unlock (lock);
  return NULL;
}

static int
child_threads (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  g_autoptr (GError) error = NULL;
  GMutex lock;
  GThread *thread;

  g_mutex_init (&lock);
  g_mutex_lock (&lock);
  thread = g_thread_new ("held", wait_for_unlock, &lock);
  CHECK (c, !pst_sandbox_enter (&p, NULL, &error));
  CHECK (c, error != NULL && strstr (error->message, "thread") != NULL);
  g_mutex_unlock (&lock);
  g_thread_join (thread);
  return 0;
}

static void
test_refuses_threads (void **state)
{
  assert_child_ok (*state, child_threads, NULL);
}

static int
child_gpg (Child *c)
{
  const char *gpg = c->data;
  g_autofree char *home = g_build_filename (c->dirs->allowed, "gnupg", NULL);
  const char *dirs[2] = { home, NULL };
  PstSandboxPolicy p = { .writable_dirs = dirs, .allow_unix_sockets = TRUE, .cpu_seconds = 10,
                         .max_address_space = 1024ULL * MIB, .max_open_files = 256,
                         .max_file_size = 64 * MIB };
  const char *version[] = { gpg, "--version", NULL };
  const char *list[] = { gpg, "--homedir", home, "--batch", "--no-tty", "--list-keys", NULL };
  int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);

  CHECK (c, mkdir (home, 0700) == 0);
  if (enter (c, &p, NULL) != 0)
    return 1;
  CHECK (c, devnull >= 0);
  for (int i = 0; i < 2; i++)
    {
      const char *const *argv = i == 0 ? version : list;
      int status;
      pid_t pid = fork ();

      CHECK (c, pid >= 0);
      if (pid == 0)
        {
          dup2 (devnull, 0);
          dup2 (devnull, 1);
          dup2 (devnull, 2);
          execv (gpg, (char **) argv);
          _exit (127);
        }
      CHECK (c, waitpid (pid, &status, 0) == pid);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        {
          dprintf (c->report_fd, "%s %s: status 0x%x\n", gpg, argv[1], status);
          return 1;
        }
    }
  return 0;
}

static void
test_gpg_runs (void **state)
{
  Dirs *d = *state;
  g_autofree char *gpg = g_find_program_in_path ("gpg");
  g_autofree char *keyring = g_build_filename (d->allowed, "gnupg", "pubring.kbx", NULL);

  if (gpg == NULL)
    {
      g_printerr ("# skipped: no gpg in PATH\n");
      return;
    }
  if (skip_under_valgrind (__func__))
    return;
  /* gpg inherits the filter and Landlock across execve, and still works,
   * writing its keyring and trust database inside its home. */
  assert_child_ok (d, child_gpg, gpg);
  assert_true (g_file_test (keyring, G_FILE_TEST_EXISTS));
}

static int
child_normal_exit (Child *c)
{
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);

  if (enter (c, &p, NULL) != 0)
    return 1;
  /* exit(), not _exit(): under ASan LeakSanitizer's check runs here and must
   * not be killed by the filter. */
  exit (0);
}

static void
test_normal_exit (void **state)
{
  if (skip_under_valgrind (__func__))
    return;
  assert_child_ok (*state, child_normal_exit, NULL);
}

static int
child_fails_closed (Child *c)
{
  const char *missing[] = { "/nonexistent/postern-sandbox-test", NULL };
  const char *dirs[2];
  PstSandboxPolicy p = policy_for (c->dirs, dirs);
  g_autoptr (GError) error = NULL;
  PstSandboxReport r = { .fs = 0 };

  if (RUNNING_ON_VALGRIND)
    {
      /* Valgrind 3.19 cannot load a seccomp filter (EINVAL): the sandbox
       * must say it failed rather than carry on half-applied. */
      CHECK (c, !pst_sandbox_enter (&p, &r, &error));
      CHECK (c, error != NULL && strstr (error->message, "seccomp") != NULL);
      CHECK (c, r.fs == 0);
      dprintf (c->report_fd, "# under valgrind: %s (the expected refusal)\n", error->message);
      return 0;
    }
  /* A writable directory that cannot be opened is a policy that cannot be
   * applied: refused, not silently narrowed. */
  p.writable_dirs = missing;
  CHECK (c, !pst_sandbox_enter (&p, &r, &error));
  CHECK (c, error != NULL && strstr (error->message, missing[0]) != NULL);
  CHECK (c, r.fs == 0);
  return 0;
}

static void
test_fails_closed (void **state)
{
  g_autofree char *msg = NULL;
  int status = run_child (*state, child_fails_closed, NULL, &msg);

  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("child status 0x%x: %s", status, msg);
  g_printerr ("%s", msg);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_tcp_refused, setup, teardown),
    cmocka_unit_test_setup_teardown (test_udp_refused, setup, teardown),
    cmocka_unit_test_setup_teardown (test_unix, setup, teardown),
    cmocka_unit_test_setup_teardown (test_scoped, setup, teardown),
    cmocka_unit_test_setup_teardown (test_other_processes, setup, teardown),
    cmocka_unit_test_setup_teardown (test_job, setup, teardown),
    cmocka_unit_test_setup_teardown (test_files, setup, teardown),
    cmocka_unit_test_setup_teardown (test_reads_confined, setup, teardown),
    cmocka_unit_test_setup_teardown (test_files_without_landlock, setup, teardown),
    cmocka_unit_test_setup_teardown (test_memory_limit, setup, teardown),
    cmocka_unit_test_setup_teardown (test_cpu_limit, setup, teardown),
    cmocka_unit_test_setup_teardown (test_fatal_syscalls, setup, teardown),
#if defined(__x86_64__)
    cmocka_unit_test_setup_teardown (test_foreign_abi, setup, teardown),
#endif
    cmocka_unit_test_setup_teardown (test_refuses_threads, setup, teardown),
    cmocka_unit_test_setup_teardown (test_gpg_runs, setup, teardown),
    cmocka_unit_test_setup_teardown (test_normal_exit, setup, teardown),
    cmocka_unit_test_setup_teardown (test_fails_closed, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
