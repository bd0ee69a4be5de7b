#!/usr/bin/env bash
# TLS and authentication against the real provider: `account test`, trust
# by an SPKI pin instead of a CA, a wrong pin, SCRAM-SHA-256 chosen over
# PLAIN, sessions resumed across fetches, a token-only account that the
# server cannot serve.
source "$(dirname "$0")/lib.sh"

hello_tls() { # the agent's handshake counters: "FULL RESUMED"
  pst "$1" --json agent start >/dev/null 2>&1 || true
  python3 - "$WORK/home-$1/run/agent.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{}}\n')
buf = b""
while not buf.endswith(b"\n"):
    buf += s.recv(65536)
t = json.loads(buf)["result"]["tls"]
print(t["full_handshakes"], t["resumed_handshakes"])
PY
}

# ---- account test ----
add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
rc=0; pst alice account test main > "$WORK/test.out" 2>&1 || rc=$?
check "account test: exit 0 for a verified account" test "$rc" = 0
check "… it prints the TLS version, certificate, issuer and pin of both servers" bash -c \
  'grep -c "TLS: *TLSv1\.[23]" "$1" | grep -qx 2 && grep -q "certificate: .*" "$1" && grep -q "issuer: .*Postern" "$1" && grep -c "SPKI pin: *sha256//" "$1" | grep -qx 2' _ "$WORK/test.out"
check "… and the SASL mechanisms, SCRAM-SHA-256 among them" bash -c \
  'grep -c "mechanisms:.*SCRAM-SHA-256" "$1" | grep -qx 2' _ "$WORK/test.out"
pin=$(sed -n 's/^ *SPKI pin: *//p' "$WORK/test.out" | head -n 1)

# Without the CA the server is not trusted, but what it showed is printed.
printf '%s\n' "$ALICE_PASS" > "$WORK/pass-nocafile"
pst alice account add noca --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-nocafile" >/dev/null
rc=0; pst alice account test noca > "$WORK/noca.out" 2> "$WORK/noca.err" || rc=$?
check "account test of an untrusted server: exit 5 and the pin to check" bash -c \
  '[ "$1" = 5 ] && grep -q "SPKI pin: *$2" "$3" && grep -q "trusted by: *nothing" "$3" && grep -q "with --pin" "$4"' _ "$rc" "$pin" "$WORK/noca.out" "$WORK/noca.err"

# ---- a pin instead of a CA ----
pst alice account add pinned --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-nocafile" --pin "$pin" >/dev/null
check "account test with the pin: trusted by the pin" bash -c \
  'pst() { :; }; "$1" --home "$2" account test pinned | grep -c "trusted by: *pin" | grep -qx 2' _ "$POSTERN" "$WORK/home-alice"
make_message "$ALICE_ADDR" "$ALICE_ADDR" "Pinned" "Sent through a pinned server $(date +%s%N)" > "$WORK/pinned.eml"
sed -i "s/^From: .*/From: $ALICE_ADDR/" "$WORK/pinned.eml"
check "send through the pinned server" pst alice send --account pinned --wait --encrypt never "$WORK/pinned.eml"
check "… it is delivered" wait_for_delivery "$ALICE_MAILDIR" 1

other=$(openssl rand -base64 32)
pst alice account add wrongpin --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/pass-nocafile" --pin "sha256//$other" >/dev/null
expect_fail "a wrong pin: fetch is refused" 5 "not the pinned one" pst alice fetch --account wrongpin
expect_fail "a malformed pin is refused" 2 "not sha256//BASE64" \
  pst alice account add badpin --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command true --pin "sha256//nope"

# ---- SCRAM, and resumption over consecutive fetches ----
check "fetch logs in (SCRAM-SHA-256 is the best both offer)" pst alice fetch --account main
read -r full0 resumed0 < <(hello_tls alice)
for _ in $(seq 1 10); do pst alice fetch --account main >/dev/null; done
read -r full1 resumed1 < <(hello_tls alice)
echo "# 10 fetches: $((full1 - full0)) full handshakes, $((resumed1 - resumed0)) resumed"
check "10 consecutive fetches: at least 9 handshakes resumed" test $((resumed1 - resumed0)) -ge 9

