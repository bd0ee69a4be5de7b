/* draft.c — see draft.h.  The agent writes the draft to a memory file
 * (memfd), not a pipe: the draft is read back once the agent has answered,
 * so a draft larger than a pipe's buffer cannot stall the agent's write. */
#define _GNU_SOURCE
#include "draft.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "compose-window.h"
#include "mime/mime.h"

typedef struct {
  GtkApplication *app;
  gboolean forward;
  gint64 resume;        /* drafts.get: the draft's id */
  int fd;
  PstDraftDone done;
  gpointer data;
} Request;

/* Everything in @fd from its start. */
static GBytes *
read_back (int fd, GError **error)
{
  GByteArray *buf = g_byte_array_new ();
  guint8 chunk[65536];
  ssize_t n;

  if (lseek (fd, 0, SEEK_SET) != 0)
    goto failed;
  while ((n = read (fd, chunk, sizeof chunk)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        goto failed;
      g_byte_array_append (buf, chunk, n);
    }
  return g_byte_array_free_to_bytes (buf);
failed:
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), _("Cannot read the draft: %s"),
               g_strerror (errno));
  g_byte_array_unref (buf);
  return NULL;
}

static void
drafted (GObject *source, GAsyncResult *res, gpointer data)
{
  Request *q = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_agent_link_call_finish (PST_AGENT_LINK (source), res, &error);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (PstMimeMessage) draft = NULL;

  if (r != NULL && (bytes = read_back (q->fd, &error)) != NULL)
    draft = pst_mime_message_parse (bytes, &error);
  if (draft != NULL)
    {
      PstComposeWindow *w = pst_compose_window_new (q->app, PST_AGENT_LINK (source));

      if (q->resume > 0)
        pst_compose_window_resume_draft (w, draft, q->resume);
      else
        pst_compose_window_fill_draft (w, draft, q->forward);
      gtk_window_present (GTK_WINDOW (w));
    }
  q->done (draft ? NULL : error->message, q->data);
  close (q->fd);
  g_object_unref (q->app);
  g_free (q);
}

void
pst_draft_open (GtkApplication *app, PstAgentLink *agent, const char *method, JsonObject *params,
                PstDraftDone done, gpointer data)
{
  int fd = memfd_create ("postern-draft", MFD_CLOEXEC);
  Request *q;

  if (fd < 0)
    {
      g_autofree char *t = g_strdup_printf (_("Cannot make room for the draft: %s"), g_strerror (errno));
      json_object_unref (params);
      done (t, data);
      return;
    }
  q = g_new0 (Request, 1);
  q->app = g_object_ref (app);
  q->forward = g_strcmp0 (method, "forward") == 0;
  if (g_strcmp0 (method, "drafts.get") == 0)
    q->resume = json_object_get_int_member_with_default (params, "id", 0);
  q->fd = fd;
  q->done = done;
  q->data = data;
  json_object_set_int_member (params, "fd", 0);
  pst_agent_link_call (agent, method, params, fd, NULL, drafted, q);
}
