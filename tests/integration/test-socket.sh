#!/usr/bin/env bash
# The agent's socket against a hostile local client (issue 11, parts 5, 6,
# 7, 9): JSON nested 80,000 deep; 70 idle connections; 64 clients passing
# both ends of one pipe; 250 descriptors in one message; a pipe that never
# gets data; a crash under a core-dumping setup; a message with 100,000
# attachments.  Meanwhile a legitimate client is answered at once (the times are printed),
# and `agent stop` ends in a few seconds.  Timings are printed.
source "$(dirname "$0")/lib.sh"

# Seconds a connection that sent a request must be idle before the agent
# closes it to make room (PST_SERVER_EVICT_IDLE_S, 10); a build with test
# hooks takes 2 from POSTERN_TEST_EVICT_IDLE_S (agent/server.c), and the
# holds below wait that long instead of 10 s, three times.
EVICT_IDLE_S=10
if [ "${POSTERN_TEST_HOOKS:-false}" = true ]; then
  EVICT_IDLE_S=2
  export POSTERN_TEST_EVICT_IDLE_S=$EVICT_IDLE_S
fi

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
H="$WORK/home-alice"
SOCK="$H/run/agent.sock"
pst alice agent start >/dev/null
agent_pid() { pgrep -f "posternd --home $H\$" | head -n 1 || true; }
ms() { date +%s%3N; }
# timed MAX_MS DESCRIPTION COMMAND...: the command succeeds within MAX_MS,
# and the time it took is printed.  The bounds are not speed tests: they
# sit far below what a locked-out client would wait (the 60 s idle timeout,
# the deadlines of stuck reads), so that a slow machine (ASan on two busy
# cores) never fails them while a regression always does.  The times a
# run measured are in the log ("# agent status: exit 0 in 41 ms").
timed() {
  local max=$1 what=$2 t0 t1 rc=0; shift 2
  t0=$(ms); "$@" >/dev/null 2>&1 || rc=$?; t1=$(ms)
  echo "# $what: exit $rc in $((t1 - t0)) ms"
  [ "$rc" = 0 ] && [ $((t1 - t0)) -le "$max" ]
}
# rpc.py: a raw client.  rpc.py SOCKET JSON_LINE [FD_SPEC]: sends the line
# (or the line in FILE, given as @FILE) with descriptors ("pipe-both",
# "pipe-read" or "many:N"), and prints the reply line.
cat > "$WORK/rpc.py" <<'PY'
import os, socket, sys, time
path, line = sys.argv[1], sys.argv[2].encode() + b"\n"
if line.startswith(b"@"):   # @FILE: the line is in FILE (too long for an argument)
    line = open(line[1:-1], "rb").read()
spec = sys.argv[3] if len(sys.argv) > 3 else ""
s = socket.socket(socket.AF_UNIX); s.connect(path)
keep = []
if spec == "pipe-both":
    r, w = os.pipe(); keep = [r, w]; socket.send_fds(s, [line], [r, w])
elif spec == "pipe-read":
    r, w = os.pipe(); keep = [r, w]; socket.send_fds(s, [line], [r])
elif spec.startswith("many:"):
    n = int(spec[5:]); fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(n)]
    socket.send_fds(s, [line], fds)
    for fd in fds: os.close(fd)
else:
    s.sendall(line)
f = s.makefile("rb")
t0 = time.monotonic()
reply = f.readline()
sys.stdout.write(reply.decode(errors="replace").strip() + "\n")
sys.stderr.write("# reply after %.1f s\n" % (time.monotonic() - t0))
PY
rpc() { python3 "$WORK/rpc.py" "$SOCK" "$@"; }

# ---- 5. nesting ----
python3 -c 'print("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hello\",\"params\":{\"x\":" + "[" * 80000 + "]" * 80000 + "}}")' > "$WORK/deep.json"
reply=$(rpc "@$WORK/deep.json" 2>/dev/null || true)
check "an 80,000-deep hello gets an error reply ($(printf %s "$reply" | head -c 160))" \
  bash -c 'printf "%s" "$1" | grep -q "\"error\".*nested deeper than 64"' _ "$reply"
