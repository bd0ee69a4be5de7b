#!/usr/bin/python3
"""A TCP relay that emulates a round-trip time (benchmarks only, DESIGN.md §13).

These kernels have no sch_netem, so the benchmarks put this relay in front of the servers, inside a network
namespace of their own. Every chunk read from one side is held for RTT/2 before it is written to the other, in
each direction, in order. The TCP handshake is emulated too: the relay connects to the server RTT/2 after it
accepted the client (the server's greeting reaches the client 1 RTT after connect(), as on a real link), and
nothing the client sends reaches the server before 1.5 RTT (a client cannot send before its SYN-ACK). Bandwidth is
not limited; TCP slow start over a long link is not emulated.

  delay-relay.py relay --rtt-ms 20 [--ready-file F] [--tls-log L] LISTEN_HOST:PORT=TARGET_HOST:PORT ...
      Relays each listening address to its target until killed; writes F (if given) once all are listening.
      With --tls-log, each connection that starts with a TLS handshake (implicit TLS) adds a line to L:
      "LISTEN_PORT resumed|full TLSv1.x", read from the plaintext ClientHello and ServerHello.
  delay-relay.py rtt HOST PORT [COUNT]
      Measures the round trip through the relay to a POP3 or SMTP server: the time from connect() to the greeting,
      then COUNT (default 20) CAPA (POP3) or NOOP (SMTP) round trips; prints "MEDIAN ms (... min, max ...)".
"""
import argparse
import asyncio
import collections
import socket
import statistics
import sys
import time


class Direction:
    """Chunks from one side, each written to the other side once its time has come, in order."""

    def __init__(self, loop, delay):
        self.loop = loop
        self.delay = delay
        self.queue = collections.deque()   # (due, bytes or None for EOF)
        self.timer = None
        self.transport = None              # where the chunks go, once connected
        self.not_before = 0.0

    def push(self, data):
        due = max(self.loop.time() + self.delay, self.not_before)
        self.queue.append((due, data))
        self.schedule()

    def schedule(self):
        if self.timer is None and self.queue and self.transport is not None:
            self.timer = self.loop.call_at(self.queue[0][0], self.flush)

    def flush(self):
        self.timer = None
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now:
            _, data = self.queue.popleft()
            if self.transport.is_closing():
                self.queue.clear()
                return
            if data is None:
                try:
                    self.transport.write_eof()
                except OSError:
                    self.transport.close()
            elif data is False:
                self.transport.close()
            else:
                self.transport.write(data)
        self.schedule()


class Side(asyncio.Protocol):
    """One end of a relayed connection: what it receives goes into `out` (and to `tap`, if any)."""

    def __init__(self, out, tap=None):
        self.out = out
        self.tap = tap
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        if self.tap is not None and not self.tap(data):
            self.tap = None
        self.out.push(data)

    def eof_received(self):
        self.out.push(None)
        return True  # keep the other half open until the EOF has been relayed

    def connection_lost(self, exc):
        self.out.push(False)


def first_handshake(buf):
    """The body of the first TLS handshake message in buf, None if incomplete, b"" if buf is not TLS."""
    if not buf:
        return None
    if buf[0] != 22:
        return b""
    if len(buf) < 9:
        return None
    rec_len = int.from_bytes(buf[3:5], "big")
    msg_len = int.from_bytes(buf[6:9], "big")
    if msg_len + 4 > rec_len:
        return b""  # a hello split over records: not expected from these peers
    if len(buf) < 5 + rec_len:
        return None
    return buf[9:9 + msg_len]


