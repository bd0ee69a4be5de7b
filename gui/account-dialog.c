/* account-dialog.c — see account-dialog.h. */
#include "account-dialog.h"
#include "a11y.h"
#include "key-setup.h"

#include <string.h>
#include <glib/gi18n.h>

#include "config/config.h"
#include "util/error.h"
#include "verdict.h"

struct _PstAccountDialog {
  GtkDialog parent;
  PstAgentLink *agent;
  GtkWidget *name_entry, *address_entry, *user_entry, *storage_combo, *password_entry,
    *password_label, *command_entry, *command_label, *smtp_host_entry, *smtp_security_combo,
    *smtp_port_spin, *pop3_host_entry, *pop3_security_combo, *pop3_port_spin, *encrypt_combo,
    *test_button, *add_button, *cancel_button, *result_label, *pin_check, *form_grid, *result_scroll, *key_setup;
  char *auto_domain;          /* the domain the server fields were filled from */
  char *auto_address;         /* the address the user name was filled from */
  char *pins;                 /* the servers' pins, offered for trust */
  char *test_name, *test_user; /* the Secret Service entry of a test in progress */
  gboolean adding, busy;
  gboolean committing;         /* account.add sent: its answer stores the password */
  gboolean key_step;           /* the account is there; its OpenPGP key is shown or made */
  gboolean added_now;          /* … just added here: close when it already has a key */
};

G_DEFINE_TYPE (PstAccountDialog, pst_account_dialog, GTK_TYPE_DIALOG)

static const char *
text (GtkWidget *entry)
{
  return gtk_entry_get_text (GTK_ENTRY (entry));
}

static void
set_if_auto (GtkWidget *entry, const char *old_value, const char *new_value)
{
  const char *now = text (entry);

  if (*now == '\0' || g_strcmp0 (now, old_value) == 0)
    gtk_entry_set_text (GTK_ENTRY (entry), new_value);
}

/* The servers, the user and the name follow the address while the user
 * has not written their own. */
static void
on_address_changed (PstAccountDialog *self)
{
  const char *address = text (self->address_entry);
  const char *at = strrchr (address, '@');
  g_autofree char *domain = g_strdup (at ? at + 1 : "");
  g_autofree char *old_smtp = g_strconcat ("smtp.", self->auto_domain ? self->auto_domain : "", NULL);
  g_autofree char *old_pop = g_strconcat ("pop.", self->auto_domain ? self->auto_domain : "", NULL);
  g_autofree char *smtp = g_strconcat ("smtp.", domain, NULL);
  g_autofree char *pop = g_strconcat ("pop.", domain, NULL);
  set_if_auto (self->user_entry, self->auto_address ? self->auto_address : "", address);
  g_free (self->auto_address);
  self->auto_address = g_strdup (address);
  if (*domain)
    {
      set_if_auto (self->smtp_host_entry, old_smtp, smtp);
      set_if_auto (self->pop3_host_entry, old_pop, pop);
    }
  g_free (self->auto_domain);
  self->auto_domain = g_steal_pointer (&domain);
}

static void
on_security_changed (PstAccountDialog *self, GtkComboBox *combo)
{
  const char *id = gtk_combo_box_get_active_id (combo);
  GtkSpinButton *spin = GTK_SPIN_BUTTON (combo == GTK_COMBO_BOX (self->smtp_security_combo)
                                           ? self->smtp_port_spin : self->pop3_port_spin);
  int port = gtk_spin_button_get_value_as_int (spin);

  /* A port the user chose stays; a default follows the choice. */
  if (port == 587 || port == 465 || port == 995 || port == 110)
    gtk_spin_button_set_value (spin, g_strcmp0 (id, "starttls") == 0 ? 587
                                     : g_strcmp0 (id, "tls") == 0 && spin == GTK_SPIN_BUTTON (self->smtp_port_spin) ? 465
                                     : g_strcmp0 (id, "tls") == 0 ? 995 : 110);
}

static void
on_storage_changed (PstAccountDialog *self)
{
  gboolean secret = g_strcmp0 (gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->storage_combo)), "secret") == 0;

  gtk_widget_set_visible (self->password_entry, secret);
  gtk_widget_set_visible (self->password_label, secret);
  gtk_widget_set_visible (self->command_entry, !secret);
  gtk_widget_set_visible (self->command_label, !secret);
}

static void
result (PstAccountDialog *self, const char *words, gboolean error)
{
  GtkStyleContext *sc = gtk_widget_get_style_context (self->result_label);

  gtk_label_set_text (GTK_LABEL (self->result_label), words);
  if (error)
    gtk_style_context_add_class (sc, "error");
  else
    gtk_style_context_remove_class (sc, "error");
}

