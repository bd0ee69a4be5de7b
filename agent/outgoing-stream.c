/* outgoing-stream.c — send in constant memory (outgoing.h
 * pst_outgoing_queue_file): the message stays in the client's regular
 * file, which is read once for the scanner and once per copy, protected
 * by the streaming encoders (mime/pgpstream.h, mime/smimestream.h) straight
 * into the outbox store's writers (outbox-stream.h).  What is held: the
 * header section (at most PST_PGPSTREAM_MAX_HEADER), fixed buffers. */
#define _GNU_SOURCE 1
#include "outgoing-stream.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "call.h"
#include "clientfd.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "mime/pgpstream.h"
#include "mime/smimestream.h"
#include "outbox-stream.h"
#include "peers.h"
#include "util/error.h"

/* ---- the message in the file ---- */

typedef struct {
  int fd;           /* the agent's own copy of the message */
  off_t start;      /* where the message begins in it */
  GBytes *header;   /* its header section, the empty line included */
} Source;

/* Whether a copy of @total bytes is one the agent keeps: at most
 * PST_OUTGOING_MAX_STREAM.  FALSE with @error. */
static gboolean
copy_size_allowed (guint64 total, GError **error)
{
  if (total <= PST_OUTGOING_MAX_STREAM)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
               "the message is larger than %u MiB, the most the agent sends; nothing was sent",
               (guint) (PST_OUTGOING_MAX_STREAM >> 20));
  return FALSE;
}

/* An unnamed file of the agent's: O_TMPFILE in its data directory, 0600,
 * gone when closed; -1 when its file system cannot make one. */
static int
unnamed_file (PstAgent *agent)
{
  return open (agent->paths->data_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

/* The bytes free to an unprivileged user on @fd's file system in
 * *@free_out; FALSE when it cannot be known. */
static gboolean
space_free (int fd, guint64 *free_out)
{
  struct statvfs sv;

  if (fstatvfs (fd, &sv) != 0)
    return FALSE;
  *free_out = (guint64) sv.f_bavail * sv.f_frsize;
  return TRUE;
}

/* Whether @more bytes more of the agent's copy @copy leave the last
 * PST_OUTGOING_FREE_MIN of its file system free: the data directory's,
 * which the store shares (a client's endless pipe must not fill the disk
 * under the user's mail).  FALSE with @error. */
static gboolean
copy_has_room (int copy, guint64 more, GError **error)
{
  guint64 avail;

  if (space_free (copy, &avail) && avail < more + PST_OUTGOING_FREE_MIN)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "not enough free space to keep a copy of the message (less than %u MiB would "
                   "be left); nothing was sent", (guint) (PST_OUTGOING_FREE_MIN >> 20));
      return FALSE;
    }
  return TRUE;
}

/* The file is read several times (the header, the scanner, each copy): all
 * must read the same bytes, or the scanner's verdict, the policy's
 * decision and the copies would be of different messages.  The client's
 * file cannot promise that (it may be rewritten in place through a shared
 * mapping, which changes neither its size nor its times, and its offset is
 * shared with the client): so it is read once, with the agent's own
 * offsets and exactly as many bytes as it had, into an unnamed file of the
 * agent's (O_TMPFILE in its data directory, 0600, gone when closed), which
 * every pass reads.  The message is on the disk already, in the client's
 * file; memory does not grow with it.  -1 with @error set when the file
 * changed size meanwhile or cannot be read; -1 without an error when no
 * such copy can be made (the message is then read whole, in memory). */
static int
private_copy (PstAgent *agent, int fd, off_t start, off_t size, GError **error)
{
  int copy = unnamed_file (agent);
  g_autofree guint8 *buf = NULL;
  off_t at = start;

  if (copy < 0)
    return -1;
  if (!copy_size_allowed ((guint64) (size - start), error)
      || !copy_has_room (copy, (guint64) (size - start), error))
    {
      close (copy);
      return -1;
    }
  buf = g_malloc (64 * 1024);
  while (at < size)
    {
      ssize_t n = pread (fd, buf, (gsize) MIN ((off_t) (64 * 1024), size - at), at);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, n < 0
                       ? "cannot read the message: %s" : "the message file changed while it "
                       "was read%s; nothing was sent", n < 0 ? g_strerror (errno) : "");
          close (copy);
          return -1;
        }
      if (!pst_fd_write_all (copy, buf, (gsize) n, error))
        {
          g_prefix_error (error, "cannot keep a copy of the message: ");
          close (copy);
          return -1;
        }
      at += n;
    }
  return copy;
}

