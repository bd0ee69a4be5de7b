#!/usr/bin/env bash
# Benchmark (not a test): peak RSS of the agent while it encrypts and then
# decrypts one large PGP/MIME message, and then the same for S/MIME
# (DESIGN.md §13: < 64 MiB for 1 GiB).
#
#   tests/bench/bench-rss.sh [BUILD_DIR]        (default: build)
#   SIZE=100M tests/bench/bench-rss.sh /tmp/build
#   SCHEMES=smime SIZE=64M tests/bench/bench-rss.sh   (the S/MIME rows only)
#
# Alice's agent encrypts to bob (postern encrypt --to bob@postern.test -o),
# bob's agent (a home and GnuPG home of its own) decrypts (postern decrypt
# -o); each agent's VmHWM is read from /proc after its operation.  The
# message is an attachment-like entity (application/octet-stream, base64),
# then a text, then a text and an attachment in a multipart (see
# core/mime/pgpstream.h); each is generated on the fly, never held in
# memory.
#
# S/MIME (SCHEMES has smime): a test CA and certificates (tests/harness/
# smime.sh); fresh agents; a text/plain message of SIZE bytes of 7-bit
# lines (the message of issue 16's table) is encrypted and signed by alice
# (postern encrypt --scheme smime --sign) and decrypted and verified by
# bob, its multipart/signed (taken out by openssl cms) verified by bob
# (postern verify), then encrypted alone and decrypted, then the same bytes as an
# attachment (application/octet-stream, base64: what decrypt streams),
# each with the agent's VmHWM and a sha256 round trip of the body.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
SIZE=${SIZE:-1G}
SCHEMES=${SCHEMES:-pgp smime}
export POSTERN_AGENT="$build/agent/posternd"
P="$build/cli/postern"

dir=$(mktemp -d /tmp/pst-rss.XXXXXX)
cleanup() {
  GNUPGHOME="${GNUPGHOME_ALICE:-}" "$P" --home "$dir/alice" agent stop >/dev/null 2>&1 || true
  GNUPGHOME="${GNUPGHOME_BOB:-}" "$P" --home "$dir/bob" agent stop >/dev/null 2>&1 || true
  "$root/tests/harness/gpg.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
touch "$dir/env"
"$root/tests/harness/gpg.sh" init "$dir" >/dev/null
# shellcheck source=/dev/null
. "$dir/env"
alice() { GNUPGHOME="$GNUPGHOME_ALICE" "$P" --home "$dir/alice" "$@"; }
bob() { GNUPGHOME="$GNUPGHOME_BOB" "$P" --home "$dir/bob" "$@"; }
agent_pid() { "$@" agent status 2>/dev/null | sed -n 's/.*pid \([0-9]*\).*/\1/p'; }
hwm() { awk '/^VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"; }
# mem_row WHAT PID: the agent's peak as a row of issue 16's table (bench-table.sh collects the "table|" lines).
mem_row() {
  local kib mib
  kib=$(awk '/^VmHWM/ { print $2 }' "/proc/$2/status")
  mib=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
  printf 'table|agent peak memory (VmHWM), %s message: %s|%s MiB|%s|%s|%s\n' "$SIZE" "$1" "$mib" \
    "in memory it was several times the message" "constant; < 64 MiB for 1 GiB (DESIGN.md §13)" \
    "$([ "$kib" -lt $((64 * 1024)) ] && echo "under 64 MiB" || echo "OVER 64 MiB")"
}

{
  printf 'From: Alice <alice@postern.test>\r\nTo: Bob <bob@postern.test>\r\n'
  printf 'Subject: a large attachment\r\nDate: %s\r\nMessage-ID: <rss-bench@postern.test>\r\n' \
    "$(LC_ALL=C date -R)"
  printf 'MIME-Version: 1.0\r\nContent-Type: application/octet-stream; name="blob.bin"\r\n'
  printf 'Content-Transfer-Encoding: base64\r\n\r\n'
} >"$dir/msg.hdr"
case " $SCHEMES " in *" pgp "*) ;; *) SKIP_PGP=1 ;; esac
if [ -z "${SKIP_PGP:-}" ]; then
head -c "$SIZE" /dev/urandom | base64 -w 76 >"$dir/msg.body"
cat "$dir/msg.hdr" "$dir/msg.body" >"$dir/msg.eml"
rm "$dir/msg.hdr"
printf 'message: %s bytes (body of %s random bytes, base64)\n' "$(stat -c %s "$dir/msg.eml")" "$SIZE"

alice agent start >/dev/null
bob agent start >/dev/null
apid=$(agent_pid alice)
bpid=$(agent_pid bob)
[ -n "$apid" ] && [ -n "$bpid" ] || { echo "bench-rss: cannot find the agents' pids" >&2; exit 1; }

