/* sandbox.c — rlimits, Landlock and a seccomp filter for the analysis worker.
 *
 * Why a deny list on a default-allow filter, not an allow list: the filter is
 * inherited by everything the worker executes — gpg, and whatever gpg
 * starts — whose system calls we do not control and which change with every
 * glibc, GnuPG and kernel release (clone3, rseq, statx, faccessat2 and
 * openat2 all arrived that way).  An allow list that misses one kills the
 * worker in the field after an update; a deny list can only fail open for a
 * syscall that is new *and* dangerous, and the dangerous families (sockets,
 * io_uring, namespaces, tracing, bpf, keys, mounts) are named here.  The file
 * system is Landlock's job, which is default-deny for writes.  32-bit and x32
 * entry points are not in the filter's architecture list, so using them
 * kills the process (they would otherwise bypass every rule by number).
 */
#define _GNU_SOURCE 1   /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "util/error.h"
#include "util/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define PST_SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PST_SANDBOX_ASAN 1
#endif
#endif

/* The installed uapi header predates Landlock ABI 3-6; the kernel's values. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6.  The kernel accepts a larger
 * struct than it knows as long as the unknown tail is zero, so this one is
 * passed whole to every kernel with the fields it lacks left at 0. */
typedef struct {
  guint64 handled_access_fs;
  guint64 handled_access_net;
  guint64 scoped;
} LandlockRulesetAttr;

#define FS_READ (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* Fatal: no part of glibc, GLib, GPGME, OpenSSL, libxml2 or gpg calls these in
 * a worker, and each is an escape or exploitation primitive — a call means
 * the worker is already compromised, so it dies (SIGSYS) rather than being
 * allowed to probe.  ptrace is allowed under AddressSanitizer only, whose
 * LeakSanitizer attaches to the process's own threads at exit; Landlock and
 * the Yama LSM still keep it from tracing anything outside the sandbox. */
static const char *const kill_syscalls[] = {
#ifndef PST_SANDBOX_ASAN
  "ptrace",
#endif
  "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
  "bpf", "perf_event_open", "userfaultfd",
  "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
  "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
  "unshare", "setns",
  "keyctl", "add_key", "request_key",
  "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
  "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
  "iopl", "ioperm", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
  "uselib", "vhangup", "syslog", "settimeofday", "clock_settime", "clock_adjtime",
  "adjtimex", "sethostname", "setdomainname",
};

/* Refused with EPERM, since well-behaved code may try them and must see a
 * plain error: io_uring performs socket, connect and open operations from
 * the kernel side, out of the reach of the socket() rule.  Refusing setsid
 * and setpgid keeps every descendant of a worker in the worker's session
 * (so the agent can tell them from its clients by SO_PEERCRED), and makes a
 * gpg-agent autostarted from inside fail to daemonise — gpg then reports
 * "can't connect to the agent" instead of leaving a sandboxed agent behind
 * for the user's other programs.  Landlock mediates neither permissions, owners,
 * extended attributes nor times, so these are refused everywhere: chmod
 * 000 on the user's files is harm enough. */
static const char *const eperm_syscalls[] = {
  "io_uring_setup", "io_uring_enter", "io_uring_register",
  "setsid", "setpgid",
  "chmod", "fchmod", "fchmodat", "fchmodat2",
  "chown", "fchown", "lchown", "fchownat",
  "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
  "setxattrat", "removexattrat",
  "utime", "utimes", "futimesat", "utimensat",
};

/* The read-only fallback without Landlock: everything that makes, changes or
 * removes a name or writes through a path.  Opens are filtered by flag below. */
static const char *const readonly_syscalls[] = {
  "creat", "rename", "renameat", "renameat2", "unlink", "unlinkat",
  "mkdir", "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat",
  "mknod", "mknodat", "truncate",
};

static const guint64 write_open_flags[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND };

static const guint64 namespace_clone_flags[] = {
  CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
  CLONE_NEWNET,
};

const char *
pst_sandbox_fs_to_string (PstSandboxFs fs)
{
  return fs == PST_SANDBOX_FS_LANDLOCK ? "landlock" : "read-only";
}

static gboolean
fail (GError **error, const char *what, int errnum)
{
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot enter the sandbox: %s: %s"), what,
               g_strerror (errnum));
  return FALSE;
}

