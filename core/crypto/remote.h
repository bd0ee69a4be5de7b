/* remote.h — the cryptography of an analysis worker, done by the agent.
 *
 * The analysis worker (agent/worker.c) parses hostile mail in a sandbox
 * that has no keys, no keyring, no gpg and no file system: it cannot
 * decrypt or verify by itself.  Its PstPgp and PstSmime are "remote"
 * (pst_pgp_new_remote, pst_smime_new_remote): each decryption or
 * verification the reader asks of them is sent over the job's socketpair
 * as a frame (rpc/workerframe.h), the agent does it with its own PstPgp and
 * PstSmime (pst_crypto_serve), and the answer comes back as the local call
 * would have given it.  So the MIME reader (mime/reader.h) runs unchanged in
 * either process, and the process that parses holds neither the keys nor
 * the store.
 *
 * What the agent still parses itself: the OpenPGP packets (in gpg, its own
 * process) and the CMS DER of S/MIME layers (OpenSSL's ASN.1 decoder), since
 * a private-key operation needs them.
 *
 * An input that is bytes of the message the agent sent (a PGP/MIME part
 * without transfer encoding, a signed part with CRLF line ends) is named by
 * its offset and length rather than sent back (pst_crypto_remote_set_message),
 * and the agent reads it from its own copy: the ciphertext of a large
 * message is then never held by the agent.
 *
 * The agent trusts nothing a worker sends: the sizes it may ask to be
 * decrypted are bounded by the job's budget (what the whole message may
 * yield, PST_DECRYPTION_MAX_OUTPUT beyond its size, all layers together),
 * the number of calls by PST_CRYPTO_SERVE_MAX_CALLS, the bytes of the
 * message its requests name to twice its size, and every frame by the
 * decoder's limits. */
#pragma once

#include <json-glib/json-glib.h>

#include "crypto/pgp.h"
#include "crypto/smime.h"

G_BEGIN_DECLS

/* The most bytes one frame between agent and worker may carry: a message as
 * the agent reads it (256 MiB) and what decrypting it may add. */
#define PST_CRYPTO_REMOTE_MAX_BLOB (300u * 1024 * 1024)
/* Decryptions and verifications one job may ask of the agent. */
#define PST_CRYPTO_SERVE_MAX_CALLS 4096
/* The worker's exit status when the agent went away in the middle of a call. */
#define PST_CRYPTO_REMOTE_EXIT_LOST 3

/* The worker's end of a job's socketpair (not owned: the caller closes @fd). */
typedef struct _PstCryptoRemote PstCryptoRemote;
PstCryptoRemote *pst_crypto_remote_new (int fd);
void pst_crypto_remote_free (PstCryptoRemote *remote);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstCryptoRemote, pst_crypto_remote_free)

/* A PstPgp / PstSmime whose decryptions and verifications go to the agent
 * through @remote (which must outlive them).  Only what reading a message
 * needs works on them (pst_pgp_decrypt_verify, _verify_detached,
 * _verify_cleartext and the output flags; pst_smime_decrypt and _verify);
 * every other call fails or finds nothing. */
PstPgp *pst_pgp_new_remote (PstCryptoRemote *remote);
/* The job's message as the agent sent it: an input to a call that is bytes
 * of it (a part that needed no decoding) is then named by its offset and
 * length, and the agent reads it from its own copy instead of getting it
 * back in the request (pst_crypto_serve).  NULL: every input is sent. */
void pst_crypto_remote_set_message (PstCryptoRemote *remote, GBytes *message);
/* The bytes of a message of @message_size that one job's requests may name,
 * all together: twice it and 64 KiB.  Parts of a message do not overlap,
 * but each of nested signed layers names most of it: the worker sends what
 * would go past this, and the agent refuses a job that names more. */
guint64 pst_crypto_remote_range_allowance (guint64 message_size);
PstSmime *pst_smime_new_remote (PstCryptoRemote *remote);