check "… and the agent is alive" pst alice agent status

# ---- 6. idle connections ----
cat > "$WORK/hold.py" <<'PY'
import os, socket, sys, time
path, n, mode, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
held = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX); s.connect(path)
    try:
        if mode == "hello":
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{}}\n')
        elif mode in ("pipe-both", "pipe-read"):
            r, w = os.pipe()
            fds = [r, w] if mode == "pipe-both" else [r]
            socket.send_fds(s, [b'{"jsonrpc":"2.0","id":1,"method":"verify","params":{"fd":0}}\n'], fds)
            held += [r, w]
        # The answer (the hello's, the refusal of both ends of a pipe, or
        # "busy" past the cap) read before "ready": the connection's idle
        # time starts when its request ended, so the wait after "ready"
        # is all idle time, however slowly the agent answered.
        if mode in ("hello", "pipe-both"):
            s.makefile("rb").readline()
    except OSError:
        pass   # refused past the cap and closed before the request
    held.append(s)
open(ready, "w").write("ready\n")
time.sleep(600)
PY
hold() { # hold N MODE: N connections held in the background; HOLD_PID
  rm -f "$WORK/ready"
  python3 "$WORK/hold.py" "$SOCK" "$1" "$2" "$WORK/ready" & HOLD_PID=$!
  for _ in $(seq 1 600); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
  # Idle long enough to be made room from: PST_SERVER_EVICT_SILENT_S (1) for
  # a connection that never sent a request, EVICT_IDLE_S (above) after one.
  case $2 in idle) sleep 1.2 ;; *) sleep "$EVICT_IDLE_S.2" ;; esac
}
unhold() { kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true; }

hold 70 idle
check "70 idle connections: agent status answered at once" timed 10000 "agent status" pst alice agent status
check "… and list too" timed 10000 "list" pst alice list
unhold
hold 70 hello
check "70 connections idle after a hello: agent status answered at once" timed 10000 "agent status" pst alice agent status
unhold

# Both ends of one pipe as the message's descriptors: refused at once.
reply=$(rpc '{"jsonrpc":"2.0","id":7,"method":"verify","params":{"fd":0}}' pipe-both 2>/dev/null)
check "a pipe's read and write ends in one request are refused ($reply)" \
  bash -c 'printf "%s" "$1" | grep -q "\"id\":7.*same pipe"' _ "$reply"
hold 64 pipe-both
check "64 such clients: agent status answered at once" timed 10000 "agent status" pst alice agent status
# Three requests stuck on pipes whose writer (the client) never writes.
hold_both=$HOLD_PID
hold 3 pipe-read
check "… and with 3 requests stuck on silent pipes too" timed 10000 "agent status" pst alice agent status
pid=$(agent_pid)
check "agent stop finishes in seconds with stuck clients" timed 15000 "agent stop" pst alice agent stop
check "… and the agent process is gone" wait_gone "$pid" 30
unhold; HOLD_PID=$hold_both; unhold

# 250 descriptors in one message: refused, none kept.
pst alice agent start >/dev/null
pid=$(agent_pid)
sleep 0.2
before=$(ls "/proc/$pid/fd" | wc -l)
replies=""
for i in $(seq 1 20); do
  replies+=$(rpc '{"jsonrpc":"2.0","id":1,"method":"hello","params":{}}' many:250 2>/dev/null)$'\n'
done
sleep 0.3
after=$(ls "/proc/$pid/fd" | wc -l)
echo "# agent descriptors: $before before, $after after 20 messages of 250"
check "250 descriptors in one message are refused" \
  bash -c 'printf "%s" "$1" | grep -c "250 file descriptors passed with one line" | grep -qx 20' _ "$replies"
check "… and the agent's descriptor count is back to normal ($before → $after)" test "$after" -le $((before + 2))
check "… and the agent answers" timed 10000 "agent status" pst alice agent status

