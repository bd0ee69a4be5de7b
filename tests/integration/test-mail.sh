#!/usr/bin/env bash
# Mail for a composer: alice sends bob an encrypted mail with attachments
# and a Bcc (built with python3's email package); bob finds it with
# `list --search` (by From; by its protected Subject only when the account
# lets the store keep it decrypted), writes each attachment byte for byte;
# `keys check` marks each recipient as send would treat it and refuses in
# the very words send refuses in.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
ids_found() { pst bob --json list --search "$1" | json '",".join(str(m["id"]) for m in d["messages"])'; }

# mail FILE SUBJECT BODY BCC ATTACHMENT...: an RFC 5322 message with CRLF
# line ends, each attachment file attached under its own name.
mail() {
  python3 - "$ALICE_ADDR" "$BOB_ADDR" "$@" <<'PY'
import mimetypes, os, sys
from email.message import EmailMessage
from email import policy
sender, to, out, subject, body, bcc, *files = sys.argv[1:]
m = EmailMessage()
m["From"] = f"Alice Example <{sender}>"
m["To"] = f"Bob <{to}>"
if bcc:
    m["Bcc"] = bcc
m["Subject"] = subject
m.set_content(body)
for f in files:
    ctype = mimetypes.guess_type(f)[0] or "application/octet-stream"
    main, sub = ctype.split("/")
    m.add_attachment(open(f, "rb").read(), maintype=main, subtype=sub,
                     filename=os.path.basename(f))
open(out, "wb").write(m.as_bytes(policy=policy.SMTP))
PY
}

tag=$(date +%s%N)
subject1="Zebra crossing $tag — Überblick"
head -c 300000 /dev/urandom > "$WORK/Daten-Übersicht.bin"
printf 'r\xc3\xa9sum\xc3\xa9 line one\nline two\n' > "$WORK/notes.txt"
mail "$WORK/m1.eml" "$subject1" "The first body line $tag" "$ALICE_ADDR" \
  "$WORK/Daten-Übersicht.bin" "$WORK/notes.txt"
check "alice sends an encrypted mail with two attachments and a Bcc" pst alice send --wait "$WORK/m1.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "… and alice's Bcc copy reaches her" wait_for_delivery "$ALICE_MAILDIR" 1
bob_copy=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f | head -n 1)
check "bob's copy is encrypted" grep -q 'multipart/encrypted' "$bob_copy"
check "bob's copy names no Bcc recipient" bash -c '! grep -qi "^Bcc:" "$1"' _ "$bob_copy"
check "bob's copy does not carry the Subject outside" bash -c '! grep -qF "$1" "$2"' _ "$tag" "$bob_copy"
# A subscriber sees fetch.progress while bob fetches, up to 1 of 1.
pst bob agent start >/dev/null 2>&1 || true
rm -f "$WORK/home-bob/run/agent.sock.subscribed"
python3 - "$WORK/home-bob/run/agent.sock" > "$WORK/fetch-events.txt" <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(60)
f = s.makefile("rb")
# Subscribed twice on one connection: each event must still come once.
for i in (1, 2):
    s.sendall(b'{"jsonrpc":"2.0","id":%d,"method":"subscribe","params":{"events":["fetch.progress"]}}\n' % i)
    json.loads(f.readline())
open(sys.argv[1] + ".subscribed", "w").close()
while True:
    m = json.loads(f.readline())
    if m.get("method") == "fetch.progress":
        p = m["params"]; print(p["account"], p["fetched"], p["total"], flush=True)
        if p["fetched"] == p["total"]:
            break
s.settimeout(1)
try:
    if b"fetch.progress" in f.readline():
        print("a second copy of the event", flush=True)
except OSError:
    pass
PY
sub=$!
for i in $(seq 1 100); do [ -e "$WORK/home-bob/run/agent.sock.subscribed" ] && break; sleep 0.05; done
# On a terminal (script(1) gives it one), fetch shows its progress on
# stderr, and clears the line before its result.
check "bob fetches, on a terminal" env GNUPGHOME="$GNUPGHOME_BOB" \
  script -qec "'$POSTERN' --home '$WORK/home-bob' fetch" "$WORK/fetch-tty.txt"
