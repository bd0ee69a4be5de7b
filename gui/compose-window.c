/* compose-window.c — see compose-window.h.  The message is written here
 * (core/mime/compose.c) and handed to the agent's `send` as a descriptor;
 * the agent encrypts, signs and queues it. */
#define _GNU_SOURCE
#include "compose-window.h"
#include "a11y.h"
#include "showing.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "key-words.h"
#include "mime/compose.h"
#include "util/addr.h"
#include "util/error.h"

#define CHECK_DELAY_MS 300

/* The draft's life, for G_MESSAGES_DEBUG=postern-drafts (the GUI test sets
 * it: a window that did not close after a save, twice in CI, must say
 * what it saw). */
#define DRAFT_DEBUG(...) g_log ("postern-drafts", G_LOG_LEVEL_DEBUG, __VA_ARGS__)

typedef struct {
  char *path, *name;
  GBytes *data;
} Attachment;

struct _PstComposeWindow {
  GtkApplicationWindow parent;
  PstAgentLink *agent;
  GtkWidget *from_combo, *to_entry, *cc_entry, *bcc_entry, *subject_entry, *keys_label,
    *encrypt_check, *sign_check, *reason_label, *body_view, *attachments_label, *clear_button,
    *send_button, *attach_button, *clear_bar, *clear_label, *send_clear_button;
  GPtrArray *attachments;      /* Attachment */
  guint check_source;
  GCancellable *check_cancel;
  gboolean encrypt_touched, sign_touched, setting, refused, sending;
  char *in_reply_to, *references;
  GBytes *forward;              /* a forwarded message, attached as message/rfc822 */
  char *want_from;              /* the account a draft is from */
  GHashTable *account_encrypt;  /* address → the account's encrypt mode */
  char *link_note;              /* what a mailto: link asked for and did not get */
  char *reason;                 /* what say_reason was last given */
  /* Why the last save of the draft failed: said until a save succeeds,
   * beside what the recipients' check says (whose answer may come later). */
  char *draft_note;
  /* The draft this window keeps (compose-window.h): its id once saved, and
   * whether something was typed since the last save. */
  gint64 draft_id;
  gint64 send_draft;            /* the draft the Send under way deletes (0: none) */
  gboolean draft_dirty, draft_saving;
  gboolean close_after_save;    /* a close waits for the save under way */
  gboolean discard_ok;          /* a save on close failed: the next close discards */
  gboolean sent;                /* in the outbox: no draft saved any more */
  guint draft_source;
  /* An answer to or forward of mail that arrived encrypted (keys.check
   * says so), and whether the user confirmed sending it in the clear. */
  gboolean reply_to_encrypted, clear_confirmed;
};

G_DEFINE_TYPE (PstComposeWindow, pst_compose_window, GTK_TYPE_APPLICATION_WINDOW)

static void
attachment_free (gpointer p)
{
  Attachment *a = p;

  g_free (a->path);
  g_free (a->name);
  g_bytes_unref (a->data);
  g_free (a);
}

/* "a@x, B <b@y>" → its addresses, trimmed, empty ones dropped. */
static GStrv
split_addresses (GtkWidget *entry)
{
  g_auto (GStrv) parts = g_strsplit (gtk_entry_get_text (GTK_ENTRY (entry)), ",", -1);
  GPtrArray *out = g_ptr_array_new ();

  for (char **p = parts; *p; p++)
    {
      g_strstrip (*p);
      if (**p)
        g_ptr_array_add (out, g_strdup (*p));
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

static const char *
from_address (PstComposeWindow *self)
{
  return gtk_combo_box_get_active_id (GTK_COMBO_BOX (self->from_combo));
}

/* An account whose policy is encrypt always: the box is ticked and stays
 * so; nothing from here can send its mail in the clear. */
static gboolean
account_always (PstComposeWindow *self)
{
  const char *from = from_address (self);
  return from && g_strcmp0 (g_hash_table_lookup (self->account_encrypt, from), "always") == 0;
}

/* The line under the toggles: what sending will do or why it cannot, and
 * what a mailto: link asked for in vain, which stays said. */
static void
say_reason (PstComposeWindow *self, const char *text)
{
  const char *parts[] = { text, self->draft_note, self->link_note };
  g_autoptr (GString) s = g_string_new (NULL);

  if (text != self->reason)
    {
      g_free (self->reason);
      self->reason = g_strdup (text);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
    if (parts[i] != NULL && *parts[i])
      g_string_append_printf (s, "%s%s", s->len ? "\n" : "", parts[i]);
  gtk_label_set_text (GTK_LABEL (self->reason_label), s->str);
}

/* Says why the draft was not saved (NULL: it was), until the next save. */
static void
say_draft_note (PstComposeWindow *self, char *note)
{
  g_free (self->draft_note);
  self->draft_note = note;
  say_reason (self, self->reason ? self->reason : "");
}

/* Encrypt unticked on an answer to encrypted mail, not yet confirmed: it
 * is not sent (the warning says why and asks). */
static gboolean
clear_unconfirmed (PstComposeWindow *self)
{
  return self->reply_to_encrypted && !self->clear_confirmed && !account_always (self)
         && !gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->encrypt_check));
}

/* The warning over an answer to encrypted mail with Encrypt unticked: in
 * words, and the choice until it is made. */
static void
update_clear_bar (PstComposeWindow *self)
{
  gboolean show = self->reply_to_encrypted && !account_always (self)
                  && !gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->encrypt_check));

  if (show)
    {
      const char *warning = pst_key_reply_clear_warning (self->forward != NULL);
      g_autofree char *t = self->clear_confirmed
                             ? g_strdup_printf ("%s %s", warning, _("You chose to send it in the clear."))
                             : g_strdup (warning);
      gtk_label_set_text (GTK_LABEL (self->clear_label), t);
    }
  pst_widget_show_now (self->send_clear_button, !self->clear_confirmed);
  pst_widget_show_now (self->clear_bar, show);
}

