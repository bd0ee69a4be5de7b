#!/usr/bin/env bash
# The command line links only what every command needs (GLib, GIO, GObject,
# json-glib): libetpan, libxml2 and libsecret, and what they bring,
# were most of the start-up of every `postern` (docs/architecture.md), and
# so of each message a mail program hands to `postern sendmail`.  The agent
# parses for it (message.addresses); `account password` loads libsecret
# itself (cli/secret-store.c).  Not a timing: the libraries the binary names.
set -euo pipefail
needed=$(readelf -d "$POSTERN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "$needed" | sed 's/^/# needs /'
status=0
for lib in libetpan libxml2 libsecret libgpgme libcrypto libssl libsqlite3 libgsasl libcurl libgnutls; do
  if echo "$needed" | grep -q "^$lib[.-]"; then
    echo "not ok - postern links $lib"
    status=1
  else
    echo "ok - postern does not link $lib"
  fi
done
exit $status
