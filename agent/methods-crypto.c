/* methods-crypto.c — encrypt, decrypt, verify: one message in through a
 * descriptor, the result out through another, nothing stored.  Batch work
 * is many of these calls on parallel connections (one agent thread each). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clientfd.h"
#include "crypto/pgp.h"
#include "events.h"
#include "crypto/smime.h"
#include "handlers.h"
#include "mime/mime.h"
#include "mime/reader.h"
#include "mime/pgpstream.h"
#include "mime/smimeread.h"
#include "mime/smimestream.h"
#include "outgoing-stream.h"
#include "peers.h"
#include "protect.h"
#include "rpc/frame.h"
#include "util/error.h"
#include "worker.h"

/* Messages that are not streamed (see pgpstream.h) are parsed in memory;
 * this is the cap. */
#define MAX_CRYPTO_INPUT (256u * 1024 * 1024)
/* A message whose body must be scanned before it is streamed (its protected
 * header depends on it) is read into memory instead when it is at most
 * this large: for a small message the second reading costs more than the
 * memory it saves (bench-batch.sh, 4 KiB S/MIME: the agent's CPU per
 * message 0.72-0.75 ms in memory, 0.81-0.83 ms streamed, two runs each,
 * alternating). */
#define SCAN_WHOLE_MAX (1024 * 1024)

