/* main.c — postern-gtk: the GTK3 mail client.  It talks to posternd over
 * the socket like the CLI and never touches the store or keys itself.
 * Started with a mailto: URI (it is the desktop's mailto: handler) it opens
 * a compose window filled from it. */
#include <gtk/gtk.h>
#include <glib/gi18n.h>

#include "account-dialog.h"
#include "agent.h"
#include "compose-window.h"
#include "first-run.h"
#include "mailto.h"
#include "prefs-dialog.h"
#include "config/paths.h"
#include "window.h"

static PstAgentLink *agent;

/* What the assistant added shows in the window once it is done (not when
 * it goes with the window). */
static void
first_run_done (GtkWidget *window)
{
  if (!gtk_widget_in_destruction (window))
    pst_window_reload (PST_WINDOW (window));
}

/* With no account yet, the assistant comes up over the main window once
 * that shows (first-run.h). */
static void
offer_first_run (GtkWidget *window)
{
  GtkWidget *assistant = GTK_WIDGET (pst_first_run_new (GTK_WINDOW (window), agent));

  g_signal_handlers_disconnect_by_func (window, offer_first_run, NULL);
  g_signal_connect_object (assistant, "destroy", G_CALLBACK (first_run_done), window, G_CONNECT_SWAPPED);
  gtk_widget_show (assistant);
}

static GtkWindow *
main_window (GtkApplication *app)
{
  GtkWindow *window;

  for (GList *l = gtk_application_get_windows (app); l; l = l->next)
    if (PST_IS_WINDOW (l->data))
      return l->data;
  window = GTK_WINDOW (pst_window_new (app, agent));
  if (pst_first_run_needed (g_getenv ("POSTERN_HOME")))
    g_signal_connect (window, "map", G_CALLBACK (offer_first_run), NULL);
  return window;
}

static void
activate (GtkApplication *app)
{
  gtk_window_present (main_window (app));
}

static void
open_uris (GApplication *app, GFile **files, gint n_files, const gchar *hint)
{
  for (gint i = 0; i < n_files; i++)
    {
      g_autofree char *uri = g_file_get_uri (files[i]);
      g_autoptr (GError) error = NULL;
      g_autoptr (PstMailto) m = pst_mailto_parse (uri, &error);
      PstComposeWindow *w;

      if (m == NULL)
        {
          g_printerr (_("postern-gtk: %s\n"), error->message);
          continue;
        }
      w = pst_compose_window_new (GTK_APPLICATION (app), agent);
      pst_compose_window_fill (w, m);
      gtk_window_present (GTK_WINDOW (w));
    }
}

static void
on_compose (GSimpleAction *action, GVariant *param, gpointer app)
{
  gtk_window_present (GTK_WINDOW (pst_compose_window_new (app, agent)));
}

static void
on_add_account (GSimpleAction *action, GVariant *param, gpointer app)
{
  gtk_widget_show (GTK_WIDGET (pst_account_dialog_new (main_window (app), agent)));
}

static void
on_preferences (GSimpleAction *action, GVariant *param, gpointer app)
{
  gtk_widget_show (GTK_WIDGET (pst_prefs_dialog_new (main_window (app), agent)));
}

static void
stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, NULL);
}

static void
on_stop_agent (GSimpleAction *action, GVariant *param, gpointer app)
{
  pst_agent_link_call (agent, "agent.stop", NULL, -1, NULL, stopped, NULL);
}

static void
on_quit (GSimpleAction *action, GVariant *param, gpointer app)
{
  g_application_quit (app);
}

/* New mail: one desktop notification for a burst (a fetch announces each
 * message), naming how much came and for which accounts, never what it
 * says: the notification daemon is another process. */
#define NOTIFY_DELAY_MS 500

static guint new_count, notify_source;
static GPtrArray *new_accounts;

static gboolean
notify_now (gpointer app)
{
  g_autoptr (GNotification) n = g_notification_new (_("New mail"));
  g_autofree char *accounts = NULL, *body = NULL;

  g_ptr_array_add (new_accounts, NULL);
  accounts = g_strjoinv (", ", (char **) new_accounts->pdata);
  body = new_count == 1 ? g_strdup_printf (_("A new message arrived for account %s."), accounts)
                        : g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u new message arrived for %s.",
                                                        "%u new messages arrived for %s.", new_count),
                                           new_count, accounts);
  g_notification_set_body (n, body);
  g_notification_set_default_action (n, "app.activate");
  g_application_send_notification (app, "mail-new", n);
  g_ptr_array_set_size (new_accounts, 0);
  new_count = 0;
  notify_source = 0;
  return G_SOURCE_REMOVE;
}

