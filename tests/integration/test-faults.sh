#!/usr/bin/env bash
# Faults a real server won't produce, from small fake servers (fakeserver.py):
# STARTTLS/STLS missing, refused or followed by injected plaintext;
# capabilities that change after TLS; bad greetings; replies cut in the
# middle; connections dropped during DATA and RETR; servers that never
# answer; and the SASL mechanisms Dovecot 2.3 cannot offer (OAUTHBEARER,
# XOAUTH2, SCRAM-SHA-256-PLUS with a man in the middle's binding).  Each: no
# credential leaves in the clear (the fake server records
# every byte it receives outside TLS), the error names the fault, and nothing
# is lost or duplicated (the outbox and the store are read back, and the
# fake server's record says what it accepted and what it was told to delete).
# The fake servers need nothing of the provider; under with-provider.sh this
# test borrows only alice's GnuPG home (in test builds it adds a key of its
# own there, to seal with).
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

SECRET='S3cr3t-Fault-Pass'
FUSER='fault-user@fault.test'
ADDR='alice@fault.test'
H="$WORK/home-faults"
DB="$H/data/postern.db"
UNUSED_SMTP='smtps://127.0.0.1:9'
UNUSED_POP3='pop3s://127.0.0.1:9'
if [ -n "${GNUPGHOME_ALICE:-}" ]; then
  export GNUPGHOME=$GNUPGHOME_ALICE
else
  export GNUPGHOME=$WORK/gnupg
  mkdir -m 700 "$GNUPGHOME"
fi

# Every CLI call is bounded, so that a hang fails the check instead of the run.
pf() { timeout 150 "$POSTERN" --home "$H" "$@"; }
q() { sqlite3 "$DB" "$1"; }
quiet() { "$@" >/dev/null; }
# expect_fail_kept: expect_fail (lib.sh) that also keeps the error line in
# LAST_ERR and the time taken in LAST_SECONDS, for more checks.
expect_fail_kept() {
  local what=$1 code=$2 regex=$3 t0; shift 3
  t0=$(date +%s)
  LAST_RC=0
  LAST_ERR=$("$@" 2>&1 >/dev/null) || LAST_RC=$?
  LAST_SECONDS=$(($(date +%s) - t0))
  expect_fail "$what" "$code" "$regex" replay_failure
}
replay_failure() { printf '%s\n' "$LAST_ERR" >&2; return "$LAST_RC"; }

# A test CA and a server certificate for 127.0.0.1 (IP SAN).
make_server_cert fault

# start_fake PROTO SCENARIO NAME [MAILDROP]: sets FPORT; the server's records
# are $WORK/f-NAME.{clear,tls,events,msg.N}.  lib.sh's cleanup stops it.
start_fake() {
  local proto=$1 sc=$2 name=$3 drop=${4:-} portfile="$WORK/f-$3.port" i
  python3 "$here/fakeserver.py" "$proto" "$sc" "$portfile" "$WORK/f-$name" "$CERT" "$KEY" \
    ${drop:+"$drop"} &
  RELAY_PIDS="${RELAY_PIDS:-} $!"
  for i in $(seq 1 400); do [ -s "$portfile" ] && break; sleep 0.05; done
  [ -s "$portfile" ] || { echo "# the fake server for $name did not start" >&2; exit 1; }
  FPORT=$(cat "$portfile")
}

add_fake_account() { # NAME SMTP_URL POP3_URL [MORE ACCOUNT OPTIONS]
  local name=$1 smtp=$2 pop3=$3; shift 3
  pf account add "$name" --address "$ADDR" --user "$FUSER" --smtp "$smtp" --pop3 "$pop3" \
    --password-command "printf %s $SECRET" --ca-file "$CA" "$@" >/dev/null
}

# no_clear_credentials NAME: nothing the fake server received outside TLS is
# a login: no AUTH, USER, PASS or APOP command, no password, in the clear or
# in base64 (AUTH PLAIN, AUTH LOGIN).
no_clear_credentials() {
  local log="$WORK/f-$1.clear"
  [ -f "$log" ] || return 1
  ! grep -qaiE '^(AUTH|USER|PASS|APOP)( |$)' "$log" && ! grep -qaF "$SECRET" "$log" \
    && ! grep -qaF "$(printf '\0%s\0%s' "$FUSER" "$SECRET" | base64 -w0)" "$log" \
    && ! grep -qaF "$(printf '%s' "$SECRET" | base64 -w0)" "$log" \
    && ! grep -qaF "$(printf '%s' "$FUSER" | base64 -w0)" "$log"
}
# no_clear_mail NAME MARKER: no envelope and no message text outside TLS.
no_clear_mail() {
  local log="$WORK/f-$1.clear"
  ! grep -qaiE '^(MAIL|RCPT|DATA|BDAT)( |$)' "$log" && ! grep -qaF "$2" "$log"
}
events_lack() { ! grep -qE "$2" "$WORK/f-$1.events"; }       # NAME REGEX
events_have() { grep -qE "$2" "$WORK/f-$1.events"; }         # NAME REGEX
# accepted_with NAME MARKER: how many messages the fake SMTP server accepted
# (250 to the final dot) hold MARKER.
accepted_with() {
  local n=0 f
  for f in "$WORK/f-$1".msg.*; do
    [ -f "$f" ] && grep -qF "$2" "$f" && n=$((n + 1))
  done
  echo "$n"
}
equals() { # equals WHAT GOT WANT (prints both when they differ)
  [ "$2" = "$3" ] && return 0
  echo "# $1: got '$2', want '$3'"; return 1
}
outbox_state() { q "select state || ' in_doubt=' || in_doubt from outbox where account = '$1' order by id"; }

