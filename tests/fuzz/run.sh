#!/usr/bin/env bash
# Runs every fuzz target of BUILD_DIR (configured with -Dfuzzing=true) for
# SECONDS each, starting from a copy of its seed corpus in tests/fuzz/corpus
# (the checked-in corpus is never written to).  Prints one line per target;
# fails if any target crashed, leaked, timed out or broke an invariant, and
# then keeps the input that did it in BUILD_DIR/fuzz-artifacts.
#   tests/fuzz/run.sh build-fuzz 20
set -euo pipefail

build=${1:?usage: run.sh BUILD_DIR SECONDS_PER_TARGET}
seconds=${2:?usage: run.sh BUILD_DIR SECONDS_PER_TARGET}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd)
targets=(mime verdict smime smime-read opensink opensink-parts cms-stream partsplit text smtp-reply pop3-reply smtp-server pop3-server rpc-frame workerframe)
jobs=$(nproc 2>/dev/null || echo 1)

work=$(mktemp -d "${TMPDIR:-/tmp}/postern-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The verdict and smime targets make their throwaway GNUPGHOME and S/MIME
# store under TMPDIR: inside $work they go away even when the target dies
# without cleaning up.
export TMPDIR=$work
# UBSan only reports by default; a fuzz run must stop at the first finding.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

# Runs one target; its log and crash inputs stay in $work/$t.
run_one() {
  local t=$1 exe=$build/tests/fuzz/fuzz-$1 dir=$work/$1
  mkdir -p "$dir/corpus"
  cp "$here/corpus/$t/"* "$dir/corpus/"
  if [ ! -x "$exe" ]; then
    echo "not built: $exe" >"$dir/log"
    echo 1 >"$dir/rc"
    return
  fi
  local rc=0
  # A fixed seed (FUZZ_SEED to change it) makes the test command's run
  # repeatable: a finding there is reproduced by running it again.
  "$exe" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  echo $rc >"$dir/rc"
}

running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait

status=0
for t in "${targets[@]}"; do
  dir=$work/$t
  rc=$(cat "$dir/rc")
  execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$dir/log")
  secs=$(awk '/^Done [0-9]+ runs in/ {print $5}' "$dir/log")
  last=$(grep -E '^#[0-9]+[[:space:]]+(pulse|NEW|REDUCE|DONE|INITED)' "$dir/log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  rate=$([ -n "$secs" ] && [ "$secs" -gt 0 ] && echo $(( ${execs:-0} / secs )) || echo "?")
  if [ "$rc" = 0 ]; then
    printf 'fuzz-%-11s ok    %8s execs (%s/s)  cov %s  ft %s  corpus %s\n' \
      "$t" "${execs:-?}" "$rate" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  else
    status=1
    printf 'fuzz-%-11s FAIL  exit %s after %s execs\n' "$t" "$rc" "${execs:-?}"
    mkdir -p "$build/fuzz-artifacts"
    for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
      [ -e "$a" ] || continue
      cp "$a" "$build/fuzz-artifacts/$t-$(basename "$a")"
      echo "  input kept: $build/fuzz-artifacts/$t-$(basename "$a")" \
           "(reproduce: $build/tests/fuzz/fuzz-$t FILE)"
    done
    grep -E 'invariant violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|CRITICAL|WARNING \*\*' \
      "$dir/log" | head -n 5 | sed 's/^/  /' || true
    grep -E '^ +#[0-9]+ ' "$dir/log" | grep -v -E 'libFuzzer|fuzzer::|libc\.so|_start|__sanitizer|__interceptor' \
      | head -n 8 | sed 's/^/  /' || true
  fi
done
exit $status
