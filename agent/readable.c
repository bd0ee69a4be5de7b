/* readable.c — see readable.h. */
#include "readable.h"

#include "mime/status-field.h"
#include "open.h"
#include "reader.h"

GBytes *
pst_readable_message (PstAgent *agent, gint64 id, gboolean as_received, gboolean *decrypted_out,
                      GError **error)
{
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (GBytes) plain = NULL, arrived = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autofree char *value = NULL;
  gboolean decrypted;
  GBytes *body;

  /* Opened (and so scanned, and refused when quarantined) even when the
   * message goes out as it arrived: the field says what Postern found. */
  if (!pst_open_message_content (agent, id, &info, &plain, &status, error))
    return NULL;
  decrypted = !as_received && !pst_status_withholds_content (status);
  /* Without a plaintext, the message as stored is what was read. */
  if (!decrypted || plain == NULL)
    {
      if (!pst_reader_arrived (agent, id, &arrived, error))
        return NULL;
      g_clear_pointer (&plain, g_bytes_unref);
    }
  body = plain != NULL ? plain : arrived;
  value = pst_status_to_field_value (status, info->scan_verdict);
  if (decrypted_out != NULL)
    *decrypted_out = decrypted && status->decryption == PST_DECRYPTION_OK;
  return pst_mime_with_status_field (body, value);
}
