/* postern — the command line client of the Postern agent (DESIGN.md §6). */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/error.h"

static const struct {
  const char *name;
  PstCliCommand func;
  const char *help;
} commands[] = {
  { "agent", pst_cli_cmd_agent, N_("start | stop | status the agent") },
  { "account", pst_cli_cmd_account, N_("add | list | show | remove accounts") },
  { "send", pst_cli_cmd_send, N_("encrypt, sign and send a message (RFC 5322 on stdin or FILE)") },
  { "fetch", pst_cli_cmd_fetch, N_("fetch new mail over POP3") },
  { "outbox", pst_cli_cmd_outbox, N_("list | retry | cancel what waits to be sent") },
  { "quarantine", pst_cli_cmd_quarantine, N_("list | release | delete quarantined messages") },
  { "scan", pst_cli_cmd_scan, N_("scan a file with the configured scanner (exit 7: infected)") },
  { "watch", pst_cli_cmd_watch, N_("print the agent's events as they come (--json: one per line)") },
  { "list", pst_cli_cmd_list, N_("list stored messages") },
  { "show", pst_cli_cmd_show, N_("show a message: its status, then its text") },
  { "export", pst_cli_cmd_export, N_("write the decrypted RFC 5322 message to stdout") },
  { "attachment", pst_cli_cmd_attachment, N_("write attachment INDEX of a message to stdout or -o FILE") },
  { "encrypt", pst_cli_cmd_encrypt, N_("encrypt an RFC 5322 message to --to ADDR…") },
  { "decrypt", pst_cli_cmd_decrypt, N_("decrypt a message (its status with --json)") },
  { "verify", pst_cli_cmd_verify, N_("verify a message's signature and print its status") },
  { "batch", pst_cli_cmd_batch, N_("encrypt or decrypt many files in parallel") },
  { "config", pst_cli_cmd_config, N_("show | set the agent's [general] settings (the scan hook)") },
  { "keys", pst_cli_cmd_keys, N_("import | list | show | remove OpenPGP keys and X.509 certificates") },
};

static void
print_help (FILE *out)
{
  fprintf (out, "%s\n\n", _("Usage: postern [--home DIR] [--json] COMMAND [ARGS]"));
  fprintf (out, "%s\n", _("Commands:"));
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-9s %s\n", commands[i].name, _(commands[i].help));
  fprintf (out, "\n%s\n", _("Exit codes: 0 done, 1 failed, 2 usage, 3 refused by policy, "
                            "4 bad signature or decryption failed, 5 network/TLS/authentication, "
                            "6 agent unreachable, 7 infected."));
}

int
main (int argc, char **argv)
{
  PstCli cli = { 0 };
  int i = 1, status;

  setlocale (LC_ALL, "");
  {
    g_autofree char *locale_dir = pst_paths_locale_dir ();
    bindtextdomain (GETTEXT_PACKAGE, locale_dir);
  }
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if (strcmp (argv[i], "--json") == 0)
        cli.json = TRUE;
      else if (strcmp (argv[i], "--home") == 0 && i + 1 < argc)
        cli.home = argv[++i];
      else if (g_str_has_prefix (argv[i], "--home="))
        cli.home = argv[i] + strlen ("--home=");
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          print_help (stdout);
          return 0;
        }
      else if (strcmp (argv[i], "--version") == 0)
        {
          printf ("postern %s\n", PACKAGE_VERSION);
          return 0;
        }
      else
        return pst_cli_usage (NULL, argv[i]);
    }
  if (i >= argc)
    {
      print_help (stderr);
      return PST_ERROR_USAGE;
    }
  cli.paths = pst_paths_new (cli.home);
  for (gsize c = 0; c < G_N_ELEMENTS (commands); c++)
    if (strcmp (argv[i], commands[c].name) == 0)
      {
        status = commands[c].func (&cli, argc - i, argv + i);
        pst_paths_free (cli.paths);
        return status;
      }
  pst_paths_free (cli.paths);
  fprintf (stderr, "postern: %s: %s\n", argv[i], _("unknown command (see postern --help)"));
  return PST_ERROR_USAGE;
}
