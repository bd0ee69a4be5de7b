#!/usr/bin/env bash
# Measurement (not a test): the time one Web Key Directory miss adds to a decision of the policy (issue 13, "the
# added time of one WKD lookup miss"). `postern keys check --no-sign ADDR` (the decision send makes, with its
# lookups) is timed for a recipient without a key:
#   off       [general] wkd = false: no lookup (the baseline)
#   404       the directory answers 404 (a fresh address each time: nothing remembered)
#   timeout   the directory accepts and never answers: the deadline, [general] wkd_timeout (WKD_TIMEOUT, default 5)
#   cached    the same address as an earlier 404 again: the miss is remembered
# against tests/integration/wkd-server.py on port 443 of a loopback address, in a network and mount namespace of
# its own (the names are in a private /etc/hosts bind-mounted there: the system's file is not touched). Needs root.
# Prints the median of N runs (N=5; timeout 3) of each and the added time against the baseline. Never fails on time.
#
#   tests/bench/bench-wkd.sh [BUILD]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
P="$build/cli/postern"
export POSTERN_AGENT="$build/agent/posternd"
N=${N:-5}
WKD_TIMEOUT=${WKD_TIMEOUT:-5}

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "bench-wkd: needs root (unshare --net --mount)" >&2; exit 1; }
  export POSTERN_BENCH_NS=1
  exec unshare --net --mount -- "$BASH" "$0" "$@"
fi
ip link set lo up

dir=$(mktemp -d /tmp/pst-bwkd.XXXXXX)
server=""
cleanup() {
  local h
  for h in "$dir"/home-*; do "$P" --home "$h" agent stop >/dev/null 2>&1 || true; done
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  GNUPGHOME="$dir/gnupg" gpgconf --kill all 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

IP=127.8.4.4
names="openpgpkey.wkd-404.test openpgpkey.wkd-slow.test"
cp /etc/hosts "$dir/hosts"
for n in $names; do echo "$IP $n" >> "$dir/hosts"; done
mount --bind "$dir/hosts" /etc/hosts
(
  cd "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
    -subj "/CN=bench CA (INSECURE)" -days 1 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout s.key -out s.csr -subj /CN=wkd
  printf 'subjectAltName=DNS:openpgpkey.wkd-404.test,DNS:openpgpkey.wkd-slow.test\n' > ext.cnf
  openssl x509 -req -in s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out s.crt
) >"$dir/openssl.log" 2>&1
mkdir -p "$dir/root"
python3 "$root/tests/integration/wkd-server.py" "$IP" 443 "$dir/s.crt" "$dir/s.key" "$dir/s.crt" "$dir/s.key" \
  "$dir/root" "$dir/requests.log" "$dir/ready" 2>/dev/null &
server=$!
for _ in $(seq 100); do [ -s "$dir/ready" ] && break; sleep 0.05; done
[ -s "$dir/ready" ] || { echo "bench-wkd: the server did not start" >&2; exit 1; }

mkdir -m 700 "$dir/gnupg"
export GNUPGHOME="$dir/gnupg"
for w in on off; do
  h="$dir/home-$w"
  mkdir -m 700 "$h"
  printf '[general]\nca_file=%s\nwkd_timeout=%s\nwkd=%s\n' "$dir/ca.crt" "$WKD_TIMEOUT" \
    "$([ $w = on ] && echo true || echo false)" > "$h/config"
  "$P" --home "$h" account add main --address me@bench.test --user me --smtp smtps://127.0.0.1:1 \
    --pop3 pop3s://127.0.0.1:2 --password-command true >/dev/null
  "$P" --home "$h" keys list >/dev/null   # the agent is up
done

# ms of one keys check
one() { local t0 t1; t0=$(date +%s%N); "$P" --home "$dir/home-$1" keys check --no-sign "$2" >/dev/null 2>&1 || true
        t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
run() { # KIND HOME ADDRESS-PREFIX COUNT
  local i
  for i in $(seq "$4"); do one "$2" "$3$i$RANDOM@${5}"; done | median
}
one on warm@wkd-404.test >/dev/null; one off warm@wkd-404.test >/dev/null
off=$(run off off x 5 wkd-404.test)
miss=$(run 404 on m "$N" wkd-404.test)
slow=$(run timeout on s 3 wkd-slow.test)
one on same@wkd-404.test >/dev/null
cached=$(for _ in $(seq "$N"); do one on same@wkd-404.test; done | median)

echo "keys check --no-sign for one recipient without a key (median ms; wkd_timeout $WKD_TIMEOUT s)"
printf '%-34s %8s %12s\n' "case" "ms" "added ms"
printf '%-34s %8s %12s\n' "wkd = false (baseline)" "$off" "-"
printf '%-34s %8s %12s\n' "WKD miss: 404" "$miss" "$((miss - off))"
printf '%-34s %8s %12s\n' "WKD miss: no answer (timeout)" "$slow" "$((slow - off))"
printf '%-34s %8s %12s\n' "WKD miss remembered (404 before)" "$cached" "$((cached - off))"
