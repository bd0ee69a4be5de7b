/* agent.c — `postern agent start|stop|status`, and starting the agent on
 * demand (as gpg starts gpg-agent). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "cli.h"
#include "util/error.h"

static char *
find_agent_binary (void)
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

gboolean
pst_cli_start_agent (PstCli *cli, GError **error)
{
  g_autofree char *binary = find_agent_binary ();
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
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
  if (!pst_paths_ensure (cli->paths, error))
    return FALSE;
  g_ptr_array_add (argv, binary);
  if (cli->paths->home != NULL)
    {
      g_ptr_array_add (argv, "--home");
      g_ptr_array_add (argv, cli->paths->home);
    }
  g_ptr_array_add (argv, NULL);

  null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  log_fd = open (cli->paths->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null_fd < 0 || log_fd < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT, _("cannot open %s: %s"),
                   cli->paths->log_path, g_strerror (errno));
      if (null_fd >= 0)
        close (null_fd);
      return FALSE;
    }
  spawned = g_spawn_async_with_fds (NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
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
          g_autofree char *line = last_log_line (cli->paths->log_path);
          g_set_error (error, PST_ERROR, PST_ERROR_AGENT, _("the agent failed to start: %s"),
                       line ? line : _("see its log"));
          return FALSE;
        }
      c = pst_rpc_client_connect (cli->paths->socket_path, NULL);
      if (c != NULL)
        {
          pst_rpc_client_free (c);
          return TRUE;
        }
      g_usleep (25 * 1000);
    }
  g_set_error (error, PST_ERROR, PST_ERROR_AGENT, _("the agent did not answer within 5 s (log: %s)"),
               cli->paths->log_path);
  return FALSE;
}

static int
agent_status (PstCli *cli, gboolean print)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) c = pst_cli_connect (cli, FALSE, &error);
  g_autoptr (JsonObject) r = NULL;

  if (c == NULL || !(r = pst_rpc_client_call (c, "hello", NULL, NULL, 0, &error)))
    {
      if (cli->json)
        {
          g_autoptr (JsonObject) o = json_object_new ();
          json_object_set_boolean_member (o, "running", FALSE);
          json_object_set_string_member (o, "socket", cli->paths->socket_path);
          pst_cli_print_json (o);
        }
      else if (print)
        printf (_("not running (socket %s)\n"), cli->paths->socket_path);
      return PST_ERROR_AGENT;
    }
  if (!print)
    return 0;
  if (cli->json)
    {
      json_object_set_boolean_member (r, "running", TRUE);
      json_object_set_string_member (r, "socket", cli->paths->socket_path);
      pst_cli_print_json (r);
    }
  else
    printf (_("running: posternd %s, pid %lld, socket %s\n"),
            json_object_get_string_member (r, "agent"),
            (long long) json_object_get_int_member (r, "pid"),
            cli->paths->socket_path);
  return 0;
}

static int
agent_stop (PstCli *cli)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) c = pst_cli_connect (cli, FALSE, &error);
  g_autoptr (JsonObject) r = NULL;

  if (c == NULL)
    {
      if (!cli->json)
        printf ("%s\n", _("the agent is not running"));
      return 0;
    }
  if (!(r = pst_rpc_client_call (c, "agent.stop", NULL, NULL, 0, &error)))
    return pst_cli_fail (_("agent stop"), error);
  /* Done when the socket is gone. */
  for (int i = 0; i < 400 && g_file_test (cli->paths->socket_path, G_FILE_TEST_EXISTS); i++)
    g_usleep (25 * 1000);
  if (g_file_test (cli->paths->socket_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (&error, PST_ERROR, PST_ERROR_FAILED, _("the agent did not stop within 10 s"));
      return pst_cli_fail (_("agent stop"), error);
    }
  if (!cli->json)
    printf ("%s\n", _("agent stopped"));
  return 0;
}

int
pst_cli_cmd_agent (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };

  if (!pst_cli_parse ("agent", "start|stop|status", entries, &argc, &argv))
    return PST_ERROR_USAGE;
  if (argc != 2)
    return pst_cli_usage ("agent", _("say start, stop or status"));
  if (strcmp (argv[1], "status") == 0)
    return agent_status (cli, TRUE);
  if (strcmp (argv[1], "stop") == 0)
    return agent_stop (cli);
  if (strcmp (argv[1], "start") == 0)
    {
      g_autoptr (GError) error = NULL;
      if (agent_status (cli, FALSE) == 0)
        {
          if (!cli->json)
            printf ("%s\n", _("the agent is already running"));
          return 0;
        }
      if (!pst_cli_start_agent (cli, &error))
        return pst_cli_fail (_("agent start"), error);
      return agent_status (cli, TRUE);
    }
  return pst_cli_usage ("agent", _("say start, stop or status"));
}