/* Landlock and seccomp confine only the calling thread. */
static gboolean
check_single_threaded (GError **error)
{
  g_autofree char *status = NULL;
  g_autoptr (GError) local = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, &local))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("cannot enter the sandbox: cannot count the threads: %s"), local->message);
      return FALSE;
    }
  line = strstr (status, "\nThreads:");
  if (line == NULL)
    return fail (error, "/proc/self/status has no thread count", EIO);
  if (g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10) != 1)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("cannot enter the sandbox: the process has more than one thread"));
      return FALSE;
    }
  return TRUE;
}

/* Lowers a limit, never raises one the caller already set lower. */
static gboolean
lower_limit (int resource, const char *name, rlim_t soft, rlim_t hard, GError **error)
{
  struct rlimit lim;

  if (getrlimit (resource, &lim) != 0)
    return fail (error, name, errno);
  if (lim.rlim_max == RLIM_INFINITY || hard < lim.rlim_max)
    lim.rlim_max = hard;
  lim.rlim_cur = MIN (soft, lim.rlim_max);
  if (setrlimit (resource, &lim) != 0)
    return fail (error, name, errno);
  return TRUE;
}

static int
landlock_abi (void)
{
  long abi = syscall (SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

  if (abi < 0)
    return (errno == ENOSYS || errno == EOPNOTSUPP) ? 0 : -errno;
  return (int) abi;
}

static gboolean
landlock_add_dir (int ruleset, const char *path, guint64 access, GError **error)
{
  struct landlock_path_beneath_attr rule = { .allowed_access = access };
  int saved;

  rule.parent_fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rule.parent_fd < 0)
    return fail (error, path, errno);
  if (syscall (SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
    {
      saved = errno;
      close (rule.parent_fd);
      return fail (error, path, saved);
    }
  close (rule.parent_fd);
  return TRUE;
}

/* Must run after PR_SET_NO_NEW_PRIVS. */
static gboolean
landlock_apply (const PstSandboxPolicy *policy, int abi, PstSandboxReport *report,
                GError **error)
{
  LandlockRulesetAttr attr = { 0 };
  int ruleset;

  attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;   /* ABI 1 */
  if (abi >= 2)
    attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3)
    attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
  /* Handled and granted nowhere but beneath the writable directories: no
   * ioctl on a device opened inside the sandbox (TIOCSTI on /dev/tty). */
  if (abi >= 5)
    attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  if (abi >= 4)
    attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
  if (abi >= 6)
    attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;

  ruleset = syscall (SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (ruleset < 0)
    return fail (error, "landlock_create_ruleset", errno);
  if (policy->readable_dirs == NULL && !landlock_add_dir (ruleset, "/", FS_READ, error))
    goto out;
  for (guint i = 0; policy->readable_dirs != NULL && policy->readable_dirs[i] != NULL; i++)
    if (!landlock_add_dir (ruleset, policy->readable_dirs[i], FS_READ, error))
      goto out;
  for (guint i = 0; policy->writable_dirs != NULL && policy->writable_dirs[i] != NULL; i++)
    if (!landlock_add_dir (ruleset, policy->writable_dirs[i], attr.handled_access_fs, error))
      goto out;
  if (syscall (SYS_landlock_restrict_self, ruleset, 0) != 0)
    {
      fail (error, "landlock_restrict_self", errno);
      goto out;
    }
  close (ruleset);
  report->fs = PST_SANDBOX_FS_LANDLOCK;
  report->landlock_abi = abi;
  report->landlock_net = attr.handled_access_net != 0;
  report->landlock_scoped = attr.scoped != 0;
  return TRUE;

out:
  close (ruleset);
  return FALSE;
}

/* seccomp_rule_add for a syscall by name; names the native architecture does
 * not have are skipped (they cannot be called through the filter anyway). */
static int
rule_named (scmp_filter_ctx ctx, guint32 action, const char *name, unsigned int n_args,
            const struct scmp_arg_cmp *args)
{
  int nr = seccomp_syscall_resolve_name (name);

  if (nr == __NR_SCMP_ERROR)
    return 0;
  return seccomp_rule_add_array (ctx, action, nr, n_args, args);
}

/* A deny list fails open for syscalls added after it was written (fchmodat2,
 * setxattrat, open_tree_attr…), so every number above the highest this
 * libseccomp knows answers ENOSYS, as an older kernel would; glibc and gpg
 * fall back from that.  512: the end of every architecture's table today
 * (x86_64's x32 calls carry a separate bit and are refused as a foreign ABI). */
static int
refuse_unknown_syscalls (scmp_filter_ctx ctx)
{
  int highest = 511;
  int rc = 0;

  for (; highest >= 0; highest--)
    {
      char *name = seccomp_syscall_resolve_num_arch (SCMP_ARCH_NATIVE, highest);

      free (name);
      if (name != NULL)
        break;
    }
  for (int nr = highest + 1; rc == 0 && nr < 512; nr++)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), nr, 0);
  return rc;
}