msg_for() { # msg_for NAME MARKER: a small message from the account's address
  printf 'From: Alice <%s>\r\nTo: Bob <bob@fault.test>\r\nSubject: fault %s\r\nDate: %s\r\nMessage-ID: <%s.%s@fault.test>\r\n\r\n%s\r\nSecond line.\r\n.leading dot line\r\n' \
    "$ADDR" "$1" "$(date -R)" "$1" "$(date +%s%N)" "$2"
}

# ---------------------------------------------------------------- SMTP

# smtp_refused NAME PROTO SCENARIO ERROR_REGEX [ACCOUNT OPTIONS]: the send
# fails with the fault named, nothing secret or private crossed in the
# clear, and the message waits in the outbox, queued, not in doubt.
smtp_refused() {
  local name=$1 proto=$2 sc=$3 regex=$4; shift 4
  local marker="Marker-$name-$(date +%s%N)"
  start_fake "$proto" "$sc" "$name"
  add_fake_account "$name" "$proto://127.0.0.1:$FPORT" "$UNUSED_POP3" "$@"
  msg_for "$name" "$marker" > "$WORK/$name.eml"
  expect_fail "smtp $name: send fails, naming the fault" 5 "$regex" \
    pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
  check "smtp $name: no credential in the clear" no_clear_credentials "$name"
  check "smtp $name: no envelope or message text in the clear" no_clear_mail "$name" "$marker"
  check "smtp $name: no AUTH at all" events_lack "$name" '^[0-9]+ C AUTH'
  check "smtp $name: the message stays queued in the outbox" \
    equals "outbox of $name" "$(outbox_state "$name")" "queued in_doubt=0"
  check "smtp $name: the server accepted nothing" equals "accepted" "$(accepted_with "$name" "$marker")" 0
}

smtp_refused smtp-no-starttls smtp no-starttls "does not offer STARTTLS"
smtp_refused smtp-starttls-454 smtp starttls-454 "refused STARTTLS: 454 "
smtp_refused smtp-starttls-554 smtp starttls-554 "refused STARTTLS: 554 "
smtp_refused smtp-inject smtp starttls-inject "plaintext injected after the STARTTLS reply"
check "smtp smtp-inject: no TLS handshake after the injection" events_lack smtp-inject '^[0-9]+ tls$'
smtp_refused smtp-auth-before-tls smtp auth-before-tls-only "does not offer (authentication|AUTH)"
check "smtp smtp-auth-before-tls: the second EHLO was sent inside TLS" \
  equals "EHLOs" "$(grep -cE '^1 (C EHLO|tls)' "$WORK/f-smtp-auth-before-tls.events")" 3
smtp_refused smtp-greeting-554 smtp greeting-554 "refused the connection: 554 "
smtp_refused smtp-greeting-garbage smtp greeting-garbage 'malformed reply from server: "HELLO this is not'
smtp_refused smtp-greeting-garbage-tls smtps greeting-garbage 'malformed reply from server: "HELLO this is not'
smtp_refused smtp-cut-reply smtp cut-reply "in the middle of a reply"

# PIPELINING offered before TLS only: the session goes through, in lock-step.
name=smtp-pipelining-removed
marker="Marker-$name-$(date +%s%N)"
start_fake smtp pipelining-removed "$name"
add_fake_account "$name" "smtp://127.0.0.1:$FPORT" "$UNUSED_POP3"
msg_for "$name" "$marker" > "$WORK/$name.eml"
check "smtp $name: send succeeds" quiet pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
check "smtp $name: no pipelining after PIPELINING vanished" events_lack "$name" 'pipelined'
check "smtp $name: the server accepted the message once" equals "accepted" "$(accepted_with "$name" "$marker")" 1
check "smtp $name: the outbox says sent" equals "outbox" "$(outbox_state "$name")" "sent in_doubt=0"
check "smtp $name: no credential in the clear" no_clear_credentials "$name"

# Dropped in the middle of DATA (implicit TLS): not in doubt, since the
# final dot never left.  The message is big, so that the client is still
# writing when the server (which reads 64 KiB of it) resets the connection.
name=smtp-data-drop
big_marker="Marker-big-$(date +%s%N)"
{ msg_for "$name" "$big_marker"; head -c 12000000 /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } > "$WORK/$name.eml"
start_fake smtps data-drop "$name"
add_fake_account "$name" "smtps://127.0.0.1:$FPORT" "$UNUSED_POP3"
expect_fail "smtp $name: send fails, naming the fault" 5 "(closed|reset|broken|Broken)" \
  pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
check "smtp $name: the server dropped it in the middle of DATA" \
  events_lack "$name" 'whole message arrived'
check "smtp $name: the message is queued again, not in doubt" \
  equals "outbox" "$(outbox_state "$name")" "queued in_doubt=0"
check "smtp $name: nothing was accepted" equals "accepted" "$(accepted_with "$name" "$big_marker")" 0
# The next session (the fake server behaves from its second connection on)
# sends it, once, along with a new message.
marker2="Marker-second-$(date +%s%N)"
msg_for "$name-2" "$marker2" > "$WORK/$name-2.eml"
check "smtp $name: the next send succeeds" quiet pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name-2.eml"
check "smtp $name: the big message was accepted exactly once" \
  equals "accepted" "$(accepted_with "$name" "$big_marker")" 1