wait "$sub" || true
check "… and the terminal showed the progress: 1 of 1 ($(tr -d '\r\033' < "$WORK/fetch-tty.txt" | tr '\n' ';'))" \
  grep -qa "fetching from main: 1 of 1" "$WORK/fetch-tty.txt"
check "… then the result, on a clean line" grep -qa $'\033\\[K1 new message' "$WORK/fetch-tty.txt"
check "a subscriber (subscribed twice) saw fetch.progress once: 1 of 1 ($(tr '\n' ';' < "$WORK/fetch-events.txt"))" \
  test "$(cat "$WORK/fetch-events.txt")" = "main 1 1"
id1=$(pst bob --json list | json 'd["messages"][0]["id"]')
pst bob export "$id1" > "$WORK/export1.eml"
check "the decrypted message names no Bcc recipient either" bash -c '! grep -qi "^Bcc:" "$1"' _ "$WORK/export1.eml"
check "show gives the protected Subject" test "$(pst bob --json show "$id1" | json 'd["headers"]["subject"]')" = "$subject1"

# ---- list --search, by default: no decrypted Subject on disk, but the
# agent knows it in memory once it has decrypted the message ----
check "list shows the protected Subject the agent learnt when it decrypted the message" \
  test "$(pst bob --json list | json 'd["messages"][0]["subject"]')" = "$subject1"
check "… and no byte of the protected Subject is in the database" bash -c \
  '! cat "$1"/postern.db* | grep -qaF "$2"' _ "$WORK/home-bob/data" "$tag"
check "search by the sender's address finds it" test "$(ids_found "$ALICE_ADDR")" = "$id1"
check "search by the sender's name, case ignored, finds it" test "$(ids_found "aLiCe exAMPLE")" = "$id1"
check "search by the protected Subject finds it (from the agent's memory)" test "$(ids_found "zEBRA")" = "$id1"
check "search by other words finds nothing" test -z "$(ids_found "no-such-words-$tag")"
pst bob agent stop >/dev/null
check "a restarted agent lists what the store keeps, the Subject the outside gave" \
  test "$(pst bob --json list | json 'd["messages"][0]["subject"]')" = "..."
check "… and does not find it by its protected Subject" test -z "$(ids_found "Zebra")"
pst bob show "$id1" >/dev/null
check "once the message is read again, list shows its protected Subject again" \
  test "$(pst bob --json list | json 'd["messages"][0]["subject"]')" = "$subject1"
check "… and search finds it by it" test "$(ids_found "Zebra")" = "$id1"

# ---- store_decrypted_subject = true: the protected Subject is searchable ----
pst bob agent stop >/dev/null
sed -i '/^\[account main\]/a store_decrypted_subject=true' "$WORK/home-bob/config"
subject2="Giraffe $tag — Grüße aus Köln"
# 1.5 MiB: an attachment of 1 MiB or more is kept in the agent's spool, not
# held, as it comes from the worker (agent/worker.c AttachmentTail).
head -c 1572864 /dev/urandom > "$WORK/second.bin"
mail "$WORK/m2.eml" "$subject2" "The second body $tag" "" "$WORK/second.bin"
check "alice sends a second mail" pst alice send --wait "$WORK/m2.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it with store_decrypted_subject" pst bob fetch
id2=$(pst bob --json list --limit 1 | json 'd["messages"][0]["id"]')
check "list shows its protected Subject" \
  test "$(pst bob --json list --limit 1 | json 'd["messages"][0]["subject"]')" = "$subject2"
