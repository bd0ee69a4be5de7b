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

G_END_DECLS
