# Sourced by the memory tests (test-memory-*.sh, issue 16) after lib.sh:
# an agent's peak resident memory (VmHWM, reset through /proc/PID/clear_refs)
# checked against MEMORY_BOUND_MIB (64) over the peak of the same agent
# idle, a bound that does not grow with the message.  Not timed: the time a
# step took is printed, never checked.

BOUND_MIB=${MEMORY_BOUND_MIB:-64}
# Under AddressSanitizer (the CI's sanitizer run) freed memory waits in a
# quarantine of 256 MiB before it is reused, which a stream that allocates
# and frees its buffers as it goes fills: the agents these tests start get a
# small one, so that what is measured is the code's memory, not the
# quarantine's.  Without ASan the variable does nothing.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"

declare -A MEMORY_PID=() MEMORY_IDLE=()

agent_pid() { pst "$1" agent status 2>/dev/null | sed -n 's/.*pid \([0-9]*\).*/\1/p'; }
kib() { awk -v f="$2" '$1 == f ":" { print $2 }' "/proc/$1/status"; }

# memory_watch WHO...: notes the pid of each user's agent (which must run)
# and, the first time, its peak as the idle peak.  Call it again after an agent was started anew: the idle peak first
# noted stays, so the bound does not move.
memory_watch() {
  local who
  for who; do
    MEMORY_PID[$who]=$(agent_pid "$who")
    if [ -z "${MEMORY_PID[$who]}" ]; then
      echo "# $who's agent does not run"
      return 1
    fi
    if [ -z "${MEMORY_IDLE[$who]:-}" ]; then
      MEMORY_IDLE[$who]=$(kib "${MEMORY_PID[$who]}" VmHWM)
      echo "# $who's agent idle: VmHWM $((MEMORY_IDLE[$who] / 1024)) MiB; bound +$BOUND_MIB MiB"
    fi
  done
}

# within_bound WHO WHAT COMMAND...: runs COMMAND with the peak of WHO's
# agent reset before; true when COMMAND succeeded and the peak stayed
# within the bound.
within_bound() {
  local who=$1 what=$2 peak t0 rc=0; shift 2
  echo 5 > "/proc/${MEMORY_PID[$who]}/clear_refs"
  t0=$(date +%s%N)
  "$@" || rc=$?
  peak=$(kib "${MEMORY_PID[$who]}" VmHWM)
  echo "# $what: $who's agent VmHWM $((peak / 1024)) MiB" \
    "(idle $((MEMORY_IDLE[$who] / 1024)) MiB), $(( ($(date +%s%N) - t0) / 1000000 )) ms, exit $rc"
  [ "$rc" = 0 ] && [ "$peak" -lt $((MEMORY_IDLE[$who] + BOUND_MIB * 1024)) ]
}

# body_sum [FILE]: sha256 of the body of the entity in FILE (standard input
# without one): what follows its first empty line, each line's CR before
# its LF (and one at the very end) dropped.  Read in blocks of 1 MiB: the
# sed, tr and sha256sum pipeline it replaces took twice the CPU on 272 MB.
body_sum() {
  python3 -c '
import hashlib, sys
f = open(sys.argv[1], "rb") if len(sys.argv) > 1 else sys.stdin.buffer
for line in f:
    if line in (b"\n", b"\r\n"):
        break
h = hashlib.sha256()
carry = b""
while True:
    block = f.read(1 << 20)
    if not block:
        break
    block = carry + block
    carry = b"\r" if block.endswith(b"\r") else b""
    h.update(block[:len(block) - len(carry)].replace(b"\r\n", b"\n"))
print(h.hexdigest())' "$@"
}
