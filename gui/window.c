/* window.c — see window.h.  Calls to the agent are short and made on the
 * main loop; a failed call shows the agent bar rather than an error box. */
#include "window.h"

#include <glib/gi18n.h>

#include "config/paths.h"
#include "rpc/client.h"

enum { COL_ID, COL_MARK, COL_FROM, COL_SUBJECT, COL_DATE, N_COLS };

struct _PstWindow {
  GtkApplicationWindow parent;
  PstPaths *paths;
  char *home;
  GtkListStore *store;
  GtkWidget *fetch_button, *agent_bar, *agent_label, *messages, *status_bar, *body;
};

G_DEFINE_TYPE (PstWindow, pst_window, GTK_TYPE_APPLICATION_WINDOW)

static const char *
str (JsonObject *o, const char *name)
{
  return o && json_object_has_member (o, name) && !json_object_get_null_member (o, name)
           ? json_object_get_string_member (o, name) : NULL;
}

static JsonObject *
obj (JsonObject *o, const char *name)
{
  return o && json_object_has_member (o, name) && !json_object_get_null_member (o, name)
           ? json_object_get_object_member (o, name) : NULL;
}

/* One call to the agent; on failure the agent bar says why. */
static JsonObject *
call (PstWindow *self, const char *method, JsonObject *params)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = pst_rpc_client_connect (self->paths->socket_path, &error);
  JsonObject *r = client ? pst_rpc_client_call (client, method, params, NULL, 0, &error) : NULL;

  if (client == NULL)
    {
      gtk_label_set_text (GTK_LABEL (self->agent_label),
                          _("The Postern agent is not running, so no mail can be shown or sent."));
      gtk_widget_show (self->agent_bar);
    }
  else
    gtk_widget_hide (self->agent_bar);
  if (r == NULL && client != NULL)
    gtk_label_set_text (GTK_LABEL (self->status_bar), error->message);
  if (client == NULL && params != NULL)
    json_object_unref (params);
  return r;
}

/* The marks of the list: encrypted, signature good or a problem. */
static const char *
mark_of (JsonObject *crypto, JsonObject *scan)
{
  JsonObject *sig = obj (crypto, "signature");
  const char *st = str (sig, "status");
  gboolean enc = g_strcmp0 (str (crypto, "decryption"), "ok") == 0;
  gboolean good = g_strcmp0 (st, "good") == 0 && sig && json_object_get_boolean_member (sig, "from_match");

  if (g_strcmp0 (str (scan, "verdict"), "infected") == 0)
    return _("infected");
  if (st != NULL && g_strcmp0 (st, "none") != 0 && !good)
    return enc ? _("encrypted, signature problem") : _("signature problem");
  if (good)
    return enc ? _("encrypted, signed") : _("signed");
  return enc ? _("encrypted") : "";
}

static void
refresh (PstWindow *self)
{
  JsonObject *params = json_object_new ();
  g_autoptr (JsonObject) r = call (self, "list", params);
  JsonArray *arr;

  gtk_list_store_clear (self->store);
  if (r == NULL)
    return;
  arr = json_object_get_array_member (r, "messages");
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *m = json_array_get_object_element (arr, i);
      GtkTreeIter it;

      gtk_list_store_append (self->store, &it);
      gtk_list_store_set (self->store, &it, COL_ID, json_object_get_int_member (m, "id"),
                          COL_MARK, mark_of (obj (m, "crypto"), obj (m, "scan")),
                          COL_FROM, str (m, "from"), COL_SUBJECT, str (m, "subject"),
                          COL_DATE, str (m, "date"), -1);
    }
}

/* The status bar: drawn here, from the agent's status object, in words and
 * colour; nothing in the message can draw it. */
static void
show_status (PstWindow *self, JsonObject *crypto, JsonObject *scan)
{
  JsonObject *sig = obj (crypto, "signature");
  const char *dec = str (crypto, "decryption"), *st = str (sig, "status");
  gboolean problem = FALSE;
  g_autoptr (GString) s = g_string_new (NULL);
  g_autofree char *markup = NULL;
  const char *colour;

  g_string_append_printf (s, "%s · ", g_strcmp0 (str (crypto, "scheme"), "smime") == 0 ? "S/MIME"
                                      : g_strcmp0 (str (crypto, "scheme"), "pgp") == 0 ? "OpenPGP"
                                                                                         : _("no cryptography"));
  if (g_strcmp0 (dec, "ok") == 0)
    g_string_append_printf (s, "%s", g_strcmp0 (str (crypto, "encryption_covers"), "whole") == 0
                                       ? _("encrypted") : _("only partly encrypted"));
  else if (g_strcmp0 (dec, "failed") == 0)
    {
      g_string_append (s, _("could not be decrypted"));
      problem = TRUE;
    }
  else
    g_string_append (s, _("not encrypted"));
  if (st != NULL && g_strcmp0 (st, "none") != 0)
    {
      gboolean from = json_object_get_boolean_member (sig, "from_match");
      gboolean whole = g_strcmp0 (str (sig, "covers"), "whole") == 0;

      g_string_append_printf (s, " · %s %s", g_strcmp0 (st, "good") == 0 ? _("signed by") : _("signature NOT good, by"),
                              str (sig, "signer") ? str (sig, "signer") : _("unknown"));
      g_string_append (s, from ? _(", who is the sender") : _(", who is NOT the sender"));
      if (!whole)
        g_string_append (s, _(" · the signature covers only part of the message"));
      problem |= g_strcmp0 (st, "good") != 0 || !from || !whole;
    }
  else
    g_string_append (s, _(" · not signed"));
  if (g_strcmp0 (str (crypto, "integrity"), "failed") == 0)
    {
      g_string_append (s, _(" · integrity check FAILED"));
      problem = TRUE;
    }
  g_string_append_printf (s, " · %s %s", _("scan:"), str (scan, "verdict") ? str (scan, "verdict") : _("skipped"));
  colour = problem ? "#f6c6c6" : g_strcmp0 (dec, "ok") == 0 && g_strcmp0 (st, "good") == 0 ? "#c8ecc8" : "#e4e4e4";
  markup = g_markup_printf_escaped ("<span background=\"%s\">  %s  </span>", colour, s->str);
  gtk_label_set_markup (GTK_LABEL (self->status_bar), markup);
}

