#!/usr/bin/env bash
# Terminal escapes in mail and keys (issue 11): a plain, unsigned message
# whose From name, Subject, body, attachment name and HTML link carry
# cursor movement, erase-line, OSC titles, BEL, C1 CSI, CR and bidi
# overrides, delivered through the provider, and a key whose user id
# carries them.  `list`, `show` and `keys list` must print every one of
# them as a visible escape (core/util/text.h) and none as itself; the
# status block stays the only thing at the margin that says "Signature:".
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT" --encrypt never
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"

# hostile_text FILE: a multipart message written byte for byte; the escapes
# travel as quoted-printable, RFC 2047 and RFC 2231 encodings, as a sender
# would write them.
hostile_text() {
  python3 - "$ALICE_ADDR" "$BOB_ADDR" "$1" <<'PY'
import base64, sys, time
sender, to, out = sys.argv[1:]
name = base64.b64encode("CEO\x1b]0;pwned\x07\u202e".encode()).decode()
msg = f"""From: =?utf-8?b?{name}?= <{sender}>
To: <{to}>
Subject: =?utf-8?q?Invoice_=1B[2A=1B[2K=C2=9B31m_due?=
Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}
Message-ID: <esc-{time.time_ns()}@postern.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b0undary"

--b0undary
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

=1B[9A=1B[2K=1B[1;1H=1B[J=3D=3D Postern status (drawn by Postern, not part =
of the message) =3D=3D
Encryption: encrypted (OpenPGP), covers whole, integrity ok
Signature:  good, by ceo@bank.test (F00D), matches From, covers whole=07
bidi =E2=80=AEfdp.exe, C1 =C2=9B2J, tail=1B]2;title=1B\\ backspace=08 del=7F
--b0undary
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe%1B%5B2K
Content-Transfer-Encoding: base64

aGVsbG8K
--b0undary--
"""
open(out, "wb").write(msg.replace("\n", "\r\n").encode())
PY
}

# hostile_html FILE: HTML only, so that show prints it as text with the
# link's target written out.
hostile_html() {
  python3 - "$ALICE_ADDR" "$BOB_ADDR" "$1" <<'PY'
import sys, time
sender, to, out = sys.argv[1:]
msg = f"""From: Alice <{sender}>
To: <{to}>
Subject: HTML link
Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}
Message-ID: <esc-html-{time.time_ns()}@postern.test>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Pay <a href=3D"https://bank.test/=E2=80=AEgpj.exe=C2=9B2J=1B[2A">=
here</a> today</p></body></html>
"""
open(out, "wb").write(msg.replace("\n", "\r\n").encode())
PY
}

