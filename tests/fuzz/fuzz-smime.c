/* fuzz-smime — the input is a stored message; pst_message_open reads it
 * with an empty throwaway S/MIME store, no trust anchor at all (the system
 * store is pointed at an empty directory) and no OpenPGP (so no gpg runs:
 * OpenPGP layers are recognised and open nothing), and the verdict must
 * keep the rules of DESIGN.md §4 whatever the message says about itself:
 *  - "whole" (signature or encryption) only when the message's own
 *    Content-Type is multipart/signed, multipart/encrypted or
 *    application/(x-)pkcs7-mime, or text/plain that is all inline PGP;
 *  - with no identity and no anchor nothing decrypts, no signature is good,
 *    integrity is never "ok" or "failed" (both need an opened layer), and no
 *    header comes from inside: protected_headers false, no header mismatch,
 *    and the message shown has the outer header's fields, no others;
 *  - from_match only with a signature, a signer, one From field, and the
 *    signer in it;
 *  - none is the scheme only with nothing found;
 *  - warnings are words; the status serialises to one line of JSON;
 *  - a message whose own type is an S/MIME multipart/signed never reads as
 *    unsigned: its signature is counted (an error at least) or ignored
 *    around an encryption layer (outer-signature-ignored).
 */
#include "fuzz-common.h"

#include <glib/gstdio.h>

#include "crypto/smime.h"
#include "mime/mime.h"
#include "mime/reader.h"

static PstSmime *smime;
/* POSTERN_FUZZ_TRACE=1 prints each verdict, to check what a seed reaches. */
static gboolean trace;
static char *home;

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
remove_home (void)
{
  g_clear_pointer (&smime, pst_smime_free);
  remove_tree (home);
  g_clear_pointer (&home, g_free);
}

/* The media type of the message itself, as the rest of Postern reads it:
 * the first Content-Type field, text/plain when absent or unparsable;
 * @params_out its parameters (NULL then). */
static char *
top_level_type (GPtrArray *fields, GHashTable **params_out)
{
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], "Content-Type"))
      {
        g_autofree char *value = pst_mime_field_value (fields->pdata[i]);
        char *type = pst_mime_parse_content_type (value, params_out);

        return type != NULL ? type : g_strdup ("text/plain");
      }
  return g_strdup ("text/plain");
}

static gboolean
is_word (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_islower (*s) && !g_ascii_isdigit (*s) && *s != '-')
      return FALSE;
  return TRUE;
}

/* @field without its line end. */
static char *
field_line (const char *field)
{
  gsize n = strlen (field);

  while (n > 0 && (field[n - 1] == '\r' || field[n - 1] == '\n'))
    n--;
  return g_strndup (field, n);
}

/* Nothing was verified or decrypted, so the header shown must be the
 * message's own: the same fields but Content-*, in the same order.  The
 * Content-* fields may come from an unwrapped layer (opaque signed data). */
static void
check_shown_header (GPtrArray *outer, GBytes *plain)
{
  g_autoptr(GPtrArray) shown = NULL;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (plain, &len);
  guint j = 0;

  if (!pst_mime_split_header (p, len, &shown, &body, NULL))
    {
      /* Only a message with nothing but Content-* fields may be shown with
       * an empty header (its body after the blank line at once). */
      for (guint i = 0; i < outer->len; i++)
        FUZZ_CHECK (pst_mime_is_content_field (outer->pdata[i]), "the message shown has no header");
      FUZZ_CHECK (len > 0 && (p[0] == '\n' || (len > 1 && p[0] == '\r' && p[1] == '\n')),
                  "the message shown has no header and no blank line before its body");
      return;
    }
  for (guint i = 0; i < shown->len; i++)
    {
      g_autofree char *s = NULL, *o = NULL;

      if (pst_mime_is_content_field (shown->pdata[i]))
        continue;
      while (j < outer->len && pst_mime_is_content_field (outer->pdata[j]))
        j++;
      s = field_line (shown->pdata[i]);
      FUZZ_CHECK (j < outer->len, "field shown that the message does not have: \"%s\"", s);
      o = field_line (outer->pdata[j]);
      FUZZ_CHECK (g_str_equal (s, o), "field shown \"%s\" where the message has \"%s\"", s, o);
      j++;
    }
  while (j < outer->len && pst_mime_is_content_field (outer->pdata[j]))
    j++;
  FUZZ_CHECK (j == outer->len, "outer field not shown: \"%s\"", (char *) outer->pdata[j]);
}

