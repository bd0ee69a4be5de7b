#!/usr/bin/env bash
# Autocrypt (issue 13, DESIGN.md §14), through the real provider: two new
# users who never exchanged anything, each with `keys generate`.  alice
# writes bob (auto: signed, not encrypted, an Autocrypt header on the server
# copy); bob fetches and replies, encrypted; from then on mail both ways is
# encrypted, and `encrypt always` is accepted.  Then forged headers are
# ignored (addr not the From, an older message, several From mailboxes), and
# a changed key is noticed (key-changed on the verdict, in keys check and
# keys list).  Every server copy is checked.
source "$(dirname "$0")/lib.sh"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

GA="$WORK/gnupg-a"; GB="$WORK/gnupg-b"
mkdir -m 700 "$GA" "$GB"
a() { GNUPGHOME="$GA" "$POSTERN" --home "$WORK/home-a" "$@"; }
b() { GNUPGHOME="$GB" "$POSTERN" --home "$WORK/home-b" "$@"; }
printf '%s\n' "$ALICE_PASS" > "$WORK/pass-a"; printf '%s\n' "$BOB_PASS" > "$WORK/pass-b"
chmod 600 "$WORK/pass-a" "$WORK/pass-b"
a account add main --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-a" --ca-file "$CA_FILE" >/dev/null
b account add main --address "$BOB_ADDR" --user "$BOB_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-b" --ca-file "$CA_FILE" >/dev/null
fa=$(a --json keys generate "$ALICE_ADDR" --no-passphrase | json 'd["fingerprint"]')
fb=$(b --json keys generate "$BOB_ADDR" --no-passphrase | json 'd["fingerprint"]')
check "each user makes a key ($fa, $fb)" grep -qxE '[0-9A-F]{40} [0-9A-F]{40}' <<<"$fa $fb"

# The newest file of a maildir.
newest() { find "$1/new" "$1/cur" -type f -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-; }
count() { find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l; }

# 1. alice writes bob: nothing is known of bob, so it goes out signed only,
#    with alice's Autocrypt header.
n=$(count "$BOB_MAILDIR")
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Hello" "first secret-ish line $RANDOM" > "$WORK/m1.eml"
a --json send --wait "$WORK/m1.eml" > "$WORK/s1.json"
check "alice → bob goes out signed, not encrypted (bob has no key yet)" \
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["signed"] and not d["encrypted"], d' "$WORK/s1.json"
wait_for_delivery "$BOB_MAILDIR" $((n + 1))
copy=$(newest "$BOB_MAILDIR")
check "the server copy carries alice's Autocrypt header, prefer-encrypt=mutual" \
  grep -q "^Autocrypt: addr=$ALICE_ADDR; prefer-encrypt=mutual; keydata=" "$copy"
check "… and is signed (multipart/signed)" grep -q 'multipart/signed' "$copy"
# alice's real keydata, as her header carries it (for the replay below).
alice_keydata=$(sed -n '/^Autocrypt: addr=/,/^[^ ]/p' "$copy" | sed '1d;$d' | tr -d '\r')
check "alice's keydata is read from her header" test "$(printf '%s' "$alice_keydata" | wc -c)" -gt 200
# Another implementation's reading of the header: the spec's grammar, and gpg.
check "the header parses by Level 1's grammar and its keydata is alice's key for gpg" \
  python3 - "$copy" "$fa" <<'PY'
import base64, email, subprocess, sys, tempfile
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
values = msg.get_all("Autocrypt")
assert len(values) == 1, values
attrs = {}
for part in "".join(values[0].split("\n")).split(";"):
    k, _, v = part.strip().partition("=")
    assert k and v, part
    attrs[k] = v
assert set(attrs) <= {"addr", "prefer-encrypt", "keydata"}, attrs
key = base64.b64decode("".join(attrs["keydata"].split()), validate=True)
with tempfile.TemporaryDirectory(dir="/tmp") as home:
    out = subprocess.run(["gpg", "--homedir", home, "--batch", "--with-colons", "--import-options",
                          "show-only", "--import"], input=key, capture_output=True).stdout.decode()
fprs = [l.split(":")[9] for l in out.splitlines() if l.startswith("fpr:")]
assert fprs and fprs[0] == sys.argv[2], (fprs, out)
assert sum(1 for l in out.splitlines() if l.startswith("uid:")) == 1, out
PY

