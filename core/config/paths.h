/* paths.h — where Postern keeps its files (DESIGN.md §5, §7, §8).
 *
 * With a home directory (--home DIR or POSTERN_HOME): DIR/config,
 * DIR/data/postern.db, DIR/run/agent.sock, DIR/data/posternd.log.
 * Without: the XDG base directories ($XDG_CONFIG_HOME/postern/config,
 * $XDG_DATA_HOME/postern/, $XDG_RUNTIME_DIR/postern/).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *home;          /* the home in use, or NULL for XDG */
  char *config_file;
  char *data_dir;
  char *db_path;
  char *run_dir;
  char *socket_path;
  char *log_path;
} PstPaths;

/* @home: a directory, or NULL to use $POSTERN_HOME, else XDG.  A relative
 * home is made absolute.  Transfer full. */
PstPaths *pst_paths_new (const char *home);
void pst_paths_free (PstPaths *paths);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPaths, pst_paths_free)

/* Creates the directories that do not exist yet, mode 0700, and tightens the
 * run directory to 0700 when it exists with a looser mode. */
gboolean pst_paths_ensure (const PstPaths *paths, GError **error);

/* The directory of the message catalogues: LOCALEDIR, or, for a program
 * run from the meson build tree (as the tests do, and as the CLI finds
 * posternd there), the tree's po/ where meson writes LANG/LC_MESSAGES/
 * postern.mo.  Transfer full. */
char *pst_paths_locale_dir (void);

/* The start of each program's main, before any thread: the user's locale
 * (setlocale), Postern's messages from pst_paths_locale_dir in UTF-8, and
 * GLib's C locale for g_ascii_strtoull made at once.  GLib makes that
 * locale on its first use, under a g_once; a thread that waits there can
 * come back with errno set (the futex's EAGAIN), and
 * g_ascii_string_to_unsigned, which reads errno after the call, then
 * refuses a good number: CI run 29 saw the agent refuse "timeout = 30" at
 * start that way, once. */
void pst_paths_init_locale (void);

G_END_DECLS
