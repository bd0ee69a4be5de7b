/* keys.h — what the store knows about keys (DESIGN.md §14): where each key
 * came from, which key an address has now and which one it replaced, and
 * the Autocrypt Level 1 peer state.  The keys themselves live in their
 * keyrings (gpg's, the S/MIME store); these tables hold what the keyrings
 * cannot say.
 *
 * Schemes are "pgp" and "smime"; fingerprints as the keyrings write them
 * (upper-case hex); addresses are compared and kept lower-cased.
 */
#pragma once

#include "store/store.h"

G_BEGIN_DECLS

typedef enum {
  PST_KEY_SOURCE_IMPORTED,   /* keys import, or in the keyring before Postern recorded sources */
  PST_KEY_SOURCE_GENERATED,  /* keys generate */
  PST_KEY_SOURCE_AUTOCRYPT,  /* an Autocrypt header */
  PST_KEY_SOURCE_GOSSIP,     /* an Autocrypt-Gossip header inside encrypted mail */
  PST_KEY_SOURCE_WKD,        /* a Web Key Directory */
  PST_KEY_SOURCE_HARVESTED,  /* an S/MIME signature with a valid chain */
} PstKeySource;

/* "imported", "generated", "autocrypt", "gossip", "wkd", "harvested". */
const char *pst_key_source_to_string (PstKeySource source);
gboolean pst_key_source_from_string (const char *text, PstKeySource *out);
/* Whether @source is the user's own doing (imported, generated) rather
 * than something Postern discovered. */
gboolean pst_key_source_is_explicit (PstKeySource source);

/* Records that @fingerprint is @address's key in @scheme now, learned from
 * @source at @now:
 *   - the key's source: a discovered source never overrides an explicit
 *     one; an explicit one overrides a discovered one; last_seen moves on;
 *   - the binding: when @address had another key (the store's binding, or,
 *     when the store has none yet, @previous as the caller found it in the
 *     keyring), a discovered key is recorded as replacing it and
 *     @changed_out (may be NULL) says TRUE; an explicit source (the user
 *     imported or made the key) replaces without the record, and clears
 *     one left by an earlier discovered change of the same key (the user
 *     has vouched for it); so does a harvested S/MIME certificate, whose
 *     valid chain a trusted CA vouches for.
 * Errors: PST_ERROR_FAILED when the store fails (nothing is recorded). */
gboolean pst_store_key_learn (PstStore *store, const char *scheme, const char *address,
                              const char *fingerprint, PstKeySource source, const char *previous,
                              gint64 now, gboolean *changed_out, GError **error);

typedef struct {
  PstKeySource source;
  gint64 first_seen;
  gint64 last_seen;
} PstKeyRecord;

/* What the store knows of @fingerprint; FALSE with no error when nothing
 * (a key in the keyring from before: imported, times unknown). */
gboolean pst_store_key_record (PstStore *store, const char *scheme, const char *fingerprint,
                               PstKeyRecord *record_out, GError **error);

/* The key @address has in @scheme per the bindings, or NULL (no error) when
 * none; @replaces_out (may be NULL) gets the key it replaced by a discovered
 * change that nobody vouched for, or NULL.  Transfer full. */
char *pst_store_key_binding (PstStore *store, const char *scheme, const char *address,
                             char **replaces_out, GError **error);

/* The key that @fingerprint replaced for some address (the record above),
 * or NULL (no error) when it replaced none.  Transfer full. */
char *pst_store_key_replaced (PstStore *store, const char *scheme, const char *fingerprint,
                              GError **error);

/* Forgets @fingerprint: its source and every binding to it (after keys
 * remove). */
gboolean pst_store_key_forget (PstStore *store, const char *scheme, const char *fingerprint,
                               GError **error);

/* Records that the message with Message-ID @message_id ("<…>": the outer
 * one, or the protected one) arrived encrypted. */
gboolean pst_store_note_encrypted_message (PstStore *store, const char *message_id, gint64 now,
                                           GError **error);
/* Whether a message with outer Message-ID @message_id arrived encrypted. */
gboolean pst_store_is_encrypted_message (PstStore *store, const char *message_id);

/* The Autocrypt Level 1 peer state of one address (autocrypt.org/level1,
 * §2.3).  Times are the effective dates of messages, unix seconds. */
typedef struct {
  char *addr;                  /* lower-cased */
  gint64 last_seen;
  gint64 autocrypt_timestamp;
  char *fingerprint;           /* the public key of the last Autocrypt header; NULL: none */
  GBytes *keydata;             /* that key as sent (binary OpenPGP) */
  gboolean mutual;             /* prefer-encrypt=mutual */
  gint64 gossip_timestamp;
  char *gossip_fingerprint;    /* NULL: none */
  GBytes *gossip_keydata;
} PstAutocryptPeer;

void pst_autocrypt_peer_free (PstAutocryptPeer *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstAutocryptPeer, pst_autocrypt_peer_free)

/* The state of @addr, or NULL (no error) when there is none.  Transfer full. */
PstAutocryptPeer *pst_store_peer_get (PstStore *store, const char *addr, GError **error);
/* Writes @peer's state (replacing what there was for its address). */
gboolean pst_store_peer_put (PstStore *store, const PstAutocryptPeer *peer, GError **error);

G_END_DECLS
