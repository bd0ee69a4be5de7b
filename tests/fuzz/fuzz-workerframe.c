/* fuzz-workerframe — the input is what an analysis worker (taken over by
 * the mail it parses) writes to the agent.  The first byte says how to cut
 * the rest into the pieces the decoder is fed (its low 7 bits; 0: all at
 * once) and how large a blob the decoder takes (high bit: 16 bytes, else
 * 256 MiB, so that a frame may announce far more than it sends: memory must
 * follow what arrives, which -rss_limit_mb watches).  Each complete frame's members "status", "sig", "smime_sig" and
 * "error" are decoded as the agent decodes them; whatever decodes is
 * encoded again, sent through a frame again and decoded again, and must
 * come back the same.  A frame whose JSON has an integer "keep" has its
 * blob split there (pst_worker_decoder_set_split, as the agent splits off
 * a large attachment): the blob's first "keep" bytes are held and the rest
 * went to the tail, both the bytes of the input.
 */
#include "fuzz-common.h"

#include "crypto/wire.h"
#include "rpc/workerframe.h"
#include "util/error.h"

static gboolean
str_equal0 (const char *a, const char *b)
{
  return g_strcmp0 (a, b) == 0;
}

static gboolean
strv_equal0 (char **a, char **b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strv_equal ((const char *const *) a, (const char *const *) b);
}

static gboolean
status_equal (const PstStatus *a, const PstStatus *b)
{
  if (a->scheme != b->scheme || a->decryption != b->decryption
      || a->encryption_covers != b->encryption_covers || a->integrity != b->integrity
      || a->sig_status != b->sig_status || !str_equal0 (a->signer, b->signer)
      || !str_equal0 (a->fingerprint, b->fingerprint) || a->from_match != b->from_match
      || a->sig_covers != b->sig_covers || a->protected_headers != b->protected_headers
      || a->warnings->len != b->warnings->len
      || a->header_mismatches->len != b->header_mismatches->len)
    return FALSE;
  for (guint i = 0; i < a->warnings->len; i++)
    if (!str_equal0 (g_ptr_array_index (a->warnings, i), g_ptr_array_index (b->warnings, i)))
      return FALSE;
  for (guint i = 0; i < a->header_mismatches->len; i++)
    {
      const PstHeaderMismatch *ma = g_ptr_array_index (a->header_mismatches, i);
      const PstHeaderMismatch *mb = g_ptr_array_index (b->header_mismatches, i);

      if (!str_equal0 (ma->field, mb->field) || !str_equal0 (ma->shown, mb->shown)
          || !str_equal0 (ma->inner, mb->inner))
        return FALSE;
    }
  return TRUE;
}

static gboolean
pgp_equal (const PstPgpSignature *a, const PstPgpSignature *b)
{
  return a->status == b->status && str_equal0 (a->fingerprint, b->fingerprint)
         && strv_equal0 (a->addresses, b->addresses) && a->created == b->created
         && a->weak_digest == b->weak_digest && a->count == b->count;
}

static gboolean
smime_equal (const PstSmimeSignature *a, const PstSmimeSignature *b)
{
  return a->status == b->status && strv_equal0 (a->addresses, b->addresses)
         && str_equal0 (a->fingerprint, b->fingerprint) && a->signing_time == b->signing_time
         && a->weak_digest == b->weak_digest && a->signer_count == b->signer_count
         && a->econtent_mismatch == b->econtent_mismatch;
}

/* @wire as member @name of a frame, encoded and decoded again as the agent
 * reads it.  Transfer full. */
static JsonNode *
through_frame (const char *name, JsonNode *wire)
{
  g_autoptr (JsonObject) obj = json_object_new ();
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (PstWorkerDecoder) d = pst_worker_decoder_new (0);
  g_autoptr (JsonObject) back = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *data;
  gsize len;
  gssize n;

  json_object_set_member (obj, name, json_node_copy (wire));
  frame = pst_worker_frame_encode (obj, 0);
  data = g_bytes_get_data (frame, &len);
  /* Members the input did not have (the decoder ignores unknown ones and
   * fills none) cannot make the encoding grow much, but an input frame at
   * the limit may come back a few bytes over it. */
  if (len > PST_WORKER_FRAME_HEAD + PST_WORKER_FRAME_MAX_JSON)
    return json_node_copy (wire);
  n = pst_worker_decoder_feed (d, data, len, &error);
  FUZZ_CHECK (n == (gssize) len && pst_worker_decoder_done (d),
              "an encoded frame does not decode: %s", error ? error->message : "incomplete");
  FUZZ_CHECK (pst_worker_decoder_take (d, &back, NULL), "take after done");
  FUZZ_CHECK (json_object_has_member (back, name), "member %s lost", name);
  return json_node_copy (json_object_get_member (back, name));
}