check "search by the protected Subject finds it, case ignored" test "$(ids_found "gIRAFFE $tag")" = "$id2"
check "… Unicode case ignored too" test "$(ids_found "GRÜSSE AUS KÖLN")" = "$id2"
check "… and not the first one" test "$(ids_found "Zebra")" = ""
check "search by From finds both, newest first" test "$(ids_found "$ALICE_ADDR")" = "$id2,$id1"
check "a wildcard is taken literally" test -z "$(ids_found "Gi%fe")"
out=$(pst bob list --search giraffe)
check "the text list prints the match only" test "$(printf '%s\n' "$out" | wc -l) $(printf '%s' "$out" | grep -cF Giraffe)" = "1 1"
expect_fail "search with a query too long" 2 "at most 1000 characters" \
  pst bob list --search "$(head -c 1001 /dev/zero | tr '\0' x)"

# ---- attachment ----
pst bob --json show "$id1" > "$WORK/show1.json"
check "show lists both attachments by name" test "$(json '" | ".join(a["name"] for a in d["attachments"])' < "$WORK/show1.json")" = "Daten-Übersicht.bin | notes.txt"
check "attachment -o writes the exact bytes" pst bob attachment "$id1" 0 -o "$WORK/out0.bin"
check "… (sha256 equal)" test "$(sha256sum < "$WORK/out0.bin")" = "$(sha256sum < "$WORK/Daten-Übersicht.bin")"
check "… in a file only the user can read" test "$(stat -c %a "$WORK/out0.bin")" = 600
pst bob attachment "$id1" 1 > "$WORK/out1.txt"
check "attachment to standard output writes the exact bytes" cmp -s "$WORK/out1.txt" "$WORK/notes.txt"
pst bob --json attachment "$id1" 1 -o "$WORK/out1.json.txt" > "$WORK/att1.json"
check "attachment --json gives name, type and size" \
  test "$(json '"%s %s %d" % (d["name"], d["type"], d["size"])' < "$WORK/att1.json")" = "notes.txt text/plain $(stat -c %s "$WORK/notes.txt")"
pst bob --json attachment "$id2" 0 -o "$WORK/out2.bin" > "$WORK/att2.json"
check "the second mail's attachment too, 1.5 MiB (kept in the agent's spool)" cmp -s "$WORK/out2.bin" "$WORK/second.bin"
check "… and its size" test "$(json 'd["size"]' < "$WORK/att2.json")" = 1572864
pst bob attachment "$id2" 0 | cmp -s - "$WORK/second.bin"
check "… to standard output (a pipe) the same" test "${PIPESTATUS[0]} $?" = "0 0"
before=$(sha256sum < "$WORK/out0.bin")
expect_fail "attachment -o refuses to overwrite a file" 1 "exists; it is not overwritten" \
  pst bob attachment "$id1" 1 -o "$WORK/out0.bin"
check "… which is left as it was" test "$(sha256sum < "$WORK/out0.bin")" = "$before"
expect_fail "an index out of range" 1 "there is no attachment 2: the message has 2, numbered from 0 to 1" \
  pst bob attachment "$id1" 2 -o "$WORK/none.bin"
check "… leaves no file behind" test ! -e "$WORK/none.bin"
expect_fail "an index that is no number" 2 "not an attachment index" pst bob attachment "$id1" x
expect_fail "an unknown message" 1 "no message with id 999999" pst bob attachment 999999 0 -o "$WORK/none.bin"
# A mail bob cannot decrypt (encrypted to alice only, injected through
# Postfix's own smtpd): no attachment of it is written.
printf 'Content-Type: text/plain\r\n\r\nfor alice only\r\n' \
  | gpg --homedir "$GNUPGHOME_ALICE" --batch --no-tty --quiet --armor --trust-model always \
      --encrypt -r "$ALICE_ADDR" > "$WORK/alice-only.asc"
python3 - "$HOST" "$RELAY_PORT" "$ALICE_ADDR" "$BOB_ADDR" "$WORK/alice-only.asc" <<'PY'
import smtplib, sys
host, port, sender, to, asc = sys.argv[1:]
body = open(asc).read().replace("\n", "\r\n")
msg = (f"From: {sender}\r\nTo: {to}\r\nSubject: not for bob\r\nMIME-Version: 1.0\r\n"
       'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"\r\n\r\n'
       "--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
       "--b1\r\nContent-Type: application/octet-stream\r\n\r\n" + body + "\r\n--b1--\r\n")
