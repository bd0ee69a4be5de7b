/* send-result.c — see send-result.h. */
#include "send-result.h"

#include "peers.h"
#include "sender.h"
#include "util/error.h"

JsonObject *
pst_send_result (PstCall *call, PstQueued *queued, gboolean wait, GError **error)
{
  GArray *ids = queued->ids;
  JsonArray *id_array;
  JsonObject *r;
  gboolean all_sent = TRUE;

  r = json_object_new ();
  json_object_set_int_member (r, "id", g_array_index (ids, gint64, 0));
  id_array = json_array_new ();
  for (guint i = 0; i < ids->len; i++)
    json_array_add_int_element (id_array, g_array_index (ids, gint64, i));
  json_object_set_array_member (r, "ids", id_array);
  json_object_set_string_member (r, "scheme", pst_scheme_name (queued->scheme));
  json_object_set_boolean_member (r, "encrypted", queued->encrypted);
  json_object_set_boolean_member (r, "signed", queued->signed_);
  if (queued->missing && queued->missing[0])
    json_object_set_array_member (r, "missing_keys", pst_json_strv (queued->missing));
  if (queued->not_recommended && queued->not_recommended[0])
    json_object_set_array_member (r, "not_recommended", pst_json_strv (queued->not_recommended));
  /* Whose keys it went to, and where they came from (DESIGN.md §14). */
  if (queued->encrypted_to != NULL)
    {
      JsonArray *keys = json_array_new ();

      for (char **a = queued->encrypted_to; *a != NULL; a++)
        {
          JsonObject *k = json_object_new ();

          json_object_set_string_member (k, "address", *a);
          pst_peers_describe_key (call->agent, *a, TRUE, k);
          json_array_add_object_element (keys, k);
        }
      json_object_set_array_member (r, "keys", keys);
    }
  if (!wait)
    {
      pst_senders_kick (call->agent->senders, queued->account);
      json_object_set_string_member (r, "state", "queued");
      return r;
    }
  {
    g_autoptr (GError) send_error = NULL;
    const char *reply = NULL;
    gboolean ok = pst_senders_run (call->agent->senders, queued->account, FALSE, &send_error);

    for (guint i = 0; i < ids->len; i++)
      {
        gint64 id = g_array_index (ids, gint64, i);
        g_autoptr (PstOutboxEntry) entry = pst_store_outbox_get (call->agent->store, id, NULL);

        if (entry == NULL || entry->state != PST_OUTBOX_SENT)
          {
            all_sent = FALSE;
            if (ok && send_error == NULL && entry && entry->state == PST_OUTBOX_FAILED)
              g_set_error (&send_error, PST_ERROR, PST_ERROR_FAILED,
                           "the server refused message %" G_GINT64_FORMAT ": %s", id,
                           entry->last_reply ? entry->last_reply : "no reply");
            else if (ok && send_error == NULL && entry && entry->state == PST_OUTBOX_QUEUED
                     && entry->last_reply != NULL)
              {
                g_autoptr (GDateTime) at = g_date_time_new_from_unix_local (entry->next_try);
                g_autofree char *when = at ? g_date_time_format (at, "%H:%M:%S") : g_strdup ("soon");

                g_set_error (&send_error, PST_ERROR, PST_ERROR_FAILED,
                             "the server deferred message %" G_GINT64_FORMAT ": %s; it is tried "
                             "again at %s", id, entry->last_reply, when);
              }
          }
        else if (reply == NULL)
          json_object_set_string_member (r, "reply", reply = entry->last_reply ? entry->last_reply : "");
      }
    if (!all_sent)
      {
        json_object_unref (r);
        if (send_error == NULL)
          g_set_error (&send_error, PST_ERROR, PST_ERROR_FAILED, "not sent yet");
        g_propagate_prefixed_error (error, g_steal_pointer (&send_error),
                                    "message %" G_GINT64_FORMAT " is kept in the outbox: ",
                                    g_array_index (ids, gint64, 0));
        return NULL;
      }
  }
  json_object_set_string_member (r, "state", "sent");
  return r;
}
