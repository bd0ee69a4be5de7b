#include "crypto/remote.h"

#include <unistd.h>

#include "crypto/wire.h"
#include "rpc/workerframe.h"
#include "util/addr.h"
#include "util/error.h"

struct _PstCryptoRemote {
  int fd;
  GBytes *message;   /* the job's message, as the agent sent it */
  guint64 named;     /* bytes of it that requests named so far */
};

PstCryptoRemote *
pst_crypto_remote_new (int fd)
{
  PstCryptoRemote *r = g_new0 (PstCryptoRemote, 1);

  r->fd = fd;
  return r;
}

void
pst_crypto_remote_free (PstCryptoRemote *remote)
{
  if (remote == NULL)
    return;
  g_clear_pointer (&remote->message, g_bytes_unref);
  g_free (remote);
}

void
pst_crypto_remote_set_message (PstCryptoRemote *remote, GBytes *message)
{
  g_clear_pointer (&remote->message, g_bytes_unref);
  remote->message = message != NULL ? g_bytes_ref (message) : NULL;
}

/* --- The worker's side ------------------------------------------------------ */

/* Sends @req (transfer full) with @blob and reads the answer.  The agent is
 * the trusted side of the pair: an answer that cannot be read means it went
 * away (or the job was ended), and nothing the worker could still say would
 * be heard, so the worker ends here. */
static JsonObject *
call (PstCryptoRemote *r, JsonObject *req, GBytes *blob, GBytes **blob_out)
{
  g_autoptr (JsonObject) owned = req;
  g_autoptr (GError) error = NULL;
  JsonObject *reply = NULL;
  g_autoptr (GBytes) rblob = NULL;

  if (!pst_worker_frame_write (r->fd, req, blob, &error)
      || !pst_worker_frame_read (r->fd, PST_CRYPTO_REMOTE_MAX_BLOB, 0, &reply, &rblob, &error))
    _exit (PST_CRYPTO_REMOTE_EXIT_LOST);
  if (blob_out != NULL)
    *blob_out = g_steal_pointer (&rblob);
  return reply;
}

/* Whether @part is bytes of the job's message (a slice of it, as the MIME
 * reader gives a part that needed no decoding), and at what offset. */
static gboolean
in_message (PstCryptoRemote *r, GBytes *part, gint64 *at)
{
  gsize mlen = 0, plen = 0;
  guintptr m, p;
  guint64 allowed;

  if (r->message == NULL || part == NULL)
    return FALSE;
  m = (guintptr) g_bytes_get_data (r->message, &mlen);
  p = (guintptr) g_bytes_get_data (part, &plen);
  if (m == 0 || p == 0 || plen == 0 || p < m || p - m > mlen || plen > mlen - (p - m))
    return FALSE;
  /* Past what the agent lets a job name (nested signed layers each name
   * most of the message): sent, as any other input. */
  allowed = pst_crypto_remote_range_allowance (mlen);
  if (plen > allowed - MIN (r->named, allowed))
    return FALSE;
  r->named += plen;
  *at = (gint64) (p - m);
  return TRUE;
}

static JsonObject *
request (const char *op)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "op", op);
  return o;
}

static gboolean
get_flag (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
         && json_node_get_boolean (n);
}

/* Two inputs in one blob: @a then @b (NULL: length -1). */
static GBytes *
concat (GBytes *a, GBytes *b, JsonObject *req, const char *a_len, const char *b_len)
{
  GByteArray *buf = g_byte_array_new ();
  gsize n;
  const guint8 *p;

  json_object_set_int_member (req, a_len, a != NULL ? (gint64) g_bytes_get_size (a) : -1);
  json_object_set_int_member (req, b_len, b != NULL ? (gint64) g_bytes_get_size (b) : -1);
  if (a != NULL && (p = g_bytes_get_data (a, &n)) != NULL)
    g_byte_array_append (buf, p, (guint) n);
  if (b != NULL && (p = g_bytes_get_data (b, &n)) != NULL)
    g_byte_array_append (buf, p, (guint) n);
  return g_byte_array_free_to_bytes (buf);
}

static PstIntegrity
integrity_of (JsonObject *reply)
{
  JsonNode *n = json_object_get_member (reply, "integrity");
  int v = n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
            ? pst_integrity_from_wire (json_node_get_string (n)) : -1;

  return v < 0 ? PST_INTEGRITY_FAILED : (PstIntegrity) v;
}

