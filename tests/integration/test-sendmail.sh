#!/usr/bin/env bash
# postern sendmail under the programs that call sendmail, through the real
# provider: neomutt (non-interactive, -e 'set sendmail=…') with a Bcc, git
# send-email (--sendmail-cmd) with a patch, and cron's own command line.
# The server copies are PGP/MIME, a Bcc recipient is in no other copy, -t
# takes the header's recipients, a "." line ends the input unless -i, and
# the exit codes are sysexits.h's (infected mail too), with nothing sent on a refusal.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
# Started here, so that the programs below find it running.
pst alice agent start >/dev/null

# The command the mail programs are given.
SENDMAIL="env GNUPGHOME=$GNUPGHOME_ALICE $POSTERN --home $WORK/home-alice sendmail"
export HOME="$WORK/home-user"
mkdir -p "$HOME"
chmod 700 "$HOME"

copies() { find "$1/new" "$1/cur" -type f 2>/dev/null; }
copy_of() { copies "$1" | head -n 1; }
empty_maildirs() { rm -f "$ALICE_MAILDIR"/new/* "$ALICE_MAILDIR"/cur/* "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/*; }
# decrypt GNUPGHOME FILE: the PGP/MIME server copy FILE, decrypted.
decrypt() {
  sed -n '/-----BEGIN PGP MESSAGE-----/,/-----END PGP MESSAGE-----/p' "$2" | tr -d '\r' |
    GNUPGHOME=$1 gpg --batch --quiet --decrypt 2>/dev/null
}
# sent_to WHO REGEX: WHO's one server copy is PGP/MIME and, decrypted with
# WHO's key, matches REGEX.
decrypts_to() {
  local file; file=$(copy_of "$1")
  [ -n "$file" ] && grep -q 'multipart/encrypted' "$file" && decrypt "$2" "$file" | grep -qE -- "$3"
}
no_bcc_header() { # no_bcc_header GNUPGHOME FILE: neither outside nor inside
  ! grep -qi '^Bcc:' "$2" && ! decrypt "$1" "$2" | grep -qi '^Bcc:'
}
lacks() { # lacks GNUPGHOME FILE TEXT: FILE decrypted does not hold TEXT (or does not decrypt)
  ! decrypt "$1" "$2" | grep -qF -- "$3"
}
# sm EXPECTED_EXIT ARGS... < input: runs postern sendmail, its stderr in
# $WORK/sm.err; true when it exits EXPECTED_EXIT.
sm() {
  local want=$1 rc=0; shift
  $SENDMAIL "$@" 2>"$WORK/sm.err" || rc=$?
  [ "$rc" = "$want" ] || { echo "# postern sendmail $*: exit $rc, expected $want: $(cat "$WORK/sm.err")"; return 1; }
}

# ---- neomutt: To alice, Bcc bob; its default sendmail is "… -oem -oi" ----
tag=$(date +%s%N)
printf 'neomutt body %s\n.\nafter the dot line %s\n' "$tag" "$tag" > "$WORK/body.txt"
rc=0
neomutt -n -F /dev/null -e "set sendmail=\"$SENDMAIL -oem -oi\"" \
  -e "set from=\"Alice <$ALICE_ADDR>\"" -e 'set record=""' -e 'set copy=no' \
  -s "From neomutt $tag" -b "$BOB_ADDR" "$ALICE_ADDR" < "$WORK/body.txt" \
  > "$WORK/neomutt.out" 2>&1 || rc=$?
check "neomutt sends through postern sendmail (exit $rc: $(head -c 300 "$WORK/neomutt.out"))" test "$rc" = 0
check "… the To recipient's copy reaches alice" wait_for_delivery "$ALICE_MAILDIR" 1
check "… the Bcc recipient's copy reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "alice's server copy is PGP/MIME and decrypts to the whole body, the '.' line and what follows" \
  decrypts_to "$ALICE_MAILDIR" "$GNUPGHOME_ALICE" "after the dot line $tag"
check "bob's (Bcc) server copy is PGP/MIME and decrypts with his key" \
  decrypts_to "$BOB_MAILDIR" "$GNUPGHOME_BOB" "neomutt body $tag"
a=$(copy_of "$ALICE_MAILDIR"); b=$(copy_of "$BOB_MAILDIR")
bcc_absent() {
  ! grep -qiF "$BOB_ADDR" "$a" && ! decrypt "$GNUPGHOME_ALICE" "$a" | grep -qiF "$BOB_ADDR"
}
check "bob (Bcc) is named nowhere in alice's copy, outside or decrypted" bcc_absent
check "alice's copy is not encrypted to bob's key" lacks "$GNUPGHOME_BOB" "$a" "$tag"
check "alice's copy has no Bcc header" no_bcc_header "$GNUPGHOME_ALICE" "$a"
check "bob's copy has no Bcc header" no_bcc_header "$GNUPGHOME_BOB" "$b"
empty_maildirs

# ---- git send-email --sendmail-cmd: a patch, LF line ends, -i ----
git init -q "$WORK/repo"
git -C "$WORK/repo" config user.email "$ALICE_ADDR"
git -C "$WORK/repo" config user.name Alice
printf 'one\n' > "$WORK/repo/file"
git -C "$WORK/repo" add file
git -C "$WORK/repo" commit -qm "First"
printf 'two %s\n' "$tag" >> "$WORK/repo/file"
git -C "$WORK/repo" commit -qam "Add line two"
git -C "$WORK/repo" format-patch -q -1 -o "$WORK/patches"
rc=0
(cd "$WORK/repo" && git send-email --sendmail-cmd="$SENDMAIL" --to="$BOB_ADDR" \
   --from="Alice <$ALICE_ADDR>" --confirm=never --suppress-cc=all "$WORK"/patches/*.patch \
   < /dev/null > "$WORK/git.out" 2>&1) || rc=$?
check "git send-email sends a patch through postern sendmail (exit $rc)" test "$rc" = 0
check "… it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "bob's server copy is PGP/MIME and decrypts to the patch" \
  decrypts_to "$BOB_MAILDIR" "$GNUPGHOME_BOB" "^\+two $tag"
empty_maildirs

# ---- cron: /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem USER ----
printf 'From: root (Cron Daemon)\nTo: %s\nSubject: Cron <alice@host> date\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\ncron output %s\n' \
  "$BOB_ADDR" "$tag" > "$WORK/cron.txt"
check "cron's command line is taken (exit 0)" sm 0 -FCronDaemon -i -B8BITMIME -oem "$BOB_ADDR" < "$WORK/cron.txt"
check "… it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "… encrypted, with cron's output inside" decrypts_to "$BOB_MAILDIR" "$GNUPGHOME_BOB" "cron output $tag"
check "… from 'CronDaemon <alice>' instead of cron's local 'root (Cron Daemon)'" \
  grep -q "^From: CronDaemon <$ALICE_ADDR>" "$(copy_of "$BOB_MAILDIR")"
check "… with a Date and a Message-ID added" bash -c 'grep -q "^Date: " "$1" && grep -q "^Message-ID: <.*@postern.test>" "$1"' _ "$(copy_of "$BOB_MAILDIR")"
empty_maildirs

# ---- no From: -fADDR (glued) and -F NAME make it ----
printf 'To: %s\nSubject: no from\n\nno from %s\n' "$BOB_ADDR" "$tag" > "$WORK/nofrom.txt"
check "-fADDR -F NAME for a message without From (exit 0)" sm 0 -i "-f$ALICE_ADDR" -F "Alice Example" "$BOB_ADDR" < "$WORK/nofrom.txt"
check "… it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "… from 'Alice Example <alice>'" grep -q "^From: Alice Example <$ALICE_ADDR>" "$(copy_of "$BOB_MAILDIR")"
check "… encrypted" decrypts_to "$BOB_MAILDIR" "$GNUPGHOME_BOB" "no from $tag"
empty_maildirs

# ---- -t: recipients from To and Bcc; the Bcc header goes ----
printf 'From: %s\r\nTo: %s\r\nBcc: %s\r\nSubject: dash t\r\n\r\ndash t body %s\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$ALICE_ADDR" "$tag" > "$WORK/t.eml"
check "-t takes To and Bcc (exit 0)" sm 0 -t -i < "$WORK/t.eml"
check "… bob (To) gets it" wait_for_delivery "$BOB_MAILDIR" 1
check "… alice (Bcc) gets her own copy" wait_for_delivery "$ALICE_MAILDIR" 1
check "… bob's copy has no Bcc header" no_bcc_header "$GNUPGHOME_BOB" "$(copy_of "$BOB_MAILDIR")"
check "… nor alice's" no_bcc_header "$GNUPGHOME_ALICE" "$(copy_of "$ALICE_MAILDIR")"
check "… and decrypted holds the body" decrypts_to "$BOB_MAILDIR" "$GNUPGHOME_BOB" "dash t body $tag"
empty_maildirs

# ---- "." ends the input without -i (CRLF here), not with -i (LF) ----
printf 'From: %s\r\nTo: %s\r\nSubject: dot\r\n\r\nbefore %s\r\n.\r\nbeyond-the-dot %s\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$tag" "$tag" > "$WORK/dot-crlf.eml"
check "without -i (exit 0)" sm 0 "$BOB_ADDR" < "$WORK/dot-crlf.eml"
check "… it reaches bob" wait_for_delivery "$BOB_MAILDIR" 1
check "… with what came before the '.' line" decrypts_to "$BOB_MAILDIR" "$GNUPGHOME_BOB" "before $tag"
check "… and nothing after it" lacks "$GNUPGHOME_BOB" "$(copy_of "$BOB_MAILDIR")" beyond-the-dot
empty_maildirs
tr -d '\r' < "$WORK/dot-crlf.eml" > "$WORK/dot-lf.eml"
check "with -oi (exit 0, --json)" sm 0 --json -oi "$BOB_ADDR" < "$WORK/dot-lf.eml"
check "… --json says it was sent" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["state"]=="sent" and d["encrypted"] else 1)' <($SENDMAIL --json -i "$BOB_ADDR" < "$WORK/dot-lf.eml")
check "… both reach bob" wait_for_delivery "$BOB_MAILDIR" 2
check "… with the '.' line and what follows" decrypts_to "$BOB_MAILDIR" "$GNUPGHOME_BOB" "beyond-the-dot $tag"
empty_maildirs

# ---- exit codes, each with its reason on stderr ----
expect_sm() { # expect_sm DESCRIPTION EXIT REGEX ARGS... < input
  local what=$1 code=$2 regex=$3; shift 3
  if sm "$code" "$@" && [ "$(wc -l < "$WORK/sm.err")" = 1 ] && grep -qE "^postern: sendmail: .*$regex" "$WORK/sm.err"; then
    ok "$what (exit $code: $(cat "$WORK/sm.err"))"
  else
    not_ok "$what: $(cat "$WORK/sm.err")"
  fi
}
expect_sm "no recipients: EX_USAGE" 64 "no recipients" < "$WORK/t.eml"
printf 'From: %s\r\nSubject: none\r\n\r\nx\r\n' "$ALICE_ADDR" > "$WORK/none.eml"
expect_sm "-t and no recipient in the header: EX_USAGE" 64 "no recipients" -t < "$WORK/none.eml"
expect_sm "-bs (an SMTP session): EX_USAGE" 64 "only sending mail" -bs < /dev/null
expect_sm "-q: EX_USAGE" 64 "no queue" -q < /dev/null
expect_sm "an unknown option: EX_USAGE" 64 "unknown option" -Z "$BOB_ADDR" < "$WORK/t.eml"
# -f is an address and nothing else: it goes into the From and the Message-ID added
expect_sm "-f with a line break (header injection): EX_USAGE" 64 "-f: .* is not an address" \
  -f "$(printf 'x@evil.test>\r\nContent-Type: text/html\r\nX-Injected: <')" "$BOB_ADDR" < "$WORK/t.eml"
expect_sm "-f that is no address: EX_USAGE" 64 "-f: 'not an address' is not an address" -f 'not an address' "$BOB_ADDR" < "$WORK/t.eml"
expect_sm "a local recipient (cron's USER): EX_NOUSER" 67 "root: not an address" root < "$WORK/cron.txt"
expect_sm "--account of no account: EX_NOUSER" 67 "no account named nosuch" --account nosuch "$BOB_ADDR" < "$WORK/t.eml"
printf 'this is not a header\n\nbody\n' > "$WORK/bad.txt"
expect_sm "not RFC 5322: EX_DATAERR" 65 "not an RFC 5322 message" "$BOB_ADDR" < "$WORK/bad.txt"
# The addresses are the agent's to parse (message.addresses: the command
# line does not load libetpan); what it finds wrong is said as before.
printf 'From: a@postern.test, b@postern.test\r\nTo: %s\r\n\r\nx\r\n' "$BOB_ADDR" > "$WORK/two-from.eml"
expect_sm "a From of two addresses: EX_DATAERR" 65 "the From header holds several addresses" -t < "$WORK/two-from.eml"
printf 'From: %s\r\nFrom: %s\r\nTo: %s\r\n\r\nx\r\n' "$ALICE_ADDR" "$ALICE_ADDR" "$BOB_ADDR" > "$WORK/from-twice.eml"
expect_sm "two From fields: EX_DATAERR" 65 "the message has several From headers" -t < "$WORK/from-twice.eml"
printf 'From: %s\r\nTo: "Bob, B." <%s>\r\nCc: (herself) %s\r\nSubject: -t with names\r\n\r\nnamed %s\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$ALICE_ADDR" "$tag" > "$WORK/named.eml"
check "-t with a quoted display name and a comment: the agent's addresses (exit 0)" sm 0 -t -i < "$WORK/named.eml"
check "… bob gets it" wait_for_delivery "$BOB_MAILDIR" 1
check "… and alice (Cc)" wait_for_delivery "$ALICE_MAILDIR" 1
empty_maildirs
printf 'From: %s\r\nTo: carol@postern.test\r\nSubject: No key\r\n\r\nPlaintext that must not leave %s\r\n' \
  "$ALICE_ADDR" "$tag" > "$WORK/carol.eml"
pst alice account set main --encrypt always >/dev/null
expect_sm "encrypt always, a recipient without a key: EX_NOPERM" 77 "no OpenPGP key for: carol@postern.test" \
  carol@postern.test "$BOB_ADDR" < "$WORK/carol.eml"
sleep 1
check "… nothing reached the server" test -z "$(grep -rl "Plaintext that must not leave $tag" "$PROVIDER_DIR" 2>/dev/null)"
pst alice account set main --encrypt auto >/dev/null
# The scanner of outgoing mail (a command scanner: exit 1 and the name).
printf '#!/bin/sh\nif grep -q EVIL; then echo Test.Evil.Marker; exit 1; fi\nexit 0\n' > "$WORK/scanner.sh"
chmod +x "$WORK/scanner.sh"
pst alice config set scan "command:$WORK/scanner.sh" >/dev/null
printf 'From: %s\r\nTo: %s\r\nSubject: evil\r\n\r\nThis is EVIL %s.\r\n' "$ALICE_ADDR" "$BOB_ADDR" "$tag" > "$WORK/evil.eml"
expect_sm "infected: EX_DATAERR" 65 "infected with Test.Evil.Marker; nothing was sent" "$BOB_ADDR" < "$WORK/evil.eml"
pst alice config set scan none >/dev/null
add_account alice limited "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --max-recipients 2
expect_sm "three envelope recipients, max_recipients 2: EX_NOPERM" 77 "max_recipients" \
  --account limited "$BOB_ADDR" a@postern.test b@postern.test < "$WORK/t.eml"
# A recipient the server refuses (no such mailbox): refused for good.
printf 'From: %s\r\nTo: nobody-here@postern.test\r\nSubject: refused\r\n\r\nx\r\n' "$ALICE_ADDR" > "$WORK/nobody.eml"
check "a recipient the server refuses: EX_UNAVAILABLE" sm 69 -t < "$WORK/nobody.eml"
check "… saying that the server refused it ($(tail -n 1 "$WORK/sm.err"))" grep -q "^postern: sendmail: the server refused message [0-9]*: 5" "$WORK/sm.err"
add_account alice down "smtp://127.0.0.1:1" "pop3s://$HOST:$POP3S_PORT"
expect_sm "a server that cannot be reached: EX_TEMPFAIL, kept in the outbox" 75 "queued" \
  --account down "$BOB_ADDR" < "$WORK/dot-lf.eml"
down_id=$(pst alice --json outbox list --account down | python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox"][0]["id"])')
check "… it waits in the outbox" test -n "$down_id"
pst alice outbox cancel "$down_id" >/dev/null
rc=0
POSTERN_AGENT=/bin/false "$POSTERN" --home "$WORK/home-nobody" sendmail "$BOB_ADDR" < "$WORK/t.eml" 2>"$WORK/sm.err" || rc=$?
check "no agent: EX_UNAVAILABLE (exit $rc: $(cat "$WORK/sm.err"))" test "$rc" = 69
rc=0
POSTERN_AGENT=/bin/false "$POSTERN" --home "$WORK/home-nobody" sendmail -t < "$WORK/none.eml" 2>"$WORK/sm.err" || rc=$?
check "no agent, -t and no recipient in the header: EX_USAGE, said before any agent is asked (exit $rc: $(cat "$WORK/sm.err"))" \
  test "$rc" = 64
finish
