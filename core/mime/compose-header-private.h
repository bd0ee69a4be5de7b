/* compose-header-private.h — the header writer compose-header.c shares
 * with compose.c. */
#pragma once

#include <glib.h>

#define FOLD_COLUMNS 78
/* Characters of a plain word before the Subject is encoded instead, so that
 * folding always finds a place */
#define MAX_PLAIN_WORD 70
#define MAX_ADDR_SPEC 254

/* A header field being written, folded at FOLD_COLUMNS. */
typedef struct {
  GString *out;
  gsize col;     /* the column after the last character written */
} Header;

/* "NAME:" */
void pst_compose_header_begin (Header *h, GString *out, const char *name);
/* @token after a space, folding before that space when the line would grow
 * past FOLD_COLUMNS (a token longer than a line stays whole). */
void pst_compose_header_add (Header *h, const char *token);
/* The line end. */
void pst_compose_header_end (Header *h);
/* Unstructured text (the Subject): plain words, else RFC 2047 words. */
void pst_compose_header_add_text (Header *h, const char *text);
/* A display name as a phrase: atoms, else a quoted-string, else RFC 2047
 * words. */
void pst_compose_header_add_phrase (Header *h, const char *name);
/* A mailbox, "Name <spec>" (the name a phrase) or "spec" when @name is
 * NULL, followed by a comma unless it is the @last of the field. */
void pst_compose_header_add_mailbox (Header *h, const char *name, const char *spec,
                                     gboolean last);
/* @text as RFC 2047 B words of whole UTF-8 characters. */
void pst_compose_header_add_encoded (Header *h, const char *text);

/* FALSE with @error (PST_ERROR_USAGE) naming @field when @value is not
 * UTF-8, or, for a @header value, holds a line break (header injection). */
gboolean pst_compose_check_text (const char *field, const char *value, gboolean header,
                                 GError **error);
/* Printable ASCII and tabs only. */
gboolean pst_compose_is_plain_ascii (const char *s);
/* RFC 5322 atext. */
gboolean pst_compose_is_atext (char c);
