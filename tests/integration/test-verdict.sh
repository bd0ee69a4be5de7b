#!/usr/bin/env bash
# The verdict rules of DESIGN.md §4 through the agent and the CLI: what is
# stored, listed and shown for encrypted mail whose protected header names
# someone else (unsigned: the outer From stays; signed by that someone: the
# protected header is shown), a leading mbox "From " line on decrypt and
# verify, and a cleartext-signed (inline) message.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
G() { local h=$1; shift; gpg --homedir "$h" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# A CEO whose key bob knows (imported), made for this test.
ceo_home=$(mktemp -d /tmp/pst-ceo.XXXXXX)
G "$ceo_home" --quick-gen-key "CEO <ceo@bank.test>" future-default default never
G "$ceo_home" --armor --export ceo@bank.test > "$WORK/ceo.asc"
G "$GNUPGHOME_BOB" --armor --export "$BOB_ADDR" > "$WORK/bob.asc"
G "$ceo_home" --import "$WORK/bob.asc"
check "bob imports the CEO's key" pst bob keys import "$WORK/ceo.asc"

# deliver OUTER_FROM ENTITY_FILE [--sign]: encrypts ENTITY_FILE to bob (with
# gpg, as another client would), signed by the CEO with --sign, and hands
# the message to Postfix with OUTER_FROM as its From.
deliver() {
  local from=$1 entity=$2 sign=${3:-}
  if [ "$sign" = --sign ]; then
    G "$ceo_home" --armor --trust-model always --sign -u ceo@bank.test --encrypt -r "$BOB_ADDR" \
      -o "$WORK/d.asc" --yes "$entity"
  else
    G "$ceo_home" --armor --trust-model always --encrypt -r "$BOB_ADDR" -o "$WORK/d.asc" --yes "$entity"
  fi
  python3 - "$HOST" "$RELAY_PORT" "$from" "$BOB_ADDR" "$WORK/d.asc" <<'PY'
import smtplib, sys
host, port, sender, to, asc = sys.argv[1:]
body = open(asc).read().replace("\n", "\r\n")
msg = (f"From: {sender}\r\nTo: {to}\r\nSubject: ...\r\nMIME-Version: 1.0\r\n"
       'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"\r\n\r\n'
       "--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
       "--b1\r\nContent-Type: application/octet-stream\r\n\r\n" + body + "\r\n--b1--\r\n")
with smtplib.SMTP(host, int(port)) as s:
    s.sendmail(sender, [to], msg.encode())
PY
}

# ---- Encrypted by anyone, unsigned: the protected From is not believed ----
printf 'Content-Type: text/plain; charset=utf-8; hp="cipher"\r\nFrom: CEO <ceo@bank.test>\r\nTo: %s\r\nSubject: Wire the money\r\n\r\nToday, please.\r\n' \
  "$BOB_ADDR" > "$WORK/inner.txt"
deliver "mallory@evil.test" "$WORK/inner.txt"
check "the unsigned message reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
pst bob --json list --limit 1 > "$WORK/list1.json"
id1=$(json 'd["messages"][0]["id"]' < "$WORK/list1.json")
check "list: from the outer From (mallory), not the CEO" \
  test "$(json 'd["messages"][0]["from"]' < "$WORK/list1.json")" = "mallory@evil.test"
pst bob --json show "$id1" > "$WORK/show1.json"
check "show: From is the outer one" test "$(json 'd["headers"]["from"]' < "$WORK/show1.json")" = "mallory@evil.test"
check "show: the Subject comes from inside" test "$(json 'd["headers"]["subject"]' < "$WORK/show1.json")" = "Wire the money"
check "show: warning header-mismatch" \
  test "$(json '"header-mismatch" in d["crypto"]["warnings"]' < "$WORK/show1.json")" = True
check "show: both From values in header_mismatch" \
  test "$(json '[(m["field"], m["shown"], m["inner"]) for m in d["header_mismatch"]]' < "$WORK/show1.json")" \
       = "[('From', 'mallory@evil.test', 'CEO <ceo@bank.test>')]"
pst bob show "$id1" > "$WORK/show1.txt"
check "show (text): the From line says mallory" grep -q '^From: *mallory@evil.test' "$WORK/show1.txt"
check "show (text): no From line says the CEO" bash -c "! grep -q '^From:.*ceo@bank.test' '$WORK/show1.txt'"
pst bob agent stop >/dev/null 2>&1 || true
# The CEO's address is in the key tables (bob imported the CEO's key); in
# no other table, and the decrypted From field nowhere, also not in the WAL.
check "the store holds no decrypted header value (the CEO's address)" \
  bash -c "! cat '$WORK'/home-bob/data/postern.db* | grep -aq 'CEO <ceo@bank.test>'"
check "… the CEO's address is in no table but the key tables" python3 - "$WORK/home-bob/data/postern.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
for t in tables:
    if t in ("key_sources", "key_bindings", "autocrypt_peers"):
        continue
    for row in db.execute(f'SELECT * FROM "{t}"'):
        for v in row:
            b = v.encode() if isinstance(v, str) else v if isinstance(v, bytes) else b""
            assert b"ceo@bank.test" not in b, (t, row[:3])
PY

# ---- The signed counterpart: the CEO's good signature, whole, matching ----
printf 'Content-Type: text/plain; charset=utf-8; hp="cipher"\r\nFrom: CEO <ceo@bank.test>\r\nTo: %s\r\nSubject: Signed order\r\n\r\nReally.\r\n' \
  "$BOB_ADDR" > "$WORK/inner2.txt"
deliver "mallory@evil.test" "$WORK/inner2.txt" --sign
check "the signed message reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
id2=$(pst bob --json list --limit 1 | json 'd["messages"][0]["id"]')
pst bob --json show "$id2" > "$WORK/show2.json"
check "signed: signature good and matching From" \
  test "$(json 'd["crypto"]["signature"]["status"], d["crypto"]["signature"]["from_match"]' < "$WORK/show2.json")" = "('good', True)"
check "signed: the protected From is shown" \
  test "$(json 'd["headers"]["from"]' < "$WORK/show2.json")" = "CEO <ceo@bank.test>"
check "signed: no header mismatch" test "$(json 'd["header_mismatch"]' < "$WORK/show2.json")" = "[]"

# ---- A leading mbox "From " line (Thunderbird's .eml) ----
make_message "$ALICE_ADDR" "$BOB_ADDR" "Framed" "framed text line" > "$WORK/m.eml"
pst alice encrypt --to "$BOB_ADDR" --sign --scheme pgp -o "$WORK/enc.eml" "$WORK/m.eml"
{ printf 'From - Thu Dec  3 10:00:00 2026\r\n'; cat "$WORK/enc.eml"; } > "$WORK/framed.eml"
pst bob --json decrypt -o "$WORK/framed-dec.eml" "$WORK/framed.eml" > "$WORK/framed.json" || true
check "decrypt of a file with a From line: decrypted" test "$(json 'd["decryption"]' < "$WORK/framed.json")" = "ok"
check "… the text is back" grep -q "framed text line" "$WORK/framed-dec.eml"
pst bob decrypt < "$WORK/framed.eml" > "$WORK/framed-stdin.eml" 2>"$WORK/framed.err" || true
check "decrypt from a pipe with a From line" grep -q "framed text line" "$WORK/framed-stdin.eml"
pst bob --json verify "$WORK/framed.eml" > "$WORK/framed-v.json" || true
check "verify of a file with a From line: good, from_match" \
  test "$(json 'd["signature"]["status"], d["signature"]["from_match"]' < "$WORK/framed-v.json")" = "('good', True)"

# ---- A small cleartext-signed (inline) message ----
printf 'Hi Bob, inline.\n' | G "$GNUPGHOME_ALICE" --clearsign -u "$ALICE_ADDR" > "$WORK/cs.asc"
{ printf 'From: %s\r\nTo: %s\r\nSubject: inline\r\nDate: %s\r\n\r\n' "$ALICE_ADDR" "$BOB_ADDR" "$(date -R)"; cat "$WORK/cs.asc"; } > "$WORK/cs.eml"
pst bob --json verify "$WORK/cs.eml" > "$WORK/cs.json" || true
check "inline-signed: not encrypted, signature good" \
  test "$(json 'd["decryption"], d["signature"]["status"], d["signature"]["from_match"]' < "$WORK/cs.json")" = "('not-encrypted', 'good', True)"
rc=0; pst bob --json decrypt -o "$WORK/cs-dec.eml" "$WORK/cs.eml" > "$WORK/cs-dec.json" || rc=$?
check "inline-signed through decrypt: exit 0, not-encrypted, good" \
  test "$rc $(json 'd["decryption"], d["signature"]["status"]' < "$WORK/cs-dec.json")" = "0 ('not-encrypted', 'good')"

rm -rf "$ceo_home"
finish
