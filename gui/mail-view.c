/* mail-view.c — see mail-view.h.  Bodies are shown as plain text in a text
 * view: no HTML is rendered and nothing remote is ever loaded. */
#include "mail-view.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "draft.h"
#include "util/text.h"
#include "verdict.h"

enum { COL_ID, COL_ICON, COL_MARK, COL_FROM, COL_SUBJECT, COL_DATE, COL_WEIGHT, COL_UNREAD, N_COLS };

struct _PstMailView {
  GtkBox parent;
  PstAgentLink *agent;
  GtkListStore *store;
  GtkWidget *search, *messages, *status_box, *status_icon, *status_label, *headers, *body,
    *attachments;
  GCancellable *list_cancel, *show_cancel;
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

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body)), "", -1);
  gtk_label_set_text (GTK_LABEL (self->headers), "");
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

/* The row of message @id. */
static gboolean
find_row (PstMailView *self, gint64 id, GtkTreeIter *it)
{
  GtkTreeModel *model = GTK_TREE_MODEL (self->store);

  for (gboolean ok = gtk_tree_model_get_iter_first (model, it); ok; ok = gtk_tree_model_iter_next (model, it))
    {
      gint64 row_id = 0;
      gtk_tree_model_get (model, it, COL_ID, &row_id, -1);
      if (row_id == id)
        return TRUE;
    }
  return FALSE;
}

/* ---- the list ---- */

static void
listed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstMailView *self;
  JsonArray *arr;
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
  gtk_list_store_clear (self->store);
  arr = pst_json_arr (r, "messages");
  for (guint i = 0; arr && i < json_array_get_length (arr); i++)
    {
      JsonObject *m = json_array_get_object_element (arr, i);
      JsonObject *crypto = pst_json_obj (m, "crypto"), *scan = pst_json_obj (m, "scan");
      gint64 id = pst_json_int (m, "id");
      const char *subject = pst_json_str (m, "subject");
      g_autofree char *safe_from = pst_verdict_safe_text (pst_json_str (m, "from"));
      g_autofree char *safe_subject = NULL;

      /* What the outside of header-protected mail says; the agent gives the
       * real one once it has decrypted the message since it started. */
      if (g_strcmp0 (subject, "...") == 0 && pst_json_bool (crypto, "protected_headers"))
        subject = _("(encrypted subject: open the message to read it)");
      safe_subject = pst_verdict_safe_text (subject);

      gtk_list_store_append (self->store, &it);
      gtk_list_store_set (self->store, &it, COL_ID, id, COL_ICON, pst_verdict_icon (crypto, scan),
                          COL_MARK, pst_verdict_mark (crypto, scan), COL_FROM, safe_from,
                          COL_SUBJECT, safe_subject, COL_DATE, pst_json_str (m, "date"),
                          COL_WEIGHT, pst_json_bool (m, "unread") ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL,
                          COL_UNREAD, pst_json_bool (m, "unread"), -1);
      if (id == self->shown_id)
        {
          gtk_tree_selection_select_iter (gtk_tree_view_get_selection (GTK_TREE_VIEW (self->messages)), &it);
          selected = TRUE;
        }
    }
  if (!selected && self->shown_id != 0)
    {
      set_shown (self, 0);
      clear_message (self);
      say (self, _("Select a message."), PST_VERDICT_NEUTRAL, "mail-read-symbolic");
    }
}

void
pst_mail_view_refresh (PstMailView *self)
{
  const char *query = gtk_entry_get_text (GTK_ENTRY (self->search));
  JsonObject *params = json_object_new ();

  if (!pst_agent_link_is_running (self->agent))
    {
      json_object_unref (params);
      return;
    }
  if (query && *query)
    json_object_set_string_member (params, "query", query);
  json_object_set_int_member (params, "limit", 2000);
  g_cancellable_cancel (self->list_cancel);
  g_clear_object (&self->list_cancel);
  self->list_cancel = g_cancellable_new ();
  pst_agent_link_call (self->agent, "list", params, -1, self->list_cancel, listed, self);
}

/* ---- the message ---- */

typedef struct {
  PstMailView *view;
  gint64 id;
  gint64 index;
  char *path;
} Save;

