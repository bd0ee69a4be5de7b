/* first-run.c — see first-run.h. */
#include "first-run.h"
#include "a11y.h"
#include "account-fields.h"
#include "compose-window.h"
#include "key-setup.h"

#include <glib/gi18n.h>

#include "config/config.h"
#include "config/paths.h"
#include "verdict.h"

enum { STEP_ACCOUNT, STEP_KEY, STEP_DONE, N_STEPS };

struct _PstFirstRun {
  GtkDialog parent;
  PstAgentLink *agent;
  PstAccountFields fields;     /* as in the account dialog; the password in the Secret Service */
  GtkWidget *pages, *servers_expander, *key_setup, *done_label, *cancel_button, *next_button;
  char *address;               /* of the account, once added */
  int step;
  gboolean busy;
  gboolean committing;         /* account.add sent: its answer stores the password */
};

G_DEFINE_TYPE (PstFirstRun, pst_first_run, GTK_TYPE_DIALOG)

gboolean
pst_first_run_needed (const char *home)
{
  g_autoptr (PstPaths) paths = pst_paths_new (home);
  g_autoptr (PstConfig) config = pst_config_load (paths->config_file, NULL);

  return config != NULL && pst_config_get_accounts (config)->len == 0;
}

/* As the account dialog's fields, but the account's name follows the
 * address too: on a first run it is one more thing to think of. */
static void
on_address_changed (PstFirstRun *self)
{
  pst_account_fields_address_changed (&self->fields, TRUE);
}

static void
on_security_changed (PstFirstRun *self, GtkComboBox *combo)
{
  pst_account_fields_security_changed (&self->fields, combo);
}

static void
result (PstFirstRun *self, const char *words, gboolean error)
{
  pst_account_fields_say (&self->fields, words, error);
}

static void
set_busy (PstFirstRun *self, gboolean busy)
{
  self->busy = busy;
  gtk_widget_set_sensitive (self->next_button, !busy);
  /* What is tested is what is added: nothing changes meanwhile. */
  pst_account_fields_set_sensitive (&self->fields, !busy);
}

/* ---- the steps ---- */

static void
show_step (PstFirstRun *self, int step)
{
  static const char *const pages[N_STEPS] = { "account", "key", "done" };
  const char *what[N_STEPS] = { _("Your account"), _("Your key"), _("Ready") };
  g_autofree char *subtitle = g_strdup_printf (_("Step %d of %d: %s"), step + 1, N_STEPS, what[step]);
  GtkWidget *bar = gtk_dialog_get_header_bar (GTK_DIALOG (self));

  self->step = step;
  gtk_stack_set_visible_child_name (GTK_STACK (self->pages), pages[step]);
  if (bar != NULL)
    gtk_header_bar_set_subtitle (GTK_HEADER_BAR (bar), subtitle);
  if (step == STEP_KEY)
    {
      /* The account is there: what is left can be done later from the
       * Accounts page. */
      gtk_button_set_label (GTK_BUTTON (self->cancel_button), _("_Close"));
      gtk_widget_set_sensitive (self->next_button, FALSE);
    }
  else if (step == STEP_DONE)
    {
      gtk_widget_hide (self->cancel_button);
      gtk_button_set_label (GTK_BUTTON (self->next_button), _("_Done"));
      gtk_widget_set_sensitive (self->next_button, TRUE);
    }
  gtk_window_resize (GTK_WINDOW (self), 1, 1);
}

static void
key_step (PstFirstRun *self, const char *name, const char *address, const char *trouble)
{
  g_autofree char *safe = pst_verdict_safe_text (name);
  g_autofree char *heading = trouble ? g_strdup (trouble)
                                     : g_strdup_printf (_("The account “%s” was added."), safe);

  g_free (self->address);
  self->address = g_strdup (address);
  show_step (self, STEP_KEY);
  pst_key_setup_check (PST_KEY_SETUP (self->key_setup), self->agent, address, heading);
}

static void
on_key_checked (PstFirstRun *self, gboolean has_key)
{
  gtk_widget_set_sensitive (self->next_button, has_key);
}

static void
on_key_created (PstFirstRun *self)
{
  gtk_widget_set_sensitive (self->next_button, TRUE);
}

static void
done_step (PstFirstRun *self)
{
  g_autofree char *addr = pst_verdict_safe_text (self->address);
  g_autofree char *t = g_strdup_printf (_("Postern is ready. Mail you send from %s is signed with your key, and "
                                          "encrypted whenever Postern knows the key of everyone it goes to. "
                                          "Your mailbox is in the main window: Fetch brings your mail in."),
                                        addr);

  gtk_label_set_text (GTK_LABEL (self->done_label), t);
  show_step (self, STEP_DONE);
}