/* All of @in, at most @max bytes.  Transfer full. */
static GBytes *
read_stream_all (GInputStream *in, gsize max, GError **error)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  guint8 chunk[65536];

  while (TRUE)
    {
      gssize n = g_input_stream_read (in, chunk, sizeof chunk, NULL, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (buf->len + (gsize) n > max)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the message is larger than %" G_GSIZE_FORMAT " bytes", max);
          return NULL;
        }
      g_byte_array_append (buf, chunk, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

static JsonObject *
encrypt_result (PstScheme scheme, gboolean encrypted, gboolean signed_)
{
  JsonObject *r = json_object_new ();

  json_object_set_string_member (r, "scheme", pst_scheme_name (scheme));
  json_object_set_boolean_member (r, "encrypted", encrypted);
  json_object_set_boolean_member (r, "signed", signed_);
  return r;
}

/* @fd back at @start, to read the message again. */
static gboolean
rewind_fd (int fd, off_t start, GError **error)
{
  if (lseek (fd, start, SEEK_SET) == start)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot read the message again: %s",
               g_strerror (errno));
  return FALSE;
}

/* Scans the body of the message in *@in (from pst_pgpstream_input_new
 * over @in_fd, nothing consumed; its header section @header) into *@body
 * (pgpstream.h pst_pgpstream_scan_body), then replaces *@in by a stream
 * reading @in_fd again from @start. */
static gboolean
scan_body (GInputStream **in, int in_fd, off_t start, GBytes *header, PstBodyScan *body,
           GError **error)
{
  g_autoptr (GInputStream) fd_in = NULL;

  if (!pst_pgpstream_scan_body (*in, g_bytes_get_size (header), body, error)
      || !rewind_fd (in_fd, start, error))
    return FALSE;
  g_object_unref (*in);
  fd_in = pst_client_fd_input_stream_new (in_fd);
  *in = pst_pgpstream_input_new (fd_in);
  return TRUE;
}

/* Protects the message in @in (from pst_pgpstream_input_new over @in_fd,
 * nothing consumed) with S/MIME as @plan says, from @in to @out_fd, when
 * pst_smimemime_can_protect_stream allows it; *@in may be replaced by a
 * stream reading @in_fd again from @start (@rereadable: a regular file
 * larger than SCAN_WHOLE_MAX) after the body was scanned.  FALSE without
 * an error: not streamed, nothing consumed from *@in. */
static gboolean
smime_stream (PstCall *call, GInputStream **in, int in_fd, gboolean rereadable, off_t start,
              GBytes *header, PstProtected *plan, int out_fd, gboolean *streamed_out,
              GError **error)
{
  g_autofree char *dir = g_build_filename (call->agent->paths->data_dir, "smime", NULL);
  g_autofree char *home = pst_agent_get_gnupg_home (call->agent);
  g_autofree char *autocrypt = NULL;
  g_autoptr (GOutputStream) out = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  PstOutgoing *copy = g_ptr_array_index (plan->copies, 0);
  PstSmimeLease *lease;
  PstBodyScan body = { 0 };
  gboolean scan = FALSE, ok;

  if (!pst_smimemime_can_protect_stream (header, plan->signed_, &scan) || (scan && !rereadable))
    return FALSE;
  if (scan && !scan_body (in, in_fd, start, header, &body, error))
    return FALSE;
  /* As pst_protect_message: the sender's Autocrypt field on top. */
  if ((pgp = pst_pgp_new (home, NULL)) != NULL)
    {
      pst_pgp_set_preferred_key (pgp, pst_peers_bound_key, call->agent);
      autocrypt = pst_peers_outgoing_field (call->agent, pgp, plan->sender);
    }
  if (!(lease = pst_key_cache_take_smime (call->agent->keys, dir, error)))
    return FALSE;
  *streamed_out = TRUE;
  out = pst_client_fd_output_stream_new (out_fd);
  ok = (autocrypt == NULL
        || g_output_stream_write_all (out, autocrypt, strlen (autocrypt), NULL, NULL, error))
       && pst_smimemime_protect_stream (pst_smime_lease_get (lease), *in, out, plan->sender,
                                        (const char *const *) copy->envelope, plan->encrypted,
                                        plan->signed_, scan ? &body : NULL, error);
  pst_key_cache_return_smime (call->agent->keys, lease);
  return ok;
}

/* Whether the copy @plan makes of the message of @header streams only
 * after a scan of its body (smime_stream and the OpenPGP path below;
 * @pgp_scan: what pst_pgpmime_can_protect_stream said). */
static gboolean
streams_after_scan (const PstProtected *plan, GBytes *header, gboolean pgp_scan)
{
  gboolean scan = FALSE;

  if (plan == NULL || plan->copies->len != 1)
    return FALSE;
  if (plan->scheme == PST_SCHEME_SMIME)
    return (plan->encrypted || plan->signed_)
           && pst_smimemime_can_protect_stream (header, plan->signed_, &scan) && scan;
  return plan->scheme == PST_SCHEME_PGP && plan->encrypted && pgp_scan;
}

/* Protects the message from @in_fd to @out_fd as a stream when the policy
 * chooses one copy, OpenPGP encryption (pst_pgpmime_can_protect_stream)
 * or S/MIME (pst_smimemime_can_protect_stream); a body that must be scanned
 * first only from a regular file, read again after the scan (from a pipe,
 * it is spooled into one first, pst_outgoing_take_pipe); *@streamed_out
 * then says so and the answer is returned.  Otherwise *@input_out gets the
 * whole message for the in-memory path (NULL with @error set on failure). */
static JsonObject *
encrypt_stream (PstCall *call, int in_fd, int out_fd, const PstPolicySettings *account,
                const PstPolicySettings *message, const char *const *to, GBytes **input_out,
                gboolean *streamed_out, GError **error)
{
  g_autoptr (GInputStream) fd_in = pst_client_fd_input_stream_new (in_fd);
  g_autoptr (GInputStream) in = pst_pgpstream_input_new (fd_in);
  g_autoptr (GBytes) header = NULL;
  g_autoptr (PstPlainMessage) plain = NULL;
  g_autoptr (PstProtected) plan = NULL;
  const char *const *asked_to = to;
  g_autoptr (GOutputStream) out = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autofree char *home = NULL;
  struct stat st;
  off_t start = -1;
  PstOutgoing *copy;
  PstBodyScan body = { 0 };
  gboolean scan = FALSE, rereadable;
  g_autofree char *autocrypt = NULL;

  *streamed_out = FALSE;
  *input_out = NULL;
  if (fstat (in_fd, &st) == 0 && S_ISREG (st.st_mode))
    start = lseek (in_fd, 0, SEEK_CUR);
  /* A body to scan first is read again from the file, if it is worth it. */
  rereadable = start >= 0 && st.st_size - start > SCAN_WHOLE_MAX;
  header = pst_pgpstream_peek_header (in, NULL);
  if (header != NULL && pst_pgpmime_can_protect_stream (header, &scan))
    {
      /* A small file whose body must be scanned first is read whole
       * below whatever the policy chooses (signing needs the scan too:
       * pst_mime_entity_head_needs_body), so the policy is left to the
       * whole path, which decides anyway: deciding here too was a tenth
       * of the agent's time per message of a batch. */
      if (scan && start >= 0 && !rereadable)
        {
          *input_out = read_stream_all (in, MAX_CRYPTO_INPUT, error);
          return NULL;
        }
      /* Kept to the end: @to may be its recipients. */
      plain = pst_plain_message_parse (header, error);
      if (plain == NULL)
        return NULL;
      if (to == NULL)
        to = (const char *const *) plain->recipients;
      plan = pst_protect_decide (call->agent, plain, account, message, to, error);
      if (plan == NULL)
        return NULL;
    }
  /* A pipe whose body must be scanned first: read whole when it is small,
   * else spooled into an unnamed file of the agent's (as send spools one)
   * and encrypted from there as a file is. */
  if (start < 0 && streams_after_scan (plan, header, scan))
    {
      int spool = pst_outgoing_take_pipe (call->agent, in, SCAN_WHOLE_MAX, MAX_CRYPTO_INPUT,
                                          input_out, error);
      JsonObject *r;

      if (spool < 0)
        return NULL;
      r = encrypt_stream (call, spool, out_fd, account, message, asked_to, input_out,
                          streamed_out, error);
      close (spool);
      return r;
    }
  if (plan != NULL && plan->scheme == PST_SCHEME_SMIME && plan->copies->len == 1
      && (plan->encrypted || plan->signed_))
    {
      if (smime_stream (call, &in, in_fd, rereadable, start, header, plan, out_fd, streamed_out,
                        error))
        return encrypt_result (plan->scheme, plan->encrypted, plan->signed_);
      if (*streamed_out || (error != NULL && *error != NULL))
        return NULL;
    }
  if (plan == NULL || plan->scheme != PST_SCHEME_PGP || !plan->encrypted || plan->copies->len != 1
      || (scan && !rereadable))
    {
      *input_out = read_stream_all (in, MAX_CRYPTO_INPUT, error);
      return NULL;
    }
  if (scan && !scan_body (&in, in_fd, start, header, &body, error))
    return NULL;
  copy = g_ptr_array_index (plan->copies, 0);
  home = pst_agent_get_gnupg_home (call->agent);
  if (!(pgp = pst_pgp_new (home, error)))
    return NULL;
  /* As pst_protect_message writes an encrypted OpenPGP copy: with the
   * agent's choice of keys, the others' keys inside (Autocrypt-Gossip, on
   * top of the header the encoder reads) and the sender's Autocrypt field
   * outside. */
  pst_pgp_set_preferred_key (pgp, pst_peers_bound_key, call->agent);
  if (!copy->bcc)
    {
      g_autoptr (GBytes) gossip = pst_peers_gossip_fields (call->agent, pgp, plan->sender,
                                                           (const char *const *) copy->envelope);

      if (gossip != NULL
          && g_bytes_get_size (gossip) + g_bytes_get_size (header) > PST_PGPSTREAM_MAX_HEADER)
        {
          *input_out = read_stream_all (in, MAX_CRYPTO_INPUT, error);
          return NULL;
        }
      if (gossip != NULL)
        {
          GInputStream *joined = pst_pgpstream_input_with_prefix (gossip, in);

          g_object_unref (in);
          in = joined;
        }
    }
  autocrypt = pst_peers_outgoing_field (call->agent, pgp, plan->sender);
  *streamed_out = TRUE;
  out = pst_client_fd_output_stream_new (out_fd);
  if ((autocrypt != NULL
       && !g_output_stream_write_all (out, autocrypt, strlen (autocrypt), NULL, NULL, error))
      || !pst_pgpmime_protect_stream (pgp, in, out, plan->sender,
                                      (const char *const *) copy->envelope, plan->signed_,
                                      scan ? &body : NULL, error))
    return NULL;
  return encrypt_result (plan->scheme, plan->encrypted, plan->signed_);
}

static JsonObject *
do_encrypt (PstCall *call, GError **error)
{
  const char *scheme;
  gboolean sign = FALSE;
  int in_fd, out_fd;
  g_auto (GStrv) to = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) input = NULL;
  g_autoptr (PstProtected) prot = NULL;
  g_autoptr (PstPlainMessage) plain = NULL;
  PstPolicySettings account = { .encrypt = PST_POLICY_ENCRYPT_ALWAYS, .sign = PST_POLICY_SIGN_NO,
                                .scheme = PST_POLICY_SCHEME_AUTO };
  PstPolicySettings message = { 0 };
  PstOutgoing *out;
  JsonObject *r = NULL;
  gsize len;
  const guint8 *data;

  if ((in_fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (out_fd = pst_call_get_fd (call, "out_fd", TRUE, error)) < 0
      || !pst_rpc_get_string (call->params, "scheme", FALSE, &scheme, error)
      || !pst_rpc_get_bool (call->params, "sign", FALSE, &sign, error))
    return NULL;
  to = pst_call_get_strv (call->params, "to", &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (scheme && !pst_policy_scheme_from_string (scheme, &message.scheme))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "scheme must be pgp, smime or auto");
      return NULL;
    }
  message.sign = sign ? PST_POLICY_SIGN_YES : PST_POLICY_SIGN_NO;
  {
    gboolean streamed = FALSE;

    r = encrypt_stream (call, in_fd, out_fd, &account, &message, (const char *const *) to, &input,
                        &streamed, error);
    if (streamed || r != NULL)
      return r;
    if (input == NULL)
      return NULL;
  }
  if (!(plain = pst_plain_message_parse (input, error)))
    return NULL;
  /* One output message: every recipient (Bcc too, when no --to) in one group. */
  if (!(prot = pst_protect_message (call->agent, plain, &account, &message,
                                    to != NULL ? (const char *const *) to
                                               : (const char *const *) plain->recipients,
                                    error)))
    return NULL;
  out = g_ptr_array_index (prot->copies, 0);
  data = g_bytes_get_data (out->data, &len);
  if (!pst_fd_write_all (out_fd, data, len, error))
    return NULL;
  return encrypt_result (prot->scheme, prot->encrypted, prot->signed_);
}

