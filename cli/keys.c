/* keys.c — `postern keys import|list|show|remove|unlock|generate|check` (export, expire and
 * revoke: keyops.c). */
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
  g_autofree char *id = pst_cli_safe (json_object_get_string_member (k, "id"));

  /* User ids and subjects are whatever the key's or certificate's maker
   * wrote: each one made safe on its own line of text. */
  for (guint i = 0; names && i < json_array_get_length (names); i++)
    {
      g_autofree char *name = pst_cli_safe (json_array_get_string_element (names, i));
      g_string_append_printf (who, "%s%s", i ? ", " : "", name);
    }
  if (strcmp (type, "x509") == 0)
    {
      g_autofree char *subject = pst_cli_safe (json_object_get_string_member (k, "subject"));
      g_string_append_printf (who, "%s%s", who->len ? "  " : "", subject);
    }
  printf ("%-7s %s  %-7s %s%s  %s\n", type, id,
          json_object_get_string_member (k, "status"),
          json_object_get_boolean_member (k, "secret")
          ? (json_object_get_boolean_member_with_default (k, "locked", FALSE) ? _("secret, locked")
                                                                              : _("secret"))
          : _("public"),
          json_object_get_boolean_member_with_default (k, "trust_anchor", FALSE) ? _(" anchor") : "",
          who->str);
  /* Where it came from, and a change nobody vouched for (DESIGN.md §14). */
  if (json_object_has_member (k, "source"))
    printf ("        %s: %s%s\n", _("source"), json_object_get_string_member (k, "source"),
            json_object_has_member (k, "replaces") ? "  key-changed" : "");
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

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
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

/* keys list, keys show ADDR, keys remove ID: @param names the one argument,
 * NULL for none. */
static int
keys_simple (PstCli *cli, const char *what, const char *method, const char *param, int argc,
             char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  JsonObject *params, *r;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (param == NULL && argc != 1)
    return pst_cli_usage (what, _("takes no arguments"));
  if (param != NULL && argc != 2)
    return pst_cli_usage (what, strcmp (param, "id") == 0 ? _("give exactly one key ID")
                                                          : _("give exactly one ADDR"));
  params = json_object_new ();
  if (param)
    json_object_set_string_member (params, param, argv[1]);
  r = pst_cli_call (cli, _(what), method, params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else if (strcmp (method, "keys.remove") == 0)
    printf (_("removed %s %s\n"), json_object_get_string_member (r, "type"), argv[1]);
  else
    print_keys (json_object_get_array_member (r, "keys"));
  json_object_unref (r);
  return 0;
}

static int
keys_list (PstCli *cli, int argc, char **argv)
{
  return keys_simple (cli, N_("keys list"), "keys.list", NULL, argc, argv);
}

static int
keys_show (PstCli *cli, int argc, char **argv)
{
  return keys_simple (cli, N_("keys show"), "keys.show", "address", argc, argv);
}

static int
keys_remove (PstCli *cli, int argc, char **argv)
{
  return keys_simple (cli, N_("keys remove"), "keys.remove", "id", argc, argv);
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
  g_autofree char *in_reply_to = NULL;
  gboolean sign = FALSE, no_sign = FALSE;
  GOptionEntry entries[] = {
    { "in-reply-to", 0, 0, G_OPTION_ARG_STRING, &in_reply_to,
      N_("The message answers or forwards this Message-ID (an answer to encrypted mail stays "
         "encrypted)"), "MSGID" },
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

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
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
  if (in_reply_to)
    json_object_set_string_member (params, "in_reply_to", in_reply_to);
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
          g_autofree char *address = pst_cli_column (json_object_get_string_member (o, "address"), 40);
          g_autofree char *why = problem ? pst_cli_safe (json_object_get_string_member (o, "problem"))
                                         : g_strdup ("");

          const char *source = json_object_get_string_member_with_default (o, "source", NULL);

          printf ("%s %-5s %-6s %-9s%s%s%s\n", address,
                  json_object_get_boolean_member (o, "pgp") ? "pgp" : "-",
                  json_object_get_boolean_member (o, "smime") ? "smime" : "-",
                  source != NULL ? source : "-",
                  json_object_get_boolean_member_with_default (o, "key_changed", FALSE)
                    ? "  key-changed" : "",
                  problem ? "  " : "", why);
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
          JsonArray *held = json_object_get_array_member (r, "not_recommended");

          if (!enc && missing != NULL && json_array_get_length (missing) > 0)
            {
              printf ("%s", _("no key for:"));
              for (guint i = 0; i < json_array_get_length (missing); i++)
                {
                  g_autofree char *addr = pst_cli_safe (json_array_get_string_element (missing, i));
                  printf (" %s", addr);
                }
              printf ("\n");
            }
          if (!enc && held != NULL && json_array_get_length (held) > 0)
            {
              printf ("%s", _("Autocrypt does not recommend encrypting to:"));
              for (guint i = 0; i < json_array_get_length (held); i++)
                {
                  g_autofree char *addr = pst_cli_safe (json_array_get_string_element (held, i));
                  printf (" %s", addr);
                }
              printf ("\n");
            }
          printf (_("send from %s (account %s): %s (encrypt = %s)\n"),
                  json_object_get_string_member (r, "from"),
                  json_object_get_string_member (r, "account"), what,
                  json_object_get_string_member (r, "encrypt"));
        }
    }
  if (refused != NULL && !cli->json)
    {
      g_autofree char *why = pst_cli_safe (refused);
      fprintf (stderr, "postern: %s: %s\n", _("keys check"), why);
    }
  json_object_unref (r);
  return refused != NULL ? PST_ERROR_POLICY : 0;
}

