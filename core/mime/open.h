/* open.h — reading any stored message: picks the scheme by the message's
 * structure (PGP/MIME, inline PGP, S/MIME, or none) and hands it to the
 * reader of that scheme, which gives the verdict (DESIGN.md §4). */
#pragma once

#include <glib.h>

#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstPgp PstPgp;
typedef struct _PstSmime PstSmime;

typedef enum { PST_STRUCTURE_PLAIN, PST_STRUCTURE_PGP, PST_STRUCTURE_SMIME } PstStructure;

/* Which reader a message needs: S/MIME when its top-level Content-Type is
 * application/pkcs7-mime or a multipart/signed with a PKCS#7 protocol, or
 * when an S/MIME part appears inside it and no OpenPGP part does; PGP
 * otherwise (the PGP reader also handles plain messages). */
PstStructure pst_message_structure (GBytes *message);

/* Same contract as pst_pgpmime_open and pst_smimemime_open.  With @smime
 * NULL an S/MIME message is read by the PGP reader, that is, as not
 * protected: the agent always passes its S/MIME store. */
gboolean pst_message_open (PstPgp *pgp, PstSmime *smime, GBytes *message, GBytes **plain_out,
                           PstStatus **status_out, GError **error);

G_END_DECLS