t0=$(date +%s.%N)
alice encrypt --to bob@postern.test -o "$dir/msg.pgp" "$dir/msg.eml"
t1=$(date +%s.%N)
printf 'encrypt: %.1f s, alice agent peak RSS %s, output %s bytes\n' \
  "$(echo "$t1 - $t0" | bc)" "$(hwm "$apid")" "$(stat -c %s "$dir/msg.pgp")"
mem_row "OpenPGP encrypt, attachment" "$apid"
rm "$dir/msg.eml"

t0=$(date +%s.%N)
bob decrypt -o "$dir/msg.out" "$dir/msg.pgp"
t1=$(date +%s.%N)
printf 'decrypt: %.1f s, bob agent peak RSS %s\n' "$(echo "$t1 - $t0" | bc)" "$(hwm "$bpid")"
mem_row "OpenPGP decrypt, attachment" "$bpid"
# Side by side: gpg alone decrypting the same file into a file beside it
# (it finds the armored block in the MIME message), the floor of the
# streamed path, which moves the same bytes through the agent and gpg.
t2=$(date +%s.%N)
gpg --homedir "$GNUPGHOME_BOB" --batch --quiet --decrypt <"$dir/msg.pgp" >"$dir/gpg.out" 2>/dev/null
t3=$(date +%s.%N)
printf 'gpg --decrypt of the same file: %.1f s; postern decrypt took %.2f times that\n' \
  "$(echo "$t3 - $t2" | bc)" "$(echo "($t1 - $t0) / ($t3 - $t2)" | bc -l)"
rm "$dir/msg.pgp" "$dir/gpg.out"

# The decrypted body (after the header section) is the original body, CRLF.
body_sum=$(tr -d '\r' <"$dir/msg.body" | sha256sum | cut -d' ' -f1)
out_sum=$(sed '1,/^\r\?$/d' "$dir/msg.out" | tr -d '\r' | sha256sum | cut -d' ' -f1)
if [ "$body_sum" = "$out_sum" ]; then
  echo "round trip: ok (sha256 $body_sum)"
else
  echo "round trip: FAILED ($body_sum != $out_sum)"; exit 1
fi
rm -f "$dir/msg.body" "$dir/msg.out"

# signed_round_trip WHAT NAME SUM: $dir/NAME.eml encrypted and signed by
# alice, then decrypted and verified by bob, each agent's peak reset first
# (as root) so that the rows are this message's own; the body that comes
# out must have the sha256 SUM (CRs dropped).
signed_round_trip() {
  local what=$1 name=$2 want=$3 t0 t1 got
  echo 5 >"/proc/$apid/clear_refs" 2>/dev/null || true
  echo 5 >"/proc/$bpid/clear_refs" 2>/dev/null || true
  t0=$(date +%s.%N)
  alice encrypt --sign --to bob@postern.test -o "$dir/$name.pgp" "$dir/$name.eml"
  t1=$(date +%s.%N)
  printf 'encrypt --sign, %s: %.1f s, alice agent peak RSS %s\n' "$what" "$(echo "$t1 - $t0" | bc)" "$(hwm "$apid")"
  mem_row "OpenPGP encrypt+sign, $what" "$apid"
  rm "$dir/$name.eml"
  t0=$(date +%s.%N)
  bob --json decrypt -o "$dir/$name.out" "$dir/$name.pgp" >"$dir/dec.json"
  t1=$(date +%s.%N)
  printf 'decrypt, %s: %.1f s, bob agent peak RSS %s\n' "$what" "$(echo "$t1 - $t0" | bc)" "$(hwm "$bpid")"
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d = d.get("crypto", d)
sys.exit(0 if (d["decryption"], d["signature"]["status"]) == ("ok", "good") else 1)' "$dir/dec.json" \
    || { echo "decrypt, $what: not decrypted with a good signature: $(cat "$dir/dec.json")" >&2; exit 1; }
  mem_row "OpenPGP decrypt+verify, $what" "$bpid"
  got=$(sed '1,/^\r\?$/d' "$dir/$name.out" | tr -d '\r' | sha256sum | cut -d' ' -f1)
  if [ "$want" = "$got" ]; then
    echo "round trip, $what: ok (sha256 $want)"
  else
    echo "round trip, $what: FAILED ($want != $got)"; exit 1
  fi
  rm -f "$dir/$name.out" "$dir/$name.pgp" "$dir/dec.json"
}

