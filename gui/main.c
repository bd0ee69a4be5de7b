/* main.c — postern-gtk: the GTK3 mail client.  It talks to posternd over
 * the socket like the CLI and never touches the store or keys itself. */
#include <locale.h>
#include <gtk/gtk.h>
#include <glib/gi18n.h>

#include "window.h"

static void
activate (GtkApplication *app, gpointer data)
{
  GtkWindow *win = gtk_application_get_active_window (app);

  if (win == NULL)
    win = GTK_WINDOW (pst_window_new (app, data));
  gtk_window_present (win);
}

int
main (int argc, char **argv)
{
  g_autoptr (GtkApplication) app = NULL;
  const char *home = g_getenv ("POSTERN_HOME");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  app = gtk_application_new ("org.postern.Postern", G_APPLICATION_DEFAULT_FLAGS);
  g_signal_connect (app, "activate", G_CALLBACK (activate), (gpointer) home);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
