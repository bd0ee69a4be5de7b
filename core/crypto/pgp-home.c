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
 * the harmless ones below. */
#include "crypto/pgp-private.h"

#include <stdint.h>

#include <string.h>
#include <sys/stat.h>

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
} HomeState;

static GMutex home_lock;
static GHashTable *homes;   /* home ("" for the default) -> HomeState* */

static void
home_state_free (HomeState *s)
{
  g_free (s->stamp);
  g_free (s);
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
  g_autofree char *dir = resolve_home (home);
  g_autoptr (GPtrArray) confs = conf_files (dir);
  g_autoptr (GString) stamp = g_string_new (NULL);
  HomeState *s;
  gboolean direct, changed;

  for (guint i = 0; keyring[i] != NULL; i++)
    {
      g_autofree char *p = g_build_filename (dir, keyring[i], NULL);
      stamp_file (stamp, p);
    }
  for (guint i = 0; i < confs->len; i++)
    stamp_file (stamp, confs->pdata[i]);

  g_mutex_lock (&home_lock);
  if (homes == NULL)
    homes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) home_state_free);
  s = g_hash_table_lookup (homes, home ? home : "");
  changed = s == NULL || !g_str_equal (s->stamp, stamp->str);
  direct = s != NULL && s->direct;
  g_mutex_unlock (&home_lock);
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
  g_hash_table_replace (homes, g_strdup (home ? home : ""), s);
  g_mutex_unlock (&home_lock);
  return direct;
}