static void
update_send (PstComposeWindow *self)
{
  gboolean any = FALSE;
  g_auto (GStrv) to = split_addresses (self->to_entry);
  g_auto (GStrv) cc = split_addresses (self->cc_entry);
  g_auto (GStrv) bcc = split_addresses (self->bcc_entry);

  any = to[0] || cc[0] || bcc[0];
  gtk_widget_set_sensitive (self->send_button, any && from_address (self) && !self->refused
                                                 && !self->sending && pst_agent_link_is_running (self->agent)
                                                 && !clear_unconfirmed (self));
}

/* ---- the live key marks ---- */

/* A recipient field holding an address whose missing key blocks an answer
 * to encrypted mail gets a warning icon, its tooltip @blocked, the reason
 * (pst_key_reply_blocked_words; NULL: no field is marked). */
static void
mark_blocked_fields (PstComposeWindow *self, JsonObject *check, const char *blocked)
{
  GtkWidget *entries[] = { self->to_entry, self->cc_entry, self->bcc_entry };
  JsonArray *rcpts = pst_json_arr (check, "recipients");

  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      g_auto (GStrv) list = split_addresses (entries[i]);
      gboolean has = FALSE;

      for (char **p = list; blocked && *p && !has; p++)
        {
          g_autofree char *addr = pst_addr_extract (*p);
          for (guint j = 0; addr && rcpts && j < json_array_get_length (rcpts) && !has; j++)
            {
              JsonNode *n = json_array_get_element (rcpts, j);
              JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
              has = o && pst_json_str (o, "problem") && pst_addr_equal (pst_json_str (o, "address"), addr);
            }
        }
      gtk_entry_set_icon_from_icon_name (GTK_ENTRY (entries[i]), GTK_ENTRY_ICON_SECONDARY,
                                         has ? "dialog-warning-symbolic" : NULL);
      gtk_entry_set_icon_tooltip_text (GTK_ENTRY (entries[i]), GTK_ENTRY_ICON_SECONDARY, has ? blocked : NULL);
    }
}

static void
checked (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstComposeWindow *self;
  g_autofree char *marks = NULL, *not_recommended = NULL, *blocked = NULL;
  JsonArray *rcpts;
  const char *refused;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = data;
  if (r == NULL)
    {
      self->refused = TRUE;
      say_reason (self, error->message);
      update_send (self);
      return;
    }
  rcpts = pst_json_arr (r, "recipients");
  /* Each recipient's mark says where the key came from and whether it
   * changed (key-words.c). */
  marks = pst_key_marks_markup (r);
  gtk_label_set_markup (GTK_LABEL (self->keys_label), marks);
  self->reply_to_encrypted = pst_json_bool (r, "reply_to_encrypted");
  self->setting = TRUE;
  /* An answer to encrypted mail is meant to be encrypted: the box stays
   * ticked while a missing key blocks it. */
  if (!self->encrypt_touched)
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->encrypt_check),
                                  pst_json_bool (r, "will_encrypt")
                                    || (self->reply_to_encrypted && pst_json_str (r, "refused") != NULL));
  if (!self->sign_touched)
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->sign_check), pst_json_bool (r, "will_sign"));
  /* The account's "always" cannot be turned off from here. */
  gtk_widget_set_sensitive (self->encrypt_check, !account_always (self)
                                                   && g_strcmp0 (pst_json_str (r, "encrypt"), "always") != 0);
  self->setting = FALSE;
  refused = pst_json_str (r, "refused");
  self->refused = refused != NULL;
  blocked = pst_key_reply_blocked_words (r, self->forward != NULL);
  mark_blocked_fields (self, r, blocked);
  if (blocked != NULL)
    say_reason (self, blocked);
  else if (refused)
    {
      g_autofree char *t = g_strdup_printf (_("Send is disabled: %s"), refused);
      say_reason (self, t);
    }
  else if ((not_recommended = pst_key_not_recommended_words (r)) != NULL)
    say_reason (self, not_recommended);
  else if (rcpts && json_array_get_length (rcpts) > 0)
    say_reason (self,
                        pst_json_bool (r, "will_encrypt")
                          ? (g_strcmp0 (pst_json_str (r, "scheme"), "smime") == 0
                               ? _("It will be encrypted with S/MIME.") : _("It will be encrypted with OpenPGP."))
                          : _("It will NOT be encrypted: the server and anyone on the way can read it."));
  else
    say_reason (self, "");
  if (!refused && clear_unconfirmed (self))
    say_reason (self, _("Send is disabled until you choose above: keep it encrypted, or send it in the clear."));
  update_clear_bar (self);
  update_send (self);
}

