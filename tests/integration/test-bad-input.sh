#!/usr/bin/env bash
# Bad input gets one clear error line and a non-zero exit, and changes nothing.
# The CLI's conventions too: --help of every command and subcommand without
# the agent, --json after the command, the man page and the bash completion
# covering every command and option.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
db="$WORK/home-alice/data/postern.db"
state() { sha256sum "$WORK/home-alice/config"; sqlite3 "$db" 'select count(*) from outbox; select count(*) from messages; select count(*) from seen'; }
before=$(state)

printf 'To: %s\r\nSubject: x\r\n\r\nbody\r\n' "$BOB_ADDR" > "$WORK/nofrom.eml"
expect_fail "a message without From" 1 "From" pst alice send "$WORK/nofrom.eml"
printf 'From: %s\r\nFrom: %s\r\nTo: %s\r\n\r\nbody\r\n' "$ALICE_ADDR" "$BOB_ADDR" "$BOB_ADDR" > "$WORK/twofrom.eml"
expect_fail "a message with two From fields" 1 "From" pst alice send "$WORK/twofrom.eml"
printf 'From: %s\r\nSubject: x\r\n\r\nbody\r\n' "$ALICE_ADDR" > "$WORK/norcpt.eml"
expect_fail "a message without recipients" 1 "no recipients" pst alice send "$WORK/norcpt.eml"
printf 'this is not a mail message\njust text\n' > "$WORK/text.txt"
expect_fail "a file that is not RFC 5322" 1 "not an RFC 5322 message" pst alice send "$WORK/text.txt"
head -c 4096 /dev/urandom > "$WORK/junk.bin"
expect_fail "binary junk" 1 "not an RFC 5322 message" pst alice send "$WORK/junk.bin"
expect_fail "a file that does not exist" 1 "No such file" pst alice send "$WORK/missing.eml"
make_message "$ALICE_ADDR" "$(printf 'a%.0s' $(seq 300))@example.org" "x" "y" > "$WORK/longrcpt.eml"
expect_fail "a recipient longer than SMTP carries" 2 "cannot be an SMTP address" pst alice send "$WORK/longrcpt.eml"
make_message "mallory@evil.test" "$BOB_ADDR" "x" "y" > "$WORK/notmine.eml"
expect_fail "a From address of no account" 3 "not the address of account|no account has the From address" pst alice send "$WORK/notmine.eml"
make_message "$ALICE_ADDR" "$BOB_ADDR" "x" "y" > "$WORK/ok.eml"
expect_fail "send from an unknown account" 1 "no account named nope" pst alice send --account nope "$WORK/ok.eml"
expect_fail "fetch from an unknown account" 1 "no account named nope" pst alice fetch --account nope
expect_fail "show an unknown account" 1 "no account named nope" pst alice account show nope
expect_fail "remove an unknown account" 1 "no account named nope" pst alice account remove nope
expect_fail "an unknown message id" 1 "no message with id 4242" pst alice show 4242
expect_fail "export an unknown message id" 1 "no message with id 4242" pst alice export 4242
expect_fail "a message id that is not a number" 2 "not a message id" pst alice show abc
expect_fail "an unknown command" 2 "unknown command" pst alice frobnicate
expect_fail "a bad option" 2 "Unknown option" pst alice send --frob
expect_fail "a bad --encrypt" 2 "always, auto or never" pst alice send --encrypt sometimes "$WORK/ok.eml"
expect_fail "a duplicate account" 2 "already exists" pst alice account add main --address "$ALICE_ADDR" \
  --smtp "smtp://$HOST:1" --pop3 "pop3s://$HOST:2" --user u --password-command true
expect_fail "a bad server URL" 2 "bad server URL" pst alice account add other --address "$ALICE_ADDR" \
  --smtp "http://$HOST:1" --pop3 "pop3s://$HOST:2" --user u --password-command true
expect_fail "a bad address" 2 "not an e-mail address" pst alice account add other --address "nobody" \
  --smtp "smtp://$HOST:1" --pop3 "pop3s://$HOST:2" --user u --password-command true
check "the bad input changed nothing" test "$(state)" = "$before"

# ---- CLI conventions ----
# Every command and subcommand there is: the spec of `postern --help`.
commands=("agent start" "agent stop" "agent status"
  "account add" "account list" "account show" "account set" "account test" "account password"
  "account remove" send sendmail fetch "outbox list" "outbox retry" "outbox cancel"
  "quarantine list" "quarantine release" "quarantine delete" scan watch list mark delete show export reply forward "draft save" "draft list" "draft show" "draft send" "draft delete" import
  attachment encrypt decrypt verify batch "config show" "config set" "bridge credentials"
  "keys import" "keys list" "keys show" "keys remove" "keys unlock" "keys generate" "keys export" "keys expire" "keys revoke" "keys locate" "keys setup-message export" "keys setup-message import" "keys check" help)
