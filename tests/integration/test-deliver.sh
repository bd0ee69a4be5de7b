#!/usr/bin/env bash
# Delivery to other mail programs (issue 14, DESIGN.md §14): an account's
# deliver = maildir:PATH or mda:COMMAND hands each fetched message to
# another mail reader, decrypted (or as it arrived, deliver_encrypted) with
# Postern's own Postern-Status field on top, every incoming one removed.
# Mail goes through the real provider; neomutt reads the Maildir.  A
# Maildir gets each message exactly once, SIGKILL at each point of a
# delivery included (test builds: after the tmp/ write, after the move into
# new/ before the commit, in the first, a middle and the last of four); an
# MDA gets each once here, and a failing or hanging one keeps the message
# for a later fetch: a hanging one is killed with all it started, and the
# others are delivered all the same.  A Maildir another user could write to
# is refused, and no plaintext stays in tmp/.  A quarantined message waits
# for its release.
source "$(dirname "$0")/lib.sh"

json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
files_in() { find "$1/new" "$1/cur" -type f 2>/dev/null | sort; }
count_in() { files_in "$1" | wc -l; }
db_of() { echo "$WORK/home-$1/data/postern.db"; }
pending() { sqlite3 "$(db_of "$1")" "select count(*) from deliveries where state = 'pending'"; }
# Message-IDs in the Maildir delivered more or less than once, given the
# list expected ("" when each is there exactly once).
not_once() { # not_once MAILDIR ID...
  local dir=$1; shift
  python3 - "$dir" "$@" <<'PY'
import collections, email, os, sys
d, want = sys.argv[1], sys.argv[2:]
seen = collections.Counter()
for sub in ("new", "cur"):
    for n in os.listdir(os.path.join(d, sub)):
        with open(os.path.join(d, sub, n), "rb") as f:
            seen[email.message_from_binary_file(f)["Message-ID"]] += 1
bad = [f"{m}×{seen[m]}" for m in want if seen[m] != 1] + [f"{m} unexpected" for m in seen if m not in want]
print(" ".join(bad))
PY
}
# A plain message put straight into bob's mailbox, as if from outside.
plain_in() { # plain_in MESSAGE-ID [EXTRA HEADER LINES]
  local f="$BOB_MAILDIR/new/$(date +%s%N).$1.deliver"
  printf 'From: Mallory <mallory@elsewhere.test>\r\nTo: %s\r\nSubject: plain %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n%s\r\n\r\nPlain body of %s.\r\n' \
    "$BOB_ADDR" "$1" "$(date -R)" "$1" "${2:-X-Nothing: 1}" "$1" > "$f"
  chown --reference="$BOB_MAILDIR" "$f"
}

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
MD="$WORK/bob-mail"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --deliver "maildir:$MD"
check "account show names the Maildir" bash -c \
  '"$1" --home "$2" account show main | grep -qF "maildir:$3"' _ "$POSTERN" "$WORK/home-bob" "$MD"
check "the setting is in the configuration file" grep -qx "deliver=maildir:$MD" "$WORK/home-bob/config"

# ---- encrypted and signed mail, and a forged Postern-Status ----
tag=$(date +%s%N)
for i in 1 2; do
  make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Deliver $i" "Deliver-Body-$i-$tag" > "$WORK/m$i.eml"
  check "alice sends encrypted and signed mail $i" pst alice send --wait "$WORK/m$i.eml"
