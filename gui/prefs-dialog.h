/* prefs-dialog.h — the agent's settings a user changes: the scan hook
 * ([general] scan, on_scan_error, scan_timeout) and, per account, the fetch
 * interval and the sending limits.  Saved through the agent (config.set,
 * account.update), which checks every value. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_PREFS_DIALOG (pst_prefs_dialog_get_type ())
G_DECLARE_FINAL_TYPE (PstPrefsDialog, pst_prefs_dialog, PST, PREFS_DIALOG, GtkDialog)

PstPrefsDialog *pst_prefs_dialog_new (GtkWindow *parent, PstAgentLink *agent);

G_END_DECLS
