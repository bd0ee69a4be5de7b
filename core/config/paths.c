#include "config/paths.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <sys/stat.h>

#include "util/error.h"

PstPaths *
pst_paths_new (const char *home)
{
  PstPaths *p = g_new0 (PstPaths, 1);
  g_autofree char *config_dir = NULL;

  if (home == NULL || *home == '\0')
    home = g_getenv ("POSTERN_HOME");
  if (home != NULL && *home != '\0')
    {
      p->home = g_canonicalize_filename (home, NULL);
      p->config_file = g_build_filename (p->home, "config", NULL);
      p->data_dir = g_build_filename (p->home, "data", NULL);
      p->run_dir = g_build_filename (p->home, "run", NULL);
    }
  else
    {
      p->config_file = g_build_filename (g_get_user_config_dir (), "postern", "config", NULL);
      p->data_dir = g_build_filename (g_get_user_data_dir (), "postern", NULL);
      p->run_dir = g_build_filename (g_get_user_runtime_dir (), "postern", NULL);
    }
  p->db_path = g_build_filename (p->data_dir, "postern.db", NULL);
  p->socket_path = g_build_filename (p->run_dir, "agent.sock", NULL);
  /* The log is state, not data (XDG Base Directory): $XDG_STATE_HOME, or
   * under --home with everything else. */
  p->log_path = p->home != NULL ? g_build_filename (p->data_dir, "posternd.log", NULL)
                                : g_build_filename (g_get_user_state_dir (), "postern",
                                                    "posternd.log", NULL);
  return p;
}

void
pst_paths_free (PstPaths *paths)
{
  if (paths == NULL)
    return;
  g_free (paths->home);
  g_free (paths->config_file);
  g_free (paths->data_dir);
  g_free (paths->db_path);
  g_free (paths->run_dir);
  g_free (paths->socket_path);
  g_free (paths->log_path);
  g_free (paths);
}

static gboolean
ensure_dir (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot create %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  if (g_chmod (dir, 0700) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot set the mode of %s: %s", dir,
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_paths_ensure (const PstPaths *paths, GError **error)
{
  g_autofree char *config_dir = g_path_get_dirname (paths->config_file);
  g_autofree char *log_dir = g_path_get_dirname (paths->log_path);

  if (paths->home != NULL && !ensure_dir (paths->home, error))
    return FALSE;
  return ensure_dir (config_dir, error) && ensure_dir (paths->data_dir, error)
         && ensure_dir (paths->run_dir, error) && ensure_dir (log_dir, error);
}

char *
pst_paths_locale_dir (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : NULL;
  g_autofree char *tree = dir ? g_build_filename (dir, "..", "build.ninja", NULL) : NULL;

  if (tree && g_file_test (tree, G_FILE_TEST_EXISTS))
    return g_build_filename (dir, "..", "po", NULL);
  return g_strdup (LOCALEDIR);
}

void
pst_paths_init_locale (void)
{
  g_autofree char *locale_dir = NULL;

  setlocale (LC_ALL, "");
  (void) g_ascii_strtoull ("0", NULL, 10);
  locale_dir = pst_paths_locale_dir ();
  bindtextdomain (GETTEXT_PACKAGE, locale_dir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}
