/* methods-outbox.c — outbox.list, outbox.retry, outbox.cancel: what waits
 * to be sent, and the user's say over it (DESIGN.md §3 "Send"). */
#include "events.h"
#include "handlers.h"
#include "sender.h"
#include "util/error.h"

static JsonObject *
entry_to_json (const PstOutboxEntry *e)
{
  JsonObject *o = json_object_new ();

  json_object_set_int_member (o, "id", e->id);
  json_object_set_string_member (o, "account", e->account);
  json_object_set_string_member (o, "state", pst_outbox_state_to_string (e->state));
  /* "sending" found after a restart: the crash came between the final dot
   * and the server's reply, so the message may or may not have arrived. */
  json_object_set_boolean_member (o, "in_doubt", e->in_doubt);
  json_object_set_string_member (o, "from", e->reverse_path);
  json_object_set_array_member (o, "to", pst_json_strv (e->recipients));
  json_object_set_int_member (o, "attempts", e->attempts);
  json_object_set_int_member (o, "size", e->size);
  json_object_set_int_member (o, "created_at", e->created_at);
  json_object_set_int_member (o, "updated_at", e->updated_at);
  json_object_set_int_member (o, "next_try", e->next_try);
  if (e->last_reply)
    json_object_set_string_member (o, "last_reply", e->last_reply);
  else
    json_object_set_null_member (o, "last_reply");
  return o;
}

/* The entries named by @n, the parameter "ids" (a list of integers), in
 * its order.  Errors: not a list of integers (PST_ERROR_USAGE); an unknown
 * id (the store's). */
static GPtrArray *
entries_by_id (PstCall *call, JsonNode *n, GError **error)
{
  g_autoptr (GPtrArray) entries = NULL;
  JsonArray *ids;

  entries = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_outbox_entry_free);
  if (!JSON_NODE_HOLDS_ARRAY (n))
    goto bad;
  ids = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (ids); i++)
    {
      JsonNode *e = json_array_get_element (ids, i);
      PstOutboxEntry *entry;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
        goto bad;
      if (!(entry = pst_store_outbox_get (call->agent->store, json_node_get_int (e), error)))
        return NULL;
      g_ptr_array_add (entries, entry);
    }
  return g_steal_pointer (&entries);
bad:
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "parameter 'ids' must be a list of integers");
  return NULL;
}

JsonObject *
pst_method_outbox_list (PstCall *call, GError **error)
{
  const char *account = NULL, *state_name = NULL;
  PstOutboxState state = 0;
  g_autoptr (GPtrArray) entries = NULL;
  JsonNode *ids;
  JsonArray *arr;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &account, error)
      || !pst_rpc_get_string (call->params, "state", FALSE, &state_name, error))
    return NULL;
  if (state_name != NULL && !pst_outbox_state_from_string (state_name, &state))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "state must be queued, sending, sent, failed or cancelled, not '%s'", state_name);
      return NULL;
    }
  if ((ids = call->params ? json_object_get_member (call->params, "ids") : NULL) != NULL
      && !JSON_NODE_HOLDS_NULL (ids))
    entries = entries_by_id (call, ids, error);
  else
    entries = pst_store_outbox_list (call->agent->store, account, state_name ? (int) state : -1,
                                     error);
  if (entries == NULL)
    return NULL;
  arr = json_array_new ();
  for (guint i = 0; i < entries->len; i++)
    {
      const PstOutboxEntry *e = g_ptr_array_index (entries, i);

      /* (with ids, the other filters still apply) */
      if ((account == NULL || g_strcmp0 (e->account, account) == 0)
          && (state_name == NULL || e->state == state))
        json_array_add_object_element (arr, entry_to_json (e));
    }
  r = json_object_new ();
  json_object_set_array_member (r, "outbox", arr);   /* DESIGN.md §6 */
  return r;
}

/* The entry named by parameter "id", with the account's send lock held
 * (so that no session is sending it meanwhile).  *@lock_out: to unlock. */
