#!/usr/bin/env bash
# Accounts and [general] settings changed through the agent, against the
# real provider: `account test --login` logs in and out over POP3S and
# submission with STARTTLS (Dovecot logs it) and touches no mail; a wrong
# password is refused with Dovecot's own words; an account given whole
# (account.test's `account` member) is tried and not stored; an untrusted
# server is never sent a credential; `account set` (account.update) and
# `config set` (config.set) are checked, applied at once and kept.
source "$(dirname "$0")/lib.sh"

# rpc WHO METHOD PARAMS-JSON: one call on WHO's agent socket; prints the
# response (result or error) as one JSON line.
rpc() {
  pst "$1" agent start >/dev/null 2>&1 || true
  python3 - "$WORK/home-$1/run/agent.sock" "$2" "$3" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2],
                      "params": json.loads(sys.argv[3])}).encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(json.dumps(json.loads(buf)))
PY
}
# rpc_refused WHO METHOD PARAMS-JSON EXIT WORDS: the call fails with exit
# code EXIT and a message holding WORDS.
rpc_refused() {
  rpc "$1" "$2" "$3" | python3 -c '
import json, sys
e = json.load(sys.stdin).get("error")
if not e or e["data"]["exit"] != int(sys.argv[1]) or sys.argv[2] not in e["message"]:
    sys.exit("# got %r" % e)' "$4" "$5"
}
# jq-like: json_get EXPR < JSON (EXPR in Python over `r`).
json_get() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
maildir_state() { (cd "$ALICE_MAILDIR" && find new cur -type f | sort); }
# The messages on the server, wherever Dovecot keeps them (a login moves
# new/ to cur/ and adds flags to the names): their unique names and sums.
messages_on_server() {
  local f
  for f in "$ALICE_MAILDIR"/new/* "$ALICE_MAILDIR"/cur/*; do
    [ -f "$f" ] || continue
    printf '%s %s\n' "$(basename "$f" | sed 's/:2,.*//')" "$(sha256sum < "$f" | cut -c1-16)"
  done | sort
}
dovecot_count() { grep -c -- "$1" "$DOVECOT_LOG" || true; }
# wait_log PATTERN BEFORE: until Dovecot logged PATTERN more than BEFORE times (10 s).
wait_log() {
  local i
  for i in $(seq 1 100); do
    [ "$(dovecot_count "$1")" -gt "$2" ] && return 0
    sleep 0.1
  done
  echo "# '$1' not logged again by Dovecot; its log ends:" >&2
  tail -n 5 "$DOVECOT_LOG" | sed 's/^/#   /' >&2
  return 1
}

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
# Two messages waiting on the server, which a login must leave alone.
for i in 1 2; do
  printf 'From: %s\r\nTo: %s\r\nSubject: waiting %s\r\n\r\nStill here\r\n' "$ALICE_ADDR" "$ALICE_ADDR" "$i" \
    > "$WORK/waiting-$i.eml"
  pst alice send --account main --wait --encrypt never --no-sign "$WORK/waiting-$i.eml" >/dev/null
done
wait_for_delivery "$ALICE_MAILDIR" 2

# ---- account test --login: both servers, in and out ----
pop3_logins=$(dovecot_count "pop3-login: Info: Login: user=<$ALICE_ADDR>")
smtp_logins=$(dovecot_count "submission-login: Info: Login: user=<$ALICE_ADDR>")
logouts=$(dovecot_count "pop3($ALICE_ADDR).*Disconnected: Logged out")
before=$(messages_on_server)
rc=0; pst alice account test main --login > "$WORK/login.out" 2> "$WORK/login.err" || rc=$?
check "account test --login: exit 0" test "$rc" = 0
check "… it prints TLS, certificate, issuer, pin and 'login: ok' for both servers" bash -c \
  'grep -c "TLS: *TLSv1\.[23]" "$1" | grep -qx 2 && grep -c "issuer: .*Postern" "$1" | grep -qx 2 \
   && grep -c "SPKI pin: *sha256//" "$1" | grep -qx 2 && grep -c "login: *ok$" "$1" | grep -qx 2' _ "$WORK/login.out"
