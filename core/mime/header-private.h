/* header-private.h — what header.c shares with mime.c. */
#pragma once

#include <glib.h>

/* The end of the line at @pos in @data (@len bytes): the offset of its
 * "\n" or "\r\n", or @len; *@next_out is where the next line starts. */
gsize pst_mime_line_end (const char *data, gsize len, gsize pos, gsize *next_out);