static gboolean
check_now (gpointer data)
{
  PstComposeWindow *self = data;
  JsonObject *params = json_object_new ();
  JsonArray *rcpts = json_array_new ();
  GtkWidget *entries[] = { self->to_entry, self->cc_entry, self->bcc_entry };

  self->check_source = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      g_auto (GStrv) list = split_addresses (entries[i]);
      for (char **p = list; *p; p++)
        json_array_add_string_element (rcpts, *p);
    }
  json_object_set_array_member (params, "recipients", rcpts);
  if (from_address (self))
    json_object_set_string_member (params, "from", from_address (self));
  if (self->encrypt_touched || account_always (self))
    json_object_set_string_member (params, "encrypt",
                                   gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->encrypt_check))
                                     ? "always" : "never");
  if (self->sign_touched)
    json_object_set_boolean_member (params, "sign",
                                    gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->sign_check)));
  /* An answer to or a forward of mail that arrived encrypted stays
   * encrypted: the agent decides that from these, as send will. */
  if (self->in_reply_to)
    json_object_set_string_member (params, "in_reply_to", self->in_reply_to);
  if (self->references)
    json_object_set_string_member (params, "references", self->references);
  g_cancellable_cancel (self->check_cancel);
  g_clear_object (&self->check_cancel);
  self->check_cancel = g_cancellable_new ();
  pst_agent_link_call (self->agent, "keys.check", params, -1, self->check_cancel, checked, self);
  return G_SOURCE_REMOVE;
}

static void
on_fields_changed (PstComposeWindow *self)
{
  /* Until the agent has answered for what is typed now, nothing is sent,
   * and an answer for what was typed before no longer counts. */
  g_cancellable_cancel (self->check_cancel);
  self->refused = TRUE;
  if (account_always (self))
    {
      self->setting = TRUE;
      self->encrypt_touched = FALSE;
      gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->encrypt_check), TRUE);
      gtk_widget_set_sensitive (self->encrypt_check, FALSE);
      self->setting = FALSE;
    }
  else
    gtk_widget_set_sensitive (self->encrypt_check, TRUE);
  update_send (self);
  g_clear_handle_id (&self->check_source, g_source_remove);
  self->check_source = g_timeout_add (CHECK_DELAY_MS, check_now, self);
}

static void
on_encrypt_toggled (PstComposeWindow *self)
{
  if (self->setting)
    return;
  self->encrypt_touched = TRUE;
  /* Sending in the clear is confirmed each time Encrypt is unticked. */
  if (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->encrypt_check)))
    self->clear_confirmed = FALSE;
  update_clear_bar (self);
  on_fields_changed (self);
}

/* The warning's buttons: Encrypt ticked again, by the user (encrypted, or
 * not sent: on_encrypt_toggled) … */
static void
on_keep_encrypted (PstComposeWindow *self)
{
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->encrypt_check), TRUE);
}

/* … or the user's explicit choice to send it in the clear. */
static void
on_send_clear (PstComposeWindow *self)
{
  self->clear_confirmed = TRUE;
  update_clear_bar (self);
  on_fields_changed (self);
}

static void
on_sign_toggled (PstComposeWindow *self)
{
  if (self->setting)
    return;
  self->sign_touched = TRUE;
  on_fields_changed (self);
}

/* ---- attachments ---- */

