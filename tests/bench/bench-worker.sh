#!/usr/bin/env bash
# Benchmark (not a test): the cost of the sandboxed analysis worker (agent/worker.h, issue 11), in one run, against
# the same analysis in the agent's own process (POSTERN_ANALYSIS_IN_PROCESS=1, honoured only by a build configured
# with -Dtest_hooks=true: the script refuses any other build). Prints, for the worker and in-process, the median of
# REPS (3) runs and the ratio worker / in-process of:
#  - a fetch of N (1000) messages of SIZE (4096) bytes over POP3S from the harness's Dovecot, downloaded, analysed
#    (one worker job per message) and deleted; each run with a fresh home and agent, the mailbox filled again;
#  - `postern --home H show ID` over M (200) of those messages, in ms per show (the CLI process included), and the
#    same shows over the agent's socket (the agent's own share); then ENC_SHOWS (50) shows of ENC (5) OpenPGP
#    messages encrypted to alice and signed by bob (made with gpg, tests/harness/gpg.sh keys; ENC=0 skips them).
# Runs alternate worker / in-process (the in-process run first in every other repetition), the agent restarted for
# each. After each run the script checks that the mode took effect (a zygote `posternd --analysis-worker` below the
# agent, or none) and that no message was left without a verdict or marked analysis-failed; at the end it prints the
# warnings of the agents' logs.
#
#   tests/bench/bench-worker.sh [BUILD_DIR]       (default: build; a -Dtest_hooks=true build; run as root: it makes
#                                                  a network namespace)
#   N=1000 SIZE=4096 REPS=3 M=200 ENC=5 ENC_SHOWS=50 tests/bench/bench-worker.sh build-bench
#
# The clients connect straight to Dovecot's POP3S port (on 127.0.0.1, by the name localhost): the emulated round
# trip is not the point here, and the relay that bench_setup starts (RTT_MS=0) stays idle. POSTERN_KEEP_BENCH=1
# keeps the directory (logs) after the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
RTT_MS=${RTT_MS:-0}
# shellcheck source=tests/bench/lib-bench.sh
. "$here/lib-bench.sh"

# Only a test-hooks build has the in-process baseline; another one would compare the worker with itself.
hooks=""
if command -v meson >/dev/null 2>&1; then
  hooks=$(meson introspect "$build" --buildoptions 2>/dev/null | "$BENCH_PY" -c '
import json, sys
print(next((str(o["value"]).lower() for o in json.load(sys.stdin) if o["name"] == "test_hooks"), ""))' || true)
fi
if [ -z "$hooks" ] && [ -f "$build/compile_commands.json" ]; then
  hooks=$(grep -q -- '-DPST_WORKER_TEST_HOOKS' "$build/compile_commands.json" && echo true || echo false)
fi
if [ "$hooks" != true ]; then
  echo "bench-worker: $build is not a -Dtest_hooks=true build (test_hooks: ${hooks:-unknown}): its agent ignores" \
    "POSTERN_ANALYSIS_IN_PROCESS, there is no baseline to compare with." >&2
  echo "  meson setup build-bench -Dtest_hooks=true && ninja -C build-bench && $0 build-bench" >&2
  exit 2
fi
for f in "$build/agent/posternd" "$build/cli/postern"; do
  [ -x "$f" ] || { echo "bench-worker: $f is missing: build it first (ninja -C $build)" >&2; exit 2; }
done
bench_netns "$0" "$build"

N=${N:-1000}
SIZE=${SIZE:-4096}
REPS=${REPS:-3}
M=${M:-200}
ENC=${ENC:-5}
ENC_SHOWS=${ENC_SHOWS:-50}
[ "$M" -le "$N" ] || { echo "bench-worker: M ($M) must not exceed N ($N)" >&2; exit 2; }
export POSTERN_AGENT="${BENCH_AGENT:-$build/agent/posternd}"
P="$build/cli/postern"

worker_cleanup() {
  local h
  for h in "${bench_homes[@]}"; do
    "$P" --home "$h" agent stop >/dev/null 2>&1 || true
  done
  if [ -n "$dir" ] && [ -d "$dir/g" ]; then
    "$root/tests/harness/gpg.sh" stop "$dir/g" >/dev/null 2>&1 || true
  fi
  bench_cleanup
}
trap worker_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bench_setup
mailbox=$ALICE_MAILDIR

# GnuPG homes for alice (whose agents read the mail) and bob (who signs the encrypted messages). Every agent of the
# run uses alice's, so that no run reads the caller's ~/.gnupg.
mkdir "$dir/g"
touch "$dir/g/env"
"$root/tests/harness/gpg.sh" init "$dir/g" >/dev/null
# shellcheck source=/dev/null
. "$dir/g/env"
export GNUPGHOME=$GNUPGHOME_ALICE

median() {  # DIGITS VALUE...
  "$BENCH_PY" -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[2:])):.{int(sys.argv[1])}f}")' "$@"
}
ms_per() {  # T0 T1 COUNT: milliseconds per item
  "$BENCH_PY" -c 'import sys; a, b, n = map(float, sys.argv[1:]); print(f"{(b - a) * 1000 / n:.2f}")' "$@"
}

