/* wire.h — verdicts and signature results as JSON, between the agent and
 * its analysis worker (agent/worker.c).
 *
 * Unlike pst_status_to_json (the "crypto" object of DESIGN.md §4, which the
 * agent stores and which leaves decrypted header values out), these carry
 * everything, the protected values of header mismatches included: they
 * never reach the disk, only the worker's socketpair.
 *
 * The agent decodes what a worker that may be compromised wrote: every
 * _from_wire is strict.  Unknown enum words, members of the wrong type,
 * strings that are not UTF-8 or longer than PST_WIRE_MAX_STRING, arrays
 * longer than PST_WIRE_MAX_ITEMS, and missing required members are
 * PST_ERROR_FAILED errors naming the member; nothing is half-filled (on
 * failure nothing is returned).  Unknown members are ignored. */
#pragma once

#include <json-glib/json-glib.h>

#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "crypto/status.h"

G_BEGIN_DECLS

#define PST_WIRE_MAX_STRING (64 * 1024)
#define PST_WIRE_MAX_ITEMS 1024

/* The whole of @status: scheme, decryption, encryption_covers, integrity,
 * sig_status, signer, fingerprint, from_match, sig_covers,
 * protected_headers, warnings, header_mismatches (with "inner").
 * Transfer full. */
JsonNode *pst_status_to_wire (const PstStatus *status);
PstStatus *pst_status_from_wire (JsonNode *node, GError **error);

JsonNode *pst_pgp_signature_to_wire (const PstPgpSignature *sig);
PstPgpSignature *pst_pgp_signature_from_wire (JsonNode *node, GError **error);

JsonNode *pst_smime_signature_to_wire (const PstSmimeSignature *sig);
PstSmimeSignature *pst_smime_signature_from_wire (JsonNode *node, GError **error);

/* PstIntegrity as a word ("none", "ok", "missing", "failed") and back;
 * -1 for a word that is none of them. */
const char *pst_integrity_to_wire (PstIntegrity integrity);
int pst_integrity_from_wire (const char *word);

/* A GError as {"domain": "pst"|"io"|"other", "code": N, "message": "…"}
 * and back: PST_ERROR codes and G_IO_ERROR codes survive the trip (the
 * callers test PST_ERROR_POLICY, PST_ERROR_CRYPTO, PST_ERROR_FAILED); others
 * become PST_ERROR_FAILED.  Transfer full. */
JsonNode *pst_error_to_wire (const GError *error);
GError *pst_error_from_wire (JsonNode *node);

G_END_DECLS