/* What a message from a pipe or a socket may be to be read whole, as
 * before: larger ones are spooled and streamed (queue_pipe). */
#define PIPE_WHOLE_MAX (1024 * 1024)

/* The room left is looked at every SPOOL_CHECK bytes of a spool. */
#define SPOOL_CHECK (16u * 1024 * 1024)

struct _PstOutgoingSpool {
  int fd;
  guint64 have;
};

gboolean
pst_outgoing_can_spool (PstAgent *agent)
{
  int fd = unnamed_file (agent);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

int
pst_outgoing_unnamed_file (PstAgent *agent, guint64 *room_out)
{
  guint64 avail;
  int fd = unnamed_file (agent);

  if (fd < 0)
    return -1;
  if (!space_free (fd, &avail) || avail <= PST_OUTGOING_FREE_MIN)
    {
      close (fd);
      return -1;
    }
  *room_out = avail - PST_OUTGOING_FREE_MIN;
  return fd;
}

int
pst_outgoing_cipher_spool_file (gpointer agent, guint64 *max_out, guint64 *keep_free_out)
{
  int fd = pst_outgoing_unnamed_file (agent, max_out);

  if (fd >= 0)
    {
      *max_out = MIN (*max_out, PST_OUTGOING_MAX_STREAM);
      *keep_free_out = PST_OUTGOING_FREE_MIN;
#ifdef PST_WORKER_TEST_HOOKS
      {
        /* POSTERN_TEST_SPOOL_ROOM_MIB: at most that room, as on a disk
         * nearly full (tests/integration/test-worker.sh). */
        const char *v = g_getenv ("POSTERN_TEST_SPOOL_ROOM_MIB");

        if (v != NULL)
          *max_out = MIN (*max_out, g_ascii_strtoull (v, NULL, 10) << 20);
      }
#endif
    }
  return fd;
}

PstOutgoingSpool *
pst_outgoing_spool_new (PstAgent *agent, GError **error)
{
  PstOutgoingSpool *sp;
  int fd = unnamed_file (agent);

  if (fd < 0)
    return NULL;
  if (!copy_has_room (fd, SPOOL_CHECK, error))
    {
      close (fd);
      return NULL;
    }
  sp = g_new0 (PstOutgoingSpool, 1);
  sp->fd = fd;
  return sp;
}

gboolean
pst_outgoing_spool_write (PstOutgoingSpool *sp, const void *data, gsize len, GError **error)
{
  if (!copy_size_allowed (sp->have + len, error)
      || (sp->have / SPOOL_CHECK != (sp->have + len) / SPOOL_CHECK
          && !copy_has_room (sp->fd, SPOOL_CHECK, error)))
    return FALSE;
  if (!pst_fd_write_all (sp->fd, data, len, error))
    {
      g_prefix_error (error, "cannot keep a copy of the message: ");
      return FALSE;
    }
  sp->have += len;
  return TRUE;
}

int
pst_outgoing_spool_finish (PstOutgoingSpool *sp, GError **error)
{
  int fd = sp->fd;

  if (lseek (fd, 0, SEEK_SET) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot read the message again: %s",
                   g_strerror (errno));
      return -1;
    }
  sp->fd = -1;
  return fd;
}

void
pst_outgoing_spool_free (PstOutgoingSpool *sp)
{
  if (sp == NULL)
    return;
  if (sp->fd >= 0)
    close (sp->fd);
  g_free (sp);
}

/* An unnamed file of the agent's holding @head, then the rest of @in, at
 * its start; -1 with @error, or -1 with *@unsupported_out (nothing read)
 * where no unnamed file can be made. */
