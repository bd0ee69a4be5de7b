#!/usr/bin/env bash
# Benchmark (not a test): what a mail client does all day (issue 15), over a
# store of LIST_N (100,000) messages:
#   - opening a thread of THREAD_N (50) messages: the agent's `list` page
#     that holds it (the client picks the thread's messages by "thread"),
#     then `show` of each, over one socket connection as the GUI does (the
#     RPC side: the GUI's drawing is not timed), and the same through the
#     CLI, one `postern show` process per message;
#   - marking MARK_N (10,000) messages read: one `postern mark … --read`,
#     then unread again in chunks of CHUNK (1,000), then read in one RPC
#     call;
#   - `list --unread` over the LIST_N, with MARK_N of them unread.
# One run on this machine; prints a table.  No figure is checked.
#
#   tests/bench/bench-everyday.sh [BUILD_DIR]      (default: build)
#   LIST_N=100000 MARK_N=10000 THREAD_N=50 CHUNK=1000 tests/bench/bench-everyday.sh build
#
# The thread is imported (`postern import`, so that the agent threads it by
# its References as it would fetched mail); the LIST_N other messages are
# written into the store directly, the way its rows look (as
# bench-import.sh does), with the agent stopped: importing 100,000 takes
# minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
# now, elapsed (no provider or namespace here: bench_setup is not called)
# shellcheck source=tests/bench/lib-bench.sh
. "$here/lib-bench.sh"
LIST_N=${LIST_N:-100000}
MARK_N=${MARK_N:-10000}
THREAD_N=${THREAD_N:-50}
CHUNK=${CHUNK:-1000}
[ "$MARK_N" -le "$LIST_N" ] || { echo "bench-everyday: MARK_N must not exceed LIST_N" >&2; exit 1; }
export POSTERN_AGENT="$build/agent/posternd"
P="$build/cli/postern"
dir=$(mktemp -d /tmp/pst-bench-everyday.XXXXXX)
H="$dir/h"
trap '"$P" --home "$H" agent stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
mkdir -m 700 "$dir/gnupg"
export GNUPGHOME="$dir/gnupg"

results=()
# row WHAT SECONDS [NOTE]: a line of the table.
row() { results+=("$(printf '%-64s %9s s  %s' "$1" "$2" "${3:-}")"); echo "$1: $2 s ${3:-}"; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); store of $LIST_N + $THREAD_N messages"
"$P" --home "$H" account add main --address bench@example.org --user bench \
  --smtp smtp://127.0.0.1:1 --pop3 pop3s://127.0.0.1:1 --password-command true >/dev/null

# The other LIST_N first, older than the thread (lower ids, received
# earlier: the client pages newest first, so the thread is on the first
# page as fresh mail is).  MARK_N of them unread, spread evenly.
"$P" --home "$H" agent stop >/dev/null
python3 - "$H/data/postern.db" "$LIST_N" "$MARK_N" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); n, unread = int(sys.argv[2]), int(sys.argv[3])
step = n / unread if unread else 0
marks = {int(k * step) for k in range(unread)}
t = int(time.time()) - n
with db:
    db.executemany(
        "insert into messages (account, uidl, received_at, size, from_addr, subject, date, crypto_json, scan_verdict, unread)"
        " values ('bulk', ?, ?, 1024, ?, ?, 'Sat, 05 Dec 2026 10:00:00 +0000',"
        " '{\"scheme\":\"none\",\"decryption\":\"not-encrypted\",\"signature\":{\"status\":\"none\"}}', 'skipped', ?)",
        ((f"u{i}", t + i, f"Sender {i} <s{i}@example.org>", f"message {i}", int(i in marks)) for i in range(n)))
PY
# The agent threads the rows written directly as it starts: on a loaded
# machine that can take longer than the CLI waits for a new agent (5 s), so
# ask again until it answers.
t0=$(now)
for _ in $(seq 1 60); do
  "$P" --home "$H" list --limit 1 > "$dir/first.out" 2>&1 && break
  sleep 2
done
t1=$(now)
[ -s "$dir/first.out" ] && ! grep -q '^postern:' "$dir/first.out" ||
  { echo "bench-everyday: the agent did not come up: $(cat "$dir/first.out")" >&2; exit 1; }
echo "agent start and first list (threading the $LIST_N rows written directly): $(elapsed "$t0" "$t1") s (not in the table)"

# The thread: each message answers the one before and names all before it
# in References; about 2 KiB each, a quote of the one before included.
python3 - "$dir/thread.mbox" "$THREAD_N" <<'PY'
import sys
out, n = open(sys.argv[1], "w"), int(sys.argv[2])
text = "A line of the discussion, long enough to be a line of real mail text.\n" * 12
for i in range(n):
    h = (f"From p{i % 5}@example.org Sat Dec  5 10:00:00 2026\nFrom: Person {i % 5} <p{i % 5}@example.org>\n"
         f"To: bench@example.org\nSubject: {'Re: ' if i else ''}the long thread\n"
         f"Date: Sat, 05 Dec 2026 10:{i // 60:02d}:{i % 60:02d} +0000\nMessage-ID: <t{i}@example.org>\n")
    if i:
        h += f"In-Reply-To: <t{i - 1}@example.org>\nReferences:" + "".join(f" <t{j}@example.org>" for j in range(i)) + "\n"
    quote = "".join("> " + l + "\n" for l in text.splitlines()[:6]) if i else ""
    out.write(h + "\n" + f"On the thread, message {i}:\n" + text + quote + "\n")
