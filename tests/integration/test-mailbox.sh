#!/usr/bin/env bash
# Mail from and to the mailboxes other programs keep: `import` of an mbox
# (mboxrd quoting, PGP/MIME encrypted to bob and plain mail) and of a
# Maildir, each message analysed as if fetched; importing again finds them
# present; a message over the size cap is reported and skipped; `list` over
# many messages, paged by the CLI, with --offset and --search; `export
# --all` to an mbox and to a Maildir round-trips `import` (same count, same
# decrypted messages); bad input is refused with the store untouched.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
count() { pst "$1" --json list --limit 1000000 | json 'len(d["messages"])'; }
# How many messages to list in one go: 100,000 in the benchmark
# (tests/bench/bench-import.sh); fewer here, to keep the test short.
# Import runs at about 120 messages/s on a quiet machine of two cores (70
# with other tests beside it): each message is analysed in a worker process
# of its own, as a fetched one is.  The agent's pages end at 2,000 rows or
# at 1 MiB of JSON, whichever comes first; the messages' long Subjects
# (below) end them at about 220 rows, so 700 cross several (2,500 did with
# shorter Subjects, for 25 s more of this test, 50 s under the sanitizers).
MANY=${POSTERN_TEST_MANY:-700}

tag=$(date +%s%N)
# Three messages: plain with "From " lines in its body (quoted in the
# mbox), plain, and one encrypted by alice to bob (PGP/MIME, signed).
printf 'From: Carol <carol@example.org>\nTo: %s\nSubject: plain one %s\nDate: Sat, 05 Dec 2026 10:00:00 +0000\nMessage-ID: <p1-%s@example.org>\n\nFrom here on the body\n>From a quoted line\nlast line %s\n' \
  "$BOB_ADDR" "$tag" "$tag" "$tag" > "$WORK/p1.eml"
printf 'From: Dave <dave@example.org>\nTo: %s\nSubject: plain two %s\nDate: Sat, 05 Dec 2026 11:00:00 +0000\nMessage-ID: <p2-%s@example.org>\n\nsecond plain body %s\n' \
  "$BOB_ADDR" "$tag" "$tag" "$tag" > "$WORK/p2.eml"
make_message "$ALICE_ADDR" "$BOB_ADDR" "secret $tag" "the encrypted body $tag" > "$WORK/e.eml"
check "alice encrypts and signs a message to bob" \
  bash -c 'GNUPGHOME=$1 "$POSTERN" --home "$2" encrypt --to "$3" --sign "$4" > "$5"' _ \
  "$GNUPGHOME_ALICE" "$WORK/home-alice" "$BOB_ADDR" "$WORK/e.eml" "$WORK/e.enc"
check "… as PGP/MIME" grep -q 'multipart/encrypted' "$WORK/e.enc"

# mboxrd: "From " lines of a message quoted with one '>' more.
mbox() { # mbox OUT FILE...
  local out=$1; shift
  python3 - "$out" "$@" <<'PY'
import re, sys
out = open(sys.argv[1], "wb")
for f in sys.argv[2:]:
    data = open(f, "rb").read().replace(b"\r\n", b"\n")
    out.write(b"From someone@example.org Sat Dec  5 10:00:00 2026\n")
    for line in data.splitlines(keepends=True):
        out.write(b">" + line if re.match(rb">*From ", line) else line)
    if not data.endswith(b"\n"):
        out.write(b"\n")
    out.write(b"\n")
PY
}
mbox "$WORK/in.mbox" "$WORK/p1.eml" "$WORK/e.enc" "$WORK/p2.eml"

# ---- import of an mbox ----
out=$(pst bob import "$WORK/in.mbox")
check "import of an mbox of 3 says so ($out)" test "$out" = "3 imported, 0 already present, 0 failed"
check "bob's list has the 3 messages" test "$(count bob)" = 3
ids=$(pst bob --json list | json '" ".join(str(m["id"]) for m in d["messages"])')
read -r id_p2 id_e id_p1 <<< "$ids"
check "list is newest first: the mbox's last message first" \
  test "$(pst bob --json show "$id_p2" | json 'd["headers"]["subject"]')" = "plain two $tag"
check "the encrypted message was analysed as fetched: list shows it decrypted and signed" \
  test "$(pst bob --json list | json 'str([m["crypto"]["decryption"] for m in d["messages"] if m["id"] == '"$id_e"'])')" = "['ok']"
shown=$(pst bob show "$id_e")
check "show decrypts it" grep -qF "the encrypted body $tag" <<< "$shown"
check "… with alice's good signature" \
  test "$(pst bob --json show "$id_e" | json 'd["crypto"]["signature"]["status"]')" = good
