/* watch.c — `postern watch [EVENT…]`: prints the agent's notifications as
 * they come (DESIGN.md §5), one line each; with --json one JSON object per
 * line: {"event": NAME, "params": {...}, "time": UNIX_SECONDS}. */
#include <stdio.h>

#include "cli.h"
#include "util/error.h"
#include "util/text.h"

static void
print_human (const char *method, JsonObject *params)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%d %H:%M:%S");
  g_autoptr (GList) members = json_object_get_members (params);

  printf ("%s %s", stamp, method);
  members = g_list_sort (members, (GCompareFunc) g_strcmp0);
  for (GList *l = members; l; l = l->next)
    {
      JsonNode *n = json_object_get_member (params, l->data);
      g_autofree char *value = NULL, *safe = NULL;

      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
        value = g_strdup (json_node_get_string (n));
      else
        value = json_to_string (n, FALSE);
      /* A notification may carry a new message's From or Subject. */
      safe = pst_cli_safe (value);
      printf (" %s=%s", (const char *) l->data, safe);
    }
  printf ("\n");
  fflush (stdout);
}

int
pst_cli_cmd_watch (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = NULL;
  g_autoptr (JsonObject) r = NULL;
  JsonObject *params;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (!(client = pst_cli_connect (cli, TRUE, &error)))
    return pst_cli_fail ("watch", error);
  params = json_object_new ();
  if (argc > 1)
    {
      JsonArray *a = json_array_new ();
      for (int i = 1; i < argc; i++)
        json_array_add_string_element (a, argv[i]);
      json_object_set_array_member (params, "events", a);
    }
  if (!(r = pst_rpc_client_call (client, "subscribe", params, NULL, 0, &error)))
    return pst_cli_fail ("watch", error);
  for (;;)
    {
      g_autofree char *method = NULL;
      g_autoptr (JsonObject) p = pst_rpc_client_next_notification (client, &method, &error);

      if (p == NULL)
        return pst_cli_fail ("watch", error);
      if (cli->json)
        {
          g_autoptr (JsonObject) o = json_object_new ();
          g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
          g_autofree char *line = NULL, *safe = NULL;

          json_object_set_string_member (o, "event", method);
          json_object_set_object_member (o, "params", json_object_ref (p));
          json_object_set_int_member (o, "time", g_get_real_time () / G_USEC_PER_SEC);
          json_node_set_object (node, o);
          line = json_to_string (node, FALSE);
          safe = pst_text_sanitize_json (line);
          printf ("%s\n", safe);
          fflush (stdout);
        }
      else
        print_human (method, p);
    }
}
