#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "util/error.h"

struct _PstConfig {
  char *path;
  GKeyFile *file;      /* kept so that unknown keys and comments survive a save */
  GPtrArray *accounts;
  char *gnupg_home;
  char *scan;               /* [general] scan, or NULL: no scanner */
  gboolean scan_error_delivers;
  guint scan_timeout_s;
};

#define ACCOUNT_PREFIX "account "

void
pst_account_free (PstAccount *a)
{
  if (a == NULL)
    return;
  g_free (a->name);
  g_free (a->address);
  g_free (a->smtp);
  g_free (a->pop3);
  g_free (a->user);
  g_free (a->password_command);
  g_free (a->token_command);
  g_free (a->ca_file);
  g_free (a->pin);
  g_free (a->client_cert);
  g_free (a->client_key);
  g_free (a->auth);
  g_free (a->scheme);
  g_free (a);
}

PstAccount *
pst_account_copy (const PstAccount *a)
{
  PstAccount *c = g_new0 (PstAccount, 1);

  *c = *a;
  c->name = g_strdup (a->name);
  c->address = g_strdup (a->address);
  c->smtp = g_strdup (a->smtp);
  c->pop3 = g_strdup (a->pop3);
  c->user = g_strdup (a->user);
  c->password_command = g_strdup (a->password_command);
  c->token_command = g_strdup (a->token_command);
  c->ca_file = g_strdup (a->ca_file);
  c->pin = g_strdup (a->pin);
  c->client_cert = g_strdup (a->client_cert);
  c->client_key = g_strdup (a->client_key);
  c->auth = g_strdup (a->auth);
  c->scheme = g_strdup (a->scheme);
  return c;
}

const char *
pst_encrypt_mode_to_string (PstEncryptMode mode)
{
  switch (mode)
    {
    case PST_ENCRYPT_ALWAYS:
      return "always";
    case PST_ENCRYPT_NEVER:
      return "never";
    case PST_ENCRYPT_AUTO:
    default:
      return "auto";
    }
}

gboolean
pst_encrypt_mode_parse (const char *text, PstEncryptMode *mode_out, GError **error)
{
  if (g_strcmp0 (text, "auto") == 0)
    *mode_out = PST_ENCRYPT_AUTO;
  else if (g_strcmp0 (text, "always") == 0)
    *mode_out = PST_ENCRYPT_ALWAYS;
  else if (g_strcmp0 (text, "never") == 0)
    *mode_out = PST_ENCRYPT_NEVER;
  else
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "encrypt must be always, auto or never, not '%s'", text ? text : "");
      return FALSE;
    }
  return TRUE;
}

void
pst_server_url_clear (PstServerUrl *url)
{
  g_clear_pointer (&url->host, g_free);
}

gboolean
pst_server_url_parse (const char *url, PstServerUrl *out, GError **error)
{
  static const struct { const char *scheme; PstUrlKind kind; guint16 port; } kinds[] = {
    { "smtp", PST_URL_SMTP, 587 }, { "smtps", PST_URL_SMTPS, 465 },
    { "pop3", PST_URL_POP3, 110 }, { "pop3s", PST_URL_POP3S, 995 },
  };
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local = NULL;

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local);
  if (uri == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "bad server URL '%s': %s", url,
                   local->message);
      return FALSE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      if (g_ascii_strcasecmp (g_uri_get_scheme (uri), kinds[i].scheme) != 0)
        continue;
      if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
        break;
      if ((*g_uri_get_path (uri) != '\0' && strcmp (g_uri_get_path (uri), "/") != 0)
          || g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL)
        break;
      out->kind = kinds[i].kind;
      out->host = g_strdup (g_uri_get_host (uri));
      out->port = g_uri_get_port (uri) > 0 ? (guint16) g_uri_get_port (uri) : kinds[i].port;
      return TRUE;
    }
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
               "bad server URL '%s': use smtp://HOST:PORT, smtps://HOST:PORT, pop3://HOST:PORT "
               "or pop3s://HOST:PORT", url);
  return FALSE;
}

static gboolean
valid_name (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.' && *p != '@')
      return FALSE;
  return TRUE;
}