/* A compose window with a first message to the user's own address; the
 * assistant is done then, and the main window stays. */
static void
on_first_mail (PstFirstRun *self)
{
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (self));
  GtkApplication *app = parent ? gtk_window_get_application (parent) : NULL;
  g_autoptr (PstMailto) m = g_new0 (PstMailto, 1);
  PstComposeWindow *w;

  if (app == NULL || self->address == NULL)
    return;
  m->to = g_ptr_array_new_with_free_func (g_free);
  m->cc = g_ptr_array_new_with_free_func (g_free);
  m->bcc = g_ptr_array_new_with_free_func (g_free);
  m->ignored = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (m->to, g_strdup (self->address));
  m->subject = g_strdup (_("My first signed mail"));
  m->body = g_strdup (_("Hello,\n\nthis is my first mail from Postern, signed with my own OpenPGP key.\n"));
  w = pst_compose_window_new (app, self->agent);
  pst_compose_window_fill (w, m);
  gtk_window_present (GTK_WINDOW (w));
  gtk_widget_destroy (GTK_WIDGET (self));
}

/* ---- the account: tested, then added ---- */

static void
added (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (PstFirstRun) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  g_autofree char *trouble = NULL;

  self->committing = FALSE;
  /* The password is stored even when the assistant was closed meanwhile
   * (with its parent): the account is there, and needs it. */
  if (r != NULL)
    trouble = pst_account_fields_keep_password (&self->fields, r);
  if (self->agent == NULL)      /* closed meanwhile */
    {
      if (trouble != NULL)
        g_message ("%s", trouble);
      return;
    }
  set_busy (self, FALSE);
  if (r == NULL)
    {
      result (self, error->message, TRUE);
      return;
    }
  key_step (self, pst_json_str (r, "name"), pst_json_str (r, "address"), trouble);
}

static void
tested (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (PstFirstRun) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  JsonObject *account;

  pst_account_fields_test_done (&self->fields);
  if (self->agent == NULL)      /* closed meanwhile */
    return;
  if (r == NULL)
    {
      set_busy (self, FALSE);
      result (self, error->message, TRUE);
      return;
    }
  if (!pst_account_fields_show_test (&self->fields, r))
    {
      /* What the servers said is what to fix: show them. */
      gtk_expander_set_expanded (GTK_EXPANDER (self->servers_expander), TRUE);
      set_busy (self, FALSE);
      return;
    }
  /* The account as it was tested, not as the fields say now. */
  if (!(account = pst_account_fields_take_tested (&self->fields)))
    {
      set_busy (self, FALSE);
      return;
    }
  self->committing = TRUE;
  pst_agent_link_call (self->agent, "account.add", account, -1, NULL, added, g_object_ref (self));
}

static void
test (PstFirstRun *self)
{
  g_autoptr (GError) error = NULL;
  JsonObject *params = pst_account_fields_test_params (&self->fields, &error);

  if (params == NULL)
    {
      set_busy (self, FALSE);
      result (self, error->message, TRUE);
      return;
    }
  result (self, _("Testing the connection…"), FALSE);
  pst_agent_link_call (self->agent, "account.test", params, -1, NULL, tested, g_object_ref (self));
}

static void
started (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (PstFirstRun) self = data;
  g_autoptr (GError) error = NULL;

  if (!pst_agent_link_start_finish (PST_AGENT_LINK (source), res, &error))
    {
      g_autofree char *t = NULL;

      if (self->agent == NULL)
        return;
      t = g_strdup_printf (_("The agent could not be started: %s"), error->message);
      set_busy (self, FALSE);
      result (self, t, TRUE);
      return;
    }
  if (self->agent != NULL)
    test (self);
}

static void
account_next (PstFirstRun *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) check = pst_account_fields_build (&self->fields, &error);

  if (check == NULL)
    {
      result (self, error->message, TRUE);
      return;
    }
  set_busy (self, TRUE);
  if (pst_agent_link_is_running (self->agent))
    {
      test (self);
      return;
    }
  /* Nobody has started the agent yet on a first run. */
  result (self, _("Starting the Postern agent…"), FALSE);
  pst_agent_link_start (self->agent, started, g_object_ref (self));
}

