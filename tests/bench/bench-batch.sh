#!/usr/bin/env bash
# Benchmark (not a test): batch sign+encrypt of 4 KiB messages through the
# agent, against the command-line tools run once per message, in one run on
# this machine.  Prints messages per second and the ratios.
#
#   tests/bench/bench-batch.sh [BUILD_DIR]      (default: build)
#   N=1000 TOOL_N=100 JOBS=2 tests/bench/bench-batch.sh
#   ONLY=pgp tests/bench/bench-batch.sh         (the OpenPGP rows alone)
#
# N messages go through `postern batch encrypt`; the per-message tools run on
# TOOL_N of them (their cost per message is constant, so fewer suffice).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
N=${N:-1000}
TOOL_N=${TOOL_N:-100}
JOBS=${JOBS:-$(nproc)}
ONLY=${ONLY:-all}
export POSTERN_AGENT="$build/agent/posternd"
P="$build/cli/postern"

dir=$(mktemp -d /tmp/pst-bench.XXXXXX)
cleanup() {
  "$P" --home "$dir/home" agent stop >/dev/null 2>&1 || true
  "$P" --home "$dir/home-ec" agent stop >/dev/null 2>&1 || true
  "$root/tests/harness/gpg.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
touch "$dir/env"
"$root/tests/harness/gpg.sh" init "$dir" >/dev/null
"$root/tests/harness/smime.sh" init "$dir" >/dev/null
# shellcheck source=/dev/null
. "$dir/env"
export GNUPGHOME="$GNUPGHOME_ALICE"
pst() { "$P" --home "$dir/home" "$@"; }
if [ "$ONLY" != pgp ]; then
pst keys import --trust-anchor "$SMIME_CA" >/dev/null
pst keys import --passphrase-fd 3 "$ALICE_P12" 3<<< "$SMIME_PASS" >/dev/null
pst keys import "$BOB_CERT" >/dev/null
fi

mkdir -p "$dir/in" "$dir/out-smime" "$dir/out-pgp" "$dir/tool"
body=$(head -c 3000 /dev/urandom | base64 -w 76)
for i in $(seq 1 "$N"); do
  printf 'From: alice@postern.test\r\nTo: bob@postern.test\r\nSubject: bench %d\r\nDate: %s\r\n\r\n%s\r\n' \
    "$i" "$(date -R)" "$body" > "$dir/in/m$i.eml"
done
size=$(stat -c %s "$dir/in/m1.eml")

now() { date +%s.%N; }
rate() { python3 -c "import sys; n, t = float(sys.argv[1]), float(sys.argv[2]); print(f'{n / t:.1f}')" "$1" "$2"; }
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$2"; }

echo "machine: $(nproc) cores; message size $size bytes; N=$N (tools: $TOOL_N); jobs $JOBS"

if [ "$ONLY" != pgp ]; then
# --- S/MIME ---
t0=$(now)
for i in $(seq 1 "$TOOL_N"); do
  openssl cms -sign -signer "$ALICE_CERT" -inkey "$ALICE_KEY" -md sha256 -in "$dir/in/m$i.eml" 2>/dev/null \
    | openssl cms -encrypt -aes256 -out "$dir/tool/s$i" "$BOB_CERT" 2>/dev/null
done
t1=$(now)
cms_rate=$(rate "$TOOL_N" "$(elapsed "$t0" "$t1")")
pst agent start >/dev/null
t0=$(now)
pst batch encrypt --sign --scheme smime --jobs "$JOBS" --out-dir "$dir/out-smime" --to bob@postern.test "$dir"/in/*.eml >/dev/null
t1=$(now)
pst_smime_rate=$(rate "$N" "$(elapsed "$t0" "$t1")")
echo "S/MIME sign+encrypt, RSA-3072 signer: openssl cms per message $cms_rate msg/s; postern batch $pst_smime_rate msg/s;" \
  "ratio $(python3 -c "print(f'{$pst_smime_rate / $cms_rate:.1f}x')") (target >= 100x)"

# --- S/MIME with an EC P-256 signer (bob -> alice): the same path, where
# the signature no longer dominates (RSA-3072 signs ~480/s per core here). ---
mkdir -p "$dir/in-ec" "$dir/out-ec"
for i in $(seq 1 "$N"); do
  sed -e 's/^From: alice@/From: bob@/' -e 's/^To: bob@/To: alice@/' "$dir/in/m$i.eml" > "$dir/in-ec/m$i.eml"
done
pec() { "$P" --home "$dir/home-ec" "$@"; }
pec keys import --trust-anchor "$SMIME_CA" >/dev/null
pec keys import --passphrase-fd 3 "$BOB_P12" 3<<< "$SMIME_PASS" >/dev/null
pec keys import "$ALICE_CERT" >/dev/null
t0=$(now)
for i in $(seq 1 "$TOOL_N"); do
  openssl cms -sign -signer "$BOB_CERT" -inkey "$BOB_KEY" -md sha256 -in "$dir/in-ec/m$i.eml" 2>/dev/null \
    | openssl cms -encrypt -aes256 -out "$dir/tool/e$i" "$ALICE_CERT" 2>/dev/null
done
t1=$(now)
cms_ec_rate=$(rate "$TOOL_N" "$(elapsed "$t0" "$t1")")
pec agent start >/dev/null
t0=$(now)
pec batch encrypt --sign --scheme smime --jobs "$JOBS" --out-dir "$dir/out-ec" --to alice@postern.test "$dir"/in-ec/*.eml >/dev/null
t1=$(now)
pst_ec_rate=$(rate "$N" "$(elapsed "$t0" "$t1")")
pec agent stop >/dev/null 2>&1 || true
echo "S/MIME sign+encrypt, EC P-256 signer: openssl cms per message $cms_ec_rate msg/s; postern batch $pst_ec_rate msg/s;" \
  "ratio $(python3 -c "print(f'{$pst_ec_rate / $cms_ec_rate:.1f}x')")"

fi

# --- OpenPGP: gpg once per message (one after another, and JOBS at a time),
# then the batch, back to back.  The batch signs and encrypts in the agent's
# process with gpg-agent's signatures (core/crypto/pgp-direct.c). ---
gpg_one() {
  gpg --batch --no-tty --quiet --trust-model always --armor --sign --encrypt -u alice@postern.test \
    -r bob@postern.test -r alice@postern.test -o "$dir/tool/p$1" "$dir/in/m$1.eml"
}
[ "$ONLY" = pgp ] && pst agent start >/dev/null
t0=$(now)
for i in $(seq 1 "$TOOL_N"); do gpg_one "$i"; done
t1=$(now)
gpg_rate=$(rate "$TOOL_N" "$(elapsed "$t0" "$t1")")
rm -f "$dir"/tool/p*
export -f gpg_one
export dir
t0=$(now)
seq 1 "$TOOL_N" | xargs -P "$JOBS" -I{} bash -c 'gpg_one {}'
t1=$(now)
gpg_par_rate=$(rate "$TOOL_N" "$(elapsed "$t0" "$t1")")
t0=$(now)
pst batch encrypt --sign --scheme pgp --jobs "$JOBS" --out-dir "$dir/out-pgp" --to bob@postern.test "$dir"/in/*.eml >/dev/null
t1=$(now)
pst_pgp_rate=$(rate "$N" "$(elapsed "$t0" "$t1")")
# gpg reads what the batch wrote: decrypted by bob, a Good signature by alice.
sed -n '/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p' "$dir/out-pgp/m$N.eml" | tr -d '\r' \
  | gpg --homedir "$GNUPGHOME_BOB" --batch --no-tty --status-fd 1 --decrypt -o /dev/null 2>/dev/null \
  | grep -q '^\[GNUPG:\] GOODSIG' || { echo "bench-batch: gpg does not verify the batch output" >&2; exit 1; }
echo "OpenPGP sign+encrypt (Ed25519 signer, 2 Cv25519 recipients): gpg per message $gpg_rate msg/s" \
  "($gpg_par_rate msg/s $JOBS at a time); postern batch $pst_pgp_rate msg/s;" \
  "ratio $(python3 -c "print(f'{$pst_pgp_rate / $gpg_rate:.2f}x')") (target >= 1.8x on 2 cores;" \
  "$(python3 -c "print(f'{$pst_pgp_rate / $gpg_par_rate:.2f}x')") against $JOBS gpg at a time)"