static void
on_selection_changed (PstWindow *self, GtkTreeSelection *sel)
{
  GtkTreeModel *model;
  GtkTreeIter it;
  gint64 id = 0;
  JsonObject *params;
  g_autoptr (JsonObject) r = NULL;
  GtkTextBuffer *buf = gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body));

  if (!gtk_tree_selection_get_selected (sel, &model, &it))
    return;
  gtk_tree_model_get (model, &it, COL_ID, &id, -1);
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  gtk_text_buffer_set_text (buf, "", -1);
  if (!(r = call (self, "show", params)))
    return;
  show_status (self, obj (r, "crypto"), obj (r, "scan"));
  /* Plain text only: no HTML is rendered, nothing remote is loaded. */
  gtk_text_buffer_set_text (buf, str (r, "body_text") ? str (r, "body_text") : "", -1);
}

static void
on_fetch (PstWindow *self)
{
  JsonObject *r = call (self, "fetch", json_object_new ());

  if (r != NULL)
    json_object_unref (r);
  refresh (self);
}

static gboolean
refresh_later (gpointer data)
{
  refresh (data);
  return G_SOURCE_REMOVE;
}

static void
on_start_agent (PstWindow *self)
{
  g_autoptr (GError) error = NULL;
  const char *agent = g_getenv ("POSTERN_AGENT");
  g_autofree char *path = agent ? g_strdup (agent) : g_build_filename (BINDIR, "posternd", NULL);
  const char *argv[] = { path, self->home ? "--home" : NULL, self->home, NULL };
  GPid pid;

  if (!g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &error))
    {
      gtk_label_set_text (GTK_LABEL (self->agent_label), error->message);
      return;
    }
  g_spawn_close_pid (pid);
  g_timeout_add (500, refresh_later, self);
}

static void
add_column (PstWindow *self, const char *title, int col)
{
  GtkCellRenderer *r = gtk_cell_renderer_text_new ();
  GtkTreeViewColumn *c = gtk_tree_view_column_new_with_attributes (title, r, "text", col, NULL);

  g_object_set (r, "ellipsize", PANGO_ELLIPSIZE_END, NULL);
  gtk_tree_view_column_set_resizable (c, TRUE);
  gtk_tree_view_column_set_expand (c, col == COL_SUBJECT);
  gtk_tree_view_column_set_sort_column_id (c, col);
  gtk_tree_view_append_column (GTK_TREE_VIEW (self->messages), c);
}

static void
pst_window_finalize (GObject *object)
{
  PstWindow *self = PST_WINDOW (object);

  pst_paths_free (self->paths);
  g_free (self->home);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (pst_window_parent_class)->finalize (object);
}

static void
pst_window_class_init (PstWindowClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = pst_window_finalize;
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/window.ui");
  gtk_widget_class_bind_template_child (w, PstWindow, fetch_button);
  gtk_widget_class_bind_template_child (w, PstWindow, agent_bar);
  gtk_widget_class_bind_template_child (w, PstWindow, agent_label);
  gtk_widget_class_bind_template_child (w, PstWindow, messages);
  gtk_widget_class_bind_template_child (w, PstWindow, status_bar);
  gtk_widget_class_bind_template_child (w, PstWindow, body);
  gtk_widget_class_bind_template_callback (w, on_fetch);
  gtk_widget_class_bind_template_callback (w, on_start_agent);
  gtk_widget_class_bind_template_callback (w, on_selection_changed);
}

static void
pst_window_init (PstWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->store = gtk_list_store_new (N_COLS, G_TYPE_INT64, G_TYPE_STRING, G_TYPE_STRING,
                                    G_TYPE_STRING, G_TYPE_STRING);
  gtk_tree_view_set_model (GTK_TREE_VIEW (self->messages), GTK_TREE_MODEL (self->store));
  add_column (self, "", COL_MARK);
  add_column (self, _("From"), COL_FROM);
  add_column (self, _("Subject"), COL_SUBJECT);
  add_column (self, _("Date"), COL_DATE);
}

PstWindow *
pst_window_new (GtkApplication *app, const char *home)
{
  PstWindow *self = g_object_new (PST_TYPE_WINDOW, "application", app, NULL);

  self->home = g_strdup (home);
  self->paths = pst_paths_new (home);
  refresh (self);
  return self;
}
