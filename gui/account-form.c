/* account-form.c — see account-form.h. */
#include "account-form.h"

#include <string.h>
#include <glib/gi18n.h>

#include "agent.h"
#include "config/config.h"
#include "util/error.h"

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

static gboolean
is_trusted (JsonObject *server)
{
  const char *by = pst_json_str (server, "trusted_by");
  return by != NULL && g_strcmp0 (by, "nothing") != 0;
}

/* Whether the pin the user confirmed is what made a server trusted. */
static gboolean
pinned (JsonObject *r)
{
  return g_strcmp0 (pst_json_str (pst_json_obj (r, "smtp"), "trusted_by"), "pin") == 0
         || g_strcmp0 (pst_json_str (pst_json_obj (r, "pop3"), "trusted_by"), "pin") == 0;
}

/* The pins of the servers that nothing else vouches for. */
static char *
untrusted_pins (JsonObject *r)
{
  const char *names[] = { "smtp", "pop3" };
  g_autoptr (GString) s = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      JsonObject *o = pst_json_obj (r, names[i]);
      const char *pin = pst_json_str (o, "pin");

      if (pin && !is_trusted (o) && !strstr (s->str, pin))
        g_string_append_printf (s, "%s%s", s->len ? ";" : "", pin);
    }
  return s->len ? g_strdup (s->str) : NULL;
}

char *
pst_account_form_next_pins (JsonObject *test, const char *current, gboolean *reset_out)
{
  g_autofree char *pins = untrusted_pins (test);

  *reset_out = FALSE;
  if (g_strcmp0 (pins, current) != 0 && !(pins == NULL && current != NULL && pinned (test)))
    {
      *reset_out = TRUE;
      return g_steal_pointer (&pins);
    }
  return g_strdup (current);
}
