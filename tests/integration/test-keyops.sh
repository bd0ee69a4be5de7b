#!/usr/bin/env bash
# The user's own keys after keys generate (issue 13, part 1), with real
# gpg and openssl: keys export (into a fresh keyring, which then encrypts
# to it), keys expire (seen by gpg --list-keys), keys revoke (the account
# no longer signs; the exported key is revoked in another keyring), and
# the S/MIME certificate request: keys generate --scheme smime --csr, a CA
# made here with `openssl` signs it, keys import of the certificate makes
# an identity that signs and decrypts, which `openssl cms` verifies and
# decrypts.  And the refusals, each one line with its exit code.
source "$(dirname "$0")/lib.sh"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
# The source keys list --json gives a key: source SCHEME FINGERPRINT.
source_of() {
  new --json keys list | python3 -c '
import json, sys
keys = [k for k in json.load(sys.stdin)["keys"] if k["scheme"] == sys.argv[1] and k["fingerprint"] == sys.argv[2]]
print(keys[0]["source"] if len(keys) == 1 else "none")' "$1" "$2"
}
# colons GNUPGHOME ADDR TYPE: field FIELD of gpg's first TYPE (pub, sub) record for ADDR.
colons() { GNUPGHOME="$1" gpg --batch --with-colons --list-keys "$2" 2>/dev/null | awk -F: -v t="$3" -v f="$4" '$1 == t { print $f; exit }'; }
near() { [ -n "$1" ] && [ "$1" -ge $(($2 - 172800)) ] && [ "$1" -le $(($2 + 172800)) ]; }

G="$WORK/gnupg-new"
H="$WORK/home-new"
mkdir -m 700 "$G"
new() { GNUPGHOME="$G" "$POSTERN" --home "$H" "$@"; }
printf '%s\n' "$ALICE_PASS" > "$WORK/pass-new"
chmod 600 "$WORK/pass-new"
new account add main --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-new" --ca-file "$CA_FILE" >/dev/null
fpr=$(new --json keys generate "$ALICE_ADDR" --no-passphrase | json 'd["fingerprint"]')
check "keys generate makes alice a key ($fpr)" grep -qxE '[0-9A-F]{40}' <<<"$fpr"
check "… keys list says it was generated" test "$(source_of pgp "$fpr")" = generated

# ---- keys export ----
check "keys export -o FILE writes the armored public key" new keys export "$ALICE_ADDR" -o "$WORK/alice.asc"
check "… the same as on standard output" cmp -s "$WORK/alice.asc" <(new keys export "$ALICE_ADDR")
check "… armored, and no secret key packet in it" bash -c \
  'grep -q "BEGIN PGP PUBLIC KEY BLOCK" "$1" && ! grep -q PRIVATE "$1" &&
   ! gpg --batch --list-packets "$1" 2>/dev/null | grep -qE "secret (sub)?key packet"' _ "$WORK/alice.asc"
new --json keys export "$ALICE_ADDR" > "$WORK/export.json"
check "keys export --json: scheme pgp, own, the one fingerprint" \
  test "$(json '"%s %s %s" % (d["scheme"], d["own"], ",".join(d["fingerprints"]))' < "$WORK/export.json")" = "pgp True $fpr"
F="$WORK/gnupg-fresh"
mkdir -m 700 "$F"
check "a fresh keyring imports it" bash -c 'GNUPGHOME="$1" gpg --batch --import "$2" 2>/dev/null' _ "$F" "$WORK/alice.asc"
check "… and encrypts to it" bash -c \
  'echo "for alice only" | GNUPGHOME="$1" gpg --batch --trust-model always -a -e -r "$2" > "$3" 2>/dev/null' \
  _ "$F" "$ALICE_ADDR" "$WORK/to-alice.asc"
check "… which alice's key decrypts" bash -c \
  '[ "$(GNUPGHOME="$1" gpg --batch -d "$2" 2>/dev/null)" = "for alice only" ]' _ "$G" "$WORK/to-alice.asc"