static int
spool_copy (PstAgent *agent, GByteArray *head, GInputStream *in, gboolean *unsupported_out,
            GError **error)
{
  g_autoptr (PstOutgoingSpool) sp = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree guint8 *buf = g_malloc (64 * 1024);
  gssize n = 0;

  sp = pst_outgoing_spool_new (agent, &local);
  *unsupported_out = sp == NULL && local == NULL;
  if (sp == NULL)
    {
      if (local != NULL)
        g_propagate_error (error, g_steal_pointer (&local));
      return -1;
    }
  if (!pst_outgoing_spool_write (sp, head->data, head->len, error))
    return -1;
  while ((n = g_input_stream_read (in, buf, 64 * 1024, NULL, &local)) > 0)
    if (!pst_outgoing_spool_write (sp, buf, (gsize) n, error))
      return -1;
  if (n < 0)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "cannot read the message: ");
      return -1;
    }
  return pst_outgoing_spool_finish (sp, error);
}

int
pst_outgoing_take_pipe (PstAgent *agent, GInputStream *in, gsize whole_max, gsize max,
                        GBytes **whole_out, GError **error)
{
  g_autoptr (GByteArray) head = g_byte_array_new ();
  guint8 buf[16 * 1024];
  gboolean unsupported = FALSE;
  gssize n = 0;
  int copy;

  *whole_out = NULL;
  while (head->len <= whole_max
         && (n = g_input_stream_read (in, buf, sizeof buf, NULL, error)) > 0)
    g_byte_array_append (head, buf, (guint) n);
  if (n < 0)
    return -1;
  if (head->len > whole_max)
    {
      copy = spool_copy (agent, head, in, &unsupported, error);
      if (copy >= 0 || !unsupported)
        return copy;
      /* No unnamed files there: the rest in memory too, as before. */
      while (head->len <= max && (n = g_input_stream_read (in, buf, sizeof buf, NULL, error)) > 0)
        g_byte_array_append (head, buf, (guint) n);
      if (n < 0)
        return -1;
      if (head->len > max)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "input larger than %" G_GSIZE_FORMAT
                       " bytes", max);
          return -1;
        }
    }
  *whole_out = g_byte_array_free_to_bytes (g_steal_pointer (&head));
  return -1;
}

/* A stream over the message from @offset bytes into it: the buffered
 * stream the encoders take (pst_pgpstream_input_new).  Transfer full. */
static GInputStream *
source_open (const Source *src, gsize offset, GError **error)
{
  g_autoptr (GInputStream) fd_in = NULL;

  if (lseek (src->fd, src->start + (off_t) offset, SEEK_SET) < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot read the message again: %s",
                   g_strerror (errno));
      return NULL;
    }
  fd_in = pst_client_fd_input_stream_new (src->fd);
  return pst_pgpstream_input_new (fd_in);
}

/* ---- one copy ---- */

typedef struct {
  PstAgent *agent;
  PstPgp *pgp;
  PstSmime *smime;
  const char *sender;
  const PstProtected *plan;
  const Source *src;
  PstBodyScan body;      /* what the scan of the body found ... */
  gboolean scanned;      /* ... if there was one */
  GPtrArray *gossip;     /* GBytes* or NULL, one per copy: its Autocrypt-Gossip fields */
} Protector;

/* The Autocrypt-Gossip fields of @copy (pst_pgpmime_protect's input for
 * an encrypted OpenPGP copy that is no Bcc copy; protect.c), or NULL.
 * Transfer full. */
static GBytes *
gossip_of (const Protector *p, const PstOutgoing *copy)
{
  if (p->plan->scheme != PST_SCHEME_PGP || !p->plan->encrypted || copy->bcc)
    return NULL;
  return pst_peers_gossip_fields (p->agent, p->pgp, p->sender,
                                  (const char *const *) copy->envelope);
}

/* Whether every copy of the plan can be written by the streaming encoders
 * as pst_protect_message writes it; *@scan_out: the protected entity's
 * header depends on the body (charset, 8bit, quoted-printable), which must
 * be scanned first.  Fills p->gossip. */
