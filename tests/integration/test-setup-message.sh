#!/usr/bin/env bash
# The Autocrypt Setup Message (issue 13, part 2; Autocrypt Level 1): device A
# makes a key and a Setup Message of it; device B, a second Postern home with
# a GnuPG home of its own, imports it with the Setup Code and then decrypts
# what was encrypted to A's key and signs as A does.  A wrong code imports
# nothing (exit 4); what is not a Setup Message is refused; plain gpg reads
# the attachment with the code (the format as another implementation reads
# it), and the spec's own example imports.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
quiet() { "$@" >/dev/null; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

ADDR=$ALICE_ADDR
GA="$WORK/gnupg-a" GB="$WORK/gnupg-b" GC="$WORK/gnupg-c" GX="$WORK/gnupg-x"
mkdir -m 700 "$GA" "$GB" "$GC" "$GX"
a() { GNUPGHOME="$GA" "$POSTERN" --home "$WORK/home-a" "$@"; }
b() { GNUPGHOME="$GB" "$POSTERN" --home "$WORK/home-b" "$@"; }
c() { GNUPGHOME="$GC" "$POSTERN" --home "$WORK/home-c" "$@"; }
kill_gpg_agents() { local g; for g in "$GA" "$GB" "$GC" "$GX"; do GNUPGHOME="$g" gpgconf --kill gpg-agent 2>/dev/null || true; done; }
trap 'kill_gpg_agents; cleanup' EXIT

fpr=$(a --json keys generate "$ADDR" --no-passphrase | json 'd["fingerprint"]')
check "device A makes a key ($fpr)" grep -qxE '[0-9A-F]{40}' <<<"$fpr"

# ---- Export ----
a --json keys setup-message export "$ADDR" -o "$WORK/setup.eml" > "$WORK/export.json"
code=$(json 'd["setup_code"]' < "$WORK/export.json")
check "export --json gives the Setup Code: nine blocks of four digits joined by dashes" \
  grep -qxE '[0-9]{4}(-[0-9]{4}){8}' <<<"$code"
check "… and the fingerprint of the key it holds" test "$(json 'd["fingerprint"]' < "$WORK/export.json")" = "$fpr"
check "the file is made 0600" test "$(stat -c %a "$WORK/setup.eml")" = 600
expect_fail "export -o FILE does not overwrite a file" 1 "the file exists" \
  a keys setup-message export "$ADDR" -o "$WORK/setup.eml"
expect_fail "export --json without -o: stdout is the JSON's" 2 "needs -o FILE" \
  a --json keys setup-message export "$ADDR"
expect_fail "export for an address without a secret key" 3 "no OpenPGP secret key" \
  a keys setup-message export nobody@example.org

a keys setup-message export "$ADDR" > "$WORK/setup2.eml" 2> "$WORK/code2.txt"
code2=$(grep -oE '^    [0-9]{4}-[0-9]{4}-[0-9]{4}-?$' "$WORK/code2.txt" | tr -d ' \n')
check "without -o the message goes to stdout and the code to stderr, three lines of three blocks" \
  bash -c '[ "$(head -c 6 "$1")" = "From: " ] && grep -qxE "[0-9]{4}(-[0-9]{4}){8}" <<<"$2"' _ "$WORK/setup2.eml" "$code2"
check "… a new code each time" test "$code" != "$code2"

check "the message is as the spec says: From = To, Autocrypt-Setup-Message: v1, multipart/mixed, a description, then the application/autocrypt-setup attachment with the armor headers" \
  python3 - "$WORK/setup.eml" "$ADDR" "$code" "$WORK/payload.asc" <<'PY'
import email, email.policy, re, sys
raw = open(sys.argv[1], "rb").read()
addr, code = sys.argv[2], sys.argv[3]
m = email.message_from_bytes(raw, policy=email.policy.default)
assert m["From"].addresses[0].addr_spec == addr and m["To"].addresses[0].addr_spec == addr, (m["From"], m["To"])
assert len(m["To"].addresses) == 1
assert m["Autocrypt-Setup-Message"] == "v1", m["Autocrypt-Setup-Message"]
assert m.get_content_type() == "multipart/mixed"
parts = list(m.iter_parts())
assert len(parts) == 2, parts
assert parts[0].get_content_type() == "text/plain"
assert parts[1].get_content_type() == "application/autocrypt-setup"
assert parts[1].get_content_disposition() == "attachment"
body = parts[1].get_payload(decode=True).decode("ascii")
lines = body.replace("\r\n", "\n").split("\n")
i = lines.index("-----BEGIN PGP MESSAGE-----")
assert lines[i + 1] == "Passphrase-Format: numeric9x4", lines[i + 1]
assert lines[i + 2] == "Passphrase-Begin: " + code[:2], lines[i + 2]
assert lines[i + 3] == "", "the armor headers end with an empty line"
assert "-----END PGP MESSAGE-----" in lines
# The code is nowhere in the message, with its dashes or without.
for form in (code, code.replace("-", ""), code[2:]):
    assert form.encode() not in raw, "the Setup Code is in the message"
assert not re.search(rb"PRIVATE KEY", raw)
open(sys.argv[4], "w").write(body)
PY

# Another implementation's reading of the format: plain gpg, in a GnuPG home
# that has no key, decrypts it with the code (the dashes are part of it).
gx() { GNUPGHOME="$GX" gpg --batch --no-tty "$@"; }
check "gpg --decrypt with the Setup Code gives the armored secret key of A" bash -c '
  GNUPGHOME="$1" gpg --batch --no-tty --pinentry-mode loopback --passphrase "$2" --decrypt "$3" 2>/dev/null > "$4" &&
  head -n 1 "$4" | grep -qx -- "-----BEGIN PGP PRIVATE KEY BLOCK-----" &&
  GNUPGHOME="$1" gpg --batch --no-tty --with-colons --import-options show-only --import "$4" 2>/dev/null |
    grep -q "^fpr:::::::::$5:"' _ "$GX" "$code" "$WORK/payload.asc" "$WORK/key.asc" "$fpr"
check "… and not with another code" bash -c '
  ! GNUPGHOME="$1" gpg --batch --no-tty --pinentry-mode loopback --passphrase "$2" --decrypt "$3" >/dev/null 2>&1' \
  _ "$GX" "${code:0:40}0000" "$WORK/payload.asc"
gx --list-packets --pinentry-mode loopback --passphrase "$code" "$WORK/payload.asc" > "$WORK/packets.txt" 2>&1 || true
check "its packets: a symmetric session key (AES-128 or AES-256, iterated and salted S2K), then integrity-protected data, no public-key session key" \
  bash -c 'grep -qE "^:symkey enc packet: version 4, cipher (7|9), (aead 0, ?)?s2k 3" "$1" &&
           grep -q "^:encrypted data packet:" "$1" && grep -q "mdc_method: 2" "$1" &&
           ! grep -q "pubkey enc packet" "$1" || { sed "s/^/# /" "$1" | head -n 12; false; }' _ "$WORK/packets.txt"

# ---- Import on device B ----
expect_fail "import without a code, standard input no terminal" 2 "give the Setup Code with --code-fd" \
  b keys setup-message import "$WORK/setup.eml" </dev/null
expect_fail "a wrong code (the same first two digits): exit 4" 4 "Setup Code does not decrypt it" \
  b keys setup-message import "$WORK/setup.eml" --code-fd 3 3<<<"${code:0:40}0000"
other=$([ "${code:0:1}" = 9 ] && echo 1 || echo 9)
expect_fail "a wrong code whose first digits differ from Passphrase-Begin: exit 4" 4 "begins with ${code:0:2}" \
  b keys setup-message import "$WORK/setup.eml" --code-fd 3 3<<<"$other${code:1}"
expect_fail "a code with too few digits" 2 "not a Setup Code" \
  b keys setup-message import "$WORK/setup.eml" --code-fd 3 3<<<"${code:0:30}"
check "… none of it imported anything" bash -c '[ "$(GNUPGHOME="$1" gpg --batch --list-secret-keys 2>/dev/null)" = "" ]' _ "$GB"

make_message "$ADDR" "$ADDR" "plain" "not a setup message" > "$WORK/plain.eml"
expect_fail "a message that is not a Setup Message is refused" 1 "not an Autocrypt Setup Message: it has no Autocrypt-Setup-Message header" \
  b keys setup-message import "$WORK/plain.eml" --code-fd 3 3<<<"$code"
sed 's/^Autocrypt-Setup-Message: v1/Autocrypt-Setup-Message: v2/' "$WORK/setup.eml" > "$WORK/v2.eml"
expect_fail "Autocrypt-Setup-Message: v2 is refused" 1 "is not v1" \
  b keys setup-message import "$WORK/v2.eml" --code-fd 3 3<<<"$code"
sed "s/^To: .*/To: <mallory@example.org>/" "$WORK/setup.eml" > "$WORK/to.eml"
expect_fail "a To that is not the From address is refused" 1 "its To is not its From address" \
  b keys setup-message import "$WORK/to.eml" --code-fd 3 3<<<"$code"
sed 's|application/autocrypt-setup|application/octet-stream|' "$WORK/setup.eml" > "$WORK/type.eml"
expect_fail "a key part of another type is refused" 1 "not application/autocrypt-setup" \
  b keys setup-message import "$WORK/type.eml" --code-fd 3 3<<<"$code"
expect_fail "a bare armored key is no Setup Message" 1 "not an Autocrypt Setup Message" \
  b keys setup-message import "$WORK/key.asc" --code-fd 3 3<<<"$code"

# GnuPG T3277: a payload that also holds a session key for a public key
# would be opened by that key whatever the code.  A made one for its own key
# (the right code too): refused before anything is decrypted.
GNUPGHOME="$GA" gpg --batch --no-tty --pinentry-mode loopback --passphrase "$code" --armor \
  --symmetric --encrypt -r "$fpr" -o "$WORK/pk.asc" "$WORK/key.asc" 2>/dev/null
python3 - "$WORK/setup.eml" "$WORK/pk.asc" "$WORK/pk.eml" <<'PY'
import re, sys
raw = open(sys.argv[1]).read()
pk = open(sys.argv[2]).read().strip().replace("\n", "\r\n")
out = re.sub(r"-----BEGIN PGP MESSAGE-----.*-----END PGP MESSAGE-----", lambda m: pk, raw, flags=re.S)
open(sys.argv[3], "w", newline="").write(out)
PY
expect_fail "a payload with a public-key session key is refused, even on the device that has the key" 1 \
  "encrypted to a public key" a keys setup-message import "$WORK/pk.eml" --code-fd 3 3<<<"$code"

spaced=$(tr -- '-' ' ' <<<"$code")
out=$(b keys setup-message import "$WORK/setup.eml" --code-fd 3 3<<<"$spaced")
check "B imports it with the code typed with spaces: the fingerprint and the address printed" \
  grep -qE "imported OpenPGP secret key $fpr for $ADDR" <<<"$out"
b --json keys list > "$WORK/keys-b.json"
check "B's keyring has A's key with its secret part" python3 - "$WORK/keys-b.json" "$fpr" <<'PY'
import json, sys
keys = [k for k in json.load(open(sys.argv[1]))["keys"] if k["id"] == sys.argv[2]]
assert len(keys) == 1 and keys[0]["secret"] and keys[0]["can_sign"] and keys[0]["can_encrypt"], keys
PY
recorded() { # recorded DB FPR ADDR: the store knows FPR as imported and as ADDR's key
  [ "$(sqlite3 "$1" "select source from key_sources where scheme = 'pgp' and fingerprint = '$2'")" = imported ] &&
    [ "$(sqlite3 "$1" "select fingerprint from key_bindings where scheme = 'pgp' and address = lower('$3')")" = "$2" ]
}
check "B's store records the key as imported, bound to the address" recorded "$WORK/home-b/data/postern.db" "$fpr" "$ADDR"
check "importing it again is fine (the same key)" b keys setup-message import "$WORK/setup.eml" --code-fd 3 3<<<"$code"

make_message "$ADDR" "$ADDR" "to myself" "Only my devices read this $(date +%s%N)" > "$WORK/m.eml"
line=$(grep -a 'Only my devices' "$WORK/m.eml" | tr -d '\r')
a encrypt --to "$ADDR" -o "$WORK/enc.eml" "$WORK/m.eml"
b --json decrypt -o "$WORK/dec.eml" "$WORK/enc.eml" > "$WORK/dec.json"
decrypted() { [ "$(json 'd["decryption"]' < "$1")" = ok ] && grep -qF "$3" "$2"; }
check "B decrypts what A encrypted to its key" decrypted "$WORK/dec.json" "$WORK/dec.eml" "$line"
b encrypt --to "$ADDR" --sign -o "$WORK/signed.eml" "$WORK/m.eml"
a --json decrypt -o /dev/null "$WORK/signed.eml" > "$WORK/sig.json"
signed_by() { # signed_by JSON FPR: a good signature by FPR
  [ "$(json 'd["signature"]["status"] + " " + str(d["signature"]["fingerprint"])' < "$1")" = "good $2" ]
}
check "B signs with the same key: A verifies a good signature by fingerprint $fpr" signed_by "$WORK/sig.json" "$fpr"

# ---- A key under a passphrase ----
printf 'correct horse battery\n' > "$WORK/keypass"
fpr_c=$(c --json keys generate carol@example.org --passphrase-fd 3 3<"$WORK/keypass" | json 'd["fingerprint"]')
expect_fail "a key under a passphrase is not exported without it" 2 "under a passphrase: give it" \
  c keys setup-message export carol@example.org -o "$WORK/c.eml"
expect_fail "… nor with a wrong one" 4 "passphrase of the secret key $fpr_c is wrong" \
  c keys setup-message export carol@example.org -o "$WORK/c.eml" --passphrase-fd 3 3<<<"wrong"
check "… and no file is left behind" test ! -e "$WORK/c.eml"
code_c=$(c --json keys setup-message export carol@example.org -o "$WORK/c.eml" --passphrase-fd 3 3<"$WORK/keypass" |
           json 'd["setup_code"]')
check "with it, the Setup Message is made and B imports it" bash -c \
  'GNUPGHOME="$1" "$2" --home "$3" keys setup-message import "$4" --code-fd 3 3<<<"$5" | grep -q "$6"' \
  _ "$GB" "$POSTERN" "$WORK/home-b" "$WORK/c.eml" "$code_c" "$fpr_c"

# ---- Through the mail: sent to itself, fetched on B, imported from the server copy and from export ----
add_account_in() { # add_account_in FUNC
  "$1" account add main --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
    --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
    --password-command "cat $WORK/pass-alice" --ca-file "$CA_FILE" --keep-on-server >/dev/null
}
printf '%s\n' "$ALICE_PASS" > "$WORK/pass-alice"; chmod 600 "$WORK/pass-alice"
mkdir -m 700 "$WORK/gnupg-d"
d() { GNUPGHOME="$WORK/gnupg-d" "$POSTERN" --home "$WORK/home-d" "$@"; }
add_account_in a
add_account_in d
before=$(find "$ALICE_MAILDIR/new" "$ALICE_MAILDIR/cur" -type f 2>/dev/null | wc -l)
code_m=$(a --json keys setup-message export "$ADDR" -o "$WORK/mail.eml" | json 'd["setup_code"]')
check "A sends the Setup Message to itself as it is (--encrypt never --no-sign)" \
  quiet a send --wait --encrypt never --no-sign "$WORK/mail.eml"
check "it reaches the mailbox" wait_for_delivery "$ALICE_MAILDIR" $((before + 1))
served=$(find "$ALICE_MAILDIR/new" "$ALICE_MAILDIR/cur" -type f -exec grep -l '^Autocrypt-Setup-Message: v1' {} + | head -n 1)
check "the server copy imports on device D with the code" quiet \
  d keys setup-message import "$served" --code-fd 3 3<<<"$code_m"
d fetch >/dev/null 2>&1 || true
id=$(d --json list | python3 -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin)["messages"] if "Setup" in (m.get("subject") or "")][0])')
d export "$id" > "$WORK/exported.eml"
check "… and so does postern export of it, once fetched" quiet \
  d keys setup-message import "$WORK/exported.eml" --code-fd 3 3<<<"$code_m"

