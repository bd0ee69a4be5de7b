/* mailbox.c — `postern import` (mbox files and Maildirs into the store) and
 * `postern export --all` (the store to an mbox or a Maildir), both a
 * message at a time through the agent, so that the CLI's memory stays
 * bounded whatever the number of messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mime/mbox.h"
#include "mime/mime.h"
#include "rpc/frame.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/text.h"

/* ---- import ---- */

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
} Import;

static void
report (const char *command, const char *label, const char *why)
{
  g_autofree char *safe_label = pst_cli_safe (label);
  g_autofree char *safe_why = pst_text_sanitize_line (why, -1);

  fprintf (stderr, "postern: %s: %s: %s\n", command, safe_label, safe_why);
}

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
          report ("import", im->batch[i].label,
                  m ? json_object_get_string_member_with_default (m, "error", _("failed"))
                    : _("the agent did not say"));
        }
      close (im->batch[i].fd);
      g_free (im->batch[i].label);
    }
  im->n = 0;
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
      report ("import", path, error->message);
      im->fatal = PST_ERROR_FAILED;
      return FALSE;
    }
  while ((fd = pst_mbox_next (mbox, &error)) >= 0)
    if (!import_add (im, fd, g_strdup_printf (_("%s (message %u)"), path, pst_mbox_index (mbox))))
      return FALSE;
  if (error != NULL)
    {
      g_autofree char *label = g_strdup_printf (_("%s (message %u)"), path, pst_mbox_index (mbox));
      /* What could not be read of the file stops it, not the others. */
      report ("import", label, error->message);
      im->failed++;
    }
  return TRUE;
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
          report ("import", dir_path, error->message);
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
              report ("import", file, g_strerror (errno));
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
      report ("import", path, g_strerror (errno));
      return 0;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autofree char *cur = g_build_filename (path, "cur", NULL);
      g_autofree char *new_dir = g_build_filename (path, "new", NULL);

      if (g_file_test (cur, G_FILE_TEST_IS_DIR) || g_file_test (new_dir, G_FILE_TEST_IS_DIR))
        return 'd';
      report ("import", path, _("not a Maildir: it has neither cur/ nor new/"));
      return 0;
    }
  if (S_ISREG (st.st_mode))
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PstMbox) mbox = pst_mbox_open (path, &error);

      if (mbox != NULL)
        return 'm';
      report ("import", path, error->message);
      return 0;
    }
  report ("import", path, _("neither an mbox file nor a Maildir"));
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
      pst_cli_print_json (o);
      json_object_unref (o);
    }
  else if (im.imported + im.present + im.failed > 0 || im.fatal == 0)
    printf (_("%u imported, %u already present, %u failed\n"), im.imported, im.present, im.failed);
  if (im.fatal != 0)
    return im.fatal;
  return im.failed > 0 ? PST_ERROR_FAILED : 0;
}

/* ---- export --all ---- */

typedef struct {
  PstRpcClient *client;
  FILE *mbox;            /* --mbox */
  char *maildir;         /* --maildir */
  guint exported, as_received, failed;
  guint serial;          /* for unique Maildir names */
  char *host;            /* the host name as a Maildir name may hold it */
} Export;

/* Writes message @id into @fd: decrypted, as `export ID` gives it; as it
 * arrived when it cannot be decrypted (counted and reported).  FALSE
 * (reported) when neither could be had. */
