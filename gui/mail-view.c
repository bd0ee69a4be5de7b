/* mail-view.c — see mail-view.h.  Bodies are shown as plain text in a text
 * view: no HTML is rendered and nothing remote is ever loaded. */
#include "mail-view.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "attachment-bar.h"
#include "draft.h"
#include "showing.h"
#include "threads.h"
#include "util/text.h"
#include "verdict.h"

/* A thread of several messages is a parent row (its newest message, with
 * the count and the thread's unread state) over a row for each of them. */
enum { COL_ID, COL_ICON, COL_MARK, COL_FROM, COL_SUBJECT, COL_DATE, COL_WEIGHT, COL_UNREAD, COL_COUNT,
       COL_THREAD, N_COLS };

enum { SIGNAL_ACCOUNTS, N_SIGNALS };
static guint signals[N_SIGNALS];

struct _PstMailView {
  GtkBox parent;
  PstAgentLink *agent;
  GtkTreeStore *store;
  GtkWidget *search, *account_switch, *messages, *empty_box, *empty_label, *status_box, *status_icon,
    *status_label, *headers, *body, *attachments;
  GCancellable *list_cancel, *show_cancel, *accounts_cancel;
  gint64 shown_id;
  guint refresh_source;
  GSimpleAction *reply, *reply_all, *forward, *delete;
};

G_DEFINE_TYPE (PstMailView, pst_mail_view, GTK_TYPE_BOX)

static void
say (PstMailView *self, const char *text, PstVerdictLevel level, const char *icon)
{
  GtkStyleContext *sc = gtk_widget_get_style_context (self->status_box);

  gtk_style_context_remove_class (sc, "pst-good");
  gtk_style_context_remove_class (sc, "pst-problem");
  gtk_style_context_remove_class (sc, "pst-neutral");
  gtk_style_context_add_class (sc, level == PST_VERDICT_GOOD      ? "pst-good"
                                   : level == PST_VERDICT_PROBLEM ? "pst-problem"
                                                                  : "pst-neutral");
  gtk_label_set_text (GTK_LABEL (self->status_label), text);
  gtk_image_set_from_icon_name (GTK_IMAGE (self->status_icon), icon, GTK_ICON_SIZE_LARGE_TOOLBAR);
}

static void
clear_message (PstMailView *self)
{
  g_autoptr (GList) children = gtk_container_get_children (GTK_CONTAINER (self->attachments));
  g_autoptr (GList) rows = gtk_container_get_children (GTK_CONTAINER (self->headers));

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body)), "", -1);

  for (GList *l = rows; l; l = l->next)
    gtk_widget_destroy (l->data);
  for (GList *l = children; l; l = l->next)
    gtk_widget_destroy (l->data);
}

/* The message the actions act on: the one shown. */
static void
set_shown (PstMailView *self, gint64 id)
{
  self->shown_id = id;
  g_simple_action_set_enabled (self->reply, id != 0);
  g_simple_action_set_enabled (self->reply_all, id != 0);
  g_simple_action_set_enabled (self->forward, id != 0);
  g_simple_action_set_enabled (self->delete, id != 0);
}

typedef struct {
  gint64 id;
  GtkTreeIter it;
  gboolean found;
} Find;

static gboolean
find_one (GtkTreeModel *model, GtkTreePath *path, GtkTreeIter *it, gpointer data)
{
  Find *f = data;
  gint64 row_id = 0;

  gtk_tree_model_get (model, it, COL_ID, &row_id, -1);
  if (row_id == f->id)
    {
      f->it = *it;
      f->found = TRUE;
    }
  return f->found;
}

/* The first row of message @id (a thread's row before the message's own). */
static gboolean
find_row (PstMailView *self, gint64 id, GtkTreeIter *it)
{
  Find f = { id, { 0 }, FALSE };

  gtk_tree_model_foreach (GTK_TREE_MODEL (self->store), find_one, &f);
  *it = f.it;
  return f.found;
}

/* ---- the list ---- */

static void
remember_expanded (GtkTreeView *view, GtkTreePath *path, gpointer data)
{
  GtkTreeModel *model = gtk_tree_view_get_model (view);
  GtkTreeIter it;
  gint64 thread = 0;

  if (gtk_tree_model_get_iter (model, &it, path))
    {
      gtk_tree_model_get (model, &it, COL_THREAD, &thread, -1);
      g_hash_table_add (data, g_memdup2 (&thread, sizeof thread));
    }
}

/* A row for message @m under @parent (NULL: at the top); @count: the
 * thread's size, on a thread's row. */
