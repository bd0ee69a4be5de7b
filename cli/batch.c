/* batch.c — `postern batch encrypt|decrypt --out-dir DIR FILE…`: many files
 * on parallel connections to the agent (one agent thread each), a progress
 * bar on a terminal, and a bad file reported and skipped.
 *
 * Each result is written under a temporary name and takes its own name only
 * once its bytes are on disk, so a crash never leaves a short file under a
 * final name.  The flush is shared: finished files wait in a list, and one
 * syncfs() covers a whole group before they are renamed (an fsync per file
 * cost more than the cryptography for small messages).  A thread of its own
 * flushes, so that the workers keep the agent busy meanwhile (a syncfs()
 * waits for every dirty page of the file system: 80 ms at times on a busy
 * disk, docs/performance.md).  Another thread opens each file and makes its
 * temporary output ahead of its turn, so that a worker hands the agent its
 * next file as soon as the last one is back: the agent waited for the CLI
 * between files, longer where making a file is slow. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "batch-temps.h"
#include "cli.h"
#include "util/error.h"

typedef struct {
  PstCli *cli;
  gboolean encrypt;
  char **to;
  gboolean sign;
  const char *scheme;
  const char *out_dir;
  char **files;
  guint n_files;
  gint done;          /* atomic */
  gint failed;        /* atomic */
  GMutex print_lock;
  gboolean tty;
  char *id;           /* names the batch in the agent's batch.progress events */
  int dir_fd;         /* out_dir, for syncfs() */
  GMutex pending_lock;
  GCond pending_cond; /* a group is full, or the workers are done */
  GPtrArray *pending; /* of Pending*: written, not yet flushed and renamed */
  gboolean workers_done;  /* under pending_lock */
  GMutex ready_lock;
  GCond ready_cond;   /* a file is ready, or there is room for one */
  GQueue ready;       /* of Ready*, in the order of the files */
  guint ahead;        /* how many files may wait ready */
  gboolean all_ready; /* every file is in @ready or taken (under ready_lock) */
} Batch;

/* A file made ready for the agent ahead of its turn: its input open and its
 * temporary output made, or why not. */
typedef struct {
  const char *file;
  char *dest, *tmp;
  int fds[2];
  const char *why;    /* a failure before the agent (static text), or NULL */
  gboolean why_dest;  /* @why is about @dest, not @file */
} Ready;

/* A finished result waiting for the shared flush. */
typedef struct {
  char *tmp, *dest;
} Pending;

#define FLUSH_EVERY 256

static void
pending_free (Pending *p)
{
  g_free (p->tmp);
  g_free (p->dest);
  g_free (p);
}

static void
progress (Batch *b)
{
  guint done = (guint) g_atomic_int_get (&b->done), width = 30, filled;

  if (!b->tty)
    return;
  filled = b->n_files ? done * width / b->n_files : width;
  fprintf (stderr, "\r[");
  for (guint i = 0; i < width; i++)
    fputc (i < filled ? '#' : ' ', stderr);
  fprintf (stderr, "] %u/%u", done, b->n_files);
  if (g_atomic_int_get (&b->failed))
    fprintf (stderr, _(" (%d failed)"), g_atomic_int_get (&b->failed));
  fflush (stderr);
}

static void
report (Batch *b, const char *file, const char *why)
{
  /* The agent's reason may quote the file's content. */
  g_autofree char *safe_why = pst_cli_safe (why);

  g_mutex_lock (&b->print_lock);
  if (b->tty)
    fprintf (stderr, "\r\033[K");
  fprintf (stderr, "postern: batch: %s: %s\n", file, safe_why);
  progress (b);
  g_mutex_unlock (&b->print_lock);
}

/* Puts the results in @todo on disk with one syncfs() and gives them
 * their names; a name taken meanwhile is not overwritten
 * (RENAME_NOREPLACE). */
static void
flush_group (Batch *b, GPtrArray *todo)
{
  int sync_err;

  if (todo->len == 0)
    return;
  /* Read once: report() and g_unlink() below may change errno. */
  sync_err = syncfs (b->dir_fd) == 0 ? 0 : (errno != 0 ? errno : EIO);
  for (guint i = 0; i < todo->len; i++)
    {
      Pending *p = g_ptr_array_index (todo, i);
      int err = 0;

      if (sync_err != 0)
        err = sync_err;
      else
        err = pst_batch_temp_rename (p->tmp, p->dest);
      if (err != 0)
        {
          report (b, p->dest, err == EEXIST ? _("the output file exists already; not overwritten")
                                            : g_strerror (err));
          pst_batch_temp_drop (p->tmp);
          g_atomic_int_inc (&b->failed);
        }
    }
}

