#!/usr/bin/env bash
# Benchmark (not a test): POP3 fetch of N messages of 4 KiB, downloaded and deleted, behind an emulated round trip
# of RTT_MS (20 ms), in one run: postern, fetchmail, getmail6 and a minimal pipelined client (pop3-minimal.py).
# Prints seconds for each, the measured RTT and the ratios (DESIGN.md §13, issue 4): postern against the best of
# fetchmail and getmail6 (target >= 10x faster) and against the minimal client (target: within 1.3x, DESIGN.md §13). Then the share
# of resumed TLS handshakes over RESUME_N (20) consecutive postern fetches (target >= 90%), as the relay sees them.
#
#   tests/bench/bench-fetch.sh [BUILD_DIR]          (default: build; run as root: it makes a network namespace)
#   N=1000 TOOL_N=1000 RTT_MS=20 SIZE=4096 TOOLS="fetchmail getmail" RESUME_N=20 tests/bench/bench-fetch.sh build
#
# All clients use POP3S (implicit TLS) through tests/bench/delay-relay.py to the harness's Dovecot, and delete what
# they fetched. fetchmail and getmail6 fetch TOOL_N messages (default N; their cost per message is constant, so
# fewer suffice for a quick run) and their time is scaled to N. TOOLS= (empty) skips them.
# fetchmail writes into a BSMTP file (no MDA process per message); getmail6 into a Maildir, as an unprivileged
# user (it refuses to deliver as root); the minimal client writes one file per message without fsync.
# POSTERN_KEEP_BENCH=1 keeps the directory (logs) after the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# shellcheck source=tests/bench/lib-bench.sh
. "$here/lib-bench.sh"
bench_netns "$0" "$build"

N=${N:-1000}
TOOL_N=${TOOL_N:-$N}
SIZE=${SIZE:-4096}
TOOLS=${TOOLS-fetchmail getmail}
RESUME_N=${RESUME_N:-20}
export POSTERN_AGENT="${BENCH_AGENT:-$build/agent/posternd}"  # BENCH_AGENT: e.g. a wrapper that runs it under strace
P="$build/cli/postern"

trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bench_setup
mailbox=$ALICE_MAILDIR

# Fills the mailbox with COUNT messages; the previous client must have emptied it.
fill() {  # COUNT
  local left
  left=$(maildir_count "$mailbox")
  if [ "$left" != 0 ]; then
    echo "bench-fetch: $left messages left on the server by the previous client" >&2
    exit 1
  fi
  bench_fill_maildir "$mailbox" "$1" "$SIZE"
}
# Checks that a client fetched COUNT messages and left none on the server.
check() {  # NAME COUNT GOT
  if [ "$3" != "$2" ] || [ "$(maildir_count "$mailbox")" != 0 ]; then
    echo "bench-fetch: $1 fetched $3 of $2 messages and left $(maildir_count "$mailbox") on the server" >&2
    exit 1
  fi
}

echo "machine: $(nproc) cores; $N messages of $SIZE bytes, POP3S, downloaded and deleted (fetchmail, getmail6: $TOOL_N)"
rtt=$(bench_rtt "$RELAY_POP3")
echo "emulated round trip (delay-relay.py, RTT_MS=$RTT_MS), measured with POP3 CAPA: $rtt"

# --- the minimal pipelined client ---
fill "$N"
mkdir "$dir/minimal"
t0=$(now)
got=$("$BENCH_PY" "$here/pop3-minimal.py" localhost "$RELAY_POP3S" "$ALICE_ADDR" "$ALICE_PASS" "$CA_FILE" \
  "$dir/minimal")
t1=$(now)
check "the minimal client" "$N" "$got"
t_min=$(elapsed "$t0" "$t1")
echo "minimal pipelined client (pop3-minimal.py): $t_min s"

# --- postern ---
home=$dir/home
bench_homes+=("$home")
pst() { "$P" --home "$home" "$@"; }
fetched() { "$BENCH_PY" -c 'import json, sys; print(json.load(sys.stdin)["fetched"])' <<<"$1"; }
pst account add bench --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtps://localhost:$RELAY_SUBMISSIONS" --pop3 "pop3s://localhost:$RELAY_POP3S" \
  --password-command "printf %s $ALICE_PASS" --ca-file "$CA_FILE" >/dev/null
pst agent start >/dev/null
fill "$N"
t0=$(now)
out=$(pst --json fetch --account bench)
t1=$(now)
got=$(fetched "$out")
check postern "$N" "$got"
t_pst=$(elapsed "$t0" "$t1")
echo "postern fetch: $t_pst s"

# --- TLS session resumption: RESUME_N consecutive fetches of one message each, by a freshly started agent ---
resumed="" full=""
if [ "$RESUME_N" -gt 0 ]; then
  pst agent stop >/dev/null
  pst agent start >/dev/null
  before=$(wc -l <"$dir/tls.log")
  for _ in $(seq "$RESUME_N"); do
    fill 1
    got=$(fetched "$(pst --json fetch --account bench)")
    check "postern (resumption run)" 1 "$got"
  done
  resumed=$(tail -n +"$((before + 1))" "$dir/tls.log" | grep -c "^$RELAY_POP3S resumed" || true)
  full=$(tail -n +"$((before + 1))" "$dir/tls.log" | grep -c "^$RELAY_POP3S full" || true)
  echo "TLS handshakes over $RESUME_N consecutive postern fetches (the first by a fresh agent): $resumed resumed," \
    "$full full ($(tail -n 1 "$dir/tls.log" | cut -d' ' -f3))"
