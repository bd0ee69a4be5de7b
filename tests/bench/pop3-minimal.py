#!/usr/bin/python3
"""A minimal pipelined POP3 client, the yardstick of bench-fetch.sh (not a tool for real use).

  pop3-minimal.py HOST PORT USER PASSWORD CA_FILE OUT_DIR

POP3S (implicit TLS, certificate checked against HOST), USER/PASS, UIDL, then RETR and DELE of every message
pipelined (a window of WINDOW messages ahead, default 1000: all of them at once), QUIT. Each message is written,
dot-unstuffed, to OUT_DIR/<msgno> (no fsync). Prints the number of messages fetched.
"""
import os
import socket
import ssl
import sys


def fail(msg):
    sys.exit("pop3-minimal.py: " + msg)


def main():
    if len(sys.argv) != 7:
        fail("usage: pop3-minimal.py HOST PORT USER PASSWORD CA_FILE OUT_DIR")
    host, port, user, password, ca_file, out_dir = sys.argv[1:]
    window = int(os.environ.get("WINDOW", "1000"))
    ctx = ssl.create_default_context(cafile=ca_file)
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname=host)
    f = s.makefile("rb", buffering=65536)

    def ok():
        line = f.readline()
        if not line.startswith(b"+OK"):
            fail("server said %r" % line)
        return line

    def multiline():
        lines = []
        while True:
            line = f.readline()
            if not line:
                fail("connection closed in a multi-line reply")
            if line == b".\r\n":
                return lines
            lines.append(line[1:] if line.startswith(b".") else line)

    ok()
    # USER and PASS pipelined too (RFC 2449 allows it once PIPELINING is known; Dovecot takes it).
    s.sendall(b"USER %s\r\nPASS %s\r\nUIDL\r\n" % (user.encode(), password.encode()))
    ok()
    ok()
    ok()
    msgnos = [int(line.split()[0]) for line in multiline()]

    def commands(nos):
        return b"".join(b"RETR %d\r\nDELE %d\r\n" % (n, n) for n in nos)

    sent = min(window, len(msgnos))
    s.sendall(commands(msgnos[:sent]) + (b"QUIT\r\n" if sent == len(msgnos) else b""))
    for i, n in enumerate(msgnos):
        ok()
        data = b"".join(multiline())
        with open(os.path.join(out_dir, str(n)), "wb") as out:
            out.write(data)
        ok()  # DELE
        outstanding = sent - i - 1
        if sent < len(msgnos) and outstanding <= window // 2:
            more = msgnos[sent:sent + window - outstanding]
            sent += len(more)
            s.sendall(commands(more) + (b"QUIT\r\n" if sent == len(msgnos) else b""))
    if not msgnos:
        s.sendall(b"QUIT\r\n")
    ok()  # QUIT: only now does the server expunge the deleted messages
    s.close()
    print(len(msgnos))


if __name__ == "__main__":
    main()