check "smtp $name: the new message was accepted exactly once" \
  equals "accepted" "$(accepted_with "$name" "$marker2")" 1
check "smtp $name: both are marked sent" equals "outbox" "$(outbox_state "$name" | tr '\n' ' ')" \
  "sent in_doubt=0 sent in_doubt=0 "
check "smtp $name: (control) the fake server sees pipelining when offered" \
  events_have "$name" '^2 pipelined MAIL'

# in_doubt_case NAME PROTO SCENARIO [ACCOUNT OPTIONS]: the final dot reached
# the server and no complete reply came back.  The message may have been
# accepted: it stays in the outbox, in doubt, never marked sent, the error
# says so, and no later session sends it again on its own.
in_doubt_case() {
  local name=$1 proto=$2 sc=$3; shift 3
  local marker="Marker-$name-$(date +%s%N)" marker2="Marker-$name-next-$(date +%s%N)"
  start_fake "$proto" "$sc" "$name"
  add_fake_account "$name" "$proto://127.0.0.1:$FPORT" "$UNUSED_POP3" "$@"
  msg_for "$name" "$marker" > "$WORK/$name.eml"
  expect_fail_kept "smtp $name: send fails, naming the fault" 5 \
    "(closed|broken|reset|timed out|middle of a reply|may or may not)" \
    pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
  check "smtp $name: the whole message reached the server" grep -qaF "$marker" "$WORK/f-$name.tls"
  check "smtp $name: the error says the message may have been delivered" \
    grep -qiE "may or may not have been accepted|in doubt|may have been (accepted|delivered|sent)" <<<"$LAST_ERR"
  check "smtp $name: the message stays in the outbox, in doubt, not sent" \
    equals "outbox" "$(outbox_state "$name")" "sending in_doubt=1"
  msg_for "$name-next" "$marker2" > "$WORK/$name-next.eml"
  check "smtp $name: a later send succeeds" \
    quiet pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name-next.eml"
  check "smtp $name: the later session did not send the in-doubt message again" \
    equals "accepted" "$(accepted_with "$name" "$marker")" 0
  check "smtp $name: the later message was accepted once" \
    equals "accepted" "$(accepted_with "$name" "$marker2")" 1
  check "smtp $name: the in-doubt message is still in doubt" \
    equals "outbox" "$(outbox_state "$name" | head -n 1)" "sending in_doubt=1"
  check "smtp $name: no credential in the clear" no_clear_credentials "$name"
}

in_doubt_case smtp-dot-drop smtp dot-drop
in_doubt_case smtp-dot-drop-tls smtps dot-drop
in_doubt_case smtp-dot-reply-cut smtps dot-reply-cut

# A server without 8BITMIME gets a 7-bit copy of an 8-bit message.
name=smtp-no-8bitmime
start_fake smtps no-8bitmime "$name"
add_fake_account "$name" "smtps://127.0.0.1:$FPORT" "$UNUSED_POP3"
printf 'From: Alice <%s>\r\nTo: bob@fault.test\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n' \
  "$ADDR" > "$WORK/$name.eml"
check "smtp $name: an 8-bit message is sent" quiet pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
check "smtp $name: no BODY=8BITMIME on MAIL" events_lack "$name" 'C MAIL .*8BITMIME'
check "smtp $name: what arrived is 7-bit, quoted-printable, the same text" python3 - "$WORK/f-$name.msg.1" <<'PY'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
assert all(b < 0x80 for b in raw), "8-bit bytes arrived"
m = email.message_from_bytes(raw, policy=email.policy.default)
assert m["Content-Transfer-Encoding"] == "quoted-printable", m["Content-Transfer-Encoding"]
assert m.get_content().strip() == "Grüße aus Köln", repr(m.get_content())
PY

# SIZE: a message larger than the server takes is refused before it is sent.
name=smtp-size
start_fake smtps size-small "$name"
add_fake_account "$name" "smtps://127.0.0.1:$FPORT" "$UNUSED_POP3"
{ msg_for "$name" "Marker-$name"; head -c 3000 /dev/zero | tr '\0' 'x'; printf '\r\n'; } > "$WORK/$name.eml"
expect_fail_kept "smtp $name: a message over the server's SIZE is refused" 1 "552 .*SIZE" \
  pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
check "smtp $name: no MAIL was sent" events_lack "$name" 'C MAIL'
check "smtp $name: the message is failed in the outbox, with the reason" \
  bash -c '[ "$(sqlite3 "$1" "select state from outbox where account = '"'"'smtp-size'"'"'")" = failed ] && sqlite3 "$1" "select last_reply from outbox where account = '"'"'smtp-size'"'"'" | grep -q "552.*SIZE"' _ "$DB"

# ---------------------------------------------------------------- POP3

# The maildrop: two messages with CRLF lines (as stored), one line of each
# starting with a dot.
DROP="$WORK/drop"
mkdir "$DROP"
for i in 1 2; do
  {
    printf 'From: Carol <carol@fault.test>\r\nTo: Alice <%s>\r\nSubject: maildrop %s\r\nDate: %s\r\nMessage-ID: <drop%s.%s@fault.test>\r\n\r\n' \
      "$ADDR" "$i" "$(date -R)" "$i" "$(date +%s%N)"
    printf 'Drop-Marker-%s\r\n.a line that starts with a dot\r\n' "$i"
    for j in $(seq 1 120); do printf 'line %03d of message %s: the quick brown fox jumps over the lazy dog\r\n' "$j" "$i"; done
  } > "$DROP/fault-uidl-000$i"