gboolean
pst_account_validate (const PstAccount *a, GError **error)
{
  PstServerUrl url = { 0 };
  const char *at;

  if (!valid_name (a->name))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account name '%s' is not valid: use letters, digits, '-', '_', '.' or '@'",
                   a->name ? a->name : "");
      return FALSE;
    }
  at = a->address ? strrchr (a->address, '@') : NULL;
  if (at == NULL || at == a->address || at[1] == '\0' || strpbrk (a->address, " <>\t\r\n,;"))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: address '%s' is not an e-mail address", a->name,
                   a->address ? a->address : "");
      return FALSE;
    }
  if (a->smtp == NULL || !pst_server_url_parse (a->smtp, &url, error))
    {
      if (a->smtp == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "account %s: --smtp is missing", a->name);
      return FALSE;
    }
  pst_server_url_clear (&url);
  if (url.kind != PST_URL_SMTP && url.kind != PST_URL_SMTPS)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: the SMTP server must be smtp:// or smtps://", a->name);
      return FALSE;
    }
  if (a->pop3 == NULL || !pst_server_url_parse (a->pop3, &url, error))
    {
      if (a->pop3 == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "account %s: --pop3 is missing", a->name);
      return FALSE;
    }
  pst_server_url_clear (&url);
  if (url.kind != PST_URL_POP3 && url.kind != PST_URL_POP3S)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: the POP3 server must be pop3:// or pop3s://", a->name);
      return FALSE;
    }
  if (a->user == NULL || *a->user == '\0')
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "account %s: --user is missing", a->name);
      return FALSE;
    }
  if ((a->password_command == NULL || *a->password_command == '\0')
      && (a->token_command == NULL || *a->token_command == '\0') && a->client_cert == NULL
      && !a->secret_service)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: --password-command is missing (passwords are never stored in "
                   "the configuration; --token-command or --client-cert log in without one)",
                   a->name);
      return FALSE;
    }
  if (a->ca_file != NULL && !g_file_test (a->ca_file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "account %s: CA file %s does not exist",
                   a->name, a->ca_file);
      return FALSE;
    }
  if (a->client_cert != NULL && !g_file_test (a->client_cert, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: client certificate %s does not exist", a->name, a->client_cert);
      return FALSE;
    }
  if (a->client_key != NULL && a->client_cert == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: a client key needs a client certificate", a->name);
      return FALSE;
    }
  if (a->client_key != NULL && !g_file_test (a->client_key, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: client key %s does not exist", a->name, a->client_key);
      return FALSE;
    }
  if (a->pin != NULL)
    {
      g_autoptr (GPtrArray) pins = NULL;
      GError *local = NULL;

      if (!(pins = pst_pin_list_parse (a->pin, &local)))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "account %s: %s", a->name,
                       local->message);
          g_error_free (local);
          return FALSE;
        }
    }
  if (a->auth != NULL)
    {
      static const char *const known[] = { "EXTERNAL", "OAUTHBEARER", "XOAUTH2", "SCRAM-SHA-256-PLUS",
                                           "SCRAM-SHA-256", "PLAIN", "LOGIN", "USER", NULL };
      g_auto (GStrv) names = g_strsplit_set (a->auth, " ,", -1);
      guint n = 0;

      for (char **m = names; *m; m++)
        {
          g_autofree char *up = g_ascii_strup (*m, -1);

          if (**m == '\0')
            continue;
          n++;
          if (!g_strv_contains (known, up))
            {
              g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                           "account %s: auth: unknown or unsupported mechanism '%s' (known: "
                           "EXTERNAL OAUTHBEARER XOAUTH2 SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN "
                           "LOGIN USER)", a->name, *m);
              return FALSE;
            }
        }
      if (n == 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "account %s: auth is empty", a->name);
          return FALSE;
        }
    }
  if (a->fetch_interval_s != 0 && (a->fetch_interval_s < 30 || a->fetch_interval_s > 7 * 86400))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: fetch_interval must be 0 (only when asked) or 30 seconds to 7 days",
                   a->name);
      return FALSE;
    }
  if (a->timeout_s > 3600)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: timeout must be between 1 and 3600 seconds", a->name);
      return FALSE;
    }
  if (a->scheme != NULL && strcmp (a->scheme, "pgp") != 0 && strcmp (a->scheme, "smime") != 0
      && strcmp (a->scheme, "auto") != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "account %s: scheme must be pgp, smime or auto, not '%s'", a->name, a->scheme);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