known_export() {
  new keys import "$BOB_PGP_PUBKEY" >/dev/null &&
    [ "$(new --json keys export "$BOB_ADDR" | json '"%s %s" % (d["own"], ",".join(d["fingerprints"]))')" = "False $BOB_FPR" ]
}
check "a known key (bob's) is exported too, not as own" known_export
expect_fail "keys export of an address with no key: exit 3" 3 "no OpenPGP key and no S/MIME certificate for nobody@postern.test" \
  new keys export nobody@postern.test
expect_fail "keys export --scheme smime with no certificate: exit 3" 3 "no S/MIME certificate for $ALICE_ADDR" \
  new keys export --scheme smime "$ALICE_ADDR"
expect_fail "keys export --scheme pgp of something that is not an address: exit 2" 2 "is not an e-mail address" \
  new keys export --scheme pgp not-an-address
expect_fail "keys export --scheme other: exit 2" 2 "--scheme is pgp or smime" new keys export --scheme x509 "$ALICE_ADDR"

# ---- keys expire ----
now=$(date +%s)
check "keys expire --days 400" new keys expire "$ALICE_ADDR" --days 400
check "… gpg --list-keys shows the primary key expiring in 400 days" near "$(colons "$G" "$ALICE_ADDR" pub 7)" $((now + 400 * 86400))
check "… and the encryption subkey too" near "$(colons "$G" "$ALICE_ADDR" sub 7)" $((now + 400 * 86400))
never_expires() {
  new keys expire "$ALICE_ADDR" --never >/dev/null &&
    [ -z "$(colons "$G" "$ALICE_ADDR" pub 7)" ] && [ -z "$(colons "$G" "$ALICE_ADDR" sub 7)" ]
}
check "keys expire --never: neither expires" never_expires
expect_fail "keys expire needs --days or --never" 2 "give --days N or --never" new keys expire "$ALICE_ADDR"
expect_fail "… not both" 2 "give --days N or --never" new keys expire "$ALICE_ADDR" --days 3 --never
expect_fail "… and a day count from 1" 2 "--days is from 1 to 36500" new keys expire "$ALICE_ADDR" --days 0
expect_fail "keys expire of an address without a secret key (bob's is public): exit 3" 3 \
  "$BOB_ADDR has no OpenPGP secret key" new keys expire "$BOB_ADDR" --days 30

# Under a passphrase.
G2="$WORK/gnupg-pass"
H2="$WORK/home-pass"
mkdir -m 700 "$G2"
pass() { GNUPGHOME="$G2" "$POSTERN" --home "$H2" "$@"; }
printf 'correct horse battery\n' > "$WORK/keypass"
pass keys generate carol@example.org --passphrase-fd 3 3<"$WORK/keypass" >/dev/null
GNUPGHOME="$G2" gpgconf --kill gpg-agent
expect_fail "keys expire of a key under a passphrase, without it: exit 2, saying so" 2 \
  "protected by a passphrase: give it \(--passphrase-fd N\)" pass keys expire carol@example.org --days 90
expect_fail "… with a wrong one: exit 4" 4 "wrong passphrase" \
  pass keys expire carol@example.org --days 90 --passphrase-fd 3 3<<<"wrong"
check "… with it: done" pass keys expire carol@example.org --days 90 --passphrase-fd 3 3<"$WORK/keypass"
check "… seen by gpg" near "$(colons "$G2" carol@example.org pub 7)" $((now + 90 * 86400))

# ---- keys revoke ----
# typed TEXT COMMAND...: runs COMMAND on a terminal of its own (a pty) and
# answers its question with TEXT; prints what it showed, exits as it did.
cat > "$WORK/typed.py" <<'PY'
import os, pty, select, sys, time
text, argv = sys.argv[1].encode(), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
seen, typed, start = b"", False, time.time()
while True:
    if not typed and b"yes" in seen:
        os.write(fd, text + b"\n")
        typed = True
    if time.time() - start > 60:
        os.kill(pid, 9)
    if not select.select([fd], [], [], 1)[0]:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Before" "Signed by the key $(date +%s%N)" > "$WORK/m1.eml"
check "before the revocation alice's mail goes out signed" new send --wait "$WORK/m1.eml"
# setsid: no controlling terminal, even when the suite runs on one.
expect_fail "keys revoke without --yes and no terminal: refused, exit 2" 2 \
  "cannot be undone: confirm with --yes \(there is no terminal to ask on\)" setsid -w env GNUPGHOME="$G" "$POSTERN" --home "$H" keys revoke "$ALICE_ADDR"
