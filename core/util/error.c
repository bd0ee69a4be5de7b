#include "util/error.h"

#include <stdarg.h>

G_DEFINE_QUARK (pst-error-quark, pst_error)

int
pst_error_exit_code (const GError *error)
{
  if (error == NULL)
    return 0;
  if (error->domain == PST_ERROR && error->code >= PST_ERROR_FAILED
      && error->code <= PST_ERROR_INFECTED)
    return error->code;
  return 1;
}

void
pst_error_prefix (GError **error, const char *format, ...)
{
  va_list ap;
  g_autofree char *prefix = NULL;

  if (error == NULL || *error == NULL)
    return;
  va_start (ap, format);
  prefix = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_prefix_error (error, "%s: ", prefix);
}
