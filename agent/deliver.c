/* deliver.c — see deliver.h.  The Maildir itself is maildir.c. */
#define _GNU_SOURCE 1   /* memfd_create */
#include "deliver.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>

#include "events.h"
#include "maildir.h"
#include "readable.h"
#include "store/deliveries.h"
#include "util/error.h"

#include <glib/gi18n-lib.h>

typedef struct {
  PstAgent *agent;
  const PstAccount *account;
  PstDeliverKind kind;
  char *path;             /* PST_DELIVER_MAILDIR */
  PstMaildir maildir;
  char **argv;            /* PST_DELIVER_MDA */
} Target;

static void
target_clear (Target *t)
{
  g_free (t->path);
  pst_maildir_clear (&t->maildir);
  g_strfreev (t->argv);
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

/* What an MDA is given per message: then it is killed (its whole process
 * group), the message stays pending and the run goes on with the others.
 * The message is not tried again before MDA_BACKOFF_FACTOR times that,
 * doubled at each further timeout up to MDA_BACKOFF_MAX_DOUBLINGS times
 * (in memory: a restarted agent tries it once more at once), so that one
 * message that makes the MDA hang does not hold up the account's fetches
 * at every run.  A second timeout in one run ends the run: then the MDA is
 * stuck, not one message. */
#define MDA_TIMEOUT_S 300
#define MDA_BACKOFF_FACTOR 3
#define MDA_BACKOFF_MAX_DOUBLINGS 5

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

/* In the MDA's process, between fork and exec: its own process group, so
 * that a timeout kills whatever it started too (a shell's children could
 * deliver the message after all, and the retry again), and SIGPIPE as
 * programs expect it (the agent ignores it). */
static void
mda_child_setup (gpointer data)
{
  (void) data;
  setpgid (0, 0);
  signal (SIGPIPE, SIG_DFL);
}

/* Ends the MDA @p and every process of its group, and reaps it.  Once
 * it is reaped its id is gone (NULL), and no group is killed: the number
 * may be another's by then. */
static void
mda_kill (GSubprocess *p)
{
  const char *ident = g_subprocess_get_identifier (p);

  if (ident != NULL)
    kill (-(pid_t) atoi (ident), SIGKILL);
  g_subprocess_force_exit (p);
  g_subprocess_wait (p, NULL, NULL);
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
  g_subprocess_launcher_set_child_setup (launcher, mda_child_setup, NULL, NULL);
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
      mda_kill (p);
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

typedef struct {
  gint64 next_try;        /* monotonic µs */
  guint timeouts;
} Backoff;

/* Whether message @id waits out a backoff after its MDA timed out. */
static gboolean
backed_off (PstAgent *agent, gint64 id)
{
  Backoff *b;
  gboolean wait;

  g_mutex_lock (&agent->backoff_lock);
  b = g_hash_table_lookup (agent->mda_backoff, &id);
  wait = b != NULL && b->next_try > g_get_monotonic_time ();
  g_mutex_unlock (&agent->backoff_lock);
  return wait;
}

/* Message @id was delivered (@timed_out FALSE: its backoff ends), or its
 * MDA timed out again (the next try waits longer). */
static void
backoff_note (PstAgent *agent, gint64 id, gboolean timed_out)
{
  Backoff *b;
  gint64 wait_s;

  g_mutex_lock (&agent->backoff_lock);
  if (!timed_out)
    g_hash_table_remove (agent->mda_backoff, &id);
  else
    {
      if (!(b = g_hash_table_lookup (agent->mda_backoff, &id)))
        {
          b = g_new0 (Backoff, 1);
          g_hash_table_insert (agent->mda_backoff, g_memdup2 (&id, sizeof id), b);
        }
      wait_s = (gint64) MDA_BACKOFF_FACTOR * mda_timeout_s ()
               << MIN (b->timeouts, MDA_BACKOFF_MAX_DOUBLINGS);
      b->timeouts++;
      b->next_try = g_get_monotonic_time () + wait_s * G_USEC_PER_SEC;
    }
  g_mutex_unlock (&agent->backoff_lock);
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
  guint delivered = 0, failed = 0, timeouts = 0;

  if (account->deliver == NULL)
    return 0;
  if (!pst_deliver_spec_parse (account->deliver, &t.kind, &t.path, &t.argv, &error)
      || !(pending = pst_store_deliveries_pending (agent->store, account->name, &error)))
    goto out;
  /* A Maildir is opened at every run, with nothing pending too: it is
   * checked, and it loses what a run cut short left in tmp/. */
  if (t.kind == PST_DELIVER_MAILDIR)
    {
      g_autofree char *token = pst_store_delivery_token (agent->store, &error);

      if (token == NULL || !pst_maildir_open (&t.maildir, t.path, token, &error))
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
      if (t.kind == PST_DELIVER_MDA && backed_off (agent, d->id))
        continue;
      if (pst_maildir_has (&t.maildir, d->id))
        /* Delivered by a run that ended before it could say so. */
        ok = TRUE;
      else if (!(readable = pst_readable_message (agent, d->id, account->deliver_encrypted, NULL,
                                                  &local)))
        ok = FALSE;
      else
        {
          message = to_lf (readable);
          ok = t.kind == PST_DELIVER_MAILDIR
                 ? pst_maildir_deliver (&t.maildir, d->id, d->received_at, message, &local)
                 : deliver_mda (&t, message, &stuck, &local);
        }
      wipe (readable);
      wipe (message);
      if (ok && !pst_store_delivery_done (agent->store, d->id, &local))
        ok = FALSE;
      if (ok || stuck)
        backoff_note (agent, d->id, stuck);
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
      if (stuck && ++timeouts == 2)
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
