#!/usr/bin/env bash
# Drafts over the real provider: bob saves a draft, which the store keeps
# only encrypted to his own key (neither the database file nor its
# write-ahead log holds its text or Subject); list shows its Subject and
# recipients, show gives back exactly what was saved, save --id replaces
# it; it survives an agent restart; draft send sends it through the
# provider (the server's copy encrypted to alice) and the draft is gone;
# an account without a key of its own is refused (exit 3) with nothing
# stored; bad ids and bad input are clear errors.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
server_files() { find "$1/new" "$1/cur" -type f 2>/dev/null | sort; }
db="$WORK/home-bob/data/postern.db"
# in_store TEXT: the database file or its log holds TEXT
in_store() { grep -qaF "$1" "$db" "$db-wal" 2>/dev/null; }
draft_count() { sqlite3 "$db" 'select count(*) from drafts'; }

tag=$(date +%s%N)
body="The kestrel hovers over the hedge $tag"
subject="Kestrel notes $tag"
write_draft() { # write_draft FILE SUBJECT BODYLINE
  printf 'From: Bob <%s>\r\nTo: Alice <%s>\r\nSubject: %s\r\nIn-Reply-To: <orig-%s@postern.test>\r\nReferences: <orig-%s@postern.test>\r\n\r\n%s\r\nsecond line\r\n' \
    "$BOB_ADDR" "$ALICE_ADDR" "$2" "$tag" "$tag" "$3" > "$1"
}
write_draft "$WORK/d1.eml" "$subject" "$body"

pst bob --json draft save "$WORK/d1.eml" > "$WORK/save1.json"
id=$(json 'd["id"]' < "$WORK/save1.json")
check "draft save stores a draft of bob's account" test "$(json 'd["account"]' < "$WORK/save1.json")" = main
check "… one row in the store" test "$(draft_count)" = 1
check "the database and its log hold neither the draft's text nor its Subject" \
  bash -c '! grep -qaF "$1" "$3" "$3-wal" && ! grep -qaF "$2" "$3" "$3-wal"' _ "$body" "$subject" "$db"
check "… what they hold is an OpenPGP message" \
  bash -c 'sqlite3 "$1" "select sealed from drafts" | grep -q "BEGIN PGP MESSAGE"' _ "$db"

pst bob --json draft list > "$WORK/list1.json"
check "draft list shows its Subject, To and In-Reply-To (decrypted)" python3 - "$WORK/list1.json" "$id" "$subject" "$ALICE_ADDR" "$tag" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["drafts"]
i, subj, alice, tag = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
assert [x["id"] for x in d] == [i], d
assert d[0]["subject"] == subj and alice in d[0]["to"], d[0]
assert d[0]["in_reply_to"] == f"<orig-{tag}@postern.test>", d[0]
assert d[0]["updated_at"] >= d[0]["created_at"] > 0, d[0]
PY
check "draft list (text) names it" bash -c 'pst() { GNUPGHOME="$GNUPGHOME_BOB" "$POSTERN" --home "$1" "${@:2}"; }
  pst "$1" draft list | grep -F "$2" | grep -q "^ *$3 "' _ "$WORK/home-bob" "$subject" "$id"

pst bob draft show "$id" > "$WORK/shown1.eml"
check "draft show gives back exactly what was saved" cmp "$WORK/d1.eml" "$WORK/shown1.eml"
check "draft show -o writes a new file, 0600" pst bob draft show "$id" -o "$WORK/shown1b.eml"
check "… the same bytes" cmp "$WORK/d1.eml" "$WORK/shown1b.eml"
check "… mode 600" test "$(stat -c %a "$WORK/shown1b.eml")" = 600
expect_fail "draft show -o refuses a file that exists" 1 "exists" pst bob draft show "$id" -o "$WORK/shown1b.eml"

# replace
body2="The kestrel has flown, second version $tag"
write_draft "$WORK/d2.eml" "$subject (v2)" "$body2"
check "draft save --id replaces it" pst bob draft save --id "$id" "$WORK/d2.eml"
check "… still one draft, the same number" test "$(pst bob --json draft list | json '[x["id"] for x in d["drafts"]]')" = "[$id]"
pst bob draft show "$id" > "$WORK/shown2.eml"
check "… show gives the new text" cmp "$WORK/d2.eml" "$WORK/shown2.eml"
check "… and the store holds no text of either version" \
  bash -c '! grep -qaF "$1" "$3" "$3-wal" && ! grep -qaF "$2" "$3" "$3-wal"' _ "$body" "$body2" "$db"