static int
add_rules (scmp_filter_ctx ctx, const PstSandboxPolicy *policy, gboolean read_only)
{
  const struct scmp_arg_cmp not_unix = SCMP_A0 (SCMP_CMP_NE, AF_UNIX, 0);
  int rc;

  rc = refuse_unknown_syscalls (ctx);
  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (kill_syscalls); i++)
    rc = rule_named (ctx, SCMP_ACT_KILL_PROCESS, kill_syscalls[i], 0, NULL);
  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (eperm_syscalls); i++)
    rc = rule_named (ctx, SCMP_ACT_ERRNO (EPERM), eperm_syscalls[i], 0, NULL);

  /* An int argument compared as 64 bits: any garbage in the upper half makes
   * "!= AF_UNIX" true, so the refusal errs on the safe side. */
  if (rc == 0)
    rc = policy->allow_unix_sockets
         ? seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EACCES), SCMP_SYS (socket), 1, not_unix)
         : seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EACCES), SCMP_SYS (socket), 0);
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EACCES), SCMP_SYS (socketpair), 1, not_unix);

  /* clone3 passes its flags in memory, where seccomp cannot look; ENOSYS makes
   * glibc fall back to clone, whose flags can be checked. */
  if (rc == 0)
    rc = rule_named (ctx, SCMP_ACT_ERRNO (ENOSYS), "clone3", 0, NULL);
  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (namespace_clone_flags); i++)
    {
      const struct scmp_arg_cmp has_flag =
        SCMP_A0 (SCMP_CMP_MASKED_EQ, namespace_clone_flags[i], namespace_clone_flags[i]);
      rc = seccomp_rule_add (ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS (clone), 1, has_flag);
    }

  /* Keystrokes pushed into a terminal run as the user, outside any sandbox.
   * The kernel truncates ioctl's request to 32 bits, so compare only those. */
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (ioctl), 1,
                           SCMP_A1 (SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (ioctl), 1,
                           SCMP_A1 (SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));

  /* The limits of other processes of the user (the agent's) are not ours to
   * lower; glibc's setrlimit and getrlimit pass pid 0. */
  if (rc == 0)
    rc = rule_named (ctx, SCMP_ACT_ERRNO (EPERM), "prlimit64", 1,
                     (struct scmp_arg_cmp[]) { SCMP_A0 (SCMP_CMP_NE, 0, 0) });

  if (!read_only)
    return rc;

  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (readonly_syscalls); i++)
    rc = rule_named (ctx, SCMP_ACT_ERRNO (EACCES), readonly_syscalls[i], 0, NULL);
  /* openat2's flags are in memory too; glibc's open() does not use it. */
  if (rc == 0)
    rc = rule_named (ctx, SCMP_ACT_ERRNO (ENOSYS), "openat2", 0, NULL);
  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (write_open_flags); i++)
    {
      guint64 f = write_open_flags[i];

      rc = rule_named (ctx, SCMP_ACT_ERRNO (EACCES), "open", 1,
                       (struct scmp_arg_cmp[]) { SCMP_A1 (SCMP_CMP_MASKED_EQ, f, f) });
      if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EACCES), SCMP_SYS (openat), 1,
                               SCMP_A2 (SCMP_CMP_MASKED_EQ, f, f));
    }
  return rc;
}

static gboolean
seccomp_apply (const PstSandboxPolicy *policy, gboolean read_only, GError **error)
{
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  int rc;

  if (ctx == NULL)
    return fail (error, "seccomp_init", ENOMEM);
  rc = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  /* A binary search over syscall numbers instead of ~150 comparisons in a
   * row on every system call of the worker and of gpg. */
  if (rc == 0)
    rc = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc == 0)
    rc = add_rules (ctx, policy, read_only);
  if (rc == 0)
    rc = seccomp_load (ctx);
  seccomp_release (ctx);
  if (rc != 0)
    return fail (error, "seccomp", -rc);
  return TRUE;
}

