#!/usr/bin/env bash
# The demo proper (run by tools/demo.sh inside the harness): alice sends bob
# a signed and encrypted mail through the agent and the provider's real
# submission service; bob fetches it over POP3S and reads it.
set -euo pipefail
: "${POSTERN:?}" "${POSTERND:?}"
export POSTERN_AGENT="$POSTERND"
work=$(mktemp -d /tmp/pst-demo.XXXXXX)
trap '"$POSTERN" --home "$work/alice" agent stop >/dev/null 2>&1 || true
      "$POSTERN" --home "$work/bob" agent stop >/dev/null 2>&1 || true
      rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
alice() { GNUPGHOME=$GNUPGHOME_ALICE "$POSTERN" --home "$work/alice" "$@"; }
bob() { GNUPGHOME=$GNUPGHOME_BOB "$POSTERN" --home "$work/bob" "$@"; }

printf '%s\n' "$ALICE_PASS" > "$work/alice.pw"
printf '%s\n' "$BOB_PASS" > "$work/bob.pw"
chmod 600 "$work"/*.pw

say "A throwaway provider is running: Dovecot (submission, POP3S) and Postfix on 127.0.0.1"
echo "submission (STARTTLS) port $SMTP_PORT, POP3S port $POP3S_PORT; users $ALICE_ADDR and $BOB_ADDR, each with a fresh OpenPGP key"

say "Accounts"
alice account add alice --address "$ALICE_ADDR" --user "$ALICE_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $work/alice.pw" --ca-file "$CA_FILE"
bob account add bob --address "$BOB_ADDR" --user "$BOB_ADDR" \
  --smtp "smtp://$HOST:$SMTP_PORT" --pop3 "pop3s://$HOST:$POP3S_PORT" \
  --password-command "cat $work/bob.pw" --ca-file "$CA_FILE"

say "Alice writes to Bob"
cat > "$work/letter.eml" <<MAIL
From: Alice <$ALICE_ADDR>
To: Bob <$BOB_ADDR>
Subject: Dinner on Friday
Date: $(date -R)

Hi Bob,

the provider will never read this: it leaves Alice's machine encrypted.
Friday, 8 pm, the usual place.

Alice
MAIL
cat "$work/letter.eml"

say "Alice sends it through her agent (signed and encrypted; --encrypt always)"
alice send --encrypt always --wait "$work/letter.eml"

say "What the provider stored in Bob's Maildir"
for i in $(seq 1 300); do
  stored=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f 2>/dev/null | head -n 1)
  [ -n "$stored" ] && break
  sleep 0.1
done
[ -n "$stored" ] || { echo "the mail did not arrive" >&2; exit 1; }
sed -n '/^Subject:/p; /^Content-Type:/p; /-----BEGIN PGP MESSAGE-----/,+4p' "$stored"
echo "…"
if grep -q "Friday, 8 pm" "$stored"; then
  echo "PLAINTEXT FOUND ON THE SERVER" >&2; exit 1
fi
echo "(the server's copy holds ciphertext only: no line of the text is in it, and the real Subject"
echo " travels inside the encryption: the server sees \"...\")"

say "Bob fetches over POP3S (the server's copy is deleted once stored)"
bob fetch
bob list

say "Bob reads it: the status comes first, drawn by Postern"
id=$(bob --json list | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"][0]["id"])')
bob show "$id"

say "The status object, as scripts see it"
bob --json show "$id" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"crypto": d["crypto"], "scan": d["scan"]}, indent=2))'
say "Done: everything is cleaned up on exit"
