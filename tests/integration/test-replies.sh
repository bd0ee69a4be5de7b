#!/usr/bin/env bash
# Replies and forwards over the real provider: alice sends bob an encrypted
# mail (Subject "Re: …", a Cc to bob himself, an attachment); bob's
# `postern reply` and `forward` drafts, given to `postern send`, reach
# alice encrypted with In-Reply-To, References, the decrypted Subject once
# prefixed, the decrypted text quoted, the attachment inside the forwarded
# message/rfc822; reply --all leaves bob's own address out; an answer to
# encrypted mail to someone without a key is refused under auto (exit 3,
# nothing queued) and goes with --encrypt never; a reply to plain mail goes
# as before.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
server_files() { find "$1/new" "$1/cur" -type f 2>/dev/null | sort; }
# encrypted FILE: what send --json said in FILE about encrypting (True/False)
encrypted() { json 'd["encrypted"]' < "$1"; }
outbox_count() { sqlite3 "$WORK/home-bob/data/postern.db" 'select count(*) from outbox'; }

tag=$(date +%s%N)
body1="The heron flies at dawn $tag"
secret_att="attachment content $tag only inside"
printf '%s\n' "$secret_att" > "$WORK/notes-$tag.txt"
mid1="<orig-$tag@postern.test>"
python3 - "$ALICE_ADDR" "$BOB_ADDR" "$WORK/m1.eml" "$body1" "$mid1" "$WORK/notes-$tag.txt" <<'PY'
import os, sys
from email.message import EmailMessage
from email import policy
sender, to, out, body, mid, att = sys.argv[1:]
m = EmailMessage()
m["From"] = f"Alice Example <{sender}>"
m["To"] = f"Bob <{to}>"
m["Cc"] = to
m["Subject"] = "Re: Heron plans"
m["Message-ID"] = mid
m["References"] = "<earlier@postern.test>"
m.set_content(body + "\nsecond line\n")
m.add_attachment(open(att, "rb").read(), maintype="text", subtype="plain",
                 filename=os.path.basename(att))
open(out, "wb").write(m.as_bytes(policy=policy.SMTP))
PY
check "alice sends bob an encrypted mail" bash -c \
  '"$@" | grep -q "\"encrypted\" *: *true"' _ \
  env GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" --json send --wait "$WORK/m1.eml"
check "it reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
id=$(pst bob --json list | json 'd["messages"][0]["id"]')

# reply
check "reply -o writes a draft" pst bob reply "$id" -o "$WORK/reply.eml"
check "the draft is 0600" test "$(stat -c %a "$WORK/reply.eml")" = 600
python3 - "$WORK/reply.eml" "$ALICE_ADDR" "$BOB_ADDR" "$mid1" "$body1" <<'PY' && ok "the draft: From bob, To alice, Re: once, In-Reply-To, References, quoted text" || not_ok "the reply draft's fields"
import sys
from email import policy
from email.parser import BytesParser
f, alice, bob, mid, body = sys.argv[1:]
m = BytesParser(policy=policy.default).parse(open(f, "rb"))
problems = []
def want(what, got, exp):
    if got != exp: problems.append(f"{what}: {got!r} != {exp!r}")
want("From", m["From"].addresses[0].addr_spec, bob)
want("To", [a.addr_spec for a in m["To"].addresses], [alice])
want("Cc", m["Cc"], None)
want("Subject", str(m["Subject"]), "Re: Heron plans")
want("In-Reply-To", str(m["In-Reply-To"]), mid)
want("References", str(m["References"]).split(), ["<earlier@postern.test>", mid])
text = m.get_content()
want("quoted body line", f"> {body}" in text.splitlines(), True)
want("quoted second line", "> second line" in text.splitlines(), True)
want("attribution", any(l.startswith("On ") and l.endswith("Alice Example wrote:") for l in text.splitlines()), True)
want("type", m.get_content_type(), "text/plain")
for p in problems: print("#", p)
sys.exit(1 if problems else 0)
PY
expect_fail "reply -o refuses a file that exists" 1 "exists" pst bob reply "$id" -o "$WORK/reply.eml"
expect_fail "reply of an unknown message" 1 "" pst bob reply 999999 -o "$WORK/none.eml"
check "… and leaves no file behind" test ! -e "$WORK/none.eml"

