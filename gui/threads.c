/* threads.c — see threads.h. */
#include "threads.h"

#include "agent.h"

gint64
pst_thread_of (JsonObject *m)
{
  JsonNode *t = json_object_get_member (m, "thread");

  return t && JSON_NODE_HOLDS_VALUE (t) ? json_node_get_int (t) : pst_json_int (m, "id");
}

GPtrArray *
pst_threads_group (JsonArray *messages)
{
  GPtrArray *threads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr (GHashTable) by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  for (guint i = 0; messages && i < json_array_get_length (messages); i++)
    {
      JsonNode *n = json_array_get_element (messages, i);
      JsonObject *m = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      GPtrArray *thread;
      gint64 id;

      if (m == NULL)
        continue;
      id = pst_thread_of (m);
      thread = g_hash_table_lookup (by_id, &id);
      if (thread == NULL)
        {
          thread = g_ptr_array_new ();
          g_ptr_array_add (threads, thread);
          g_hash_table_insert (by_id, g_memdup2 (&id, sizeof id), thread);
        }
      g_ptr_array_add (thread, m);
    }
  return threads;
}