static JsonObject *
open_result (PstStatus *status, gboolean written)
{
  JsonObject *r = json_object_new ();

  json_object_set_member (r, "crypto", pst_status_to_json (status));
  json_object_set_boolean_member (r, "written", written);
  return r;
}

/* Opens @input and answers with its status; the plain message goes to
 * @out_fd when it is >= 0 and the content could be decrypted. */
static JsonObject *
open_message (PstCall *call, GBytes *input, int out_fd, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (call->agent);
  g_autofree char *dir = g_build_filename (call->agent->paths->data_dir, "smime", NULL);
  g_autoptr (PstPgp) pgp = NULL;
  PstSmimeLease *lease = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  gboolean withheld, ok;

  if (!(pgp = pst_pgp_new (home, error))
      || !(lease = pst_key_cache_take_smime (call->agent->keys, dir, error)))
    return NULL;
  /* Read in the sandboxed worker, as stored mail is (worker.h). */
  ok = pst_worker_open (call->agent->worker, pgp, pst_smime_lease_get (lease), input, -1, &plain,
                        &status, NULL, error);
  pst_key_cache_return_smime (call->agent->keys, lease);
  if (!ok)
    {
      if (error != NULL && *error != NULL && (*error)->domain == PST_WORKER_ERROR)
        {
          (*error)->domain = PST_ERROR;
          (*error)->code = PST_ERROR_FAILED;
          g_prefix_error (error, "the message could not be analysed: ");
        }
      return NULL;
    }
  withheld = pst_status_withholds_content (status);
  if (out_fd >= 0 && !withheld)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (plain, &len);
      if (!pst_fd_write_all (out_fd, data, len, error))
        return NULL;
    }
  return open_result (status, out_fd >= 0 && !withheld);
}