static void
busy (PstAccountDialog *self, gboolean busy)
{
  self->busy = busy;
  gtk_widget_set_sensitive (self->test_button, !busy);
  gtk_widget_set_sensitive (self->add_button, !busy);
}

/* The account as account.add takes it; NULL with the reason when a field
 * is missing.  For a test (@test_name not NULL) the account is named
 * @test_name and the typed password is put in the Secret Service under
 * that name, to be removed after the test: a test leaves no secret behind
 * and never replaces the password of an account that has the real name.
 * For the account itself the password is stored once it is added
 * (added()). */
static JsonObject *
build_account (PstAccountDialog *self, const char *test_name, GError **error)
{
  g_autoptr (JsonObject) a = json_object_new ();
  const char *name = text (self->name_entry), *address = text (self->address_entry);
  const char *user = text (self->user_entry);
  const char *smtp_sec = gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->smtp_security_combo));
  const char *pop_sec = gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->pop3_security_combo));
  gboolean secret = g_strcmp0 (gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->storage_combo)), "secret") == 0;
  g_autofree char *smtp = NULL, *pop3 = NULL;

  /* A port typed but not yet confirmed counts as typed. */
  gtk_spin_button_update (GTK_SPIN_BUTTON (self->smtp_port_spin));
  gtk_spin_button_update (GTK_SPIN_BUTTON (self->pop3_port_spin));
  if (!*name || !*address || !*user || !*text (self->smtp_host_entry) || !*text (self->pop3_host_entry))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   _("Fill in the account name, the address, the user name and both servers."));
      return NULL;
    }
  if (secret ? !*text (self->password_entry) : !*text (self->command_entry))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   secret ? _("Type the password.") : _("Give the command that prints the password."));
      return NULL;
    }
  smtp = g_strdup_printf ("%s://%s:%d", g_strcmp0 (smtp_sec, "tls") == 0 ? "smtps" : "smtp",
                          text (self->smtp_host_entry),
                          gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->smtp_port_spin)));
  pop3 = g_strdup_printf ("%s://%s:%d", g_strcmp0 (pop_sec, "tls") == 0 ? "pop3s" : "pop3",
                          text (self->pop3_host_entry),
                          gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->pop3_port_spin)));
  json_object_set_string_member (a, "name", test_name ? test_name : name);
  json_object_set_string_member (a, "address", address);
  json_object_set_string_member (a, "user", user);
  json_object_set_string_member (a, "smtp", smtp);
  json_object_set_string_member (a, "pop3", pop3);
  json_object_set_string_member (a, "encrypt",
                                 gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->encrypt_combo)));
  if (self->pins && gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->pin_check)))
    json_object_set_string_member (a, "pin", self->pins);
  if (secret)
    {
      /* The password goes to the keyring, never over the agent's socket. */
      json_object_set_boolean_member (a, "secret_service", TRUE);
      if (test_name && !pst_secret_service_store (test_name, user, text (self->password_entry), error))
        return NULL;
    }
  else
    json_object_set_string_member (a, "password_command", text (self->command_entry));
  return g_steal_pointer (&a);
}

static void
append_server (GString *s, const char *title, JsonObject *o)
{
  const char *login = pst_json_str (o, "login");
  const char *by = pst_json_str (o, "trusted_by");

  g_string_append_printf (s, "%s%s\n", s->len ? "\n" : "", title);
  if (o == NULL)
    return;
  if (g_strcmp0 (login, "ok") == 0)
    g_string_append (s, _("  Login: accepted\n"));
  else if (g_strcmp0 (login, "failed") == 0)
    g_string_append_printf (s, _("  Login: REFUSED: %s\n"),
                            pst_json_str (o, "login_error") ? pst_json_str (o, "login_error") : "");
  else if (g_strcmp0 (login, "not-tried") == 0)
    g_string_append (s, _("  Login: not tried (the connection is not verified)\n"));
  if (pst_json_str (o, "error"))
    g_string_append_printf (s, _("  Error: %s\n"), pst_json_str (o, "error"));
  if (pst_json_str (o, "tls_version"))
    {
      g_string_append_printf (s, _("  TLS: %s, %s\n"), pst_json_str (o, "tls_version"),
                              pst_json_str (o, "cipher") ? pst_json_str (o, "cipher") : "");
      g_string_append_printf (s, _("  Certificate: %s\n"), pst_json_str (o, "subject"));
      g_string_append_printf (s, _("  Issued by: %s\n"), pst_json_str (o, "issuer"));
      g_string_append_printf (s, _("  Pin (SHA-256 of its public key): %s\n"), pst_json_str (o, "pin"));
      g_string_append_printf (s, _("  Trusted by: %s\n"),
                              g_strcmp0 (by, "ca") == 0 ? _("a certificate authority")
                              : g_strcmp0 (by, "pin") == 0 ? _("its pin, which you confirmed")
                                                            : _("nothing: no authority vouches for it"));
    }
}

