/* attachment-bar.c — see attachment-bar.h. */
#include "attachment-bar.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "verdict.h"

/* What the buttons of one message share, and each save under way holds. */
typedef struct {
  PstAgentLink *agent;
  GtkWidget *bar;               /* weak: NULL once the view is gone */
  gint64 message;
  PstAttachmentSaid said;
  GObject *owner;
} Bar;

static void
bar_clear (gpointer data)
{
  Bar *b = data;

  g_clear_weak_pointer (&b->bar);
  g_clear_object (&b->agent);
  g_clear_object (&b->owner);
}

static Bar *
bar_ref (Bar *b)
{
  return g_rc_box_acquire (b);
}

static void
bar_unref (Bar *b)
{
  g_rc_box_release_full (b, bar_clear);
}

static GtkWindow *
toplevel_window (Bar *bar)
{
  GtkWidget *toplevel = bar->bar ? gtk_widget_get_toplevel (bar->bar) : NULL;
  return GTK_IS_WINDOW (toplevel) ? GTK_WINDOW (toplevel) : NULL;
}

/* One attachment being written; a Save all shares one Batch. */
typedef struct {
  guint pending, failed;
  char *folder, *error;
} Batch;

typedef struct {
  Bar *bar;
  char *path;
  Batch *batch;
} Save;

/* Only while the window is there: the dialog says where the file went. */
static void
say_saved (Bar *bar, const char *text)
{
  GtkWidget *d;

  if (toplevel_window (bar) == NULL)
    return;
  d = gtk_message_dialog_new (toplevel_window (bar), GTK_DIALOG_MODAL, GTK_MESSAGE_INFO, GTK_BUTTONS_CLOSE,
                              "%s", text);

  gtk_window_set_destroy_with_parent (GTK_WINDOW (d), TRUE);
  g_signal_connect (d, "response", G_CALLBACK (gtk_widget_destroy), NULL);
  gtk_widget_show (d);
}

static void
batch_done (Bar *bar, Batch *b)
{
  if (b->failed)
    {
      g_autofree char *t = g_strdup_printf (_("The attachment was not saved: %s"), b->error);
      bar->said (t, bar->owner);
    }
  else if (b->folder != NULL)
    {
      g_autofree char *t = g_strdup_printf (_("Saved the attachments to %s"), b->folder);
      say_saved (bar, t);
    }
  g_free (b->folder);
  g_free (b->error);
  g_free (b);
}

static void
saved (GObject *source, GAsyncResult *res, gpointer data)
{
  Save *s = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (r == NULL)
    {
      unlink (s->path);
      s->batch->failed++;
      if (s->batch->error == NULL)
        s->batch->error = g_strdup (error->message);
    }
  else if (s->batch->folder == NULL)
    {
      g_autofree char *t = g_strdup_printf (_("Saved to %s"), s->path);
      say_saved (s->bar, t);
    }
  if (--s->batch->pending == 0)
    batch_done (s->bar, s->batch);
  bar_unref (s->bar);
  g_free (s->path);
  g_free (s);
}

/* Asks the agent to write attachment @index of message @id to @path (a new
 * file, 0600; @exclusive: never over an existing one). */
static gboolean
save_to (Bar *bar, gint64 id, int index, const char *path, gboolean exclusive, Batch *batch)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0600);
  JsonObject *params;
  Save *s;

  if (fd < 0)
    {
      batch->failed++;
      if (batch->error == NULL)
        batch->error = g_strdup_printf (_("Cannot write %s: %s"), path, g_strerror (errno));
      return FALSE;
    }
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  json_object_set_int_member (params, "index", index);
  json_object_set_int_member (params, "fd", 0);
  s = g_new0 (Save, 1);
  s->bar = bar_ref (bar);
  s->path = g_strdup (path);
  s->batch = batch;
  batch->pending++;
  pst_agent_link_call (bar->agent, "attachment", params, fd, NULL, saved, s);
  close (fd);
  return TRUE;
}

static void
save_chosen (GtkNativeDialog *chooser, int response, Bar *bar)
{
  /* The message and attachment chosen when the chooser opened: the list
   * may have changed since. */
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (chooser), "message"));
  int index = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (chooser), "index"));
  g_autofree char *path = NULL;
  Batch *b;

  if (response == GTK_RESPONSE_ACCEPT && bar->bar != NULL)
    path = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (chooser));
  g_object_unref (chooser);
  if (response != GTK_RESPONSE_ACCEPT || bar->bar == NULL)
    return;
  b = g_new0 (Batch, 1);
  b->pending = 1;   /* held until every request is made */
  if (path == NULL)
    {
      b->failed++;
      b->error = g_strdup_printf (_("Cannot write %s: %s"), "?", g_strerror (ENOENT));
    }
  else
    save_to (bar, id, index, path, FALSE, b);
  if (--b->pending == 0)
    batch_done (bar, b);
}

/* A name from a message is only a hint: never a hidden file or a path. */
static char *
safe_file_name (const char *name)
{
  char *base = g_path_get_basename (name && *name ? name : "attachment");

  for (char *p = base; *p == '.'; p++)
    *p = '_';
  if (g_strcmp0 (base, "/") == 0 || *base == '\0')
    {
      g_free (base);
      base = g_strdup ("attachment");
    }
  return base;
}