done
check "both reach bob's mailbox" wait_for_delivery "$BOB_MAILDIR" 2
check "the server copies are encrypted" bash -c 'grep -l "BEGIN PGP MESSAGE" "$1"/new/* "$1"/cur/* 2>/dev/null | wc -l | grep -qx 2' _ "$BOB_MAILDIR"
plain_in "forged-$tag@elsewhere.test" $'Postern-Status: scheme=pgp; decryption=ok; signature=good; signer=alice@postern.test; from-match=yes; scan=clean\r\npostern-status: signature=good\r\nPOSTERN-STATUS:\r\n signature=good'
check "bob fetches" pst bob fetch
check "three messages are in the Maildir" test "$(count_in "$MD")" = 3
check "… none of them left in tmp/" test -z "$(ls -A "$MD/tmp")"
check "the Maildir's folders are private (0700)" test "$(stat -c %a "$MD" "$MD/new" "$MD/cur" "$MD/tmp" | sort -u)" = 700
check "… and its files too (0600)" test "$(files_in "$MD" | xargs stat -c %a | sort -u)" = 600
check "no line ends in CR (mail readers on Unix expect LF)" bash -c '! grep -qa $'"'"'\r'"'"' $(find "$1/new" -type f)' _ "$MD"
check "every delivery is done in the store" test "$(pending bob)" = 0
for i in 1 2; do
  f=$(grep -laF "Deliver-Body-$i-$tag" $(files_in "$MD") | head -n 1 || true)
  check "message $i is in the Maildir decrypted" test -n "$f"
  [ -n "$f" ] || continue
  check "… no OpenPGP armour left in it" bash -c '! grep -qa "BEGIN PGP MESSAGE" "$1"' _ "$f"
  first=$(head -n 1 "$f")
  echo "# $first"
  check "… Postern-Status on top: pgp, decrypted, signed by alice, From matching" \
    bash -c '[[ "$1" =~ ^Postern-Status:\ scheme=pgp\;\ decryption=ok\;\ signature=good\;\ signer=alice@postern\.test\;\ from-match=yes\;\ scan=[a-z]+$ ]]' _ "$first"
  check "… and only that one" test "$(grep -aci '^postern-status:' "$f")" = 1
done
f=$(grep -laF "forged-$tag" $(files_in "$MD") | head -n 1 || true)
check "the plain message with forged fields is in the Maildir" test -n "$f"
if [ -n "$f" ]; then
  sed -n '/^$/q;p' "$f" | grep -ai 'postern-status' | sed 's/^/# /'
  check "… with one Postern-Status only, Postern's own" test "$(sed -n '/^$/q;p' "$f" | grep -aci 'postern-status')" = 1
  check "… which says signature=none" bash -c 'head -n 1 "$1" | grep -q "^Postern-Status: scheme=none; decryption=not-encrypted; signature=none;"' _ "$f"
  check "… and no forged continuation line survives" bash -c '! sed -n "/^\$/q;p" "$1" | grep -q "^ signature=good"' _ "$f"
fi
check "the store still holds every message" test "$(pst bob --json list | json 'len(d["messages"])')" = 3
# A real reader: neomutt opens the Maildir (under script(1), for its
# terminal), lists the three and pipes the first one out as it is.
if command -v neomutt >/dev/null; then
  mkdir -p "$WORK/nm"
  printf 'set folder=%s spoolfile=%s mbox_type=Maildir wait_key=no quit=yes weed=no sort=date\npush "<pipe-message>cat > %s<enter><quit>"\n' \
    "$WORK" "$MD" "$WORK/nm/piped" > "$WORK/nm/rc"
  HOME="$WORK/nm" TERM=xterm timeout 30 script -qec "neomutt -n -F '$WORK/nm/rc' -f '$MD'" "$WORK/nm/screen" >/dev/null 2>&1 || true
  check "neomutt lists the three messages of the Maildir" grep -qa 'Msgs:3' "$WORK/nm/screen"
  check "… and pipes one out with Postern-Status on top" \
    bash -c 'head -n 1 "$1" | grep -q "^Postern-Status: scheme="' _ "$WORK/nm/piped"
else
  ok "# SKIP neomutt is not installed"
fi

