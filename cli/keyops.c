/* keyops.c — `postern keys export|expire|revoke`: the user's own keys after
 * they are made (and export of others' too). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "cli.h"
#include "util/error.h"

gboolean
pst_cli_write_file (const char *path, const char *data, gsize len, GError **error)
{
  /* A temporary file renamed into place: never half a key or request. */
  if (g_file_set_contents_full (path, data, (gssize) len,
                                G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                0644, error))
    return TRUE;
  pst_error_prefix (error, "%s", path);
  return FALSE;
}

/* Whether the scheme option is absent, pgp or smime; else a usage error. */
static gboolean
scheme_ok (const char *command, const char *scheme)
{
  if (scheme == NULL || strcmp (scheme, "pgp") == 0 || strcmp (scheme, "smime") == 0)
    return TRUE;
  pst_cli_usage (command, _("--scheme is pgp or smime"));
  return FALSE;
}

/* keys export ADDR [--scheme pgp|smime] [-o FILE]: the public key (or
 * certificate) on standard output or in FILE. */
int
pst_cli_keys_export (PstCli *cli, int argc, char **argv)
{
  g_autofree char *scheme = NULL, *out = NULL;
  GOptionEntry entries[] = {
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme,
      N_("pgp or smime (default: OpenPGP when there is a key, else the certificate)"), "SCHEME" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, N_("Write to FILE"), "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  JsonObject *params, *r;
  const char *data;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys export", _("give exactly one ADDR"));
  if (!scheme_ok ("keys export", scheme))
    return PST_ERROR_USAGE;
  params = json_object_new ();
  json_object_set_string_member (params, "address", argv[1]);
  if (scheme != NULL)
    json_object_set_string_member (params, "scheme", scheme);
  r = pst_cli_call (cli, _("keys export"), "keys.export", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  data = json_object_get_string_member (r, "data");
  if (out != NULL && strcmp (out, "-") != 0)
    {
      if (!pst_cli_write_file (out, data, strlen (data), &error))
        {
          json_object_unref (r);
          return pst_cli_fail (_("keys export"), error);
        }
      if (cli->json)
        pst_cli_print_json (r);
      else
        {
          g_autofree char *address = pst_cli_safe (argv[1]);
          g_autofree char *file = pst_cli_safe (out);

          printf (strcmp (json_object_get_string_member (r, "scheme"), "pgp") == 0
                    ? _("wrote the OpenPGP key of %s to %s\n")
                    : _("wrote the S/MIME certificate of %s to %s\n"), address, file);
        }
    }
  else if (cli->json)
    pst_cli_print_json (r);
  else
    {
      /* gpg's armor or OpenSSL's PEM: base64 lines, nothing a terminal
       * acts on. */
      fputs (data, stdout);
    }
  json_object_unref (r);
  return 0;
}

/* Whether @fd is an open descriptor; else a usage error for @command. */
static gboolean
fd_ok (const char *command, int fd)
{
  if (fd < 0 || fcntl (fd, F_GETFD) >= 0)
    return TRUE;
  pst_cli_usage (command, _("--passphrase-fd names a descriptor that is not open"));
  return FALSE;
}

/* keys expire ADDR (--days N | --never) [--passphrase-fd N]. */
int
pst_cli_keys_expire (PstCli *cli, int argc, char **argv)
{
  int passphrase_fd = -1, days = -1, status = 0;
  gboolean never = FALSE;
  GOptionEntry entries[] = {
    { "days", 0, 0, G_OPTION_ARG_INT, &days, N_("The key expires DAYS days from now"), "DAYS" },
    { "never", 0, 0, G_OPTION_ARG_NONE, &never, N_("The key never expires"), NULL },
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, &passphrase_fd,
      N_("Read the passphrase of the secret key from descriptor N"), "N" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys expire", _("give exactly one ADDR"));
  if ((days >= 0) == never)
    return pst_cli_usage ("keys expire", _("give --days N or --never"));
  if (!never && (days < 1 || days > 36500))
    return pst_cli_usage ("keys expire", _("--days is from 1 to 36500"));
  if (!fd_ok ("keys expire", passphrase_fd))
    return PST_ERROR_USAGE;
  params = json_object_new ();
  json_object_set_string_member (params, "address", argv[1]);
  if (never)
    json_object_set_boolean_member (params, "never", TRUE);
  else
    json_object_set_int_member (params, "days", days);
  if (passphrase_fd >= 0)
    json_object_set_int_member (params, "passphrase_fd", 0);
  r = pst_cli_call (cli, _("keys expire"), "keys.expire", params,
                    passphrase_fd >= 0 ? &passphrase_fd : NULL, passphrase_fd >= 0 ? 1 : 0,
                    &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *address = pst_cli_safe (argv[1]);
      g_autofree char *expires = pst_cli_format_time (json_object_get_int_member (r, "expires"));

      printf (_("OpenPGP key %s of %s expires: %s\n"), json_object_get_string_member (r, "fingerprint"),
              address, json_object_get_int_member (r, "expires") ? expires : _("never"));
    }
  json_object_unref (r);
  return 0;
}

/* Asks on the terminal whether to revoke the key of @address; TRUE only for
 * the answer "yes".  @asked_out: FALSE when there is no terminal to ask on. */
static gboolean
confirm_revoke (const char *address, gboolean *asked_out)
{
  g_autofree char *safe = pst_cli_safe (address);
  g_autofree char *prompt = g_strdup_printf (_("Revoke the OpenPGP key of %s? This cannot be undone: "
                                               "once peers have the revocation they will never "
                                               "encrypt to it or trust its signatures again. "
                                               "Type yes to revoke: "), safe);
  int tty = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  char buf[64];
  size_t len = 0;
  ssize_t n;

  *asked_out = FALSE;
  if (tty < 0)
    return FALSE;
  if (write (tty, prompt, strlen (prompt)) < 0)
    {
      close (tty);
      return FALSE;
    }
  *asked_out = TRUE;
  while (len < sizeof buf - 1 && (n = read (tty, buf + len, 1)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || buf[len] == '\n')
        break;
      len++;
    }
  close (tty);
  buf[len] = '\0';
  g_strstrip (buf);
  return strcmp (buf, "yes") == 0 || strcmp (buf, _("yes")) == 0;
}

/* keys revoke ADDR [--reason R] [--passphrase-fd N] [--yes].  It cannot be
 * undone, so it is confirmed: by --yes, or by typing yes on the terminal;
 * with neither (no terminal: a script, cron) it is refused, exit 2. */
int
pst_cli_keys_revoke (PstCli *cli, int argc, char **argv)
{
  int passphrase_fd = -1, status = 0;
  g_autofree char *reason = NULL;
  gboolean yes = FALSE, asked = FALSE;
  GOptionEntry entries[] = {
    { "reason", 0, 0, G_OPTION_ARG_STRING, &reason,
      N_("compromised, superseded or retired"), "REASON" },
    { "passphrase-fd", 0, 0, G_OPTION_ARG_INT, &passphrase_fd,
      N_("Read the passphrase of the secret key from descriptor N"), "N" },
    { "yes", 0, 0, G_OPTION_ARG_NONE, &yes, N_("Revoke without asking (it cannot be undone)"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("keys revoke", _("give exactly one ADDR"));
  if (reason != NULL && strcmp (reason, "compromised") != 0 && strcmp (reason, "superseded") != 0
      && strcmp (reason, "retired") != 0)
    return pst_cli_usage ("keys revoke", _("--reason is compromised, superseded or retired"));
  if (!fd_ok ("keys revoke", passphrase_fd))
    return PST_ERROR_USAGE;
  if (!yes && !confirm_revoke (argv[1], &asked))
    {
      if (!asked)
        return pst_cli_usage ("keys revoke", _("revoking a key cannot be undone: confirm with --yes "
                                               "(there is no terminal to ask on)"));
      fprintf (stderr, "postern: %s: %s\n", _("keys revoke"), _("not confirmed: nothing revoked"));
      return PST_ERROR_USAGE;
    }
  params = json_object_new ();
  json_object_set_string_member (params, "address", argv[1]);
  json_object_set_boolean_member (params, "confirm", TRUE);
  if (reason != NULL)
    json_object_set_string_member (params, "reason", reason);
  if (passphrase_fd >= 0)
    json_object_set_int_member (params, "passphrase_fd", 0);
  r = pst_cli_call (cli, _("keys revoke"), "keys.revoke", params,
                    passphrase_fd >= 0 ? &passphrase_fd : NULL, passphrase_fd >= 0 ? 1 : 0,
                    &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *address = pst_cli_safe (argv[1]);

      printf (_("revoked OpenPGP key %s of %s; give it to peers (postern keys export %s) so that "
                "they learn of it\n"), json_object_get_string_member (r, "fingerprint"), address,
              address);
    }
  json_object_unref (r);
  return 0;
}
