#!/usr/bin/env bash
# The translations.  po/POTFILES names every source file with a marked
# string; xgettext reads the GtkBuilder .ui files; po/de.po translates every
# message of a template made now from the sources (so a new string fails
# here until it is translated: run tools/update-po.sh, fill in po/de.po),
# with valid formats and no message cut at a format macro; the build
# compiles it and meson install puts it under share/locale.  Then the
# programs: under LANGUAGE=de postern speaks German, run from the build tree
# and installed (built for a prefix in this test's temporary directory),
# in the CLI's strings and in core's.  Needs no provider.
#   BUILD_DIR=... POSTERN=... POSTERND=... test-i18n.sh
source "$(dirname "$0")/lib.sh"

: "${BUILD_DIR:?set BUILD_DIR to the meson build directory}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
po="$WORK/po"

# Prints the msgids (joined when wrapped) of the PO file on standard input.
msgids() {
  awk '/^msgid(_plural)? "/ { s = $0; sub(/^msgid(_plural)? /, "", s); on = 1; next }
       /^"/ && on { s = substr(s, 1, length(s) - 1) substr($0, 2); next }
       on { if (s != "\"\"") print "  " s; on = 0 }
       END { if (on && s != "\"\"") print "  " s }'
}
show() { # show TITLE FILE: the file indented, when not empty
  [ -s "$2" ] || return 0
  echo "# $1"; sed 's/^/#   /' "$2"
}

"$SRC/tools/update-po.sh" --out "$po" > "$WORK/update-po.log" 2>&1 || true

potfiles_complete() {
  grep -v '^#' "$SRC/po/POTFILES" | LC_ALL=C sort | diff - "$po/POTFILES" > "$WORK/potfiles.diff" && return 0
  echo "# po/POTFILES differs from the files with marked strings ('>' missing, '<' gone); tools/update-po.sh fixes it:"
  sed 's/^/#   /' "$WORK/potfiles.diff"
  return 1
}
check "po/POTFILES lists every file with marked strings, and only files that exist" potfiles_complete

ui_read() {
  local ui n refs bad=0
  for ui in $(grep '\.ui$' "$po/POTFILES"); do
    n=$(grep -o 'translatable="yes"' "$SRC/$ui" | wc -l)
    refs=$(grep '^#:' "$po/postern.pot" | grep -o "$ui:[0-9]*" | wc -l)
    if [ "$n" != "$refs" ]; then
      echo "# $ui: $n translatable strings, $refs in the template"; bad=1
    fi
  done
  [ $bad = 0 ] && grep -q '\.ui$' "$po/POTFILES"
}
check "xgettext reads every translatable string of the .ui files (GtkBuilder)" ui_read

not_cut() {
  msgids < "$po/postern.pot" | grep -E '[^%](%%)*%"$' > "$WORK/cut" || true
  show 'msgids cut at a format macro xgettext cannot expand (G_GINT64_FORMAT...): use PRId64, or %lld and a (long long) cast' "$WORK/cut"
  [ ! -s "$WORK/cut" ]
}
check "no msgid is cut at a format macro (the program would look up a longer one)" not_cut

committed() {
  local rc=0
  msgfmt --check --statistics -o "$WORK/de.mo" "$SRC/po/de.po" > "$WORK/msgfmt.log" 2>&1 || rc=$?
  sed 's/^/# po\/de.po: /' "$WORK/msgfmt.log"
  return $rc
}
check "po/de.po as committed: msgfmt --check passes (formats, plural forms, header)" committed

complete() {
  msgattrib --untranslated --no-obsolete "$po/de.po" | msgids > "$WORK/untranslated"
  msgattrib --only-fuzzy --no-obsolete "$po/de.po" | msgids > "$WORK/fuzzy"
  show "untranslated in po/de.po (run tools/update-po.sh, then translate these):" "$WORK/untranslated"
  show "fuzzy in po/de.po (check each, then remove its '#, fuzzy'):" "$WORK/fuzzy"
  [ ! -s "$WORK/untranslated" ] && [ ! -s "$WORK/fuzzy" ] && msgfmt --check -o /dev/null "$po/de.po"
}
check "po/de.po translates every message of the current sources, formats valid, nothing fuzzy" complete

