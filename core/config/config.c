#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "util/error.h"

#include <glib/gi18n-lib.h>

struct _PstConfig {
  char *path;
  GKeyFile *file;      /* kept so that unknown keys and comments survive a save */
  GPtrArray *accounts;
  char *gnupg_home;
  char *scan;               /* [general] scan, or NULL: no scanner */
  gboolean scan_error_delivers;
  guint scan_timeout_s;
  char *ca_file;            /* [general] ca_file: trusted besides the system store, or NULL */
  gboolean wkd_off;         /* [general] wkd = false */
  guint wkd_timeout_s;      /* [general] wkd_timeout, 0: the default */
  char *bridge[2];          /* [general] bridge_smtp, bridge_pop3 (PstBridgeKind), or NULL: off */
  GPtrArray *warnings;      /* of char*: keys this version does not know */
};

#define ACCOUNT_PREFIX "account "

/* --- The account fields ----------------------------------------------------
 * One table says, for every key of an [account NAME] group, where it goes in
 * PstAccount, what it may hold and how it is written: loading, saving and
 * the check for keys that are not known all read it. */

#define F(field) G_STRUCT_OFFSET (PstAccount, field)
#define LIMITS_RANGE "max_recipients and max_messages_per_hour must be from 1 to " \
  G_STRINGIFY (PST_ACCOUNT_LIMIT_MAX)
/* key, kind, required, updatable, path, offset, min, max, shown default,
 * what (file errors), range (socket errors). */
static const PstAccountField account_fields[] = {
  { "address", PST_ACCOUNT_FIELD_STRING, TRUE, FALSE, FALSE, F (address), 0, 0, 0, NULL, NULL },
  { "smtp", PST_ACCOUNT_FIELD_STRING, TRUE, FALSE, FALSE, F (smtp), 0, 0, 0, NULL, NULL },
  { "pop3", PST_ACCOUNT_FIELD_STRING, TRUE, FALSE, FALSE, F (pop3), 0, 0, 0, NULL, NULL },
  { "user", PST_ACCOUNT_FIELD_STRING, TRUE, FALSE, FALSE, F (user), 0, 0, 0, NULL, NULL },
  { "password_command", PST_ACCOUNT_FIELD_STRING, FALSE, TRUE, FALSE, F (password_command), 0, 0, 0, NULL,
    NULL },
  { "token_command", PST_ACCOUNT_FIELD_STRING, FALSE, FALSE, FALSE, F (token_command), 0, 0, 0, NULL, NULL },
  { "ca_file", PST_ACCOUNT_FIELD_STRING, FALSE, TRUE, TRUE, F (ca_file), 0, 0, 0, NULL, NULL },
  { "pin", PST_ACCOUNT_FIELD_STRING, FALSE, TRUE, FALSE, F (pin), 0, 0, 0, NULL, NULL },
  { "client_cert", PST_ACCOUNT_FIELD_STRING, FALSE, FALSE, TRUE, F (client_cert), 0, 0, 0, NULL, NULL },
  { "client_key", PST_ACCOUNT_FIELD_STRING, FALSE, FALSE, TRUE, F (client_key), 0, 0, 0, NULL, NULL },
  { "timeout", PST_ACCOUNT_FIELD_NUMBER, FALSE, TRUE, FALSE, F (timeout_s), 1, PST_ACCOUNT_TIMEOUT_MAX, 60,
    "a number of seconds", "timeout must be between 1 and " G_STRINGIFY (PST_ACCOUNT_TIMEOUT_MAX)
    " seconds" },
  { "auth", PST_ACCOUNT_FIELD_STRING, FALSE, TRUE, FALSE, F (auth), 0, 0, 0, NULL, NULL },
  { "fetch_interval", PST_ACCOUNT_FIELD_NUMBER, FALSE, TRUE, FALSE, F (fetch_interval_s), 0,
    PST_ACCOUNT_FETCH_INTERVAL_MAX, 0, "a number of seconds",
    "fetch_interval must be 0 (only when asked) or 30 seconds to 7 days" },
  { "max_recipients", PST_ACCOUNT_FIELD_NUMBER, FALSE, TRUE, FALSE, F (max_recipients), 1,
    PST_ACCOUNT_LIMIT_MAX, PST_DEFAULT_MAX_RECIPIENTS, "a number", LIMITS_RANGE },
  { "max_messages_per_hour", PST_ACCOUNT_FIELD_NUMBER, FALSE, TRUE, FALSE, F (max_per_hour), 1,
    PST_ACCOUNT_LIMIT_MAX, PST_DEFAULT_MAX_PER_HOUR, "a number", LIMITS_RANGE },
  { "seal_incoming", PST_ACCOUNT_FIELD_FLAG, FALSE, TRUE, FALSE, F (seal_incoming), 0, 0, 0, NULL, NULL },
  { "store_decrypted_subject", PST_ACCOUNT_FIELD_FLAG, FALSE, TRUE, FALSE, F (store_decrypted_subject), 0, 0,
    0, NULL, NULL },
  { "secret_service", PST_ACCOUNT_FIELD_FLAG, FALSE, TRUE, FALSE, F (secret_service), 0, 0, 0, NULL, NULL },
  { "encrypt", PST_ACCOUNT_FIELD_ENCRYPT, FALSE, TRUE, FALSE, F (encrypt), 0, 0, 0, NULL, NULL },
  { "scheme", PST_ACCOUNT_FIELD_SCHEME, FALSE, TRUE, FALSE, F (scheme), 0, 0, 0, NULL, NULL },
  { "keep_on_server", PST_ACCOUNT_FIELD_KEEP, FALSE, TRUE, FALSE, F (keep_on_server), 0,
    PST_ACCOUNT_KEEP_DAYS_MAX, 0, NULL, "keep_days must be between 0 and "
    G_STRINGIFY (PST_ACCOUNT_KEEP_DAYS_MAX) },
  { "deliver", PST_ACCOUNT_FIELD_STRING, FALSE, TRUE, FALSE, F (deliver), 0, 0, 0, NULL, NULL },
  { "deliver_encrypted", PST_ACCOUNT_FIELD_FLAG, FALSE, TRUE, FALSE, F (deliver_encrypted), 0, 0, 0, NULL,
    NULL },
};
#undef F
#undef LIMITS_RANGE

