#include "util/log.h"

#include <stdio.h>
#include <unistd.h>

static const char *log_program = "postern";
static gboolean log_verbose;

static const char *
level_word (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "notice";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

static gboolean to_journal;

static GLogWriterOutput
write_line (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *message = NULL;
  g_autoptr (GDateTime) now = NULL;
  g_autofree char *stamp = NULL;

  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !log_verbose)
    return G_LOG_WRITER_HANDLED;
  /* Under systemd, with stderr connected to the journal: structured, with
   * each message's priority (a plain line would be logged as info). */
  if (to_journal && g_log_writer_journald (level, fields, n_fields, user_data)
                      == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  now = g_date_time_new_now_utc ();
  stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
  fprintf (stderr, "%s %s[%d]: %s: %s\n", stamp, log_program, (int) getpid (), level_word (level),
           message ? message : "");
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

void
pst_log_init (const char *program, gboolean verbose)
{
  log_program = program;
  log_verbose = verbose;
  to_journal = g_log_writer_is_journald (fileno (stderr));
  g_log_set_writer_func (write_line, NULL, NULL);
}