static void
add_row (PstMailView *self, GtkTreeIter *parent, GtkTreeIter *it, JsonObject *m, const char *count)
{
  JsonObject *crypto = pst_json_obj (m, "crypto"), *scan = pst_json_obj (m, "scan");
  const char *subject = pst_json_str (m, "subject");
  g_autofree char *safe_from = pst_verdict_safe_text (pst_json_str (m, "from"));
  g_autofree char *safe_subject = NULL;
  gboolean unread = pst_json_bool (m, "unread");

  /* What the outside of header-protected mail says; the agent gives the
   * real one once it has decrypted the message since it started. */
  if (g_strcmp0 (subject, "...") == 0 && pst_json_bool (crypto, "protected_headers"))
    subject = _("(encrypted subject: open the message to read it)");
  safe_subject = pst_verdict_safe_text (subject);
  gtk_tree_store_append (self->store, it, parent);
  gtk_tree_store_set (self->store, it, COL_ID, pst_json_int (m, "id"), COL_ICON, pst_verdict_icon (crypto, scan),
                      COL_MARK, pst_verdict_mark (crypto, scan), COL_FROM, safe_from, COL_SUBJECT, safe_subject,
                      COL_DATE, pst_json_str (m, "date"),
                      COL_WEIGHT, unread ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL, COL_UNREAD, unread,
                      COL_COUNT, count, -1);
}

/* The empty mailbox says what to do; a search that finds nothing says so. */
static void
show_empty (PstMailView *self, gboolean empty)
{
  const char *query = gtk_entry_get_text (GTK_ENTRY (self->search));

  gtk_label_set_text (GTK_LABEL (self->empty_label),
                      query && *query ? _("No message matches the search.")
                                      : _("No mail yet — Fetch (F5) brings new mail from the server."));
  pst_widget_show_now (self->empty_box, empty);
}

static void
listed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstMailView *self;
  JsonArray *arr;
  GPtrArray *threads;
  g_autoptr (GHashTable) expanded = NULL;
  GtkTreeIter it;
  gboolean selected = FALSE;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = data;
  if (r == NULL)
    {
      say (self, error->message, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
      return;
    }
  /* The threads opened stay open across the reload. */
  expanded = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  gtk_tree_view_map_expanded_rows (GTK_TREE_VIEW (self->messages), remember_expanded, expanded);
  gtk_tree_store_clear (self->store);
  arr = pst_json_arr (r, "messages");
  threads = pst_threads_group (arr);
  for (guint t = 0; t < threads->len; t++)
    {
      GPtrArray *thread = g_ptr_array_index (threads, t);
      GtkTreeIter parent;
      gboolean unread = FALSE;

      if (thread->len == 1)
        {
          add_row (self, NULL, &it, g_ptr_array_index (thread, 0), NULL);
          continue;
        }
      /* The thread's row: its newest message; under it, every message from
       * the first. */
      for (guint i = 0; i < thread->len; i++)
        unread |= pst_json_bool (g_ptr_array_index (thread, i), "unread");
      {
        g_autofree char *count = g_strdup_printf ("%u", thread->len);
        add_row (self, NULL, &parent, g_ptr_array_index (thread, 0), count);
      }
      gtk_tree_store_set (self->store, &parent, COL_WEIGHT, unread ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL,
                          COL_THREAD, pst_thread_of (g_ptr_array_index (thread, 0)), -1);
      for (guint i = thread->len; i-- > 0;)
        add_row (self, &parent, &it, g_ptr_array_index (thread, i), NULL);
      if (g_hash_table_contains (expanded, &(gint64) { pst_thread_of (g_ptr_array_index (thread, 0)) }))
        {
          g_autoptr (GtkTreePath) path = gtk_tree_model_get_path (GTK_TREE_MODEL (self->store), &parent);
          gtk_tree_view_expand_row (GTK_TREE_VIEW (self->messages), path, FALSE);
        }
    }
  g_ptr_array_unref (threads);
  if (self->shown_id != 0 && find_row (self, self->shown_id, &it))
    {
      g_autoptr (GtkTreePath) path = gtk_tree_model_get_path (GTK_TREE_MODEL (self->store), &it);

      /* An older message of a thread stays in view. */
      gtk_tree_view_expand_to_path (GTK_TREE_VIEW (self->messages), path);
      gtk_tree_selection_select_iter (gtk_tree_view_get_selection (GTK_TREE_VIEW (self->messages)), &it);
      selected = TRUE;
    }
  show_empty (self, arr == NULL || json_array_get_length (arr) == 0);
  if (!selected && self->shown_id != 0)
    {
      set_shown (self, 0);
      clear_message (self);
      say (self, _("Select a message."), PST_VERDICT_NEUTRAL, "mail-read-symbolic");
    }
}