# 2. bob fetches: alice's key comes in from the header, source autocrypt, and
#    her signed mail verifies.
b fetch >/dev/null 2>"$WORK/fetch.err" || { echo "# fetch failed: $(cat "$WORK/fetch.err")"; false; }
b --json keys list > "$WORK/bkeys.json"
check "bob now knows alice's key, source autocrypt" python3 - "$WORK/bkeys.json" "$fa" "$ALICE_ADDR" <<'PY'
import json, sys
keys = json.load(open(sys.argv[1]))["keys"]
k = [k for k in keys if k["fingerprint"] == sys.argv[2]]
assert len(k) == 1 and k[0]["source"] == "autocrypt" and not k[0]["secret"], keys
assert k[0]["scheme"] == "pgp" and sys.argv[3] in k[0]["addresses"] and "replaces" not in k[0], k
PY
id1=$(b --json list | json 'd["messages"][0]["id"]')
b --json show "$id1" > "$WORK/show1.json"
check "… and her first message shows a good signature by her, no key-changed" \
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["crypto"]; s=c["signature"]; assert s["status"]=="good" and s["signer"]==sys.argv[2] and "key-changed" not in c["warnings"], c' \
  "$WORK/show1.json" "$ALICE_ADDR"
b --json keys check "$ALICE_ADDR" > "$WORK/bcheck.json"
check "bob's keys check: encrypt to alice, her key's source autocrypt" python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); r=d["recipients"][0]
assert d["will_encrypt"] and r["source"]=="autocrypt" and not r["key_changed"], d' "$WORK/bcheck.json"

# 3. bob replies: encrypted (both prefer mutual), with his own header.
n=$(count "$ALICE_MAILDIR")
make_message "Bob <$BOB_ADDR>" "Alice <$ALICE_ADDR>" "Re: Hello" "the reply body $RANDOM" > "$WORK/m2.eml"
line2=$(sed -n 's/^\(the reply body [0-9]*\)\r$/\1/p' "$WORK/m2.eml")
b --json send --wait "$WORK/m2.eml" > "$WORK/s2.json"
check "bob → alice goes out encrypted and signed" \
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["signed"] and d["encrypted"], d' "$WORK/s2.json"
wait_for_delivery "$ALICE_MAILDIR" $((n + 1))
copy=$(newest "$ALICE_MAILDIR")
check "the server copy is ciphertext" grep -q -- '-----BEGIN PGP MESSAGE-----' "$copy"
check "… without the body in the clear" bash -c '! grep -qF "$1" "$2"' _ "$line2" "$copy"
check "… with bob's Autocrypt header outside" grep -q "^Autocrypt: addr=$BOB_ADDR; prefer-encrypt=mutual;" "$copy"

# 4. alice fetches: bob's key comes in; from now on both ways are encrypted,
#    also under encrypt always.
a fetch >/dev/null
ida=$(a --json list | json 'd["messages"][0]["id"]')
a --json show "$ida" > "$WORK/show2.json"
check "alice reads bob's reply: decrypted, good signature by bob" \
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["crypto"]; assert c["decryption"]=="ok" and c["signature"]["status"]=="good" and sys.argv[2] in d["body_text"], d' \
  "$WORK/show2.json" "$line2"
a account set main --encrypt always >/dev/null
n=$(count "$BOB_MAILDIR")
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Third" "third body $RANDOM" > "$WORK/m3.eml"
line3=$(sed -n 's/^\(third body [0-9]*\)\r$/\1/p' "$WORK/m3.eml")
a --json send --wait "$WORK/m3.eml" > "$WORK/s3.json"
check "alice → bob under encrypt always: accepted, encrypted" \
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["encrypted"], d' "$WORK/s3.json"
wait_for_delivery "$BOB_MAILDIR" $((n + 1))
copy=$(newest "$BOB_MAILDIR")
check "… its server copy is ciphertext" bash -c 'grep -q -- "-----BEGIN PGP MESSAGE-----" "$2" && ! grep -qF "$1" "$2"' _ "$line3" "$copy"

# 4b. Gossip: alice encrypts to bob and carol (whose key she imported); each
#     recipient's key travels inside the encryption, never outside, and bob,
#     who had no key for carol, learns it (source gossip) but is not told
#     to encrypt to her on gossip alone.
GC="$WORK/gnupg-c"; mkdir -m 700 "$GC"
gpg --homedir "$GC" --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key "carol <carol@example.org>" future-default default never 2>/dev/null
fc=$(gpg --homedir "$GC" --batch --with-colons --list-keys carol@example.org | awk -F: '/^fpr:/ {print $10; exit}')
gpg --homedir "$GC" --batch --armor --export "$fc" > "$WORK/carol.asc"
a keys import "$WORK/carol.asc" >/dev/null
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>, Carol <carol@example.org>" "To both" "gossip body $RANDOM" \
  > "$WORK/m4.eml"