expect_fail "keys revoke --reason other: exit 2" 2 "--reason is compromised, superseded or retired" \
  new keys revoke "$ALICE_ADDR" --yes --reason other
python3 "$WORK/typed.py" no env GNUPGHOME="$G" "$POSTERN" --home "$H" keys revoke "$ALICE_ADDR" \
  > "$WORK/typed.out" 2>&1 && rc=0 || rc=$?
check "asked on a terminal and answered no: exit 2, nothing revoked (exit $rc)" bash -c \
  '[ "$1" = 2 ] && grep -q "This cannot be undone" "$2" && grep -q "not confirmed: nothing revoked" "$2" && [ "$3" = u ]' \
  _ "$rc" "$WORK/typed.out" "$(colons "$G" "$ALICE_ADDR" pub 2)"
python3 "$WORK/typed.py" yes env GNUPGHOME="$G" "$POSTERN" --home "$H" keys revoke "$ALICE_ADDR" --reason superseded \
  > "$WORK/typed.out" 2>&1 && rc=0 || rc=$?
check "asked on a terminal and answered yes: revoked (exit $rc)" bash -c \
  '[ "$1" = 0 ] && grep -q "revoked OpenPGP key $3" "$2"' _ "$rc" "$WORK/typed.out" "$fpr"
revoked_superseded() {
  [ "$(colons "$G" "$ALICE_ADDR" pub 2)" = r ] &&
    GNUPGHOME="$G" gpg --batch --with-colons --list-sigs "$ALICE_ADDR" | grep -qE "^rev:.*:20x,01:"
}
check "gpg shows the key revoked, reason superseded" revoked_superseded
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "After" "Not signed by a revoked key $(date +%s%N)" > "$WORK/m2.eml"
expect_fail "a signed send after the revocation is refused: no usable key (exit 3)" 3 "no OpenPGP secret key" \
  new send --wait "$WORK/m2.eml"
expect_fail "revoking it again: exit 3" 3 "has no OpenPGP secret key that is not revoked" \
  new keys revoke "$ALICE_ADDR" --yes
expect_fail "… and expiring it: exit 3" 3 "has no OpenPGP secret key that is not revoked" \
  new keys expire "$ALICE_ADDR" --days 10
check "keys export gives the revoked key" new keys export "$ALICE_ADDR" -o "$WORK/alice-revoked.asc"
revoked_elsewhere() {
  GNUPGHOME="$F" gpg --batch --import "$WORK/alice-revoked.asc" 2>/dev/null && [ "$(colons "$F" "$ALICE_ADDR" pub 2)" = r ]
}
check "… which makes it revoked in the other keyring" revoked_elsewhere
check "… which no longer encrypts to it" bash -c \
  '! echo x | GNUPGHOME="$1" gpg --batch --trust-model always -e -r "$2" >/dev/null 2>&1' _ "$F" "$ALICE_ADDR"
fpr_new=$(new --json keys generate "$ALICE_ADDR" --no-passphrase | json 'd["fingerprint"]')
check "after the revocation keys generate makes a new key ($fpr_new)" bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$fpr_new" "$fpr"
check "… and export now gives both own keys, the revoked one too" \
  test "$(new --json keys export "$ALICE_ADDR" | json 'len(d["fingerprints"])')" = 2
GNUPGHOME="$G2" gpgconf --kill gpg-agent
expect_fail "revoking a key under a passphrase without it: exit 2, saying so" 2 \
  "protected by a passphrase: give it \(--passphrase-fd N\)" pass keys revoke carol@example.org --yes
expect_fail "… with a wrong one: exit 4" 4 "wrong passphrase" \
  pass keys revoke carol@example.org --yes --passphrase-fd 3 3<<<"wrong"
check "… not revoked" test "$(colons "$G2" carol@example.org pub 2)" != r
revoke_carol() {
  pass keys revoke carol@example.org --yes --reason compromised --passphrase-fd 3 3<"$WORK/keypass" >/dev/null &&
    [ "$(colons "$G2" carol@example.org pub 2)" = r ] &&
    GNUPGHOME="$G2" gpg --batch --with-colons --list-sigs carol@example.org | grep -qE "^rev:.*:20x,02:"
}
check "… with it: revoked, reason compromised" revoke_carol