static void
check_status (JsonNode *member)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStatus) first = pst_status_from_wire (member, &error);
  g_autoptr (JsonNode) wire = NULL, again = NULL;
  g_autoptr (PstStatus) second = NULL;

  if (first == NULL)
    {
      FUZZ_CHECK (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED), "status: no error");
      return;
    }
  FUZZ_CHECK (error == NULL, "status: an error with a result");
  wire = pst_status_to_wire (first);
  again = through_frame ("status", wire);
  second = pst_status_from_wire (again, &error);
  FUZZ_CHECK (second != NULL, "a re-encoded status does not decode: %s", error->message);
  FUZZ_CHECK (status_equal (first, second), "a status changed on its way through the wire");
}

static void
check_pgp (JsonNode *member)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstPgpSignature) first = pst_pgp_signature_from_wire (member, &error);
  g_autoptr (JsonNode) wire = NULL, again = NULL;
  g_autoptr (PstPgpSignature) second = NULL;

  if (first == NULL)
    {
      FUZZ_CHECK (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED), "sig: no error");
      return;
    }
  wire = pst_pgp_signature_to_wire (first);
  again = through_frame ("sig", wire);
  second = pst_pgp_signature_from_wire (again, &error);
  FUZZ_CHECK (second != NULL, "a re-encoded OpenPGP signature does not decode: %s",
              error->message);
  FUZZ_CHECK (pgp_equal (first, second), "an OpenPGP signature changed on its way");
}

static void
check_smime (JsonNode *member)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstSmimeSignature) first = pst_smime_signature_from_wire (member, &error);
  g_autoptr (JsonNode) wire = NULL, again = NULL;
  g_autoptr (PstSmimeSignature) second = NULL;

  if (first == NULL)
    {
      FUZZ_CHECK (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED), "smime_sig: no error");
      return;
    }
  wire = pst_smime_signature_to_wire (first);
  again = through_frame ("smime_sig", wire);
  second = pst_smime_signature_from_wire (again, &error);
  FUZZ_CHECK (second != NULL, "a re-encoded S/MIME signature does not decode: %s",
              error->message);
  FUZZ_CHECK (smime_equal (first, second), "an S/MIME signature changed on its way");
}

static void
check_error (JsonNode *member)
{
  g_autoptr (GError) first = pst_error_from_wire (member);
  g_autoptr (JsonNode) wire = NULL, again = NULL;
  g_autoptr (GError) second = NULL;

  /* Whatever the worker says, the agent gets an error it can report. */
  FUZZ_CHECK (first != NULL && first->message != NULL, "error: nothing decoded");
  FUZZ_CHECK (first->domain == PST_ERROR || first->domain == G_IO_ERROR,
              "error: domain %s", g_quark_to_string (first->domain));
  FUZZ_CHECK (first->domain != PST_ERROR
                || (first->code >= PST_ERROR_FAILED && first->code <= PST_ERROR_INFECTED),
              "error: PST_ERROR code %d", first->code);
  FUZZ_CHECK (g_utf8_validate (first->message, -1, NULL), "error: message not UTF-8");
  wire = pst_error_to_wire (first);
  again = through_frame ("error", wire);
  second = pst_error_from_wire (again);
  FUZZ_CHECK (second->domain == first->domain && second->code == first->code
                && g_str_equal (second->message, first->message),
              "an error changed on its way: %s/%d \"%s\" became %s/%d \"%s\"",
              g_quark_to_string (first->domain), first->code, first->message,
              g_quark_to_string (second->domain), second->code, second->message);
}

static void
check_frame (JsonObject *obj, GBytes *blob, guint64 max_blob)
{
  static const struct {
    const char *name;
    void (*check) (JsonNode *member);
  } members[] = {
    { "status", check_status },
    { "sig", check_pgp },
    { "smime_sig", check_smime },
    { "error", check_error },
  };

  FUZZ_CHECK (obj != NULL && blob != NULL, "a frame without its object or blob");
  FUZZ_CHECK (g_bytes_get_size (blob) <= max_blob, "a blob of %zu bytes, over the limit",
              (size_t) g_bytes_get_size (blob));
  for (gsize i = 0; i < G_N_ELEMENTS (members); i++)
    {
      JsonNode *member = json_object_get_member (obj, members[i].name);

      if (member != NULL)
        members[i].check (member);
    }
}

