/* key-words.h — the GUI's words about keys: where a recipient's key came
 * from and whether it changed (the compose window's marks, from keys.check),
 * whether an address has an OpenPGP key of its own (keys.list), and what
 * keys.generate did.  No GTK here, so that the unit tests read the same
 * words.  Everything that came from the agent is passed through
 * pst_verdict_safe_text() before it is shown. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The colour of a problem in the compose window's marks (style.css
 * .pst-key-missing). */
#define PST_KEY_PROBLEM_COLOUR "#a40000"

/* Where a recipient's OpenPGP key came from, in words ("from their Web Key
 * Directory"), for keys.check's recipients[].source; NULL for NULL or an
 * unknown source.  Static, translated. */
const char *pst_key_source_words (const char *source);

/* A 40-digit fingerprint in groups of four ("ABCD 1234 …"); anything else
 * made safe and returned as it is.  NULL gives "".  Transfer full. */
char *pst_key_fingerprint_grouped (const char *fingerprint);

/* The compose window's marks for a keys.check result: one line per
 * recipient, Pango markup, each saying whether a key or certificate is
 * known, where the OpenPGP key came from, and, in the problem colour, that
 * it changed, or that it blocks the answer to encrypted mail
 * (pst_key_reply_blocked_words).  Transfer full. */
char *pst_key_marks_markup (JsonObject *check);

/* keys.check's not_recommended as one sentence ("It will NOT be encrypted:
 * Autocrypt does not recommend encrypting to …"), or NULL when it lists
 * nobody or the message will be encrypted anyway.  Transfer full. */
char *pst_key_not_recommended_words (JsonObject *check);

/* When keys.check refused an answer to (or forward of, @forward) mail that
 * arrived encrypted because recipients have no key — reply_to_encrypted,
 * refused, and recipients with a problem — the
 * reason in words: "No key for bob@example.org: the reply to an encrypted
 * message cannot go out in the clear."  NULL otherwise.  Transfer full. */
char *pst_key_reply_blocked_words (JsonObject *check, gboolean forward);

/* What unticking Encrypt on an answer to (or forward of, @forward) mail
 * that arrived encrypted would do, in words for a warning: its quoted text
 * goes out in the clear, readable by the mail providers.  Static,
 * translated. */
const char *pst_key_reply_clear_warning (gboolean forward);

/* The usable OpenPGP key with its secret part that @keys (a keys.list
 * result) has for @address: scheme pgp, secret, valid, the address among
 * its addresses.  NULL when there is none.  Owned by @keys. */
JsonObject *pst_key_find_own (JsonObject *keys, const char *address);

/* What a key found by pst_key_find_own means for @address, in a few
 * sentences.  Transfer full. */
char *pst_key_describe_own (JsonObject *key, const char *address);

/* What keys.generate did (@result: {fingerprint, address, expires}), in a
 * few sentences: the fingerprint in groups of four, that mail from the
 * address is now signed, that others get the key with every message
 * (Autocrypt), and when it expires.  Transfer full. */
char *pst_key_describe_generated (JsonObject *result);

/* Whether a passphrase choice may go to keys.generate: @none (no
 * passphrase, ticked explicitly), or @first equal to @again, not empty and
 * on one line.  FALSE with @error (PST_ERROR_USAGE, one sentence for the
 * user) otherwise. */
gboolean pst_key_check_passphrase (const char *first, const char *again, gboolean none, GError **error);

G_END_DECLS
