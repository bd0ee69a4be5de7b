"""A scriptable fake SMTP or POP3 server for the fault suite (test-faults.sh).

It produces the faults a real server won't: STARTTLS/STLS missing or refused,
plaintext injected behind the STARTTLS reply, capabilities that change after
TLS, bad greetings, replies cut in the middle, connections dropped during DATA
or RETR, silence.  Python 3 standard library only.

Usage: fakeserver.py PROTO SCENARIO PORTFILE LOGPREFIX CERT KEY [MAILDROP]
  PROTO      smtp | pop3 | smtps | pop3s (the last two: implicit TLS)
  PORTFILE   the port it bound on 127.0.0.1 is written there (atomically)
  LOGPREFIX  LOGPREFIX.clear  every byte received outside TLS
             LOGPREFIX.tls    every byte received inside TLS (decrypted)
             LOGPREFIX.events one line per event: "<conn> <what>", e.g.
                              "2 C RETR 1", "1 tls", "1 pipelined MAIL"
             LOGPREFIX.msg.N  the Nth message accepted (SMTP)
  MAILDROP   POP3: a directory of messages, one file each, named by UIDL
             and served in name order.  Deletions are committed by QUIT, and
             are kept across connections.

Scenarios marked "once" apply to the first connection only; later
connections get a well-behaved server, so that a retry can be checked.
  both    good, silent (accepts, never sends a byte), greeting-garbage
  smtp    no-starttls, starttls-454, starttls-554, starttls-inject,
          auth-before-tls-only, pipelining-removed, greeting-554, cut-reply,
          data-drop (once), dot-drop (once), dot-reply-cut (once),
          dot-silent (once), defer-once (451 to RCPT), no-8bitmime, size-small
  pop3    no-stls, stls-refused, stls-inject, capa-changes, greeting-err,
          cut-reply, retr-drop (once, during RETR 2), no-uidl, login-delay,
          oauth (SASL OAUTHBEARER and XOAUTH2; the good token is in
          FAKE_TOKEN), xoauth2 (that one only), scram-plus (SCRAM-SHA-256-PLUS
          with tls-unique, TLS 1.2; the password is FAKE_PASSWORD),
          scram-plus-mitm (the same, but the server's binding differs, as a
          man in the middle's would)
It runs until killed.
"""
import base64
import hashlib
import hmac
import os
import select
import socket
import ssl
import sys
import threading
import time

PROTO, SCENARIO, PORTFILE, LOG, CERT, KEY = sys.argv[1:7]
MAILDROP = sys.argv[7] if len(sys.argv) > 7 else None
IMPLICIT = PROTO.endswith("s")
KIND = PROTO.rstrip("s")

log_lock = threading.Lock()
state_lock = threading.Lock()
conn_count = 0
accepted_count = 0
deleted = set()   # POP3: UIDLs whose deletion a QUIT committed


def append(suffix, data):
    with log_lock:
        with open(LOG + suffix, "ab") as f:
            f.write(data)


def event(n, what):
    append(".events", ("%d %s\n" % (n, what)).encode("utf-8", "replace"))


class Closed(Exception):
    pass