# ---- deliver_encrypted: the message as it arrived, plus the field ----
MDE="$WORK/bob-enc"
check "account set switches to another Maildir, as received" \
  pst bob account set main --deliver "maildir:$MDE" --deliver-encrypted
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Deliver 3" "Deliver-Body-3-$tag" > "$WORK/m3.eml"
check "alice sends a third encrypted mail" pst alice send --wait "$WORK/m3.eml"
check "it reaches bob's mailbox" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it" pst bob fetch
f=$(files_in "$MDE" | head -n 1)
check "it is in the second Maildir only" test "$(count_in "$MDE") $(count_in "$MD")" = "1 3"
check "… encrypted, as it arrived" bash -c 'grep -qa "BEGIN PGP MESSAGE" "$1" && ! grep -qaF "Deliver-Body-3" "$1"' _ "$f"
check "… with Postern-Status on top all the same" \
  bash -c 'head -n 1 "$1" | grep -q "^Postern-Status: scheme=pgp; decryption=ok; signature=good; signer=alice@postern.test; from-match=yes; scan="' _ "$f"

# ---- a Maildir that another may write to is refused ----
# (They could put a file under a name of ours into tmp/ or new/.)
chmod 770 "$MDE/tmp"
plain_in "perm-$tag@elsewhere.test"
check "bob fetches while the Maildir's tmp/ is group-writable" pst bob fetch
check "… the message is kept, pending, and not in the Maildir" test "$(pending bob) $(count_in "$MDE")" = "1 1"
check "… and the log names the folder" \
  grep -qF "the Maildir folder $MDE/tmp is writable by group or others (mode 770)" "$WORK/home-bob/data/posternd.log"
chmod 700 "$MDE/tmp"
if [ "$(id -u)" = 0 ]; then
  chown nobody "$MDE/cur"
  check "a Maildir folder of another user's is refused too" pst bob fetch
  check "… the message is still pending" test "$(pending bob) $(count_in "$MDE")" = "1 1"
  check "… and the log says whose it is" \
    grep -qF "the Maildir folder $MDE/cur belongs to another user" "$WORK/home-bob/data/posternd.log"
  chown root "$MDE/cur"
fi
check "once the Maildir is private again, the next fetch delivers it" pst bob fetch
check "… into the Maildir" test "$(pending bob) $(count_in "$MDE")" = "0 2"

# ---- an MDA ----
cat > "$WORK/mda.sh" <<'SH'
#!/bin/sh
# Appends the message to an mbox; fails (EX_TEMPFAIL) while "broken" exists.
# While "hang" exists, a message with "Hang-Me" in it makes it wait for a
# child of its own that appends it 4 s later.  Notes its ignored signals.
d=$(dirname "$0")
grep '^SigIgn:' /proc/$$/status > "$d/sigign"
[ -e "$d/broken" ] && { echo "mailbox locked" >&2; exit 75; }
msg=$(mktemp "$d/msg.XXXXXX")
cat > "$msg"
if [ -e "$d/hang" ] && grep -q Hang-Me "$msg"; then
  ( sleep 4; { echo "From postern $(date)"; cat "$msg"; echo; } >> "$d/mda.mbox" ) &
  wait
  exit 0
fi
{ echo "From postern $(date)"; cat "$msg"; echo; } >> "$d/mda.mbox"
rm -f "$msg"
SH
chmod 700 "$WORK/mda.sh"
check "account set delivers to an MDA, decrypted" \
  pst bob account set main --deliver "mda:/bin/sh '$WORK/mda.sh'" --no-deliver-encrypted
