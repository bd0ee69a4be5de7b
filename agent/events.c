#include "events.h"

#include <string.h>

typedef struct {
  PstRpcChannel *channel;   /* owned by its client thread */
  char **names;             /* NULL: every event */
} Subscriber;

typedef struct {
  gint64 done, failed;
} BatchCount;

/* Held while writing to subscribers, so that a client thread cannot free
 * its channel in the middle of a write (unsubscribe waits for it). */
static GMutex lock;
static GPtrArray *subscribers;
static GHashTable *batches;   /* batch id -> BatchCount */

static void
subscriber_free (Subscriber *s)
{
  g_strfreev (s->names);
  g_free (s);
}

void
pst_events_subscribe (PstRpcChannel *channel, const char *const *names)
{
  Subscriber *s = g_new0 (Subscriber, 1);

  s->channel = channel;
  s->names = names ? g_strdupv ((char **) names) : NULL;
  g_mutex_lock (&lock);
  if (subscribers == NULL)
    subscribers = g_ptr_array_new_with_free_func ((GDestroyNotify) subscriber_free);
  /* A second subscribe on a connection replaces its first: each event
   * comes once (it came once per subscribe before). */
  for (guint i = subscribers->len; i > 0; i--)
    if (((Subscriber *) g_ptr_array_index (subscribers, i - 1))->channel == channel)
      g_ptr_array_remove_index_fast (subscribers, i - 1);
  g_ptr_array_add (subscribers, s);
  g_mutex_unlock (&lock);
}

void
pst_events_unsubscribe (PstRpcChannel *channel)
{
  g_mutex_lock (&lock);
  for (guint i = subscribers ? subscribers->len : 0; i > 0; i--)
    if (((Subscriber *) g_ptr_array_index (subscribers, i - 1))->channel == channel)
      g_ptr_array_remove_index_fast (subscribers, i - 1);
  g_mutex_unlock (&lock);
}

/* With the lock held. */
static void
emit_locked (const char *event, JsonObject *params)
{
  g_autoptr (JsonObject) note = json_object_new ();
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *line = NULL;

  json_object_set_string_member (note, "jsonrpc", "2.0");
  json_object_set_string_member (note, "method", event);
  json_object_set_object_member (note, "params", params);
  json_node_set_object (node, note);
  line = pst_rpc_to_line (node);
  for (guint i = 0; subscribers && i < subscribers->len; i++)
    {
      Subscriber *s = g_ptr_array_index (subscribers, i);
      if (s->names == NULL || g_strv_contains ((const char *const *) s->names, event))
        pst_rpc_channel_write_line (s->channel, line, NULL, 0, NULL);
    }
}

void
pst_events_emit (const char *event, JsonObject *params)
{
  g_mutex_lock (&lock);
  emit_locked (event, params);
  g_mutex_unlock (&lock);
}

void
pst_events_batch_step (const char *batch_id, gint64 total, gboolean failed)
{
  BatchCount *c;
  JsonObject *p = json_object_new ();

  g_mutex_lock (&lock);
  if (batches == NULL)
    batches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c = g_hash_table_lookup (batches, batch_id);
  if (c == NULL)
    {
      c = g_new0 (BatchCount, 1);
      g_hash_table_insert (batches, g_strdup (batch_id), c);
    }
  c->done++;
  if (failed)
    c->failed++;
  json_object_set_string_member (p, "batch", batch_id);
  json_object_set_int_member (p, "done", c->done);
  json_object_set_int_member (p, "failed", c->failed);
  json_object_set_int_member (p, "total", total);
  if (c->done >= total)
    g_hash_table_remove (batches, batch_id);
  /* Emitted under the lock, so that subscribers see the counts in order. */
  emit_locked ("batch.progress", p);
  g_mutex_unlock (&lock);
}