# reply --all: alice, not bob (who was in To and Cc)
pst bob reply --all "$id" > "$WORK/replyall.eml"
check "reply --all goes to alice and never to bob himself" python3 - "$WORK/replyall.eml" "$ALICE_ADDR" "$BOB_ADDR" <<'PY'
import sys
from email import policy
from email.parser import BytesParser
m = BytesParser(policy=policy.default).parse(open(sys.argv[1], "rb"))
rcpt = [a.addr_spec.lower() for h in ("To", "Cc") if m[h] for a in m[h].addresses]
assert rcpt == [sys.argv[2].lower()], rcpt
PY

# the reply, sent: encrypted on the server, the right headers for alice
before=$(server_files "$ALICE_MAILDIR" | wc -l)
pst bob --json send --wait "$WORK/reply.eml" > "$WORK/sent-reply.json"
check "send of the reply encrypts it" test "$(encrypted "$WORK/sent-reply.json")" = True
check "the reply reaches alice's Maildir" wait_for_delivery "$ALICE_MAILDIR" $((before + 1))
copy=$(server_files "$ALICE_MAILDIR" | tail -n 1)
check "the server copy of the reply is PGP/MIME" grep -q 'multipart/encrypted' "$copy"
check "the quoted text is not on the server" bash -c '! grep -qF "$1" "$2"' _ "$body1" "$copy"
check "the decrypted Subject is not on the server" bash -c '! grep -q "Heron plans" "$1"' _ "$copy"
check "alice fetches the reply" pst alice fetch
aid=$(pst alice --json list | json 'd["messages"][0]["id"]')
pst alice export "$aid" > "$WORK/alice-reply.eml"
python3 - "$WORK/alice-reply.eml" "$mid1" "$body1" <<'PY' && ok "alice reads the reply decrypted: In-Reply-To, References, Re: Subject, quoted text" || not_ok "the reply as alice reads it"
import sys
from email import policy
from email.parser import BytesParser
f, mid, body = sys.argv[1:]
m = BytesParser(policy=policy.default).parse(open(f, "rb"))
assert str(m["In-Reply-To"]) == mid, m["In-Reply-To"]
assert mid in str(m["References"]).split(), m["References"]
assert str(m["Subject"]) == "Re: Heron plans", m["Subject"]
text = (m.get_body(("plain",)) or m).get_content()
assert f"> {body}" in text.splitlines(), text
PY

# forward
check "forward -o writes a draft" pst bob forward "$id" --to "$ALICE_ADDR" -o "$WORK/fwd.eml"
python3 - "$WORK/fwd.eml" "$ALICE_ADDR" "$BOB_ADDR" "$mid1" "$secret_att" "notes-$tag.txt" <<'PY' && ok "the forward draft: Fwd: Subject, the decrypted message inside message/rfc822 with its attachment" || not_ok "the forward draft"
import sys
from email import policy
from email.parser import BytesParser
f, alice, bob, mid, att, name = sys.argv[1:]
m = BytesParser(policy=policy.default).parse(open(f, "rb"))
assert m["From"].addresses[0].addr_spec == bob, m["From"]
assert [a.addr_spec for a in m["To"].addresses] == [alice], m["To"]
assert str(m["Subject"]) == "Fwd: Re: Heron plans", m["Subject"]
assert mid in str(m["References"]).split(), m["References"]
inner = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
assert len(inner) == 1, [p.get_content_type() for p in m.walk()]
fwd = inner[0].get_content()
assert fwd["Message-ID"] == mid and str(fwd["Subject"]) == "Re: Heron plans"
atts = [p for p in fwd.walk() if p.get_filename() == name]
assert len(atts) == 1 and atts[0].get_content().strip() == att, atts
PY
expect_fail "forward to something that is no address" 2 "nothing forwarded: To: 'not an address' is not an address" \
  pst bob forward "$id" --to "not an address" -o "$WORK/bad-fwd.eml"
expect_fail "forward without --to" 2 "give at least one --to ADDR" pst bob forward "$id" -o "$WORK/bad-fwd.eml"
check "… and no file left behind" test ! -e "$WORK/bad-fwd.eml"
before=$(server_files "$ALICE_MAILDIR" | wc -l)
pst bob --json send --wait "$WORK/fwd.eml" > "$WORK/sent-fwd.json"
check "send of the forward encrypts it" test "$(encrypted "$WORK/sent-fwd.json")" = True
check "the forward reaches alice's Maildir" wait_for_delivery "$ALICE_MAILDIR" $((before + 1))
copy=$(server_files "$ALICE_MAILDIR" | tail -n 1)
check "the attachment is not on the server in the clear" bash -c '! grep -qF "$1" "$2" && ! grep -qF "$(printf "%s\n" "$1" | base64 -w0 | cut -c1-40)" "$2"' _ "$secret_att" "$copy"
check "alice fetches the forward" pst alice fetch
fid=$(pst alice --json list | json 'd["messages"][0]["id"]')
pst alice export "$fid" > "$WORK/alice-fwd.eml"
check "alice finds the attachment inside the forwarded message" python3 - "$WORK/alice-fwd.eml" "$secret_att" <<'PY'
import sys
from email import policy
from email.parser import BytesParser
m = BytesParser(policy=policy.default).parse(open(sys.argv[1], "rb"))
inner = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
assert len(inner) == 1
assert any(p.get_filename() and p.get_content().strip() == sys.argv[2] for p in inner[0].get_content().walk())
PY

