#include "crypto/status.h"

#include <string.h>

#include "util/addr.h"

static void
header_mismatch_free (gpointer p)
{
  PstHeaderMismatch *m = p;

  g_free (m->field);
  g_free (m->shown);
  g_free (m->inner);
  g_free (m);
}

PstStatus *
pst_status_new (void)
{
  PstStatus *status = g_new0 (PstStatus, 1);

  status->scheme = PST_SCHEME_NONE;
  status->decryption = PST_DECRYPTION_NOT_ENCRYPTED;
  status->encryption_covers = PST_COVERS_NONE;
  status->integrity = PST_INTEGRITY_NONE;
  status->sig_status = PST_SIG_NONE;
  status->sig_covers = PST_COVERS_NONE;
  status->warnings = g_ptr_array_new_with_free_func (g_free);
  status->header_mismatches = g_ptr_array_new_with_free_func (header_mismatch_free);
  status->gossip = g_ptr_array_new_with_free_func (g_free);
  return status;
}

void
pst_status_free (PstStatus *status)
{
  if (status == NULL)
    return;
  g_free (status->signer);
  g_free (status->fingerprint);
  g_clear_pointer (&status->warnings, g_ptr_array_unref);
  g_clear_pointer (&status->header_mismatches, g_ptr_array_unref);
  g_clear_pointer (&status->gossip, g_ptr_array_unref);
  g_free (status);
}

void
pst_status_add_gossip (PstStatus *status, const char *value)
{
  if (value == NULL || status->gossip->len >= PST_STATUS_MAX_GOSSIP
      || strlen (value) > PST_STATUS_MAX_GOSSIP_VALUE || !g_utf8_validate (value, -1, NULL))
    return;
  g_ptr_array_add (status->gossip, g_strdup (value));
}

void
pst_status_add_warning (PstStatus *status, const char *word)
{
  for (guint i = 0; i < status->warnings->len; i++)
    if (g_str_equal (g_ptr_array_index (status->warnings, i), word))
      return;
  g_ptr_array_add (status->warnings, g_strdup (word));
}

gboolean
pst_status_withholds_content (const PstStatus *status)
{
  return status->decryption == PST_DECRYPTION_FAILED
         || status->decryption == PST_DECRYPTION_TOO_LARGE
         || status->integrity == PST_INTEGRITY_MISSING;
}

void
pst_status_add_header_mismatch (PstStatus *status, const char *field, const char *shown,
                                const char *inner)
{
  PstHeaderMismatch *m = g_new0 (PstHeaderMismatch, 1);

  m->field = g_strdup (field);
  m->shown = g_strdup (shown);
  m->inner = g_strdup (inner);
  g_ptr_array_add (status->header_mismatches, m);
  pst_status_add_warning (status, "header-mismatch");
}

static void add_string_or_null (JsonBuilder *b, const char *name, const char *value);

JsonNode *
pst_status_header_mismatches_to_json (const PstStatus *status)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

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
  return json_builder_get_root (b);
}

static const char *
scheme_to_string (PstScheme scheme)
{
  switch (scheme)
    {
    case PST_SCHEME_PGP: return "pgp";
    case PST_SCHEME_SMIME: return "smime";
    case PST_SCHEME_NONE: break;
    }
  return NULL;
}

static const char *
decryption_to_string (PstDecryption decryption)
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

static const char *
integrity_to_string (PstIntegrity integrity)
{
  switch (integrity)
    {
    case PST_INTEGRITY_OK: return "ok";
    case PST_INTEGRITY_MISSING: return "missing";
    case PST_INTEGRITY_FAILED: return "failed";
    case PST_INTEGRITY_NONE: break;
    }
  return NULL;
}

const char *
pst_sig_status_to_string (PstSigStatus status)
{
  switch (status)
    {
    case PST_SIG_GOOD: return "good";
    case PST_SIG_BAD: return "bad";
    case PST_SIG_UNKNOWN_KEY: return "unknown-key";
    case PST_SIG_EXPIRED_KEY: return "expired-key";
    case PST_SIG_REVOKED_KEY: return "revoked-key";
    case PST_SIG_ERROR: return "error";
    case PST_SIG_NONE: break;
    }
  return "none";
}

const char *
pst_covers_to_string (PstCovers covers)
{
  switch (covers)
    {
    case PST_COVERS_WHOLE: return "whole";
    case PST_COVERS_PART: return "part";
    case PST_COVERS_NONE: break;
    }
  return "none";
}

