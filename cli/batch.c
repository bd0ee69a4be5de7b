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
 * disk, docs/performance.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

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
  gint next;          /* atomic: the next file to take */
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
} Batch;

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
  gboolean synced;

  if (todo->len == 0)
    return;
  synced = syncfs (b->dir_fd) == 0;
  for (guint i = 0; i < todo->len; i++)
    {
      Pending *p = g_ptr_array_index (todo, i);
      int err = 0;

      if (!synced)
        err = errno;
      else if (renameat2 (AT_FDCWD, p->tmp, AT_FDCWD, p->dest, RENAME_NOREPLACE) != 0)
        err = errno;
      if (err != 0)
        {
          report (b, p->dest, err == EEXIST ? _("the output file exists already; not overwritten")
                                            : g_strerror (err));
          g_unlink (p->tmp);
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

/* One file; FALSE (and reported) when it failed. */
static gboolean
one_file (Batch *b, PstRpcClient *client, const char *file)
{
  g_autofree char *base = g_path_get_basename (file);
  g_autofree char *dest = g_build_filename (b->out_dir, base, NULL);
  g_autofree char *tmp = g_strconcat (dest, ".pst-XXXXXX", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = NULL;
  JsonObject *params;
  int fds[2] = { -1, -1 };
  gboolean ok = FALSE;

  if (g_file_test (dest, G_FILE_TEST_EXISTS))
    {
      report (b, file, _("the output file exists already; not overwritten"));
      count_local_failure (b, client);
      return FALSE;
    }
  if ((fds[0] = open (file, O_RDONLY | O_CLOEXEC)) < 0)
    {
      report (b, file, g_strerror (errno));
      count_local_failure (b, client);
      return FALSE;
    }
  if ((fds[1] = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600)) < 0)
    {
      report (b, dest, g_strerror (errno));
      count_local_failure (b, client);
      close (fds[0]);
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
      report (b, dest, g_strerror (errno));
      ok = FALSE;
    }
  if (!ok)
    {
      g_unlink (tmp);
      return FALSE;
    }
  else
    {
      Pending *p = g_new0 (Pending, 1);

      p->tmp = g_steal_pointer (&tmp);
      p->dest = g_steal_pointer (&dest);
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

  for (;;)
    {
      gint i = g_atomic_int_add (&b->next, 1);
      if (i >= (gint) b->n_files)
        break;
      if (client == NULL)
        report (b, b->files[i], error->message);
      if (client == NULL || !one_file (b, client, b->files[i]))
        g_atomic_int_inc (&b->failed);
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
  GThread *flush_thread;
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
  b.pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_free);
  if ((b.dir_fd = open (out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    {
      int err = errno;
      fprintf (stderr, "postern: batch: %s: %s\n", out_dir, g_strerror (err));
      g_free (b.id);
      g_ptr_array_unref (b.pending);
      g_cond_clear (&b.pending_cond);
      return PST_ERROR_FAILED;
    }
  flush_thread = g_thread_new ("batch-flush", flusher, &b);
  for (int i = 0; i < jobs && i < (int) b.n_files; i++)
    g_ptr_array_add (threads, g_thread_new ("batch", worker, &b));
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (g_ptr_array_index (threads, i));
  g_mutex_lock (&b.pending_lock);
  b.workers_done = TRUE;
  g_cond_signal (&b.pending_cond);
  g_mutex_unlock (&b.pending_lock);
  g_thread_join (flush_thread);
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
