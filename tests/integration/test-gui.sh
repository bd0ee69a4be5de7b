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
# A message signed with alice's key whose From is someone else's (a spoof
# the status bar must show as such), put straight into bob's Maildir
# through Postfix's own smtpd.
spoof_subject="Invoice from Carol $(date +%s%N)"
check "a message signed by alice but From carol is delivered to bob" \
  env GNUPGHOME="$GNUPGHOME_ALICE" "$py" - "$spoof_subject" "$HOST" "$RELAY_PORT" "$BOB_ADDR" <<'PY'
import email.utils, smtplib, subprocess, sys
subject, host, port, to = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
part = "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease pay the attached invoice today.\r\n"
sig = subprocess.run(["gpg", "--batch", "--armor", "--detach-sign", "--digest-algo", "SHA256"],
                     input=part.encode(), capture_output=True, check=True).stdout.decode()
b = "spoof-boundary-1"
msg = (f"From: Carol <carol@postern.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
       f"Date: {email.utils.formatdate()}\r\nMessage-ID: {email.utils.make_msgid()}\r\nMIME-Version: 1.0\r\n"
       f"Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"{b}\"\r\n"
       f"\r\n--{b}\r\n{part}\r\n--{b}\r\nContent-Type: application/pgp-signature\r\n\r\n"
       + sig.replace("\n", "\r\n") + f"\r\n--{b}--\r\n")
with smtplib.SMTP(host, port) as s:
    s.sendmail("carol@postern.test", [to], msg.encode())
PY
check "it reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it (CLI)" pst bob fetch

# Bob's agent scans with a command scanner for which "EVIL" is a virus; a
# message that says so goes to quarantine on arrival.
printf '#!/bin/sh\nif grep -q EVIL; then echo Test.Evil.Marker; exit 1; fi\nexit 0\n' > "$WORK/scanner.sh"
chmod 755 "$WORK/scanner.sh"
check "bob's agent scans with the command scanner (config set)" \
  pst bob config set scan "command:$WORK/scanner.sh"
evil_subject="Holiday pictures $(date +%s%N)"
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "$evil_subject" "This is EVIL." > "$WORK/m3.eml"
check "alice sends bob a mail the scanner calls infected" pst alice send --wait "$WORK/m3.eml"
check "it reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches it (CLI)" pst bob fetch
check "it is in bob's quarantine (CLI)" bash -c '"$1" --home "$2" --json quarantine list | grep -q Test.Evil.Marker' \
  _ "$POSTERN" "$WORK/home-bob"

# A key to import through the GUI's Keys page: dave's, made now.
mkdir -m 700 "$WORK/gnupg-dave"
check "a throwaway key for dave" bash -c 'GNUPGHOME="$1" gpg --batch --passphrase "" --quick-gen-key "Dave <dave@postern.test>" ed25519 sign never 2>/dev/null && GNUPGHOME="$1" gpg --armor --export dave@postern.test > "$2" && test -s "$2"' \
  _ "$WORK/gnupg-dave" "$WORK/dave.asc"
gpgconf --homedir "$WORK/gnupg-dave" --kill all 2>/dev/null || true

# A home with no account yet, for the setup done through the GUI (alice's
# keys; bob's public key is in her GnuPG home).
mkdir -m 700 "$WORK/home-alicegui"

# A home and an empty GnuPG home, for an account whose address has no key
# yet, made through the GUI (bob's mailbox; the key is the new one's).
mkdir -m 700 "$WORK/home-keygui" "$WORK/gnupg-keygui"

# A new user's empty home and empty GnuPG home, for the first-run
# assistant (alice's mailbox: the scenario runs last).
mkdir -m 700 "$WORK/home-firstrun" "$WORK/gnupg-firstrun"

# Alice's agent must not run for the first scenario.  Bob's keeps running:
# by default (no store_decrypted_subject) the decrypted Subject of
# header-protected mail lives only in the memory of the agent that decrypted
# it (agent/subjects.c), and the GUI's list is to show it.
pst alice agent stop >/dev/null

# Under AddressSanitizer, LeakSanitizer reports at postern-gtk's exit what
# libraries keep until the process ends (fontconfig's font cache, GIO's
# content-type cache, GLib's old quark table): tests/gui/lsan.supp
# suppresses those for postern-gtk only.  The agent the GUI
# starts gets the suite's LSAN_OPTIONS back through a wrapper named as the
# app's POSTERN_AGENT, so that nothing of the agent's is hidden.
mkdir "$WORK/bin"
printf '#!/bin/bash\nLSAN_OPTIONS=%q exec %q "$@"\n' "${LSAN_OPTIONS:-}" "$POSTERND" > "$WORK/bin/posternd"
# Real stacks for the GUI's leak reports (the default fast unwinder stops at
# the system libraries, built without frame pointers), so that a suppression
# can name where a library's own allocation was made; 12 frames of them,
# which reach the frames the suppressions name (about the 7th at most, by
# GLib's and GIO's code; a whole run passed with 10).  The slow unwinder runs
# at every malloc, and GTK makes many: with the default 30 frames the GUI test took a
# third longer under the sanitizers (402 s against 303 s, one after the
# other beside the same CI run).  The fast unwinder (225 s) leaves two
# frames, too few to tell GLib's quark table, which it drops when it grows
# (16 KiB from g_malloc), from a leak of ours.
printf '#!/bin/bash\nASAN_OPTIONS=%q LSAN_OPTIONS=%q exec %q "$@"\n' \
  "${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0:malloc_context_size=12" \
  "${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/../gui/lsan.supp:print_suppressions=0" "$POSTERN_GTK" \
  > "$WORK/bin/postern-gtk"
chmod 755 "$WORK/bin/posternd" "$WORK/bin/postern-gtk"
export POSTERN_GTK="$WORK/bin/postern-gtk" PSTGUI_AGENT="$WORK/bin/posternd"

export PSTGUI_HOME_ALICE="$WORK/home-alice" PSTGUI_HOME_BOB="$WORK/home-bob"
export PSTGUI_SUBJECT="$subject" PSTGUI_BODY="$body" PSTGUI_SPOOF_SUBJECT="$spoof_subject"
export PSTGUI_EVIL_SUBJECT="$evil_subject" PSTGUI_HOME_ALICEGUI="$WORK/home-alicegui" PSTGUI_DAVE_KEY="$WORK/dave.asc"
export PSTGUI_HOME_KEYGUI="$WORK/home-keygui" PSTGUI_GNUPG_KEYGUI="$WORK/gnupg-keygui"
export PSTGUI_HOME_FIRSTRUN="$WORK/home-firstrun" PSTGUI_GNUPG_FIRSTRUN="$WORK/gnupg-firstrun"
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$WORK/screenshots}"

# The Python prints its checks, those above added to its counts, and the
# final "N passed, M failed"; it stops what it started, lib.sh's trap the rest.
rc=0
PYTHONDONTWRITEBYTECODE=1 PSTGUI_PASSED_BEFORE=$PASSED PSTGUI_FAILED_BEFORE=$FAILED "$py" "$here/../gui/test_gui.py" </dev/null || rc=$?
# The gpg-agents that the keys made through the GUI started in their GnuPG homes.
gpgconf --homedir "$WORK/gnupg-keygui" --kill all 2>/dev/null || true
gpgconf --homedir "$WORK/gnupg-firstrun" --kill all 2>/dev/null || true
exit $rc
