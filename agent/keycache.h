/* keycache.h — remembering what is slow to find out.
 *
 * An OpenPGP key lookup runs gpg (about 17 ms each); an S/MIME store loads
 * its certificates and trust anchors from disk.  The agent asks the same
 * questions for every message of a batch, so it keeps the answers for a
 * short while (PST_KEY_CACHE_TTL seconds) and forgets them at once when keys
 * are imported or removed through it.  Keys changed behind its back (gpg
 * --import) are seen after the TTL at the latest.  Thread-safe.
 */
#pragma once

#include "crypto/smime.h"
#include "crypto/status.h"

G_BEGIN_DECLS

#define PST_KEY_CACHE_TTL 30

typedef struct _PstKeyCache PstKeyCache;

PstKeyCache *pst_key_cache_new (void);
void pst_key_cache_free (PstKeyCache *cache);

/* Forgets everything (after keys.import, keys.remove). */
void pst_key_cache_invalidate (PstKeyCache *cache);

/* 1 yes, 0 no, -1 not known: whether @address has a key (@identity FALSE)
 * or an identity to sign with (@identity TRUE) in @scheme. */
int pst_key_cache_lookup (PstKeyCache *cache, PstScheme scheme, const char *address,
                          gboolean identity);
void pst_key_cache_store (PstKeyCache *cache, PstScheme scheme, const char *address,
                          gboolean identity, gboolean value);

/* The unlocked S/MIME private keys of the agent (DESIGN.md §10: in memory
 * only).  Owned by the cache, lives as long as it; every store the cache
 * lends is attached to it. */
PstSmimeKeyring *pst_key_cache_get_keyring (PstKeyCache *cache);

/* An S/MIME store lent by the cache: opened on the directory given, fresh
 * or from the pool (a PstSmime is not thread-safe: the borrower has it
 * alone until it gives it back). */
typedef struct _PstSmimeLease PstSmimeLease;

PstSmimeLease *pst_key_cache_take_smime (PstKeyCache *cache, const char *dir, GError **error);
/* The store of @lease; owned by the lease. */
PstSmime *pst_smime_lease_get (PstSmimeLease *lease);
/* Gives @lease back (the store returns to the pool while it is fresh). */
void pst_key_cache_return_smime (PstKeyCache *cache, PstSmimeLease *lease);

G_END_DECLS
