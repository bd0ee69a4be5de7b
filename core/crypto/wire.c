#include "crypto/wire.h"

#include <gio/gio.h>
#include <string.h>

#include "util/error.h"

/* --- Words ------------------------------------------------------------------ */

static const char *
scheme_to_wire (PstScheme scheme)
{
  switch (scheme)
    {
    case PST_SCHEME_PGP: return "pgp";
    case PST_SCHEME_SMIME: return "smime";
    case PST_SCHEME_NONE: break;
    }
  return "none";
}

static const char *
decryption_to_wire (PstDecryption decryption)
{
  switch (decryption)
    {
    case PST_DECRYPTION_OK: return "ok";
    case PST_DECRYPTION_FAILED: return "failed";
    case PST_DECRYPTION_TOO_LARGE: return "too-large";
    case PST_DECRYPTION_NOT_ENCRYPTED: break;
    }
  return "not-encrypted";
}

const char *
pst_integrity_to_wire (PstIntegrity integrity)
{
  switch (integrity)
    {
    case PST_INTEGRITY_OK: return "ok";
    case PST_INTEGRITY_MISSING: return "missing";
    case PST_INTEGRITY_FAILED: return "failed";
    case PST_INTEGRITY_NONE: break;
    }
  return "none";
}

/* The reverse of each: the enum value whose word @word is, or -1.  Each
 * asks the forward function, so that a word is spelt in one place. */

static int
scheme_from_wire (const char *word)
{
  for (int v = PST_SCHEME_NONE; v <= PST_SCHEME_SMIME; v++)
    if (g_strcmp0 (word, scheme_to_wire (v)) == 0)
      return v;
  return -1;
}

static int
decryption_from_wire (const char *word)
{
  for (int v = PST_DECRYPTION_NOT_ENCRYPTED; v <= PST_DECRYPTION_TOO_LARGE; v++)
    if (g_strcmp0 (word, decryption_to_wire (v)) == 0)
      return v;
  return -1;
}

int
pst_integrity_from_wire (const char *word)
{
  for (int v = PST_INTEGRITY_NONE; v <= PST_INTEGRITY_FAILED; v++)
    if (g_strcmp0 (word, pst_integrity_to_wire (v)) == 0)
      return v;
  return -1;
}

static int
covers_from_wire (const char *word)
{
  for (int v = PST_COVERS_NONE; v <= PST_COVERS_WHOLE; v++)
    if (g_strcmp0 (word, pst_covers_to_string (v)) == 0)
      return v;
  return -1;
}

static int
sig_status_from_wire (const char *word)
{
  for (int v = PST_SIG_NONE; v <= PST_SIG_ERROR; v++)
    if (g_strcmp0 (word, pst_sig_status_to_string (v)) == 0)
      return v;
  return -1;
}