static void
saved (GObject *source, GAsyncResult *res, gpointer data)
{
  Save *s = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (s->view->agent == NULL)   /* closed meanwhile */
    {
      if (r == NULL)
        unlink (s->path);
    }
  else if (r == NULL)
    {
      g_autofree char *t = g_strdup_printf (_("The attachment was not saved: %s"), error->message);
      unlink (s->path);
      say (s->view, t, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
    }
  else
    {
      GtkWidget *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (s->view));
      GtkWidget *d = gtk_message_dialog_new (GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL,
                                             GTK_DIALOG_MODAL,
                                             GTK_MESSAGE_INFO, GTK_BUTTONS_CLOSE,
                                             _("Saved to %s"), s->path);
      gtk_window_set_destroy_with_parent (GTK_WINDOW (d), TRUE);
      g_signal_connect (d, "response", G_CALLBACK (gtk_widget_destroy), NULL);
      gtk_widget_show (d);
    }
  g_object_unref (s->view);
  g_free (s->path);
  g_free (s);
}

static void
save_chosen (GtkNativeDialog *chooser, int response, PstMailView *self)
{
  /* The message and attachment chosen when the chooser opened: the list
   * may have changed since. */
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (chooser), "message"));
  int index = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (chooser), "index"));
  g_autofree char *path = NULL;
  JsonObject *params;
  Save *s;
  int fd;

  if (response == GTK_RESPONSE_ACCEPT && self->agent != NULL)
    path = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (chooser));
  g_object_unref (chooser);
  if (response != GTK_RESPONSE_ACCEPT || self->agent == NULL)
    return;
  if (path == NULL || (fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
    {
      g_autofree char *t = g_strdup_printf (_("Cannot write %s: %s"), path ? path : "?", g_strerror (errno));
      say (self, t, PST_VERDICT_PROBLEM, "dialog-error-symbolic");
      return;
    }
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  json_object_set_int_member (params, "index", index);
  json_object_set_int_member (params, "fd", 0);
  s = g_new0 (Save, 1);
  s->view = g_object_ref (self);
  s->path = g_steal_pointer (&path);
  pst_agent_link_call (self->agent, "attachment", params, fd, NULL, saved, s);
  close (fd);
}

static void
on_save_attachment (GtkButton *button, PstMailView *self)
{
  GtkWidget *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (self));
  const char *name = g_object_get_data (G_OBJECT (button), "name");
  g_autofree char *base = g_path_get_basename (name && *name ? name : "attachment");
  GtkFileChooserNative *chooser;

  /* Never a hidden file or a path: a name from a message is only a hint. */
  for (char *p = base; *p == '.'; p++)
    *p = '_';
  chooser = gtk_file_chooser_native_new (_("Save the attachment"),
                                         GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_chooser_set_do_overwrite_confirmation (GTK_FILE_CHOOSER (chooser), TRUE);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), g_get_home_dir ());
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser),
                                     g_strcmp0 (base, "/") ? base : "attachment");
  g_object_set_data (G_OBJECT (chooser), "message", GSIZE_TO_POINTER ((gsize) self->shown_id));
  g_object_set_data (G_OBJECT (chooser), "index", g_object_get_data (G_OBJECT (button), "index"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  /* Shown, never run: a nested main loop holds up the accessibility bus. */
  g_signal_connect_data (chooser, "response", G_CALLBACK (save_chosen), g_object_ref (self),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static char *
headers_text (JsonObject *h)
{
  static const struct { const char *member; const char *label; } rows[] = {
    { "from", N_("From") }, { "to", N_("To") }, { "cc", N_("Cc") },
    { "subject", N_("Subject") }, { "date", N_("Date") },
  };
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    if (pst_json_str (h, rows[i].member))
      {
        /* Header text comes from the message: it may not add lines or turn
         * text around next to the status bar. */
        g_autofree char *safe = pst_verdict_safe_text (pst_json_str (h, rows[i].member));
        g_string_append_printf (s, "%s%s: %s", s->len ? "\n" : "", _(rows[i].label), safe);
      }
  return g_string_free (s, FALSE);
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
  gtk_list_store_set (self->store, &it, COL_WEIGHT, PANGO_WEIGHT_NORMAL, COL_UNREAD, FALSE, -1);
  pst_agent_link_call (self->agent, "mark", params, -1, NULL, marked, g_object_ref (self));
}

static void
shown (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstMailView *self;
  PstVerdictLevel level;
  g_autofree char *text = NULL, *headers = NULL;
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
  headers = headers_text (pst_json_obj (r, "headers"));
  if (g_strcmp0 (pst_json_str (r, "body_format"), "html-as-text") == 0)
    {
      char *with_note = g_strdup_printf ("%s\n%s", headers, _("Written in HTML: shown here as text, and nothing "
                                                            "was loaded from the network."));
      g_free (headers);
      headers = with_note;
    }
  gtk_label_set_text (GTK_LABEL (self->headers), headers);
  /* A text view draws bidi overrides and invisible characters as a terminal
   * does: the body too goes through the one sanitiser (util/text.h). */
  body = pst_text_sanitize_body (pst_json_str (r, "body_text"), -1);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body)),
                            body ? body : _("(This message has no text that can be shown.)"), -1);
  att = pst_json_arr (r, "attachments");
  for (guint i = 0; att && i < json_array_get_length (att); i++)
    {
      JsonObject *a = json_array_get_object_element (att, i);
      g_autofree char *name = pst_verdict_safe_text (pst_json_str (a, "name"));
      g_autofree char *label = g_strdup_printf (_("Save %s…"), *name ? name : _("attachment"));
      g_autofree char *type = pst_verdict_safe_text (pst_json_str (a, "type"));
      GtkWidget *b = gtk_button_new_with_label (label);

      g_object_set_data_full (G_OBJECT (b), "name", g_strdup (name), g_free);
      g_object_set_data (G_OBJECT (b), "index", GINT_TO_POINTER (i));
      gtk_widget_set_tooltip_text (b, type);
      g_signal_connect (b, "clicked", G_CALLBACK (on_save_attachment), self);
      gtk_widget_show (b);
      gtk_container_add (GTK_CONTAINER (self->attachments), b);
    }
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

      gtk_widget_show (l);
      gtk_container_add (GTK_CONTAINER (self->attachments), l);
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

static GtkWindow *
toplevel_window (PstMailView *self)
{
  GtkWidget *toplevel = gtk_widget_get_toplevel (GTK_WIDGET (self));
  return GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL;
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
  gboolean unread = pst_json_bool (params, "unread");
  GtkTreeModel *model = GTK_TREE_MODEL (self->store);
  g_autoptr (GHashTable) marked = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GArray) values = g_array_sized_new (FALSE, FALSE, sizeof (gint64), ids ? json_array_get_length (ids) : 0);
  GtkTreeIter it;

  /* One pass over the rows: a call may mark thousands. */
  for (guint i = 0; ids && i < json_array_get_length (ids); i++)
    {
      gint64 id = json_array_get_int_element (ids, i);
      g_array_append_val (values, id);
    }
  for (guint i = 0; i < values->len; i++)
    g_hash_table_add (marked, &g_array_index (values, gint64, i));
  for (gboolean ok = gtk_tree_model_get_iter_first (model, &it); ok; ok = gtk_tree_model_iter_next (model, &it))
    {
      gint64 id = 0;

      gtk_tree_model_get (model, &it, COL_ID, &id, -1);
      if (g_hash_table_contains (marked, &id))
        gtk_list_store_set (self->store, &it, COL_WEIGHT, unread ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL,
                            COL_UNREAD, unread, -1);
    }
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
}

static void
pst_mail_view_dispose (GObject *object)
{
  PstMailView *self = PST_MAIL_VIEW (object);

  g_clear_handle_id (&self->refresh_source, g_source_remove);
  g_cancellable_cancel (self->list_cancel);
  g_cancellable_cancel (self->show_cancel);
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
  gtk_widget_class_bind_template_child (w, PstMailView, search);
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
  self->store = gtk_list_store_new (N_COLS, G_TYPE_INT64, G_TYPE_STRING, G_TYPE_STRING,
                                    G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT, G_TYPE_BOOLEAN);
  gtk_tree_view_set_model (GTK_TREE_VIEW (self->messages), GTK_TREE_MODEL (self->store));
  r = gtk_cell_renderer_pixbuf_new ();
  c = gtk_tree_view_column_new_with_attributes ("", r, "icon-name", COL_ICON, NULL);
  gtk_tree_view_append_column (GTK_TREE_VIEW (self->messages), c);
  add_column (self, _("Status"), COL_MARK, COL_MARK, 170);
  add_column (self, _("From"), COL_FROM, COL_FROM, 200);
  add_column (self, _("Subject"), COL_SUBJECT, COL_SUBJECT, 200);
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