done
size1=$(stat -c %s "$DROP/fault-uidl-0001")
size2=$(stat -c %s "$DROP/fault-uidl-0002")

stored() { q "select count(*) from messages where account = '$1'"; }
stored_detail() { q "select uidl || ':' || size from messages where account = '$1' order by uidl"; }
seen_count() { q "select count(*) from seen where account = '$1'"; }
listed() {
  pf --json list --account "$1" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))'
}
# conn_cmds NAME CONN: the commands the fake POP3 server got on connection
# CONN, the login (USER and PASS, or AUTH) shown as LOGIN.
conn_cmds() {
  sed -n "s/^$2 C //p" "$WORK/f-$1.events" | sed -E '/^PASS$/d; s/^(USER|AUTH)$/LOGIN/' | tr '\n' ' '
}

# pop3_refused NAME PROTO SCENARIO ERROR_REGEX [ACCOUNT OPTIONS]: the fetch
# fails with the fault named, no credential crossed in the clear, nothing was
# stored and nothing deleted.
pop3_refused() {
  local name=$1 proto=$2 sc=$3 regex=$4; shift 4
  start_fake "$proto" "$sc" "$name" "$DROP"
  add_fake_account "$name" "$UNUSED_SMTP" "$proto://127.0.0.1:$FPORT" "$@"
  expect_fail_kept "pop3 $name: fetch fails, naming the fault" 5 "$regex" pf fetch --account "$name"
  check "pop3 $name: no credential in the clear" no_clear_credentials "$name"
  check "pop3 $name: nothing stored" equals "stored" "$(stored "$name"):$(seen_count "$name")" "0:0"
  check "pop3 $name: no RETR or DELE reached the server" events_lack "$name" '^[0-9]+ C (RETR|DELE)'
}

pop3_refused pop3-no-stls pop3 no-stls "does not offer STLS"
pop3_refused pop3-stls-refused pop3 stls-refused "refused STLS: .*TLS not available now"
pop3_refused pop3-inject pop3 stls-inject "plaintext injected after the STLS reply"
check "pop3 pop3-inject: no TLS handshake after the injection" events_lack pop3-inject '^[0-9]+ tls$'
pop3_refused pop3-greeting-err pop3 greeting-err "refused the connection: .*no service for you"
pop3_refused pop3-greeting-garbage pop3s greeting-garbage 'malformed reply from server: "\* OK IMAP4'
pop3_refused pop3-cut-reply pop3s cut-reply "in the middle of a reply"
pop3_refused pop3-no-uidl pop3s no-uidl "does not support UIDL"

# CAPA changes after STLS: PIPELINING gone, STLS offered again.  The fetch
# goes through in lock-step, with one STLS, the login inside TLS.
name=pop3-capa-changes
start_fake pop3 capa-changes "$name" "$DROP"
add_fake_account "$name" "$UNUSED_SMTP" "pop3://127.0.0.1:$FPORT"
check "pop3 $name: fetch succeeds" quiet pf fetch --account "$name"
check "pop3 $name: both messages stored, whole" equals "stored" "$(stored_detail "$name" | tr '\n' ' ')" \
  "fault-uidl-0001:$size1 fault-uidl-0002:$size2 "
check "pop3 $name: no pipelining after PIPELINING vanished" events_lack "$name" 'pipelined'
check "pop3 $name: STLS only once" equals "STLS commands" "$(grep -c ' C STLS$' "$WORK/f-$name.events")" 1
check "pop3 $name: the login went inside TLS" events_have "$name" '^1 (pass|auth) inside TLS$'
check "pop3 $name: no credential in the clear" no_clear_credentials "$name"

# LOGIN-DELAY 900 in CAPA: a second fetch right after the first does not
# even connect, and says when it may.
name=pop3-login-delay
start_fake pop3s login-delay "$name" "$DROP"
add_fake_account "$name" "$UNUSED_SMTP" "pop3s://127.0.0.1:$FPORT"
check "pop3 $name: the first fetch succeeds" quiet pf fetch --account "$name"
expect_fail "pop3 $name: a second fetch at once is refused, naming LOGIN-DELAY" 5 \
  "LOGIN-DELAY.*next one in (899|900) s" pf fetch --account "$name"
check "pop3 $name: the server saw one connection only" \
  equals "connections" "$(grep -c ' C CAPA$' "$WORK/f-$name.events")" 1