# ---- The spec's own example (another implementation's Setup Message) ----
CORPUS="$SRC/../shared/corpus/autocrypt"
[ -d "$CORPUS" ] || CORPUS=/work/shared/corpus/autocrypt
if [ -f "$CORPUS/example-setup-message.eml" ]; then
  mkdir -m 700 "$WORK/gnupg-e"
  e() { GNUPGHOME="$WORK/gnupg-e" "$POSTERN" --home "$WORK/home-e" "$@"; }
  expect_fail "the spec's example Setup Message with a wrong code: exit 4" 4 "does not decrypt" \
    e keys setup-message import "$CORPUS/example-setup-message.eml" --code-fd 3 3<<<"1742-0185-6197-1303-7016-8412-3581-4441-0598"
  check "the spec's example Setup Message imports with its published code: alice@autocrypt.example's key" bash -c \
    '"$@" | grep -q "EB85BB5FA33A75E15E944E63F231550C4F47E38E for alice@autocrypt.example"' _ \
    env GNUPGHOME="$WORK/gnupg-e" "$POSTERN" --home "$WORK/home-e" keys setup-message import \
    "$CORPUS/example-setup-message.eml" --code-fd 0 <<<"1742 0185 6197 1303 7016 8412 3581 4441 0597"
  GNUPGHOME="$WORK/gnupg-e" gpgconf --kill gpg-agent 2>/dev/null || true
else
  ok "# SKIP the Autocrypt corpus is absent"
fi
GNUPGHOME="$WORK/gnupg-d" gpgconf --kill gpg-agent 2>/dev/null || true

check "no agent log holds a Setup Code" bash -c '! grep -rqF -e "$1" -e "$2" "$3"/home-*/data/*.log' _ "$code" "$code_m" "$WORK"
finish
