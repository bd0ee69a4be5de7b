#!/usr/bin/env bash
# End to end over the real provider: alice sends a signed and encrypted mail
# to bob through Dovecot's submission service (STARTTLS, and implicit TLS);
# bob fetches it over POP3S and over POP3+STLS and reads it.
source "$(dirname "$0")/lib.sh"

add_account alice main "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"
add_account bob pop3s "smtp://$HOST:$SMTP_PORT" "pop3s://$HOST:$POP3S_PORT"

body1="The eagle lands at midnight $(date +%s%N)"
make_message "Alice <$ALICE_ADDR>" "Bob <$BOB_ADDR>" "Plans" "$body1" > "$WORK/m1.eml"
check "alice sends over STARTTLS (--wait)" pst alice send --wait "$WORK/m1.eml"
check "the mail reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1

stored=$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f | head -n 1)
check "the stored copy is PGP/MIME" grep -q 'multipart/encrypted' "$stored"
check "the stored copy holds the OpenPGP message" grep -q 'BEGIN PGP MESSAGE' "$stored"
leaks=0
while IFS= read -r line; do
  line=${line%$'\r'}
  [ -z "$line" ] && continue
  grep -qF -- "$line" "$stored" && leaks=$((leaks + 1))
done < <(sed -n '/^\r\{0,1\}$/,$p' "$WORK/m1.eml")
check "no line of the plaintext body is on the server ($leaks found)" test "$leaks" = 0

check "bob fetches over POP3S" pst bob fetch
json=$(pst bob --json list)
id=$(printf '%s' "$json" | python3 -c 'import json,sys; m=json.load(sys.stdin)["messages"]; print(m[0]["id"] if len(m)==1 else "")')
check "one message is listed" test -n "$id"
check "the server copy was deleted after storing" test -z "$(find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f)"

pst bob --json show "$id" > "$WORK/show1.json"
python3 - "$WORK/show1.json" "$body1" <<'PY' && ok "status and text of the mail read over POP3S" || not_ok "status and text of the mail read over POP3S"
import json, sys
d = json.load(open(sys.argv[1])); c = d["crypto"]; s = c["signature"]
problems = []
def want(what, got, exp):
    if got != exp: problems.append(f"{what}: {got!r} != {exp!r}")
want("scheme", c["scheme"], "pgp")
want("decryption", c["decryption"], "ok")
want("encryption_covers", c["encryption_covers"], "whole")
want("integrity", c["integrity"], "ok")
want("signature", s["status"], "good")
want("covers", s["covers"], "whole")
want("from_match", s["from_match"], True)
want("signer", s["signer"].lower(), "alice@postern.test")
want("first body line", d["body_text"].splitlines()[0], sys.argv[2])
want("subject", d["headers"]["subject"], "Plans")
want("dot line", d["body_text"].splitlines()[2], ".leading dot line")
for p in problems: print("#", p)
sys.exit(1 if problems else 0)
PY
text=$(pst bob show "$id")
check "show prints the status block before the body" bash -c 'printf "%s" "$1" | head -n 1 | grep -q "Postern status"' _ "$text"
check "show prints the decrypted text" bash -c 'printf "%s" "$1" | grep -qF "$2"' _ "$text" "$body1"
pst bob export "$id" > "$WORK/export1.eml"
check "export writes the decrypted RFC 5322 message" grep -qF "$body1" "$WORK/export1.eml"

# Second round: implicit TLS submission, POP3 with STLS.
add_account alice smtps "smtps://$HOST:$SMTPS_PORT" "pop3s://$HOST:$POP3S_PORT"
pst bob account remove pop3s >/dev/null
add_account bob stls "smtp://$HOST:$SMTP_PORT" "pop3://$HOST:$POP3_PORT"
body2="Second message over implicit TLS $(date +%s%N)"
make_message "$ALICE_ADDR" "$BOB_ADDR" "Again" "$body2" > "$WORK/m2.eml"
check "alice sends over implicit TLS" pst alice send --account smtps --wait "$WORK/m2.eml"
check "the second mail reaches bob's Maildir" wait_for_delivery "$BOB_MAILDIR" 1
check "bob fetches over POP3+STLS" pst bob fetch --account stls
id2=$(pst bob --json list --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"][0]["id"])')
pst bob --json show "$id2" > "$WORK/show2.json"
python3 - "$WORK/show2.json" "$body2" <<'PY' && ok "status and text of the mail read over POP3+STLS" || not_ok "status and text of the mail read over POP3+STLS"
import json, sys
d = json.load(open(sys.argv[1])); c = d["crypto"]; s = c["signature"]
ok = (c["decryption"] == "ok" and c["encryption_covers"] == "whole" and s["status"] == "good"
      and s["covers"] == "whole" and s["from_match"] is True
      and d["body_text"].splitlines()[0] == sys.argv[2])
if not ok: print("#", json.dumps(d)[:2000])
sys.exit(0 if ok else 1)
PY
again=$(pst bob --json fetch | python3 -c 'import json,sys; print(json.load(sys.stdin)["fetched"])')
check "a second fetch finds nothing new" test "$again" = 0
check "bob's store holds both messages" test "$(pst bob --json list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["messages"]))')" = 2
finish