static void
on_save_attachment (GtkButton *button, Bar *bar)
{
  g_autofree char *base = safe_file_name (g_object_get_data (G_OBJECT (button), "name"));
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Save the attachment"), toplevel_window (bar),
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_chooser_set_do_overwrite_confirmation (GTK_FILE_CHOOSER (chooser), TRUE);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), g_get_home_dir ());
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), base);
  g_object_set_data (G_OBJECT (chooser), "message", GSIZE_TO_POINTER ((gsize) bar->message));
  g_object_set_data (G_OBJECT (chooser), "index", g_object_get_data (G_OBJECT (button), "index"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  /* Shown, never run: a nested main loop holds up the accessibility bus. */
  g_signal_connect_data (chooser, "response", G_CALLBACK (save_chosen), bar_ref (bar),
                         (GClosureNotify) (void (*) (void)) bar_unref, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* Save all: every attachment of the message into the folder chosen, each
 * under its own name — " (2)", " (3)"… added rather than overwrite a file. */
static void
folder_chosen (GtkNativeDialog *chooser, int response, Bar *bar)
{
  gint64 id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (chooser), "message"));
  GPtrArray *names = g_object_get_data (G_OBJECT (chooser), "names");
  g_autofree char *folder = NULL;
  Batch *b;

  if (response == GTK_RESPONSE_ACCEPT && bar->bar != NULL)
    folder = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (chooser));
  if (folder == NULL)
    {
      g_object_unref (chooser);
      return;
    }
  b = g_new0 (Batch, 1);
  b->pending = 1;
  b->folder = g_strdup (folder);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *base = safe_file_name (g_ptr_array_index (names, i));
      g_autofree char *path = g_build_filename (folder, base, NULL);

      for (int n = 2; g_file_test (path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK) && n < 1000; n++)
        {
          g_autofree char *numbered = g_strdup_printf ("%s (%d)", base, n);
          g_free (path);
          path = g_build_filename (folder, numbered, NULL);
        }
      if (!save_to (bar, id, (int) i, path, TRUE, b))
        break;
    }
  g_object_unref (chooser);
  if (--b->pending == 0)
    batch_done (bar, b);
}

static void
on_save_all (GtkButton *button, Bar *bar)
{
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Save all attachments"), toplevel_window (bar),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Save"), _("_Cancel"));
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), g_get_home_dir ());
  g_object_set_data (G_OBJECT (chooser), "message", GSIZE_TO_POINTER ((gsize) bar->message));
  g_object_set_data_full (G_OBJECT (chooser), "names",
                          g_ptr_array_ref (g_object_get_data (G_OBJECT (button), "names")),
                          (GDestroyNotify) g_ptr_array_unref);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  /* Shown, never run: a nested main loop holds up the accessibility bus. */
  g_signal_connect_data (chooser, "response", G_CALLBACK (folder_chosen), bar_ref (bar),
                         (GClosureNotify) (void (*) (void)) bar_unref, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* A button for each attachment — its type's icon, its name, Save — and
 * Save all when there are several. */
void
pst_attachment_bar_fill (GtkWidget *container, PstAgentLink *agent, gint64 message, JsonArray *att,
                         PstAttachmentSaid said, GObject *owner)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  guint n = att ? json_array_get_length (att) : 0;
  Bar *bar = g_rc_box_new0 (Bar);

  bar->agent = g_object_ref (agent);
  g_set_weak_pointer (&bar->bar, container);
  bar->message = message;
  bar->said = said;
  bar->owner = g_object_ref (owner);

  for (guint i = 0; i < n; i++)
    {
      JsonObject *a = json_array_get_object_element (att, i);
      g_autofree char *name = pst_verdict_safe_text (pst_json_str (a, "name"));
      g_autofree char *label = g_strdup_printf (_("Save %s…"), *name ? name : _("attachment"));
      g_autofree char *type = pst_verdict_safe_text (pst_json_str (a, "type"));
      g_autofree char *ctype = g_content_type_from_mime_type (*type ? type : "application/octet-stream");
      g_autoptr (GIcon) icon = g_content_type_get_icon (ctype ? ctype : "application/octet-stream");
      GtkWidget *b = gtk_button_new_with_label (label);

      gtk_button_set_image (GTK_BUTTON (b), gtk_image_new_from_gicon (icon, GTK_ICON_SIZE_BUTTON));
      gtk_button_set_always_show_image (GTK_BUTTON (b), TRUE);
      g_object_set_data_full (G_OBJECT (b), "name", g_strdup (name), g_free);
      g_object_set_data (G_OBJECT (b), "index", GINT_TO_POINTER (i));
      gtk_widget_set_tooltip_text (b, type);
      g_signal_connect_data (b, "clicked", G_CALLBACK (on_save_attachment), bar_ref (bar),
                             (GClosureNotify) (void (*) (void)) bar_unref, 0);
      gtk_widget_show (b);
      gtk_container_add (GTK_CONTAINER (container), b);
      g_ptr_array_add (names, g_strdup (name));
    }
  if (n > 1)
    {
      GtkWidget *b = gtk_button_new_with_label (_("Save all…"));

      gtk_button_set_image (GTK_BUTTON (b), gtk_image_new_from_icon_name ("document-save-symbolic",
                                                                          GTK_ICON_SIZE_BUTTON));
      gtk_button_set_always_show_image (GTK_BUTTON (b), TRUE);
      gtk_widget_set_tooltip_text (b, _("Save every attachment into a folder"));
      g_object_set_data_full (G_OBJECT (b), "names", g_ptr_array_ref (names), (GDestroyNotify) g_ptr_array_unref);
      g_signal_connect_data (b, "clicked", G_CALLBACK (on_save_all), bar_ref (bar),
                             (GClosureNotify) (void (*) (void)) bar_unref, 0);
      gtk_widget_show (b);
      gtk_container_add (GTK_CONTAINER (container), b);
    }
  g_ptr_array_unref (names);
  bar_unref (bar);
}
