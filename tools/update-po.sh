#!/usr/bin/env bash
# Brings the translations up to date with the sources:
#  1. po/POTFILES: every file under cli/ core/ agent/ gui/ with a string
#     marked for translation (_() N_() C_() NC_() ngettext() in C, or
#     translatable="yes" in a GtkBuilder .ui file), plus data/*.in files
#     merged by i18n.merge_file; listed files that are gone are dropped;
#  2. po/postern.pot, with xgettext and the options of meson's 'glib'
#     preset (what `meson compile postern-pot` runs);
#  3. every po/LANG.po of po/LINGUAS, with msgmerge: new messages are added
#     untranslated (no fuzzy guesses), messages gone from the sources are
#     kept at the end as obsolete "#~" entries;
# then lists, per language, the messages left to translate.
#
#   tools/update-po.sh            updates po/ in place
#   tools/update-po.sh --out DIR  writes POTFILES, postern.pot and LANG.po
#                                 into DIR and leaves po/ alone (the test)
#
# To finish a batch of new strings: run it, fill in the empty msgstr ""
# of po/de.po (msgattrib --untranslated po/de.po shows them), check with
# `msgfmt --check --statistics -o /dev/null po/de.po`, run the 'i18n' test.
set -euo pipefail
cd "$(dirname "$0")/.."

out=po
if [ "${1:-}" = --out ]; then
  out=${2:?--out needs a directory}
  mkdir -p "$out"
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--out DIR]" >&2
  exit 2
fi

# 1. POTFILES.
potfiles=$(mktemp)
trap 'rm -f "$potfiles"' EXIT
{
  grep -rlE --include='*.c' --include='*.h' \
    '(^|[^A-Za-z0-9_])(N?_|C_|NC_|g_dngettext|g_dpgettext2|ngettext)[[:space:]]*\("' \
    cli core agent gui 2>/dev/null || true
  grep -rl --include='*.ui' 'translatable="yes"' gui 2>/dev/null || true
  ls data/*.desktop.in data/*.metainfo.xml.in 2>/dev/null || true
  # Keep what was listed by hand, as long as it exists.
  while read -r f; do
    [ -n "$f" ] && [ "${f#\#}" = "$f" ] && [ -f "$f" ] && echo "$f"
  done < po/POTFILES
} | LC_ALL=C sort -u > "$potfiles"
cp "$potfiles" "$out/POTFILES"

# 2. The template: the arguments of meson's i18n module (mesonbuild/
#    modules/i18n.py, preset 'glib', and scripts/gettext.py).
xgettext --package-name=postern -f "$out/POTFILES" -D . -k_ -o "$out/postern.pot" \
  --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
  --flag=g_print:1:c-format --flag=g_printerr:1:c-format --flag=g_printf:1:c-format \
  --flag=g_fprintf:2:c-format --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format \
  2> >(grep -v 'fallback ITS rule file' >&2)

# 3. The catalogues.
# The msgids (joined when wrapped) of the PO file on standard input.
msgids() {
  awk '/^msgid(_plural)? "/ { s = $0; sub(/^msgid(_plural)? /, "", s); on = 1; next }
       /^"/ && on { s = substr(s, 1, length(s) - 1) substr($0, 2); next }
       on { if (s != "\"\"") print "  " s; on = 0 }
       END { if (on && s != "\"\"") print "  " s }'
}
status=0
for lang in $(grep -v '^#' po/LINGUAS); do
  if [ -f "po/$lang.po" ]; then
    [ "$out" = po ] || cp "po/$lang.po" "$out/$lang.po"
    msgmerge --quiet --no-fuzzy-matching -o "$out/$lang.po" "$out/$lang.po" "$out/postern.pot"
  else
    msginit --no-translator --locale "$lang" -i "$out/postern.pot" -o "$out/$lang.po" 2>/dev/null
  fi
  printf '%s: ' "$lang"
  msgfmt --check --statistics -o /dev/null "$out/$lang.po" 2>&1 || status=1
  todo=$(msgattrib --untranslated --no-obsolete "$out/$lang.po" | msgids)
  fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$out/$lang.po" | msgids)
  [ -z "$todo" ] || printf '%s: untranslated:\n%s\n' "$lang" "$todo"
  [ -z "$fuzzy" ] || printf '%s: fuzzy (check the translation, then delete the "#, fuzzy" line):\n%s\n' \
    "$lang" "$fuzzy"
done

# A string such as "id %" G_GINT64_FORMAT is cut at the macro by xgettext
# (only <inttypes.h>'s PRId64 and the like are understood), so the program
# looks up a msgid that no catalogue has.
cut=$(msgids < "$out/postern.pot" | grep -E '[^%](%%)*%"$' || true)
if [ -n "$cut" ]; then
  echo "msgids cut at a format macro (use PRId64, or %lld and a (long long) cast):"
  echo "$cut"
fi
exit $status