/* Asks for the passphrase of @address's S/MIME key on the terminal:
 * pst_cli_prompt_secret. */
static int
prompt_passphrase (const char *address)
{
  g_autofree char *prompt = g_strdup_printf (_("Passphrase for the S/MIME key of %s: "), address);

  return pst_cli_prompt_secret (prompt);
}

/* One keys.unlock call for @address on a connection of its own, closed
 * before this returns: nothing holds the agent's socket while the user
 * types (the agent closes a connection idle for a minute, or sooner at
 * its connection cap).  @passphrase_fd: -1 for none.  Transfer full. */
static JsonObject *
unlock_call (PstCli *cli, const char *address, int passphrase_fd, GError **error)
{
  g_autoptr (PstRpcClient) client = pst_cli_connect (cli, TRUE, error);
  JsonObject *params;

  if (client == NULL)
    return NULL;
  params = json_object_new ();
  json_object_set_string_member (params, "address", address);
  if (passphrase_fd < 0)
    return pst_rpc_client_call (client, "keys.unlock", params, NULL, 0, error);
  json_object_set_int_member (params, "passphrase_fd", 0);
  return pst_rpc_client_call (client, "keys.unlock", params, &passphrase_fd, 1, error);
}

/* Whether reply @r says a key of the address is still locked under a
 * passphrase. */
static gboolean
passphrase_needed (JsonObject *r)
{
  return json_object_get_boolean_member_with_default (r, "passphrase_needed", FALSE);
}

/* keys unlock ADDR [--passphrase-fd N]: without N, the Secret Service
 * unlocks what it can and a key under a passphrase asks for it on the
 * terminal, with no connection to the agent open meanwhile.  Exit 2 when
 * a key stays locked for want of a passphrase. */
static int
keys_unlock (PstCli *cli, int argc, char **argv)
{
  int passphrase_fd = -1, status = 0;
  GOptionEntry entries[] = {
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, &passphrase_fd,
      N_("Read the passphrase of the S/MIME key from descriptor N"), "N" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  JsonObject *r = NULL;
  JsonArray *done, *locked;
  gint64 again;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys unlock", _("give exactly one ADDR"));
  if (passphrase_fd >= 0 && fcntl (passphrase_fd, F_GETFD) < 0)
    return pst_cli_usage ("keys unlock", _("--passphrase-fd names a descriptor that is not open"));
  r = unlock_call (cli, argv[1], passphrase_fd, &error);
  /* USAGE: every key is under a passphrase and none was given; a reply
   * with passphrase_needed: some were unlocked, others want one. */
  if (passphrase_fd < 0 && ((r == NULL && g_error_matches (error, PST_ERROR, PST_ERROR_USAGE))
                            || (r != NULL && passphrase_needed (r)))
      && (passphrase_fd = prompt_passphrase (argv[1])) >= 0)
    {
      g_autoptr (GError) second = NULL;
      JsonObject *r2 = unlock_call (cli, argv[1], passphrase_fd, &second);

      close (passphrase_fd);
      g_clear_pointer (&r, json_object_unref);
      g_clear_error (&error);
      if ((r = r2) == NULL)
        g_propagate_error (&error, g_steal_pointer (&second));
    }
  if (r == NULL)
    return pst_cli_fail (_("keys unlock"), error);
  done = json_object_get_array_member (r, "unlocked");
  locked = json_object_get_array_member (r, "locked");
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *address = pst_cli_safe (argv[1]);

      again = json_object_get_int_member_with_default (r, "reanalysed", 0);
      printf (ngettext ("unlocked %u S/MIME key of %s\n", "unlocked %u S/MIME keys of %s\n",
                        json_array_get_length (done)), json_array_get_length (done), address);
      if (again > 0)
        printf (ngettext ("%u message that needed it was analysed again\n",
                          "%u messages that needed it were analysed again\n", (gulong) again),
                (guint) again);
    }
  if (locked != NULL && json_array_get_length (locked) > 0)
    {
      g_autofree char *address = pst_cli_safe (argv[1]);
      guint n = json_array_get_length (locked);

      if (passphrase_needed (r))
        {
          fprintf (stderr, "postern: %s: ", _("keys unlock"));
          fprintf (stderr, ngettext ("%u S/MIME key of %s is still locked: it is encrypted under "
                                     "a passphrase (postern keys unlock %s --passphrase-fd N)\n",
                                     "%u S/MIME keys of %s are still locked: they are encrypted "
                                     "under a passphrase (postern keys unlock %s --passphrase-fd N)\n",
                                     n), n, address, address);
          status = PST_ERROR_USAGE;
        }
      else if (!cli->json)
        printf (ngettext ("%u S/MIME key of %s is still locked: the Secret Service did not "
                          "unlock it\n",
                          "%u S/MIME keys of %s are still locked: the Secret Service did not "
                          "unlock them\n", n), n, address);
    }
  json_object_unref (r);
  return status;
}

