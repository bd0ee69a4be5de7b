/* autocrypt.h — Autocrypt Level 1 (https://autocrypt.org/level1.html):
 * the header's grammar, the peer state's update rules and the
 * recommendation, as pure functions.  The keys themselves go through
 * pgp-autocrypt.c, the state through store/keys.h.
 *
 * Postern's choices where the spec leaves them:
 *   - a header with an unknown critical attribute (no leading '_') is
 *     invalid; "type=1" (Level 0) is accepted, any other type is not;
 *   - a prefer-encrypt value other than "mutual" is nopreference;
 *   - keydata is at most PST_AUTOCRYPT_MAX_KEYDATA bytes once decoded.
 */
#pragma once

#include <glib.h>
#include "store/keys.h"

G_BEGIN_DECLS

#define PST_AUTOCRYPT_MAX_KEYDATA (64 * 1024)
/* A peer's Autocrypt key is stale once this long older than the last mail
 * seen from it (Level 1 §2.4: discourage). */
#define PST_AUTOCRYPT_STALE_SECONDS (35 * 24 * 3600)

typedef struct {
  char *addr;          /* as written */
  gboolean mutual;     /* prefer-encrypt=mutual */
  GBytes *keydata;     /* decoded, binary OpenPGP */
} PstAutocryptHeader;

void pst_autocrypt_header_free (PstAutocryptHeader *header);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstAutocryptHeader, pst_autocrypt_header_free)

/* Parses the value of an Autocrypt: or Autocrypt-Gossip: field (unfolded or
 * not).  Errors: PST_ERROR_FAILED saying what is wrong (no addr, no
 * keydata, keydata not base64, an unknown critical attribute…).  Transfer
 * full. */
PstAutocryptHeader *pst_autocrypt_header_parse (const char *value, GError **error);

/* The value of an Autocrypt: field (also Autocrypt-Gossip: with @gossip,
 * which has no prefer-encrypt), folded for a header at most 78 characters
 * wide (the field name "Autocrypt: " or "Autocrypt-Gossip: " not
 * included), lines separated by CRLF and a space.  Transfer full. */
char *pst_autocrypt_header_format (const char *addr, gboolean mutual, GBytes *keydata,
                                   gboolean gossip);

/* What one incoming message says, for the update of Level 1 §2.3. */
typedef struct {
  const char *from;                /* the single From address, NULL when the From
                                    * field is absent or has several mailboxes */
  gint64 date;                     /* the Date field, unix seconds; 0 when absent or bad */
  gboolean report;                 /* Content-Type multipart/report */
  const char *const *headers;      /* values of its outer Autocrypt fields (NULL-terminated) */
} PstAutocryptMessage;

typedef enum {
  PST_AUTOCRYPT_IGNORED,       /* nothing changed (why: see @why_out) */
  PST_AUTOCRYPT_SEEN,          /* last_seen moved on, no (new) key */
  PST_AUTOCRYPT_KEY,           /* a header was taken: key and prefer-encrypt set */
} PstAutocryptUpdate;

/* Applies @msg to @peer (the From address's state; may be NULL: none yet)
 * at @now.  Returns the new state in *@peer_out (transfer full; NULL when
 * IGNORED) and, when KEY, the header taken in *@header_out (transfer full).
 * @why_out (may be NULL) gets a static reason when IGNORED or when headers
 * were present but none was taken ("no single From address", "older than
 * the last Autocrypt header seen", "addr does not equal From"…). */
PstAutocryptUpdate pst_autocrypt_update (const PstAutocryptPeer *peer,
                                         const PstAutocryptMessage *msg, gint64 now,
                                         PstAutocryptPeer **peer_out,
                                         PstAutocryptHeader **header_out, const char **why_out);

/* Applies one Autocrypt-Gossip header @value, found inside the encryption
 * of a message with effective date @date whose To/Cc are @recipients, to
 * @peer (the gossiped address's state, may be NULL).  Returns the new
 * state (transfer full) and the parsed header, or NULL when ignored
 * (@why_out as above): the addr not among the recipients, not newer than
 * the gossip known, not a valid header. */
PstAutocryptPeer *pst_autocrypt_gossip (const PstAutocryptPeer *peer, const char *value,
                                        gint64 date, const char *const *recipients, gint64 now,
                                        PstAutocryptHeader **header_out, const char **why_out);

typedef enum {
  PST_AUTOCRYPT_DISABLE,
  PST_AUTOCRYPT_DISCOURAGE,
  PST_AUTOCRYPT_AVAILABLE,
  PST_AUTOCRYPT_ENCRYPT,
} PstAutocryptRecommendation;

/* Level 1 §2.4 for one recipient: @peer its state (NULL: none),
 * @key_usable whether its key (Autocrypt, else gossip) can encrypt now,
 * @own_mutual the sender account's prefer-encrypt, @reply_to_encrypted
 * whether the message replies to an encrypted one. */
PstAutocryptRecommendation pst_autocrypt_recommend (const PstAutocryptPeer *peer,
                                                    gboolean key_usable, gboolean own_mutual,
                                                    gboolean reply_to_encrypted);
/* Several recipients: disable if any is, encrypt if all are, else
 * discourage if any is, else available (Level 1 §2.4.4). */
PstAutocryptRecommendation pst_autocrypt_combine (const PstAutocryptRecommendation *each, guint n);
/* "disable", "discourage", "available", "encrypt". */
const char *pst_autocrypt_recommendation_to_string (PstAutocryptRecommendation r);

G_END_DECLS
