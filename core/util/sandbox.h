/* sandbox.h — confine the calling process before it touches untrusted data.
 *
 * The process that parses hostile mail (MIME, decryption and verification
 * output, HTML) must not be able to reach the network, write outside a few
 * directories, exhaust the machine, or leave a core with decrypted text.
 * pst_sandbox_enter() applies, in this order and irreversibly:
 *
 *   - no core dumps (RLIMIT_CORE 0, PR_SET_DUMPABLE 0) and PR_SET_NO_NEW_PRIVS;
 *   - rlimits on CPU time, address space, open files and file size;
 *   - Landlock (when the kernel has it): the whole file system (or the
 *     directories policy->readable_dirs) readable and executable, writable
 *     only beneath policy->writable_dirs; with Landlock
 *     ABI >= 4 every TCP bind/connect refused, with ABI >= 6 no connecting to
 *     abstract Unix sockets and no signals to processes outside the sandbox;
 *   - a seccomp filter (see sandbox.c for the exact lists): socket() only for
 *     AF_UNIX (or not at all), refused with EACCES; the kernel's escape and
 *     attack surface (ptrace, bpf, mount, namespaces, keyctl, io_uring, …)
 *     refused or fatal; metadata changes (chmod, chown, xattrs, times) refused,
 *     since Landlock does not mediate them.
 *
 * Without Landlock the seccomp filter also refuses every open for writing,
 * creat, rename, unlink, mkdir, link and truncate: the file system becomes
 * read-only (writable_dirs too, so gpg may fail to write its lock files and
 * random_seed).  The report says which of the two was applied.
 *
 * Everything applies to the calling thread and, across fork and execve, to
 * its descendants (gpg, started by GPGME, inherits it).  The caller must be
 * single-threaded (checked: the call fails otherwise), must close every file
 * descriptor the sandbox should not keep (inherited descriptors keep the
 * access they were opened with), and must start gpg-agent *before*
 * sandboxing: a gpg-agent autostarted from inside would inherit the sandbox
 * and serve the user's other programs from it.
 *
 * Not covered, by design of the kernel interfaces: connect() to a
 * *pathname* Unix socket (the session D-Bus, dirmngr, posternd's own socket)
 * when allow_unix_sockets is set — seccomp cannot read the address and
 * Landlock ABI 7 does not mediate it.  Leave allow_unix_sockets off unless
 * the process must reach gpg-agent itself.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What to confine to.  Zero-initialise, then set what you need: a zero
 * limit means "leave that limit as it is". */
typedef struct {
  /* NULL-terminated list of existing directories beneath which files may be
   * created, written and removed (e.g. the GNUPGHOME); NULL for none. */
  const char *const *writable_dirs;
  /* NULL-terminated list of existing directories beneath which files may be
   * read and executed; NULL for the whole file system.  The worker needs
   * the system's libraries and configuration, gpg and its home, not the
   * user's files or Postern's store.  Only Landlock can confine reads: in
   * the read-only fallback everything stays readable. */
  const char *const *readable_dirs;
  /* TRUE: socket(AF_UNIX) and socketpair(AF_UNIX) are allowed (gpg talks
   * to gpg-agent).  FALSE: only socketpair(AF_UNIX); socket() refused. */
  gboolean allow_unix_sockets;
  /* RLIMIT_CPU soft limit in seconds (SIGXCPU; SIGKILL a second later). */
  guint cpu_seconds;
  /* RLIMIT_AS in bytes: all mappings, libraries and thread stacks included.
   * Not applied under AddressSanitizer, whose shadow memory needs terabytes
   * of address space (the report says so). */
  guint64 max_address_space;
  /* RLIMIT_NOFILE: descriptors numbered at or above it cannot be made. */
  guint max_open_files;
  /* RLIMIT_FSIZE in bytes: the largest file the process may write. */
  guint64 max_file_size;
  /* TRUE: behave as if the kernel had no Landlock (the read-only seccomp
   * fallback); for tests, and for kernels whose Landlock misbehaves. */
  gboolean no_landlock;
} PstSandboxPolicy;

typedef enum {
  PST_SANDBOX_FS_LANDLOCK = 1,  /* writable only beneath writable_dirs */
  PST_SANDBOX_FS_READ_ONLY,     /* seccomp fallback: nothing writable */
} PstSandboxFs;

/* What pst_sandbox_enter() actually applied. */
typedef struct {
  PstSandboxFs fs;
  int landlock_abi;          /* the kernel's Landlock ABI, 0 without Landlock */
  gboolean landlock_net;     /* TCP bind/connect also refused by Landlock */
  gboolean landlock_scoped;  /* abstract sockets and signals scoped */
  gboolean memory_limited;   /* FALSE when max_address_space was skipped */
} PstSandboxReport;

/* Confines the calling process as @policy says, for good.
 *
 * On success fills @report_out (may be NULL) and returns TRUE.  Fails closed
 * — FALSE with @error set, and the caller must then not analyse anything —
 * when the process has more than one thread, when an rlimit, prctl or the
 * seccomp filter cannot be applied, when a writable directory cannot be
 * opened, or when Landlock exists but refuses the ruleset.  A failure may
 * leave some restrictions applied; the process should exit. */
gboolean pst_sandbox_enter (const PstSandboxPolicy *policy,
                            PstSandboxReport *report_out,
                            GError **error);

/* After pst_sandbox_enter, in a process forked for one job (the
 * analysis worker's children): a further filter, which no later one can
 * undo, by which it may send signals only to itself (a compromised job
 * cannot stop or kill its zygote, its sibling jobs or the agent, whatever
 * Landlock's signal scoping the kernel has) and start no process and no
 * program (fork, vfork, clone without CLONE_THREAD, execve).  FALSE with
 * @error when the filter cannot be loaded: the job must not run. */
gboolean pst_sandbox_confine_job (GError **error);

/* "landlock" or "read-only", for logs and reasons. */
const char *pst_sandbox_fs_to_string (PstSandboxFs fs);

G_END_DECLS