PY
t0=$(now)
"$P" --home "$H" import "$dir/thread.mbox" >/dev/null
t1=$(now)
echo "import of the $THREAD_N-message thread: $(elapsed "$t0" "$t1") s (not in the table)"

# The thread's messages are all unread: mark them read (the bulk's unread
# ones are then exactly MARK_N).
"$P" --home "$H" --json list --limit "$((THREAD_N + 10))" |
  python3 -c 'import json,sys; print("\n".join(str(m["id"]) for m in json.load(sys.stdin)["messages"] if m["subject"].endswith("the long thread")))' \
  > "$dir/thread.ids"
[ "$(wc -l < "$dir/thread.ids")" = "$THREAD_N" ] || { echo "bench-everyday: the thread is not on the first page" >&2; exit 1; }
xargs "$P" --home "$H" mark --read < "$dir/thread.ids" >/dev/null

# ---- opening the thread: the RPC side, one connection ----
python3 - "$H/run/agent.sock" "$THREAD_N" > "$dir/thread.out" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb"); n = int(sys.argv[2])
seq = 0
def call(method, params):
    global seq
    seq += 1
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": seq, "method": method, "params": params}).encode() + b"\n")
    r = json.loads(f.readline())
    if "error" in r:
        sys.exit(f"{method}: {r['error']}")
    return r["result"]
runs = []
for _ in range(5):
    t0 = time.monotonic()
    page = call("list", {})["messages"]
    newest = page[0]
    thread = [m for m in page if m["thread"] == newest["thread"]]
    t1 = time.monotonic()
    shows = []
    for m in thread:
        u0 = time.monotonic(); r = call("show", {"id": m["id"]}); shows.append(time.monotonic() - u0)
        assert "the long thread" in r["headers"]["subject"], r["headers"]
    t2 = time.monotonic()
    assert len(thread) == n, f"{len(thread)} messages in the thread, not {n}"
    runs.append((t1 - t0, t2 - t1, sorted(shows)[len(shows) // 2]))
runs.sort(key=lambda r: r[0] + r[1])
best, med = runs[0], runs[len(runs) // 2]
print(f"{med[0]:.3f} {med[1]:.3f} {med[2] * 1000:.1f} {best[0] + best[1]:.3f}")
PY
read -r list_s shows_s show_ms best_s < "$dir/thread.out"
row "open a $THREAD_N-message thread, RPC: list page with it" "$list_s" "(median of 5)"
row "  then show of its $THREAD_N messages, one connection" "$shows_s" "(median of 5; one show ${show_ms} ms)"
t0=$(now)
while read -r id; do "$P" --home "$H" show "$id" > "$dir/show.out"; done < "$dir/thread.ids"
t1=$(now)
row "  the same through the CLI, $THREAD_N postern show" "$(elapsed "$t0" "$t1")" "(a process each)"

# ---- marking MARK_N read ----
"$P" --home "$H" --json list --unread --limit "$LIST_N" |
  python3 -c 'import json,sys; print("\n".join(str(m["id"]) for m in json.load(sys.stdin)["messages"]))' > "$dir/unread.ids"
[ "$(wc -l < "$dir/unread.ids")" = "$MARK_N" ] || { echo "bench-everyday: $(wc -l < "$dir/unread.ids") unread, not $MARK_N" >&2; exit 1; }
t0=$(now)
out=$(xargs -n "$MARK_N" "$P" --home "$H" mark --read < "$dir/unread.ids")
t1=$(now)
[ "$out" = "$MARK_N messages marked read" ] || { echo "bench-everyday: mark said '$out'" >&2; exit 1; }
row "mark --read of $MARK_N, one postern mark" "$(elapsed "$t0" "$t1")"
t0=$(now)
xargs -n "$CHUNK" "$P" --home "$H" mark --unread < "$dir/unread.ids" >/dev/null
t1=$(now)
row "mark --unread of $MARK_N, postern mark in chunks of $CHUNK" "$(elapsed "$t0" "$t1")"

# ---- list --unread over LIST_N (MARK_N unread now) ----
t0=$(now)
rows=$("$P" --home "$H" list --unread --limit "$LIST_N" | wc -l)
t1=$(now)
row "list --unread over $LIST_N ($rows unread, text, paged by the CLI)" "$(elapsed "$t0" "$t1")"
t0=$(now)
"$P" --home "$H" --json list --unread --limit "$LIST_N" > "$dir/unread.json"
t1=$(now)
row "list --json --unread over $LIST_N (one document)" "$(elapsed "$t0" "$t1")"
t0=$(now)
"$P" --home "$H" list --unread > "$dir/unread.txt"
t1=$(now)
row "list --unread over $LIST_N, the first page" "$(elapsed "$t0" "$t1")"

python3 - "$H/run/agent.sock" "$dir/unread.ids" > "$dir/mark.out" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
ids = [int(l) for l in open(sys.argv[2])]
t0 = time.monotonic()
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "mark", "params": {"ids": ids, "unread": False}}).encode() + b"\n")
r = json.loads(f.readline())
t1 = time.monotonic()
assert r.get("result", {}).get("marked") == len(ids), r
print(f"{t1 - t0:.3f}")
PY
row "mark read of $MARK_N, one RPC call" "$(cat "$dir/mark.out")"
[ "$("$P" --home "$H" --json list --unread --limit 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')" = 0 ] ||
  { echo "bench-everyday: mark left unread messages" >&2; exit 1; }

echo
echo "bench-everyday ($(nproc) cores; store of $LIST_N + $THREAD_N messages)"
printf '%-64s %11s\n' "what" "time"
printf '%s\n' "${results[@]}"
