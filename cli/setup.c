/* setup.c — `postern keys setup-message export|import`: the Autocrypt Setup
 * Message, which carries an OpenPGP secret key to another device under a
 * Setup Code. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/error.h"

/* Prints the Setup Code on standard error in three lines of three blocks
 * of four, as Autocrypt shows it. */
static void
print_code (const char *address, const char *begin, const char *code)
{
  gsize len = strlen (code);

  fprintf (stderr, _("The Setup Code of this Setup Message for %s:\n\n"), address);
  /* "1234-5678-9012-" per line: 15 characters, the last line 14. */
  for (gsize i = 0; i < len; i += 15)
    fprintf (stderr, "    %.*s\n", (int) MIN (15, len - i), code + i);
  fprintf (stderr, "\n");
  fprintf (stderr, _("Write it down and keep it apart from the message: importing the message on "
                     "another device (postern keys setup-message import FILE) asks for it, and "
                     "it is shown only now. The message names its first two digits, %s.\n"),
           begin);
}

/* keys setup-message export ADDR [--passphrase-fd N] [-o FILE] */
static int
setup_export (PstCli *cli, int argc, char **argv)
{
  g_autofree char *out = NULL;
  int passphrase_fd = -1, status = 0, fds[2], n = 1;
  GOptionEntry entries[] = {
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, &passphrase_fd,
      N_("The secret key is under a passphrase: read it from descriptor N"), "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      N_("Write the message to FILE, which must not exist (default: standard output)"), "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys setup-message export", _("give exactly one ADDR"));
  if (cli->json && out == NULL)
    return pst_cli_usage ("keys setup-message export",
                          _("--json needs -o FILE: the message goes to standard output otherwise"));
  if (passphrase_fd >= 0 && fcntl (passphrase_fd, F_GETFD) < 0)
    return pst_cli_usage ("keys setup-message export",
                          _("--passphrase-fd names a descriptor that is not open"));
  if (out == NULL)
    fds[0] = STDOUT_FILENO;
  else if ((fds[0] = open (out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
    {
      fprintf (stderr, "postern: keys setup-message export: %s: %s\n", out,
               errno == EEXIST ? _("the file exists; it is not overwritten") : g_strerror (errno));
      return PST_ERROR_FAILED;
    }
  fflush (stdout);
  params = json_object_new ();
  json_object_set_string_member (params, "address", argv[1]);
  json_object_set_int_member (params, "fd", 0);
  if (passphrase_fd >= 0)
    {
      fds[1] = passphrase_fd;
      n = 2;
      json_object_set_int_member (params, "passphrase_fd", 1);
    }
  r = pst_cli_call (cli, _("keys setup-message export"), "keys.setup_export", params, fds,
                    (guint) n, &status);
  if (out != NULL)
    {
      if (close (fds[0]) != 0 && r != NULL)
        {
          fprintf (stderr, "postern: keys setup-message export: %s: %s\n", out, g_strerror (errno));
          g_clear_pointer (&r, json_object_unref);
          status = PST_ERROR_FAILED;
        }
      if (r == NULL)
        unlink (out);   /* nothing half written is left behind */
    }
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *address = pst_cli_safe (json_object_get_string_member (r, "address"));

      print_code (address, json_object_get_string_member (r, "passphrase_begin"),
                  json_object_get_string_member (r, "setup_code"));
      if (out != NULL)
        fprintf (stderr, _("wrote the Setup Message of OpenPGP key %s to %s\n"),
                 json_object_get_string_member (r, "fingerprint"), out);
    }
  json_object_unref (r);
  return 0;
}

/* keys setup-message import FILE [--code-fd N]: the code from N, or asked
 * for on the terminal when standard input is one. */
static int
setup_import (PstCli *cli, int argc, char **argv)
{
  int code_fd = -1, status = 0, fds[2];
  gboolean prompted = FALSE;
  GOptionEntry entries[] = {
    { "code-fd", 0, 0, G_OPTION_ARG_INT, &code_fd,
      N_("Read the Setup Code from descriptor N (default: ask on the terminal)"), "N" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys setup-message import", _("give exactly one FILE"));
  if (code_fd >= 0 && fcntl (code_fd, F_GETFD) < 0)
    return pst_cli_usage ("keys setup-message import",
                          _("--code-fd names a descriptor that is not open"));
  if (code_fd < 0 && !isatty (STDIN_FILENO))
    return pst_cli_usage ("keys setup-message import",
                          _("give the Setup Code with --code-fd N (standard input is no terminal "
                            "to ask on)"));
  if (strcmp (argv[1], "-") == 0)
    fds[0] = dup (STDIN_FILENO);
  else if ((fds[0] = open (argv[1], O_RDONLY | O_CLOEXEC)) < 0)
    {
      fprintf (stderr, "postern: keys setup-message import: %s: %s\n", argv[1], g_strerror (errno));
      return PST_ERROR_FAILED;
    }
  if (code_fd < 0)
    {
      code_fd = pst_cli_prompt_secret (_("Setup Code (36 digits, dashes and spaces as you like): "));
      if (code_fd < 0)
        {
          close (fds[0]);
          return pst_cli_usage ("keys setup-message import", _("no Setup Code was given"));
        }
      prompted = TRUE;
    }
  fds[1] = code_fd;
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  json_object_set_int_member (params, "code_fd", 1);
  r = pst_cli_call (cli, _("keys setup-message import"), "keys.setup_import", params, fds, 2,
                    &status);
  close (fds[0]);
  if (prompted)
    close (code_fd);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *address = pst_cli_safe (json_object_get_string_member (r, "address"));

      printf (_("imported OpenPGP secret key %s for %s from the Setup Message\n"),
              json_object_get_string_member (r, "fingerprint"), address);
    }
  json_object_unref (r);
  return 0;
}

const PstCliCmd pst_cli_setup_message_cmds[] = {
  { "export", setup_export, NULL, "ADDR",
    N_("write an Autocrypt Setup Message of the OpenPGP secret key of ADDR and show its Setup Code"),
    FALSE },
  { "import", setup_import, NULL, "FILE",
    N_("import the OpenPGP secret key of an Autocrypt Setup Message (asks for its Setup Code)"),
    FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