typedef struct {
  int fd;
  off_t start;
  PstAgent *agent;
} Reopen;

static GInputStream *
reopen_fd (gpointer data, GError **error)
{
  Reopen *r = data;
  g_autoptr (GInputStream) fd_in = NULL;

  if (!rewind_fd (r->fd, r->start, error))
    return NULL;
  fd_in = pst_client_fd_input_stream_new (r->fd);
  return pst_pgpstream_input_new (fd_in);
}

/* pst_pgpmime_open_stream's spool for a judged text: an unnamed file of
 * the agent's, as send's copies are. */
static int
spool_open (gpointer data, guint64 *max_out, guint64 *keep_free_out)
{
  Reopen *r = data;

  return pst_outgoing_cipher_spool_file (r->agent, max_out, keep_free_out);
}

/* Decrypts PGP/MIME from @in_fd to @out_fd as a stream when
 * pst_pgpmime_open_stream can; *@streamed_out then says so.  Only a
 * seekable input is streamed, so that a message found not streamable
 * half-way is read again from @start for the in-memory path.  A text
 * entity (or one whose header depends on its signature) is judged first,
 * its plaintext kept meanwhile in an unnamed file of the agent's,
 * encrypted (spool_open), then written from there; where no such file can
 * be kept, the message is read again and decrypted a second time.  When the
 * status says decryption failed, @out_fd may hold plaintext that was not
 * authenticated: the answer says "written": false, and the CLI keeps
 * nothing with -o (on a stdout of its own the bytes are already out, as
 * with gpg). */
