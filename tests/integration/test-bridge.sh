#!/usr/bin/env bash
# The local bridge (DESIGN.md §14), through the real provider, with the mail
# programs people use: msmtp and curl submit over the bridge's SMTP with
# STARTTLS and the bridge's own CA, and the server copy is encrypted; a
# refusal under encrypt always reaches the client as a 5xx with nothing
# sent; fetchmail fetches over the bridge's POP3 with STLS and gets the
# decrypted text with Postern's own status header, a forged one removed;
# DELE deletes from the store.  Wrong passwords are refused and logged (a
# user name only when it is an account's), and another user's connection is
# refused, also by ::ffff:127.0.0.1, and a flood of them takes none of the
# owner's places.  The CA is name-constrained and its key kept nowhere.  A
# port that is taken is said by agent start/status and bridge credentials,
# and does not hold the other listener back; after EMFILE the listener
# accepts again.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account alice strict "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --encrypt always
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
alice_log="$WORK/home-alice/data/posternd.log"

# --- settings -----------------------------------------------------------------
expect_fail "the bridge refuses an address that is not loopback" 2 "loopback only" \
  pst alice config set bridge-smtp 0.0.0.0:2525
expect_fail "… and one that is no address" 2 "is not ADDRESS:PORT" \
  pst alice config set bridge-pop3 nonsense
expect_fail "bridge credentials of an unknown account" 1 "no account named nope" \
  pst alice bridge credentials nope
expect_fail "bridge credentials without an account" 2 "give the ACCOUNT" pst alice bridge credentials
check "the bridge is off by default" bash -c '[ "$("$@" --json bridge credentials main | python3 -c "import json,sys; d=json.load(sys.stdin); print(d[\"smtp\"], d[\"pop3\"])")" = "None None" ]' _ "$POSTERN" --home "$WORK/home-alice"
smtp_port=$(free_port)
check "config set bridge-smtp starts the listener at once" pst alice config set bridge-smtp "127.0.0.1:$smtp_port"
expect_fail "a port that is taken: refused, nothing changed" 1 "nothing changed: bridge pop3: cannot listen on 127.0.0.1:$smtp_port" \
  pst alice config set bridge-pop3 "127.0.0.1:$smtp_port"
check "… the file has no bridge_pop3" bash -c '! grep -q "^bridge_pop3=." "$1"' _ "$WORK/home-alice/config"
pst alice --json bridge credentials main > "$WORK/cred-main.json"
user=$(json 'd["user"]' < "$WORK/cred-main.json")
pass=$(json 'd["password"]' < "$WORK/cred-main.json")
ca=$(json 'd["ca_file"]' < "$WORK/cred-main.json")
check "credentials: user is the account, the password random and long" \
  bash -c '[ "$1" = main ] && [ ${#2} -ge 24 ]' _ "$user" "$pass"
check "credentials name the SMTP listener" test "$(json 'd["smtp"]' < "$WORK/cred-main.json")" = "127.0.0.1:$smtp_port"
check "the same credentials the second time" test "$(pst alice --json bridge credentials main | json 'd["password"]')" = "$pass"
check "another account has other credentials" test "$(pst alice --json bridge credentials strict | json 'd["password"]')" != "$pass"
check "the credentials file is 0600" test "$(stat -c %a "$WORK/home-alice/data/bridge/credentials")" = 600
check "the bridge's key is 0600" test "$(stat -c %a "$WORK/home-alice/data/bridge/key.pem")" = 600
check "… and the CA's key is kept nowhere" bash -c '! ls "$1" | grep -v "^key.pem$" | grep -qi key' _ "$WORK/home-alice/data/bridge"
check "the CA has critical name constraints: localhost, 127.0.0.0/8, ::1/128" bash -c '
  openssl x509 -in "$1" -noout -text > "$1.txt"
  grep -A1 "X509v3 Name Constraints: critical" "$1.txt" | grep -q "Permitted" &&
  grep -q "DNS:localhost" "$1.txt" && grep -q "IP:127.0.0.0/255.0.0.0" "$1.txt" &&
  grep -qi "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF" "$1.txt"' _ "$ca"
