#!/bin/bash
# harness-test.sh — tests of the harness itself (not run under with-provider.sh):
#   two providers at once (different ports, both pass selftest.sh); nothing left running after with-provider.sh
#   exits; SIGINT and SIGTERM in the middle of selftest.sh clean up; provider.sh stop after a failed start and
#   twice in a row.
# Prints one line per check; exits non-zero if any failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/pht.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failed=1; }

# shellcheck disable=SC2016 # expanded by the shell under with-provider.sh
# Run under with-provider.sh: note what a run started, so that we can look for leftovers afterwards.
record='echo "$PROVIDER_DIR $(cat $PROVIDER_DIR/postfix/spool/pid/master.pid | tr -dc 0-9)'\
' $(cat $PROVIDER_DIR/dovecot/run/master.pid) $SMTP_PORT $POP3_PORT $POP3S_PORT $SMTPS_PORT $RELAY_PORT"'

# Live (non-zombie) processes that belong to a recorded run: in a master's session, or naming its directory.
leftovers() {  # RECORD-FILE
	local dir pf dv
	read -r dir pf dv _ <"$1"
	local procs
	procs=$(ps -eo pid=,sid=,stat=,args=)  # first, so that awk's own command line is not in the list
	awk -v a="$pf" -v b="$dv" -v d="$dir/" '$3 !~ /^Z/ && ($2 == a || $2 == b || index($0, d)) { print }' \
		<<<"$procs"
}

# Wait (bounded) until nothing of a recorded run is left; print what is left otherwise.
no_leftovers() {  # RECORD-FILE
	for _ in $(seq 30); do
		[ -z "$(leftovers "$1")" ] && return 0
		sleep 0.1
	done
	leftovers "$1"
	return 1
}

# 1. Two providers at once.
pids=()
for n in 1 2; do
	"$here/with-provider.sh" sh -c "$record >$work/rec$n; \"$here/selftest.sh\"" >"$work/out$n" 2>&1 &
	pids+=($!)
done
rc1=0 rc2=0
wait "${pids[0]}" || rc1=$?
wait "${pids[1]}" || rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 0 ]; then ok "two providers at once both pass selftest.sh"
else fail "two providers at once: exit $rc1 and $rc2"; cat "$work/out1" "$work/out2"; fi
ports1=$(cut -d' ' -f4- "$work/rec1") ports2=$(cut -d' ' -f4- "$work/rec2")
if [ -z "$(comm -12 <(tr ' ' '\n' <<<"$ports1" | sort) <(tr ' ' '\n' <<<"$ports2" | sort))" ]; then
	ok "the two providers use different ports ($ports1 / $ports2)"
else fail "the two providers share ports: $ports1 / $ports2"; fi
for n in 1 2; do
	dir=$(cut -d' ' -f1 "$work/rec$n")
	if no_leftovers "$work/rec$n" && [ ! -e "$dir" ]; then ok "run $n: no process left, $dir removed"
	else fail "run $n left processes or its directory behind"; fi
done

# 2. A signal in the middle of selftest.sh (looping, so it is surely mid-check), sent to with-provider.sh's whole
# process group as a terminal's Ctrl-C would. Job control (set -m) gives the job its own process group, and keeps
# bash from starting it with SIGINT ignored (which no trap could undo).
set -m
for sig in INT TERM; do
	rm -f "$work/rec"
	"$here/with-provider.sh" sh -c "$record >$work/rec; while \"$here/selftest.sh\" >/dev/null; do :; done" \
		>"$work/out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -s "$work/rec" ] && break; sleep 0.1; done
	sleep 1.5
	kill -"$sig" -- "-$pid"
	rc=0
	wait "$pid" || rc=$?
	dir=$(cut -d' ' -f1 "$work/rec")
	want=$((128 + $(kill -l "$sig")))
	if [ "$rc" = "$want" ] && no_leftovers "$work/rec" && [ ! -e "$dir" ]; then
		ok "SIG$sig during selftest.sh: exit $rc, no process left, $dir removed"
	else fail "SIG$sig during selftest.sh: exit $rc (want $want)"; cat "$work/out"; fi
done
set +m

# 3. A failed start: Postfix is up when "dovecot" (a stub on PATH) fails. start must say so, show the logs, and leave
# nothing running; stop must then be harmless, twice.
mkdir "$work/bin"
printf '#!/bin/sh\necho "stub dovecot: failing on purpose" >&2\nexit 1\n' >"$work/bin/dovecot"
chmod +x "$work/bin/dovecot"
d=$(mktemp -d /tmp/pst.XXXXXX)
if PATH=$work/bin:$PATH "$here/provider.sh" start "$d" >"$work/out" 2>&1; then
	fail "provider.sh start succeeded with a failing dovecot"
elif ! grep -q "did not start" "$work/out" || ! grep -q "failing on purpose" "$work/out"; then
	fail "failed start gave no clear error"; cat "$work/out"
else
	echo "$d none none" >"$work/rec"
	if "$here/provider.sh" stop "$d" && "$here/provider.sh" stop "$d" && no_leftovers "$work/rec" &&
		[ ! -s "$d/postfix/spool/pid/master.pid" ]; then
		ok "failed start: clear error with the log tail, nothing left running, stop is idempotent"
	else fail "leftovers after a failed start"; fi
fi
rm -rf "$d"

exit $failed
