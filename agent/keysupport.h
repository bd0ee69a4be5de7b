/* keysupport.h — what the keys methods (methods-keys.c, methods-keyops.c)
 * share: the agent's S/MIME store, and the random keys that seal a
 * private key kept under the Secret Service.  (Passphrases from clients:
 * call.h, pst_call_read_passphrase.) */
#pragma once

#include "agent.h"
#include "crypto/smime.h"

G_BEGIN_DECLS

/* The folder of the agent's S/MIME store.  Transfer full. */
char *pst_keys_smime_dir (PstAgent *agent);

/* The S/MIME store, attached to the agent's keyring of unlocked keys.
 * Errors as pst_smime_new.  Transfer full. */
PstSmime *pst_keys_smime_open (PstAgent *agent, GError **error);

/* A fresh random key, 64 hex digits, to seal a private key under when it
 * has no passphrase (the caller keeps it in the Secret Service).  Errors:
 * PST_ERROR_FAILED no random bytes.  Transfer full; wipe with
 * pst_secret_free. */
char *pst_keys_random_wrap_key (GError **error);

G_END_DECLS