/* The flushing thread: a group whenever FLUSH_EVERY results wait, the
 * rest once the workers are done. */
static gpointer
flusher (gpointer data)
{
  Batch *b = data;
  gboolean last = FALSE;

  while (!last)
    {
      g_autoptr (GPtrArray) todo = NULL;

      g_mutex_lock (&b->pending_lock);
      while (b->pending->len < FLUSH_EVERY && !b->workers_done)
        g_cond_wait (&b->pending_cond, &b->pending_lock);
      last = b->workers_done;
      todo = b->pending;
      b->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_free);
      g_mutex_unlock (&b->pending_lock);
      flush_group (b, todo);
    }
  return NULL;
}

static void
add_batch_param (Batch *b, JsonObject *params)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "id", b->id);
  json_object_set_int_member (o, "total", b->n_files);
  json_object_set_object_member (params, "batch", o);
}

/* A file that failed before reaching the agent still counts in its
 * batch.progress events. */
static void
count_local_failure (Batch *b, PstRpcClient *client)
{
  JsonObject *params = json_object_new ();
  g_autoptr (JsonObject) r = NULL;

  add_batch_param (b, params);
  if (client != NULL)
    r = pst_rpc_client_call (client, "batch.failed", params, NULL, 0, NULL);
  else
    json_object_unref (params);
}

/* Opens @file and makes its temporary output.  Transfer full. */

