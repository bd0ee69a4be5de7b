#!/usr/bin/env bash
# Benchmark (not a test): peak RSS of the agent while it encrypts and then
# decrypts one large PGP/MIME message (DESIGN.md §13: < 64 MiB for 1 GiB).
#
#   tests/bench/bench-rss.sh [BUILD_DIR]        (default: build)
#   SIZE=100M tests/bench/bench-rss.sh /tmp/build
#
# Alice's agent encrypts to bob (postern encrypt --to bob@postern.test -o),
# bob's agent (a home and GnuPG home of its own) decrypts (postern decrypt
# -o); each agent's VmHWM is read from /proc after its operation.  The
# message is an attachment-like entity (application/octet-stream, base64),
# the kind the agent streams (see core/mime/pgpstream.h); it is generated
# on the fly, never held in memory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
SIZE=${SIZE:-1G}
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

{
  printf 'From: Alice <alice@postern.test>\r\nTo: Bob <bob@postern.test>\r\n'
  printf 'Subject: a large attachment\r\nDate: %s\r\nMessage-ID: <rss-bench@postern.test>\r\n' \
    "$(LC_ALL=C date -R)"
  printf 'MIME-Version: 1.0\r\nContent-Type: application/octet-stream; name="blob.bin"\r\n'
  printf 'Content-Transfer-Encoding: base64\r\n\r\n'
} >"$dir/msg.hdr"
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
rm "$dir/msg.eml"

t0=$(date +%s.%N)
bob decrypt -o "$dir/msg.out" "$dir/msg.pgp"
t1=$(date +%s.%N)
printf 'decrypt: %.1f s, bob agent peak RSS %s\n' "$(echo "$t1 - $t0" | bc)" "$(hwm "$bpid")"
rm "$dir/msg.pgp"

# The decrypted body (after the header section) is the original body, CRLF.
body_sum=$(tr -d '\r' <"$dir/msg.body" | sha256sum | cut -d' ' -f1)
out_sum=$(sed '1,/^\r\?$/d' "$dir/msg.out" | tr -d '\r' | sha256sum | cut -d' ' -f1)
if [ "$body_sum" = "$out_sum" ]; then
  echo "round trip: ok (sha256 $body_sum)"
else
  echo "round trip: FAILED ($body_sum != $out_sum)"; exit 1
fi