static void
show_attachments (PstComposeWindow *self)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (guint i = 0; i < self->attachments->len; i++)
    {
      Attachment *a = g_ptr_array_index (self->attachments, i);
      g_autofree char *size = g_format_size (g_bytes_get_size (a->data));
      g_string_append_printf (s, "%s%s (%s)", s->len ? ", " : "", a->name, size);
    }
  if (self->forward)
    g_string_prepend (s, s->len ? _("The forwarded message, ") : _("The forwarded message"));
  gtk_label_set_text (GTK_LABEL (self->attachments_label), s->len ? s->str : _("No attachments."));
  gtk_widget_set_sensitive (self->clear_button, self->attachments->len > 0);
  self->draft_dirty = TRUE;
}

static void
attach_chosen (GtkNativeDialog *chooser, int response, PstComposeWindow *self)
{
  g_autoptr (GSList) files = NULL;

  if (response != GTK_RESPONSE_ACCEPT || self->agent == NULL)
    {
      g_object_unref (chooser);
      return;
    }
  files = gtk_file_chooser_get_filenames (GTK_FILE_CHOOSER (chooser));
  g_object_unref (chooser);
  for (GSList *l = files; l; l = l->next)
    {
      g_autoptr (GError) error = NULL;
      char *contents = NULL;
      gsize len = 0;
      Attachment *a;

      if (!g_file_get_contents (l->data, &contents, &len, &error))
        {
          say_reason (self, error->message);
          g_free (l->data);
          continue;
        }
      a = g_new0 (Attachment, 1);
      a->path = l->data;
      a->name = g_path_get_basename (a->path);
      a->data = g_bytes_new_take (contents, len);
      g_ptr_array_add (self->attachments, a);
    }
  show_attachments (self);
}

/* Dialogs are shown, never run: a nested main loop would hold up the
 * accessibility bus (and everything else) until the dialog closed. */
static void
on_attach (PstComposeWindow *self)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Attach files"), GTK_WINDOW (self),
                                                               GTK_FILE_CHOOSER_ACTION_OPEN, _("_Attach"),
                                                               _("_Cancel"));

  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), g_get_home_dir ());
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect_data (chooser, "response", G_CALLBACK (attach_chosen), g_object_ref (self),
                         (GClosureNotify) (void (*) (void)) g_object_unref, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_clear_attachments (PstComposeWindow *self)
{
  g_ptr_array_set_size (self->attachments, 0);
  show_attachments (self);
}

/* ---- send ---- */

static JsonObject *draft_id_params (gint64 id);

static void
sent (GObject *source, GAsyncResult *res, gpointer data)
{
  PstComposeWindow *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  self->sending = FALSE;
  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }

  if (r == NULL)
    {
      /* Nothing was queued: everything typed stays for another try. */
      g_autofree char *t = g_strdup_printf (_("Not sent: %s"), error->message);
      say_reason (self, t);
      update_send (self);
    }
  else
    {
      self->sent = TRUE;
      /* A first save answered while the Send was under way: the message
       * went without it, so its draft goes now. */
      if (self->draft_id > 0 && self->draft_id != self->send_draft)
        pst_agent_link_call (PST_AGENT_LINK (source), "drafts.delete", draft_id_params (self->draft_id),
                             -1, NULL, NULL, NULL);
      gtk_widget_destroy (GTK_WIDGET (self));
    }
  g_object_unref (self);
}

static char *
body_text (PstComposeWindow *self)
{
  GtkTextBuffer *buf = gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body_view));
  GtkTextIter a, b;

  gtk_text_buffer_get_bounds (buf, &a, &b);
  return gtk_text_buffer_get_text (buf, &a, &b, FALSE);
}

/* The message as the fields say now (RFC 5322, what send and a draft
 * take).  Transfer full. */
static GBytes *
compose_now (PstComposeWindow *self, GError **error)
{
  g_auto (GStrv) to = split_addresses (self->to_entry);
  g_auto (GStrv) cc = split_addresses (self->cc_entry);
  g_auto (GStrv) bcc = split_addresses (self->bcc_entry);
  g_autofree char *body = body_text (self);
  g_autofree PstComposeAttachment *att = g_new0 (PstComposeAttachment, self->attachments->len + 1);
  PstComposeFields f = { 0 };

  for (guint i = 0; i < self->attachments->len; i++)
    {
      Attachment *a = g_ptr_array_index (self->attachments, i);
      att[i].filename = a->name;
      att[i].data = a->data;
    }
  f.from = from_address (self);
  f.to = (const char *const *) to;
  f.cc = (const char *const *) cc;
  f.bcc = (const char *const *) bcc;
  f.subject = gtk_entry_get_text (GTK_ENTRY (self->subject_entry));
  f.body = body;
  f.attachments = att;
  f.n_attachments = self->attachments->len;
  f.in_reply_to = self->in_reply_to;
  f.references = self->references;
  f.forward = self->forward;
  return pst_compose_message (&f, error);
}

