#!/usr/bin/env bash
# Read state, threads and deletion (DESIGN.md §6, issue 15): imported and
# fetched mail is unread; `mark` changes that, all or none, and it survives
# an agent restart; `show` does not mark; `list --unread`; a thread of five
# imported in reverse order is one thread, named by its first message, and
# a reply fetched through the provider joins it, plain or encrypted (by its
# outer header); unrelated messages are threads of their own; `delete`
# takes a message out of the database file and its write-ahead log, keeps
# its UIDL seen, and deletes nothing when one id is unknown.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
# field ID EXPR: EXPR of message ID in `list --json` (m is the message).
field() { pst bob --json list | json "[eval('$2', {'m': m}) for m in d['messages'] if m['id'] == $1][0]"; }
count() { pst bob --json list "$@" | json 'len(d["messages"])'; }
DB="$WORK/home-bob/data/postern.db"

tag=$(date +%s%N)
# A thread of five, each naming those before it, and two unrelated
# messages, in one mbox: the thread newest first.
python3 - "$WORK/in.mbox" "$tag" "$BOB_ADDR" <<'PY'
import sys
out, tag, to = sys.argv[1:]
msgs = []
for i in range(5):
    h = f"From: Carol <carol@example.org>\nTo: {to}\nSubject: thread {i} {tag}\nMessage-ID: <t{i}-{tag}@example.org>\n"
    if i:
        h += f"In-Reply-To: <t{i-1}-{tag}@example.org>\nReferences:" + "".join(
            f"\n <t{j}-{tag}@example.org>" for j in range(i)) + "\n"
    msgs.append(h + f"\nbody {i}\n")
msgs.reverse()
msgs.append(f"From: Dave <dave@example.org>\nTo: {to}\nSubject: alone one {tag}\nMessage-ID: <u1-{tag}@example.org>\n\nunrelated one\n")
msgs.append(f"From: Erin <erin@example.org>\nTo: {to}\nSubject: alone two {tag}\nMessage-ID: <u2-{tag}@example.org>\n\nsecret-body-{tag}-to-delete\n")
with open(out, "w") as f:
    for m in msgs:
        f.write("From someone@example.org Sat Dec  5 10:00:00 2026\n" + m + "\n")
PY
out=$(pst bob import "$WORK/in.mbox")
check "bob imports 7 messages ($out)" test "$out" = "7 imported, 0 already present, 0 failed"
id_of() { pst bob --json list --search "$1" | json 'd["messages"][0]["id"]'; }
for i in 0 1 2 3 4; do eval "t$i=\$(id_of 'thread $i $tag')"; done
u1=$(id_of "alone one $tag")
u2=$(id_of "alone two $tag")

# ---- threads ----
check "the thread arrived newest first: its last reply has the lowest id" test "$t4" -lt "$t0"
for i in 0 1 2 3 4; do
  eval "id=\$t$i"
  check "thread message $i is in the thread of the first stored ($t4)" test "$(field "$id" 'm["thread"]')" = "$t4"
done
check "an unrelated message is a thread of its own" test "$(field "$u1" 'm["thread"]')" = "$u1"
check "… and so is the other one" test "$(field "$u2" 'm["thread"]')" = "$u2"

# ---- read state ----
check "imported messages are unread" test "$(count --unread)" = 7
check "list --json says so" test "$(field "$t0" 'm["unread"]')" = True
pst bob show "$t0" > "$WORK/show.txt"
check "show does not mark a message read" test "$(field "$t0" 'm["unread"]')" = True
check "show --json tells unread and thread" \
  test "$(pst bob --json show "$t2" | json '(d["unread"], d["thread"])')" = "(True, $t4)"
out=$(pst bob mark "$t0" "$t1" "$t2" --read)
check "mark --read of three says so ($out)" test "$out" = "3 messages marked read"
check "list --unread has the four others" test "$(count --unread)" = 4
check "… and none of the three" \
  test "$(pst bob --json list --unread | json "sorted(m['id'] for m in d['messages'] if m['id'] in ($t0, $t1, $t2))")" = "[]"
check "the list marks unread ones with a star after the id" \
  bash -c '"$1" --home "$2" list | grep -qE "^ *$3\* " && ! "$1" --home "$2" list | grep -qE "^ *$4\* "' _ \
  "$POSTERN" "$WORK/home-bob" "$t3" "$t0"