static void
on_next (PstFirstRun *self)
{
  if (self->busy)
    return;
  if (self->step == STEP_ACCOUNT)
    account_next (self);
  else if (self->step == STEP_KEY)
    done_step (self);
  else
    gtk_widget_destroy (GTK_WIDGET (self));
}

static void
on_close (PstFirstRun *self)
{
  /* Not while the account is being added (its answer stores the password)
   * or the key made.  Closing during a test: its answer finds the
   * assistant gone, and nothing more is done. */
  if (self->committing || pst_key_setup_is_busy (PST_KEY_SETUP (self->key_setup)))
    return;
  gtk_widget_destroy (GTK_WIDGET (self));
}

/* GtkDialog answers a close (Escape, the window manager) with a "response"
 * and then destroys the window whatever on_close did: refused here while
 * the account is being added or the key made. */
static gboolean
on_delete_event (PstFirstRun *self)
{
  return self->committing || pst_key_setup_is_busy (PST_KEY_SETUP (self->key_setup));
}

static void
on_response (PstFirstRun *self, int response)
{
  if (response == GTK_RESPONSE_DELETE_EVENT)
    on_close (self);
}

/* ---- object ---- */

static void
pst_first_run_dispose (GObject *object)
{
  PstFirstRun *self = PST_FIRST_RUN (object);

  g_clear_object (&self->agent);
  G_OBJECT_CLASS (pst_first_run_parent_class)->dispose (object);
}

static void
pst_first_run_finalize (GObject *object)
{
  PstFirstRun *self = PST_FIRST_RUN (object);

  pst_account_fields_clear (&self->fields);
  g_free (self->address);
  G_OBJECT_CLASS (pst_first_run_parent_class)->finalize (object);
}

static void
pst_first_run_class_init (PstFirstRunClass *klass)
{
  GtkWidgetClass *w = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = pst_first_run_dispose;
  G_OBJECT_CLASS (klass)->finalize = pst_first_run_finalize;
  g_type_ensure (PST_TYPE_KEY_SETUP);
  gtk_widget_class_set_template_from_resource (w, "/org/postern/Postern/first-run.ui");
  PST_ACCOUNT_FIELDS_BIND (w, PstFirstRun, fields);
#define CHILD(n) gtk_widget_class_bind_template_child (w, PstFirstRun, n)
  CHILD (pages);
  CHILD (servers_expander);
  CHILD (key_setup);
  CHILD (done_label);
#undef CHILD
  gtk_widget_class_bind_template_callback (w, on_address_changed);
  gtk_widget_class_bind_template_callback (w, on_security_changed);
  gtk_widget_class_bind_template_callback (w, on_first_mail);
}

static void
pst_first_run_init (PstFirstRun *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  pst_a11y_name_fields (GTK_WIDGET (self));
  g_signal_connect (self, "response", G_CALLBACK (on_response), NULL);
  g_signal_connect (self, "delete-event", G_CALLBACK (on_delete_event), NULL);
  g_signal_connect_swapped (self->key_setup, "checked", G_CALLBACK (on_key_checked), self);
  g_signal_connect_swapped (self->key_setup, "created", G_CALLBACK (on_key_created), self);
}

PstFirstRun *
pst_first_run_new (GtkWindow *parent, PstAgentLink *agent)
{
  PstFirstRun *self = g_object_new (PST_TYPE_FIRST_RUN, "transient-for", parent, "use-header-bar", TRUE,
                                    "destroy-with-parent", TRUE, NULL);
  GtkWidget *bar = gtk_dialog_get_header_bar (GTK_DIALOG (self));

  self->agent = g_object_ref (agent);
  self->cancel_button = gtk_button_new_with_mnemonic (_("_Cancel"));
  self->next_button = gtk_button_new_with_mnemonic (_("_Next"));
  gtk_style_context_add_class (gtk_widget_get_style_context (self->next_button), "suggested-action");
  gtk_header_bar_pack_start (GTK_HEADER_BAR (bar), self->cancel_button);
  gtk_header_bar_pack_end (GTK_HEADER_BAR (bar), self->next_button);
  gtk_header_bar_set_show_close_button (GTK_HEADER_BAR (bar), FALSE);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (on_close), self);
  g_signal_connect_swapped (self->next_button, "clicked", G_CALLBACK (on_next), self);
  gtk_widget_set_can_default (self->next_button, TRUE);
  gtk_widget_show (self->cancel_button);
  gtk_widget_show (self->next_button);
  gtk_window_set_default (GTK_WINDOW (self), self->next_button);
  show_step (self, STEP_ACCOUNT);
  return self;
}
