#!/usr/bin/env python3
"""wkd-server.py ADDR PORT CERT KEY BADCERT BADKEY DOCROOT LOG READYFILE

A Web Key Directory for tests/integration/test-wkd.sh: HTTPS on ADDR:PORT,
files served from DOCROOT/HOST/PATH (the query ignored), every request
logged to LOG as "HOST PATH?QUERY STATUS".  Hosts whose name holds
"untrusted" get BADCERT (SNI); hosts with "slow" never answer; hosts with
"redirect" send a redirect to plain http.  Stops by itself after 10 minutes.
"""
import http.server
import os
import socket
import ssl
import sys
import threading
import time

addr, port, cert, key, badcert, badkey, docroot, logfile, ready = sys.argv[1:10]

good = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
good.minimum_version = ssl.TLSVersion.TLSv1_2
good.load_cert_chain(cert, key)
bad = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
bad.load_cert_chain(badcert, badkey)


def choose(sock, name, ctx):
    if name and "untrusted" in name:
        sock.context = bad


good.sni_callback = choose
log_lock = threading.Lock()


def log(line):
    with log_lock, open(logfile, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        self.request.settimeout(30)
        self.request.do_handshake()   # in this thread: a slow client holds no other
        super().setup()

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        path, _, query = self.path.partition("?")
        if "slow" in host:
            log("%s %s SLOW" % (host, self.path))
            time.sleep(60)
            return
        if "redirect" in host:
            log("%s %s 302" % (host, self.path))
            self.send_response(302)
            self.send_header("Location", "http://%s%s" % (host, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        fpath = os.path.normpath(os.path.join(docroot, host, path.lstrip("/")))
        if not fpath.startswith(os.path.join(docroot, host) + "/") or not os.path.isfile(fpath):
            log("%s %s 404" % (host, self.path))
            self.send_error(404)
            return
        body = open(fpath, "rb").read()
        log("%s %s 200" % (host, self.path))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, peer = self.socket.accept()
        return good.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), peer

    def handle_error(self, request, client_address):
        pass   # handshakes refused by the client, timeouts: expected here


server = Server((addr, int(port)), Handler)
threading.Timer(600, lambda: os._exit(0)).start()
open(ready, "w").write("ready\n")
server.serve_forever()
