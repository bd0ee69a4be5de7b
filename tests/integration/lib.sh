# lib.sh — helpers for Postern's integration tests.  Sourced by each test,
# which runs under tests/harness/with-provider.sh (so the provider's env is
# exported).  POSTERN and POSTERND name the binaries under test.
set -euo pipefail

: "${POSTERN:?set POSTERN to the postern binary}"
: "${POSTERND:?set POSTERND to the posternd binary}"
export POSTERN_AGENT="$POSTERND"

WORK=$(mktemp -d /tmp/pst-it.XXXXXX)
# shellcheck source=tests/harness/debian-python.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/debian-python.sh" "$WORK/.debian-python"
PASSED=0
FAILED=0

stop_agents() {
  local h
  for h in "$WORK"/home-*; do
    [ -d "$h" ] || continue
    "$POSTERN" --home "$h" agent stop >/dev/null 2>&1 || true
  done
}
cleanup() {
  stop_relays
  stop_agents
  rm -rf "$WORK"
}
trap cleanup EXIT

# Each result line notes, when it is a second or more, the time since the
# one before (what the check and the steps before it took): where a test's
# time goes, read from any run's log.  Never checked.
LAST_RESULT_US=${EPOCHREALTIME/./}
took() {
  local now=${EPOCHREALTIME/./} ms
  ms=$(( (now - LAST_RESULT_US) / 1000 ))
  LAST_RESULT_US=$now
  if [ "$ms" -ge 1000 ]; then echo "# ($ms ms)"; fi
  return 0
}
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; took; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; took; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# The agents run detached, so their sanitizer reports land in their logs:
# stop them and read the logs before the verdict.
check_agent_logs() {
  local log found=0
  stop_agents
  for log in "$WORK"/home-*/data/posternd.log; do
    [ -f "$log" ] || continue
    if grep -qE 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|CRITICAL|critical:' "$log"; then
      echo "# sanitizer or critical report in $log:"; sed 's/^/#   /' "$log" | head -n 60
      found=1
    fi
  done
  [ $found = 0 ]
}
finish() {
  check "the agents logged no sanitizer report or critical warning" check_agent_logs
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ]
}

# who: alice or bob.  Each user has a home of their own and a GnuPG home.
gnupg_of() { case $1 in alice*) echo "$GNUPGHOME_ALICE" ;; bob*) echo "$GNUPGHOME_BOB" ;; *) echo "$GNUPGHOME_ALICE" ;; esac; }
pst() { # pst WHO ARGS...
  local who=$1; shift
  GNUPGHOME=$(gnupg_of "$who") "$POSTERN" --home "$WORK/home-$who" "$@"
}

# add_account WHO NAME SMTP_URL POP3_URL [EXTRA ARGS...]: the user's address,
# user name and password come from the provider's env.
add_account() {
  local who=$1 name=$2 smtp=$3 pop3=$4; shift 4
  local addr pass
  case $who in
    alice*) addr=$ALICE_ADDR; pass=$ALICE_PASS ;;
    bob*) addr=$BOB_ADDR; pass=$BOB_PASS ;;
  esac
  printf '%s\n' "$pass" > "$WORK/pass-$who-$name"
  chmod 600 "$WORK/pass-$who-$name"
  pst "$who" account add "$name" --address "$addr" --user "$addr" \
    --smtp "$smtp" --pop3 "$pop3" --password-command "cat $WORK/pass-$who-$name" \
    --ca-file "$CA_FILE" "$@" >/dev/null
}

# expect_fail DESCRIPTION EXIT_CODE ERROR_REGEX COMMAND...: the command must
# exit with EXIT_CODE and print exactly one line on stderr, of the form
# "postern: …" and matching ERROR_REGEX.
expect_fail() {
  local what=$1 code=$2 regex=$3; shift 3
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" != "$code" ]; then
    not_ok "$what: exit $rc, expected $code ($err)"; return
  fi
  if [ "$(printf '%s\n' "$err" | wc -l)" != 1 ] || ! printf '%s' "$err" | grep -qE "^postern: .*$regex"; then
    not_ok "$what: error line '$err' does not match '$regex'"; return
  fi
  ok "$what (exit $code: $err)"
}