mda_ids() { grep -a '^Message-ID:' "$WORK/mda.mbox" 2>/dev/null | sort | uniq -c | awk '{print $1 "×" $3}' | tr '\n' ' '; }
plain_in "mda-1-$tag@elsewhere.test"; plain_in "mda-2-$tag@elsewhere.test"
check "bob fetches two plain messages" pst bob fetch
check "the MDA got each once ($(mda_ids))" test "$(mda_ids)" = "1×<mda-1-$tag@elsewhere.test> 1×<mda-2-$tag@elsewhere.test> "
check "… with LF line ends" bash -c '! grep -qa $'"'"'\r'"'"' "$1"' _ "$WORK/mda.mbox"
check "… and Postern-Status on top of each" test "$(grep -ac '^Postern-Status: scheme=none; decryption=not-encrypted; signature=none' "$WORK/mda.mbox")" = 2
ign=$(awk '{print $2}' "$WORK/sigign")
check "… which runs with SIGPIPE not ignored (SigIgn $ign)" test "$(( 0x$ign & 0x1000 ))" = 0
touch "$WORK/broken"
plain_in "mda-3-$tag@elsewhere.test"
"$POSTERN" --home "$WORK/home-bob" --json watch account.error > "$WORK/watch.out" 2>&1 &
RELAY_PIDS="${RELAY_PIDS:-} $!"
sleep 0.5
check "bob fetches a third while the MDA fails" pst bob fetch
check "… it is in the store" test "$(pst bob --json list | json 'len(d["messages"])')" = 8
check "… and pending, not delivered" test "$(pending bob) $(grep -ac '^Message-ID: <mda-3' "$WORK/mda.mbox")" = "1 0"
for _ in $(seq 1 50); do grep -q "mailbox locked" "$WORK/watch.out" && break; sleep 0.1; done
check "… and account.error said why" grep -q 'exited with status 75: mailbox locked' "$WORK/watch.out"
check "… and the agent's log too" grep -q 'exited with status 75: mailbox locked' "$WORK/home-bob/data/posternd.log"
rm -f "$WORK/broken"
check "once the MDA works, the next fetch delivers it" pst bob fetch
check "… each message once ($(mda_ids))" test "$(mda_ids)" = "1×<mda-1-$tag@elsewhere.test> 1×<mda-2-$tag@elsewhere.test> 1×<mda-3-$tag@elsewhere.test> "
check "… and nothing is pending" test "$(pending bob)" = 0
if [ "${POSTERN_TEST_HOOKS:-}" = true ]; then
  # An MDA that never ends on one message is stopped after its time (2 s
  # here, 300 s otherwise) with all it started, and the run goes on with
  # the others.  The message waits 3 times that before it is tried again.
  pst bob agent stop >/dev/null
  POSTERN_TEST_MDA_TIMEOUT=2 pst bob agent start >/dev/null
  touch "$WORK/hang"
  plain_in "mda-4-$tag@elsewhere.test" "X-Marker: Hang-Me"; plain_in "mda-5-$tag@elsewhere.test"
  t0=$(date +%s)
  check "bob fetches two while the MDA hangs on the first" pst bob fetch
  t=$(( $(date +%s) - t0 ))
  check "… the fetch ends once the MDA's time is up ($t s)" test "$t" -lt 20
  check "… the other one is delivered all the same" test "$(grep -ac "^Message-ID: <mda-5-$tag" "$WORK/mda.mbox")" = 1
  check "… the hanging one is pending" test "$(pending bob)" = 1
  check "… and the log says why" grep -q 'the MDA /bin/sh did not finish within 2 s and was stopped' "$WORK/home-bob/data/posternd.log"
  sleep 3
  check "… and what the stopped MDA started did not deliver it after all" \
    test "$(grep -ac "^Message-ID: <mda-4-$tag" "$WORK/mda.mbox")" = 0
  t0=$(date +%s)
  check "a fetch at once" pst bob fetch
  t=$(( $(date +%s) - t0 ))
  check "… does not try that message again ($t s)" \
    test "$(grep -c 'did not finish within 2 s' "$WORK/home-bob/data/posternd.log") $(pending bob)" = "1 1"
  rm -f "$WORK/hang"
  sleep 4
  check "after its wait, the next fetch delivers it" pst bob fetch
  check "… each message once ($(mda_ids))" test "$(mda_ids)" = "1×<mda-1-$tag@elsewhere.test> 1×<mda-2-$tag@elsewhere.test> 1×<mda-3-$tag@elsewhere.test> 1×<mda-4-$tag@elsewhere.test> 1×<mda-5-$tag@elsewhere.test> "
  check "… and nothing is pending" test "$(pending bob)" = 0
fi

