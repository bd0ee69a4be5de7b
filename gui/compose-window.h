/* compose-window.h — writing a message: From (one of the accounts), To,
 * Cc, Bcc, Subject, text, attachments; encrypt and sign follow the
 * account's policy until the user changes them, and every recipient shows
 * whether a key or certificate is known for them, as the agent's policy
 * sees it (keys.check), where the OpenPGP key came from, and, as a problem,
 * that it changed; when Autocrypt does not recommend encrypting to some of
 * them, that is why it goes unencrypted.  When the policy refuses (encrypt always, a key
 * missing) Send is disabled and the reason shown.  Send queues the message
 * in the agent's outbox and closes the window. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"
#include "mailto.h"
#include "mime/mime.h"

G_BEGIN_DECLS

#define PST_TYPE_COMPOSE_WINDOW (pst_compose_window_get_type ())
G_DECLARE_FINAL_TYPE (PstComposeWindow, pst_compose_window, PST, COMPOSE_WINDOW, GtkApplicationWindow)

PstComposeWindow *pst_compose_window_new (GtkApplication *app, PstAgentLink *agent);

/* Fills the fields from a mailto: link (the fields it may set; see
 * mailto.h), and says what it ignored. */
void pst_compose_window_fill (PstComposeWindow *window, const PstMailto *mailto);

/* Fills the fields from a draft that the agent wrote (`reply`, `forward`):
 * To, Cc, Subject, the text, In-Reply-To and References (so that `send`
 * keeps an answer to encrypted mail encrypted) and, with @forward, the
 * forwarded message (its first attachment). */
void pst_compose_window_fill_draft (PstComposeWindow *window, PstMimeMessage *draft, gboolean forward);

/* Fills the fields from draft @id (drafts.get) as fill_draft does, its
 * attachments too, and keeps it: saved again in its place, deleted when
 * the message is sent.  Every window saves what is typed in it as a draft
 * (encrypted to the account's own key by the agent) every minute while it
 * changes, and when it is closed. */
void pst_compose_window_resume_draft (PstComposeWindow *window, PstMimeMessage *draft, gint64 id);

G_END_DECLS
