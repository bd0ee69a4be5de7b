#!/usr/bin/env bash
# Passwords in the Secret Service: a throwaway D-Bus session with its own
# gnome-keyring (in a temporary HOME); `account add --secret-service`,
# `account password NAME` from standard input, a login with it against the
# real provider, and clear errors when the service holds none or is not
# there.  The password never reaches the configuration file.
source "$(dirname "$0")/lib.sh"

if [ -z "${POSTERN_IN_DBUS:-}" ]; then
  # Run the rest inside a session bus of its own; gnome-keyring keeps its
  # files under the temporary HOME.
  export POSTERN_IN_DBUS=1 KEYRING_HOME="$WORK/keyring-home"
  mkdir -m 700 -p "$KEYRING_HOME"
  rc=0
  HOME="$KEYRING_HOME" XDG_DATA_HOME="$KEYRING_HOME/.local/share" XDG_RUNTIME_DIR="$KEYRING_HOME" \
    dbus-run-session -- bash "$0" 2> >(grep -v 'Failed to set fd limit' >&2) || rc=$?
  trap - EXIT
  "$POSTERN" --home "$WORK/home-alice" agent stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit $rc
fi

eval "$(printf 'keyring-pass' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
export GNOME_KEYRING_CONTROL
for _ in $(seq 1 50); do secret-tool search --all nothing here >/dev/null 2>&1 && break; sleep 0.1; done

pst alice account add kr --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" \
  --secret-service >/dev/null
expect_fail "no password stored yet: a clear error" 1 "Secret Service holds no password for it; store one with .postern account password kr." \
  pst alice fetch --account kr
check "account password reads it from standard input" bash -c \
  'printf "%s\n" "$1" | "$2" --home "$3" account password kr >/dev/null' _ "$ALICE_PASS" "$POSTERN" "$WORK/home-alice"
check "… it is in the keyring, under the account" bash -c \
  '[ "$(secret-tool lookup account kr user "$1")" = "$2" ]' _ "$ALICE_ADDR" "$ALICE_PASS"
check "… labelled with the account and user" bash -c \
  'secret-tool search account kr user "$1" 2>&1 | grep -qxF "label = Postern: kr ($1)"' _ "$ALICE_ADDR"
check "… and nowhere in the configuration" bash -c '! grep -qF "$1" "$2"' _ "$ALICE_PASS" "$WORK/home-alice/config"
check "fetch logs in with the password from the Secret Service" pst alice fetch --account kr
add_account alice cmd "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
expect_fail "account password for an account with a password command" 2 "does not keep its password in the Secret Service" \
  bash -c 'printf "x\n" | "$1" --home "$2" account password cmd' _ "$POSTERN" "$WORK/home-alice"
expect_fail "account password for an unknown account" 1 "no account named nope" \
  bash -c 'printf "x\n" | "$1" --home "$2" account password nope' _ "$POSTERN" "$WORK/home-alice"
expect_fail "account password with nothing on the input" 2 "no password on the input" \
  bash -c '"$1" --home "$2" account password kr </dev/null' _ "$POSTERN" "$WORK/home-alice"
# The command line loads libsecret only for this command (cli/secret-store.c):
# a libsecret that lacks the function is a clear error, not a crash.
mkdir -p "$WORK/nolib"
cc -shared -fPIC -x c /dev/null -o "$WORK/nolib/libsecret-1.so.0"
expect_fail "account password where libsecret cannot be used" 1 \
  "cannot store the password in the Secret Service: libsecret-1.so.0 has no secret_password_storev_sync" \
  bash -c 'printf "x\n" | LD_LIBRARY_PATH="$3" "$1" --home "$2" account password kr' _ \
  "$POSTERN" "$WORK/home-alice" "$WORK/nolib"
# Nor is a file of that name where the command runs taken for it (GModule
# would have: cli/secret-store.c).
mkdir -p "$WORK/cwd"
cp "$WORK/nolib/libsecret-1.so.0" "$WORK/cwd/libsecret-1.so.0"
cp "$WORK/nolib/libsecret-1.so.0" "$WORK/cwd/libsecret-1.so.0.so"
check "account password in a directory holding a libsecret-1.so.0: the system's is used" bash -c \
  'cd "$4" && printf "%s\n" "$1" | "$2" --home "$3" account password kr >/dev/null' _ "$ALICE_PASS" "$POSTERN" \
  "$WORK/home-alice" "$WORK/cwd"