# A text/plain message of as many bytes (7-bit lines of 76): the text is
# judged as it is decrypted, kept meanwhile encrypted in an unnamed file of
# the agent's, and written from there (pgpstream.h).
head -c "$(( $(numfmt --from=iec "$SIZE") * 3 / 4 ))" /dev/urandom | base64 -w 76 >"$dir/text.body"
{
  printf 'From: Alice <alice@postern.test>\r\nTo: Bob <bob@postern.test>\r\nSubject: a large text\r\n'
  printf 'Date: %s\r\nMessage-ID: <rss-pgp-text@postern.test>\r\nMIME-Version: 1.0\r\n' "$(LC_ALL=C date -R)"
  printf 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
  cat "$dir/text.body"
} >"$dir/text.eml"
signed_round_trip text text "$(tr -d '\r' <"$dir/text.body" | sha256sum | cut -d' ' -f1)"
# Mail with a file: a multipart/mixed of a short text and the same bytes as
# an attachment: judged part by part, kept encrypted meanwhile, then
# written again part by part (its header is protected: core/mime/opensink.h).
{
  printf 'From: Alice <alice@postern.test>\r\nTo: Bob <bob@postern.test>\r\nSubject: a large file\r\n'
  printf 'Date: %s\r\nMessage-ID: <rss-pgp-mixed@postern.test>\r\nMIME-Version: 1.0\r\n' "$(LC_ALL=C date -R)"
  printf 'Content-Type: multipart/mixed; boundary="=-rss"\r\n\r\n--=-rss\r\nContent-Type: text/plain\r\n\r\n'
  printf 'the file\r\n--=-rss\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'
  cat "$dir/text.body"
  printf '\r\n--=-rss--\r\n'
} >"$dir/mixed.eml"
rm -f "$dir/text.body"
signed_round_trip "text and attachment" mixed "$(sed '1,/^\r\?$/d' "$dir/mixed.eml" | tr -d '\r' | sha256sum | cut -d' ' -f1)"
alice agent stop >/dev/null
bob agent stop >/dev/null
fi

case " $SCHEMES " in *" smime "*) ;; *) exit 0 ;; esac
"$root/tests/harness/smime.sh" init "$dir" >/dev/null
# shellcheck source=/dev/null
. "$dir/env"
alice keys import --trust-anchor "$SMIME_CA" >/dev/null
bob keys import --trust-anchor "$SMIME_CA" >/dev/null
alice keys import --passphrase-fd 3 "$ALICE_P12" 3<<<"$SMIME_PASS" >/dev/null
bob keys import --passphrase-fd 3 "$BOB_P12" 3<<<"$SMIME_PASS" >/dev/null
alice keys import "$BOB_CERT" >/dev/null
bob keys import "$ALICE_CERT" >/dev/null
alice agent stop >/dev/null
bob agent stop >/dev/null

# SIZE bytes of 7-bit text in lines of 76 characters (base64 of random
# bytes: text that compresses no better than mail does), LF.
head -c "$(numfmt --from=iec "$SIZE" | awk '{ printf "%d", $1 * 3 / 4 }')" /dev/urandom \
  | base64 -w 76 >"$dir/text.body"
{
  printf 'From: Alice <alice@postern.test>\r\nTo: Bob <bob@postern.test>\r\n'
  printf 'Subject: a large text\r\nDate: %s\r\nMessage-ID: <rss-smime@postern.test>\r\n' \
    "$(LC_ALL=C date -R)"
  printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n'
  printf 'Content-Transfer-Encoding: 7bit\r\n\r\n'
  cat "$dir/text.body"
} >"$dir/text.eml"
body_sum=$(tr -d '\r' <"$dir/text.body" | sha256sum | cut -d' ' -f1)
printf 'S/MIME message: %s bytes (text/plain, 7bit, %s of text)\n' "$(stat -c %s "$dir/text.eml")" "$SIZE"
round_trip() { # OUTPUT_FILE
  local out_sum
  out_sum=$(sed '1,/^\r\?$/d' "$1" | tr -d '\r' | sha256sum | cut -d' ' -f1)
  if [ "$body_sum" = "$out_sum" ]; then
    echo "  round trip: ok (sha256 $body_sum)"
  else
    echo "  round trip: FAILED ($body_sum != $out_sum)"; exit 1
  fi
}
fresh_agents() {
  alice agent stop >/dev/null 2>&1 || true
  bob agent stop >/dev/null 2>&1 || true
  alice agent start >/dev/null
  bob agent start >/dev/null
  apid=$(agent_pid alice)
  bpid=$(agent_pid bob)
  [ -n "$apid" ] && [ -n "$bpid" ] || { echo "bench-rss: cannot find the agents' pids" >&2; exit 1; }
  # A restarted agent holds no unlocked key (unlocking runs scrypt: 16 MiB).
  alice keys unlock --passphrase-fd 3 alice@postern.test 3<<<"$SMIME_PASS" >/dev/null
  bob keys unlock --passphrase-fd 3 bob@postern.test 3<<<"$SMIME_PASS" >/dev/null
  printf '  idle agents (keys unlocked): alice %s, bob %s\n' "$(hwm "$apid")" "$(hwm "$bpid")"
}