# an answer to encrypted mail, to someone without a key: refused under auto
pst bob reply "$id" -o "$WORK/reply-carol.eml"
sed -i "s/^To: \(.*\)\r$/To: \1, carol@postern.test\r/" "$WORK/reply-carol.eml"
check "the draft now goes to carol too" grep -q '^To: .*carol@postern.test' "$WORK/reply-carol.eml"
queued=$(outbox_count)
expect_fail "a reply to encrypted mail to carol (no key) is refused under auto" 3 \
  "encrypted mail.*no OpenPGP key for: carol@postern.test.*--encrypt never" \
  pst bob send --wait "$WORK/reply-carol.eml"
check "nothing was queued" test "$(outbox_count)" = "$queued"
check "the quoted text reached no mailbox in the clear" \
  bash -c '! grep -rqF "> $1" "$2"' _ "$body1" "$PROVIDER_DIR"
expect_fail "keys check --in-reply-to the encrypted message refuses in send's words" 3 \
  "encrypted mail.*no OpenPGP key for: carol@postern.test.*--encrypt never" \
  pst bob keys check --in-reply-to "$mid1" "$ALICE_ADDR" carol@postern.test
check "keys check without it: carol would get it unencrypted (auto)" \
  bash -c '"$@" | grep -q "\"will_encrypt\" *: *false"' _ \
  env GNUPGHOME="$GNUPGHOME_BOB" "$POSTERN" --home "$WORK/home-bob" --json keys check "$ALICE_ADDR" carol@postern.test
check "keys check --json --in-reply-to it says reply_to_encrypted (what the compose window warns by)" \
  test "$(pst bob --json keys check --in-reply-to "$mid1" "$ALICE_ADDR" | json 'd["reply_to_encrypted"]')" = True
check "… and without it, not" \
  test "$(pst bob --json keys check "$ALICE_ADDR" | json 'd["reply_to_encrypted"]')" = False
fwd_carol="$WORK/fwd-carol.eml"
pst bob forward "$id" --to carol@postern.test -o "$fwd_carol"
expect_fail "a forward of encrypted mail to carol is refused too" 3 "encrypted mail.*carol@postern.test" \
  pst bob send "$fwd_carol"
pst bob --json send --encrypt never "$WORK/reply-carol.eml" > "$WORK/sent-never.json"
check "with --encrypt never it goes (in the clear, the user's decision)" \
  test "$(encrypted "$WORK/sent-never.json")" = False
for oid in $(json '" ".join(str(i) for i in d["ids"])' < "$WORK/sent-never.json"); do
  pst bob outbox cancel "$oid" >/dev/null 2>&1 || true
done

# mail bob cannot decrypt (to a key he does not have): no draft, exit 4
GX="$WORK/gnupg-x"; mkdir -m 700 "$GX"
gpg --homedir "$GX" --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key "x <x@postern.test>" future-default default never 2>/dev/null
armored=$(printf 'Content-Type: text/plain\r\n\r\nsecret for x only\r\n' |
  gpg --homedir "$GX" --batch --trust-model always --armor --encrypt -r x@postern.test 2>/dev/null)
printf 'From: Alice <%s>\nTo: Bob <%s>\nSubject: undecryptable\nMessage-ID: <x-%s@postern.test>\nDate: %s\nMIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\n\n--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\nContent-Type: application/octet-stream\n\n%s\n--b--\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$tag" "$(date -R)" "$armored" > "$BOB_MAILDIR/new/$tag.undecryptable"
check "bob fetches a mail he cannot decrypt" pst bob fetch
xid=$(pst bob --json list | json 'd["messages"][0]["id"]')
expect_fail "reply to it: no draft (exit 4)" 4 "cannot be decrypted; no draft made" \
  pst bob reply "$xid" -o "$WORK/x-reply.eml"
expect_fail "forward of it: no draft (exit 4)" 4 "cannot be decrypted; no draft made" \
  pst bob forward "$xid" --to "$ALICE_ADDR" -o "$WORK/x-fwd.eml"