check "mark --unread makes one unread again" pst bob mark "$t2" --unread
check "… list --unread has five" test "$(count --unread)" = 5
expect_fail "mark of an unknown id fails" 1 "no message with id 999999" pst bob mark "$t3" 999999 --read
check "… and marks nothing" test "$(field "$t3" 'm["unread"]')" = True
expect_fail "mark without --read or --unread is a usage error" 2 "mark" pst bob mark "$t3"
expect_fail "mark with both is a usage error" 2 "mark" pst bob mark "$t3" --read --unread
expect_fail "mark of no id is a usage error" 2 "mark" pst bob mark --read
expect_fail "mark of a word is a usage error" 2 "not a message id" pst bob mark abc --read
check "bob's agent stops" pst bob agent stop
check "read state survives the restart: list --unread still has five" test "$(count --unread)" = 5
check "… and the three read ones stay read" \
  test "$(pst bob --json list | json "sorted(m['unread'] for m in d['messages'] if m['id'] in ($t0, $t1))")" = "[False, False]"

# ---- a reply fetched through the provider joins the thread ----
printf 'From: %s\r\nTo: %s\r\nSubject: fetched reply %s\r\nDate: %s\r\nMessage-ID: <f-%s@example.org>\r\nIn-Reply-To: <t4-%s@example.org>\r\nReferences: <t0-%s@example.org> <t4-%s@example.org>\r\n\r\nfetched body\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$tag" "$(date -R)" "$tag" "$tag" "$tag" "$tag" > "$WORK/reply.eml"
check "alice sends a plain reply" pst alice send --encrypt never --no-sign --wait "$WORK/reply.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
f=$(id_of "fetched reply $tag")
check "the fetched message is unread" test "$(field "$f" 'm["unread"]')" = True
check "… and in the thread of five" test "$(field "$f" 'm["thread"]')" = "$t4"
# Encrypted: Postern keeps Message-ID, In-Reply-To and References outside
# too (core/mime/hp.h), and the store threads by the outer header.
printf 'From: %s\r\nTo: %s\r\nSubject: encrypted reply %s\r\nDate: %s\r\nMessage-ID: <e-%s@example.org>\r\nIn-Reply-To: <t2-%s@example.org>\r\nReferences: <t0-%s@example.org> <t1-%s@example.org> <t2-%s@example.org>\r\n\r\nencrypted body\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$tag" "$(date -R)" "$tag" "$tag" "$tag" "$tag" "$tag" > "$WORK/reply2.eml"
check "alice sends an encrypted reply" pst alice send --encrypt always --wait "$WORK/reply2.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
e=$(pst bob --json list | json "[m['id'] for m in d['messages'] if m['crypto'] and m['crypto'].get('decryption') == 'ok'][0]")
check "the fetched encrypted reply is unread" test "$(field "$e" 'm["unread"]')" = True
check "… and in the thread of five too" test "$(field "$e" 'm["thread"]')" = "$t4"

# ---- delete ----
check "the body of a plain message is in the store's files before delete" \
  bash -c 'cat "$1" "$1-wal" 2>/dev/null | grep -qaF "$2"' _ "$DB" "secret-body-$tag-to-delete"
expect_fail "delete of a known and an unknown id fails" 1 "no message with id 999999" \
  pst bob delete "$u2" 999999
check "… and deletes nothing" test "$(count)" = 9
out=$(pst bob delete "$u2")
check "delete of one says so ($out)" test "$out" = "1 message deleted"
check "it is gone from the list" test "$(count)" = 8
expect_fail "show of the deleted message fails" 1 "no message with id $u2" pst bob show "$u2"
check "its body is in neither the database file nor its log" \
  bash -c '! cat "$1" "$1-wal" 2>/dev/null | grep -qaF "$2"' _ "$DB" "secret-body-$tag-to-delete"
check "… nor its Message-ID" \
  bash -c '! cat "$1" "$1-wal" 2>/dev/null | grep -qaF "$2"' _ "$DB" "<u2-$tag@example.org>"
out=$(pst bob import "$WORK/in.mbox")
check "importing the mbox again does not bring it back ($out)" \
  test "$out" = "0 imported, 7 already present, 0 failed"
check "delete of several at once" pst bob delete "$t4" "$u1"
check "… the thread is then named by its next message" test "$(field "$t0" 'm["thread"]')" = "$t3"
check "--json delete says how many" test "$(pst bob --json delete "$f" | json 'd["deleted"]')" = 1
expect_fail "delete of no id is a usage error" 2 "delete" pst bob delete
expect_fail "delete of id 0 is a usage error" 2 "not a message id" pst bob delete 0

finish