with smtplib.SMTP(host, int(port)) as s:
    s.sendmail(sender, [to], msg.encode())
PY
check "a mail encrypted to alice only reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
id3=$(pst bob --json list --limit 1 | json 'd["messages"][0]["id"]')
expect_fail "attachment of a message that cannot be decrypted" 4 "cannot be decrypted; no attachment written" \
  pst bob attachment "$id3" 0 -o "$WORK/none.bin"
check "… leaves no file behind" test ! -e "$WORK/none.bin"

# ---- keys check: the marks send goes by ----
pst alice --json keys check "Bob <$BOB_ADDR>" > "$WORK/kc-bob.json"
check "keys check: bob has an OpenPGP key, no problem, will encrypt and sign" \
  test "$(json '"%s %s %s %s %s %s" % (d["recipients"][0]["pgp"], d["recipients"][0]["smime"], d["recipients"][0]["problem"], d["will_encrypt"], d["will_sign"], d["scheme"])' < "$WORK/kc-bob.json")" = "True False None True True pgp"
check "… alice herself (encrypt-to-self) is not listed" \
  test "$(json 'len(d["recipients"])' < "$WORK/kc-bob.json")" = 1
check "… the account and mode are reported" \
  test "$(json 'd["account"] + " " + d["encrypt"] + " " + str(d["refused"])' < "$WORK/kc-bob.json")" = "main auto None"
out=$(pst alice keys check "$BOB_ADDR")
check "keys check text: one line for bob with the pgp mark and where his key came from" bash -c \
  'printf "%s\n" "$1" | grep -qE "^$2 +pgp +- +imported *$"' _ "$out" "$BOB_ADDR"
check "… then what send would do" bash -c 'printf "%s\n" "$1" | grep -qF "encrypted and signed with OpenPGP"' _ "$out"
pst alice --json keys check --from "$ALICE_ADDR" "$BOB_ADDR" nobody@postern.test > "$WORK/kc-two.json"
check "keys check: no key at all for an unknown address, so auto does not encrypt" \
  test "$(json '"%s %s %s | %s %s" % (d["recipients"][1]["pgp"], d["recipients"][1]["smime"], d["recipients"][1]["problem"], d["will_encrypt"], d["refused"])' < "$WORK/kc-two.json")" = "False False no OpenPGP key and no S/MIME certificate | False None"
out=$(pst alice keys check "$BOB_ADDR" nobody@postern.test)
check "keys check text: the unknown address has no mark" bash -c \
  'printf "%s\n" "$1" | grep -qE "^nobody@postern.test +- +- +- +no OpenPGP key"' _ "$out"
check "… and the message would go NOT encrypted" bash -c 'printf "%s\n" "$1" | grep -qF "NOT encrypted, signed with OpenPGP"' _ "$out"

# --encrypt always: refused, in send's words.
make_message "$ALICE_ADDR" "$BOB_ADDR, nobody@postern.test" "Must not leave" "Plaintext $tag" > "$WORK/always.eml"
send_err=$(pst alice send --encrypt always --wait "$WORK/always.eml" 2>&1 >/dev/null) && send_rc=0 || send_rc=$?
check_err=$(pst alice keys check --encrypt always "$BOB_ADDR" nobody@postern.test 2>&1 >/dev/null) && check_rc=0 || check_rc=$?
check "send --encrypt always is refused (exit $send_rc: $send_err)" test "$send_rc" = 3
check "keys check --encrypt always is refused (exit $check_rc)" test "$check_rc" = 3
check "… with the very text send gives" test "${check_err#postern: keys check: }" = "${send_err#postern: send: }"
pst alice --json keys check --encrypt always "$BOB_ADDR" nobody@postern.test > "$WORK/kc-always.json" \
  && check_rc=0 || check_rc=$?
check "keys check --json --encrypt always: exit 3, refused holds send's text, nothing will be encrypted" \
  test "$check_rc $(json '"%s %s %s" % (d["refused"], d["will_encrypt"], d["scheme"])' < "$WORK/kc-always.json")" = "3 ${send_err#postern: send: } False none"

