#!/usr/bin/env bash
# send in constant memory (agent/outgoing-stream.c) gives what send in memory
# gives: the same message is sent once from a file (streamed) and once from a
# pipe (read whole, agent/outgoing.c), to a fake SMTP server that keeps each
# message (fakeserver.py "good"), and the copies are compared: the same
# envelopes (MAIL with its 8-bit parameters, RCPT), one copy per Bcc
# recipient when encrypted, no Bcc field in any; unprotected, the same bytes
# (one copy, the Bcc recipient in its envelope); OpenPGP
# encrypted and signed, the same outer header (but for the boundary) and,
# decrypted by gpg with each recipient's key, the same plaintext
# (Autocrypt-Gossip of the others inside the copy for To/Cc, none in the Bcc
# copy) and a good signature; OpenPGP signed only, the same outer header,
# micalg and signed entity, which gpg verifies.
source "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

# A certificate for the fake server (127.0.0.1), from a CA of this test's.
make_server_cert fake
portfile="$WORK/fake.port"
python3 "$here/fakeserver.py" smtps good "$portfile" "$WORK/fake" "$CERT" "$KEY" &
RELAY_PIDS="${RELAY_PIDS:-} $!"
for _ in $(seq 1 400); do [ -s "$portfile" ] && break; sleep 0.05; done
printf 'secret\n' > "$WORK/fake-pass"
pst alice account add fake --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtps://127.0.0.1:$(cat "$portfile")" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $WORK/fake-pass" --ca-file "$CA" >/dev/null