static void
error_of (JsonObject *reply, GError **error)
{
  JsonNode *n = json_object_get_member (reply, "error");
  GError *e = n != NULL ? pst_error_from_wire (n) : NULL;

  if (e == NULL)
    e = g_error_new (PST_ERROR, PST_ERROR_CRYPTO, "the agent could not do it");
  g_propagate_error (error, e);
}

gboolean
pst_crypto_remote_pgp_decrypt (PstCryptoRemote *remote, gsize limit, GBytes *ciphertext,
                               GBytes **plain_out, PstPgpSignature **sig_out,
                               PstIntegrity *integrity_out, gboolean *too_large, gboolean *busy,
                               gboolean *not_encrypted, GError **error)
{
  JsonObject *req = request ("pgp.decrypt");
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (GBytes) plain = NULL;
  JsonNode *sig;
  gint64 at;

  json_object_set_int_member (req, "limit", (gint64) MIN (limit, (gsize) G_MAXINT64));
  /* Bytes of the message (a PGP/MIME part): named, not sent back. */
  if (in_message (remote, ciphertext, &at))
    {
      json_object_set_int_member (req, "at", at);
      json_object_set_int_member (req, "len", (gint64) g_bytes_get_size (ciphertext));
      ciphertext = NULL;
    }
  reply = call (remote, req, ciphertext, &plain);
  *too_large = get_flag (reply, "too_large");
  *busy = get_flag (reply, "busy");
  *not_encrypted = get_flag (reply, "not_encrypted");
  if (integrity_out != NULL)
    *integrity_out = integrity_of (reply);
  if (!get_flag (reply, "ok"))
    {
      error_of (reply, error);
      return FALSE;
    }
  sig = json_object_get_member (reply, "sig");
  if (sig_out != NULL)
    {
      *sig_out = sig != NULL ? pst_pgp_signature_from_wire (sig, NULL) : NULL;
      if (*sig_out == NULL)
        *sig_out = g_new0 (PstPgpSignature, 1);
    }
  if (plain_out != NULL)
    *plain_out = g_steal_pointer (&plain);
  return TRUE;
}

static PstPgpSignature *
pgp_sig_of (JsonObject *reply)
{
  JsonNode *n = json_object_get_member (reply, "sig");
  PstPgpSignature *sig = n != NULL ? pst_pgp_signature_from_wire (n, NULL) : NULL;

  if (sig == NULL)
    {
      sig = g_new0 (PstPgpSignature, 1);
      sig->status = PST_SIG_ERROR;
    }
  return sig;
}

PstPgpSignature *
pst_crypto_remote_pgp_verify_detached (PstCryptoRemote *remote, GBytes *data, GBytes *signature)
{
  JsonObject *req = request ("pgp.verify_detached");
  g_autoptr (GBytes) blob = NULL;
  g_autoptr (JsonObject) reply = NULL;
  gint64 at;

  /* Signed bytes of the message (a multipart/signed's first part): named,
   * not sent back; the blob holds the signature alone. */
  if (in_message (remote, data, &at))
    {
      blob = concat (NULL, signature, req, "data_len", "signature_len");
      json_object_set_int_member (req, "data_at", at);
      json_object_set_int_member (req, "data_len", (gint64) g_bytes_get_size (data));
    }
  else
    blob = concat (data, signature, req, "data_len", "signature_len");
  reply = call (remote, req, blob, NULL);
  return pgp_sig_of (reply);
}

PstPgpSignature *
pst_crypto_remote_pgp_verify_cleartext (PstCryptoRemote *remote, gsize limit, GBytes *block,
                                        GBytes **text_out, gboolean *too_large, gboolean *busy)
{
  JsonObject *req = request ("pgp.verify_cleartext");
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (GBytes) text = NULL;

  json_object_set_int_member (req, "limit", (gint64) MIN (limit, (gsize) G_MAXINT64));
  reply = call (remote, req, block, &text);
  *too_large = get_flag (reply, "too_large");
  *busy = get_flag (reply, "busy");
  if (text_out != NULL)
    *text_out = get_flag (reply, "text") ? g_steal_pointer (&text) : NULL;
  return pgp_sig_of (reply);
}

