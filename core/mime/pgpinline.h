/* pgpinline.h — inline OpenPGP on input (read, never written): a text/plain
 * entity whose body is, or holds, an ASCII-armored "BEGIN PGP MESSAGE" or
 * "BEGIN PGP SIGNED MESSAGE" block.
 *
 * Only the first armored block of a body is opened.  The caller decides
 * what it covers: the whole message only when the entity is the message
 * body and the block is all of it (white space aside, @entire), else a part;
 * and never shows the opened text next to the text around the block.
 */
#pragma once

#include <glib.h>
#include "crypto/pgp.h"
#include "crypto/status.h"

G_BEGIN_DECLS

typedef enum {
  PST_PGP_INLINE_NONE,
  PST_PGP_INLINE_ENCRYPTED,   /* -----BEGIN PGP MESSAGE----- */
  PST_PGP_INLINE_SIGNED,      /* -----BEGIN PGP SIGNED MESSAGE----- */
} PstPgpInlineKind;

typedef struct {
  PstPgpInlineKind kind;
  gboolean entire;            /* the block is the whole body, white space aside */
  gboolean ok;                /* decrypted (ENCRYPTED); for SIGNED, a signed text came back */
  PstIntegrity integrity;     /* ENCRYPTED: as pst_pgp_decrypt_verify says */
  gboolean too_large;         /* not ok: the text passed the output limit of @pgp
                               * (pst_pgp_set_output_limit) */
  PstPgpSignature *sig;       /* the signature (status NONE when unsigned); owned */
  GBytes *entity;             /* when ok: a text/plain entity (the part's
                               * Content-Type, 8bit) holding the decrypted or
                               * signed text alone; owned, wiped when freed */
} PstPgpInlineResult;

/* Finds the first armored block in @text (@len bytes): its @kind, and
 * whether it is all of @text but white space.  FALSE when there is none. */
gboolean pst_pgpinline_find (const char *text, gsize len, PstPgpInlineKind *kind_out,
                             gsize *start_out, gsize *end_out, gboolean *entire_out);

/* Opens the text/plain @entity (header and body; the body transfer-decoded
 * first): decrypts and verifies an inline PGP message, or verifies a
 * cleartext signature.  FALSE (and @result_out untouched) when the entity
 * is not text/plain or holds no armored block.  Clear @result_out with
 * pst_pgpinline_result_clear. */
gboolean pst_pgpinline_open (PstPgp *pgp, GBytes *entity, PstPgpInlineResult *result_out);
void pst_pgpinline_result_clear (PstPgpInlineResult *result);

G_END_DECLS