/* A value of the Postern-Status field as it is written: bytes outside
 * this set (an address from a key's user id may hold any) as %XX, so that
 * nothing in it can end the field, start a parameter or fold a line. */
static void
append_field_word (GString *s, const char *word)
{
  static const char safe[] = "!#$&'*+-./=?^_`{|}~@";

  for (const unsigned char *p = (const unsigned char *) word; *p; p++)
    if (g_ascii_isalnum (*p) || strchr (safe, *p) != NULL)
      g_string_append_c (s, (char) *p);
    else
      g_string_append_printf (s, "%%%02X", *p);
}

char *
pst_status_to_field_value (const PstStatus *status, const char *scan_verdict)
{
  GString *s = g_string_new (NULL);
  const char *scheme = scheme_to_string (status->scheme);

  g_string_append_printf (s, "scheme=%s; decryption=%s; signature=%s; signer=",
                          scheme ? scheme : "none", decryption_to_string (status->decryption),
                          pst_sig_status_to_string (status->sig_status));
  append_field_word (s, status->sig_status != PST_SIG_NONE && status->signer && *status->signer
                          ? status->signer : "none");
  g_string_append_printf (s, "; from-match=%s; scan=",
                          status->sig_status != PST_SIG_NONE && status->from_match ? "yes" : "no");
  append_field_word (s, scan_verdict && *scan_verdict ? scan_verdict : "none");
  return g_string_free (s, FALSE);
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

JsonNode *
pst_status_to_json (const PstStatus *status)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_or_null (b, "scheme", scheme_to_string (status->scheme));
  add_string_or_null (b, "decryption", decryption_to_string (status->decryption));
  add_string_or_null (b, "encryption_covers", pst_covers_to_string (status->encryption_covers));
  add_string_or_null (b, "integrity", integrity_to_string (status->integrity));

  json_builder_set_member_name (b, "signature");
  json_builder_begin_object (b);
  add_string_or_null (b, "status", pst_sig_status_to_string (status->sig_status));
  add_string_or_null (b, "signer", status->signer);
  add_string_or_null (b, "fingerprint", status->fingerprint);
  json_builder_set_member_name (b, "from_match");
  json_builder_add_boolean_value (b, status->from_match);
  add_string_or_null (b, "covers", pst_covers_to_string (status->sig_covers));
  json_builder_end_object (b);

  json_builder_set_member_name (b, "protected_headers");
  json_builder_add_boolean_value (b, status->protected_headers);

  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  for (guint i = 0; status->warnings != NULL && i < status->warnings->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (status->warnings, i));
  json_builder_end_array (b);

  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
pst_status_to_json_string (const PstStatus *status)
{
  g_autoptr(JsonNode) node = pst_status_to_json (status);

  return json_to_string (node, FALSE);
}

PstSigStatus
pst_signature_verdict (const PstSignatureFacts *facts)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (facts->status == PST_SIG_GOOD
      && (facts->weak_digest
          || (facts->signing_time > 0 && facts->signing_time > now + PST_SIG_FUTURE_SKEW_SECONDS)))
    return PST_SIG_BAD;
  return facts->status;
}

PstSigStatus
pst_status_set_signature (PstStatus *st, PstScheme scheme, const PstSignatureFacts *facts,
                          PstCovers covers, const char *from, gint64 date)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  PstSigStatus verdict = pst_signature_verdict (facts);
  const char *signer = NULL;

  if (facts->weak_digest)
    pst_status_add_warning (st, "weak-digest");
  if (facts->signing_time > 0 && facts->status != PST_SIG_ERROR
      && facts->signing_time > now + PST_SIG_FUTURE_SKEW_SECONDS)
    pst_status_add_warning (st, "date-mismatch");
  else if (facts->signing_time > 0 && facts->status != PST_SIG_ERROR && date > 0
           && ABS (facts->signing_time - date) > PST_SIG_DATE_SKEW_SECONDS)
    pst_status_add_warning (st, "date-differs");
  for (char **a = facts->addresses; a != NULL && *a != NULL && signer == NULL; a++)
    if (from != NULL && pst_addr_equal (*a, from))
      signer = *a;
  st->from_match = signer != NULL;
  if (signer == NULL && facts->addresses != NULL)
    signer = facts->addresses[0];

  st->scheme = scheme;
  st->sig_status = verdict;
  st->sig_covers = covers;
  g_free (st->signer);
  st->signer = g_strdup (signer);
  g_free (st->fingerprint);
  st->fingerprint = g_strdup (facts->fingerprint);
  return verdict;
}
