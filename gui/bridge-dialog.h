/* bridge-dialog.h — what another mail program needs to use Postern as its
 * server (DESIGN.md §14, the local bridge): the SMTP and POP3 addresses on
 * loopback, the account's bridge user and password and the path of the
 * bridge's CA certificate, each with a Copy button; when the bridge is
 * off, how to turn it on. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

/* A dialog for account @account; it asks the agent (bridge.credentials)
 * when it opens. */
GtkWidget *pst_bridge_dialog_new (GtkWindow *parent, PstAgentLink *agent, const char *account);

G_END_DECLS
