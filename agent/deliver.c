/* deliver.c — see deliver.h.
 *
 * Maildir (https://cr.yp.to/proto/maildir.html): each message is written
 * to tmp/NAME, synced, linked to new/NAME, and new/ synced, before its row
 * says done.  NAME is "RECEIVED.M<id>R<token>.HOST": unique for the
 * message and the store, and the same at every try, so that the run after
 * a crash finds what the crashed one delivered (in new/, or in cur/ as
 * NAME:2,FLAGS once a reader saw it) by the "M<id>R<token>" part alone. */
#define _GNU_SOURCE 1   /* memfd_create */
#include "deliver.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <glib/gstdio.h>

#include "events.h"
#include "readable.h"
#include "store/deliveries.h"
#include "util/error.h"

#include <glib/gi18n-lib.h>

typedef struct {
  PstAgent *agent;
  const PstAccount *account;
  PstDeliverKind kind;
  char *maildir;          /* PST_DELIVER_MAILDIR */
  char **argv;            /* PST_DELIVER_MDA */
  char *token;
  char *host;             /* the host name, '/' and ':' escaped as Maildir asks */
  GHashTable *present;    /* gint64* ids whose file is in new/ or cur/ */
} Target;

static void
target_clear (Target *t)
{
  g_free (t->maildir);
  g_strfreev (t->argv);
  g_free (t->token);
  g_free (t->host);
  g_clear_pointer (&t->present, g_hash_table_unref);
}

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

static char *
maildir_name (Target *t, const PstDelivery *d)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT "R%s.%s", d->received_at,
                          d->id, t->token, t->host);
}

static gboolean
make_dir (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) == 0)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot make the Maildir folder %s: %s"),
               path, g_strerror (errno));
  return FALSE;
}

/* Makes the Maildir's folders when they are missing, notes which messages
 * are in new/ or cur/ already, and removes what an interrupted delivery of
 * a pending message (@pending) left in tmp/. */
static gboolean
maildir_scan (Target *t, GArray *pending, GError **error)
{
  static const char *const subs[] = { "new", "cur", "tmp" };
  g_autoptr (GHashTable) waiting = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < pending->len; i++)
    g_hash_table_add (waiting, &g_array_index (pending, PstDelivery, i).id);
  t->present = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      g_autofree char *dir = g_build_filename (t->maildir, subs[i], NULL);
      g_autoptr (GDir) d = NULL;
      g_autoptr (GError) local = NULL;
      const char *name;

      if (!make_dir (dir, error))
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

          if (!name_id (name, t->token, &id))
            continue;
          if (i < 2)
            g_hash_table_add (t->present, g_memdup2 (&id, sizeof id));
          else if (g_hash_table_contains (waiting, &id))
            {
              g_autofree char *path = g_build_filename (dir, name, NULL);
              /* A tmp/ file of ours is a delivery cut short: written
               * again, or no longer needed. */
              if (g_unlink (path) != 0 && errno != ENOENT)
                g_warning ("cannot remove %s: %s", path, g_strerror (errno));
            }
        }
    }
  return TRUE;
}

/* Line ends as mail programs on Unix keep them (LF), as fetchmail hands
 * messages to an MDA too.  Transfer full. */
static GBytes *
to_lf (GBytes *message)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  char *out = g_malloc (len + 1);
  gsize n = 0;

  for (gsize i = 0; i < len; i++)
    if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))
      out[n++] = data[i];
  return g_bytes_new_take (out, n);
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

static gboolean
write_file (const char *path, GBytes *bytes, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  int saved;

  if (fd < 0)
    goto fail;
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
  if (fsync (fd) != 0)
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

static gboolean
deliver_maildir (Target *t, const PstDelivery *d, GBytes *message, GError **error)
{
  g_autofree char *name = maildir_name (t, d);
  g_autofree char *tmp = g_build_filename (t->maildir, "tmp", name, NULL);
  g_autofree char *new_dir = g_build_filename (t->maildir, "new", NULL);
  g_autofree char *dest = g_build_filename (new_dir, name, NULL);

  if (!write_file (tmp, message, error))
    return FALSE;
  test_crash_point ("tmp");
  /* link, not rename: it never replaces a file of that name.  Where the
   * file system has no links, rename (the name is ours alone). */
  if (link (tmp, dest) != 0 && errno != EEXIST)
    {
      if ((errno == EPERM || errno == ENOTSUP || errno == ENOSYS) && rename (tmp, dest) == 0)
        ;
      else
        {
          int saved = errno;

          g_unlink (tmp);
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot move %s into %s: %s"), tmp,
                       new_dir, g_strerror (saved));
          return FALSE;
        }
    }
  g_unlink (tmp);
  if (!sync_dir (new_dir, error))
    return FALSE;
  test_crash_point ("rename");
  return TRUE;
}

