#!/usr/bin/env bash
# Refusals: each fails closed with one clear error line, the documented exit
# code, and no credential on the wire.  A recording relay sits between
# Postern and the real server to prove the last point.
source "$(dirname "$0")/lib.sh"

msg="$WORK/m.eml"
make_message "$ALICE_ADDR" "$BOB_ADDR" "Secret" "Nothing to see $(date +%s%N)" > "$msg"

# refuse NAME SMTP_TARGET_HOST SMTP_PORT POP3_KIND POP3_TARGET_HOST POP3_PORT CA REGEX
refuse() {
  local name=$1 shost=$2 sport=$3 pkind=$4 phost=$5 pport=$6 ca=$7 regex=$8
  local slog="$WORK/$name.smtp.log" plog="$WORK/$name.pop3.log" srelay prelay
  record_via "$shost" "$sport" "$slog"; srelay=$REC_PORT
  record_via "$phost" "$pport" "$plog"; prelay=$REC_PORT
  add_account alice "$name" "smtp://127.0.0.1:$srelay" "$pkind://127.0.0.1:$prelay"
  if [ "$ca" != "$CA_FILE" ]; then
    # account add took the harness CA; this account trusts another one.
    sed -i "/^\[account $name\]/,/^\[/ s|^ca_file=.*|ca_file=$ca|" "$WORK/home-alice/config"
    pst alice agent stop >/dev/null
  fi
  expect_fail "$name: send is refused" 5 "$regex" pst alice send --account "$name" --wait "$msg"
  expect_fail "$name: fetch is refused" 5 "$regex" pst alice fetch --account "$name"
  check "$name: no credential reached the SMTP server" no_credentials "$slog" "$ALICE_PASS"
  check "$name: no credential reached the POP3 server" no_credentials "$plog" "$ALICE_PASS"
}

refuse other-ca "$HOST" "$SMTP_PORT" pop3s "$HOST" "$POP3S_PORT" "$OTHER_CA_FILE" \
  "certificate not accepted"
refuse wrong-host "$WRONGHOST_HOST" "$WRONGHOST_SMTP_PORT" pop3s "$WRONGHOST_HOST" \
  "$WRONGHOST_POP3S_PORT" "$CA_FILE" "certificate not accepted"
refuse no-starttls "$NOTLS_HOST" "$NOTLS_SMTP_PORT" pop3 "$NOTLS_HOST" "$NOTLS_POP3_PORT" \
  "$CA_FILE" "(STARTTLS|STLS)"

# The refused messages wait in the outbox; none was sent.
check "refused messages are kept, unsent" test "$(sqlite3 "$WORK/home-alice/data/postern.db" "select count(*) from outbox where state in ('queued','sending')")" -ge 3
check "nothing was fetched by a refused session" test "$(pst alice --json list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')" = 0

# Wrong password, over a verified TLS session.
printf 'wrong-password\n' > "$WORK/wrong"
add_account alice badpw "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
sed -i "/^\[account badpw\]/,/^\[/ s|^password_command=.*|password_command=cat $WORK/wrong|" "$WORK/home-alice/config"
pst alice agent stop >/dev/null
expect_fail "wrong password: send is refused" 5 "authentication failed" pst alice send --account badpw --wait "$msg"
expect_fail "wrong password: fetch is refused" 5 "authentication failed" pst alice fetch --account badpw

# A recipient without a key and --encrypt always: refused, nothing queued.
add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
make_message "$ALICE_ADDR" "carol@postern.test" "No key" "Plaintext that must not leave" > "$WORK/carol.eml"
outbox_count() { sqlite3 "$WORK/home-alice/data/postern.db" 'select count(*) from outbox'; }
before=$(outbox_count)
expect_fail "no key and --encrypt always" 3 "no OpenPGP key for: carol@postern.test" \
  pst alice send --account main --encrypt always --wait "$WORK/carol.eml"
check "nothing was queued" test "$(outbox_count)" = "$before"
check "nothing reached carol's or anyone's mailbox" test -z "$(grep -rl 'Plaintext that must not leave' "$PROVIDER_DIR" 2>/dev/null)"

# Limits: the agent is no relay for whatever reaches its socket.
add_account alice limited "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" \
  --max-recipients 2 --max-messages-per-hour 2
printf 'From: %s\r\nTo: a@postern.test, b@postern.test\r\nCc: c@postern.test\r\nSubject: many\r\n\r\nx\r\n' \
  "$ALICE_ADDR" > "$WORK/many.eml"
