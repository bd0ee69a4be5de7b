/* table-view.c — see table-view.h.  The rows are kept as JSON objects in
 * the model's first column; the other columns are their formatted text. */
#include "table-view.h"
#include "showing.h"

#include <glib/gi18n.h>

struct _PstTableView {
  GtkBox parent;
  PstAgentLink *agent;
  char *method, *array;
  GArray *columns;             /* PstTableColumn */
  GtkListStore *store;
  GtkWidget *table, *message, *actions, *empty;
  GCancellable *cancellable;
  guint refresh_source;
  PstTableAction activate;     /* a row activated (double click, Enter), or NULL */
  gpointer activate_data;
};

G_DEFINE_TYPE (PstTableView, pst_table_view, GTK_TYPE_BOX)

static char *
cell_text (JsonObject *row, const PstTableColumn *c)
{
  JsonNode *n;

  if (c->format)
    return c->format (row);
  n = json_object_get_member (row, c->member);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return g_strdup ("");
  if (json_node_get_value_type (n) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (n));
  if (json_node_get_value_type (n) == G_TYPE_BOOLEAN)
    return g_strdup (json_node_get_boolean (n) ? _("yes") : _("no"));
  return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
}

static void
loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstTableView *self;
  JsonArray *rows;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = data;
  gtk_list_store_clear (self->store);
  if (r == NULL)
    {
      pst_widget_show_now (self->empty, FALSE);
      pst_table_view_say (self, error->message, TRUE);
      return;
    }
  rows = pst_json_arr (r, self->array);
  pst_widget_show_now (self->empty, (rows == NULL || json_array_get_length (rows) == 0)
                                      && *gtk_label_get_text (GTK_LABEL (self->empty)));
  for (guint i = 0; rows && i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);
      GtkTreeIter it;

      if (row == NULL)
        continue;
      gtk_list_store_append (self->store, &it);
      gtk_list_store_set (self->store, &it, 0, row, -1);
      for (guint c = 0; c < self->columns->len; c++)
        {
          g_autofree char *text = cell_text (row, &g_array_index (self->columns, PstTableColumn, c));
          gtk_list_store_set (self->store, &it, c + 1, text, -1);
        }
    }
}

void
pst_table_view_refresh (PstTableView *self)
{
  if (self->agent == NULL || !pst_agent_link_is_running (self->agent))
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  pst_agent_link_call (self->agent, self->method, NULL, -1, self->cancellable, loaded, self);
}

void
pst_table_view_say (PstTableView *self, const char *text, gboolean error)
{
  GtkStyleContext *sc = gtk_widget_get_style_context (self->message);

  gtk_label_set_text (GTK_LABEL (self->message), text ? text : "");
  if (error)
    gtk_style_context_add_class (sc, "error");
  else
    gtk_style_context_remove_class (sc, "error");
}

void
pst_table_view_set_empty_text (PstTableView *self, const char *text)
{
  gtk_label_set_text (GTK_LABEL (self->empty), text);
}

PstAgentLink *
pst_table_view_get_agent (PstTableView *self)
{
  return self->agent;
}

/* ---- actions ---- */

typedef struct {
  PstTableView *view;
  PstTableAction action;
  gpointer data;
  gboolean needs_row;
} Action;

static void
on_action (GtkButton *button, Action *a)
{
  GtkTreeSelection *sel = gtk_tree_view_get_selection (GTK_TREE_VIEW (a->view->table));
  g_autoptr (JsonObject) row = NULL;
  GtkTreeModel *model;
  GtkTreeIter it;

  if (gtk_tree_selection_get_selected (sel, &model, &it))
    gtk_tree_model_get (model, &it, 0, &row, -1);
  if (row == NULL && a->needs_row)
    {
      pst_table_view_say (a->view, _("Select a row first."), TRUE);
      return;
    }
  a->action (a->view, row, a->data);
}

void
pst_table_view_add_action (PstTableView *self, const char *label, gboolean needs_row,
                           PstTableAction action, gpointer data)
{
  GtkWidget *b = gtk_button_new_with_label (label);
  Action *a = g_new0 (Action, 1);

  a->view = self;
  a->action = action;
  a->data = data;
  a->needs_row = needs_row;
  g_signal_connect_data (b, "clicked", G_CALLBACK (on_action), a, (GClosureNotify) (void (*) (void)) g_free, 0);
  gtk_widget_show (b);
  gtk_box_pack_start (GTK_BOX (self->actions), b, FALSE, FALSE, 0);
}

typedef struct {
  char *method, *id_member, *done, *confirm;
} CallSpec;

