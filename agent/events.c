#include "events.h"

#include <string.h>

typedef struct {
  PstRpcChannel *channel;   /* owned by its client thread */
  char **names;             /* NULL: every event */
} Subscriber;

typedef struct {
  gint64 done, failed;
} BatchCount;

struct _PstEvents {
  /* Held while writing to subscribers, so that a client thread cannot free
   * its channel in the middle of a write (unsubscribe waits for it). */
  GMutex lock;
  GPtrArray *subscribers;
  GHashTable *batches;   /* batch id -> BatchCount */
};

static void
subscriber_free (Subscriber *s)
{
  g_strfreev (s->names);
  g_free (s);
}

PstEvents *
pst_events_new (void)
{
  PstEvents *ev = g_new0 (PstEvents, 1);

  g_mutex_init (&ev->lock);
  ev->subscribers = g_ptr_array_new_with_free_func ((GDestroyNotify) subscriber_free);
  ev->batches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return ev;
}

void
pst_events_free (PstEvents *ev)
{
  if (ev == NULL)
    return;
  g_ptr_array_unref (ev->subscribers);
  g_hash_table_unref (ev->batches);
  g_mutex_clear (&ev->lock);
  g_free (ev);
}

void
pst_events_subscribe (PstEvents *ev, PstRpcChannel *channel, const char *const *names)
{
  Subscriber *s = g_new0 (Subscriber, 1);

  s->channel = channel;
  s->names = names ? g_strdupv ((char **) names) : NULL;
  g_mutex_lock (&ev->lock);
  /* A second subscribe on a connection replaces its first: each event
   * comes once (it came once per subscribe before). */
  for (guint i = ev->subscribers->len; i > 0; i--)
    if (((Subscriber *) g_ptr_array_index (ev->subscribers, i - 1))->channel == channel)
      g_ptr_array_remove_index_fast (ev->subscribers, i - 1);
  g_ptr_array_add (ev->subscribers, s);
  g_mutex_unlock (&ev->lock);
}

void
pst_events_unsubscribe (PstEvents *ev, PstRpcChannel *channel)
{
  g_mutex_lock (&ev->lock);
  for (guint i = ev->subscribers->len; i > 0; i--)
    if (((Subscriber *) g_ptr_array_index (ev->subscribers, i - 1))->channel == channel)
      g_ptr_array_remove_index_fast (ev->subscribers, i - 1);
  g_mutex_unlock (&ev->lock);
}

/* With the lock held. */
static void
emit_locked (PstEvents *ev, const char *event, JsonObject *params)
{
  g_autoptr (JsonObject) note = json_object_new ();
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *line = NULL;

  json_object_set_string_member (note, "jsonrpc", "2.0");
  json_object_set_string_member (note, "method", event);
  json_object_set_object_member (note, "params", params);
  json_node_set_object (node, note);
  line = pst_rpc_to_line (node);
  for (guint i = 0; i < ev->subscribers->len; i++)
    {
      Subscriber *s = g_ptr_array_index (ev->subscribers, i);
      if (s->names == NULL || g_strv_contains ((const char *const *) s->names, event))
        pst_rpc_channel_write_line (s->channel, line, NULL, 0, NULL);
    }
}

void
pst_events_emit (PstEvents *ev, const char *event, JsonObject *params)
{
  g_mutex_lock (&ev->lock);
  emit_locked (ev, event, params);
  g_mutex_unlock (&ev->lock);
}

void
pst_events_batch_step (PstEvents *ev, const char *batch_id, gint64 total, gboolean failed)
{
  BatchCount *c;
  JsonObject *p = json_object_new ();

  g_mutex_lock (&ev->lock);
  c = g_hash_table_lookup (ev->batches, batch_id);
  if (c == NULL)
    {
      c = g_new0 (BatchCount, 1);
      g_hash_table_insert (ev->batches, g_strdup (batch_id), c);
    }
  c->done++;
  if (failed)
    c->failed++;
  json_object_set_string_member (p, "batch", batch_id);
  json_object_set_int_member (p, "done", c->done);
  json_object_set_int_member (p, "failed", c->failed);
  json_object_set_int_member (p, "total", total);
  if (c->done >= total)
    g_hash_table_remove (ev->batches, batch_id);
  /* Emitted under the lock, so that subscribers see the counts in order. */
  emit_locked (ev, "batch.progress", p);
  g_mutex_unlock (&ev->lock);
}