class HelloWatch:
    """Tells a full TLS handshake from a resumed one on an implicit-TLS connection, from the plaintext hellos:
    TLS 1.3 resumed = the ServerHello has a pre_shared_key extension; TLS 1.2 resumed = the server echoes the
    client's non-empty session id. Appends "PORT resumed|full TLSv1.x" to log_path."""

    def __init__(self, port, log_path):
        self.port, self.log_path = port, log_path
        self.cbuf, self.sbuf = b"", b""
        self.client_sid = None

    def client(self, data):
        self.cbuf += data
        body = first_handshake(self.cbuf)
        if body is None:
            return len(self.cbuf) < 65536
        if len(body) > 35:
            n = body[34]
            self.client_sid = body[35:35 + n]
        self.cbuf = b""
        return False

    def server(self, data):
        self.sbuf += data
        body = first_handshake(self.sbuf)
        if body is None:
            return len(self.sbuf) < 65536
        self.sbuf = b""
        if not body or self.client_sid is None:
            return False
        try:
            i = 34
            sid = body[i + 1:i + 1 + body[i]]
            i += 1 + body[i] + 3
            end = i + 2 + int.from_bytes(body[i:i + 2], "big")
            i += 2
            exts = {}
            while i + 4 <= end:
                t, n = int.from_bytes(body[i:i + 2], "big"), int.from_bytes(body[i + 2:i + 4], "big")
                exts[t] = body[i + 4:i + 4 + n]
                i += 4 + n
        except IndexError:
            return False
        if exts.get(43) == b"\x03\x04":
            version, resumed = "TLSv1.3", 41 in exts
        else:
            version, resumed = "TLSv1.2", bool(self.client_sid) and sid == self.client_sid
        with open(self.log_path, "a") as f:
            f.write("%d %s %s\n" % (self.port, "resumed" if resumed else "full", version))
        return False


async def relay_one(loop, delay, target, client_sock, watch):
    up = Direction(loop, delay)      # client -> server
    down = Direction(loop, delay)    # server -> client
    t0 = loop.time()
    up.not_before = t0 + 3 * delay
    client_transport, _ = await loop.connect_accepted_socket(
        lambda: Side(up, watch.client if watch else None), client_sock)
    down.transport = client_transport
    down.schedule()
    await asyncio.sleep(max(0.0, t0 + delay - loop.time()))
    try:
        server_transport, _ = await loop.create_connection(
            lambda: Side(down, watch.server if watch else None), target[0], target[1])
    except OSError:
        client_transport.close()
        return
    up.transport = server_transport
    up.schedule()


async def serve(rtt_ms, pairs, ready_file, tls_log):
    loop = asyncio.get_running_loop()
    delay = rtt_ms / 2000.0
    servers = []
    for listen, target in pairs:
        lsock = socket.socket(socket.AF_INET6 if ":" in listen[0] else socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(listen)
        lsock.listen(128)
        lsock.setblocking(False)
        servers.append((lsock, target))

    async def accept_loop(lsock, target):
        while True:
            csock, _ = await loop.sock_accept(lsock)
            watch = HelloWatch(lsock.getsockname()[1], tls_log) if tls_log else None
            loop.create_task(relay_one(loop, delay, target, csock, watch))

    tasks = [loop.create_task(accept_loop(s, t)) for s, t in servers]
    if ready_file:
        with open(ready_file, "w") as f:
            f.write("ready\n")
    await asyncio.gather(*tasks)


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def measure(host, port, count):
    t0 = time.monotonic()
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    pop3 = f.readline().startswith(b"+OK")  # else an SMTP 220 (a multi-line 220- greeting is not expected)
    greet = time.monotonic() - t0
    samples = []
    for _ in range(count):
        # POP3: CAPA (multi-line; Dovecot drops a client after a few -ERR, so not NOOP before login); SMTP: NOOP.
        t = time.monotonic()
        s.sendall(b"CAPA\r\n" if pop3 else b"NOOP\r\n")
        while True:
            line = f.readline()
            if not line:
                sys.exit("delay-relay.py: the server closed the connection")
            if not pop3 or line == b".\r\n" or line.startswith(b"-ERR"):
                break
        samples.append(time.monotonic() - t)
    s.sendall(b"QUIT\r\n")
    s.close()
    ms = [x * 1000 for x in samples]
    print("%.1f ms (median of %d round trips, min %.1f, max %.1f; connect() to greeting %.1f ms)"
          % (statistics.median(ms), len(ms), min(ms), max(ms), greet * 1000))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("relay")
    r.add_argument("--rtt-ms", type=float, default=20.0)
    r.add_argument("--ready-file")
    r.add_argument("--tls-log")
    r.add_argument("pairs", nargs="+", metavar="LISTEN=TARGET")
    m = sub.add_parser("rtt")
    m.add_argument("host")
    m.add_argument("port", type=int)
    m.add_argument("count", type=int, nargs="?", default=20)
    a = ap.parse_args()
    if a.cmd == "rtt":
        measure(a.host, a.port, a.count)
        return
    pairs = []
    for p in a.pairs:
        listen, _, target = p.partition("=")
        pairs.append((parse_addr(listen), parse_addr(target)))
    asyncio.run(serve(a.rtt_ms, pairs, a.ready_file, a.tls_log))


if __name__ == "__main__":
    main()
