/* keys.c — `postern keys import|list|show|remove|check`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/error.h"

static void
print_key (JsonObject *k)
{
  const char *type = json_object_get_string_member (k, "type");
  JsonArray *names = json_object_get_array_member (k, strcmp (type, "openpgp") == 0 ? "uids" : "emails");
  g_autoptr (GString) who = g_string_new (NULL);

  for (guint i = 0; names && i < json_array_get_length (names); i++)
    g_string_append_printf (who, "%s%s", i ? ", " : "", json_array_get_string_element (names, i));
  if (strcmp (type, "x509") == 0)
    g_string_append_printf (who, "%s%s", who->len ? "  " : "",
                            json_object_get_string_member (k, "subject"));
  printf ("%-7s %s  %-7s %s%s  %s\n", type, json_object_get_string_member (k, "id"),
          json_object_get_string_member (k, "status"),
          json_object_get_boolean_member (k, "secret") ? _("secret") : _("public"),
          json_object_get_boolean_member_with_default (k, "trust_anchor", FALSE) ? _(" anchor") : "",
          who->str);
}

static void
print_keys (JsonArray *keys)
{
  for (guint i = 0; i < json_array_get_length (keys); i++)
    print_key (json_array_get_object_element (keys, i));
}

static int
keys_import (PstCli *cli, int argc, char **argv)
{
  int passphrase_fd = -1, status = 0, fds[2], n = 1;
  gboolean anchor = FALSE;
  GOptionEntry entries[] = {
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, &passphrase_fd,
      N_("Read the PKCS#12 passphrase from descriptor N"), "N" },
    { "trust-anchor", 0, 0, G_OPTION_ARG_NONE, &anchor,
      N_("Trust this CA certificate for S/MIME signatures"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;

  if (!pst_cli_parse ("keys import", "FILE", entries, &argc, &argv))
    return PST_ERROR_USAGE;
  if (argc != 2)
    return pst_cli_usage ("keys import", _("give exactly one FILE"));
  if (strcmp (argv[1], "-") == 0)
    fds[0] = dup (STDIN_FILENO);
  else if ((fds[0] = open (argv[1], O_RDONLY | O_CLOEXEC)) < 0)
    {
      fprintf (stderr, "postern: keys import: %s: %s\n", argv[1], g_strerror (errno));
      return PST_ERROR_FAILED;
    }
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  json_object_set_boolean_member (params, "trust_anchor", anchor);
  if (passphrase_fd >= 0)
    {
      if (fcntl (passphrase_fd, F_GETFD) < 0)
        {
          close (fds[0]);
          json_object_unref (params);
          return pst_cli_usage ("keys import", _("--passphrase-fd names a descriptor that is not open"));
        }
      fds[1] = passphrase_fd;
      n = 2;
      json_object_set_int_member (params, "passphrase_fd", 1);
    }
  r = pst_cli_call (cli, _("keys import"), "keys.import", params, fds, (guint) n, &status);
  close (fds[0]);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      JsonArray *keys = json_object_get_array_member (r, "imported");
      printf (ngettext ("imported %u key or certificate:\n", "imported %u keys or certificates:\n",
                        json_array_get_length (keys)), json_array_get_length (keys));
      print_keys (keys);
    }
  json_object_unref (r);
  return 0;
}

static int
keys_simple (PstCli *cli, const char *what, const char *method, const char *param,
             const char *value)
{
  JsonObject *params = json_object_new (), *r;
  int status = 0;

  if (param)
    json_object_set_string_member (params, param, value);
  r = pst_cli_call (cli, what, method, params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else if (strcmp (method, "keys.remove") == 0)
    printf (_("removed %s %s\n"), json_object_get_string_member (r, "type"), value);
  else
    print_keys (json_object_get_array_member (r, "keys"));
  json_object_unref (r);
  return 0;
}

static const char *
scheme_words (const char *scheme)
{
  return g_strcmp0 (scheme, "smime") == 0 ? _("S/MIME") : _("OpenPGP");
}

/* keys check: one line per recipient (its marks and what is wrong), then
 * what send would do; exit 3 with send's refusal when it would refuse. */