pst_pin_list_parse (const char *pin, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_auto (GStrv) items = g_strsplit (pin ? pin : "", ";", -1);

  for (char **i = items; *i != NULL; i++)
    {
      g_autofree guchar *digest = NULL;
      const char *b64 = g_strstrip (*i);
      gsize len = 0;

      if (*b64 == '\0')
        continue;
      if (!g_str_has_prefix (b64, "sha256//") || strlen (b64 + 8) != 44
          || strspn (b64 + 8, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != 44
          || (digest = g_base64_decode (b64 + 8, &len)) == NULL || len != 32)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "pin '%s' is not sha256//BASE64 of a 32-byte SPKI digest "
                       "(as `postern account test` prints it)", b64);
          return NULL;
        }
      g_ptr_array_add (out, g_bytes_new_take (g_steal_pointer (&digest), len));
    }
  if (out->len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "pin is empty");
      return NULL;
    }
  return g_steal_pointer (&out);
}

void
pst_secret_free (char *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

/* The first line that @command prints; @what names it in errors. */
static char *
run_secret_command (const PstAccount *a, const char *command, const char *what, GError **error)
{
  const char *argv[] = { "/bin/sh", "-c", command, NULL };
  char *out = NULL, *err = NULL, *nl;
  int status = 0;
  GError *local = NULL;

  if (command == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "account %s has no %s", a->name, what);
      return NULL;
    }
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, &local))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "account %s: cannot run the %s: %s",
                   a->name, what, local->message);
      g_error_free (local);
      return NULL;
    }
  g_free (err);
  if (!g_spawn_check_wait_status (status, NULL) || out == NULL || *out == '\0' || *out == '\n')
    {
      pst_secret_free (out);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "account %s: the %s failed or printed nothing",
                   a->name, what);
      return NULL;
    }
  nl = strpbrk (out, "\r\n");
  if (nl != NULL)
    explicit_bzero (nl, strlen (nl));
  return out;
}

char *
pst_account_get_password (const PstAccount *a, GError **error)
{
  if (a->password_command == NULL && a->secret_service)
    return pst_secret_service_lookup (a, error);
  return run_secret_command (a, a->password_command, "password command", error);
}

char *
pst_account_get_token (const PstAccount *a, GError **error)
{
  return run_secret_command (a, a->token_command, "token command", error);
}

static char *
get_string (GKeyFile *kf, const char *path, const char *group, const char *key, gboolean required,
            GError **error)
{
  g_autoptr (GError) local = NULL;
  char *v = g_key_file_get_string (kf, group, key, &local);

  if (v == NULL && (required || !g_error_matches (local, G_KEY_FILE_ERROR,
                                                  G_KEY_FILE_ERROR_KEY_NOT_FOUND)))
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [%s] %s: %s", path, group, key,
                 required ? "missing" : local->message);
  return v;
}

/* A true|false key of @group into @out (left as it is when absent). */
static gboolean
get_flag (GKeyFile *kf, const char *path, const char *group, const char *key, gboolean *out,
          GError **error)
{
  g_autofree char *text = NULL;
  GError *local = NULL;

  text = get_string (kf, path, group, key, FALSE, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (text != NULL && strcmp (text, "true") != 0 && strcmp (text, "false") != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [%s] %s: '%s' is not true or false",
                   path, group, key, text);
      return FALSE;
    }
  if (text != NULL)
    *out = strcmp (text, "true") == 0;
  return TRUE;
}

