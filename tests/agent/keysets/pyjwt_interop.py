#!/usr/bin/env python3
"""pyjwt_interop.py JWKS_FILE PRIVATE_JWK_FILE TOKEN -- an independent JOSE
implementation (PyJWT, Debian's python3-jwt) reads what a tokenwell keyset
publishes: it verifies TOKEN (signed by the test's own OpenSSL signer) against
the JWKS, signs a token with the private JWK, and verifies that one too.
Exits 0 when all hold, 1 with the reason otherwise."""
import json
import sys
import time

import jwt

document = open(sys.argv[1]).read()
jwt.PyJWKSet.from_json(document)  # the whole set loads
private = json.load(open(sys.argv[2]))
token = sys.argv[3]
# kid -> (key, its alg): the key decides the algorithm, as RFC 8725 asks.
by_kid = {k["kid"]: (jwt.PyJWK(k), k["alg"]) for k in json.loads(document)["keys"]}


def verify(t):
    key, alg = by_kid[jwt.get_unverified_header(t)["kid"]]
    return jwt.decode(t, key.key, algorithms=[alg])


try:
    verify(token)
    signer = jwt.PyJWK(private)
    mine = jwt.encode({"sub": "pyjwt", "exp": int(time.time()) + 300}, signer.key,
                      algorithm=private["alg"], headers={"kid": private["kid"]})
    assert verify(mine)["sub"] == "pyjwt"
except Exception as e:  # noqa: BLE001 - any failure is the answer
    print("interop failed: %s: %s" % (type(e).__name__, e))
    sys.exit(1)
print("ok")
