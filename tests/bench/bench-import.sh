#!/usr/bin/env bash
# Benchmark (not a test): `postern import` of N (10,000) generated messages of
# about 1 KiB from an mbox (messages/s: each is stored and analysed as a
# fetched one, in a worker process of its own), `export --all` of them to an
# mbox and to a Maildir (messages/s), then `postern list` over a store of
# LIST_N (100,000) messages, paged by the CLI (the whole list, text and
# --json, and one page deep down by --offset), `mark --read` of the N
# imported messages in one call, and `list --unread` over the LIST_N (every
# tenth unread).  One run on this machine; prints the figures.
#
#   tests/bench/bench-import.sh [BUILD_DIR]      (default: build)
#   N=10000 LIST_N=100000 LIST_BY_IMPORT=0 tests/bench/bench-import.sh build
#
# The messages beyond the N imported ones are written into the store
# directly, the way its rows look (as bench-agent.sh does), under another
# account, with the agent stopped: importing 100,000 takes about 14 minutes
# at the measured rate.  LIST_BY_IMPORT=1 imports all LIST_N instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
N=${N:-10000}
LIST_N=${LIST_N:-100000}
LIST_BY_IMPORT=${LIST_BY_IMPORT:-0}
export POSTERN_AGENT="$build/agent/posternd"
P="$build/cli/postern"
dir=$(mktemp -d /tmp/pst-bench-import.XXXXXX)
H="$dir/h"
trap '"$P" --home "$H" agent stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
mkdir -m 700 "$dir/gnupg"
export GNUPGHOME="$dir/gnupg"

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.0f}')" "$1" "$2" "$3"; }

# COUNT messages of about 1 KiB, FIRST on, into an mbox.
gen_mbox() {  # OUT FIRST COUNT
  python3 - "$@" <<'PY'
import sys
out, first, n = open(sys.argv[1], "w"), int(sys.argv[2]), int(sys.argv[3])
body = ("A line of text in the body of a benchmark message, long enough.\n" * 14)
for i in range(first, first + n):
    out.write(f"From s{i}@example.org Sat Dec  5 10:00:00 2026\nFrom: Sender {i} <s{i}@example.org>\n"
              f"To: bench@example.org\nSubject: message {i}\nDate: Sat, 05 Dec 2026 10:00:00 +0000\n"
              f"Message-ID: <m{i}@example.org>\n\n{body}\n")
PY
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); import of $N messages; list of $LIST_N"
"$P" --home "$H" account add main --address bench@example.org --user bench \
  --smtp smtp://127.0.0.1:1 --pop3 pop3s://127.0.0.1:1 --password-command true >/dev/null
gen_mbox "$dir/in.mbox" 0 "$N"

t0=$(now)
"$P" --home "$H" import "$dir/in.mbox"
t1=$(now)
echo "import of $N messages: $(secs "$t0" "$t1") s, $(rate "$N" "$t0" "$t1") messages/s"
t0=$(now)
"$P" --home "$H" import "$dir/in.mbox" >/dev/null
t1=$(now)
echo "import of the same $N again (all present): $(secs "$t0" "$t1") s, $(rate "$N" "$t0" "$t1") messages/s"

t0=$(now)
"$P" --home "$H" export --all --account main --mbox "$dir/out.mbox" >/dev/null
t1=$(now)
echo "export --all of $N to an mbox: $(secs "$t0" "$t1") s, $(rate "$N" "$t0" "$t1") messages/s"
t0=$(now)
"$P" --home "$H" export --all --account main --maildir "$dir/out.maildir" >/dev/null
t1=$(now)
echo "export --all of $N to a Maildir: $(secs "$t0" "$t1") s, $(rate "$N" "$t0" "$t1") messages/s"
rm -rf "$dir/out.mbox" "$dir/out.maildir"

"$P" --home "$H" --json list --account main --limit "$N" |
  python3 -c 'import json,sys; print("\n".join(str(m["id"]) for m in json.load(sys.stdin)["messages"]))' > "$dir/ids"
t0=$(now)
xargs "$P" --home "$H" mark --read < "$dir/ids" >/dev/null
t1=$(now)
echo "mark --read of $(wc -l < "$dir/ids") messages (one command): $(secs "$t0" "$t1") s"
[ "$("$P" --home "$H" --json list --unread --limit 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')" = 0 ] ||
  { echo "mark --read left unread messages" >&2; exit 1; }

more=$((LIST_N - N))
if [ "$more" -gt 0 ]; then
  if [ "$LIST_BY_IMPORT" = 1 ]; then
    gen_mbox "$dir/more.mbox" "$N" "$more"
    t0=$(now)
    "$P" --home "$H" import "$dir/more.mbox"
    t1=$(now)
    echo "import of $more more: $(secs "$t0" "$t1") s, $(rate "$more" "$t0" "$t1") messages/s"
  else
    "$P" --home "$H" agent stop >/dev/null
    python3 - "$H/data/postern.db" "$N" "$more" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); first, n = int(sys.argv[2]), int(sys.argv[3])
with db:
    db.executemany(
        "insert into messages (account, uidl, received_at, size, from_addr, subject, date, crypto_json, scan_verdict, unread)"
        " values ('bulk', ?, ?, 1024, ?, ?, 'Sat, 05 Dec 2026 10:00:00 +0000',"
        " '{\"scheme\":\"none\",\"decryption\":\"not-encrypted\",\"signature\":{\"status\":\"none\"}}', 'skipped', ?)",
        ((f"u{i}", int(time.time()), f"Sender {i} <s{i}@example.org>", f"message {i}", int(i % 10 == 0))
         for i in range(first, first + n)))
PY
    echo "($more more rows written into the store directly, every tenth unread, no thread yet)"
  fi
fi

t0=$(now)
"$P" --home "$H" list --limit 1 >/dev/null   # the agent up
t1=$(now)
echo "agent start and first list (threading the rows written directly: $more): $(secs "$t0" "$t1") s"
t0=$(now)
rows=$("$P" --home "$H" list --limit "$LIST_N" | wc -l)
t1=$(now)
echo "list --limit $LIST_N (text, $rows rows, paged by the CLI): $(secs "$t0" "$t1") s"
t0=$(now)
"$P" --home "$H" --json list --limit "$LIST_N" > "$dir/list.json"
t1=$(now)
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["messages"]))' "$dir/list.json")
echo "list --json --limit $LIST_N ($count messages, one document): $(secs "$t0" "$t1") s"
t0=$(now)
"$P" --home "$H" list --offset $((LIST_N - 1000)) --limit 1000 >/dev/null
t1=$(now)
echo "list --offset $((LIST_N - 1000)) --limit 1000 (the oldest page): $(secs "$t0" "$t1") s"
t0=$(now)
"$P" --home "$H" list --search "message 4242" --limit "$LIST_N" >/dev/null
t1=$(now)
echo "list --search over $LIST_N: $(secs "$t0" "$t1") s"
t0=$(now)
rows=$("$P" --home "$H" list --unread --limit "$LIST_N" | wc -l)
t1=$(now)
echo "list --unread over $LIST_N ($rows unread, text, paged by the CLI): $(secs "$t0" "$t1") s"
t0=$(now)
"$P" --home "$H" list --unread --limit 200 >/dev/null
t1=$(now)
echo "list --unread over $LIST_N, the first 200: $(secs "$t0" "$t1") s"
