#!/bin/bash
# smime.sh init DIR — a throwaway S/MIME world made with the openssl command:
# a test CA, and certificates with private keys for alice@postern.test (RSA
# 3072), bob@postern.test (EC P-256) and grace@postern.test (RSA 2048, the
# benchmarks' signer), as PEM and as PKCS#12 (passphrase in SMIME_PASS).
# Appends SMIME_CA, SMIME_PASS, ALICE_P12, BOB_P12, GRACE_P12, ALICE_CERT,
# BOB_CERT, GRACE_CERT and the keys to DIR/env when it exists.  Everything stays in
# DIR/smime; nothing runs, so there is nothing to stop.
set -euo pipefail

[ $# -eq 2 ] && [ "$1" = init ] || { echo "usage: $0 init DIR" >&2; exit 2; }
D=$(cd "$2" && pwd)/smime
mkdir -m 700 "$D"
cd "$D"
pass=$(openssl rand -hex 12)

openssl req -x509 -new -newkey rsa:3072 -nodes -keyout ca.key -out ca.pem -days 30 \
  -subj "/CN=Postern Test S-MIME CA" -addext "basicConstraints=critical,CA:true" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() { # NAME KEYSPEC
  local who=$1
  shift
  openssl req -new "$@" -nodes -keyout "$who.key" -out "$who.csr" \
    -subj "/CN=${who^}/emailAddress=$who@postern.test" 2>/dev/null
  cat > "$who.ext" <<EXT
basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement
extendedKeyUsage=emailProtection
subjectAltName=email:$who@postern.test
EXT
  openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile "$who.ext" -out "$who.pem" 2>/dev/null
  openssl pkcs12 -export -in "$who.pem" -inkey "$who.key" -certfile ca.pem -name "${who^}" \
    -passout "pass:$pass" -out "$who.p12"
}
issue alice -newkey rsa:3072
issue bob -newkey ec -pkeyopt ec_paramgen_curve:P-256
issue grace -newkey rsa:2048
chmod 600 ./*

if [ -f "$(dirname "$D")/env" ]; then
  printf 'export %s=%q\n' SMIME_CA "$D/ca.pem" SMIME_PASS "$pass" \
    ALICE_P12 "$D/alice.p12" BOB_P12 "$D/bob.p12" ALICE_CERT "$D/alice.pem" \
    BOB_CERT "$D/bob.pem" ALICE_KEY "$D/alice.key" BOB_KEY "$D/bob.key" \
    GRACE_P12 "$D/grace.p12" GRACE_CERT "$D/grace.pem" GRACE_KEY "$D/grace.key" >> "$(dirname "$D")/env"
fi
