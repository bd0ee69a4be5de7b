#!/usr/bin/env bash
# The Web Key Directory (issue 13, part 3), against a real HTTPS server
# (wkd-server.py: Python's http.server in ssl) with a test CA made here by
# openssl, on port 443 of a loopback address of its own; the test's domain
# names point there through /etc/hosts for the test's duration (root only;
# the lines are removed on every way out).  Covered: the advanced method,
# the direct method (no openpgpkey subdomain; nothing listening on it), a
# 404 of the advanced host (no fallback), a server that never answers (the
# lookup ends within the deadline), a key for another address refused, a
# key with a second address imported with the looked-up one only, an
# untrusted certificate, a redirect to http, the miss cache, wkd = false,
# and a send under auto to a recipient whose key only the directory has:
# it goes out encrypted (the server copy is checked), while a lookup that
# finds nothing under always refuses.
source "$(dirname "$0")/lib.sh"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

if [ "$(id -u)" != 0 ]; then
  echo "# skipped: the test points names at 127.x through /etc/hosts, which needs root"
  exit 77
fi

D="$WORK/wkd"
mkdir -p "$D/root"
MARK="# postern-test-wkd $$"
# An address of 127/8 of our own (another for a host where nothing listens).
IP="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))"
DEAD_IP="${IP%.*}.1"
SERVER_PID=""
restore_hosts() {
  local rest
  rest=$(grep -vF "$MARK" /etc/hosts || true)
  # In place (the file may be a bind mount: no rename).
  printf '%s\n' "$rest" > /etc/hosts
}
stop_server() { [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true; }
trap 'restore_hosts; stop_server; cleanup' EXIT

# --- Certificates: a test CA, a server certificate for every test name, and
# a self-signed one nobody trusts.
NAMES="openpgpkey.wkd-adv.test wkd-adv.test wkd-direct.test openpgpkey.wkd-none.test wkd-none.test
openpgpkey.wkd-slow.test openpgpkey.wkd-wrong.test openpgpkey.wkd-redirect.test
openpgpkey.wkd-refused.test wkd-refused.test openpgpkey.postern.test"
san=$(for n in $NAMES; do printf 'DNS:%s,' "$n"; done)
(
  cd "$D"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
    -subj "/CN=Postern WKD test CA (INSECURE)" -days 2 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
    -subj "/CN=openpgpkey.wkd-adv.test"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${san%,}" > ext.cnf
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf \
    -out server.crt
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout bad.key -out bad.crt \
    -subj "/CN=openpgpkey.wkd-untrusted.test" -days 2 \
    -addext subjectAltName=DNS:openpgpkey.wkd-untrusted.test
) >"$D/openssl.log" 2>&1

# --- Keys, published at the places the draft names.
K="$WORK/gnupg-keys"
mkdir -m 700 "$K"
kg() { gpg --homedir "$K" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"; }
for uid in dave@wkd-adv.test erin@wkd-direct.test nick@wkd-none.test mallory@evil.test \
           multi@wkd-adv.test rita@wkd-refused.test carl@wkd-direct.test late@wkd-adv.test; do
  kg --quick-gen-key "<$uid>" ed25519 sign,cert never
  fpr=$(kg --with-colons --list-keys "<$uid>" | awk -F: '$1 == "fpr" { print $10; exit }')
  kg --quick-add-key "$fpr" cv25519 encr never
done
kg --quick-add-uid multi@wkd-adv.test "Boss <boss@bank.test>"
fpr_of() { kg --with-colons --list-keys "<$1>" | awk -F: '$1 == "fpr" { print $10; exit }'; }
# publish METHOD DOMAIN LOCAL FILE: FILE where the method would find LOCAL@DOMAIN.
publish() {
  local method=$1 domain=$2 local=$3 file=$4 hash dir
  hash=$(python3 -c '
import hashlib, sys
d = hashlib.sha1(sys.argv[1].lower().encode()).digest()
n, bits, out = 0, 0, ""
for b in d:
    n, bits = (n << 8) | b, bits + 8
    while bits >= 5:
        out += "ybndrfg8ejkmcpqxot1uwisza345h769"[(n >> (bits - 5)) & 31]; bits -= 5
print(out)' "$local")
  if [ "$method" = advanced ]; then
    dir="$D/root/openpgpkey.$domain/.well-known/openpgpkey/$domain/hu"
  else
    dir="$D/root/$domain/.well-known/openpgpkey/hu"
  fi
  mkdir -p "$dir"
  cp "$file" "$dir/$hash"
}
export_key() { kg --export "<$1>" > "$D/$1.pgp"; echo "$D/$1.pgp"; }
publish advanced wkd-adv.test dave "$(export_key dave@wkd-adv.test)"
publish advanced wkd-adv.test multi "$(export_key multi@wkd-adv.test)"
publish advanced wkd-adv.test late "$(export_key late@wkd-adv.test)"
publish direct wkd-direct.test erin "$(export_key erin@wkd-direct.test)"
publish direct wkd-direct.test carl "$(export_key carl@wkd-direct.test)"
# Only at the direct place: the advanced host's 404 is the domain's answer.
publish direct wkd-none.test nick "$(export_key nick@wkd-none.test)"
# wendy@wkd-wrong.test gets mallory's key.
publish advanced wkd-wrong.test wendy "$(export_key mallory@evil.test)"
publish direct wkd-refused.test rita "$(export_key rita@wkd-refused.test)"
publish advanced postern.test bob "$BOB_PGP_PUBKEY"

# --- The server, and the names.
python3 "$(dirname "$0")/wkd-server.py" "$IP" 443 "$D/server.crt" "$D/server.key" "$D/bad.crt" \
  "$D/bad.key" "$D/root" "$D/requests.log" "$D/ready" 2>"$D/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$D/ready" ] && break; sleep 0.05; done
check "the test's HTTPS server is up on $IP:443" test -s "$D/ready"
{
  for n in openpgpkey.wkd-adv.test wkd-direct.test openpgpkey.wkd-none.test wkd-none.test \
           openpgpkey.wkd-slow.test openpgpkey.wkd-wrong.test openpgpkey.wkd-untrusted.test \
           openpgpkey.wkd-redirect.test wkd-refused.test openpgpkey.postern.test; do
    printf '%s %s %s\n' "$IP" "$n" "$MARK"
  done
  printf '%s %s %s\n' "$DEAD_IP" openpgpkey.wkd-refused.test "$MARK"
} >> /etc/hosts

# --- A user with a key of her own and nobody else's, whose agent trusts the test CA.
G="$WORK/gnupg-w"
H="$WORK/home-w"
mkdir -m 700 "$G" "$H"
w() { GNUPGHOME="$G" "$POSTERN" --home "$H" "$@"; }
printf '[general]\nca_file=%s\nwkd_timeout=2\n' "$D/ca.crt" > "$H/config"
chmod 600 "$H/config"
printf '%s\n' "$ALICE_PASS" > "$WORK/pass-w"
chmod 600 "$WORK/pass-w"
w account add main --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-w" --ca-file "$CA_FILE" >/dev/null
w keys generate "$ALICE_ADDR" --no-passphrase >/dev/null
requests() { cat "$D/requests.log" 2>/dev/null || true; }
# The seconds $@ takes, to a tenth, in $ELAPSED; its status in $RC.
timed() { local t0 t1; t0=$(date +%s%N); RC=0; "$@" >"$WORK/out" 2>"$WORK/err" || RC=$?; t1=$(date +%s%N)
          ELAPSED=$(( (t1 - t0) / 100000000 )); }

# --- Advanced method.
out=$(w --json keys locate dave@wkd-adv.test)
check "advanced method: keys locate finds dave's key ($(json 'd["fingerprint"], d["method"]' <<<"$out"))" \
  test "$(json '"%s %s %s" % (d["fingerprint"], d["source"], d["method"])' <<<"$out")" = \
       "$(fpr_of dave@wkd-adv.test) wkd advanced"
check "… asked at the advanced place, with the hashed local part and ?l=" \
  grep -qE '^openpgpkey\.wkd-adv\.test /\.well-known/openpgpkey/wkd-adv\.test/hu/[a-z0-9]{32}\?l=dave 200$' \
  "$D/requests.log"
check "… and it is in the keyring now" bash -c "GNUPGHOME='$G' gpg --batch --list-keys '<dave@wkd-adv.test>' >/dev/null 2>&1"
w --json keys list > "$WORK/keys.json"
check "keys list names dave's address" grep -q 'dave@wkd-adv.test' "$WORK/keys.json"
text=$(w keys locate dave@wkd-adv.test)
check "the text form: fingerprint first, the address, source wkd (advanced method)" \
  bash -c '[ "$(sed -n 1p <<<"$1")" = "$2" ] && grep -q "dave@wkd-adv.test" <<<"$1" && grep -q "wkd (advanced method)" <<<"$1"' \
  _ "$text" "$(fpr_of dave@wkd-adv.test)"

# --- A key with a second user id: only the looked-up address is kept.
w keys locate multi@wkd-adv.test >/dev/null
uids=$(GNUPGHOME="$G" gpg --batch --with-colons --list-keys "$(fpr_of multi@wkd-adv.test)" | grep -c '^uid' || true)
check "a key with two user ids comes in with the looked-up one only (import filter)" \
  bash -c "[ '$uids' = 1 ] && ! GNUPGHOME='$G' gpg --batch --list-keys boss@bank.test >/dev/null 2>&1"

# --- Direct method: no openpgpkey subdomain.
out=$(w --json keys locate erin@wkd-direct.test)
check "direct method (openpgpkey.wkd-direct.test does not exist): erin's key" \
  test "$(json '"%s %s" % (d["fingerprint"], d["method"])' <<<"$out")" = "$(fpr_of erin@wkd-direct.test) direct"
check "… asked at the direct place" \
  grep -qE '^wkd-direct\.test /\.well-known/openpgpkey/hu/[a-z0-9]{32}\?l=erin 200$' "$D/requests.log"
out=$(w --json keys locate rita@wkd-refused.test)
check "direct method when nothing listens on the advanced host" \
  test "$(json '"%s %s" % (d["fingerprint"], d["method"])' <<<"$out")" = "$(fpr_of rita@wkd-refused.test) direct"

# --- 404: the advanced host's answer stands; the direct place is not asked.
expect_fail "a 404 of the advanced host: nothing (exit 3)" 3 "no key for nick@wkd-none.test in its Web Key Directory \(advanced method: HTTP 404\)" \
  w keys locate nick@wkd-none.test
check "… and the direct place, which has a key, was not asked" bash -c "! grep -q '^wkd-none.test ' '$D/requests.log'"

# --- A server that accepts and never answers: the deadline (wkd_timeout = 2 s).
timed w keys locate sam@wkd-slow.test
check "a server that never answers: exit 5 after the deadline (${ELAPSED}/10 s: $(cat "$WORK/err"))" \
  bash -c "[ $RC = 5 ] && [ $ELAPSED -ge 19 ] && [ $ELAPSED -le 35 ] && grep -q 'no answer within 2000 ms' '$WORK/err'"

# --- A key for another address.
expect_fail "a key for another address is refused (exit 3)" 3 "the key found for wendy@wkd-wrong.test is for mallory@evil.test, not for wendy@wkd-wrong.test: refused" \
  w keys locate wendy@wkd-wrong.test
check "… and not imported" bash -c "! GNUPGHOME='$G' gpg --batch --list-keys mallory@evil.test >/dev/null 2>&1"

# --- TLS: a certificate nobody trusts; a redirect to http.
expect_fail "an untrusted certificate: refused (exit 5)" 5 "Web Key Directory of wkd-untrusted.test cannot be asked: advanced method: .*certificate" \
  w keys locate ursula@wkd-untrusted.test
check "… nothing was asked of it" bash -c "! grep -q 'untrusted' '$D/requests.log'"
expect_fail "a redirect to http: refused (exit 5)" 5 "redirected to a URL that is not https" \
  w keys locate rob@wkd-redirect.test
expect_fail "keys locate wants an address" 2 "is not an e-mail address" w keys locate not-an-address

# --- Send.  encrypt=always to a recipient the directory has nothing for:
# refused after the lookup, nothing sent; the second time the miss is
# remembered and nobody waits.
make_message "Alice <$ALICE_ADDR>" "Sue <sue@wkd-slow.test>" "Never" "not for sue $(date +%s%N)" > "$WORK/m0.eml"
queued=$(w --json outbox list | json 'len(d["outbox"])')
timed w send --encrypt always --wait "$WORK/m0.eml"
check "encrypt=always, the lookup times out: refused (exit 3) after the deadline (${ELAPSED}/10 s)" \
  bash -c "[ $RC = 3 ] && [ $ELAPSED -ge 19 ] && [ $ELAPSED -le 35 ] && grep -q 'no OpenPGP key for: sue@wkd-slow.test' '$WORK/err'"
slow_asks=$(grep -c '^openpgpkey.wkd-slow.test' "$D/requests.log" || true)
timed w send --encrypt always --wait "$WORK/m0.eml"
check "the same send again is refused at once: the miss is remembered (${ELAPSED}/10 s)" \
  bash -c "[ $RC = 3 ] && [ $ELAPSED -lt 15 ] && [ \"\$(grep -c '^openpgpkey.wkd-slow.test' '$D/requests.log')\" = $slow_asks ]"
check "nothing was queued" test "$(w --json outbox list | json 'len(d["outbox"])')" = "$queued"

before=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f 2>/dev/null | wc -l)
body="wkd only $(date +%s%N)"
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Found you" "$body" > "$WORK/m1.eml"
check "encrypt=auto to bob, whose key only his domain's directory has: sent" w send --wait "$WORK/m1.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" $((before + 1))
stored=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
check "the server copy is encrypted (multipart/encrypted, no plaintext body)" \
  bash -c "grep -q 'multipart/encrypted' '$stored' && grep -q 'BEGIN PGP MESSAGE' '$stored' && ! grep -qF '$body' '$stored'"
check "… and bob's own key opens it" bash -c \
  "sed -n '/-----BEGIN PGP MESSAGE/,/-----END PGP MESSAGE/p' '$stored' | GNUPGHOME='$GNUPGHOME_BOB' gpg --batch --decrypt 2>/dev/null | grep -qF '$body'"
check "bob's key was fetched from openpgpkey.postern.test" grep -q '^openpgpkey.postern.test .* 200$' "$D/requests.log"

# --- keys check looks up too (what send would do).
out=$(w --json keys check carl@wkd-direct.test)
check "keys check finds carl's key in the directory and would encrypt" \
  test "$(json '"%s %s" % (d["recipients"][0]["pgp"], d["will_encrypt"])' <<<"$out")" = "True True"

# --- wkd = false: send and keys check ask nobody; keys locate still does.
w agent stop >/dev/null 2>&1 || true
printf '[general]\nca_file=%s\nwkd_timeout=2\nwkd=false\n' "$D/ca.crt" > "$WORK/general"
python3 - "$H/config" "$WORK/general" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("[general]")
end = text.find("\n[", start + 1)
rest = text[end + 1:] if end >= 0 else ""
open(sys.argv[1], "w").write(text[:start] + open(sys.argv[2]).read() + "\n" + rest)
PY
n=$(wc -l < "$D/requests.log")
pgp=$(w --json keys check late@wkd-adv.test | json 'd["recipients"][0]["pgp"]')
check "wkd = false: keys check asks nobody, late has no key" \
  bash -c "[ '$pgp' = False ] && [ \"\$(wc -l < '$D/requests.log')\" = $n ]"
out=$(w --json keys locate late@wkd-adv.test)
check "… but keys locate asks all the same" test "$(json 'd["fingerprint"]' <<<"$out")" = "$(fpr_of late@wkd-adv.test)"

w agent stop >/dev/null 2>&1 || true
GNUPGHOME="$G" gpgconf --kill all 2>/dev/null || true
GNUPGHOME="$K" gpgconf --kill all 2>/dev/null || true
finish
