#!/usr/bin/python3
"""PyJWT (Debian python3-jwt) as the independent implementation for the
interop tests in interop_test.cpp.

  pyjwt_interop.py verify JWKS_FILE TOKEN   -> claims JSON on stdout
  pyjwt_interop.py sign JWK_FILE CLAIMS     -> compact JWS on stdout

verify picks the key by the token's kid from a JWKS (for HS256 the JWKS file
holds the shared oct key) and allows only that key's algorithm.
"""
import json
import sys

import jwt


def main():
    mode, key_file, arg = sys.argv[1:4]
    with open(key_file) as f:
        keys = json.load(f)
    if mode == "verify":
        kid = jwt.get_unverified_header(arg).get("kid")
        jwk = next(k for k in keys["keys"] if k.get("kid") == kid)
        claims = jwt.decode(arg, jwt.PyJWK(jwk).key, algorithms=[jwk["alg"]],
                            options={"require": ["exp"], "verify_aud": False})
        print(json.dumps(claims, sort_keys=True))
    elif mode == "sign":
        key = jwt.PyJWK(keys)
        print(jwt.encode(json.loads(arg), key.key, algorithm=keys["alg"],
                         headers={"kid": keys["kid"]}))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
