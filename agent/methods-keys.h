/* methods-keys.h — what the keys methods do outside a request. */
#pragma once

#include "call.h"
#include "crypto/smime.h"

G_BEGIN_DECLS

/* Unlocks, in a thread of its own, the S/MIME identities whose keys are
 * sealed under a key in the Secret Service (DESIGN.md §10); those under a
 * passphrase wait for keys.unlock.  Call once the agent is set up. */
void pst_keys_unlock_at_start (PstAgent *agent);

/* Shared by the keys methods (methods-keys.c). */
/* The first line @fd holds, as secret bytes.  Transfer full. */
GBytes *pst_keys_read_passphrase (int fd, GError **error);
/* The S/MIME store, attached to the agent's keyring.  Transfer full. */
PstSmime *pst_keys_smime_open (PstAgent *agent, GError **error);
/* A random key (64 hex digits) to seal a private key under, for the Secret
 * Service.  Transfer full; wipe with pst_secret_free. */
char *pst_keys_random_wrap_key (GError **error);

/* methods-keyops.c */
/* keys.generate with scheme "smime": a key and its certificate request. */
JsonObject *pst_keys_generate_smime (PstCall *call, GError **error);
/* Records the source of an OpenPGP key keys.generate made. */
void pst_keys_learn_generated_pgp (PstAgent *agent, const char *address, const char *fingerprint);
/* After keys.import of certificates into @smime: each identity of
 * @imported (PstSmimeCertInfo) made from a request now is recorded as
 * generated, and unlocked when it can be: with its Secret Service key
 * (moved from the request's id to the certificate's fingerprint) or with
 * @passphrase (the one given to the import, may be NULL); its info's
 * locked says how it is left. */
void pst_keys_adopt_requests (PstAgent *agent, PstSmime *smime, GPtrArray *imported,
                              GBytes *passphrase);

G_END_DECLS