static gboolean
streamable (Protector *p, gboolean *scan_out)
{
  const PstProtected *plan = p->plan;
  GBytes *header = p->src->header;

  *scan_out = FALSE;
  if (!plan->encrypted && !plan->signed_)
    return TRUE;
  if (plan->scheme == PST_SCHEME_SMIME)
    return pst_smimemime_can_protect_stream (header, plan->signed_, scan_out);
  if (plan->scheme != PST_SCHEME_PGP)
    return FALSE;
  if (!plan->encrypted)
    return pst_pgpmime_can_sign_stream (header, scan_out);
  if (!pst_pgpmime_can_protect_stream (header, scan_out))
    return FALSE;
  for (guint i = 0; i < plan->copies->len; i++)
    {
      GBytes *gossip = gossip_of (p, g_ptr_array_index (plan->copies, i));

      g_ptr_array_add (p->gossip, gossip);
      /* The encoder peeks at the header section, gossip included. */
      if (gossip != NULL
          && g_bytes_get_size (gossip) + g_bytes_get_size (header) > PST_PGPSTREAM_MAX_HEADER)
        return FALSE;
    }
  return TRUE;
}

/* The copy unprotected: its header section without Bcc, then the body as
 * it is. */
static gboolean
write_plain (const Protector *p, GOutputStream *out, GError **error)
{
  g_autoptr (GBytes) head = pst_protect_without_bcc (p->src->header);
  g_autoptr (GInputStream) body = source_open (p->src, g_bytes_get_size (p->src->header), error);

  return body != NULL
         && g_output_stream_write_all (out, g_bytes_get_data (head, NULL), g_bytes_get_size (head),
                                       NULL, NULL, error)
         && g_output_stream_splice (out, body, G_OUTPUT_STREAM_SPLICE_NONE, NULL, error) >= 0;
}

/* Writes @copy as pst_protect_message would make it to @out: the
 * Autocrypt field @autocrypt (may be NULL) on top, then the message,
 * protected as the plan says. */
static gboolean
write_copy (const Protector *p, guint i, const char *autocrypt, GOutputStream *out,
            GError **error)
{
  const PstProtected *plan = p->plan;
  const PstOutgoing *copy = g_ptr_array_index (plan->copies, i);
  const char *const *to = (const char *const *) copy->protect_to;
  GBytes *gossip = i < p->gossip->len ? g_ptr_array_index (p->gossip, i) : NULL;
  g_autoptr (GInputStream) in = NULL;

  if (autocrypt != NULL
      && !g_output_stream_write_all (out, autocrypt, strlen (autocrypt), NULL, NULL, error))
    return FALSE;
  if (!plan->encrypted && !plan->signed_)
    return write_plain (p, out, error);
  if (!(in = source_open (p->src, 0, error)))
    return FALSE;
  if (plan->scheme == PST_SCHEME_SMIME)
    return pst_smimemime_protect_stream (p->smime, in, out, p->sender, to, plan->encrypted,
                                         plan->signed_, p->scanned ? &p->body : NULL, error);
  if (!plan->encrypted)
    return pst_pgpmime_sign_stream (p->pgp, in, out, p->sender, p->scanned ? &p->body : NULL,
                                    error);
  if (gossip != NULL)
    {
      GInputStream *joined = pst_pgpstream_input_with_prefix (gossip, in);

      g_object_unref (in);
      in = joined;
    }
  return pst_pgpmime_protect_stream (p->pgp, in, out, p->sender, to, plan->signed_,
                                     p->scanned ? &p->body : NULL, error);
}

/* Protects every copy of the plan into a writer of its own, uncommitted,
 * in @writers. */
static gboolean
write_copies (Protector *p, const PstAccount *account, GPtrArray *writers, GError **error)
{
  g_autofree char *autocrypt = pst_peers_outgoing_field (p->agent, p->pgp, p->sender);

  for (guint i = 0; i < p->plan->copies->len; i++)
    {
      const PstOutgoing *copy = g_ptr_array_index (p->plan->copies, i);
      PstStoreWriter *w = pst_store_outbox_begin (p->agent->store, account->name, p->sender,
                                                  (const char *const *) copy->envelope, error);
      g_autoptr (GOutputStream) out = NULL;

      if (w == NULL)
        return FALSE;
      g_ptr_array_add (writers, w);
      out = pst_outbox_stream_new (w);
      if (!write_copy (p, i, autocrypt, out, error) || !pst_outbox_stream_finish (out, error))
        return FALSE;
    }
  return TRUE;
}