/* @message in a memory file, read from its start (-1 with errno set). */
static int
memory_fd (GBytes *message)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (message, &len);
  int fd = memfd_create ("postern-compose", MFD_CLOEXEC);

  if (fd >= 0 && (write (fd, data, len) != (ssize_t) len || lseek (fd, 0, SEEK_SET) != 0))
    {
      int saved = errno;
      close (fd);
      errno = saved;
      return -1;
    }
  return fd;
}

static void
on_send (PstComposeWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) message = NULL;
  JsonObject *params;
  int fd;

  /* Not in the clear without the user's confirmation (Send is insensitive
   * then; this holds for any other way here too).  A draft is kept
   * encrypted to self whatever the window says. */
  if (clear_unconfirmed (self))
    return;
  if (!(message = compose_now (self, &error)))
    {
      say_reason (self, error->message);
      return;
    }
  /* The message travels as a descriptor (DESIGN.md §5), from memory. */
  if ((fd = memory_fd (message)) < 0)
    {
      g_autofree char *t = g_strdup_printf (_("Not sent: %s"), g_strerror (errno));
      say_reason (self, t);
      return;
    }
  params = json_object_new ();
  /* Its draft goes once the outbox has it. */
  self->send_draft = self->draft_id;
  if (self->draft_id > 0)
    json_object_set_int_member (params, "draft", self->draft_id);
  json_object_set_int_member (params, "fd", 0);
  /* What the box shows is what is enforced: ticked, the message is
   * encrypted or not sent at all. */
  if (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->encrypt_check)) || account_always (self))
    json_object_set_string_member (params, "encrypt", "always");
  else if (self->encrypt_touched)
    json_object_set_string_member (params, "encrypt", "never");
  if (self->sign_touched)
    json_object_set_boolean_member (params, "sign",
                                    gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->sign_check)));
  self->sending = TRUE;
  update_send (self);
  say_reason (self, _("Queueing…"));
  pst_agent_link_call (self->agent, "send", params, fd, NULL, sent, g_object_ref (self));
  close (fd);
}

/* ---- accounts ---- */

static void
accounts_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstComposeWindow *self = data;
  JsonArray *a;

  if (self->agent == NULL)      /* closed meanwhile */
    {
      g_object_unref (self);
      return;
    }
  if (r == NULL)
    say_reason (self, error->message);
  a = pst_json_arr (r, "accounts");
  gtk_combo_box_text_remove_all (GTK_COMBO_BOX_TEXT (self->from_combo));
  for (guint i = 0; a && i < json_array_get_length (a); i++)
    {
      JsonObject *o = json_array_get_object_element (a, i);

      g_hash_table_replace (self->account_encrypt, g_strdup (pst_json_str (o, "address")),
                            g_strdup (pst_json_str (o, "encrypt")));
      g_autofree char *label = g_strdup_printf ("%s (%s)", pst_json_str (o, "address"), pst_json_str (o, "name"));
      gtk_combo_box_text_append (GTK_COMBO_BOX_TEXT (self->from_combo), pst_json_str (o, "address"), label);
    }
  if (a && json_array_get_length (a) > 0
      && !(self->want_from && gtk_combo_box_set_active_id (GTK_COMBO_BOX (self->from_combo), self->want_from)))
    gtk_combo_box_set_active (GTK_COMBO_BOX (self->from_combo), 0);
  else if (r != NULL)
    say_reason (self, _("Add an account first: mail is sent from one of yours."));
  g_object_unref (self);
}

void
pst_compose_window_fill (PstComposeWindow *self, const PstMailto *m)
{
  struct { GPtrArray *list; GtkWidget *entry; } fields[] = {
    { m->to, self->to_entry }, { m->cc, self->cc_entry }, { m->bcc, self->bcc_entry },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autoptr (GString) s = g_string_new (NULL);
      for (guint j = 0; j < fields[i].list->len; j++)
        g_string_append_printf (s, "%s%s", s->len ? ", " : "", (char *) g_ptr_array_index (fields[i].list, j));
      gtk_entry_set_text (GTK_ENTRY (fields[i].entry), s->str);
    }
  if (m->subject)
    gtk_entry_set_text (GTK_ENTRY (self->subject_entry), m->subject);
  if (m->body)
    gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body_view)), m->body, -1);
  g_free (self->in_reply_to);
  self->in_reply_to = g_strdup (m->in_reply_to);
  if (m->ignored->len > 0)
    {
      g_autoptr (GString) names = g_string_new (NULL);
      g_autofree char *t = NULL;

      for (guint j = 0; j < m->ignored->len; j++)
        g_string_append_printf (names, "%s%s", j ? ", " : "", (char *) g_ptr_array_index (m->ignored, j));
      t = g_strdup_printf (_("The link also asked for %s; that was ignored (a link may not attach files "
                             "or set other headers)."), names->str);
      g_free (self->link_note);
      self->link_note = g_steal_pointer (&t);
      say_reason (self, "");
    }
  on_fields_changed (self);
  self->draft_dirty = FALSE;    /* what a link filled in is not typed */
}