# An S/MIME PKCS#12 file without a passphrase: its key is kept encrypted
# under a random key in the Secret Service, which unlocks it when the agent
# starts (DESIGN.md §10).
openssl pkcs12 -export -in "$ALICE_CERT" -inkey "$ALICE_KEY" -passout pass: -out "$WORK/nopass.p12"
pst alice keys import --trust-anchor "$SMIME_CA" >/dev/null
check "keys import of a PKCS#12 without a passphrase" pst alice keys import "$WORK/nopass.p12"
smime_fpr=$(pst alice --json keys list | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin)["keys"] if k.get("protection") == "secret-service"][0])')
check "… its key is in the keyring under the fingerprint" bash -c \
  '[ "$(secret-tool lookup fingerprint "$1" | wc -c)" = 64 ]' _ "$smime_fpr"
check "… and encrypted at rest" bash -c \
  'f=$(ls "$1"/*.pem); grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$f" && ! grep -q "BEGIN PRIVATE KEY" "$f" \
   && sed -n "/BEGIN ENCRYPTED/,/END ENCRYPTED/p" "$f" | openssl pkey -passin "pass:$(secret-tool lookup fingerprint "$2")" -noout' \
  _ "$WORK/home-alice/data/smime/identities" "$smime_fpr"
pst alice agent stop >/dev/null
smime_unlocked() {
  for _ in $(seq 1 50); do
    [ "$(pst alice --json keys list | python3 -c 'import json,sys; print([k["locked"] for k in json.load(sys.stdin)["keys"] if k.get("protection") == "secret-service"][0])')" = False ] && return 0
    sleep 0.1
  done
  return 1
}
check "a restarted agent unlocks it from the Secret Service by itself" smime_unlocked
make_message "$ALICE_ADDR" "$ALICE_ADDR" "S/MIME" "signed" > "$WORK/sm.eml"
check "… and signs with it" pst alice encrypt --scheme smime --sign --to "$ALICE_ADDR" -o "$WORK/sm-out.eml" "$WORK/sm.eml"

# Mail that arrives while the key is locked (an agent without the service)
# is analysed again when an agent with the service unlocks the key by
# itself: no keys unlock needed.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
key_locked_mail() {
  pst alice --json list | json 'sum("key-locked" in (m.get("crypto") or {}).get("warnings", []) for m in d["messages"])'
}
ss_locked() {
  pst alice --json keys list | json '[k["locked"] for k in d["keys"] if k.get("protection") == "secret-service"][0]'
}
pst alice agent stop >/dev/null
env -u DBUS_SESSION_BUS_ADDRESS DISPLAY= GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" \
  agent start >/dev/null
check "an agent without the Secret Service leaves the key locked" test "$(ss_locked)" = True
make_message "$ALICE_ADDR" "$ALICE_ADDR" "While locked" "encrypted to the locked key" > "$WORK/locked.eml"
check "S/MIME mail to alice is sent" \
  pst alice send --account cmd --scheme smime --encrypt always --no-sign --wait "$WORK/locked.eml"
