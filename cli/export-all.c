/* export-all.c — `postern export --all`: every stored message, decrypted,
 * to an mbox (mboxrd) or a Maildir, the ids paged through the agent and
 * each message exported alone, so that memory stays bounded whatever the
 * number of messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mime/mbox.h"
#include "util/addr.h"
#include "util/error.h"

typedef struct {
  PstRpcClient *client;
  FILE *mbox;            /* --mbox */
  char *maildir;         /* --maildir */
  guint exported, as_received, failed;
  guint serial;          /* for unique Maildir names */
  char *host;            /* the host name as a Maildir name may hold it */
} Export;

/* Writes message @id into @fd: decrypted, as `export ID` gives it; as it
 * arrived when it cannot be decrypted or analysed (counted and reported).  FALSE
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
  /* "Failed" may be the agent busy with other large messages for a moment:
   * once more after a second, before the message goes in as it arrived. */
  if (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED) && ftruncate (fd, 0) == 0
      && lseek (fd, 0, SEEK_SET) == 0)
    {
      g_clear_error (&error);
      g_usleep (G_USEC_PER_SEC);
      params = json_object_new ();
      json_object_set_int_member (params, "id", id);
      json_object_set_int_member (params, "fd", 0);
      if ((r = pst_rpc_client_call (ex->client, "export", params, &fd, 1, &error)))
        {
          json_object_unref (r);
          return TRUE;
        }
    }
  /* As it arrived when it cannot be decrypted, or cannot be analysed (a
   * message too large to read whole, one the analysis worker fails on):
   * a backup leaves out only what cannot be had at all. */
  if (!g_error_matches (error, PST_ERROR, PST_ERROR_CRYPTO)
      && !g_error_matches (error, PST_ERROR, PST_ERROR_FAILED))
    {
      pst_cli_report ("export", label, error->message);
      return FALSE;
    }
  {
    g_autoptr (GError) raw_error = NULL;
    g_autofree char *why = g_strdup_printf (_("exported as it arrived: %s"), error->message);

    if (ftruncate (fd, 0) != 0 || lseek (fd, 0, SEEK_SET) != 0)
      {
        pst_cli_report ("export", label, g_strerror (errno));
        return FALSE;
      }
    params = json_object_new ();
    json_object_set_int_member (params, "id", id);
    json_object_set_int_member (params, "fd", 0);
    json_object_set_boolean_member (params, "raw", TRUE);
    if (!(r = pst_rpc_client_call (ex->client, "export", params, &fd, 1, &raw_error)))
      {
        pst_cli_report ("export", label, raw_error->message);
        return FALSE;
      }
    json_object_unref (r);
    pst_cli_report ("export", label, why);
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
  gint64 date = json_object_get_int_member_with_default (m, "date_unix", 0);

  if (fd < 0)
    {
      pst_cli_report ("export", "memfd", g_strerror (errno));
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
        pst_cli_report ("export", "mbox", error->message);
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
      pst_cli_report ("export", tmp, g_strerror (errno));
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
      pst_cli_report ("export", dest, g_strerror (errno));
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
          pst_cli_report ("export", dir, errno == EEXIST ? _("exists and is not a directory")
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
          pst_cli_report ("export", mbox_path, errno == EEXIST ? _("the file exists; it is not overwritten")
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
          pst_cli_report ("export", mbox_path, g_strerror (errno));
          rc = rc ? rc : PST_ERROR_FAILED;
        }
      if (fclose (ex.mbox) != 0 && rc == 0)
        {
          pst_cli_report ("export", mbox_path, g_strerror (errno));
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
    printf (_("%u exported (%u of them as they arrived: they could not be decrypted or analysed), "
              "%u failed\n"), ex.exported, ex.as_received, ex.failed);
  if (rc != 0)
    return rc;
  return ex.failed > 0 ? PST_ERROR_FAILED : 0;
}
