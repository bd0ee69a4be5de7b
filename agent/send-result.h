/* send-result.h — what send and drafts.send answer once a message is in
 * the outbox (send-result.c). */
#pragma once

#include "call.h"
#include "outgoing.h"

G_BEGIN_DECLS

/* The result of send for @queued (in the outbox now): the ids, scheme,
 * encrypted, signed, the keys used; with @wait the sender runs and the
 * result says "sent", or the error says why it is kept in the outbox. */
JsonObject *pst_send_result (PstCall *call, PstQueued *queued, gboolean wait, GError **error);

G_END_DECLS
