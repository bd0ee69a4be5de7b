#!/usr/bin/env bash
# The scan hook (DESIGN.md §11) with a real clamd and a signature database
# this test writes (an EICAR signature), and with a command scanner:
# infected mail that arrives encrypted is quarantined after decryption and
# never shown; a scanner that is down quarantines by default, or delivers
# when told to; infected outgoing mail is refused (exit 7) before it is
# encrypted, and nothing is queued; a scanner that hangs times out.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

trap '"$root/tests/harness/clamd.sh" stop "$WORK" >/dev/null 2>&1; cleanup' EXIT
: > "$WORK/env"
"$root/tests/harness/clamd.sh" start "$WORK" >/dev/null
# shellcheck source=/dev/null
. "$WORK/env"

EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

# set_general WHO LINES…: replaces the [general] group of WHO's configuration
# (the agent is stopped first; the next command starts it again).
set_general() {
  local who=$1; shift
  pst "$who" agent stop >/dev/null 2>&1 || true
  python3 - "$WORK/home-$who/config" "$@" <<'PY'
import sys
path, lines = sys.argv[1], sys.argv[2:]
text = open(path).read()
out, skip = [], False
for line in text.splitlines():
    if line.strip().startswith("["):
        skip = line.strip() == "[general]"
    if not skip:
        out.append(line)
open(path, "w").write("[general]\n" + "\n".join(lines) + "\n\n" + "\n".join(out) + "\n")
PY
}
mail_with() { # FROM TO SUBJECT BODY-LINE
  printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\n\r\n%s\r\n' \
    "$1" "$2" "$3" "$(date -R)" "$(date +%s%N)" "$4"
}
listed() { pst bob --json list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))'; }
quarantined() { pst bob --json quarantine list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["quarantine"]))'; }
last_quarantined() { # FIELD of the newest quarantined message
  pst bob --json quarantine list | python3 -c 'import json,sys; print(json.load(sys.stdin)["quarantine"][0][sys.argv[1]])' "$1"
}

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
# The list checks below look for the Subjects of encrypted mail, which the
# store keeps only with store_decrypted_subject (reader.c).
pst bob agent stop >/dev/null
sed -i '/^\[account main\]/a store_decrypted_subject=true' "$WORK/home-bob/config"
set_general bob "scan = clamd:$CLAMD_SOCKET"

# ---- an infected mail, encrypted: only the decrypted copy shows it ----
mail_with "$ALICE_ADDR" "$BOB_ADDR" "Invoice" "$EICAR" > "$WORK/infected.eml"
check "alice sends an encrypted mail carrying EICAR" pst alice send --wait --encrypt always "$WORK/infected.eml"
check "… it reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "… where the provider's scanner could not see it (encrypted)" \
  bash -c '! grep -rqF "EICAR-STANDARD" "$1"' _ "$BOB_MAILDIR"
check "bob fetches" pst bob fetch
check "the infected mail is not listed" test "$(listed)" = 0
check "it is in quarantine, named by clamd" bash -c '[ "$1" = 1 ] && [ "$2" = infected ] && [ "$3" = Postern.Test.EICAR.UNOFFICIAL ]' \
  _ "$(quarantined)" "$(last_quarantined verdict)" "$(last_quarantined name)"
qid=$(last_quarantined id)
expect_fail "show refuses it (exit 7)" 7 "quarantined: infected with Postern.Test.EICAR.UNOFFICIAL" pst bob show "$qid"
expect_fail "export refuses it (exit 7)" 7 "quarantined" pst bob export "$qid"
check "quarantine release: the user's decision" pst bob quarantine release "$qid"
check "… then show opens it, and still says what was found" bash -c \
  '"$@" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"scan\"] == {\"verdict\": \"infected\", \"name\": \"Postern.Test.EICAR.UNOFFICIAL\"}, d[\"scan\"]"' \
  _ "$POSTERN" --home "$WORK/home-bob" --json show "$qid"

