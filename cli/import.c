/* import.c — `postern import`: the messages of mbox files and Maildirs into
 * the store, a message at a time through the agent (each a descriptor:
 * a memfd split from an mbox, or the Maildir's file), at most
 * PST_RPC_MAX_FDS per request, so that memory stays bounded whatever the
 * number of messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mime/mbox.h"
#include "rpc/frame.h"
#include "util/error.h"

typedef struct {
  int fd;
  char *label;          /* "FILE (message N)" or the Maildir file, for errors */
} Pending;

typedef struct {
  PstRpcClient *client;
  const char *account;
  Pending batch[PST_RPC_MAX_FDS];
  guint n;
  guint imported, present, failed;
  int fatal;            /* the exit status of an error that stops the import, or 0 */
  gboolean unsealed;    /* the agent could not seal one (seal_incoming) */
} Import;


/* Sends the messages gathered so far to the agent: one request, at most
 * PST_RPC_MAX_FDS descriptors (the agent's limit for one line). */
static gboolean
import_flush (Import *im)
{
  g_autoptr (GError) error = NULL;
  JsonObject *params = json_object_new (), *r;
  JsonArray *fds = json_array_new ();
  int raw[PST_RPC_MAX_FDS];
  JsonArray *results;

  if (im->n == 0)
    return TRUE;
  for (guint i = 0; i < im->n; i++)
    {
      json_array_add_int_element (fds, i);
      raw[i] = im->batch[i].fd;
    }
  if (im->account)
    json_object_set_string_member (params, "account", im->account);
  json_object_set_array_member (params, "messages", fds);
  r = pst_rpc_client_call (im->client, "import", params, raw, im->n, &error);
  if (r == NULL)
    im->fatal = pst_cli_fail ("import", error);
  results = r ? json_object_get_array_member (r, "messages") : NULL;
  for (guint i = 0; i < im->n; i++)
    {
      JsonObject *m = results && i < json_array_get_length (results)
                        ? json_array_get_object_element (results, i) : NULL;
      const char *status = m ? json_object_get_string_member_with_default (m, "status", "") : "";

      if (strcmp (status, "imported") == 0)
        im->imported++;
      else if (strcmp (status, "present") == 0)
        im->present++;
      else if (r != NULL)
        {
          im->failed++;
          pst_cli_report ("import", im->batch[i].label,
                  m ? json_object_get_string_member_with_default (m, "error", _("failed"))
                    : _("the agent did not say"));
        }
      close (im->batch[i].fd);
      g_free (im->batch[i].label);
    }
  im->n = 0;
  if (r != NULL && json_object_has_member (r, "unsealed"))
    {
      /* Stored, but its plaintext is on the disk, which seal_incoming
       * says it must not be: said, and the exit status says it. */
      g_autofree char *why = pst_cli_safe (json_object_get_string_member_with_default (r, "unsealed", ""));
      fprintf (stderr, "postern: import: %s\n", why);
      im->unsealed = TRUE;
    }
  if (r != NULL)
    json_object_unref (r);
  return r != NULL;
}

/* Adds message @fd (owned from here on) to the batch. */
static gboolean
import_add (Import *im, int fd, char *label)
{
  im->batch[im->n].fd = fd;
  im->batch[im->n].label = label;
  if (++im->n < PST_RPC_MAX_FDS)
    return TRUE;
  return import_flush (im);
}

static gboolean
import_mbox (Import *im, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMbox) mbox = pst_mbox_open (path, &error);
  int fd;

  if (mbox == NULL)
    {
      pst_cli_report ("import", path, error->message);
      im->fatal = PST_ERROR_FAILED;
      return FALSE;
    }
  for (;;)
    {
      if ((fd = pst_mbox_next (mbox, &error)) >= 0)
        {
          if (!import_add (im, fd, g_strdup_printf (_("%s (message %u)"), path, pst_mbox_index (mbox))))
            return FALSE;
          continue;
        }
      if (error == NULL)
        return TRUE;
      g_autofree char *label = g_strdup_printf (_("%s (message %u)"), path, pst_mbox_index (mbox));
      /* A message too large is skipped; what could not be read of the
       * file stops it, not the others. */
      pst_cli_report ("import", label, error->message);
      im->failed++;
      g_clear_error (&error);
      if (!pst_mbox_has_next (mbox))
        return TRUE;
    }
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The messages of a Maildir: new/ then cur/, each in the order of the
 * file names (which begin with the time of delivery); tmp/ (deliveries
 * under way) and dot files are not messages. */
