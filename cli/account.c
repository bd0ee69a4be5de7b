/* account.c — `postern account add|list|show|set|test|password|remove`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config/config.h"
#include "util/error.h"

static gint64 keep_days = -1;

static gboolean
parse_keep (const char *name, const char *value, gpointer data, GError **error)
{
  guint64 days = 0;

  if (value == NULL)
    {
      keep_days = 0;
      return TRUE;
    }
  if (!g_ascii_string_to_unsigned (value, 10, 1, 36500, &days, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--keep-on-server takes a number of days (1–36500)"));
      return FALSE;
    }
  keep_days = (gint64) days;
  return TRUE;
}

/* A relative Maildir made absolute, as the CLI does for every file name;
 * "maildir:~/…" is left to the agent (the same user's home). */
static char *
deliver_spec (const char *spec)
{
  const char *path = spec + strlen ("maildir:");

  if (g_str_has_prefix (spec, "maildir:") && *path != '\0' && *path != '~'
      && !g_path_is_absolute (path))
    {
      g_autofree char *abs = g_canonicalize_filename (path, NULL);
      return g_strconcat ("maildir:", abs, NULL);
    }
  return g_strdup (spec);
}

static void
print_account (JsonObject *a)
{
  printf ("%s\n", json_object_get_string_member (a, "name"));
  printf ("  %-17s %s\n", _("address:"), json_object_get_string_member (a, "address"));
  printf ("  %-17s %s\n", _("smtp:"), json_object_get_string_member (a, "smtp"));
  printf ("  %-17s %s\n", _("pop3:"), json_object_get_string_member (a, "pop3"));
  printf ("  %-17s %s\n", _("user:"), json_object_get_string_member (a, "user"));
  if (json_object_get_string_member_with_default (a, "password_command", NULL))
    printf ("  %-17s %s\n", _("password command:"),
            json_object_get_string_member (a, "password_command"));
  if (json_object_get_boolean_member_with_default (a, "secret_service", FALSE))
    printf ("  %-17s %s\n", _("password:"), _("in the Secret Service"));
  if (json_object_get_string_member_with_default (a, "token_command", NULL))
    printf ("  %-17s %s\n", _("token command:"), json_object_get_string_member (a, "token_command"));
  if (json_object_get_string_member_with_default (a, "ca_file", NULL))
    printf ("  %-17s %s\n", _("CA file:"), json_object_get_string_member (a, "ca_file"));
  if (json_object_get_string_member_with_default (a, "pin", NULL))
    printf ("  %-17s %s\n", _("pinned key:"), json_object_get_string_member (a, "pin"));
  if (json_object_get_string_member_with_default (a, "client_cert", NULL))
    printf ("  %-17s %s\n", _("client cert:"), json_object_get_string_member (a, "client_cert"));
  if (json_object_get_string_member_with_default (a, "auth", NULL))
    printf ("  %-17s %s\n", _("auth:"), json_object_get_string_member (a, "auth"));
  if (json_object_get_string_member_with_default (a, "client_key", NULL))
    printf ("  %-17s %s\n", _("client key:"), json_object_get_string_member (a, "client_key"));
  printf ("  %-17s %" G_GINT64_FORMAT " s\n", _("timeout:"),
          json_object_get_int_member_with_default (a, "timeout", 60));
  printf ("  %-17s %" G_GINT64_FORMAT " %s, %" G_GINT64_FORMAT " %s\n", _("limits:"),
          json_object_get_int_member_with_default (a, "max_recipients", 100), _("recipients"),
          json_object_get_int_member_with_default (a, "max_messages_per_hour", 500),
          _("messages an hour"));
  if (json_object_get_int_member_with_default (a, "fetch_interval", 0) > 0)
    printf ("  %-17s %" G_GINT64_FORMAT " s\n", _("fetch every:"),
            json_object_get_int_member (a, "fetch_interval"));
  if (json_object_get_boolean_member_with_default (a, "seal_incoming", FALSE))
    printf ("  %-17s %s\n", _("seal incoming:"), _("yes"));
  if (json_object_get_string_member_with_default (a, "deliver", NULL))
    printf ("  %-17s %s%s\n", _("deliver:"), json_object_get_string_member (a, "deliver"),
            json_object_get_boolean_member_with_default (a, "deliver_encrypted", FALSE)
              ? _(" (as it arrived, encrypted)") : "");
  printf ("  %-17s %s\n", _("encrypt:"), json_object_get_string_member (a, "encrypt"));
  printf ("  %-17s %s\n", _("scheme:"), json_object_get_string_member (a, "scheme"));
  if (json_object_get_boolean_member (a, "keep_on_server"))
    {
      gint64 d = json_object_get_int_member (a, "keep_days");
      if (d > 0)
        printf ("  %-17s %" G_GINT64_FORMAT " %s\n", _("keep on server:"), d, _("days"));
      else
        printf ("  %-17s %s\n", _("keep on server:"), _("yes"));
    }
}

