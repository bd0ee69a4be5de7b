/* addr.h — small helpers for RFC 5322 addr-specs ("local@domain").
 *
 * These do not parse full address lists (mime.c does that with libetpan);
 * they handle the one-mailbox forms that key user ids and command lines use.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The addr-spec in @text: "Name <a@b>" and "\"x <y>\" <a@b>" give "a@b", a bare
 * "a@b" gives itself; surrounding white space is dropped.  NULL when @text
 * holds no addr-spec (no '@', empty local part or domain, white space or
 * angle brackets inside).  Transfer full. */
char *pst_addr_extract (const char *text);

/* Whether addr-specs @a and @b name the same mailbox (DESIGN.md §4): the local
 * parts equal byte for byte, the domains equal ignoring ASCII case.  A display
 * name never counts: pass addr-specs, not "Name <a@b>".  NULL is never equal. */
gboolean pst_addr_equal (const char *a, const char *b);

/* Whether @addr is a plain address that can go into an expression of gpg's
 * (its import filter) without changing its meaning: a local part of
 * letters, digits and "._%+-", an '@', a host name of letters, digits, '-'
 * and dots.  A key from Autocrypt, gossip or WKD for any other address is
 * refused: gpg's filter syntax has "||", "&&", "!~" and friends, all of
 * which an RFC 5322 local part may hold. */
gboolean pst_addr_is_plain (const char *addr);

/* Whether @addr equals (pst_addr_equal) one of the NULL-terminated @list. */
gboolean pst_addr_in_list (const char *addr, const char *const *list);

G_END_DECLS
