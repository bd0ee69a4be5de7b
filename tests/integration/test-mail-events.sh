#!/usr/bin/env bash
# The events of mark and delete (docs/socket-api.md, issue 15): a second
# client — here `postern watch`, as a second window would — hears
# mail.marked {ids, unread} and mail.deleted {ids} when another client
# marks or deletes messages, and nothing when the call changed nothing.
source "$(dirname "$0")/lib.sh"

add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

tag=$(date +%s%N)
for i in 1 2 3; do
  printf 'From someone@example.org Sat Dec  5 10:00:00 2026\nFrom: Carol <carol@example.org>\nTo: %s\nSubject: event %s %s\nMessage-ID: <ev%s-%s@example.org>\n\nbody %s\n\n' \
    "$BOB_ADDR" "$i" "$tag" "$i" "$tag" "$i"
done > "$WORK/in.mbox"
check "bob imports three messages" pst bob import "$WORK/in.mbox"
ids=$(pst bob --json list | json '" ".join(str(m["id"]) for m in sorted(d["messages"], key=lambda m: m["id"]))')
read -r a b c <<< "$ids"

# One watcher for the two events, in JSON, and one for every event, in
# words: the second client.
GNUPGHOME=$GNUPGHOME_BOB "$POSTERN" --home "$WORK/home-bob" --json watch mail.marked mail.deleted \
  > "$WORK/watch.json" 2> "$WORK/watch.err" &
RELAY_PIDS="${RELAY_PIDS:-} $!"
GNUPGHOME=$GNUPGHOME_BOB "$POSTERN" --home "$WORK/home-bob" watch > "$WORK/watch.txt" 2>&1 &
RELAY_PIDS="${RELAY_PIDS:-} $!"
lines() { grep -c . "$1" 2>/dev/null || true; }
# wait_lines FILE N: until FILE has N lines (10 s at most).
wait_lines() { for _ in $(seq 1 100); do [ "$(lines "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
# Until both watchers have subscribed: marking the third message unread (it
# is already) until each has printed that.
for _ in $(seq 1 50); do
  pst bob mark "$c" --unread > "$WORK/mark.out"
  [ "$(lines "$WORK/watch.json")" -ge 1 ] && [ "$(lines "$WORK/watch.txt")" -ge 1 ] && break
  sleep 0.2
done
check "both watchers have subscribed (they print a mark)" \
  test "$(lines "$WORK/watch.json")" -ge 1 -a "$(lines "$WORK/watch.txt")" -ge 1
sleep 0.3
j0=$(lines "$WORK/watch.json")
t0=$(lines "$WORK/watch.txt")
# event N EXPR: EXPR of the Nth JSON line the watcher printed since (e is it).
event() { sed -n "$((j0 + $1))p" "$WORK/watch.json" | json "eval('$2', {'e': d})"; }

check "mark --read of two" pst bob mark "$a" "$b" --read
check "the watcher sees one event" wait_lines "$WORK/watch.json" $((j0 + 1))
check "… mail.marked" test "$(event 1 'e["event"]')" = mail.marked
check "… with both ids and unread false" test "$(event 1 '(e["params"]["ids"], e["params"]["unread"])')" = "([$a, $b], False)"
check "mark --unread of one" pst bob mark "$b" --unread
check "the watcher sees it" wait_lines "$WORK/watch.json" $((j0 + 2))
check "… mail.marked with its id and unread true" \
  test "$(event 2 '(e["event"], e["params"]["ids"], e["params"]["unread"])')" = "('mail.marked', [$b], True)"
expect_fail "mark of an unknown id fails" 1 "no message with id 999999" pst bob mark "$c" 999999 --read
check "delete of one" pst bob delete "$c"
check "the watcher sees the next event" wait_lines "$WORK/watch.json" $((j0 + 3))
check "… mail.deleted of that id, the failed mark having sent none" \
  test "$(event 3 '(e["event"], e["params"])')" = "('mail.deleted', {'ids': [$c]})"
expect_fail "delete of an unknown id fails" 1 "no message with id 999999" pst bob delete "$a" 999999
check "the watcher in words saw all three" wait_lines "$WORK/watch.txt" $((t0 + 3))
check "… as lines naming the event and its params" \
  grep -qE "^[0-9-]+ [0-9:]+ mail\.marked ids=\[$a,$b\] unread=false$" "$WORK/watch.txt"
check "… the unread one" grep -qE "mail\.marked ids=\[$b\] unread=true$" "$WORK/watch.txt"
check "… and the deletion" grep -qE "mail\.deleted ids=\[$c\]$" "$WORK/watch.txt"
sleep 0.5
check "the failed calls sent nothing: three events in all" test "$(lines "$WORK/watch.json")" = $((j0 + 3))
check "the watchers wrote no error" test ! -s "$WORK/watch.err"
expect_fail "watch refuses an unknown event" 2 "unknown event 'mail.bogus'" pst bob watch mail.bogus

finish
