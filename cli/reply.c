/* reply.c — `postern reply` and `postern forward`: drafts that the agent
 * writes (it alone can decrypt the message answered), to standard output
 * or a new file, to be edited and given to `postern send`. */
#include <glib/gi18n.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "util/error.h"

/* Asks @method for the draft of @params, written to @out (a new file) or
 * standard output (not a terminal: the draft quotes what a sender wrote,
 * as export refuses). */
static int
write_draft (PstCli *cli, const char *method, JsonObject *params, const char *out)
{
  JsonObject *r;
  int status = 0, fd;

  if ((fd = pst_cli_output_fd (method, out, &status)) < 0)
    {
      json_object_unref (params);
      return status;
    }
  json_object_set_int_member (params, "fd", 0);
  r = pst_cli_call_to_file (cli, method, method, params, out, fd, &status);
  if (r == NULL)
    return status;
  if (cli->json && out != NULL)
    pst_cli_print_json (r);
  else if (out != NULL)
    printf (_("wrote the draft to %s; send it with: postern send %s\n"), out, out);
  json_object_unref (r);
  return 0;
}

int
pst_cli_cmd_reply (PstCli *cli, int argc, char **argv)
{
  gboolean all = FALSE;
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &all,
      N_("Reply to everyone the message went to (To and Cc), but not to yourself"), NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      N_("Write to FILE, which must not exist (default: standard output)"), "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params;
  gint64 id;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("reply", _("give exactly one message ID"));
  if (!pst_cli_parse_id ("reply", argv[1], &id))
    return PST_ERROR_USAGE;
  if (cli->json && out == NULL)
    return pst_cli_usage ("reply", _("--json needs -o FILE: the draft goes to standard output "
                                     "otherwise"));
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  if (all)
    json_object_set_boolean_member (params, "all", TRUE);
  return write_draft (cli, "reply", params, out);
}

int
pst_cli_cmd_forward (PstCli *cli, int argc, char **argv)
{
  g_auto (GStrv) to = NULL;
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to,
      N_("Forward to ADDR (repeat for several; at least one)"), "ADDR" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      N_("Write to FILE, which must not exist (default: standard output)"), "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params;
  JsonArray *arr;
  gint64 id;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("forward", _("give exactly one message ID"));
  if (!pst_cli_parse_id ("forward", argv[1], &id))
    return PST_ERROR_USAGE;
  if (to == NULL || to[0] == NULL)
    return pst_cli_usage ("forward", _("give at least one --to ADDR"));
  if (cli->json && out == NULL)
    return pst_cli_usage ("forward", _("--json needs -o FILE: the draft goes to standard output "
                                       "otherwise"));
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  arr = json_array_new ();
  for (char **a = to; *a != NULL; a++)
    json_array_add_string_element (arr, *a);
  json_object_set_array_member (params, "to", arr);
  return write_draft (cli, "forward", params, out);
}