class Conn:
    def __init__(self, sock, n, ctx):
        self.raw = sock
        self.sock = sock
        self.n = n
        self.ctx = ctx
        self.tls = False
        # A bytearray: appending to bytes copies the whole buffer each time,
        # which made reading a 16 MB DATA quadratic (24 s under the sanitizers).
        self.buf = bytearray()

    def _recv(self):
        try:
            data = self.sock.recv(65536)
        except (OSError, ssl.SSLError):
            data = b""
        if not data:
            raise Closed()
        append(".tls" if self.tls else ".clear", data)
        return data

    def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise Closed()
            self.buf += self._recv()
        i = self.buf.index(b"\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 1]
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def read_until(self, terminator, limit=None):
        """Bytes up to and including TERMINATOR; with LIMIT, raises Closed
        after reading more than LIMIT bytes without finding it."""
        start = 0
        while True:
            i = self.buf.find(terminator, start)
            if i >= 0:
                out = bytes(self.buf[:i + len(terminator)])
                del self.buf[:i + len(terminator)]
                return out
            if limit is not None and len(self.buf) > limit:
                raise Closed()
            start = max(0, len(self.buf) - len(terminator) + 1)
            self.buf += self._recv()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError):
            raise Closed()

    def pending(self, wait):
        """Whether the client has already sent more than we have answered:
        pipelining.  Waits up to WAIT seconds for late bytes."""
        if self.buf:
            return True
        if self.tls and self.sock.pending() > 0:
            return True
        r, _, _ = select.select([self.sock], [], [], wait)
        return bool(r)

    def starttls(self):
        if self.buf:
            event(self.n, "client sent %d bytes before the TLS handshake" % len(self.buf))
            raise Closed()
        try:
            self.raw.settimeout(30)
            self.sock = self.ctx.wrap_socket(self.raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            event(self.n, "tls handshake failed: %s" % e)
            raise Closed()
        self.tls = True
        event(self.n, "tls")

    def drain(self):
        """Reads and records until the client closes."""
        try:
            while True:
                self._recv()
        except Closed:
            pass

    def close(self, abort=False):
        try:
            if abort:
                # RST: nothing more is read, nothing more is said.
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- SMTP

def smtp_caps(tls):
    sc = SCENARIO
    caps = []
    if not tls:
        if sc != "no-starttls":
            caps.append("STARTTLS")
        if sc in ("no-starttls", "auth-before-tls-only", "starttls-454", "starttls-554"):
            caps.append("AUTH PLAIN LOGIN")   # bait: a client must not bite
        if sc == "pipelining-removed":
            caps.append("PIPELINING")
        if sc in ("no-starttls", "starttls-454", "starttls-554"):
            caps.append("PIPELINING")
        return caps
    if sc == "auth-before-tls-only":
        return ["8BITMIME", "SIZE 100000000"]
    if sc == "pipelining-removed":
        return ["AUTH PLAIN LOGIN", "8BITMIME", "SIZE 100000000"]
    if sc == "no-8bitmime":
        return ["PIPELINING", "AUTH PLAIN LOGIN", "SIZE 100000000"]
    if sc == "size-small":
        return ["PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME", "SIZE 1000"]
    return ["PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME", "SIZE 100000000"]


def smtp_session(c):
    sc = SCENARIO
    first = c.n == 1
    if IMPLICIT:
        c.starttls()
    if sc == "greeting-554":
        c.send("554 5.3.2 fake.example: no service for you\r\n")
    elif sc == "greeting-garbage":
        c.send("HELLO this is not an SMTP server\r\n")
    else:
        c.send("220 fake.example ESMTP fault server\r\n")
    in_tx = False
    while True:
        line = c.readline()
        cmd = line.split(" ", 1)[0].upper()
        event(c.n, "C " + (cmd if cmd == "AUTH" else line))
        if cmd == "AUTH":
            event(c.n, "auth %s" % ("inside TLS" if c.tls else "IN THE CLEAR"))
        if sc in ("greeting-554", "greeting-garbage"):
            c.send("503 5.5.1 no\r\n" if cmd != "QUIT" else "221 bye\r\n")
            if cmd == "QUIT":
                return
            continue
        if cmd in ("EHLO", "HELO"):
            if sc == "cut-reply":
                c.send("250-fake.example\r\n250-PIPEL")
                event(c.n, "cut the EHLO reply")
                return
            caps = smtp_caps(c.tls)
            lines = ["fake.example"] + caps
            c.send("".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", l)
                           for i, l in enumerate(lines)))
        elif cmd == "STARTTLS":
            if c.tls:
                c.send("503 5.5.1 TLS already active\r\n")
            elif sc == "starttls-454":
                c.send("454 4.7.0 TLS not available due to temporary reason\r\n")
            elif sc == "starttls-554":
                c.send("554 5.7.3 TLS not available\r\n")
            elif sc == "starttls-inject":
                # One send, one segment: the answer and a forged reply to
                # the EHLO that a client would send after the handshake.
                c.send("220 2.0.0 Ready to start TLS\r\n"
                       "250-injected.example\r\n250 AUTH PLAIN LOGIN\r\n")
                event(c.n, "injected plaintext behind the 220")
                c.starttls()
            else:
                c.send("220 2.0.0 Ready to start TLS\r\n")
                c.starttls()
        elif cmd == "AUTH":
            parts = line.split()
            mech = parts[1].upper() if len(parts) > 1 else ""
            if mech == "PLAIN" and len(parts) < 3:
                c.send("334 \r\n")
                c.readline()
            elif mech == "LOGIN":
                if len(parts) < 3:
                    c.send("334 VXNlcm5hbWU6\r\n")
                    c.readline()
                c.send("334 UGFzc3dvcmQ6\r\n")
                c.readline()
            c.send("235 2.7.0 Authentication successful\r\n")
        elif cmd == "MAIL":
            if c.pending(0.3):
                event(c.n, "pipelined MAIL")
            in_tx = True
            c.send("250 2.1.0 Ok\r\n")
        elif cmd == "RCPT":
            if sc == "defer-once" and first:
                c.send("451 4.3.0 try again later\r\n")
                event(c.n, "deferred RCPT")
            else:
                c.send("250 2.1.5 Ok\r\n")
        elif cmd == "DATA":
            if not in_tx:
                c.send("503 5.5.1 need MAIL\r\n")
                continue
            c.send("354 End data with <CR><LF>.<CR><LF>\r\n")
            if sc == "data-drop" and first:
                try:
                    c.read_until(b"\r\n.\r\n", limit=64 * 1024)
                    event(c.n, "the whole message arrived before the drop")
                except Closed:
                    pass
                event(c.n, "dropped during DATA")
                c.close(abort=True)
                return
            c.buf[:0] = b"\r\n"   # so that an empty body ends at once
            body = c.read_until(b"\r\n.\r\n")[2:-3]
            in_tx = False
            if first and sc == "dot-drop":
                event(c.n, "dropped after the final dot")
                c.close(abort=True)
                return
            if first and sc == "dot-reply-cut":
                event(c.n, "cut the reply to the final dot")
                c.send("250 2.0.0 Ok: queu")
                return
            if first and sc == "dot-silent":
                event(c.n, "silent after the final dot")
                c.drain()
                return
            global accepted_count
            with state_lock:
                accepted_count += 1
                k = accepted_count
            with open("%s.msg.%d" % (LOG, k), "wb") as f:
                f.write(body)
            event(c.n, "accepted message %d (%d bytes)" % (k, len(body)))
            c.send("250 2.0.0 Ok: queued as F%d\r\n" % k)
        elif cmd == "RSET":
            in_tx = False
            c.send("250 2.0.0 Ok\r\n")
        elif cmd == "NOOP":
            c.send("250 2.0.0 Ok\r\n")
        elif cmd == "QUIT":
            c.send("221 2.0.0 Bye\r\n")
            return
        else:
            c.send("502 5.5.2 Error: command not recognized\r\n")


