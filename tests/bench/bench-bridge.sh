#!/usr/bin/env bash
# Benchmark (not a test): the local bridge (DESIGN.md §14, issue 14), in one run, on loopback with no emulated
# delay (the bridge is always local: what is measured is the servers' own cost).
#
#  - POP3: N messages of SIZE bytes (default 1,000 × 4 KiB) retrieved with pipelined RETRs by one raw client, from
#    the bridge and from Dovecot's own POP3 on the same messages (postern fetched them with keep_on_server). The
#    bridge serves each message through pst_readable_message: read from the store, opened for a client (the
#    verdict of its analysis, decryption when it is encrypted) and given its Postern-Status field. First with
#    plaintext mail, then with E encrypted and signed messages (default 200), where each RETR decrypts and
#    verifies: what the bridge's decryption costs.
#  - SMTP: S messages (default 200) submitted through the bridge by one smtplib session against S × `postern
#    send`, both until every message is queued (the account has encrypt = never and a key of its own: both sign,
#    and only the path differs).
#
#   tests/bench/bench-bridge.sh [BUILD_DIR]      (as root: it makes a network namespace, as the others do)
#   N=1000 SIZE=4096 S=200 tests/bench/bench-bridge.sh build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# shellcheck source=tests/bench/lib-bench.sh
. "$here/lib-bench.sh"
bench_netns "$0" "$build"

N=${N:-1000}
SIZE=${SIZE:-4096}
S=${S:-200}
TOOL_N=$N
export POSTERN_AGENT="$build/agent/posternd"
P="$build/cli/postern"

trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bench_setup

home=$dir/home
bench_homes+=("$home")
mkdir -m 700 "$dir/gnupg"
export GNUPGHOME=$dir/gnupg   # alice's own key: both paths sign, as the policy asks by default
pst() { "$P" --home "$home" "$@"; }
pst account add bench --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://localhost:$SMTP_PORT" --pop3 "pop3s://localhost:$POP3S_PORT" --keep-on-server \
  --password-command "printf %s $ALICE_PASS" --ca-file "$CA_FILE" --encrypt never >/dev/null
pst agent start >/dev/null
pst keys generate --no-passphrase "$ALICE_ADDR" >/dev/null

echo "machine: $(nproc) cores; POP3: $N messages of $SIZE bytes; SMTP: $S messages"
bench_fill_maildir "$ALICE_MAILDIR" "$N" "$SIZE"
t0=$(now)
pst fetch --account bench >/dev/null
echo "postern fetch of $(maildir_count "$ALICE_MAILDIR") messages into the store: $(elapsed "$t0" "$(now)") s"

pst config set bridge-pop3 127.0.0.1:0 >/dev/null
pst config set bridge-smtp 127.0.0.1:0 >/dev/null
pst --json bridge credentials bench > "$dir/cred.json"
read -r bridge_pop3 bridge_smtp bridge_pass < <("$BENCH_PY" -c '
import json, sys; d = json.load(open(sys.argv[1]))
print(d["pop3"].rsplit(":", 1)[1], d["smtp"].rsplit(":", 1)[1], d["password"])' "$dir/cred.json")

# retr PORT USER PASSWORD: seconds to log in and RETR every message (pipelined), and the count and bytes.
retr() {
  "$BENCH_PY" - "$@" <<-'EOF'
	import socket, sys, time
	port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	t0 = time.monotonic()
	s = socket.create_connection(("127.0.0.1", port))
	f = s.makefile("rb", buffering=1 << 20)
	def ok(line):
	    if not line.startswith(b"+OK"):
	        sys.exit("server said %r" % line)
	ok(f.readline())
	s.sendall(b"USER %s\r\nPASS %s\r\nSTAT\r\n" % (user.encode(), password.encode()))
	ok(f.readline()); ok(f.readline())
	stat = f.readline(); ok(stat)
	n = int(stat.split()[1])
	s.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, n + 1)))
	total = 0
	for i in range(n):
	    ok(f.readline())
	    while True:
	        line = f.readline()
	        if line == b".\r\n":
	            break
	        total += len(line)
	s.sendall(b"QUIT\r\n")
	f.readline()
	print("%.2f %d %d" % (time.monotonic() - t0, n, total))
	EOF
}
read -r t_bridge n_bridge b_bridge < <(retr "$bridge_pop3" bench "$bridge_pass")
read -r t_dovecot n_dovecot b_dovecot < <(retr "$POP3_PORT" "$ALICE_ADDR" "$ALICE_PASS")
echo "POP3 RETR, pipelined, one session: bridge $t_bridge s for $n_bridge messages ($b_bridge bytes);" \
  "Dovecot $t_dovecot s for $n_dovecot ($b_dovecot bytes)"
echo "bridge vs Dovecot: $(ratio "$t_bridge" "$t_dovecot")x the time;" \
  "$("$BENCH_PY" -c "import sys; print(f'{float(sys.argv[1]) / int(sys.argv[2]) * 1000:.1f}')" "$t_bridge" "$n_bridge") ms per message on the bridge"