check "… Dovecot logged the POP3S login" wait_log "pop3-login: Info: Login: user=<$ALICE_ADDR>" "$pop3_logins"
check "… and the submission login (STARTTLS)" wait_log "submission-login: Info: Login: user=<$ALICE_ADDR>" "$smtp_logins"
check "… the POP3 session ended with QUIT, nothing retrieved or deleted" bash -c \
  'for _ in $(seq 1 100); do
     [ "$(grep -c -- "pop3($2).*Disconnected: Logged out" "$1")" -gt "$3" ] && break; sleep 0.1
   done
   grep -- "pop3($2).*Disconnected: Logged out" "$1" | tail -n 1 | grep -q "retr=0/0, del=0/2,"' \
  _ "$DOVECOT_LOG" "$ALICE_ADDR" "$logouts"
check "… and the two messages are still on the server, unchanged" \
  bash -c '[ "$(printf "%s\n" "$1" | wc -l)" = 2 ] && [ "$1" = "$2" ]' _ "$before" "$(messages_on_server)"
check "--json: login ok for smtp and pop3, ok true" bash -c \
  '"$1" --home "$2" --json account test main --login | python3 -c "
import json, sys
r = json.load(sys.stdin)
assert r[\"ok\"] is True, r
assert r[\"smtp\"][\"login\"] == \"ok\" and r[\"pop3\"][\"login\"] == \"ok\", r
assert \"login_error\" not in r[\"smtp\"] and \"login_error\" not in r[\"pop3\"], r"' _ "$POSTERN" "$WORK/home-alice"
check "without --login nothing logs in: login not-tried" bash -c \
  '"$1" --home "$2" --json account test main | python3 -c "
import json, sys
r = json.load(sys.stdin)
assert r[\"ok\"] is True and r[\"smtp\"][\"login\"] == r[\"pop3\"][\"login\"] == \"not-tried\", r"' _ "$POSTERN" "$WORK/home-alice"

# ---- a wrong password ----
printf 'not-the-password\n' > "$WORK/wrong-pass"
pst alice account add wrong --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" \
  --password-command "cat $WORK/wrong-pass" >/dev/null
failures=$(dovecot_count "auth failed")
before=$(maildir_state)
rc=0; pst alice account test wrong --login > "$WORK/wrong.out" 2> "$WORK/wrong.err" || rc=$?
check "a wrong password: exit 5" test "$rc" = 5
check "… POP3: login failed with Dovecot's words" \
  grep -qF "login:            failed: -ERR [AUTH] Authentication failed." "$WORK/wrong.out"
check "… submission: login failed with Dovecot's words" \
  grep -qE "login: +failed: 535 5\.7\.8 .*Authentication failed" "$WORK/wrong.out"
check "… one line on stderr saying which login failed and why" bash -c \
  '[ "$(wc -l < "$1")" = 1 ] && grep -qE "^postern: account test: wrong: login to smtp://.* failed: 535" "$1"' _ "$WORK/wrong.err"
check "… Dovecot logged the failed logins" wait_log "auth failed" "$failures"
check "… and nothing in alice's Maildir was touched" test "$(maildir_state)" = "$before"
check "… never the wrong password in the agent's log" bash -c '! grep -qF not-the-password "$1"' _ "$WORK/home-alice/data/posternd.log"

# The password command failing is a local reason, and said so.
pst alice account add nopass --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" --ca-file "$CA_FILE" \
  --password-command "exit 1" >/dev/null
rc=0; pst alice account test nopass --login > "$WORK/nopass.out" 2>/dev/null || rc=$?
check "a password command that fails: exit 5, login failed, the command named" bash -c \
  '[ "$1" = 5 ] && grep -c "login: *failed: account nopass: the password command failed" "$2" | grep -qx 2' \
  _ "$rc" "$WORK/nopass.out"

# ---- an untrusted server: no credential is sent, the pin is shown ----
record_via "$HOST" "$POP3S_PORT" "$WORK/untrusted-pop3.log"; pop3_rec=$REC_PORT
record_via "$HOST" "$SMTP_PORT" "$WORK/untrusted-smtp.log"; smtp_rec=$REC_PORT
printf '%s\n' "$ALICE_PASS" > "$WORK/right-pass"
pst alice account add noca --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$smtp_rec" --pop3 "pop3s://$HOST:$pop3_rec" \
  --password-command "cat $WORK/right-pass" >/dev/null
rc=0; pst alice --json account test noca --login > "$WORK/noca.json" 2>/dev/null || rc=$?
check "untrusted server with --login: exit 5, login not-tried, subject, issuer and pin shown" bash -c \
  '[ "$1" = 5 ] && python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert r[\"ok\"] is False, r
for s in (r[\"smtp\"], r[\"pop3\"]):
    assert s[\"login\"] == \"not-tried\" and \"login_error\" not in s, s
    assert s[\"trusted\"] is False and s[\"trusted_by\"] == \"nothing\", s
    assert s[\"pin\"] == \"sha256//\" + sys.argv[2], (s[\"pin\"], sys.argv[2])
    assert s[\"subject\"] and \"Postern\" in s[\"issuer\"], s
" "$2" "$3"' _ "$rc" "$WORK/noca.json" "$SERVER_PIN_SHA256_B64"
no_credentials_sent() {
  no_credentials "$WORK/untrusted-pop3.log" "$ALICE_PASS" && no_credentials "$WORK/untrusted-smtp.log" "$ALICE_PASS"
}
check "… and no credential went to it" no_credentials_sent
rc=0; pst alice account test noca --login > "$WORK/noca.out" 2>/dev/null || rc=$?
check "… the text says 'login: not tried' for both" bash -c \
  'grep -c "login: *not tried" "$1" | grep -qx 2' _ "$WORK/noca.out"

# ---- an account given whole, not stored ----
inline=$(python3 -c 'import json, sys; print(json.dumps({"account": {
  "name": "trial", "address": sys.argv[1], "user": sys.argv[1], "smtp": sys.argv[2], "pop3": sys.argv[3],
  "password_command": "cat " + sys.argv[4], "ca_file": sys.argv[5], "auth": "PLAIN"}, "login": True}))' \
  "$ALICE_ADDR" "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" "$WORK/right-pass" "$CA_FILE")
plain_logins=$(dovecot_count "Login: user=<$ALICE_ADDR>, method=PLAIN")
rpc alice account.test "$inline" > "$WORK/inline.json"
check "account.test with an account object: both logins ok" test \
  "$(json_get 'r["result"]["ok"], r["result"]["name"], r["result"]["smtp"]["login"], r["result"]["pop3"]["login"]' < "$WORK/inline.json")" \
  = "(True, 'trial', 'ok', 'ok')"
check "… with the account's own settings (auth PLAIN: two PLAIN logins)" \
  wait_log "Login: user=<$ALICE_ADDR>, method=PLAIN" $((plain_logins + 1))
check "… and it was not stored" bash -c \
  '! "$1" --home "$2" account show trial >/dev/null 2>&1 && ! grep -q "account trial" "$2/config"' _ "$POSTERN" "$WORK/home-alice"
check "account object with an unknown member: usage error naming it" \
  rpc_refused alice account.test '{"account": {"name": "x", "colour": "red"}}' 2 "account: unknown parameter 'colour'"
check "account object missing a member: usage error" \
  rpc_refused alice account.test "{\"account\": {\"name\": \"x\", \"address\": \"$ALICE_ADDR\"}}" 2 "parameter 'smtp' is missing"
check "name and account both: usage error" \
  rpc_refused alice account.test '{"name": "main", "account": {"name": "x"}}' 2 "not both"
check "neither: usage error" rpc_refused alice account.test '{"login": true}' 2 "give name"

# ---- account set ----
check "account set: several settings at once" \
  pst alice account set main --fetch-interval 600 --max-recipients 20 --max-per-hour 40 \
    --encrypt always --scheme pgp --keep-on-server=5 --timeout 30
show_main() { pst alice --json account show main; }
expect_main() { # PYTHON-CONDITION over r (the account object)
  show_main | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}
settings='r["fetch_interval"] == 600 and r["max_recipients"] == 20 and r["max_messages_per_hour"] == 40 and r["encrypt"] == "always" and r["scheme"] == "pgp" and r["keep_on_server"] and r["keep_days"] == 5 and r["timeout"] == 30'
check "… account show has them" expect_main "$settings"
check "… the config file has them" bash -c \
  'grep -q "^fetch_interval=600" "$1" && grep -q "^max_recipients=20" "$1" && grep -q "^keep_on_server=5" "$1"' _ "$WORK/home-alice/config"
pst alice agent stop >/dev/null
check "… and so does a new agent" expect_main "$settings"
check "--no-keep-on-server, --pin, back to the defaults" \
  pst alice account set main --no-keep-on-server --pin "sha256//$SERVER_PIN_SHA256_B64" --max-recipients 0 --encrypt auto
check "… applied" expect_main 'not r["keep_on_server"] and r["keep_days"] == 0 and r["pin"] == "sha256//'"$SERVER_PIN_SHA256_B64"'" and r["max_recipients"] == 100 and r["encrypt"] == "auto" and r["fetch_interval"] == 600'
check "… and the account still logs in (trusted by the pin)" bash -c \
  '"$1" --home "$2" account test main --login | grep -c "trusted by: *pin" | grep -qx 2' _ "$POSTERN" "$WORK/home-alice"
check "--no-pin" pst alice account set main --no-pin
check "… the pin is gone from the file" bash -c '! grep -q "^pin=" "$1"' _ "$WORK/home-alice/config"
expect_fail "account set: recipients out of range" 2 "max_recipients and max_messages_per_hour must be from 1 to 1000000" \
  pst alice account set main --max-recipients 2000000
expect_fail "account set: fetch interval too short" 2 "fetch_interval must be 0 \(only when asked\) or 30 seconds to 7 days" \
  pst alice account set main --fetch-interval 5
expect_fail "account set: an unknown encrypt mode" 2 "encrypt must be always, auto or never, not 'sometimes'" \
  pst alice account set main --encrypt sometimes
expect_fail "account set: an unknown scheme" 2 "scheme must be pgp, smime or auto" \
  pst alice account set main --scheme rot13
expect_fail "account set: a malformed pin" 2 "not sha256//BASE64" pst alice account set main --pin sha256//nope
expect_fail "account set: an unknown account" 2 "no account named nosuch" pst alice account set nosuch --timeout 10
expect_fail "account set: nothing to change" 2 "say what to change" pst alice account set main
check "… the refused values changed nothing" expect_main 'r["max_recipients"] == 100 and r["fetch_interval"] == 600 and r["encrypt"] == "auto" and r["scheme"] == "pgp"'
check "account.update: an unknown member is a usage error naming it" \
  rpc_refused alice account.update '{"name": "main", "colour": "red"}' 2 "unknown parameter 'colour'"
check "account.update: the address cannot be changed" \
  rpc_refused alice account.update '{"name": "main", "address": "someone@else.example"}' 2 "'address' of an account cannot be changed"
check "account.update: keep_days without keep_on_server" \
  rpc_refused alice account.update '{"name": "main", "keep_on_server": false, "keep_days": 3}' 2 "keep_days needs keep_on_server"
check "account.update: a wrong type" \
  rpc_refused alice account.update '{"name": "main", "timeout": "soon"}' 2 "parameter 'timeout' must be an integer"
r=$(rpc alice account.update '{"name": "main", "max_recipients": 9}')
check "account.update returns the account as account.show does" bash -c \
  'diff <(printf "%s" "$1" | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)[\"result\"], sort_keys=True))") \
        <("$2" --home "$3" --json account show main | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))")' \
  _ "$r" "$POSTERN" "$WORK/home-alice"
check "the password command is not in the agent's log" bash -c \
  '! grep -q "cat $2" "$1"' _ "$WORK/home-alice/data/posternd.log" "$WORK/right-pass"

# ---- config show / config set ----
check "config show: no scanner at first" bash -c \
  '"$1" --home "$2" config show | grep -q "^scan: *none"' _ "$POSTERN" "$WORK/home-alice"
expect_fail "config set scan: a spec that does not parse" 2 "scan = 'antivirus': use clamd:" \
  pst alice config set scan antivirus
expect_fail "config set scan: a command that does not parse" 2 "Text ended before matching quote" \
  pst alice config set scan "command:/bin/scanner 'unterminated"
expect_fail "config set on-scan-error: not a choice" 2 "'drop' is not quarantine or deliver" \
  pst alice config set on-scan-error drop
expect_fail "config set scan-timeout: out of range" 2 "scan-timeout takes a number of seconds" \
  pst alice config set scan-timeout 0
check "… nothing was written" bash -c '! grep -q "^scan" "$1"' _ "$WORK/home-alice/config"
cat > "$WORK/scanner.sh" <<'EOF'
#!/bin/sh
# A scanner that finds a virus in everything.
cat > /dev/null
echo Test.Everything.Infected
exit 1
EOF
chmod +x "$WORK/scanner.sh"
printf 'Hello\n' > "$WORK/sample.txt"
expect_fail "without a scanner, scan says none is configured" 1 "no scanner is configured" pst alice scan "$WORK/sample.txt"
agent_pid=$(rpc alice hello '{}' | json_get 'r["result"]["pid"]')
check "config set scan command:…" pst alice config set scan "command:$WORK/scanner.sh"
check "config set scan-timeout and on-scan-error" bash -c \
  '"$1" --home "$2" config set scan-timeout 15 >/dev/null && "$1" --home "$2" config set on-scan-error deliver >/dev/null' \
  _ "$POSTERN" "$WORK/home-alice"
check "… config show has all three" bash -c \
  'out=$("$1" --home "$2" config show); grep -q "^scan: *command:$3" <<<"$out" && grep -q "^on scan error: *deliver" <<<"$out" && grep -q "^scan timeout: *15 s" <<<"$out"' \
  _ "$POSTERN" "$WORK/home-alice" "$WORK/scanner.sh"
expect_fail "… the new scanner is used at once" 7 "infected: Test.Everything.Infected" pst alice scan "$WORK/sample.txt"
check "… by the same agent (no restart)" test "$(rpc alice hello '{}' | json_get 'r["result"]["pid"]')" = "$agent_pid"
check "… and the file has it, in [general]" bash -c \
  'python3 - "$1" "$2" <<'"'"'PY'"'"'
import configparser, sys
c = configparser.ConfigParser(interpolation=None); c.read(sys.argv[1])
g = c["general"]
assert g["scan"] == "command:" + sys.argv[2] and g["on_scan_error"] == "deliver" and g["scan_timeout"] == "15", dict(g)
PY' _ "$WORK/home-alice/config" "$WORK/scanner.sh"
pst alice agent stop >/dev/null
check "… kept across a restart" bash -c \
  '"$1" --home "$2" --json config show | python3 -c "
import json, sys
r = json.load(sys.stdin)
assert r == {\"scan\": \"command:\" + sys.argv[1], \"on_scan_error\": \"deliver\", \"scan_timeout\": 15,
             \"bridge_smtp\": None, \"bridge_pop3\": None, \"bridge_smtp_listening\": None,
             \"bridge_pop3_listening\": None, \"bridge_smtp_error\": None,
             \"bridge_pop3_error\": None}, r" "$3"' \
  _ "$POSTERN" "$WORK/home-alice" "$WORK/scanner.sh"
check "config.set: an unknown member is a usage error naming it" \
  rpc_refused alice config.set '{"scanner": "clamd:/x"}' 2 "unknown parameter 'scanner'"
check "config.set: nothing to set" rpc_refused alice config.set '{}' 2 "nothing to set"
check "config set scan none" pst alice config set scan none
check "… no scanner again, at once" bash -c \
  '"$1" --home "$2" scan "$3" 2>&1 | grep -q "no scanner is configured"' _ "$POSTERN" "$WORK/home-alice" "$WORK/sample.txt"
check "… and none in the file" bash -c '! grep -q "^scan=" "$1"' _ "$WORK/home-alice/config"

finish
