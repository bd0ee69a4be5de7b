/* prefs-dialog.c — see prefs-dialog.h. */
#include "prefs-dialog.h"
#include "a11y.h"

#include <glib/gi18n.h>

struct _PstPrefsDialog {
  GtkDialog parent;
  PstAgentLink *agent;
  GtkWidget *scan_entry, *on_error_combo, *timeout_spin, *account_combo, *interval_spin,
    *max_rcpt_spin, *max_hour_spin, *message_label, *save_button;
  JsonArray *accounts;
  gboolean loaded;             /* config.get answered: until then nothing is saved */
  char *loaded_scan;           /* the scanner as the agent said, "" for none */
  int loaded_interval_min;     /* the fetch interval shown, in minutes */
  guint pending;
  gboolean failed;
};

G_DEFINE_TYPE (PstPrefsDialog, pst_prefs_dialog, GTK_TYPE_DIALOG)

static void
say (PstPrefsDialog *self, const char *text, gboolean error)
{
  GtkStyleContext *sc = gtk_widget_get_style_context (self->message_label);

  gtk_label_set_text (GTK_LABEL (self->message_label), text);
  if (error)
    gtk_style_context_add_class (sc, "error");
  else
    gtk_style_context_remove_class (sc, "error");
}

static JsonObject *
selected_account (PstPrefsDialog *self)
{
  int i = gtk_combo_box_get_active (GTK_COMBO_BOX (self->account_combo));

  return self->accounts && i >= 0 && (guint) i < json_array_get_length (self->accounts)
           ? json_array_get_object_element (self->accounts, (guint) i) : NULL;
}

static void
spin (GtkWidget *w, gint64 v)
{
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (w), (double) v);
}

static void
on_account_changed (PstPrefsDialog *self)
{
  JsonObject *a = selected_account (self);

  gtk_widget_set_sensitive (self->interval_spin, a != NULL);
  gtk_widget_set_sensitive (self->max_rcpt_spin, a != NULL);
  gtk_widget_set_sensitive (self->max_hour_spin, a != NULL);
  if (a == NULL)
    return;
  self->loaded_interval_min = (int) (pst_json_int (a, "fetch_interval") / 60);
  spin (self->interval_spin, self->loaded_interval_min);
  spin (self->max_rcpt_spin, pst_json_int (a, "max_recipients"));
  spin (self->max_hour_spin, pst_json_int (a, "max_messages_per_hour"));
}

static void
config_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  PstPrefsDialog *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  if (r == NULL)
    say (self, error->message, TRUE);
  else
    {
      self->loaded = TRUE;
      gtk_widget_set_sensitive (self->save_button, TRUE);
      g_free (self->loaded_scan);
      self->loaded_scan = g_strdup (pst_json_str (r, "scan") ? pst_json_str (r, "scan") : "");
      gtk_entry_set_text (GTK_ENTRY (self->scan_entry), self->loaded_scan);
      gtk_combo_box_set_active_id (GTK_COMBO_BOX (self->on_error_combo),
                                   pst_json_str (r, "on_scan_error") ? pst_json_str (r, "on_scan_error") : "quarantine");
      if (pst_json_int (r, "scan_timeout") > 0)
        spin (self->timeout_spin, pst_json_int (r, "scan_timeout"));
    }
  g_object_unref (self);
}

static void
accounts_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  PstPrefsDialog *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  JsonArray *a = pst_json_arr (r, "accounts");

  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  if (r == NULL)
    say (self, error->message, TRUE);
  g_clear_pointer (&self->accounts, json_array_unref);
  gtk_combo_box_text_remove_all (GTK_COMBO_BOX_TEXT (self->account_combo));
  if (a != NULL)
    {
      self->accounts = json_array_ref (a);
      for (guint i = 0; i < json_array_get_length (a); i++)
        gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (self->account_combo),
                                        pst_json_str (json_array_get_object_element (a, i), "name"));
      gtk_combo_box_set_active (GTK_COMBO_BOX (self->account_combo), 0);
    }
  on_account_changed (self);
  g_object_unref (self);
}

static void
saved (GObject *source, GAsyncResult *res, gpointer data)
{
  PstPrefsDialog *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  if (r == NULL)
    {
      self->failed = TRUE;
      say (self, error->message, TRUE);
    }
  if (--self->pending == 0 && !self->failed)
    {
      say (self, _("Saved. The agent uses the new settings now."), FALSE);
      pst_agent_link_call (self->agent, "account.list", NULL, -1, NULL, accounts_loaded, g_object_ref (self));
    }
  g_object_unref (self);
}