pst bob export "$id_p1" > "$WORK/p1.out"
check "the mbox's quoting is undone: the message is as it was" cmp "$WORK/p1.eml" "$WORK/p1.out"
check "… exported as it is stored (neither encrypted nor signed): what export --raw gives" \
  bash -c 'cmp -s "$1" <(GNUPGHOME="$2" "$3" --home "$4" export --raw "$5")' \
  _ "$WORK/p1.out" "$GNUPGHOME_BOB" "$POSTERN" "$WORK/home-bob" "$id_p1"
check "the encrypted one is exported decrypted" \
  bash -c 'GNUPGHOME="$1" "$2" --home "$3" export "$4" | grep -qF "the encrypted body $5"' \
  _ "$GNUPGHOME_BOB" "$POSTERN" "$WORK/home-bob" "$id_e" "$tag"
check "a plain one is shown not encrypted" \
  test "$(pst bob --json show "$id_p2" | json 'd["crypto"]["decryption"]')" = not-encrypted

# ---- import again: nothing new ----
out=$(pst bob import "$WORK/in.mbox")
check "importing the same mbox again imports nothing ($out)" \
  test "$out" = "0 imported, 3 already present, 0 failed"
check "… and the list still has 3" test "$(count bob)" = 3

# ---- import of a Maildir ----
md="$WORK/Maildir"
mkdir -p "$md/new" "$md/cur" "$md/tmp"
for i in 1 2 3; do
  printf 'From: Erin <erin@example.org>\nTo: %s\nSubject: maildir %s %s\nMessage-ID: <md%s-%s@example.org>\n\nmaildir body %s\n' \
    "$BOB_ADDR" "$i" "$tag" "$i" "$tag" "$i" > "$WORK/md$i.eml"
done
cp "$WORK/md1.eml" "$md/new/1700000001.M1P1.host"
cp "$WORK/md2.eml" "$md/cur/1700000002.M2P2.host:2,S"
cp "$WORK/md3.eml" "$md/tmp/1700000003.M3P3.host"
cp "$WORK/p2.eml" "$md/cur/.hidden"
out=$(pst bob import "$md")
check "import of a Maildir takes new/ and cur/, not tmp/ or dot files ($out)" \
  test "$out" = "2 imported, 0 already present, 0 failed"
check "… found by what it says" test "$(pst bob --json list --search "maildir 2 $tag" | json 'len(d["messages"])')" = 1
check "--json gives the counts" \
  test "$(pst bob --json import "$md" | json '(d["imported"], d["present"], d["failed"])')" = "(0, 2, 0)"

# ---- a message over the size cap is reported and skipped ----
python3 - "$WORK/big.mbox" "$BOB_ADDR" <<'PY'
import sys
out = open(sys.argv[1], "wb")
out.write(b"From x@example.org Sat Dec  5 10:00:00 2026\n")
out.write(b"From: big@example.org\nTo: %s\nSubject: big\n\n" % sys.argv[2].encode())
line = b"x" * 1023 + b"\n"
out.write(line * (65 * 1024))
out.write(b"\nFrom x@example.org Sat Dec  5 10:00:00 2026\n")
out.write(b"From: small@example.org\nTo: %s\nSubject: small after big\n\nsmall\n\n" % sys.argv[2].encode())
PY
rc=0; out=$(pst bob import "$WORK/big.mbox" 2> "$WORK/big.err") || rc=$?
check "a message over the cap fails the import (exit $rc) after the others were imported ($out)" \
  test "$rc $out" = "1 1 imported, 0 already present, 1 failed"
check "… and says which message and why" \
  grep -qE "^postern: import: .*big.mbox \(message 1\): the message is larger than 64 MiB" "$WORK/big.err"
n_before=$(count bob)

# ---- bad input: a clear error, the store untouched ----
printf 'not an mbox at all\n' > "$WORK/notmbox"
: > "$WORK/empty.mbox"
mkdir -p "$WORK/plaindir"
expect_fail "import of a missing file" 1 "no-such-file.mbox: No such file" \
  pst bob import "$WORK/in.mbox" "$WORK/no-such-file.mbox"
expect_fail "import of a file that is no mbox" 1 "not an mbox" pst bob import "$WORK/notmbox"
expect_fail "import of an empty mbox" 1 "the mbox is empty" pst bob import "$WORK/empty.mbox"
expect_fail "import of a directory that is no Maildir" 1 "not a Maildir" pst bob import "$WORK/plaindir"
expect_fail "import of nothing" 2 "at least one" pst bob import
expect_fail "import into an unknown account" 1 "nosuch" pst bob import --account nosuch "$WORK/in.mbox"
expect_fail "export --all to both an mbox and a Maildir" 2 "one of --mbox FILE and --maildir DIR" \
  pst bob export --all --mbox "$WORK/x.mbox" --maildir "$WORK/x.maildir"