static PstOutboxEntry *
get_locked (PstCall *call, GMutex **lock_out, GError **error)
{
  gint64 id = 0;
  g_autoptr (PstOutboxEntry) e = NULL;
  GMutex *lock;
  gboolean locked;

  *lock_out = NULL;
  if (!pst_rpc_get_int (call->params, "id", TRUE, 0, &id, error)
      || !(e = pst_store_outbox_get (call->agent->store, id, error)))
    return NULL;
  lock = pst_agent_session_lock (call->agent, "send", e->account);
  /* A session of the account may be running: wait for it a while (it
   * changes nothing once it is over), then give up. */
  locked = g_mutex_trylock (lock);

  for (guint i = 0; !locked && i < 600; i++)   /* 30 s */
    {
      g_usleep (50 * 1000);
      locked = g_mutex_trylock (lock);
    }
  if (!locked)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "message %" G_GINT64_FORMAT " is being sent right now; try again when the "
                   "session has ended", id);
      return NULL;
    }
  /* Read again under the lock: a session may have changed it. */
  g_clear_pointer (&e, pst_outbox_entry_free);
  if (!(e = pst_store_outbox_get (call->agent->store, id, error)))
    {
      g_mutex_unlock (lock);
      return NULL;
    }
  *lock_out = lock;
  return g_steal_pointer (&e);
}

static void
emit_changed (PstAgent *agent, const PstOutboxEntry *e, PstOutboxState state)
{
  JsonObject *p = json_object_new ();

  json_object_set_int_member (p, "id", e->id);
  json_object_set_string_member (p, "account", e->account);
  json_object_set_string_member (p, "state", pst_outbox_state_to_string (state));
  pst_events_emit (agent->events, "outbox.changed", p);
}

JsonObject *
pst_method_outbox_retry (PstCall *call, GError **error)
{
  GMutex *lock = NULL;
  g_autoptr (PstOutboxEntry) e = get_locked (call, &lock, error);
  gboolean ok;

  if (e == NULL)
    return NULL;
  /* Failed, or in doubt (the user checked that it did not arrive), or
   * queued and waiting for its next try: send now. */
  if (e->state == PST_OUTBOX_SENT || e->state == PST_OUTBOX_CANCELLED)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "message %" G_GINT64_FORMAT " is %s: it is never sent again", e->id,
                   pst_outbox_state_to_string (e->state));
      ok = FALSE;
    }
  else
    ok = pst_store_outbox_set_state (call->agent->store, e->id, PST_OUTBOX_QUEUED, NULL, error)
         && pst_store_outbox_set_next_try (call->agent->store, e->id, 0, error);
  g_mutex_unlock (lock);
  if (!ok)
    return NULL;
  emit_changed (call->agent, e, PST_OUTBOX_QUEUED);
  pst_senders_kick (call->agent->senders, e->account);
  {
    JsonObject *r = json_object_new ();
    json_object_set_int_member (r, "id", e->id);
    json_object_set_string_member (r, "state", "queued");
    return r;
  }
}

JsonObject *
pst_method_outbox_cancel (PstCall *call, GError **error)
{
  GMutex *lock = NULL;
  g_autoptr (PstOutboxEntry) e = get_locked (call, &lock, error);
  gboolean ok;

  if (e == NULL)
    return NULL;
  if (e->state == PST_OUTBOX_SENT || e->state == PST_OUTBOX_CANCELLED)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "message %" G_GINT64_FORMAT " is %s already",
                   e->id, pst_outbox_state_to_string (e->state));
      ok = FALSE;
    }
  else
    ok = pst_store_outbox_set_state (call->agent->store, e->id, PST_OUTBOX_CANCELLED, NULL, error);
  g_mutex_unlock (lock);
  if (!ok)
    return NULL;
  emit_changed (call->agent, e, PST_OUTBOX_CANCELLED);
  pst_agent_changed (call->agent);
  {
    JsonObject *r = json_object_new ();
    json_object_set_int_member (r, "id", e->id);
    json_object_set_string_member (r, "state", "cancelled");
    return r;
  }
}
