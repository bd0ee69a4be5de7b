/* bridge.c — `postern bridge credentials ACCOUNT`: what a mail program
 * needs to use the agent's local bridge as ACCOUNT (DESIGN.md §14). */
#include <stdio.h>

#include "cli.h"

static int
bridge_credentials (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  JsonObject *params, *r;
  int status = 0;
  const char *smtp, *pop3, *smtp_error, *pop3_error;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("bridge credentials", _("give the ACCOUNT"));
  params = json_object_new ();
  json_object_set_string_member (params, "account", argv[1]);
  if (!(r = pst_cli_call (cli, _("bridge credentials"), "bridge.credentials", params, NULL, 0,
                          &status)))
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      smtp = json_object_get_string_member_with_default (r, "smtp", NULL);
      pop3 = json_object_get_string_member_with_default (r, "pop3", NULL);
      printf ("%-10s %s\n", _("user:"), json_object_get_string_member (r, "user"));
      printf ("%-10s %s\n", _("password:"), json_object_get_string_member (r, "password"));
      smtp_error = json_object_get_string_member_with_default (r, "smtp_error", NULL);
      pop3_error = json_object_get_string_member_with_default (r, "pop3_error", NULL);
      /* A listener that is configured but not listening says why. */
      printf ("%-10s %s\n", _("SMTP:"), smtp ? smtp
                                       : smtp_error ? smtp_error
                                       : _("off (postern config set bridge-smtp 127.0.0.1:PORT)"));
      printf ("%-10s %s\n", _("POP3:"), pop3 ? pop3
                                       : pop3_error ? pop3_error
                                       : _("off (postern config set bridge-pop3 127.0.0.1:PORT)"));
      printf ("%-10s %s\n", _("CA file:"), json_object_get_string_member (r, "ca_file"));
    }
  json_object_unref (r);
  return 0;
}

const PstCliCmd pst_cli_bridge_cmds[] = {
  { "credentials", bridge_credentials, NULL, "ACCOUNT",
    N_("the user, password, addresses and CA file for a mail program to use ACCOUNT through the "
       "local bridge"), FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
