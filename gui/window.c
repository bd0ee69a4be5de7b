/* window.c — see window.h. */
#define _GNU_SOURCE
#include "window.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "account-dialog.h"
#include "bridge-dialog.h"
#include "drafts-page.h"
#include "mail-view.h"
#include "showing.h"
#include "table-view.h"

struct _PstWindow {
  GtkApplicationWindow parent;
  PstAgentLink *agent;
  PstMailView *mail;
  PstTableView *accounts, *keys;
  GtkWidget *agent_bar, *agent_label, *start_button, *activity, *pages, *no_account_page;
  GtkWidget *fetch_button, *compose_button, *reply_button, *reply_all_button, *forward_button, *delete_button;
  GSimpleAction *fetch;
};

G_DEFINE_TYPE (PstWindow, pst_window, GTK_TYPE_APPLICATION_WINDOW)

static void
activity (PstWindow *self, const char *text, gboolean error)
{
  GtkStyleContext *sc = gtk_widget_get_style_context (self->activity);

  gtk_label_set_text (GTK_LABEL (self->activity), text);
  pst_widget_show_now (self->activity, text != NULL && *text);
  if (error)
    gtk_style_context_add_class (sc, "error");
  else
    gtk_style_context_remove_class (sc, "error");
}

/* ---- the agent's state ---- */

static void
on_running (PstWindow *self, gboolean running, const char *why)
{
  pst_widget_show_now (self->agent_bar, !running);
  g_simple_action_set_enabled (self->fetch, running);
  gtk_widget_set_sensitive (self->start_button, TRUE);
  if (running)
    return;
  gtk_label_set_text (GTK_LABEL (self->agent_label),
                      g_strcmp0 (why, "stopped") == 0
                        ? _("The Postern agent has stopped. Waiting for it to come back; "
                            "start it again to go on reading and sending mail.")
                        : _("The Postern agent is not running, so no mail can be shown, fetched or sent."));
}

static void
started (GObject *source, GAsyncResult *res, gpointer data)
{
  PstWindow *self = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = pst_agent_link_start_finish (PST_AGENT_LINK (source), res, &error);

  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  if (!ok)
    {
      g_autofree char *t = g_strdup_printf (_("The agent could not be started: %s"), error->message);
      gtk_label_set_text (GTK_LABEL (self->agent_label), t);
    }
  gtk_widget_set_sensitive (self->start_button, TRUE);
  g_object_unref (self);
}

static void
on_start_agent (PstWindow *self)
{
  gtk_widget_set_sensitive (self->start_button, FALSE);
  gtk_label_set_text (GTK_LABEL (self->agent_label), _("Starting the agent…"));
  pst_agent_link_start (self->agent, started, g_object_ref (self));
}

/* ---- fetch ---- */

static void
fetched (GObject *source, GAsyncResult *res, gpointer data)
{
  PstWindow *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  g_autoptr (GString) s = g_string_new (NULL);
  gboolean failed = FALSE;
  JsonArray *accounts;

  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  g_simple_action_set_enabled (self->fetch, pst_agent_link_is_running (self->agent));
  if (r == NULL)
    {
      /* What came before the error is stored: the list shows it. */
      activity (self, error->message, TRUE);
      pst_mail_view_refresh (self->mail);
      g_object_unref (self);
      return;
    }
  accounts = pst_json_arr (r, "accounts");
  for (guint i = 0; accounts && i < json_array_get_length (accounts); i++)
    {
      JsonObject *a = json_array_get_object_element (accounts, i);
      g_autofree char *line = NULL;

      if (pst_json_str (a, "error"))
        {
          line = g_strdup_printf (_("%s: %s"), pst_json_str (a, "name"), pst_json_str (a, "error"));
          failed = TRUE;
        }
      else
        line = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s: %d new message", "%s: %d new messages",
                                             (gulong) pst_json_int (a, "fetched")),
                                pst_json_str (a, "name"), (int) pst_json_int (a, "fetched"));
      g_string_append_printf (s, "%s%s", s->len ? "\n" : "", line);
    }
  if (s->len == 0)
    g_string_append (s, _("There is no account to fetch mail for. Add one from the menu."));
  activity (self, s->str, failed);
  pst_mail_view_refresh (self->mail);
  g_object_unref (self);
}

