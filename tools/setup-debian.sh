#!/usr/bin/env bash
# Installs what Postern needs to build and to run its tests on Debian 12,
# non-interactively (run as root).  Safe to run again.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config dpkg-dev gettext
  libglib2.0-dev libjson-glib-dev libgpgme-dev libssl-dev libetpan-dev libsqlite3-dev
  libcmocka-dev libgsasl-dev libsecret-1-dev libgtk-3-dev libxml2-dev libseccomp-dev
  # Web Key Directory lookups (core/net/wkd.c); the GnuTLS flavour, which libetpan-dev needs too
  libcurl4-gnutls-dev
  # the desktop files of the GUI are validated by the tests
  desktop-file-utils appstream
  # the GUI's tests (tests/gui): a real window under Xvfb, driven through AT-SPI from Python
  xvfb xauth dbus-daemon at-spi2-core python3-gi gir1.2-atspi-2.0 gir1.2-gtk-3.0 fonts-dejavu-core dunst
  # run: OpenPGP
  gnupg gpg-agent gpgsm
  # the throwaway provider of the tests and the demo
  dovecot-core dovecot-pop3d dovecot-submissiond postfix openssl ca-certificates
  # test tools
  python3 sqlite3 valgrind util-linux procps iproute2
  # the Secret Service in a throwaway session (tests)
  dbus-bin gnome-keyring libsecret-tools
  # the scan hook (tests run their own clamd with a signature database they write)
  clamav-daemon
  # fuzzing (tests/fuzz): clang and its libFuzzer runtime
  clang libclang-rt-14-dev
  # benchmarks (tests/bench): the clients Postern is measured against; the
  # local bridge's test (test-bridge.sh) drives msmtp, curl and fetchmail
  fetchmail getmail6 msmtp curl
  # postern sendmail under the programs that call sendmail (tests/integration/test-sendmail.sh)
  neomutt git-email libmailtools-perl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks what kind of mail system this is; the tests run their own
  # private instance, so the system one stays unconfigured.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi
