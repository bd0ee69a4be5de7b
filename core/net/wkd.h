/* wkd.h — the HTTPS side of the OpenPGP Web Key Directory
 * (draft-koch-openpgp-webkey-service, §3.1): where a key for an address is
 * published, and fetching it within a deadline.
 *
 * Rules (all in wkd.c):
 *   - HTTPS only, TLS 1.2 or newer, the chain verified against the system
 *     trust store plus an optional CA file, the host name verified; no
 *     proxy; redirects followed only to https URLs, at most 3;
 *   - the advanced method first; the direct method only when the advanced
 *     host cannot be used at all (its name does not resolve, nothing
 *     listens on it, or its certificate is not valid for it, as with a
 *     wildcard DNS entry): an HTTP answer of the advanced host, 404
 *     included, is the domain's answer, and so is a timeout;
 *   - one deadline for everything (name resolution, both methods, every
 *     address of a call), and a cap on the size of an answer.
 * What comes back is not checked here: pst_pgp_keys_import_for_address
 * (crypto/pgp-keys.h) takes only what binds the address.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum { PST_WKD_ADVANCED, PST_WKD_DIRECT } PstWkdMethod;

/* "advanced" or "direct".  Static. */
const char *pst_wkd_method_name (PstWkdMethod method);

/* The hashed local part of the draft: the z-base-32 encoding (32
 * characters) of the SHA-1 of @local_part mapped to lower case (ASCII).
 * Transfer full. */
char *pst_wkd_hash (const char *local_part);

/* The URL of @address's key by @method, e.g.
 * https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/HASH?l=LOCAL.
 * Errors: PST_ERROR_USAGE when @address is not a plain addr-spec with a
 * host name as domain.  Transfer full. */
char *pst_wkd_url (const char *address, PstWkdMethod method, GError **error);

/* The defaults of PstWkdOptions. */
#define PST_WKD_DEFAULT_TIMEOUT_MS 5000
#define PST_WKD_MAX_KEY_SIZE (512 * 1024)

typedef struct {
  const char *ca_file;   /* PEM bundle trusted besides the system store, or NULL */
  guint timeout_ms;      /* the whole call; 0: PST_WKD_DEFAULT_TIMEOUT_MS */
  gsize max_size;        /* of one answer; 0: PST_WKD_MAX_KEY_SIZE */
} PstWkdOptions;

typedef struct {
  char *address;
  GBytes *key;           /* the answer's body (200), unchecked; NULL when none */
  PstWkdMethod method;   /* the method that answered, or the last one tried */
  GError *error;         /* when key is NULL: PST_ERROR_POLICY the directory has no key
                          * for the address (404, 410, an empty answer);
                          * PST_ERROR_NETWORK it could not be asked (name, connection,
                          * TLS, timeout, an answer too large, another HTTP status);
                          * PST_ERROR_USAGE not an address */
} PstWkdAnswer;

void pst_wkd_answer_free (PstWkdAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstWkdAnswer, pst_wkd_answer_free)

/* Looks up the keys of @addresses (NULL-terminated) at once, in parallel,
 * and returns within @options' deadline (plus the time to stop, a few
 * milliseconds).  A GPtrArray of PstWkdAnswer, one per address in order.
 * Blocking; safe to call from several threads at once.  Transfer full. */
GPtrArray *pst_wkd_fetch (const char *const *addresses, const PstWkdOptions *options);

G_END_DECLS