static void
on_fetch (GSimpleAction *action, GVariant *param, gpointer data)
{
  PstWindow *self = data;

  g_simple_action_set_enabled (self->fetch, FALSE);
  activity (self, _("Fetching…"), FALSE);
  pst_agent_link_call (self->agent, "fetch", NULL, -1, NULL, fetched, g_object_ref (self));
}

/* ---- pages ---- */

static char *
fmt_time (gint64 t)
{
  g_autoptr (GDateTime) dt = t > 0 ? g_date_time_new_from_unix_local (t) : NULL;
  return dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("–");
}

/* The strings of @row's array @member, joined by commas. */
static char *
join_member (JsonObject *row, const char *member)
{
  JsonArray *a = pst_json_arr (row, member);
  GString *s = g_string_new (NULL);

  for (guint i = 0; a && i < json_array_get_length (a); i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", json_array_get_string_element (a, i));
  return g_string_free (s, FALSE);
}

static char *
fmt_outbox_to (JsonObject *row)
{
  return join_member (row, "to");
}

static char *
fmt_outbox_state (JsonObject *row)
{
  const char *st = pst_json_str (row, "state");
  const char *words = g_strcmp0 (st, "queued") == 0 ? _("queued")
                      : g_strcmp0 (st, "sending") == 0 ? _("sending")
                      : g_strcmp0 (st, "sent") == 0 ? _("sent")
                      : g_strcmp0 (st, "failed") == 0 ? _("failed")
                      : g_strcmp0 (st, "cancelled") == 0 ? _("cancelled") : st;

  return pst_json_bool (row, "in_doubt")
           ? g_strdup_printf (_("%s (in doubt: the server may have it already)"), words)
           : g_strdup (words);
}

static char *
fmt_next_try (JsonObject *row)
{
  return g_strcmp0 (pst_json_str (row, "state"), "queued") == 0 ? fmt_time (pst_json_int (row, "next_try"))
                                                                 : g_strdup ("–");
}

static char *
fmt_received (JsonObject *row)
{
  return fmt_time (pst_json_int (row, "received_at"));
}

static char *
fmt_expires (JsonObject *row)
{
  return fmt_time (pst_json_int (row, "expires"));
}

static char *
fmt_emails (JsonObject *row)
{
  return join_member (row, "emails");
}

static char *
fmt_key_type (JsonObject *row)
{
  gboolean pgp = g_strcmp0 (pst_json_str (row, "type"), "openpgp") == 0;
  const char *what = pgp ? "OpenPGP" : pst_json_bool (row, "trust_anchor") ? _("X.509 trust anchor")
                         : pst_json_bool (row, "ca") ? _("X.509 CA") : _("X.509 certificate");
  return pst_json_bool (row, "secret") ? g_strdup_printf (_("%s, with its private key"), what)
                                       : g_strdup (what);
}

static void
on_add_account (PstTableView *view, JsonObject *row, gpointer data)
{
  PstWindow *self = data;
  GtkWidget *d = GTK_WIDGET (pst_account_dialog_new (GTK_WINDOW (self), self->agent));

  g_signal_connect_swapped (d, "destroy", G_CALLBACK (pst_table_view_refresh), view);
  g_signal_connect_object (d, "destroy", G_CALLBACK (pst_table_view_refresh), self->keys, G_CONNECT_SWAPPED);
  g_signal_connect_object (d, "destroy", G_CALLBACK (pst_mail_view_refresh), self->mail, G_CONNECT_SWAPPED);
  gtk_widget_show (d);
}

/* The button of the page shown while there is no account. */
static void
on_add_first_account (PstWindow *self)
{
  on_add_account (self->accounts, NULL, self);
}

/* No account: the page that says to add one; the first account added:
 * the mailbox. */
static void
on_accounts (PstWindow *self, guint n)
{
  GtkStack *pages = GTK_STACK (self->pages);
  gboolean on_empty = gtk_stack_get_visible_child (pages) == self->no_account_page;

  pst_widget_show_now (self->no_account_page, n == 0);
  if (n == 0 && !on_empty && gtk_stack_get_visible_child (pages) == GTK_WIDGET (self->mail))
    gtk_stack_set_visible_child (pages, self->no_account_page);
  else if (n > 0 && on_empty)
    gtk_stack_set_visible_child (pages, GTK_WIDGET (self->mail));
}

/* What another mail program needs to use the selected account through the
 * local bridge. */
static void
on_account_bridge (PstTableView *view, JsonObject *row, gpointer data)
{
  PstWindow *self = data;

  (void) view;
  gtk_widget_show (pst_bridge_dialog_new (GTK_WINDOW (self), self->agent, pst_json_str (row, "name")));
}

/* The selected account's OpenPGP key: shown, or made when it has none. */
static void
on_account_key (PstTableView *view, JsonObject *row, gpointer data)
{
  PstWindow *self = data;
  GtkWidget *d = GTK_WIDGET (pst_account_dialog_new_for_key (GTK_WINDOW (self), self->agent,
                                                             pst_json_str (row, "name"),
                                                             pst_json_str (row, "address")));

  g_signal_connect_object (d, "destroy", G_CALLBACK (pst_table_view_refresh), self->keys, G_CONNECT_SWAPPED);
  gtk_widget_show (d);
}

static void
tested (GObject *source, GAsyncResult *res, gpointer data)
{
  PstTableView *view = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  g_autofree char *text = NULL;

  if (pst_table_view_get_agent (view) == NULL)   /* closed meanwhile */
    {
      g_object_unref (view);
      return;
    }
  if (r == NULL)
    pst_table_view_say (view, error->message, TRUE);
  else
    {
      text = pst_account_dialog_describe_test (r);
      pst_table_view_say (view, text, !pst_json_bool (r, "ok"));
    }
  g_object_unref (view);
}

static void
on_test_account (PstTableView *view, JsonObject *row, gpointer data)
{
  JsonObject *params = json_object_new ();

  json_object_set_string_member (params, "name", pst_json_str (row, "name"));
  json_object_set_boolean_member (params, "login", TRUE);
  pst_table_view_say (view, _("Testing the connection…"), FALSE);
  pst_agent_link_call (pst_table_view_get_agent (view), "account.test", params, -1, NULL, tested,
                  g_object_ref (view));
}

static void
imported (GObject *source, GAsyncResult *res, gpointer data)
{
  PstTableView *view = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (pst_table_view_get_agent (view) == NULL)   /* closed meanwhile */
    {
      g_object_unref (view);
      return;
    }
  if (r == NULL)
    pst_table_view_say (view, error->message, TRUE);
  else
    {
      JsonArray *a = pst_json_arr (r, "imported");
      guint n = a ? json_array_get_length (a) : 0;
      g_autofree char *t = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Imported %u key or certificate.",
                                                         "Imported %u keys or certificates.", n), n);
      pst_table_view_say (view, t, FALSE);
    }
  pst_table_view_refresh (view);
  g_object_unref (view);
}