groups=(agent account outbox quarantine config bridge draft keys "keys setup-message")
listed() {
  local out c missing="" rows
  out=$("$POSTERN" --help)
  for c in "${commands[@]}"; do
    grep -qE "^  $c( |\$)" <<<"$out" || missing+=" [$c]"
  done
  rows=$(grep -cE '^  [a-z]' <<<"$out")
  [ -z "$missing" ] && [ "$rows" = "${#commands[@]}" ] && return 0
  echo "# not listed:$missing; $rows rows for ${#commands[@]} commands"
  return 1
}
check "postern --help lists every command and subcommand, one row each" listed
check "… and postern help prints the same" bash -c 'cmp -s <("$1" --help) <("$1" help)' _ "$POSTERN"

# Help is printed without the agent: under a home that does not exist, with
# an agent program that records being run.
printf '#!/bin/sh\ntouch "%s"\nexec "%s" "$@"\n' "$WORK/spy-ran" "$POSTERND" > "$WORK/spy-agent"
chmod +x "$WORK/spy-agent"
nohome="$WORK/home-help"
# helps USAGE ARGS...: `postern ARGS` exits 0 with USAGE as its first line
# (a prefix) and the --json and --help options or a list of subcommands,
# nothing on stderr.
helps() {
  local usage=$1 out rc=0; shift
  out=$(POSTERN_AGENT="$WORK/spy-agent" "$POSTERN" --home "$nohome" "$@" 2>"$WORK/help.err") || rc=$?
  if [ "$rc" = 0 ] && [ ! -s "$WORK/help.err" ] && [[ $(head -n 1 <<<"$out") == "$usage"* ]] \
     && grep -qE -- '^  -h, --help|^Subcommands:' <<<"$out"; then
    return 0
  fi
  echo "# postern $*: exit $rc, stderr '$(cat "$WORK/help.err")', stdout:"; sed 's/^/#   /' <<<"$out" | head -n 5
  return 1
}
# help_forms USAGE WORDS...: WORDS --help, WORDS -h and help WORDS.
help_forms() {
  local usage=$1; shift
  helps "$usage" "$@" --help && helps "$usage" "$@" -h && helps "$usage" help "$@"
}
for c in "${commands[@]}"; do
  # shellcheck disable=SC2086
  check "postern $c --help, -h and postern help $c: its usage, exit 0" \
    help_forms "Usage: postern $c [OPTION…]" $c
done
for g in "${groups[@]}"; do
  # shellcheck disable=SC2086
  check "postern $g --help, -h and postern help $g: its subcommands, exit 0" \
    help_forms "Usage: postern $g " $g
done
help_anywhere() {
  helps "Usage: postern account show " account show main --help &&
    helps "Usage: postern send " send --encrypt always --help /nonexistent &&
    helps "Usage: postern outbox list " --json outbox list -h &&
    helps "Usage: postern quarantine [SUBCOMMAND]" quarantine --json --help
}
check "--help after arguments, among options, after --json: still help" help_anywhere
check "… none of it started or asked an agent, or made the home directory" bash -c \
  '[ ! -e "$1" ] && [ ! -e "$2" ]' _ "$WORK/spy-ran" "$nohome"

# --json after the command, or before a subcommand, is --json before it.
same_json() {
  local first last rc=0
  first=$(pst alice --json "$@") || rc=$?
  last=$(pst alice "$@" --json) || rc=$?
  if [ "$rc" = 0 ] && [ "$first" = "$last" ] && python3 -c 'import json,sys; json.loads(sys.argv[1])' "$last"; then
    return 0
  fi
  echo "# --json $*: $first"; echo "# $* --json: $last"
  return 1
}
for c in "list" "list --limit 5" "account list" "account show main" "keys list" "outbox list" \
         "quarantine list" "config show" "agent status"; do
  # shellcheck disable=SC2086
  check "postern $c --json prints what postern --json $c prints" same_json $c
done
check "postern account --json list, quarantine --json, config --json: the same as --json first" bash -c '
  [ "$("$1" --home "$2" --json account list)" = "$("$1" --home "$2" account --json list)" ] &&
  [ "$("$1" --home "$2" --json quarantine list)" = "$("$1" --home "$2" quarantine --json)" ] &&
  [ "$("$1" --home "$2" --json config show)" = "$("$1" --home "$2" config --json)" ]' \
  _ "$POSTERN" "$WORK/home-alice"