gboolean
pst_crypto_remote_smime_decrypt (PstCryptoRemote *remote, GBytes *der, GBytes **plain_out,
                                 PstIntegrity *integrity_out, GError **error)
{
  g_autoptr (JsonObject) reply = NULL;
  g_autoptr (GBytes) plain = NULL;

  reply = call (remote, request ("smime.decrypt"), der, &plain);
  if (integrity_out != NULL)
    *integrity_out = integrity_of (reply);
  if (!get_flag (reply, "ok"))
    {
      error_of (reply, error);
      return FALSE;
    }
  if (plain_out != NULL)
    *plain_out = g_steal_pointer (&plain);
  return TRUE;
}

PstSmimeSignature *
pst_crypto_remote_smime_verify (PstCryptoRemote *remote, GBytes *der, GBytes *content,
                                GBytes **econtent_out)
{
  JsonObject *req = request ("smime.verify");
  g_autoptr (GBytes) blob = concat (der, content, req, "der_len", "content_len");
  g_autoptr (GBytes) econtent = NULL;
  g_autoptr (JsonObject) reply = call (remote, req, blob, &econtent);
  JsonNode *n = json_object_get_member (reply, "smime_sig");
  PstSmimeSignature *sig = n != NULL ? pst_smime_signature_from_wire (n, NULL) : NULL;

  if (sig == NULL)
    {
      sig = g_new0 (PstSmimeSignature, 1);
      sig->status = PST_SIG_ERROR;
    }
  if (econtent_out != NULL)
    *econtent_out = get_flag (reply, "econtent") ? g_steal_pointer (&econtent) : NULL;
  return sig;
}

/* --- The agent's side ------------------------------------------------------- */

static const char *const ops[] = {
  "pgp.decrypt", "pgp.verify_detached", "pgp.verify_cleartext", "smime.decrypt", "smime.verify",
};

const char *
pst_crypto_request_op (JsonObject *req)
{
  JsonNode *n = json_object_get_member (req, "op");

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return "";
  return json_node_get_string (n);
}

gboolean
pst_crypto_serve_handles (const char *op)
{
  for (gsize i = 0; op != NULL && i < G_N_ELEMENTS (ops); i++)
    if (g_str_equal (op, ops[i]))
      return TRUE;
  return FALSE;
}

static gboolean
get_size (JsonObject *req, const char *name, gboolean allow_absent, gint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (req, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64
      || json_node_get_int (n) < (allow_absent ? -1 : 0))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the worker's request has a bad '%s'", name);
      return FALSE;
    }
  *out = json_node_get_int (n);
  return TRUE;
}

/* The two inputs of @blob as the lengths in @req say (NULL for -1). */
static gboolean
split (JsonObject *req, GBytes *blob, const char *a_len, const char *b_len, GBytes **a_out,
       GBytes **b_out, GError **error)
{
  gint64 a, b;
  gsize total = g_bytes_get_size (blob);

  if (!get_size (req, a_len, TRUE, &a, error) || !get_size (req, b_len, TRUE, &b, error))
    return FALSE;
  if ((guint64) MAX (a, 0) + (guint64) MAX (b, 0) != total)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the worker's request says its parts are longer than what it sent");
      return FALSE;
    }
  *a_out = a >= 0 ? g_bytes_new_from_bytes (blob, 0, (gsize) a) : NULL;
  *b_out = b >= 0 ? g_bytes_new_from_bytes (blob, (gsize) MAX (a, 0), (gsize) b) : NULL;
  return TRUE;
}

guint64
pst_crypto_remote_range_allowance (guint64 message_size)
{
  return 2 * MIN (message_size, G_MAXUINT64 / 4) + 64 * 1024;
}

static guint64
range_allowance (const PstCryptoServer *s)
{
  return pst_crypto_remote_range_allowance (s->message_size);
}

/* The bytes of the job's message that @req names in @at_name and
 * @len_name: a slice of it (@bytes_out) when it is in memory, else a
 * stream read again from its start and moved to them (@in_out), of
 * *@len_out bytes.  FALSE with @error when the range is wrong (the
 * worker's fault) or, with s->unread set, when the message cannot be read
 * again. */