static PstAccount *
account_from_group (GKeyFile *kf, const char *path, const char *group, GError **error)
{
  g_autoptr (PstAccount) a = g_new0 (PstAccount, 1);
  g_autofree char *encrypt = NULL, *keep = NULL, *timeout = NULL, *interval = NULL;
  g_autofree char *max_rcpt = NULL, *max_hour = NULL, *seal = NULL, *secret = NULL;
  GError *local = NULL;

  a->name = g_strdup (group + strlen (ACCOUNT_PREFIX));
  if (!(a->address = get_string (kf, path, group, "address", TRUE, error))
      || !(a->smtp = get_string (kf, path, group, "smtp", TRUE, error))
      || !(a->pop3 = get_string (kf, path, group, "pop3", TRUE, error))
      || !(a->user = get_string (kf, path, group, "user", TRUE, error)))
    return NULL;
  a->password_command = get_string (kf, path, group, "password_command", FALSE, &local);
  if (local == NULL)
    a->token_command = get_string (kf, path, group, "token_command", FALSE, &local);
  if (local == NULL)
    a->ca_file = get_string (kf, path, group, "ca_file", FALSE, &local);
  if (local == NULL)
    a->pin = get_string (kf, path, group, "pin", FALSE, &local);
  if (local == NULL)
    a->client_cert = get_string (kf, path, group, "client_cert", FALSE, &local);
  if (local == NULL)
    a->client_key = get_string (kf, path, group, "client_key", FALSE, &local);
  if (local == NULL)
    timeout = get_string (kf, path, group, "timeout", FALSE, &local);
  if (local == NULL)
    a->auth = get_string (kf, path, group, "auth", FALSE, &local);
  if (local == NULL)
    interval = get_string (kf, path, group, "fetch_interval", FALSE, &local);
  if (local == NULL)
    max_rcpt = get_string (kf, path, group, "max_recipients", FALSE, &local);
  if (local == NULL)
    max_hour = get_string (kf, path, group, "max_messages_per_hour", FALSE, &local);
  if (local == NULL)
    seal = get_string (kf, path, group, "seal_incoming", FALSE, &local);
  if (local == NULL)
    secret = get_string (kf, path, group, "secret_service", FALSE, &local);
  if (local == NULL)
    a->scheme = get_string (kf, path, group, "scheme", FALSE, &local);
  if (local == NULL)
    encrypt = get_string (kf, path, group, "encrypt", FALSE, &local);
  if (local == NULL)
    keep = get_string (kf, path, group, "keep_on_server", FALSE, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (encrypt != NULL && !pst_encrypt_mode_parse (encrypt, &a->encrypt, &local))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [%s] encrypt: %s", path, group,
                   local->message);
      g_error_free (local);
      return NULL;
    }
  if (timeout != NULL)
    {
      guint64 t = 0;

      if (!g_ascii_string_to_unsigned (timeout, 10, 1, 3600, &t, NULL))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: [%s] timeout: '%s' is not a number of seconds from 1 to 3600", path,
                       group, timeout);
          return NULL;
        }
      a->timeout_s = (guint) t;
    }
  {
    const struct { const char *key, *text; guint *field; } limits[] = {
      { "max_recipients", max_rcpt, &a->max_recipients },
      { "max_messages_per_hour", max_hour, &a->max_per_hour },
    };

    for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
      {
        guint64 n = 0;

        if (limits[i].text == NULL)
          continue;
        if (!g_ascii_string_to_unsigned (limits[i].text, 10, 1, 1000000, &n, NULL))
          {
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                         "%s: [%s] %s: '%s' is not a number from 1 to 1000000", path, group,
                         limits[i].key, limits[i].text);
            return NULL;
          }
        *limits[i].field = (guint) n;
      }
  }
  if (secret != NULL)
    {
      if (strcmp (secret, "true") != 0 && strcmp (secret, "false") != 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: [%s] secret_service: '%s' is not true or false", path, group, secret);
          return NULL;
        }
      a->secret_service = strcmp (secret, "true") == 0;
    }
  if (seal != NULL)
    {
      if (strcmp (seal, "true") != 0 && strcmp (seal, "false") != 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: [%s] seal_incoming: '%s' is not true or false", path, group, seal);
          return NULL;
        }
      a->seal_incoming = strcmp (seal, "true") == 0;
    }
  if (!get_flag (kf, path, group, "store_decrypted_subject", &a->store_decrypted_subject, error))
    return NULL;
  if (interval != NULL)
    {
      guint64 t = 0;

      if (!g_ascii_string_to_unsigned (interval, 10, 0, 7 * 86400, &t, NULL))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: [%s] fetch_interval: '%s' is not a number of seconds", path, group,
                       interval);
          return NULL;
        }
      a->fetch_interval_s = (guint) t;
    }
  if (keep != NULL && g_strcmp0 (keep, "false") != 0)
    {
      guint64 days = 0;
      a->keep_on_server = TRUE;
      if (g_strcmp0 (keep, "true") != 0
          && !g_ascii_string_to_unsigned (keep, 10, 0, 36500, &days, NULL))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: [%s] keep_on_server: '%s' is not true, false or a number of days",
                       path, group, keep);
          return NULL;
        }
      a->keep_days = (guint) days;
    }
  if (!pst_account_validate (a, &local))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [%s]: %s", path, group,
                   local->message);
      g_error_free (local);
      return NULL;
    }
  return g_steal_pointer (&a);
}