expect_fail "export --all to neither" 2 "one of --mbox" pst bob export --all
expect_fail "export --mbox without --all" 2 "go with --all" pst bob export --mbox "$WORK/x.mbox"
expect_fail "export --all with an ID" 2 "no message ID" pst bob export --all 1 --mbox "$WORK/x.mbox"
check "nothing was left behind by the refused exports" test ! -e "$WORK/x.mbox" -a ! -e "$WORK/x.maildir"
check "the store is untouched by the refused imports" test "$(count bob)" = "$n_before"

# ---- export --all round-trips import ----
check "export --all to an mbox" pst bob export --all --mbox "$WORK/out.mbox"
check "… a file of bob's only" test "$(stat -c %a "$WORK/out.mbox")" = 600
expect_fail "export --all does not write over an mbox" 1 "exists" \
  pst bob export --all --mbox "$WORK/out.mbox"
check "export --all to a Maildir" pst bob export --all --maildir "$WORK/out.maildir"
check "… made 0700 with tmp, new and cur, the messages in new/, 0600" bash -c '
  test "$(stat -c %a "$1" "$1/tmp" "$1/new" "$1/cur" | sort -u)" = 700 &&
  test -z "$(find "$1/new" -type f ! -perm 600)" && test -z "$(ls -A "$1/tmp")"' _ "$WORK/out.maildir"
check "… one file per message" test "$(find "$WORK/out.maildir/new" -type f | wc -l)" = "$n_before"
# A second and a third home of bob's (his keys) import what was exported.
for h in bob-mbox bob-maildir; do
  add_account "$h" main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
done
check "the exported mbox imports into another home" pst bob-mbox import "$WORK/out.mbox"
check "the exported Maildir imports into another home" pst bob-maildir import "$WORK/out.maildir"
# Every message as `export ID` gives it, as a set of SHA-256 sums.
sums() {
  local who=$1 id
  for id in $(pst "$who" --json list --limit 1000000 | json '" ".join(str(m["id"]) for m in d["messages"])'); do
    pst "$who" export "$id" | sha256sum | cut -d' ' -f1
  done | sort
}
sums bob > "$WORK/sums-bob"
sums bob-mbox > "$WORK/sums-bob-mbox"
sums bob-maildir > "$WORK/sums-bob-maildir"
check "the mbox round trip keeps the count ($n_before)" test "$(count bob-mbox)" = "$n_before"
check "… and every decrypted message byte for byte" cmp "$WORK/sums-bob" "$WORK/sums-bob-mbox"
check "the Maildir round trip keeps the count" test "$(count bob-maildir)" = "$n_before"
check "… and every decrypted message byte for byte" cmp "$WORK/sums-bob" "$WORK/sums-bob-maildir"
check "each message in the mbox after a From line of its sender and Date" \
  grep -qx "From carol@example.org Sat Dec  5 10:00:00 2026" "$WORK/out.mbox"
check "the encrypted one went out decrypted" grep -qF "the encrypted body $tag" "$WORK/out.mbox"
check "… and its body's \"From \" line quoted (mboxrd)" grep -qx ">From here on the body" "$WORK/out.mbox"
check "… and its \">From \" line quoted once more" grep -qx ">>From a quoted line" "$WORK/out.mbox"

# ---- a message that cannot be decrypted is exported as received ----
# A home whose GnuPG home holds no key: the message to bob (and alice)
# does not decrypt there.
mkdir -m 700 "$WORK/gnupg-none"
gnupg_of() { case $1 in bob-nokey*) echo "$WORK/gnupg-none" ;; alice*) echo "$GNUPGHOME_ALICE" ;; *) echo "$GNUPGHOME_BOB" ;; esac; }
add_account bob-nokey main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
mbox "$WORK/enc-only.mbox" "$WORK/e.enc"
check "an encrypted message imports where no key opens it" pst bob-nokey import "$WORK/enc-only.mbox"
check "… and is listed as failed to decrypt" \
  test "$(pst bob-nokey --json list | json 'd["messages"][0]["crypto"]["decryption"]')" = failed
rc=0; out=$(pst bob-nokey export --all --mbox "$WORK/undecryptable.mbox" 2> "$WORK/undec.err") || rc=$?
check "export --all of an undecryptable message exports it (exit $rc): $out" \
  test "$rc $out" = "0 1 exported (1 of them as they arrived: they could not be decrypted or analysed), 0 failed"