void
pst_compose_window_fill_draft (PstComposeWindow *self, PstMimeMessage *draft, gboolean forward)
{
  static const char *const entries[] = { "To", "Cc", "Subject" };
  GtkWidget *widgets[] = { self->to_entry, self->cc_entry, self->subject_entry };
  g_autofree char *body = pst_mime_message_get_body_text (draft);

  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      g_autofree char *v = pst_mime_message_get_header (draft, entries[i]);
      gtk_entry_set_text (GTK_ENTRY (widgets[i]), v ? v : "");
    }
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body_view)), body ? body : "", -1);
  /* Kept as the draft has them: send sees that this answers or forwards
   * mail that arrived encrypted, and keeps it encrypted. */
  g_free (self->in_reply_to);
  self->in_reply_to = pst_mime_message_get_header (draft, "In-Reply-To");
  g_free (self->references);
  self->references = pst_mime_message_get_header (draft, "References");
  g_clear_pointer (&self->forward, g_bytes_unref);
  if (forward)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = NULL;

      self->forward = pst_mime_message_get_attachment (draft, 0, G_MAXSIZE, &name, NULL, &error);
      if (self->forward == NULL)
        say_reason (self, error->message);
      else
        atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), _("Forward"));
    }
  else
    atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), _("Reply"));
  show_attachments (self);
  /* From: the account that received the message, once the accounts are in. */
  g_free (self->want_from);
  self->want_from = pst_mime_message_get_from_address (draft, NULL);
  if (self->want_from)
    gtk_combo_box_set_active_id (GTK_COMBO_BOX (self->from_combo), self->want_from);
  gtk_window_set_title (GTK_WINDOW (self), gtk_entry_get_text (GTK_ENTRY (self->subject_entry)));
  /* A reply is written above the quote; a forward needs its recipients. */
  if (forward)
    gtk_widget_grab_focus (self->to_entry);
  else
    {
      GtkTextBuffer *buf = gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body_view));
      GtkTextIter start;

      gtk_text_buffer_get_start_iter (buf, &start);
      gtk_text_buffer_place_cursor (buf, &start);
      gtk_widget_grab_focus (self->body_view);
    }
  on_fields_changed (self);
  self->draft_dirty = FALSE;    /* what the agent wrote is not typed */
}

/* ---- drafts ---- */

/* Kept every DRAFT_INTERVAL_S while something changed, and on close: as a
 * draft of the agent's, encrypted to the account's own key (drafts.save),
 * so it is saved without asking.  A window where nothing was typed saves
 * nothing (the fields a reply or a link filled in do not count). */
#define DRAFT_INTERVAL_S 60

static guint
draft_interval_s (void)
{
#ifdef PST_GUI_TEST_HOOKS
  /* Test builds: the GUI test waits for this timer, a minute otherwise. */
  const char *v = g_getenv ("POSTERN_TEST_DRAFT_INTERVAL");
  guint64 n = 0;

  if (v != NULL && g_ascii_string_to_unsigned (v, 10, 1, DRAFT_INTERVAL_S, &n, NULL))
    return (guint) n;
#endif
  return DRAFT_INTERVAL_S;
}

static void
on_typed (PstComposeWindow *self)
{
  self->draft_dirty = TRUE;
}

/* Whether any field holds something (the From aside). */
static gboolean
anything_typed (PstComposeWindow *self)
{
  GtkWidget *entries[] = { self->to_entry, self->cc_entry, self->bcc_entry, self->subject_entry };
  GtkTextBuffer *buf = gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body_view));

  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    if (gtk_entry_get_text_length (GTK_ENTRY (entries[i])) > 0)
      return TRUE;
  return gtk_text_buffer_get_char_count (buf) > 0 || self->attachments->len > 0 || self->forward;
}

static gboolean draft_save (PstComposeWindow *self, gboolean closing);

static JsonObject *
draft_id_params (gint64 id)
{
  JsonObject *params = json_object_new ();

  json_object_set_int_member (params, "id", id);
  return params;
}