static gboolean
import_maildir (Import *im, const char *path)
{
  static const char *const subdirs[] = { "new", "cur" };

  for (gsize s = 0; s < G_N_ELEMENTS (subdirs); s++)
    {
      g_autofree char *dir_path = g_build_filename (path, subdirs[s], NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &error);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      if (dir == NULL)
        {
          if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            continue;
          pst_cli_report ("import", dir_path, error->message);
          im->failed++;
          continue;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        if (name[0] != '.')
          g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, compare_names);
      for (guint i = 0; i < names->len; i++)
        {
          char *file = g_build_filename (dir_path, g_ptr_array_index (names, i), NULL);
          int fd = open (file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
          struct stat st;

          if (fd >= 0 && fstat (fd, &st) == 0 && !S_ISREG (st.st_mode))
            {
              /* A directory or a device in there is no message. */
              close (fd);
              g_free (file);
              continue;
            }
          if (fd < 0)
            {
              pst_cli_report ("import", file, g_strerror (errno));
              im->failed++;
              g_free (file);
              continue;
            }
          if (!import_add (im, fd, file))
            return FALSE;
        }
    }
  return TRUE;
}

/* What @path is: 'm' an mbox, 'd' a Maildir; 0 after printing why it is
 * neither. */
static char
source_kind (const char *path)
{
  struct stat st;

  if (stat (path, &st) != 0)
    {
      pst_cli_report ("import", path, g_strerror (errno));
      return 0;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autofree char *cur = g_build_filename (path, "cur", NULL);
      g_autofree char *new_dir = g_build_filename (path, "new", NULL);

      if (g_file_test (cur, G_FILE_TEST_IS_DIR) || g_file_test (new_dir, G_FILE_TEST_IS_DIR))
        return 'd';
      pst_cli_report ("import", path, _("not a Maildir: it has neither cur/ nor new/"));
      return 0;
    }
  if (S_ISREG (st.st_mode))
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PstMbox) mbox = pst_mbox_open (path, &error);

      if (mbox != NULL)
        return 'm';
      pst_cli_report ("import", path, error->message);
      return 0;
    }
  pst_cli_report ("import", path, _("neither an mbox file nor a Maildir"));
  return 0;
}

int
pst_cli_cmd_import (PstCli *cli, int argc, char **argv)
{
  g_autofree char *account = NULL;
  g_autofree char *kinds = NULL;
  GOptionEntry entries[] = {
    { "account", 0, 0, G_OPTION_ARG_STRING, &account,
      N_("Into this account (default: the only one)"), "NAME" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = NULL;
  Import im = { 0 };
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc < 2)
    return pst_cli_usage ("import", _("give at least one MBOX file or MAILDIR"));
  /* Every source is looked at before anything is imported: a typing
   * mistake in the last one leaves the store as it was. */
  kinds = g_new0 (char, argc);
  for (int i = 1; i < argc; i++)
    if (!(kinds[i] = source_kind (argv[i])))
      return PST_ERROR_FAILED;
  if (!(client = pst_cli_connect (cli, TRUE, &error)))
    return pst_cli_fail ("import", error);
  im.client = client;
  im.account = account;
  for (int i = 1; i < argc && im.fatal == 0; i++)
    if (kinds[i] == 'm')
      import_mbox (&im, argv[i]);
    else
      import_maildir (&im, argv[i]);
  if (im.fatal == 0)
    import_flush (&im);
  for (guint i = 0; i < im.n; i++)
    {
      close (im.batch[i].fd);
      g_free (im.batch[i].label);
    }
  if (cli->json)
    {
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "imported", im.imported);
      json_object_set_int_member (o, "present", im.present);
      json_object_set_int_member (o, "failed", im.failed);
      json_object_set_boolean_member (o, "unsealed", im.unsealed);
      pst_cli_print_json (o);
      json_object_unref (o);
    }
  else if (im.imported + im.present + im.failed > 0 || im.fatal == 0)
    printf (_("%u imported, %u already present, %u failed\n"), im.imported, im.present, im.failed);
  if (im.fatal != 0)
    return im.fatal;
  return im.failed > 0 || im.unsealed ? PST_ERROR_FAILED : 0;
}