# restart
check "bob's agent stops" pst bob agent stop
check "the draft survives the restart" test "$(pst bob --json draft list | json 'len(d["drafts"])')" = 1
pst bob draft show "$id" > "$WORK/shown3.eml"
check "… and opens as before" cmp "$WORK/d2.eml" "$WORK/shown3.eml"

# bad ids and bad input
expect_fail "draft show of an unknown id" 1 "draft show: no draft 999999" pst bob draft show 999999 -o "$WORK/none.eml"
check "… leaves no file behind" test ! -e "$WORK/none.eml"
expect_fail "draft show of a word" 2 "'abc' is not a draft id" pst bob draft show abc
expect_fail "draft delete of 0" 2 "'0' is not a draft id" pst bob draft delete 0
expect_fail "draft delete of an unknown id" 1 "no draft 999999" pst bob draft delete 999999
expect_fail "draft send of an unknown id" 1 "no draft 999999" pst bob draft send 999999
expect_fail "draft send of two ids" 2 "give exactly one draft ID" pst bob draft send "$id" "$id"
expect_fail "draft save --id of an unknown draft" 1 "no draft 999999" pst bob draft save --id 999999 "$WORK/d1.eml"
expect_fail "draft save --id of a word" 2 "'x' is not a draft id" pst bob draft save --id x "$WORK/d1.eml"
expect_fail "draft save of a file that does not exist" 1 "No such file" pst bob draft save "$WORK/nope.eml"
printf 'this is no message at all\n' > "$WORK/junk.txt"
expect_fail "draft save of something that is no message" 1 "not an RFC 5322 message" pst bob draft save "$WORK/junk.txt"
expect_fail "draft save for an account that does not exist" 1 "nosuch" pst bob draft save --account nosuch "$WORK/d1.eml"
expect_fail "draft send --encrypt of no mode" 2 "--encrypt takes always, auto or never" pst bob draft send --encrypt sometimes "$id"
check "… none of it stored or lost a draft" test "$(draft_count)" = 1

# no key of its own: refused, nothing stored
nokey="nokey-$tag@postern.test"
pst bob account add nokey --address "$nokey" --user "$BOB_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-bob-main" --ca-file "$CA_FILE" >/dev/null
printf 'From: %s\r\nTo: %s\r\nSubject: unkeyed %s\r\n\r\nunkeyed body %s\r\n' "$nokey" "$ALICE_ADDR" "$tag" "$tag" > "$WORK/nokey.eml"
expect_fail "a draft of an account without its own key is refused" 3 "no OpenPGP key of its own" \
  pst bob draft save "$WORK/nokey.eml"
expect_fail "… with --account too" 3 "nothing was stored" pst bob draft save --account nokey "$WORK/nokey.eml"
check "… and nothing was stored" test "$(draft_count)" = 1
check "… not even in the log" bash -c '! grep -qaF "unkeyed body $2" "$1" "$1-wal"' _ "$db" "$tag"
expect_fail "a draft From another account than --account is refused" 3 "is not the address of account" \
  pst bob draft save --account main "$WORK/nokey.eml"

# send through the provider
# A line from the middle of the sealed draft, to look for once it is gone.
sealed_line=$(sqlite3 "$db" "select sealed from drafts where id = $id" | sed -n '4p')
before=$(server_files "$ALICE_MAILDIR" | wc -l)
pst bob --json draft send --wait "$id" > "$WORK/sent.json"
check "draft send --wait sends it encrypted" test "$(json 'd["encrypted"] and d["state"] == "sent"' < "$WORK/sent.json")" = True
check "… and says the draft was deleted" test "$(json 'd["draft_deleted"] and d["draft"]' < "$WORK/sent.json")" = "$id"
check "it reaches alice's Maildir" wait_for_delivery "$ALICE_MAILDIR" $((before + 1))
copy=$(server_files "$ALICE_MAILDIR" | tail -n 1)
check "the server copy is PGP/MIME" grep -q 'multipart/encrypted' "$copy"
check "… without the draft's text or Subject in the clear" \
  bash -c '! grep -qF "$1" "$3" && ! grep -qF "Kestrel notes" "$3"' _ "$body2" x "$copy"
