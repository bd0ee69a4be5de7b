/* state.c — `postern delete ID…` and `postern mark ID… --read|--unread`. */
#include <stdio.h>

#include "cli.h"
#include "util/error.h"

/* Parameter "ids" from argv[1…]: every one a message id, or a usage error. */
static JsonObject *
ids_params (const char *command, int argc, char **argv, int *exit_out)
{
  g_autoptr (JsonObject) params = json_object_new ();
  JsonArray *ids = json_array_new ();

  json_object_set_array_member (params, "ids", ids);
  if (argc < 2)
    {
      *exit_out = pst_cli_usage (command, _("give one or more message IDs (as `list` shows)"));
      return NULL;
    }
  for (int i = 1; i < argc; i++)
    {
      gint64 id;

      if (!pst_cli_parse_id (command, argv[i], &id))
        {
          *exit_out = PST_ERROR_USAGE;
          return NULL;
        }
      json_array_add_int_element (ids, id);
    }
  return g_steal_pointer (&params);
}

int
pst_cli_cmd_delete (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  JsonObject *params, *r;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (!(params = ids_params ("delete", argc, argv, &status)))
    return status;
  if (!(r = pst_cli_call (cli, "delete", "delete", params, NULL, 0, &status)))
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    printf (ngettext ("%lld message deleted\n", "%lld messages deleted\n",
                         (gulong) json_object_get_int_member (r, "deleted")),
            (long long) json_object_get_int_member (r, "deleted"));
  json_object_unref (r);
  return 0;
}

int
pst_cli_cmd_mark (PstCli *cli, int argc, char **argv)
{
  gboolean read = FALSE, unread = FALSE;
  GOptionEntry entries[] = {
    { "read", 0, 0, G_OPTION_ARG_NONE, &read, N_("Mark them read"), NULL },
    { "unread", 0, 0, G_OPTION_ARG_NONE, &unread, N_("Mark them unread"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (read == unread)
    return pst_cli_usage ("mark", _("give one of --read and --unread"));
  if (!(params = ids_params ("mark", argc, argv, &status)))
    return status;
  json_object_set_boolean_member (params, "unread", unread);
  if (!(r = pst_cli_call (cli, "mark", "mark", params, NULL, 0, &status)))
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    printf (unread ? ngettext ("%lld message marked unread\n",
                                  "%lld messages marked unread\n",
                                  (gulong) json_object_get_int_member (r, "marked"))
                   : ngettext ("%lld message marked read\n",
                                  "%lld messages marked read\n",
                                  (gulong) json_object_get_int_member (r, "marked")),
            (long long) json_object_get_int_member (r, "marked"));
  json_object_unref (r);
  return 0;
}