# ---- S/MIME: a key, its request, a CA, the certificate ----
SAM=sam@example.org
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
  -subj "/CN=Postern keyops test CA" -days 30 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf 'sam passphrase\n' > "$WORK/sampass"
expect_fail "--scheme smime wants --csr FILE" 2 "--scheme smime needs --csr FILE" \
  new keys generate "$SAM" --scheme smime --passphrase-fd 3 3<"$WORK/sampass"
expect_fail "--csr is for --scheme smime" 2 "--csr and --rsa are for --scheme smime" \
  new keys generate "$SAM" --csr "$WORK/x.csr" --no-passphrase
expect_fail "--expires-days is not for S/MIME" 2 "--expires-days is for OpenPGP" \
  new keys generate "$SAM" --scheme smime --csr "$WORK/x.csr" --expires-days 3 --no-passphrase
expect_fail "… nor an address that is not one" 2 "is not an e-mail address" \
  new keys generate not-an-address --scheme smime --csr "$WORK/x.csr" --passphrase-fd 3 3<"$WORK/sampass"
new --json keys generate "$SAM" --scheme smime --csr "$WORK/sam.csr" --passphrase-fd 3 3<"$WORK/sampass" > "$WORK/gen.json"
check "keys generate --scheme smime --csr: an EC P-256 key under the passphrase" \
  test "$(json '"%s %s" % (d["key_type"], d["protection"])' < "$WORK/gen.json")" = "ec-p256 passphrase"
req_text=$(openssl req -in "$WORK/sam.csr" -noout -text 2>/dev/null)
check "the request is a PKCS#10 request its key signed" openssl req -in "$WORK/sam.csr" -verify -noout
check "… for CN and emailAddress $SAM, subjectAltName email:$SAM" bash -c \
  'grep -qE "Subject: CN ?= ?$2, emailAddress ?= ?$2" <<<"$1" && grep -q "email:$2" <<<"$1"' _ "$req_text" "$SAM"
check "… key usage digitalSignature and keyAgreement (EC), critical, extended key usage emailProtection" bash -c \
  'grep -A1 "Key Usage: critical" <<<"$1" | grep -q "Digital Signature, Key Agreement" && grep -A1 "Extended Key Usage" <<<"$1" | grep -q "E-mail Protection"' \
  _ "$req_text"
reqfile=$(ls "$H/data/smime/requests/"*.pem)
check "the waiting key is kept encrypted (0600, only under the passphrase), the request's key" bash -c \
  'grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$1" && ! grep -qE "BEGIN (RSA |EC )?PRIVATE KEY" "$1" && [ "$(stat -c %a "$1")" = 600 ] &&
   ! sed -n "/BEGIN ENCRYPTED/,/END ENCRYPTED/p" "$1" | openssl pkey -passin pass:wrong -noout 2>/dev/null &&
   [ "$(sed -n "/BEGIN ENCRYPTED/,/END ENCRYPTED/p" "$1" | openssl pkey -passin "file:$2" -pubout)" = "$(openssl req -in "$3" -noout -pubkey)" ]' \
  _ "$reqfile" "$WORK/sampass" "$WORK/sam.csr"
expect_fail "a second request while one waits: exit 2" 2 "a key for $SAM already waits for its certificate" \
  new keys generate "$SAM" --scheme smime --csr "$WORK/sam2.csr" --passphrase-fd 3 3<"$WORK/sampass"
expect_fail "keys export --scheme smime before the certificate: exit 3, saying it waits" 3 \
  "no S/MIME certificate for $SAM yet: its key waits" new keys export --scheme smime "$SAM"
expect_fail "… and without --scheme (no OpenPGP key either): the same" 3 \
  "no S/MIME certificate for $SAM yet: its key waits" new keys export "$SAM"

check "the test CA signs the request (openssl x509 -req)" bash -c \
  'openssl x509 -req -in "$1/sam.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial -days 10 \
     -copy_extensions copyall -out "$1/sam.pem" 2>/dev/null' _ "$WORK"
