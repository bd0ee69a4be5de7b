/* html.h — HTML mail as plain text, over libxml2's HTML parser (a
 * forgiving parser that copes with the tag soup of real mail).  Nothing is
 * fetched, no entity is loaded from outside, no script or style survives:
 * what is left is the text a reader would see, with line breaks where the
 * blocks were, and the target of each link written out after its text, so
 * that a link cannot hide where it goes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The text of @html (@len bytes, UTF-8 or with a charset of its own
 * declared; invalid sequences replaced), lines ending in "\n", runs of
 * blank lines collapsed.  Never NULL.  Transfer full. */
char *pst_html_to_text (const char *html, gsize len);

G_END_DECLS