typedef struct {
  PstTableView *view;
  char *done;
} CallDone;

static void
call_done (GObject *source, GAsyncResult *res, gpointer data)
{
  CallDone *d = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (d->view->agent == NULL)   /* closed meanwhile */
    ;
  else if (r == NULL)
    pst_table_view_say (d->view, error->message, TRUE);
  else
    pst_table_view_say (d->view, d->done, FALSE);
  if (d->view->agent != NULL)
    pst_table_view_refresh (d->view);
  g_object_unref (d->view);
  g_free (d->done);
  g_free (d);
}

static void
call_now (PstTableView *view, CallSpec *spec, JsonObject *row)
{
  JsonObject *params = json_object_new ();
  JsonNode *id = json_object_get_member (row, spec->id_member);
  CallDone *d = g_new0 (CallDone, 1);
  g_autofree char *id_text = cell_text (row, &(PstTableColumn) { NULL, spec->id_member, NULL });

  if (id != NULL)
    json_object_set_member (params, spec->id_member, json_node_copy (id));
  d->view = g_object_ref (view);
  d->done = g_strdup_printf (spec->done, id_text);
  pst_agent_link_call (view->agent, spec->method, params, -1, NULL, call_done, d);
}

static void
confirmed (GtkDialog *q, int response, PstTableView *view)
{
  CallSpec *spec = g_object_get_data (G_OBJECT (q), "spec");
  JsonObject *row = g_object_get_data (G_OBJECT (q), "row");

  if (response == GTK_RESPONSE_YES && view->agent != NULL)
    call_now (view, spec, row);
  gtk_widget_destroy (GTK_WIDGET (q));
}

static void
run_call (PstTableView *view, JsonObject *row, gpointer data)
{
  CallSpec *spec = data;
  GtkWidget *top, *q;
  g_autofree char *id_text = NULL;

  if (spec->confirm == NULL)
    {
      call_now (view, spec, row);
      return;
    }
  /* Shown, never run: a nested main loop holds up the accessibility bus. */
  id_text = cell_text (row, &(PstTableColumn) { NULL, spec->id_member, NULL });
  top = gtk_widget_get_toplevel (GTK_WIDGET (view));
  q = gtk_message_dialog_new (GTK_IS_WINDOW (top) ? GTK_WINDOW (top) : NULL, GTK_DIALOG_MODAL,
                              GTK_MESSAGE_WARNING, GTK_BUTTONS_YES_NO, spec->confirm, id_text);
  g_object_set_data (G_OBJECT (q), "spec", spec);
  g_object_set_data_full (G_OBJECT (q), "row", json_object_ref (row), (GDestroyNotify) json_object_unref);
  g_signal_connect_data (q, "response", G_CALLBACK (confirmed), g_object_ref (view),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (q), TRUE);
  gtk_widget_show (q);
}

static void
call_spec_free (gpointer data, GObject *where)
{
  CallSpec *s = data;

  g_free (s->method);
  g_free (s->id_member);
  g_free (s->done);
  g_free (s->confirm);
  g_free (s);
}

void
pst_table_view_add_call (PstTableView *self, const char *label, const char *method,
                         const char *id_member, const char *done, const char *confirm)
{
  CallSpec *s = g_new0 (CallSpec, 1);

  s->confirm = g_strdup (confirm);
  s->method = g_strdup (method);
  s->id_member = g_strdup (id_member);
  s->done = g_strdup (done);
  pst_table_view_add_action (self, label, TRUE, run_call, s);
  g_object_weak_ref (G_OBJECT (self), call_spec_free, s);
}

static void
on_row_activated (PstTableView *self, GtkTreePath *path, GtkTreeViewColumn *column)
{
  g_autoptr (JsonObject) row = NULL;
  GtkTreeIter it;

  if (self->activate && gtk_tree_model_get_iter (GTK_TREE_MODEL (self->store), &it, path))
    {
      gtk_tree_model_get (GTK_TREE_MODEL (self->store), &it, 0, &row, -1);
      if (row != NULL)
        self->activate (self, row, self->activate_data);
    }
}

void
pst_table_view_set_expanding (PstTableView *self, guint column)
{
  GtkTreeView *t = GTK_TREE_VIEW (self->table);

  for (guint i = 0; i < gtk_tree_view_get_n_columns (t); i++)
    {
      GtkTreeViewColumn *c = gtk_tree_view_get_column (t, (int) i);

      gtk_tree_view_column_set_expand (c, i == column);
      /* Ellipsized cells ask for no width: the others keep some. */
      if (i != column)
        gtk_tree_view_column_set_min_width (c, 160);
    }
}

