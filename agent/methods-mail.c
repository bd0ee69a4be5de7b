/* methods-mail.c — attachment, and what the methods that read or send
 * mail share: opening a stored message for a client (show, export,
 * attachment) and the account's sending limits (send, keys.check). */
#include <string.h>

#include "methods-private.h"
#include "mime/mime.h"
#include "reader.h"
#include "util/error.h"

/* Whether a client may see message @info (its decrypted form: @plain):
 * never a quarantined one; one not scanned yet (it came before a scanner was
 * configured, or its analysis failed) is scanned now. */
static gboolean
admit_to_client (PstCall *call, PstMessageInfo *info, GBytes *plain, GError **error)
{
  if (!info->quarantined && call->agent->scanner != NULL
      && (info->scan_verdict == NULL || strcmp (info->scan_verdict, "skipped") == 0))
    {
      PstAnalysis a = { .id = info->id };
      PstMessageInfoUpdate u = { .id = info->id, .quarantine = -1 };

      pst_reader_scan (call->agent, plain, &a);
      u.scan_verdict = a.scan_verdict;
      u.scan_name = a.scan_name;
      u.quarantine = a.quarantine ? 1 : 0;
      if (!pst_store_messages_set_info (call->agent->store, &u, 1, error))
        {
          pst_analysis_clear (&a);
          return FALSE;
        }
      g_free (info->scan_verdict);
      info->scan_verdict = g_strdup (a.scan_verdict);
      g_free (info->scan_name);
      info->scan_name = g_steal_pointer (&a.scan_name);
      info->quarantined = a.quarantine;
      pst_analysis_clear (&a);
    }
  if (!info->quarantined)
    return TRUE;
  if (g_strcmp0 (info->scan_verdict, "infected") == 0)
    g_set_error (error, PST_ERROR, PST_ERROR_INFECTED,
                 "message %" G_GINT64_FORMAT " is quarantined: infected with %s (see `postern "
                 "quarantine`)", info->id, info->scan_name ? info->scan_name : "malware");
  else
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "message %" G_GINT64_FORMAT " is quarantined: it could not be scanned (%s); see "
                 "`postern quarantine`", info->id, info->scan_name ? info->scan_name : "scan error");
  return FALSE;
}

gboolean
pst_call_open_message (PstCall *call, gint64 id, int attachment, PstMessageInfo **info_out,
                       GBytes **plain_out, PstStatus **status_out, PstView **view_out,
                       GError **error)
{
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (call->agent->store, id, error);
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstView) view = NULL;
  g_autoptr (GError) local = NULL;

  if (info == NULL)
    return FALSE;
  if (info->crypto_json == NULL || pst_reader_summary_failed (info->crypto_json))
    {
      /* Its analysis failed when it was fetched (the agent was busy with
       * other large messages, restarted before it tried again, or the
       * analysis worker failed on it): record it now, so that list says
       * what it is.  It scans it too.  Before the message is opened for the
       * client, not while its plaintext is held: one operation holds one
       * message's share of the decryption budget (util/sink.h), never two. */
      if (!pst_reader_analyze (call->agent, id, &local))
        {
          if (local->domain == PST_WORKER_ERROR)
            {
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                           "message %" G_GINT64_FORMAT " could not be analysed: %s; it is kept as "
                           "it arrived, and analysed again when it is next opened", id,
                           local->message);
              return FALSE;
            }
          g_warning ("message %" G_GINT64_FORMAT ": cannot analyse it: %s", id, local->message);
        }
      else
        {
          g_clear_pointer (&info, pst_message_info_free);
          if (!(info = pst_store_message_get_info (call->agent->store, id, error)))
            return FALSE;
        }
    }
  if (!pst_reader_open (call->agent, id, attachment, &plain, &status, &view, &local))
    {
      if (local->domain == PST_WORKER_ERROR)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     "message %" G_GINT64_FORMAT " could not be analysed: %s; it is kept as it "
                     "arrived, and analysed again when it is next opened", id, local->message);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!admit_to_client (call, info, plain, error))
    return FALSE;
  *info_out = g_steal_pointer (&info);
  *plain_out = g_steal_pointer (&plain);
  *status_out = g_steal_pointer (&status);
  if (view_out != NULL)
    *view_out = g_steal_pointer (&view);
  return TRUE;
}

/* Limits, so that the agent cannot be made a relay by whatever can reach
 * its socket: recipients per message, messages per hour. */
gboolean
pst_send_check_limits (PstAgent *agent, const PstAccount *account, guint n, GError **error)
{
  guint max_rcpt = account->max_recipients ? account->max_recipients : PST_DEFAULT_MAX_RECIPIENTS;
  guint max_hour = account->max_per_hour ? account->max_per_hour : PST_DEFAULT_MAX_PER_HOUR;
  guint queued = 0;

  if (n > max_rcpt)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "the message has %u recipients; account %s allows at most %u "
                   "(max_recipients); nothing was sent", n, account->name, max_rcpt);
      return FALSE;
    }
  if (!pst_store_outbox_count_since (agent->store, account->name,
                                     g_get_real_time () / G_USEC_PER_SEC - 3600, &queued, error))
    return FALSE;
  if (queued >= max_hour)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "account %s queued %u messages in the last hour, its limit "
                   "(max_messages_per_hour = %u); nothing was sent", account->name, queued,
                   max_hour);
      return FALSE;
    }
  return TRUE;
}

/* attachment {id, index, fd}: the decoded content of attachment @index
 * (0-based, the order of show's "attachments") of message @id, written to
 * descriptor fd; result {name, type, size}.  Admitted as show admits;
 * refused (PST_ERROR_CRYPTO) when the content could not be decrypted or its
 * integrity is missing, as export is.  No such attachment: PST_ERROR_FAILED. */
JsonObject *
pst_method_attachment (PstCall *call, GError **error)
{
  gint64 id, index;
  int fd;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstView) view = NULL;
  JsonObject *r;
  gsize len = 0;
  const guint8 *data;

  if (!pst_rpc_get_int (call->params, "id", TRUE, 0, &id, error)
      || !pst_rpc_get_int (call->params, "index", TRUE, 0, &index, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0)
    return NULL;
  if (index < 0 || index > G_MAXINT)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "index must be 0 or more (attachments are numbered from 0)");
      return NULL;
    }
  /* The attachment is found and decoded by the analysis worker too. */
  if (!pst_call_open_message (call, id, (int) index, &info, &plain, &status, &view, error))
    return NULL;
  if (pst_status_withholds_content (status))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "message %" G_GINT64_FORMAT " cannot be decrypted%s; no attachment written",
                   id, status->integrity == PST_INTEGRITY_MISSING
                         ? " with integrity protection"
                         : status->decryption == PST_DECRYPTION_TOO_LARGE
                         ? ": its content expands past the decryption limit (a compression bomb?)" : "");
      return NULL;
    }
  if (view->attachment == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "message %" G_GINT64_FORMAT ": %s", id,
                   view->attachment_error ? view->attachment_error : "no such attachment");
      return NULL;
    }
  data = g_bytes_get_data (view->attachment, &len);
  if (len > 0 && !pst_fd_write_all (fd, data, len, error))
    return NULL;
  r = json_object_new ();
  json_object_set_string_member (r, "name", view->attachment_name ? view->attachment_name : "");
  json_object_set_string_member (r, "type", view->attachment_type ? view->attachment_type : "");
  json_object_set_int_member (r, "size", (gint64) len);
  return r;
}
