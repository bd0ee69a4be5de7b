/* spawn.c — see spawn.h. */
#include "rpc/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "rpc/client.h"
#include "util/error.h"

char *
pst_agent_find_binary (void)
{
  const char *env = g_getenv ("POSTERN_AGENT");
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : NULL;
  char *candidates[3] = { NULL, NULL, NULL };
  char *found = NULL;

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (dir != NULL)
    {
      candidates[0] = g_build_filename (dir, "posternd", NULL);
      candidates[1] = g_build_filename (dir, "..", "agent", "posternd", NULL);   /* build tree */
    }
  candidates[2] = g_build_filename (BINDIR, "posternd", NULL);
  for (int i = 0; i < 3 && found == NULL; i++)
    if (candidates[i] && g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      found = g_canonicalize_filename (candidates[i], NULL);
  for (int i = 0; i < 3; i++)
    g_free (candidates[i]);
  return found ? found : g_find_program_in_path ("posternd");
}

static void
child_setup (gpointer data)
{
  setsid ();
}

static char *
last_log_line (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint n;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (g_strchomp (text), "\n", -1);
  n = g_strv_length (lines);
  return n ? g_strdup (lines[n - 1]) : NULL;
}

/* The agent's log is rotated when it starts: past PST_LOG_ROTATE_BYTES the
 * log becomes LOG.1 (the previous LOG.1 goes), so that an agent started
 * every day for years keeps at most twice that. */
static void
rotate_log (const char *log_path)
{
  struct stat st;
  g_autofree char *old = g_strconcat (log_path, ".1", NULL);

  if (stat (log_path, &st) == 0 && st.st_size > PST_LOG_ROTATE_BYTES
      && rename (log_path, old) != 0)
    g_debug ("cannot rotate %s: %s", log_path, g_strerror (errno));
}

gboolean
pst_agent_spawn (const char *home, const char *socket_path, const char *log_path, GPid *pid_out,
                 GError **error)
{
  g_autofree char *binary = pst_agent_find_binary ();
  const char *argv[] = { binary, home ? "--home" : NULL, home, NULL };
  GError *local = NULL;
  GPid pid = 0;
  int null_fd, log_fd;
  gboolean spawned;

  if (binary == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT,
                   _("cannot find posternd (set POSTERN_AGENT to its path)"));
      return FALSE;
    }
  rotate_log (log_path);
  null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  log_fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null_fd < 0 || log_fd < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT, _("cannot open %s: %s"), log_path,
                   g_strerror (errno));
      if (null_fd >= 0)
        close (null_fd);
      return FALSE;
    }
  spawned = g_spawn_async_with_fds (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                    child_setup, NULL, &pid, null_fd, log_fd, log_fd, &local);
  close (null_fd);
  close (log_fd);
  if (!spawned)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT, _("cannot start %s: %s"), binary,
                   local->message);
      g_error_free (local);
      return FALSE;
    }

  /* Wait until it answers, or until it dies. */
  for (int i = 0; i < 200; i++)
    {
      PstRpcClient *c;
      int status = 0;

      if (waitpid (pid, &status, WNOHANG) == pid)
        {
          g_autofree char *line = last_log_line (log_path);
          g_set_error (error, PST_ERROR, PST_ERROR_AGENT, _("the agent failed to start: %s"),
                       line ? line : _("see its log"));
          return FALSE;
        }
      c = pst_rpc_client_connect (socket_path, NULL);
      if (c != NULL)
        {
          pst_rpc_client_free (c);
          if (pid_out)
            *pid_out = pid;
          return TRUE;
        }
      g_usleep (25 * 1000);
    }
  g_set_error (error, PST_ERROR, PST_ERROR_AGENT, _("the agent did not answer within 5 s (log: %s)"),
               log_path);
  return FALSE;
}
