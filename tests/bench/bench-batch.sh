#!/usr/bin/env bash
# Benchmark (not a test): batch sign+encrypt of 4 KiB messages through the
# agent, against the command-line tools run once per message, in one run on
# this machine.  Prints messages per second and the ratios.
#
#   tests/bench/bench-batch.sh [BUILD_DIR]      (default: build)
#   N=1000 TOOL_N=100 JOBS=2 tests/bench/bench-batch.sh
#   ONLY=pgp tests/bench/bench-batch.sh         (the OpenPGP rows alone)
#   ONLY=rsa2048 tests/bench/bench-batch.sh     (the RSA-2048 S/MIME row alone)
#   ONLY=smime tests/bench/bench-batch.sh       (the other S/MIME rows alone)
#   POSTERN_AGENT=WRAPPER BATCH_WRAP='perf record -g -o F --' ...  (to profile
#     the agent, through a wrapper script that runs perf on posternd, and the CLI)
#
# The RSA-2048 row has its bound measured in the same run: `openssl speed
# -seconds SPEED_S rsa2048` (one process, one core) signs/s times JOBS, as
# each message costs one RSA-2048 signature and everything else is meant to
# be small beside it.  SPEED_S defaults to 3.
#
# The working files go under TMPDIR (default /tmp).  On a file system without
# a journal, ext4 skips inodes freed in the last seconds when it makes a new
# file, one at a time: under a /tmp where other test runs delete thousands of
# files, every file made costs the CLI ~0.5 ms of kernel time.  TMPDIR=/var/tmp
# (or any quiet directory) measures Postern rather than that.
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
# One row of issue 16's table, as lib-bench.sh's table_row (bench-table.sh collects them).
table_row() { printf 'table|%s|%s|%s|%s|%s\n' "$@"; }
SPEED_S=${SPEED_S:-3}
export POSTERN_AGENT="${POSTERN_AGENT:-$build/agent/posternd}"   # a wrapper (perf record) may stand in
P="$build/cli/postern"

