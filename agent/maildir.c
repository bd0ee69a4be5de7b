/* maildir.c — see maildir.h.
 *
 * Each message is written to tmp/NAME, synced, linked to new/NAME, and
 * new/ synced, before its row says done (deliver.c).  The run after a
 * crash finds what the crashed one delivered (in new/, or in cur/ as
 * NAME:2,FLAGS once a reader saw it) by the "M<id>R<token>" part alone. */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "util/error.h"

#include <glib/gi18n-lib.h>

#ifdef PST_WORKER_TEST_HOOKS
/* POSTERN_TEST_DELIVER_CRASH=POINT:N (test builds only): the agent is
 * killed the Nth time a Maildir delivery reaches POINT, "tmp" (the file
 * written to tmp/) or "rename" (in new/, not yet marked done), so that the
 * crash test kills it exactly there. */
static void
test_crash_point (const char *point)
{
  static gint reached;
  const char *spec = g_getenv ("POSTERN_TEST_DELIVER_CRASH");
  const char *colon;
  gsize n;

  if (spec == NULL || (colon = strchr (spec, ':')) == NULL)
    return;
  n = strlen (point);
  if ((gsize) (colon - spec) != n || strncmp (spec, point, n) != 0)
    return;
  if (g_atomic_int_add (&reached, 1) + 1 == atoi (colon + 1))
    raise (SIGKILL);
}
#else
#define test_crash_point(point) ((void) 0)
#endif

/* The message id in Maildir file @name when it is one of this store's
 * names ("RECEIVED.M<id>R<token>.HOST[:2,FLAGS]"). */
static gboolean
name_id (const char *name, const char *token, gint64 *id_out)
{
  const char *p = strchr (name, '.');
  char *end = NULL;
  gsize n = strlen (token);
  gint64 id;

  if (p == NULL || p[1] != 'M' || !g_ascii_isdigit (p[2]))
    return FALSE;
  id = g_ascii_strtoll (p + 2, &end, 10);
  if (*end != 'R' || strncmp (end + 1, token, n) != 0 || end[1 + n] != '.')
    return FALSE;
  *id_out = id;
  return TRUE;
}

/* Makes folder @path when missing, and refuses it unless it is a folder
 * of this user's that nobody else may write to. */
static gboolean
private_dir (const char *path, GError **error)
{
  struct stat st;

  if (g_mkdir_with_parents (path, 0700) != 0 || stat (path, &st) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot make the Maildir folder %s: %s"),
                   path, g_strerror (errno));
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("the Maildir folder %s is not a folder"),
                 path);
  else if (st.st_uid != geteuid ())
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 _("the Maildir folder %s belongs to another user; Postern delivers only into "
                   "folders of your own"), path);
  else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 _("the Maildir folder %s is writable by group or others (mode %03o); make it "
                   "writable by you alone (chmod go-w)"), path, (unsigned) (st.st_mode & 0777));
  else
    return TRUE;
  return FALSE;
}

gboolean
pst_maildir_open (PstMaildir *m, const char *path, const char *token, GError **error)
{
  static const char *const subs[] = { "new", "cur", "tmp" };
  g_autoptr (GString) host = g_string_new (g_get_host_name ());

  g_string_replace (host, "/", "\\057", 0);
  g_string_replace (host, ":", "\\072", 0);
  m->host = g_string_free (g_steal_pointer (&host), FALSE);
  m->path = g_strdup (path);
  m->token = g_strdup (token);
  m->present = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  if (!private_dir (path, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      g_autofree char *dir = g_build_filename (path, subs[i], NULL);
      g_autoptr (GDir) d = NULL;
      g_autoptr (GError) local = NULL;
      const char *name;

      if (!private_dir (dir, error))
        return FALSE;
      if (!(d = g_dir_open (dir, 0, &local)))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot read the Maildir folder %s: %s"),
                       dir, local->message);
          return FALSE;
        }
      while ((name = g_dir_read_name (d)) != NULL)
        {
          gint64 id;

          if (!name_id (name, token, &id))
            continue;
          if (i < 2)
            g_hash_table_add (m->present, g_memdup2 (&id, sizeof id));
          else
            {
              g_autofree char *file = g_build_filename (dir, name, NULL);
              /* A tmp/ file of ours is a delivery cut short: written
               * again if still pending, and plaintext in any case. */
              if (g_unlink (file) != 0 && errno != ENOENT)
                g_warning ("cannot remove %s: %s", file, g_strerror (errno));
            }
        }
    }
  return TRUE;
}

