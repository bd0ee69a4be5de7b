/* worker-view.h — what show displays of a message (worker-view.c). */
#pragma once

#include <json-glib/json-glib.h>

#include "crypto/status.h"

/* At most this many attachments, and this many bytes of their names and
 * types, are listed for show (the answer is one line of at most
 * PST_RPC_MAX_LINE: a message of 100,000 parts made it too long). */
#define PST_SHOW_MAX_ATTACHMENTS 1000
#define PST_SHOW_MAX_ATTACHMENT_BYTES (256u * 1024)

/* Whether the plaintext @plain read from @message with verdict @status is
 * @message itself (nothing decrypted or rebuilt): the agent, which sent
 * it, has it, and the result says so instead of carrying it. */
gboolean pst_worker_plain_is_message (GBytes *message, GBytes *plain, const PstStatus *status);
/* What show displays of @plain (the message as read from @message with
 * verdict @status), as the "view" member of a result; @body_out gets the
 * body text that goes in the blob after the plaintext (or NULL).  Its
 * "plain_len" is -1 when pst_worker_plain_is_message.  Parses hostile
 * mail: the worker's to call.  Transfer full. */
JsonObject *pst_worker_make_view (GBytes *message, GBytes *plain, const PstStatus *status,
                                  int attachment, char **body_out, GBytes **attachment_out);
/* A result's blob: @plain (NULL when pst_worker_plain_is_message), then
 * @body and @attachment (may be NULL).  Transfer full. */
GBytes *pst_worker_result_blob (GBytes *plain, const char *body, GBytes *attachment);

/* At most this many Autocrypt fields of a message, each at most this
 * long, go to the agent (a key of 16 KiB is four times an RSA-4096 one). */
#define PST_VIEW_MAX_AUTOCRYPT 4
#define PST_VIEW_MAX_AUTOCRYPT_VALUE (24u * 1024)
/* and at most this many To/Cc addresses (whom gossip may be about). */
#define PST_VIEW_MAX_RECIPIENTS 1000

/* The largest attachment the attachment method writes. */
#define PST_WORKER_MAX_ATTACHMENT (256u * 1024 * 1024)