/* [general] scan: the form only (the scanner checks the rest). */
static gboolean
check_scan_spec (const char *spec, GError **error)
{
  if (spec == NULL || g_str_has_prefix (spec, "clamd:") || g_str_has_prefix (spec, "command:")
      || strcmp (spec, "none") == 0)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
               "scan: '%s' is not clamd:SOCKET, clamd:HOST:PORT, command:PROGRAM or none", spec);
  return FALSE;
}

gboolean
pst_scan_error_parse (const char *text, gboolean *delivers_out, GError **error)
{
  if (g_strcmp0 (text, "quarantine") != 0 && g_strcmp0 (text, "deliver") != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "on_scan_error: '%s' is not quarantine or deliver", text ? text : "");
      return FALSE;
    }
  *delivers_out = strcmp (text, "deliver") == 0;
  return TRUE;
}

static PstConfig *pst_config_load_text (const char *path, char **text_out, GError **error);

/* The 1-based line of @text where [@group] (and, with @key, its "key =")
 * is, or 0. */
static int
find_line (const char *text, const char *group, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *header = g_strdup_printf ("[%s]", group);
  gboolean in_group = FALSE;
  int group_line = 0;

  for (int i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *l = g_strstrip (g_strdup (lines[i]));

      if (l[0] == '[')
        {
          in_group = strcmp (l, header) == 0;
          if (in_group && group_line == 0)
            group_line = i + 1;
          continue;
        }
      if (in_group && key != NULL && g_str_has_prefix (l, key))
        {
          const char *rest = l + strlen (key);
          while (*rest == ' ' || *rest == '\t')
            rest++;
          if (*rest == '=')
            return i + 1;
        }
    }
  return key != NULL && group_line ? -group_line : group_line;
}

/* Adds the line to an error about @path: "PATH: [GROUP] KEY: why" becomes
 * "PATH:LINE: [GROUP] KEY: why" (the key's line, or the group's when the
 * key is missing); a syntax error quoting a line gets that line. */
static void
add_line_number (GError *error, const char *path, const char *text)
{
  g_autofree char *prefix = g_strconcat (path, ": ", NULL);
  const char *msg = error->message, *rest, *end;
  g_autofree char *group = NULL, *key = NULL;
  int line = 0;

  if (text == NULL || !g_str_has_prefix (msg, prefix))
    return;
  rest = msg + strlen (prefix);
  if (rest[0] == '[' && (end = strchr (rest, ']')) != NULL)
    {
      group = g_strndup (rest + 1, end - rest - 1);
      if (end[1] == ' ' && strchr (end + 2, ':') != NULL)
        key = g_strndup (end + 2, strchr (end + 2, ':') - (end + 2));
      line = find_line (text, group, key);
      line = ABS (line);
    }
  else if ((rest = strstr (msg, "\u201c")) != NULL && (end = strstr (rest, "\u201d")) != NULL)
    {
      /* GKeyFile: "contains line “…” which is not …" */
      g_autofree char *quoted = g_strndup (rest + 3, end - rest - 3);
      g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

      for (int i = 0; lines[i] != NULL && line == 0; i++)
        if (strcmp (g_strchomp (lines[i]), quoted) == 0)
          line = i + 1;
    }
  if (line > 0)
    {
      char *with = g_strdup_printf ("%s:%d: %s", path, line, msg + strlen (prefix));
      g_free (error->message);
      error->message = with;
    }
}

PstConfig *
pst_config_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  PstConfig *c = pst_config_load_text (path, &text, error);

  if (c == NULL && error != NULL && *error != NULL)
    add_line_number (*error, path, text);
  return c;
}