/* The account switcher: "All accounts" and each account, shown when
 * there are several; the window learns how many there are. */
static void
accounts_listed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  GtkComboBoxText *combo;
  g_autofree char *active = NULL;
  g_autoptr (GString) names = g_string_new (NULL);
  const char *before;
  PstMailView *self;
  JsonArray *arr;
  guint n;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = data;
  if (r == NULL)
    return;
  combo = GTK_COMBO_BOX_TEXT (self->account_switch);
  arr = pst_json_arr (r, "accounts");
  n = arr ? json_array_get_length (arr) : 0;
  for (guint i = 0; i < n; i++)
    g_string_append_printf (names, "%s\n", pst_json_str (json_array_get_object_element (arr, i), "name"));
  before = g_object_get_data (G_OBJECT (combo), "names");
  if (g_strcmp0 (before, names->str) != 0)
    {
      /* Filled again without a reload for each row. */
      active = g_strdup (gtk_combo_box_get_active_id (GTK_COMBO_BOX (combo)));
      g_signal_handlers_block_by_func (combo, pst_mail_view_refresh, self);
      gtk_combo_box_text_remove_all (combo);
      gtk_combo_box_text_append (combo, "", _("All accounts"));
      for (guint i = 0; i < n; i++)
        {
          const char *name = pst_json_str (json_array_get_object_element (arr, i), "name");
          gtk_combo_box_text_append (combo, name, name);
        }
      if (active == NULL || !gtk_combo_box_set_active_id (GTK_COMBO_BOX (combo), active))
        gtk_combo_box_set_active_id (GTK_COMBO_BOX (combo), "");
      g_signal_handlers_unblock_by_func (combo, pst_mail_view_refresh, self);
      g_object_set_data_full (G_OBJECT (combo), "names", g_strdup (names->str), g_free);
      if (g_strcmp0 (active, gtk_combo_box_get_active_id (GTK_COMBO_BOX (combo))) != 0 && active && *active)
        pst_mail_view_refresh (self);   /* the account shown is gone */
    }
  pst_widget_show_now (self->account_switch, n > 1);
  g_signal_emit (self, signals[SIGNAL_ACCOUNTS], 0, n);
}

static void
list_accounts (PstMailView *self)
{
  g_cancellable_cancel (self->accounts_cancel);
  g_clear_object (&self->accounts_cancel);
  self->accounts_cancel = g_cancellable_new ();
  pst_agent_link_call (self->agent, "account.list", NULL, -1, self->accounts_cancel, accounts_listed, self);
}

void
pst_mail_view_refresh (PstMailView *self)
{
  const char *query = gtk_entry_get_text (GTK_ENTRY (self->search));
  const char *account = gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->account_switch));
  JsonObject *params = json_object_new ();

  if (!pst_agent_link_is_running (self->agent))
    {
      json_object_unref (params);
      return;
    }
  if (query && *query)
    json_object_set_string_member (params, "query", query);
  if (account && *account)
    json_object_set_string_member (params, "account", account);
  json_object_set_int_member (params, "limit", 2000);
  list_accounts (self);
  g_cancellable_cancel (self->list_cancel);
  g_clear_object (&self->list_cancel);
  self->list_cancel = g_cancellable_new ();
  pst_agent_link_call (self->agent, "list", params, -1, self->list_cancel, listed, self);
}

/* ---- the message ---- */

static GtkWindow *
toplevel_window (PstMailView *self)
{
  GtkWidget *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (self));
  return GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL;
}

/* One line of the header block: the field's name in bold, its value
 * selectable (and named after the field for accessibility). */
static void
add_header (PstMailView *self, int row, const char *name, const char *value)
{
  GtkWidget *n = gtk_label_new (name), *v = gtk_label_new (value);

  gtk_style_context_add_class (gtk_widget_get_style_context (n), "pst-header-name");
  gtk_label_set_xalign (GTK_LABEL (n), 1);
  gtk_label_set_yalign (GTK_LABEL (n), 0);
  gtk_label_set_xalign (GTK_LABEL (v), 0);
  gtk_label_set_selectable (GTK_LABEL (v), TRUE);
  gtk_label_set_line_wrap (GTK_LABEL (v), TRUE);
  gtk_label_set_line_wrap_mode (GTK_LABEL (v), PANGO_WRAP_WORD_CHAR);
  gtk_widget_set_hexpand (v, TRUE);
  gtk_widget_set_can_focus (v, FALSE);
  atk_object_set_name (gtk_widget_get_accessible (v), name);
  gtk_grid_attach (GTK_GRID (self->headers), n, 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (self->headers), v, 1, row, 1, 1);
  pst_widget_show_now (n, TRUE);
  pst_widget_show_now (v, TRUE);
}