static gboolean
export_one (Export *ex, gint64 id, int fd)
{
  g_autoptr (GError) error = NULL;
  JsonObject *params = json_object_new (), *r;
  g_autofree char *label = g_strdup_printf (_("message %lld"), (long long) id);

  json_object_set_int_member (params, "id", id);
  json_object_set_int_member (params, "fd", 0);
  if ((r = pst_rpc_client_call (ex->client, "export", params, &fd, 1, &error)))
    {
      json_object_unref (r);
      return TRUE;
    }
  if (!g_error_matches (error, PST_ERROR, PST_ERROR_CRYPTO))
    {
      report ("export", label, error->message);
      return FALSE;
    }
  {
    g_autoptr (GError) raw_error = NULL;
    g_autofree char *why = g_strdup_printf (_("exported as it arrived: %s"), error->message);

    if (ftruncate (fd, 0) != 0 || lseek (fd, 0, SEEK_SET) != 0)
      {
        report ("export", label, g_strerror (errno));
        return FALSE;
      }
    params = json_object_new ();
    json_object_set_int_member (params, "id", id);
    json_object_set_int_member (params, "fd", 0);
    json_object_set_boolean_member (params, "raw", TRUE);
    if (!(r = pst_rpc_client_call (ex->client, "export", params, &fd, 1, &raw_error)))
      {
        report ("export", label, raw_error->message);
        return FALSE;
      }
    json_object_unref (r);
    report ("export", label, why);
    ex->as_received++;
    return TRUE;
  }
}

static void
export_to_mbox (Export *ex, JsonObject *m)
{
  g_autoptr (GError) error = NULL;
  gint64 id = json_object_get_int_member (m, "id");
  g_autofree char *sender = pst_addr_extract (json_object_get_string_member_with_default (m, "from", ""));
  int fd = memfd_create ("postern-export", MFD_CLOEXEC);
  /* The time in the "From " line: the message's Date (a message imported
   * was received long before it was stored), else when it was stored. */
  gint64 date = pst_mime_parse_date (json_object_get_string_member_with_default (m, "date", ""));

  if (fd < 0)
    {
      report ("export", "memfd", g_strerror (errno));
      ex->failed++;
      return;
    }
  if (date <= 0)
    date = json_object_get_int_member_with_default (m, "received_at", 0);
  /* An addr-spec with white space cannot stand in the "From " line. */
  if (export_one (ex, id, fd)
      && pst_mbox_write (ex->mbox, sender ? sender : "MAILER-DAEMON", date, fd, &error))
    ex->exported++;
  else
    {
      if (error != NULL)
        report ("export", "mbox", error->message);
      ex->failed++;
    }
  close (fd);
}

static void
export_to_maildir (Export *ex, JsonObject *m)
{
  gint64 id = json_object_get_int_member (m, "id");
  /* time.pid_serial.host: unique for this Maildir (maildir(5)). */
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT ".P%dQ%uM%" G_GINT64_FORMAT ".%s",
                                           g_get_real_time () / G_USEC_PER_SEC, (int) getpid (),
                                           ++ex->serial, id, ex->host);
  g_autofree char *tmp = g_build_filename (ex->maildir, "tmp", name, NULL);
  g_autofree char *dest = g_build_filename (ex->maildir, "new", name, NULL);
  int fd = open (tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      report ("export", tmp, g_strerror (errno));
      ex->failed++;
      return;
    }
  if (!export_one (ex, id, fd))
    {
      close (fd);
      unlink (tmp);
      ex->failed++;
      return;
    }
  if (fsync (fd) != 0 || close (fd) != 0 || rename (tmp, dest) != 0)
    {
      report ("export", dest, g_strerror (errno));
      unlink (tmp);
      ex->failed++;
      return;
    }
  ex->exported++;
}

/* Makes @path a Maildir: 0700, with tmp/, new/ and cur/ (those that are
 * there already are used as they are). */
static gboolean
make_maildir (const char *path)
{
  static const char *const subdirs[] = { "", "tmp", "new", "cur" };

  for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *dir = g_build_filename (path, subdirs[i], NULL);

      if (mkdir (dir, 0700) != 0 && (errno != EEXIST || !g_file_test (dir, G_FILE_TEST_IS_DIR)))
        {
          report ("export", dir, errno == EEXIST ? _("exists and is not a directory")
                                                 : g_strerror (errno));
          return FALSE;
        }
    }
  return TRUE;
}