/* What an MDA is given per message: then it is killed, the message stays
 * pending, and the run ends (the MDA is stuck: the others would wait as
 * long each, holding the account's fetches). */
#define MDA_TIMEOUT_S 300

static guint
mda_timeout_s (void)
{
#ifdef PST_WORKER_TEST_HOOKS
  /* Test builds: POSTERN_TEST_MDA_TIMEOUT=SECONDS. */
  const char *v = g_getenv ("POSTERN_TEST_MDA_TIMEOUT");
  if (v != NULL && atoi (v) > 0)
    return (guint) atoi (v);
#endif
  return MDA_TIMEOUT_S;
}

/* Cancels @cancel at @deadline (monotonic µs) unless @done comes first. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
  gint64 deadline;
  GCancellable *cancel;
} Watchdog;

static gpointer
watchdog_thread (gpointer data)
{
  Watchdog *w = data;

  g_mutex_lock (&w->lock);
  while (!w->done)
    if (!g_cond_wait_until (&w->cond, &w->lock, w->deadline))
      {
        if (!w->done)
          g_cancellable_cancel (w->cancel);
        break;
      }
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* Runs the MDA on @message, at most mda_timeout_s() (@stuck_out: it was
 * killed for that); @err_out gets the start of what it wrote on stderr.
 * Its stderr goes to a memory file rather than a pipe, so that an MDA that
 * refuses before it reads the message still says why (a pipe's reader
 * gives up at the broken stdin), and no pipe can fill and block it. */
static gboolean
run_mda (Target *t, GBytes *message, GSubprocess **p_out, char **err_out, gboolean *stuck_out,
         GError **error)
{
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr (GError) local = NULL;
  Watchdog w = { .deadline = g_get_monotonic_time () + (gint64) mda_timeout_s () * G_USEC_PER_SEC,
                 .cancel = cancel };
  int efd = memfd_create ("postern-mda-stderr", MFD_CLOEXEC);
  GSubprocess *p;
  GThread *dog;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (efd >= 0)
    g_subprocess_launcher_take_stderr_fd (launcher, dup (efd));
  p = g_subprocess_launcher_spawnv (launcher, (const char *const *) t->argv, &local);
  if (p == NULL)
    {
      if (efd >= 0)
        close (efd);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot run the MDA %s: %s"), t->argv[0],
                   local->message);
      return FALSE;
    }
  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  dog = g_thread_new ("mda-watchdog", watchdog_thread, &w);
  {
    GOutputStream *in = g_subprocess_get_stdin_pipe (p);

    /* An MDA that ends without reading all of the message: what it
     * answers counts (one that refuses at once exits non-zero). */
    if (!g_output_stream_write_all (in, data, len, NULL, cancel, &local)
        && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
      g_clear_error (&local);
    g_output_stream_close (in, NULL, NULL);
  }
  if (local == NULL)
    g_subprocess_wait (p, cancel, &local);
  g_mutex_lock (&w.lock);
  w.done = TRUE;
  g_cond_signal (&w.cond);
  g_mutex_unlock (&w.lock);
  g_thread_join (dog);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  *stuck_out = g_cancellable_is_cancelled (cancel);
  if (efd >= 0)
    {
      char buf[201] = { 0 };
      ssize_t n = pread (efd, buf, sizeof buf - 1, 0);

      *err_out = n > 0 ? g_strndup (buf, (gsize) n) : NULL;
      close (efd);
    }
  if (local != NULL || *stuck_out)
    {
      g_subprocess_force_exit (p);
      g_subprocess_wait (p, NULL, NULL);
      if (*stuck_out)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     _("the MDA %s did not finish within %u s and was stopped"), t->argv[0],
                     mda_timeout_s ());
      else
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("cannot run the MDA %s: %s"),
                     t->argv[0], local->message);
      g_object_unref (p);
      return FALSE;
    }
  *p_out = p;
  return TRUE;
}

