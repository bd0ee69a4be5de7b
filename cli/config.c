/* config.c — `postern config [show]` and `postern config set KEY VALUE`:
 * the agent's [general] settings (the scan hook, DESIGN.md §11; the local
 * bridge, §14), changed in its configuration file and applied at once. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/error.h"

static void
print_settings (JsonObject *r)
{
  const char *scan = json_object_get_string_member_with_default (r, "scan", NULL);

  printf ("%-15s %s\n", _("scan:"), scan ? scan : _("none"));
  printf ("%-15s %s\n", _("on scan error:"), json_object_get_string_member (r, "on_scan_error"));
  printf ("%-15s %" G_GINT64_FORMAT " s\n", _("scan timeout:"),
          json_object_get_int_member (r, "scan_timeout"));
  for (guint k = 0; k < 2; k++)
    {
      static const char *const member[] = { "bridge_smtp_listening", "bridge_pop3_listening" };
      const char *label = k == 0 ? _("bridge SMTP:") : _("bridge POP3:");
      const char *at = json_object_get_string_member_with_default (r, member[k], NULL);

      printf ("%-15s %s\n", label, at ? at : _("off"));
    }
}

/* Calls @method and prints its result: the settings as they are now. */
static int
call (PstCli *cli, const char *what, const char *method, JsonObject *params)
{
  int status = 0;
  JsonObject *r = pst_cli_call (cli, what, method, params, NULL, 0, &status);

  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    print_settings (r);
  json_object_unref (r);
  return 0;
}

static int
config_set (PstCli *cli, const char *key, const char *value)
{
  JsonObject *params = json_object_new ();

  if (strcmp (key, "scan") == 0)
    {
      if (strcmp (value, "none") == 0)
        json_object_set_null_member (params, "scan");
      else
        json_object_set_string_member (params, "scan", value);
    }
  else if (strcmp (key, "on-scan-error") == 0 || strcmp (key, "on_scan_error") == 0)
    json_object_set_string_member (params, "on_scan_error", value);
  else if (strcmp (key, "scan-timeout") == 0 || strcmp (key, "scan_timeout") == 0)
    {
      guint64 seconds = 0;

      if (!g_ascii_string_to_unsigned (value, 10, 1, 3600, &seconds, NULL))
        {
          json_object_unref (params);
          return pst_cli_usage ("config set", _("scan-timeout takes a number of seconds from 1 "
                                                "to 3600"));
        }
      json_object_set_int_member (params, "scan_timeout", (gint64) seconds);
    }
  else if (strcmp (key, "bridge-smtp") == 0 || strcmp (key, "bridge_smtp") == 0
           || strcmp (key, "bridge-pop3") == 0 || strcmp (key, "bridge_pop3") == 0)
    {
      const char *member = key[7] == 's' ? "bridge_smtp" : "bridge_pop3";

      if (strcmp (value, "off") == 0 || value[0] == '\0')
        json_object_set_null_member (params, member);
      else
        json_object_set_string_member (params, member, value);
    }
  else
    {
      json_object_unref (params);
      return pst_cli_usage ("config set", _("KEY is scan, on-scan-error, scan-timeout, "
                                            "bridge-smtp or bridge-pop3"));
    }
  return call (cli, _("config set"), "config.set", params);
}

static int
config_show (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return pst_cli_usage ("config show", _("takes no arguments"));
  return call (cli, _("config show"), "config.get", NULL);
}

static int
config_set_cmd (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 3)
    return pst_cli_usage ("config set", _("give KEY VALUE: scan clamd:SOCKET|clamd:HOST:PORT|"
                                          "command:PROGRAM|none, on-scan-error "
                                          "quarantine|deliver, scan-timeout SECONDS, or "
                                          "bridge-smtp|bridge-pop3 127.0.0.1:PORT|off"));
  return config_set (cli, argv[1], argv[2]);
}

const PstCliCmd pst_cli_config_cmds[] = {
  { "show", config_show, NULL, NULL,
    N_("show the scanner, what happens when it cannot scan, its timeout, and the bridge"), TRUE },
  { "set", config_set_cmd, NULL, "KEY VALUE",
    N_("set scan SPEC, on-scan-error quarantine|deliver, scan-timeout SECONDS, or "
       "bridge-smtp|bridge-pop3 127.0.0.1:PORT|off"), FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