fresh_agents
t0=$(date +%s.%N)
alice encrypt --scheme smime --sign --to bob@postern.test -o "$dir/text.p7m" "$dir/text.eml"
t1=$(date +%s.%N)
printf 'S/MIME encrypt+sign: %.1f s, alice agent peak RSS %s, output %s bytes\n' \
  "$(echo "$t1 - $t0" | bc)" "$(hwm "$apid")" "$(stat -c %s "$dir/text.p7m")"
mem_row "S/MIME encrypt+sign, text" "$apid"
t0=$(date +%s.%N)
bob --json decrypt -o "$dir/text.out" "$dir/text.p7m" >"$dir/dec.json"
t1=$(date +%s.%N)
printf 'S/MIME decrypt+verify: %.1f s, bob agent peak RSS %s, %s\n' "$(echo "$t1 - $t0" | bc)" \
  "$(hwm "$bpid")" "$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))
print("decryption", c["decryption"], "signature", (c.get("signature") or {}).get("status"))' "$dir/dec.json")"
mem_row "S/MIME decrypt+verify, text" "$bpid"
round_trip "$dir/text.out"
# The multipart/signed inside (openssl cms takes it out): verify.
openssl cms -decrypt -binary -in "$dir/text.p7m" -recip "$BOB_CERT" -inkey "$BOB_KEY" \
  -out "$dir/text.signed"
t0=$(date +%s.%N)
bob --json verify "$dir/text.signed" >"$dir/ver.json"
t1=$(date +%s.%N)
printf 'S/MIME verify (multipart/signed): %.1f s, bob agent peak RSS %s, %s\n' \
  "$(echo "$t1 - $t0" | bc)" "$(hwm "$bpid")" "$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))
print("signature", (c.get("signature") or {}).get("status"))' "$dir/ver.json")"
mem_row "S/MIME verify, multipart/signed text" "$bpid"
rm -f "$dir/text.p7m" "$dir/text.out" "$dir/text.signed"

fresh_agents
t0=$(date +%s.%N)
alice encrypt --scheme smime --to bob@postern.test -o "$dir/text.p7m" "$dir/text.eml"
t1=$(date +%s.%N)
printf 'S/MIME encrypt: %.1f s, alice agent peak RSS %s\n' "$(echo "$t1 - $t0" | bc)" "$(hwm "$apid")"
mem_row "S/MIME encrypt, text" "$apid"
t0=$(date +%s.%N)
bob decrypt -o "$dir/text.out" "$dir/text.p7m" >/dev/null
t1=$(date +%s.%N)
printf 'S/MIME decrypt: %.1f s, bob agent peak RSS %s\n' "$(echo "$t1 - $t0" | bc)" "$(hwm "$bpid")"
mem_row "S/MIME decrypt, text" "$bpid"
round_trip "$dir/text.out"
rm -f "$dir/text.p7m" "$dir/text.out"

# The same bytes as an attachment (application/octet-stream, base64): the
# decrypted entity Postern streams (core/mime/opensink.h).
{
  sed -n '1,/^\r$/p' "$dir/text.eml" | sed '/^Content-Type:/,$d'
  printf 'Content-Type: application/octet-stream; name="blob.bin"\r\n'
  printf 'Content-Transfer-Encoding: base64\r\n\r\n'
  cat "$dir/text.body"
} >"$dir/att.eml"
fresh_agents
t0=$(date +%s.%N)
alice encrypt --scheme smime --to bob@postern.test -o "$dir/att.p7m" "$dir/att.eml"
t1=$(date +%s.%N)
printf 'S/MIME encrypt (attachment): %.1f s, alice agent peak RSS %s\n' "$(echo "$t1 - $t0" | bc)" \
  "$(hwm "$apid")"
mem_row "S/MIME encrypt, attachment" "$apid"
t0=$(date +%s.%N)
bob decrypt -o "$dir/att.out" "$dir/att.p7m" >/dev/null
t1=$(date +%s.%N)
printf 'S/MIME decrypt (attachment): %.1f s, bob agent peak RSS %s\n' "$(echo "$t1 - $t0" | bc)" \
  "$(hwm "$bpid")"
mem_row "S/MIME decrypt, attachment" "$bpid"
round_trip "$dir/att.out"
