/* methods-state.c — delete and mark: what the user does with stored
 * messages (DESIGN.md §6, §7). */
#include "events.h"
#include "handlers.h"
#include "subjects.h"
#include "util/error.h"

/* Most ids one call takes: a client with more sends more calls. */
#define MAX_IDS 100000

/* Parameter "ids": a non-empty list of message ids (positive integers). */
static GArray *
get_ids (PstCall *call, GError **error)
{
  JsonNode *n = call->params ? json_object_get_member (call->params, "ids") : NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  JsonArray *a;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n)
      || json_array_get_length (a = json_node_get_array (n)) == 0
      || json_array_get_length (a) > MAX_IDS)
    goto bad;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      gint64 id;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
          || (id = json_node_get_int (e)) <= 0)
        goto bad;
      g_array_append_val (ids, id);
    }
  return g_steal_pointer (&ids);
bad:
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
               "ids must be a list of 1 to %d message ids", MAX_IDS);
  return NULL;
}

/* {"ids": [the ids]}: the params of mail.marked and mail.deleted, which
 * tell every other client (a second window, `postern watch`) what
 * changed. */
static JsonObject *
ids_params (GArray *ids)
{
  JsonObject *p = json_object_new ();
  JsonArray *a = json_array_sized_new (ids->len);

  for (guint i = 0; i < ids->len; i++)
    json_array_add_int_element (a, g_array_index (ids, gint64, i));
  json_object_set_array_member (p, "ids", a);
  return p;
}

/* Messages @ids are gone from the store: forgotten by the subjects cache,
 * logged, announced (mail.deleted). */
static void
deleted (PstCall *call, GArray *ids)
{
  for (guint i = 0; i < ids->len; i++)
    {
      pst_subjects_forget (call->agent->subjects, g_array_index (ids, gint64, i));
      g_message ("message %" G_GINT64_FORMAT ": deleted", g_array_index (ids, gint64, i));
    }
  pst_events_emit (call->agent->events, "mail.deleted", ids_params (ids));
}

/* delete {ids: [N, …]}: the messages go from the store for good (their
 * bytes overwritten, the write-ahead log emptied), all or none: an
 * unknown id (PST_ERROR_FAILED) deletes nothing.  Their UIDLs stay seen.
 * Result {deleted: N}; event mail.deleted {ids}. */
JsonObject *
pst_method_delete (PstCall *call, GError **error)
{
  g_autoptr (GArray) ids = get_ids (call, error);
  g_autoptr (GError) local = NULL;
  JsonObject *r;

  if (ids == NULL)
    return NULL;
  if (!pst_store_messages_delete (call->agent->store, (const gint64 *) (gpointer) ids->data,
                                  ids->len, &local))
    {
      /* A log that could not be emptied fails the call after the deletion
       * was committed (all or none: the first id tells): the messages are
       * gone all the same, and the other clients must hear of it. */
      g_autoptr (PstMessageInfo) still = pst_store_message_get_info (call->agent->store,
                                                                     g_array_index (ids, gint64, 0), NULL);
      if (still == NULL)
        deleted (call, ids);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  deleted (call, ids);
  r = json_object_new ();
  json_object_set_int_member (r, "deleted", ids->len);
  return r;
}

/* mark {ids: [N, …], unread: BOOL}: marks the messages read (unread
 * false) or unread, all or none (an unknown id changes nothing).  Result
 * {marked: N}; event mail.marked {ids, unread}. */
JsonObject *
pst_method_mark (PstCall *call, GError **error)
{
  g_autoptr (GArray) ids = get_ids (call, error);
  JsonNode *u = call->params ? json_object_get_member (call->params, "unread") : NULL;
  JsonObject *r, *p;

  if (ids == NULL)
    return NULL;
  if (u == NULL || !JSON_NODE_HOLDS_VALUE (u) || json_node_get_value_type (u) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "unread must be true or false");
      return NULL;
    }
  if (!pst_store_messages_mark (call->agent->store, (const gint64 *) (gpointer) ids->data,
                                ids->len, json_node_get_boolean (u), error))
    return NULL;
  p = ids_params (ids);
  json_object_set_boolean_member (p, "unread", json_node_get_boolean (u));
  pst_events_emit (call->agent->events, "mail.marked", p);
  r = json_object_new ();
  json_object_set_int_member (r, "marked", ids->len);
  return r;
}