# A message from alice to bob with a unique body line.
make_message() { # make_message FROM TO SUBJECT BODYLINE
  printf 'From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\n\r\n%s\r\nSecond line of the body.\r\n.leading dot line\r\n' \
    "$1" "$2" "$3" "$(date -R)" "$(date +%s%N)" "$4"
}

# wait_for_delivery MAILDIR COUNT: until MAILDIR/new holds COUNT files (30 s at most).
wait_for_delivery() {
  local dir=$1 want=$2 i
  for i in $(seq 1 300); do
    [ "$(find "$dir/new" "$dir/cur" -type f 2>/dev/null | wc -l)" -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "# no delivery to $dir after 30 s; postfix log:" >&2
  tail -n 20 "$POSTFIX_LOG" >&2 || true
  return 1
}

# wait_for_postfix_queue: until the provider's Postfix holds no mail (30 s at
# most): what it accepted is delivered (or bounced) by then.
wait_for_postfix_queue() {
  local i
  for i in $(seq 1 300); do
    postqueue -c "$POSTFIX_CONFIG_DIR" -p 2>/dev/null | grep -q '^Mail queue is empty' && return 0
    sleep 0.1
  done
  echo "# Postfix's queue still holds mail after 30 s:" >&2
  postqueue -c "$POSTFIX_CONFIG_DIR" -p >&2 || true
  return 1
}

# alive PID: the process runs (a zombie does not).  A detached agent that
# died waits as a zombie until init reaps it, which takes seconds on some
# machines, and `kill -0` succeeds on a zombie.
alive() {
  local stat
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}
# wait_gone PID [TENTHS]: until PID no longer runs (5 s unless told).
wait_gone() {
  local i
  for ((i = 0; i < ${2:-50}; i++)); do alive "$1" || return 0; sleep 0.1; done
  ! alive "$1"
}

# record_via TARGET_HOST TARGET_PORT LOGFILE: starts a loopback relay that
# records every byte the client sends, and sets REC_PORT to its port.  Used to
# prove that no credential left the machine.
record_via() {
  local portfile="$WORK/relay.$RANDOM.port" i
  python3 "$(dirname "${BASH_SOURCE[0]}")/recorder.py" "$portfile" "$1" "$2" "$3" &
  RELAY_PIDS="${RELAY_PIDS:-} $!"
  for i in $(seq 1 100); do [ -s "$portfile" ] && break; sleep 0.05; done
  REC_PORT=$(cat "$portfile")
}
stop_relays() { local p; for p in ${RELAY_PIDS:-}; do kill "$p" 2>/dev/null || true; done; }
# no_credentials LOGFILE PASSWORD: the recorded client bytes hold no login.
no_credentials() {
  local log=$1 pass=$2
  [ -f "$log" ] || return 0
  ! grep -qaE '^(AUTH|USER|PASS|APOP)' "$log" && ! grep -qaF "$pass" "$log" \
    && ! grep -qaF "$(printf '\0%s\0%s' "$ALICE_ADDR" "$pass" | base64 -w0)" "$log"
}

# make_server_cert NAME: a test CA and a certificate for 127.0.0.1 (IP SAN)
# for a fake server of the test's: sets CA, CERT and KEY ($WORK/NAME-*).
make_server_cert() {
  CA="$WORK/$1-ca.pem" CERT="$WORK/$1-server.pem" KEY="$WORK/$1-server.key"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$WORK/$1-ca.key" -out "$CA" -subj "/CN=Postern $1 CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$KEY" -out "$WORK/$1-server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
    > "$WORK/$1-server.ext"
  openssl x509 -req -in "$WORK/$1-server.csr" -CA "$CA" -CAkey "$WORK/$1-ca.key" -set_serial 2 \
    -days 2 -extfile "$WORK/$1-server.ext" -out "$CERT" 2>/dev/null
}