static void
save (PstPrefsDialog *self)
{
  JsonObject *params = json_object_new ();
  JsonObject *a = selected_account (self);
  const char *scan = gtk_entry_get_text (GTK_ENTRY (self->scan_entry));
  GtkWidget *spins[] = { self->timeout_spin, self->interval_spin, self->max_rcpt_spin, self->max_hour_spin };

  /* Numbers typed but not yet confirmed count as typed. */
  for (gsize i = 0; i < G_N_ELEMENTS (spins); i++)
    gtk_spin_button_update (GTK_SPIN_BUTTON (spins[i]));
  if (!self->loaded)
    {
      json_object_unref (params);
      return;
    }
  /* Only what the user changed: an untouched field never switches the
   * scanner off or rounds an interval the file gives in seconds. */
  if (g_strcmp0 (scan, self->loaded_scan) != 0 && *scan)
    json_object_set_string_member (params, "scan", scan);
  else if (g_strcmp0 (scan, self->loaded_scan) != 0)
    json_object_set_null_member (params, "scan");
  json_object_set_string_member (params, "on_scan_error",
                                 gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->on_error_combo)));
  json_object_set_int_member (params, "scan_timeout",
                              gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->timeout_spin)));
  self->failed = FALSE;
  self->pending = 1;
  say (self, _("Saving…"), FALSE);
  pst_agent_link_call (self->agent, "config.set", params, -1, NULL, saved, g_object_ref (self));
  if (a != NULL)
    {
      params = json_object_new ();
      json_object_set_string_member (params, "name", pst_json_str (a, "name"));
      int minutes = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->interval_spin));

      if (minutes != self->loaded_interval_min)
        json_object_set_int_member (params, "fetch_interval", 60 * (gint64) minutes);
      json_object_set_int_member (params, "max_recipients",
                                  gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->max_rcpt_spin)));
      json_object_set_int_member (params, "max_messages_per_hour",
                                  gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->max_hour_spin)));
      self->pending++;
      pst_agent_link_call (self->agent, "account.update", params, -1, NULL, saved, g_object_ref (self));
    }
}

static void
on_response (PstPrefsDialog *self, int response)
{
  if (response == GTK_RESPONSE_APPLY)
    save (self);
  else
    gtk_widget_destroy (GTK_WIDGET (self));
}

static void
pst_prefs_dialog_dispose (GObject *object)
{
  PstPrefsDialog *self = PST_PREFS_DIALOG (object);

  g_clear_object (&self->agent);
  g_clear_pointer (&self->accounts, json_array_unref);
  g_clear_pointer (&self->loaded_scan, g_free);
  G_OBJECT_CLASS (pst_prefs_dialog_parent_class)->dispose (object);
}

static void
pst_prefs_dialog_class_init (PstPrefsDialogClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_prefs_dialog_dispose;
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/prefs-dialog.ui");
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, scan_entry);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, on_error_combo);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, timeout_spin);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, account_combo);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, interval_spin);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, max_rcpt_spin);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, max_hour_spin);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, message_label);
  gtk_widget_class_bind_template_child (w, PstPrefsDialog, save_button);
  gtk_widget_class_bind_template_callback (w, on_account_changed);
}

static void
pst_prefs_dialog_init (PstPrefsDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  pst_a11y_name_fields (GTK_WIDGET (self));
  g_signal_connect (self, "response", G_CALLBACK (on_response), NULL);
  gtk_widget_set_sensitive (self->save_button, FALSE);
  /* The account's fields wait for the account list: typed into before it
   * came, they were then overwritten by the values it brought (and a GUI
   * test that typed at once saved nothing, now and then). */
  on_account_changed (self);
}

PstPrefsDialog *
pst_prefs_dialog_new (GtkWindow *parent, PstAgentLink *agent)
{
  PstPrefsDialog *self = g_object_new (PST_TYPE_PREFS_DIALOG, "transient-for", parent,
                                       "use-header-bar", FALSE, "destroy-with-parent", TRUE, NULL);

  self->agent = g_object_ref (agent);
  pst_agent_link_call (agent, "config.get", NULL, -1, NULL, config_loaded, g_object_ref (self));
  pst_agent_link_call (agent, "account.list", NULL, -1, NULL, accounts_loaded, g_object_ref (self));
  return self;
}