/* An import in progress: the file chosen, then perhaps its passphrase. */
typedef struct {
  PstTableView *view;
  char *path;
  gboolean anchor;
} Import;

static void
import_free (Import *imp)
{
  g_object_unref (imp->view);
  g_free (imp->path);
  g_free (imp);
}

/* Hands the file (and the passphrase, through a pipe) to the agent. */
static void
import_now (Import *imp, const char *pass)
{
  PstAgentLink *agent = pst_table_view_get_agent (imp->view);
  JsonObject *params;
  int fds[2] = { -1, -1 }, pipe_fds[2] = { -1, -1 };

  if (agent == NULL)
    return;
  if ((fds[0] = open (imp->path, O_RDONLY | O_CLOEXEC)) < 0)
    {
      g_autofree char *t = g_strdup_printf (_("Cannot read %s: %s"), imp->path, g_strerror (errno));
      pst_table_view_say (imp->view, t, TRUE);
      return;
    }
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  json_object_set_boolean_member (params, "trust_anchor", imp->anchor);
  if (pass != NULL)
    {
      /* A passphrase fits in the pipe's buffer: write it all, then close. */
      gboolean written = pipe2 (pipe_fds, O_CLOEXEC) == 0
                         && write (pipe_fds[1], pass, strlen (pass)) == (ssize_t) strlen (pass);

      if (pipe_fds[1] >= 0)
        close (pipe_fds[1]);
      if (!written)
        {
          pst_table_view_say (imp->view, _("The passphrase could not be passed to the agent."), TRUE);
          if (pipe_fds[0] >= 0)
            close (pipe_fds[0]);
          close (fds[0]);
          json_object_unref (params);
          return;
        }
      fds[1] = pipe_fds[0];
      json_object_set_int_member (params, "passphrase_fd", 1);
    }
  pst_table_view_say (imp->view, _("Importing…"), FALSE);
  pst_agent_link_call_fds (agent, "keys.import", params, fds, fds[1] >= 0 ? 2 : 1, NULL, imported,
                      g_object_ref (imp->view));
  close (fds[0]);
  if (fds[1] >= 0)
    close (fds[1]);
}