typedef struct {
  gboolean asked;
  guint64 blob_len;   /* announced, when asked */
  guint64 keep;       /* what the split said */
  GByteArray *tail;   /* what the tail got */
} Split;

static guint64
split_at_keep (JsonObject *obj, guint64 blob_len, gpointer data)
{
  Split *s = data;
  JsonNode *n = json_object_get_member (obj, "keep");

  FUZZ_CHECK (!s->asked && s->tail->len == 0, "split asked twice for one frame");
  s->asked = TRUE;
  s->blob_len = blob_len;
  s->keep = G_MAXUINT64;
  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
      && json_node_get_int (n) >= 0)
    s->keep = (guint64) json_node_get_int (n);
  return s->keep;
}

static void
split_tail (const guint8 *bytes, gsize len, gpointer data)
{
  Split *s = data;

  FUZZ_CHECK (s->asked && len > 0, "a tail without a split, or empty");
  g_byte_array_append (s->tail, bytes, (guint) len);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (PstWorkerDecoder) d = NULL;
  g_autoptr (GByteArray) tail = g_byte_array_new ();
  Split split = { .tail = tail };
  guint64 max_blob;
  gsize chunk, off = 1;

  if (size == 0)
    return 0;
  chunk = (data[0] & 0x7f) == 0 ? size : (gsize) (data[0] & 0x7f);
  max_blob = (data[0] & 0x80) ? 16 : (guint64) 256 * 1024 * 1024;
  d = pst_worker_decoder_new (max_blob);
  pst_worker_decoder_set_split (d, split_at_keep, split_tail, &split);

  while (off < size)
    {
      g_autoptr (GError) error = NULL;
      gsize piece = MIN (chunk, size - off);
      gssize n = pst_worker_decoder_feed (d, data + off, piece, &error);

      if (n < 0)
        {
          FUZZ_CHECK (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED),
                      "feed failed without a PST_ERROR_FAILED");
          FUZZ_CHECK (!pst_worker_decoder_done (d), "a failed decoder is done");
          g_clear_error (&error);
          FUZZ_CHECK (pst_worker_decoder_feed (d, data + off, piece, &error) == -1,
                      "a failed decoder took more");
          break;
        }
      FUZZ_CHECK (error == NULL, "feed set an error and succeeded");
      FUZZ_CHECK ((gsize) n <= piece, "feed used %zd of %zu bytes", n, (size_t) piece);
      FUZZ_CHECK (n > 0 || pst_worker_decoder_done (d), "feed made no progress");
      off += (gsize) n;
      if (pst_worker_decoder_done (d))
        {
          g_autoptr (JsonObject) obj = NULL;
          g_autoptr (GBytes) blob = NULL;

          FUZZ_CHECK (pst_worker_decoder_take (d, &obj, &blob), "done but nothing to take");
          FUZZ_CHECK (!pst_worker_decoder_done (d), "still done after take");
          if (split.asked)
            {
              gsize held = g_bytes_get_size (blob);
              /* The blob is the frame's last bytes, which end here. */
              const guint8 *b = data + off - split.blob_len;

              FUZZ_CHECK (held == MIN (split.keep, split.blob_len)
                            && held + tail->len == split.blob_len,
                          "held %zu and a tail of %u bytes of a blob of %" G_GUINT64_FORMAT
                          ", %" G_GUINT64_FORMAT " to keep", held, tail->len, split.blob_len,
                          split.keep);
              /* (memcmp of 0 bytes from NULL is undefined.) */
              FUZZ_CHECK ((held == 0 || memcmp (g_bytes_get_data (blob, NULL), b, held) == 0)
                            && (tail->len == 0 || memcmp (tail->data, b + held, tail->len) == 0),
                          "the held part or the tail is not the blob sent");
            }
          else
            FUZZ_CHECK (tail->len == 0, "a tail without a split");
          g_byte_array_set_size (tail, 0);
          split.asked = FALSE;
          check_frame (obj, blob, max_blob);
        }
    }
  return 0;
}
