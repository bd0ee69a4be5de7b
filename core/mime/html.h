/* html.h — HTML mail as plain text, over libxml2's HTML parser (a
 * forgiving parser that copes with the tag soup of real mail).  Nothing is
 * fetched, no entity is loaded from outside, no script or style survives:
 * what is left is the text a reader would see, with line breaks where the
 * blocks were, and the target of each link written out after its text, so
 * that a link cannot hide where it goes. */
#pragma once

#include <glib.h>

#include "mime/mime.h"

G_BEGIN_DECLS

/* The text of @html (@len bytes, UTF-8 or with a charset of its own
 * declared; invalid sequences replaced), lines ending in "\n", runs of
 * blank lines collapsed.  Never NULL.  Transfer full. */
char *pst_html_to_text (const char *html, gsize len);

/* The first text/html part of @message that is not an attachment, decoded
 * as pst_mime_message_get_body_text does, as plain text (pst_html_to_text);
 * NULL when there is none.  For a message with no text/plain body.  Here
 * rather than in mime.c, so that what uses mime.c without showing HTML (the
 * command line's sendmail input and mbox import) does not load libxml2.
 * Transfer full. */
char *pst_mime_message_get_html_as_text (PstMimeMessage *message);

G_END_DECLS