static JsonObject *
decrypt_stream (PstCall *call, int in_fd, int out_fd, off_t start, gboolean *streamed_out,
                GError **error)
{
  g_autoptr (GInputStream) fd_in = pst_client_fd_input_stream_new (in_fd);
  g_autoptr (GInputStream) in = pst_pgpstream_input_new (fd_in);
  g_autoptr (GOutputStream) out = pst_client_fd_output_stream_new (out_fd);
  g_autofree char *home = pst_agent_get_gnupg_home (call->agent);
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (PstStatus) status = NULL;
  Reopen reopen = { in_fd, start, call->agent };
  gboolean streamable = FALSE;

  *streamed_out = FALSE;
  if (!(pgp = pst_pgp_new (home, error))
      || !pst_pgpmime_open_stream (pgp, in, reopen_fd, spool_open, &reopen, out, &status,
                                      &streamable, error))
    return NULL;
  if (!streamable)
    {
      g_clear_object (&in);
      rewind_fd (in_fd, start, error);
      return NULL;
    }
  *streamed_out = TRUE;
  return open_result (status, !pst_status_withholds_content (status));
}

/* Decrypts S/MIME from @in_fd (a regular file, the message at @start) to
 * @out_fd as a stream when pst_smimemime_open_stream can (it reads the
 * file twice); *@streamed_out then says so.  Otherwise @in_fd is back at
 * @start for the in-memory path.  As with OpenPGP, when the status says
 * decryption failed @out_fd may hold plaintext that was not authenticated:
 * the answer says "written": false. */
static JsonObject *
smime_decrypt_stream (PstCall *call, int in_fd, int out_fd, off_t start, gboolean *streamed_out,
                      GError **error)
{
  g_autofree char *dir = g_build_filename (call->agent->paths->data_dir, "smime", NULL);
  g_autoptr (GOutputStream) out = pst_client_fd_output_stream_new (out_fd);
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (PstStatus) status = NULL;
  Reopen reopen = { in_fd, start, call->agent };
  PstSmimeLease *lease;
  gboolean streamable = FALSE, ok;

  *streamed_out = FALSE;
  if (!(in = reopen_fd (&reopen, error))
      || !(lease = pst_key_cache_take_smime (call->agent->keys, dir, error)))
    return NULL;
  ok = pst_smimemime_open_stream (pst_smime_lease_get (lease), in, reopen_fd, &reopen, out,
                                  &status, &streamable, error);
  pst_key_cache_return_smime (call->agent->keys, lease);
  if (!ok)
    return NULL;
  if (!streamable)
    {
      g_clear_object (&in);
      rewind_fd (in_fd, start, error);
      return NULL;
    }
  *streamed_out = TRUE;
  return open_result (status, !pst_status_withholds_content (status));
}