# ---- a clean mail is scanned and shown ----
mail_with "$ALICE_ADDR" "$BOB_ADDR" "Lunch" "Noon at the usual place." > "$WORK/clean.eml"
pst alice send --wait "$WORK/clean.eml" >/dev/null
wait_for_delivery "$BOB_MAILDIR" 1 >/dev/null
pst bob fetch >/dev/null
check "a clean mail is listed with scan verdict clean" bash -c \
  '"$@" | python3 -c "import json,sys; m=json.load(sys.stdin)[\"messages\"]; assert any(x[\"subject\"]==\"Lunch\" and x[\"scan\"][\"verdict\"]==\"clean\" for x in m), m"' \
  _ "$POSTERN" --home "$WORK/home-bob" --json list

# ---- postern scan ----
printf '%s\n' "$EICAR" > "$WORK/eicar.txt"
expect_fail "scan FILE: infected, exit 7, named" 7 "is infected: Postern.Test.EICAR.UNOFFICIAL" pst bob scan "$WORK/eicar.txt"
check "scan FILE: a clean file, exit 0" pst bob scan "$WORK/clean.eml"

# ---- clamd down: quarantine by default ----
"$root/tests/harness/clamd.sh" stop "$WORK" >/dev/null
mail_with "$ALICE_ADDR" "$BOB_ADDR" "While down" "Nothing wrong with this one." > "$WORK/down.eml"
pst alice send --wait "$WORK/down.eml" >/dev/null
wait_for_delivery "$BOB_MAILDIR" 1 >/dev/null
before=$(listed)
pst bob fetch >/dev/null
check "clamd down: the new mail is not listed" test "$(listed)" = "$before"
check "… it is quarantined with verdict error, naming the scanner" bash -c \
  '[ "$1" = error ] && grep -q "clamd at" <<<"$2"' _ "$(last_quarantined verdict)" "$(last_quarantined name)"
expect_fail "… show refuses it" 1 "could not be scanned" pst bob show "$(last_quarantined id)"
expect_fail "scan FILE with clamd down: exit 1" 1 "could not be scanned: clamd at" pst bob scan "$WORK/clean.eml"
check "quarantine delete" pst bob quarantine delete "$(last_quarantined id)"
expect_fail "quarantine release of a message not in quarantine" 1 "not in quarantine" pst bob quarantine release "$qid"

# on_scan_error = deliver: delivered, with the verdict saying so.
set_general bob "scan = clamd:$CLAMD_SOCKET" "on_scan_error = deliver"
mail_with "$ALICE_ADDR" "$BOB_ADDR" "Deliver anyway" "Still nothing wrong." > "$WORK/deliver.eml"
pst alice send --wait "$WORK/deliver.eml" >/dev/null
wait_for_delivery "$BOB_MAILDIR" 1 >/dev/null
pst bob fetch >/dev/null
check "on_scan_error = deliver: listed, with verdict error" bash -c \
  '"$@" | python3 -c "import json,sys; m=json.load(sys.stdin)[\"messages\"]; assert any(x[\"subject\"]==\"Deliver anyway\" and x[\"scan\"][\"verdict\"]==\"error\" for x in m), m"' \
  _ "$POSTERN" --home "$WORK/home-bob" --json list

# ---- a command scanner on outgoing mail ----
cat > "$WORK/scanner.sh" <<'SH'
#!/bin/sh
# Infected when the message says EVIL.
if grep -q EVIL; then echo "Test.Evil.Marker"; exit 1; fi
exit 0
SH
chmod +x "$WORK/scanner.sh"
set_general alice "scan = command:$WORK/scanner.sh"
outbox_count() { sqlite3 "$WORK/home-alice/data/postern.db" 'select count(*) from outbox'; }
before=$(outbox_count)
mail_with "$ALICE_ADDR" "$BOB_ADDR" "Bad" "This is EVIL." > "$WORK/evil.eml"
expect_fail "command scanner: infected outgoing mail is refused (exit 7)" 7 "infected with Test.Evil.Marker; nothing was sent" \
  pst alice send --wait "$WORK/evil.eml"