# Carol (Cc) and Dave (Bcc) get OpenPGP keys; alice's keyring has theirs.
for who in carol dave; do
  h="$WORK/gnupg-$who"
  mkdir -m 700 "$h"
  gpg --homedir "$h" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "${who^} <$who@postern.test>" ed25519 sign,cert never
  fpr=$(gpg --homedir "$h" --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
  gpg --homedir "$h" --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-add-key "$fpr" cv25519 encr never
  gpg --homedir "$h" --export "$who@postern.test" | gpg --homedir "$GNUPGHOME_ALICE" --batch --quiet --import
  gpg --homedir "$h" --batch --quiet --import "$ALICE_PGP_PUBKEY"
done
declare -A home=([bob]=$GNUPGHOME_BOB [carol]=$WORK/gnupg-carol [dave]=$WORK/gnupg-dave)

# An 8-bit message (an 8bit body; the fake server has no SMTPUTF8) naming its
# Content-Type and Content-Transfer-Encoding: what send streams.
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nCc: carol@postern.test\r\nBcc: dave@postern.test\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus dem Strom.\r\n.a dot line\r\nFrom the start of a line\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$(date -R)" "$(date +%s%N)" > "$WORK/m.eml"

n=0
# send_both MODE ARGS...: sends m.eml from the file and from a pipe; the
# copies are fake.msg.* in order, the envelopes in fake.tls.
send_both() {
  local mode=$1; shift
  check "$mode: sent from a file (streamed)" pst alice send --account fake --wait "$@" "$WORK/m.eml"
  check "$mode: sent from a pipe (in memory)" bash -c 'cat "$1" | "${@:2}"' _ "$WORK/m.eml" \
    env GNUPGHOME="$GNUPGHOME_ALICE" "$POSTERN" --home "$WORK/home-alice" send --account fake --wait "$@" -
}
# envelopes FROM TO: the MAIL and RCPT commands of messages FROM..TO.
envelopes() {
  python3 - "$WORK/fake.tls" "$1" "$2" <<'PY'
import re, sys
lines = [l for l in open(sys.argv[1], "rb").read().decode("utf-8", "replace").split("\r\n")
         if re.match(r"(MAIL FROM|RCPT TO):", l)]
msgs, cur = [], None
for l in lines:
    if l.startswith("MAIL"):
        cur = [re.sub(r" SIZE=\d+", "", l)]
        msgs.append(cur)
    else:
        cur.append(l)
for m in msgs[int(sys.argv[2]) - 1:int(sys.argv[3])]:
    print(" | ".join(m))
PY
}
no_bcc() { ! grep -qi '^Bcc:' "$1"; }

# ---- unprotected: the same bytes ----
send_both "unprotected" --encrypt never --no-sign
check "unprotected: one copy each, for every recipient" test -f "$WORK/fake.msg.2" -a ! -f "$WORK/fake.msg.3"
check "unprotected: the same envelope" test "$(envelopes 1 1)" = "$(envelopes 2 2)"
check "unprotected: … with RCPT to the Bcc recipient" grep -q "RCPT TO:<dave@postern.test>" <<< "$(envelopes 1 1)"
check "unprotected: 8-bit said so (BODY=8BITMIME), from the file too" \
  bash -c '[ "$(grep -ac "^MAIL FROM:.*BODY=8BITMIME" "$1")" = 2 ]' _ "$WORK/fake.tls"
check "unprotected: no Bcc field" no_bcc "$WORK/fake.msg.1"
check "unprotected: streamed and in memory are the same bytes" cmp -s "$WORK/fake.msg.1" "$WORK/fake.msg.2"

# ---- OpenPGP, encrypted and signed ----
send_both "OpenPGP" --encrypt always --scheme pgp
check "OpenPGP: two copies each (To/Cc, and Dave's)" test -f "$WORK/fake.msg.6" -a ! -f "$WORK/fake.msg.7"
check "OpenPGP: the same envelopes" test "$(envelopes 3 4)" = "$(envelopes 5 6)"
# outer FILE: the outer header section, the boundary made X.
outer() {
  python3 - "$1" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
h = d[:d.find(b"\r\n\r\n")]
b = re.search(rb'boundary="([^"]+)"', h).group(1)
sys.stdout.buffer.write(h.replace(b, b"X"))
PY
}
# plain WHO FILE: what WHO's key decrypts FILE to; the signature checked.
plain() {
  gpg --homedir "${home[$1]}" --batch --no-tty --status-fd 3 --decrypt "$2" 2>/dev/null 3> "$WORK/status" \
    && grep -q GOODSIG "$WORK/status"
}
for i in 3 4; do
  who=bob; [ "$i" = 4 ] && who=dave
  rm -f "$WORK/s.txt" "$WORK/m.txt"
  check "OpenPGP copy $i: no Bcc field" no_bcc "$WORK/fake.msg.$i"
  check "OpenPGP copy $i: the same outer header" test "$(outer "$WORK/fake.msg.$i")" = "$(outer "$WORK/fake.msg.$((i + 2))")"
  check "OpenPGP copy $i: $who decrypts both, signatures good" \
    bash -c "$(declare -p home); $(declare -f plain); WORK=$WORK; plain $who $WORK/fake.msg.$i > $WORK/s.txt && plain $who $WORK/fake.msg.$((i + 2)) > $WORK/m.txt"
  check "OpenPGP copy $i: the same plaintext" cmp -s "$WORK/s.txt" "$WORK/m.txt"
  if [ "$i" = 3 ]; then
    check "OpenPGP copy for To/Cc: gossip of bob and carol inside" \
      bash -c '[ "$(grep -c "^Autocrypt-Gossip: addr=" "$1")" = 2 ]' _ "$WORK/s.txt"
    check "… carol decrypts it too" bash -c "$(declare -p home); $(declare -f plain); WORK=$WORK; plain carol $WORK/fake.msg.3 >/dev/null"
  else
    check "OpenPGP copy for Bcc: no gossip" bash -c '! grep -q "^Autocrypt-Gossip" "$1"' _ "$WORK/s.txt"
  fi
  check "OpenPGP copy $i: the body sent" grep -qF "Grüße aus dem Strom." "$WORK/s.txt"
done

# ---- OpenPGP, signed only: a 7bit text that needs no quoted-printable ----
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: signed\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSigned in a stream.\r\nA second line.\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$(date -R)" "$(date +%s%N)" > "$WORK/m.eml"
send_both "OpenPGP signed" --encrypt never --sign --scheme pgp
check "OpenPGP signed: one copy each" test -f "$WORK/fake.msg.8" -a ! -f "$WORK/fake.msg.9"
check "OpenPGP signed: the same envelope" test "$(envelopes 7 7)" = "$(envelopes 8 8)"
check "OpenPGP signed: the same outer header" test "$(outer "$WORK/fake.msg.7")" = "$(outer "$WORK/fake.msg.8")"
# signed_parts FILE OUT: the signed entity of FILE into OUT, its signature into OUT.asc.
signed_parts() {
  python3 - "$1" "$2" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
b = re.search(rb'boundary="([^"]+)"', d).group(1)
delim = b"\r\n--" + b + b"\r\n"
start = d.index(delim) + len(delim)
end = d.index(delim, start)
open(sys.argv[2], "wb").write(d[start:end])
sig = d[d.index(b"-----BEGIN PGP SIGNATURE-----"):d.index(b"-----END PGP SIGNATURE-----") + 27]
open(sys.argv[2] + ".asc", "wb").write(sig)
PY
}
# signed_pair LABEL I J: copies I and J, each verified by gpg, sign the same entity.
signed_pair() {
  local i
  for i in "$2" "$3"; do
    signed_parts "$WORK/fake.msg.$i" "$WORK/signed.$i"
    check "$1 copy $i: gpg verifies it" \
      gpg --homedir "$GNUPGHOME_BOB" --batch --no-tty --quiet --verify "$WORK/signed.$i.asc" "$WORK/signed.$i"
  done
  check "$1: the same signed entity" cmp -s "$WORK/signed.$2" "$WORK/signed.$3"
}
signed_pair "OpenPGP signed" 7 8
check "OpenPGP signed: the same micalg" \
  test "$(grep -ao 'micalg=[a-z0-9-]*' "$WORK/fake.msg.7")" = "$(grep -ao 'micalg=[a-z0-9-]*' "$WORK/fake.msg.8")"

# ---- OpenPGP, signed only: an 8bit text that signing makes quoted-printable
# (8-bit bytes, a space at a line's end, "From " at a line's start), from the
# file as it passes, from the pipe in memory ----
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: signed\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe aus dem Strom. \r\nFrom the start of a line\r\n=%%s\tand a tab\t\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$(date -R)" "$(date +%s%N)" > "$WORK/m.eml"
send_both "OpenPGP signed, quoted-printable" --encrypt never --sign --scheme pgp
check "quoted-printable: one copy each" test -f "$WORK/fake.msg.10" -a ! -f "$WORK/fake.msg.11"
signed_pair "quoted-printable" 9 10
check "… which is quoted-printable" \
  grep -aq $'^Gr=C3=BC=C3=9Fe aus dem Strom.=20\r$' "$WORK/signed.9"

# ---- OpenPGP, encrypted and signed: a message without a MIME header (no
# Content-Type, no Content-Transfer-Encoding), whose 8-bit body decides the
# protected entity's charset and 8bit: scanned, then streamed ----
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: no MIME\r\nDate: %s\r\nMessage-ID: <%s@postern.test>\r\n\r\nGr\xc3\xbc\xc3\x9fe ohne MIME.\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" "$(date -R)" "$(date +%s%N)" > "$WORK/m.eml"
send_both "no MIME header" --encrypt always --scheme pgp
check "no MIME header: one copy each" test -f "$WORK/fake.msg.12" -a ! -f "$WORK/fake.msg.13"
check "no MIME header: the same outer header" test "$(outer "$WORK/fake.msg.11")" = "$(outer "$WORK/fake.msg.12")"
rm -f "$WORK/s.txt" "$WORK/m.txt"
check "no MIME header: bob decrypts both, signatures good" \
  bash -c "$(declare -p home); $(declare -f plain); WORK=$WORK; plain bob $WORK/fake.msg.11 > $WORK/s.txt && plain bob $WORK/fake.msg.12 > $WORK/m.txt"
check "no MIME header: the same plaintext" cmp -s "$WORK/s.txt" "$WORK/m.txt"
check "… which says utf-8 and 8bit" \
  bash -c 'grep -aq "^Content-Type: text/plain; charset=utf-8; hp=" "$1" && grep -aq "^Content-Transfer-Encoding: 8bit" "$1"' _ "$WORK/s.txt"

# ---- the file changes after it was read: what was scanned is what goes ----
# The agent reads the client's file once, into a file of its own, and the
# scanner, the policy and every copy read that: a change to the client's
# file afterwards (here by the scanner itself, after it read the message;
# in place through a shared mapping it would change neither the size nor
# the times) reaches no copy.
# A scanner that reads the message, then changes the file it came from.
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: changing\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nScanned as it was.\r\n' \
  "$ALICE_ADDR" "$BOB_ADDR" > "$WORK/changing.eml"
printf '#!/bin/sh\ncat > /dev/null\nprintf "Appended after the scan.\\r\\n" >> "%s"\nexit 0\n' "$WORK/changing.eml" \
  > "$WORK/changer.sh"
chmod +x "$WORK/changer.sh"
pst alice agent stop >/dev/null 2>&1 || true
printf '[general]\nscan = command:%s\n\n%s\n' "$WORK/changer.sh" "$(cat "$WORK/home-alice/config")" \
  > "$WORK/config.new"
mv "$WORK/config.new" "$WORK/home-alice/config"
last=$(ls "$WORK"/fake.msg.* | sed 's/.*\.//' | sort -n | tail -n 1)
check "a file changed after the scan: sent" \
  pst alice send --account fake --wait --encrypt always --scheme pgp "$WORK/changing.eml"
check "… the scanner did change the file" grep -q "Appended after the scan" "$WORK/changing.eml"
# scanned_copy LAST: of the copies after fake.msg.LAST, one that bob
# decrypts (a good signature) holds this message, and none holds what was
# appended after the scan.
scanned_copy() {
  local f found=1
  for f in $(ls "$WORK"/fake.msg.* | awk -F. -v last="$1" '$NF + 0 > last + 0'); do
    grep -q 'Appended after the scan' "$f" && return 1
    plain bob "$f" > "$WORK/changed.txt" || continue
    grep -q 'Appended after the scan' "$WORK/changed.txt" && return 1
    grep -q 'Scanned as it was' "$WORK/changed.txt" && found=0
  done
  return $found
}
check "… bob's copy is the message as scanned, without what was appended" scanned_copy "$last"

finish
