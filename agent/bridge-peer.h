/* bridge-peer.h — whose is the other end of a TCP connection on loopback
 * (the local bridge serves only the agent's own uid, bridge.h).
 *
 * TCP has no SO_PEERCRED: the peer's socket is looked up by the kernel's
 * sock_diag netlink interface (sock_diag(7), inet_diag_req_v2 with the
 * exact four-tuple), which gives its owner's uid and its inode.  A peer
 * that is IPv6 but reached an IPv4 listener (::ffff:127.0.0.1) is found
 * too (the kernel looks it up by its IPv4 addresses).  A socket that is
 * not found, is no connection (a listener, TIME_WAIT) or no longer has a
 * file (inode 0: closed; the kernel then says uid 0) is nobody's. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The uid that owns the socket at the other end of connected TCP socket
 * @fd (both ends on this host).  FALSE with @error when it cannot be
 * said: G_IO_ERROR_NOT_FOUND when the socket is not there (not found, no
 * connection, closed), PST_ERROR_FAILED when the kernel could not be
 * asked (sock_diag unavailable, no descriptor left: may pass). */
gboolean pst_bridge_peer_uid (int fd, uid_t *uid_out, GError **error);

G_END_DECLS
