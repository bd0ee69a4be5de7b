#!/usr/bin/env bash
# Crash safety (issue 5): 20 rounds of SIGKILL at random moments while the
# agent fetches 200 messages and sends 50.  Afterwards every fetched message
# is in the store exactly once and gone from the server, every outbox message
# is delivered at least once, and a message is delivered twice only if the
# outbox reported it "in doubt" (and it was then retried).  The counts are
# printed.  The rounds' moments are random; the seed is printed, and
# CRASH_SEED=N repeats a run.
source "$(dirname "$0")/lib.sh"

SEED=${CRASH_SEED:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED"
N_FETCH=${CRASH_FETCH:-200}
N_SEND=${CRASH_SEND:-50}
ROUNDS=${CRASH_ROUNDS:-20}
H="$WORK/home-crash"
DB="$H/data/postern.db"

# One agent, two accounts: "in" fetches bob's mailbox, "out" sends as alice
# to alice.
printf '%s\n' "$BOB_PASS" > "$WORK/bob.pass"
printf '%s\n' "$ALICE_PASS" > "$WORK/alice.pass"
pc() { "$POSTERN" --home "$H" "$@"; }
pc account add in --address "$BOB_ADDR" --user "$BOB_ADDR" --smtp "smtp://$HOST:$SMTP_PORT" \
  --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" --password-command "cat $WORK/bob.pass" >/dev/null
pc account add out --address "$ALICE_ADDR" --user "$ALICE_ADDR" --smtp "smtp://$HOST:$SMTP_PORT" \
  --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" --password-command "cat $WORK/alice.pass" \
  --max-messages-per-hour 1000 >/dev/null

# 200 messages straight into bob's Maildir (owned like Postfix's deliveries).
for i in $(seq 1 "$N_FETCH"); do
  printf 'From: x@postern.test\r\nTo: %s\r\nSubject: in %d\r\nMessage-ID: <in-%d@crash>\r\n\r\nCrash-In-Marker-%05d\r\n%s\r\n' \
    "$BOB_ADDR" "$i" "$i" "$i" "$(head -c 3000 /dev/zero | tr '\0' 'y')" > "$BOB_MAILDIR/new/$(date +%s).$i.crash"
done
chown -R --reference="$BOB_MAILDIR" "$BOB_MAILDIR/new"
# The 50 messages to send are queued a few per round, so that sending and
# fetching both run when the kills come.
for i in $(seq 1 "$N_SEND"); do
  printf 'From: %s\r\nTo: %s\r\nSubject: out %d\r\n\r\nCrash-Out-Marker-%05d\r\n' "$ALICE_ADDR" "$ALICE_ADDR" "$i" "$i" \
    > "$WORK/out-$i.eml"
done
per_round=$(( (N_SEND + ROUNDS - 1) / ROUNDS ))
next_out=1

agent_pid() { pgrep -f "posternd --home $H\$" | head -n 1 || true; }   # none between rounds is normal
doubt_ids() { sqlite3 "$DB" "select id from outbox where state = 'sending' and in_doubt = 1" 2>/dev/null || true; }
declare -A in_doubt=()
kills=0
for round in $(seq 1 "$ROUNDS"); do
  for id in $(doubt_ids); do in_doubt[$id]=1; done
  # Queueing starts the agent, which sends and resumes the outbox by itself.
  for _ in $(seq 1 "$per_round"); do
    [ "$next_out" -le "$N_SEND" ] || break
    pc send --account out --encrypt never --no-sign "$WORK/out-$next_out.eml" >/dev/null 2>&1 \
      && next_out=$((next_out + 1))
  done
  pc fetch --account in >/dev/null 2>&1 &
  fetch_pid=$!
  sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
  pid=$(agent_pid)
  if [ -n "$pid" ]; then
    kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
  fi
  wait "$fetch_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do [ -z "$(agent_pid)" ] && break; sleep 0.05; done
done
for id in $(doubt_ids); do in_doubt[$id]=1; done
echo "# $kills SIGKILLs in $ROUNDS rounds"
while [ "$next_out" -le "$N_SEND" ]; do   # any a kill kept from being queued
  pc send --account out --encrypt never --no-sign "$WORK/out-$next_out.eml" >/dev/null && next_out=$((next_out + 1))
done

# Recovery: fetch until nothing is left; in-doubt messages are checked with
# the recipient (alice's Maildir) and retried only when they did not arrive.
for _ in 1 2 3; do pc fetch --account in >/dev/null 2>&1 || true; done
delivered() { grep -rlF "Crash-Out-Marker-$(printf %05d "$1")" "$ALICE_MAILDIR/new" "$ALICE_MAILDIR/cur" 2>/dev/null | wc -l; }
for _ in $(seq 1 100); do
  [ "$(sqlite3 "$DB" "select count(*) from outbox where state in ('queued')")" = 0 ] && break
  pc outbox list >/dev/null 2>&1; sleep 0.2
done
wait_for_postfix_queue || true   # Postfix delivers what was accepted (the checks below say if not)
retried=0
for id in $(doubt_ids); do
  n=$(sqlite3 "$DB" "select c.data from outbox_chunks c where c.outbox_id = $id order by seq" | grep -ao 'Crash-Out-Marker-[0-9]*' | head -n 1 | sed 's/.*-0*//')
  if [ -n "$n" ] && [ "$(delivered "$n")" = 0 ]; then
    pc outbox retry "$id" >/dev/null && retried=$((retried + 1)) || true
  else
    pc outbox cancel "$id" >/dev/null || true   # it arrived: the user marks it done
  fi
done
for _ in $(seq 1 150); do
  [ "$(sqlite3 "$DB" "select count(*) from outbox where state in ('queued', 'sending')")" = 0 ] && break
  sleep 0.2
done
wait_for_postfix_queue || true

python3 - "$DB" "$N_FETCH" > "$WORK/store-count.txt" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
seen = {}
for (mid,) in db.execute("select id from messages where account = 'in' and not unfinished"):
    data = b"".join(r[0] for r in db.execute("select data from message_chunks where message_id = ? order by seq", (mid,)))
    for m in re.findall(rb"Crash-In-Marker-(\d+)", data):
        seen[int(m)] = seen.get(int(m), 0) + 1
once = sum(1 for i in range(1, n + 1) if seen.get(i) == 1)
missing = sum(1 for i in range(1, n + 1) if i not in seen)
dup = sum(1 for v in seen.values() if v > 1)
print(once, missing, dup)
PY
read -r once missing dup < "$WORK/store-count.txt"
left=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f | wc -l)
echo "# fetch: $once of $N_FETCH stored exactly once, $missing missing, $dup stored twice; $left left on the server"
check "every fetched message is in the store exactly once" test "$once" = "$N_FETCH"
check "… and gone from the server" test "$left" = 0

at_least=0 dups=0 dups_not_in_doubt=0
for i in $(seq 1 "$N_SEND"); do
  c=$(delivered "$i")
  [ "$c" -ge 1 ] && at_least=$((at_least + 1))
  if [ "$c" -gt 1 ]; then
    dups=$((dups + 1))
    id=$(sqlite3 "$DB" "select o.id from outbox o join outbox_chunks c on c.outbox_id = o.id where c.data like '%Crash-Out-Marker-$(printf %05d "$i")%' and o.account = 'out' limit 1")
    [ -n "${in_doubt[$id]:-}" ] || dups_not_in_doubt=$((dups_not_in_doubt + 1))
  fi
done
echo "# send: $at_least of $N_SEND delivered at least once; ${#in_doubt[@]} reported in doubt, $retried of them retried; $dups delivered twice, $dups_not_in_doubt of those not reported in doubt"
check "every outbox message is delivered at least once" test "$at_least" = "$N_SEND"
check "duplicates only for messages reported in doubt" test "$dups_not_in_doubt" = 0
finish