const PstAccountField *
pst_account_fields (gsize *n_out)
{
  *n_out = G_N_ELEMENTS (account_fields);
  return account_fields;
}

#define FIELD(a, f, type) ((type *) ((char *) (a) + (f)->offset))

static const PstAccountField *
find_field (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (account_fields); i++)
    if (strcmp (account_fields[i].key, key) == 0)
      return &account_fields[i];
  return NULL;
}

void
pst_account_free (PstAccount *a)
{
  if (a == NULL)
    return;
  g_free (a->name);
  for (gsize i = 0; i < G_N_ELEMENTS (account_fields); i++)
    if (account_fields[i].kind == PST_ACCOUNT_FIELD_STRING || account_fields[i].kind == PST_ACCOUNT_FIELD_SCHEME)
      g_free (*FIELD (a, &account_fields[i], char *));
  g_free (a);
}

PstAccount *
pst_account_copy (const PstAccount *a)
{
  PstAccount *c = g_new0 (PstAccount, 1);

  *c = *a;
  c->name = g_strdup (a->name);
  for (gsize i = 0; i < G_N_ELEMENTS (account_fields); i++)
    if (account_fields[i].kind == PST_ACCOUNT_FIELD_STRING || account_fields[i].kind == PST_ACCOUNT_FIELD_SCHEME)
      *FIELD (c, &account_fields[i], char *) = g_strdup (*FIELD (a, &account_fields[i], char *));
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
pst_deliver_spec_parse (const char *spec, PstDeliverKind *kind_out, char **target_out,
                        char ***argv_out, GError **error)
{
  g_autoptr (GError) local = NULL;
  char **argv = NULL;

  if (g_str_has_prefix (spec, "maildir:"))
    {
      const char *path = spec + strlen ("maildir:");

      if (g_str_has_prefix (path, "~/"))
        {
          *target_out = g_build_filename (g_get_home_dir (), path + 2, NULL);
          *kind_out = PST_DELIVER_MAILDIR;
        }
      else if (g_path_is_absolute (path))
        {
          *target_out = g_canonicalize_filename (path, NULL);
          *kind_out = PST_DELIVER_MAILDIR;
        }
      else
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       _("'%s' is not an absolute path (maildir:/PATH or maildir:~/PATH)"), path);
          return FALSE;
        }
      if (argv_out != NULL)
        *argv_out = NULL;
      return TRUE;
    }
  if (g_str_has_prefix (spec, "mda:"))
    {
      if (!g_shell_parse_argv (spec + strlen ("mda:"), NULL, &argv, &local))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, _("the MDA command cannot be read: %s"),
                       local->message);
          return FALSE;
        }
      *kind_out = PST_DELIVER_MDA;
      *target_out = NULL;
      if (argv_out != NULL)
        *argv_out = argv;
      else
        g_strfreev (argv);
      return TRUE;
    }
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
               _("'%s' is not maildir:PATH or mda:COMMAND"), spec);
  return FALSE;
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
  if (a->deliver != NULL)
    {
      g_autofree char *target = NULL;
      GError *local = NULL;
      PstDeliverKind kind;

      if (!pst_deliver_spec_parse (a->deliver, &kind, &target, NULL, &local))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, _("account %s: deliver: %s"), a->name,
                       local->message);
          g_error_free (local);
          return FALSE;
        }
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
  if (a->timeout_s > PST_ACCOUNT_TIMEOUT_MAX)
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