static int
keys_check (PstCli *cli, int argc, char **argv)
{
  g_autofree char *from = NULL, *account = NULL, *encrypt = NULL, *scheme = NULL;
  gboolean sign = FALSE, no_sign = FALSE;
  GOptionEntry entries[] = {
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, N_("Send from the account of this address"), "ADDR" },
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("Send from this account"), "NAME" },
    { "encrypt", 0, 0, G_OPTION_ARG_STRING, &encrypt, N_("always, auto or never"), "MODE" },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme, N_("pgp or smime"), "SCHEME" },
    { "sign", 0, 0, G_OPTION_ARG_NONE, &sign, N_("Sign (the default)"), NULL },
    { "no-sign", 0, 0, G_OPTION_ARG_NONE, &no_sign, N_("Do not sign"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  JsonArray *to, *list;
  const char *refused;
  int status = 0;

  if (!pst_cli_parse ("keys check", "ADDR…", entries, &argc, &argv))
    return PST_ERROR_USAGE;
  if (argc < 2)
    return pst_cli_usage ("keys check", _("give one or more recipient addresses"));
  params = json_object_new ();
  if (!pst_cli_send_settings ("keys check", params, account, encrypt, scheme, sign, no_sign))
    {
      json_object_unref (params);
      return PST_ERROR_USAGE;
    }
  to = json_array_new ();
  for (int i = 1; i < argc; i++)
    json_array_add_string_element (to, argv[i]);
  json_object_set_array_member (params, "recipients", to);
  if (from)
    json_object_set_string_member (params, "from", from);
  r = pst_cli_call (cli, _("keys check"), "keys.check", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  refused = json_object_get_null_member (r, "refused") ? NULL
            : json_object_get_string_member (r, "refused");
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      gboolean enc = json_object_get_boolean_member (r, "will_encrypt");
      gboolean sig = json_object_get_boolean_member (r, "will_sign");

      list = json_object_get_array_member (r, "recipients");
      for (guint i = 0; i < json_array_get_length (list); i++)
        {
          JsonObject *o = json_array_get_object_element (list, i);
          gboolean problem = !json_object_get_null_member (o, "problem");

          printf ("%-40s %-5s %-6s%s%s\n", json_object_get_string_member (o, "address"),
                  json_object_get_boolean_member (o, "pgp") ? "pgp" : "-",
                  json_object_get_boolean_member (o, "smime") ? "smime" : "-",
                  problem ? "  " : "", problem ? json_object_get_string_member (o, "problem") : "");
        }
      if (refused == NULL)
        {
          const char *name = scheme_words (json_object_get_string_member (r, "scheme"));
          JsonArray *missing = json_object_get_array_member (r, "missing_keys");
          g_autofree char *what = NULL;

          if (enc)
            what = g_strdup_printf (sig ? _("encrypted and signed with %s")
                                        : _("encrypted with %s, not signed"), name);
          else if (sig)
            what = g_strdup_printf (_("NOT encrypted, signed with %s"), name);
          else
            what = g_strdup (_("NOT encrypted, not signed"));
          if (!enc && missing != NULL && json_array_get_length (missing) > 0)
            {
              printf ("%s", _("no key for:"));
              for (guint i = 0; i < json_array_get_length (missing); i++)
                printf (" %s", json_array_get_string_element (missing, i));
              printf ("\n");
            }
          printf (_("send from %s (account %s): %s (encrypt = %s)\n"),
                  json_object_get_string_member (r, "from"),
                  json_object_get_string_member (r, "account"), what,
                  json_object_get_string_member (r, "encrypt"));
        }
    }
  if (refused != NULL && !cli->json)
    fprintf (stderr, "postern: %s: %s\n", _("keys check"), refused);
  json_object_unref (r);
  return refused != NULL ? PST_ERROR_POLICY : 0;
}

int
pst_cli_cmd_keys (PstCli *cli, int argc, char **argv)
{
  const char *sub = argc > 1 ? argv[1] : NULL;

  if (g_strcmp0 (sub, "import") == 0)
    return keys_import (cli, argc - 1, argv + 1);
  if (g_strcmp0 (sub, "list") == 0 && argc == 2)
    return keys_simple (cli, _("keys list"), "keys.list", NULL, NULL);
  if (g_strcmp0 (sub, "show") == 0 && argc == 3)
    return keys_simple (cli, _("keys show"), "keys.show", "address", argv[2]);
  if (g_strcmp0 (sub, "remove") == 0 && argc == 3)
    return keys_simple (cli, _("keys remove"), "keys.remove", "id", argv[2]);
  if (g_strcmp0 (sub, "check") == 0)
    return keys_check (cli, argc - 1, argv + 1);
  return pst_cli_usage ("keys", _("say import FILE, list, show ADDR, remove ID or check ADDR…"));
}