static void
on_notification (PstAgentLink *a, const char *method, JsonObject *params, GApplication *app)
{
  const char *account = pst_json_str (params, "account");

  if (g_strcmp0 (method, "mail.new") != 0)
    return;
  if (new_accounts == NULL)
    new_accounts = g_ptr_array_new_with_free_func (g_free);
  if (account != NULL && !g_ptr_array_find_with_equal_func (new_accounts, account, g_str_equal, NULL))
    g_ptr_array_add (new_accounts, g_strdup (account));
  new_count++;
  if (notify_source == 0)
    notify_source = g_timeout_add (NOTIFY_DELAY_MS, notify_now, app);
}

/* After "shutdown" GApplication is no longer registered, yet g_application_run
 * still dispatches whatever is ready in the main context before it returns: a
 * pending burst (or a notification of the agent's that arrives then) must not
 * reach g_application_send_notification any more. */
static void
on_shutdown (GApplication *app)
{
  g_clear_handle_id (&notify_source, g_source_remove);
  g_signal_handlers_disconnect_by_func (agent, on_notification, app);
}

static void
startup (GApplication *app)
{
  static const GActionEntry actions[] = {
    { "compose", on_compose, NULL, NULL, NULL, { 0 } },
    { "add-account", on_add_account, NULL, NULL, NULL, { 0 } },
    { "preferences", on_preferences, NULL, NULL, NULL, { 0 } },
    { "stop-agent", on_stop_agent, NULL, NULL, NULL, { 0 } },
    { "quit", on_quit, NULL, NULL, NULL, { 0 } },
  };
  g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *compose_accels[] = { "<Control>n", NULL };
  /* Delete is the message list's own key (mail-view.c): elsewhere it edits text. */
  static const char *reply_accels[] = { "<Control>r", NULL };
  static const char *reply_all_accels[] = { "<Control><Shift>r", NULL };
  static const char *forward_accels[] = { "<Control>l", NULL };
  static const char *fetch_accels[] = { "F5", NULL };

  /* GTK would list every file saved or opened (attachments of encrypted
   * mail among them) in ~/.local/share/recently-used.xbel. */
  g_object_set (gtk_settings_get_default (), "gtk-recent-files-enabled", FALSE, NULL);
  g_action_map_add_action_entries (G_ACTION_MAP (app), actions, G_N_ELEMENTS (actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.compose", compose_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.reply", reply_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.reply-all", reply_all_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.forward", forward_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.fetch", fetch_accels);
  gtk_css_provider_load_from_resource (css, "/org/postern/Postern/style.css");
  gtk_style_context_add_provider_for_screen (gdk_screen_get_default (), GTK_STYLE_PROVIDER (css),
                                             GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  agent = pst_agent_link_new (g_getenv ("POSTERN_HOME"));
  g_signal_connect (agent, "notification", G_CALLBACK (on_notification), app);
}

static void
activate_action (GSimpleAction *action, GVariant *param, gpointer app)
{
  activate (app);
}

int
main (int argc, char **argv)
{
  g_autoptr (GtkApplication) app = NULL;
  g_autoptr (GSimpleAction) act = g_simple_action_new ("activate", NULL);
  int status;

  pst_paths_init_locale ();
  g_set_application_name (_("Postern"));
  app = gtk_application_new ("org.postern.Postern", G_APPLICATION_HANDLES_OPEN);
  g_signal_connect (app, "startup", G_CALLBACK (startup), NULL);
  g_signal_connect (app, "shutdown", G_CALLBACK (on_shutdown), NULL);
  g_signal_connect (app, "activate", G_CALLBACK (activate), NULL);
  g_signal_connect (app, "open", G_CALLBACK (open_uris), NULL);
  g_signal_connect (act, "activate", G_CALLBACK (activate_action), app);
  g_action_map_add_action (G_ACTION_MAP (app), G_ACTION (act));
  status = g_application_run (G_APPLICATION (app), argc, argv);
  g_clear_handle_id (&notify_source, g_source_remove);
  g_clear_pointer (&new_accounts, g_ptr_array_unref);
  g_clear_object (&agent);
  return status;
}