char *
pst_account_dialog_describe_test (JsonObject *r)
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

static void
on_key_checked (PstAccountDialog *self, gboolean has_key)
{
  /* An account added for an address that has its key: nothing more to do
   * here, as before keys could be made. */
  if (has_key && self->added_now)
    gtk_widget_destroy (GTK_WIDGET (self));
}

/* The dialog's second step: the account's OpenPGP key, shown or offered
 * (key-setup.c); the servers' fields are done with. */
static void
key_step (PstAccountDialog *self, const char *address, const char *heading)
{
  self->key_step = TRUE;
  gtk_widget_hide (self->form_grid);
  gtk_widget_hide (self->test_button);
  gtk_widget_hide (self->result_scroll);
  gtk_widget_hide (self->pin_check);
  gtk_widget_hide (self->add_button);
  gtk_button_set_label (GTK_BUTTON (self->cancel_button), _("_Close"));
  /* pst_a11y_name_fields named it after its first label. */
  atk_object_set_name (gtk_widget_get_accessible (self->cancel_button), _("Close"));
  gtk_widget_show (self->key_setup);
  /* As small as the key's part needs, no longer the form's size. */
  gtk_window_resize (GTK_WINDOW (self), 1, 1);
  pst_key_setup_check (PST_KEY_SETUP (self->key_setup), self->agent, address, heading);
}

static void
added (GObject *source, GAsyncResult *res, gpointer data)
{
  PstAccountDialog *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  self->committing = FALSE;
  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  busy (self, FALSE);
  if (r == NULL)
    result (self, error->message, TRUE);
  else if (pst_json_bool (r, "secret_service")
           && !pst_secret_service_store (pst_json_str (r, "name"), pst_json_str (r, "user"),
                                         text (self->password_entry), &error))
    {
      g_autofree char *t = g_strdup_printf (_("The account was added, but its password could not be "
                                              "stored: %s. Store it with: postern account password %s"),
                                            error->message, pst_json_str (r, "name"));
      result (self, t, TRUE);
    }
  else
    {
      g_autofree char *name = pst_verdict_safe_text (pst_json_str (r, "name"));
      g_autofree char *heading = g_strdup_printf (_("The account “%s” was added."), name);

      self->added_now = TRUE;
      key_step (self, pst_json_str (r, "address"), heading);
    }
  g_object_unref (self);
}

static void
tested (GObject *source, GAsyncResult *res, gpointer data)
{
  PstAccountDialog *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  g_autofree char *words = NULL, *pins = NULL;
  gboolean ok;

  if (self->test_name != NULL)
    {
      pst_secret_service_clear (self->test_name, self->test_user, NULL);
      g_clear_pointer (&self->test_name, g_free);
      g_clear_pointer (&self->test_user, g_free);
    }
  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  if (r == NULL)
    {
      busy (self, FALSE);
      result (self, error->message, TRUE);
      self->adding = FALSE;
      g_object_unref (self);
      return;
    }
  ok = pst_json_bool (r, "ok");
  words = pst_account_dialog_describe_test (r);
  result (self, words, !ok);
  pins = untrusted_pins (r);
  if (g_strcmp0 (pins, self->pins) != 0 && !(pins == NULL && self->pins != NULL && pinned (r)))
    {
      /* A new pin needs a new confirmation; when none is offered, none is
       * kept, unless it is the confirmed pin that made the server trusted. */
      gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->pin_check), FALSE);
      g_free (self->pins);
      self->pins = g_steal_pointer (&pins);
    }
  gtk_widget_set_visible (self->pin_check, self->pins != NULL);
  if (ok && self->adding)
    {
      g_autoptr (GError) local = NULL;
      JsonObject *account = build_account (self, NULL, &local);

      if (account == NULL)
        {
          busy (self, FALSE);
          result (self, local->message, TRUE);
        }
      else
        {
          self->committing = TRUE;
          pst_agent_link_call (self->agent, "account.add", account, -1, NULL, added, g_object_ref (self));
        }
    }
  else
    busy (self, FALSE);
  self->adding = FALSE;
  g_object_unref (self);
}

static void
test (PstAccountDialog *self, gboolean then_add)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *test_name = g_strdup_printf ("%s-connection-test-%08x", text (self->name_entry),
                                                g_random_int ());
  JsonObject *account = build_account (self, test_name, &error);
  JsonObject *params;

  if (account == NULL)
    {
      result (self, error->message, TRUE);
      return;
    }
  if (pst_json_bool (account, "secret_service"))
    {
      self->test_name = g_steal_pointer (&test_name);
      self->test_user = g_strdup (text (self->user_entry));
    }
  params = json_object_new ();
  json_object_set_object_member (params, "account", account);
  json_object_set_boolean_member (params, "login", TRUE);
  self->adding = then_add;
  busy (self, TRUE);
  result (self, _("Testing the connection…"), FALSE);
  pst_agent_link_call (self->agent, "account.test", params, -1, NULL, tested, g_object_ref (self));
}