# --- POP3, encrypted mail: what the bridge's decryption costs ---
# E messages (default 200), PGP/MIME encrypted to alice and signed by her, each decrypted and verified by the
# bridge at RETR; Dovecot serves the same ciphertext.  The plaintext mail above is deleted first, from the
# store (through the bridge's DELE) and from the server.
E=${E:-200}
if [ "$E" -gt 0 ]; then
  "$BENCH_PY" - "$bridge_pop3" bench "$bridge_pass" <<-'EOF2'
	import poplib, sys
	p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
	p.user(sys.argv[2]); p.pass_(sys.argv[3])
	for i in range(1, p.stat()[0] + 1):
	    p.dele(i)
	p.quit()
	EOF2
  find "$ALICE_MAILDIR/new" "$ALICE_MAILDIR/cur" -type f -delete
  printf 'From: Alice <%s>\r\nTo: Alice <%s>\r\nSubject: encrypted bridge bench\r\n\r\n%s\r\n' \
    "$ALICE_ADDR" "$ALICE_ADDR" "$(head -c $((SIZE * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/$/\r/')" > "$dir/plain.eml"
  pst encrypt --to "$ALICE_ADDR" --sign -o "$dir/enc.eml" "$dir/plain.eml"
  "$BENCH_PY" - "$dir/enc.eml" "$ALICE_MAILDIR" "$E" <<-'EOF2'
	import os, re, sys, time
	src, md, n = open(sys.argv[1], "rb").read(), sys.argv[2], int(sys.argv[3])
	head, sep, body = src.partition(b"\r\n\r\n")
	if not sep:
	    head, sep, body = src.partition(b"\n\n")
	head = re.sub(rb"(?im)^message-id:.*(\r?\n[ \t].*)*\r?\n", b"", head + b"\n").rstrip(b"\r\n")
	now, pid = int(time.time()), os.getpid()
	for i in range(1, n + 1):
	    name = "%d.E%dP%d.bench" % (now, i, pid)
	    tmp = os.path.join(md, "tmp", name)
	    with open(tmp, "wb") as f:
	        f.write(b"Message-ID: <enc.%d.%d@postern.test>\n" % (pid, i) + head + sep + body)
	    os.chown(tmp, 65534, 65534)
	    os.rename(tmp, os.path.join(md, "new", name))
	EOF2
  t0=$(now)
  pst fetch --account bench >/dev/null
  echo "postern fetch of $E encrypted messages into the store: $(elapsed "$t0" "$(now)") s"
  read -r te_bridge ne_bridge be_bridge < <(retr "$bridge_pop3" bench "$bridge_pass")
  read -r te_dovecot ne_dovecot be_dovecot < <(retr "$POP3_PORT" "$ALICE_ADDR" "$ALICE_PASS")
  echo "POP3 RETR of encrypted mail: bridge $te_bridge s for $ne_bridge messages ($be_bridge bytes, decrypted);" \
    "Dovecot $te_dovecot s for $ne_dovecot ($be_dovecot bytes, as stored)"
  echo "encrypted: bridge vs Dovecot $(ratio "$te_bridge" "$te_dovecot")x the time;" \
    "$("$BENCH_PY" -c "import sys; print(f'{float(sys.argv[1]) / int(sys.argv[2]) * 1000:.1f}')" "$te_bridge" "$ne_bridge") ms per message on the bridge (decryption and verification included)"
fi

# --- SMTP ---
mkdir "$dir/in"
for i in $(seq 1 "$S"); do
  printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: bridge bench %d\r\nMessage-ID: <bb.%d.%d@postern.test>\r\n\r\n%s\r\n' \
    "$ALICE_ADDR" "$BOB_ADDR" "$i" "$$" "$i" "$(head -c $((SIZE * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/$/\r/')" \
    > "$dir/in/m$i.eml"
done
t_smtp=$("$BENCH_PY" - "$bridge_smtp" "$bridge_pass" "$ALICE_ADDR" "$BOB_ADDR" "$dir/in" "$S" <<-'EOF'
	import os, smtplib, sys, time
	port, password, sender, rcpt, d, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
	msgs = [open(os.path.join(d, "m%d.eml" % i), "rb").read() for i in range(1, n + 1)]
	t0 = time.monotonic()
	c = smtplib.SMTP("127.0.0.1", port)
	c.login("bench", password)
	for m in msgs:
	    c.sendmail(sender, [rcpt], m)
	c.quit()
	print("%.2f" % (time.monotonic() - t0))
	EOF
)
t0=$(now)
for i in $(seq 1 "$S"); do
  pst send --account bench "$dir/in/m$i.eml" >/dev/null
done
t_send=$(elapsed "$t0" "$(now)")
echo "SMTP: $S messages queued through the bridge (one session): $t_smtp s; with $S x \`postern send\`: $t_send s"
echo "postern send time / bridge time: $(ratio "$t_send" "$t_smtp" 2) (above 1: the bridge is faster)"