dir=$(mktemp -d "${TMPDIR:-/tmp}/pst-bench.XXXXXX")
cleanup() {
  "$P" --home "$dir/home" agent stop >/dev/null 2>&1 || true
  "$P" --home "$dir/home-ec" agent stop >/dev/null 2>&1 || true
  "$P" --home "$dir/home-rsa2048" agent stop >/dev/null 2>&1 || true
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
if [ "$ONLY" = all ] || [ "$ONLY" = smime ]; then
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

echo "machine: $(nproc) cores; message size $size bytes; N=$N (tools: $TOOL_N); jobs $JOBS; in $dir"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- S/MIME with an RSA-2048 signer (grace -> alice), against its bound:
# one RSA-2048 signature per message, JOBS signing at once. ---
if [ "$ONLY" = all ] || [ "$ONLY" = rsa2048 ]; then
echo "load average before the RSA-2048 row: $(loadavg)"
sign_s=$(openssl speed -seconds "$SPEED_S" rsa2048 2>/dev/null | awk '$1 == "rsa" && $2 == "2048" {print $6}')
[ -n "$sign_s" ] || { echo "bench-batch: cannot read openssl speed's sign/s" >&2; exit 1; }
bound=$(python3 -c "import sys; print(f'{float(sys.argv[1]) * int(sys.argv[2]):.1f}')" "$sign_s" "$JOBS")
mkdir -p "$dir/in-rsa" "$dir/out-rsa"
for i in $(seq 1 "$N"); do
  sed -e 's/^From: alice@/From: grace@/' -e 's/^To: bob@/To: alice@/' "$dir/in/m$i.eml" > "$dir/in-rsa/m$i.eml"
done
prs() { "$P" --home "$dir/home-rsa2048" "$@"; }
prs keys import --trust-anchor "$SMIME_CA" >/dev/null
prs keys import --passphrase-fd 3 "$GRACE_P12" 3<<< "$SMIME_PASS" >/dev/null
prs keys import "$ALICE_CERT" >/dev/null
t0=$(now)
for i in $(seq 1 "$TOOL_N"); do
  openssl cms -sign -signer "$GRACE_CERT" -inkey "$GRACE_KEY" -md sha256 -in "$dir/in-rsa/m$i.eml" 2>/dev/null \
    | openssl cms -encrypt -aes256 -out "$dir/tool/r$i" "$ALICE_CERT" 2>/dev/null
done
t1=$(now)
cms_rsa_rate=$(rate "$TOOL_N" "$(elapsed "$t0" "$t1")")
prs agent start >/dev/null
# CPU seconds (user + system) the agent has used so far, from /proc.
apid=$(prs --json agent status | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
agent_cpu() { python3 -c "import os, sys; f = open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')', 1)[1].split(); \
print((int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK'))" "$apid"; }
a0=$(agent_cpu)
python3 "$here/thread-time.py" "$apid" "$dir/threads" &
sampler=$!
t0=$(now)
# shellcheck disable=SC2086 # BATCH_WRAP: a command line to profile the CLI with (perf record …)
/usr/bin/time -f '%U %S' -o "$dir/cli-time" ${BATCH_WRAP:-} \
  "$P" --home "$dir/home-rsa2048" batch encrypt --sign --scheme smime --jobs "$JOBS" --out-dir "$dir/out-rsa" \
  --to alice@postern.test "$dir"/in-rsa/*.eml >/dev/null
t1=$(now)
a1=$(agent_cpu)
kill -TERM "$sampler"
wait "$sampler" || true
pst_rsa_rate=$(rate "$N" "$(elapsed "$t0" "$t1")")
cpu_line=$(python3 -c "import sys; n, a, c, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]), \
sum(map(float, open(sys.argv[4]).read().split()[-2:])), float(sys.argv[5]); \
print(f'CPU per message: agent {1000 * a / n:.2f} ms, CLI {1000 * c / n:.2f} ms; one RSA-2048 signature {1000 / s:.2f} ms;' \
      f' with every core busy that is {100 * n / (a + c) / s:.0f}% of the bound (the ceiling whatever else runs)')" \
  "$N" "$a0" "$a1" "$dir/cli-time" "$sign_s")
prs agent stop >/dev/null 2>&1 || true
# openssl cms reads what the batch wrote: alice decrypts, the CA verifies grace's signature.
for i in 1 "$N"; do
  openssl cms -decrypt -recip "$ALICE_CERT" -inkey "$ALICE_KEY" -in "$dir/out-rsa/m$i.eml" 2>/dev/null \
    | openssl cms -verify -CAfile "$SMIME_CA" -out "$dir/tool/rv$i" 2>/dev/null \
    || { echo "bench-batch: openssl cms does not read the batch output m$i.eml" >&2; exit 1; }
done
echo "S/MIME sign+encrypt, RSA-2048 signer: openssl cms per message $cms_rsa_rate msg/s; postern batch $pst_rsa_rate msg/s;" \
  "ratio $(python3 -c "print(f'{$pst_rsa_rate / $cms_rsa_rate:.1f}x')") (target >= 100x);" \
  "bound: openssl speed rsa2048 $sign_s signs/s x $JOBS jobs = $bound/s;" \
  "postern at $(python3 -c "print(f'{100 * $pst_rsa_rate / $bound:.0f}%')") of the bound (target >= 50%);" \
  "load average $(loadavg)"
echo "  $cpu_line"
table_row "S/MIME sign+encrypt, $size B, batch --jobs $JOBS, RSA-2048 signer" "$pst_rsa_rate msg/s" \
  "openssl cms per message $cms_rsa_rate msg/s" "openssl speed rsa2048: $sign_s signs/s x $JOBS = $bound/s" \
  "$(python3 -c "print(f'{100 * $pst_rsa_rate / $bound:.0f}% of the bound (target >= 50%); {$pst_rsa_rate / $cms_rsa_rate:.1f}x openssl cms (target >= 100x)')")"
# The agent threads that served the batch's files (the ones that signed),
# over their lives: on a CPU, waiting for one (other work on the machine),
# asleep (waiting for the CLI's next file).
python3 - "$dir/threads" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
rows = [r for r in rows if r[1] == "client" and float(r[4]) > 0.05]
life = sum(float(r[3]) - float(r[2]) for r in rows)
cpu = sum(float(r[4]) for r in rows)
rq = sum(float(r[5]) for r in rows)
if life > 0:
    print(f"  agent's {len(rows)} working threads: on a CPU {100 * cpu / life:.0f}%, waiting for a CPU"
          f" {100 * rq / life:.0f}%, waiting for the CLI {100 * max(life - cpu - rq, 0) / life:.0f}% of their time")
PY
fi

if [ "$ONLY" = all ] || [ "$ONLY" = smime ]; then
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
table_row "S/MIME sign+encrypt, $size B, batch, RSA-3072 signer" "$pst_smime_rate msg/s" \
  "openssl cms per message $cms_rate msg/s" "" "$(python3 -c "print(f'{$pst_smime_rate / $cms_rate:.1f}x openssl cms')")"

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
table_row "S/MIME sign+encrypt, $size B, batch, EC P-256 signer" "$pst_ec_rate msg/s" \
  "openssl cms per message $cms_ec_rate msg/s" "" "$(python3 -c "print(f'{$pst_ec_rate / $cms_ec_rate:.1f}x openssl cms')")"

fi

case $ONLY in rsa2048|smime) exit 0 ;; esac

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
table_row "OpenPGP sign+encrypt, $size B, batch --jobs $JOBS (Ed25519, 2 Cv25519 recipients)" "$pst_pgp_rate msg/s" \
  "gpg per message $gpg_rate msg/s ($gpg_par_rate msg/s $JOBS at a time)" "" \
  "$(python3 -c "print(f'{$pst_pgp_rate / $gpg_rate:.2f}x gpg per message (target >= 1.8x)')")"
