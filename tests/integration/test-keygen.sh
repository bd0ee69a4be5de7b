#!/usr/bin/env bash
# keys generate (issue 13, its first part): a new user whose GnuPG home is
# empty cannot send signed mail; after `postern keys generate` the account
# signs with the new key, and its mail reaches the server signed by it.  A
# key under a passphrase cannot be used without it.
source "$(dirname "$0")/lib.sh"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

G="$WORK/gnupg-new"
H="$WORK/home-new"
mkdir -m 700 "$G"
new() { GNUPGHOME="$G" "$POSTERN" --home "$H" "$@"; }
printf '%s\n' "$ALICE_PASS" > "$WORK/pass-new"
chmod 600 "$WORK/pass-new"
new account add main --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-new" --ca-file "$CA_FILE" >/dev/null

make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "First words" "Hello from a new key $(date +%s%N)" \
  > "$WORK/m1.eml"
expect_fail "with no key at all, a signed send is refused" 3 "no OpenPGP secret key" \
  new send --wait "$WORK/m1.eml"
expect_fail "keys generate wants the passphrase choice made" 2 "give --passphrase-fd N or --no-passphrase" \
  new keys generate "$ALICE_ADDR"
expect_fail "… and an address" 2 "is not an e-mail address" new keys generate no-at-sign --no-passphrase

fpr=$(new --json keys generate "$ALICE_ADDR" --no-passphrase | json 'd["fingerprint"]')
check "keys generate makes a key and prints its fingerprint ($fpr)" grep -qxE '[0-9A-F]{40}' <<<"$fpr"
new --json keys list > "$WORK/keys.json"
check "keys list shows it: secret, signs and encrypts, the address as user id, expires in two years" \
  python3 - "$WORK/keys.json" "$fpr" "$ALICE_ADDR" <<'PY'
import json, sys, time
keys = json.load(open(sys.argv[1]))["keys"]
k = [k for k in keys if k.get("id") == sys.argv[2]]
assert len(k) == 1, keys
k = k[0]
assert k["secret"] and k["can_sign"] and k["can_encrypt"], k
assert sys.argv[3] in json.dumps(k), k
assert abs(k["expires"] - (time.time() + 730 * 86400)) < 86400 * 2, k
PY
expect_fail "a second key for the address is refused, naming the first" 2 "already has an OpenPGP secret key, $fpr" \
  new keys generate "$ALICE_ADDR" --no-passphrase

check "now the same send goes out" new send --wait "$WORK/m1.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
stored=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f | head -n 1)
check "the server copy is signed (PGP/MIME; bob's key is unknown here, so auto leaves it unencrypted)" \
  grep -q 'multipart/signed' "$stored"
# The signature, checked by gpg itself against the new key.
python3 - "$stored" "$WORK/signed.part" "$WORK/sig.asc" <<'PY'
import re, sys
# Maildir keeps LF line ends; what was signed had CRLF (RFC 3156 §5).
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
b = re.search(rb'boundary="?([^";\r\n]+)"?', raw).group(1)
parts = raw.split(b"--" + b)
# The first part, from after the CRLF that ends the delimiter line to before
# the CRLF that precedes the next delimiter (RFC 3156 §5).
first = parts[1][2:-2]
open(sys.argv[2], "wb").write(first)
sig = parts[2]
open(sys.argv[3], "wb").write(sig[sig.index(b"-----BEGIN PGP SIGNATURE"):sig.index(b"-----END PGP SIGNATURE-----") + 27])
PY
check "gpg verifies the server copy's signature as made by the new key" bash -c \
  'GNUPGHOME="$1" gpg --batch --status-fd 1 --verify "$2" "$3" 2>&1 | tee "$5" | grep -q "VALIDSIG $4" || { sed "s/^/# /" "$5"; false; }' \
  _ "$G" "$WORK/sig.asc" "$WORK/signed.part" "$fpr" "$WORK/verify.txt"

# Under a passphrase.
G2="$WORK/gnupg-pass"
mkdir -m 700 "$G2"
printf 'correct horse battery\n' > "$WORK/keypass"
fpr2=$(GNUPGHOME="$G2" "$POSTERN" --home "$WORK/home-pass" --json keys generate carol@example.org \
         --passphrase-fd 3 --expires-days 0 3<"$WORK/keypass" | json '"%s %s" % (d["fingerprint"], d["expires"])')
check "keys generate --passphrase-fd makes a key that never expires ($fpr2)" grep -qE '^[0-9A-F]{40} 0$' <<<"$fpr2"
GNUPGHOME="$G2" gpgconf --kill gpg-agent
check "its secret key cannot sign without the passphrase" bash -c \
  '! echo x | GNUPGHOME="$1" gpg --batch --pinentry-mode loopback --passphrase wrong -u carol@example.org --sign >/dev/null 2>&1' _ "$G2"
check "… and signs with it" bash -c \
  'echo x | GNUPGHOME="$1" gpg --batch --pinentry-mode loopback --passphrase-file "$2" -u carol@example.org --sign >/dev/null 2>&1' \
  _ "$G2" "$WORK/keypass"
"$POSTERN" --home "$WORK/home-pass" agent stop >/dev/null 2>&1 || true
new agent stop >/dev/null 2>&1 || true
GNUPGHOME="$G" gpgconf --kill gpg-agent 2>/dev/null || true
GNUPGHOME="$G2" gpgconf --kill gpg-agent 2>/dev/null || true
finish
