#!/usr/bin/env bash
# S/MIME private keys at rest (DESIGN.md §10): a PKCS#12 identity is kept
# encrypted on disk; after a restart of the agent it is locked (signing is
# refused with exit 3 and the way out, mail that needs it is fetched as
# decryption: failed with the warning key-locked) until `keys unlock`, which
# also analyses that mail again; a cleartext key file of an earlier version
# is never used and is encrypted in place by `keys unlock`; a PKCS#12 file
# without a passphrase is refused when there is no Secret Service.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# The S/MIME identity of alice in `keys list --json`: "secret locked protection".
alice_identity() {
  pst alice --json keys list | json '" ".join("%s %s %s" % (k["secret"], k.get("locked"), k.get("protection")) for k in d["keys"] if k["type"] == "x509" and k["secret"])'
}
keyfile() { ls "$WORK/home-alice/data/smime/identities/"*.pem; }
at_rest_encrypted() { # at_rest_encrypted FILE PASS
  grep -q -- "-----BEGIN ENCRYPTED PRIVATE KEY-----" "$1" \
    && ! grep -qE -- "BEGIN (RSA |EC )?PRIVATE KEY" "$1" \
    && [ "$(stat -c %a "$1")" = 600 ] && [ "$(stat -c %a "$(dirname "$1")")" = 700 ] \
    && ! sed -n '/BEGIN ENCRYPTED/,/END ENCRYPTED/p' "$1" | openssl pkey -passin pass:wrong -noout 2>/dev/null \
    && sed -n '/BEGIN ENCRYPTED/,/END ENCRYPTED/p' "$1" | openssl pkey -passin "pass:$2" -noout 2>/dev/null \
    && [ "$(sed -n '/BEGIN ENCRYPTED/,/END ENCRYPTED/p' "$1" | openssl pkey -passin "pass:$2" -pubout)" \
         = "$(openssl pkey -in "$ALICE_KEY" -pubout)" ]
}
locked_msg="the S/MIME key of $ALICE_ADDR is locked: run postern keys unlock $ALICE_ADDR"
# typed DELAY TEXT COMMAND...: runs COMMAND on a terminal of its own (a pty),
# waits for its passphrase prompt, types TEXT and Enter DELAY seconds later;
# prints what the terminal showed and exits as COMMAND did.
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
typed() { python3 "$WORK/typed.py" "$@"; }

text="A confidential line $(date +%s%N)"
make_message "$ALICE_ADDR" "$BOB_ADDR" "Signed" "$text" > "$WORK/m.eml"

# ---- import: encrypted at rest, unlocked in the agent that imported it ----
check "alice imports the CA as a trust anchor" pst alice keys import --trust-anchor "$SMIME_CA"
check "alice imports her PKCS#12" pst alice keys import --passphrase-fd 3 "$ALICE_P12" 3<<< "$SMIME_PASS"
check "alice imports bob's certificate" pst alice keys import "$BOB_CERT"
check "bob imports the CA as a trust anchor" pst bob keys import --trust-anchor "$SMIME_CA"
check "bob imports his PKCS#12" pst bob keys import --passphrase-fd 3 "$BOB_P12" 3<<< "$SMIME_PASS"
check "bob imports alice's certificate" pst bob keys import "$ALICE_CERT"
check "the key file at rest is encrypted (0600, wrong pass fails, right pass opens the same key)" \
  at_rest_encrypted "$(keyfile)" "$SMIME_PASS"
check "keys list --json: alice's identity, unlocked, under a passphrase" test "$(alice_identity)" = "True False passphrase"
check "signing works in the agent that imported it" \
  pst alice encrypt --scheme smime --sign --to "$BOB_ADDR" -o "$WORK/s1.eml" "$WORK/m.eml"

# ---- a restart: locked ----
pst alice agent stop >/dev/null
check "after a restart keys list --json says locked" test "$(alice_identity)" = "True True passphrase"
check "… and keys list says so in words" bash -c 'grep -q "secret, locked" <<< "$1"' _ "$(pst alice keys list)"
expect_fail "signing with the locked key is refused (exit 3) with the way out" 3 "$locked_msg" \
  pst alice encrypt --scheme smime --sign --to "$BOB_ADDR" -o "$WORK/s2.eml" "$WORK/m.eml"
