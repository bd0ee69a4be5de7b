/* first-run.h — the assistant that postern-gtk opens instead of an empty
 * window when there is no account yet.  Three steps, each a page of one
 * dialog with the header bar's buttons: the account (name, address,
 * password; the servers guessed from the address, in an expander), tested
 * and added as the account dialog does (account-form.h: the same
 * account.test with the login, the same words, the same pin offer); the
 * address's OpenPGP key, found in the agent's keyring or created
 * (key-setup.h, keys.generate), with the choice of a passphrase explained;
 * then the offer of a first signed mail to oneself, in a compose window.
 * The agent is started when it is not running.  Cancelling leaves the
 * main window as it is. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_FIRST_RUN (pst_first_run_get_type ())
G_DECLARE_FINAL_TYPE (PstFirstRun, pst_first_run, PST, FIRST_RUN, GtkDialog)

/* Whether this is a first run: the configuration file of @home (NULL:
 * POSTERN_HOME, else XDG; see config/paths.h) holds no account.  Read from
 * the file, not asked of the agent, so that it is known before any agent
 * runs; a file that cannot be read is not a first run (the agent will say
 * what is wrong with it). */
gboolean pst_first_run_needed (const char *home);

/* The assistant, transient for @parent (the main window), talking to
 * @agent (a reference is kept).  Shown by the caller. */
PstFirstRun *pst_first_run_new (GtkWindow *parent, PstAgentLink *agent);

G_END_DECLS
