/* open.c — see open.h. */
#include "open.h"

#include <string.h>

#include "reader.h"
#include "util/error.h"

/* Whether a client may see message @info (its decrypted form: @plain, or
 * NULL when that is the message as stored):
 * never a quarantined one; one not scanned yet (it came before a scanner was
 * configured, or its analysis failed) is scanned now. */
static gboolean
admit_to_client (PstAgent *agent, PstMessageInfo *info, GBytes *plain, GError **error)
{
  if (!info->quarantined && pst_agent_get_scanner (agent, NULL) != NULL
      && (info->scan_verdict == NULL || strcmp (info->scan_verdict, "skipped") == 0))
    {
      PstAnalysis a = { .id = info->id };
      gboolean ok;

      pst_reader_scan (agent, info, plain, &a);
      ok = pst_store_message_record_scan (agent->store, info, a.scan_verdict, a.scan_name,
                                          a.quarantine, error);
      pst_analysis_clear (&a);
      if (!ok)
        return FALSE;
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

/* pst_open_message_content's way without a worker: FALSE without @error
 * when the summary does not allow it. */
static gboolean
open_as_stored (PstAgent *agent, gint64 id, PstMessageInfo **info_out, PstStatus **status_out,
                GError **error)
{
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, error);
  g_autoptr (PstStatus) status = pst_status_new ();
  g_autofree char *plain = pst_status_to_json_string (status);

  /* The summary is the agent's own record of the worker's checked answer
   * (pst_reader_analyze), written in this form by this reading: anything
   * else, a warning or a signature, an older reading's (which may not have
   * known a kind of encryption), takes the worker again.  So does a sealed
   * message: its seal is opened whole, its integrity known, before any of
   * it goes out (reader.c load_arrived), not as it streams. */
  if (info == NULL || info->sealed || info->reader_version != PST_READER_VERSION
      || g_strcmp0 (info->crypto_json, plain) != 0)
    return FALSE;
  if (!admit_to_client (agent, info, NULL, error))
    return FALSE;
  *info_out = g_steal_pointer (&info);
  *status_out = g_steal_pointer (&status);
  return TRUE;
}

gboolean
pst_open_message (PstAgent *agent, gint64 id, int attachment, PstMessageInfo **info_out,
                  GBytes **plain_out, PstStatus **status_out, PstView **view_out, GError **error)
{
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, error);
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
      if (!pst_reader_analyze (agent, id, &local))
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
          g_clear_error (&local);
        }
      else
        {
          g_clear_pointer (&info, pst_message_info_free);
          if (!(info = pst_store_message_get_info (agent->store, id, error)))
            return FALSE;
        }
    }
  if (!pst_reader_open (agent, id, attachment, &plain, &status, &view, &local))
    {
      if (local->domain == PST_WORKER_ERROR)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     "message %" G_GINT64_FORMAT " could not be analysed: %s; it is kept as it "
                     "arrived, and analysed again when it is next opened", id, local->message);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!admit_to_client (agent, info, plain, error))
    return FALSE;
  *info_out = g_steal_pointer (&info);
  *plain_out = g_steal_pointer (&plain);
  *status_out = g_steal_pointer (&status);
  if (view_out != NULL)
    *view_out = g_steal_pointer (&view);
  return TRUE;
}

gboolean
pst_open_message_content (PstAgent *agent, gint64 id, PstMessageInfo **info_out,
                          GBytes **plain_out, PstStatus **status_out, GError **error)
{
  g_autoptr (GError) local = NULL;

  *plain_out = NULL;
  if (open_as_stored (agent, id, info_out, status_out, &local))
    return TRUE;
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return pst_open_message (agent, id, -1, info_out, plain_out, status_out, NULL, error);
}
