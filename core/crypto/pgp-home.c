/* pgp-home.c — what the GnuPG home says about the caches and about
 * pgp-direct.c (pgp-private.h, pst_pgp_home_check).
 *
 * The keyring: pgp.c's key lookups and pgp-autocrypt.c's exports are kept
 * for 30 s, which must not outlive a change of the keyring (a revocation
 * imported by gpg, a key deleted): the keyring and trustdb files are stat'ed
 * at each lookup (mtime with nanoseconds, size, inode) and the caches are
 * dropped when that changed.
 *
 * The configuration: gpg reads gpg.conf and common.conf, and many options
 * there change what gpg writes (encrypt-to, throw-keyids, cipher-algo,
 * compliance, group, …), which pgp-direct.c does not do.  gpgconf knows only
 * part of gpg's options, so the files are read here: one option a line, its
 * name the first word (gpg's own format, no quoting to speak of).  The
 * in-process path is taken only when every option named there is one of
 * the harmless ones below.
 *
 * The stamp (about 14 stat calls, a twentieth of an S/MIME batch message's
 * time) is taken again only when an inotify watch on the directories of
 * those files has seen one of them change since the last: the kernel queues
 * the event before the writer's call returns, so a change made before a
 * lookup is seen by it, as with the stamp; and at least every 30 s.  Where
 * a watch cannot be made or cannot see every change (no inotify instance
 * left, a symbolic link, a file mounted in, a file system that is not
 * local), every lookup stamps. */
#include "crypto/pgp-private.h"

#include <stdint.h>

#include <errno.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "crypto/pgp.h"

/* Options that do not change the OpenPGP message gpg writes for
 * `--encrypt --sign -r KEY… -u KEY` with an explicit key. */
static const char *const harmless[] = {
  "agent-program", "ask-cert-level", "auto-key-import", "auto-key-locate", "auto-key-retrieve",
  "batch", "cert-digest-algo", "charset", "completes-needed", "default-cert-level",
  "default-key", "default-new-key-algo", "default-preference-list", "dirmngr-program",
  "display-charset", "fixed-list-mode", "keyboxd-program", "keyid-format", "keyserver",
  "keyserver-options", "list-options", "lock-never", "lock-once", "marginals-needed",
  "max-cert-depth", "no-auto-key-import", "no-auto-key-locate", "no-auto-key-retrieve",
  "no-autostart", "no-greeting", "no-permission-warning", "no-secmem-warning", "no-symkey-cache",
  "no-tty", "no-use-agent", "no-verbose", "photo-viewer", "pinentry-mode", "quiet",
  "require-cross-certification", "trust-model", "trusted-key", "use-agent", "use-keyboxd",
  "utf8-strings", "verbose", "verify-options", "with-fingerprint", "with-keygrip",
  "with-subkey-fingerprint", "with-subkey-fingerprints", "with-wkd-hash", "log-file",
  "debug-level", "tofu-default-policy", "auto-check-trustdb", "no-auto-check-trustdb",
  /* What the in-process path writes anyway: armor, no version, no comment. */
  "armor", "no-emit-version", "no-comments",
  NULL,
};

typedef struct {
  char *stamp;      /* of the keyring and configuration files */
  gboolean direct;  /* the configuration lets pgp-direct.c run */
  int watch;        /* inotify instance watching their directories, or -1 */
  int keyboxd;      /* its watch descriptor of public-keys.d, or -1 */
  gint64 stamped;   /* when (monotonic µs) */
  gint64 tried;     /* when a watch was last tried and could not be made, or 0 */
} HomeState;

/* A stamp is taken again after this long even when the watch saw nothing:
 * what a watch cannot see (a change through a mount the checks above did
 * not know of) counts within it, as long as the key lookups are kept. */
#define STAMP_MAX_AGE_US (30 * G_USEC_PER_SEC)

static GMutex home_lock;
static GHashTable *homes;   /* home ("" for the default) -> HomeState* */

static void
home_state_free (HomeState *s)
{
  if (s->watch >= 0)
    close (s->watch);
  g_free (s->stamp);
  g_free (s);
}

/* Whether a file named @name, in a directory watched, is one stamped (or
 * a directory that holds them). */
static gboolean
stamped_name (const char *name)
{
  return g_str_has_prefix (name, "pubring.") || g_str_has_prefix (name, "trustdb.")
         || g_str_has_prefix (name, "gpg.conf") || g_str_equal (name, "common.conf")
         || g_str_equal (name, "public-keys.d") || g_str_equal (name, "gnupg");
}

/* Whether a change of @path (a file stamped, or a directory watched) is an
 * event of the watch on its directory: not a symbolic link (what it names
 * may change elsewhere), on the file system of @dir_st (not a file mounted
 * there), and that a local one, which tells inotify of every change (not
 * NFS, FUSE or a host's shared folder, changed by others). */