/* keys generate ADDR (--passphrase-fd N | --no-passphrase) [--expires-days DAYS]:
 * an OpenPGP key for ADDR, which its account then uses; with --scheme
 * smime --csr FILE [--rsa], an S/MIME key and the certificate request for
 * a CA, written to FILE. */
static int
keys_generate (PstCli *cli, int argc, char **argv)
{
  int passphrase_fd = -1, status = 0, days = -1;
  gboolean no_passphrase = FALSE, rsa = FALSE, smime;
  g_autofree char *scheme = NULL, *csr = NULL;
  GOptionEntry entries[] = {
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, &passphrase_fd,
      N_("Protect the secret key with the passphrase read from descriptor N"), "N" },
    { "no-passphrase", 0, 0, G_OPTION_ARG_NONE, &no_passphrase,
      N_("Keep the secret key without a passphrase"), NULL },
    { "expires-days", 0, 0, G_OPTION_ARG_INT, &days,
      N_("The key expires after DAYS days (0: never; default 730)"), "DAYS" },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme,
      N_("pgp (the default) or smime: a key and a certificate request for a CA"), "SCHEME" },
    { "csr", 0, 0, G_OPTION_ARG_FILENAME, &csr,
      N_("S/MIME: write the certificate signing request to FILE"), "FILE" },
    { "rsa", 0, 0, G_OPTION_ARG_NONE, &rsa, N_("S/MIME: an RSA 3072 key instead of EC P-256"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  JsonObject *params, *r;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys generate", _("give exactly one ADDR"));
  if (scheme != NULL && strcmp (scheme, "pgp") != 0 && strcmp (scheme, "smime") != 0)
    return pst_cli_usage ("keys generate", _("--scheme is pgp or smime"));
  smime = g_strcmp0 (scheme, "smime") == 0;
  if (smime && csr == NULL)
    return pst_cli_usage ("keys generate", _("--scheme smime needs --csr FILE for the certificate request"));
  if (!smime && (csr != NULL || rsa))
    return pst_cli_usage ("keys generate", _("--csr and --rsa are for --scheme smime"));
  if (smime && days >= 0)
    return pst_cli_usage ("keys generate", _("--expires-days is for OpenPGP: an S/MIME "
                                             "certificate's validity is the CA's to set"));
  if ((passphrase_fd >= 0) == no_passphrase)
    return pst_cli_usage ("keys generate", _("give --passphrase-fd N or --no-passphrase"));
  if (passphrase_fd >= 0 && fcntl (passphrase_fd, F_GETFD) < 0)
    return pst_cli_usage ("keys generate", _("--passphrase-fd names a descriptor that is not open"));
  params = json_object_new ();
  json_object_set_string_member (params, "address", argv[1]);
  if (smime)
    json_object_set_string_member (params, "scheme", "smime");
  if (rsa)
    json_object_set_boolean_member (params, "rsa", TRUE);
  if (days >= 0)
    json_object_set_int_member (params, "expires_days", days);
  if (no_passphrase)
    json_object_set_boolean_member (params, "no_passphrase", TRUE);
  else
    json_object_set_int_member (params, "passphrase_fd", 0);
  r = pst_cli_call (cli, _("keys generate"), "keys.generate", params,
                    passphrase_fd >= 0 ? &passphrase_fd : NULL, passphrase_fd >= 0 ? 1 : 0,
                    &status);
  if (r == NULL)
    return status;
  if (smime)
    {
      const char *pem = json_object_get_string_member (r, "csr");

      /* The key is kept and waits; without the request written the user
       * can remove it and start again. */
      if (!pst_cli_write_file (csr, pem, strlen (pem), &error))
        {
          g_autofree char *why = g_strdup_printf (_("%s (the key waits as request %s: remove it "
                                                    "with postern keys remove %s and start again)"),
                                                  error->message,
                                                  json_object_get_string_member (r, "request"),
                                                  json_object_get_string_member (r, "request"));

          fprintf (stderr, "postern: %s: %s\n", _("keys generate"), why);
          json_object_unref (r);
          return PST_ERROR_FAILED;
        }
    }
  if (cli->json)
    pst_cli_print_json (r);
  else if (smime)
    {
      g_autofree char *address = pst_cli_safe (json_object_get_string_member (r, "address"));
      g_autofree char *file = pst_cli_safe (csr);

      printf (_("made an S/MIME key (%s) for %s; its certificate request is in %s: have a CA sign "
                "it, then import the certificate (postern keys import CERTIFICATE)\n"),
              json_object_get_string_member (r, "key_type"), address, file);
    }
  else
    {
      g_autofree char *address = pst_cli_safe (json_object_get_string_member (r, "address"));
      g_autofree char *expires = pst_cli_format_time (json_object_get_int_member (r, "expires"));

      printf (_("made OpenPGP key %s for %s (expires: %s)\n"),
              json_object_get_string_member (r, "fingerprint"), address,
              json_object_get_int_member (r, "expires") ? expires : _("never"));
    }
  json_object_unref (r);
  return 0;
}

/* keys locate ADDR: the address's Web Key Directory asked now; what it
 * found, imported (exit 3: nothing there or a key for another address; 5:
 * the directory could not be asked). */
static int
keys_locate (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  JsonObject *params, *r;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys locate", _("give exactly one ADDR"));
  params = json_object_new ();
  json_object_set_string_member (params, "address", argv[1]);
  r = pst_cli_call (cli, _("keys locate"), "keys.locate", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *address = pst_cli_safe (json_object_get_string_member (r, "address"));
      const char *replaced = json_object_get_string_member_with_default (r, "replaced", NULL);

      printf ("%s\n", json_object_get_string_member (r, "fingerprint"));
      printf ("%-13s %s\n", _("address:"), address);
      printf ("%-13s wkd (%s)\n", _("source:"),
              g_strcmp0 (json_object_get_string_member (r, "method"), "direct") == 0
                ? _("direct method") : _("advanced method"));
      if (replaced != NULL)
        printf ("%-13s %s\n", _("replaces:"), replaced);
    }
  json_object_unref (r);
  return 0;
}

const PstCliCmd pst_cli_keys_cmds[] = {
  { "import", keys_import, NULL, "FILE",
    N_("import OpenPGP keys, X.509 certificates or PKCS#12 (FILE or - for standard input)"),
    FALSE },
  { "list", keys_list, NULL, NULL, N_("list the keys and certificates"), FALSE },
  { "show", keys_show, NULL, "ADDR", N_("show the keys and certificates of an address"), FALSE },
  { "remove", keys_remove, NULL, "ID", N_("remove a key or certificate"), FALSE },
  { "unlock", keys_unlock, NULL, "ADDR",
    N_("unlock the S/MIME private key of an address (asks for its passphrase)"), FALSE },
  { "generate", keys_generate, NULL, "ADDR",
    N_("make an OpenPGP key for an address (its account then signs with it), or an S/MIME key "
       "and a certificate request"), FALSE },
  { "export", pst_cli_keys_export, NULL, "ADDR",
    N_("write the public key or certificate of an address (armored OpenPGP or PEM)"), FALSE },
  { "expire", pst_cli_keys_expire, NULL, "ADDR",
    N_("set when the own OpenPGP key of an address expires"), FALSE },
  { "revoke", pst_cli_keys_revoke, NULL, "ADDR",
    N_("revoke the own OpenPGP key of an address, for good"), FALSE },
  { "locate", keys_locate, NULL, "ADDR",
    N_("find the OpenPGP key of an address in its Web Key Directory now, and import it"), FALSE },
  { "setup-message", NULL, pst_cli_setup_message_cmds, NULL,
    N_("export | import an Autocrypt Setup Message: the OpenPGP key for another device"), FALSE },
  { "check", keys_check, NULL, "ADDR…",
    N_("say what send would do with a message to these recipients (exit 3: refused)"), FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