static void
check_status (const PstStatus *st, GPtrArray *outer, const char *type, GBytes *plain)
{
  gboolean inline_pgp = g_ptr_array_find_with_equal_func (st->warnings, "inline-pgp", g_str_equal, NULL);
  gboolean protected_type = g_strcmp0 (type, "multipart/signed") == 0
                            || g_strcmp0 (type, "multipart/encrypted") == 0
                            || g_strcmp0 (type, "application/pkcs7-mime") == 0
                            || g_strcmp0 (type, "application/x-pkcs7-mime") == 0
                            || (inline_pgp && g_strcmp0 (type, "text/plain") == 0);
  g_autofree char *json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *sig;

  FUZZ_CHECK (st->sig_covers != PST_COVERS_WHOLE || protected_type,
              "signature covers \"whole\" of a %s message", type);
  FUZZ_CHECK (st->encryption_covers != PST_COVERS_WHOLE || protected_type,
              "encryption covers \"whole\" of a %s message", type);

  FUZZ_CHECK (st->sig_status != PST_SIG_GOOD, "a good signature with no trust anchor");
  FUZZ_CHECK (st->decryption == PST_DECRYPTION_NOT_ENCRYPTED || st->decryption == PST_DECRYPTION_FAILED,
              "decryption %d with no identity", st->decryption);
  FUZZ_CHECK (st->integrity == PST_INTEGRITY_NONE, "integrity %d with nothing opened", st->integrity);
  FUZZ_CHECK (!st->protected_headers, "protected headers used with nothing verified or decrypted");
  FUZZ_CHECK (st->header_mismatches->len == 0, "header mismatch with nothing decrypted");
  FUZZ_CHECK (st->scheme != PST_SCHEME_NONE
              || (st->sig_status == PST_SIG_NONE && st->decryption == PST_DECRYPTION_NOT_ENCRYPTED),
              "a verdict without a scheme");
  FUZZ_CHECK ((st->sig_status == PST_SIG_NONE) == (st->sig_covers == PST_COVERS_NONE),
              "signature %d covers %d", st->sig_status, st->sig_covers);
  FUZZ_CHECK ((st->decryption == PST_DECRYPTION_NOT_ENCRYPTED)
              == (st->encryption_covers == PST_COVERS_NONE),
              "decryption %d covers %d", st->decryption, st->encryption_covers);
  FUZZ_CHECK (st->sig_status != PST_SIG_NONE || (st->signer == NULL && st->fingerprint == NULL),
              "a signer without a signature");

  if (st->from_match)
    {
      guint count = 0;
      const char *from = pst_mime_find_field (outer, "From", &count);
      g_autofree char *value = from != NULL ? pst_mime_field_value (from) : NULL;

      FUZZ_CHECK (st->sig_status != PST_SIG_NONE && st->signer != NULL, "from_match without a signer");
      FUZZ_CHECK (count == 1, "from_match with %u From fields", count);
      FUZZ_CHECK (fuzz_contains_nocase (value, st->signer), "from_match: \"%s\" is not in From \"%s\"",
                  st->signer, value);
    }

  for (guint i = 0; i < st->warnings->len; i++)
    {
      const char *w = st->warnings->pdata[i];

      FUZZ_CHECK (is_word (w), "warning \"%s\"", w);
      FUZZ_CHECK (!g_str_equal (w, "key-locked") && !g_str_equal (w, "header-mismatch"),
                  "warning \"%s\" with an empty store", w);
    }

  FUZZ_CHECK (g_bytes_get_size (plain) > 0, "nothing to display");
  check_shown_header (outer, plain);

  json = pst_status_to_json_string (st);
  FUZZ_CHECK (json != NULL && strchr (json, '\n') == NULL, "status JSON on one line");
  FUZZ_CHECK (json_parser_load_from_data (parser, json, -1, NULL), "status JSON parses: %s", json);
  FUZZ_CHECK (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)), "status JSON: an object");
  root = json_node_get_object (json_parser_get_root (parser));
  sig = json_object_get_object_member (root, "signature");
  FUZZ_CHECK (sig != NULL && g_strcmp0 (json_object_get_string_member (sig, "status"),
                                        pst_sig_status_to_string (st->sig_status)) == 0,
              "status JSON: signature status: %s", json);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *store = NULL, *roots = NULL;

  fuzz_make_criticals_fatal ();
  trace = g_getenv ("POSTERN_FUZZ_TRACE") != NULL;
  home = g_dir_make_tmp ("postern-fuzz-smime-XXXXXX", &error);
  FUZZ_CHECK (home != NULL, "temporary directory: %s", error->message);
  /* No trust anchor at all: OpenSSL's default file and directory, which
   * the store trusts besides its anchors/, are an empty directory and a
   * file that does not exist (set before OpenSSL first reads them). */
  roots = g_build_filename (home, "system-roots", NULL);
  FUZZ_CHECK (g_mkdir (roots, 0700) == 0, "mkdir %s", roots);
  g_setenv ("SSL_CERT_DIR", roots, TRUE);
  {
    g_autofree char *file = g_build_filename (roots, "none.pem", NULL);
    g_setenv ("SSL_CERT_FILE", file, TRUE);
  }
  store = g_build_filename (home, "smime", NULL);
  smime = pst_smime_new (store, &error);
  FUZZ_CHECK (smime != NULL, "pst_smime_new: %s", error->message);
  atexit (remove_home);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) message = g_bytes_new (data, size);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(PstStatus) status = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) outer = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;
  gsize body = 0;

  if (!pst_message_open (NULL, smime, message, &plain, &status, &error))
    {
      FUZZ_CHECK (error != NULL && plain == NULL && status == NULL, "open failed halfway");
      return 0;
    }
  FUZZ_CHECK (error == NULL && plain != NULL && status != NULL, "open: TRUE without results");
  FUZZ_CHECK (pst_mime_split_header ((const char *) data, size, &outer, &body, NULL),
              "open accepted a message without a header");
  type = top_level_type (outer, &params);
  if (trace)
    {
      g_autofree char *json = pst_status_to_json_string (status);
      fprintf (stderr, "%s: %s\n", type, json);
    }
  check_status (status, outer, type, plain);

  /* Stripping or hiding an S/MIME signature never makes the message look
   * unsigned (DESIGN.md §4). */
  if (g_str_equal (type, "multipart/signed") && params != NULL
      && g_hash_table_lookup (params, "protocol") != NULL
      && (g_ascii_strcasecmp (g_hash_table_lookup (params, "protocol"), "application/pkcs7-signature") == 0
          || g_ascii_strcasecmp (g_hash_table_lookup (params, "protocol"),
                                 "application/x-pkcs7-signature") == 0))
    FUZZ_CHECK (status->sig_status != PST_SIG_NONE
                || g_ptr_array_find_with_equal_func (status->warnings, "outer-signature-ignored",
                                                     g_str_equal, NULL),
                "an S/MIME multipart/signed message read as unsigned");
  return 0;
}