check "the draft is gone from the list" test "$(pst bob --json draft list | json 'len(d["drafts"])')" = 0
check "… and from the store" test "$(draft_count)" = 0
check "… its sealed bytes wiped from the file and the log" \
  bash -c '[ ${#2} -ge 40 ] && ! grep -qaF "$2" "$1" "$1-wal"' _ "$db" "$sealed_line"
check "alice fetches it" pst alice fetch
aid=$(pst alice --json list | json 'd["messages"][0]["id"]')
pst alice export "$aid" > "$WORK/alice.eml"
check "alice reads the draft's text, decrypted" grep -qF "$body2" "$WORK/alice.eml"

# Two sends of one draft at once: it is queued once, never twice.
write_draft "$WORK/d4.eml" "twice $tag" "twice body $tag"
id4=$(pst bob --json draft save "$WORK/d4.eml" | json 'd["id"]')
outbox_before=$(sqlite3 "$db" 'select count(*) from outbox')
( rc=0; pst bob draft send "$id4" > "$WORK/twice1.out" 2>&1 || rc=$?; echo "$rc" > "$WORK/twice1.rc" ) &
t1=$!
( rc=0; pst bob draft send "$id4" > "$WORK/twice2.out" 2>&1 || rc=$?; echo "$rc" > "$WORK/twice2.rc" ) &
t2=$!
wait "$t1" "$t2"
check "two draft sends of one draft at once: exactly one succeeds"   test "$(cat "$WORK/twice1.rc" "$WORK/twice2.rc" | sort | tr '\n' ' ')" = "0 1 "
check "… the other says why" grep -qE "is being sent already|no draft $id4" "$WORK/twice1.out" "$WORK/twice2.out"
check "… and the outbox has it once" test "$(sqlite3 "$db" 'select count(*) from outbox')" = $((outbox_before + 1))

# send {draft}: a client that sends what it edited deletes its draft
write_draft "$WORK/d3.eml" "third $tag" "third body $tag"
id3=$(pst bob --json draft save "$WORK/d3.eml" | json 'd["id"]')
check "draft delete deletes a draft" pst bob draft delete "$id3"
check "… gone" test "$(draft_count)" = 0
id4=$(pst bob --json draft save "$WORK/d3.eml" | json 'd["id"]')
python3 - "$WORK/home-bob/run/agent.sock" "$WORK/d3.eml" "$id4" <<'PY' && ok "send with {draft} queues the message and deletes the draft" || not_ok "send with {draft}"
import array, json, os, socket, sys
path, msg, draft = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile("rb")
fd = os.open(msg, os.O_RDONLY)
req = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "send",
                  "params": {"fd": 0, "draft": draft}}) + "\n"
s.sendmsg([req.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
r = json.loads(f.readline())
assert r.get("result", {}).get("draft_deleted") is True, r
PY
check "… gone from the store" test "$(draft_count)" = 0

# A newer public key naming bob's address, with no secret here (imported by
# mistake, or planted): drafts are still sealed to bob's own key.
other=$(mktemp -d "$WORK/other-gnupg.XXXXXX")
gpg --homedir "$other" --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key "Not Bob <$BOB_ADDR>" ed25519 sign 1d 2>/dev/null
gpg --homedir "$other" --batch --pinentry-mode loopback --passphrase '' --quick-add-key "$(gpg --homedir "$other" --list-keys --with-colons \
  | awk -F: '/^fpr/ {print $10; exit}')" cv25519 encr 1d 2>/dev/null
sleep 1
check "… (a foreign key for bob's address is imported)" test -n "$(gpg --homedir "$other" --list-keys --with-colons | grep '^sub')"
gpg --homedir "$other" --batch --export "$BOB_ADDR" | gpg --homedir "$(gnupg_of bob)" --batch --import 2>/dev/null
gpgconf --homedir "$other" --kill gpg-agent 2>/dev/null || true
write_draft "$WORK/d5.eml" "own key $tag" "own key body $tag"
id5=$(pst bob --json draft save "$WORK/d5.eml" | json 'd["id"]')
check "with a newer foreign key for bob's address, a draft is still sealed to bob's own key" \
  pst bob draft show -o "$WORK/d5.out" "$id5"
check "… and reads back" grep -qF "own key body $tag" "$WORK/d5.out"

finish