gboolean
pst_maildir_has (const PstMaildir *m, gint64 id)
{
  return m->present != NULL && g_hash_table_contains (m->present, &id);
}

static gboolean
sync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsync (fd) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot sync the Maildir folder %s: %s"),
                   dir, g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* Creates @path (never opens a file that is there already: another's, or
 * a link) with @bytes, synced; @st_out: the new file. */
static gboolean
write_new_file (const char *path, GBytes *bytes, struct stat *st_out, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  int saved;

  if (fd < 0)
    {
      /* Not ours: left as it is. */
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot write %s: %s"), path,
                   g_strerror (errno));
      return FALSE;
    }
  while (len > 0)
    {
      ssize_t w = write (fd, data, len);

      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        goto fail;
      data += w;
      len -= (gsize) w;
    }
  if (fsync (fd) != 0 || fstat (fd, st_out) != 0)
    goto fail;
  if (close (fd) != 0)
    {
      fd = -1;
      goto fail;
    }
  return TRUE;

fail:
  saved = errno;
  if (fd >= 0)
    close (fd);
  g_unlink (path);
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot write %s: %s"), path,
               g_strerror (saved));
  return FALSE;
}

/* Links @tmp (the file @st) to @dest.  An existing @dest counts only when
 * it is that very file (a link that succeeded although it said not, as
 * over NFS).  Where the file system has no links, rename. */
static gboolean
link_new (const char *tmp, const struct stat *st, const char *dest, GError **error)
{
  struct stat there;
  int saved;

  if (link (tmp, dest) == 0)
    return TRUE;
  saved = errno;
  if (saved == EEXIST)
    {
      if (lstat (dest, &there) == 0 && there.st_dev == st->st_dev && there.st_ino == st->st_ino)
        return TRUE;
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   _("%s is there already and is not the message Postern wrote; it was left as "
                     "it is"), dest);
      return FALSE;
    }
  if ((saved == EPERM || saved == ENOTSUP || saved == ENOSYS) && rename (tmp, dest) == 0)
    return TRUE;
  if (saved == EPERM || saved == ENOTSUP || saved == ENOSYS)
    saved = errno;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot move %s into %s: %s"), tmp, dest,
               g_strerror (saved));
  return FALSE;
}

gboolean
pst_maildir_deliver (PstMaildir *m, gint64 id, gint64 received_at, GBytes *message,
                     GError **error)
{
  g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT "R%s.%s",
                                           received_at, id, m->token, m->host);
  g_autofree char *tmp = g_build_filename (m->path, "tmp", name, NULL);
  g_autofree char *new_dir = g_build_filename (m->path, "new", NULL);
  g_autofree char *dest = g_build_filename (new_dir, name, NULL);
  struct stat st;
  gboolean linked;

  if (!write_new_file (tmp, message, &st, error))
    return FALSE;
  test_crash_point ("tmp");
  /* link, not rename: it never replaces a file of that name. */
  linked = link_new (tmp, &st, dest, error);
  g_unlink (tmp);
  if (!linked || !sync_dir (new_dir, error))
    return FALSE;
  test_crash_point ("rename");
  return TRUE;
}

void
pst_maildir_clear (PstMaildir *m)
{
  g_free (m->path);
  g_free (m->token);
  g_free (m->host);
  g_clear_pointer (&m->present, g_hash_table_unref);
}