/* The worker's side of each call (crypto/pgp.c and smime.c call these for
 * a remote object).  Same contracts as the local functions; @too_large,
 * @busy and @not_encrypted get what pst_pgp_output_too_large, _busy and
 * pst_pgp_not_encrypted would say.  When the agent cannot be reached any
 * more, the worker exits (PST_CRYPTO_REMOTE_EXIT_LOST): no verdict can be
 * reached without it. */
gboolean pst_crypto_remote_pgp_decrypt (PstCryptoRemote *remote, gsize limit, GBytes *ciphertext,
                                        GBytes **plain_out, PstPgpSignature **sig_out,
                                        PstIntegrity *integrity_out, gboolean *too_large,
                                        gboolean *busy, gboolean *not_encrypted, GError **error);
PstPgpSignature *pst_crypto_remote_pgp_verify_detached (PstCryptoRemote *remote, GBytes *data,
                                                        GBytes *signature);
PstPgpSignature *pst_crypto_remote_pgp_verify_cleartext (PstCryptoRemote *remote, gsize limit,
                                                         GBytes *block, GBytes **text_out,
                                                         gboolean *too_large, gboolean *busy);
gboolean pst_crypto_remote_smime_decrypt (PstCryptoRemote *remote, GBytes *der,
                                          GBytes **plain_out, PstIntegrity *integrity_out,
                                          GError **error);
PstSmimeSignature *pst_crypto_remote_smime_verify (PstCryptoRemote *remote, GBytes *der,
                                                   GBytes *content, GBytes **econtent_out);

/* The agent's side: one job's cryptography. */
typedef struct {
  PstPgp *pgp;       /* not owned */
  PstSmime *smime;   /* not owned; NULL: S/MIME calls are refused */
  gsize budget;      /* what decryptions of this job may still yield */
  guint calls;
  /* The job's message, of which a request may name bytes: in memory
   * (@message, not owned), or read again from its start through @reopen
   * (a stream that fails when the message changed since the job began). */
  GBytes *message;
  GInputStream *(*reopen) (gpointer data, GError **error);
  gpointer reopen_data;
  guint64 message_size;
  guint64 ranged;    /* bytes of it that requests named */
  gboolean unread;   /* a range could not be read: the job ends, no fault of
                      * the worker's (pst_crypto_serve failed for it) */
  /* What the agent answered, for pst_crypto_serve_check: */
  gsize produced;    /* bytes that decryptions and verifications gave back */
  guint decrypted;   /* decryptions that succeeded */
  gboolean integrity_ok;  /* one of them with integrity protection checked */
  GPtrArray *good;   /* of GStrv: for each good signature, its fingerprint
                      * then its addresses (NULL until the first) */
} PstCryptoServer;

/* Frees what @server recorded. */
void pst_crypto_server_clear (PstCryptoServer *server);

/* Whether the verdict a worker sent (@status, with @shown_from the From
 * header it says is shown) claims nothing the agent did not give it: a
 * decryption that succeeded, integrity checked, a good signature by that
 * key and that signer, a From that matches it.  The worker judges the
 * structure (what a signature covers, which header is shown); these it
 * cannot make up, so a compromised parser cannot turn unsigned mail into
 * signed mail.  FALSE with @error naming the claim otherwise. */
gboolean pst_crypto_serve_check (PstCryptoServer *server, const PstStatus *status,
                                 const char *shown_from, GError **error);

/* The member "op" of a frame, or "" when it is missing or not a string
 * (never NULL: a worker's frame may hold anything). */
const char *pst_crypto_request_op (JsonObject *req);

/* Whether @op names a call pst_crypto_serve answers. */
gboolean pst_crypto_serve_handles (const char *op);

/* Does what request @req (its member "op") with @blob asks, and gives the
 * answer to send back.  FALSE with @error when the request itself is wrong
 * (unknown op, bad members, a size past its blob or its message, too many
 * calls): the worker broke the protocol, and the job must end; or, with
 * @server's unread set, when the bytes of the message it named could not
 * be read again: the job ends, and no verdict is reached.  Transfer full. */
gboolean pst_crypto_serve (PstCryptoServer *server, JsonObject *req, GBytes *blob,
                           JsonObject **reply_out, GBytes **blob_out, GError **error);

G_END_DECLS