fetch_locked_mail() {
  for _ in $(seq 1 60); do
    pst alice fetch --account cmd >/dev/null 2>&1 || true
    [ "$(key_locked_mail)" -ge 1 ] && return 0
    sleep 0.5
  done
  return 1
}
check "… fetched while locked: listed with the warning key-locked" fetch_locked_mail
pst alice agent stop >/dev/null
pst alice agent start >/dev/null
no_key_locked_mail() {
  for _ in $(seq 1 100); do
    [ "$(key_locked_mail)" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
check "a restarted agent with the Secret Service unlocks the key and analyses that mail again" \
  no_key_locked_mail
check "… it lists as decrypted now" test "$(pst alice --json list | json 'sum((m.get("crypto") or {}).get("decryption") == "ok" for m in d["messages"])')" -ge 1

# One address, two identities: one under the Secret Service, one under a
# passphrase.  keys unlock says which stays locked and asks for it.
cat > "$WORK/typed.py" <<'PY'
import os, pty, select, sys, time
delay, text, argv = float(sys.argv[1]), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
seen, typed, start = b"", False, time.time()
while True:
    if not typed and b"Passphrase" in seen:
        time.sleep(delay)
        os.write(fd, text + b"\n")
        typed = True
    # A command that says nothing and never ends fails the check, not the run.
    if time.time() - start > 120:
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
ca_dir=$(dirname "$SMIME_CA")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/alice2.key" \
  -out "$WORK/alice2.csr" -subj "/CN=Alice Two/emailAddress=$ALICE_ADDR" 2>/dev/null
printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment,keyAgreement\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s\n' \
  "$ALICE_ADDR" > "$WORK/alice2.ext"
openssl x509 -req -in "$WORK/alice2.csr" -CA "$SMIME_CA" -CAkey "$ca_dir/ca.key" -CAcreateserial \
  -CAserial "$WORK/ca.srl" -days 30 -extfile "$WORK/alice2.ext" -out "$WORK/alice2.pem" 2>/dev/null
openssl pkcs12 -export -in "$WORK/alice2.pem" -inkey "$WORK/alice2.key" -passout pass:second-pass \
  -out "$WORK/alice2.p12"
check "alice imports a second identity, under a passphrase" \
  pst alice keys import --passphrase-fd 3 "$WORK/alice2.p12" 3<<< "second-pass"
fpr2=$(pst alice --json keys list | json '[k["id"] for k in d["keys"] if k.get("protection") == "passphrase"][0]')
pst alice agent stop >/dev/null
check "after a restart the Secret Service one is unlocked" smime_unlocked
rc=0
setsid -w env GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" --json keys unlock "$ALICE_ADDR" \
  </dev/null >"$WORK/unlock.json" 2>"$WORK/unlock.err" || rc=$?
check "keys unlock without a terminal: exit 2 (got $rc), the one under a passphrase listed as still locked" \
  bash -c '[ "$1" = 2 ] && [ "$(python3 -c "import json,sys; d=json.load(sys.stdin); print(d[\"locked\"], d[\"passphrase_needed\"], len(d[\"unlocked\"]))" < "$2")" = "[${4@Q}] True 1" ]' \
  _ "$rc" "$WORK/unlock.json" "$WORK/unlock.err" "$fpr2"
check "… and says so, with the way out" \
  grep -q "1 S/MIME key of $ALICE_ADDR is still locked: it is encrypted under a passphrase (postern keys unlock $ALICE_ADDR --passphrase-fd N)" "$WORK/unlock.err"
expect_fail "a passphrase that opens none of the locked keys is wrong, though the other is unlocked" 1 \
  "wrong passphrase for the S/MIME key of $ALICE_ADDR" \
  pst alice keys unlock --passphrase-fd 3 "$ALICE_ADDR" 3<<< "wrong"
python3 "$WORK/typed.py" 0 "second-pass" env GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" \
  keys unlock "$ALICE_ADDR" > "$WORK/typed.out" 2>&1 && rc=0 || rc=$?
check "keys unlock on a terminal asks for the passphrase of the other one and unlocks both (exit $rc)" \
  bash -c '[ "$1" = 0 ] && grep -q "unlocked 2 S/MIME keys of" "$2" && ! grep -q "still locked" "$2"' _ "$rc" "$WORK/typed.out"
check "… none is locked now" test "$(pst alice --json keys list | json '[k["locked"] for k in d["keys"] if k["type"] == "x509" and k["secret"]]')" = "[False, False]"
check "alice removes the second identity" pst alice keys remove "$fpr2"

check "keys remove takes its key out of the keyring too" bash -c \
  '"$1" --home "$2" keys remove "$3" >/dev/null && [ -z "$(secret-tool lookup fingerprint "$3")" ]' \
  _ "$POSTERN" "$WORK/home-alice" "$smime_fpr"

# Imported again under a passphrase, an identity's Secret Service key goes.
check "the PKCS#12 without a passphrase, imported again, is under the Secret Service" bash -c \
  '"$1" --home "$2" keys import "$4" >/dev/null && [ "$(secret-tool lookup fingerprint "$3" | wc -c)" = 64 ]' \
  _ "$POSTERN" "$WORK/home-alice" "$smime_fpr" "$WORK/nopass.p12"
check "imported again under a passphrase: its Secret Service key is taken out" bash -c \
  '"$1" --home "$2" keys import --passphrase-fd 3 "$4" 3<<< "$5" >/dev/null && [ -z "$(secret-tool lookup fingerprint "$3")" ]' \
  _ "$POSTERN" "$WORK/home-alice" "$smime_fpr" "$ALICE_P12" "$SMIME_PASS"
check "… and it is under the passphrase" \
  test "$(pst alice --json keys list | json '[k["protection"] for k in d["keys"] if k["type"] == "x509" and k["secret"]]')" = "['passphrase']"

# An S/MIME key made here without a passphrase (keys generate --scheme
# smime --no-passphrase): sealed under a random key in the Secret Service,
# kept under the request's id until its certificate comes, then under the
# certificate's fingerprint, unlocked by the import and at every start.
DANA=dana@postern.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/req-ca.key" \
  -out "$WORK/req-ca.pem" -subj "/CN=Postern request test CA" -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
pst alice keys import --trust-anchor "$WORK/req-ca.pem" >/dev/null
pst alice --json keys generate "$DANA" --scheme smime --csr "$WORK/dana.csr" --no-passphrase > "$WORK/dana.json"
dana_req=$(json 'd["request"]' < "$WORK/dana.json")
check "keys generate --scheme smime --no-passphrase: kept under a Secret Service key" \
  test "$(json 'd["protection"]' < "$WORK/dana.json")" = secret-service
check "… which the keyring holds under the request's id, and which opens the waiting key" bash -c \
  'k=$(secret-tool lookup fingerprint "$1") && [ ${#k} = 64 ] &&
   sed -n "/BEGIN ENCRYPTED/,/END ENCRYPTED/p" "$2/$1.pem" | openssl pkey -passin "pass:$k" -noout' \
  _ "$dana_req" "$WORK/home-alice/data/smime/requests"
openssl x509 -req -in "$WORK/dana.csr" -CA "$WORK/req-ca.pem" -CAkey "$WORK/req-ca.key" -CAcreateserial \
  -days 10 -copy_extensions copyall -out "$WORK/dana.pem" 2>/dev/null
pst alice --json keys import "$WORK/dana.pem" > "$WORK/dana-import.json"
dana_fpr=$(json 'd["imported"][0]["id"]' < "$WORK/dana-import.json")
check "keys import of its certificate: an identity, unlocked at once from the Secret Service" \
  test "$(json '"%s %s %s" % (d["imported"][0]["secret"], d["imported"][0]["locked"], d["imported"][0]["protection"])' < "$WORK/dana-import.json")" = "True False secret-service"
check "… its key moved to the certificate's fingerprint, none left under the request's id" bash -c \
  '[ "$(secret-tool lookup fingerprint "$1" | wc -c)" = 64 ] && [ -z "$(secret-tool lookup fingerprint "$2")" ]' \
  _ "$dana_fpr" "$dana_req"
make_message "$DANA" "$DANA" "Dana" "to myself" > "$WORK/dana.eml"
check "… it signs and encrypts to itself" \
  pst alice encrypt --scheme smime --sign --to "$DANA" -o "$WORK/dana-out.eml" "$WORK/dana.eml"
pst alice agent stop >/dev/null
dana_signs() {
  for _ in $(seq 1 50); do
    pst alice encrypt --scheme smime --sign --to "$DANA" -o "$WORK/dana-out2.eml" "$WORK/dana.eml" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
check "… and after a restart, unlocked by the agent by itself" dana_signs

# No session bus for the agent: it says the service cannot be reached.
pst alice agent stop >/dev/null
expect_fail "no session bus: a clear error" 1 "the Secret Service cannot be reached" \
  env -u DBUS_SESSION_BUS_ADDRESS DISPLAY= "$POSTERN" --home "$WORK/home-alice" fetch --account kr
finish
