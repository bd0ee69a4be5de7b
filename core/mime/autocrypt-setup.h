/* autocrypt-setup.h — the Autocrypt Setup Message (Autocrypt Level 1,
 * "Autocrypt Setup Message"): the format only, built and parsed.  The
 * OpenPGP work (exporting the secret key, encrypting it under the Setup
 * Code, decrypting) is pgp-keys.h's; this file never sees a key in the
 * clear except to cut it out of decrypted text.
 *
 * Security rules:
 *   - a Setup Code comes from getrandom(2), each digit uniform (rejection
 *     sampling), and is wiped when freed (pst_secret_free);
 *   - a message is a setup message only when all of the spec's structure is
 *     there: `Autocrypt-Setup-Message: v1`, one From mailbox, To the same
 *     single address, multipart/mixed whose second part is
 *     application/autocrypt-setup holding one armored PGP MESSAGE;
 *   - the encrypted payload must be symmetrically encrypted only: its
 *     packets are one or more Symmetric-Key Encrypted Session Keys, then
 *     the encrypted data.  A Public-Key Encrypted Session Key would let the
 *     recipient's own key decrypt it without the code, and the code is what
 *     authenticates the message (GnuPG T3277).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The Setup Code: 36 digits in nine blocks of four joined by dashes, the
 * dashes part of the passphrase. */
#define PST_SETUP_CODE_DIGITS 36
#define PST_SETUP_CODE_LEN (PST_SETUP_CODE_DIGITS + 8)

/* A new Setup Code, "NNNN-NNNN-…-NNNN".  Errors: PST_ERROR_FAILED when the
 * kernel gives no random bytes.  Transfer full; free with pst_secret_free. */
char *pst_setup_code_new (GError **error);

/* @digits (exactly 36 decimal digits, nothing else) as a Setup Code.
 * The pure half of pst_setup_code_new.  Transfer full (pst_secret_free). */
char *pst_setup_code_from_digits (const char *digits);

/* The Setup Code that @text (@len bytes, not NUL-terminated) holds, as a
 * user may type it: 36 digits, with or without dashes, spaces, tabs and
 * line ends between them.  Errors: PST_ERROR_USAGE naming what is wrong
 * (never echoing the digits).  Transfer full (pst_secret_free). */
char *pst_setup_code_parse (const char *text, gsize len, GError **error);

/* @code's first two digits, for the Passphrase-Begin armor header.
 * Transfer full. */
char *pst_setup_code_begin (const char *code);

/* The armored OpenPGP message @armored (from its BEGIN line) with the armor
 * headers "Passphrase-Format: numeric9x4" and "Passphrase-Begin: @begin"
 * put after the BEGIN line, line ends CRLF.  Errors: PST_ERROR_FAILED when
 * @armored is no armored PGP MESSAGE.  Transfer full. */
char *pst_setup_armor_add_headers (const char *armored, const char *begin, GError **error);

/* Checks the packets of the armored message @armored (the first "-----BEGIN
 * PGP MESSAGE-----" block in @len bytes): one or more Symmetric-Key
 * Encrypted Session Key packets, then Symmetrically Encrypted Integrity
 * Protected (or AEAD) data; no Public-Key Encrypted Session Key.  With
 * @strict (what Postern makes), each session key packet is version 4 with
 * AES-128 or AES-256 and the iterated and salted S2K, as the spec demands.
 * Errors: PST_ERROR_FAILED saying what was found. */
gboolean pst_setup_check_packets (const char *armored, gsize len, gboolean strict,
                                  GError **error);

/* The whole Setup Message of @address: From and To @address, Subject,
 * Date @date, `Autocrypt-Setup-Message: v1`, multipart/mixed with a
 * text/plain description and the application/autocrypt-setup attachment
 * holding @payload (the armored, encrypted key with its armor headers).
 * @begin (may be NULL) is named in the description.  CRLF line ends, 7bit.
 * Transfer full. */
GBytes *pst_setup_message_build (const char *address, const char *payload, const char *begin,
                                 GDateTime *date);

/* Reads @message as a Setup Message.  @address_out: its address (From,
 * equal to To), @armored_out: the armored PGP MESSAGE block of its
 * application/autocrypt-setup part (text around it dropped), @begin_out
 * (may be NULL): the Passphrase-Begin armor header, or NULL when absent.
 * Only the MIME structure is read; nothing is decrypted.  Errors:
 * PST_ERROR_FAILED, "not an Autocrypt Setup Message: WHY".  All transfer
 * full, set only on success. */
gboolean pst_setup_message_parse (GBytes *message, char **address_out, char **armored_out,
                                  char **begin_out, GError **error);

/* The transferable secret key at the start of decrypted payload @plain:
 * from its "-----BEGIN PGP PRIVATE KEY BLOCK-----" line (only white space
 * before it) to the end of its first END line; what follows is dropped, as
 * the spec says.  Errors: PST_ERROR_FAILED when @plain begins with no
 * armored secret key.  Transfer full, secret bytes (wiped when freed). */
GBytes *pst_setup_payload_key (GBytes *plain, GError **error);

G_END_DECLS
