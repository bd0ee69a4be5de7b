/* fuzz-verdict — the input is a stored message; pst_message_open reads it
 * with an empty throwaway keyring and no S/MIME store (S/MIME layers are
 * recognised and open nothing; fuzz-smime has a store), and the verdict
 * must keep the rules of DESIGN.md §4 whatever the message says about
 * itself:
 *  - "whole" (signature or encryption) only when the message's own
 *    Content-Type is multipart/signed or multipart/encrypted (or S/MIME's
 *    application/(x-)pkcs7-mime);
 *  - with no key at all, no signature is good and nothing decrypts;
 *  - the status serialises to one line of JSON.
 * gpg runs only for inputs that reach a signature or encryption layer, so
 * most of the seed corpus is structure.
 */
#include "fuzz-common.h"

#include <glib/gstdio.h>

#include "crypto/pgp.h"
#include "mime/mime.h"
#include "mime/reader.h"

static PstPgp *pgp;
/* POSTERN_FUZZ_TRACE=1 prints each verdict, to check what a seed reaches. */
static gboolean trace;
static char *gnupg_home;

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
  g_clear_pointer (&pgp, pst_pgp_free);
  remove_tree (gnupg_home);
  g_clear_pointer (&gnupg_home, g_free);
}

/* The media type of the message itself, as the rest of Postern reads it:
 * the first Content-Type field, text/plain when absent or unparsable. */
static char *
top_level_type (const uint8_t *data, size_t size)
{
  g_autoptr(GPtrArray) fields = NULL;

  if (!pst_mime_split_header ((const char *) data, size, &fields, NULL, NULL))
    return NULL;
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], "Content-Type"))
      {
        g_autofree char *value = pst_mime_field_value (fields->pdata[i]);
        char *type = pst_mime_parse_content_type (value, NULL);

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

static void
check_status (const PstStatus *st, const char *type, GBytes *plain)
{
  /* Inline PGP whose armored block is the whole body of a text/plain
   * message covers the whole message too (mime/pgpmime.c open_inline). */
  gboolean inline_pgp = FALSE;
  gboolean protected_type;

  for (guint i = 0; i < st->warnings->len; i++)
    inline_pgp = inline_pgp || g_str_equal (st->warnings->pdata[i], "inline-pgp");
  protected_type = g_strcmp0 (type, "multipart/signed") == 0
                   || g_strcmp0 (type, "multipart/encrypted") == 0
                   || g_strcmp0 (type, "application/pkcs7-mime") == 0
                   || g_strcmp0 (type, "application/x-pkcs7-mime") == 0
                   || (inline_pgp && g_strcmp0 (type, "text/plain") == 0);
  g_autofree char *json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  FUZZ_CHECK (st->sig_covers != PST_COVERS_WHOLE || protected_type,
              "signature covers \"whole\" of a %s message", type);
  FUZZ_CHECK (st->encryption_covers != PST_COVERS_WHOLE || protected_type,
              "encryption covers \"whole\" of a %s message", type);

  FUZZ_CHECK (st->sig_status != PST_SIG_GOOD, "a good signature with an empty keyring");
  FUZZ_CHECK (st->decryption != PST_DECRYPTION_OK, "decrypted with an empty keyring");
  FUZZ_CHECK (!st->from_match || st->signer != NULL, "from_match without a signer");
  FUZZ_CHECK ((st->sig_status == PST_SIG_NONE) == (st->sig_covers == PST_COVERS_NONE),
              "signature %d covers %d", st->sig_status, st->sig_covers);
  FUZZ_CHECK ((st->decryption == PST_DECRYPTION_NOT_ENCRYPTED)
              == (st->encryption_covers == PST_COVERS_NONE),
              "decryption %d covers %d", st->decryption, st->encryption_covers);
  FUZZ_CHECK (st->scheme != PST_SCHEME_NONE
              || (st->sig_status == PST_SIG_NONE && st->decryption == PST_DECRYPTION_NOT_ENCRYPTED),
              "a verdict without a scheme");
  for (guint i = 0; i < st->warnings->len; i++)
    FUZZ_CHECK (is_word (st->warnings->pdata[i]), "warning \"%s\"", (char *) st->warnings->pdata[i]);

  FUZZ_CHECK (g_bytes_get_size (plain) > 0, "nothing to display");

  json = pst_status_to_json_string (st);
  FUZZ_CHECK (json != NULL && strchr (json, '\n') == NULL, "status JSON on one line");
  FUZZ_CHECK (json_parser_load_from_data (parser, json, -1, NULL), "status JSON parses: %s", json);
  FUZZ_CHECK (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)), "status JSON: an object");
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conf = NULL;

  fuzz_make_criticals_fatal ();
  trace = g_getenv ("POSTERN_FUZZ_TRACE") != NULL;
  gnupg_home = g_dir_make_tmp ("postern-fuzz-gnupg-XXXXXX", &error);
  FUZZ_CHECK (gnupg_home != NULL, "GNUPGHOME: %s", error->message);
  /* No gpg-agent or dirmngr is started for this keyring, so nothing is
   * left running when the fuzzer stops, and nothing goes to the network. */
  conf = g_build_filename (gnupg_home, "gpg.conf", NULL);
  FUZZ_CHECK (g_file_set_contents (conf, "no-autostart\nbatch\n", -1, &error), "gpg.conf: %s",
              error->message);
  pgp = pst_pgp_new (gnupg_home, &error);
  FUZZ_CHECK (pgp != NULL, "pst_pgp_new: %s", error->message);
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
  g_autofree char *type = NULL;

  if (!pst_message_open (pgp, NULL, message, &plain, &status, &error))
    {
      FUZZ_CHECK (error != NULL && plain == NULL && status == NULL, "open failed halfway");
      return 0;
    }
  FUZZ_CHECK (error == NULL && plain != NULL && status != NULL, "open: TRUE without results");
  type = top_level_type (data, size);
  FUZZ_CHECK (type != NULL, "open accepted a message without a header");
  if (trace)
    {
      g_autofree char *json = pst_status_to_json_string (status);
      fprintf (stderr, "%s: %s\n", type, json);
    }
  check_status (status, type, plain);
  return 0;
}