a encrypt --to "$BOB_ADDR" --to carol@example.org -o "$WORK/enc4.eml" "$WORK/m4.eml"
# bob_reads IN OUT: what bob's gpg decrypts the OpenPGP message in IN to.
bob_reads() {
  python3 - "$1" "$1.asc" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read()
start = raw.index(b"-----BEGIN PGP MESSAGE-----")
end = raw.index(b"-----END PGP MESSAGE-----") + len(b"-----END PGP MESSAGE-----")
open(sys.argv[2], "wb").write(raw[start:end] + b"\n")
PY
  GNUPGHOME="$GB" gpg --batch --quiet --decrypt "$1.asc" > "$2" 2>/dev/null || true
}
bob_reads "$WORK/enc4.eml" "$WORK/dec4.txt"
check "inside the encryption: Autocrypt-Gossip for bob and for carol" \
  bash -c 'grep -q "^Autocrypt-Gossip: addr=$1;" "$3" && grep -q "^Autocrypt-Gossip: addr=$2;" "$3"' \
  _ "$BOB_ADDR" carol@example.org "$WORK/dec4.txt"
check "… and never outside it" bash -c '! grep -q "^Autocrypt-Gossip" "$1"' _ "$WORK/enc4.eml"
check "… where alice's own Autocrypt header is" grep -q "^Autocrypt: addr=$ALICE_ADDR;" "$WORK/enc4.eml"
# The same from a message naming its Content-Type and Content-Transfer-Encoding,
# which encrypt streams without a scan of its body.
{ sed -n '1,/^\r$/p' "$WORK/m4.eml" | sed '$d'
  printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
  sed '1,/^\r$/d' "$WORK/m4.eml"; } > "$WORK/m4-mime.eml"
a encrypt --to "$BOB_ADDR" --to carol@example.org -o "$WORK/enc4-mime.eml" "$WORK/m4-mime.eml"
bob_reads "$WORK/enc4-mime.eml" "$WORK/dec4-mime.txt"
check "with Content-Type and Content-Transfer-Encoding: gossip for both inside, alice's header outside" \
  bash -c 'grep -q "^Autocrypt-Gossip: addr=$1;" "$3" && grep -q "^Autocrypt-Gossip: addr=$2;" "$3" && grep -q "^Autocrypt: addr=$4;" "$5"' \
  _ "$BOB_ADDR" carol@example.org "$WORK/dec4-mime.txt" "$ALICE_ADDR" "$WORK/enc4-mime.eml"
# As a delivery would (readable by the mail server: -o wrote it 0600).
cat "$WORK/enc4.eml" > "$BOB_MAILDIR/new/$(date +%s%N).gossip"
b fetch >/dev/null 2>"$WORK/fetch.err" || { echo "# fetch failed: $(cat "$WORK/fetch.err")"; false; }
check "bob learns carol's key from the gossip, source gossip" bash -c \
  'GNUPGHOME="$1" "$POSTERN" --home "$2" --json keys list | python3 -c "