# ---- every mechanism Dovecot offers, over POP3S and over submission with STARTTLS ----
login_count() { grep -c "Login: user=<$ALICE_ADDR>, method=$1," "$PROVIDER_DIR/dovecot.log" || true; }
# logins_since MECH BEFORE WANT: Dovecot's log process writes a little later;
# wait (10 s at most) until WANT more MECH logins are logged.
logins_since() {
  local i
  for i in $(seq 1 100); do
    [ $(($(login_count "$1") - $2)) -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "# $(($(login_count "$1") - $2)) $1 logins logged, want $3" >&2
  return 1
}
for mech in PLAIN LOGIN SCRAM-SHA-256; do
  pst alice account add "m-$mech" --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
    --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" \
    --password-command "cat $WORK/pass-nocafile" --auth "$mech" >/dev/null
  before=$(login_count "$mech")
  printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nLogged in with %s\r\n' "$ALICE_ADDR" "$ALICE_ADDR" "$mech" "$mech" \
    > "$WORK/mech-$mech.eml"
  check "--auth $mech: fetch and send" bash -c \
    '"$1" --home "$2" fetch --account "$3" >/dev/null && "$1" --home "$2" send --account "$3" --wait --encrypt never --no-sign "$4" >/dev/null' \
    _ "$POSTERN" "$WORK/home-alice" "m-$mech" "$WORK/mech-$mech.eml"
  check "… Dovecot logged two $mech logins" logins_since "$mech" "$before" 2
done

# EXTERNAL: a client certificate from the provider's CA, no password at all.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/alice-client.key" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' > "$WORK/client.ext"
openssl req -new -key "$WORK/alice-client.key" -subj "/CN=$ALICE_ADDR" 2>/dev/null \
  | openssl x509 -req -days 2 -CA "$CA_FILE" -CAkey "$CA_KEY" -set_serial 77 -extfile "$WORK/client.ext" \
    -out "$WORK/alice-client.crt" 2>/dev/null
# The provider asks for client certificates on CLIENTCERT_HOST only; Dovecot 2.3
# then fails every resumed handshake there, so this also shows that Postern
# falls back to a full handshake (three rounds: the second is offered a
# session and refused, the third is not offered one).
pst alice account add certonly --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtps://$CLIENTCERT_HOST:$SMTPS_PORT" --pop3 "pop3://$CLIENTCERT_HOST:$POP3_PORT" \
  --ca-file "$CA_FILE" --client-cert "$WORK/alice-client.crt" --client-key "$WORK/alice-client.key" >/dev/null
before=$(login_count EXTERNAL)
printf 'From: %s\r\nTo: %s\r\nSubject: EXTERNAL\r\n\r\nLogged in with a certificate\r\n' "$ALICE_ADDR" "$ALICE_ADDR" \
  > "$WORK/external.eml"
check "EXTERNAL (client certificate): fetch over STLS and send over implicit TLS, three times each" bash -c \
  'for i in 1 2 3; do "$1" --home "$2" fetch --account certonly >/dev/null && "$1" --home "$2" send --account certonly --wait --encrypt never --no-sign "$3" >/dev/null || exit 1; done' \
  _ "$POSTERN" "$WORK/home-alice" "$WORK/external.eml"
check "… Dovecot logged six EXTERNAL logins" logins_since EXTERNAL "$before" 6
check "… and refused the resumed handshakes it was offered" bash -c \
  'for _ in $(seq 1 100); do grep -q "session id context uninitialized" "$1" && exit 0; sleep 0.1; done; exit 1' _ "$PROVIDER_DIR/dovecot.log"
expect_fail "--auth with an unknown mechanism" 2 "unknown or unsupported mechanism 'CRAM-MD5'" \
  pst alice account add cram --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" --password-command true --auth CRAM-MD5

# ---- keep_on_server: kept, then deleted once older than its days ----
pst alice account add keep --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" \
  --password-command "cat $WORK/pass-nocafile" --keep-on-server=2 >/dev/null
pst alice fetch --account main >/dev/null   # empties the mailbox (main deletes)
printf 'From: %s\r\nTo: %s\r\nSubject: kept\r\n\r\nKeep me for two days\r\n' "$ALICE_ADDR" "$ALICE_ADDR" > "$WORK/keep.eml"
pst alice send --account keep --wait --encrypt never --no-sign "$WORK/keep.eml" >/dev/null
wait_for_delivery "$ALICE_MAILDIR" 1 || true
on_server() { find "$ALICE_MAILDIR/new" "$ALICE_MAILDIR/cur" -type f | wc -l; }
check "keep_on_server=2: fetched, and still on the server" bash -c \
  '"$1" --home "$2" fetch --account keep >/dev/null && [ "$(find "$3/new" "$3/cur" -type f | wc -l)" = 1 ]' \
  _ "$POSTERN" "$WORK/home-alice" "$ALICE_MAILDIR"
pst alice fetch --account keep >/dev/null
check "… a second fetch stores nothing again and keeps it" test "$(on_server)" = 1
sqlite3 "$WORK/home-alice/data/postern.db" \
  "update seen set seen_at = seen_at - 3 * 86400 where account = 'keep'"
check "… once stored more than 2 days ago, the next fetch deletes it" bash -c \
  '"$1" --home "$2" fetch --account keep >/dev/null && [ "$(find "$3/new" "$3/cur" -type f | wc -l)" = 0 ]' \
  _ "$POSTERN" "$WORK/home-alice" "$ALICE_MAILDIR"
check "… and it is stored once" test "$(sqlite3 "$WORK/home-alice/data/postern.db" "select count(*) from messages where account = 'keep'")" = 1

# ---- the schedule: an account with a fetch interval fetches by itself ----
pst alice fetch --account main >/dev/null
printf 'From: %s\r\nTo: %s\r\nSubject: scheduled\r\n\r\nFetched without asking\r\n' "$ALICE_ADDR" "$ALICE_ADDR" > "$WORK/sched.eml"
pst alice send --account main --wait --encrypt never --no-sign "$WORK/sched.eml" >/dev/null
wait_for_delivery "$ALICE_MAILDIR" 1 || true
pst alice account add sched --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" \
  --password-command "cat $WORK/pass-nocafile" --fetch-interval 60 >/dev/null
sched_count() { sqlite3 "$WORK/home-alice/data/postern.db" "select count(*) from messages where account = 'sched'"; }
for _ in $(seq 1 200); do [ "$(sched_count)" = 1 ] && break; sleep 0.1; done
check "--fetch-interval 60: the new mail is fetched without asking (within 20 s)" test "$(sched_count)" = 1
pst alice account remove sched >/dev/null   # it shares alice's mailbox with the tests below

# ---- two fetches at once share one session ----
# 300 messages in the mailbox (written into the Maildir as the provider
# would), so that the first fetch's session and analysis last far longer
# than the second client takes to start, however loaded the machine: a
# single message made a session shorter than that, and the second fetch
# then came after it, with a login of its own.
python3 - "$ALICE_MAILDIR" "$(stat -c %u:%g "$ALICE_MAILDIR/new")" <<'PY'
import os, sys, time
md, owner = sys.argv[1], sys.argv[2]
uid, gid = map(int, owner.split(":"))
now = int(time.time())
for i in range(300):
    name = "%d.M%dP%d.join" % (now, i, os.getpid())
    tmp = os.path.join(md, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(b"From: a@postern.test\r\nTo: alice@postern.test\r\nSubject: joined %d\r\n\r\nOne session\r\n" % i)
    os.chown(tmp, uid, gid)
    os.rename(tmp, os.path.join(md, "new", name))
PY
before=$(grep -c "pop3-login: Info: Login: user=<$ALICE_ADDR>" "$PROVIDER_DIR/dovecot.log" || true)
pst alice --json fetch --account main > "$WORK/join1.json" & j1=$!
pst alice --json fetch --account main > "$WORK/join2.json" & j2=$!
wait "$j1"; wait "$j2"
logins_now() { grep -c "pop3-login: Info: Login: user=<$ALICE_ADDR>" "$PROVIDER_DIR/dovecot.log" || true; }
for _ in $(seq 1 100); do [ "$(logins_now)" -gt "$before" ] && break; sleep 0.1; done
sleep 1   # a second login, if there were one, would be logged by now too
after=$(logins_now)
check "two fetches at the same time: one login ($((after - before)))" test $((after - before)) = 1
check "… both report the 300 new messages" bash -c 'for f in "$@"; do grep -q "\"fetched\" *: *300\b" "$f" || exit 1; done' _ "$WORK/join1.json" "$WORK/join2.json"

# ---- a token-only account: Dovecot offers no OAuth mechanism here ----
pst alice account add tokenonly --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --ca-file "$CA_FILE" --token-command "printf ya29.not-a-real-token" >/dev/null
expect_fail "a token-only account when the server offers no OAuth mechanism" 5 \
  "no authentication mechanism in common" pst alice fetch --account tokenonly

finish
