/* compose-header.h — a mailbox header field from an addr-spec, without
 * libetpan (compose-header.c; compose.h includes this). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* pst_compose_mailbox_field (compose.h) for an address already written as
 * an addr-spec, "a@b.example" (what pst_addr_extract keeps of it,
 * unchanged; a local part of atext and dots; ASCII), without parsing it as
 * an RFC 5322 mailbox: for the command line, which does not load libetpan.  Errors (PST_ERROR_USAGE): @spec is
 * not such an addr-spec; @display or @spec hold a line break or are not
 * UTF-8.  Transfer full. */
char *pst_compose_addr_spec_field (const char *name, const char *spec, const char *display,
                                   GError **error);

G_END_DECLS