static gboolean
message_range (PstCryptoServer *s, JsonObject *req, const char *at_name, const char *len_name,
               guint64 *len_out, GBytes **bytes_out, GInputStream **in_out, GError **error)
{
  g_autoptr (GInputStream) in = NULL;
  gint64 at, len;
  guint64 skip;

  if (!get_size (req, at_name, FALSE, &at, error) || !get_size (req, len_name, FALSE, &len, error))
    return FALSE;
  if ((s->message == NULL && s->reopen == NULL) || (guint64) at > s->message_size
      || (guint64) len > s->message_size - (guint64) at)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the worker's request names bytes past the end of its message");
      return FALSE;
    }
  if ((guint64) len > range_allowance (s) - MIN (s->ranged, range_allowance (s)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the worker's requests name more of its message than twice its size");
      return FALSE;
    }
  s->ranged += (guint64) len;
  *len_out = (guint64) len;
  if (s->message != NULL)
    {
      *bytes_out = g_bytes_new_from_bytes (s->message, (gsize) at, (gsize) len);
      return TRUE;
    }
  if (!(in = s->reopen (s->reopen_data, error)))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the message cannot be read again");
      s->unread = TRUE;
      return FALSE;
    }
  for (skip = (guint64) at; skip > 0;)
    {
      gssize n = g_input_stream_skip (in, (gsize) MIN (skip, (guint64) G_MAXSSIZE), NULL, error);

      if (n <= 0)
        {
          if (n == 0)
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                         "the message ended before the bytes the analysis asked for");
          s->unread = TRUE;
          return FALSE;
        }
      skip -= (guint64) n;
    }
  *in_out = g_steal_pointer (&in);
  return TRUE;
}

/* Refuses a blob beside a range: the request names its data once. */
static gboolean
no_blob (GBytes *blob, GError **error)
{
  if (blob == NULL || g_bytes_get_size (blob) == 0)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               "the worker's request names its data in the message and sends it too");
  return FALSE;
}

/* The limit the worker asks for, never past what the job has left. */
static gboolean
job_limit (PstCryptoServer *s, JsonObject *req, gsize *limit, GError **error)
{
  gint64 asked;

  if (!get_size (req, "limit", FALSE, &asked, error))
    return FALSE;
  *limit = MIN ((guint64) asked, (guint64) s->budget);
  return TRUE;
}

static void
spend (PstCryptoServer *s, GBytes *out)
{
  gsize n = out != NULL ? g_bytes_get_size (out) : 0;

  s->budget -= MIN (n, s->budget);
  s->produced += n;
}

/* Content a verification gave back (S/MIME's eContent): part of the
 * message as it came, so not taken from the decryption budget. */
static void
produced (PstCryptoServer *s, GBytes *out)
{
  s->produced += out != NULL ? g_bytes_get_size (out) : 0;
}

/* Notes a signature the agent answered, when good. */
static void
served (PstCryptoServer *s, PstSigStatus status, const char *fingerprint,
        char *const *addresses)
{
  GStrvBuilder *b;

  if (status != PST_SIG_GOOD || fingerprint == NULL)
    return;
  if (s->good == NULL)
    s->good = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  b = g_strv_builder_new ();
  g_strv_builder_add (b, fingerprint);
  for (guint i = 0; addresses != NULL && addresses[i] != NULL; i++)
    g_strv_builder_add (b, addresses[i]);
  g_ptr_array_add (s->good, g_strv_builder_end (b));
  g_strv_builder_unref (b);
}

void
pst_crypto_server_clear (PstCryptoServer *server)
{
  g_clear_pointer (&server->good, g_ptr_array_unref);
}

static gboolean
refuse_claim (GError **error, const char *what)
{
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               "its verdict claims %s, which the agent never gave it", what);
  return FALSE;
}

