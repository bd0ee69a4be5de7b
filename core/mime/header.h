/* header.h — the header section as text (header.c): where it ends, its
 * raw fields, a field's name and value, the mbox "From " line before it; the
 * Date and random tokens written into new messages.  No libetpan: the
 * command line uses these (mime.h includes this header for everything else
 * that reads messages). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The length of a leading mbox "From " line of @data (@len bytes), its line
 * end included; 0 when there is none ("From : x" is an obsolete-syntax From
 * field, not such a line).  DESIGN.md §4, input framing. */
gsize pst_mime_mbox_line_length (const char *data, gsize len);

/* Splits the header section of @data (@len bytes) into raw fields, each one
 * string with its continuation lines and line ends as they were.
 * @body_offset_out gets the offset of the body (after the empty line; @len
 * when there is none).  A leading mbox "From " line (DESIGN.md §4, input
 * framing) is skipped: every message and entity reader comes through here,
 * so no caller needs to.  Errors (PST_ERROR_FAILED): no header field, a
 * line that is neither a field nor a continuation, a NUL byte in the
 * header. */
gboolean pst_mime_split_header (const char *data, gsize len, GPtrArray **fields_out,
                                gsize *body_offset_out, GError **error);

/* Whether raw field @field is named @name (ASCII case ignored). */
gboolean pst_mime_field_is (const char *field, const char *name);

/* The value of raw field @field, unfolded (line ends removed) and trimmed.
 * Transfer full. */
char *pst_mime_field_value (const char *field);

/* @dt as an RFC 5322 date-time ("Sat, 1 Jan 2000 00:00:00 +0000"), with
 * English names whatever the locale.  Transfer full. */
char *pst_mime_format_date (GDateTime *dt);

/* 48 random hex digits, for boundaries and Message-IDs.  Transfer full. */
char *pst_mime_random_token (void);

/* The end of the line at @pos in @data (@len bytes): the offset of its
 * "\n" or "\r\n", or @len; *@next_out is where the next line starts. */
gsize pst_mime_line_end (const char *data, gsize len, gsize pos, gsize *next_out);

G_END_DECLS
