/* key-setup.c — see key-setup.h. */
#define _GNU_SOURCE
#include "key-setup.h"
#include "a11y.h"
#include "showing.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "key-words.h"
#include "verdict.h"

struct _PstKeySetup {
  GtkBox parent;
  PstAgentLink *agent;
  char *address;
  GtkWidget *heading_label, *status_label, *form_box, *passphrase_entry, *again_entry, *none_check,
    *create_button;
  GCancellable *cancel;        /* of the check and the creation in progress */
  gboolean busy;
};

enum { SIG_CHECKED, SIG_CREATED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PstKeySetup, pst_key_setup, GTK_TYPE_BOX)

static void
say (PstKeySetup *self, const char *words, gboolean error)
{
  GtkStyleContext *sc = gtk_widget_get_style_context (self->status_label);

  gtk_label_set_text (GTK_LABEL (self->status_label), words);
  if (error)
    gtk_style_context_add_class (sc, "error");
  else
    gtk_style_context_remove_class (sc, "error");
}

static void
set_busy (PstKeySetup *self, gboolean busy)
{
  self->busy = busy;
  gtk_widget_set_sensitive (self->form_box, !busy);
}

static void
on_none_toggled (PstKeySetup *self)
{
  gboolean none = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->none_check));

  gtk_widget_set_sensitive (self->passphrase_entry, !none);
  gtk_widget_set_sensitive (self->again_entry, !none);
}

static void
offer (PstKeySetup *self, const char *words, gboolean error)
{
  say (self, words, error);
  pst_widget_show_now (self->form_box, TRUE);
}

/* ---- creating ---- */

static void
generated (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (PstKeySetup) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);

  if (self->agent == NULL)      /* gone meanwhile */
    return;
  set_busy (self, FALSE);
  if (r == NULL)
    {
      g_autofree char *why = pst_verdict_safe_text (error->message);
      g_autofree char *t = g_strdup_printf (_("No key was created: %s"), why);

      offer (self, t, TRUE);
      return;
    }
  {
    g_autofree char *words = pst_key_describe_generated (r);

    pst_widget_show_now (self->form_box, FALSE);
    say (self, words, FALSE);
  }
  g_signal_emit (self, signals[SIG_CREATED], 0);
}

/* The passphrase, as the CLI's --passphrase-fd passes it: a pipe whose
 * read end goes to the agent.  It fits in the pipe's buffer (the entries
 * take 1000 characters), so it is written whole before the call. */
static int
passphrase_pipe (const char *pass, GError **error)
{
  int fds[2] = { -1, -1 };
  gsize len = strlen (pass);
  gboolean written = pipe2 (fds, O_CLOEXEC) == 0 && write (fds[1], pass, len) == (ssize_t) len
                     && write (fds[1], "\n", 1) == 1;

  if (fds[1] >= 0)
    close (fds[1]);
  if (!written)
    {
      if (fds[0] >= 0)
        close (fds[0]);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("No key was created: the passphrase could not be passed to the agent."));
      return -1;
    }
  return fds[0];
}

static void
on_create (PstKeySetup *self)
{
  g_autoptr (GError) error = NULL;
  gboolean none = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->none_check));
  const char *first = gtk_entry_get_text (GTK_ENTRY (self->passphrase_entry));
  const char *again = gtk_entry_get_text (GTK_ENTRY (self->again_entry));
  JsonObject *params;
  int fd = -1;

  if (self->busy || self->agent == NULL || self->address == NULL)
    return;
  if (!pst_key_check_passphrase (first, again, none, &error))
    {
      say (self, error->message, TRUE);
      return;
    }
  if (!none && (fd = passphrase_pipe (first, &error)) < 0)
    {
      say (self, error->message, TRUE);
      return;
    }
  /* The typed passphrase is in the pipe now; the fields forget it
   * (GtkEntryBuffer zeroes what it frees). */
  gtk_entry_set_text (GTK_ENTRY (self->passphrase_entry), "");
  gtk_entry_set_text (GTK_ENTRY (self->again_entry), "");
  params = json_object_new ();
  json_object_set_string_member (params, "address", self->address);
  if (none)
    json_object_set_boolean_member (params, "no_passphrase", TRUE);
  else
    json_object_set_int_member (params, "passphrase_fd", 0);
  set_busy (self, TRUE);
  say (self, _("Creating the key… (this takes a few seconds)"), FALSE);
  pst_agent_link_call (self->agent, "keys.generate", params, fd, NULL, generated, g_object_ref (self));
  if (fd >= 0)
    close (fd);
}

