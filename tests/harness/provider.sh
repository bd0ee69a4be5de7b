#!/bin/bash
# provider.sh start DIR | stop DIR
#
# A throwaway mail provider (test CA, Dovecot POP3/submission, Postfix delivery into Maildirs) living entirely
# inside DIR, an empty directory made by the caller. `start` writes DIR/env (export VAR=value lines) and returns
# once every listener answers; `stop` ends every process it started and is safe to repeat or to run after a
# partial start. Nothing outside DIR is written; the system's dovecot/postfix configs are only read.
#
# Addresses: 127.0.0.1 = the good server; 127.0.0.4 = the same, asking for TLS client certificates (EXTERNAL);
# 127.0.0.2 = same services without STLS/STARTTLS; 127.0.0.3 = a
# certificate for other.example (host-name mismatch). One listener serves all three addresses, so the port numbers
# are the same on each (DESIGN.md §12 has the Debian 12 facts this relies on).
set -euo pipefail

PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3  # Debian's own python has ssl; a pyenv shim is slower
MAIL_UID=65534 MAIL_GID=65534                     # nobody:nogroup — Postfix virtual(8) will not deliver as root
START_TIMEOUT=${PROVIDER_START_TIMEOUT:-20}       # seconds to wait for all listeners

die() { echo "provider.sh: $*" >&2; exit 1; }

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
D=$(cd "$2" && pwd) || die "no such directory: $2"
# Unix socket paths (at most 107 bytes) live below DIR (longest: dovecot/run/token-login/tokenlogin), and the
# generated configs do not quote paths: keep DIR short and plain, e.g. mktemp -d /tmp/pst.XXXXXX.
[ ${#D} -le 60 ] || die "$D is too long (${#D} > 60 bytes): Unix socket paths below it would not fit"
case $D in *[!A-Za-z0-9/._-]*) die "$D: only letters, digits and / . _ - please (paths go unquoted into configs)" ;; esac

# ---------------------------------------------------------------------------------------------------------------
# process bookkeeping

# Both masters call setsid(), so every process they fork shares their session id: the session is what we stop.
session_pids() {  # SID -> pids still in that session (zombies do not count: a container's init may not reap them)
	ps -eo pid=,sid=,stat= | awk -v s="$1" '$2 == s && $3 !~ /^Z/ { print $1 }'
}

# Is PID (from a pid file) really our master, not a recycled pid? Dovecot's has our config path on its command
# line; Postfix's master gets MAIL_CONFIG=<our config dir> in its environment.
ours() {
	local pid=$1
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF "$D/dovecot/dovecot.conf" && return 0
	tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF "MAIL_CONFIG=$D/postfix/etc" && return 0
	return 1
}

# Stop the session led by the master in PIDFILE. SIGKILL, not SIGTERM: both masters take 2-3 s to shut down
# gracefully, and nothing in a throwaway provider is worth that. Repeat until the session is empty, in case a
# master forked while we were listing.
stop_session() {
	local pidfile=$1 pid pids
	[ -s "$pidfile" ] || return 0
	pid=$(tr -dc 0-9 <"$pidfile")
	# A live process under that pid that is not our master: the pid was recycled, leave it alone. (A dead master's
	# session id is never reused while members of its session live, so those are still ours.)
	if [ -n "$pid" ] && { [ ! -d "/proc/$pid" ] || ours "$pid"; }; then
		for _ in $(seq 100); do
			pids=$(session_pids "$pid")
			[ -z "$pids" ] && break
			# shellcheck disable=SC2086 # a list of pids
			kill -KILL $pids 2>/dev/null || true
			sleep 0.05
		done
		[ -z "$pids" ] || echo "provider.sh: processes $pids (session $pid) would not die" >&2
	fi
	rm -f "$pidfile"
}

do_stop() {
	# Postfix's pid file is written by the master itself; it can be missing after a failed start.
	stop_session "$D/postfix/spool/pid/master.pid"
	stop_session "$D/dovecot/run/master.pid"
	# Backstop for a start interrupted between fork and pid file: any process whose command line names our
	# Dovecot config. (Postfix's `master -w` writes its pid file before it returns, so it needs no backstop.)
	local p
	for p in $(pgrep -f -- "-c $D/dovecot/dovecot.conf" || true); do
		if ours "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
	done
	return 0
}

# ---------------------------------------------------------------------------------------------------------------
# start

# Five ports free on 127.0.0.1, .2, .3 and .4 at once. The kernel picks them (bind to port 0), so two providers
# started together get different ones; the sockets are held until all five are chosen so they differ from each
# other. A race with another program remains, hence the retry in do_start.
pick_ports() {
	"$PY" - <<-'EOF'
	import socket
	held, ports = [], []
	while len(ports) < 5:
	    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
	    port = s.getsockname()[1]
	    try:
	        for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
	            t = socket.socket(); t.bind((ip, port)); held.append(t)
	    except OSError:
	        continue
	    ports.append(port)
	print(*ports)
	EOF
}

make_certs() {
	local c=$D/ca
	mkdir -p "$c"
	cat >"$c/openssl.cnf" <<-EOF
	[req]
	distinguished_name = dn
	prompt = no
	[dn]
	CN = unused
	[ca]
	basicConstraints = critical,CA:TRUE
	keyUsage = critical,keyCertSign,cRLSign
	subjectKeyIdentifier = hash
	[server]
	basicConstraints = critical,CA:FALSE
	keyUsage = critical,digitalSignature
	extendedKeyUsage = serverAuth
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	subjectAltName = IP:127.0.0.1,IP:127.0.0.4,DNS:localhost
	[wronghost]
	basicConstraints = critical,CA:FALSE
	keyUsage = critical,digitalSignature
	extendedKeyUsage = serverAuth
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	subjectAltName = DNS:other.example
	EOF
	local -a key=(genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)  # EC keys: generated in milliseconds
	local name
	for name in ca other-ca; do
		openssl "${key[@]}" -out "$c/$name.key" 2>/dev/null
		openssl req -config "$c/openssl.cnf" -new -x509 -days 3650 -key "$c/$name.key" \
			-subj "/O=Postern tests/CN=Postern $name $(basename "$D")" -extensions ca -out "$c/$name.crt"
	done
	# server.crt: the good one (127.0.0.1, localhost); wronghost.crt: same CA, but only other.example.
	local cn
	for name in server wronghost; do
		[ $name = server ] && cn=localhost || cn=other.example
		openssl "${key[@]}" -out "$c/$name.key" 2>/dev/null
		openssl req -config "$c/openssl.cnf" -new -key "$c/$name.key" -subj "/CN=$cn" |
			openssl x509 -req -days 825 -CA "$c/ca.crt" -CAkey "$c/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
				-extfile "$c/openssl.cnf" -extensions "$name" -out "$c/$name.crt" 2>/dev/null
	done
	chmod 600 "$c"/*.key
}

# SHA-256 of a certificate's SubjectPublicKeyInfo, hex and base64 (what a `pin` is made of).
spki_sha256() {  # CERT FORMAT(hex|base64)
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary |
		if [ "$2" = hex ]; then od -An -tx1 | tr -d ' \n'; else base64; fi
}

make_users() {
	ALICE_PASS=$(openssl rand -hex 12)
	BOB_PASS=$(openssl rand -hex 12)
	local u pass home
	: >"$D/dovecot/users"
	: >"$D/dovecot/users-cert"
	for u in alice bob; do
		[ $u = alice ] && pass=$ALICE_PASS || pass=$BOB_PASS
		home=$D/mail/postern.test/$u
		mkdir -p "$home/Maildir/new" "$home/Maildir/cur" "$home/Maildir/tmp"
		# user:password:uid:gid:gecos:home:shell — {PLAIN} is fine for a throwaway provider
		echo "$u@postern.test:{PLAIN}$pass:$MAIL_UID:$MAIL_GID::$home::" >>"$D/dovecot/users"
		# EXTERNAL: the verified client certificate is the credential, so no password.
		echo "$u@postern.test:::::::nopassword=y" >>"$D/dovecot/users-cert"
	done
	chown -R "$MAIL_UID:$MAIL_GID" "$D/mail"
	# the auth process runs as the dovecot user
	chgrp dovecot "$D/dovecot/users" "$D/dovecot/users-cert"
	chmod 640 "$D/dovecot/users" "$D/dovecot/users-cert"
}

write_dovecot_conf() {  # POP3 POP3S SMTP SMTPS RELAY
	local dh=""
	# Debian ships DH parameters; generating our own would take seconds.
	[ -r /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
	cat >"$D/dovecot/dovecot.conf" <<-EOF
	# Generated by tests/harness/provider.sh — a throwaway test provider.
	# instance_name shows in ps ("postern-XXXX/pop3-login"); base_dir/state_dir keep every file inside DIR.
	instance_name = postern-$(basename "$D")
	base_dir = $D/dovecot/run
	state_dir = $D/dovecot/state
	log_path = $D/dovecot.log
	auth_verbose = yes
	protocols = pop3 submission
	hostname = localhost
	listen = 127.0.0.1

	ssl = yes
	ssl_cert = <$D/ca/server.crt
	ssl_key = <$D/ca/server.key
	$dh
	ssl_min_protocol = TLSv1.2
	# SCRAM-SHA-256 (computed from the {PLAIN} passwords below) is what Postern picks when offered. EXTERNAL: a
	# TLS client certificate from the test CA whose common name is the user (mint one with CA_KEY).
	auth_mechanisms = plain login scram-sha-256 external
	ssl_ca = <$D/ca/ca.crt
	ssl_require_crl = no
	auth_ssl_username_from_cert = yes
	# Plaintext AUTH only over TLS (Dovecot still counts 127.0.0.1->127.0.0.1 as secure).
	disable_plaintext_auth = yes
	# Tests try wrong passwords on purpose: answer at once, and do not slow down 127.0.0.1's next logins
	# (the anvil auth penalty doubles a delay per failure, per IP).
	auth_failure_delay = 0

	passdb {
	  driver = passwd-file
	  args = $D/dovecot/users-cert
	  mechanisms = external
	}
	passdb {
	  driver = passwd-file
	  args = $D/dovecot/users
	}
	userdb {
	  driver = passwd-file
	  args = $D/dovecot/users
	}
	mail_location = maildir:~/Maildir
	first_valid_uid = $MAIL_UID
	first_valid_gid = $MAIL_GID

	# 127.0.0.2: no TLS at all, so no STLS/STARTTLS in CAPA/EHLO.
	local 127.0.0.2 {
	  ssl = no
	}
	# 127.0.0.4: asks for a client certificate (SASL EXTERNAL). Only here: Dovecot 2.3 then refuses every resumed
	# session ("session id context uninitialized"), which the other addresses must keep.
	local 127.0.0.4 {
	  ssl_verify_client_cert = yes
	}
	# 127.0.0.3: a valid chain, but for another host name.
	local 127.0.0.3 {
	  ssl_cert = <$D/ca/wronghost.crt
	  ssl_key = <$D/ca/wronghost.key
	}

	service anvil {
	  unix_listener anvil-auth-penalty {
	    mode = 0
	  }
	}
	service pop3-login {
	  # One long-lived login process (high-performance mode) keeps one TLS ticket key, so that clients can resume
	  # sessions (DESIGN §9); by default each connection gets a new process, and with it a new key.
	  service_count = 0
	  process_min_avail = 1
	  inet_listener pop3 {
	    address = 127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4
	    port = $1
	  }
	  inet_listener pop3s {
	    address = 127.0.0.1, 127.0.0.3, 127.0.0.4
	    port = $2
	    ssl = yes
	  }
	}
	service submission-login {
	  # One long-lived login process (high-performance mode) keeps one TLS ticket key, so that clients can resume
	  # sessions (DESIGN §9); by default each connection gets a new process, and with it a new key.
	  service_count = 0
	  process_min_avail = 1
	  inet_listener submission {
	    address = 127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4
	    port = $3
	  }
	  # RFC 8314 implicit TLS
	  inet_listener submissions {
	    address = 127.0.0.1, 127.0.0.3, 127.0.0.4
	    port = $4
	    ssl = yes
	  }
	}
	# Submission relays everything to our Postfix (plain SMTP on loopback, mynetworks lets it relay).
	submission_relay_host = 127.0.0.1
	submission_relay_port = $5
	submission_relay_ssl = no
	# As Postfix's message_size_limit (a 1 GiB attachment, encrypted).
	submission_max_mail_size = 1536M
	$([ "${PST_PROVIDER_NO_8BITMIME:-}" = 1 ] && echo "submission_backend_capabilities = SIZE PIPELINING ENHANCEDSTATUSCODES CHUNKING")
	EOF
}

write_postfix_conf() {  # RELAY
	local etc=$D/postfix/etc
	mkdir -p "$etc" "$D/postfix/spool" "$D/postfix/data"
	chown postfix "$D/postfix/data"
	cat >"$etc/main.cf" <<-EOF
	# Generated by tests/harness/provider.sh — a private Postfix instance for tests.
	compatibility_level = 3.6
	queue_directory = $D/postfix/spool
	data_directory = $D/postfix/data
	meta_directory = /etc/postfix
	maillog_file = $D/postfix.log
	maillog_file_prefixes = $D
	mail_owner = postfix
	setgid_group = postdrop
	myhostname = localhost
	mydomain = localdomain
	myorigin = postern.test
	mydestination =
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	smtpd_recipient_restrictions = permit_mynetworks, reject
	smtpd_peername_lookup = no
	alias_maps =
	alias_database =
	local_recipient_maps =
	biff = no
	append_dot_mydomain = no
	# 1.5 GiB: a 1 GiB attachment, base64 and encrypted, fits (send's
	# constant-memory path, tests/integration/test-memory-send.sh).
	message_size_limit = 1610612736
	# PST_PROVIDER_NO_8BITMIME=1: a provider whose submission server does not
	# offer 8BITMIME (Dovecot offers what its relay offers), for the 7-bit
	# copy of an 8-bit message (tests/integration/test-memory-send.sh).
	$([ "${PST_PROVIDER_NO_8BITMIME:-}" = 1 ] && echo "smtpd_discard_ehlo_keywords = 8bitmime")

	# postern.test is delivered into the Maildirs that Dovecot serves.
	virtual_mailbox_domains = postern.test
	virtual_mailbox_base = $D/mail
	virtual_mailbox_maps = inline:{ alice@postern.test=postern.test/alice/Maildir/, bob@postern.test=postern.test/bob/Maildir/ }
	virtual_uid_maps = static:$MAIL_UID
	virtual_gid_maps = static:$MAIL_GID
	virtual_mailbox_limit = 0

	# Never send anything anywhere else: loopback only.
	default_transport = error:5.7.1 test provider delivers only to postern.test
	relay_transport = error:5.7.1 test provider delivers only to postern.test
	local_transport = error:5.7.1 test provider delivers only to postern.test

	# Fast: retry deferred mail within a second or two, no artificial delays.
	queue_run_delay = 1s
	minimal_backoff_time = 1s
	maximal_backoff_time = 2s
	in_flow_delay = 0
	smtpd_error_sleep_time = 0
	EOF
	# No chroot (Debian's default master.cf chroots into /var/spool/postfix); only what we need.
	cat >"$etc/master.cf" <<-EOF
	127.0.0.1:$1 inet n     -       n       -       -       smtpd
	pickup     unix  n       -       n       60      1       pickup
	cleanup    unix  n       -       n       -       0       cleanup
	qmgr       unix  n       -       n       300     1       qmgr
	rewrite    unix  -       -       n       -       -       trivial-rewrite
	bounce     unix  -       -       n       -       0       bounce
	defer      unix  -       -       n       -       0       bounce
	trace      unix  -       -       n       -       0       bounce
	verify     unix  -       -       n       -       1       verify
	flush      unix  n       -       n       1000?   0       flush
	proxymap   unix  -       -       n       -       -       proxymap
	error      unix  -       -       n       -       -       error
	retry      unix  -       -       n       -       -       error
	discard    unix  -       -       n       -       -       discard
	virtual    unix  -       n       n       -       -       virtual
	anvil      unix  -       -       n       -       1       anvil
	scache     unix  -       -       n       -       1       scache
	showq      unix  n       -       n       -       -       showq
	postlog    unix-dgram n  -       n       -       1       postlogd
	EOF
	# Postfix reads a config file only once it is 2 s old ("pausing to let main.cf cool down"): backdate.
	touch -d @$(($(date +%s) - 10)) "$etc/main.cf" "$etc/master.cf"
}

# Wait until every listener greets (plain ones send +OK/220; implicit-TLS ones complete a handshake).
wait_ready() {  # endpoints "kind:host:port" ...
	"$PY" - "$START_TIMEOUT" "$@" <<-'EOF'
	import socket, ssl, sys, time
	deadline = time.monotonic() + float(sys.argv[1])
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
	pending = sys.argv[2:]
	while pending:
	    kind, host, port = pending[0].split(":")
	    try:
	        with socket.create_connection((host, int(port)), timeout=2) as s:
	            if kind == "tls":
	                s = ctx.wrap_socket(s)
	            line = s.makefile("rb").readline()
	            if not line.startswith((b"+OK", b"220")):
	                raise OSError("unexpected greeting %r" % line)
	        pending.pop(0)
	    except OSError as e:
	        if time.monotonic() > deadline:
	            sys.exit("provider.sh: %s:%s (%s) not ready after %s s: %s" % (host, port, kind, sys.argv[1], e))
	        time.sleep(0.05)
	EOF
}

show_logs() {
	local f
	for f in "$D/postfix/start.out" "$D/postfix.log" "$D/dovecot/start.out" "$D/dovecot.log"; do
		[ -s "$f" ] || continue
		echo "---- tail of $f" >&2
		tail -n 25 "$f" >&2
	done
}

# Postfix's queue directories, as its own manifest (postfix-files) lists them, with their owners and modes; then
# `postfix start` skips its integrity checks (quick-start), whose `post-install create-missing` makes the same
# directories with some twenty postconf runs: 0.55 s of a provider's start of 0.67 s here. Without the manifest,
# the checks run as before.
make_postfix_queue() {
	local spool=$D/postfix/spool manifest=/etc/postfix/postfix-files path type owner group mode made=0
	[ -r "$manifest" ] || return 0
	# shellcheck disable=SC2016 # Postfix's own $names, matched literally
	while IFS=: read -r path type owner group mode _; do
		case $path:$type in '$queue_directory/'*:d) ;; *) continue ;; esac
		owner=${owner//'$mail_owner'/postfix}
		group=${group//'$setgid_group'/postdrop}
		[ "$group" != - ] || group=root
		install -d -o "$owner" -g "$group" -m "$mode" "$spool/${path#'$queue_directory/'}" || return 1
		made=$((made + 1))
	done <"$manifest"
	[ "$made" = 0 ] || touch "$spool/quick-start"
}

start_services() {  # POP3 POP3S SMTP SMTPS RELAY ; returns non-zero on failure
	write_dovecot_conf "$@"
	write_postfix_conf "$5"
	make_postfix_queue || { echo "provider.sh: cannot make Postfix's queue directories" >&2; return 1; }
	# Postfix writes early fatal errors only to syslog unless stderr is a tty: hence script(1) (DESIGN.md §12).
	# `postfix start` runs `master -w`, which returns only after the master has bound its listeners.
	script -qec "postfix -c '$D/postfix/etc' start" "$D/postfix/start.out" >/dev/null </dev/null ||
		{ echo "provider.sh: postfix did not start" >&2; return 1; }
	dovecot -c "$D/dovecot/dovecot.conf" >"$D/dovecot/start.out" 2>&1 </dev/null ||
		{ echo "provider.sh: dovecot did not start" >&2; return 1; }
	wait_ready "plain:127.0.0.1:$5" \
		plain:127.0.0.{1,2,3}:"$1" tls:127.0.0.{1,3}:"$2" plain:127.0.0.{1,2,3}:"$3" tls:127.0.0.{1,3}:"$4"
}

do_start() {
	[ -z "$(ls -A "$D")" ] || die "$D is not empty"
	# Postfix and Dovecot drop privileges (postfix, dovenull, nobody) and must reach the files below DIR.
	chmod 711 "$D"
	mkdir -p "$D/dovecot/run" "$D/dovecot/state" "$D/mail"
	make_certs
	make_users
	local try ports
	for try in 1 2 3; do
		read -r -a ports <<<"$(pick_ports)"
		if start_services "${ports[@]}"; then
			break
		fi
		# A port taken between pick_ports and bind: stop what started and try new ports.
		if [ $try -lt 3 ] && grep -qs "in use" "$D/postfix/start.out" "$D/postfix.log" "$D/dovecot/start.out"; then
			echo "provider.sh: port collision, retrying with new ports" >&2
			do_stop
			continue
		fi
		echo "provider.sh: the provider in $D did not start" >&2
		show_logs
		do_stop
		exit 1
	done
	local c=$D/ca
	{
		v() { printf 'export %s=%q\n' "$1" "$2"; }
		v PROVIDER_DIR "$D"
		v CA_FILE "$c/ca.crt"
		v CA_KEY "$c/ca.key"                    # to mint more certificates (client certs) in tests
		v OTHER_CA_FILE "$c/other-ca.crt"
		v SERVER_CERT "$c/server.crt"
		v SERVER_PIN_SHA256_HEX "$(spki_sha256 "$c/server.crt" hex)"
		v SERVER_PIN_SHA256_B64 "$(spki_sha256 "$c/server.crt" base64)"
		v WRONGHOST_CERT "$c/wronghost.crt"
		v HOST 127.0.0.1
		v POP3_PORT "${ports[0]}"
		v POP3S_PORT "${ports[1]}"
		v SMTP_PORT "${ports[2]}"
		v SMTPS_PORT "${ports[3]}"
		v RELAY_PORT "${ports[4]}"              # Postfix smtpd (no auth, no TLS; mynetworks relays)
		v NOTLS_HOST 127.0.0.2
		v NOTLS_POP3_PORT "${ports[0]}"
		v NOTLS_SMTP_PORT "${ports[2]}"
		v CLIENTCERT_HOST 127.0.0.4            # same services; asks for a TLS client certificate
		v WRONGHOST_HOST 127.0.0.3
		v WRONGHOST_POP3_PORT "${ports[0]}"
		v WRONGHOST_POP3S_PORT "${ports[1]}"
		v WRONGHOST_SMTP_PORT "${ports[2]}"
		v WRONGHOST_SMTPS_PORT "${ports[3]}"
		v ALICE_ADDR alice@postern.test
		v ALICE_PASS "$ALICE_PASS"
		v BOB_ADDR bob@postern.test
		v BOB_PASS "$BOB_PASS"
		v ALICE_MAILDIR "$D/mail/postern.test/alice/Maildir"
		v BOB_MAILDIR "$D/mail/postern.test/bob/Maildir"
		v POSTFIX_LOG "$D/postfix.log"
		v DOVECOT_LOG "$D/dovecot.log"
		v POSTFIX_CONFIG_DIR "$D/postfix/etc"   # postqueue -c "$POSTFIX_CONFIG_DIR" -p
		v DOVECOT_CONFIG "$D/dovecot/dovecot.conf"  # doveadm -c "$DOVECOT_CONFIG" ...
	} >"$D/env"
	chmod 600 "$D/env"  # passwords
}

case $cmd in
start) do_start ;;
stop) do_stop ;;
*) usage ;;
esac