static gboolean
watchable (const char *path, const struct stat *dir_st)
{
  struct stat st;
  struct statfs fs;

  if (lstat (path, &st) != 0)
    return errno == ENOENT;
  if (S_ISLNK (st.st_mode) || (dir_st != NULL && st.st_dev != dir_st->st_dev))
    return FALSE;
  if (statfs (path, &fs) != 0)
    return FALSE;
  switch ((unsigned long) fs.f_type)
    {
    case EXT4_SUPER_MAGIC: case XFS_SUPER_MAGIC: case BTRFS_SUPER_MAGIC: case TMPFS_MAGIC:
    case F2FS_SUPER_MAGIC: case 0x2fc12fc1 /* zfs */: case OVERLAYFS_SUPER_MAGIC:
      return TRUE;
    default:
      return FALSE;
    }
}

/* An inotify instance watching @dir, its public-keys.d (*@keyboxd_out:
 * that watch), and /etc/gnupg (or /etc, for its creation); -1 where one of
 * them, or one of @files, is not watchable.  The files are looked at once
 * the watches are in place, so that none becomes a link unseen. */
static int
watch_new (const char *dir, GPtrArray *files, int *keyboxd_out)
{
  const guint32 mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM
                       | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  g_autofree char *keyboxd = g_build_filename (dir, "public-keys.d", NULL);
  const char *etc = "/etc/gnupg";
  struct stat dir_st, etc_st;
  int fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);

  *keyboxd_out = -1;
  if (fd < 0)
    return -1;
  if (inotify_add_watch (fd, dir, mask | IN_DONT_FOLLOW) < 0
      || (inotify_add_watch (fd, etc, mask | IN_DONT_FOLLOW) < 0
          && (errno != ENOENT || inotify_add_watch (fd, "/etc", IN_CREATE | IN_MOVED_TO) < 0)))
    goto unwatchable;
  *keyboxd_out = inotify_add_watch (fd, keyboxd, mask | IN_DONT_FOLLOW);
  if (*keyboxd_out < 0 && errno != ENOENT)
    goto unwatchable;
  if (lstat (dir, &dir_st) != 0 || !watchable (dir, NULL) || !watchable (keyboxd, &dir_st)
      || !watchable (etc, NULL))
    goto unwatchable;
  if (lstat (etc, &etc_st) != 0)
    etc_st = dir_st;   /* none: its files do not exist either */
  for (guint i = 0; i < files->len; i++)
    if (!watchable (files->pdata[i], g_str_has_prefix (files->pdata[i], "/etc/gnupg/") ? &etc_st
                                                                                        : &dir_st))
      goto unwatchable;
  return fd;
unwatchable:
  close (fd);
  *keyboxd_out = -1;
  return -1;
}

/* Reads what @s's watch has queued: FALSE when one of the files stamped
 * (or a watched directory itself) may have changed, or the queue
 * overflowed. */