/* --- Encoding --------------------------------------------------------------- */

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_strv_or_null (JsonBuilder *b, const char *name, char **values)
{
  json_builder_set_member_name (b, name);
  if (values == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_array (b);
  for (char **v = values; *v != NULL; v++)
    json_builder_add_string_value (b, *v);
  json_builder_end_array (b);
}

static void
add_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

JsonNode *
pst_status_to_wire (const PstStatus *status)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_or_null (b, "scheme", scheme_to_wire (status->scheme));
  add_string_or_null (b, "decryption", decryption_to_wire (status->decryption));
  add_string_or_null (b, "encryption_covers", pst_covers_to_string (status->encryption_covers));
  add_string_or_null (b, "integrity", pst_integrity_to_wire (status->integrity));
  add_string_or_null (b, "sig_status", pst_sig_status_to_string (status->sig_status));
  add_string_or_null (b, "signer", status->signer);
  add_string_or_null (b, "fingerprint", status->fingerprint);
  add_bool (b, "from_match", status->from_match);
  add_string_or_null (b, "sig_covers", pst_covers_to_string (status->sig_covers));
  add_bool (b, "protected_headers", status->protected_headers);

  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  for (guint i = 0; status->warnings != NULL && i < status->warnings->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (status->warnings, i));
  json_builder_end_array (b);

  json_builder_set_member_name (b, "header_mismatches");
  json_builder_begin_array (b);
  for (guint i = 0; status->header_mismatches != NULL && i < status->header_mismatches->len; i++)
    {
      const PstHeaderMismatch *m = g_ptr_array_index (status->header_mismatches, i);

      json_builder_begin_object (b);
      add_string_or_null (b, "field", m->field);
      add_string_or_null (b, "shown", m->shown);
      add_string_or_null (b, "inner", m->inner);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "gossip");
  json_builder_begin_array (b);
  for (guint i = 0; status->gossip != NULL && i < status->gossip->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (status->gossip, i));
  json_builder_end_array (b);

  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pst_pgp_signature_to_wire (const PstPgpSignature *sig)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_or_null (b, "status", pst_sig_status_to_string (sig->status));
  add_string_or_null (b, "fingerprint", sig->fingerprint);
  add_strv_or_null (b, "addresses", sig->addresses);
  add_int (b, "created", sig->created);
  add_bool (b, "weak_digest", sig->weak_digest);
  add_int (b, "count", sig->count);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
pst_smime_signature_to_wire (const PstSmimeSignature *sig)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_or_null (b, "status", pst_sig_status_to_string (sig->status));
  add_strv_or_null (b, "addresses", sig->addresses);
  add_string_or_null (b, "fingerprint", sig->fingerprint);
  add_int (b, "signing_time", sig->signing_time);
  add_bool (b, "weak_digest", sig->weak_digest);
  add_int (b, "signer_count", sig->signer_count);
  add_bool (b, "econtent_mismatch", sig->econtent_mismatch);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* --- Strict decoding -------------------------------------------------------- */

/* Every reader below takes @what, the object it reads ("the worker's
 * verdict", "… header_mismatches[2]"), to name in its error, and fails on a
 * missing member: the encoders above write every member, so one missing is
 * a peer that is not ours. */

static gboolean
get_member (JsonObject *o, const char *what, const char *name, JsonNode **node_out,
            GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: member '%s' is missing", what, name);
      return FALSE;
    }
  *node_out = n;
  return TRUE;
}

/* @s, a string of @what's member @name, is bounded and UTF-8. */
static gboolean
check_string (const char *s, const char *what, const char *name, GError **error)
{
  gsize len = strnlen (s, PST_WIRE_MAX_STRING + 1);

  if (len > PST_WIRE_MAX_STRING)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "%s: member '%s' is longer than %d bytes", what, name, PST_WIRE_MAX_STRING);
      return FALSE;
    }
  if (!g_utf8_validate (s, (gssize) len, NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: member '%s' is not UTF-8", what,
                   name);
      return FALSE;
    }
  return TRUE;
}

static gboolean
holds (JsonNode *n, GType type)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == type;
}

/* A string, or with @nullable also null (*value_out NULL).  The string
 * belongs to @o. */
static gboolean
get_string (JsonObject *o, const char *what, const char *name, gboolean nullable,
            const char **value_out, GError **error)
{
  JsonNode *n;

  if (!get_member (o, what, name, &n, error))
    return FALSE;
  if (nullable && JSON_NODE_HOLDS_NULL (n))
    {
      *value_out = NULL;
      return TRUE;
    }
  if (!holds (n, G_TYPE_STRING))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: member '%s' must be a string%s",
                   what, name, nullable ? " or null" : "");
      return FALSE;
    }
  if (!check_string (json_node_get_string (n), what, name, error))
    return FALSE;
  *value_out = json_node_get_string (n);
  return TRUE;
}

/* A word that @parse knows. */
static gboolean
get_word (JsonObject *o, const char *what, const char *name, int (*parse) (const char *),
          int *value_out, GError **error)
{
  const char *word;
  int v;

  if (!get_string (o, what, name, FALSE, &word, error))
    return FALSE;
  v = parse (word);
  if (v < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: member '%s' is not a known word",
                   what, name);
      return FALSE;
    }
  *value_out = v;
  return TRUE;
}

