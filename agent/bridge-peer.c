/* bridge-peer.c — see bridge-peer.h.  One NETLINK_SOCK_DIAG request
 * (SOCK_DIAG_BY_FAMILY, no dump: the kernel finds the one socket), then
 * its inet_diag_msg; libmnl would wrap the same few lines. */
#include "bridge-peer.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <gio/gio.h>

#include "util/error.h"

/* An address as inet_diag writes it: four 32-bit words, IPv4 in the
 * first; an IPv4-mapped IPv6 address is made IPv4 (the kernel keeps such
 * a connection by its IPv4 addresses). */
typedef struct {
  int family;
  guint32 addr[4];
  guint16 port;   /* network order */
} Endpoint;

static gboolean
endpoint_from_sockaddr (const struct sockaddr_storage *ss, Endpoint *e)
{
  memset (e, 0, sizeof *e);
  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

      e->family = AF_INET;
      e->addr[0] = in->sin_addr.s_addr;
      e->port = in->sin_port;
      return TRUE;
    }
  if (ss->ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;

      e->port = in6->sin6_port;
      if (IN6_IS_ADDR_V4MAPPED (&in6->sin6_addr))
        {
          e->family = AF_INET;
          memcpy (&e->addr[0], &in6->sin6_addr.s6_addr[12], 4);
        }
      else
        {
          e->family = AF_INET6;
          memcpy (e->addr, &in6->sin6_addr, 16);
        }
      return TRUE;
    }
  return FALSE;
}

/* @addr as inet_diag gave it for a socket of @family, made comparable. */
static void
endpoint_from_diag (int family, const __be32 addr[4], __be16 port, Endpoint *e)
{
  memset (e, 0, sizeof *e);
  e->port = port;
  if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED ((const struct in6_addr *) addr))
    {
      e->family = AF_INET;
      e->addr[0] = addr[3];
    }
  else if (family == AF_INET6)
    {
      e->family = AF_INET6;
      memcpy (e->addr, addr, 16);
    }
  else
    {
      e->family = AF_INET;
      e->addr[0] = addr[0];
    }
}

static gboolean
endpoint_equal (const Endpoint *a, const Endpoint *b)
{
  return a->family == b->family && a->port == b->port
         && memcmp (a->addr, b->addr, sizeof a->addr) == 0;
}

static gboolean
fail (GError **error, const char *what, int e)
{
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the peer's socket: %s%s%s", what,
               e ? ": " : "", e ? g_strerror (e) : "");
  return FALSE;
}

/* The socket is not there (or no longer): G_IO_ERROR_NOT_FOUND. */
static gboolean
nobody (GError **error, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "the peer's socket: %s", what);
  return FALSE;
}

gboolean
pst_bridge_peer_uid (int fd, uid_t *uid_out, GError **error)
{
  struct sockaddr_storage local = { 0 }, peer = { 0 };
  socklen_t llen = sizeof local, plen = sizeof peer;
  Endpoint us, them, got_src, got_dst;
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg = { 0 };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct timeval timeout = { 5, 0 };
  guint8 buf[8192] __attribute__ ((aligned (NLMSG_ALIGNTO)));
  const struct nlmsghdr *h;
  const struct inet_diag_msg *r;
  ssize_t n;
  int nl, e;

  if (getsockname (fd, (struct sockaddr *) &local, &llen) != 0
      || getpeername (fd, (struct sockaddr *) &peer, &plen) != 0)
    return fail (error, "no connection", errno);
  if (!endpoint_from_sockaddr (&local, &us) || !endpoint_from_sockaddr (&peer, &them)
      || us.family != them.family)
    return fail (error, "not TCP/IP", 0);
  /* The peer's socket: its source is our peer, its destination us. */
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.nlh.nlmsg_seq = 1;
  msg.req.sdiag_family = (guint8) them.family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0U;
  msg.req.id.idiag_sport = them.port;
  msg.req.id.idiag_dport = us.port;
  memcpy (msg.req.id.idiag_src, them.addr, sizeof them.addr);
  memcpy (msg.req.id.idiag_dst, us.addr, sizeof us.addr);
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  nl = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0)
    return fail (error, "sock_diag", errno);
  setsockopt (nl, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (sendto (nl, &msg, sizeof msg, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
    {
      e = errno;
      close (nl);
      return fail (error, "sock_diag", e);
    }
  do
    n = recv (nl, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  e = errno;
  close (nl);
  if (n < 0)
    return fail (error, "sock_diag", e);
  h = (const struct nlmsghdr *) buf;
  if (!NLMSG_OK (h, (size_t) n))
    return fail (error, "sock_diag: a short answer", 0);
  if (h->nlmsg_type == NLMSG_ERROR)
    {
      const struct nlmsgerr *err = NLMSG_DATA (h);

      if (h->nlmsg_len < NLMSG_LENGTH (sizeof *err))
        return fail (error, "sock_diag: a short answer", 0);
      return err->error == -ENOENT ? nobody (error, "not found")
                                   : fail (error, "sock_diag", -err->error);
    }
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH (sizeof *r))
    return fail (error, "sock_diag: an unexpected answer", 0);
  r = NLMSG_DATA (h);
  /* Exactly the connection asked for: the kernel falls back to a listener
   * on the port when no connection matches. */
  endpoint_from_diag (r->idiag_family, r->id.idiag_src, r->id.idiag_sport, &got_src);
  endpoint_from_diag (r->idiag_family, r->id.idiag_dst, r->id.idiag_dport, &got_dst);
  if (!endpoint_equal (&got_src, &them) || !endpoint_equal (&got_dst, &us)
      || r->idiag_state == TCP_LISTEN || r->idiag_state == TCP_TIME_WAIT
      || r->idiag_state == TCP_CLOSE)
    return nobody (error, "not found");
  if (r->idiag_inode == 0)
    return nobody (error, "closed");
  *uid_out = (uid_t) r->idiag_uid;
  return TRUE;
}