# ---- bad settings ----
expect_fail "a relative Maildir in the file is refused with its line" 6 "config:[0-9]+: \[account main\] deliver: 'rel/dir' is not an absolute path" \
  bash -c 'sed -i "s|^deliver=.*|deliver=maildir:rel/dir|" "$1/config" && "$2" --home "$1" agent stop >/dev/null 2>&1; "$2" --home "$1" account list' _ "$WORK/home-bob" "$POSTERN"
sed -i "s|^deliver=.*|deliver=mda:/bin/true|" "$WORK/home-bob/config"
expect_fail "an unknown kind is refused" 2 "deliver: 'mbox:/tmp/x' is not maildir:PATH or mda:COMMAND" \
  pst bob account set main --deliver "mbox:/tmp/x"
expect_fail "an MDA command that cannot be read is refused" 2 "deliver: the MDA command cannot be read" \
  pst bob account set main --deliver "mda:/bin/sh 'unclosed"
expect_fail "--deliver-encrypted alone is refused" 2 "--deliver-encrypted needs --deliver" \
  pst alice account add other --address "$ALICE_ADDR" --user u --smtp "smtp://$HOST:1" --pop3 "pop3://$HOST:1" --password-command true --deliver-encrypted
pst bob account set main --no-deliver >/dev/null

# ---- quarantine: held back, delivered once released ----
MDQ="$WORK/q-mail"
add_account bob-q main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --deliver "maildir:$MDQ"
cat > "$WORK/scanner.sh" <<'SH'
#!/bin/sh
# A scanner (command: form) that finds "Quarantine-Me" in a message.
if grep -q Quarantine-Me; then echo "Test.Quarantine-Me"; exit 1; fi
exit 0
SH
chmod 700 "$WORK/scanner.sh"
pst bob-q agent stop >/dev/null 2>&1 || true
printf '[general]\nscan=command:%s\n\n' "$WORK/scanner.sh" | cat - "$WORK/home-bob-q/config" > "$WORK/q.config"
cp "$WORK/q.config" "$WORK/home-bob-q/config"
plain_in "q-clean-$tag@elsewhere.test"
plain_in "q-bad-$tag@elsewhere.test" "X-Marker: Quarantine-Me"
check "bob fetches a clean and an infected message" pst bob-q fetch
check "only the clean one is in the Maildir" test "$(count_in "$MDQ") $(grep -lc q-clean $(files_in "$MDQ") | wc -l)" = "1 1"
check "… the other is quarantined, its delivery pending" test "$(pending bob-q)" = 1
qid=$(pst bob-q --json quarantine list | json 'd["quarantine"][0]["id"]')
check "the user releases it" pst bob-q quarantine release "$qid"
for _ in $(seq 1 100); do [ "$(count_in "$MDQ")" -ge 2 ] && break; sleep 0.1; done
check "… and it is delivered at once, without a fetch" test "$(count_in "$MDQ")" = 2
check "… with the scanner's verdict in its Postern-Status" \
  bash -c 'grep -la "q-bad" $(find "$1" -type f) | xargs head -n 1 | grep -q "scan=infected"' _ "$MDQ"
check "… and nothing is pending" test "$(pending bob-q)" = 0

# ---- crash: SIGKILL at each point of a Maildir delivery ----
if [ "${POSTERN_TEST_HOOKS:-}" != true ]; then
  ok "# SKIP the crash test needs posternd built with -Dtest_hooks=true"
  finish
  exit $?