/* Reads key @f of @group into @a.  Error messages name the file, group
 * and key ("PATH: [GROUP] KEY: why"), which add_line_number turns into a
 * line. */
static gboolean
read_field (GKeyFile *kf, const char *path, const char *group, const PstAccountField *f,
            PstAccount *a, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;

  text = get_string (kf, path, group, f->key, f->required, error);
  if (text == NULL)
    return error == NULL || *error == NULL;
  switch (f->kind)
    {
    case PST_ACCOUNT_FIELD_STRING:
    case PST_ACCOUNT_FIELD_SCHEME:
      if (strcmp (f->key, "deliver") == 0)
        {
          g_autofree char *target = NULL;
          PstDeliverKind kind;

          /* Here rather than in pst_account_validate, so that the error
           * names the key and its line. */
          if (!pst_deliver_spec_parse (text, &kind, &target, NULL, &local))
            {
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [%s] %s: %s", path, group,
                           f->key, local->message);
              return FALSE;
            }
        }
      *FIELD (a, f, char *) = g_steal_pointer (&text);
      return TRUE;
    case PST_ACCOUNT_FIELD_NUMBER:
      {
        guint64 n = 0;

        if (!g_ascii_string_to_unsigned (text, 10, f->min, f->max, &n, NULL))
          {
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                         "%s: [%s] %s: '%s' is not %s from %" G_GUINT64_FORMAT " to %"
                         G_GUINT64_FORMAT, path, group, f->key, text, f->what, f->min, f->max);
            return FALSE;
          }
        *FIELD (a, f, guint) = (guint) n;
        return TRUE;
      }
    case PST_ACCOUNT_FIELD_FLAG:
      {
        /* GKeyFile's own reading of booleans (true, false, 1, 0). */
        gboolean v = g_key_file_get_boolean (kf, group, f->key, &local);

        if (local != NULL)
          {
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [%s] %s: '%s' is not true or false",
                         path, group, f->key, text);
            return FALSE;
          }
        *FIELD (a, f, gboolean) = v;
        return TRUE;
      }
    case PST_ACCOUNT_FIELD_ENCRYPT:
      if (!pst_encrypt_mode_parse (text, FIELD (a, f, PstEncryptMode), &local))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [%s] %s: %s", path, group, f->key,
                       local->message);
          return FALSE;
        }
      return TRUE;
    case PST_ACCOUNT_FIELD_KEEP:
      {
        guint64 days = 0;

        if (strcmp (text, "false") == 0)
          return TRUE;
        /* true, or a number of days (0: for ever, as true). */
        if (strcmp (text, "true") != 0
            && !g_ascii_string_to_unsigned (text, 10, 0, PST_ACCOUNT_KEEP_DAYS_MAX, &days, NULL))
          {
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                         "%s: [%s] %s: '%s' is not true, false or a number of days", path, group,
                         f->key, text);
            return FALSE;
          }
        a->keep_on_server = TRUE;
        a->keep_days = (guint) days;
        return TRUE;
      }
    }
  g_assert_not_reached ();
}

/* The known key closest to @key, for "did you mean": one that differs
 * by at most two edits, or NULL. */
static const char *const general_keys[] = { "gnupg_home", "scan", "on_scan_error", "scan_timeout",
                                             "ca_file", "wkd", "wkd_timeout",
                                             "bridge_smtp", "bridge_pop3", NULL };

static gboolean
known_key (gboolean account, const char *key)
{
  return account ? find_field (key) != NULL : g_strv_contains (general_keys, key);
}

