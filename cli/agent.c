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
#include "rpc/spawn.h"
#include "util/error.h"

gboolean
pst_cli_start_agent (PstCli *cli, GError **error)
{
  return pst_paths_ensure (cli->paths, error)
         && pst_agent_spawn (cli->paths->home, cli->paths->socket_path, cli->paths->log_path, NULL,
                             error);
}

/* Each string of array @member of @r as "warning: …". */
static void
print_warnings (JsonObject *r, const char *member)
{
  JsonNode *w = json_object_get_member (r, member);
  JsonArray *a = w != NULL && JSON_NODE_HOLDS_ARRAY (w) ? json_node_get_array (w) : NULL;

  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      g_autofree char *line = pst_cli_safe (json_array_get_string_element (a, i));

      printf (_("warning: %s\n"), line);
    }
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
    {
      printf (_("running: posternd %s, pid %lld, socket %s\n"),
              json_object_get_string_member (r, "agent"),
              (long long) json_object_get_int_member (r, "pid"),
              cli->paths->socket_path);
      /* Keys of the configuration the agent does not know (a misspelt
       * one does nothing), and bridge listeners that are configured but
       * not listening: said, so that they are seen. */
      print_warnings (r, "config_warnings");
      print_warnings (r, "bridge_errors");
    }
  return 0;
}

/* Whether process @pid has ended: no such process, or a zombie (a
 * detached agent's parent is init, which may reap it seconds later). */
static gboolean
process_ended (gint64 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/stat", pid);
  g_autofree char *stat = NULL;
  const char *end;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  end = strrchr (stat, ')');
  return end != NULL && (end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X'));
}

/* Whether the stopped agent is gone: its socket (when it made it), or
 * its process @pid (0: an agent that did not say). */
static gboolean
agent_gone (PstCli *cli, gint64 pid)
{
  return !g_file_test (cli->paths->socket_path, G_FILE_TEST_EXISTS) || (pid > 0 && process_ended (pid));
}

static int
agent_stop (PstCli *cli)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) c = pst_cli_connect (cli, FALSE, &error);
  g_autoptr (JsonObject) r = NULL;
  gboolean gone = FALSE;
  gint64 pid;

  if (c == NULL)
    {
      if (!cli->json)
        printf ("%s\n", _("the agent is not running"));
      return 0;
    }
  if (!(r = pst_rpc_client_call (c, "agent.stop", NULL, NULL, 0, &error)))
    return pst_cli_fail (_("agent stop"), error);
  /* Done when the socket is gone, or, where systemd keeps the socket
   * (socket activation: it starts the agent again on the next
   * connection), when the agent's process has ended. */
  pid = json_object_get_int_member_with_default (r, "pid", 0);
  for (int i = 0; i < 400 && !(gone = agent_gone (cli, pid)); i++)
    g_usleep (25 * 1000);
  if (!gone)
    {
      g_set_error (&error, PST_ERROR, PST_ERROR_FAILED, _("the agent did not stop within 10 s"));
      return pst_cli_fail (_("agent stop"), error);
    }
  if (!cli->json)
    printf ("%s\n", _("agent stopped"));
  return 0;
}

/* Parses the options of agent start|stop|status, which take no arguments. */
static gboolean
parse_bare (PstCli *cli, const char *what, int argc, char **argv, int *exit_out)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };

  if (!pst_cli_parse (cli, entries, &argc, &argv, exit_out))
    return FALSE;
  if (argc != 1)
    {
      *exit_out = pst_cli_usage (what, _("takes no arguments"));
      return FALSE;
    }
  return TRUE;
}

static int
agent_start (PstCli *cli, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!parse_bare (cli, "agent start", argc, argv, &status))
    return status;
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

static int
agent_stop_cmd (PstCli *cli, int argc, char **argv)
{
  int status = 0;

  if (!parse_bare (cli, "agent stop", argc, argv, &status))
    return status;
  return agent_stop (cli);
}

static int
agent_status_cmd (PstCli *cli, int argc, char **argv)
{
  int status = 0;

  if (!parse_bare (cli, "agent status", argc, argv, &status))
    return status;
  return agent_status (cli, TRUE);
}

const PstCliCmd pst_cli_agent_cmds[] = {
  { "start", agent_start, NULL, NULL,
    N_("start the agent (any command that needs it starts it too)"), FALSE },
  { "stop", agent_stop_cmd, NULL, NULL, N_("stop the agent once the requests in progress end"),
    FALSE },
  { "status", agent_status_cmd, NULL, NULL,
    N_("say whether the agent runs: its version, pid and socket (exit 6: it does not)"), FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