# A certificate for sam from the same CA, for another key.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/other.key" -subj "/CN=$SAM" \
  -addext "subjectAltName=email:$SAM" -out "$WORK/other.csr" 2>/dev/null
openssl x509 -req -in "$WORK/other.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 10 \
  -copy_extensions copyall -out "$WORK/other.pem" 2>/dev/null
cat "$WORK/other.pem" "$WORK/ca.pem" > "$WORK/other-chain.pem"
check "keys import --trust-anchor of the CA" new keys import --trust-anchor "$WORK/ca.pem"
expect_fail "a certificate for $SAM whose key matches nothing waiting: refused, exit 1" 1 \
  "the certificate for $SAM is not for the key waiting for it" new keys import "$WORK/other-chain.pem"
expect_fail "… nothing of it kept" 1 "no key or certificate for $SAM" new keys show "$SAM"
printf 'not a certificate\n' > "$WORK/junk.pem"
expect_fail "a file that is not a certificate: exit 1" 1 "not a certificate or PKCS#12 file" new keys import "$WORK/junk.pem"
new --json keys import "$WORK/sam.pem" > "$WORK/import.json"
check "keys import of the signed certificate makes an identity: secret, locked, under the passphrase" \
  test "$(json '" ".join("%s %s %s" % (k["secret"], k["locked"], k["protection"]) for k in d["imported"])' < "$WORK/import.json")" = "True True passphrase"
samfpr=$(json 'd["imported"][0]["id"]' < "$WORK/import.json")
check "… the request is gone, the identity file holds the key encrypted" bash -c \
  '[ -z "$(ls "$1/requests")" ] && f="$1/identities/$2.pem" && grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$f" &&
   ! grep -qE "BEGIN (RSA |EC )?PRIVATE KEY" "$f" && [ "$(stat -c %a "$f")" = 600 ]' _ "$H/data/smime" "$samfpr"
check "… keys list says it was generated (not imported: the import only brought its certificate)" \
  test "$(source_of smime "$samfpr")" = generated
make_message "$SAM" "$SAM" "To myself" "A line for me alone $(date +%s%N)" > "$WORK/self.eml"
expect_fail "signing before the unlock: locked, exit 3" 3 "the S/MIME key of $SAM is locked" \
  new encrypt --scheme smime --sign --to "$SAM" -o "$WORK/self-enc.eml" "$WORK/self.eml"
check "keys unlock with the passphrase" new keys unlock "$SAM" --passphrase-fd 3 3<"$WORK/sampass"
check "encrypt --scheme smime --sign to self" new encrypt --scheme smime --sign --to "$SAM" -o "$WORK/self-enc.eml" "$WORK/self.eml"
sed -n '/BEGIN ENCRYPTED/,/END ENCRYPTED/p' "$H/data/smime/identities/$samfpr.pem" \
  | openssl pkey -passin "file:$WORK/sampass" -out "$WORK/sam.key"
check "openssl cms decrypts it with the key and the certificate" \
  openssl cms -decrypt -in "$WORK/self-enc.eml" -inkey "$WORK/sam.key" -recip "$WORK/sam.pem" -out "$WORK/self-signed.eml"
check "… and verifies the signature inside against the test CA" bash -c \
  'openssl cms -verify -in "$1" -CAfile "$2" -purpose smimesign -out "$3" 2>/dev/null && grep -q "A line for me alone" "$3"' \
  _ "$WORK/self-signed.eml" "$WORK/ca.pem" "$WORK/self-verified.txt"
new --json decrypt -o "$WORK/self-dec.eml" "$WORK/self-enc.eml" > "$WORK/self-dec.json"
check "postern decrypt: decryption ok, signature good by $SAM" \
  test "$(json '"%s %s %s" % (d["decryption"], d["signature"]["status"], d["signature"]["signer"])' < "$WORK/self-dec.json")" = "ok good $SAM"
same_cert() { [ "$(openssl x509 -in "$1" -noout -fingerprint -sha256)" = "$(new keys export "$SAM" | openssl x509 -noout -fingerprint -sha256)" ]; }
check "keys export (no OpenPGP key for $SAM): its certificate, as PEM" same_cert "$WORK/sam.pem"
check "… never the key" bash -c '! grep -q PRIVATE <<<"$1"' _ "$(new keys export --scheme smime "$SAM")"

