/* account-fields.c — see account-fields.h. */
#include "account-fields.h"

#include <string.h>
#include <glib/gi18n.h>

#include "account-form.h"
#include "agent.h"
#include "config/config.h"
#include "util/error.h"
#include "util/secret.h"

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

/* The first label of @domain, kept to what account names may hold. */
static char *
name_for (const char *domain)
{
  char *label = g_strndup (domain, strcspn (domain, "."));

  for (char *p = label; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      *p = '_';
  return label;
}

void
pst_account_fields_address_changed (PstAccountFields *f, gboolean name_follows)
{
  const char *address = text (f->address_entry);
  const char *at = strrchr (address, '@');
  const char *old = f->auto_domain ? f->auto_domain : "";
  g_autofree char *domain = g_strdup (at ? at + 1 : "");
  g_autofree char *old_smtp = g_strconcat ("smtp.", old, NULL), *old_pop = g_strconcat ("pop.", old, NULL);
  g_autofree char *smtp = g_strconcat ("smtp.", domain, NULL), *pop = g_strconcat ("pop.", domain, NULL);
  g_autofree char *old_name = name_for (old), *name = name_for (domain);

  set_if_auto (f->user_entry, f->auto_address ? f->auto_address : "", address);
  g_free (f->auto_address);
  f->auto_address = g_strdup (address);
  if (*domain)
    {
      set_if_auto (f->smtp_host_entry, old_smtp, smtp);
      set_if_auto (f->pop3_host_entry, old_pop, pop);
      if (name_follows)
        set_if_auto (f->name_entry, old_name, name);
    }
  g_free (f->auto_domain);
  f->auto_domain = g_steal_pointer (&domain);
}

void
pst_account_fields_security_changed (PstAccountFields *f, GtkComboBox *combo)
{
  gboolean smtp = combo == GTK_COMBO_BOX (f->smtp_security_combo);
  GtkSpinButton *spin = GTK_SPIN_BUTTON (smtp ? f->smtp_port_spin : f->pop3_port_spin);
  const char *id = gtk_combo_box_get_active_id (combo);
  int port = gtk_spin_button_get_value_as_int (spin);

  /* A port the user chose stays; a default follows the choice. */
  if (port == 587 || port == 465 || port == 995 || port == 110)
    gtk_spin_button_set_value (spin, g_strcmp0 (id, "starttls") == 0 ? 587
                                     : g_strcmp0 (id, "tls") == 0 ? (smtp ? 465 : 995) : 110);
}

void
pst_account_fields_say (PstAccountFields *f, const char *words, gboolean error)
{
  GtkStyleContext *sc = gtk_widget_get_style_context (f->result_label);

  gtk_label_set_text (GTK_LABEL (f->result_label), words);
  if (error)
    gtk_style_context_add_class (sc, "error");
  else
    gtk_style_context_remove_class (sc, "error");
}

static gboolean
secret (PstAccountFields *f)
{
  return f->storage_combo == NULL
         || g_strcmp0 (gtk_combo_box_get_active_id (GTK_COMBO_BOX (f->storage_combo)), "secret") == 0;
}

static JsonObject *
build (PstAccountFields *f, const char *test_name, GError **error)
{
  gboolean in_secret = secret (f);
  PstAccountForm form = {
    .name = text (f->name_entry), .address = text (f->address_entry), .user = text (f->user_entry),
    .password = in_secret ? text (f->password_entry) : NULL,
    .password_command = in_secret ? NULL : text (f->command_entry),
    .smtp_host = text (f->smtp_host_entry),
    .smtp_security = gtk_combo_box_get_active_id (GTK_COMBO_BOX (f->smtp_security_combo)),
    .pop3_host = text (f->pop3_host_entry),
    .pop3_security = gtk_combo_box_get_active_id (GTK_COMBO_BOX (f->pop3_security_combo)),
    .encrypt = f->encrypt_combo ? gtk_combo_box_get_active_id (GTK_COMBO_BOX (f->encrypt_combo)) : "auto",
  };
  g_autofree char *pins = g_strdup (f->pins);

  /* The pins confirmed before, and those ticked now. */
  for (int i = 0; i < PST_ACCOUNT_FORM_N_SERVERS; i++)
    if (f->offered[i] && gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (f->pin_checks[i])))
      {
        char *more = pst_account_form_add_pin (pins, f->offered[i]);

        g_free (pins);
        pins = more;
      }
  form.pins = pins;

  /* A port typed but not yet confirmed counts as typed. */
  gtk_spin_button_update (GTK_SPIN_BUTTON (f->smtp_port_spin));
  gtk_spin_button_update (GTK_SPIN_BUTTON (f->pop3_port_spin));
  form.smtp_port = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (f->smtp_port_spin));
  form.pop3_port = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (f->pop3_port_spin));
  return pst_account_form_build (&form, test_name, error);
}

JsonObject *
pst_account_fields_build (PstAccountFields *f, GError **error)
{
  return build (f, NULL, error);
}

