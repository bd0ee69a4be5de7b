/* mailto.h — what a mailto: URI (RFC 6068) may put in a compose window.
 * Only To, Cc, Bcc, Subject, In-Reply-To and the body are taken; attach=,
 * attachment= and every other header a link could smuggle in are ignored,
 * so that a web page cannot make the user send a local file or a forged
 * header.  No GTK here: the unit tests use it as the GUI does. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GPtrArray *to, *cc, *bcc;    /* char *, decoded addresses */
  char *subject;               /* NULL when absent; CR/LF replaced by spaces */
  char *body;                  /* NULL when absent; line ends as \n */
  char *in_reply_to;
  GPtrArray *ignored;          /* char *, the names of the fields that were dropped */
} PstMailto;

/* Parses @uri ("mailto:..."; the scheme case-insensitive).  NULL with
 * @error (G_URI_ERROR) when it is not a mailto: URI or is badly encoded.
 * Transfer full. */
PstMailto *pst_mailto_parse (const char *uri, GError **error);
void pst_mailto_free (PstMailto *mailto);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstMailto, pst_mailto_free)

G_END_DECLS