fi

# --- fetchmail ---
best="" best_name=""
if [[ " $TOOLS " == *" fetchmail "* ]]; then
  fill "$TOOL_N"
  mkdir -m 700 "$dir/fm"
  cat >"$dir/fm/rc" <<-EOF
	set no bouncemail
	set no syslog
	poll localhost service $RELAY_POP3S protocol POP3 timeout 120:
	  user "$ALICE_ADDR" there with password "$ALICE_PASS" is root here
	  options ssl sslcertck sslcertfile "$CA_FILE" fetchall nokeep
	EOF
  chmod 600 "$dir/fm/rc"
  t0=$(now)
  FETCHMAILHOME=$dir/fm fetchmail --silent --nodetach -f "$dir/fm/rc" --idfile "$dir/fm/ids" \
    --pidfile "$dir/fm/pid" --bsmtp "$dir/fm/out.bsmtp" >"$dir/fm/log" 2>&1 || {
      echo "fetchmail failed:" >&2; cat "$dir/fm/log" >&2; exit 1; }
  t1=$(now)
  check fetchmail "$TOOL_N" "$(grep -c '^MAIL FROM:' "$dir/fm/out.bsmtp" || true)"
  t_fm=$(per_n "$(elapsed "$t0" "$t1")" "$TOOL_N" "$N")
  echo "fetchmail $(fetchmail --version 2>/dev/null | sed -n 's/.*release \([^+ ]*\).*/\1/p'): $t_fm s$(scaled_note)"
  best=$t_fm best_name=fetchmail
fi

# --- getmail6 ---
if [[ " $TOOLS " == *" getmail "* ]]; then
  fill "$TOOL_N"
  mkdir -p "$dir/gm/Maildir/new" "$dir/gm/Maildir/cur" "$dir/gm/Maildir/tmp"
  cat >"$dir/gm/getmailrc" <<-EOF
	[retriever]
	type = SimplePOP3SSLRetriever
	server = localhost
	port = $RELAY_POP3S
	username = $ALICE_ADDR
	password = $ALICE_PASS
	ca_certs = $CA_FILE

	[destination]
	type = Maildir
	path = $dir/gm/Maildir/

	[options]
	delete = true
	read_all = true
	verbose = 0
	EOF
  chown -R 65534:65534 "$dir/gm"
  chmod 600 "$dir/gm/getmailrc"
  t0=$(now)
  HOME=$dir/gm setpriv --reuid=65534 --regid=65534 --clear-groups \
    getmail --getmaildir "$dir/gm" --rcfile getmailrc >"$dir/gm.log" 2>&1 || {
      echo "getmail failed:" >&2; cat "$dir/gm.log" >&2; exit 1; }
  t1=$(now)
  check getmail6 "$TOOL_N" "$(maildir_count "$dir/gm/Maildir")"
  t_gm=$(per_n "$(elapsed "$t0" "$t1")" "$TOOL_N" "$N")
  echo "getmail6 $(getmail --version 2>/dev/null | awk '{print $2}'): $t_gm s$(scaled_note)"
  if [ -z "$best" ] || less "$t_gm" "$best"; then
    best=$t_gm best_name=getmail6
  fi
fi

echo "RTT ${rtt%% (*}; N=$N"
if [ -n "$best" ]; then
  echo "postern vs best of fetchmail/getmail6 ($best_name, $best s): $(ratio "$best" "$t_pst")x faster (target >= 10x)"
fi
echo "postern vs minimal pipelined client ($t_min s): $(ratio "$t_pst" "$t_min" 2)x its time (target <= 1.3x)"
side="minimal pipelined client $t_min s"
verdict="$(ratio "$t_pst" "$t_min" 2)x the minimal client (target <= 1.3x)"
if [ -n "$best" ]; then
  side="$best_name $best s; $side"
  verdict="$verdict; $(ratio "$best" "$t_pst")x faster than $best_name (target >= 10x)"
fi
table_row "POP3S fetch, $N x $SIZE B, ${rtt%% (*} RTT" "$t_pst s" "$side" "the minimal client, $t_min s" "$verdict"
if [ -n "$resumed" ]; then
  echo "postern TLS resumption: $resumed of $((resumed + full)) handshakes resumed," \
    "$(( (resumed + full) > 0 ? 100 * resumed / (resumed + full) : 0 ))% (target >= 90%)"
  table_row "repeated POP3S checks, $RESUME_N fetches by a fresh agent" "$resumed of $((resumed + full)) resumed" \
    "a full handshake each" "" "$(( (resumed + full) > 0 ? 100 * resumed / (resumed + full) : 0 ))% (target >= 90%)"
fi