static void
on_test (PstAccountDialog *self)
{
  test (self, FALSE);
}

static void
on_response (PstAccountDialog *self, int response)
{
  /* Not while the account is being added: the answer still has to put
   * its password in the Secret Service. */
  if (self->committing || pst_key_setup_is_busy (PST_KEY_SETUP (self->key_setup)))
    return;
  if (self->key_step)
    {
      if (response != GTK_RESPONSE_OK)
        gtk_widget_destroy (GTK_WIDGET (self));
      return;
    }
  if (response != GTK_RESPONSE_OK && self->busy)
    {
      /* Closing while the agent tests or adds: its answer finds the dialog
       * gone (added() and tested() check), and nothing more is done. */
      gtk_widget_destroy (GTK_WIDGET (self));
      return;
    }
  if (response == GTK_RESPONSE_OK)
    {
      /* An account is added only once both servers took the login; the
       * dialog stays open, with everything typed, when they did not. */
      if (!self->busy)
        test (self, TRUE);
      return;
    }
  gtk_widget_destroy (GTK_WIDGET (self));
}

static void
pst_account_dialog_dispose (GObject *object)
{
  PstAccountDialog *self = PST_ACCOUNT_DIALOG (object);

  g_clear_object (&self->agent);
  G_OBJECT_CLASS (pst_account_dialog_parent_class)->dispose (object);
}

static void
pst_account_dialog_finalize (GObject *object)
{
  PstAccountDialog *self = PST_ACCOUNT_DIALOG (object);

  g_free (self->auto_domain);
  g_free (self->auto_address);
  g_free (self->pins);
  if (self->test_name)
    pst_secret_service_clear (self->test_name, self->test_user, NULL);
  g_free (self->test_name);
  g_free (self->test_user);
  G_OBJECT_CLASS (pst_account_dialog_parent_class)->finalize (object);
}

static void
pst_account_dialog_class_init (PstAccountDialogClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_account_dialog_dispose;
  G_OBJECT_CLASS (klass)->finalize = pst_account_dialog_finalize;
  g_type_ensure (PST_TYPE_KEY_SETUP);
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/account-dialog.ui");
#define CHILD(n) gtk_widget_class_bind_template_child (w, PstAccountDialog, n)
  CHILD (name_entry);
  CHILD (address_entry);
  CHILD (user_entry);
  CHILD (storage_combo);
  CHILD (password_entry);
  CHILD (password_label);
  CHILD (command_entry);
  CHILD (command_label);
  CHILD (smtp_host_entry);
  CHILD (smtp_security_combo);
  CHILD (smtp_port_spin);
  CHILD (pop3_host_entry);
  CHILD (pop3_security_combo);
  CHILD (pop3_port_spin);
  CHILD (encrypt_combo);
  CHILD (test_button);
  CHILD (add_button);
  CHILD (cancel_button);
  CHILD (form_grid);
  CHILD (result_scroll);
  CHILD (key_setup);
  CHILD (result_label);
  CHILD (pin_check);
#undef CHILD
  gtk_widget_class_bind_template_callback (w, on_address_changed);
  gtk_widget_class_bind_template_callback (w, on_security_changed);
  gtk_widget_class_bind_template_callback (w, on_storage_changed);
  gtk_widget_class_bind_template_callback (w, on_test);
}

static void
pst_account_dialog_init (PstAccountDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  pst_a11y_name_fields (GTK_WIDGET (self));
  g_signal_connect (self, "response", G_CALLBACK (on_response), NULL);
  g_signal_connect_swapped (self->key_setup, "checked", G_CALLBACK (on_key_checked), self);
  on_storage_changed (self);
}

PstAccountDialog *
pst_account_dialog_new (GtkWindow *parent, PstAgentLink *agent)
{
  PstAccountDialog *self = g_object_new (PST_TYPE_ACCOUNT_DIALOG, "transient-for", parent,
                                         "use-header-bar", FALSE, "destroy-with-parent", TRUE, NULL);

  self->agent = g_object_ref (agent);
  return self;
}

PstAccountDialog *
pst_account_dialog_new_for_key (GtkWindow *parent, PstAgentLink *agent, const char *name, const char *address)
{
  PstAccountDialog *self = pst_account_dialog_new (parent, agent);
  g_autofree char *safe = pst_verdict_safe_text (name);
  g_autofree char *title = g_strdup_printf (_("OpenPGP key of the account “%s”"), safe);

  gtk_window_set_title (GTK_WINDOW (self), title);
  key_step (self, address, NULL);
  return self;
}
