/* fuzz-partsplit.c — mime/partsplit.h, the multipart splitter of the
 * S/MIME stream reader, against pst_mime_split_multipart
 * (partsplit-check.h says how). */
#include "fuzz-common.h"
#include "partsplit-check.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  fuzz_make_criticals_fatal ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *why = partsplit_check (data, size);

  FUZZ_CHECK (why == NULL, "%s", why);
  return 0;
}