check "… and no file left behind" test ! -e "$WORK/x-reply.eml" -a ! -e "$WORK/x-fwd.eml"

# a reply to plain mail: as before (auto sends in the clear to carol)
# (its Subject an encoded word that decodes to a line break and a Bcc field)
evil=$(printf 'Plain %s\r\nBcc: mallory@postern.test' "$tag" | base64 -w0)
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: =?UTF-8?B?%s?=\r\nMessage-ID: <plain-%s@postern.test>\r\nDate: %s\r\n\r\nplain body %s\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$evil" "$tag" "$(date -R)" "$tag" > "$WORK/plain.eml"
check "alice sends bob a plain mail" pst alice send --encrypt never --no-sign --wait "$WORK/plain.eml"
check "it reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
pid=$(pst bob --json list | json 'd["messages"][0]["id"]')
pst bob reply "$pid" -o "$WORK/reply-plain.eml"
check "the reply to plain mail quotes it" grep -qF "> plain body $tag" "$WORK/reply-plain.eml"
check "its Subject is one line, no Bcc field came of it" python3 - "$WORK/reply-plain.eml" "$tag" <<'PY'
import sys
from email import policy
from email.parser import BytesParser
m = BytesParser(policy=policy.default).parse(open(sys.argv[1], "rb"))
assert m["Bcc"] is None, m["Bcc"]
subject = str(m["Subject"])
assert subject.startswith(f"Re: Plain {sys.argv[2]}") and "mallory" in subject and "\n" not in subject, subject
PY
sed -i "s/^To: \(.*\)\r$/To: \1, carol@postern.test\r/" "$WORK/reply-plain.eml"
pst bob --json send "$WORK/reply-plain.eml" > "$WORK/sent-plain.json"
check "a reply to plain mail to carol (no key) goes under auto, unencrypted, as before" \
  test "$(encrypted "$WORK/sent-plain.json")" = False
for oid in $(json '" ".join(str(i) for i in d["ids"])' < "$WORK/sent-plain.json"); do
  pst bob outbox cancel "$oid" >/dev/null 2>&1 || true
done
# An encrypted mail whose Message-ID no draft can name (no '@': a sender or a provider chose it): no draft,
# rather than a reply the policy would not know to keep encrypted (exit 3, nothing written)
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nCc: carol@postern.test\r\nSubject: odd id %s\r\nMessage-ID: <nodomain-%s>\r\nDate: %s\r\n\r\nsecret odd id body %s\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$tag" "$tag" "$(date -R)" "$tag" > "$WORK/odd.eml"
pst alice encrypt --to "$BOB_ADDR" --sign -o "$WORK/odd-enc.eml" "$WORK/odd.eml"
cat "$WORK/odd-enc.eml" > "$BOB_MAILDIR/new/$tag.oddid"
check "bob fetches an encrypted mail with the Message-ID <nodomain-…>" pst bob fetch
oid_odd=$(pst bob --json list | json 'd["messages"][0]["id"]')
expect_fail "reply --all to it: no draft (exit 3)" 3 "no Message-ID a draft can name" \
  pst bob reply --all "$oid_odd" -o "$WORK/odd-reply.eml"
expect_fail "forward of it: no draft (exit 3)" 3 "no Message-ID a draft can name" \
  pst bob forward "$oid_odd" --to carol@postern.test -o "$WORK/odd-fwd.eml"
check "… and no draft file" test ! -e "$WORK/odd-reply.eml" -a ! -e "$WORK/odd-fwd.eml"

# A second To or Reply-To field, hidden behind the first that show displays, gets no reply
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nTo: hidden-to@evil.example\r\nReply-To: %s\r\nReply-To: hidden-rt@evil.example\r\nSubject: two fields %s\r\nMessage-ID: <two-%s@postern.test>\r\nDate: %s\r\n\r\ntwo fields %s\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$ALICE_ADDR" "$tag" "$tag" "$(date -R)" "$tag" > "$BOB_MAILDIR/new/$tag.twofields"
check "bob fetches a mail with two To and two Reply-To fields" pst bob fetch
tid=$(pst bob --json list | json 'd["messages"][0]["id"]')
pst bob reply --all "$tid" -o "$WORK/two-reply.eml"
check "reply --all goes to the first Reply-To only" grep -q "^To: $ALICE_ADDR" "$WORK/two-reply.eml"
check "… and to none of the hidden addresses" bash -c '! grep -q "hidden-" "$1"' _ "$WORK/two-reply.eml"
finish
