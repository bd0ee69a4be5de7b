#!/usr/bin/env bash
# The GUI, driven through accessibility: the real postern-gtk in a private
# desktop session (Xvfb, D-Bus, AT-SPI; tests/gui/pstgui.py) against real
# agents and the provider.  The mail the scenarios look at is made here with
# the CLI: alice sends bob a signed and encrypted message and one in the
# clear, bob fetches them.
source "$(dirname "$0")/lib.sh"
: "${POSTERN_GTK:?set POSTERN_GTK to the postern-gtk binary}"
here=$(cd "$(dirname "$0")" && pwd)

# The Python with GObject introspection and AT-SPI (Debian's; a python3 of
# pyenv or a venv earlier in PATH may lack them).
py=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import gi; gi.require_version("Atspi", "2.0")' 2>/dev/null; then
    py=$p; break
  fi
done
if [ -z "$py" ]; then
  not_ok "a python3 with gi and Atspi (tools/setup-debian.sh installs them)"; echo "$PASSED passed, $FAILED failed"; exit 1
fi

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"

subject="Lunch on Thursday $(date +%s%N)"
body="The usual place at noon, $(date +%s%N)"
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "$subject" "$body" > "$WORK/m1.eml"
check "alice sends bob a mail (CLI)" pst alice send --wait "$WORK/m1.eml"
check "it reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it (CLI)" pst bob fetch
# A second, newer one in the clear: the list's first row, which GTK may
# select by itself when the list takes the focus; the scenario selects the
# encrypted one and sees the status change.
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "In the clear $(date +%s%N)" "Nothing secret." > "$WORK/m2.eml"
check "alice sends bob a mail in the clear (CLI)" pst alice send --wait --encrypt never --no-sign "$WORK/m2.eml"
check "it reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it (CLI)" pst bob fetch
# Alice's agent must not run for the first scenario.  Bob's keeps running:
# by default (no store_decrypted_subject) the decrypted Subject of
# header-protected mail lives only in the memory of the agent that decrypted
# it (agent/subjects.c), and the GUI's list is to show it.
pst alice agent stop >/dev/null

# Under AddressSanitizer, LeakSanitizer reports at postern-gtk's exit the
# font cache fontconfig never frees (measured: every run, nothing else):
# tests/gui/lsan.supp suppresses it for postern-gtk only.  The agent the GUI
# starts gets the suite's LSAN_OPTIONS back through a wrapper named as the
# app's POSTERN_AGENT, so that nothing of the agent's is hidden.
mkdir "$WORK/bin"
printf '#!/bin/bash\nLSAN_OPTIONS=%q exec %q "$@"\n' "${LSAN_OPTIONS:-}" "$POSTERND" > "$WORK/bin/posternd"
printf '#!/bin/bash\nLSAN_OPTIONS=%q exec %q "$@"\n' \
  "${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/../gui/lsan.supp:print_suppressions=0" "$POSTERN_GTK" \
  > "$WORK/bin/postern-gtk"
chmod 755 "$WORK/bin/posternd" "$WORK/bin/postern-gtk"
export POSTERN_GTK="$WORK/bin/postern-gtk" PSTGUI_AGENT="$WORK/bin/posternd"

export PSTGUI_HOME_ALICE="$WORK/home-alice" PSTGUI_HOME_BOB="$WORK/home-bob"
export PSTGUI_SUBJECT="$subject" PSTGUI_BODY="$body"
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$WORK/screenshots}"

# The Python prints its checks, those above added to its counts, and the
# final "N passed, M failed"; it stops what it started, lib.sh's trap the rest.
PYTHONDONTWRITEBYTECODE=1 PSTGUI_PASSED_BEFORE=$PASSED PSTGUI_FAILED_BEFORE=$FAILED "$py" "$here/../gui/test_gui.py" </dev/null
