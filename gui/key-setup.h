/* key-setup.h — an address's own OpenPGP key: whether it has one (keys.list)
 * and, when it has none, "Create an OpenPGP key" with the choice of a
 * passphrase (typed twice) or, ticked explicitly, none.  The key is made by
 * the agent (keys.generate, the passphrase over a pipe as the CLI passes
 * it), on a worker thread of the agent link, and the result is said in
 * words: the fingerprint, that mail is now signed, that others get the key
 * with every message (Autocrypt), when it expires.  Part of the account
 * dialog. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_KEY_SETUP (pst_key_setup_get_type ())
G_DECLARE_FINAL_TYPE (PstKeySetup, pst_key_setup, PST, KEY_SETUP, GtkBox)

/* Signals, on the main loop:
 *   "checked" (gboolean has_key) — the agent said whether the address has
 *       a usable OpenPGP secret key (not emitted when it could not be asked);
 *   "created" () — keys.generate made the key. */
PstKeySetup *pst_key_setup_new (void);

/* Asks the agent (@agent, a reference is kept) whether @address has a key
 * of its own, and shows the result: the key, or the offer to create one.
 * @heading (may be NULL) is shown above it, e.g. that the account was
 * added. */
void pst_key_setup_check (PstKeySetup *setup, PstAgentLink *agent, const char *address, const char *heading);

/* Whether the agent is making the key now: the owner should not close. */
gboolean pst_key_setup_is_busy (PstKeySetup *setup);

G_END_DECLS