# ---------------------------------------------------------------- POP3

def pop3_caps(tls):
    sc = SCENARIO
    caps = ["TOP", "RESP-CODES"]
    if sc != "no-uidl":
        caps.append("UIDL")
    if not tls:
        if sc not in ("no-stls",):
            caps.append("STLS")
        if sc in ("no-stls", "stls-refused"):
            caps += ["USER", "SASL PLAIN"]   # bait
        if sc == "capa-changes":
            caps += ["USER", "PIPELINING", "SASL PLAIN"]
        return caps
    if sc == "capa-changes":
        # PIPELINING gone, and STLS offered again: neither may be used.
        return ["USER", "UIDL", "STLS"]
    if sc == "login-delay":
        caps.append("LOGIN-DELAY 900")
    if sc == "oauth":
        return caps + ["SASL OAUTHBEARER XOAUTH2 PLAIN"]
    if sc == "xoauth2":
        return caps + ["SASL XOAUTH2"]
    if sc in ("scram-plus", "scram-plus-mitm"):
        return caps + ["SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN"]
    return caps + ["USER", "SASL PLAIN"]


def b64d(text):
    return base64.b64decode(text.strip() or "=")


def b64e(data):
    return base64.b64encode(data).decode()


def oauth_login(c, mech, initial):
    """OAUTHBEARER (RFC 7628) or XOAUTH2: True when the token is the good
    one.  A bad one gets the error challenge, and its answer is read."""
    msg = b64d(initial).decode("utf-8", "replace")
    fields = dict(kv.split("=", 1) for kv in msg.split("\x01") if "=" in kv)
    token = fields.get("auth", "")
    user = fields.get("user") if mech == "XOAUTH2" else msg.split(",")[1][2:] if "," in msg else ""
    event(c.n, "%s user=%s host=%s" % (mech.lower(), user, fields.get("host", "-")))
    if token == "Bearer " + os.environ.get("FAKE_TOKEN", "") and user == os.environ.get("FAKE_USER"):
        return True
    c.send("+ " + b64e(b'{"status":"401","schemes":"bearer"}') + "\r\n")
    event(c.n, "%s answer to the error: %r" % (mech.lower(), c.readline()))
    return False