static gboolean
deliver_mda (Target *t, GBytes *message, gboolean *stuck_out, GError **error)
{
  g_autoptr (GSubprocess) p = NULL;
  g_autofree char *err = NULL;
  g_autofree char *why = NULL;

  if (!run_mda (t, message, &p, &err, stuck_out, error))
    return FALSE;
  if (g_subprocess_get_if_exited (p) && g_subprocess_get_exit_status (p) == 0)
    return TRUE;
  if (g_subprocess_get_if_exited (p))
    why = g_strdup_printf (_("exited with status %d"), g_subprocess_get_exit_status (p));
  else
    why = g_strdup_printf (_("was killed by signal %d"), g_subprocess_get_term_sig (p));
  {
    char *nl = err ? strchr (err, '\n') : NULL;

    if (nl != NULL)
      *nl = '\0';
    if (err != NULL && *err != '\0' && g_utf8_validate (err, -1, NULL))
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("the MDA %s %s: %s"), t->argv[0], why,
                   err);
    else
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, _("the MDA %s %s"), t->argv[0], why);
  }
  return FALSE;
}

/* The decrypted message is not left in freed memory. */
static void
wipe (GBytes *bytes)
{
  gsize len = 0;
  gpointer data = bytes ? (gpointer) g_bytes_get_data (bytes, &len) : NULL;

  if (data != NULL)
    explicit_bzero (data, len);
}

static gboolean
quarantined (PstAgent *agent, gint64 id)
{
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, NULL);

  return info != NULL && info->quarantined;
}

static void
report (PstAgent *agent, const PstAccount *account, const char *message)
{
  JsonObject *p = json_object_new ();

  g_warning ("account %s: %s", account->name, message);
  json_object_set_string_member (p, "account", account->name);
  json_object_set_string_member (p, "error", message);
  pst_events_emit (agent->events, "account.error", p);
}

guint
pst_deliver_pending (PstAgent *agent, const PstAccount *account)
{
  Target t = { .agent = agent, .account = account };
  g_autoptr (GArray) pending = NULL;
  g_autoptr (GError) error = NULL, first = NULL;
  guint delivered = 0, failed = 0;

  if (account->deliver == NULL)
    return 0;
  if (!pst_deliver_spec_parse (account->deliver, &t.kind, &t.maildir, &t.argv, &error)
      || !(pending = pst_store_deliveries_pending (agent->store, account->name, &error)))
    goto out;
  if (pending->len == 0)
    goto out;
  if (t.kind == PST_DELIVER_MAILDIR)
    {
      g_autoptr (GString) host = g_string_new (g_get_host_name ());

      g_string_replace (host, "/", "\\057", 0);
      g_string_replace (host, ":", "\\072", 0);
      t.host = g_string_free (g_steal_pointer (&host), FALSE);
      if (!(t.token = pst_store_delivery_token (agent->store, &error))
          || !maildir_scan (&t, pending, &error))
        goto out;
    }
  for (guint i = 0; i < pending->len; i++)
    {
      const PstDelivery *d = &g_array_index (pending, PstDelivery, i);
      g_autoptr (GBytes) readable = NULL, message = NULL;
      g_autoptr (GError) local = NULL;
      gboolean ok, stuck = FALSE;

      if (pst_agent_is_stopping (agent))
        break;
      if (t.present != NULL && g_hash_table_contains (t.present, &d->id))
        /* Delivered by a run that ended before it could say so. */
        ok = TRUE;
      else if (!(readable = pst_readable_message (agent, d->id, account->deliver_encrypted, NULL,
                                                  &local)))
        ok = FALSE;
      else
        {
          message = to_lf (readable);
          ok = t.kind == PST_DELIVER_MAILDIR ? deliver_maildir (&t, d, message, &local)
                                             : deliver_mda (&t, message, &stuck, &local);
        }
      wipe (readable);
      wipe (message);
      if (ok && !pst_store_delivery_done (agent->store, d->id, &local))
        ok = FALSE;
      if (ok)
        {
          delivered++;
          continue;
        }
      g_prefix_error (&local, _("message %" PRId64 ": "), d->id);
      if (quarantined (agent, d->id))
        {
          /* Quarantined as it was opened (scanned then): delivered once
           * released. */
          g_message ("%s", local->message);
          continue;
        }
      failed++;
      if (first == NULL)
        first = g_steal_pointer (&local);
      if (stuck)
        break;
    }
  if (delivered > 0)
    g_message ("account %s: delivered %u messages", account->name, delivered);
  if (failed > 0)
    {
      g_autofree char *msg = g_strdup_printf (_("messages not delivered: %u (kept, tried again at "
                                                "the next fetch); the first: %s"),
                                              failed, first->message);
      report (agent, account, msg);
    }
out:
  if (error != NULL)
    {
      g_autofree char *msg = g_strdup_printf (_("delivery: %s (messages kept, tried again at "
                                                "the next fetch)"), error->message);
      report (agent, account, msg);
    }
  target_clear (&t);
  return delivered;
}