static PstConfig *
pst_config_load_text (const char *path, char **text_out, GError **error)
{
  g_autoptr (PstConfig) c = g_new0 (PstConfig, 1);
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) groups = NULL;

  c->path = g_strdup (path);
  c->file = g_key_file_new ();
  c->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_account_free);
  g_file_get_contents (path, text_out, NULL, NULL);
  if (!g_key_file_load_from_file (c->file, path, G_KEY_FILE_KEEP_COMMENTS, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&c);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: %s", path, local->message);
      return NULL;
    }
  groups = g_key_file_get_groups (c->file, NULL);
  for (char **g = groups; *g; g++)
    {
      if (g_str_has_prefix (*g, ACCOUNT_PREFIX))
        {
          PstAccount *a = account_from_group (c->file, path, *g, error);
          if (a == NULL)
            return NULL;
          g_ptr_array_add (c->accounts, a);
        }
      else if (strcmp (*g, "general") == 0)
        {
          g_autofree char *on_error = NULL, *timeout = NULL;

          c->gnupg_home = get_string (c->file, path, *g, "gnupg_home", FALSE, &local);
          if (local == NULL)
            c->scan = get_string (c->file, path, *g, "scan", FALSE, &local);
          if (local == NULL)
            on_error = get_string (c->file, path, *g, "on_scan_error", FALSE, &local);
          if (local == NULL)
            timeout = get_string (c->file, path, *g, "scan_timeout", FALSE, &local);
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
          if (!check_scan_spec (c->scan, &local)
              || (on_error != NULL
                  && !pst_scan_error_parse (on_error, &c->scan_error_delivers, &local)))
            {
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [general] %s", path,
                           local->message);
              return NULL;
            }
          if (g_strcmp0 (c->scan, "none") == 0)
            g_clear_pointer (&c->scan, g_free);
          if (timeout != NULL)
            {
              guint64 t = 0;

              if (!g_ascii_string_to_unsigned (timeout, 10, 1, PST_SCAN_TIMEOUT_MAX, &t, NULL))
                {
                  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                               "%s: [general] scan_timeout: '%s' is not a number of seconds from "
                               "1 to %d", path, timeout, PST_SCAN_TIMEOUT_MAX);
                  return NULL;
                }
              c->scan_timeout_s = (guint) t;
            }
        }
      else
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: unknown group [%s] (expected [general] or [account NAME])", path, *g);
          return NULL;
        }
    }
  return g_steal_pointer (&c);
}

void
pst_config_free (PstConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->path);
  g_key_file_unref (c->file);
  g_ptr_array_unref (c->accounts);
  g_free (c->gnupg_home);
  g_free (c->scan);
  g_free (c);
}

/* Sets @key of @group to @value, or removes it when @value is NULL (a
 * replaced account drops what it no longer has). */
static void
set_string (GKeyFile *kf, const char *group, const char *key, const char *value)
{
  if (value != NULL)
    g_key_file_set_string (kf, group, key, value);
  else
    g_key_file_remove_key (kf, group, key, NULL);
}

/* The same for a number where 0 means the default. */
static void
set_number (GKeyFile *kf, const char *group, const char *key, guint value)
{
  if (value != 0)
    g_key_file_set_uint64 (kf, group, key, value);
  else
    g_key_file_remove_key (kf, group, key, NULL);
}

static void
set_flag (GKeyFile *kf, const char *group, const char *key, gboolean value)
{
  if (value)
    g_key_file_set_boolean (kf, group, key, TRUE);
  else
    g_key_file_remove_key (kf, group, key, NULL);
}

static void
write_account (GKeyFile *kf, const PstAccount *a)
{
  g_autofree char *group = g_strconcat (ACCOUNT_PREFIX, a->name, NULL);

  g_key_file_set_string (kf, group, "address", a->address);
  g_key_file_set_string (kf, group, "smtp", a->smtp);
  g_key_file_set_string (kf, group, "pop3", a->pop3);
  g_key_file_set_string (kf, group, "user", a->user);
  set_string (kf, group, "password_command", a->password_command);
  set_string (kf, group, "token_command", a->token_command);
  set_string (kf, group, "ca_file", a->ca_file);
  set_string (kf, group, "pin", a->pin);
  set_string (kf, group, "client_cert", a->client_cert);
  set_string (kf, group, "client_key", a->client_key);
  set_number (kf, group, "timeout", a->timeout_s);
  set_string (kf, group, "auth", a->auth);
  set_number (kf, group, "fetch_interval", a->fetch_interval_s);
  set_number (kf, group, "max_recipients", a->max_recipients);
  set_number (kf, group, "max_messages_per_hour", a->max_per_hour);
  set_flag (kf, group, "seal_incoming", a->seal_incoming);
  set_flag (kf, group, "store_decrypted_subject", a->store_decrypted_subject);
  set_flag (kf, group, "secret_service", a->secret_service);
  g_key_file_set_string (kf, group, "encrypt", pst_encrypt_mode_to_string (a->encrypt));
  g_key_file_set_string (kf, group, "scheme", a->scheme ? a->scheme : "auto");
  if (a->keep_on_server && a->keep_days > 0)
    g_key_file_set_uint64 (kf, group, "keep_on_server", a->keep_days);
  else
    g_key_file_set_boolean (kf, group, "keep_on_server", a->keep_on_server);
}