static JsonObject *
do_decrypt (PstCall *call, GError **error)
{
  int in_fd, out_fd;
  g_autoptr (GBytes) input = NULL;
  struct stat st;
  off_t start;

  if ((in_fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (out_fd = pst_call_get_fd (call, "out_fd", TRUE, error)) < 0)
    return NULL;
  if (fstat (in_fd, &st) == 0 && S_ISREG (st.st_mode) && (start = lseek (in_fd, 0, SEEK_CUR)) >= 0)
    {
      gboolean streamed = FALSE;
      JsonObject *r = decrypt_stream (call, in_fd, out_fd, start, &streamed, error);

      if (streamed || r != NULL || (error != NULL && *error != NULL))
        return r;
      r = smime_decrypt_stream (call, in_fd, out_fd, start, &streamed, error);
      if (streamed || r != NULL || (error != NULL && *error != NULL))
        return r;
    }
  if (!(input = pst_fd_read_all (in_fd, MAX_CRYPTO_INPUT, error)))
    return NULL;
  return open_message (call, input, out_fd, error);
}

/* A call that is one file of `postern batch` says so ({"batch": {"id",
 * "total"}}): it is counted, and subscribers get batch.progress. */
static JsonObject *
counted (PstCall *call, JsonObject *(*op) (PstCall *, GError **), GError **error)
{
  JsonObject *r = op (call, error);
  JsonNode *b = call->params ? json_object_get_member (call->params, "batch") : NULL;
  const char *id = NULL;
  gint64 total = 0;

  if (b != NULL && JSON_NODE_HOLDS_OBJECT (b)
      && pst_rpc_get_string (json_node_get_object (b), "id", TRUE, &id, NULL)
      && pst_rpc_get_int (json_node_get_object (b), "total", TRUE, 0, &total, NULL) && total > 0)
    pst_events_batch_step (call->agent->events, id, total,
                           r == NULL || !json_object_get_boolean_member_with_default (r, "written", TRUE));
  return r;
}

/* A file of a batch that failed before reaching the agent: counted only. */
static JsonObject *
do_nothing_failed (PstCall *call, GError **error)
{
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "counted as failed");
  return NULL;
}

JsonObject *
pst_method_batch_failed (PstCall *call, GError **error)
{
  g_autoptr (GError) counted_error = NULL;

  counted (call, do_nothing_failed, &counted_error);
  return json_object_new ();
}

JsonObject *
pst_method_encrypt (PstCall *call, GError **error)
{
  gboolean batch = call->params != NULL && json_object_has_member (call->params, "batch");
  JsonObject *r;

  /* A batch signs and encrypts in this process, with gpg-agent's
   * signatures, not a gpg run per message (crypto/pgp.h). */
  pst_pgp_set_direct_default (batch);
  r = counted (call, do_encrypt, error);
  pst_pgp_set_direct_default (FALSE);
  return r;
}

JsonObject *
pst_method_decrypt (PstCall *call, GError **error)
{
  return counted (call, do_decrypt, error);
}

/* Verifies S/MIME multipart/signed from @in_fd (a regular file, the
 * message at @start) as a stream when pst_smimeread_verify can; otherwise
 * @in_fd is back at @start for the in-memory path. */
static JsonObject *
smime_verify_stream (PstCall *call, int in_fd, off_t start, GError **error)
{
  g_autofree char *dir = g_build_filename (call->agent->paths->data_dir, "smime", NULL);
  g_autoptr (GInputStream) in = pst_client_fd_input_stream_new (in_fd);
  g_autoptr (PstStatus) status = NULL;
  PstSmimeLease *lease;
  gboolean streamable = FALSE, ok;

  if (!(lease = pst_key_cache_take_smime (call->agent->keys, dir, error)))
    return NULL;
  ok = pst_smimeread_verify (pst_smime_lease_get (lease), in, &status, &streamable, error);
  pst_key_cache_return_smime (call->agent->keys, lease);
  if (!ok)
    return NULL;
  if (!streamable)
    {
      rewind_fd (in_fd, start, error);
      return NULL;
    }
  return open_result (status, FALSE);
}

JsonObject *
pst_method_verify (PstCall *call, GError **error)
{
  int in_fd;
  g_autoptr (GBytes) input = NULL;
  struct stat st;
  off_t start;

  if ((in_fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0)
    return NULL;
  if (fstat (in_fd, &st) == 0 && S_ISREG (st.st_mode) && (start = lseek (in_fd, 0, SEEK_CUR)) >= 0)
    {
      JsonObject *r = smime_verify_stream (call, in_fd, start, error);

      if (r != NULL || (error != NULL && *error != NULL))
        return r;
    }
  if (!(input = pst_fd_read_all (in_fd, MAX_CRYPTO_INPUT, error)))
    return NULL;
  return open_message (call, input, -1, error);
}