def scram_plus_login(c, initial):
    """SCRAM-SHA-256-PLUS (RFC 5802, RFC 5929 tls-unique) written from the
    RFC: True when the client proved the password over this TLS session."""
    password = os.environ["FAKE_PASSWORD"].encode()
    first = b64d(initial).decode()
    gs2, _, bare = first.partition(",,")
    gs2 += ",,"
    attrs = dict(kv.split("=", 1) for kv in bare.split(","))
    event(c.n, "scram gs2 header %s" % gs2.rstrip(","))
    salt, iters = os.urandom(16), 4096
    server_first = "r=%s%s,s=%s,i=%d" % (attrs["r"], b64e(os.urandom(12)), b64e(salt), iters)
    c.send("+ " + b64e(server_first.encode()) + "\r\n")
    final = b64d(c.readline()).decode()
    without_proof, _, proof = final.rpartition(",p=")
    cb = c.sock.get_channel_binding("tls-unique")
    if SCENARIO == "scram-plus-mitm":
        cb = bytes(b ^ 0x5a for b in cb)
    want_c = b64e(gs2.encode() + cb)
    got_c = dict(kv.split("=", 1) for kv in without_proof.split(","))["c"]
    salted = hashlib.pbkdf2_hmac("sha256", password, salt, iters)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    auth_msg = ("%s,%s,%s" % (bare, server_first, without_proof)).encode()
    sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
    proven = bytes(a ^ b for a, b in zip(b64d(proof), sig))
    if got_c != want_c:
        event(c.n, "scram channel binding differs")
        return False
    if hashlib.sha256(proven).digest() != stored:
        event(c.n, "scram proof wrong")
        return False
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    c.send("+ " + b64e(b"v=" + base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256).digest())) + "\r\n")
    c.readline()
    event(c.n, "scram-plus login with a matching channel binding")
    return True


def maildrop():
    if MAILDROP is None:
        return []
    out = []
    for name in sorted(os.listdir(MAILDROP)):
        with open(os.path.join(MAILDROP, name), "rb") as f:
            out.append((name, f.read()))
    return out


def dot_stuff(data):
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for l in lines:
        l = l.rstrip(b"\r")
        out.append((b"." + l if l.startswith(b".") else l) + b"\r\n")
    return b"".join(out)


