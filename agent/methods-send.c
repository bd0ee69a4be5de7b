/* methods-send.c — send: a message from a client into the outbox
 * (outgoing-stream.h: in constant memory from a regular file),
 * and with wait, out of it (send-result.h); with draft, the
 * draft it was written from deleted (methods-drafts.h).  And
 * message.addresses, for `postern sendmail`, which parses no addresses
 * itself (it does not load libetpan). */
#include "handlers.h"
#include "methods-drafts.h"
#include "send-result.h"
#include "outgoing-stream.h"
#include "mime/mime.h"
#include "util/error.h"

/* The largest header section message.addresses reads: sendmail's largest
 * message (cli/sendmail.c). */
#define MAX_HEADER_SECTION (64 * 1024 * 1024)

JsonObject *
pst_method_send (PstCall *call, GError **error)
{
  const char *name;
  gboolean wait;
  int fd;
  gint64 draft = 0;
  g_autoptr (PstQueued) queued = NULL;
  g_auto (GStrv) envelope = NULL;
  GError *local = NULL;
  PstPolicySettings overrides;
  JsonObject *r;
  gboolean deleted = FALSE;

  if ((envelope = pst_call_get_strv (call->params, "envelope", &local)) == NULL && local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }
  if (envelope != NULL && envelope[0] == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "envelope: give at least one address");
      return NULL;
    }
  if (!pst_rpc_get_string (call->params, "account", FALSE, &name, error)
      || !pst_call_get_overrides (call, &overrides, error)
      || !pst_rpc_get_bool (call->params, "wait", FALSE, &wait, error)
      || !pst_drafts_get_id (call, "draft", FALSE, &draft, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || !(queued = pst_outgoing_queue_fd (call->agent, fd, name, (const char *const *) envelope,
                                           &overrides, error)))
    return NULL;
  /* The draft this was written from goes once the outbox has the message,
   * before any wait. */
  if (draft > 0)
    deleted = pst_drafts_delete_sent (call->agent, draft);
  r = pst_send_result (call, queued, wait, error);
  if (r != NULL && draft > 0)
    json_object_set_boolean_member (r, "draft_deleted", deleted);
  return r;
}

JsonObject *
pst_method_message_addresses (PstCall *call, GError **error)
{
  static const char *const known[] = { "fd", NULL };
  g_autoptr (GBytes) header = NULL;
  g_autofree char *from = NULL, *problem = NULL;
  g_auto (GStrv) recipients = NULL;
  JsonObject *r;
  int fd;

  if (!pst_call_check_members (call->params, known, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || !(header = pst_fd_read_all (fd, MAX_HEADER_SECTION, error))
      || !pst_mime_header_addresses (header, &from, &problem, &recipients, error))
    return NULL;
  r = json_object_new ();
  if (from != NULL)
    json_object_set_string_member (r, "from", from);
  else
    json_object_set_null_member (r, "from");
  if (problem != NULL)
    json_object_set_string_member (r, "from_problem", problem);
  else
    json_object_set_null_member (r, "from_problem");
  json_object_set_array_member (r, "recipients", pst_json_strv (recipients));
  return r;
}
