#!/usr/bin/env bash
# Measurement (not a test): `postern keys check` for 100 recipients whose keys are all local (issue 13), against
# 1 recipient, in one run. Each recipient's OpenPGP key is in the agent's GnuPG home (imported: source imported)
# and, for a second set, learned from an Autocrypt header (source autocrypt: the recommendation reads the
# peer table too). Prints the median of N runs (N=5) of each, and the time per recipient. Never fails on time.
#
#   tests/bench/bench-keys-check.sh [BUILD]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
P="$build/cli/postern"
export POSTERN_AGENT="$build/agent/posternd"
N=${N:-5}
R=${R:-100}

dir=$(mktemp -d /tmp/pst-bkc.XXXXXX)
cleanup() {
  "$P" --home "$dir/home" agent stop >/dev/null 2>&1 || true
  for g in "$dir"/gnupg*; do GNUPGHOME="$g" gpgconf --kill all 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
export GNUPGHOME="$dir/gnupg"
mkdir -m 700 "$GNUPGHOME" "$dir/gnupg-peers"
pst() { "$P" --home "$dir/home" "$@"; }

echo "# making $R recipient keys"
for i in $(seq 1 "$R"); do
  gpg --homedir "$dir/gnupg-peers" --batch --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "r$i@bench.test" future-default default never 2>/dev/null
done
gpg --homedir "$dir/gnupg-peers" --batch --armor --export > "$dir/peers.asc"
printf 'x\n' > "$dir/pass"
pst account add main --address me@bench.test --user me --smtp smtp://127.0.0.1:1 \
  --pop3 pop3s://127.0.0.1:1 --password-command "cat $dir/pass" >/dev/null
pst keys generate me@bench.test --no-passphrase >/dev/null
gpg --batch --armor --export me@bench.test > "$dir/me.asc"
pst keys import "$dir/peers.asc" >/dev/null
recipients=$(seq 1 "$R" | sed 's/^/r/; s/$/@bench.test/' | tr '\n' ' ')

# median of N runs of "$@", in ms; with COLD=1 the agent's key caches are
# emptied before each run (a keys import does that; not timed).
median() {
  local t=() i s e
  for i in $(seq 1 "$N"); do
    [ "${COLD:-0}" = 0 ] || pst keys import "$dir/me.asc" >/dev/null
    s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N)
    t+=($(( (e - s) / 1000000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (N + 1) / 2 ))p"
}
# The first call warms the agent (it starts on demand).
pst keys check r1@bench.test >/dev/null
one=$(median pst keys check r1@bench.test)
# shellcheck disable=SC2086
all=$(median pst keys check $recipients)
one_cold=$(COLD=1 median pst keys check r1@bench.test)
# shellcheck disable=SC2086
all_cold=$(COLD=1 median pst keys check $recipients)
# shellcheck disable=SC2086
pst --json keys check $recipients | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["will_encrypt"] and len(d["recipients"]) == int(sys.argv[1]), d["refused"]' "$R"
row() { printf '%-52s %8s ms  (%s ms per recipient beyond the first)\n' "$1" "$3" \
  "$(python3 -c "print(round(($3 - $2) / max($R - 1, 1), 2))")"; }
printf '%-52s %8s ms\n' "keys check, 1 recipient, caches warm" "$one"
row "keys check, $R recipients, all local, caches warm" "$one" "$all"
printf '%-52s %8s ms\n' "keys check, 1 recipient, caches empty" "$one_cold"
row "keys check, $R recipients, all local, caches empty" "$one_cold" "$all_cold"