/* pst_sandbox_confine_job's filter: signals only to itself, no new
 * processes, no new programs. */
static int
add_job_rules (scmp_filter_ctx ctx, pid_t self)
{
  static const char *const refused[] = {
    "fork", "vfork", "execve", "execveat", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "ptrace", "process_vm_readv", "process_vm_writev", "setpgid", "setsid",
  };
  const struct scmp_arg_cmp other = SCMP_A0 (SCMP_CMP_NE, (scmp_datum_t) self, 0);
  int rc = 0;

  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (refused); i++)
    rc = rule_named (ctx, SCMP_ACT_ERRNO (EPERM), refused[i], 0, NULL);
  /* kill(pid, …), tkill(tid, …), tgkill(tgid, …), rt_sigqueueinfo(tgid, …),
   * rt_tgsigqueueinfo(tgid, …): the first argument must be this process
   * (it has one thread, so its tid is its pid).  raise() and abort() pass. */
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (kill), 1, other);
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (tkill), 1, other);
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (tgkill), 1, other);
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (rt_sigqueueinfo), 1, other);
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (rt_tgsigqueueinfo), 1, other);
  /* clone: threads only (the earlier filter sends clone3 to clone). */
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone), 1,
                           SCMP_A0 (SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
  return rc;
}

gboolean
pst_sandbox_confine_job (GError **error)
{
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  int rc;

  if (ctx == NULL)
    return fail (error, "seccomp_init", ENOMEM);
  rc = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc == 0)
    rc = add_job_rules (ctx, getpid ());
  if (rc == 0)
    rc = seccomp_load (ctx);
  seccomp_release (ctx);
  if (rc != 0)
    return fail (error, "seccomp (job)", -rc);
  return TRUE;
}

gboolean
pst_sandbox_enter (const PstSandboxPolicy *policy, PstSandboxReport *report_out,
                   GError **error)
{
  PstSandboxReport report = { .fs = PST_SANDBOX_FS_READ_ONLY, .memory_limited = FALSE };
  int abi;

  g_return_val_if_fail (policy != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_single_threaded (error))
    return FALSE;
  if (!lower_limit (RLIMIT_CORE, "RLIMIT_CORE", 0, 0, error))
    return FALSE;
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return fail (error, "PR_SET_DUMPABLE", errno);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return fail (error, "PR_SET_NO_NEW_PRIVS", errno);

  abi = policy->no_landlock ? 0 : landlock_abi ();
  if (abi < 0)
    return fail (error, "landlock", -abi);
  if (abi > 0 && !landlock_apply (policy, abi, &report, error))
    return FALSE;
  if (!seccomp_apply (policy, report.fs == PST_SANDBOX_FS_READ_ONLY, error))
    return FALSE;

  /* Limits last: the ruleset and the filter above need descriptors and memory. */
  if (policy->cpu_seconds > 0
      && !lower_limit (RLIMIT_CPU, "RLIMIT_CPU", policy->cpu_seconds,
                       (rlim_t) policy->cpu_seconds + 1, error))
    return FALSE;
#ifndef PST_SANDBOX_ASAN
  /* Under AddressSanitizer the shadow memory alone is terabytes of address
   * space, and any cap makes the sanitizer itself fail: sanitizer builds are
   * test builds, run without the memory cap (report.memory_limited says so). */
  if (policy->max_address_space > 0)
    {
      if (!lower_limit (RLIMIT_AS, "RLIMIT_AS", policy->max_address_space,
                        policy->max_address_space, error))
        return FALSE;
      report.memory_limited = TRUE;
    }
#endif
  if (policy->max_open_files > 0
      && !lower_limit (RLIMIT_NOFILE, "RLIMIT_NOFILE", policy->max_open_files,
                       policy->max_open_files, error))
    return FALSE;
  if (policy->max_file_size > 0
      && !lower_limit (RLIMIT_FSIZE, "RLIMIT_FSIZE", policy->max_file_size,
                       policy->max_file_size, error))
    return FALSE;

  if (report_out != NULL)
    *report_out = report;
  return TRUE;
}
