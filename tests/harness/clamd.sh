#!/bin/bash
# clamd.sh start DIR | stop DIR — a throwaway ClamAV daemon in DIR/clamd,
# listening on a Unix socket, with a signature database written here: one
# signature, Postern.Test.EICAR, for the EICAR test string (clamd reports it
# as Postern.Test.EICAR.UNOFFICIAL).  `start` appends CLAMD_SOCKET to
# DIR/env when it exists and returns once the socket answers; `stop` ends it
# and is safe to repeat.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
D=$(cd "$2" && pwd)/clamd
case $1 in
start)
	mkdir -p "$D/db"
	hex=$(printf 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' | od -An -tx1 | tr -d ' \n')
	echo "Postern.Test.EICAR:0:*:$hex" >"$D/db/postern-test.ndb"
	cat >"$D/clamd.conf" <<-EOF2
	LocalSocket $D/clamd.sock
	DatabaseDirectory $D/db
	LogFile $D/clamd.log
	PidFile $D/clamd.pid
	Foreground yes
	EOF2
	clamd -c "$D/clamd.conf" </dev/null >/dev/null 2>&1 &
	echo $! >"$D/clamd.launcher"
	for _ in $(seq 1 300); do
		if [ -S "$D/clamd.sock" ] && python3 - "$D/clamd.sock" <<-'PY' 2>/dev/null; then
		import socket, sys
		s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
		s.sendall(b"zPING\0"); assert s.recv(16).startswith(b"PONG")
		PY
			[ -f "$(dirname "$D")/env" ] && printf 'export CLAMD_SOCKET=%q\n' "$D/clamd.sock" >>"$(dirname "$D")/env"
			exit 0
		fi
		sleep 0.1
	done
	echo "clamd.sh: clamd did not start; its log:" >&2
	tail -n 20 "$D/clamd.log" >&2 || true
	exit 1
	;;
stop)
	for f in "$D/clamd.pid" "$D/clamd.launcher"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	for _ in $(seq 1 50); do [ -S "$D/clamd.sock" ] || break; sleep 0.1; done
	rm -f "$D/clamd.pid" "$D/clamd.launcher"
	;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
