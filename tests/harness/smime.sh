#!/bin/bash
# smime.sh init DIR — a throwaway S/MIME world made with the openssl command:
# a test CA, and certificates with private keys for alice@postern.test (RSA
# 3072), bob@postern.test (EC P-256) and grace@postern.test (RSA 2048, the
# benchmarks' signer), as PEM and as PKCS#12 (passphrase in SMIME_PASS).
# Appends SMIME_CA, SMIME_PASS, ALICE_P12, BOB_P12, GRACE_P12, ALICE_CERT,
# BOB_CERT, GRACE_CERT and the keys to DIR/env when it exists.  Everything stays in
# DIR/smime; nothing runs, so there is nothing to stop.
#
# The private keys may come from PST_HARNESS_KEY_CACHE, a directory the
# caller made and removes (tools/run-tests.sh does, for one run of the
# suite): the first test to need a key makes it there, the others copy it.
# Making the RSA keys is most of this script's time (1.5 s of CPU, about
# 70 times per run); the CA, its certificates and their serials are still
# made afresh for each provider.
set -euo pipefail

[ $# -eq 2 ] && [ "$1" = init ] || { echo "usage: $0 init DIR" >&2; exit 2; }
D=$(cd "$2" && pwd)/smime
mkdir -m 700 "$D"
cd "$D"
pass=$(openssl rand -hex 12)

# key NAME ALGORITHM-OPTIONS...: NAME.key, a fresh private key or a copy
# of the cache's (made there, under its lock, by the first to need it).
key() {
  local name=$1 cache=${PST_HARNESS_KEY_CACHE:-}
  shift
  if [ -z "$cache" ] || [ ! -d "$cache" ]; then
    openssl genpkey "$@" -out "$name.key" 2>/dev/null
    return
  fi
  (
    flock 9
    if [ ! -s "$cache/$name.key" ]; then
      openssl genpkey "$@" -out "$cache/$name.key.new" 2>/dev/null
      mv "$cache/$name.key.new" "$cache/$name.key"
    fi
  ) 9> "$cache/lock"
  cp "$cache/$name.key" "$name.key"
}

key ca -algorithm RSA -pkeyopt rsa_keygen_bits:3072
openssl req -x509 -new -key ca.key -out ca.pem -days 30 \
  -subj "/CN=Postern Test S-MIME CA" -addext "basicConstraints=critical,CA:true" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() { # NAME ALGORITHM-OPTIONS...
  local who=$1
  key "$@"
  openssl req -new -key "$who.key" -out "$who.csr" \
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
issue alice -algorithm RSA -pkeyopt rsa_keygen_bits:3072
issue bob -algorithm EC -pkeyopt ec_paramgen_curve:P-256
issue grace -algorithm RSA -pkeyopt rsa_keygen_bits:2048
chmod 600 ./*

if [ -f "$(dirname "$D")/env" ]; then
  printf 'export %s=%q\n' SMIME_CA "$D/ca.pem" SMIME_PASS "$pass" \
    ALICE_P12 "$D/alice.p12" BOB_P12 "$D/bob.p12" ALICE_CERT "$D/alice.pem" \
    BOB_CERT "$D/bob.pem" ALICE_KEY "$D/alice.key" BOB_KEY "$D/bob.key" \
    GRACE_P12 "$D/grace.p12" GRACE_CERT "$D/grace.pem" GRACE_KEY "$D/grace.key" >> "$(dirname "$D")/env"
fi
