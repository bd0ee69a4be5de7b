#!/bin/bash
# selftest.sh — proves that a provider started by with-provider.sh behaves as the integration tests assume.
# Run as: tests/harness/with-provider.sh tests/harness/selftest.sh
# Prints one "ok"/"FAIL" line per check; exits non-zero if any check failed.
set -euo pipefail

: "${PROVIDER_DIR:?run me under with-provider.sh}"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
failed=0

# Shared by every check: TLS contexts, and wait_for(maildir, token) for Postfix's delivery.
prelude='
import os, ssl, sys, time, glob, smtplib, poplib
E = os.environ
def ctx(cafile=E["CA_FILE"]):
    c = ssl.create_default_context(cafile=cafile)
    c.minimum_version = ssl.TLSVersion.TLSv1_2
    return c
def wait_for(maildir, token, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for f in glob.glob(maildir + "/new/*") + glob.glob(maildir + "/cur/*"):
            if token.encode() in open(f, "rb").read():
                return f
        time.sleep(0.05)
    sys.exit("not delivered to %s within %d s" % (maildir, timeout))
def message(token):
    return ("From: %s\r\nTo: %s\r\nSubject: selftest %s\r\n\r\nbody %s\r\n"
            % (E["ALICE_ADDR"], E["BOB_ADDR"], token, token))
def expect_fail(what, f, *words):
    try:
        f()
    except Exception as e:
        if not any(w in str(e) for w in words):
            sys.exit("%s failed, but not as expected: %r" % (what, e))
        return
    sys.exit("%s unexpectedly succeeded" % what)
def pop_take(p, token):
    """Log in as bob, RETR the message carrying token, DELE it, and check that it is gone."""
    p.user(E["BOB_ADDR"]); p.pass_(E["BOB_PASS"])
    found = [n for n in range(1, p.stat()[0] + 1) if token.encode() in b"\n".join(p.retr(n)[1])]
    if len(found) != 1:
        sys.exit("token found in %d messages" % len(found))
    p.dele(found[0]); p.quit()
'

check() {  # NAME — python code on stdin, run after the prelude
	local out t0=$EPOCHREALTIME
	if out=$({ echo "$prelude"; cat; } | "$PY" -W ignore::DeprecationWarning - 2>&1); then
		printf 'ok   - %s (%.2f s)\n' "$1" "$(echo "$EPOCHREALTIME - $t0" | bc)"
	else
		echo "FAIL - $1: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
		failed=1
	fi
}

# Message 1: STARTTLS submission (taken later over POP3+STLS).
check "submission STARTTLS + AUTH PLAIN as alice delivers to bob's Maildir" <<'EOF'
s = smtplib.SMTP(E["HOST"], int(E["SMTP_PORT"]), timeout=10)
s.ehlo()
assert s.has_extn("starttls"), "no STARTTLS offered"
s.starttls(context=ctx()); s.ehlo()
s.user, s.password = E["ALICE_ADDR"], E["ALICE_PASS"]
s.auth("PLAIN", s.auth_plain)
s.sendmail(E["ALICE_ADDR"], [E["BOB_ADDR"]], message("msg-starttls")); s.quit()
wait_for(E["BOB_MAILDIR"], "msg-starttls")
EOF

# Message 2: implicit TLS submission (taken later over POP3S).
check "submission implicit TLS (RFC 8314) + AUTH LOGIN as alice delivers to bob's Maildir" <<'EOF'
s = smtplib.SMTP_SSL(E["HOST"], int(E["SMTPS_PORT"]), timeout=10, context=ctx())
s.ehlo()
s.user, s.password = E["ALICE_ADDR"], E["ALICE_PASS"]
s.auth("LOGIN", s.auth_login)
s.sendmail(E["ALICE_ADDR"], [E["BOB_ADDR"]], message("msg-smtps")); s.quit()
wait_for(E["BOB_MAILDIR"], "msg-smtps")
EOF

check "submission refuses a wrong password" <<'EOF'
s = smtplib.SMTP_SSL(E["HOST"], int(E["SMTPS_PORT"]), timeout=10, context=ctx())
s.ehlo()
s.user, s.password = E["ALICE_ADDR"], "wrong"
expect_fail("AUTH", lambda: s.auth("PLAIN", s.auth_plain), "535")
EOF

check "POP3S as bob: RETR and DELE" <<'EOF'
pop_take(poplib.POP3_SSL(E["HOST"], int(E["POP3S_PORT"]), context=ctx(), timeout=10), "msg-smtps")
EOF

check "POP3 + STLS as bob: RETR and DELE" <<'EOF'
p = poplib.POP3(E["HOST"], int(E["POP3_PORT"]), timeout=10)
assert "STLS" in p.capa(), "no STLS offered"
p.stls(context=ctx())
pop_take(p, "msg-starttls")
EOF

check "bob's Maildir is empty after DELE" <<'EOF'
left = glob.glob(E["BOB_MAILDIR"] + "/new/*") + glob.glob(E["BOB_MAILDIR"] + "/cur/*")
assert not left, left
EOF

check "NOTLS_HOST: POP3 offers no STLS, submission no STARTTLS, plaintext login refused" <<'EOF'
p = poplib.POP3(E["NOTLS_HOST"], int(E["NOTLS_POP3_PORT"]), timeout=10)
assert "STLS" not in p.capa(), p.capa()
expect_fail("USER without TLS", lambda: p.user(E["BOB_ADDR"]), "disallowed")  # Dovecot refuses at USER
p.quit()
s = smtplib.SMTP(E["NOTLS_HOST"], int(E["NOTLS_SMTP_PORT"]), timeout=10)
s.ehlo()
assert not s.has_extn("starttls"), s.esmtp_features
s.quit()
EOF

check "WRONGHOST_HOST: all four TLS services present a valid other.example certificate" <<'EOF'
import socket
h = E["WRONGHOST_HOST"]
attempts = {
    "POP3S": lambda: poplib.POP3_SSL(h, int(E["WRONGHOST_POP3S_PORT"]), context=ctx(), timeout=10),
    "STLS": lambda: poplib.POP3(h, int(E["WRONGHOST_POP3_PORT"]), timeout=10).stls(context=ctx()),
    "STARTTLS": lambda: smtplib.SMTP(h, int(E["WRONGHOST_SMTP_PORT"]), timeout=10).starttls(context=ctx()),
    "SMTPS": lambda: smtplib.SMTP_SSL(h, int(E["WRONGHOST_SMTPS_PORT"]), context=ctx(), timeout=10),
}
for name, f in attempts.items():
    expect_fail(name + " to " + h, f, "mismatch")
# The same chain verifies for other.example: only the name is wrong.
with socket.create_connection((h, int(E["WRONGHOST_POP3S_PORT"])), timeout=10) as raw:
    with ctx().wrap_socket(raw, server_hostname="other.example") as t:
        san = t.getpeercert()["subjectAltName"]
        assert san == (("DNS", "other.example"),), san
EOF

check "OTHER_CA_FILE does not verify the server certificate" <<'EOF'
expect_fail("POP3S with the other CA",
    lambda: poplib.POP3_SSL(E["HOST"], int(E["POP3S_PORT"]), context=ctx(E["OTHER_CA_FILE"]), timeout=10),
    "certificate verify failed")
EOF

check "the server refuses TLS 1.1" <<'EOF'
c = ctx()
c.minimum_version = c.maximum_version = ssl.TLSVersion.TLSv1_1
c.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that only the server can be the one refusing
# OpenSSL 3's server just closes the connection; its log says why.
log_before = len(open(E["DOVECOT_LOG"]).read())
expect_fail("TLS 1.1", lambda: poplib.POP3_SSL(E["HOST"], int(E["POP3S_PORT"]), context=c, timeout=10),
    "PROTOCOL_VERSION", "EOF")
# Dovecot's log process writes a little later, more so on a busy machine;
# the refusal's words depend on how far the handshake got ("unsupported
# protocol", "version too low"…), but it is a failed TLS handshake.
import re
refusal = re.compile(r"unsupported protocol|version too low|SSL_accept\(\) failed|TLS handshaking")
for _ in range(100):
    if refusal.search(open(E["DOVECOT_LOG"]).read()[log_before:]):
        break
    time.sleep(0.1)
new_lines = open(E["DOVECOT_LOG"]).read()[log_before:]
assert refusal.search(new_lines), "no refused TLS handshake in DOVECOT_LOG: " + new_lines[-300:]
EOF

check "GnuPG homes: alice has bob's public key and her own secret key" <<'EOF'
import subprocess
def gpg(*args):
    return subprocess.run(["gpg", "--homedir", E["GNUPGHOME_ALICE"], "--batch", "--with-colons"] + list(args),
                          capture_output=True, text=True, check=True).stdout
assert "bob@postern.test" in gpg("--list-keys", E["BOB_FPR"])
assert "alice@postern.test" in gpg("--list-secret-keys", E["ALICE_FPR"])
EOF

exit $failed