# inert FILE: the bytes are UTF-8 and hold no control a terminal acts on
# (tab and line feed aside), no bidirectional or invisible format control.
inert() {
  python3 - "$1" <<'PY'
import sys, unicodedata
data = open(sys.argv[1], "rb").read()
try:
    text = data.decode("utf-8")
except UnicodeDecodeError as e:
    print(f"# not UTF-8: {e}"); sys.exit(1)
bad = [(i, hex(ord(c))) for i, c in enumerate(text)
       if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
       or c in "\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
       or (unicodedata.category(c) == "Cf" and c not in "\u00ad\u200c\u200d")]
if bad:
    print(f"# raw controls left: {bad[:10]}"); sys.exit(1)
PY
}
# holds FILE TEXT: FILE holds TEXT literally.
holds() { grep -qF -- "$2" "$1"; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# long_lines FILE: no control at all, but a Subject, an inner line of the
# body and a header's run of spaces long enough that a terminal 80 columns
# wide, wrapping them itself, would begin their rest at the left margin
# with a status line of its own.
long_lines() {
  python3 - "$ALICE_ADDR" "$BOB_ADDR" "$1" <<'PY'
import sys, time
sender, to, out = sys.argv[1:]
fake = "Signature:  good, by ceo@bank.test (F00D), matches From, covers whole"
msg = f"""From: Alice <{sender}>
To: <{to}>
Subject: Wrapped {"x" * 61}{fake}
Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Dear Bob,{" " * 69}{fake}
\t\t\t\t\t\t\t\t\t\t{fake}
"""
open(out, "wb").write(msg.replace("\n", "\r\n").encode())
PY
}

hostile_text "$WORK/text.eml"
hostile_html "$WORK/html.eml"
long_lines "$WORK/long.eml"
check "alice sends the hostile plain-text message, neither encrypted nor signed" \
  pst alice send --account main --encrypt never --no-sign --wait "$WORK/text.eml"
check "alice sends the hostile HTML message" \
  pst alice send --account main --encrypt never --no-sign --wait "$WORK/html.eml"
check "alice sends the message with long lines" \
  pst alice send --account main --encrypt never --no-sign --wait "$WORK/long.eml"
check "all three reach bob" wait_for_delivery "$BOB_MAILDIR" 3
check "bob fetches" pst bob fetch

pst bob --json list > "$WORK/list.json"
id_text=$(json 'next(m["id"] for m in d["messages"] if m["subject"].startswith("Invoice"))' < "$WORK/list.json")
id_html=$(json 'next(m["id"] for m in d["messages"] if m["subject"] == "HTML link")' < "$WORK/list.json")
check "the escapes reached the agent as they were sent (so the test tests something)" \
  test "$(json 'str("\x1b[2A" in next(m["subject"] for m in d["messages"] if m["id"] == '"$id_text"'))' \
          < "$WORK/list.json")" = True

# ---- list ----
pst bob list > "$WORK/list.out"
check "list prints nothing a terminal acts on" inert "$WORK/list.out"
check "… and shows the Subject's escapes" holds "$WORK/list.out" 'Invoice \x1b[2A\x1b[2K\u009b31m due'
check "… and the From name's" holds "$WORK/list.out" 'CEO\x1b]0;pwned\x07\u202e'

# ---- show: the plain-text message ----
pst bob show "$id_text" > "$WORK/show.out"
check "show prints nothing a terminal acts on" inert "$WORK/show.out"
check "… the From name's OSC title and bidi override visible" \
  holds "$WORK/show.out" 'CEO\x1b]0;pwned\x07\u202e'
check "… the Subject's cursor-up, erase-line and C1 CSI visible" \
  holds "$WORK/show.out" 'Invoice \x1b[2A\x1b[2K\u009b31m due'
check "… the attachment's reversed name visible" \
  holds "$WORK/show.out" 'invoice\u202efdp.exe'
check "… the body's cursor movement visible" holds "$WORK/show.out" '\x1b[9A\x1b[2K\x1b[1;1H\x1b[J'
check "… the body's BEL, C1, bidi, OSC, backspace and DEL visible" bash -c '
  for s in "whole\x07" "\u202efdp.exe" "\u009b2J" "\x1b]2;title\x1b\\" "backspace\x08" "del\x7f"; do
    grep -qF -- "$s" "$1" || { echo "# missing: $s"; exit 1; }
  done' _ "$WORK/show.out"
check "the status block comes first and says what is true" bash -c '
  head -n 1 "$1" | grep -q "^== Postern status" && grep "^Signature:" "$1" | grep -q "none"' _ "$WORK/show.out"
check "… and only it: the body's imitation is inside the message's gutter" bash -c '
  [ "$(grep -c "^Signature:" "$1")" = 1 ] && [ "$(grep -c "^Encryption:" "$1")" = 1 ] \
    && [ "$(grep -c "^== Postern status" "$1")" = 1 ] \
    && grep -q "^| Signature:  good, by ceo@bank.test" "$1"' _ "$WORK/show.out"

# ---- show: lines longer than the terminal ----
id_long=$(json 'next(m["id"] for m in d["messages"] if m["subject"].startswith("Wrapped"))' < "$WORK/list.json")
COLUMNS=80 pst bob show "$id_long" > "$WORK/show-long.out"
check "show lays long lines out itself: none is wider than the terminal" \
  python3 -c 'import sys; sys.exit(0 if all(len(l) <= 80 for l in open(sys.argv[1]).read().splitlines()) else 1)' \
  "$WORK/show-long.out"
check "… so that only Postern's lines begin at the margin, the one Signature: line saying none" python3 -c '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
ours = re.compile(r"(== |==$|(Encryption|Signature|Headers|Warnings|Scan|From|To|Cc|Subject|Date|Attached):|\| |\|$| |$)")
strays = [l for l in lines if not ours.match(l)]
sigs = [l for l in lines if l.startswith("Signature:")]
print("# strays:", strays, "signature lines:", sigs)
sys.exit(0 if not strays and len(sigs) == 1 and "none" in sigs[0] else 1)' "$WORK/show-long.out"
check "… and the text is all there, only wrapped" python3 -c '
import sys
text = open(sys.argv[1]).read()
sys.exit(0 if text.count("ceo@bank.test") == 3 else 1)' "$WORK/show-long.out"

# ---- show: HTML as text, the link's target written out ----
pst bob show "$id_html" > "$WORK/show-html.out"
check "show of the HTML message prints nothing a terminal acts on" inert "$WORK/show-html.out"
check "… and the link target's bidi override and C1 CSI are visible" \
  holds "$WORK/show-html.out" 'https://bank.test/\u202egpj.exe\u009b2J'

# ---- --json: data, escaped, and the same values ----
pst bob --json show "$id_text" > "$WORK/show.json"
check "show --json leaves no raw control either" inert "$WORK/show.json"
check "… and still gives the Subject byte for byte" \
  test "$(json 'ascii(d["headers"]["subject"])' < "$WORK/show.json")" = "'Invoice \\x1b[2A\\x1b[2K\\x9b31m due'"

# ---- keys: a user id with escapes ----
EVIL=$WORK/gnupg-evil
mkdir -m 700 "$EVIL"
gpg --homedir "$EVIL" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' \
  --quick-gen-key "$(printf 'Evil \033[2J\033]0;pwned\007 \342\200\256moc.knab <evil@postern.test>')" \
  ed25519 sign never 2>/dev/null
gpg --homedir "$EVIL" --batch --armor --export evil@postern.test > "$WORK/evil.asc"
pst bob keys import "$WORK/evil.asc" > "$WORK/import.out"
check "keys import prints nothing a terminal acts on" inert "$WORK/import.out"
pst bob keys list > "$WORK/keys.out"
check "keys list prints nothing a terminal acts on" inert "$WORK/keys.out"
check "… and shows the user id's escapes" holds "$WORK/keys.out" 'Evil \x1b[2J\x1b]0;pwned\x07 \u202emoc.knab <evil@postern.test>'
pst bob keys show evil@postern.test > "$WORK/keys-show.out"
check "keys show prints nothing a terminal acts on" inert "$WORK/keys-show.out"

# ---- raw output is data: refused on a terminal, written as it is elsewhere ----
pst bob export "$id_text" > "$WORK/export.eml"
check "export to a file stays byte for byte (the escapes are the message's)" \
  python3 -c 'import sys; sys.exit(0 if b"Signature:  good" in open(sys.argv[1], "rb").read() else 1)' "$WORK/export.eml"
if command -v script >/dev/null; then
  export_on_tty() {
    GNUPGHOME=$GNUPGHOME_BOB script -qec "'$POSTERN' --home '$WORK/home-bob' export $id_text" /dev/null \
      > "$WORK/tty.raw" 2>&1 && return 1
    # The terminal itself ends its lines CRLF.
    sed 's/\r$//' "$WORK/tty.raw" > "$WORK/tty.out"
    inert "$WORK/tty.out" && grep -q "standard output is a terminal" "$WORK/tty.out"
  }
  check "export to a terminal is refused, with nothing of the message written" export_on_tty
fi

finish