gboolean
pst_crypto_serve_check (PstCryptoServer *s, const PstStatus *status, const char *shown_from,
                        GError **error)
{
  char **good = NULL;

  if (status->decryption == PST_DECRYPTION_OK && s->decrypted == 0)
    return refuse_claim (error, "a decryption");
  if (status->sig_status == PST_SIG_GOOD)
    {
      for (guint i = 0; s->good != NULL && i < s->good->len && good == NULL; i++)
        {
          char **g = g_ptr_array_index (s->good, i);

          if (g_strcmp0 (g[0], status->fingerprint) == 0
              && (status->signer == NULL || pst_addr_in_list (status->signer,
                                                              (const char *const *) g + 1)))
            good = g;
        }
      if (good == NULL)
        return refuse_claim (error, "a good signature by that key and signer");
    }
  if (status->integrity == PST_INTEGRITY_OK && !s->integrity_ok && s->good == NULL)
    return refuse_claim (error, "integrity protection");
  /* A match with a signature that is not good changes no verdict. */
  if (status->from_match && status->sig_status == PST_SIG_GOOD)
    {
      g_autofree char *from = shown_from != NULL ? pst_addr_extract (shown_from) : NULL;

      if (good == NULL || status->signer == NULL || from == NULL
          || !pst_addr_equal (from, status->signer))
        return refuse_claim (error, "that the signer is the sender shown");
    }
  return TRUE;
}

static void
set_error (JsonObject *reply, const GError *error)
{
  if (error != NULL)
    json_object_set_member (reply, "error", pst_error_to_wire (error));
}