# A descriptor that never gets data: the request fails after the deadline.
pst alice agent stop >/dev/null
POSTERN_CLIENT_TIMEOUT=3 pst alice agent start >/dev/null
t0=$(ms)
reply=$(rpc '{"jsonrpc":"2.0","id":9,"method":"verify","params":{"fd":0}}' pipe-read 2>/dev/null)
t1=$(ms)
echo "# silent pipe: answered after $((t1 - t0)) ms: $reply"
check "a silent pipe fails after the deadline with a clear error" \
  bash -c 'printf "%s" "$1" | grep -q "\"id\":9.*no progress for 3 seconds"' _ "$reply"
check "… after about 3 seconds" test $((t1 - t0)) -ge 2500 -a $((t1 - t0)) -le 8000
t0=$(ms)
idle=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.makefile("rb").readline().decode().strip())' "$SOCK")
t1=$(ms)
echo "# a client that sends nothing: closed after $((t1 - t0)) ms: $idle"
check "a client that sends nothing is closed after the idle timeout" \
  test $((t1 - t0)) -ge 2500 -a $((t1 - t0)) -le 8000
pst alice agent stop >/dev/null

# ---- 7. no core file ----
crash_dir=$(mktemp -d "$WORK/crash.XXXXXX")
# Under AddressSanitizer the crash is the kernel's to handle, as in a
# release build: ASan's own SEGV report would read as a finding of the run.
(cd "$crash_dir" && ulimit -c unlimited \
   && ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0" pst alice agent start >/dev/null)
pid=$(agent_pid)
check "the agent's core size limit is 0, soft and hard" \
  bash -c 'grep -E "^Max core file size +0 +0 " "/proc/$1/limits"' _ "$pid"
pattern=$(cat /proc/sys/kernel/core_pattern)
cwd=$(readlink "/proc/$pid/cwd")
kill -SEGV "$pid"
wait_gone "$pid" || true
case $pattern in
  '|'*) echo "# core_pattern is a pipe ($pattern): relying on the limits check and PR_SET_DUMPABLE" ;;
  *)
    sleep 0.5
    cores=$(find "$cwd" "$crash_dir" -maxdepth 1 -name "$(basename "${pattern%%%*}")*" -newer "$WORK/rpc.py" 2>/dev/null | wc -l)
    check "no core file after SIGSEGV (core_pattern '$pattern', agent cwd $cwd)" test "$cores" = 0 ;;
esac
rm -f "$H/run/agent.sock"

# ---- 9. 100,000 attachments ----
python3 - "$ALICE_ADDR" > "$ALICE_MAILDIR/new/$(date +%s).many.socket" <<'PY'
import sys
out = sys.stdout
out.write("From: x@postern.test\r\nTo: %s\r\nSubject: many parts\r\nMessage-ID: <many@socket>\r\n"
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" % sys.argv[1])
out.write("--b\r\nContent-Type: text/plain\r\n\r\nMany-Parts-Body\r\n")
for i in range(100000):
    out.write("--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a%d.txt\"\r\n\r\n%d\r\n" % (i, i))
out.write("--b--\r\n")
PY
chown -R --reference="$ALICE_MAILDIR" "$ALICE_MAILDIR/new"
check "the 100,000-part message is fetched" pst alice fetch
id=$(pst alice --json list | python3 -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin)["messages"] if m.get("subject") == "many parts"][0])')
t0=$(ms)
pst alice show "$id" > "$WORK/many.txt" 2>"$WORK/many.err" && rc=0 || rc=$?
echo "# show of 100,000 attachments: exit $rc in $(( $(ms) - t0 )) ms"
check "show lists the first attachments and says how many more" \
  bash -c 'test "$1" = 0 && grep -q "a999.txt" "$2" && grep -q "… and 99000 more attachments not listed" "$2"' _ "$rc" "$WORK/many.txt"
check "show --json gives the total and the truncation" \
  bash -c '"$1" --home "$2" --json show "$3" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(not (d[\"attachments_total\"] == 100000 and d[\"attachments_truncated\"] and len(d[\"attachments\"]) == 1000))"' \
  _ "$POSTERN" "$H" "$id"
check "the last attachment is still reachable" \
  bash -c 'test "$("$1" --home "$2" attachment "$3" 99999 | tr -d "\r\n")" = 99999' _ "$POSTERN" "$H" "$id"

finish
