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
check "… and nowhere in the configuration" bash -c '! grep -qF "$1" "$2"' _ "$ALICE_PASS" "$WORK/home-alice/config"
check "fetch logs in with the password from the Secret Service" pst alice fetch --account kr
add_account alice cmd "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
expect_fail "account password for an account with a password command" 2 "does not keep its password in the Secret Service" \
  bash -c 'printf "x\n" | "$1" --home "$2" account password cmd' _ "$POSTERN" "$WORK/home-alice"
expect_fail "account password for an unknown account" 1 "no account named nope" \
  bash -c 'printf "x\n" | "$1" --home "$2" account password nope' _ "$POSTERN" "$WORK/home-alice"
expect_fail "account password with nothing on the input" 2 "no password on the input" \
  bash -c '"$1" --home "$2" account password kr </dev/null' _ "$POSTERN" "$WORK/home-alice"

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
check "keys remove takes its key out of the keyring too" bash -c \
  '"$1" --home "$2" keys remove "$3" >/dev/null && [ -z "$(secret-tool lookup fingerprint "$3")" ]' \
  _ "$POSTERN" "$WORK/home-alice" "$smime_fpr"

# No session bus for the agent: it says the service cannot be reached.
pst alice agent stop >/dev/null
expect_fail "no session bus: a clear error" 1 "the Secret Service cannot be reached" \
  env -u DBUS_SESSION_BUS_ADDRESS DISPLAY= "$POSTERN" --home "$WORK/home-alice" fetch --account kr
finish