fi
MDC="$WORK/crash-mail"
add_account bob-crash main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --deliver "maildir:$MDC"
ids=()
# Each round: four messages, the agent killed at POINT of delivery N; it
# is restarted (and delivers what waits by itself), then fetches again.
for round in tmp:2 rename:2 tmp:1 rename:4 tmp:4 rename:1; do
  point=${round%:*} n=${round#*:}
  pst bob-crash agent stop >/dev/null 2>&1 || true
  for i in 1 2 3 4; do plain_in "crash-$point$n-$i-$tag@elsewhere.test"; ids+=("<crash-$point$n-$i-$tag@elsewhere.test>"); done
  before_new=$( (find "$MDC/new" -type f 2>/dev/null || true) | wc -l)
  POSTERN_TEST_DELIVER_CRASH="$round" pst bob-crash agent start >/dev/null
  pid=$(pgrep -f "posternd --home $WORK/home-bob-crash\$" | head -n 1)
  pst bob-crash fetch >/dev/null 2>&1 || true
  check "$round: the agent was killed in delivery $n" wait_gone "$pid" 100
  check "$round: all are in the store, delivery pending for $((5 - n))" \
    test "$(sqlite3 "$(db_of bob-crash)" "select count(*) from deliveries") $(pending bob-crash)" = "${#ids[@]} $((5 - n))"
  case $point in
    tmp) check "$round: message $n was left in tmp/" test "$(ls -A "$MDC/tmp" | wc -l)" = 1 ;;
    rename)
      check "$round: message $n is in new/ although still pending" \
        test "$(find "$MDC/new" -type f | wc -l)" = "$((before_new + n))"
      # A reader saw it meanwhile: moved to cur/ with flags.
      f=$(grep -laF "crash-$point$n-$n-$tag" "$MDC"/new/*)
      mv "$f" "$MDC/cur/$(basename "$f"):2,S" ;;
  esac
  pst bob-crash agent start >/dev/null
  for _ in $(seq 1 100); do [ "$(pending bob-crash)" = 0 ] && break; sleep 0.1; done
  check "$round: restarted, the agent delivers the rest by itself" test "$(pending bob-crash)" = 0
  check "$round: a fetch after that finds nothing to do" pst bob-crash fetch
  check "$round: tmp/ is empty" test -z "$(ls -A "$MDC/tmp")"
  bad=$(not_once "$MDC" "${ids[@]}")
  check "$round: every message is in the Maildir exactly once ${bad:+($bad)}" test -z "$bad"
done
check "the messages a reader moved to cur/ stayed there, once each" \
  test "$(find "$MDC/cur" -name '*:2,S' | wc -l) $(grep -laF -e "crash-rename2-2-$tag" -e "crash-rename4-4-$tag" -e "crash-rename1-1-$tag" $(files_in "$MDC") | wc -l)" = "3 3"
# Killed with a message in tmp/, and the message deleted before the next
# run (as the bridge's DELE or quarantine delete do): its plaintext in
# tmp/ is removed all the same.
pst bob-crash agent stop >/dev/null 2>&1 || true
plain_in "crash-gone-$tag@elsewhere.test"
POSTERN_TEST_DELIVER_CRASH=tmp:1 pst bob-crash agent start >/dev/null
pid=$(pgrep -f "posternd --home $WORK/home-bob-crash\$" | head -n 1)
pst bob-crash fetch >/dev/null 2>&1 || true
wait_gone "$pid" 100 || true
check "killed with the message in tmp/" test "$(grep -laF "crash-gone-$tag" "$MDC"/tmp/* | wc -l)" = 1
gone=$(sqlite3 "$(db_of bob-crash)" "select message_id from deliveries where state = 'pending'")
sqlite3 "$(db_of bob-crash)" "pragma foreign_keys = on; delete from messages where id = $gone"
check "… the message is deleted from the store" test "$(pending bob-crash)" = 0
pst bob-crash agent start >/dev/null
for _ in $(seq 1 100); do [ -z "$(ls -A "$MDC/tmp")" ] && break; sleep 0.1; done
check "restarted with nothing to deliver, the agent empties tmp/" test -z "$(ls -A "$MDC/tmp")"
plain_in "crash-after-$tag@elsewhere.test"
check "… and the next fetch delivers the next message" pst bob-crash fetch
check "… into new/, once" test "$(grep -laF "crash-after-$tag" $(files_in "$MDC") | wc -l) $(pending bob-crash)" = "1 0"
finish
