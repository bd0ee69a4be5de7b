#!/usr/bin/env bash
# Benchmark (not a test): submission of N messages of 4 KiB through Dovecot's submission service behind an emulated
# round trip of RTT_MS (20 ms), in one run: postern (one agent; each message queued with `postern send`, timed from
# the first `send` until the server has accepted all N) against msmtp run once per message. Prints seconds, the
# measured RTT and the ratio (DESIGN.md §13, issue 4: target >= 5x).
#
#   tests/bench/bench-submit.sh [BUILD_DIR]         (default: build; run as root: it makes a network namespace)
#   N=200 TOOL_N=200 RTT_MS=20 SIZE=4096 TLS=smtps|starttls tests/bench/bench-submit.sh build
#
# Both use implicit TLS on the submissions port (TLS=starttls: STARTTLS on the submission port) through
# tests/bench/delay-relay.py, alice -> bob, each logging in with the best mechanism it has (postern: SCRAM-SHA-256).
# postern sends with --encrypt never --no-sign, so that only
# transport is measured. The bound is tests/bench/smtp-minimal.py: one session, one round trip per message (MAIL, RCPT
# and BDAT LAST with the message written together), over implicit TLS. msmtp sends TOOL_N messages (default N) and its time is scaled to N; TOOL_N=0 skips it.
# QUEUE_FIRST=1 times the sender alone: the N messages are queued while the account's server is unreachable, then
# the agent starts again with the server in place, and the time is from that start until the server has accepted
# all N (the minimal client's session set-up is in its time too).
# POSTERN_KEEP_BENCH=1 keeps the directory (logs) after the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# shellcheck source=tests/bench/lib-bench.sh
. "$here/lib-bench.sh"
bench_netns "$0" "$build"

N=${N:-200}
TOOL_N=${TOOL_N:-$N}
SIZE=${SIZE:-4096}
TLS=${TLS:-smtps}
export POSTERN_AGENT="${BENCH_AGENT:-$build/agent/posternd}"  # BENCH_AGENT: e.g. a wrapper that runs it under strace
P="$build/cli/postern"

trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bench_setup
case $TLS in
  smtps) port=$RELAY_SUBMISSIONS url=smtps://localhost:$RELAY_SUBMISSIONS ;;
  starttls) port=$RELAY_SUBMISSION url=smtp://localhost:$RELAY_SUBMISSION ;;
  *) echo "bench-submit: TLS is smtps or starttls" >&2; exit 2 ;;
esac

mkdir "$dir/in"
"$BENCH_PY" - "$dir/in" "$(( N > TOOL_N ? N : TOOL_N ))" "$SIZE" "$ALICE_ADDR" "$BOB_ADDR" <<-'EOF'
	import base64, email.utils, os, sys, time
	out, n, size, sender, rcpt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
	now = int(time.time())
	for i in range(1, n + 1):
	    head = ("From: Alice <%s>\nTo: Bob <%s>\nSubject: bench message %d\nDate: %s\n"
	            "Message-ID: <submit.%d.%d@postern.test>\n\n"
	            % (sender, rcpt, i, email.utils.formatdate(now), now, i)).encode()
	    text = base64.encodebytes(os.urandom(size))
	    with open(os.path.join(out, "m%d.eml" % i), "wb") as f:
	        f.write(head + text[:size - len(head) - 1] + b"\n")
	EOF

echo "machine: $(nproc) cores; $N messages of $SIZE bytes, alice -> bob, $TLS, via Dovecot submission (msmtp: $TOOL_N)"
rtt=$(bench_rtt "$RELAY_SUBMISSION")
echo "emulated round trip (delay-relay.py, RTT_MS=$RTT_MS), measured with SMTP NOOP: $rtt"

# --- the bound: one round trip per message (tests/bench/smtp-minimal.py, one session) ---
t0=$(now)
got=$("$BENCH_PY" "$here/smtp-minimal.py" localhost "$RELAY_SUBMISSIONS" "$ALICE_ADDR" "$ALICE_PASS" "$CA_FILE" \
  "$ALICE_ADDR" "$BOB_ADDR" $(seq -f "$dir/in/m%g.eml" 1 "$N"))
t1=$(now)
[ "$got" = "$N" ] || { echo "bench-submit: the minimal client had $got of $N accepted" >&2; exit 1; }
t_min=$(elapsed "$t0" "$t1")
echo "minimal client, one round trip per message (smtp-minimal.py, implicit TLS, BDAT): $t_min s"