static void
show_headers (PstMailView *self, JsonObject *h, gboolean html)
{
  static const struct { const char *member; const char *label; } rows[] = {
    { "from", N_("From") }, { "to", N_("To") }, { "cc", N_("Cc") },
    { "date", N_("Date") }, { "subject", N_("Subject") },
  };
  int row = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    if (pst_json_str (h, rows[i].member))
      {
        /* Header text comes from the message: it may not add lines or turn
         * text around next to the status bar. */
        g_autofree char *safe = pst_verdict_safe_text (pst_json_str (h, rows[i].member));
        add_header (self, row++, _(rows[i].label), safe);
      }
  if (html)
    {
      GtkWidget *note = gtk_label_new (_("Written in HTML: shown here as text, and nothing "
                                         "was loaded from the network."));
      gtk_label_set_xalign (GTK_LABEL (note), 0);
      gtk_label_set_line_wrap (GTK_LABEL (note), TRUE);
      gtk_style_context_add_class (gtk_widget_get_style_context (note), "dim-label");
      gtk_grid_attach (GTK_GRID (self->headers), note, 0, row, 2, 1);
      pst_widget_show_now (note, TRUE);
    }
}

/* Why an attachment was not saved, in the status bar. */
static void
attachment_said (const char *text, GObject *owner)
{
  PstMailView *self = PST_MAIL_VIEW (owner);

  if (self->agent != NULL)
    say (self, text, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
}

static void
marked (GObject *source, GAsyncResult *res, gpointer data)
{
  PstMailView *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  /* The list shows it read already: when the agent did not mark it, the
   * list is read again (it is bold again) and the status says why. */
  if (self->agent != NULL && r == NULL)
    {
      g_autofree char *t = g_strdup_printf (_("The message was not marked read: %s"), error->message);
      say (self, t, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
      pst_mail_view_refresh (self);
    }
  g_object_unref (self);
}

typedef struct {
  GHashTable *ids;     /* gint64* */
  gboolean unread;
} Marking;

static gboolean
set_unread (GtkTreeModel *model, GtkTreePath *path, GtkTreeIter *it, gpointer data)
{
  Marking *m = data;
  gint64 row_id = 0;

  gtk_tree_model_get (model, it, COL_ID, &row_id, -1);
  if (g_hash_table_contains (m->ids, &row_id))
    gtk_tree_store_set (GTK_TREE_STORE (model), it, COL_WEIGHT,
                        m->unread ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL, COL_UNREAD, m->unread, -1);
  return FALSE;
}

/* The rows of the messages in @ids (gint64*) bold or not (every row of
 * each: a thread's row and the message's own); a thread's row bold while
 * any of its messages is unread. */
static void
show_unread (PstMailView *self, GHashTable *ids, gboolean unread)
{
  GtkTreeModel *model = GTK_TREE_MODEL (self->store);
  GtkTreeIter top, child;
  Marking m = { ids, unread };

  gtk_tree_model_foreach (model, set_unread, &m);
  for (gboolean ok = gtk_tree_model_get_iter_first (model, &top); ok; ok = gtk_tree_model_iter_next (model, &top))
    {
      gboolean any = FALSE;

      if (!gtk_tree_model_iter_children (model, &child, &top))
        continue;
      do
        {
          gboolean u = FALSE;
          gtk_tree_model_get (model, &child, COL_UNREAD, &u, -1);
          any |= u;
        }
      while (gtk_tree_model_iter_next (model, &child));
      gtk_tree_store_set (self->store, &top, COL_WEIGHT, any ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL, -1);
    }
}

/* Message @id's rows not bold. */
static void
show_read (PstMailView *self, gint64 id)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_int64_hash, g_int64_equal);

  g_hash_table_add (ids, &id);
  show_unread (self, ids, FALSE);
}

/* Opening an unread message to read it marks it read. */
static void
mark_read (PstMailView *self, gint64 id)
{
  JsonObject *params;
  JsonArray *ids;
  GtkTreeIter it;
  gboolean unread = FALSE;

  if (!find_row (self, id, &it))
    return;
  gtk_tree_model_get (GTK_TREE_MODEL (self->store), &it, COL_UNREAD, &unread, -1);
  if (!unread)
    return;
  params = json_object_new ();
  ids = json_array_new ();
  json_array_add_int_element (ids, id);
  json_object_set_array_member (params, "ids", ids);
  json_object_set_boolean_member (params, "unread", FALSE);
  /* Shown at once; the agent's refusal, should it come, says otherwise. */
  show_read (self, id);
  pst_agent_link_call (self->agent, "mark", params, -1, NULL, marked, g_object_ref (self));
}

