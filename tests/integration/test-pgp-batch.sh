#!/usr/bin/env bash
# OpenPGP batch encryption made in the agent's process (core/crypto/pgp-direct.c:
# the packets built by Postern, the signature by gpg-agent) against the same
# messages through gpg (`postern encrypt`, one gpg run each): for every message of
# the MIME, verdict and S/MIME corpora, with Ed25519/Cv25519 keys and RSA keys, plain gpg
# decrypts the batch output to the same bytes and calls the signature Good, and
# Postern's verdicts and plaintexts (`postern --json decrypt`) are the same.
# Needs only GnuPG homes (tests/harness/gpg.sh), no provider.
source "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)

G=$WORK/g
mkdir -m 700 "$G"
touch "$G/env"
"$root/tests/harness/gpg.sh" init "$G" >/dev/null
trap '"$root/tests/harness/gpg.sh" stop "$G" >/dev/null 2>&1 || true; cleanup' EXIT
# shellcheck source=/dev/null
. "$G/env"
export GNUPGHOME_ALICE GNUPGHOME_BOB
ALICE_ADDR=alice@postern.test
BOB_ADDR=bob@postern.test
g() { local h=$1; shift; gpg --homedir "$h" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"; }

# RSA: carol (RSA-2048 signing key, RSA-2048 encryption subkey) has her secret
# key in alice's keyring; bob knows her public key.
g "$GNUPGHOME_ALICE" --quick-gen-key "Carol <carol@postern.test>" rsa2048 sign,cert never
carol_fpr=$(g "$GNUPGHOME_ALICE" --with-colons --list-secret-keys carol@postern.test | awk -F: '$1 == "fpr" { print $10; exit }')
g "$GNUPGHOME_ALICE" --quick-add-key "$carol_fpr" rsa2048 encr never
g "$GNUPGHOME_ALICE" --export carol@postern.test | g "$GNUPGHOME_BOB" --import 2>/dev/null
CAROL_ADDR=carol@postern.test

# The encrypted part of a PGP/MIME message, and what gpg makes of it.
armored() { # armored FILE: the ASCII-armored block
  sed -n '/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p' "$1" | tr -d '\r'
}
gpg_open() { # gpg_open HOME ARMORED OUT STATUS
  gpg --homedir "$1" --batch --no-tty --status-fd 3 --decrypt -o "$3" 3>"$4" 2>/dev/null < "$2"
}
# reader_decrypt HOME FILE: Postern's status of FILE (FILE.json, with any
# error) and its plaintext (FILE.dec), by a reader with the GnuPG home HOME.
reader_decrypt() {
  GNUPGHOME=$1 "$POSTERN" --home "$WORK/home-reader-${1##*/}" --json decrypt -o "$2.dec" "$2" > "$2.json" 2>&1 || true
}

# The corpus, each message sent as SENDER to TO: the From field replaced,
# the rest as it is; every STEP-th message of it (1: all), from the
# (OFFSET+1)-th on.
corpus() { # corpus DIR SENDER TO STEP [OFFSET]
  local f n=0
  mkdir -p "$1"
  for f in "$root"/tests/fuzz/corpus/mime/*.eml "$root"/tests/fuzz/corpus/verdict/*.eml "$root"/tests/fuzz/corpus/smime/*.eml; do
    n=$((n + 1))
    [ $(( (n - 1) % $4 )) = "${5:-0}" ] || continue
    python3 - "$f" "$2" "$3" "corpus-$n" > "$1/$n-$(basename "$f")" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
head, sep, body = data.partition(b"\r\n\r\n") if b"\r\n\r\n" in data else data.partition(b"\n\n")
nl = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
lines = [l for l in re.split(rb"\r?\n(?![ \t])", head) if not re.match(rb"(?i)(from|to|cc|bcc|date|message-id):", l)]
# A fixed Date and Message-ID: Postern adds them when missing, with new values each time.
lines = [b"From: " + sys.argv[2].encode(), b"To: " + sys.argv[3].encode(),
         b"Date: Sat, 05 Dec 2026 09:00:00 +0000", b"Message-ID: <" + sys.argv[4].encode() + b"@postern.test>"] + lines
sys.stdout.buffer.write(nl.join(lines) + sep + body)
PY
  done
  # The streamed path (pgpstream.c) wants Content-Type and Content-Transfer-Encoding.
  printf 'From: %s\r\nTo: %s\r\nSubject: streamed\r\nDate: %s\r\nMessage-ID: <s%s@postern.test>\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n' \
    "$2" "$3" "$(date -R)" "$(date +%s%N)" "$(head -c 30000 /dev/urandom | base64 -w 76)" > "$1/streamed.eml"
}

# run_case NAME SIGNER_WHO SENDER TO OPEN_HOME_TO STEP [OFFSET]: batch and
# per-message outputs of the corpus (every STEP-th message) compared.
run_case() {
  local name=$1 who=$2 sender=$3 to=$4 home_to=$5 step=$6 offset=${7:-0}
  local d=$WORK/$name f b n=0 good=0 same=0 verdicts=0 direct=0 both_fail=0 differ=""
  corpus "$d/in" "$sender" "$to" "$step" "$offset"
  mkdir -p "$d/batch" "$d/single"
  pst "$who" batch encrypt --sign --scheme pgp --jobs 2 --to "$to" --out-dir "$d/batch" "$d"/in/*.eml \
    > /dev/null 2> "$d/batch.err" || true
  for f in "$d"/in/*.eml; do
    b=$(basename "$f")
    n=$((n + 1))
    pst "$who" encrypt --sign --scheme pgp --to "$to" -o "$d/single/$b" "$f" 2> "$d/single-$b.err" || true
    if [ ! -s "$d/batch/$b" ] || [ ! -s "$d/single/$b" ]; then
      # Both must refuse the same messages.
      if [ ! -s "$d/batch/$b" ] && [ ! -s "$d/single/$b" ]; then both_fail=$((both_fail + 1)); else differ="$differ $b(one-failed)"; fi
      continue
    fi
    armored "$d/batch/$b" > "$d/batch/$b.asc"
    armored "$d/single/$b" > "$d/single/$b.asc"
    # gpg reads the batch output: a Good signature by the sender's key, decrypted by the recipient.
    if gpg_open "$home_to" "$d/batch/$b.asc" "$d/batch/$b.plain" "$d/batch/$b.status" \
        && grep -q '^\[GNUPG:\] GOODSIG' "$d/batch/$b.status" && grep -q '^\[GNUPG:\] DECRYPTION_OKAY' "$d/batch/$b.status"; then
      good=$((good + 1))
    else
      differ="$differ $b(gpg)"
    fi
    # The signed bytes are what the gpg path signs (the same protected entity).
    gpg_open "$home_to" "$d/single/$b.asc" "$d/single/$b.plain" "$d/single/$b.status" || true
    if cmp -s "$d/batch/$b.plain" "$d/single/$b.plain"; then same=$((same + 1)); else differ="$differ $b(bytes)"; fi
    # The same verdicts and plaintext from Postern: `--json decrypt` gives
    # both, the status and the decrypted message.  (It streams what it can,
    # core/mime/pgpstream.h, where `verify` has the worker analyse the
    # message; the worker's verdicts on the corpus are test-verdict's.)
    reader_decrypt "$home_to" "$d/batch/$b"
    reader_decrypt "$home_to" "$d/single/$b"
    # (no plaintext from either where the inside cannot be decrypted: a
    # message of the corpus encrypted to a key the reader lacks)
    if cmp -s "$d/batch/$b.json" "$d/single/$b.json" \
        && { cmp -s "$d/batch/$b.dec" "$d/single/$b.dec" || { [ ! -e "$d/batch/$b.dec" ] && [ ! -e "$d/single/$b.dec" ]; }; } \
        && grep -q '"status" : "good"' "$d/batch/$b.json"; then
      verdicts=$((verdicts + 1))
    else
      differ="$differ $b(verdict)"
    fi
    # Made in the agent's process, not by gpg: gpg writes the literal packet with
    # the time it ran, pgp-direct.c with none (RFC 4880 §5.9 allows 0).  gpg's
    # status says both, as PLAINTEXT <format> <time> (62: binary).
    if grep -q '^\[GNUPG:\] PLAINTEXT 62 0\( \|$\)' "$d/batch/$b.status" \
        && grep -q '^\[GNUPG:\] PLAINTEXT 62 [1-9]' "$d/single/$b.status"; then
      direct=$((direct + 1))
    fi
  done
  local done_n=$((n - both_fail))
  echo "# $name: $n messages, $both_fail refused by both, $good Good in gpg, $same same bytes, $verdicts same verdicts, $direct made in-process${differ:+; differ:$differ}"
  check "$name: the batch and per-message paths refuse the same messages" bash -c '! grep -q "one-failed" <<< "$1"' _ "$differ"
  check "$name: gpg decrypts every batch output and says Good signature ($good of $done_n)" test "$good" = "$done_n"
  check "$name: the same bytes as gpg's own signing path ($same of $done_n)" test "$same" = "$done_n"
  check "$name: postern decrypt gives the same verdicts and plaintexts, Good ($verdicts of $done_n)" test "$verdicts" = "$done_n"
  check "$name: every batch output was made in the agent's process ($direct of $done_n)" test "$direct" = "$done_n"
  check "$name: most of the corpus went through ($done_n of $n)" test "$done_n" -ge $((n - 3))
}

pst alice agent start > /dev/null
# The whole corpus with the default keys.  The RSA keys change the packets
# that carry the session key and the signature, not how a message is
# taken apart and built: every fourth message (12 of the 47 and the
# streamed one), which keeps this test's gpg runs to half.
# (PST_BATCH_CORPUS_STEP and _OFFSET: in the test command, every other
# message, the odd ones in the normal build's run and the even ones in the
# sanitizer build's, so that the two runs take the whole corpus between
# them; tests/integration/meson.build.)
run_case ed25519-cv25519 alice "$ALICE_ADDR" "$BOB_ADDR" "$GNUPGHOME_BOB" "${PST_BATCH_CORPUS_STEP:-1}" \
  "${PST_BATCH_CORPUS_OFFSET:-0}"
run_case rsa-signer-to-cv25519 alice "$CAROL_ADDR" "$BOB_ADDR" "$GNUPGHOME_BOB" 4
# To carol's RSA encryption subkey: her secret key is in alice's keyring.
run_case ed25519-to-rsa alice "$ALICE_ADDR" "$CAROL_ADDR" "$GNUPGHOME_ALICE" 4

# A signing key pgp-direct.c does not do (NIST P-256): the batch uses gpg, and the result is the same.
g "$GNUPGHOME_ALICE" --quick-gen-key "Dave <dave@postern.test>" nistp256 sign,cert never
dave_fpr=$(g "$GNUPGHOME_ALICE" --with-colons --list-secret-keys dave@postern.test | awk -F: '$1 == "fpr" { print $10; exit }')
g "$GNUPGHOME_ALICE" --quick-add-key "$dave_fpr" nistp256 encr never
make_message dave@postern.test "$BOB_ADDR" "P-256" "signed by gpg" > "$WORK/dave.eml"
g "$GNUPGHOME_ALICE" --export dave@postern.test | g "$GNUPGHOME_BOB" --import 2>/dev/null
pst alice keys list > /dev/null 2>&1 || true
mkdir -p "$WORK/dave"
check "an ECDSA signer: the batch falls back to gpg" pst alice batch encrypt --sign --scheme pgp --to "$BOB_ADDR" --out-dir "$WORK/dave" "$WORK/dave.eml"
check "… gpg says Good signature" bash -c 'gpg_open() { sed -n "/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p" "$2" | tr -d "\r" | gpg --homedir "$1" --batch --no-tty --status-fd 3 --decrypt -o "$3" 3>"$4" 2>/dev/null; }
  gpg_open "$1" "$2" "$2.plain" "$2.status" && grep -q "GOODSIG" "$2.status"' _ "$GNUPGHOME_BOB" "$WORK/dave/dave.eml"
check "… and gpg wrote it (its literal packet carries a time)" bash -c \
  'sed -n "/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p" "$2" | tr -d "\r" | gpg --homedir "$1" --batch --list-packets 2>/dev/null | grep -q "literal data packet" && ! sed -n "/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p" "$2" | tr -d "\r" | gpg --homedir "$1" --batch --list-packets 2>/dev/null | grep -q "created 0,"' \
  _ "$GNUPGHOME_BOB" "$WORK/dave/dave.eml"

# --- gpg.conf: options that change what gpg writes make the batch use gpg ----------------
packets() { # packets HOME FILE: gpg's listing of the OpenPGP message in FILE
  armored "$2" | gpg --homedir "$1" --batch --no-tty --list-packets 2>/dev/null || true
}
made_by_gpg() { packets "$1" "$2" | grep -q 'literal data packet' && ! packets "$1" "$2" | grep -q 'created 0,'; }
gpg_good() { armored "$2" > "$2.asc" && gpg_open "$1" "$2.asc" "$2.plain" "$2.status" && grep -q '^\[GNUPG:\] GOODSIG' "$2.status"; }
g "$GNUPGHOME_ALICE" --quick-gen-key "Escrow <escrow@postern.test>" ed25519 sign,cert never
escrow_fpr=$(g "$GNUPGHOME_ALICE" --with-colons --list-keys escrow@postern.test | awk -F: '$1 == "fpr" { print $10; exit }')
g "$GNUPGHOME_ALICE" --quick-add-key "$escrow_fpr" cv25519 encr never
escrow_sub=$(g "$GNUPGHOME_ALICE" --with-colons --list-keys escrow@postern.test | awk -F: '$1 == "sub" { print $5; exit }')
conf_case() { # conf_case NAME GPG.CONF-LINE: one message batch-encrypted with that line in alice's gpg.conf
  mkdir -p "$WORK/conf-$1/out"
  printf '# a comment\n\nno-greeting\n%s\n' "$2" > "$GNUPGHOME_ALICE/gpg.conf"
  make_message "$ALICE_ADDR" "$BOB_ADDR" "conf $1" "with $2" > "$WORK/conf-$1/in.eml"
  pst alice batch encrypt --sign --scheme pgp --to "$BOB_ADDR" --out-dir "$WORK/conf-$1/out" "$WORK/conf-$1/in.eml" > /dev/null 2>&1 || true
  rm -f "$GNUPGHOME_ALICE/gpg.conf"
}
conf_case encrypt-to "encrypt-to $escrow_fpr"
check "gpg.conf encrypt-to: the batch output is also encrypted to the escrow key (gpg wrote it)" \
  bash -c "$(declare -f armored packets); packets \"\$1\" \"\$2\" | grep -qi 'keyid $escrow_sub'" _ "$GNUPGHOME_BOB" "$WORK/conf-encrypt-to/out/in.eml"
check "… bob decrypts it, Good signature" gpg_good "$GNUPGHOME_BOB" "$WORK/conf-encrypt-to/out/in.eml"
check "… made by gpg, not in process" made_by_gpg "$GNUPGHOME_BOB" "$WORK/conf-encrypt-to/out/in.eml"
conf_case throw-keyids "throw-keyids"
check "gpg.conf throw-keyids: the batch output names no key (key id 0)" \
  bash -c "$(declare -f armored packets); packets \"\$1\" \"\$2\" | grep -q 'keyid 0000000000000000' && ! packets \"\$1\" \"\$2\" | grep 'pubkey enc packet' | grep -vq 'keyid 0000000000000000'" \
  _ "$GNUPGHOME_BOB" "$WORK/conf-throw-keyids/out/in.eml"
check "… bob decrypts it, Good signature" gpg_good "$GNUPGHOME_BOB" "$WORK/conf-throw-keyids/out/in.eml"
# Only harmless options: still made in process.
conf_case harmless "keyserver hkps://keys.openpgp.org"$'\n'"  no-emit-version"
check "gpg.conf with only harmless options (keyserver, no-greeting, no-emit-version): still made in process" \
  bash -c "$(declare -f armored packets); packets \"\$1\" \"\$2\" | grep -q 'created 0,'" _ "$GNUPGHOME_BOB" "$WORK/conf-harmless/out/in.eml"

# --- gpg-agent's signature is checked before it is sent ------------------------------------
if [ "${POSTERN_TEST_HOOKS:-false}" = true ]; then
  pst alice agent stop > /dev/null 2>&1 || true
  POSTERN_TEST_PGP_BAD_AGENT_SIG=1 pst alice agent start > /dev/null
  mkdir -p "$WORK/badsig/out"
  make_message "$ALICE_ADDR" "$BOB_ADDR" "bad agent signature" "corrupted in the test hook" > "$WORK/badsig/in.eml"
  check "a signature from gpg-agent that does not verify: the batch falls back to gpg" \
    pst alice batch encrypt --sign --scheme pgp --to "$BOB_ADDR" --out-dir "$WORK/badsig/out" "$WORK/badsig/in.eml"
  check "… gpg wrote it, Good signature" bash -c "$(declare -f armored packets made_by_gpg gpg_open gpg_good); made_by_gpg \"\$1\" \"\$2\" && gpg_good \"\$1\" \"\$2\"" \
    _ "$GNUPGHOME_BOB" "$WORK/badsig/out/in.eml"
  check "… and the agent said why" grep -q "signature does not verify" "$WORK/home-alice/data/posternd.log"
  pst alice agent stop > /dev/null 2>&1 || true
  pst alice agent start > /dev/null
fi

# --- A recipient whose preferences do not list AES-256: gpg chooses the cipher ------------------
g "$GNUPGHOME_ALICE" --quick-gen-key "Eve <eve@postern.test>" ed25519 sign,cert never
eve_fpr=$(g "$GNUPGHOME_ALICE" --with-colons --list-keys eve@postern.test | awk -F: '$1 == "fpr" { print $10; exit }')
g "$GNUPGHOME_ALICE" --quick-add-key "$eve_fpr" cv25519 encr never
printf 'setpref AES192 AES SHA256 Uncompressed\ny\nsave\n' | g "$GNUPGHOME_ALICE" --command-fd 0 --edit-key "$eve_fpr" > /dev/null 2>&1
mkdir -p "$WORK/eve/out"
make_message "$ALICE_ADDR" eve@postern.test "no AES-256" "eve prefers AES-192" > "$WORK/eve/in.eml"
check "a recipient without AES-256 in its preferences: the batch goes through" \
  pst alice batch encrypt --sign --scheme pgp --to eve@postern.test --out-dir "$WORK/eve/out" "$WORK/eve/in.eml"
check "… gpg wrote it (with a cipher eve lists), Good signature" \
  bash -c "$(declare -f armored packets made_by_gpg gpg_open gpg_good); made_by_gpg \"\$1\" \"\$2\" && gpg_good \"\$1\" \"\$2\" && ! grep -q 'DECRYPTION_INFO [0-9]* 9' \"\$2.status\"" \
  _ "$GNUPGHOME_ALICE" "$WORK/eve/out/in.eml"

# --- A subkey that expired since the key was listed (the listing is cached for 30 s) ----------
g "$GNUPGHOME_ALICE" --quick-gen-key "Frank <frank@postern.test>" ed25519 sign,cert never
frank_fpr=$(g "$GNUPGHOME_ALICE" --with-colons --list-keys frank@postern.test | awk -F: '$1 == "fpr" { print $10; exit }')
g "$GNUPGHOME_ALICE" --quick-add-key "$frank_fpr" cv25519 encr seconds=8
frank_start=$(date +%s)
mkdir -p "$WORK/frank/out"
make_message "$ALICE_ADDR" frank@postern.test "before" "frank's subkey still good" > "$WORK/frank/before.eml"
make_message "$ALICE_ADDR" frank@postern.test "after" "frank's subkey expired" > "$WORK/frank/after.eml"
check "a subkey about to expire: the batch encrypts to it (the caches warm)" \
  pst alice batch encrypt --sign --scheme pgp --to frank@postern.test --out-dir "$WORK/frank/out" "$WORK/frank/before.eml"
wait_s=$((frank_start + 10 - $(date +%s)))
if [ "$wait_s" -gt 0 ]; then sleep "$wait_s"; fi
rc=0
pst alice batch encrypt --sign --scheme pgp --to frank@postern.test --out-dir "$WORK/frank/out" "$WORK/frank/after.eml" > /dev/null 2>&1 || rc=$?
check "… once it expired, the batch does not use it from the cached listing (exit $rc)" test "$rc" != 0
check "… and writes nothing" test ! -e "$WORK/frank/out/after.eml"

# --- A key revoked by gpg is not used from the caches ------------------------------------------
mkdir -p "$WORK/revoke/out"
make_message "$ALICE_ADDR" "$BOB_ADDR" "before" "bob's key still good" > "$WORK/revoke/before.eml"
make_message "$ALICE_ADDR" "$BOB_ADDR" "after" "bob's key revoked" > "$WORK/revoke/after.eml"
check "before the revocation: the batch encrypts to bob (the caches warm)" \
  pst alice batch encrypt --sign --scheme pgp --to "$BOB_ADDR" --out-dir "$WORK/revoke/out" "$WORK/revoke/before.eml"
bob_fpr=$(g "$GNUPGHOME_BOB" --with-colons --list-secret-keys "$BOB_ADDR" | awk -F: '$1 == "fpr" { print $10; exit }')
sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME_BOB/openpgp-revocs.d/$bob_fpr.rev" | g "$GNUPGHOME_ALICE" --import 2>/dev/null
rc=0
pst alice batch encrypt --sign --scheme pgp --to "$BOB_ADDR" --out-dir "$WORK/revoke/out" "$WORK/revoke/after.eml" > /dev/null 2> "$WORK/revoke/err" || rc=$?
echo "# after the revocation: exit $rc, $(tr '\n' ' ' < "$WORK/revoke/err")"
# batch exits 1 when a file failed; the file's own error is the policy refusal (exit 3 of `postern encrypt`).
check "right after gpg --import of bob's revocation: the batch refuses (exit 1, got $rc)" test "$rc" = 1
check "… because bob has no usable key" grep -q "no OpenPGP key for: $BOB_ADDR" "$WORK/revoke/err"
expect_fail "… and postern encrypt refuses too" 3 "no OpenPGP key for: $BOB_ADDR" \
  pst alice encrypt --sign --scheme pgp --to "$BOB_ADDR" -o "$WORK/revoke/single.eml" "$WORK/revoke/after.eml"
check "… and writes nothing" test ! -e "$WORK/revoke/out/after.eml"

finish
