/* account-dialog.h — setting up an account: address, servers (ports and TLS
 * chosen sensibly), user and password (kept in the Secret Service, or a
 * command that prints it).  "Test connection" shows each server's TLS
 * version, certificate subject, issuer and SPKI pin and tries the login;
 * a server whose certificate no authority vouches for is pinned only after
 * the user says so.  A refused login shows the server's words and keeps
 * everything typed.  Once the account is added, the dialog looks for the
 * address's OpenPGP key and, when it has none, offers to create one
 * (key-setup.h); with a key it closes. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_ACCOUNT_DIALOG (pst_account_dialog_get_type ())
G_DECLARE_FINAL_TYPE (PstAccountDialog, pst_account_dialog, PST, ACCOUNT_DIALOG, GtkDialog)

PstAccountDialog *pst_account_dialog_new (GtkWindow *parent, PstAgentLink *agent);

/* The dialog for the existing account @name at @address, at its second
 * step: the address's OpenPGP key, or the offer to create one. */
PstAccountDialog *pst_account_dialog_new_for_key (GtkWindow *parent, PstAgentLink *agent, const char *name,
                                                  const char *address);

/* An account.test result in words: pst_account_form_describe_test.
 * Transfer full. */
char *pst_account_dialog_describe_test (JsonObject *result);

G_END_DECLS
