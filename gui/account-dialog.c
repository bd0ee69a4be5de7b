/* account-dialog.c — see account-dialog.h. */
#include "account-dialog.h"
#include "account-fields.h"
#include "account-form.h"
#include "a11y.h"
#include "key-setup.h"
#include "showing.h"

#include <glib/gi18n.h>

#include "config/config.h"
#include "verdict.h"

struct _PstAccountDialog {
  GtkDialog parent;
  PstAgentLink *agent;
  PstAccountFields fields;
  GtkWidget *password_label, *command_label, *test_button, *add_button, *cancel_button, *form_grid,
    *result_scroll, *key_setup;
  gboolean adding, busy;
  gboolean committing;         /* account.add sent: its answer stores the password */
  gboolean key_step;           /* the account is there; its OpenPGP key is shown or made */
  gboolean added_now;          /* … just added here: close when it already has a key */
};

G_DEFINE_TYPE (PstAccountDialog, pst_account_dialog, GTK_TYPE_DIALOG)

static void
on_address_changed (PstAccountDialog *self)
{
  pst_account_fields_address_changed (&self->fields, FALSE);
}

static void
on_security_changed (PstAccountDialog *self, GtkComboBox *combo)
{
  pst_account_fields_security_changed (&self->fields, combo);
}

static void
on_storage_changed (PstAccountDialog *self)
{
  gboolean secret = g_strcmp0 (gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->fields.storage_combo)),
                              "secret") == 0;

  gtk_widget_set_visible (self->fields.password_entry, secret);
  gtk_widget_set_visible (self->password_label, secret);
  gtk_widget_set_visible (self->fields.command_entry, !secret);
  gtk_widget_set_visible (self->command_label, !secret);
}

static void
result (PstAccountDialog *self, const char *words, gboolean error)
{
  pst_account_fields_say (&self->fields, words, error);
}

static void
busy (PstAccountDialog *self, gboolean busy)
{
  self->busy = busy;
  gtk_widget_set_sensitive (self->test_button, !busy);
  gtk_widget_set_sensitive (self->add_button, !busy);
  /* What is tested is what is added: nothing changes meanwhile. */
  pst_account_fields_set_sensitive (&self->fields, !busy);
}

char *
pst_account_dialog_describe_test (JsonObject *r)
{
  return pst_account_form_describe_test (r);
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
  pst_account_fields_hide_pins (&self->fields);
  gtk_widget_hide (self->add_button);
  gtk_button_set_label (GTK_BUTTON (self->cancel_button), _("_Close"));
  /* pst_a11y_name_fields named it after its first label. */
  atk_object_set_name (gtk_widget_get_accessible (self->cancel_button), _("Close"));
  pst_widget_show_now (self->key_setup, TRUE);
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
  g_autofree char *trouble = NULL;

  self->committing = FALSE;
  /* The password is stored even when the dialog was closed meanwhile (with
   * its parent): the account is there, and needs it. */
  if (r != NULL)
    trouble = pst_account_fields_keep_password (&self->fields, r);
  if (self->agent == NULL)      /* closed meanwhile */
    {
      if (trouble != NULL)
        g_message ("%s", trouble);
      g_object_unref (self);
      return;
    }
  busy (self, FALSE);
  if (r == NULL)
    result (self, error->message, TRUE);
  else if (trouble != NULL)
    result (self, trouble, TRUE);
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
  gboolean ok;

  pst_account_fields_test_done (&self->fields);
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
  ok = pst_account_fields_show_test (&self->fields, r);
  if (ok && self->adding)
    {
      /* The account as it was tested, not as the fields say now. */
      JsonObject *account = pst_account_fields_take_tested (&self->fields);

      if (account == NULL)
        busy (self, FALSE);
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
  JsonObject *params = pst_account_fields_test_params (&self->fields, &error);

  if (params == NULL)
    {
      result (self, error->message, TRUE);
      return;
    }
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

/* GtkDialog answers a close (the window's close button, Escape) with a
 * "response" and then destroys the window whatever the handler did:
 * refused here while the account is being added (its answer stores the
 * password) or its key made. */
static gboolean
on_delete_event (PstAccountDialog *self)
{
  return self->committing || pst_key_setup_is_busy (PST_KEY_SETUP (self->key_setup));
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

  pst_account_fields_clear (&self->fields);
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
  PST_ACCOUNT_FIELDS_BIND (w, PstAccountDialog, fields);
#define FIELD(n) gtk_widget_class_bind_template_child_full (w, #n, FALSE, \
                                                            G_STRUCT_OFFSET (PstAccountDialog, fields.n))
  FIELD (storage_combo);
  FIELD (command_entry);
  FIELD (encrypt_combo);
#undef FIELD
#define CHILD(n) gtk_widget_class_bind_template_child (w, PstAccountDialog, n)
  CHILD (password_label);
  CHILD (command_label);
  CHILD (test_button);
  CHILD (add_button);
  CHILD (cancel_button);
  CHILD (form_grid);
  CHILD (result_scroll);
  CHILD (key_setup);
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
  g_signal_connect (self, "delete-event", G_CALLBACK (on_delete_event), NULL);
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