mo="$BUILD_DIR/po/de/LC_MESSAGES/postern.mo"
check "the build compiled po/de.po into po/de/LC_MESSAGES/postern.mo, as it is now" bash -c \
  '[ -f "$1" ] && cmp -s <(msgunfmt "$1") <(msgunfmt "$2")' _ "$mo" "$WORK/de.mo"

read -r prefix localedir < <(meson introspect "$BUILD_DIR" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["localedir"])')
check "meson install puts it in $localedir/de/LC_MESSAGES/postern.mo" bash -c \
  'meson install -C "$1" --destdir "$2" --no-rebuild --tags i18n --quiet >/dev/null && cmp -s "$3" "$2$4"' \
  _ "$BUILD_DIR" "$WORK/dest" "$mo" "$prefix/$localedir/de/LC_MESSAGES/postern.mo"

# glibc ignores LANGUAGE in the C locale, not in C.UTF-8.
mkdir -p "$WORK/locale/de/LC_MESSAGES"
cp "$WORK/de.mo" "$WORK/locale/de/LC_MESSAGES/postern.mo"
de() { LC_ALL=C.UTF-8 LANGUAGE=de TEXTDOMAINDIR="$WORK/locale" "$@"; }
lookup() { # lookup MSGID EXPECTED
  local got; got=$(de gettext -d postern -- "$1")
  [ "$got" = "$2" ] || { echo "# '$1' gave '$got', not '$2'"; return 1; }
}
key_strings() { lookup Fetch Abrufen && lookup Compose Verfassen && lookup Send Senden; }
check "gettext -d postern finds the German: Fetch, Compose, Send" key_strings
plurals() {
  local one=$'%u file done\n' many=$'%u files done\n'   # $(...) drops the newline again
  [ "$(de ngettext -d postern "$one" "$many" 1)" = "%u Datei erledigt" ] &&
    [ "$(de ngettext -d postern "$one" "$many" 3)" = "%u Dateien erledigt" ]
}
check "… and the plural forms: 1 Datei, 3 Dateien" plurals

# The programs themselves.  Run from a build tree, postern reads the
# catalogues meson wrote into the tree's po/ (pst_paths_locale_dir);
# installed, those under the LOCALEDIR compiled into it.  For the second, a
# postern is built for a prefix under $WORK, its catalogue installed there
# by meson install and the program copied there (its libraries are static:
# a copy is what meson install would do).
speaks_german() { # speaks_german POSTERN MSGID STREAM ARGS...: POSTERN prints the German of MSGID
  local bin=$1 msgid=$2 stream=$3 german out; shift 3
  german=$(de gettext -d postern -- "$msgid")
  if [ "$stream" = stderr ]; then
    out=$(env -u POSTERN_AGENT PATH=/usr/bin:/bin LC_ALL=C.UTF-8 LANGUAGE=de "$bin" "$@" 2>&1 >/dev/null || true)
  else
    out=$(env -u POSTERN_AGENT PATH=/usr/bin:/bin LC_ALL=C.UTF-8 LANGUAGE=de "$bin" "$@" 2>/dev/null || true)
  fi
  [ "$german" != "$msgid" ] && grep -qF -- "$german" <<<"$out" && ! grep -qF -- "$msgid" <<<"$out" && return 0
  echo "# expected '$german' in:"; sed 's/^/#   /' <<<"$out"
  return 1
}
check "LANGUAGE=de postern --help, from the build tree: German" \
  speaks_german "$POSTERN" "Commands:" stdout --help

# The postern for the prefix is a normal build whatever the build under
# test is: in the sanitizer build's run it would be the normal run's again,
# a whole build of core (40 s of CPU) for the same checks.
if grep -qa __asan_init "$POSTERN"; then
  ok "# SKIP the installed postern: a normal build, checked in the normal build's run"
  [ "$FAILED" = 0 ] || show "tools/update-po.sh said:" "$WORK/update-po.log"
  finish
  exit $?