static gboolean
get_bool (JsonObject *o, const char *what, const char *name, gboolean *value_out,
          GError **error)
{
  JsonNode *n;

  if (!get_member (o, what, name, &n, error))
    return FALSE;
  if (!holds (n, G_TYPE_BOOLEAN))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: member '%s' must be true or false",
                   what, name);
      return FALSE;
    }
  *value_out = json_node_get_boolean (n);
  return TRUE;
}

static gboolean
get_int (JsonObject *o, const char *what, const char *name, gint64 min, gint64 max,
         gint64 *value_out, GError **error)
{
  JsonNode *n;

  if (!get_member (o, what, name, &n, error))
    return FALSE;
  if (!holds (n, G_TYPE_INT64) || json_node_get_int (n) < min || json_node_get_int (n) > max)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "%s: member '%s' must be an integer from %" G_GINT64_FORMAT
                   " to %" G_GINT64_FORMAT, what, name, min, max);
      return FALSE;
    }
  *value_out = json_node_get_int (n);
  return TRUE;
}

/* An array of at most PST_WIRE_MAX_ITEMS elements, or with @nullable also
 * null (*array_out NULL).  The array belongs to @o. */
static gboolean
get_array (JsonObject *o, const char *what, const char *name, gboolean nullable,
           JsonArray **array_out, GError **error)
{
  JsonNode *n;

  if (!get_member (o, what, name, &n, error))
    return FALSE;
  if (nullable && JSON_NODE_HOLDS_NULL (n))
    {
      *array_out = NULL;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (n))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: member '%s' must be an array%s",
                   what, name, nullable ? " or null" : "");
      return FALSE;
    }
  if (json_array_get_length (json_node_get_array (n)) > PST_WIRE_MAX_ITEMS)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "%s: member '%s' has more than %d items", what, name, PST_WIRE_MAX_ITEMS);
      return FALSE;
    }
  *array_out = json_node_get_array (n);
  return TRUE;
}

/* The strings of an array member as a NULL-terminated vector (NULL when
 * the member is null and @nullable).  Transfer full. */
static gboolean
get_strv (JsonObject *o, const char *what, const char *name, gboolean nullable,
          GStrv *strv_out, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *a;

  if (!get_array (o, what, name, nullable, &a, error))
    return FALSE;
  if (a == NULL)
    {
      *strv_out = NULL;
      return TRUE;
    }
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *n = json_array_get_element (a, i);
      g_autofree char *item = g_strdup_printf ("%s[%u]", name, i);

      if (!holds (n, G_TYPE_STRING))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: member '%s' must be a string",
                       what, item);
          return FALSE;
        }
      if (!check_string (json_node_get_string (n), what, item, error))
        return FALSE;
      g_strv_builder_add (builder, json_node_get_string (n));
    }
  *strv_out = g_strv_builder_end (builder);
  return TRUE;
}

static JsonObject *
get_object (JsonNode *node, const char *what, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s is not a JSON object", what);
      return NULL;
    }
  return json_node_get_object (node);
}

static gboolean
get_header_mismatches (JsonObject *o, const char *what, PstStatus *st, GError **error)
{
  JsonArray *a;

  if (!get_array (o, what, "header_mismatches", FALSE, &a, error))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *item = g_strdup_printf ("%s: header_mismatches[%u]", what, i);
      JsonObject *m = get_object (json_array_get_element (a, i), item, error);
      const char *field, *shown, *inner;

      if (m == NULL || !get_string (m, item, "field", FALSE, &field, error)
          || !get_string (m, item, "shown", TRUE, &shown, error)
          || !get_string (m, item, "inner", TRUE, &inner, error))
        return FALSE;
      pst_status_add_header_mismatch (st, field, shown, inner);
    }
  return TRUE;
}

