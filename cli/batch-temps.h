/* batch-temps.h — the temporary outputs of `postern batch`, and their
 * removal when the batch is interrupted (SIGINT, SIGTERM, SIGHUP). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* From here on the three signals remove the temporaries made since, then
 * end the process by the signal as it would have. */
void pst_batch_temps_begin (void);
/* The batch is over: the signals are as before.  Call once no thread makes
 * temporaries any more. */
void pst_batch_temps_end (void);

/* g_mkstemp_full (@tmpl, flags, 0600), the file noted as a temporary. */
int pst_batch_temp_make (char *tmpl, int flags);
/* Removes temporary @path. */
void pst_batch_temp_drop (const char *path);
/* Gives temporary @tmp the name @dest unless that exists
 * (RENAME_NOREPLACE): 0, or the errno. */
int pst_batch_temp_rename (const char *tmp, const char *dest);

G_END_DECLS
