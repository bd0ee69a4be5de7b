#!/bin/bash
# with-provider.sh CMD [ARGS...]
#
# Runs CMD with a fresh throwaway provider (provider.sh) and GnuPG homes (gpg.sh), the variables of their env file
# exported. On every way out (CMD's exit, failure to start, SIGINT, SIGTERM, SIGHUP) everything is stopped and the
# temporary directory removed — unless POSTERN_KEEP_PROVIDER=1, then the processes are still stopped but the
# directory (logs, Maildirs, env) is kept and its path printed. Exit status: CMD's; 128+N after signal N.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)

# Short: gpg-agent's socket paths live under it (see gpg.sh).
dir=$(mktemp -d /tmp/pst.XXXXXX)
child=""
cleaned=""

# shellcheck disable=SC2317 # called from traps
cleanup() {
	[ -z "$cleaned" ] || return 0
	cleaned=1
	"$here/gpg.sh" stop "$dir" || true
	"$here/provider.sh" stop "$dir" || true
	if [ "${POSTERN_KEEP_PROVIDER:-}" = 1 ]; then
		echo "with-provider.sh: provider kept in $dir (processes stopped)" >&2
	else
		rm -rf "$dir"
	fi
}

# CMD runs in its own session (setsid), so that we can stop it and everything it started as one process group,
# even when CMD is a script waiting on a child. Bash also makes a background command ignore SIGINT, so a Ctrl-C
# reaches only us and we pass it on as SIGTERM.
# shellcheck disable=SC2317 # called from traps
on_signal() {  # SIGNAME NUMBER
	trap '' INT TERM HUP
	echo "with-provider.sh: got SIG$1, stopping" >&2
	if [ -n "$child" ]; then
		kill -TERM -- "-$child" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 -- "-$child" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$child" 2>/dev/null || true
	fi
	cleanup
	exit $((128 + $2))
}
trap cleanup EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

"$here/provider.sh" start "$dir"
"$here/gpg.sh" init "$dir"
"$here/smime.sh" init "$dir"
# shellcheck source=tests/harness/debian-python.sh
. "$here/debian-python.sh" "$dir/.debian-python"
set -a
# shellcheck source=/dev/null
. "$dir/env"
set +a

# <&0: keep our stdin (a background command would otherwise get /dev/null).
setsid "$@" <&0 &
child=$!
status=0
wait "$child" || status=$?
child=""
exit "$status"