/* Protects the copies (S/MIME with the key cache's identities) and
 * commits them. */
static PstQueued *
protect_and_queue (PstAgent *agent, const PstAccount *account, const PstPlainMessage *plain,
                   Protector *p, GError **error)
{
  g_autofree char *smime_dir = g_build_filename (agent->paths->data_dir, "smime", NULL);
  g_autoptr (GPtrArray) writers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pst_store_writer_free);
  PstSmimeLease *lease = NULL;
  gboolean ok;

  if (p->plan->scheme == PST_SCHEME_SMIME
      && !(lease = pst_key_cache_take_smime (agent->keys, smime_dir, error)))
    return NULL;
  p->smime = lease != NULL ? pst_smime_lease_get (lease) : NULL;
  ok = write_copies (p, account, writers, error);
  if (lease != NULL)
    pst_key_cache_return_smime (agent->keys, lease);
  p->smime = NULL;
  /* On failure the writers are freed uncommitted: nothing is queued. */
  return ok
           ? pst_outgoing_commit (agent, account, plain, p->plan, writers, error)
           : NULL;
}

static void
bytes_unref0 (gpointer bytes)
{
  if (bytes != NULL)
    g_bytes_unref (bytes);
}

/* pst_outgoing_queue_file from the agent's copy @src. */
static PstQueued *
queue_from_copy (PstAgent *agent, Source *src, const char *name, const char *const *envelope,
                 const PstPolicySettings *overrides, gboolean *streamed_out, GError **error)
{
  g_autoptr (GBytes) header = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (PstPlainMessage) plain = NULL;
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (PstProtected) plan = NULL;
  g_autoptr (GError) refusal = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (GPtrArray) gossip = g_ptr_array_new_with_free_func (bytes_unref0);
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  PstPolicySettings settings;
  Protector p = { .agent = agent, .gossip = gossip };
  gboolean scan = FALSE;

  if (!(in = source_open (src, 0, NULL))
      || !(header = pst_pgpstream_peek_header (in, NULL))
      || !(plain = pst_plain_message_parse (header, NULL)))
    goto whole;   /* the in-memory path says what is wrong, if anything */
  src->header = header;
  if (!pst_outgoing_check (agent, plain, name, envelope, &account, error))
    {
      *streamed_out = TRUE;
      return NULL;
    }
  /* The policy decides from the header; a refusal is said after the
   * scanner's verdict, as in memory, where the scan comes first. */
  settings = pst_protect_account_settings (account);
  plan = pst_protect_plan (agent, plain, &settings, overrides, &refusal);
  p.sender = plain->from;
  p.plan = plan;
  p.src = src;
  /* The agent's OpenPGP keys as protect.c's keys_open opens them (the key
   * bound to an address preferred): for the Autocrypt fields and OpenPGP. */
  if (!(pgp = pst_pgp_new (home, error)))
    {
      *streamed_out = TRUE;
      return NULL;
    }
  pst_pgp_set_preferred_key (pgp, pst_peers_bound_key, agent);
  p.pgp = pgp;
  if (plan != NULL && !streamable (&p, &scan))
    goto whole;
  if (scan)
    {
      /* What the protected entity's header depends on in the body. */
      g_autoptr (GInputStream) body = source_open (src, 0, error);

      if (body == NULL || !pst_pgpstream_scan_body (body, g_bytes_get_size (header), &p.body, error))
        {
          *streamed_out = TRUE;
          return NULL;
        }
      p.scanned = TRUE;
    }
  *streamed_out = TRUE;
  g_clear_object (&in);
  if (!(in = source_open (src, 0, error)) || !pst_outgoing_scan (agent, in, error))
    return NULL;
  if (refusal != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&refusal));
      return NULL;
    }
  return protect_and_queue (agent, account, plain, &p, error);

whole:
  return NULL;
}