PstStatus *
pst_status_from_wire (JsonNode *node, GError **error)
{
  const char *what = "the worker's verdict";
  JsonObject *o = get_object (node, what, error);
  g_autoptr (PstStatus) st = NULL;
  g_auto (GStrv) warnings = NULL, gossip = NULL;
  const char *signer, *fingerprint;
  int scheme, decryption, encryption_covers, integrity, sig_status, sig_covers;
  gboolean from_match, protected_headers;

  if (o == NULL
      || !get_word (o, what, "scheme", scheme_from_wire, &scheme, error)
      || !get_word (o, what, "decryption", decryption_from_wire, &decryption, error)
      || !get_word (o, what, "encryption_covers", covers_from_wire, &encryption_covers, error)
      || !get_word (o, what, "integrity", pst_integrity_from_wire, &integrity, error)
      || !get_word (o, what, "sig_status", sig_status_from_wire, &sig_status, error)
      || !get_string (o, what, "signer", TRUE, &signer, error)
      || !get_string (o, what, "fingerprint", TRUE, &fingerprint, error)
      || !get_bool (o, what, "from_match", &from_match, error)
      || !get_word (o, what, "sig_covers", covers_from_wire, &sig_covers, error)
      || !get_bool (o, what, "protected_headers", &protected_headers, error)
      || !get_strv (o, what, "warnings", FALSE, &warnings, error)
      || !get_strv (o, what, "gossip", FALSE, &gossip, error))
    return NULL;
  if (g_strv_length (gossip) > PST_STATUS_MAX_GOSSIP)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: too many gossip values", what);
      return NULL;
    }

  st = pst_status_new ();
  st->scheme = scheme;
  st->decryption = decryption;
  st->encryption_covers = encryption_covers;
  st->integrity = integrity;
  st->sig_status = sig_status;
  st->signer = g_strdup (signer);
  st->fingerprint = g_strdup (fingerprint);
  st->from_match = from_match;
  st->sig_covers = sig_covers;
  st->protected_headers = protected_headers;
  /* Warnings first: a mismatch adds "header-mismatch" only when it is not
   * there yet, so the order survives the trip. */
  for (char **w = warnings; *w != NULL; w++)
    pst_status_add_warning (st, *w);
  for (char **g = gossip; *g != NULL; g++)
    pst_status_add_gossip (st, *g);
  if (!get_header_mismatches (o, what, st, error))
    return NULL;
  return g_steal_pointer (&st);
}

PstPgpSignature *
pst_pgp_signature_from_wire (JsonNode *node, GError **error)
{
  const char *what = "the worker's OpenPGP signature";
  JsonObject *o = get_object (node, what, error);
  g_autoptr (PstPgpSignature) sig = NULL;
  g_auto (GStrv) addresses = NULL;
  const char *fingerprint;
  int status;
  gint64 created, count;
  gboolean weak_digest;

  if (o == NULL
      || !get_word (o, what, "status", sig_status_from_wire, &status, error)
      || !get_string (o, what, "fingerprint", TRUE, &fingerprint, error)
      || !get_strv (o, what, "addresses", TRUE, &addresses, error)
      || !get_int (o, what, "created", G_MININT64, G_MAXINT64, &created, error)
      || !get_bool (o, what, "weak_digest", &weak_digest, error)
      || !get_int (o, what, "count", 0, G_MAXUINT, &count, error))
    return NULL;

  sig = g_new0 (PstPgpSignature, 1);
  sig->status = status;
  sig->fingerprint = g_strdup (fingerprint);
  sig->addresses = g_steal_pointer (&addresses);
  sig->created = created;
  sig->weak_digest = weak_digest;
  sig->count = (guint) count;
  return g_steal_pointer (&sig);
}