# seal_incoming under LOGIN-DELAY (test builds: POSTERN_TEST_SEAL_FAIL=2
# fails the agent's first two seals): the first fetch stores both messages
# in plaintext, noted to seal; the second, refused by the delay before any
# connection, seals them all the same: the seal needs no server.
if [ "${POSTERN_TEST_HOOKS:-}" = true ]; then
  name=pop3-login-delay-seal
  gq() { gpg --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"; }
  gq --quick-gen-key "Faults <$ADDR>" ed25519 sign,cert never
  gq --quick-add-key "$(gq --with-colons --list-secret-keys "$ADDR" | awk -F: '$1 == "fpr" { print $10; exit }')" \
    cv25519 encr never
  start_fake pop3s login-delay "$name" "$DROP"
  add_fake_account "$name" "$UNUSED_SMTP" "pop3s://127.0.0.1:$FPORT" --seal-incoming
  pf agent stop >/dev/null 2>&1 || true
  POSTERN_TEST_SEAL_FAIL=2 pf agent start >/dev/null
  flags_of() { q "select group_concat(flags) from (select flags from messages where account = '$1' order by id)"; }
  expect_fail "pop3 $name: the first fetch stores both, and says their seals failed" 1 \
    "2 messages could not be sealed" pf fetch --account "$name"
  check "pop3 $name: … both noted to seal (flags 2)" equals "flags" "$(flags_of "$name")" "2,2"
  expect_fail "pop3 $name: a second fetch at once is refused by LOGIN-DELAY" 5 \
    "LOGIN-DELAY.*next one in (899|900) s" pf fetch --account "$name"
  check "pop3 $name: … and has sealed both all the same (flags 1)" equals "flags" "$(flags_of "$name")" "1,1"
  check "pop3 $name: … without a second connection" \
    equals "connections" "$(grep -c ' C CAPA$' "$WORK/f-$name.events")" 1
  pf agent stop >/dev/null 2>&1 || true
else
  echo "# SKIP seal_incoming under LOGIN-DELAY: needs a build with -Dtest_hooks=true"
fi

# Mechanisms Dovecot 2.3 cannot offer, against the fake server's own
# implementations: OAUTHBEARER and XOAUTH2 with a token from token_command,
# and SCRAM-SHA-256-PLUS bound to the TLS session (tls-unique).
export FAKE_TOKEN="ya29.fault-$(date +%s%N)" FAKE_USER="$FUSER" FAKE_PASSWORD="$SECRET"
token_account() { # NAME PORT TOKEN
  pf account add "$1" --address "$ADDR" --user "$FUSER" --smtp "$UNUSED_SMTP" \
    --pop3 "pop3s://127.0.0.1:$2" --token-command "printf %s $3" --ca-file "$CA" >/dev/null
}
name=pop3-oauthbearer
start_fake pop3s oauth "$name" "$DROP"
token_account "$name" "$FPORT" "$FAKE_TOKEN"
check "pop3 $name: a token-only account logs in with OAUTHBEARER (preferred to XOAUTH2)" \
  quiet pf fetch --account "$name"
check "pop3 $name: with the user, host and token" events_have "$name" "oauthbearer user=$FUSER host=127.0.0.1"
name=pop3-xoauth2
start_fake pop3s xoauth2 "$name" "$DROP"
token_account "$name" "$FPORT" "$FAKE_TOKEN"
check "pop3 $name: XOAUTH2 when it is the only one" quiet pf fetch --account "$name"
check "pop3 $name: with the user" events_have "$name" "xoauth2 user=$FUSER"
name=pop3-oauth-bad
start_fake pop3s oauth "$name" "$DROP"
token_account "$name" "$FPORT" "ya29.expired"
expect_fail "pop3 $name: a refused token" 5 "authentication failed \(OAUTHBEARER\)" pf fetch --account "$name"
check "pop3 $name: the error challenge was answered with %x01" events_have "$name" "answer to the error: 'AQ=='"
name=pop3-scram-plus
start_fake pop3s scram-plus "$name" "$DROP"
add_fake_account "$name" "$UNUSED_SMTP" "pop3s://127.0.0.1:$FPORT"
check "pop3 $name: SCRAM-SHA-256-PLUS is chosen and succeeds" quiet pf fetch --account "$name"
check "pop3 $name: bound to the session with tls-unique" events_have "$name" "scram gs2 header p=tls-unique"
check "pop3 $name: the server saw the same binding" events_have "$name" "matching channel binding"
name=pop3-scram-plus-mitm
start_fake pop3s scram-plus-mitm "$name" "$DROP"
add_fake_account "$name" "$UNUSED_SMTP" "pop3s://127.0.0.1:$FPORT"
expect_fail "pop3 $name: a server on another TLS session (a man in the middle) cannot use the login" 5 \
  "authentication failed \(SCRAM-SHA-256-PLUS\)" pf fetch --account "$name"
check "pop3 $name: the binding differed" events_have "$name" "scram channel binding differs"

# Dropped in the middle of RETR 2, after message 1 was stored: message 2 is
# not stored, not deleted; the next fetch stores it once and does not store
# message 1 again (its DELE was never committed: no QUIT).
name=pop3-retr-drop
start_fake pop3s retr-drop "$name" "$DROP"
add_fake_account "$name" "$UNUSED_SMTP" "pop3s://127.0.0.1:$FPORT"
expect_fail_kept "pop3 $name: fetch fails, naming the fault" 5 \
  "(closed|broken|reset|eof)" pf fetch --account "$name"
check "pop3 $name: the error says the message was cut" \
  grep -qE "in the middle of message 2" <<<"$LAST_ERR"
check "pop3 $name: message 1 stored whole, nothing of message 2" \
  equals "stored" "$(stored_detail "$name" | tr '\n' ' ')" "fault-uidl-0001:$size1 "
check "pop3 $name: no partial row or chunk left" equals "rows" "$(q "select
  (select count(*) from messages where account = '$name' and (unfinished or uidl = 'fault-uidl-0002'))
  + (select count(*) from message_chunks where message_id not in (select id from messages))")" 0
# Message 1 may be deleted in this session or (pipelined, committed in a
# group when the session ends) in the next; message 2 never, and no QUIT
# may commit anything.
c1=$(conn_cmds "$name" 1)
check "pop3 $name: no DELE of the unstored message, no QUIT ($c1)" \
  bash -c '[[ "$1" == "CAPA LOGIN UIDL RETR 1 "* && "$1" == *"RETR 2 "* && "$1" != *"DELE 2"* && "$1" != *QUIT* ]]' _ "$c1"
check "pop3 $name: a later fetch succeeds" quiet pf fetch --account "$name"
check "pop3 $name: each message stored exactly once, whole" \
  equals "stored" "$(stored_detail "$name" | tr '\n' ' ')" "fault-uidl-0001:$size1 fault-uidl-0002:$size2 "
check "pop3 $name: the later fetch deleted message 1 without retrieving it again" \
  equals "commands of connection 2" "$(conn_cmds "$name" 2)" "CAPA LOGIN UIDL DELE 1 RETR 2 DELE 2 QUIT "
check "pop3 $name: list shows the two messages" equals "listed" "$(listed "$name")" 2
check "pop3 $name: a third fetch finds nothing new" quiet pf fetch --account "$name"
check "pop3 $name: still two messages" equals "stored" "$(stored "$name")" 2
check "pop3 $name: the third session retrieved nothing" events_lack "$name" '^3 C RETR'
check "pop3 $name: no credential in the clear" no_clear_credentials "$name"

# ---------------------------------------------------------------- silence

# Servers that accept the connection and never answer.  These need a short
# per-account timeout (account add --timeout).
silent_case() { # NAME PROTO SCENARIO KIND
  local name=$1 proto=$2 sc=$3 kind=$4
  start_fake "$proto" "$sc" "$name" "$DROP"
  if [ "$kind" = smtp ]; then
    add_fake_account "$name" "$proto://127.0.0.1:$FPORT" "$UNUSED_POP3" --timeout 2
    msg_for "$name" "Marker-$name" > "$WORK/$name.eml"
    expect_fail_kept "$kind $name: send fails, naming the fault" 5 "timed out" \
      pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
    check "$kind $name: the message stays queued" equals "outbox" "$(outbox_state "$name")" "queued in_doubt=0"
  else
    add_fake_account "$name" "$UNUSED_SMTP" "$proto://127.0.0.1:$FPORT" --timeout 2
    expect_fail_kept "$kind $name: fetch fails, naming the fault" 5 "timed out" pf fetch --account "$name"
    check "$kind $name: nothing stored" equals "stored" "$(stored "$name")" 0
  fi
  check "$kind $name: gave up within 30 s ($LAST_SECONDS s)" test "$LAST_SECONDS" -le 30
  check "$kind $name: no credential in the clear" no_clear_credentials "$name"
}
silent_case smtp-silent smtp silent smtp
silent_case smtp-silent-tls smtps silent smtp
silent_case pop3-silent pop3 silent pop3
silent_case pop3-silent-tls pop3s silent pop3
in_doubt_case smtp-dot-silent smtps dot-silent --timeout 2

# ---------------------------------------------------------------- outbox

outbox_json() { pf --json outbox list --account "$1"; }
outbox_field() { # NAME FIELD: of the account's first entry
  outbox_json "$1" | python3 -c 'import json,sys; e=json.load(sys.stdin)["outbox"]; print(e[0][sys.argv[1]] if e else "")' "$2"
}

# A 451 to RCPT: queued again with a next try in about a minute (60 s ±20%),
# kept across a restart of the agent; `outbox retry` sends it now.
name=outbox-defer
start_fake smtps defer-once "$name"
add_fake_account "$name" "smtps://127.0.0.1:$FPORT" "$UNUSED_POP3"
msg_for "$name" "Marker-$name" > "$WORK/$name.eml"
t0=$(date +%s)
expect_fail "outbox $name: a deferred send says so" 1 "451" \
  pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml"
next=$(outbox_field "$name" next_try)
check "outbox $name: queued, with the next try 48 to 72 s later ($((next - t0)) s)" \
  bash -c '[ "$1" = queued ] && [ $(($2 - $3)) -ge 47 ] && [ $(($2 - $3)) -le 73 ]' _ "$(outbox_field "$name" state)" "$next" "$t0"
check "outbox $name: the server's reply is kept" bash -c 'grep -q "451 4.3.0" <<<"$1"' _ "$(outbox_field "$name" last_reply)"
pf agent stop >/dev/null
check "outbox $name: the next try survives a restart" equals "next_try" "$(outbox_field "$name" next_try)" "$next"
check "outbox $name: outbox list shows the next try and the reply" bash -c \
  'out=$("$@"); grep -q "next try:" <<<"$out" && grep -q "server: 451" <<<"$out"' _ "$POSTERN" --home "$H" outbox list --account "$name"
id=$(outbox_field "$name" id)
# Offline past its next try: the scheduler sends it as soon as the agent
# runs.  (The calls above started the agent again: it is stopped before the
# store is changed under it, else it would learn of the change only at its
# next wake-up, the first fetch's, some 20 s later.)
pf agent stop >/dev/null
sqlite3 "$DB" "update outbox set next_try = strftime('%s','now') - 1 where id = $id"
pf agent start >/dev/null
for _ in $(seq 1 200); do [ "$(outbox_field "$name" state)" = sent ] && break; sleep 0.1; done
check "outbox $name: once due, the scheduler sends it by itself, once" bash -c '[ "$1" = sent ] && [ "$2" = 1 ]' _ \
  "$(outbox_field "$name" state)" "$(accepted_with "$name" "Marker-$name")"
expect_fail "outbox $name: a sent message cannot be retried" 1 "never sent again" pf outbox retry "$id"

# In doubt after a drop behind the final dot: listed as such, never sent
# again by itself; `outbox retry` (after checking) sends it.
name=outbox-doubt
start_fake smtps dot-drop "$name"
add_fake_account "$name" "smtps://127.0.0.1:$FPORT" "$UNUSED_POP3"
msg_for "$name" "Marker-$name" > "$WORK/$name.eml"
pf send --account "$name" --wait --encrypt never --no-sign "$WORK/$name.eml" >/dev/null 2>&1 || true
check "outbox $name: outbox list says IN DOUBT" bash -c 'out=$("$@"); grep -q "IN DOUBT" <<<"$out"' _ \
  "$POSTERN" --home "$H" outbox list --account "$name"
id=$(outbox_field "$name" id)
check "outbox $name: retry" quiet pf outbox retry "$id"
for _ in $(seq 1 100); do [ "$(outbox_field "$name" state)" = sent ] && break; sleep 0.1; done
check "outbox $name: … sent by the next session" equals "outbox" "$(outbox_state "$name")" "sent in_doubt=0"

# Two messages in one session, the connection dropped behind the first's
# final dot.  While the reply to it is awaited, the sender takes the second
# and records it "sending" (agent/sender.c, WANT_READ), though none of it has
# left: it must not stay in doubt, but be queued again (or sent at once by a
# session that follows), and be accepted once.
name=outbox-doubt-next
add_fake_account "$name" "$UNUSED_SMTP" "$UNUSED_POP3"
msg_for "$name" "Marker-$name-1" > "$WORK/$name-1.eml"
msg_for "$name" "Marker-$name-2" > "$WORK/$name-2.eml"
# Queued while the server is down (each waits for its next try then), the
# fake server put in its place (account set changes no server: the
# configuration is edited, the agent stopped), and the first retried: the
# session takes both, oldest first.
quiet pf send --account "$name" --encrypt never --no-sign "$WORK/$name-1.eml"
quiet pf send --account "$name" --encrypt never --no-sign "$WORK/$name-2.eml"
pf agent stop >/dev/null
start_fake smtps dot-drop "$name"
sed -i "/^\[account $name\]/,/^\[/ s|^smtp *= *.*|smtp=smtps://127.0.0.1:$FPORT|" "$H/config"
id1=$(q "select min(id) from outbox where account = '$name'")
id2=$(q "select max(id) from outbox where account = '$name'")
check "outbox $name: both queued, waiting for their next try" equals "outbox" \
  "$(q "select count(*) from outbox where account = '$name' and state = 'queued' and next_try > strftime('%s','now')")" 2
# The agent's events from before the retry: the second's "sending" (taken
# ahead) and then "queued" (put back) say that the session took it ahead
# and put it back, which its row alone cannot (queued with no attempt is
# also how it was before).
quiet pf agent start
"$POSTERN" --home "$H" --json watch outbox.changed > "$WORK/$name.watch" 2>&1 &
doubt_watch=$!
RELAY_PIDS="${RELAY_PIDS:-} $doubt_watch"
sleep 0.5
check "outbox $name: retry the first" quiet pf outbox retry "$id1"
row() { q "select state || ' in_doubt=' || in_doubt || ' attempts=' || attempts from outbox where id = $1"; }
put_back() { # put_back ID: the events say "sending", later "queued", for ID
  python3 - "$WORK/$name.watch" "$1" <<'PY'
import json, sys
states = [e["params"]["state"] for e in (json.loads(l) for l in open(sys.argv[1]) if l.strip())
          if e["event"] == "outbox.changed" and e["params"]["id"] == int(sys.argv[2])]
sys.exit(0 if "sending" in states and "queued" in states[states.index("sending"):] else 1)
PY
}
for _ in $(seq 1 200); do
  events_have "$name" 'dropped after the final dot' && [ "$(row "$id1")" = "sending in_doubt=1 attempts=1" ] \
    && put_back "$id2" && break
  sleep 0.1
done
kill "$doubt_watch" 2>/dev/null || true
check "outbox $name: the second was taken ahead, then put back (its events)" put_back "$id2"
check "outbox $name: the server dropped the session after the first's final dot" \
  events_have "$name" 'dropped after the final dot'
check "outbox $name: the first is in doubt" equals "first" "$(row "$id1")" "sending in_doubt=1 attempts=1"
check "outbox $name: the second is not" bash -c '[ "$(sqlite3 "$1" "select in_doubt from outbox where id = $2")" = 0 ]' \
  _ "$DB" "$id2"
[ "$(q "select state from outbox where id = $id2")" = sent ] || quiet pf outbox retry "$id2" || true
for _ in $(seq 1 100); do [ "$(q "select state from outbox where id = $id2")" = sent ] && break; sleep 0.1; done
# attempts=1: recorded "sending" when taken ahead, that attempt taken back
# when it was put back unbegun, and "sending" again when sent.
check "outbox $name: the second, taken ahead in the dropped session, sent by a later one (one attempt counted)" equals "second" \
  "$(row "$id2")" "sent in_doubt=0 attempts=1"
check "outbox $name: accepted: the first never, the second once" equals "accepted" \
  "$(accepted_with "$name" "Marker-$name-1") $(accepted_with "$name" "Marker-$name-2")" "0 1"
check "outbox $name: the first is still in doubt" equals "first" "$(row "$id1")" "sending in_doubt=1 attempts=1"

# A server that is down: the message waits, queued; cancel keeps it from
# ever being sent.  `postern watch` prints the events meanwhile.
"$POSTERN" --home "$H" --json watch outbox.changed account.error > "$WORK/watch.out" 2>&1 &
watch_pid=$!
RELAY_PIDS="${RELAY_PIDS:-} $watch_pid"
for _ in $(seq 1 100); do [ -e "$H/run/agent.sock" ] && break; sleep 0.05; done
sleep 0.5
name=outbox-down
add_fake_account "$name" "smtps://127.0.0.1:9" "$UNUSED_POP3"
msg_for "$name" "Marker-$name" > "$WORK/$name.eml"
check "outbox $name: send (queued) answers at once" quiet pf send --account "$name" --encrypt never --no-sign "$WORK/$name.eml"
for _ in $(seq 1 100); do [ "$(outbox_field "$name" next_try)" != 0 ] && break; sleep 0.1; done
check "outbox $name: after the failed session, a next try is set" test "$(outbox_field "$name" next_try)" -gt "$(date +%s)"
id=$(outbox_field "$name" id)
check "outbox $name: cancel" quiet pf outbox cancel "$id"
check "outbox $name: cancelled" equals "outbox" "$(outbox_state "$name")" "cancelled in_doubt=0"
expect_fail "outbox $name: a cancelled message cannot be retried" 1 "never sent again" pf outbox retry "$id"
for _ in $(seq 1 50); do grep -q '"cancelled"' "$WORK/watch.out" && break; sleep 0.1; done
kill "$watch_pid" 2>/dev/null || true
check "watch --json: one JSON event per line, with the account error and the cancel" python3 - "$WORK/watch.out" "$name" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
name = sys.argv[2]
assert all(set(e) == {"event", "params", "time"} for e in events), events
assert any(e["event"] == "account.error" and e["params"]["account"] == name for e in events), events
assert any(e["event"] == "outbox.changed" and e["params"]["state"] == "cancelled" for e in events), events
PY
expect_fail "watch: an unknown event" 2 "unknown event 'mail.lost'" pf watch mail.lost
expect_fail "outbox: an unknown id" 1 "no outbox entry" pf outbox retry 999999
expect_fail "outbox: a bad id" 2 "outbox ID" pf outbox cancel abc
expect_fail "outbox: a bad state" 2 "state must be" pf outbox list --state lost


# ---- a certificate whose names fake the lines of `account test` ----
# A self-signed certificate whose subject draws a "SPKI pin:" and a "trusted
# by:" line of its own (U+2028, U+2029: new lines in a GtkLabel, and in some
# terminals) and turns text around (U+202E).  `account test` prints one
# line of each, with the key's real pin; the forged names stay on the
# certificate's line, each such character replaced (transport.c).
forged_cn=$(printf 'mail\342\200\250  SPKI pin: sha256\\/\\/REALPIN=')
forged_ou=$(printf '\342\200\251  trusted by:        ca')
forged_o=$(printf 'Evil \342\200\256moc.elpmaxe')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -utf8 \
  -keyout "$WORK/forged.key" -out "$WORK/forged.pem" -subj "/CN=$forged_cn/OU=$forged_ou/O=$forged_o" 2>/dev/null
forged_pin=sha256//$(openssl x509 -in "$WORK/forged.pem" -noout -pubkey | openssl pkey -pubin -outform der \
  | openssl dgst -sha256 -binary | base64)