fi
# As root, where mount namespaces can be made and the prefix is not /usr,
# the build's own postern is the installed one: copied out of the build
# tree, it reads the catalogue under the prefix compiled into it, and in a
# mount namespace of its own that prefix is the tree meson install wrote
# under --destdir above (its catalogue and nothing else: no posternd).
# Elsewhere a postern is built for a prefix under $WORK (a whole build of
# core, a minute of CPU).
installed="$WORK/prefix/bin/postern"
# (Not where the prefix holds what the program needs: /usr, /, a library of
# it under the prefix, this test's own directory.)
ns_usable() {
  [ "$(id -u)" = 0 ] && [ "$prefix" != /usr ] && [ "$prefix" != / ] && [ -d "$prefix" ] \
    && [ -d "$WORK/dest$prefix" ] && [[ "$WORK/" != "$prefix/"* ]] \
    && ! ldd "$POSTERN" | grep -qF " $prefix/" \
    && unshare -m --propagation private sh -c 'mount --bind "$0" "$1"' "$WORK/dest$prefix" "$prefix" \
      2>/dev/null
}
if ns_usable; then
  install -D -m 755 "$POSTERN" "$installed"
  cat > "$WORK/installed-ns" <<SH
#!/bin/sh
exec unshare -m --propagation private sh -c 'mount --bind "\$0" "\$1" && shift && exec "\$@"' \\
  "$WORK/dest$prefix" "$prefix" "$installed" "\$@"
SH
  chmod 755 "$WORK/installed-ns"
  seen_installed() {
    [ "$("$WORK/installed-ns" --version 2>&1 | head -n 1)" = "$("$POSTERN" --version 2>&1 | head -n 1)" ] &&
      unshare -m --propagation private sh -c 'mount --bind "$0" "$1" && ls -A "$1"' "$WORK/dest$prefix" "$prefix" |
        grep -qx share && [ ! -e "$WORK/dest$prefix/bin" ]
  }
  check "the build's postern, installed in \$WORK/prefix/bin, runs with $prefix as meson install wrote it (its catalogue only)" \
    seen_installed
  installed="$WORK/installed-ns"
else
build="$WORK/build"
built() {
  meson setup "$build" "$SRC" --prefix "$WORK/prefix" > "$WORK/setup.log" 2>&1 &&
    ninja -C "$build" -j 2 cli/postern postern-gmo > "$WORK/ninja.log" 2>&1 &&
    meson install -C "$build" --no-rebuild --tags i18n --quiet > "$WORK/install.log" 2>&1 &&
    [ -f "$WORK/prefix/share/locale/de/LC_MESSAGES/postern.mo" ] &&
    install -D -m 755 "$build/cli/postern" "$installed" && return 0
  tail -n 30 "$WORK"/setup.log "$WORK"/ninja.log "$WORK"/install.log 2>/dev/null | sed 's/^/#   /'
  return 1
}
check "a postern for the prefix \$WORK/prefix builds, and meson install puts its catalogue there" built
fi
check "LANGUAGE=de postern --help, installed: the CLI's own strings are German" \
  speaks_german "$installed" "Commands:" stdout --help
check "LANGUAGE=de postern frobnicate: its errors too" \
  speaks_german "$installed" "unknown command (see postern --help)" stderr --home "$WORK/home-de" frobnicate
# No posternd next to this postern, in its prefix or on PATH: the message
# comes from core (core/rpc/spawn.c, through dgettext).
check "LANGUAGE=de postern agent start without a posternd: core's messages too" \
  speaks_german "$installed" "cannot find posternd (set POSTERN_AGENT to its path)" stderr \
  --home "$WORK/home-de" agent start

[ "$FAILED" = 0 ] || show "tools/update-po.sh said:" "$WORK/update-po.log"
finish