/* The messages, newest first, a page (the agent's largest) at a time. */
#define EXPORT_PAGE 2000

int
pst_cli_export_all (PstCli *cli, const char *account, const char *mbox_path, const char *maildir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = NULL;
  Export ex = { 0 };
  gint64 before = 0;
  int fd, rc = 0;

  if ((mbox_path != NULL) == (maildir != NULL))
    return pst_cli_usage ("export", _("--all takes one of --mbox FILE and --maildir DIR"));
  /* Known before a file is made, so that a wrong name leaves nothing. */
  if (!(client = pst_cli_connect (cli, TRUE, &error)))
    return pst_cli_fail ("export", error);
  if (account != NULL)
    {
      JsonObject *params = json_object_new (), *r;

      json_object_set_string_member (params, "name", account);
      if (!(r = pst_rpc_client_call (client, "account.show", params, NULL, 0, &error)))
        return pst_cli_fail ("export", error);
      json_object_unref (r);
    }
  if (mbox_path != NULL)
    {
      /* A new file only: an mbox that is there is not written over. */
      if ((fd = open (mbox_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        {
          report ("export", mbox_path, errno == EEXIST ? _("the file exists; it is not overwritten")
                                                        : g_strerror (errno));
          return PST_ERROR_FAILED;
        }
      ex.mbox = fdopen (fd, "w");
    }
  else if (!make_maildir (maildir))
    return PST_ERROR_FAILED;
  ex.client = client;
  ex.maildir = (char *) maildir;
  {
    g_autofree char *host = g_strdup (g_get_host_name ());

    /* '/' and ':' mean something in a Maildir name (maildir(5)). */
    g_strdelimit (host, "/:", '_');
    ex.host = host;
    for (;;)
      {
        JsonObject *params = json_object_new (), *r;
        JsonArray *messages;
        guint n;
        gboolean more;

        json_object_set_int_member (params, "limit", EXPORT_PAGE);
        if (account)
          json_object_set_string_member (params, "account", account);
        if (before > 0)
          json_object_set_int_member (params, "before", before);
        if (!(r = pst_rpc_client_call (client, "list", params, NULL, 0, &error)))
          {
            rc = pst_cli_fail ("export", error);
            break;
          }
        messages = json_object_get_array_member (r, "messages");
        n = json_array_get_length (messages);
        for (guint i = 0; i < n; i++)
          {
            JsonObject *m = json_array_get_object_element (messages, i);

            if (ex.mbox != NULL)
              export_to_mbox (&ex, m);
            else
              export_to_maildir (&ex, m);
            before = json_object_get_int_member (m, "id");
          }
        more = json_object_get_boolean_member_with_default (r, "more", FALSE);
        json_object_unref (r);
        if (n == 0 || (!more && n < EXPORT_PAGE))
          break;
      }
    ex.host = NULL;
  }
  if (ex.mbox != NULL)
    {
      if (fflush (ex.mbox) != 0 || fsync (fileno (ex.mbox)) != 0)
        {
          report ("export", mbox_path, g_strerror (errno));
          rc = rc ? rc : PST_ERROR_FAILED;
        }
      if (fclose (ex.mbox) != 0 && rc == 0)
        {
          report ("export", mbox_path, g_strerror (errno));
          rc = PST_ERROR_FAILED;
        }
    }
  if (cli->json)
    {
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "exported", ex.exported);
      json_object_set_int_member (o, "as_received", ex.as_received);
      json_object_set_int_member (o, "failed", ex.failed);
      pst_cli_print_json (o);
      json_object_unref (o);
    }
  else
    printf (_("%u exported (%u of them as they arrived: they could not be decrypted), %u failed\n"),
            ex.exported, ex.as_received, ex.failed);
  if (rc != 0)
    return rc;
  return ex.failed > 0 ? PST_ERROR_FAILED : 0;
}