gboolean
pst_config_save (PstConfig *c, GError **error)
{
  g_autofree char *data = NULL, *tmp = NULL;
  gsize len = 0;
  int fd;
  mode_t old;

  data = g_key_file_to_data (c->file, &len, NULL);
  tmp = g_strconcat (c->path, ".XXXXXX", NULL);
  old = umask (077);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  umask (old);
  if (fd < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot write %s: %s", c->path,
                   g_strerror (errno));
      return FALSE;
    }
  if (write (fd, data, len) != (gssize) len || fsync (fd) != 0)
    {
      int e = errno;
      close (fd);
      g_unlink (tmp);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot write %s: %s", c->path,
                   g_strerror (e));
      return FALSE;
    }
  close (fd);
  if (g_rename (tmp, c->path) != 0)
    {
      int e = errno;
      g_unlink (tmp);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot replace %s: %s", c->path,
                   g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
pst_config_get_accounts (PstConfig *c)
{
  return c->accounts;
}

PstAccount *
pst_config_find_account (PstConfig *c, const char *name)
{
  for (guint i = 0; i < c->accounts->len; i++)
    {
      PstAccount *a = g_ptr_array_index (c->accounts, i);
      if (g_strcmp0 (a->name, name) == 0)
        return a;
    }
  return NULL;
}

gboolean
pst_config_add_account (PstConfig *c, PstAccount *account, GError **error)
{
  g_autoptr (PstAccount) a = account;

  if (!pst_account_validate (a, error))
    return FALSE;
  if (pst_config_find_account (c, a->name) != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "account %s already exists", a->name);
      return FALSE;
    }
  write_account (c->file, a);
  g_ptr_array_add (c->accounts, g_steal_pointer (&a));
  return TRUE;
}

gboolean
pst_config_replace_account (PstConfig *c, PstAccount *account, GError **error)
{
  g_autoptr (PstAccount) a = account;

  if (!pst_account_validate (a, error))
    return FALSE;
  for (guint i = 0; i < c->accounts->len; i++)
    if (g_strcmp0 (((PstAccount *) c->accounts->pdata[i])->name, a->name) == 0)
      {
        write_account (c->file, a);
        pst_account_free (c->accounts->pdata[i]);
        c->accounts->pdata[i] = g_steal_pointer (&a);
        return TRUE;
      }
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "no account named %s", a->name);
  return FALSE;
}

gboolean
pst_config_remove_account (PstConfig *c, const char *name, GError **error)
{
  g_autofree char *group = g_strconcat (ACCOUNT_PREFIX, name, NULL);
  PstAccount *a = pst_config_find_account (c, name);

  if (a == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no account named %s", name);
      return FALSE;
    }
  g_key_file_remove_group (c->file, group, NULL);
  g_ptr_array_remove (c->accounts, a);
  return TRUE;
}

const char *
pst_config_get_gnupg_home (PstConfig *c)
{
  return c->gnupg_home;
}

const char *
pst_config_get_scan (PstConfig *c, gboolean *error_delivers_out, guint *timeout_s_out)
{
  if (error_delivers_out != NULL)
    *error_delivers_out = c->scan_error_delivers;
  if (timeout_s_out != NULL)
    *timeout_s_out = c->scan_timeout_s;
  return c->scan;
}

gboolean
pst_config_set_scan (PstConfig *c, const char *spec, gboolean error_delivers, guint timeout_s,
                     GError **error)
{
  if (!check_scan_spec (spec, error))
    return FALSE;
  if (timeout_s > PST_SCAN_TIMEOUT_MAX)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "scan_timeout must be from 1 to %d seconds", PST_SCAN_TIMEOUT_MAX);
      return FALSE;
    }
  if (g_strcmp0 (spec, "none") == 0)
    spec = NULL;
  g_free (c->scan);
  c->scan = g_strdup (spec);
  c->scan_error_delivers = error_delivers;
  c->scan_timeout_s = timeout_s;
  set_string (c->file, "general", "scan", spec);
  g_key_file_set_string (c->file, "general", "on_scan_error",
                         error_delivers ? "deliver" : "quarantine");
  set_number (c->file, "general", "scan_timeout", timeout_s);
  return TRUE;
}