check "… and nothing was queued" test "$(outbox_count)" = "$before"
check "command scanner: a clean message is sent" pst alice send --wait "$WORK/clean.eml"

# ---- mail no scanner saw is scanned before export --raw gives it out ----
# Alice fetches a plaintext EVIL mail into an account that seals what
# arrives in plaintext, while she has no scanner; then the scanner is set:
# export --raw scans it first (its seal opened into the scanner as it
# passes) and refuses it, as show would.
set_general alice
add_account alice sealed "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --seal-incoming
mail_with "$BOB_ADDR" "$ALICE_ADDR" "Evil sealed" "This is EVIL too." > "$WORK/evil-in.eml"
check "bob sends alice a plaintext mail the command scanner would flag" \
  pst bob send --wait --encrypt never --no-sign "$WORK/evil-in.eml"
mail_with "$BOB_ADDR" "$ALICE_ADDR" "Evil encrypted" "This is EVIL, encrypted." > "$WORK/evil-enc.eml"
check "… and one encrypted" pst bob send --wait --encrypt always "$WORK/evil-enc.eml"
check "… they reach alice's Maildir" wait_for_delivery "$ALICE_MAILDIR" 2
check "alice, with no scanner, fetches them" pst alice fetch --account sealed
adb="$WORK/home-alice/data/postern.db"
eid=$(sqlite3 "$adb" "select id from messages where account = 'sealed' and subject = 'Evil sealed'")
check "… sealed, and not scanned" \
  test "$(sqlite3 "$adb" "select (flags & 1) || ' ' || scan_verdict from messages where id = '$eid'")" = "1 skipped"
set_general alice "scan = command:$WORK/scanner.sh"
expect_fail "with the scanner set, export --raw scans it first and refuses it" 7 \
  "message $eid is quarantined \\(Test.Evil.Marker\\)" pst alice export --raw "$eid"
check "… it is in the quarantine now" \
  test "$(sqlite3 "$adb" "select scan_verdict || ' ' || scan_name from messages where id = '$eid'")" = \
  "infected Test.Evil.Marker"
# The encrypted one scans clean as it arrived (ciphertext): export --raw
# gives it out, and that clean scan is no verdict on its plaintext, which
# show scans when it decrypts it.
xid=$(sqlite3 "$adb" "select id from messages where account = 'sealed' and id != '$eid' order by id desc limit 1")
check "export --raw of the encrypted one: scanned as it arrived (ciphertext), given out" \
  bash -c '"$@" > "$0" && grep -q "BEGIN PGP MESSAGE" "$0"' "$WORK/enc-raw.eml" \
  env GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" export --raw "$xid"
expect_fail "… then show decrypts it, scans the plaintext and refuses it" 7 "infected with Test.Evil.Marker" \
  pst alice show "$xid"

# A scanner that hangs: a timeout, and (quarantine policy) nothing is sent.
printf '#!/bin/sh\nsleep 60\n' > "$WORK/hang.sh"
chmod +x "$WORK/hang.sh"
set_general alice "scan = command:$WORK/hang.sh" "scan_timeout = 2"
t0=$(date +%s)
expect_fail "a scanner that hangs: refused after its timeout" 1 "did not finish within 2 s\); nothing was sent" \
  pst alice send --wait "$WORK/clean.eml"
check "… within 20 s ($(($(date +%s) - t0)) s)" test $(($(date +%s) - t0)) -le 20

# A bad scan setting: the agent does not start, and says where.
set_general alice "scan = antivirus-please"
expect_fail "a bad scan setting stops the agent from starting" 6 "scan" pst alice list

finish
