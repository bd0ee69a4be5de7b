/* fuzz-smime-read — the input is a message; pst_smimeread_verify (the
 * S/MIME stream reader of `postern verify`, mime/smimeread.h) against
 * pst_message_open, the in-memory reader, on an empty S/MIME store with no
 * trust anchor: when the stream reader says it read the message, both
 * give the same status (JSON), and no message the in-memory reader cannot
 * parse is read as a stream.  POSTERN_FUZZ_TRACE=1 says whether an input
 * was read as a stream. */
#include "fuzz-common.h"

#include <glib/gstdio.h>

#include "crypto/smime.h"
#include "mime/reader.h"
#include "mime/smimeread.h"

static PstSmime *smime;
static char *home;

static void
remove_home (void)
{
  g_autofree char *rm = NULL;

  g_clear_pointer (&smime, pst_smime_free);
  rm = g_strdup_printf ("rm -rf '%s'", home);
  if (system (rm) != 0)
    fprintf (stderr, "cannot remove %s\n", home);
  g_clear_pointer (&home, g_free);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *store = NULL, *roots = NULL, *file = NULL;

  (void) argc;
  (void) argv;
  fuzz_make_criticals_fatal ();
  home = g_dir_make_tmp ("postern-fuzz-smime-read-XXXXXX", &error);
  FUZZ_CHECK (home != NULL, "temporary directory: %s", error->message);
  /* No trust anchor (as fuzz-smime): system roots an empty directory. */
  roots = g_build_filename (home, "system-roots", NULL);
  FUZZ_CHECK (g_mkdir (roots, 0700) == 0, "mkdir %s", roots);
  g_setenv ("SSL_CERT_DIR", roots, TRUE);
  file = g_build_filename (roots, "none.pem", NULL);
  g_setenv ("SSL_CERT_FILE", file, TRUE);
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
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes (message);
  g_autoptr(PstStatus) streamed = NULL;
  g_autoptr(PstStatus) status = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = NULL, *b = NULL;
  gboolean streamable = FALSE, opened;

  FUZZ_CHECK (pst_smimeread_verify (smime, in, &streamed, &streamable, &error),
              "a memory stream failed: %s", error->message);
  if (g_getenv ("POSTERN_FUZZ_TRACE") != NULL)
    fprintf (stderr, "streamed: %s\n", streamable ? "yes" : "no");
  if (!streamable)
    return 0;
  opened = pst_message_open (NULL, smime, message, &plain, &status, NULL);
  FUZZ_CHECK (opened, "streamed what the in-memory reader cannot parse");
  a = pst_status_to_json_string (streamed);
  b = pst_status_to_json_string (status);
  FUZZ_CHECK (g_str_equal (a, b), "stream %s, memory %s", a, b);
  return 0;
}