/* Whether @fd (opened O_NONBLOCK) is a regular file; then blocking again. */
static gboolean
regular_input (int fd)
{
  struct stat st;
  int flags = fcntl (fd, F_GETFL);

  return fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && flags >= 0
         && fcntl (fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
}

static Ready *
ready_new (Batch *b, const char *file)
{
  g_autofree char *base = g_path_get_basename (file);
  Ready *r = g_new0 (Ready, 1);

  r->file = file;
  r->dest = g_build_filename (b->out_dir, base, NULL);
  r->tmp = g_strconcat (r->dest, ".pst-XXXXXX", NULL);
  r->fds[0] = r->fds[1] = -1;
  if (g_file_test (r->dest, G_FILE_TEST_EXISTS))
    r->why = _("the output file exists already; not overwritten");
  /* Non-blocking: a FIFO without a writer must not stop the preparer, and
   * so the whole batch; only regular files are read. */
  else if ((r->fds[0] = open (file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
    r->why = g_strerror (errno);
  else if (!regular_input (r->fds[0]))
    {
      r->why = _("not a regular file");
      close (r->fds[0]);
      r->fds[0] = -1;
    }
  else if ((r->fds[1] = pst_batch_temp_make (r->tmp, O_WRONLY | O_CLOEXEC)) < 0)
    {
      r->why = g_strerror (errno);
      r->why_dest = TRUE;
      close (r->fds[0]);
      r->fds[0] = -1;
    }
  return r;
}

/* Frees @r; its temporary output goes unless it was given its name. */
static void
ready_free (Ready *r)
{
  if (r->fds[0] >= 0)
    close (r->fds[0]);
  if (r->fds[1] >= 0)
    {
      close (r->fds[1]);
      pst_batch_temp_drop (r->tmp);
    }
  g_free (r->dest);
  g_free (r->tmp);
  g_free (r);
}

/* The thread that makes the files ready, at most b->ahead waiting. */
static gpointer
preparer (gpointer data)
{
  Batch *b = data;

  for (guint i = 0; i < b->n_files; i++)
    {
      Ready *r;

      g_mutex_lock (&b->ready_lock);
      while (b->ready.length >= b->ahead)
        g_cond_wait (&b->ready_cond, &b->ready_lock);
      g_mutex_unlock (&b->ready_lock);
      r = ready_new (b, b->files[i]);
      g_mutex_lock (&b->ready_lock);
      g_queue_push_tail (&b->ready, r);
      g_cond_broadcast (&b->ready_cond);
      g_mutex_unlock (&b->ready_lock);
    }
  g_mutex_lock (&b->ready_lock);
  b->all_ready = TRUE;
  g_cond_broadcast (&b->ready_cond);
  g_mutex_unlock (&b->ready_lock);
  return NULL;
}

/* The next ready file, or NULL when there are no more.  Transfer full. */
static Ready *
take_ready (Batch *b)
{
  Ready *r;

  g_mutex_lock (&b->ready_lock);
  while (b->ready.length == 0 && !b->all_ready)
    g_cond_wait (&b->ready_cond, &b->ready_lock);
  r = g_queue_pop_head (&b->ready);
  if (r != NULL)
    g_cond_broadcast (&b->ready_cond);
  g_mutex_unlock (&b->ready_lock);
  return r;
}

/* One file, made ready; FALSE (and reported) when it failed. */
static gboolean
one_file (Batch *b, PstRpcClient *client, Ready *ready)
{
  const char *file = ready->file;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = NULL;
  JsonObject *params;
  int *fds = ready->fds;
  gboolean ok = FALSE;

  if (ready->why != NULL)
    {
      report (b, ready->why_dest ? ready->dest : file, ready->why);
      count_local_failure (b, client);
      return FALSE;
    }
  params = json_object_new ();
  add_batch_param (b, params);
  json_object_set_int_member (params, "fd", 0);
  json_object_set_int_member (params, "out_fd", 1);
  if (b->encrypt)
    {
      json_object_set_boolean_member (params, "sign", b->sign);
      if (b->scheme)
        json_object_set_string_member (params, "scheme", b->scheme);
      if (b->to)
        {
          JsonArray *a = json_array_new ();
          for (char **t = b->to; *t; t++)
            json_array_add_string_element (a, *t);
          json_object_set_array_member (params, "to", a);
        }
    }
  r = pst_rpc_client_call (client, b->encrypt ? "encrypt" : "decrypt", params, fds, 2, &error);
  close (fds[0]);
  fds[0] = -1;
  if (r == NULL)
    report (b, file, error->message);
  else if (!b->encrypt && !json_object_get_boolean_member_with_default (r, "written", FALSE))
    {
      JsonNode *c = json_object_get_member (r, "crypto");
      const char *dec = c != NULL && JSON_NODE_HOLDS_OBJECT (c)
        ? json_object_get_string_member_with_default (json_node_get_object (c), "decryption", "") : "";

      report (b, file, g_strcmp0 (dec, "too-large") == 0
                         ? _("the content expands past the decryption limit (a compression bomb?); it is not decrypted")
                         : _("the message cannot be decrypted"));
    }
  else
    ok = TRUE;
  if (close (fds[1]) != 0 && ok)
    {
      report (b, ready->dest, g_strerror (errno));
      ok = FALSE;
    }
  fds[1] = -1;
  if (!ok)
    {
      pst_batch_temp_drop (ready->tmp);
      return FALSE;
    }
  else
    {
      Pending *p = g_new0 (Pending, 1);

      p->tmp = g_steal_pointer (&ready->tmp);
      p->dest = g_steal_pointer (&ready->dest);
      g_mutex_lock (&b->pending_lock);
      g_ptr_array_add (b->pending, p);
      if (b->pending->len >= FLUSH_EVERY)
        g_cond_signal (&b->pending_cond);
      g_mutex_unlock (&b->pending_lock);
      return TRUE;
    }
}

static gpointer
worker (gpointer data)
{
  Batch *b = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = pst_cli_connect (b->cli, FALSE, &error);
  Ready *ready;

  while ((ready = take_ready (b)) != NULL)
    {
      if (client == NULL)
        report (b, ready->file, error->message);
      if (client == NULL || !one_file (b, client, ready))
        g_atomic_int_inc (&b->failed);
      ready_free (ready);
      g_atomic_int_inc (&b->done);
      g_mutex_lock (&b->print_lock);
      progress (b);
      g_mutex_unlock (&b->print_lock);
    }
  return NULL;
}

int
pst_cli_cmd_batch (PstCli *cli, int argc, char **argv)
{
  g_auto (GStrv) to = NULL;
  g_autofree char *out_dir = NULL, *scheme = NULL;
  gboolean sign = FALSE;
  int jobs = 0, status = 0;
  GOptionEntry entries[] = {
    { "out-dir", 0, 0, G_OPTION_ARG_FILENAME, &out_dir, N_("Write the results into DIR"), "DIR" },
    { "to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to, N_("Encrypt to ADDR (repeat)"), "ADDR" },
    { "sign", 0, 0, G_OPTION_ARG_NONE, &sign, N_("Sign too (encrypt)"), NULL },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme, N_("pgp, smime or auto (encrypt)"), "SCHEME" },
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, N_("Parallel workers (default: the number of CPUs)"), "N" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) threads = g_ptr_array_new ();
  g_autoptr (PstRpcClient) first = NULL;
  GThread *flush_thread, *prepare_thread;
  Batch b = { 0 };

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc < 3 || (strcmp (argv[1], "encrypt") != 0 && strcmp (argv[1], "decrypt") != 0))
    return pst_cli_usage ("batch", _("say encrypt or decrypt, then one or more FILEs"));
  if (out_dir == NULL)
    return pst_cli_usage ("batch", _("--out-dir DIR is required"));
  if (!g_file_test (out_dir, G_FILE_TEST_IS_DIR))
    return pst_cli_usage ("batch", _("--out-dir must name an existing directory"));
  if (jobs < 0 || jobs > 64)
    return pst_cli_usage ("batch", _("--jobs must be between 1 and 64"));
  if (jobs == 0)
    jobs = (int) g_get_num_processors ();
  b.encrypt = strcmp (argv[1], "encrypt") == 0;
  if (!b.encrypt && (to || sign || scheme))
    return pst_cli_usage ("batch", _("--to, --sign and --scheme apply to encrypt only"));
  /* Start the agent once, here, rather than racing from every worker. */
  if (!(first = pst_cli_connect (cli, TRUE, &error)))
    return pst_cli_fail ("batch", error);
  /* Interrupted from here on, it removes its temporaries. */
  pst_batch_temps_begin ();
  b.cli = cli;
  b.to = to;
  b.sign = sign;
  b.scheme = scheme;
  b.out_dir = out_dir;
  b.files = argv + 2;
  b.n_files = (guint) argc - 2;
  b.tty = isatty (STDERR_FILENO) && !cli->json;
  b.id = g_uuid_string_random ();
  g_mutex_init (&b.print_lock);
  g_mutex_init (&b.pending_lock);
  g_cond_init (&b.pending_cond);
  g_mutex_init (&b.ready_lock);
  g_cond_init (&b.ready_cond);
  g_queue_init (&b.ready);
  b.ahead = (guint) jobs;
  b.pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_free);
  if ((b.dir_fd = open (out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    {
      int err = errno;
      fprintf (stderr, "postern: batch: %s: %s\n", out_dir, g_strerror (err));
      pst_batch_temps_end ();
      g_free (b.id);
      g_ptr_array_unref (b.pending);
      g_cond_clear (&b.pending_cond);
      return PST_ERROR_FAILED;
    }
  flush_thread = g_thread_new ("batch-flush", flusher, &b);
  prepare_thread = g_thread_new ("batch-open", preparer, &b);
  for (int i = 0; i < jobs && i < (int) b.n_files; i++)
    g_ptr_array_add (threads, g_thread_new ("batch", worker, &b));
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (g_ptr_array_index (threads, i));
  g_mutex_lock (&b.pending_lock);
  b.workers_done = TRUE;
  g_cond_signal (&b.pending_cond);
  g_mutex_unlock (&b.pending_lock);
  g_thread_join (flush_thread);
  g_thread_join (prepare_thread);
  pst_batch_temps_end ();
  if (fsync (b.dir_fd) != 0)
    {
      int err = errno;
      fprintf (stderr, "postern: batch: %s: %s\n", out_dir, g_strerror (err));
      b.failed = (gint) b.n_files;
    }
  close (b.dir_fd);
  g_ptr_array_unref (b.pending);
  g_cond_clear (&b.pending_cond);
  if (b.tty)
    fprintf (stderr, "\n");
  g_free (b.id);
  if (cli->json)
    {
      g_autoptr (JsonObject) o = json_object_new ();
      json_object_set_int_member (o, "files", b.n_files);
      json_object_set_int_member (o, "failed", b.failed);
      pst_cli_print_json (o);
    }
  if (b.failed > 0)
    {
      fprintf (stderr, ngettext ("postern: batch: %d of %u file failed\n",
                                 "postern: batch: %d of %u files failed\n", b.n_files),
               b.failed, b.n_files);
      return PST_ERROR_FAILED;
    }
  if (!cli->json)
    printf (ngettext ("%u file done\n", "%u files done\n", b.n_files), b.n_files);
  return 0;
}