static void
passphrase_given (GtkDialog *d, int response, Import *imp)
{
  GtkWidget *entry = g_object_get_data (G_OBJECT (d), "entry");

  if (response == GTK_RESPONSE_OK)
    {
      g_autofree char *pass = g_strdup (gtk_entry_get_text (GTK_ENTRY (entry)));

      import_now (imp, pass);
      explicit_bzero (pass, strlen (pass));
    }
  /* The entry's text goes with the dialog (GtkEntryBuffer zeroes its
   * memory when it frees it). */
  gtk_widget_destroy (GTK_WIDGET (d));
  import_free (imp);
}

/* Asks for the passphrase of a PKCS#12 file, then imports. */
static void
ask_passphrase (GtkWindow *parent, Import *imp)
{
  GtkWidget *d = gtk_dialog_new_with_buttons (_("Passphrase"), parent, GTK_DIALOG_MODAL,
                                              _("_Cancel"), GTK_RESPONSE_CANCEL, _("_Import"),
                                              GTK_RESPONSE_OK, NULL);
  GtkWidget *box = gtk_dialog_get_content_area (GTK_DIALOG (d));
  g_autofree char *text = g_strdup_printf (_("The passphrase of %s:"), imp->path);
  GtkWidget *entry = gtk_entry_new ();

  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  gtk_container_add (GTK_CONTAINER (box), gtk_label_new (text));
  gtk_entry_set_visibility (GTK_ENTRY (entry), FALSE);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  atk_object_set_name (gtk_widget_get_accessible (entry), _("Passphrase"));
  gtk_container_add (GTK_CONTAINER (box), entry);
  gtk_dialog_set_default_response (GTK_DIALOG (d), GTK_RESPONSE_OK);
  g_object_set_data (G_OBJECT (d), "entry", entry);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (d), TRUE);
  g_signal_connect (d, "response", G_CALLBACK (passphrase_given), imp);
  gtk_widget_show_all (d);
}

static void
import_chosen (GtkNativeDialog *chooser, int response, PstWindow *self)
{
  GtkWidget *anchor = gtk_file_chooser_get_extra_widget (GTK_FILE_CHOOSER (chooser));
  g_autofree char *path = response == GTK_RESPONSE_ACCEPT
                            ? gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (chooser)) : NULL;
  Import *imp;

  if (path == NULL || self->agent == NULL)
    {
      g_object_unref (chooser);
      return;
    }
  imp = g_new0 (Import, 1);
  imp->view = g_object_ref (self->keys);
  imp->path = g_steal_pointer (&path);
  imp->anchor = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (anchor));
  g_object_unref (chooser);
  if (g_str_has_suffix (imp->path, ".p12") || g_str_has_suffix (imp->path, ".pfx"))
    ask_passphrase (GTK_WINDOW (self), imp);
  else
    {
      import_now (imp, NULL);
      import_free (imp);
    }
}

