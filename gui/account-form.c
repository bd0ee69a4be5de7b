/* account-form.c — see account-form.h. */
#include "account-form.h"

#include <string.h>
#include <glib/gi18n.h>

#include "agent.h"
#include "config/config.h"
#include "util/error.h"
#include "util/text.h"

/* How much of what a server says of itself the report shows, and of a pin
 * (44 characters of base64 after "sha256//"). */
#define SERVER_TEXT_MAX_CHARS 200
#define PIN_MAX_CHARS 64

JsonObject *
pst_account_form_build (const PstAccountForm *f, const char *test_name, GError **error)
{
  g_autoptr (JsonObject) a = NULL;
  gboolean secret = f->password_command == NULL;
  g_autofree char *smtp = NULL, *pop3 = NULL;

  if (!*f->name || !*f->address || !*f->user || !*f->smtp_host || !*f->pop3_host)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   _("Fill in the account name, the address, the user name and both servers."));
      return NULL;
    }
  if (secret ? f->password == NULL || !*f->password : !*f->password_command)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   secret ? _("Type the password.") : _("Give the command that prints the password."));
      return NULL;
    }
  smtp = g_strdup_printf ("%s://%s:%d", g_strcmp0 (f->smtp_security, "tls") == 0 ? "smtps" : "smtp",
                          f->smtp_host, f->smtp_port);
  pop3 = g_strdup_printf ("%s://%s:%d", g_strcmp0 (f->pop3_security, "tls") == 0 ? "pop3s" : "pop3",
                          f->pop3_host, f->pop3_port);
  a = json_object_new ();
  json_object_set_string_member (a, "name", test_name ? test_name : f->name);
  json_object_set_string_member (a, "address", f->address);
  json_object_set_string_member (a, "user", f->user);
  json_object_set_string_member (a, "smtp", smtp);
  json_object_set_string_member (a, "pop3", pop3);
  json_object_set_string_member (a, "encrypt", f->encrypt ? f->encrypt : "auto");
  if (f->pins)
    json_object_set_string_member (a, "pin", f->pins);
  if (secret)
    {
      json_object_set_boolean_member (a, "secret_service", TRUE);
      if (test_name && !pst_secret_service_store (test_name, f->user, f->password, error))
        return NULL;
    }
  else
    json_object_set_string_member (a, "password_command", f->password_command);
  return g_steal_pointer (&a);
}

char *
pst_account_form_test_name (const char *name)
{
  return g_strdup_printf ("%s-connection-test-%08x", name, g_random_int ());
}

static const char *const servers[PST_ACCOUNT_FORM_N_SERVERS] = { "smtp", "pop3" };

static gboolean
is_trusted (JsonObject *server)
{
  const char *by = pst_json_str (server, "trusted_by");
  return by != NULL && g_strcmp0 (by, "nothing") != 0;
}

/* Whether @pin is one of @pins (";"-separated). */
static gboolean
has_pin (const char *pins, const char *pin)
{
  g_auto (GStrv) list = g_strsplit (pins ? pins : "", ";", -1);

  return pin != NULL && g_strv_contains ((const char *const *) list, pin);
}

char *
pst_account_form_add_pin (const char *pins, const char *pin)
{
  if (pin == NULL || !*pin || has_pin (pins, pin))
    return g_strdup (pins);
  if (pins == NULL || !*pins)
    return g_strdup (pin);
  return g_strconcat (pins, ";", pin, NULL);
}

char *
pst_account_form_kept_pins (JsonObject *test, const char *sent)
{
  g_autofree char *kept = NULL;

  for (int i = 0; i < PST_ACCOUNT_FORM_N_SERVERS; i++)
    {
      JsonObject *o = pst_json_obj (test, servers[i]);
      const char *pin = pst_json_str (o, "pin");

      if (g_strcmp0 (pst_json_str (o, "trusted_by"), "pin") == 0 && has_pin (sent, pin))
        {
          char *more = pst_account_form_add_pin (kept, pin);

          g_free (kept);
          kept = more;
        }
    }
  return g_steal_pointer (&kept);
}

const char *
pst_account_form_offered_pin (JsonObject *test, int server)
{
  JsonObject *o = pst_json_obj (test, servers[server]);
  const char *pin = pst_json_str (o, "pin");

  if (pin == NULL || is_trusted (o))
    return NULL;
  /* Both servers showing one key: one question, asked with the first. */
  for (int i = 0; i < server; i++)
    if (g_strcmp0 (pst_account_form_offered_pin (test, i), pin) == 0)
      return NULL;
  return pin;
}