# An expired key: the problem is named, in the marks and in the refusal.
kh=$(mktemp -d /tmp/pst-dave.XXXXXX)
G() { gpg --homedir "$kh" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"; }
G --quick-gen-key "Dave <dave@postern.test>" future-default default seconds=1
G --armor --export dave@postern.test > "$WORK/dave.asc"
gpgconf --homedir "$kh" --kill all; rm -rf "$kh"
sleep 2
check "alice imports dave's key, now expired" pst alice keys import "$WORK/dave.asc"
pst alice --json keys check dave@postern.test > "$WORK/kc-dave.json"
check "keys check: dave's OpenPGP key has expired" \
  test "$(json '"%s %s" % (d["recipients"][0]["pgp"], d["recipients"][0]["problem"])' < "$WORK/kc-dave.json")" = "False its OpenPGP key has expired"
make_message "$ALICE_ADDR" "dave@postern.test" "To dave" "Plaintext $tag" > "$WORK/dave.eml"
send_err=$(pst alice send --encrypt always "$WORK/dave.eml" 2>&1 >/dev/null) || true
check_err=$(pst alice keys check --encrypt always dave@postern.test 2>&1 >/dev/null) || true
check "the refusal names the expired key ($send_err)" bash -c 'printf "%s" "$1" | grep -qF "dave@postern.test (its OpenPGP key has expired)"' _ "$send_err"
check "… and keys check gives the same text" test "${check_err#postern: keys check: }" = "${send_err#postern: send: }"

# The limits are send's too.
pst alice agent stop >/dev/null
sed -i '/^\[account main\]/a max_recipients=1' "$WORK/home-alice/config"
send_err=$(pst alice send --encrypt never "$WORK/always.eml" 2>&1 >/dev/null) || true
check_err=$(pst alice keys check "$BOB_ADDR" nobody@postern.test 2>&1 >/dev/null) && check_rc=0 || check_rc=$?
check "max_recipients: keys check refuses as send does (exit $check_rc: $check_err)" \
  test "$check_rc" = 3 -a "${check_err#postern: keys check: }" = "${send_err#postern: send: }"
expect_fail "keys check without a recipient" 2 "one or more recipient" pst alice keys check
expect_fail "keys check of something that is no address" 2 "recipient 0 is not an address" \
  pst alice keys check "not an address"
expect_fail "keys check from an address no account has" 3 "no account has the From address" \
  pst alice keys check --from mallory@postern.test "$BOB_ADDR"
# ---- HTML-only mail: shown as text, nothing loaded ----
html_subject="Newsletter $tag"
python3 - "$HOST" "$RELAY_PORT" "$BOB_ADDR" "$html_subject" <<'PY'
import smtplib, sys
host, port, to, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
msg = (f"From: News <news@postern.test>\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/html; charset=utf-8\r\n\r\n"
       "<html><body><h1>Offers</h1><p>Click <a href=\"https://phish.example/login\">here</a>"
       "<img src=\"https://tracker.example/pixel.gif\" alt=\"\"></p><script>steal()</script></body></html>\r\n")
with smtplib.SMTP(host, port) as s:
    s.sendmail("news@postern.test", [to], msg.encode())
PY
check "an HTML-only mail reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
html_id=$(pst bob --json list --search "$html_subject" | json 'd["messages"][0]["id"]')
pst bob --json show "$html_id" > "$WORK/html.json"
check "show gives its text, marked as HTML shown as text" \
  test "$(json 'd["body_format"]' < "$WORK/html.json")" = "html-as-text"
check "… the words and the link's target, no markup, no script, no image address" python3 - "$WORK/html.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["body_text"]
ok = ("Offers" in t and "Click here <https://phish.example/login>" in t and "<" not in t.replace("<https://phish.example/login>", "")
      and "steal" not in t and "tracker" not in t)
if not ok: print("#", repr(t))
sys.exit(0 if ok else 1)
PY
finish