static void
shown (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstMailView *self;
  PstVerdictLevel level;
  g_autofree char *text = NULL;
  JsonArray *att;
  g_autofree char *body = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = data;
  clear_message (self);
  if (r == NULL)
    {
      say (self, error->message, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
      return;
    }
  mark_read (self, self->shown_id);
  text = pst_verdict_describe (pst_json_obj (r, "crypto"), pst_json_obj (r, "scan"), &level);
  say (self, text, level, level == PST_VERDICT_GOOD ? "channel-secure-symbolic"
                          : level == PST_VERDICT_PROBLEM ? "dialog-warning-symbolic"
                                                         : "channel-insecure-symbolic");
  show_headers (self, pst_json_obj (r, "headers"),
                g_strcmp0 (pst_json_str (r, "body_format"), "html-as-text") == 0);
  /* A text view draws bidi overrides and invisible characters as a terminal
   * does: the body too goes through the one sanitiser (util/text.h). */
  body = pst_text_sanitize_body (pst_json_str (r, "body_text"), -1);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body)),
                            body ? body : _("(This message has no text that can be shown.)"), -1);
  att = pst_json_arr (r, "attachments");
  pst_attachment_bar_fill (self->attachments, self->agent, self->shown_id, att, attachment_said, G_OBJECT (self));
  /* The agent lists a bounded number of attachments (show's reply is one
   * line of at most 1 MiB): say that there are more. */
  if (att && pst_json_bool (r, "attachments_truncated"))
    {
      gint64 more = json_object_get_int_member_with_default (r, "attachments_total", 0)
                    - (gint64) json_array_get_length (att);
      g_autofree char *note = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                            "… and %lld more attachment not listed",
                                                            "… and %lld more attachments not listed",
                                                            (gulong) more),
                                               (long long) more);
      GtkWidget *l = gtk_label_new (note);

      gtk_container_add (GTK_CONTAINER (self->attachments), l);
      pst_widget_show_now (l, TRUE);
    }
}

static void
on_selection_changed (PstMailView *self, GtkTreeSelection *sel)
{
  GtkTreeModel *model;
  GtkTreeIter it;
  gint64 id = 0;
  JsonObject *params;

  if (!gtk_tree_selection_get_selected (sel, &model, &it))
    return;
  gtk_tree_model_get (model, &it, COL_ID, &id, -1);
  if (id == self->shown_id)
    return;
  set_shown (self, id);
  clear_message (self);
  say (self, _("Reading the message…"), PST_VERDICT_NEUTRAL, "content-loading-symbolic");
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  g_cancellable_cancel (self->show_cancel);
  g_clear_object (&self->show_cancel);
  self->show_cancel = g_cancellable_new ();
  pst_agent_link_call (self->agent, "show", params, -1, self->show_cancel, shown, self);
}

/* ---- actions on the message shown ---- */

static void
draft_done (const char *error, gpointer data)
{
  PstMailView *self = data;

  if (error != NULL && self->agent != NULL)
    {
      g_autofree char *t = g_strdup_printf (_("No draft: %s"), error);
      say (self, t, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
    }
  g_object_unref (self);
}

static void
open_draft (PstMailView *self, const char *method, JsonObject *params)
{
  GtkWindow *w = toplevel_window (self);
  GtkApplication *app = w ? gtk_window_get_application (w) : NULL;

  json_object_set_int_member (params, "id", self->shown_id);
  if (app == NULL)
    {
      json_object_unref (params);
      return;
    }
  pst_draft_open (app, self->agent, method, params, draft_done, g_object_ref (self));
}

static void
on_reply (GSimpleAction *action, GVariant *param, gpointer data)
{
  PstMailView *self = data;
  JsonObject *params = json_object_new ();

  if (action == self->reply_all)
    json_object_set_boolean_member (params, "all", TRUE);
  open_draft (self, "reply", params);
}

static void
forward_answered (GtkDialog *dialog, int response, PstMailView *self)
{
  GtkEntry *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "message"));
  g_auto (GStrv) parts = g_strsplit (gtk_entry_get_text (entry), ",", -1);
  JsonArray *to = json_array_new ();
  JsonObject *params;

  for (char **p = parts; *p; p++)
    if (*g_strstrip (*p))
      json_array_add_string_element (to, *p);
  gtk_widget_destroy (GTK_WIDGET (dialog));
  if (response != GTK_RESPONSE_OK || json_array_get_length (to) == 0 || self->agent == NULL)
    {
      json_array_unref (to);
      return;
    }
  params = json_object_new ();
  json_object_set_array_member (params, "to", to);
  json_object_set_int_member (params, "id", id);
  {
    GtkWindow *w = toplevel_window (self);
    GtkApplication *app = w ? gtk_window_get_application (w) : NULL;
    if (app == NULL)
      json_object_unref (params);
    else
      pst_draft_open (app, self->agent, "forward", params, draft_done, g_object_ref (self));
  }
}