static void
on_import_key (PstTableView *view, JsonObject *row, gpointer data)
{
  PstWindow *self = data;
  GtkFileChooserNative *chooser;
  GtkWidget *anchor = gtk_check_button_new_with_label (
    _("Trust it as a certificate authority that vouches for S/MIME signers"));

  chooser = gtk_file_chooser_native_new (_("Import a key or certificate"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"), _("_Cancel"));
  gtk_widget_show (anchor);
  gtk_file_chooser_set_extra_widget (GTK_FILE_CHOOSER (chooser), anchor);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), g_get_home_dir ());
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  /* Shown, never run: a nested main loop holds up the accessibility bus. */
  g_signal_connect_data (chooser, "response", G_CALLBACK (import_chosen), g_object_ref (self),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
add_page (PstWindow *self, GtkWidget *page, const char *name, const char *title)
{
  gtk_stack_add_titled (GTK_STACK (self->pages), page, name, title);
  gtk_widget_show (page);
}

static void
translate (PstTableColumn *columns, guint n)
{
  for (guint i = 0; i < n; i++)
    columns[i].title = _(columns[i].title);
}

static void
build_pages (PstWindow *self)
{
  static const PstTableColumn outbox[] = {
    { N_("No."), "id", NULL }, { N_("State"), "state", fmt_outbox_state },
    { N_("To"), "to", fmt_outbox_to }, { N_("Attempts"), "attempts", NULL },
    { N_("Next try"), "next_try", fmt_next_try }, { N_("Server's reply"), "last_reply", NULL },
  };
  static const PstTableColumn quarantine[] = {
    { N_("No."), "id", NULL }, { N_("Account"), "account", NULL },
    { N_("Verdict"), "verdict", NULL }, { N_("Found"), "name", NULL },
    { N_("Received"), "received_at", fmt_received }, { N_("Size"), "size", NULL },
  };
  static const PstTableColumn keys[] = {
    { N_("Kind"), "type", fmt_key_type }, { N_("Addresses"), "emails", fmt_emails },
    { N_("Status"), "status", NULL }, { N_("Expires"), "expires", fmt_expires },
    { N_("Fingerprint"), "id", NULL },
  };
  static const PstTableColumn accounts[] = {
    { N_("Name"), "name", NULL }, { N_("Address"), "address", NULL },
    { N_("Sending (SMTP)"), "smtp", NULL }, { N_("Fetching (POP3)"), "pop3", NULL },
    { N_("Encrypt"), "encrypt", NULL },
  };
  PstTableColumn cols[8];
  PstTableView *v;

#define TRANSLATED(table)                                                          \
  (memcpy (cols, table, sizeof table), translate (cols, G_N_ELEMENTS (table)), cols)
  self->mail = pst_mail_view_new (self->agent);
  pst_mail_view_add_actions (self->mail, G_ACTION_MAP (self));
  add_page (self, GTK_WIDGET (self->mail), "mail", _("Mail"));
  add_page (self, pst_drafts_page_new (self->agent), "drafts", _("Drafts"));
  gtk_stack_set_visible_child (GTK_STACK (self->pages), GTK_WIDGET (self->mail));
  g_signal_connect_object (self->mail, "accounts", G_CALLBACK (on_accounts), self, G_CONNECT_SWAPPED);

  v = pst_table_view_new (self->agent, _("Outbox"), "outbox.list", "outbox",
                          TRANSLATED (outbox), G_N_ELEMENTS (outbox));
  pst_table_view_add_call (v, _("Retry now"), "outbox.retry", "id", _("Message %s is queued to be sent now."), NULL);
  pst_table_view_add_call (v, _("Cancel"), "outbox.cancel", "id", _("Message %s will not be sent."),
                           _("Cancel message %s? It will not be sent."));
  pst_table_view_set_empty_text (v, _("Nothing to send: messages wait here until the server has taken them."));
  add_page (self, GTK_WIDGET (v), "outbox", _("Outbox"));

  v = pst_table_view_new (self->agent, _("Quarantine"), "quarantine.list", "quarantine",
                          TRANSLATED (quarantine), G_N_ELEMENTS (quarantine));
  pst_table_view_add_call (v, _("Release"), "quarantine.release", "id",
                           _("Message %s was released to the mailbox."),
                           _("Release message %s to the mailbox? The scanner found it infected or could not scan it."));
  pst_table_view_add_call (v, _("Delete"), "quarantine.delete", "id", _("Message %s was deleted."),
                           _("Delete message %s for good?"));
  pst_table_view_set_empty_text (v, _("The quarantine is empty: no message was found infected or unscannable."));
  add_page (self, GTK_WIDGET (v), "quarantine", _("Quarantine"));

  self->keys = v = pst_table_view_new (self->agent, _("Keys"), "keys.list", "keys",
                                       TRANSLATED (keys), G_N_ELEMENTS (keys));
  pst_table_view_add_action (v, _("Import…"), FALSE, on_import_key, self);
  pst_table_view_set_empty_text (v, _("No key yet: import one, or make one for an account on the Accounts page."));
  pst_table_view_add_call (v, _("Remove"), "keys.remove", "id", _("Key %s was removed."),
                           _("Remove key %s? A private key removed can no longer decrypt the mail sent to it."));
  add_page (self, GTK_WIDGET (v), "keys", _("Keys"));

  self->accounts = v = pst_table_view_new (self->agent, _("Accounts"), "account.list", "accounts",
                                           TRANSLATED (accounts), G_N_ELEMENTS (accounts));
  pst_table_view_add_action (v, _("Add…"), FALSE, on_add_account, self);
  pst_table_view_set_empty_text (v, _("No account yet: Add… sets one up."));
  pst_table_view_add_action (v, _("Test connection"), TRUE, on_test_account, self);
  pst_table_view_add_action (v, _("OpenPGP key…"), TRUE, on_account_key, self);
  pst_table_view_add_action (v, _("Local bridge…"), TRUE, on_account_bridge, self);
  pst_table_view_add_call (v, _("Remove"), "account.remove", "name",
                           _("Account %s was removed; its stored mail is kept."),
                           _("Remove account %s? Its stored mail is kept."));
  add_page (self, GTK_WIDGET (v), "accounts", _("Accounts"));
#undef TRANSLATED
}

/* ---- object ---- */

static void
pst_window_dispose (GObject *object)
{
  PstWindow *self = PST_WINDOW (object);

  if (self->agent)
    g_signal_handlers_disconnect_by_data (self->agent, self);
  g_clear_object (&self->agent);
  if (self->fetch)
    g_signal_handlers_disconnect_by_data (self->fetch, self);
  g_clear_object (&self->fetch);
  G_OBJECT_CLASS (pst_window_parent_class)->dispose (object);
}

static void
pst_window_class_init (PstWindowClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_window_dispose;
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/window.ui");
  gtk_widget_class_bind_template_child (w, PstWindow, no_account_page);
  gtk_widget_class_bind_template_child (w, PstWindow, fetch_button);
  gtk_widget_class_bind_template_child (w, PstWindow, compose_button);
  gtk_widget_class_bind_template_child (w, PstWindow, reply_button);
  gtk_widget_class_bind_template_child (w, PstWindow, reply_all_button);
  gtk_widget_class_bind_template_child (w, PstWindow, forward_button);
  gtk_widget_class_bind_template_child (w, PstWindow, delete_button);
  gtk_widget_class_bind_template_child (w, PstWindow, agent_bar);
  gtk_widget_class_bind_template_child (w, PstWindow, agent_label);
  gtk_widget_class_bind_template_child (w, PstWindow, start_button);
  gtk_widget_class_bind_template_child (w, PstWindow, activity);
  gtk_widget_class_bind_template_child (w, PstWindow, pages);
  gtk_widget_class_bind_template_callback (w, on_add_first_account);
  gtk_widget_class_bind_template_callback (w, on_start_agent);
}

/* A header bar button's icon (its accessible name and tooltip are in
 * window.ui). */
static void
set_icon (GtkWidget *button, const char *icon)
{
  gtk_button_set_image (GTK_BUTTON (button), gtk_image_new_from_icon_name (icon, GTK_ICON_SIZE_BUTTON));
}

static void
pst_window_init (PstWindow *self)
{
  self->fetch = g_simple_action_new ("fetch", NULL);
  g_signal_connect (self->fetch, "activate", G_CALLBACK (on_fetch), self);
  g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (self->fetch));
  gtk_widget_init_template (GTK_WIDGET (self));
  set_icon (self->fetch_button, "mail-send-receive-symbolic");
  set_icon (self->compose_button, "mail-message-new-symbolic");
  set_icon (self->reply_button, "mail-reply-sender-symbolic");
  set_icon (self->reply_all_button, "mail-reply-all-symbolic");
  set_icon (self->forward_button, "mail-forward-symbolic");
  set_icon (self->delete_button, "user-trash-symbolic");
  /* The header bar shows the page switcher; the window keeps its name. */
  gtk_window_set_title (GTK_WINDOW (self), _("Postern"));
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), _("Postern"));
}

PstWindow *
pst_window_new (GtkApplication *app, PstAgentLink *agent)
{
  PstWindow *self = g_object_new (PST_TYPE_WINDOW, "application", app, NULL);

  self->agent = g_object_ref (agent);
  gtk_widget_set_visible (self->no_account_page, FALSE);   /* until the agent says there is none */
  build_pages (self);
  g_signal_connect_swapped (agent, "running-changed", G_CALLBACK (on_running), self);
  /* The watcher says soon whether the agent runs; until then, no bar. */
  g_simple_action_set_enabled (self->fetch, pst_agent_link_is_running (agent));
  return self;
}

void
pst_window_reload (PstWindow *self)
{
  pst_table_view_refresh (self->accounts);
  pst_table_view_refresh (self->keys);
  pst_mail_view_refresh (self->mail);
}