static void
draft_saved (GObject *source, GAsyncResult *res, gpointer data)
{
  PstComposeWindow *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  self->draft_saving = FALSE;
  DRAFT_DEBUG ("%p: drafts.save answered (%s); close after it %d, typed since %d", (void *) self,
               r != NULL ? "saved" : error->message, self->close_after_save, self->draft_dirty);
  if (r != NULL && self->sent && self->draft_id == 0)
    /* A first save that the Send overtook: the message went without it. */
    pst_agent_link_call (PST_AGENT_LINK (source), "drafts.delete", draft_id_params (pst_json_int (r, "id")),
                         -1, NULL, NULL, NULL);
  else if (self->agent == NULL)      /* closed meanwhile */
    ;
  else if (r == NULL)
    {
      /* Kept open with the text: a second close discards it. */
      g_autofree char *t = g_strdup_printf (self->close_after_save
                                              ? _("Not saved as a draft: %s. Close again to discard "
                                                  "the text.")
                                              : _("Not saved as a draft: %s"), error->message);
      self->draft_dirty = TRUE;
      self->discard_ok = self->close_after_save;
      self->close_after_save = FALSE;
      say_draft_note (self, g_steal_pointer (&t));
    }
  else
    {
      self->draft_id = pst_json_int (r, "id");
      if (self->draft_note != NULL)
        say_draft_note (self, NULL);
      /* Typed into while it was saved: saved again before it closes. */
      if (self->close_after_save && !draft_save (self, TRUE))
        {
          DRAFT_DEBUG ("%p: saved, closing", (void *) self);
          gtk_widget_destroy (GTK_WIDGET (self));
        }
    }
  g_object_unref (self);
}

/* Saves the draft when something was typed since the last save; returns
 * whether the window must wait for a save.  With @closing the window
 * closes once it is saved, or stays, saying why not (and closes the next
 * time). */
static gboolean
draft_save (PstComposeWindow *self, gboolean closing)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) message = NULL;
  JsonObject *params;
  int fd;

  if ((closing && self->discard_ok) || self->sending || self->sent)
    return FALSE;
  if (self->draft_saving)
    {
      self->close_after_save |= closing;
      return closing;
    }
  self->close_after_save = FALSE;
  if (!self->draft_dirty || (self->draft_id == 0 && !anything_typed (self)))
    return FALSE;
  if (!(message = compose_now (self, &error)) || (fd = memory_fd (message)) < 0)
    {
      g_autofree char *t = g_strdup_printf (_("Not saved as a draft: %s. Close again to discard the text."),
                                            error ? error->message : g_strerror (errno));
      if (closing)
        {
          say_draft_note (self, g_steal_pointer (&t));
          self->discard_ok = TRUE;
        }
      return closing;
    }
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  if (self->draft_id > 0)
    json_object_set_int_member (params, "id", self->draft_id);
  self->draft_dirty = FALSE;
  self->draft_saving = TRUE;
  self->close_after_save = closing;
  DRAFT_DEBUG ("%p: drafts.save asked (draft %" G_GINT64_FORMAT ", closing %d)", (void *) self,
               self->draft_id, closing);
  pst_agent_link_call (self->agent, "drafts.save", params, fd, NULL, draft_saved, g_object_ref (self));
  close (fd);
  return closing;
}

static gboolean
draft_tick (gpointer data)
{
  draft_save (data, FALSE);
  return G_SOURCE_CONTINUE;
}

static void
draft_watch (PstComposeWindow *self)
{
  GtkWidget *entries[] = { self->to_entry, self->cc_entry, self->bcc_entry, self->subject_entry };

  for (gsize i = 0; i < G_N_ELEMENTS (entries); i++)
    g_signal_connect_swapped (entries[i], "changed", G_CALLBACK (on_typed), self);
  g_signal_connect_object (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->body_view)), "changed",
                           G_CALLBACK (on_typed), self, G_CONNECT_SWAPPED);
  self->draft_source = g_timeout_add_seconds (draft_interval_s (), draft_tick, self);
}

void
pst_compose_window_resume_draft (PstComposeWindow *self, PstMimeMessage *draft, gint64 id)
{
  g_autoptr (GPtrArray) parts = pst_mime_message_get_attachments (draft);

  g_autofree char *bcc = pst_mime_message_get_header (draft, "Bcc");

  pst_compose_window_fill_draft (self, draft, FALSE);
  /* A draft keeps its Bcc (send takes it out of what goes to the others). */
  gtk_entry_set_text (GTK_ENTRY (self->bcc_entry), bcc ? bcc : "");
  for (guint i = 0; parts && i < parts->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = NULL;
      GBytes *data = pst_mime_message_get_attachment (draft, i, G_MAXSIZE, &name, NULL, &error);
      Attachment *a;

      if (data == NULL)
        {
          say_reason (self, error->message);
          continue;
        }
      a = g_new0 (Attachment, 1);
      a->name = name && *name ? g_steal_pointer (&name) : g_strdup_printf ("attachment-%u", i + 1);
      a->data = data;
      g_ptr_array_add (self->attachments, a);
    }
  show_attachments (self);
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), _("Draft"));
  self->draft_id = id;
  self->draft_dirty = FALSE;
}

