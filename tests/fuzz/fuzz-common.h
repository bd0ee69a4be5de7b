/* fuzz-common.h — what every fuzz target shares: the libFuzzer entry points
 * and an invariant check that aborts, so that libFuzzer records the input.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                 \
  G_STMT_START {                                                             \
    if (G_UNLIKELY (!(cond)))                                                \
      {                                                                      \
        fprintf (stderr, "%s:%d: invariant violated: %s: ", __FILE__,        \
                 __LINE__, #cond);                                           \
        fprintf (stderr, __VA_ARGS__);                                       \
        fputc ('\n', stderr);                                                \
        abort ();                                                            \
      }                                                                      \
  } G_STMT_END

/* A g_return_if_fail() or a warning in the code under test is a finding:
 * abort() (which libFuzzer catches and records, unlike GLib's SIGTRAP). */
static inline void
fuzz_log_handler (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  g_log_default_handler (domain, level, message, data);
  if (level & (G_LOG_FLAG_FATAL | G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
}

static inline GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  GLogWriterOutput out = g_log_writer_default (level, fields, n_fields, data);

  if (level & (G_LOG_FLAG_FATAL | G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
  return out;
}

static inline void
fuzz_make_criticals_fatal (void)
{
  g_log_set_default_handler (fuzz_log_handler, NULL);
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

/* Whether @s (NUL-terminated) holds @needle, ignoring ASCII case. */
static inline gboolean
fuzz_contains_nocase (const char *s, const char *needle)
{
  gsize n = strlen (needle);

  for (; *s != '\0'; s++)
    if (g_ascii_strncasecmp (s, needle, n) == 0)
      return TRUE;
  return FALSE;
}

/* Whether @len bytes at @data hold @needle (NUL-terminated). */
static inline gboolean
fuzz_bytes_contain (const guint8 *data, gsize len, const char *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (data + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}