void
pst_table_view_on_activate (PstTableView *self, PstTableAction action, gpointer data)
{
  self->activate = action;
  self->activate_data = data;
}


/* ---- object ---- */

static void
on_running (PstTableView *self, gboolean running, const char *why)
{
  if (running)
    pst_table_view_refresh (self);
}

/* A fetch or a send announces every message: one reload for a burst. */
#define REFRESH_DELAY_MS 250

static gboolean
refresh_later (gpointer data)
{
  PstTableView *self = data;

  self->refresh_source = 0;
  pst_table_view_refresh (self);
  return G_SOURCE_REMOVE;
}

static void
refresh_soon (PstTableView *self)
{
  if (self->refresh_source == 0)
    self->refresh_source = g_timeout_add (REFRESH_DELAY_MS, refresh_later, self);
}

static void
on_notification (PstTableView *self, const char *method, JsonObject *params)
{
  /* Any change the agent announces may concern this page: reload it. */
  if (g_strcmp0 (method, "fetch.progress") != 0 && g_strcmp0 (method, "batch.progress") != 0)
    refresh_soon (self);
}

static void
pst_table_view_dispose (GObject *object)
{
  PstTableView *self = PST_TABLE_VIEW (object);

  g_clear_handle_id (&self->refresh_source, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->agent)
    g_signal_handlers_disconnect_by_data (self->agent, self);
  g_clear_object (&self->agent);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (pst_table_view_parent_class)->dispose (object);
}

static void
pst_table_view_finalize (GObject *object)
{
  PstTableView *self = PST_TABLE_VIEW (object);

  g_free (self->method);
  g_free (self->array);
  g_array_unref (self->columns);
  G_OBJECT_CLASS (pst_table_view_parent_class)->finalize (object);
}

static void
pst_table_view_class_init (PstTableViewClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_table_view_dispose;
  G_OBJECT_CLASS (klass)->finalize = pst_table_view_finalize;
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/table-view.ui");
  gtk_widget_class_bind_template_child (w, PstTableView, table);
  gtk_widget_class_bind_template_child (w, PstTableView, message);
  gtk_widget_class_bind_template_child (w, PstTableView, actions);
  gtk_widget_class_bind_template_child (w, PstTableView, empty);
  gtk_widget_class_bind_template_callback (w, pst_table_view_refresh);
}

static void
pst_table_view_init (PstTableView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->columns = g_array_new (FALSE, FALSE, sizeof (PstTableColumn));
}

PstTableView *
pst_table_view_new (PstAgentLink *agent, const char *name, const char *method, const char *array,
                    const PstTableColumn *columns, guint n_columns)
{
  PstTableView *self = g_object_new (PST_TYPE_TABLE_VIEW, NULL);
  g_autofree GType *types = g_new (GType, n_columns + 1);

  self->agent = g_object_ref (agent);
  self->method = g_strdup (method);
  self->array = g_strdup (array);
  g_array_append_vals (self->columns, columns, n_columns);
  types[0] = JSON_TYPE_OBJECT;
  for (guint i = 0; i < n_columns; i++)
    types[i + 1] = G_TYPE_STRING;
  self->store = gtk_list_store_newv ((gint) n_columns + 1, types);
  gtk_tree_view_set_model (GTK_TREE_VIEW (self->table), GTK_TREE_MODEL (self->store));
  for (guint i = 0; i < n_columns; i++)
    {
      GtkCellRenderer *r = gtk_cell_renderer_text_new ();
      GtkTreeViewColumn *c = gtk_tree_view_column_new_with_attributes (columns[i].title, r, "text",
                                                                       (gint) i + 1, NULL);
      g_object_set (r, "ellipsize", PANGO_ELLIPSIZE_END, NULL);
      gtk_tree_view_column_set_resizable (c, TRUE);
      gtk_tree_view_column_set_expand (c, i + 1 == n_columns);
      gtk_tree_view_column_set_sort_column_id (c, (gint) i + 1);
      gtk_tree_view_append_column (GTK_TREE_VIEW (self->table), c);
    }
  atk_object_set_name (gtk_widget_get_accessible (self->table), name);
  g_signal_connect_swapped (self->table, "row-activated", G_CALLBACK (on_row_activated), self);
  g_signal_connect_swapped (agent, "running-changed", G_CALLBACK (on_running), self);
  g_signal_connect_swapped (agent, "notification", G_CALLBACK (on_notification), self);
  pst_table_view_refresh (self);
  return self;
}