make_message "$ALICE_ADDR" "$BOB_ADDR" "Locked send" "$text" > "$WORK/ls.eml"
expect_fail "send --scheme smime with the locked key is refused, nothing queued" 3 "$locked_msg" \
  pst alice send --scheme smime --encrypt always "$WORK/ls.eml"
check "… the outbox is empty" test "$(pst alice --json outbox list | json 'len(d["outbox"])')" = 0
# Mail to alice arrives while her key is locked.
make_message "$BOB_ADDR" "$ALICE_ADDR" "To locked alice" "$text" > "$WORK/to-alice.eml"
check "bob sends alice S/MIME mail" pst bob send --scheme smime --encrypt always --wait "$WORK/to-alice.eml"
check "it reaches alice" wait_for_delivery "$ALICE_MAILDIR" 1
check "alice fetches it while locked" pst alice fetch
list_crypto() { pst alice --json list | json '"%s %s" % (d["messages"][0]["crypto"]["decryption"], "key-locked" in d["messages"][0]["crypto"].get("warnings", []))'; }
check "listed as decryption failed, warning key-locked" test "$(list_crypto)" = "failed True"
pst bob encrypt --scheme smime --to "$ALICE_ADDR" -o "$WORK/enc-alice.eml" "$WORK/to-alice.eml"
pst alice --json decrypt -o "$WORK/dec-locked.eml" "$WORK/enc-alice.eml" > "$WORK/dec-locked.json" 2>/dev/null || true
check "decrypt with the locked key: decryption failed, warning key-locked" \
  test "$(json '"%s %s" % (d["decryption"], "key-locked" in d["warnings"])' < "$WORK/dec-locked.json")" = "failed True"

# ---- keys unlock ----
expect_fail "keys unlock with a wrong passphrase" 1 "wrong passphrase for the S/MIME key of $ALICE_ADDR" \
  pst alice keys unlock --passphrase-fd 3 "$ALICE_ADDR" 3<<< "wrong"
check "… still locked" test "$(alice_identity)" = "True True passphrase"
expect_fail "keys unlock without a passphrase and no terminal says how" 2 "encrypted under a passphrase.*--passphrase-fd N" \
  pst alice keys unlock "$ALICE_ADDR" </dev/null
expect_fail "keys unlock of an address without an identity" 1 "no S/MIME identity for nobody@postern.test" \
  pst alice keys unlock --passphrase-fd 3 nobody@postern.test 3<<< "$SMIME_PASS"
pst alice --json keys unlock --passphrase-fd 3 "$ALICE_ADDR" 3<<< "$SMIME_PASS" > "$WORK/unlock.json"
check "keys unlock --passphrase-fd 3: unlocked, the locked mail analysed again" \
  test "$(json '"%d %d" % (len(d["unlocked"]), d["reanalysed"])' < "$WORK/unlock.json")" = "1 1"
