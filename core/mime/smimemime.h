/* smimemime.h — S/MIME (RFC 8551) messages: writing encrypted and signed
 * mail, and the S/MIME layers of the message reader (mime/reader.h), which
 * gives the verdict (DESIGN.md §4, scheme "smime").
 *
 * Choices (DESIGN.md §4 leaves these to the scheme):
 *   - integrity: AuthEnvelopedData (AES-GCM) whose tag checks is "ok".
 *     EnvelopedData (AES-CBC) has no MAC: integrity is "ok" when a good
 *     signature covers the whole decrypted content, otherwise "none" (null).
 *     CBC content is never withheld (the §4 withholding rule is for OpenPGP
 *     without MDC, where a standard alternative exists); clients see
 *     integrity null and decide.
 *   - dates (DESIGN.md §4, crypto/status.h): a signingTime more than 15
 *     minutes in the future makes a good signature bad ("date-mismatch");
 *     more than a day from the Date header is only "date-differs".  So
 *     the NSS corpus message alice.future.dsig.SHA256.multipart.eml,
 *     signed 6 hours before its Date, is good (Thunderbird says not good).
 *   - headers shown, From matched, stripped signatures: hp.h, one rule for
 *     both schemes.
 *   - encrypt-then-sign: a signature directly around an encryption layer is
 *     not the message's signature; warning "outer-signature-ignored".
 *   - the outermost signature decides; inner ones give "nested-signature"
 *     and are never promoted, whatever their own verdict.  (Thunderbird
 *     calls a good outer signature "not good" when a detached layer is
 *     nested in it or around it; Postern does not: see
 *     tests/unit/test-smime-corpus.c.)
 *   - other verdict warnings: "weak-digest", "multiple-signers" (several
 *     signerInfos), "no-signer", "econtent-mismatch", "multiple-signatures"
 *     (signed siblings inside an unsigned multipart).
 *   - decryption of every layer that one of the own identities can open,
 *     also below a signature; decrypted text replaces the encrypted entity
 *     in @plain_out only when the encryption covers the whole message.
 */
#pragma once

#include <glib.h>
#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstSmime PstSmime;   /* from crypto/smime.h */

/* Builds the message to send from @message, with the same contract as
 * pst_pgpmime_protect: outer headers kept except Bcc and the Content-*
 * fields; the body entity becomes
 *   - with @sign only: multipart/signed (application/pkcs7-signature,
 *     micalg sha-256/384/512);
 *   - with @encrypt: application/pkcs7-mime; smime-type=enveloped-data
 *     (AES-256-CBC) or authEnveloped-data (AES-256-GCM, only when every
 *     recipient's SMIMECapabilities allow it), to every address in
 *     @recipients and to @sender; with @sign too the multipart/signed entity
 *     is what gets encrypted.
 * Errors: PST_ERROR_POLICY "no S/MIME certificate for: a, b" naming every
 * recipient without a usable certificate, and "no S/MIME identity for: ADDR"
 * for the sender; PST_ERROR_USAGE with neither flag; PST_ERROR_FAILED for a
 * message that cannot be parsed; PST_ERROR_CRYPTO.  Transfer full. */
GBytes *pst_smimemime_protect (PstSmime *smime, GBytes *message, const char *sender,
                               const char *const *recipients, gboolean encrypt, gboolean sign,
                               GError **error);

/* The pieces of what pst_smimemime_protect writes, for smimestream.h,
 * which writes the same messages as streams. */
/* Every refusal before any work: with @encrypt, every address of @to
 * (NULL-terminated, the sender included) without a usable certificate
 * (PST_ERROR_POLICY "no S/MIME certificate for: a, b"); then, with @sign,
 * "no S/MIME identity for: ADDR". */
gboolean pst_smimemime_check_keys (PstSmime *smime, const char *const *to, const char *sender,
                                   gboolean encrypt, gboolean sign, GError **error);
/* The multipart/signed header and preamble, up to the first delimiter
 * line; the signed entity follows it.  Transfer full. */
char *pst_smimemime_signed_intro (const char *micalg, const char *boundary);
/* What follows the signed entity: the signature part holding @sig (DER)
 * and the closing delimiter.  Transfer full. */
char *pst_smimemime_signed_outro (const char *boundary, GBytes *sig);
/* The header of the application/pkcs7-mime entity, with its empty line;
 * its base64 body follows.  Transfer full. */
char *pst_smimemime_enveloped_head (gboolean gcm);

/* Reading is mime/reader.h's (pst_message_open), with this scheme's
 * back-end pst_smimemime_reader_backend (mime/reader-backend.h). */

G_END_DECLS