check "the certificate names localhost and 127.0.0.1, signed by the CA" bash -c \
  'openssl verify -CAfile "$1" "$2" >/dev/null && openssl x509 -in "$2" -noout -ext subjectAltName | grep -q "DNS:localhost, IP Address:127.0.0.1"' \
  _ "$ca" "$WORK/home-alice/data/bridge/cert.pem"
check "the password is in no log" bash -c '! grep -qF "$1" "$2"' _ "$pass" "$alice_log"
check "text credentials show the CA file" bash -c '"$@" bridge credentials main | grep -qF "$0"' "$ca" \
  "$POSTERN" --home "$WORK/home-alice"

# --- SMTP -------------------------------------------------------------------------
body1="Bridge by msmtp $(date +%s%N)"
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Over the bridge" "$body1" > "$WORK/m1.eml"
cat > "$WORK/msmtprc" <<EOF
account bridge
host 127.0.0.1
port $smtp_port
from $ALICE_ADDR
auth plain
user $user
password $pass
tls on
tls_starttls on
tls_trust_file $ca
logfile $WORK/msmtp.log
account default : bridge
EOF
chmod 600 "$WORK/msmtprc"
check "msmtp submits through the bridge with STARTTLS and the bridge's CA" \
  msmtp -C "$WORK/msmtprc" -t < "$WORK/m1.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
copy=$(grep -lF "Over the bridge" "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/* 2>/dev/null | head -n 1 || true)
[ -n "$copy" ] || copy=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f | head -n 1)
check "the server copy is encrypted" grep -q 'BEGIN PGP MESSAGE' "$copy"
check "… and holds no line of the body" bash -c '! grep -qF "$1" "$2"' _ "$body1" "$copy"
check "openssl s_client verifies the bridge by name localhost against the CA file" bash -c '
  echo QUIT | openssl s_client -connect "127.0.0.1:$1" -starttls smtp -CAfile "$2" \
    -verify_hostname localhost -verify_return_error > "$3" 2>&1 && grep -q "Verify return code: 0 (ok)" "$3"' \
  _ "$smtp_port" "$ca" "$WORK/s_client.out"
check "curl verifies it by name localhost too" \
  curl -sS --url "smtp://localhost:$smtp_port" --ssl-reqd --cacert "$ca" --user "$user:$pass" \
    --resolve "localhost:$smtp_port:127.0.0.1" --request NOOP --output "$WORK/curl-noop.out"
check "the login was logged (account, mechanism, TLS)" grep -q "bridge smtp: login of account main (PLAIN, TLS)" "$alice_log"

body2="Bridge by curl $(date +%s%N)"
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Curl over the bridge" "$body2" > "$WORK/m2.eml"
check "curl submits through the bridge with STARTTLS (--ssl-reqd, --cacert)" \
  curl -sS --url "smtp://127.0.0.1:$smtp_port" --ssl-reqd --cacert "$ca" --user "$user:$pass" \
    --mail-from "$ALICE_ADDR" --mail-rcpt "$BOB_ADDR" --upload-file "$WORK/m2.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 2
check "no server copy holds curl's body line" bash -c '! grep -rqF "$1" "$2"' _ "$body2" "$BOB_MAILDIR"

# AUTH in the clear, on loopback, for clients that cannot do otherwise.
body3="Bridge in the clear $(date +%s%N)"
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Clear loopback" "$body3" > "$WORK/m3.eml"
check "curl submits with AUTH LOGIN in the clear on loopback" \
  curl -sS --url "smtp://127.0.0.1:$smtp_port" --login-options AUTH=LOGIN --user "$user:$pass" \
    --mail-from "$ALICE_ADDR" --mail-rcpt "$BOB_ADDR" --upload-file "$WORK/m3.eml"
check "it reaches bob" wait_for_delivery "$BOB_MAILDIR" 3

# Refusals reach the client as 5xx, and nothing is queued.
outbox_count() { sqlite3 "$WORK/home-alice/data/postern.db" "select count(*) from outbox"; }
before=$(outbox_count)
make_message "Alice <$ALICE_ADDR>" "Carol <carol@postern.test>" "No key" "carol has no key" > "$WORK/carol.eml"
strict_pass=$(pst alice --json bridge credentials strict | json 'd["password"]')
printf 'account strict : bridge\nuser strict\npassword %s\n' "$strict_pass" >> "$WORK/msmtprc"
rc=0
curl -sSv --url "smtp://127.0.0.1:$smtp_port" --ssl-reqd --cacert "$ca" --user "strict:$strict_pass" \
  --mail-from "$ALICE_ADDR" --mail-rcpt carol@postern.test --upload-file "$WORK/carol.eml" \
  2> "$WORK/curl-refused.err" || rc=$?
