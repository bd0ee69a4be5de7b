/* streamhead.c — see streamhead.h. */
#include "mime/streamhead.h"

#include <string.h>

#include "mime/mime.h"
#include "mime/pgpstream.h"
#include "util/secret.h"

void
pst_stream_head_init (PstStreamHead *head, gsize max)
{
  head->bytes = g_byte_array_new ();
  head->max = max;
  head->done = FALSE;
}

void
pst_stream_head_reset (PstStreamHead *head)
{
  pst_secret_byte_array_clear (head->bytes);
  head->done = FALSE;
}

void
pst_stream_head_wipe (PstStreamHead *head)
{
  pst_secret_byte_array_clear (head->bytes);
}

void
pst_stream_head_clear (PstStreamHead *head)
{
  if (head->bytes == NULL)
    return;
  pst_secret_byte_array_clear (head->bytes);
  g_clear_pointer (&head->bytes, g_byte_array_unref);
}

PstStreamHeadState
pst_stream_head_feed (PstStreamHead *head, const char *data, gsize len, gsize *used_out)
{
  gsize before = head->bytes->len, end = 0, take;

  *used_out = 0;
  g_return_val_if_fail (!head->done, PST_STREAM_HEAD_DONE);
  if (before > head->max)
    return PST_STREAM_HEAD_TOO_LARGE;   /* fed again after it was */
  take = MIN (len, head->max + 1 - before);
  g_byte_array_append (head->bytes, (const guint8 *) data, (guint) take);
  if (pst_pgpstream_header_end_after ((const char *) head->bytes->data, head->bytes->len, before, &end))
    {
      /* What follows the empty line is not the header's: wiped. */
      explicit_bzero (head->bytes->data + end, head->bytes->len - end);
      g_byte_array_set_size (head->bytes, (guint) end);
      head->done = TRUE;
      *used_out = end - before;
      return PST_STREAM_HEAD_DONE;
    }
  *used_out = take;
  return head->bytes->len > head->max ? PST_STREAM_HEAD_TOO_LARGE : PST_STREAM_HEAD_MORE;
}

GPtrArray *
pst_stream_head_fields (PstStreamHead *head)
{
  g_autoptr(GBytes) section = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  gsize body = 0;

  g_return_val_if_fail (head->done, NULL);
  /* Not copied: a copy of the plaintext would be freed unwiped (the
   * fields are copies of their own, as they always were). */
  section = g_bytes_new_static (head->bytes->data, head->bytes->len);
  if (!pst_mime_entity_split (section, &fields, &body))
    return NULL;
  return g_steal_pointer (&fields);
}