static int
account_add (PstCli *cli, int argc, char **argv)
{
  g_autofree char *address = NULL, *smtp = NULL, *pop3 = NULL, *user = NULL, *pwcmd = NULL,
                  *ca = NULL, *pin = NULL, *client_cert = NULL, *encrypt = NULL, *scheme = NULL,
                  *client_key = NULL, *tokcmd = NULL, *auth = NULL, *deliver = NULL;
  gboolean secret_service = FALSE, seal = FALSE, deliver_encrypted = FALSE;
  int timeout = 0, interval = 0, max_rcpt = 0, max_hour = 0;
  GOptionEntry entries[] = {
    { "address", 0, 0, G_OPTION_ARG_STRING, &address, N_("The account's e-mail address"), "ADDR" },
    { "smtp", 0, 0, G_OPTION_ARG_STRING, &smtp, N_("smtp://HOST:PORT or smtps://HOST:PORT"), "URL" },
    { "pop3", 0, 0, G_OPTION_ARG_STRING, &pop3, N_("pop3://HOST:PORT or pop3s://HOST:PORT"), "URL" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &user, N_("Login name"), "USER" },
    { "password-command", 0, 0, G_OPTION_ARG_STRING, &pwcmd,
      N_("Command that prints the password"), "CMD" },
    { "secret-service", 0, 0, G_OPTION_ARG_NONE, &secret_service,
      N_("Take the password from the Secret Service"), NULL },
    { "token-command", 0, 0, G_OPTION_ARG_STRING, &tokcmd,
      N_("Command that prints an OAuth2 access token (XOAUTH2, OAUTHBEARER)"), "CMD" },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca, N_("Trust this CA instead of the system's"), "PEM" },
    { "pin", 0, 0, G_OPTION_ARG_STRING, &pin,
      N_("Trust the server key with this SHA-256 pin instead of a CA (see account test)"),
      "sha256//BASE64" },
    { "client-cert", 0, 0, G_OPTION_ARG_FILENAME, &client_cert,
      N_("TLS client certificate (PEM; logs in with SASL EXTERNAL when offered)"), "FILE" },
    { "client-key", 0, 0, G_OPTION_ARG_FILENAME, &client_key,
      N_("Private key of the client certificate, if not in its file"), "FILE" },
    { "auth", 0, 0, G_OPTION_ARG_STRING, &auth,
      N_("Allow only these SASL mechanisms (e.g. \"SCRAM-SHA-256 PLAIN\"; USER: POP3 USER/PASS)"),
      "MECHS" },
    { "fetch-interval", 0, 0, G_OPTION_ARG_INT, &interval,
      N_("Fetch by itself every SECONDS (with jitter; default: only when asked)"), "SECONDS" },
    { "seal-incoming", 0, 0, G_OPTION_ARG_NONE, &seal,
      N_("Encrypt mail that arrives in plaintext to your own key, so the store holds none"), NULL },
    { "max-recipients", 0, 0, G_OPTION_ARG_INT, &max_rcpt,
      N_("Refuse messages with more recipients (default 100)"), "N" },
    { "max-messages-per-hour", 0, 0, G_OPTION_ARG_INT, &max_hour,
      N_("Refuse to queue more messages in an hour (default 500)"), "N" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
      N_("Seconds to wait to connect and for each reply (default 60)"), "SECONDS" },
    { "keep-on-server", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_keep,
      N_("Do not delete fetched mail on the server (for DAYS)"), "DAYS" },
    { "encrypt", 0, 0, G_OPTION_ARG_STRING, &encrypt, N_("always, auto or never"), "MODE" },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme, N_("pgp, smime or auto"), "SCHEME" },
    { "deliver", 0, 0, G_OPTION_ARG_STRING, &deliver,
      N_("Hand each fetched message, decrypted, to another mail program too"),
      "maildir:PATH|mda:COMMAND" },
    { "deliver-encrypted", 0, 0, G_OPTION_ARG_NONE, &deliver_encrypted,
      N_("Deliver messages as they arrived, not decrypted"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  int status = 0;

  keep_days = -1;
  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("account add", _("give exactly one account NAME"));
  if (deliver_encrypted && !deliver)
    return pst_cli_usage ("account add", _("--deliver-encrypted needs --deliver"));
  if (secret_service && pwcmd)
    return pst_cli_usage ("account add", _("give --password-command or --secret-service, "
                                           "not both"));
  if (!address || !smtp || !pop3 || !user || !(pwcmd || secret_service || tokcmd || client_cert))
    return pst_cli_usage ("account add", _("--address, --smtp, --pop3, --user and "
                                           "--password-command (or --secret-service, "
                                           "--token-command or --client-cert) are required"));
  if (timeout < 0 || timeout > PST_ACCOUNT_TIMEOUT_MAX)
    return pst_cli_usage ("account add", _("--timeout must be between 1 and 3600 seconds"));
  params = json_object_new ();
  json_object_set_string_member (params, "name", argv[1]);
  json_object_set_string_member (params, "address", address);
  json_object_set_string_member (params, "smtp", smtp);
  json_object_set_string_member (params, "pop3", pop3);
  json_object_set_string_member (params, "user", user);
#define SET_PATH(key, value)                                            \
  if (value)                                                            \
    {                                                                   \
      g_autofree char *abs_ = g_canonicalize_filename (value, NULL);    \
      json_object_set_string_member (params, key, abs_);                \
    }
  if (pwcmd)
    json_object_set_string_member (params, "password_command", pwcmd);
  if (tokcmd)
    json_object_set_string_member (params, "token_command", tokcmd);
  if (pin)
    json_object_set_string_member (params, "pin", pin);
  SET_PATH ("client_cert", client_cert);
  SET_PATH ("client_key", client_key);
#undef SET_PATH
  if (timeout > 0)
    json_object_set_int_member (params, "timeout", timeout);
  if (auth)
    json_object_set_string_member (params, "auth", auth);
  if (interval > 0)
    json_object_set_int_member (params, "fetch_interval", interval);
  if (seal)
    json_object_set_boolean_member (params, "seal_incoming", TRUE);
  if (secret_service)
    json_object_set_boolean_member (params, "secret_service", TRUE);
  if (max_rcpt != 0)
    json_object_set_int_member (params, "max_recipients", max_rcpt);
  if (max_hour != 0)
    json_object_set_int_member (params, "max_messages_per_hour", max_hour);
  if (ca)
    {
      g_autofree char *abs = g_canonicalize_filename (ca, NULL);
      json_object_set_string_member (params, "ca_file", abs);
    }
  if (encrypt)
    json_object_set_string_member (params, "encrypt", encrypt);
  if (scheme)
    json_object_set_string_member (params, "scheme", scheme);
  if (keep_days >= 0)
    {
      json_object_set_boolean_member (params, "keep_on_server", TRUE);
      json_object_set_int_member (params, "keep_days", keep_days);
    }
  if (deliver)
    {
      g_autofree char *spec = deliver_spec (deliver);
      json_object_set_string_member (params, "deliver", spec);
    }
  if (deliver_encrypted)
    json_object_set_boolean_member (params, "deliver_encrypted", TRUE);
  r = pst_cli_call (cli, _("account add"), "account.add", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    printf (_("account %s added\n"), argv[1]);
  if (secret_service && !cli->json)
    printf (_("store its password with: postern account password %s\n"), argv[1]);
  json_object_unref (r);
  return 0;
}

static int
account_list (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  int status = 0;
  JsonObject *r;
  JsonArray *arr;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return pst_cli_usage ("account list", _("takes no arguments"));
  r = pst_cli_call (cli, _("account list"), "account.list", NULL, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      arr = json_object_get_array_member (r, "accounts");
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonObject *a = json_array_get_object_element (arr, i);
          printf ("%-16s %s\n", json_object_get_string_member (a, "name"),
                  json_object_get_string_member (a, "address"));
        }
    }
  json_object_unref (r);
  return 0;
}

/* account show NAME, account remove NAME. */
static int
account_named (PstCli *cli, gboolean show, int argc, char **argv)
{
  const char *what = show ? "account show" : "account remove";
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  int status = 0;
  JsonObject *params, *r;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage (what, _("give exactly one account NAME"));
  params = json_object_new ();
  json_object_set_string_member (params, "name", argv[1]);
  r = pst_cli_call (cli, show ? _("account show") : _("account remove"),
                    show ? "account.show" : "account.remove", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else if (show)
    print_account (r);
  else
    printf (_("account %s removed (its stored mail is kept)\n"), argv[1]);
  json_object_unref (r);
  return 0;
}

static int
account_show (PstCli *cli, int argc, char **argv)
{
  return account_named (cli, TRUE, argc, argv);
}

static int
account_remove (PstCli *cli, int argc, char **argv)
{
  return account_named (cli, FALSE, argc, argv);
}

/* Prints member @key of @o, the words of a server (its certificate, its
 * replies): made safe, as a message's are. */
static void
print_server_words (const char *label, JsonObject *o, const char *key, const char *otherwise)
{
  g_autofree char *safe = pst_cli_safe (json_object_get_string_member_with_default (o, key, otherwise));

  printf ("  %-17s %s\n", label, safe);
}

static void
print_probe (const char *what, JsonObject *o, gboolean login)
{
  const char *e = json_object_get_string_member_with_default (o, "error", NULL);
  const char *l = json_object_get_string_member_with_default (o, "login", "not-tried");
  g_autofree char *url = pst_cli_safe (json_object_get_string_member (o, "url"));

  printf ("%s %s\n", what, url);
  if (json_object_has_member (o, "tls_version"))
    {
      g_autofree char *tls = g_strdup_printf ("%s %s", json_object_get_string_member (o, "tls_version"),
                                              json_object_get_string_member (o, "cipher"));
      g_autofree char *safe_tls = pst_cli_safe (tls);

      printf ("  %-17s %s\n", _("TLS:"), safe_tls);
      print_server_words (_("certificate:"), o, "subject", "");
      print_server_words (_("issuer:"), o, "issuer", "");
      print_server_words (_("valid until:"), o, "not_after", "");
      print_server_words (_("SPKI pin:"), o, "pin", "");
      print_server_words (_("trusted by:"), o, "trusted_by", "nothing");
    }
  if (json_object_has_member (o, "auth_mechanisms"))
    {
      JsonArray *m = json_object_get_array_member (o, "auth_mechanisms");
      printf ("  %-17s", _("mechanisms:"));
      for (guint i = 0; i < json_array_get_length (m); i++)
        {
          g_autofree char *mech = pst_cli_safe (json_array_get_string_element (m, i));
          printf (" %s", mech);
        }
      printf ("\n");
    }
  if (e != NULL)
    print_server_words (_("error:"), o, "error", "");
  if (!login)
    return;
  if (strcmp (l, "ok") == 0)
    printf ("  %-17s %s\n", _("login:"), _("ok"));
  else if (strcmp (l, "failed") == 0)
    {
      g_autofree char *why = pst_cli_safe (json_object_get_string_member_with_default (o, "login_error", ""));
      printf ("  %-17s %s: %s\n", _("login:"), _("failed"), why);
    }
  else
    printf ("  %-17s %s\n", _("login:"), _("not tried (the server was not reached or not trusted)"));
}

/* The first server whose login failed, or NULL. */
static JsonObject *
failed_login (JsonObject *r)
{
  static const char *const servers[] = { "smtp", "pop3" };

  for (gsize i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      JsonObject *o = json_object_get_object_member (r, servers[i]);
      if (g_strcmp0 (json_object_get_string_member_with_default (o, "login", NULL), "failed") == 0)
        return o;
    }
  return NULL;
}

static int
account_test (PstCli *cli, int argc, char **argv)
{
  gboolean login = FALSE;
  GOptionEntry entries[] = {
    { "login", 0, 0, G_OPTION_ARG_NONE, &login,
      N_("Also log in with the account's credentials, then log out (no mail is touched)"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  int status = 0;
  JsonObject *params, *r, *refused;
  gboolean ok;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("account test", _("give exactly one account NAME"));
  params = json_object_new ();
  json_object_set_string_member (params, "name", argv[1]);
  if (login)
    json_object_set_boolean_member (params, "login", TRUE);
  r = pst_cli_call (cli, _("account test"), "account.test", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  ok = json_object_get_boolean_member (r, "ok");
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      print_probe ("smtp", json_object_get_object_member (r, "smtp"), login);
      print_probe ("pop3", json_object_get_object_member (r, "pop3"), login);
    }
  refused = failed_login (r);
  if (!ok && refused != NULL)
    {
      g_autofree char *url = pst_cli_safe (json_object_get_string_member (refused, "url"));
      g_autofree char *why = pst_cli_safe (json_object_get_string_member_with_default (refused, "login_error",
                                                                                      ""));
      fprintf (stderr, _("postern: account test: %s: login to %s failed: %s\n"), argv[1], url, why);
    }
  else if (!ok)
    fprintf (stderr, _("postern: account test: %s: a server could not be verified or read; "
                       "if its certificate is self-signed and the pin above is the one the "
                       "server's administrator gave you, trust it with --pin (postern account "
                       "set %s --pin sha256//…)\n"), argv[1], argv[1]);
  json_object_unref (r);
  return ok ? 0 : PST_ERROR_NETWORK;
}

/* `account set NAME [options]`: changes the settings given, keeps the others. */
static int
account_set (PstCli *cli, int argc, char **argv)
{
  g_autofree char *encrypt = NULL, *scheme = NULL, *pin = NULL, *ca = NULL, *pwcmd = NULL,
                  *auth = NULL, *deliver = NULL;
  gboolean secret_service = FALSE, seal = FALSE, no_seal = FALSE, no_keep = FALSE;
  gboolean no_pin = FALSE, no_ca = FALSE, no_auth = FALSE, no_deliver = FALSE;
  gboolean deliver_encrypted = FALSE, no_deliver_encrypted = FALSE;
  int interval = G_MININT, max_rcpt = G_MININT, max_hour = G_MININT, timeout = G_MININT;
  GOptionEntry entries[] = {
    { "fetch-interval", 0, 0, G_OPTION_ARG_INT, &interval,
      N_("Fetch by itself every SECONDS (0: only when asked)"), "SECONDS" },
    { "max-recipients", 0, 0, G_OPTION_ARG_INT, &max_rcpt,
      N_("Refuse messages with more recipients (0: the default, 100)"), "N" },
    { "max-per-hour", 0, 0, G_OPTION_ARG_INT, &max_hour,
      N_("Refuse to queue more messages in an hour (0: the default, 500)"), "N" },
    { "max-messages-per-hour", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &max_hour, NULL, "N" },
    { "encrypt", 0, 0, G_OPTION_ARG_STRING, &encrypt, N_("always, auto or never"), "MODE" },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme, N_("pgp, smime or auto"), "SCHEME" },
    { "keep-on-server", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_keep,
      N_("Do not delete fetched mail on the server (for DAYS)"), "DAYS" },
    { "no-keep-on-server", 0, 0, G_OPTION_ARG_NONE, &no_keep,
      N_("Delete fetched mail on the server"), NULL },
    { "seal-incoming", 0, 0, G_OPTION_ARG_NONE, &seal,
      N_("Encrypt mail that arrives in plaintext to your own key"), NULL },
    { "no-seal-incoming", 0, 0, G_OPTION_ARG_NONE, &no_seal,
      N_("Store mail as it arrives"), NULL },
    { "pin", 0, 0, G_OPTION_ARG_STRING, &pin,
      N_("Trust the server key with this SHA-256 pin instead of a CA (see account test)"),
      "sha256//BASE64" },
    { "no-pin", 0, 0, G_OPTION_ARG_NONE, &no_pin, N_("Trust the server by its CA again"), NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca, N_("Trust this CA instead of the system's"), "PEM" },
    { "no-ca-file", 0, 0, G_OPTION_ARG_NONE, &no_ca, N_("Trust the system's CAs"), NULL },
    { "password-command", 0, 0, G_OPTION_ARG_STRING, &pwcmd,
      N_("Command that prints the password"), "CMD" },
    { "secret-service", 0, 0, G_OPTION_ARG_NONE, &secret_service,
      N_("Take the password from the Secret Service"), NULL },
    { "auth", 0, 0, G_OPTION_ARG_STRING, &auth,
      N_("Allow only these SASL mechanisms (e.g. \"SCRAM-SHA-256 PLAIN\")"), "MECHS" },
    { "no-auth", 0, 0, G_OPTION_ARG_NONE, &no_auth, N_("Allow every mechanism Postern uses"), NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
      N_("Seconds to wait to connect and for each reply (0: the default, 60)"), "SECONDS" },
    { "deliver", 0, 0, G_OPTION_ARG_STRING, &deliver,
      N_("Hand each fetched message, decrypted, to another mail program too"),
      "maildir:PATH|mda:COMMAND" },
    { "no-deliver", 0, 0, G_OPTION_ARG_NONE, &no_deliver,
      N_("Keep fetched mail in the store only"), NULL },
    { "deliver-encrypted", 0, 0, G_OPTION_ARG_NONE, &deliver_encrypted,
      N_("Deliver messages as they arrived, not decrypted"), NULL },
    { "no-deliver-encrypted", 0, 0, G_OPTION_ARG_NONE, &no_deliver_encrypted,
      N_("Deliver messages decrypted"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  int status = 0;

  keep_days = -1;
  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("account set", _("give exactly one account NAME"));
  if ((pin && no_pin) || (ca && no_ca) || (auth && no_auth) || (seal && no_seal)
      || (keep_days >= 0 && no_keep) || (pwcmd && secret_service) || (deliver && no_deliver)
      || (deliver_encrypted && no_deliver_encrypted))
    return pst_cli_usage ("account set", _("an option and its --no- form (or --password-command "
                                           "and --secret-service) contradict each other"));
  params = json_object_new ();
  json_object_set_string_member (params, "name", argv[1]);
  {
    const struct { const char *key; int value; } numbers[] = {
      { "fetch_interval", interval }, { "max_recipients", max_rcpt },
      { "max_messages_per_hour", max_hour }, { "timeout", timeout },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (numbers); i++)
      if (numbers[i].value != G_MININT)
        json_object_set_int_member (params, numbers[i].key, numbers[i].value);
  }
  if (encrypt)
    json_object_set_string_member (params, "encrypt", encrypt);
  if (scheme)
    json_object_set_string_member (params, "scheme", scheme);
  if (keep_days >= 0 || no_keep)
    {
      json_object_set_boolean_member (params, "keep_on_server", !no_keep);
      json_object_set_int_member (params, "keep_days", no_keep ? 0 : keep_days);
    }
  if (seal || no_seal)
    json_object_set_boolean_member (params, "seal_incoming", seal);
  if (pin)
    json_object_set_string_member (params, "pin", pin);
  else if (no_pin)
    json_object_set_null_member (params, "pin");
  if (ca)
    {
      g_autofree char *abs = g_canonicalize_filename (ca, NULL);
      json_object_set_string_member (params, "ca_file", abs);
    }
  else if (no_ca)
    json_object_set_null_member (params, "ca_file");
  if (auth)
    json_object_set_string_member (params, "auth", auth);
  else if (no_auth)
    json_object_set_null_member (params, "auth");
  if (deliver)
    {
      g_autofree char *spec = deliver_spec (deliver);
      json_object_set_string_member (params, "deliver", spec);
    }
  else if (no_deliver)
    json_object_set_null_member (params, "deliver");
  if (deliver_encrypted || no_deliver_encrypted)
    json_object_set_boolean_member (params, "deliver_encrypted", deliver_encrypted);
  /* One source of the password at a time. */
  if (pwcmd)
    {
      json_object_set_string_member (params, "password_command", pwcmd);
      json_object_set_boolean_member (params, "secret_service", FALSE);
    }
  else if (secret_service)
    {
      json_object_set_null_member (params, "password_command");
      json_object_set_boolean_member (params, "secret_service", TRUE);
    }
  if (json_object_get_size (params) == 1)
    {
      json_object_unref (params);
      return pst_cli_usage ("account set", _("say what to change (see postern account set --help)"));
    }
  r = pst_cli_call (cli, _("account set"), "account.update", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    print_account (r);
  json_object_unref (r);
  return 0;
}

/* `account password NAME [--password-fd N]`: the password of an account
 * with secret_service = true goes into the Secret Service, from the first
 * line of standard input (or descriptor N); it never reaches the agent's
 * socket or the configuration. */
static int
account_password (PstCli *cli, int argc, char **argv)
{
  int fd = 0, status = 0;
  GOptionEntry entries[] = {
    { "password-fd", 0, 0, G_OPTION_ARG_INT, &fd, N_("Read the password from descriptor N"), "N" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOChannel) ch = NULL;
  JsonObject *params, *r;
  char *line = NULL;
  gsize len = 0;
  gboolean ok;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2 || fd < 0)
    return pst_cli_usage ("account password", _("give exactly one account NAME"));
  params = json_object_new ();
  json_object_set_string_member (params, "name", argv[1]);
  if (!(r = pst_cli_call (cli, _("account password"), "account.show", params, NULL, 0, &status)))
    return status;
  if (!json_object_get_boolean_member_with_default (r, "secret_service", FALSE))
    {
      json_object_unref (r);
      return pst_cli_usage ("account password",
                            _("the account does not keep its password in the Secret Service "
                              "(add it with --secret-service)"));
    }
  ch = g_io_channel_unix_new (fd);
  if (g_io_channel_read_line (ch, &line, &len, NULL, &error) != G_IO_STATUS_NORMAL || len == 0)
    {
      json_object_unref (r);
      g_clear_error (&error);
      error = g_error_new (PST_ERROR, PST_ERROR_USAGE, "no password on the input");
      return pst_cli_fail ("account password", error);
    }
  line[strcspn (line, "\r\n")] = '\0';
  ok = pst_cli_secret_store_password (argv[1], json_object_get_string_member (r, "user"), line,
                                      &error);
  explicit_bzero (line, strlen (line));
  g_free (line);
  json_object_unref (r);
  if (!ok)
    return pst_cli_fail ("account password", error);
  if (!cli->json)
    printf (_("the password of account %s is in the Secret Service\n"), argv[1]);
  return 0;
}

const PstCliCmd pst_cli_account_cmds[] = {
  { "add", account_add, NULL, "NAME",
    N_("add an account: --address, --smtp, --pop3, --user and a password source are required"),
    FALSE },
  { "list", account_list, NULL, NULL, N_("list the accounts and their addresses"), FALSE },
  { "show", account_show, NULL, "NAME", N_("show an account's settings"), FALSE },
  { "set", account_set, NULL, "NAME", N_("change settings of an account, keeping the others"),
    FALSE },
  { "test", account_test, NULL, "NAME",
    N_("show the servers' TLS, certificate, pin and SASL mechanisms (--login: log in and out)"),
    FALSE },
  { "password", account_password, NULL, "NAME",
    N_("put the password of an account into the Secret Service (read from standard input)"),
    FALSE },
  { "remove", account_remove, NULL, "NAME", N_("remove an account (its stored mail is kept)"),
    FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
