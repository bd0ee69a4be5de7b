#!/usr/bin/env bash
# Runs a unit test under valgrind (meson's 'valgrind' test setup) and judges
# the test's own process only.  GPGME starts gpg through a helper that forks
# and exits at once; forked while another thread of the test runs, that
# helper finds the other threads' memory "definitely lost" (their stacks are
# not in it), and valgrind's --error-exitcode would make it exit 99, which
# GPGME takes for a failed start of gpg.  So each process logs to its own
# file, every process exits as it would, and the test's own log decides.
#
# Without --track-origins: it finds no more errors, only says where an
# uninitialised value came from, and it made the run 1.75 times slower
# (test-smime-store: 60 s against 34 s).  To read a finding, run it again
# with VALGRIND_OPTS=--track-origins=yes.
set -u
# Tests whose case matrices take minutes under valgrind run a part of them
# (test-smime.c `thinned`); the other runs take them whole.
export PST_UNDER_VALGRIND=1
logs=$(mktemp -d "${TMPDIR:-/tmp}/pst-valgrind.XXXXXX")
trap 'rm -rf "$logs"' EXIT
valgrind --log-file="$logs/%p.log" --leak-check=full --errors-for-leak-kinds=definite \
  --suppressions="$(dirname "$0")/valgrind.supp" "$@" &
pid=$!
wait "$pid"
rc=$?
log=$logs/$pid.log
if [ ! -f "$log" ]; then
  echo "valgrind.sh: no log of the test's process ($log)" >&2
  exit 99
fi
if ! grep -q "ERROR SUMMARY: 0 errors" "$log"; then
  cat "$log" >&2
  exit 99
fi
exit "$rc"