PstQueued *
pst_outgoing_queue_file (PstAgent *agent, int fd, const char *name, const char *const *envelope,
                         const PstPolicySettings *overrides, gboolean *streamed_out,
                         GError **error)
{
  Source src = { .fd = -1, .start = 0 };
  PstQueued *queued;
  struct stat st;
  off_t start;

  *streamed_out = FALSE;
  /* A regular file with a size (not /proc's, whose size says 0) is copied
   * once (private_copy); anything else is read whole, in memory.  The
   * client's file is read with the agent's own offsets: for the whole
   * read, it is where it was. */
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size <= 0
      || (start = lseek (fd, 0, SEEK_CUR)) < 0 || start >= st.st_size)
    return NULL;
  if ((src.fd = private_copy (agent, fd, start, st.st_size, error)) < 0)
    {
      *streamed_out = error != NULL && *error != NULL;
      return NULL;
    }
  queued = queue_from_copy (agent, &src, name, envelope, overrides, streamed_out, error);
  close (src.fd);
  return queued;
}

/* Queues the message in @fd, an unnamed file of the agent's at its start
 * (closed here), as a file is, or read whole from it where it cannot
 * stream. */
static PstQueued *
queue_spooled (PstAgent *agent, int fd, const char *name, const char *const *envelope,
               const PstPolicySettings *overrides, GError **error)
{
  g_autoptr (GBytes) input = NULL;
  Source src = { .fd = fd, .start = 0 };
  PstQueued *queued = NULL;
  gboolean streamed = FALSE;

  queued = queue_from_copy (agent, &src, name, envelope, overrides, &streamed, error);
  if (!streamed)
    {
      if (lseek (src.fd, 0, SEEK_SET) != 0)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot read the message again: %s",
                     g_strerror (errno));
      else if ((input = pst_fd_read_all (src.fd, PST_OUTGOING_MAX_WHOLE, error)))
        queued = pst_outgoing_queue (agent, input, name, envelope, overrides, error);
    }
  close (src.fd);
  return queued;
}

/* A message from a pipe or a socket (`cat FILE | postern send`): read
 * whole when it is small (PIPE_WHOLE_MAX); a larger one is spooled as it
 * comes into an unnamed file of the agent's (as private_copy's), then
 * queued from there as a file is, in constant memory (the reads have the
 * client descriptors' deadline, clientfd.h).  What cannot stream is read
 * whole from the spool (PST_OUTGOING_MAX_WHOLE). */
static PstQueued *
queue_pipe (PstAgent *agent, int fd, const char *name, const char *const *envelope,
            const PstPolicySettings *overrides, GError **error)
{
  g_autoptr (GInputStream) in = pst_client_fd_input_stream_new (fd);
  g_autoptr (GBytes) input = NULL;
  int copy = pst_outgoing_take_pipe (agent, in, PIPE_WHOLE_MAX, PST_OUTGOING_MAX_WHOLE, &input,
                                     error);

  if (copy < 0)
    return input != NULL ? pst_outgoing_queue (agent, input, name, envelope, overrides, error)
                         : NULL;
  return queue_spooled (agent, copy, name, envelope, overrides, error);
}

PstQueued *
pst_outgoing_queue_spool (PstAgent *agent, PstOutgoingSpool *sp, const char *name,
                          const char *const *envelope, const PstPolicySettings *overrides,
                          GError **error)
{
  int fd = pst_outgoing_spool_finish (sp, error);

  return fd >= 0 ? queue_spooled (agent, fd, name, envelope, overrides, error) : NULL;
}

PstQueued *
pst_outgoing_queue_fd (PstAgent *agent, int fd, const char *name, const char *const *envelope,
                       const PstPolicySettings *overrides, GError **error)
{
  struct stat st;
  g_autoptr (GBytes) input = NULL;
  gboolean streamed = FALSE;
  PstQueued *queued;

  if (fstat (fd, &st) == 0 && (S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode)))
    return queue_pipe (agent, fd, name, envelope, overrides, error);
  queued = pst_outgoing_queue_file (agent, fd, name, envelope, overrides, &streamed, error);
  if (streamed)
    return queued;
  if (!(input = pst_fd_read_all (fd, PST_OUTGOING_MAX_WHOLE, error)))
    return NULL;
  return pst_outgoing_queue (agent, input, name, envelope, overrides, error);
}
