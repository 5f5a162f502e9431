#!/usr/bin/env python3
"""PyJWT (pinned in tests/python/requirements/test.txt, the test venv) as the independent JOSE implementation of the
interop tests (tests/jwt/interop_test.cpp, tests/keysets).

  pyjwt_interop.py verify JWKS_FILE TOKEN   -> claims JSON on stdout
  pyjwt_interop.py sign JWK_FILE CLAIMS     -> compact JWS on stdout
  pyjwt_interop.py check JWKS_FILE PRIVATE_JWK_FILE TOKEN
      -> "ok" when TOKEN verifies against the JWKS, and a token PyJWT signs
         with the private JWK verifies too; else the reason, exit 1

verify loads the whole set, picks the key by the token's kid (for HS256 the
JWKS file holds the shared oct key) and allows only that key's algorithm:
the key decides the algorithm, as RFC 8725 asks.
"""
import json
import sys
import time

import jwt


def load_keys(path):
    with open(path) as f:
        document = f.read()
    jwt.PyJWKSet.from_json(document)  # the whole set loads
    return json.loads(document)["keys"]


def verify(keys, token):
    kid = jwt.get_unverified_header(token).get("kid")
    jwk = next(k for k in keys if k.get("kid") == kid)
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]],
                      options={"require": ["exp"], "verify_aud": False})


def sign(private, claims):
    return jwt.encode(claims, jwt.PyJWK(private).key, algorithm=private["alg"],
                      headers={"kid": private["kid"]})


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "verify":
        print(json.dumps(verify(load_keys(args[0]), args[1]), sort_keys=True))
    elif mode == "sign":
        with open(args[0]) as f:
            private = json.load(f)
        print(sign(private, json.loads(args[1])))
    elif mode == "check":
        try:
            keys = load_keys(args[0])
            with open(args[1]) as f:
                private = json.load(f)
            verify(keys, args[2])
            mine = sign(private, {"sub": "pyjwt", "exp": int(time.time()) + 300})
            assert verify(keys, mine)["sub"] == "pyjwt"
        except Exception as e:  # noqa: BLE001 - any failure is the answer
            print("interop failed: %s: %s" % (type(e).__name__, e))
            sys.exit(1)
        print("ok")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