PstSmimeSignature *
pst_smime_signature_from_wire (JsonNode *node, GError **error)
{
  const char *what = "the worker's S/MIME signature";
  JsonObject *o = get_object (node, what, error);
  g_autoptr (PstSmimeSignature) sig = NULL;
  g_auto (GStrv) addresses = NULL;
  const char *fingerprint;
  int status;
  gint64 signing_time, signer_count;
  gboolean weak_digest, econtent_mismatch;

  if (o == NULL
      || !get_word (o, what, "status", sig_status_from_wire, &status, error)
      || !get_strv (o, what, "addresses", TRUE, &addresses, error)
      || !get_string (o, what, "fingerprint", TRUE, &fingerprint, error)
      || !get_int (o, what, "signing_time", G_MININT64, G_MAXINT64, &signing_time, error)
      || !get_bool (o, what, "weak_digest", &weak_digest, error)
      || !get_int (o, what, "signer_count", 0, G_MAXUINT, &signer_count, error)
      || !get_bool (o, what, "econtent_mismatch", &econtent_mismatch, error))
    return NULL;

  sig = g_new0 (PstSmimeSignature, 1);
  sig->status = status;
  sig->addresses = g_steal_pointer (&addresses);
  sig->fingerprint = g_strdup (fingerprint);
  sig->signing_time = signing_time;
  sig->weak_digest = weak_digest;
  sig->signer_count = (guint) signer_count;
  sig->econtent_mismatch = econtent_mismatch;
  return g_steal_pointer (&sig);
}

/* --- Errors ----------------------------------------------------------------- */

/* Whether @code is one of GIOErrorEnum's values (of the GLib we run on). */
static gboolean
io_error_code_known (gint64 code)
{
  GEnumClass *klass = g_type_class_ref (G_TYPE_IO_ERROR_ENUM);
  gboolean known = code >= G_MININT && code <= G_MAXINT
                   && g_enum_get_value (klass, (int) code) != NULL;

  g_type_class_unref (klass);
  return known;
}

JsonNode *
pst_error_to_wire (const GError *error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  const char *domain = "other";
  g_autofree char *message = g_utf8_make_valid (error->message != NULL ? error->message : "", -1);

  /* The reader refuses a longer message: cut it here, on a character's
   * boundary, rather than lose the error. */
  if (strlen (message) > PST_WIRE_MAX_STRING)
    *g_utf8_find_prev_char (message, message + PST_WIRE_MAX_STRING + 1) = '\0';
  if (error->domain == PST_ERROR)
    domain = "pst";
  else if (error->domain == G_IO_ERROR)
    domain = "io";
  json_builder_begin_object (b);
  add_string_or_null (b, "domain", domain);
  add_int (b, "code", error->code);
  add_string_or_null (b, "message", message);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

GError *
pst_error_from_wire (JsonNode *node)
{
  const char *what = "the worker's error";
  g_autoptr (GError) local = NULL;
  JsonObject *o = get_object (node, what, &local);
  const char *domain, *message;
  gint64 code;

  if (o == NULL
      || !get_string (o, what, "domain", FALSE, &domain, &local)
      || !get_int (o, what, "code", G_MININT, G_MAXINT, &code, &local)
      || !get_string (o, what, "message", FALSE, &message, &local))
    return g_error_new (PST_ERROR, PST_ERROR_FAILED, "the analysis worker failed (%s)",
                        local->message);
  if (g_str_equal (domain, "pst") && code >= PST_ERROR_FAILED && code <= PST_ERROR_INFECTED)
    return g_error_new_literal (PST_ERROR, (int) code, message);
  if (g_str_equal (domain, "io") && io_error_code_known (code))
    return g_error_new_literal (G_IO_ERROR, (int) code, message);
  if (g_str_equal (domain, "pst") || g_str_equal (domain, "io") || g_str_equal (domain, "other"))
    return g_error_new_literal (PST_ERROR, PST_ERROR_FAILED, message);
  return g_error_new (PST_ERROR, PST_ERROR_FAILED,
                      "the analysis worker failed (%s: member 'domain' is not a known word)",
                      what);
}
