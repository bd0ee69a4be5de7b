/* methods-scan.c — scan, quarantine.list, quarantine.release,
 * quarantine.delete (DESIGN.md §11). */
#include "fetcher.h"
#include "handlers.h"
#include "util/error.h"

#define MAX_SCAN_SIZE (64u * 1024 * 1024)

JsonObject *
pst_method_scan (PstCall *call, GError **error)
{
  g_autoptr (GBytes) data = NULL;
  g_autofree char *name = NULL;
  PstScanVerdict v;
  JsonObject *r;
  PstScanner *scanner;
  int fd;

  if ((fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0)
    return NULL;
  if (!(scanner = pst_agent_get_scanner (call->agent, NULL)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "no scanner is configured (scan = in [general] of the configuration)");
      return NULL;
    }
  if (!(data = pst_fd_read_all (fd, MAX_SCAN_SIZE, error)))
    return NULL;
  v = pst_scanner_scan (scanner, data, &name);
  r = json_object_new ();
  json_object_set_string_member (r, "verdict", pst_scan_verdict_name (v));
  if (name)
    json_object_set_string_member (r, "name", name);
  else
    json_object_set_null_member (r, "name");
  return r;
}

JsonObject *
pst_method_quarantine_list (PstCall *call, GError **error)
{
  const char *account = NULL;
  g_autoptr (GPtrArray) infos = NULL;
  JsonArray *arr;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "account", FALSE, &account, error)
      || !(infos = pst_store_message_list_full (call->agent->store, account, 0, TRUE, error)))
    return NULL;
  arr = json_array_new ();
  for (guint i = 0; i < infos->len; i++)
    {
      PstMessageInfo *m = g_ptr_array_index (infos, i);
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "id", m->id);
      json_object_set_string_member (o, "account", m->account);
      json_object_set_int_member (o, "received_at", m->received_at);
      /* The outer headers only: what is inside is not shown. */
      json_object_set_string_member (o, "verdict", m->scan_verdict ? m->scan_verdict : "error");
      json_object_set_string_member (o, "name", m->scan_name ? m->scan_name : "");
      json_object_set_int_member (o, "size", m->size);
      json_array_add_object_element (arr, o);
    }
  r = json_object_new ();
  json_object_set_array_member (r, "quarantine", arr);
  return r;
}

/* The quarantined message named by parameter "id". */
static PstMessageInfo *
quarantined (PstCall *call, GError **error)
{
  gint64 id = 0;
  PstMessageInfo *info;

  if (!pst_rpc_get_int (call->params, "id", TRUE, 0, &id, error)
      || !(info = pst_store_message_get_info (call->agent->store, id, error)))
    return NULL;
  if (!info->quarantined)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "message %" G_GINT64_FORMAT
                   " is not in quarantine", id);
      pst_message_info_free (info);
      return NULL;
    }
  return info;
}

JsonObject *
pst_method_quarantine_release (PstCall *call, GError **error)
{
  g_autoptr (PstMessageInfo) info = quarantined (call, error);
  JsonObject *r;

  /* The user's decision: the verdict stays recorded, and shown. */
  if (info == NULL || !pst_store_message_set_quarantined (call->agent->store, info->id, FALSE, error))
    return NULL;
  g_message ("message %" G_GINT64_FORMAT ": released from quarantine (%s)", info->id,
             info->scan_name ? info->scan_name : "");
  /* Delivered now if its account delivers and it waited (deliver.h). */
  pst_fetchers_deliver_kick (call->agent->fetchers, info->account);
  r = json_object_new ();
  json_object_set_int_member (r, "id", info->id);
  json_object_set_string_member (r, "state", "released");
  return r;
}

JsonObject *
pst_method_quarantine_delete (PstCall *call, GError **error)
{
  g_autoptr (PstMessageInfo) info = quarantined (call, error);
  JsonObject *r;

  if (info == NULL || !pst_store_message_delete (call->agent->store, info->id, error))
    return NULL;
  g_message ("message %" G_GINT64_FORMAT ": deleted from quarantine", info->id);
  r = json_object_new ();
  json_object_set_int_member (r, "id", info->id);
  json_object_set_string_member (r, "state", "deleted");
  return r;
}