static const char *
closest_key (gboolean account, const char *key)
{
  const char *best = NULL;
  guint best_d = 3;
  gsize count = account ? G_N_ELEMENTS (account_fields) : g_strv_length ((char **) general_keys);

  for (gsize i = 0; i < count; i++)
    {
      const char *k = account ? account_fields[i].key : general_keys[i];
      gsize n = strlen (key), m = strlen (k);
      g_autofree guint *row = g_new (guint, m + 1);

      if (n > m + 2 || m > n + 2)
        continue;
      /* Levenshtein distance, one row at a time. */
      for (gsize j = 0; j <= m; j++)
        row[j] = (guint) j;
      for (gsize x = 1; x <= n; x++)
        {
          guint diag = row[0];

          row[0] = (guint) x;
          for (gsize j = 1; j <= m; j++)
            {
              guint up = row[j];

              row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diag + (key[x - 1] != k[j - 1]));
              diag = up;
            }
        }
      if (row[m] < best_d)
        {
          best_d = row[m];
          best = k;
        }
    }
  return best;
}

/* Keys of @group this version does not know: kept in the file (a later
 * version's keys survive a save), and reported, since a misspelt key would
 * otherwise be silently ignored ("fetch_intreval = 300"). */
static void
note_unknown_keys (PstConfig *c, const char *group, gboolean account)
{
  g_auto (GStrv) keys = g_key_file_get_keys (c->file, group, NULL, NULL);

  for (char **k = keys; k != NULL && *k != NULL; k++)
    {
      const char *near;

      if (known_key (account, *k))
        continue;
      near = closest_key (account, *k);
      g_ptr_array_add (c->warnings,
                       near != NULL
                         ? g_strdup_printf ("%s: [%s] %s: unknown key, ignored (did you mean %s?)",
                                            c->path, group, *k, near)
                         : g_strdup_printf ("%s: [%s] %s: unknown key, ignored", c->path, group,
                                            *k));
    }
}

static PstAccount *
account_from_group (GKeyFile *kf, const char *path, const char *group, GError **error)
{
  g_autoptr (PstAccount) a = g_new0 (PstAccount, 1);
  GError *local = NULL;

  a->name = g_strdup (group + strlen (ACCOUNT_PREFIX));
  for (gsize i = 0; i < G_N_ELEMENTS (account_fields); i++)
    if (!read_field (kf, path, group, &account_fields[i], a, error))
      return NULL;
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

static const char *const bridge_keys[] = { "bridge_smtp", "bridge_pop3" };

gboolean
pst_bridge_address_parse (const char *text, char **host_out, guint16 *port_out, GError **error)
{
  const char *colon = text ? strrchr (text, ':') : NULL;
  g_autofree char *host = NULL;
  guint64 port = 0;

  if (colon == NULL || colon == text
      || !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "'%s' is not ADDRESS:PORT (127.0.0.1:PORT, [::1]:PORT or localhost:PORT; "
                   "port 0: any free port)", text ? text : "");
      return FALSE;
    }
  host = g_strndup (text, colon - text);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    {
      g_free (host);
      host = g_strdup ("127.0.0.1");
    }
  if (strcmp (host, "127.0.0.1") != 0 && strcmp (host, "::1") != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "'%s': the bridge listens on loopback only (127.0.0.1, ::1 or localhost), "
                   "so that no other machine can reach it", text);
      return FALSE;
    }
  if (host_out != NULL)
    *host_out = g_steal_pointer (&host);
  if (port_out != NULL)
    *port_out = (guint16) port;
  return TRUE;
}

/* [general] bridge_smtp and bridge_pop3 (DESIGN.md §14): loopback only. */
static gboolean
read_general_bridge (PstConfig *c, const char *path, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (bridge_keys); i++)
    {
      g_autoptr (GError) local = NULL;
      g_autofree char *value = get_string (c->file, path, "general", bridge_keys[i], FALSE, &local);

      if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (value == NULL || value[0] == '\0')
        continue;
      if (!pst_bridge_address_parse (value, NULL, NULL, &local))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [general] %s: %s", path,
                       bridge_keys[i], local->message);
          return FALSE;
        }
      c->bridge[i] = g_steal_pointer (&value);
    }
  return TRUE;
}

/* [general] ca_file, wkd and wkd_timeout: the Web Key Directory lookups
 * (DESIGN.md §14). */