/* Whether the pin offered for @server is the other server's too. */
static gboolean
pin_shared (JsonObject *test, int server)
{
  const char *pin = pst_account_form_offered_pin (test, server);

  for (int i = 0; pin != NULL && i < PST_ACCOUNT_FORM_N_SERVERS; i++)
    if (i != server && g_strcmp0 (pst_json_str (pst_json_obj (test, servers[i]), "pin"), pin) == 0
        && !is_trusted (pst_json_obj (test, servers[i])))
      return TRUE;
  return FALSE;
}

char *
pst_account_form_pin_question (JsonObject *test, int server, char **name_out)
{
  const char *pin = pst_account_form_offered_pin (test, server);
  g_autofree char *safe = NULL;

  *name_out = NULL;
  if (pin == NULL)
    return NULL;
  /* The pin comes from the agent, which computed it; sanitized all the
   * same, as everything in the report. */
  safe = pst_text_sanitize_short (pin, PIN_MAX_CHARS);
  if (pin_shared (test, server))
    {
      *name_out = g_strdup (_("Trust both servers by their pin"));
      return g_strdup_printf (_("No authority vouches for the certificate of either server. Both show the pin "
                                "%s. I have compared it with the one the servers' administrator gave me: "
                                "trust both servers by this pin."), safe);
    }
  *name_out = g_strdup (server == 0 ? _("Trust the sending server by its pin")
                                    : _("Trust the fetching server by its pin"));
  return g_strdup_printf (server == 0 ? _("No authority vouches for the certificate of the sending server "
                                          "(SMTP). Its pin is %s. I have compared it with the one the "
                                          "server's administrator gave me: trust this server by its pin.")
                                      : _("No authority vouches for the certificate of the fetching server "
                                          "(POP3). Its pin is %s. I have compared it with the one the "
                                          "server's administrator gave me: trust this server by its pin."),
                          safe);
}

/* Member @key of @o as the report shows what a server says of itself: one
 * line, no control, no separator, no bidi override, not too long. */
static char *
server_says (JsonObject *o, const char *key)
{
  const char *v = pst_json_str (o, key);

  return pst_text_sanitize_short (v ? v : "", SERVER_TEXT_MAX_CHARS);
}

static void
append_server (GString *s, const char *title, JsonObject *o)
{
  const char *login = pst_json_str (o, "login");
  const char *by = pst_json_str (o, "trusted_by");

  g_string_append_printf (s, "%s%s\n", s->len ? "\n" : "", title);
  if (o == NULL)
    return;
  /* Postern's own words first, the pin and who vouches for it, before
   * anything the server chose (its certificate's names, its replies):
   * nothing a server writes can stand where the pin is looked for. */
  if (pst_json_str (o, "tls_version"))
    {
      g_autofree char *pin = server_says (o, "pin");

      g_string_append_printf (s, _("  Pin (SHA-256 of its public key): %s\n"), pin);
      g_string_append_printf (s, _("  Trusted by: %s\n"),
                              g_strcmp0 (by, "ca") == 0 ? _("a certificate authority")
                              : g_strcmp0 (by, "pin") == 0 ? _("its pin, which you confirmed")
                                                            : _("nothing: no authority vouches for it"));
    }
  if (g_strcmp0 (login, "ok") == 0)
    g_string_append (s, _("  Login: accepted\n"));
  else if (g_strcmp0 (login, "not-tried") == 0)
    g_string_append (s, _("  Login: not tried (the connection is not verified)\n"));
  if (pst_json_str (o, "tls_version"))
    {
      g_autofree char *version = server_says (o, "tls_version"), *cipher = server_says (o, "cipher");
      g_autofree char *subject = server_says (o, "subject"), *issuer = server_says (o, "issuer");

      g_string_append_printf (s, _("  TLS: %s, %s\n"), version, cipher);
      g_string_append_printf (s, _("  Certificate: %s\n"), subject);
      g_string_append_printf (s, _("  Issued by: %s\n"), issuer);
    }
  if (g_strcmp0 (login, "failed") == 0)
    {
      g_autofree char *why = server_says (o, "login_error");

      g_string_append_printf (s, _("  Login: REFUSED: %s\n"), why);
    }
  if (pst_json_str (o, "error"))
    {
      g_autofree char *error = server_says (o, "error");

      g_string_append_printf (s, _("  Error: %s\n"), error);
    }
}

char *
pst_account_form_describe_test (JsonObject *r)
{
  GString *s = g_string_new (NULL);

  /* The verdict first, where it is seen without scrolling. */
  g_string_append (s, pst_json_bool (r, "ok") ? _("Both servers are verified and accept the login.")
                                              : _("The account does not work as it is:"));
  g_string_append_c (s, '\n');
  append_server (s, _("Sending server (SMTP):"), pst_json_obj (r, "smtp"));
  append_server (s, _("Fetching server (POP3):"), pst_json_obj (r, "pop3"));
  return g_string_free (s, FALSE);
}
