#!/usr/bin/env bash
# Measurement (not a test): how many times the agent reads and parses one message on its way out (issue 12, "the
# send path's reads of a message counted"). For each BUILD_DIR given (e.g. the build before a change and the one
# after, in one run), one agent sends one message of SIZE (64 KiB) bytes, OpenPGP-less (--encrypt never --no-sign),
# with `postern send --wait` through the harness's Dovecot submission; gdb, attached to the agent, counts the calls
# of the functions that read or parse the message:
#   pst_fd_read_all         the client's descriptor read whole (send's input)
#   pst_mime_message_parse  a parse of a whole message (libetpan)
#   pst_store_outbox_open   a read of the queued message from the store (the sender)
#   pst_mime_has_8bit       a scan of a whole message for 8-bit bytes
# A function a build does not have is reported as such. Needs gdb and root (a network namespace).
#
#   tests/bench/bench-send-reads.sh BUILD_DIR [BUILD_DIR…]
#   SIZE=65536 tests/bench/bench-send-reads.sh /work/main/build build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
builds=()
for b in "${@:-$root/build}"; do builds+=("$(cd "$b" && pwd)"); done
build=${builds[0]}
RTT_MS=0
# shellcheck source=tests/bench/lib-bench.sh
. "$here/lib-bench.sh"
bench_netns "$0" "${builds[@]}"
command -v gdb >/dev/null || { echo "bench-send-reads: needs gdb" >&2; exit 1; }

SIZE=${SIZE:-65536}
funcs=(pst_fd_read_all pst_mime_message_parse pst_store_outbox_open pst_mime_has_8bit)
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bench_setup

"$BENCH_PY" - "$dir/m.eml" "$SIZE" "$ALICE_ADDR" "$BOB_ADDR" <<-'PY'
	import base64, os, sys
	out, size, sender, rcpt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
	head = ("From: Alice <%s>\nTo: Bob <%s>\nSubject: reads\nMessage-ID: <reads@postern.test>\n\n"
	        % (sender, rcpt)).encode()
	text = base64.encodebytes(os.urandom(size))
	open(out, "wb").write(head + text[:size - len(head) - 1] + b"\n")
	PY

echo "one message of $SIZE bytes, sent with postern send --wait; calls counted by gdb in the agent"
printf '%-40s' "build"; printf ' %22s' "${funcs[@]}"; echo
n=0
for b in "${builds[@]}"; do
  n=$((n + 1))
  home=$dir/home$n
  bench_homes+=("$home")
  P="$b/cli/postern"
  "$P" --home "$home" account add bench --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
    --smtp "smtps://localhost:$RELAY_SUBMISSIONS" --pop3 "pop3s://localhost:$RELAY_POP3S" \
    --password-command "printf %s $ALICE_PASS" --ca-file "$CA_FILE" >/dev/null
  POSTERN_AGENT="$b/agent/posternd" "$P" --home "$home" agent start >/dev/null
  pid=$(pgrep -f "posternd --home $home\$" | head -n 1)
  {
    echo "set breakpoint pending off"
    for f in "${funcs[@]}"; do printf 'break %s\ncommands\nsilent\ncontinue\nend\n' "$f"; done
    echo "continue"
    echo "info breakpoints"
  } > "$dir/count.gdb"
  gdb -q -batch -p "$pid" -x "$dir/count.gdb" > "$dir/gdb$n.log" 2>&1 &
  gdb_pid=$!
  # gdb is attached once the agent is stopped (state t) and running again.
  for _ in $(seq 1 200); do grep -q "Continuing" "$dir/gdb$n.log" 2>/dev/null && break; sleep 0.05; done
  "$P" --home "$home" send --wait --encrypt never --no-sign "$dir/m.eml" >/dev/null
  "$P" --home "$home" agent stop >/dev/null
  wait "$gdb_pid" || true
  printf '%-40s' "$b"
  for f in "${funcs[@]}"; do
    # "breakpoint already hit N times" follows the breakpoint's line; none: never called.
    count=$("$BENCH_PY" - "$dir/gdb$n.log" "$f" <<-'PY'
	import re, sys
	text = open(sys.argv[1]).read().splitlines()
	name = sys.argv[2]
	for i, line in enumerate(text):
	    if re.search(r"\bin %s\b" % re.escape(name), line):
	        for nxt in text[i + 1:i + 4]:
	            m = re.search(r"already hit (\d+) time", nxt)
	            if m:
	                print(m.group(1)); break
	        else:
	            print(0)
	        break
	else:
	    print("absent" if re.search(r"Function \"%s\" not defined" % re.escape(name), "\n".join(text)) else "?")
	PY
    )
    printf ' %22s' "$count"
  done
  echo
done