static gboolean
read_general_wkd (PstConfig *c, const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *timeout = NULL;

  c->ca_file = get_string (c->file, path, "general", "ca_file", FALSE, &local);
  if (local == NULL && g_key_file_has_key (c->file, "general", "wkd", NULL))
    {
      gboolean on = g_key_file_get_boolean (c->file, "general", "wkd", &local);

      if (local != NULL)
        {
          g_autofree char *text = g_key_file_get_value (c->file, "general", "wkd", NULL);

          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: [general] wkd: '%s' is not true or false", path, text ? text : "");
          return FALSE;
        }
      c->wkd_off = !on;
    }
  if (local == NULL)
    timeout = get_string (c->file, path, "general", "wkd_timeout", FALSE, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (c->ca_file != NULL && !g_file_test (c->ca_file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: [general] ca_file: cannot read %s",
                   path, c->ca_file);
      return FALSE;
    }
  if (timeout != NULL)
    {
      guint64 t = 0;

      if (!g_ascii_string_to_unsigned (timeout, 10, 1, PST_WKD_TIMEOUT_MAX, &t, NULL))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "%s: [general] wkd_timeout: '%s' is not a number of seconds from 1 to %d",
                       path, timeout, PST_WKD_TIMEOUT_MAX);
          return FALSE;
        }
      c->wkd_timeout_s = (guint) t;
    }
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
  for (guint i = 0; c != NULL && i < c->warnings->len; i++)
    {
      /* The same "PATH:LINE: [GROUP] KEY: …" as errors. */
      GError *e = g_error_new_literal (PST_ERROR, PST_ERROR_FAILED, c->warnings->pdata[i]);

      add_line_number (e, path, text);
      g_free (c->warnings->pdata[i]);
      c->warnings->pdata[i] = g_strdup (e->message);
      g_error_free (e);
    }
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
  c->warnings = g_ptr_array_new_with_free_func (g_free);
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
          note_unknown_keys (c, *g, TRUE);
          g_ptr_array_add (c->accounts, a);
        }
      else if (strcmp (*g, "general") == 0)
        {
          g_autofree char *on_error = NULL, *timeout = NULL;

          note_unknown_keys (c, *g, FALSE);

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
          if (!read_general_wkd (c, path, error) || !read_general_bridge (c, path, error))
            return NULL;
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
  g_clear_pointer (&c->warnings, g_ptr_array_unref);
  g_free (c->gnupg_home);
  g_free (c->scan);
  g_free (c->ca_file);
  g_free (c->bridge[0]);
  g_free (c->bridge[1]);
  g_free (c);
}

const GPtrArray *
pst_config_get_warnings (PstConfig *c)
{
  return c->warnings;
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

  for (gsize i = 0; i < G_N_ELEMENTS (account_fields); i++)
    {
      const PstAccountField *f = &account_fields[i];

      switch (f->kind)
        {
        case PST_ACCOUNT_FIELD_STRING:
          set_string (kf, group, f->key, *FIELD (a, f, char *));
          break;
        case PST_ACCOUNT_FIELD_NUMBER:
          set_number (kf, group, f->key, *FIELD (a, f, guint));
          break;
        case PST_ACCOUNT_FIELD_FLAG:
          set_flag (kf, group, f->key, *FIELD (a, f, gboolean));
          break;
        case PST_ACCOUNT_FIELD_ENCRYPT:
          g_key_file_set_string (kf, group, f->key,
                                 pst_encrypt_mode_to_string (*FIELD (a, f, PstEncryptMode)));
          break;
        case PST_ACCOUNT_FIELD_SCHEME:
          g_key_file_set_string (kf, group, f->key, a->scheme ? a->scheme : "auto");
          break;
        case PST_ACCOUNT_FIELD_KEEP:
          if (a->keep_on_server && a->keep_days > 0)
            g_key_file_set_uint64 (kf, group, f->key, a->keep_days);
          else
            g_key_file_set_boolean (kf, group, f->key, a->keep_on_server);
          break;
        }
    }
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

const char *
pst_config_get_ca_file (PstConfig *c)
{
  return c->ca_file;
}

gboolean
pst_config_get_wkd (PstConfig *c, guint *timeout_s_out)
{
  if (timeout_s_out != NULL)
    *timeout_s_out = c->wkd_timeout_s ? c->wkd_timeout_s : PST_WKD_TIMEOUT_DEFAULT;
  return !c->wkd_off;
}

const char *
pst_config_get_bridge (PstConfig *c, PstBridgeKind kind)
{
  return c->bridge[kind];
}

gboolean
pst_config_set_bridge (PstConfig *c, PstBridgeKind kind, const char *address, GError **error)
{
  if (address != NULL && address[0] == '\0')
    address = NULL;
  if (address != NULL && !pst_bridge_address_parse (address, NULL, NULL, error))
    return FALSE;
  g_free (c->bridge[kind]);
  c->bridge[kind] = g_strdup (address);
  set_string (c->file, "general", bridge_keys[kind], address);
  return TRUE;
}
