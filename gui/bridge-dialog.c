/* bridge-dialog.c — see bridge-dialog.h.  Built in code, not from a .ui
 * template: its rows depend on what the agent answers. */
#include "bridge-dialog.h"

#include <glib/gi18n.h>

typedef struct {
  GtkWidget *status, *grid;
  GCancellable *cancel;   /* the question to the agent; cancelled when the dialog goes */
} Bridge;

static void
bridge_free (gpointer p)
{
  Bridge *b = p;

  g_clear_object (&b->cancel);
  g_free (b);
}

static void
on_destroy (GtkWidget *dialog, gpointer data)
{
  Bridge *b = data;

  g_cancellable_cancel (b->cancel);
}

static void
on_peek (GtkEntry *entry, GtkEntryIconPosition pos, GdkEvent *event, gpointer data)
{
  (void) pos;
  (void) event;
  (void) data;
  gtk_entry_set_visibility (entry, !gtk_entry_get_visibility (entry));
}

static void
on_copy (GtkButton *button, gpointer data)
{
  const char *text = g_object_get_data (G_OBJECT (button), "pst-copy");
  GtkLabel *status = data;

  gtk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (button), GDK_SELECTION_CLIPBOARD),
                          text, -1);
  gtk_label_set_text (status, g_object_get_data (G_OBJECT (button), "pst-copied"));
}

/* One row: "@label  @value  [Copy]"; a secret @value is shown as dots until
 * the row's entry is peeked at.  An absent value shows @absent and no
 * Copy button. */
static void
add_row (Bridge *b, int row, const char *label, const char *value, gboolean secret,
         const char *absent)
{
  GtkWidget *l = gtk_label_new (label);
  GtkWidget *v;

  gtk_widget_set_halign (l, GTK_ALIGN_END);
  gtk_style_context_add_class (gtk_widget_get_style_context (l), "dim-label");
  gtk_grid_attach (GTK_GRID (b->grid), l, 0, row, 1, 1);
  if (value == NULL)
    {
      v = gtk_label_new (absent);
      gtk_widget_set_halign (v, GTK_ALIGN_START);
      gtk_grid_attach (GTK_GRID (b->grid), v, 1, row, 2, 1);
      return;
    }
  v = gtk_entry_new ();
  gtk_entry_set_text (GTK_ENTRY (v), value);
  gtk_editable_set_editable (GTK_EDITABLE (v), FALSE);
  gtk_widget_set_hexpand (v, TRUE);
  gtk_entry_set_width_chars (GTK_ENTRY (v), 36);
  if (secret)
    {
      gtk_entry_set_visibility (GTK_ENTRY (v), FALSE);
      gtk_entry_set_icon_from_icon_name (GTK_ENTRY (v), GTK_ENTRY_ICON_SECONDARY,
                                         "view-reveal-symbolic");
      gtk_entry_set_icon_tooltip_text (GTK_ENTRY (v), GTK_ENTRY_ICON_SECONDARY, _("Show"));
      g_signal_connect (v, "icon-press", G_CALLBACK (on_peek), NULL);
    }
  atk_object_set_name (gtk_widget_get_accessible (v), label);
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), v);
  gtk_grid_attach (GTK_GRID (b->grid), v, 1, row, 1, 1);
  {
    GtkWidget *copy = gtk_button_new_with_label (_("Copy"));
    /* TRANSLATORS: the accessible name of a Copy button; %s is the row's label */
    g_autofree char *name = g_strdup_printf (_("Copy %s"), label);
    /* TRANSLATORS: %s is the row's label, e.g. "Password" */
    g_autofree char *copied = g_strdup_printf (_("%s copied to the clipboard."), label);

    atk_object_set_name (gtk_widget_get_accessible (copy), name);
    g_object_set_data_full (G_OBJECT (copy), "pst-copy", g_strdup (value), g_free);
    g_object_set_data_full (G_OBJECT (copy), "pst-copied", g_steal_pointer (&copied), g_free);
    g_signal_connect (copy, "clicked", G_CALLBACK (on_copy), b->status);
    gtk_grid_attach (GTK_GRID (b->grid), copy, 2, row, 1, 1);
  }
}