saved_cert=$CERT saved_key=$KEY
CERT=$WORK/forged.pem KEY=$WORK/forged.key
start_fake smtps good forged
CERT=$saved_cert KEY=$saved_key
add_fake_account forged "smtps://127.0.0.1:$FPORT" "$UNUSED_POP3"
rc=0; pf account test forged > "$WORK/forged.out" 2> "$WORK/forged.err" || rc=$?
check "forged names: account test of the untrusted server exits 5" test "$rc" = 5
check "forged names: one 'SPKI pin:' line, the key's real pin" \
  equals "pin lines" "$(grep '^ *SPKI pin:' "$WORK/forged.out" | awk '{print $3}')" "$forged_pin"
check "forged names: one 'trusted by:' line, saying nothing vouches for it" \
  equals "trusted lines" "$(grep '^ *trusted by:' "$WORK/forged.out" | awk '{print $3}')" nothing
check "forged names: no line or paragraph separator, no bidi override printed" \
  bash -c '! grep -q "$(printf "\342\200[\250\251\256]")" "$1"' _ "$WORK/forged.out"
check "forged names: the subject is shown on the certificate's line, replaced where it was forged" \
  grep -q "^  certificate: *O=Evil $(printf '\357\277\275')moc.*CN=mail$(printf '\357\277\275') SPKI pin: sha256//REALPIN=" "$WORK/forged.out"
check "forged names: runs of spaces in them made one (no padding to a wrapped line's start)" \
  bash -c '! grep "^  certificate:" "$1" | sed "s/^  certificate: *//" | grep -q "  "' _ "$WORK/forged.out"

finish
