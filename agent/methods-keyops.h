/* methods-keyops.h — what methods-keys.c asks of methods-keyops.c: the
 * S/MIME half of keys.generate, and what keys.generate and keys.import
 * record of the keys the user made. */
#pragma once

#include "call.h"
#include "crypto/smime.h"

G_BEGIN_DECLS

/* keys.generate with scheme "smime": a key and its certificate request
 * (docs/socket-api.md). */
JsonObject *pst_keys_generate_smime (PstCall *call, GError **error);

/* Records in the store that the user made OpenPGP key @fingerprint for
 * @address (source "generated"); a failure is logged, not returned. */
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