# --- postern ---
home=$dir/home
bench_homes+=("$home")
pst() { "$P" --home "$home" "$@"; }
QUEUE_FIRST=${QUEUE_FIRST:-0}
pst account add bench --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "$([ "$QUEUE_FIRST" = 1 ] && echo smtps://localhost:9 || echo "$url")" \
  --pop3 "pop3s://localhost:$RELAY_POP3S" \
  --password-command "printf %s $ALICE_PASS" --ca-file "$CA_FILE" >/dev/null
pst agent start >/dev/null
db=$home/data/postern.db
count() {  # STATE
  sqlite3 -cmd '.timeout 5000' "$db" "SELECT count(*) FROM outbox WHERE state = '$1'"
}
t0=$(now)
for i in $(seq 1 "$N"); do
  pst send --encrypt never --no-sign "$dir/in/m$i.eml" >/dev/null
done
t_queued=$(now)
if [ "$QUEUE_FIRST" = 1 ]; then
  # The server put in place with the agent stopped (account set changes no
  # server), every entry due: the agent's start sends them all.
  pst agent stop >/dev/null
  sed -i "s|^smtp *= *smtps://localhost:9\$|smtp=$url|" "$home/config"
  sqlite3 "$db" "UPDATE outbox SET next_try = 0"
  t0=$(now)
  t_queued=$t0
  pst agent start >/dev/null
fi
deadline=$(( $(date +%s) + 60 + N * 2 ))
while :; do
  sent=$(count sent)
  [ "$sent" -lt "$N" ] || break
  if [ "$(count failed)" != 0 ] || [ "$(date +%s)" -gt "$deadline" ]; then
    echo "bench-submit: postern sent $sent of $N; outbox:" >&2
    sqlite3 "$db" "SELECT state, count(*), max(last_reply) FROM outbox GROUP BY state" >&2
    tail -n 20 "$home/data/posternd.log" >&2 || true
    exit 1
  fi
  sleep 0.02
done
t1=$(now)
t_pst=$(elapsed "$t0" "$t1")
if [ "$QUEUE_FIRST" = 1 ]; then
  echo "postern: $t_pst s (the sender alone: from the agent's start with $N queued until the last was accepted)"
else
  echo "postern: $t_pst s (queueing with $N x \`postern send --encrypt never --no-sign\`:" \
    "$(elapsed "$t0" "$t_queued") s;" \
    "last accepted $(elapsed "$t_queued" "$t1") s after the last send)"
fi
sessions=$(grep -c 'submission-login: Info: Login: user=<alice' "$DOVECOT_LOG" || true)
echo "postern used $((sessions - 1)) SMTP session(s)"
echo "postern vs one round trip per message ($t_min s): $(ratio "$t_pst" "$t_min" 2)x its time (target <= 1.15x)"

# --- msmtp, one run per message ---
t_ms=""
if [ "$TOOL_N" -gt 0 ]; then
  cat >"$dir/msmtprc" <<-EOF
	defaults
	tls on
	tls_trust_file $CA_FILE
	tls_starttls $([ "$TLS" = starttls ] && echo on || echo off)
	account bench
	host localhost
	port $port
	auth plain
	user $ALICE_ADDR
	password $ALICE_PASS
	from $ALICE_ADDR
	EOF
  chmod 600 "$dir/msmtprc"
  t0=$(now)
  for i in $(seq 1 "$TOOL_N"); do
    msmtp -C "$dir/msmtprc" -a bench "$BOB_ADDR" <"$dir/in/m$i.eml"
  done
  t1=$(now)
  t_ms=$(per_n "$(elapsed "$t0" "$t1")" "$TOOL_N" "$N")
  echo "msmtp $(msmtp --version | sed -n '1s/.*version //p'), once per message: $t_ms s$(scaled_note)"
  echo "RTT ${rtt%% (*}; N=$N"
  echo "postern vs msmtp: $(ratio "$t_ms" "$t_pst")x faster (target >= 5x)"
fi
table_row "SMTP submission, $N x $SIZE B, ${rtt%% (*} RTT" "$t_pst s" \
  "${t_ms:+msmtp $t_ms s; }one round trip per message $t_min s" "one round trip per message, $t_min s" \
  "$(ratio "$t_pst" "$t_min" 2)x the bound (target <= 1.15x)${t_ms:+; $(ratio "$t_ms" "$t_pst")x faster than msmtp (target >= 5x)}"
