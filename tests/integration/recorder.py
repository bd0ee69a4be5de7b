"""A loopback TCP relay that records every byte the client sends.

Integration tests put it between Postern and a real server to prove that no
credential crosses a connection that is not protected (a stripped STARTTLS,
a failed certificate check).  Usage: recorder.py PORTFILE HOST PORT LOGFILE
It binds 127.0.0.1 on a free port, writes that port to PORTFILE, and relays
connections until killed.
"""
import socket
import sys
import threading


def pump(src, dst, log):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if log is not None:
                with open(log, "ab") as f:
                    f.write(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    portfile, host, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        client, _ = srv.accept()
        upstream = socket.create_connection((host, port))
        threading.Thread(target=pump, args=(client, upstream, log), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, None), daemon=True).start()


if __name__ == "__main__":
    main()
