# shellcheck shell=bash
# lib-bench.sh — sourced by bench-fetch.sh and bench-submit.sh (not run on its own).
#
# The transport benchmarks run in a network namespace of their own (so every address exists only inside it), with
# the throwaway provider of tests/harness behind tests/bench/delay-relay.py, a user-space TCP relay that holds
# every chunk for RTT/2 in each direction (these kernels have no netem; DESIGN.md §13). Clients connect to the
# relay's ports on 127.0.0.1, by the name "localhost" (the provider's certificate has DNS:localhost and
# IP:127.0.0.1; fetchmail matches names only).
#
# The caller sets here, root and build, calls bench_netns "$0" "$@" first, then bench_setup; cleanup is a trap.
# Extra things to stop: append postern homes to bench_homes, pids to bench_pids.

# shellcheck disable=SC2154 # here, root and build are the caller's
BENCH_PY=/usr/bin/python3; [ -x "$BENCH_PY" ] || BENCH_PY=python3  # Debian's python: a pyenv shim is slower
RTT_MS=${RTT_MS:-20}
# The namespace is ours alone: fixed port numbers cannot collide.
RELAY_POP3=1110 RELAY_POP3S=1995 RELAY_SUBMISSION=1587 RELAY_SUBMISSIONS=1465
bench_homes=()
bench_pids=()
bench_relay_pid=""
dir=""

# Re-runs the calling script in a new network namespace (needs root), unless already there; brings lo up.
bench_netns() {  # "$0" "$@"
  if [ -z "${POSTERN_BENCH_NETNS:-}" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "$(basename "$1"): needs root (it makes a network namespace with unshare --net)" >&2
      exit 1
    fi
    export POSTERN_BENCH_NETNS=1
    exec unshare --net -- "$BASH" "$@"
  fi
  ip link set lo up
}

bench_cleanup() {
  local h p
  trap '' INT TERM
  for h in "${bench_homes[@]}"; do
    "$build/cli/postern" --home "$h" agent stop >/dev/null 2>&1 || true
  done
  for p in "${bench_pids[@]}" $bench_relay_pid; do
    kill "$p" 2>/dev/null || true
  done
  if [ -n "$dir" ]; then
    "$root/tests/harness/provider.sh" stop "$dir/p" >/dev/null 2>&1 || true
    if [ "${POSTERN_KEEP_BENCH:-}" = 1 ]; then
      echo "kept $dir (logs: $dir/p/dovecot.log, $dir/*/data/posternd.log, $dir/*.log)" >&2
    else
      rm -rf "$dir"
    fi
  fi
}

now() { date +%s.%N; }
elapsed() { "$BENCH_PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
# ratio A B [DIGITS]: A / B
ratio() {
  "$BENCH_PY" -c "import sys; a, b, d = sys.argv[1:]; print(f'{float(a) / float(b):.{int(d)}f}')" "$1" "$2" "${3:-1}"
}
# less A B: A < B (decimal numbers)
less() { "$BENCH_PY" -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$1" "$2"; }
# " (scaled from TOOL_N messages)" when the baseline tool ran on another count than N
scaled_note() { [ "$TOOL_N" = "$N" ] || echo " (scaled from $TOOL_N messages)"; }
# table_row WORK POSTERN SIDE_BY_SIDE BOUND VERDICT: one row of issue 16's table, which bench-table.sh collects
# (lines that begin "table|").
table_row() { printf 'table|%s|%s|%s|%s|%s\n' "$@"; }
# per_n SECONDS COUNT N: SECONDS scaled from COUNT messages to N
per_n() { "$BENCH_PY" -c "import sys; s, c, n = map(float, sys.argv[1:]); print(f'{s / c * n:.2f}')" "$1" "$2" "$3"; }

# Starts the provider in $dir/p and the relay in front of its POP3, POP3S, submission and submissions ports; exports
# the provider's env. $dir is made here (short: Unix socket paths live below it). The relay appends a line
# "PORT resumed|full TLSv1.x" to $dir/tls.log for each implicit-TLS connection.
bench_setup() {
  dir=$(mktemp -d /tmp/pst-bn.XXXXXX)
  chmod 711 "$dir"  # Dovecot, Postfix and the unprivileged getmail go through it
  mkdir "$dir/p"
  "$root/tests/harness/provider.sh" start "$dir/p" >/dev/null
  set -a
  # shellcheck source=/dev/null
  . "$dir/p/env"
  set +a
  "$BENCH_PY" "$here/delay-relay.py" relay --rtt-ms "$RTT_MS" --ready-file "$dir/relay.ready" --tls-log "$dir/tls.log" \
    "127.0.0.1:$RELAY_POP3=127.0.0.1:$POP3_PORT" "127.0.0.1:$RELAY_POP3S=127.0.0.1:$POP3S_PORT" \
    "127.0.0.1:$RELAY_SUBMISSION=127.0.0.1:$SMTP_PORT" "127.0.0.1:$RELAY_SUBMISSIONS=127.0.0.1:$SMTPS_PORT" \
    >"$dir/relay.log" 2>&1 &
  bench_relay_pid=$!
  local _
  for _ in $(seq 200); do
    [ -e "$dir/relay.ready" ] && return 0
    kill -0 "$bench_relay_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "the delay relay did not start:" >&2
  cat "$dir/relay.log" >&2
  exit 1
}

# Prints the round trip measured through the relay to the server at PORT (a plain POP3 or SMTP port of the relay).
bench_rtt() {  # PORT
  "$BENCH_PY" "$here/delay-relay.py" rtt 127.0.0.1 "$1" 20
}

# Puts N messages of exactly SIZE bytes (LF line ends, as Maildir files are) into MAILDIR/new, owned like the
# provider's mail. Unique Message-IDs; bodies of random base64.
bench_fill_maildir() {  # MAILDIR N SIZE
  "$BENCH_PY" - "$@" <<-'EOF'
	import base64, email.utils, os, sys, time
	md, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	now, pid = int(time.time()), os.getpid()
	for i in range(1, n + 1):
	    head = ("From: Bench Sender <bench@example.org>\nTo: alice@postern.test\nSubject: bench message %d\n"
	            "Date: %s\nMessage-ID: <bench.%d.%d.%d@example.org>\nMIME-Version: 1.0\n"
	            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
	            % (i, email.utils.formatdate(now), now, pid, i)).encode()
	    text = base64.encodebytes(os.urandom(size))  # 76-column lines, more than enough
	    body = text[:size - len(head) - 1] + b"\n"
	    name = "%d.M%dP%d.bench" % (now, i, pid)
	    tmp = os.path.join(md, "tmp", name)
	    with open(tmp, "wb") as f:
	        f.write(head + body)
	    os.chown(tmp, 65534, 65534)
	    os.rename(tmp, os.path.join(md, "new", name))
	EOF
}

# Number of messages in a Maildir (new and cur).
maildir_count() {  # MAILDIR
  find "$1/new" "$1/cur" -type f | wc -l
}