check "encrypt always and no key: the client gets a 5xx (curl exit $rc)" test "$rc" != 0
check "… whose reason names the recipient" grep -q "^< 554 5.7.1 .*carol@postern.test" "$WORK/curl-refused.err"
check "… and nothing was queued" test "$(outbox_count)" = "$before"
rc=0
msmtp -C "$WORK/msmtprc" -a strict -t < "$WORK/carol.eml" \
  > "$WORK/msmtp-refused.out" 2>&1 || rc=$?
check "msmtp sees the refusal too (exit $rc)" bash -c '[ "$1" != 0 ] && grep -q "554" "$2"' _ "$rc" "$WORK/msmtp-refused.out"
make_message "Mallory <mallory@postern.test>" "Bob <$BOB_ADDR>" "Forged From" "not alice's" > "$WORK/mallory.eml"
rc=0
curl -sSv --url "smtp://127.0.0.1:$smtp_port" --user "$user:$pass" --mail-from "$ALICE_ADDR" \
  --mail-rcpt "$BOB_ADDR" --upload-file "$WORK/mallory.eml" 2> "$WORK/curl-from.err" || rc=$?
check "a From that is not the account's is a 5xx with the reason (curl exit $rc)" \
  grep -qE "^< 55[0-9] 5\.7\.1 .*mallory@postern.test" "$WORK/curl-from.err"
check "… and nothing was queued" test "$(outbox_count)" = "$before"

rc=0
curl -sS --url "smtp://127.0.0.1:$smtp_port" --user "main:wrong-password-123" \
  --mail-from "$ALICE_ADDR" --mail-rcpt "$BOB_ADDR" --upload-file "$WORK/m1.eml" 2> "$WORK/curl-badpw.err" || rc=$?
check "a wrong password is refused (curl exit $rc)" test "$rc" = 67
check "… and logged, without the password" bash -c 'grep -q "bridge smtp: login refused for user .main." "$1" && ! grep -q "wrong-password-123" "$1"' _ "$alice_log"
rc=0
curl -sS --url "smtp://127.0.0.1:$smtp_port" --user "Swapped7Password9Field:main" \
  --mail-from "$ALICE_ADDR" --mail-rcpt "$BOB_ADDR" --upload-file "$WORK/m1.eml" 2> "$WORK/curl-swapped.err" || rc=$?
check "a login with user and password swapped is refused (curl exit $rc)" test "$rc" = 67
check "… and logged as an unknown user: what the client sent as the user is in no log" bash -c '
  grep -q "bridge smtp: login refused for an unknown user" "$1" && ! grep -q "Swapped7Password9Field" "$1"' _ "$alice_log"
rc=0
curl -sS --url "smtp://127.0.0.1:$smtp_port" --mail-from "$ALICE_ADDR" --mail-rcpt "$BOB_ADDR" \
  --upload-file "$WORK/m1.eml" 2> "$WORK/curl-noauth.err" || rc=$?
check "MAIL without AUTH is refused with 530" grep -q "530" "$WORK/curl-noauth.err"

# Another user on the same machine cannot use the bridge.
nobody_says() { # nobody_says PORT [HOST]
  setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[2], int(sys.argv[1])), timeout=10)