/* ---- object ---- */

/* The window stays while the agent has not answered a send: its answer,
 * a refusal above all, must have somewhere to be shown. */
static gboolean
on_delete (PstComposeWindow *self, GdkEvent *event, gpointer data)
{
  gboolean wait;

  if (self->sending)
    return TRUE;
  /* What was typed is kept as a draft first; the window goes once it is. */
  wait = draft_save (self, TRUE);
  DRAFT_DEBUG ("%p: close asked; %s (saving %d, typed %d, draft %" G_GINT64_FORMAT ")",
               (void *) self, wait ? "waits for the save" : "closes", self->draft_saving,
               self->draft_dirty, self->draft_id);
  return wait;
}

static void
on_running (PstComposeWindow *self, gboolean running, const char *why)
{
  if (running)
    {
      pst_agent_link_call (self->agent, "account.list", NULL, -1, NULL, accounts_loaded, g_object_ref (self));
      on_fields_changed (self);
    }
  else
    {
      say_reason (self,
                          _("The Postern agent is not running: nothing can be sent until it is."));
      update_send (self);
    }
}

static void
pst_compose_window_dispose (GObject *object)
{
  PstComposeWindow *self = PST_COMPOSE_WINDOW (object);

  g_clear_handle_id (&self->check_source, g_source_remove);
  g_clear_handle_id (&self->draft_source, g_source_remove);
  g_cancellable_cancel (self->check_cancel);
  g_clear_object (&self->check_cancel);
  /* Before the link goes: a window kept alive by a call under way (a
   * draft's save) must hear no more of the agent. */
  if (self->agent)
    g_signal_handlers_disconnect_by_data (self->agent, self);
  g_clear_object (&self->agent);
  g_clear_pointer (&self->attachments, g_ptr_array_unref);
  g_clear_pointer (&self->in_reply_to, g_free);
  g_clear_pointer (&self->references, g_free);
  g_clear_pointer (&self->forward, g_bytes_unref);
  g_clear_pointer (&self->want_from, g_free);
  g_clear_pointer (&self->account_encrypt, g_hash_table_unref);
  g_clear_pointer (&self->link_note, g_free);
  g_clear_pointer (&self->reason, g_free);
  g_clear_pointer (&self->draft_note, g_free);
  G_OBJECT_CLASS (pst_compose_window_parent_class)->dispose (object);
}

static void
pst_compose_window_class_init (PstComposeWindowClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_compose_window_dispose;
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/compose-window.ui");
#define CHILD(n) gtk_widget_class_bind_template_child (w, PstComposeWindow, n)
  CHILD (from_combo);
  CHILD (to_entry);
  CHILD (cc_entry);
  CHILD (bcc_entry);
  CHILD (subject_entry);
  CHILD (keys_label);
  CHILD (encrypt_check);
  CHILD (sign_check);
  CHILD (reason_label);
  CHILD (body_view);
  CHILD (attachments_label);
  CHILD (clear_button);
  CHILD (send_button);
  CHILD (attach_button);
  CHILD (clear_bar);
  CHILD (clear_label);
  CHILD (send_clear_button);
#undef CHILD
  gtk_widget_class_bind_template_callback (w, on_fields_changed);
  gtk_widget_class_bind_template_callback (w, on_encrypt_toggled);
  gtk_widget_class_bind_template_callback (w, on_sign_toggled);
  gtk_widget_class_bind_template_callback (w, on_attach);
  gtk_widget_class_bind_template_callback (w, on_clear_attachments);
  gtk_widget_class_bind_template_callback (w, on_send);
  gtk_widget_class_bind_template_callback (w, on_keep_encrypted);
  gtk_widget_class_bind_template_callback (w, on_send_clear);
}

static void
pst_compose_window_init (PstComposeWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  pst_a11y_name_fields (GTK_WIDGET (self));
  atk_object_set_name (gtk_widget_get_accessible (GTK_WIDGET (self)), _("New message"));
  self->attachments = g_ptr_array_new_with_free_func (attachment_free);
  self->account_encrypt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->refused = TRUE;
  g_signal_connect (self, "delete-event", G_CALLBACK (on_delete), NULL);
  draft_watch (self);
}

PstComposeWindow *
pst_compose_window_new (GtkApplication *app, PstAgentLink *agent)
{
  PstComposeWindow *self = g_object_new (PST_TYPE_COMPOSE_WINDOW, "application", app, NULL);

  self->agent = g_object_ref (agent);
  g_signal_connect_swapped (agent, "running-changed", G_CALLBACK (on_running), self);
  pst_agent_link_call (agent, "account.list", NULL, -1, NULL, accounts_loaded, g_object_ref (self));
  return self;
}
