/* methods-send.c — send: a message from a client into the outbox. */
#include <string.h>

#include "handlers.h"
#include "crypto/pgp.h"
#include "crypto/policy.h"
#include "events.h"
#include "mime/mime.h"
#include "protect.h"
#include "reader.h"
#include "sender.h"
#include "util/addr.h"
#include "util/error.h"

/* Messages given to send are parsed in memory for now; this is the cap. */
#define MAX_SEND_SIZE (64u * 1024 * 1024)

JsonObject *
pst_method_send (PstCall *call, GError **error)
{
  const char *name;
  gboolean wait;
  int fd;
  g_autoptr (GBytes) input = NULL;
  g_autoptr (PstMimeMessage) msg = NULL;
  g_autofree char *from = NULL;
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (PstProtected) prot = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  PstPolicySettings overrides, settings;
  JsonArray *id_array;
  JsonObject *r;
  gboolean all_sent = TRUE, scan_error_delivers = FALSE;
  PstScanner *scanner;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &name, error)
      || !pst_call_get_overrides (call, &overrides, error)
      || !pst_rpc_get_bool (call->params, "wait", FALSE, &wait, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0)
    return NULL;
  if (!(input = pst_fd_read_all (fd, MAX_SEND_SIZE, error)))
    return NULL;
  if (!(msg = pst_mime_message_parse (input, error)))
    {
      g_prefix_error (error, "not an RFC 5322 message: ");
      return NULL;
    }
  if (!(from = pst_mime_message_get_from_address (msg, error)))
    return NULL;
  if (!(account = pst_call_sending_account (call, name, from, error)))
    return NULL;
  {
    g_auto (GStrv) rcpts = pst_mime_message_get_recipients (msg);

    if (!pst_send_check_limits (call->agent, account, rcpts ? g_strv_length (rcpts) : 0, error))
      return NULL;
  }
  /* Outgoing mail is scanned before it is encrypted (DESIGN.md §11): after,
   * no one can. */
  if ((scanner = pst_agent_get_scanner (call->agent, &scan_error_delivers)) != NULL)
    {
      g_autofree char *found = NULL;
      PstScanVerdict v = pst_scanner_scan (scanner, input, &found);

      if (v == PST_SCAN_INFECTED)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_INFECTED,
                       "the message is infected with %s; nothing was sent", found);
          return NULL;
        }
      if (v == PST_SCAN_ERROR && !scan_error_delivers)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the message could not be scanned (%s); nothing was sent "
                       "(on_scan_error = quarantine)", found);
          return NULL;
        }
      if (v == PST_SCAN_ERROR)
        g_warning ("sending unscanned: %s (on_scan_error = deliver)", found);
    }
  settings = pst_protect_account_settings (account);
  if (!(prot = pst_protect_message (call->agent, input, &settings, &overrides, NULL, error)))
    return NULL;

  /* Every copy queued durably, in one go, before any network I/O
   * (DESIGN.md §3). */
  for (guint i = 0; i < prot->copies->len; i++)
    {
      PstOutgoing *out = g_ptr_array_index (prot->copies, i);
      g_autoptr (PstStoreWriter) writer = NULL;
      gsize len;
      const guint8 *data = g_bytes_get_data (out->data, &len);
      gint64 id = 0;

      if (!(writer = pst_store_outbox_begin (call->agent->store, account->name, from,
                                             (const char *const *) out->envelope, error))
          || !pst_store_writer_write (writer, data, len, error)
          || !pst_store_writer_commit (writer, &id, error))
        return NULL;
      g_array_append_val (ids, id);
      {
        JsonObject *p = json_object_new ();
        json_object_set_int_member (p, "id", id);
        json_object_set_string_member (p, "account", account->name);
        json_object_set_string_member (p, "state", "queued");
        pst_events_emit (call->agent->events, "outbox.changed", p);
      }
      g_message ("outbox %" G_GINT64_FORMAT ": queued for %s (%s%s)", id, account->name,
                 prot->encrypted ? "encrypted" : "NOT encrypted", prot->signed_ ? ", signed" : "");
    }

  r = json_object_new ();
  json_object_set_int_member (r, "id", g_array_index (ids, gint64, 0));
  id_array = json_array_new ();
  for (guint i = 0; i < ids->len; i++)
    json_array_add_int_element (id_array, g_array_index (ids, gint64, i));
  json_object_set_array_member (r, "ids", id_array);
  json_object_set_string_member (r, "scheme", pst_scheme_name (prot->scheme));
  json_object_set_boolean_member (r, "encrypted", prot->encrypted);
  json_object_set_boolean_member (r, "signed", prot->signed_);
  if (prot->missing && prot->missing[0])
    json_object_set_array_member (r, "missing_keys", pst_json_strv (prot->missing));
  if (!wait)
    {
      pst_senders_kick (call->agent->senders, account->name);
      json_object_set_string_member (r, "state", "queued");
      return r;
    }
  {
    g_autoptr (GError) send_error = NULL;
    const char *reply = NULL;
    gboolean ok = pst_senders_run (call->agent->senders, account->name, FALSE, &send_error);

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