# Fills the mailbox with COUNT plain messages; the previous fetch must have emptied it.
fill() {  # COUNT
  local left
  left=$(maildir_count "$mailbox")
  if [ "$left" != 0 ]; then
    echo "bench-worker: $left messages left on the server by the previous fetch" >&2
    exit 1
  fi
  bench_fill_maildir "$mailbox" "$1" "$SIZE"
}

# Starts the agent of HOME in MODE (worker | in-process), with the account if it has none yet.
start_agent() {  # HOME MODE
  local h=$1
  if [ "$2" = in-process ]; then
    POSTERN_ANALYSIS_IN_PROCESS=1 "$P" --home "$h" agent start >/dev/null
  else
    env -u POSTERN_ANALYSIS_IN_PROCESS "$P" --home "$h" agent start >/dev/null
  fi
  if [ ! -e "$h/.bench-account" ]; then
    "$P" --home "$h" account add bench --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
      --smtp "smtps://localhost:$SMTPS_PORT" --pop3 "pop3s://localhost:$POP3S_PORT" \
      --password-command "printf %s $ALICE_PASS" --ca-file "$CA_FILE" >/dev/null
    touch "$h/.bench-account"
  fi
}
agent_pid() {  # HOME
  "$P" --home "$1" agent status 2>/dev/null | sed -n 's/.*pid \([0-9]*\).*/\1/p'
}
# Fails unless the agent of HOME ran its analyses as MODE says: a zygote below it for the worker, none in-process.
check_mode() {  # HOME MODE
  local pid zygotes
  pid=$(agent_pid "$1")
  [ -n "$pid" ] || { echo "bench-worker: the agent of $1 is not running" >&2; exit 1; }
  zygotes=$(pgrep -P "$pid" -f -- '--analysis-worker' | wc -l || true)
  if [ "$2" = worker ] && [ "$zygotes" = 0 ]; then
    echo "bench-worker: the agent (pid $pid) ran no analysis worker in worker mode" >&2; exit 1
  fi
  if [ "$2" = in-process ] && [ "$zygotes" != 0 ]; then
    echo "bench-worker: the agent (pid $pid) started an analysis worker although POSTERN_ANALYSIS_IN_PROCESS=1" \
      "(was $build built with -Dtest_hooks=true?)" >&2
    exit 1
  fi
}
# Fails when a message of HOME's store has no verdict or is marked analysis-failed.
check_store() {  # HOME EXPECTED_COUNT
  local db=$1/data/postern.db total bad
  total=$(sqlite3 -cmd '.timeout 5000' "$db" 'SELECT count(*) FROM messages')
  bad=$(sqlite3 -cmd '.timeout 5000' "$db" \
    "SELECT count(*) FROM messages WHERE crypto_json IS NULL OR crypto_json LIKE '%\"analysis\":\"failed\"%'")
  if [ "$total" != "$2" ] || [ "$bad" != 0 ]; then
    echo "bench-worker: $1 holds $total messages (expected $2), $bad without a verdict or analysis-failed:" >&2
    sqlite3 "$db" "SELECT id, crypto_json FROM messages WHERE crypto_json IS NULL
                   OR crypto_json LIKE '%\"analysis\":\"failed\"%' LIMIT 5" >&2
    exit 1
  fi
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $N messages of $SIZE bytes, POP3S" \
  "straight to Dovecot; REPS=$REPS; show: M=$M plain, ENC=$ENC encrypted+signed x ENC_SHOWS=$ENC_SHOWS"

# --- fetch ---
# A fresh home per run: every run stores into an empty store, and starts its agent (and its zygote) anew.
fetch_worker=() fetch_inproc=() run=0
fetch_run() {  # MODE REP: sets t_run
  local h out got t0 t1
  run=$((run + 1))
  h=$dir/f$run
  bench_homes+=("$h")
  start_agent "$h" "$1"
  fill "$N"
  t0=$(now)
  out=$("$P" --home "$h" --json fetch --account bench)
  t1=$(now)
  got=$("$BENCH_PY" -c 'import json, sys; print(json.load(sys.stdin)["fetched"])' <<<"$out")
  if [ "$got" != "$N" ] || [ "$(maildir_count "$mailbox")" != 0 ]; then
    echo "bench-worker: fetch ($1) got $got of $N messages and left $(maildir_count "$mailbox") on the server" >&2
    exit 1
  fi
  check_mode "$h" "$1"
  check_store "$h" "$N"
  "$P" --home "$h" agent stop >/dev/null
  t_run=$(elapsed "$t0" "$t1")
  echo "fetch, repetition $2, $1: $t_run s"
}
for rep in $(seq "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order="worker in-process"; else order="in-process worker"; fi
  for mode in $order; do
    fetch_run "$mode" "$rep"
    if [ "$mode" = worker ]; then fetch_worker+=("$t_run"); else fetch_inproc+=("$t_run"); fi
  done
done

# --- show ---
# One home holding M plain messages and ENC encrypted ones, fetched (untimed) once.
S=$dir/show
bench_homes+=("$S")
start_agent "$S" worker
fill "$M"
if [ "$ENC" -gt 0 ]; then
  # Bob signs and encrypts to alice with gpg; PGP/MIME around it, LF line ends as Maildir files have.
  "$BENCH_PY" - "$mailbox" "$ENC" "$GNUPGHOME_BOB" "$BOB_ADDR" "$ALICE_ADDR" <<-'EOF'
	import base64, email.utils, os, subprocess, sys, time
	md, n, gnupg, sender, rcpt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
	now, pid = int(time.time()), os.getpid()
	for i in range(1, n + 1):
	    words = base64.b64encode(os.urandom(2200)).decode()
	    text = "\r\n".join(words[j:j + 72] for j in range(0, len(words), 72))
	    inner = "Content-Type: text/plain; charset=us-ascii\r\n\r\nEncrypted bench message %d.\r\n%s\r\n" % (i, text)
	    asc = subprocess.run(["gpg", "--homedir", gnupg, "--batch", "--no-tty", "--quiet", "--pinentry-mode",
	                          "loopback", "--passphrase", "", "--armor", "--sign", "--encrypt", "-r", rcpt, "-u",
	                          sender, "--trust-model", "always"],
	                         input=inner.encode(), stdout=subprocess.PIPE, check=True).stdout.decode()
	    msg = ("From: Bob <%s>\nTo: Alice <%s>\nSubject: bench encrypted %d\nDate: %s\n"
	           "Message-ID: <bench-enc.%d.%d.%d@postern.test>\nMIME-Version: 1.0\n"
	           'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"\n\n'
	           "--b1\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
	           "--b1\nContent-Type: application/octet-stream\n\n%s\n--b1--\n"
	           % (sender, rcpt, i, email.utils.formatdate(now), now, pid, i, asc.replace("\r\n", "\n")))
	    name = "%d.E%dP%d.bench" % (now, i, pid)
	    tmp = os.path.join(md, "tmp", name)
	    with open(tmp, "w") as f:
	        f.write(msg)
	    os.chown(tmp, 65534, 65534)
	    os.rename(tmp, os.path.join(md, "new", name))
	EOF
fi
got=$("$P" --home "$S" --json fetch --account bench | "$BENCH_PY" -c 'import json, sys; print(json.load(sys.stdin)["fetched"])')
[ "$got" = $((M + ENC)) ] || { echo "bench-worker: the show store fetched $got of $((M + ENC)) messages" >&2; exit 1; }
check_store "$S" $((M + ENC))
db=$S/data/postern.db
mapfile -t plain_ids < <(sqlite3 "$db" "SELECT id FROM messages WHERE subject LIKE 'bench message %' ORDER BY id")
enc_ids=()
if [ "$ENC" -gt 0 ]; then
  mapfile -t enc_ids < <(sqlite3 "$db" "SELECT id FROM messages WHERE subject LIKE 'bench encrypted %' ORDER BY id")
  # Every encrypted one: decrypted, and bob's good signature, matching From.
  ok=$(sqlite3 "$db" "SELECT count(*) FROM messages WHERE subject LIKE 'bench encrypted %'
                      AND crypto_json LIKE '%\"decryption\":\"ok\"%' AND crypto_json LIKE '%\"status\":\"good\"%'")
  if [ "$ok" != "$ENC" ]; then
    echo "bench-worker: $ok of $ENC encrypted messages were decrypted with a good signature:" >&2
    sqlite3 "$db" "SELECT id, crypto_json FROM messages WHERE subject LIKE 'bench encrypted %'" >&2
    exit 1
  fi
  # ENC_SHOWS shows, cycling over the ENC messages.
  enc_cycle=()
  for i in $(seq 0 $((ENC_SHOWS - 1))); do enc_cycle+=("${enc_ids[$((i % ENC))]}"); done
fi
[ "${#plain_ids[@]}" = "$M" ] || { echo "bench-worker: ${#plain_ids[@]} plain messages in the show store" >&2; exit 1; }
"$P" --home "$S" agent stop >/dev/null

# ms per `postern show ID`, over the IDs given.
cli_shows() {  # ID...
  local t0 t1 id
  t0=$(now)
  for id in "$@"; do
    "$P" --home "$S" show "$id" >/dev/null || { echo "bench-worker: postern show $id failed" >&2; exit 1; }
  done
  t1=$(now)
  ms_per "$t0" "$t1" "$#"
}
# ms per show call over one connection to the agent's socket (no CLI process), over the IDs given.
socket_shows() {  # ID...
  "$BENCH_PY" - "$S/run/agent.sock" "$@" <<-'EOF'
	import json, socket, sys, time
	s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
	ids = [int(a) for a in sys.argv[2:]]
	t0 = time.monotonic()
	for i, mid in enumerate(ids):
	    s.sendall(json.dumps({"jsonrpc": "2.0", "id": i, "method": "show", "params": {"id": mid}}).encode() + b"\n")
	    while (r := json.loads(f.readline())).get("id") != i:
	        pass  # a notification
	    if "result" not in r:
	        sys.exit("show %d: %s" % (mid, r))
	t1 = time.monotonic()
	print(f"{(t1 - t0) * 1000 / len(ids):.2f}")
	EOF
}
show_cli_w=() show_cli_i=() show_sock_w=() show_sock_i=() show_enc_w=() show_enc_i=() show_encs_w=() show_encs_i=()
for rep in $(seq "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order="worker in-process"; else order="in-process worker"; fi
  for mode in $order; do
    start_agent "$S" "$mode"
    # One show first: the zygote starts at the first job, and gpg-agent at the first decryption.
    "$P" --home "$S" show "${plain_ids[0]}" >/dev/null
    if [ "$ENC" -gt 0 ]; then "$P" --home "$S" show "${enc_ids[0]}" >/dev/null; fi
    check_mode "$S" "$mode"
    c=$(cli_shows "${plain_ids[@]}")
    k=$(socket_shows "${plain_ids[@]}")
    line="show, repetition $rep, $mode: postern show $c ms, over the socket $k ms"
    if [ "$ENC" -gt 0 ]; then
      e=$(cli_shows "${enc_cycle[@]}")
      es=$(socket_shows "${enc_cycle[@]}")
      line+="; encrypted+signed: postern show $e ms, over the socket $es ms"
    fi
    echo "$line"
    if [ "$mode" = worker ]; then
      show_cli_w+=("$c") show_sock_w+=("$k")
      if [ "$ENC" -gt 0 ]; then show_enc_w+=("$e") show_encs_w+=("$es"); fi
    else
      show_cli_i+=("$c") show_sock_i+=("$k")
      if [ "$ENC" -gt 0 ]; then show_enc_i+=("$e") show_encs_i+=("$es"); fi
    fi
    "$P" --home "$S" agent stop >/dev/null
  done
done

# --- the agents' logs ---
logs=("$dir"/f*/data/posternd.log "$S/data/posternd.log")
warnings=$(cat "${logs[@]}" 2>/dev/null | grep -aE 'WARNING|CRITICAL|critical|analysis failed|cannot|sandbox' || true)
if [ -n "$warnings" ]; then
  echo "agent logs: $(printf '%s\n' "$warnings" | wc -l) lines of warnings; the first ones:"
  printf '%s\n' "$warnings" | head -n 20 | sed 's/^/  /'
else
  echo "agent logs: no warning, no analysis failure (${#logs[@]} logs)"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- summary ---
fw=$(median 2 "${fetch_worker[@]}") fi=$(median 2 "${fetch_inproc[@]}")
cw=$(median 1 "${show_cli_w[@]}") ci=$(median 1 "${show_cli_i[@]}")
kw=$(median 2 "${show_sock_w[@]}") ki=$(median 2 "${show_sock_i[@]}")
echo
echo "== bench-worker: median of $REPS, worker / in-process =="
if [ $((SIZE % 1024)) = 0 ]; then size_text="$((SIZE / 1024)) KiB"; else size_text="$SIZE B"; fi
echo "fetch $N x $size_text: worker $fw s, in-process $fi s, ratio $(ratio "$fw" "$fi" 2)" \
  "($(ms_per 0 "$fw" "$N") vs $(ms_per 0 "$fi" "$N") ms per message)"
echo "show: worker $cw ms, in-process $ci ms, ratio $(ratio "$cw" "$ci" 2) (postern show, $M plain messages)"
echo "show over the socket: worker $kw ms, in-process $ki ms, ratio $(ratio "$kw" "$ki" 2) (the agent's share)"
if [ "$ENC" -gt 0 ]; then
  ew=$(median 1 "${show_enc_w[@]}") ei=$(median 1 "${show_enc_i[@]}")
  esw=$(median 1 "${show_encs_w[@]}") esi=$(median 1 "${show_encs_i[@]}")
  echo "show encrypted+signed (OpenPGP): worker $ew ms, in-process $ei ms, ratio $(ratio "$ew" "$ei" 2)" \
    "(postern show, $ENC_SHOWS shows of $ENC messages)"
  echo "show encrypted+signed over the socket: worker $esw ms, in-process $esi ms, ratio $(ratio "$esw" "$esi" 2)"
fi