import json, sys
k = [k for k in json.load(sys.stdin)[\"keys\"] if k[\"fingerprint\"] == sys.argv[1]]
assert len(k) == 1 and k[0][\"source\"] == \"gossip\", k" "$3"' _ "$GB" "$WORK/home-b" "$fc"
b --json keys check carol@example.org > "$WORK/ccheck.json"
check "on gossip alone, auto does not encrypt to carol (Autocrypt: discourage), and says why" python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert not d["will_encrypt"] and d["not_recommended"] == ["carol@example.org"], d' "$WORK/ccheck.json"
check "… encrypt always does" bash -c \
  'GNUPGHOME="$1" "$POSTERN" --home "$2" --json keys check --encrypt always carol@example.org | grep -q "\"will_encrypt\" *: *true"' \
  _ "$GB" "$WORK/home-b"
# A reply to mail that arrived encrypted is encrypted even on gossip alone
# (Level 1: a reply to an encrypted message → encrypt).
mid4=$(sed -n 's/^Message-ID: \(<[^>]*>\)\r$/\1/p' "$WORK/m4.eml")
printf 'From: Bob <%s>\r\nTo: Carol <carol@example.org>\r\nSubject: Re: To both\r\nIn-Reply-To: %s\r\nDate: %s\r\n\r\nreply\r\n' \
  "$BOB_ADDR" "$mid4" "$(date -R)" > "$WORK/m6.eml"
b --json send "$WORK/m6.eml" > "$WORK/s6.json"
check "a reply to the encrypted message goes to carol encrypted ($mid4)" python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); assert d["encrypted"], d' "$WORK/s6.json"
for id in $(python3 -c 'import json,sys; print(" ".join(str(i) for i in json.load(open(sys.argv[1]))["ids"]))' "$WORK/s6.json"); do
  b outbox cancel "$id" >/dev/null 2>&1 || true
done

# 5. Forged headers, put straight into bob's mailbox as a delivery would.
#    mallory's keys: one for mallory, one that claims alice's address.
GM="$WORK/gnupg-m"; mkdir -m 700 "$GM"
gpg --homedir "$GM" --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key "alice <$ALICE_ADDR>" ed25519 sign never 2>/dev/null
fm=$(gpg --homedir "$GM" --batch --with-colons --list-keys "$ALICE_ADDR" | awk -F: '/^fpr:/ {print $10; exit}')
gpg --homedir "$GM" --batch --pinentry-mode loopback --passphrase '' --quick-add-key "$fm" cv25519 encr never 2>/dev/null
keydata=$(gpg --homedir "$GM" --batch --export "$fm" | base64 -w 76 | sed 's/^/ /')
deliver() { # deliver NAME FROM DATE [BODY [ADDR [KEYDATA]]]: a message with mallory's Autocrypt header for alice
  local f="$BOB_MAILDIR/new/$(date +%s%N).forged.$1"
  { printf 'From: %s\nTo: %s\nSubject: forged %s\nDate: %s\nMessage-ID: <%s@evil.test>\n' \
      "$2" "$BOB_ADDR" "$1" "$3" "$1.$RANDOM"
    printf 'Autocrypt: addr=%s; prefer-encrypt=mutual; keydata=\n%s\n\n' "${5:-$ALICE_ADDR}" "${6:-$keydata}"
    printf '%s\n' "${4:-nothing to see}"; } > "$f"
}
known_fprs() { b --json keys list | json '" ".join(sorted(k["fingerprint"] for k in d["keys"] if k["scheme"] == "pgp"))'; }
before=$(known_fprs)
deliver addr-mismatch "Mallory <mallory@evil.test>" "$(date -R)"
deliver older "Alice <$ALICE_ADDR>" "Mon, 01 Jan 2001 00:00:00 +0000"
deliver two-from "Alice <$ALICE_ADDR>, Mallory <mallory@evil.test>" "$(date -R)"
# A header for bob's own address (it would take encrypt-to-self over).
GO="$WORK/gnupg-o"; mkdir -m 700 "$GO"
gpg --homedir "$GO" --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key "bob <$BOB_ADDR>" future-default default never 2>/dev/null
own_keydata=$(gpg --homedir "$GO" --batch --export "$BOB_ADDR" | base64 -w 76 | sed 's/^/ /')
deliver own-address "Bob <$BOB_ADDR>" "$(date -R)" "hello me" "$BOB_ADDR" "$own_keydata"
# gpg's import-filter syntax in the address: "x||uid!~zzz@…" would keep every user id.
inj='x||uid!~zzz@evil.test'
gpg --homedir "$GO" --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key "<$inj>" future-default default never 2>/dev/null
finj=$(gpg --homedir "$GO" --batch --with-colons --list-keys "=<$inj>" | awk -F: '/^fpr:/ {print $10; exit}')
gpg --homedir "$GO" --batch --quick-add-uid "$finj" "victim <victim@bank.test>" 2>/dev/null
inj_keydata=$(gpg --homedir "$GO" --batch --export "$finj" | base64 -w 76 | sed 's/^/ /')
deliver injection "<$inj>" "$(date -R)" "hello" "$inj" "$inj_keydata"
b fetch >/dev/null 2>"$WORK/fetch.err" || { echo "# fetch failed: $(cat "$WORK/fetch.err")"; false; }
check "forged headers are ignored: addr ≠ From, older than the last seen, several From mailboxes, the user's own address, a filter expression in the address" \
  test "$(known_fprs)" = "$before"
grep -h "Autocrypt header from" "$WORK/home-b/data/posternd.log" | sed 's/^/# /' || true

# 6. A newer message from alice's address with a new key, signed by it: the
#    key is taken (that is Autocrypt), and the change is said everywhere.
printf 'A message signed by the new key.\n' | gpg --homedir "$GM" --batch --pinentry-mode loopback \
  --passphrase '' -u "$fm" --clearsign > "$WORK/clearsigned.txt"
deliver changed "Alice <$ALICE_ADDR>" "$(date -R)" "$(cat "$WORK/clearsigned.txt")"
b fetch >/dev/null 2>"$WORK/fetch.err" || { echo "# fetch failed: $(cat "$WORK/fetch.err")"; false; }
idc=$(b --json list | json '[m["id"] for m in d["messages"] if m["subject"] == "forged changed"][0]')
b --json show "$idc" > "$WORK/showc.json"
check "the changed key's signature carries the warning key-changed" \
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["crypto"]; assert "key-changed" in c["warnings"], c' "$WORK/showc.json"
b --json keys list > "$WORK/bkeys2.json"
check "keys list: the new key says which one it replaces" python3 - "$WORK/bkeys2.json" "$fm" "$fa" <<'PY'
import json, sys
keys = json.load(open(sys.argv[1]))["keys"]
k = [k for k in keys if k["fingerprint"] == sys.argv[2]]
assert len(k) == 1 and k[0]["source"] == "autocrypt" and k[0].get("replaces") == sys.argv[3], keys
PY
check "keys check says key-changed for alice" bash -c \
  'GNUPGHOME="$1" "$POSTERN" --home "$2" keys check "$3" | grep -q key-changed' _ "$GB" "$WORK/home-b" "$ALICE_ADDR"
# send says so too, when it encrypts to such a key.
make_message "Bob <$BOB_ADDR>" "Alice <$ALICE_ADDR>" "After the change" "to the changed key $RANDOM" > "$WORK/m5.eml"
b --json send "$WORK/m5.eml" > "$WORK/s5.json"
check "send --json: the key it encrypted to for alice is flagged key_changed, source autocrypt" python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); k=[k for k in d["keys"] if k["address"] == sys.argv[2]]
assert d["encrypted"] and k and k[0]["key_changed"] and k[0]["source"] == "autocrypt", d' "$WORK/s5.json" "$ALICE_ADDR"
b send "$WORK/m5.eml" 2> "$WORK/s5.err" >/dev/null
check "send (text) warns on stderr and still exits 0" grep -q "warning: encrypted to a key of $ALICE_ADDR that replaced another one (key-changed" "$WORK/s5.err"
# Replaying alice's own header later does not take the flag off mallory's key.
sleep 1
deliver replay "Alice <$ALICE_ADDR>" "$(date -R)" "my old key again" "$ALICE_ADDR" "$alice_keydata"
b fetch >/dev/null 2>"$WORK/fetch.err" || { echo "# fetch failed: $(cat "$WORK/fetch.err")"; false; }
b --json show "$idc" > "$WORK/showc-replay.json"
check "after alice's old key is replayed, mallory's signature still carries key-changed" \
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["crypto"]; assert "key-changed" in c["warnings"], c' "$WORK/showc-replay.json"
b --json keys check "$ALICE_ADDR" > "$WORK/replay-check.json"
check "… while alice's own key is hers again (no change to report for it)" python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); r=d["recipients"][0]
assert r["source"] == "autocrypt" and not r["key_changed"], d' "$WORK/replay-check.json"
# The first message, read again, is still by alice's own key: no warning.
b --json show "$id1" > "$WORK/show1b.json"
check "alice's earlier message still verifies without key-changed" \
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["crypto"]; assert c["signature"]["status"]=="good" and "key-changed" not in c["warnings"], c' \
  "$WORK/show1b.json"
# Importing the key by hand vouches for it: the warning goes.
gpg --homedir "$GM" --batch --armor --export "$fm" > "$WORK/new-alice.asc"
b keys import "$WORK/new-alice.asc" >/dev/null
b --json show "$idc" > "$WORK/showc2.json"
check "after keys import of the new key (the user vouches), no key-changed" \
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["crypto"]; assert "key-changed" not in c["warnings"], c' "$WORK/showc2.json"

a agent stop >/dev/null 2>&1 || true
b agent stop >/dev/null 2>&1 || true
for g in "$GA" "$GB" "$GM" "$GC" "$GO"; do GNUPGHOME="$g" gpgconf --kill gpg-agent 2>/dev/null || true; done
finish
