/* methods-keys.h — what the keys methods do outside a request. */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* Unlocks, in a thread of its own, the S/MIME identities whose keys are
 * sealed under a key in the Secret Service (DESIGN.md §10); those under a
 * passphrase wait for keys.unlock.  Call once the agent is set up. */
void pst_keys_unlock_at_start (PstAgent *agent);

G_END_DECLS