/* The agent's forward draft names its recipients: they are asked first,
 * in a small dialog; the compose window then shows them and lets them be
 * changed. */
static void
on_forward (GSimpleAction *action, GVariant *param, gpointer data)
{
  PstMailView *self = data;
  GtkWidget *d = gtk_dialog_new_with_buttons (_("Forward"), toplevel_window (self),
                                              GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                              _("_Cancel"), GTK_RESPONSE_CANCEL,
                                              _("_Forward"), GTK_RESPONSE_OK, NULL);
  GtkWidget *box = gtk_dialog_get_content_area (GTK_DIALOG (d));
  GtkWidget *label = gtk_label_new_with_mnemonic (_("Forward _to (addresses, separated by commas):"));
  GtkWidget *entry = gtk_entry_new ();

  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  gtk_box_set_spacing (GTK_BOX (box), 6);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), entry);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  atk_object_set_name (gtk_widget_get_accessible (entry), _("Forward to"));
  gtk_container_add (GTK_CONTAINER (box), label);
  gtk_container_add (GTK_CONTAINER (box), entry);
  gtk_dialog_set_default_response (GTK_DIALOG (d), GTK_RESPONSE_OK);
  g_object_set_data (G_OBJECT (d), "entry", entry);
  g_object_set_data (G_OBJECT (d), "message", GSIZE_TO_POINTER ((gsize) self->shown_id));
  /* Shown, never run: a nested main loop holds up the accessibility bus. */
  g_signal_connect_data (d, "response", G_CALLBACK (forward_answered), g_object_ref (self),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_widget_show_all (d);
}

static void
deleted (GObject *source, GAsyncResult *res, gpointer data)
{
  PstMailView *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (self->agent != NULL)
    {
      if (r == NULL)
        {
          g_autofree char *t = g_strdup_printf (_("Not deleted: %s"), error->message);
          say (self, t, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
        }
      pst_mail_view_refresh (self);
    }
  g_object_unref (self);
}

static void
delete_answered (GtkDialog *dialog, int response, PstMailView *self)
{
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "message"));
  JsonObject *params;
  JsonArray *ids;

  gtk_widget_destroy (GTK_WIDGET (dialog));
  if (response != GTK_RESPONSE_ACCEPT || self->agent == NULL)
    return;
  params = json_object_new ();
  ids = json_array_new ();
  json_array_add_int_element (ids, id);
  json_object_set_array_member (params, "ids", ids);
  pst_agent_link_call (self->agent, "delete", params, -1, NULL, deleted, g_object_ref (self));
}

