#!/usr/bin/python3
"""A minimal SMTP submission client, the yardstick of bench-submit.sh (not a tool for real use).

  smtp-minimal.py HOST PORT USER PASSWORD CA_FILE FROM TO FILE...

Implicit TLS (certificate checked against HOST), EHLO, AUTH PLAIN, then each FILE as one transaction in one round
trip: MAIL, RCPT and `BDAT <size> LAST` with the message written together (RFC 2920 PIPELINING, RFC 3030 CHUNKING,
both required), then the three replies read. That is the bound "one round trip per message": a client cannot have
the server's verdict on a message sooner. QUIT at the end. Prints the number of messages accepted.
"""
import base64
import socket
import ssl
import sys


def fail(msg):
    sys.exit("smtp-minimal.py: " + msg)


def main():
    if len(sys.argv) < 9:
        fail("usage: smtp-minimal.py HOST PORT USER PASSWORD CA_FILE FROM TO FILE...")
    host, port, user, password, ca_file, sender, rcpt = sys.argv[1:8]
    files = sys.argv[8:]
    ctx = ssl.create_default_context(cafile=ca_file)
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname=host)
    f = s.makefile("rb", buffering=65536)

    def reply(expect):
        lines = []
        while True:
            line = f.readline()
            if not line:
                fail("connection closed")
            lines.append(line)
            if line[3:4] != b"-":
                break
        if not line.startswith(expect):
            fail("server said %r" % b"".join(lines))
        return lines

    reply(b"220")
    s.sendall(b"EHLO bench.invalid\r\n")
    ehlo = b"".join(reply(b"250")).upper()
    if b"PIPELINING" not in ehlo or b"CHUNKING" not in ehlo:
        fail("the server offers no PIPELINING and CHUNKING")
    token = b"\0" + user.encode() + b"\0" + password.encode()
    s.sendall(b"AUTH PLAIN " + base64.b64encode(token) + b"\r\n")
    reply(b"235")
    accepted = 0
    for name in files:
        with open(name, "rb") as m:
            data = m.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        s.sendall(b"MAIL FROM:<%s> BODY=8BITMIME\r\nRCPT TO:<%s>\r\nBDAT %d LAST\r\n" %
                  (sender.encode(), rcpt.encode(), len(data)) + data)
        reply(b"250")
        reply(b"250")
        reply(b"250")
        accepted += 1
    s.sendall(b"QUIT\r\n")
    reply(b"221")
    s.close()
    print(accepted)


if __name__ == "__main__":
    main()