def pop3_session(c):
    sc = SCENARIO
    first = c.n == 1
    if IMPLICIT:
        c.starttls()
    if sc == "greeting-err":
        c.send("-ERR [SYS/PERM] fake POP3: no service for you\r\n")
    elif sc == "greeting-garbage":
        c.send("* OK IMAP4rev1 fake server ready\r\n")
    else:
        c.send("+OK fake POP3 server ready\r\n")
    msgs = None    # the maildrop as seen at login: [(uidl, data)]
    marked = set()
    check_pipelining = sc == "capa-changes"
    while True:
        line = c.readline()
        cmd = line.split(" ", 1)[0].upper()
        event(c.n, "C " + (cmd if cmd in ("USER", "PASS", "AUTH", "APOP") else line))
        if cmd in ("USER", "PASS", "AUTH", "APOP"):
            event(c.n, "%s %s" % (cmd.lower(), "inside TLS" if c.tls else "IN THE CLEAR"))
        if msgs is not None and check_pipelining and c.pending(0.2):
            event(c.n, "pipelined " + cmd)
        if sc in ("greeting-err", "greeting-garbage"):
            c.send("-ERR no\r\n")
            continue
        if cmd == "CAPA":
            c.send("+OK Capability list follows\r\n"
                   + "".join(x + "\r\n" for x in pop3_caps(c.tls)) + ".\r\n")
        elif cmd == "STLS":
            if c.tls:
                c.send("-ERR already in TLS\r\n")
            elif sc == "stls-refused":
                c.send("-ERR [SYS/TEMP] TLS not available now\r\n")
            elif sc == "stls-inject":
                c.send("+OK Begin TLS negotiation\r\n+OK injected\r\n")
                event(c.n, "injected plaintext behind the +OK")
                c.starttls()
            else:
                c.send("+OK Begin TLS negotiation\r\n")
                c.starttls()
        elif cmd == "USER" and msgs is None:
            c.send("+OK\r\n")
        elif cmd == "AUTH" and msgs is None:
            parts = line.split()
            mech = parts[1].upper() if len(parts) > 1 else ""
            if mech in ("OAUTHBEARER", "XOAUTH2", "SCRAM-SHA-256-PLUS"):
                ok = (scram_plus_login(c, parts[2] if len(parts) > 2 else "")
                      if mech == "SCRAM-SHA-256-PLUS"
                      else oauth_login(c, mech, parts[2] if len(parts) > 2 else ""))
                if not ok:
                    c.send("-ERR [AUTH] authentication failed\r\n")
                    continue
            elif len(parts) < 3:
                c.send("+ \r\n")
                c.readline()
            with state_lock:
                msgs = [m for m in maildrop() if m[0] not in deleted]
            c.send("+OK logged in\r\n")
        elif cmd == "PASS" and msgs is None:
            with state_lock:
                msgs = [m for m in maildrop() if m[0] not in deleted]
            c.send("+OK logged in\r\n")
        elif cmd == "QUIT":
            with state_lock:
                for i in marked:
                    deleted.add(msgs[i - 1][0])
            if marked:
                event(c.n, "committed deletion of %s" % " ".join(
                    msgs[i - 1][0] for i in sorted(marked)))
            c.send("+OK bye\r\n")
            return
        elif msgs is None:
            c.send("-ERR not logged in\r\n")
        elif cmd == "STAT":
            live = [m for i, m in enumerate(msgs, 1) if i not in marked]
            c.send("+OK %d %d\r\n" % (len(live), sum(len(m[1]) for m in live)))
        elif cmd in ("LIST", "UIDL"):
            if cmd == "UIDL" and sc == "no-uidl":
                c.send("-ERR unknown command\r\n")
                continue
            if cmd == "UIDL" and sc == "cut-reply":
                c.send("+OK\r\n" + "".join("%d %s\r\n" % (i, m[0]) for i, m in enumerate(msgs, 1))[:-7])
                event(c.n, "cut the UIDL reply")
                return
            c.send("+OK\r\n" + "".join(
                "%d %s\r\n" % (i, m[0] if cmd == "UIDL" else len(m[1]))
                for i, m in enumerate(msgs, 1) if i not in marked) + ".\r\n")
        elif cmd in ("RETR", "DELE"):
            try:
                i = int(line.split()[1])
                assert 1 <= i <= len(msgs) and i not in marked
            except (IndexError, ValueError, AssertionError):
                c.send("-ERR no such message\r\n")
                continue
            if cmd == "DELE":
                marked.add(i)
                c.send("+OK marked\r\n")
                continue
            data = dot_stuff(msgs[i - 1][1])
            if sc == "retr-drop" and first and i == 2:
                half = data[:len(data) // 2]
                if half.endswith(b"\n"):
                    half = half[:-1]
                c.send(b"+OK %d octets\r\n" % len(msgs[i - 1][1]) + half)
                event(c.n, "dropped during RETR %d" % i)
                time.sleep(0.2)
                c.close()
                return
            c.send(b"+OK %d octets\r\n" % len(msgs[i - 1][1]) + data + b".\r\n")
        elif cmd == "RSET":
            marked.clear()
            c.send("+OK\r\n")
        elif cmd == "NOOP":
            c.send("+OK\r\n")
        else:
            c.send("-ERR unknown command\r\n")


# ---------------------------------------------------------------- main

def handle(sock, n, ctx):
    c = Conn(sock, n, ctx)
    event(n, "open")
    try:
        sock.settimeout(120)
        if SCENARIO == "silent":
            c.drain()
        elif KIND == "smtp":
            smtp_session(c)
        else:
            pop3_session(c)
    except Closed:
        event(n, "client closed")
    except Exception as e:   # a bug here must show in the events, not hang
        event(n, "fake server error: %r" % e)
    finally:
        c.close()
        event(n, "close")


def main():
    global conn_count
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if SCENARIO.startswith("scram-plus"):
        # Python exposes tls-unique only: TLS 1.2, no session tickets.
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.options |= ssl.OP_NO_TICKET
    ctx.load_cert_chain(CERT, KEY)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    for suffix in (".clear", ".tls", ".events"):
        open(LOG + suffix, "ab").close()
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    while True:
        sock, _ = srv.accept()
        with state_lock:
            conn_count += 1
            n = conn_count
        threading.Thread(target=handle, args=(sock, n, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