static void
on_delete (GSimpleAction *action, GVariant *param, gpointer data)
{
  PstMailView *self = data;
  g_autofree char *subject = NULL;
  GtkTreeIter it;
  GtkWidget *d, *b;

  if (find_row (self, self->shown_id, &it))
    gtk_tree_model_get (GTK_TREE_MODEL (self->store), &it, COL_SUBJECT, &subject, -1);
  d = gtk_message_dialog_new (toplevel_window (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                              GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE,
                              _("Delete message %lld for good?"), (long long) self->shown_id);
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (d),
                                            _("“%s” is wiped from this computer and cannot be brought back."),
                                            subject ? subject : "");
  gtk_dialog_add_button (GTK_DIALOG (d), _("_Cancel"), GTK_RESPONSE_CANCEL);
  b = gtk_dialog_add_button (GTK_DIALOG (d), _("_Delete"), GTK_RESPONSE_ACCEPT);
  gtk_style_context_add_class (gtk_widget_get_style_context (b), "destructive-action");
  gtk_dialog_set_default_response (GTK_DIALOG (d), GTK_RESPONSE_CANCEL);
  g_object_set_data (G_OBJECT (d), "message", GSIZE_TO_POINTER ((gsize) self->shown_id));
  g_signal_connect_data (d, "response", G_CALLBACK (delete_answered), g_object_ref (self),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_widget_show (d);
}

/* Delete deletes from the list only: in the search field it edits text. */
static gboolean
on_list_key (PstMailView *self, GdkEventKey *event)
{
  if ((event->keyval == GDK_KEY_Delete || event->keyval == GDK_KEY_KP_Delete)
      && g_action_get_enabled (G_ACTION (self->delete)))
    {
      g_action_activate (G_ACTION (self->delete), NULL);
      return GDK_EVENT_STOP;
    }
  return GDK_EVENT_PROPAGATE;
}

void
pst_mail_view_add_actions (PstMailView *self, GActionMap *map)
{
  g_action_map_add_action (map, G_ACTION (self->reply));
  g_action_map_add_action (map, G_ACTION (self->reply_all));
  g_action_map_add_action (map, G_ACTION (self->forward));
  g_action_map_add_action (map, G_ACTION (self->delete));
}

static GSimpleAction *
new_action (PstMailView *self, const char *name, GCallback activate)
{
  GSimpleAction *a = g_simple_action_new (name, NULL);

  g_simple_action_set_enabled (a, FALSE);
  g_signal_connect (a, "activate", activate, self);
  return a;
}

/* ---- object ---- */

static void
on_running (PstMailView *self, gboolean running, const char *why)
{
  if (running)
    pst_mail_view_refresh (self);
}

/* A fetch or a send announces every message: one reload for a burst. */
#define REFRESH_DELAY_MS 250

static gboolean
refresh_later (gpointer data)
{
  PstMailView *self = data;

  self->refresh_source = 0;
  pst_mail_view_refresh (self);
  return G_SOURCE_REMOVE;
}

static void
refresh_soon (PstMailView *self)
{
  if (self->refresh_source == 0)
    self->refresh_source = g_timeout_add (REFRESH_DELAY_MS, refresh_later, self);
}

/* mail.marked {ids, unread}, from this window or another client: the rows
 * of those messages in bold or not, in place (the list and what is
 * selected stay as they are). */
static void
show_marked (PstMailView *self, JsonObject *params)
{
  JsonArray *ids = pst_json_arr (params, "ids");
  g_autoptr (GHashTable) marked = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GArray) values = g_array_sized_new (FALSE, FALSE, sizeof (gint64), ids ? json_array_get_length (ids) : 0);

  /* One pass over the rows: a call may mark thousands. */
  for (guint i = 0; ids && i < json_array_get_length (ids); i++)
    {
      gint64 id = json_array_get_int_element (ids, i);
      g_array_append_val (values, id);
    }
  for (guint i = 0; i < values->len; i++)
    g_hash_table_add (marked, &g_array_index (values, gint64, i));
  show_unread (self, marked, pst_json_bool (params, "unread"));
}

static void
on_notification (PstMailView *self, const char *method, JsonObject *params)
{
  /* mail.deleted: another client deleted messages; the list reloads, and
   * the message shown, when it was one of them, is no longer shown. */
  if (g_strcmp0 (method, "mail.new") == 0 || g_strcmp0 (method, "scan.quarantined") == 0
      || g_strcmp0 (method, "mail.deleted") == 0)
    refresh_soon (self);
  else if (g_strcmp0 (method, "mail.marked") == 0)
    show_marked (self, params);
}

static void
add_column (PstMailView *self, const char *title, int col, int sort_col, int min_width)
{
  GtkCellRenderer *r = gtk_cell_renderer_text_new ();
  GtkTreeViewColumn *c = gtk_tree_view_column_new_with_attributes (title, r, "text", col, NULL);

  g_object_set (r, "ellipsize", PANGO_ELLIPSIZE_END, NULL);
  /* Unread mail in bold. */
  gtk_tree_view_column_add_attribute (c, r, "weight", COL_WEIGHT);
  gtk_tree_view_column_set_resizable (c, TRUE);
  gtk_tree_view_column_set_expand (c, col == COL_SUBJECT);
  gtk_tree_view_column_set_sort_column_id (c, sort_col);
  gtk_tree_view_column_set_min_width (c, min_width);
  gtk_tree_view_append_column (GTK_TREE_VIEW (self->messages), c);
  /* A thread's messages stand indented under its row, as replies do. */
  if (col == COL_SUBJECT)
    gtk_tree_view_set_expander_column (GTK_TREE_VIEW (self->messages), c);
}

