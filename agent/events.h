/* events.h — notifications to clients that subscribed (DESIGN.md §5):
 * mail.new, outbox.changed, fetch.progress, batch.progress,
 * scan.quarantined, account.error, bridge.error, draft.saved, draft.deleted, mail.marked,
 * mail.deleted (docs/socket-api.md has their params). */
#pragma once

#include <json-glib/json-glib.h>

#include "agent.h"
#include "rpc/frame.h"

G_BEGIN_DECLS

/* The notifications of one agent (agent->events). */
PstEvents *pst_events_new (void);
/* After every subscriber has unsubscribed. */
void pst_events_free (PstEvents *ev);

/* @channel receives the events named in @names (NULL-terminated; NULL:
 * all) from now on, until pst_events_unsubscribe(); a later subscribe on
 * the same channel replaces this one. */
void pst_events_subscribe (PstEvents *ev, PstRpcChannel *channel, const char *const *names);
/* Must be called before @channel is freed; a no-op when not subscribed. */
void pst_events_unsubscribe (PstEvents *ev, PstRpcChannel *channel);

/* Sends the notification {"jsonrpc":"2.0","method":@event,"params":@params}
 * to every subscriber of @event.  Takes @params (transfer full). */
void pst_events_emit (PstEvents *ev, const char *event, JsonObject *params);

/* One file of batch @batch_id (of @total) is done, or failed: counts it and
 * emits batch.progress {batch, done, failed, total}. */
void pst_events_batch_step (PstEvents *ev, const char *batch_id, gint64 total, gboolean failed);

G_END_DECLS
