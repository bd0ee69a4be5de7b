#include <stdio.h>

#include "cli.h"
#include "util/error.h"

int
pst_cli_fail (const char *what, const GError *error)
{
  fprintf (stderr, "postern: %s: %s\n", what, error ? error->message : _("failed"));
  return error ? pst_error_exit_code (error) : PST_ERROR_FAILED;
}

int
pst_cli_usage (const char *command, const char *why)
{
  if (command)
    fprintf (stderr, "postern: %s: %s\n", command, why);
  else
    fprintf (stderr, "postern: %s: %s\n", _("unknown option"), why);
  return PST_ERROR_USAGE;
}

gboolean
pst_cli_parse (const char *command, const char *params, GOptionEntry *entries, int *argc,
               char ***argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_autoptr (GError) error = NULL;

  g_option_context_set_help_enabled (ctx, TRUE);
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      pst_cli_usage (command, error->message);
      return FALSE;
    }
  return TRUE;
}

PstRpcClient *
pst_cli_connect (PstCli *cli, gboolean start, GError **error)
{
  g_autoptr (GError) first = NULL;
  PstRpcClient *c = pst_rpc_client_connect (cli->paths->socket_path, &first);

  if (c != NULL || !start)
    {
      if (c == NULL)
        g_propagate_error (error, g_steal_pointer (&first));
      return c;
    }
  if (!pst_cli_start_agent (cli, error))
    return NULL;
  return pst_rpc_client_connect (cli->paths->socket_path, error);
}

JsonObject *
pst_cli_call (PstCli *cli, const char *what, const char *method, JsonObject *params,
              const int *fds, guint n_fds, int *exit_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = pst_cli_connect (cli, TRUE, &error);
  JsonObject *r;

  if (client == NULL)
    {
      if (params)
        json_object_unref (params);
      *exit_out = pst_cli_fail (what, error);
      return NULL;
    }
  r = pst_rpc_client_call (client, method, params, fds, n_fds, &error);
  if (r == NULL)
    *exit_out = pst_cli_fail (what, error);
  return r;
}

void
pst_cli_print_json (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  json_node_set_object (node, object);
  text = json_to_string (node, TRUE);
  printf ("%s\n", text);
}

char *
pst_cli_format_time (gint64 t)
{
  g_autoptr (GDateTime) dt = t > 0 ? g_date_time_new_from_unix_local (t) : NULL;

  return dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("-");
}