JsonObject *
pst_account_fields_test_params (PstAccountFields *f, GError **error)
{
  g_autofree char *test_name = pst_account_form_test_name (text (f->name_entry));
  JsonObject *account, *params;

  pst_account_fields_test_done (f);
  g_clear_pointer (&f->tested, json_object_unref);
  g_clear_pointer (&f->tested_password, pst_secret_free);
  if (!(account = build (f, test_name, error)))
    return NULL;
  /* The same fields, read once: what is added is what is tested. */
  f->tested = build (f, NULL, NULL);
  if (f->tested != NULL && pst_json_bool (f->tested, "secret_service"))
    f->tested_password = g_strdup (text (f->password_entry));
  if (pst_json_bool (account, "secret_service"))
    {
      f->test_name = g_steal_pointer (&test_name);
      f->test_user = g_strdup (text (f->user_entry));
    }
  params = json_object_new ();
  json_object_set_object_member (params, "account", account);
  json_object_set_boolean_member (params, "login", TRUE);
  return params;
}

void
pst_account_fields_test_done (PstAccountFields *f)
{
  if (f->test_name == NULL)
    return;
  pst_secret_service_clear (f->test_name, f->test_user, NULL);
  g_clear_pointer (&f->test_name, g_free);
  g_clear_pointer (&f->test_user, g_free);
}

JsonObject *
pst_account_fields_take_tested (PstAccountFields *f)
{
  return g_steal_pointer (&f->tested);
}

void
pst_account_fields_set_sensitive (PstAccountFields *f, gboolean sensitive)
{
  GtkWidget *widgets[] = { f->name_entry, f->address_entry, f->user_entry, f->password_entry, f->storage_combo,
                           f->command_entry, f->smtp_host_entry, f->smtp_security_combo, f->smtp_port_spin,
                           f->pop3_host_entry, f->pop3_security_combo, f->pop3_port_spin, f->encrypt_combo,
                           f->pin_checks[0], f->pin_checks[1] };

  for (gsize i = 0; i < G_N_ELEMENTS (widgets); i++)
    if (widgets[i] != NULL)
      gtk_widget_set_sensitive (widgets[i], sensitive);
}

void
pst_account_fields_hide_pins (PstAccountFields *f)
{
  for (int i = 0; i < PST_ACCOUNT_FORM_N_SERVERS; i++)
    gtk_widget_hide (f->pin_checks[i]);
}

/* Check box @i asks about the pin offered for its server in @r, if any. */
static void
offer_pin (PstAccountFields *f, JsonObject *r, int i)
{
  GtkWidget *check = f->pin_checks[i];
  const char *pin = pst_account_form_offered_pin (r, i);
  g_autofree char *name = NULL;
  g_autofree char *question = pst_account_form_pin_question (r, i, &name);
  GtkWidget *label;

  /* Another pin is another question: asked unticked. */
  if (g_strcmp0 (pin, f->offered[i]) != 0)
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (check), FALSE);
  g_free (f->offered[i]);
  f->offered[i] = g_strdup (pin);
  gtk_widget_set_visible (check, pin != NULL);
  if (pin == NULL)
    return;
  gtk_button_set_label (GTK_BUTTON (check), question);
  /* The long sentence wraps, and does not widen the window. */
  label = gtk_bin_get_child (GTK_BIN (check));
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 70);
  atk_object_set_name (gtk_widget_get_accessible (check), name);
  /* Read out with the name: the question, the pin in it. */
  atk_object_set_description (gtk_widget_get_accessible (check), question);
}

gboolean
pst_account_fields_show_test (PstAccountFields *f, JsonObject *r)
{
  gboolean ok = pst_json_bool (r, "ok");
  g_autofree char *words = pst_account_form_describe_test (r);
  char *kept = pst_account_form_kept_pins (r, f->tested ? pst_json_str (f->tested, "pin") : NULL);

  pst_account_fields_say (f, words, !ok);
  g_free (f->pins);
  f->pins = kept;
  for (int i = 0; i < PST_ACCOUNT_FORM_N_SERVERS; i++)
    offer_pin (f, r, i);
  return ok;
}

char *
pst_account_fields_keep_password (PstAccountFields *f, JsonObject *added)
{
  g_autoptr (GError) error = NULL;
  gboolean stored;

  /* The password goes to the keyring, never over the agent's socket. */
  if (!pst_json_bool (added, "secret_service"))
    stored = TRUE;
  else if (f->tested_password == NULL)
    {
      g_set_error_literal (&error, PST_ERROR, PST_ERROR_USAGE, _("the password was not kept"));
      stored = FALSE;
    }
  else
    stored = pst_secret_service_store (pst_json_str (added, "name"), pst_json_str (added, "user"),
                                       f->tested_password, &error);
  g_clear_pointer (&f->tested_password, pst_secret_free);
  if (stored)
    return NULL;
  return g_strdup_printf (_("The account was added, but its password could not be stored: %s. Store it with: "
                            "postern account password %s"), error->message, pst_json_str (added, "name"));
}

void
pst_account_fields_clear (PstAccountFields *f)
{
  pst_account_fields_test_done (f);
  g_clear_pointer (&f->auto_domain, g_free);
  g_clear_pointer (&f->auto_address, g_free);
  g_clear_pointer (&f->pins, g_free);
  for (int i = 0; i < PST_ACCOUNT_FORM_N_SERVERS; i++)
    g_clear_pointer (&f->offered[i], g_free);
  g_clear_pointer (&f->tested, json_object_unref);
  g_clear_pointer (&f->tested_password, pst_secret_free);
}
