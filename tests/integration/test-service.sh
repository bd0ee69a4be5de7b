#!/usr/bin/env bash
# Running posternd as a service: `meson install` puts the binaries, the
# systemd user units, the man pages and the bash completion in place; the
# agent takes the listening socket that systemd passes (socket activation,
# here through systemd-socket-activate); SIGHUP reads the configuration
# again, and a configuration with errors is refused with file, group and
# key while the agent keeps the old one.  Needs no provider.
#   BUILD_DIR=... POSTERN=... POSTERND=... test-service.sh
source "$(dirname "$0")/lib.sh"

: "${BUILD_DIR:?set BUILD_DIR to the meson build directory}"
dest="$WORK/dest"
check "meson install --destdir" bash -c 'meson install -C "$1" --destdir "$2" --no-rebuild --quiet >/dev/null' _ "$BUILD_DIR" "$dest"
prefix=$(meson introspect "$BUILD_DIR" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
for f in bin/postern bin/posternd lib/systemd/user/postern.socket lib/systemd/user/postern.service \
         share/man/man1/postern.1 share/man/man8/posternd.8 share/man/man5/postern.conf.5 \
         share/bash-completion/completions/postern share/doc/postern/postern.conf.sample; do
  check "installed: $f" test -e "$dest$prefix/$f"
done
for f in bin/postern-gtk share/man/man1/postern-gtk.1 share/applications/org.postern.Postern.desktop \
         share/metainfo/org.postern.Postern.metainfo.xml share/icons/hicolor/scalable/apps/org.postern.Postern.svg; do
  check "installed: $f" test -e "$dest$prefix/$f"
done
check "desktop-file-validate passes (and the launcher handles mailto:)" bash -c \
  'desktop-file-validate "$1" && grep -qx "MimeType=x-scheme-handler/mailto;" "$1"' _ \
  "$dest$prefix/share/applications/org.postern.Postern.desktop"
check "appstreamcli validate passes" bash -c 'appstreamcli validate --no-net "$1" >/dev/null' _ \
  "$dest$prefix/share/metainfo/org.postern.Postern.metainfo.xml"
check "the service runs the installed agent and reloads on SIGHUP" bash -c \
  'grep -qx "ExecStart=$2/bin/posternd" "$1" && grep -q "^ExecReload=/bin/kill -HUP" "$1"' _ \
  "$dest$prefix/lib/systemd/user/postern.service" "$prefix"
check "the socket is the one the CLI looks for, 0600" bash -c \
  'grep -qx "ListenStream=%t/postern/agent.sock" "$1" && grep -qx "SocketMode=0600" "$1"' _ \
  "$dest$prefix/lib/systemd/user/postern.socket"
for m in postern.1 postern-gtk.1 posternd.8 postern.conf.5; do
  check "man page $m has no groff warnings" bash -c '[ -z "$(groff -man -ww -z "$1" 2>&1)" ]' _ \
    "$(find "$dest$prefix/share/man" -name "$m")"
done
check "bash completion loads and completes subcommands" bash -c \
  'source "$1"; COMP_WORDS=(postern out); COMP_CWORD=1; _postern; [ "${COMPREPLY[*]}" = outbox ] && COMP_WORDS=(postern outbox r); COMP_CWORD=2; _postern; [ "${COMPREPLY[*]}" = retry ]' \
  _ "$dest$prefix/share/bash-completion/completions/postern"

# ---- socket activation ----
H="$WORK/home-svc"
mkdir -m 700 -p "$H/run"
# In the foreground (as under systemd) the agent logs to stderr: the journal.
LOG="$WORK/agent-stderr.log"
systemd-socket-activate -l "$H/run/agent.sock" "$POSTERND" --home "$H" >"$LOG" 2>&1 &
RELAY_PIDS="${RELAY_PIDS:-} $!"
for _ in $(seq 1 100); do [ -S "$H/run/agent.sock" ] && break; sleep 0.05; done
check "socket activation: the first connection starts the agent on the passed socket" bash -c \
  '"$1" --home "$2" agent status >/dev/null && sleep 0.3 && grep -q "listening on the socket systemd passed" "$3"' \
  _ "$POSTERN" "$H" "$LOG"
check "… the agent made the socket 0600 (systemd-socket-activate does not)" test "$(stat -c %a "$H/run/agent.sock")" = 600

# ---- SIGHUP ----
pid=$("$POSTERN" --home "$H" --json agent status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
cat >> "$H/config" <<CONF

[account reloaded]
address=me@example.org
smtp=smtps://127.0.0.1:9
pop3=pop3s://127.0.0.1:9
user=me
password_command=true
fetch_intreval=300
CONF
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q "reload: configuration read again" "$LOG" && break; sleep 0.1; done
check "SIGHUP: a new account in the file is known" bash -c '"$1" --home "$2" account show reloaded >/dev/null' _ "$POSTERN" "$H"
check "… and its misspelt key is reported with its line, not silently ignored" bash -c \
  '"$1" --home "$2" --json agent status | grep -q "config:[0-9]*: \[account reloaded\] fetch_intreval: unknown key, ignored (did you mean fetch_interval?)" && "$1" --home "$2" agent status | grep -qE "^(warning|Warnung): .*fetch_intreval: unknown key" && grep -q "warning: .*fetch_intreval: unknown key" "$3"' \
  _ "$POSTERN" "$H" "$LOG"
cp "$H/config" "$WORK/good-config"
printf '\n[account broken]\naddress=not-an-address\n' >> "$H/config"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q "keeping the configuration" "$LOG" && break; sleep 0.1; done
check "SIGHUP with errors: refused, naming the file, line, group and key" bash -c \
  'grep "reload:" "$1" | grep -q "config:[0-9]*: \[account broken\] smtp: missing; keeping the configuration as it was"' _ "$LOG"
check "… and the agent keeps the configuration it had" bash -c '"$1" --home "$2" account show reloaded >/dev/null' _ "$POSTERN" "$H"
cp "$WORK/good-config" "$H/config"
# The socket stays with systemd (here systemd-socket-activate's): agent
# stop is done when the process has ended.  It waited for the socket to go,
# and said after 10 s that the agent had not stopped.
stop_activated() {
  local out rc=0 t0=$SECONDS
  out=$("$POSTERN" --home "$H" agent stop 2>&1) || rc=$?
  echo "# agent stop: exit $rc after $((SECONDS - t0)) s: $out"
  [ "$rc" = 0 ] && [ "$out" = "agent stopped" ] && ! alive "$pid" && [ -S "$H/run/agent.sock" ]
}
check "agent stop of the socket-activated agent: stopped once its process ends, the socket left to systemd" \
  stop_activated
check "the same errors at start: the agent does not start" bash -c \
  'printf "\n[account broken]\naddress=x@y\n" >> "$2/config"; ! "$1" --home "$2" 2>/dev/null' \
  _ "$POSTERND" "$H"

# ---- the log: $XDG_STATE_HOME, rotated when the agent starts ----
X="$WORK/xdg"
mkdir -m 700 -p "$X/config" "$X/data" "$X/state" "$X/run"
xdg() { env -u POSTERN_HOME XDG_CONFIG_HOME="$X/config" XDG_DATA_HOME="$X/data" \
          XDG_STATE_HOME="$X/state" XDG_RUNTIME_DIR="$X/run" "$POSTERN" "$@"; }
check "without --home the agent logs under \$XDG_STATE_HOME/postern" bash -c \
  "$(declare -f xdg); X=\"$X\" POSTERN=\"$POSTERN\"; xdg agent start >/dev/null && grep -q 'listening on' \"$X/state/postern/posternd.log\"" 
check "… in a 0700 directory, the log 0600" bash -c \
  '[ "$(stat -c %a "$1/state/postern")" = 700 ] && [ "$(stat -c %a "$1/state/postern/posternd.log")" = 600 ]' _ "$X"
xdg agent stop >/dev/null 2>&1 || true
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' 'x' > "$X/state/postern/posternd.log"
xdg agent start >/dev/null
check "a log past 8 MiB becomes posternd.log.1 when the agent starts, and a new one begins" bash -c \
  '[ "$(stat -c %s "$1.1")" = $((9 * 1024 * 1024)) ] && [ "$(stat -c %s "$1")" -lt 100000 ] && grep -q "listening on" "$1"' \
  _ "$X/state/postern/posternd.log"
xdg agent stop >/dev/null 2>&1 || true

finish
