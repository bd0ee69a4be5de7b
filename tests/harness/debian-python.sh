# shellcheck shell=bash
# debian-python.sh DIR — sourced: puts DIR/python3, a link to Debian's
# /usr/bin/python3, first in PATH.  The tests run python3 hundreds of times
# (small servers, message rewriting), and a pyenv shim found first in PATH
# costs 0.3 s a start against Debian's 0.03 s (measured on the CI machine:
# a third of test-pgp-batch's time); Debian's also has the modules
# tools/setup-debian.sh installs (gi, ssl).  Nothing changes where python3
# already is Debian's or where there is none.
# Compared by what the links lead to: a second caller (lib.sh under
# with-provider.sh) finds the first one's link and adds none.
if [ -x /usr/bin/python3 ] \
   && [ "$(readlink -f "$(command -v python3 || echo none)")" != "$(readlink -f /usr/bin/python3)" ]; then
	mkdir -p "$1"
	ln -sf /usr/bin/python3 "$1/python3"
	export PATH="$1:$PATH"
fi
