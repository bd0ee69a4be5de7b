/* scan.c — `postern scan FILE` and `postern quarantine list|release|delete`
 * (DESIGN.md §11). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/error.h"

int
pst_cli_cmd_scan (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  const char *file;
  JsonObject *params, *r;
  const char *verdict, *name;
  g_autofree char *safe_name = NULL;
  int fd, status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return pst_cli_usage ("scan", _("give one FILE (or - for standard input)"));
  file = argc == 2 ? argv[1] : "-";
  fd = strcmp (file, "-") == 0 ? dup (STDIN_FILENO) : open (file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      g_autoptr (GError) error = g_error_new (PST_ERROR, PST_ERROR_FAILED, "%s: %s", file,
                                              g_strerror (errno));
      return pst_cli_fail ("scan", error);
    }
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  r = pst_cli_call (cli, "scan", "scan", params, &fd, 1, &status);
  close (fd);
  if (r == NULL)
    return status;
  verdict = json_object_get_string_member (r, "verdict");
  name = json_object_get_string_member_with_default (r, "name", NULL);
  if (cli->json)
    pst_cli_print_json (r);
  else if (strcmp (verdict, "clean") == 0)
    printf (_("%s: clean\n"), file);
  status = strcmp (verdict, "clean") == 0 ? 0
           : strcmp (verdict, "infected") == 0 ? PST_ERROR_INFECTED : PST_ERROR_FAILED;
  /* The name is the scanner's words, which may quote the file. */
  safe_name = pst_cli_safe (name);
  if (status == PST_ERROR_INFECTED)
    fprintf (stderr, _("postern: scan: %s is infected: %s\n"), file, safe_name);
  else if (status != 0)
    fprintf (stderr, _("postern: scan: %s could not be scanned: %s\n"), file, safe_name);
  json_object_unref (r);
  return status;
}

static int
quarantine_list (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  int status = 0;
  JsonObject *r;
  JsonArray *arr;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return pst_cli_usage ("quarantine list", _("takes no arguments"));
  r = pst_cli_call (cli, _("quarantine list"), "quarantine.list", NULL, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      arr = json_object_get_array_member (r, "quarantine");
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonObject *m = json_array_get_object_element (arr, i);
          g_autofree char *when = pst_cli_format_time (json_object_get_int_member (m, "received_at"));
          g_autofree char *account = pst_cli_safe (json_object_get_string_member (m, "account"));
          g_autofree char *name = pst_cli_safe (json_object_get_string_member (m, "name"));

          printf ("%6" G_GINT64_FORMAT "  %-12s %s  %s: %s\n", json_object_get_int_member (m, "id"),
                  account, when, json_object_get_string_member (m, "verdict"), name);
        }
    }
  json_object_unref (r);
  return 0;
}

/* quarantine release ID, quarantine delete ID. */
static int
quarantine_one (PstCli *cli, gboolean release, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  JsonObject *params, *r;
  guint64 id = 0;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2 || !g_ascii_string_to_unsigned (argv[1], 10, 1, G_MAXINT64, &id, NULL))
    return pst_cli_usage (release ? "quarantine release" : "quarantine delete",
                          _("give one message ID (as `quarantine list` shows)"));
  params = json_object_new ();
  json_object_set_int_member (params, "id", (gint64) id);
  r = pst_cli_call (cli, release ? _("quarantine release") : _("quarantine delete"),
                    release ? "quarantine.release" : "quarantine.delete", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    printf (release ? _("message %s released: it is shown by list and show again\n")
                    : _("message %s deleted\n"), argv[1]);
  json_object_unref (r);
  return 0;
}

static int
quarantine_release (PstCli *cli, int argc, char **argv)
{
  return quarantine_one (cli, TRUE, argc, argv);
}

static int
quarantine_delete (PstCli *cli, int argc, char **argv)
{
  return quarantine_one (cli, FALSE, argc, argv);
}

const PstCliCmd pst_cli_quarantine_cmds[] = {
  { "list", quarantine_list, NULL, NULL,
    N_("list the messages the scan hook held back, with its verdict"), TRUE },
  { "release", quarantine_release, NULL, "ID",
    N_("release a message: list and show show it again"), FALSE },
  { "delete", quarantine_delete, NULL, "ID", N_("delete a quarantined message"), FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
