/* locate.h — finding the OpenPGP keys of addresses the keyring has none
 * for, in their Web Key Directory (DESIGN.md §14, net/wkd.h): for send
 * and keys.check before the policy decides (protect.c), and for keys.locate.
 *
 * What a lookup finds is imported with only the user ids of the address
 * (crypto/pgp-keys.h pst_pgp_keys_import_for_address) and recorded in the
 * store with the source "wkd" (store/keys.h pst_store_key_learn); a key
 * served for another address is refused.  Found keys need no cache of
 * their own: they are in the keyring.  Misses are remembered in the
 * agent's memory: an address the directory has no key for (or whose key
 * was refused) for PST_LOCATE_MISS_TTL seconds, one whose directory could
 * not be asked (network, TLS, timeout) for PST_LOCATE_FAILURE_TTL, so that
 * the next sends to it do not wait again.
 */
#pragma once

#include "agent.h"
#include "net/wkd.h"

G_BEGIN_DECLS

#define PST_LOCATE_MISS_TTL 3600
#define PST_LOCATE_FAILURE_TTL 600

/* The miss cache.  Thread-safe. */
PstLocator *pst_locator_new (void);
void pst_locator_free (PstLocator *locator);

typedef enum {
  PST_LOCATE_SEND,   /* send, keys.check: nothing when [general] wkd = false; a remembered
                      * miss is answered from memory */
  PST_LOCATE_NOW,    /* keys.locate: ask now, whatever the setting and the cache */
} PstLocateMode;

typedef struct {
  char *address;
  char *fingerprint;     /* the key imported and recorded, or NULL */
  PstWkdMethod method;   /* the method that answered, or the last one tried */
  char *replaced;        /* the key the address had before, when it was another; or NULL */
  gboolean from_cache;   /* a remembered miss: nothing was asked */
  gint64 at;             /* when it was looked up (unix seconds) */
  GError *error;         /* why nothing was imported: PST_ERROR_POLICY none there or
                          * refused (a key for another address), PST_ERROR_NETWORK
                          * the directory could not be asked, PST_ERROR_CRYPTO gpg
                          * failed, PST_ERROR_USAGE not an address */
} PstLocated;

void pst_located_free (PstLocated *located);

/* Looks @addresses (NULL-terminated) up at once, within the deadline of
 * [general] wkd_timeout for all of them together (plus the imports, a gpg
 * run each), and imports what binds each address.  One PstLocated per
 * address, in order, without duplicates; empty in PST_LOCATE_SEND mode
 * when [general] wkd = false.  Uses agent->locator's cache when there is
 * one.  Transfer full. */
GPtrArray *pst_locator_run (PstAgent *agent, const char *const *addresses, PstLocateMode mode);

G_END_DECLS
