/* drafts-page.c — see drafts-page.h.  A table view (table-view.h) of
 * drafts.list; a draft opens through draft.h (drafts.get into a memory
 * file), in a compose window that keeps it. */
#include "drafts-page.h"

#include <glib/gi18n.h>

#include "draft.h"
#include "table-view.h"

static char *
fmt_subject (JsonObject *row)
{
  const char *s = pst_json_str (row, "subject");

  if (pst_json_str (row, "error") != NULL)
    return g_strdup_printf (_("(cannot be read: %s)"), pst_json_str (row, "error"));
  return g_strdup (s && *s ? s : _("(no subject)"));
}

static char *
fmt_saved (JsonObject *row)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (pst_json_int (row, "updated_at"));

  return t ? g_date_time_format (t, "%Y-%m-%d %H:%M") : g_strdup ("");
}

static void
opened (const char *error, gpointer data)
{
  PstTableView *view = data;

  if (pst_table_view_get_agent (view) != NULL)   /* not closed meanwhile */
    pst_table_view_say (view, error ? error : "", error != NULL);
  g_object_unref (view);
}

static void
open_draft (PstTableView *view, JsonObject *row, gpointer data)
{
  GtkWidget *top = gtk_widget_get_toplevel (GTK_WIDGET (view));
  GtkApplication *app = GTK_IS_WINDOW (top) ? gtk_window_get_application (GTK_WINDOW (top)) : NULL;
  JsonObject *params;

  if (app == NULL || pst_table_view_get_agent (view) == NULL)
    return;
  params = json_object_new ();
  json_object_set_int_member (params, "id", pst_json_int (row, "id"));
  pst_table_view_say (view, _("Opening the draft…"), FALSE);
  pst_draft_open (app, pst_table_view_get_agent (view), "drafts.get", params, opened, g_object_ref (view));
}

GtkWidget *
pst_drafts_page_new (PstAgentLink *agent)
{
  PstTableColumn columns[] = {
    { _("Subject"), "subject", fmt_subject }, { _("To"), "to", NULL },
    { _("Account"), "account", NULL }, { _("Saved"), "updated_at", fmt_saved },
  };
  PstTableView *v = pst_table_view_new (agent, _("Drafts"), "drafts.list", "drafts", columns,
                                        G_N_ELEMENTS (columns));

  pst_table_view_set_expanding (v, 0);
  pst_table_view_set_empty_text (v, _("No drafts. What you write in a compose window is kept here as a draft "
                                      "when you close the window, and every minute while you write: encrypted "
                                      "to your own key, so nobody else can read it. Open a draft to go on "
                                      "writing it; sending it removes it."));
  pst_table_view_add_action (v, _("Open"), TRUE, open_draft, NULL);
  pst_table_view_on_activate (v, open_draft, NULL);
  pst_table_view_add_call (v, _("Delete"), "drafts.delete", "id", _("Draft %s was deleted."),
                           _("Delete draft %s for good? Its text cannot be brought back."));
  return GTK_WIDGET (v);
}
