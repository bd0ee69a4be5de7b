/* deliveries.h — which fetched messages still have to reach another mail
 * program (an account's deliver setting: a Maildir or an MDA), so that each
 * arrives there exactly once across crashes (agent/deliver.c).
 *
 * A message's pending row is written in the transaction that stores it
 * (pst_store_writer_set_deliver); it becomes done once the message is
 * delivered.  A deleted message takes its row with it.  Errors are
 * PST_ERROR_FAILED naming the store.
 */
#pragma once

#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id;           /* the message */
  gint64 received_at;  /* unix seconds */
} PstDelivery;

/* @account's pending deliveries, oldest first (by id), of messages that
 * are not quarantined: a GArray of PstDelivery.  Transfer full. */
GArray *pst_store_deliveries_pending (PstStore *store, const char *account, GError **error);

/* Marks the delivery of message @id done, durably.  A message that is not
 * pending (done already, or deleted) is no error. */
gboolean pst_store_delivery_done (PstStore *store, gint64 id, GError **error);

/* Whether message @id is to be delivered: @state_out "pending", "done" or
 * NULL (never to be).  Transfer full. */
gboolean pst_store_delivery_state (PstStore *store, gint64 id, char **state_out, GError **error);

/* This store's random delivery token (16 hex digits), which makes the
 * Maildir names it gives differ from any other store's.  Transfer full. */
char *pst_store_delivery_token (PstStore *store, GError **error);

G_END_DECLS