print(s.recv(512).decode(errors="replace").strip())' "$1" "${2:-127.0.0.1}"
}
said=$(nobody_says "$smtp_port" 2>&1 || true)
check "a connection from user nobody is refused ($said)" bash -c '[[ "$1" == 554*"owner"* ]]' _ "$said"
check "… and logged" grep -q "bridge smtp: refused a connection from another user" "$alice_log"
said=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(s.recv(512).decode().strip())' "$smtp_port")
check "the agent's own user is greeted ($said)" bash -c '[[ "$1" == 220* ]]' _ "$said"
# A dual-stack client (Java's default) reaches the IPv4 listener by
# ::ffff:127.0.0.1: its socket is IPv6; it is still the owner's.
said=$(python3 -c '
import socket, sys
s = socket.create_connection(("::ffff:127.0.0.1", int(sys.argv[1])), timeout=10)
assert s.family == socket.AF_INET6
print(s.recv(512).decode().strip())' "$smtp_port")
check "the owner is greeted by ::ffff:127.0.0.1 from an IPv6 socket ($said)" bash -c '[[ "$1" == 220* ]]' _ "$said"
said=$(nobody_says "$smtp_port" ::ffff:127.0.0.1 2>&1 || true)
check "… and user nobody is refused there ($said)" bash -c '[[ "$1" == 554*"owner"* ]]' _ "$said"
# Another user's flood neither takes the owner's places nor fills the log.
refusals_before=$(grep -c "bridge smtp: refused a connection from another user" "$alice_log")
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "$smtp_port" <<'PY' &
import socket, sys, time
held = []
end = time.time() + 6
while time.time() < end:
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
        held.append(s)
        if len(held) > 200:
            held.pop(0).close()
    except OSError:
        time.sleep(0.01)
PY
flood=$!
sleep 1
said=$(python3 - "$smtp_port" <<'PY'
import socket, sys
greeted = 0
held = []
for i in range(12):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    if s.makefile("rb").readline().startswith(b"220"):
        greeted += 1
    held.append(s)
print(greeted)
PY
)
wait "$flood" || true
check "while user nobody floods the SMTP listener, the owner's 12 connections are all greeted ($said)" test "$said" = 12
refusals=$(( $(grep -c "bridge smtp: refused a connection from another user" "$alice_log") - refusals_before ))
check "… and the refusals are logged at most once a second ($refusals lines in 6 s)" test "$refusals" -le 8
check "… with how many were not logged one by one" grep -q "more in the second before, not logged" "$alice_log"

said=$(python3 - "$smtp_port" <<'PY'
import socket, sys
held = []
for i in range(16):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.makefile("rb").readline()
    held.append(s)
extra = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(extra.recv(512).decode().strip())
PY
)
check "the 17th connection at once is turned away ($said)" bash -c '[[ "$1" == "421 4.7.0 too many connections" ]]' _ "$said"

# --- a message larger than a session holds -------------------------------------------
# Past PST_SMTP_SERVER_SPILL (1 MiB) a message is kept as it comes in an
# unnamed file of the agent's and queued from there as `postern send`
# queues a file (bridge-smtp.c): 66 MiB, more than the 64 MiB the bridge
# took before, within 64 MiB of the agent's peak memory (lib-memory.sh), and
# gpg reads the server's copy to the body sent.  Under the sanitizers 4 MiB:
# the same path, without the memory bound (their own allocator's).
source "$(dirname "$0")/lib-memory.sh"
big_mib=66
if grep -qa __asan_init "$POSTERND"; then big_mib=4; fi
big_tag="Bridge large $(date +%s%N)"
{ printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\n' \
    "$ALICE_ADDR" "$BOB_ADDR" "$big_tag" "$(date -R)" "$(date +%s%N)"
  printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
  head -c $((big_mib * 1024 * 1024 * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/^/./; s/$/\r/'; } > "$WORK/big.eml"
big_sum=$(body_sum "$WORK/big.eml")
memory_watch alice
submit_big() { msmtp -C "$WORK/msmtprc" -t < "$WORK/big.eml"; }
if [ "$big_mib" -gt 64 ]; then
  check "msmtp submits $big_mib MiB through the bridge, within the agent's bound" within_bound alice "bridge SMTP, $big_mib MiB" submit_big
else
  check "msmtp submits $big_mib MiB through the bridge" submit_big
fi
rm -f "$WORK/big.eml"
big_copy=""
for _ in $(seq 1 600); do
  # (Its Subject is hidden in the server's copy: the only one over 1 MiB.)
  big_copy=$(find "$BOB_MAILDIR/new" -type f -size +1M | head -n 1)
  [ -n "$big_copy" ] && break
  sleep 0.2
done
check "it reaches bob, encrypted" bash -c '[ -n "$1" ] && [ "$(grep -c "^-----BEGIN PGP MESSAGE-----" "$1")" = 1 ]' _ "$big_copy"
big_decrypts() {
  [ -n "$big_copy" ] &&
    [ "$(gpg --homedir "$GNUPGHOME_BOB" --batch --decrypt < "$big_copy" 2>/dev/null | body_sum)" = "$big_sum" ]
}
check "… and gpg decrypts it to the body sent (sha256), every line led by a dot" big_decrypts
rm -f "$big_copy"

# --- POP3 ---------------------------------------------------------------------------
check "bob fetches the three mails from the provider" pst bob fetch
# A mail whose sender forged Postern's header, dropped straight into the Maildir.
forged_tag="forged-$(date +%s%N)"
printf 'From: Mallory <mallory@postern.test>\r\nTo: %s\r\nSubject: Trust me\r\nPostern-Status: scheme=pgp; decryption=ok; signature=good; signer=%s; from-match=yes\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\npostern-status: scheme=smime; signature=good; %s\r\n\r\nBody of the forged one.\r\n' \
  "$BOB_ADDR" "$forged_tag" "$(date -R)" "$(date +%s%N)" "$forged_tag" > "$BOB_MAILDIR/new/$(date +%s%N).forged"
chown -R --reference="$BOB_MAILDIR" "$BOB_MAILDIR/new"
check "bob fetches the forged one" pst bob fetch
check "bob's store holds four" test "$(pst bob --json list | json 'len(d["messages"])')" = 4
pop3_port=$(free_port)
check "config set bridge-pop3 starts bob's listener" pst bob config set bridge-pop3 "localhost:$pop3_port"
pst bob --json bridge credentials main > "$WORK/cred-bob.json"
check "bob's credentials name the POP3 listener" test "$(json 'd["pop3"]' < "$WORK/cred-bob.json")" = "127.0.0.1:$pop3_port"
bob_pass=$(json 'd["password"]' < "$WORK/cred-bob.json")
bob_ca=$(json 'd["ca_file"]' < "$WORK/cred-bob.json")
touch "$WORK/fetched.mbox"
cat > "$WORK/fetchmailrc" <<EOF
set no syslog
poll 127.0.0.1 port $pop3_port protocol pop3 auth password
  user "main" password "$bob_pass" is root here
  sslproto 'tls1.2+' sslcertck sslcertfile "$bob_ca" sslcommonname localhost
  mda "/bin/sh -c 'cat >> $WORK/fetched.mbox; echo >> $WORK/fetched.mbox'"
EOF
chmod 600 "$WORK/fetchmailrc"
rc=0
HOME=$WORK fetchmail -f "$WORK/fetchmailrc" --idfile "$WORK/fetchids" -v --nodetach \
  > "$WORK/fetchmail.log" 2>&1 || rc=$?
check "fetchmail fetches over the bridge's POP3 with STLS (exit $rc)" test "$rc" = 0
check "… over TLS (STLS, the bridge's CA)" grep -qiE "STLS|TLS connection|SSL/TLS" "$WORK/fetchmail.log"
check "fetchmail got four messages" test "$(grep -c '^Postern-Status:' "$WORK/fetched.mbox")" = 4
check "the mails arrive decrypted" bash -c 'grep -qF "$1" "$3" && grep -qF "$2" "$3"' _ "$body1" "$body2" "$WORK/fetched.mbox"
check "with Postern-Status: scheme=pgp; decryption=ok" grep -q '^Postern-Status: scheme=pgp; decryption=ok; signature=good; signer=' "$WORK/fetched.mbox"
check "the forged Postern-Status fields did not survive" bash -c '! grep -qF "$1" "$2"' _ "$forged_tag" "$WORK/fetched.mbox"
check "the forged mail carries Postern's own, unsigned, status" \
  grep -q '^Postern-Status: scheme=none; decryption=not-encrypted; signature=none' "$WORK/fetched.mbox"
check "the dot-stuffed line arrives unstuffed" grep -q '^\.leading dot line' "$WORK/fetched.mbox"
check "fetchmail's DELE removed them from bob's store" test "$(pst bob --json list | json 'len(d["messages"])')" = 0
check "bob's POP3 login was logged" grep -q "bridge pop3: login of account main (USER/PASS, TLS)" "$WORK/home-bob/data/posternd.log"
rc=0
HOME=$WORK fetchmail -f "$WORK/fetchmailrc" --idfile "$WORK/fetchids" --nodetach > "$WORK/fetchmail2.log" 2>&1 || rc=$?
check "a second fetchmail finds nothing (exit $rc: 1 = no mail)" test "$rc" = 1
# A wrong POP3 password.
said=$(python3 - "$pop3_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"USER main\r\nPASS not-the-password\r\n")
f.readline()
print(f.readline().decode().strip())
PY
)
check "a wrong POP3 password is refused ($said)" bash -c '[[ "$1" == "-ERR [AUTH]"* ]]' _ "$said"
check "… and logged" grep -q "bridge pop3: login refused for user 'main'" "$WORK/home-bob/data/posternd.log"
said=$(python3 - "$pop3_port" "$bob_pass" <<'PY'
import socket, sys
def login():
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"USER main\r\nPASS " + sys.argv[2].encode() + b"\r\n")
    f.readline()
    return s, f.readline().decode().strip()
first, r1 = login()
second, r2 = login()
print(r1.split()[0], r2)
PY
)
check "one POP3 session per account: a second login meanwhile gets IN-USE ($said)" \
  bash -c '[[ "$1" == "+OK -ERR [IN-USE]"* ]]' _ "$said"

# A port that another process holds while the agent starts: the agent runs,
# and says the listener is not listening, and why, wherever one looks.
bob_smtp=$(free_port)
check "bob's SMTP listener starts" pst bob config set bridge-smtp "127.0.0.1:$bob_smtp"
pst bob agent stop >/dev/null
python3 - "$bob_smtp" "$WORK/squatter.ready" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
open(sys.argv[2], "w").close()
time.sleep(120)
PY
squatter=$!
for i in $(seq 1 100); do [ -e "$WORK/squatter.ready" ] && break; sleep 0.05; done
# A silent client is told and closed (POSTERN_BRIDGE_IDLE_TIMEOUT shortens the 300 s).
POSTERN_BRIDGE_IDLE_TIMEOUT=1 pst bob agent start > "$WORK/bob-start.out"
bob_log="$WORK/home-bob/data/posternd.log"
squatted="bridge SMTP 127.0.0.1:$bob_smtp: not listening: "
check "agent start with the SMTP port taken says the listener is not listening and why" \
  grep -qF "warning: $squatted" "$WORK/bob-start.out"
check "… so does agent status" bash -c '"$@" | grep -qF "warning: $0"' "$squatted" "$POSTERN" --home "$WORK/home-bob" agent status
check "… and bridge credentials" bash -c '"$@" | grep -qE "^SMTP: +$0"' "$squatted" "$POSTERN" --home "$WORK/home-bob" bridge credentials main
check "… also as JSON (smtp null, smtp_error)" bash -c '
  "$@" --json bridge credentials main | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(not (d[\"smtp\"] is None and d[\"smtp_error\"].startswith(sys.argv[1])))" "$0"' \
  "$squatted" "$POSTERN" --home "$WORK/home-bob"
check "… and the log has the warning" grep -qF "$squatted" "$bob_log"
# Each listener on its own: the failing SMTP one does not hold POP3 back.
pop3_port=$(free_port)
check "while SMTP cannot listen, config set bridge-pop3 moves the POP3 listener all the same" \
  pst bob config set bridge-pop3 "127.0.0.1:$pop3_port"
check "… it listens there" test "$(pst bob --json bridge credentials main | json 'd["pop3"]')" = "127.0.0.1:$pop3_port"
check "… and the file keeps both settings" bash -c 'grep -q "^bridge_pop3=127.0.0.1:$2$" "$1" && grep -q "^bridge_smtp=127.0.0.1:$3$" "$1"' _ \
  "$WORK/home-bob/config" "$pop3_port" "$bob_smtp"
expect_fail "config set bridge-smtp to a port that is taken is an error" 1 "nothing changed: bridge smtp: cannot listen on 127.0.0.1:$pop3_port" \
  pst bob config set bridge-smtp "127.0.0.1:$pop3_port"
check "… that leaves POP3 listening" test "$(pst bob --json bridge credentials main | json 'd["pop3"]')" = "127.0.0.1:$pop3_port"
kill "$squatter" 2>/dev/null; wait "$squatter" 2>/dev/null || true
check "once the port is free, config set bridge-smtp starts the listener" pst bob config set bridge-smtp "127.0.0.1:$bob_smtp"
check "… and agent status no longer warns" bash -c '"$@" agent status > "$0" && ! grep -q "not listening" "$0"' "$WORK/bob-status.out" "$POSTERN" --home "$WORK/home-bob"
said=$(python3 - "$pop3_port" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
time.sleep(2.5)
data = b""
while True:
    chunk = s.recv(512)
    if not chunk:
        break
    data += chunk
print(data.decode().replace("\r\n", "|"))
PY
)
check "a silent POP3 client is closed with -ERR ($said)" \
  bash -c '[[ "$1" == "+OK Postern bridge ready|-ERR [SYS/TEMP] idle too long; closing|" ]]' _ "$said"

# The agent runs out of descriptors: the listener waits and accepts again.
bob_pid=$("$POSTERN" --home "$WORK/home-bob" agent status | sed -n 's/.*pid \([0-9]*\).*/\1/p')
nofile=$(prlimit --pid "$bob_pid" --nofile --output SOFT --noheadings | tr -d ' ')
# Soft limit 3: no new descriptor at all (0 to 2 are open), for 1.5 s.
prlimit --pid "$bob_pid" --nofile="3:"
said=$(python3 - "$pop3_port" "$bob_pid" "$nofile" <<'PY'
import socket, subprocess, sys, time
# The first takes the descriptor the waiting accept had; the peer look-up
# finds none left: a temporary refusal.
first = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
r1 = first.makefile("rb").readline().decode().strip()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
time.sleep(1.5)          # accept fails with EMFILE meanwhile
subprocess.run(["prlimit", "--pid", sys.argv[2], "--nofile=%s:" % sys.argv[3]], check=True)
print(r1 + "|" + s.makefile("rb").readline().decode().strip())
PY
)
prlimit --pid "$bob_pid" --nofile="$nofile:" || true
check "with no descriptor left, the owner is told to try again, not refused ($said)" \
  bash -c '[[ "$1" == "-ERR [SYS/TEMP] cannot tell whose connection this is"* ]]' _ "$said"
check "after EMFILE the POP3 listener accepts again ($said)" bash -c '[[ "$1" == *"|+OK"* ]]' _ "$said"
check "… and said that it could not accept, and that it does again" bash -c '
  grep -q "bridge pop3: cannot accept a connection: .*; trying again" "$1" && grep -q "bridge pop3: accepting connections again" "$1"' _ "$bob_log"

# --- off again ------------------------------------------------------------------------
check "config set bridge-smtp off stops the listener" pst alice config set bridge-smtp off
check "… nothing listens there any more" bash -c '! python3 -c "import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), timeout=3)" "$1" 2>/dev/null' _ "$smtp_port"
check "… and credentials say smtp is off" test "$(pst alice --json bridge credentials main | json 'd["smtp"]')" = None
# On ::1, port 0: any free port, said by the credentials.
check "config set bridge-pop3 [::1]:0 listens on IPv6 loopback" pst alice config set bridge-pop3 "[::1]:0"
v6=$(pst alice --json bridge credentials main | json 'd["pop3"]')
v6_port=${v6##*:}
check "credentials name it ($v6)" bash -c '[[ "$1" == "[::1]:"[1-9]* ]]' _ "$v6"
said=$(python3 -c '
import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=10)
print(s.recv(512).decode().strip())' "$v6_port")
check "the agent's user is greeted on ::1 ($said)" bash -c '[[ "$1" == "+OK"* ]]' _ "$said"
said=$(nobody_says "$v6_port" ::1 2>&1 || true)
check "user nobody is refused on ::1 ($said)" bash -c '[[ "$1" == "-ERR"*"owner"* ]]' _ "$said"
check "a running agent re-reads bridge settings on SIGHUP" bash -c '
  sed -i "s/^bridge_pop3=.*/bridge_pop3=/" "$1/config" && pid=$("$2" --home "$1" agent status | sed -n "s/.*pid \([0-9]*\).*/\1/p") && kill -HUP "$pid"
  for i in $(seq 1 50); do
    [ "$("$2" --home "$1" --json bridge credentials main | python3 -c "import json,sys; print(json.load(sys.stdin)[\"pop3\"])")" = None ] && exit 0
    sleep 0.1
  done; exit 1' _ "$WORK/home-alice" "$POSTERN"
check "the passwords are in no log" bash -c '! grep -qF "$1" "$3" && ! grep -qF "$2" "$4"' _ "$pass" "$bob_pass" "$alice_log" "$WORK/home-bob/data/posternd.log"

finish