/* ---- checking ---- */

static void
listed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  PstKeySetup *self;
  JsonObject *key;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = data;
  if (r == NULL)
    {
      /* Not known either way: the offer stands, and the agent refuses a
       * second key for the address if there is one. */
      g_autofree char *why = pst_verdict_safe_text (error->message);
      g_autofree char *t = g_strdup_printf (_("Whether this address has an OpenPGP key could not be "
                                              "found out: %s"), why);
      offer (self, t, TRUE);
      return;
    }
  key = pst_key_find_own (r, self->address);
  if (key != NULL)
    {
      g_autofree char *words = pst_key_describe_own (key, self->address);

      pst_widget_show_now (self->form_box, FALSE);
      say (self, words, FALSE);
    }
  else
    {
      g_autofree char *addr = pst_verdict_safe_text (self->address);
      g_autofree char *t = g_strdup_printf (_("%s has no OpenPGP key yet: without one, its mail cannot be "
                                              "signed, and nobody can write to it encrypted. Postern can "
                                              "create one now."), addr);
      offer (self, t, FALSE);
    }
  /* The owner may destroy us from its handler. */
  g_object_ref (self);
  g_signal_emit (self, signals[SIG_CHECKED], 0, key != NULL);
  g_object_unref (self);
}

void
pst_key_setup_check (PstKeySetup *self, PstAgentLink *agent, const char *address, const char *heading)
{
  g_return_if_fail (PST_IS_KEY_SETUP (self) && PST_IS_AGENT_LINK (agent) && address != NULL);
  if (self->agent != agent)
    {
      g_clear_object (&self->agent);
      self->agent = g_object_ref (agent);
    }
  g_free (self->address);
  self->address = g_strdup (address);
  gtk_label_set_text (GTK_LABEL (self->heading_label), heading ? heading : "");
  gtk_widget_set_visible (self->heading_label, heading != NULL);
  gtk_widget_hide (self->form_box);
  say (self, _("Looking for this address's OpenPGP key…"), FALSE);
  g_cancellable_cancel (self->cancel);
  g_clear_object (&self->cancel);
  self->cancel = g_cancellable_new ();
  pst_agent_link_call (agent, "keys.list", NULL, -1, self->cancel, listed, self);
}

gboolean
pst_key_setup_is_busy (PstKeySetup *self)
{
  return self->busy;
}

/* ---- object ---- */

static void
pst_key_setup_dispose (GObject *object)
{
  PstKeySetup *self = PST_KEY_SETUP (object);

  /* A check's answer finds its cancellable cancelled; a creation's holds a
   * reference and finds no agent. */
  g_cancellable_cancel (self->cancel);
  g_clear_object (&self->cancel);
  g_clear_object (&self->agent);
  G_OBJECT_CLASS (pst_key_setup_parent_class)->dispose (object);
}

static void
pst_key_setup_finalize (GObject *object)
{
  PstKeySetup *self = PST_KEY_SETUP (object);

  g_free (self->address);
  G_OBJECT_CLASS (pst_key_setup_parent_class)->finalize (object);
}

static void
pst_key_setup_class_init (PstKeySetupClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_key_setup_dispose;
  G_OBJECT_CLASS (klass)->finalize = pst_key_setup_finalize;
  signals[SIG_CHECKED] = g_signal_new ("checked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  signals[SIG_CREATED] = g_signal_new ("created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 0);
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/key-setup.ui");
#define CHILD(n) gtk_widget_class_bind_template_child (w, PstKeySetup, n)
  CHILD (heading_label);
  CHILD (status_label);
  CHILD (form_box);
  CHILD (passphrase_entry);
  CHILD (again_entry);
  CHILD (none_check);
  CHILD (create_button);
#undef CHILD
  gtk_widget_class_bind_template_callback (w, on_none_toggled);
  gtk_widget_class_bind_template_callback (w, on_create);
}

static void
pst_key_setup_init (PstKeySetup *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  pst_a11y_name_fields (GTK_WIDGET (self));
}

PstKeySetup *
pst_key_setup_new (void)
{
  return g_object_new (PST_TYPE_KEY_SETUP, NULL);
}