before=$(outbox_count)
expect_fail "max_recipients: three recipients for a limit of two" 3 "3 recipients; account limited allows at most 2" \
  pst alice send --account limited --encrypt never "$WORK/many.eml"
check "… nothing was queued" test "$(outbox_count)" = "$before"
printf 'From: %s\r\nTo: %s\r\nSubject: one\r\n\r\nx\r\n' "$ALICE_ADDR" "$ALICE_ADDR" > "$WORK/one.eml"
check "max_messages_per_hour 2: the first two are queued" bash -c \
  '"$1" --home "$2" send --account limited --encrypt never "$3" >/dev/null && "$1" --home "$2" send --account limited --encrypt never "$3" >/dev/null' \
  _ "$POSTERN" "$WORK/home-alice" "$WORK/one.eml"
expect_fail "… the third in the hour is refused" 3 "queued 2 messages in the last hour" \
  pst alice send --account limited --encrypt never "$WORK/one.eml"
# Sends that passed the hour's check together cannot all be queued: the
# count is taken again at the commit.  The first send is held in the
# scanner (between the check and the commit) while a second is queued.
add_account alice hourly "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --max-messages-per-hour 1
cat > "$WORK/hold.sh" <<SH
#!/bin/sh
cat > /dev/null
if mkdir "$WORK/held" 2>/dev/null; then
  i=0
  while [ ! -e "$WORK/go" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
fi
exit 0
SH
chmod +x "$WORK/hold.sh"
pst alice config set scan "command:$WORK/hold.sh" >/dev/null
pst alice send --account hourly --encrypt never "$WORK/one.eml" > /dev/null 2> "$WORK/held.err" &
held=$!
for _ in $(seq 1 300); do [ -d "$WORK/held" ] && break; sleep 0.1; done
check "max_messages_per_hour 1: a first send is held in the scanner, past the limit's check" test -d "$WORK/held"
check "… a second send meanwhile is queued" pst alice send --account hourly --encrypt never "$WORK/one.eml"
touch "$WORK/go"
rc=0
wait "$held" || rc=$?
check "… the first is then refused at its commit: the hour's one is queued (exit $rc: $(cat "$WORK/held.err"))" \
  test "$rc" = 3 -a -n "$(grep 'queued 1 messages in the last hour' "$WORK/held.err")"
check "… one message in the hour's outbox" \
  test "$(sqlite3 "$WORK/home-alice/data/postern.db" "select count(*) from outbox where account = 'hourly'")" = 1
pst alice config set scan none >/dev/null
# The hour's limit counts messages, not the copies that encryption makes
# for Bcc recipients (each its own, so that key ids do not name them).
add_account alice copies "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --max-messages-per-hour 2
printf 'From: %s\r\nTo: %s\r\nBcc: %s\r\nSubject: copies\r\n\r\nx\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$ALICE_ADDR" > "$WORK/bcc.eml"
copies_count() {
  sqlite3 "$WORK/home-alice/data/postern.db" "select count(*) from outbox where account = 'copies'"
}
check "max_messages_per_hour 2: a message with a Bcc recipient, encrypted, is queued" \
  pst alice send --account copies --encrypt always "$WORK/bcc.eml"
check "… as two copies" test "$(copies_count)" = 2
check "… and counts once: a second message is queued" \
  pst alice send --account copies --encrypt always "$WORK/bcc.eml"
expect_fail "… the third is refused" 3 "queued 2 messages in the last hour" \
  pst alice send --account copies --encrypt always "$WORK/bcc.eml"
check "… four copies of two messages in the outbox" test "$(copies_count)" = 4
# A message larger than the agent keeps a copy of (4 GiB; a sparse file
# here, which costs no disk): refused at once, nothing written or queued.
truncate -s 5G "$WORK/huge.eml"
before=$(outbox_count)
expect_fail "a 5 GiB message is refused before it is copied" 2 "larger than 4096 MiB, the most the agent sends" \
  pst alice send --account main "$WORK/huge.eml"
check "… nothing was queued" test "$(outbox_count)" = "$before"
rm -f "$WORK/huge.eml"
expect_fail "a bad limit" 2 "max_recipients" \
  pst alice account add badlimit --address "$ALICE_ADDR" --user u --smtp "smtp://$HOST:$SMTP_PORT" \
  --pop3 "pop3s://$HOST:$POP3S_PORT" --password-command true --max-recipients -5
finish