check "… says so on stderr" grep -q "exported as it arrived" "$WORK/undec.err"
check "… and as it arrived" grep -q "BEGIN PGP MESSAGE" "$WORK/undecryptable.mbox"

# ---- several accounts: import needs --account ----
add_account bob second "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
expect_fail "import with two accounts and no --account" 2 "--account" pst bob import "$WORK/in.mbox"
check "the store is untouched" test "$(count bob)" = "$n_before"
out=$(pst bob import --account second "$WORK/in.mbox")
check "--account second imports the mbox there too ($out)" test "$out" = "3 imported, 0 already present, 0 failed"
check "list --account second has them" test "$(pst bob --json list --account second | json 'len(d["messages"])')" = 3
check "export --all --account second exports those only" bash -c '
  GNUPGHOME=$GNUPGHOME_BOB "$POSTERN" --home "$1" export --all --account second --mbox "$2" >/dev/null &&
  test "$(grep -c "^From " "$2")" = 3' _ "$WORK/home-bob" "$WORK/second.mbox"

# ---- list over many messages, paged by the CLI ----
add_account bob-many main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
python3 - "$WORK/many.mbox" "$MANY" "$BOB_ADDR" <<'PY'
import sys
out, n, to = open(sys.argv[1], "w"), int(sys.argv[2]), sys.argv[3]
for i in range(n):
    # Long Subjects (4.5 KB): a page of 2,000 would not fit in one line of
    # 1 MiB, so the agent's pages stop short ("more") and the CLI goes on.
    # Folded every 5 repetitions, as lines stay under RFC 5322's 998.
    subject = (f"needle {i}" if i % 250 == 7 else f"message {i}") + "\n".join([" and more words" * 5] * 60)
    out.write(f"From s{i}@example.org Sat Dec  5 10:00:00 2026\nFrom: Sender {i} <s{i}@example.org>\n"
              f"To: {to}\nSubject: {subject}\nMessage-ID: <m{i}@example.org>\n\nbody {i}\n\n")
PY
start=$(date +%s.%N)
out=$(pst bob-many import "$WORK/many.mbox")
end=$(date +%s.%N)
echo "# imported $MANY messages in $(python3 -c "print(round($end - $start, 1))") s ($(python3 -c "print(round($MANY / ($end - $start)))") messages/s)"
check "import of $MANY generated messages ($out)" test "$out" = "$MANY imported, 0 already present, 0 failed"
pst bob-many --json list --limit $((MANY + 10)) > "$WORK/all.json"
check "list --limit past the agent's pages (of 1 MiB at most) gives every one of the $MANY" \
  test "$(json 'len(d["messages"])' < "$WORK/all.json")" = "$MANY"
check "… newest first, each id once" test "$(json 'str([m["id"] for m in d["messages"]] == sorted({m["id"] for m in d["messages"]}, reverse=True))' < "$WORK/all.json")" = True
check "list without --limit gives 200 as before" test "$(pst bob-many --json list | json 'len(d["messages"])')" = 200
page_ids() { pst bob-many --json list "$@" | json '" ".join(str(m["id"]) for m in d["messages"])'; }
json_slice() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); a,b=int(sys.argv[2]),int(sys.argv[3]); print(" ".join(str(m["id"]) for m in d["messages"][a:a+b]))' "$WORK/all.json" "$1" "$2"; }
check "--offset 5 --limit 10 is the slice of the whole list" test "$(page_ids --offset 5 --limit 10)" = "$(json_slice 5 10)"
check "--offset 10 --limit 2200 crosses the agent's pages without a gap" \
  test "$(page_ids --offset 10 --limit 2200)" = "$(json_slice 10 2200)"
p=$((MANY / 4))
check "consecutive --offset pages join up" \
  test "$(page_ids --offset 0 --limit $p) $(page_ids --offset $p --limit $p)" = "$(json_slice 0 $((2 * p)))"
check "an --offset past the end lists nothing" test -z "$(page_ids --offset $((MANY + 1)) --limit 5)"
needles=$(( (MANY - 7 + 249) / 250 ))
check "--search finds the $needles needles among them" \
  test "$(pst bob-many --json list --search NEEDLE --limit 100000 | json 'len(d["messages"])')" = "$needles"
check "--search with --offset pages the matches" \
  test "$(pst bob-many --json list --search needle --offset 1 --limit 1 | json '[" ".join(m["subject"].split()[:2]) for m in d["messages"]]')" = \
  "$( [ "$needles" -ge 2 ] && echo "['needle $(( (needles - 2) * 250 + 7 ))']" || echo "[]")"
check "text list --limit $MANY prints every row" test "$(pst bob-many list --limit "$MANY" | wc -l)" = "$MANY"

finish