check "keys list --json: unlocked" test "$(alice_identity)" = "True False passphrase"
check "the mail fetched while locked now lists as decrypted" test "$(list_crypto)" = "ok False"
mid=$(pst alice --json list | json 'd["messages"][0]["id"]')
check "… and show reads it" bash -c 'grep -qF "$1" <<< "$2"' _ "$text" "$(pst alice show "$mid")"
check "decrypt works" pst alice decrypt -o "$WORK/dec.eml" "$WORK/enc-alice.eml"
check "signing works" pst alice encrypt --scheme smime --sign --to "$BOB_ADDR" -o "$WORK/s3.eml" "$WORK/m.eml"
# bob forgets alice's certificate: her signed mail brings it back (DESIGN.md §14).
acert=$(pst bob --json keys list | python3 -c '
import json, sys
print([k["fingerprint"] for k in json.load(sys.stdin)["keys"]
       if k["scheme"] == "smime" and sys.argv[1] in k["addresses"] and not k["secret"]][0])' "$ALICE_ADDR")
pst bob keys remove "$acert" >/dev/null
make_message "$ALICE_ADDR" "$BOB_ADDR" "Unlocked send" "$text" > "$WORK/us.eml"
check "send signs and encrypts" pst alice send --scheme smime --encrypt always --wait "$WORK/us.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
pst bob fetch >/dev/null
pst bob --json show "$(pst bob --json list | json 'd["messages"][0]["id"]')" > "$WORK/bob.json"
check "bob reads it: signature good, by alice" \
  test "$(json '"%s %s" % (d["crypto"]["signature"]["status"], d["crypto"]["signature"]["from_match"])' < "$WORK/bob.json")" = "good True"
check "alice's certificate is back in bob's store from her good signature, source harvested" bash -c \
  'GNUPGHOME="$1" "$POSTERN" --home "$2" --json keys list | python3 -c "
import json, sys
k = [k for k in json.load(sys.stdin)[\"keys\"] if k[\"fingerprint\"] == sys.argv[1]]
assert len(k) == 1 and k[0][\"source\"] == \"harvested\" and k[0][\"first_seen\"], k" "$3"' \
  _ "$GNUPGHOME_BOB" "$WORK/home-bob" "$acert"
check "the key file is still encrypted" at_rest_encrypted "$(keyfile)" "$SMIME_PASS"

# ---- migration: a cleartext key file of an earlier version ----
pst alice agent stop >/dev/null
file=$(keyfile)
{ openssl x509 -in "$ALICE_CERT"; openssl pkey -in "$ALICE_KEY"; cat "$SMIME_CA"; } > "$file"
chmod 600 "$file"
check "a cleartext key file is locked" test "$(alice_identity)" = "True True cleartext"
expect_fail "… and not used: signing refused, saying why and how" 3 "earlier version stored it unencrypted.*keys unlock $ALICE_ADDR --passphrase-fd N" \
  pst alice encrypt --scheme smime --sign --to "$BOB_ADDR" -o "$WORK/s4.eml" "$WORK/m.eml"
check "keys unlock --passphrase-fd encrypts it under the new passphrase" \
  pst alice keys unlock --passphrase-fd 3 "$ALICE_ADDR" 3<<< "a new passphrase"
check "… in place: no cleartext left in the file" at_rest_encrypted "$file" "a new passphrase"
check "… and it signs" pst alice encrypt --scheme smime --sign --to "$BOB_ADDR" -o "$WORK/s5.eml" "$WORK/m.eml"
pst alice agent stop >/dev/null
check "after a restart the new passphrase unlocks it" \
  pst alice keys unlock --passphrase-fd 3 "$ALICE_ADDR" 3<<< "a new passphrase"

# ---- the prompt: no connection to the agent is held while the user types ----
# An agent that closes idle connections after 2 s; the passphrase comes 4 s
# after the prompt.
pst alice agent stop >/dev/null
POSTERN_CLIENT_TIMEOUT=2 pst alice agent start >/dev/null
typed 4 "a new passphrase" env GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" \
  keys unlock "$ALICE_ADDR" > "$WORK/typed.out" 2>&1 && rc=0 || rc=$?
check "keys unlock at the prompt, typed after the agent's idle timeout: unlocked (exit $rc)" \
  bash -c '[ "$1" = 0 ] && grep -q "unlocked 1 S/MIME key of" "$2"' _ "$rc" "$WORK/typed.out"
check "… and unlocked it is" test "$(alice_identity)" = "True False passphrase"
pst alice agent stop >/dev/null
typed 0 "wrong" env GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" \
  keys unlock "$ALICE_ADDR" > "$WORK/typed.out" 2>&1 && rc=0 || rc=$?
check "a wrong passphrase at the prompt: exit 1, said so (exit $rc)" \
  bash -c '[ "$1" = 1 ] && grep -q "wrong passphrase for the S/MIME key of" "$2"' _ "$rc" "$WORK/typed.out"
pst alice agent stop >/dev/null

# ---- a PKCS#12 file without a passphrase and no Secret Service ----
openssl pkcs12 -export -in "$ALICE_CERT" -inkey "$ALICE_KEY" -passout pass: -out "$WORK/nopass.p12"
nobus() { env -u DBUS_SESSION_BUS_ADDRESS DISPLAY= "$POSTERN" --home "$WORK/home-nobus" "$@"; }
nobus agent start >/dev/null
expect_fail "a PKCS#12 without a passphrase, no Secret Service: refused, asks for a passphrase" 2 \
  "has no passphrase and the Secret Service cannot be reached.*--passphrase-fd N" nobus keys import "$WORK/nopass.p12"
check "… nothing kept" test -z "$(ls "$WORK/home-nobus/data/smime/identities/")"
check "… with a passphrase given, it is kept under it" nobus keys import --passphrase-fd 3 "$WORK/nopass.p12" 3<<< "chosen"
check "… encrypted at rest" at_rest_encrypted "$(ls "$WORK/home-nobus/data/smime/identities/"*.pem)" "chosen"

finish
