#!/usr/bin/env bash
# Benchmark (not a test): issue 16's table in one run. Runs the benchmarks below one after another on this
# machine, each printing its own lines (kept in $OUT/NAME.log), and at the end the rows they report (lines
# "table|…", lib-bench.sh's table_row) as one Markdown table: the work, Postern's figure, the tools measured side by
# side in the same run, the bound, and the ratios against DESIGN.md §13's targets.
#
#   tests/bench/bench-table.sh [BUILD_DIR]          (default: build; as root: fetch and submit make a namespace)
#   ONLY="fetch submit batch rss" RSS_SIZE=1G OUT=/tmp/bench-table tests/bench/bench-table.sh build
#
#   fetch   bench-fetch.sh   N=1000, fetchmail on TOOL_N=100 (scaled), RESUME_N=20
#   submit  bench-submit.sh  N=200, msmtp on TOOL_N=20 (scaled)
#   batch   bench-batch.sh   N=1000, the per-message tools on TOOL_N=100
#   rss     bench-rss.sh     one message of RSS_SIZE (default 1G) through each path, agent VmHWM
#
# The machine should be otherwise idle: the ratios hold within one run, the absolute figures do not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
ONLY=${ONLY:-fetch submit batch rss}
OUT=${OUT:-$(mktemp -d /tmp/pst-bench-table.XXXXXX)}
mkdir -p "$OUT"

run() {  # NAME ENV... -- SCRIPT
  local name=$1
  shift
  local env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  echo "== $name: $(printf '%s ' "${env[@]}")$1 (load $(cut -d' ' -f1-3 /proc/loadavg))"
  # ONLY is this script's: bench-batch.sh reads its own (which rows).
  if ! env -u SIZE -u ONLY "${env[@]}" "$here/$1" "$build" >"$OUT/$name.log" 2>&1; then
    echo "bench-table: $1 failed; its output:" >&2
    tail -n 30 "$OUT/$name.log" >&2
    exit 1
  fi
  grep -v '^table|' "$OUT/$name.log" | sed 's/^/   /'
}

echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
for b in $ONLY; do
  case $b in
    fetch) run fetch N=1000 TOOL_N=100 TOOLS=fetchmail RESUME_N=20 -- bench-fetch.sh ;;
    submit) run submit N=200 TOOL_N=20 -- bench-submit.sh ;;
    batch) run batch N=1000 TOOL_N=100 -- bench-batch.sh ;;
    rss) run rss "SIZE=${RSS_SIZE:-1G}" -- bench-rss.sh ;;
    *) echo "bench-table: no benchmark $b (fetch, submit, batch, rss)" >&2; exit 2 ;;
  esac
done

echo
echo "| work | Postern | side by side, same run | bound | against the target |"
echo "|---|---|---|---|---|"
for b in $ONLY; do
  grep "^table|" "$OUT/$b.log" | cut -d"|" -f2- | sed "s/|/ | /g; s/^/| /; s/$/ |/" || true
done
echo
echo "(logs in $OUT)"
