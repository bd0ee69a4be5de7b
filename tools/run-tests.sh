#!/usr/bin/env bash
# Sets everything up and runs all of Postern's tests: the unit and
# integration suites in a normal build, again under AddressSanitizer and
# UndefinedBehaviorSanitizer, and the unit tests under valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-debian.sh
tools/build.sh build
tools/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false

status=0
run() { echo "== $*"; "$@" || status=1; }

run meson test -C build --print-errorlogs --num-processes 2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run meson test -C build-asan --print-errorlogs --num-processes 2
run meson test -C build --setup valgrind --suite unit --print-errorlogs --num-processes 2

if [ $status = 0 ]; then echo "all test runs passed"; else echo "some test runs FAILED"; fi
exit $status
