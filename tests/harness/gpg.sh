#!/bin/bash
# gpg.sh init DIR | stop DIR
#
# init: two throwaway GnuPG homes, DIR/gnupg-alice and DIR/gnupg-bob, each with a fresh passphrase-less key
# (ed25519 signing + cv25519 encryption subkey: generated in milliseconds) and the other's public key imported.
# The imported keys are not certified: they are "known", as DESIGN.md §4 says, but gpg's validity is unknown.
# Appends GNUPGHOME_ALICE, GNUPGHOME_BOB, ALICE_FPR, BOB_FPR (primary key fingerprints), ALICE_PGP_PUBKEY,
# BOB_PGP_PUBKEY (exported public keys, binary) to DIR/env when DIR/env exists.
# stop: kills the gpg-agents (and any other GnuPG daemons) of both homes and waits until they are gone.
#
# Socket paths: with no /run/user/$UID, gpg-agent puts its sockets (S.gpg-agent.browser is the longest name) in
# the home itself, and a Unix socket path is at most 107 bytes. Keep DIR short (mktemp -d /tmp/x.XXXXXX).
set -euo pipefail

die() { echo "gpg.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || { echo "usage: $0 init|stop DIR" >&2; exit 2; }
cmd=$1
D=$(cd "$2" && pwd) || die "no such directory: $2"

g() {  # HOME ARGS... — gpg, never prompting
	local h=$1; shift
	gpg --homedir "$h" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"
}

do_init() {
	local who name h fpr
	local longest="$D/gnupg-alice/S.gpg-agent.browser"
	[ ${#longest} -le 107 ] || die "$D is too long for gpg-agent's socket paths (${#longest} > 107 bytes)"
	for who in alice bob; do
		h=$D/gnupg-$who
		mkdir -m 700 "$h"
		name=${who^}
		g "$h" --quick-gen-key "$name <$who@postern.test>" ed25519 sign,cert never
		fpr=$(g "$h" --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
		g "$h" --quick-add-key "$fpr" cv25519 encr never
		g "$h" --export "$who@postern.test" >"$D/gnupg-$who.pub"
		eval "${who^^}_FPR=$fpr"
	done
	g "$D/gnupg-alice" --import "$D/gnupg-bob.pub" 2>/dev/null
	g "$D/gnupg-bob" --import "$D/gnupg-alice.pub" 2>/dev/null
	if [ -f "$D/env" ]; then
		printf 'export %s=%q\n' GNUPGHOME_ALICE "$D/gnupg-alice" GNUPGHOME_BOB "$D/gnupg-bob" \
			ALICE_FPR "$ALICE_FPR" BOB_FPR "$BOB_FPR" \
			ALICE_PGP_PUBKEY "$D/gnupg-alice.pub" BOB_PGP_PUBKEY "$D/gnupg-bob.pub" >>"$D/env"
	fi
}

# gpg-agent runs as "gpg-agent --homedir H --use-standard-socket --daemon": find it by that exact argument.
home_pids() {  # HOME -> pids of GnuPG daemons started for it
	local p
	for p in $(pgrep -x 'gpg-agent|dirmngr|scdaemon|keyboxd' || true); do
		# (2> first: a daemon gone meanwhile fails the < redirection, said on stderr.)
		tr '\0' '\n' 2>/dev/null <"/proc/$p/cmdline" | grep -qxF "$1" && echo "$p"
	done
	return 0
}

do_stop() {
	local who h i pids
	for who in alice bob; do
		h=$D/gnupg-$who
		[ -d "$h" ] || continue
		gpgconf --homedir "$h" --kill all 2>/dev/null || true
		# --kill asks politely and returns at once; wait (bounded), then insist.
		for i in $(seq 50); do
			pids=$(home_pids "$h")
			[ -z "$pids" ] && break
			# shellcheck disable=SC2086 # a list of pids
			[ "$i" -lt 30 ] || kill -KILL $pids 2>/dev/null || true
			sleep 0.05
		done
	done
}

case $cmd in
init) do_init ;;
stop) do_stop ;;
*) die "unknown command $cmd" ;;
esac
