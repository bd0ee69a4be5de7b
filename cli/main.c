/* postern — the command line client of the Postern agent (DESIGN.md §6). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/error.h"

static int cmd_help (PstCli *cli, int argc, char **argv);

static const PstCliCmd commands[] = {
  { "agent", NULL, pst_cli_agent_cmds, NULL, N_("start | stop | status the agent"), FALSE },
  { "account", NULL, pst_cli_account_cmds, NULL,
    N_("add, list, show, change, test and remove accounts"), FALSE },
  { "send", pst_cli_cmd_send, NULL, "[FILE]",
    N_("encrypt, sign and send a message (RFC 5322 on stdin or FILE)"), FALSE },
  { "sendmail", pst_cli_cmd_sendmail, NULL, "[--] [RCPT…]",
    N_("sendmail/msmtp-compatible: send the message on stdin to RCPT… (or -t: its To, Cc, "
       "Bcc) as send does, and wait for the server; exit codes of sysexits.h"), FALSE },
  { "fetch", pst_cli_cmd_fetch, NULL, NULL, N_("fetch new mail over POP3"), FALSE },
  { "outbox", NULL, pst_cli_outbox_cmds, NULL, N_("list | retry | cancel what waits to be sent"),
    FALSE },
  { "quarantine", NULL, pst_cli_quarantine_cmds, NULL,
    N_("list | release | delete quarantined messages"), FALSE },
  { "scan", pst_cli_cmd_scan, NULL, "[FILE]",
    N_("scan a file with the configured scanner (exit 7: infected)"), FALSE },
  { "watch", pst_cli_cmd_watch, NULL, "[EVENT…]",
    N_("print the agent's events as they come (--json: one per line)"), FALSE },
  { "list", pst_cli_cmd_list, NULL, NULL, N_("list stored messages"), FALSE },
  { "mark", pst_cli_cmd_mark, NULL, "ID… --read | --unread",
    N_("mark messages read or unread (show does not mark them read)"), FALSE },
  { "delete", pst_cli_cmd_delete, NULL, "ID…",
    N_("delete messages from the store for good"), FALSE },
  { "show", pst_cli_cmd_show, NULL, "ID", N_("show a message: its status, then its text"), FALSE },
  { "export", pst_cli_cmd_export, NULL, "ID | --all (--mbox FILE | --maildir DIR)",
    N_("write the decrypted RFC 5322 message to stdout, or every one to an mbox or a Maildir"),
    FALSE },
  { "reply", pst_cli_cmd_reply, NULL, "ID",
    N_("write a draft reply to a message (--all: to everyone it went to) to stdout or -o FILE; "
       "send it with send"), FALSE },
  { "forward", pst_cli_cmd_forward, NULL, "ID --to ADDR…",
    N_("write a draft forwarding a message (attached, decrypted) to stdout or -o FILE"), FALSE },
  { "draft", NULL, pst_cli_draft_cmds, NULL,
    N_("save | list | show | send | delete drafts, kept encrypted to your own key"), FALSE },
  { "import", pst_cli_cmd_import, NULL, "(MBOX | MAILDIR)…",
    N_("store the mail of mbox files and Maildirs, analysed as if fetched"), FALSE },
  { "attachment", pst_cli_cmd_attachment, NULL, "ID INDEX",
    N_("write attachment INDEX of a message to stdout or -o FILE"), FALSE },
  { "encrypt", pst_cli_cmd_encrypt, NULL, "[FILE]",
    N_("encrypt an RFC 5322 message to --to ADDR…"), FALSE },
  { "decrypt", pst_cli_cmd_decrypt, NULL, "[FILE]",
    N_("decrypt a message (its status with --json)"), FALSE },
  { "verify", pst_cli_cmd_verify, NULL, "[FILE]",
    N_("verify a message's signature and print its status"), FALSE },
  { "batch", pst_cli_cmd_batch, NULL, "encrypt|decrypt FILE…",
    N_("encrypt or decrypt many files in parallel"), FALSE },
  { "config", NULL, pst_cli_config_cmds, NULL,
    N_("show | set the agent's [general] settings (the scan hook, the local bridge)"), FALSE },
  { "bridge", NULL, pst_cli_bridge_cmds, NULL,
    N_("credentials: what a mail program needs to use the local bridge"), FALSE },
  { "keys", NULL, pst_cli_keys_cmds, NULL,
    N_("OpenPGP keys and X.509 certificates: import, list, show, remove, unlock; check recipients"),
    FALSE },
  { "help", cmd_help, NULL, "[COMMAND [SUBCOMMAND]]",
    N_("this list, or the help of a command (as COMMAND --help)"), FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};

static void
print_help (FILE *out)
{
  fprintf (out, "%s\n\n", _("Usage: postern [--home DIR] [--json] COMMAND [ARGS]"));
  fprintf (out, "%s\n", _("Commands:"));
  pst_cli_print_commands (out, commands);
  fprintf (out, "\n");
  pst_cli_print_paragraph (out, _("Each command takes --json and --help after its name too: "
                                  "postern COMMAND --help lists its options."));
  fprintf (out, "\n");
  pst_cli_print_paragraph (out, _("Exit codes: 0 done, 1 failed, 2 usage, 3 refused by policy, "
                                  "4 bad signature or decryption failed, "
                                  "5 network/TLS/authentication, 6 agent unreachable, "
                                  "7 infected."));
}

static const PstCliCmd *
find_command (const char *name)
{
  for (const PstCliCmd *c = commands; c->name != NULL; c++)
    if (strcmp (name, c->name) == 0)
      return c;
  return NULL;
}

static int
unknown_command (const char *name)
{
  fprintf (stderr, "postern: %s: %s\n", name, _("unknown command (see postern --help)"));
  return PST_ERROR_USAGE;
}

/* `postern help [COMMAND [SUBCOMMAND]]`: the list, or what
 * `postern COMMAND [SUBCOMMAND] --help` prints. */
static int
cmd_help (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  const PstCliCmd *cmd, *walk;
  g_autofree char **words = NULL;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc == 1)
    {
      print_help (stdout);
      return 0;
    }
  if ((cmd = find_command (argv[1])) == NULL)
    return unknown_command (argv[1]);
  /* COMMAND [SUBCOMMAND…]: each word but the last names a group; an
   * unknown last one is the group's usage error when it runs. */
  walk = cmd;
  for (int i = 2; i < argc; i++)
    {
      const PstCliCmd *s = walk->subs;

      while (s != NULL && s->name != NULL && strcmp (s->name, argv[i]) != 0)
        s++;
      if (walk->subs == NULL || (s->name == NULL && i < argc - 1))
        return pst_cli_usage ("help", _("give a COMMAND, and a SUBCOMMAND of it if it has them"));
      walk = s;
    }
  words = g_new0 (char *, argc + 1);
  memcpy (words, argv + 1, (gsize) (argc - 1) * sizeof (char *));
  words[argc - 1] = (char *) "--help";
  g_clear_pointer (&cli->path, g_free);
  return pst_cli_run (cli, cmd, argc, words);
}

int
main (int argc, char **argv)
{
  PstCli cli = { 0 };
  const PstCliCmd *cmd;
  int i = 1, status;

  pst_paths_init_locale ();

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
  if ((cmd = find_command (argv[i])) == NULL)
    return unknown_command (argv[i]);
  cli.paths = pst_paths_new (cli.home);
  status = pst_cli_run (&cli, cmd, argc - i, argv + i);
  pst_paths_free (cli.paths);
  g_free (cli.path);
  return status;
}