gboolean
pst_crypto_serve (PstCryptoServer *s, JsonObject *req, GBytes *blob, JsonObject **reply_out,
                  GBytes **blob_out, GError **error)
{
  const char *op = pst_crypto_request_op (req);
  g_autoptr (JsonObject) reply = json_object_new ();
  g_autoptr (GBytes) out = NULL;

  if (++s->calls > PST_CRYPTO_SERVE_MAX_CALLS)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the worker asked for more than %d decryptions and verifications",
                   PST_CRYPTO_SERVE_MAX_CALLS);
      return FALSE;
    }
  if (g_str_equal (op, "pgp.decrypt"))
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (PstPgpSignature) sig = NULL;
      PstIntegrity integrity = PST_INTEGRITY_FAILED;
      gsize limit;
      gboolean ok;

      g_autoptr (GBytes) part = NULL;
      g_autoptr (GInputStream) in = NULL;
      guint64 len = 0;
      gboolean unread = FALSE;

      if (!job_limit (s, req, &limit, error))
        return FALSE;
      if (json_object_has_member (req, "at")
          && (!no_blob (blob, error)
              || !message_range (s, req, "at", "len", &len, &part, &in, error)))
        return FALSE;
      pst_pgp_set_output_limit (s->pgp, limit);
      if (in != NULL)
        ok = pst_pgp_decrypt_verify_from (s->pgp, in, len, &out, &sig, &integrity, &unread, &local);
      else
        ok = pst_pgp_decrypt_verify (s->pgp, part != NULL ? part : blob, &out, &sig, &integrity,
                                     &local);
      if (unread)
        {
          /* The store, not the worker: the job ends, with no verdict. */
          s->unread = TRUE;
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      spend (s, out);
      if (ok)
        {
          s->decrypted++;
          s->integrity_ok = s->integrity_ok || integrity == PST_INTEGRITY_OK;
          if (sig != NULL)
            served (s, sig->status, sig->fingerprint, sig->addresses);
        }
      json_object_set_boolean_member (reply, "ok", ok);
      json_object_set_string_member (reply, "integrity", pst_integrity_to_wire (integrity));
      json_object_set_boolean_member (reply, "too_large", pst_pgp_output_too_large (s->pgp));
      json_object_set_boolean_member (reply, "busy", pst_pgp_output_busy (s->pgp));
      json_object_set_boolean_member (reply, "not_encrypted", pst_pgp_not_encrypted (s->pgp));
      if (sig != NULL)
        json_object_set_member (reply, "sig", pst_pgp_signature_to_wire (sig));
      set_error (reply, local);
    }
  else if (g_str_equal (op, "pgp.verify_detached"))
    {
      g_autoptr (GBytes) data = NULL, signature = NULL;
      g_autoptr (PstPgpSignature) sig = NULL;
      g_autoptr (GInputStream) in = NULL;
      gboolean ranged = json_object_has_member (req, "data_at");
      guint64 len = 0;
      gint64 sig_len;

      if (ranged)
        {
          if (!get_size (req, "signature_len", FALSE, &sig_len, error))
            return FALSE;
          if ((guint64) sig_len != g_bytes_get_size (blob))
            {
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                           "the worker's request says its parts are longer than what it sent");
              return FALSE;
            }
          signature = g_bytes_ref (blob);
          if (!message_range (s, req, "data_at", "data_len", &len, &data, &in, error))
            return FALSE;
        }
      else if (!split (req, blob, "data_len", "signature_len", &data, &signature, error))
        return FALSE;
      if ((data == NULL && in == NULL) || signature == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the worker asked to verify a signature without its data");
          return FALSE;
        }
      if (in != NULL)
        {
          g_autoptr (GError) local = NULL;

          if (!(sig = pst_pgp_verify_detached_from (s->pgp, in, len, signature, &local)))
            {
              s->unread = TRUE;
              g_propagate_error (error, g_steal_pointer (&local));
              return FALSE;
            }
        }
      else
        sig = pst_pgp_verify_detached (s->pgp, data, signature);
      served (s, sig->status, sig->fingerprint, sig->addresses);
      json_object_set_member (reply, "sig", pst_pgp_signature_to_wire (sig));
    }
  else if (g_str_equal (op, "pgp.verify_cleartext"))
    {
      g_autoptr (PstPgpSignature) sig = NULL;
      gsize limit;

      if (!job_limit (s, req, &limit, error))
        return FALSE;
      pst_pgp_set_output_limit (s->pgp, limit);
      sig = pst_pgp_verify_cleartext (s->pgp, blob, &out);
      spend (s, out);
      served (s, sig->status, sig->fingerprint, sig->addresses);
      json_object_set_member (reply, "sig", pst_pgp_signature_to_wire (sig));
      json_object_set_boolean_member (reply, "text", out != NULL);
      json_object_set_boolean_member (reply, "too_large", pst_pgp_output_too_large (s->pgp));
      json_object_set_boolean_member (reply, "busy", pst_pgp_output_busy (s->pgp));
    }
  else if (g_str_equal (op, "smime.decrypt"))
    {
      g_autoptr (GError) local = NULL;
      PstIntegrity integrity = PST_INTEGRITY_NONE;
      gboolean ok = FALSE;

      if (s->smime == NULL)
        g_set_error (&local, PST_ERROR, PST_ERROR_CRYPTO, "no S/MIME identity can decrypt this message");
      else if (s->budget == 0)
        g_set_error (&local, PST_ERROR, PST_ERROR_CRYPTO,
                     "S/MIME decryption stopped: the message's layers yield more than the "
                     "%" G_GSIZE_FORMAT " MiB that Postern decrypts at most",
                     (gsize) PST_DECRYPTION_MAX_OUTPUT / (1024 * 1024));
      else
        ok = pst_smime_decrypt (s->smime, blob, &out, &integrity, &local);
      /* All layers of a message share its budget, as OpenPGP's do. */
      spend (s, out);
      if (ok)
        {
          s->decrypted++;
          s->integrity_ok = s->integrity_ok || integrity == PST_INTEGRITY_OK;
        }
      json_object_set_boolean_member (reply, "ok", ok);
      json_object_set_string_member (reply, "integrity", pst_integrity_to_wire (integrity));
      set_error (reply, local);
    }
  else if (g_str_equal (op, "smime.verify"))
    {
      g_autoptr (GBytes) der = NULL, content = NULL;
      g_autoptr (PstSmimeSignature) sig = NULL;

      if (!split (req, blob, "der_len", "content_len", &der, &content, error))
        return FALSE;
      if (s->smime != NULL)
        sig = pst_smime_verify (s->smime, der, content, content == NULL ? &out : NULL);
      else
        {
          sig = g_new0 (PstSmimeSignature, 1);
          sig->status = PST_SIG_ERROR;
        }
      produced (s, out);
      served (s, sig->status, sig->fingerprint, sig->addresses);
      json_object_set_member (reply, "smime_sig", pst_smime_signature_to_wire (sig));
      json_object_set_boolean_member (reply, "econtent", out != NULL);
    }
  else
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the worker asked for '%s', which is no call",
                   op);
      return FALSE;
    }
  /* Every decryption of the job took from its budget: the worker's next
   * request may ask for no more than what is left. */
  pst_pgp_set_output_limit (s->pgp, PST_DECRYPTION_MAX_OUTPUT);
  *reply_out = g_steal_pointer (&reply);
  *blob_out = out != NULL ? g_steal_pointer (&out) : NULL;
  return TRUE;
}