# RSA, and the passphrase given to the import unlocks at once.
RSA=rsa@example.org
check "keys generate --scheme smime --rsa" new keys generate "$RSA" --scheme smime --rsa --csr "$WORK/rsa.csr" \
  --passphrase-fd 3 3<"$WORK/sampass"
check "… an RSA 3072 request with keyEncipherment" bash -c \
  'openssl req -in "$1" -noout -text | grep -q "Public-Key: (3072 bit)" && openssl req -in "$1" -noout -text | grep -A1 "Key Usage: critical" | grep -q "Digital Signature, Key Encipherment"' \
  _ "$WORK/rsa.csr"
openssl x509 -req -in "$WORK/rsa.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 10 \
  -copy_extensions copyall -out "$WORK/rsa.pem" 2>/dev/null
new --json keys import --passphrase-fd 3 "$WORK/rsa.pem" 3<"$WORK/sampass" > "$WORK/rsa-import.json"
check "keys import --passphrase-fd of its certificate: unlocked at once" \
  test "$(json '"%s %s" % (d["imported"][0]["secret"], d["imported"][0]["locked"])' < "$WORK/rsa-import.json")" = "True False"
rsafpr=$(json 'd["imported"][0]["id"]' < "$WORK/rsa-import.json")
sed -n '/BEGIN ENCRYPTED/,/END ENCRYPTED/p' "$H/data/smime/identities/$rsafpr.pem" \
  | openssl pkey -passin "file:$WORK/sampass" -out "$WORK/rsa.key"
make_message "$RSA" "$RSA" "RSA to myself" "An RSA line $(date +%s%N)" > "$WORK/rsa.eml"
rsa_self() {
  new encrypt --scheme smime --sign --to "$RSA" -o "$WORK/rsa-enc.eml" "$WORK/rsa.eml" &&
    openssl cms -decrypt -in "$WORK/rsa-enc.eml" -inkey "$WORK/rsa.key" -recip "$WORK/rsa.pem" -out "$WORK/rsa-signed.eml" &&
    openssl cms -verify -in "$WORK/rsa-signed.eml" -CAfile "$WORK/ca.pem" -purpose smimesign -out /dev/null 2>/dev/null &&
    [ "$(new --json decrypt -o "$WORK/rsa-dec.eml" "$WORK/rsa-enc.eml" | json '"%s %s" % (d["decryption"], d["signature"]["status"])')" = "ok good" ]
}
check "… it signs and encrypts to itself, which openssl cms and postern decrypt and verify" rsa_self

# A request removed.
new --json keys generate gone@example.org --scheme smime --csr "$WORK/gone.csr" --passphrase-fd 3 3<"$WORK/sampass" > "$WORK/gone.json"
gone=$(json 'd["request"]' < "$WORK/gone.json")
check "keys remove of a waiting request by its id" new keys remove "${gone:0:16}"
check "… its file is gone" test ! -e "$H/data/smime/requests/$gone.pem"
check "… and a new request can be made" new keys generate gone@example.org --scheme smime --csr "$WORK/gone2.csr" \
  --passphrase-fd 3 3<"$WORK/sampass"

# Without a passphrase and without a Secret Service: refused, nothing kept.
nobus() { env -u DBUS_SESSION_BUS_ADDRESS DISPLAY= "$POSTERN" --home "$WORK/home-nobus" "$@"; }
nobus agent start >/dev/null
expect_fail "--no-passphrase without a Secret Service: refused, exit 2" 2 \
  "kept under a key in the Secret Service, and .*give a passphrase" nobus keys generate "$SAM" --scheme smime --csr "$WORK/nobus.csr" --no-passphrase
check "… nothing kept, no request written" bash -c '[ -z "$(ls "$1")" ] && [ ! -e "$2" ]' \
  _ "$WORK/home-nobus/data/smime/requests" "$WORK/nobus.csr"

pass agent stop >/dev/null 2>&1 || true
new agent stop >/dev/null 2>&1 || true
for g in "$G" "$G2" "$F"; do GNUPGHOME="$g" gpgconf --kill gpg-agent 2>/dev/null || true; done
finish