static gboolean
watch_quiet (HomeState *s)
{
  char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  gboolean quiet = TRUE;
  ssize_t n;

  while ((n = read (s->watch, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + n;)
      {
        const struct inotify_event *e = (const struct inotify_event *) p;

        if ((e->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
            || e->wd == s->keyboxd || (e->len > 0 && stamped_name (e->name)))
          quiet = FALSE;
        p += sizeof *e + e->len;
      }
  return quiet && (n == 0 || errno == EAGAIN);
}

static char *
resolve_home (const char *home)
{
  const char *dflt;

  if (home != NULL)
    return g_strdup (home);
  dflt = gpgme_get_dirinfo ("homedir");
  return dflt != NULL ? g_strdup (dflt) : g_build_filename (g_get_home_dir (), ".gnupg", NULL);
}

/* The configuration files gpg and its tools read for @dir, the versioned
 * gpg.conf-X.Y.Z names included (gpg reads the first that exists; all
 * are counted here). */
static GPtrArray *
conf_files (const char *dir)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  gpgme_engine_info_t info = NULL;
  const char *dirs[] = { dir, "/etc/gnupg" };

  if (gpgme_get_engine_info (&info) != GPG_ERR_NO_ERROR)
    info = NULL;
  for (; info != NULL; info = info->next)
    if (info->protocol == GPGME_PROTOCOL_OpenPGP)
      break;
  for (guint d = 0; d < G_N_ELEMENTS (dirs); d++)
    {
      g_ptr_array_add (files, g_build_filename (dirs[d], "gpg.conf", NULL));
      g_ptr_array_add (files, g_build_filename (dirs[d], "common.conf", NULL));
      if (info != NULL && info->version != NULL)
        {
          g_auto (GStrv) parts = g_strsplit (info->version, ".", 3);
          GString *v = g_string_new ("gpg.conf");

          for (guint i = 0; parts[i] != NULL; i++)
            {
              g_string_append_printf (v, "%s%s", i == 0 ? "-" : ".", parts[i]);
              g_ptr_array_add (files, g_build_filename (dirs[d], v->str, NULL));
            }
          g_string_free (v, TRUE);
        }
    }
  return files;
}

static void
stamp_file (GString *stamp, const char *path)
{
  struct stat st;

  if (stat (path, &st) != 0)
    g_string_append (stamp, "-\n");
  else
    g_string_append_printf (stamp, "%ju:%ju:%jd:%jd.%09ld\n", (uintmax_t) st.st_dev,
                            (uintmax_t) st.st_ino, (intmax_t) st.st_size,
                            (intmax_t) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec);
}

/* FALSE when @path names an option not in harmless[]. */
static gboolean
conf_is_harmless (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return TRUE;   /* gpg does not read it either */
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      gsize n = strcspn (line, " \t");
      gboolean known = FALSE;

      /* Comments, blank lines, and the global file's [meta] lines. */
      if (*line == '\0' || *line == '#' || *line == '[')
        continue;
      if (n > 2 && line[0] == '-' && line[1] == '-')
        line += 2, n -= 2;
      for (guint k = 0; harmless[k] != NULL && !known; k++)
        known = strlen (harmless[k]) == n && g_ascii_strncasecmp (harmless[k], line, n) == 0;
      if (!known)
        {
          g_debug ("%s: option %.*s: OpenPGP encryption goes through gpg", path, (int) n, line);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
pst_pgp_home_check (const char *home)
{
  static const char *const keyring[] = {
    "pubring.kbx", "pubring.gpg", "trustdb.gpg", "public-keys.d/pubring.db", NULL,
  };
  g_autofree char *dir = NULL;
  g_autoptr (GPtrArray) confs = NULL;
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (GString) stamp = g_string_new (NULL);
  HomeState *s;
  gboolean direct, changed, try_watch;
  int watch = -1, keyboxd = -1;
  gint64 now = g_get_monotonic_time (), tried = 0;

  g_mutex_lock (&home_lock);
  if (homes == NULL)
    homes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) home_state_free);
  s = g_hash_table_lookup (homes, home ? home : "");
  if (s != NULL && s->watch >= 0)
    {
      if (now - s->stamped < STAMP_MAX_AGE_US && watch_quiet (s))
        {
          direct = s->direct;
          g_mutex_unlock (&home_lock);
          return direct;
        }
      /* Watched anew below, before the files are stamped: what changes
       * after that is seen by the next lookup. */
      close (s->watch);
      s->watch = -1;
    }
  /* A home that could not be watched is stamped without trying again
   * until the stamp's age is up: the attempt costs more than the stamp. */
  try_watch = s == NULL || s->tried == 0 || now - s->tried >= STAMP_MAX_AGE_US;
  if (!try_watch)
    tried = s->tried;
  g_mutex_unlock (&home_lock);

  dir = resolve_home (home);
  confs = conf_files (dir);
  files = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; keyring[i] != NULL; i++)
    g_ptr_array_add (files, g_build_filename (dir, keyring[i], NULL));
  for (guint i = 0; i < confs->len; i++)
    g_ptr_array_add (files, g_strdup (confs->pdata[i]));
  if (try_watch && (watch = watch_new (dir, files, &keyboxd)) < 0)
    tried = now;
  for (guint i = 0; i < files->len; i++)
    stamp_file (stamp, files->pdata[i]);

  g_mutex_lock (&home_lock);
  s = g_hash_table_lookup (homes, home ? home : "");
  changed = s == NULL || !g_str_equal (s->stamp, stamp->str);
  direct = s != NULL && s->direct;
  if (!changed)
    {
      s->stamped = now;
      s->tried = tried;
    }
  if (!changed && s->watch < 0)
    {
      /* Another thread may have watched meanwhile: the first watch stays. */
      s->watch = watch;
      s->keyboxd = keyboxd;
      watch = -1;
    }
  g_mutex_unlock (&home_lock);
  if (watch >= 0 && !changed)
    close (watch);
  if (!changed)
    return direct;

  direct = TRUE;
  for (guint i = 0; i < confs->len && direct; i++)
    direct = conf_is_harmless (confs->pdata[i]);
  if (s != NULL)
    pst_pgp_forget_keys ();
  g_mutex_lock (&home_lock);
  s = g_new0 (HomeState, 1);
  s->stamp = g_string_free (g_steal_pointer (&stamp), FALSE);
  s->direct = direct;
  s->watch = watch;
  s->keyboxd = keyboxd;
  s->stamped = now;
  s->tried = tried;
  g_hash_table_replace (homes, g_strdup (home ? home : ""), s);
  g_mutex_unlock (&home_lock);
  return direct;
}