expect_fail "a group without its subcommand" 2 "name a subcommand: add, list, show, set, test, password, remove" \
  pst alice account
expect_fail "an unknown subcommand" 2 "frob: unknown subcommand" pst alice keys frob
expect_fail "help of an unknown command" 2 "unknown command" pst alice help frobnicate
expect_fail "a subcommand that takes no arguments, given one" 2 "takes no arguments" pst alice account list extra
expect_fail "-- ends the options: account show -- --help asks for an account named --help" 1 \
  "no account named --help" pst alice account show -- --help

# The man page and the bash completion know every command and option: the
# options each command's --help lists.
man_text=$(groff -man -Tutf8 -rLL=300n -P-cbou "$SRC/data/man/postern.1" 2>/dev/null)
options_of() { # the long options `postern WORDS --help` lists, besides --json and --help
  # shellcheck disable=SC2086
  "$POSTERN" --home "$nohome" $1 --help | grep -oE '^ +(-[a-z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' |
    grep -vxE -- '--json|--help'
}
documented() { # documented "CMD [SUB]": a paragraph of the man page for it, naming every option
  local c=$1 o missing="" re start block
  re=$(sed 's/ /( | \\[)/' <<<"$c")
  start=$(grep -nE "^ {7}$re( |\\]|\$)" <<<"$man_text" | head -n 1 | cut -d: -f1)
  if [ -z "$start" ]; then
    echo "# postern.1 has no paragraph for $c"
    return 1
  fi
  # From its tag to the next tag or section.
  block=$(tail -n +"$start" <<<"$man_text" | sed -n '1p; 2,${/^ \{0,7\}[^ ]/q; p}')
  for o in $(options_of "$c"); do
    grep -qF -- "$o" <<<"$block" || missing+=" $o"
  done
  [ -z "$missing" ] || { echo "# postern.1, $c: not in its paragraph:$missing"; return 1; }
}
completes() { # completes "EXPECTED" WORDS...: the bash completion offers every EXPECTED word
  local want=$1 got w missing=""; shift
  got=$(bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _postern
                 printf "%s\n" "${COMPREPLY[@]}"' _ "$SRC/data/postern.bash-completion" "$@")
  for w in $want; do grep -qxF -- "$w" <<<"$got" || missing+=" $w"; done
  [ -z "$missing" ] || { echo "# completing '$*': not offered:$missing (offered: $(echo $got))"; return 1; }
}
for c in "${commands[@]}"; do
  check "postern.1 describes $c and each of its options" documented "$c"
  # shellcheck disable=SC2046,SC2086
  check "bash completion offers the options of $c" completes "$(options_of "$c") --json --help" postern $c --
done
check "bash completion offers every command" completes "$(printf '%s\n' "${commands[@]}" | cut -d' ' -f1 | sort -u)" postern ""
for g in "${groups[@]}"; do
  # shellcheck disable=SC2086
  check "bash completion offers the subcommands of $g" completes \
    "$(printf '%s\n' "${commands[@]}" | sed -n "s/^$g //p" | cut -d' ' -f1 | sort -u)" postern $g ""
done
completes_values() {
  completes "always auto never" postern send --encrypt "" &&
    completes "always auto never" postern keys check --encrypt = "" &&
    completes "queued sending sent failed cancelled" postern outbox list --state "" &&
    completes "scan on-scan-error scan-timeout" postern config set "" &&
    completes "quarantine deliver" postern config set on-scan-error "" &&
    completes "main" postern --home "$WORK/home-alice" account show "" &&
    completes "main" postern --home "$WORK/home-alice" fetch --account ""
}
check "bash completion offers values: --encrypt, --state, config set, account names (from the configuration, no agent)" \
  completes_values
sections() { # every man page has FILES, ENVIRONMENT and EXAMPLES, and no groff warning
  local m bad=""
  for m in "$SRC"/data/man/*.[158]; do
    for s in FILES ENVIRONMENT EXAMPLES; do grep -qx "\.SH $s" "$m" || bad+=" $(basename "$m"):$s"; done
    [ -z "$(groff -man -ww -z "$m" 2>&1)" ] || bad+=" $(basename "$m"):groff"
  done
  [ -z "$bad" ] || { echo "# missing:$bad"; return 1; }
}
check "the man pages (postern-gtk.1 among them) have FILES, ENVIRONMENT and EXAMPLES, and no groff warning" sections
check "… and data/meson.build installs each" bash -c \
  'for m in "$1"/data/man/*.[158]; do grep -qF "'"'"'man/$(basename "$m")'"'"'" "$1/data/meson.build" || exit 1; done' _ "$SRC"

# The socket protocol: malformed framing closes that client only; bad params
# keep the connection usable; the agent keeps serving.
sock="$WORK/home-alice/run/agent.sock"
python3 - "$sock" <<'PY' && ok "malformed JSON, bad params and an oversized line are answered with errors" || not_ok "socket protocol errors"
import json, socket, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); return s, s.makefile("rb")
def call(s, f, obj):
    s.sendall((json.dumps(obj) + "\n").encode()); return json.loads(f.readline())
ok = True
s, f = conn()                       # bad params, then a good call on the same connection
r = call(s, f, {"jsonrpc": "2.0", "id": 1, "method": "show", "params": {"id": "seven"}})
ok &= r.get("error", {}).get("code") == -32602
r = call(s, f, {"jsonrpc": "2.0", "id": 2, "method": "nope", "params": {}})
ok &= r.get("error", {}).get("code") == -32601
r = call(s, f, {"jsonrpc": "2.0", "id": 3, "method": "hello", "params": {}})
ok &= r.get("result", {}).get("protocol") == 1
s.close()
s, f = conn()                       # malformed JSON: an error, then the connection is closed
s.sendall(b"{this is not json\n")
r = json.loads(f.readline()); ok &= r["error"]["code"] == -32700
ok &= f.readline() == b""
s, f = conn()                       # an oversized line
try:
    s.sendall(b"[" + b" " * (1024 * 1024 + 10))
    s.sendall(b"]\n")
except OSError:
    pass
line = f.readline()
ok &= line == b"" or "error" in json.loads(line)
s, f = conn()                       # invalid UTF-8
s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"he\xffllo"}\n')
r = json.loads(f.readline()); ok &= "error" in r
s, f = conn()
r = call(s, f, {"jsonrpc": "2.0", "id": 9, "method": "hello", "params": {}})
ok &= r.get("result", {}).get("protocol") == 1
sys.exit(0 if ok else 1)
PY
check "the agent is still up after bad clients" pst alice agent status

# 100 concurrent clients sending bad JSON while one good client works: every
# good call is answered (the connection cap turns some bad ones away).
python3 - "$sock" <<'PY' > "$WORK/flood.txt" && ok "100 bad clients at once: the good client's 300 calls all answered ($(cat "$WORK/flood.txt"))" || not_ok "100 bad clients at once ($(cat "$WORK/flood.txt"))"
import json, socket, sys, threading, time
path = sys.argv[1]
stop = False
counts = {"bad": 0, "refused": 0}
lock = threading.Lock()
def bad():
    while not stop:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.settimeout(5); s.connect(path)
            s.sendall(b"{not json at all " + b"x" * 200 + b"\n")
            s.recv(4096)
            with lock: counts["bad"] += 1
        except OSError:
            with lock: counts["refused"] += 1
        finally:
            s.close()
good = socket.socket(socket.AF_UNIX); good.settimeout(60); good.connect(path); f = good.makefile("rb")
# The good client says hello before the flood starts, as the CLI and the GUI
# do at once: a connection that has sent nothing for a second may be cut to
# make room at the cap (agent/server.c), and starting 100 threads took that
# long under load (two CI runs side by side cut it before its first call).
good.sendall(b'{"jsonrpc": "2.0", "id": -1, "method": "hello", "params": {}}\n')
json.loads(f.readline())
# Daemon threads, and stop set whatever happens: a failure of the good
# client ends the script with its reason instead of leaving it waiting on
# 100 threads that never stop (a cut connection hung a CI run ten minutes).
threads = [threading.Thread(target=bad, daemon=True) for _ in range(100)]
for t in threads: t.start()
answered = 0
why = ""
try:
    for i in range(300):
        good.sendall(json.dumps({"jsonrpc": "2.0", "id": i, "method": "hello", "params": {}}).encode() + b"\n")
        r = json.loads(f.readline())
        answered += r.get("result", {}).get("protocol") == 1
except (OSError, ValueError) as e:
    why = f" (call {answered + 1}: {e!r})"
finally:
    stop = True
for t in threads: t.join(30)
print(f"{answered}/300 good{why}, {counts['bad']} bad requests answered, {counts['refused']} bad connections refused")
sys.exit(0 if answered == 300 else 1)
PY
check "the agent is still up after the flood" pst alice agent status

# A full disk during fetch (the agent's file size limited with RLIMIT_FSIZE):
# the fetch fails with a clear error; every stored message is whole, nothing
# half-stored is left, nothing unstored was deleted on the server; a later
# fetch with room stores the rest, each once.
pst bob fetch >/dev/null 2>&1 || true      # start from an empty mailbox
for i in $(seq 1 40); do
  { printf 'From: x@postern.test\r\nTo: %s\r\nSubject: big %d\r\nMessage-ID: <disk-%d@postern.test>\r\n\r\nDisk-Marker-%03d\r\n' \
      "$BOB_ADDR" "$i" "$i" "$i"; head -c 60000 /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } \
    > "$BOB_MAILDIR/new/$(date +%s).disk$i"
done
chown -R --reference="$BOB_MAILDIR" "$BOB_MAILDIR/new"
pst bob agent stop >/dev/null 2>&1 || true
db="$WORK/home-bob/data/postern.db"
limit=$(( $(stat -c %s "$db") + 1200000 ))
printf '#!/bin/sh\nexec prlimit --fsize=%s -- %s "$@"\n' "$limit" "$POSTERND" > "$WORK/small-disk-agent"
chmod +x "$WORK/small-disk-agent"
rc=0; POSTERN_AGENT="$WORK/small-disk-agent" "$POSTERN" --home "$WORK/home-bob" fetch > /dev/null 2> "$WORK/disk.err" || rc=$?
check "full disk: the fetch fails, saying why ($(head -c 200 "$WORK/disk.err"))" bash -c \
  '[ "$1" != 0 ] && grep -qiE "full|disk|too large|EFBIG|cannot" "$2"' _ "$rc" "$WORK/disk.err"
pst bob agent stop >/dev/null 2>&1 || true
stored_ok() { python3 - "$db" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
# Unfinished rows (a writer the full disk cut short) are invisible to every
# read and deleted when the store is next opened; what counts here is that
# no finished message is short and no chunk is orphaned.
bad = db.execute("select count(*) from message_chunks where message_id not in (select id from messages)").fetchone()[0]
seen = {}
for (mid, size) in db.execute("select id, size from messages where not unfinished"):
    data = b"".join(r[0] for r in db.execute("select data from message_chunks where message_id = ? order by seq", (mid,)))
    if len(data) != size:
        bad += 1
    for m in re.findall(rb"Disk-Marker-(\d+)", data):
        seen[m] = seen.get(m, 0) + 1
print(bad, len(seen), sum(1 for v in seen.values() if v > 1))
PY
}
read -r bad stored dup < <(stored_ok)
left=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f -name '*disk*' | wc -l)
echo "# full disk: $stored of 40 stored before it filled, $left left on the server"
check "full disk: every stored message whole, no orphaned bytes" test "$bad" = 0
check "… and a half-stored one is gone once the store is opened again" bash -c \
  '"$1" --home "$2" list >/dev/null && [ "$(sqlite3 "$3" "select count(*) from messages where unfinished")" = 0 ]' \
  _ "$POSTERN" "$WORK/home-bob" "$db"
check "full disk: nothing unstored was deleted on the server" test $((stored + left)) -ge 40
check "full disk: some did not fit" test "$stored" -lt 40
check "with room again, the rest is stored, each once" bash -c \
  '"$1" --home "$2" fetch >/dev/null' _ "$POSTERN" "$WORK/home-bob"
read -r bad stored dup < <(stored_ok)
check "… 40 stored, none twice, none broken ($stored, $dup, $bad)" bash -c '[ "$1" = 40 ] && [ "$2" = 0 ] && [ "$3" = 0 ]' _ "$stored" "$dup" "$bad"

# Another user: cannot reach the socket (0700 directory), and an agent of
# another user refuses us at the peer-uid check even where the path is open.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env -- "$@"; }
  check "another user cannot connect to the socket" \
    bash -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups -- python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$1" 2>/dev/null' _ "$sock"
  nhome="$WORK/nobody-home"
  mkdir -p "$nhome" && chown nobody "$nhome" && chmod 755 "$WORK"
  as_nobody env POSTERN_AGENT="$POSTERND" "$POSTERN" --home "$nhome" agent start >/dev/null
  chmod 755 "$nhome" "$nhome/run"   # open the path, so that only the uid check stands
  python3 - "$nhome/run/agent.sock" <<'PY' && ok "the agent closes a connection from another uid" || not_ok "the agent closes a connection from another uid"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
try:
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{}}\n')
    sys.exit(0 if s.recv(100) == b"" else 1)
except (ConnectionResetError, BrokenPipeError):
    sys.exit(0)
PY
  chmod 700 "$nhome/run"
  as_nobody "$POSTERN" --home "$nhome" agent stop >/dev/null || true
else
  echo "# skipped: no 'nobody' user or setpriv"
fi
finish