static void
pst_mail_view_dispose (GObject *object)
{
  PstMailView *self = PST_MAIL_VIEW (object);

  g_clear_handle_id (&self->refresh_source, g_source_remove);
  g_cancellable_cancel (self->list_cancel);
  g_cancellable_cancel (self->show_cancel);
  g_cancellable_cancel (self->accounts_cancel);
  g_clear_object (&self->accounts_cancel);
  g_clear_object (&self->list_cancel);
  g_clear_object (&self->show_cancel);
  if (self->agent)
    g_signal_handlers_disconnect_by_data (self->agent, self);
  g_clear_object (&self->agent);
  g_clear_object (&self->store);
  if (self->reply)
    {
      g_signal_handlers_disconnect_by_data (self->reply, self);
      g_signal_handlers_disconnect_by_data (self->reply_all, self);
      g_signal_handlers_disconnect_by_data (self->forward, self);
      g_signal_handlers_disconnect_by_data (self->delete, self);
    }
  g_clear_object (&self->reply);
  g_clear_object (&self->reply_all);
  g_clear_object (&self->forward);
  g_clear_object (&self->delete);
  G_OBJECT_CLASS (pst_mail_view_parent_class)->dispose (object);
}

static void
pst_mail_view_class_init (PstMailViewClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_mail_view_dispose;
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/mail-view.ui");
  /* How many accounts the agent has, each time it was asked. */
  signals[SIGNAL_ACCOUNTS] = g_signal_new ("accounts", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                           NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  gtk_widget_class_bind_template_child (w, PstMailView, search);
  gtk_widget_class_bind_template_child (w, PstMailView, account_switch);
  gtk_widget_class_bind_template_child (w, PstMailView, empty_box);
  gtk_widget_class_bind_template_child (w, PstMailView, empty_label);
  gtk_widget_class_bind_template_child (w, PstMailView, messages);
  gtk_widget_class_bind_template_child (w, PstMailView, status_box);
  gtk_widget_class_bind_template_child (w, PstMailView, status_icon);
  gtk_widget_class_bind_template_child (w, PstMailView, status_label);
  gtk_widget_class_bind_template_child (w, PstMailView, headers);
  gtk_widget_class_bind_template_child (w, PstMailView, body);
  gtk_widget_class_bind_template_child (w, PstMailView, attachments);
  gtk_widget_class_bind_template_callback (w, pst_mail_view_refresh);
  gtk_widget_class_bind_template_callback (w, on_selection_changed);
  gtk_widget_class_bind_template_callback (w, on_list_key);
}

static void
pst_mail_view_init (PstMailView *self)
{
  GtkTreeViewColumn *c;
  GtkCellRenderer *r;

  self->reply = new_action (self, "reply", G_CALLBACK (on_reply));
  self->reply_all = new_action (self, "reply-all", G_CALLBACK (on_reply));
  self->forward = new_action (self, "forward", G_CALLBACK (on_forward));
  self->delete = new_action (self, "delete", G_CALLBACK (on_delete));
  gtk_widget_init_template (GTK_WIDGET (self));
  self->store = gtk_tree_store_new (N_COLS, G_TYPE_INT64, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                                    G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT, G_TYPE_BOOLEAN, G_TYPE_STRING,
                                    G_TYPE_INT64);
  gtk_tree_view_set_model (GTK_TREE_VIEW (self->messages), GTK_TREE_MODEL (self->store));
  r = gtk_cell_renderer_pixbuf_new ();
  c = gtk_tree_view_column_new_with_attributes ("", r, "icon-name", COL_ICON, NULL);
  gtk_tree_view_append_column (GTK_TREE_VIEW (self->messages), c);
  add_column (self, _("Status"), COL_MARK, COL_MARK, 170);
  add_column (self, _("From"), COL_FROM, COL_FROM, 200);
  add_column (self, _("Subject"), COL_SUBJECT, COL_SUBJECT, 200);
  /* How many messages a thread holds, next to its Subject. */
  r = gtk_cell_renderer_text_new ();
  g_object_set (r, "xalign", 1.0, NULL);
  c = gtk_tree_view_column_new_with_attributes (_("Thread"), r, "text", COL_COUNT, "weight", COL_WEIGHT, NULL);
  gtk_tree_view_append_column (GTK_TREE_VIEW (self->messages), c);
  /* The Date header is text in any form; arrival order sorts it well. */
  add_column (self, _("Date"), COL_DATE, COL_ID, 190);
  say (self, _("Select a message."), PST_VERDICT_NEUTRAL, "mail-read-symbolic");
}

PstMailView *
pst_mail_view_new (PstAgentLink *agent)
{
  PstMailView *self = g_object_new (PST_TYPE_MAIL_VIEW, NULL);

  self->agent = g_object_ref (agent);
  g_signal_connect_swapped (agent, "running-changed", G_CALLBACK (on_running), self);
  g_signal_connect_swapped (agent, "notification", G_CALLBACK (on_notification), self);
  pst_mail_view_refresh (self);
  return self;
}