static void
answered (GObject *source, GAsyncResult *res, gpointer data)
{
  GtkWidget *dialog = data;
  Bridge *b = g_object_get_data (G_OBJECT (dialog), "pst-bridge");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  const char *smtp, *pop3, *smtp_error, *pop3_error;
  const char *off = _("off");

  if (g_cancellable_is_cancelled (b->cancel))
    {
      g_object_unref (dialog);
      return;
    }
  if (r == NULL)
    {
      gtk_label_set_text (GTK_LABEL (b->status), error->message);
      g_object_unref (dialog);
      return;
    }
  smtp = pst_json_str (r, "smtp");
  pop3 = pst_json_str (r, "pop3");
  /* A listener that is configured but not listening says why (the
   * agent's words: "bridge SMTP 127.0.0.1:1025: not listening: …"). */
  smtp_error = pst_json_str (r, "smtp_error");
  pop3_error = pst_json_str (r, "pop3_error");
  add_row (b, 0, _("Sending (SMTP)"), smtp, FALSE, smtp_error ? smtp_error : off);
  add_row (b, 1, _("Fetching (POP3)"), pop3, FALSE, pop3_error ? pop3_error : off);
  add_row (b, 2, _("User"), pst_json_str (r, "user"), FALSE, "");
  add_row (b, 3, _("Password"), pst_json_str (r, "password"), TRUE, "");
  add_row (b, 4, _("CA certificate"), pst_json_str (r, "ca_file"), FALSE, _("not made yet"));
  if (smtp == NULL && pop3 == NULL && smtp_error == NULL && pop3_error == NULL)
    gtk_label_set_text (GTK_LABEL (b->status),
                        _("The bridge is off. Turn it on with "
                          "“postern config set bridge-smtp 127.0.0.1:1025” and "
                          "“postern config set bridge-pop3 127.0.0.1:1110”."));
  else
    gtk_label_set_text (GTK_LABEL (b->status),
                        _("Use STARTTLS with the CA certificate above; a mail program that "
                          "cannot may log in without it, on this computer only."));
  gtk_widget_show_all (b->grid);
  g_object_unref (dialog);
}

GtkWidget *
pst_bridge_dialog_new (GtkWindow *parent, PstAgentLink *agent, const char *account)
{
  /* TRANSLATORS: %s is the account's name */
  g_autofree char *title = g_strdup_printf (_("Local bridge for %s"), account);
  GtkWidget *dialog = gtk_dialog_new_with_buttons (title, parent,
                                                   GTK_DIALOG_DESTROY_WITH_PARENT
                                                   | GTK_DIALOG_USE_HEADER_BAR, NULL, NULL);
  GtkWidget *area = gtk_dialog_get_content_area (GTK_DIALOG (dialog));
  GtkWidget *intro, *close;
  Bridge *b = g_new0 (Bridge, 1);
  JsonObject *params = json_object_new ();

  close = gtk_dialog_add_button (GTK_DIALOG (dialog), _("_Close"), GTK_RESPONSE_CLOSE);
  atk_object_set_name (gtk_widget_get_accessible (close), _("Close"));
  g_signal_connect (dialog, "response", G_CALLBACK (gtk_widget_destroy), NULL);
  b->cancel = g_cancellable_new ();
  g_object_set_data_full (G_OBJECT (dialog), "pst-bridge", b, bridge_free);
  g_signal_connect (dialog, "destroy", G_CALLBACK (on_destroy), b);
  gtk_container_set_border_width (GTK_CONTAINER (area), 18);
  gtk_box_set_spacing (GTK_BOX (area), 12);
  intro = gtk_label_new (_("Mail programs such as Thunderbird, neomutt, msmtp or fetchmail can use "
                           "Postern as their server. What they send through it is encrypted and "
                           "signed as mail sent here is; what they fetch from it is decrypted, with "
                           "Postern's verdict in its Postern-Status header."));
  gtk_label_set_line_wrap (GTK_LABEL (intro), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (intro), 60);
  gtk_label_set_xalign (GTK_LABEL (intro), 0);
  gtk_container_add (GTK_CONTAINER (area), intro);
  b->grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (b->grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (b->grid), 12);
  gtk_container_add (GTK_CONTAINER (area), b->grid);
  b->status = gtk_label_new (_("Asking the agent…"));
  gtk_label_set_line_wrap (GTK_LABEL (b->status), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (b->status), 60);
  gtk_label_set_xalign (GTK_LABEL (b->status), 0);
  gtk_label_set_selectable (GTK_LABEL (b->status), TRUE);
  gtk_container_add (GTK_CONTAINER (area), b->status);
  gtk_widget_show_all (area);

  json_object_set_string_member (params, "account", account);
  pst_agent_link_call (agent, "bridge.credentials", params, -1, b->cancel, answered,
                       g_object_ref (dialog));
  return dialog;
}
