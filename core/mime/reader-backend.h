/* reader-backend.h — what the message reader (reader.c) asks of a scheme:
 * inside core/mime only.  Each scheme (pgpmime.c, smimemime.c) recognises
 * its own layers and does their cryptography; the reader walks the MIME
 * tree and applies DESIGN.md §4 (whole or part, which signature counts,
 * never merged, protected headers, size bounds) once, for every scheme.
 *
 * Recognition never depends on keys: a back-end whose context is NULL still
 * recognises its layers, and then opens none of them (decryption "failed",
 * signature "error"), so that a layer Postern cannot check is never read as
 * plain text. */
#pragma once

#include <glib.h>
#include "crypto/status.h"

G_BEGIN_DECLS

/* An entity the reader has split: borrowed for one call. */
typedef struct {
  GBytes *bytes;          /* header and body */
  GPtrArray *fields;      /* raw header fields */
  const char *type;       /* lower-case "type/subtype" (text/plain when unreadable) */
  GHashTable *params;     /* Content-Type parameters, names lower case */
  gsize body;             /* offset of the body in @bytes */
} PstReaderEntity;

/* What opening one layer gave (PstReaderBackend.open).  Everything owned
 * by the reader once open returns TRUE. */
typedef struct {
  gboolean encrypted;     /* an encryption layer; else a signature layer */
  gboolean unopened;      /* recognised and deliberately not opened (only @warning counts) */
  gboolean ok;            /* decrypted; for a signature layer: its content came back */
  gboolean too_large;     /* not ok: the output passed the limit given */
  gboolean busy;          /* not ok: the process's shared budget stayed held (util/sink.h):
                           * no verdict at all, @error says so */
  GError *error;          /* with @busy */
  PstIntegrity integrity; /* encrypted: the layer's own (MDC/AEAD: OK), or why it failed */
  gboolean partial_entity;/* the layer is only part of the entity's body (inline PGP
                           * around other text): it covers a part */
  gboolean descend;       /* the reader opens @content further */
  gboolean limited;       /* @content came through the output limit: it counts
                           * against the message's budget */
  gpointer sig;           /* the back-end's signature of this layer, or NULL (none) */
  GBytes *content;        /* ok: what the layer holds, an entity */
  const char *warning;    /* a word to add (static), or NULL */
} PstReaderLayer;

typedef struct {
  PstScheme scheme;
  /* multipart/signed: the protocols (= signature part types) that are
   * this scheme's, NULL-terminated, lower case. */
  const char *const *signature_types;
  /* Decrypted parts of a message encrypted only in part: TRUE when the
   * first one is shown alone (OpenPGP), FALSE when the message is shown
   * as received (S/MIME); both keep DESIGN.md §4 (never merged). */
  gboolean shows_partial;

  /* Opens @e when it is one of this scheme's layers other than
   * multipart/signed; FALSE (and @layer untouched) when it is not.  @limit
   * is what decryption may still yield for the whole message. */
  gboolean (*open) (gpointer ctx, const PstReaderEntity *e, gsize limit, PstReaderLayer *layer);
  /* Whether @e is an encryption layer of this scheme that open would see
   * (the encrypt-then-sign rule); multipart/encrypted is the reader's. */
  gboolean (*is_encrypted) (const PstReaderEntity *e);
  /* Verifies the detached signature @sig_part (the second part of a
   * multipart/signed, @sig_body its body) over @content (CRLF form).
   * Never NULL. */
  gpointer (*verify_detached) (gpointer ctx, GBytes *content, GBytes *sig_part, GBytes *sig_body);
  /* What @sig says, in the terms every scheme shares; what only this
   * scheme can say is added to @status's warnings. */
  void (*facts) (gpointer sig, PstStatus *status, PstSignatureFacts *facts_out);
  /* The crypto library's verdict on @sig (before the date and digest rules). */
  PstSigStatus (*sig_status) (gpointer sig);
  void (*sig_free) (gpointer sig);
  /* Called once the message is read (may be NULL). */
  void (*done) (gpointer ctx);
} PstReaderBackend;

extern const PstReaderBackend pst_pgpmime_reader_backend;
extern const PstReaderBackend pst_smimemime_reader_backend;

G_END_DECLS
