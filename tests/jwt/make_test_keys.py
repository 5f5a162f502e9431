#!/usr/bin/env python3
"""Adds keys to tests/jwt/test_keys.json (run once with the test venv's python;
existing keys are kept, so the committed file is what the tests use):

  build/venv/test/bin/python tests/jwt/make_test_keys.py tests/jwt/test_keys.json

- one key per algorithm the library supports (RS384 ... HS512), from
  `cryptography`;
- RS256_2047: an RSA key of 2047 bits (one bit under the minimum);
- RS256_roca: an RSA key whose primes have the structure of the Infineon
  RSALib keys of CVE-2017-15361 (ROCA), p = k * M + (65537^a mod M) with M
  the product of the primes up to 167: its modulus carries the fingerprint
  of Nemec et al. (CCS 2017) and the detector must refuse it. The primes are
  random, so the key is only a test of the detector, not a factorable key.
"""
import base64
import json
import secrets
import sys

from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return base64.urlsafe_b64encode(n.to_bytes(length, "big")).rstrip(b"=").decode()


def rsa_jwk(kid, alg, numbers):
    pub = numbers.public_numbers
    return {"kty": "RSA", "kid": kid, "alg": alg, "use": "sig", "n": b64(pub.n), "e": b64(pub.e),
            "d": b64(numbers.d), "p": b64(numbers.p), "q": b64(numbers.q), "dp": b64(numbers.dmp1),
            "dq": b64(numbers.dmq1), "qi": b64(numbers.iqmp)}


def ec_jwk(kid, alg, curve, crv, size):
    numbers = ec.generate_private_key(curve).private_numbers()
    pub = numbers.public_numbers
    return {"kty": "EC", "kid": kid, "alg": alg, "use": "sig", "crv": crv, "x": b64(pub.x, size),
            "y": b64(pub.y, size), "d": b64(numbers.private_value, size)}


def is_probable_prime(n, rounds=40):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def roca_prime(bits, primorial):
    # k in the range that puts p's two top bits at 1 (so p * q has 2 * bits).
    low, high = (3 << (bits - 2)) // primorial + 1, (1 << bits) // primorial - 1
    while True:
        k = low + secrets.randbelow(high - low)
        p = k * primorial + pow(65537, secrets.randbelow(1 << 60), primorial)
        if p >> (bits - 2) == 3 and p.bit_length() == bits and is_probable_prime(p):
            return p


def roca_key():
    primorial = 1
    for p in range(2, 168):
        if all(p % q for q in range(2, p)):
            primorial *= p
    e = 65537
    while True:
        p, q = roca_prime(1024, primorial), roca_prime(1024, primorial)
        if p != q and (p - 1) % e and (q - 1) % e:
            break
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                    rsa.RSAPublicNumbers(e, p * q))
    return numbers


def main():
    path = sys.argv[1]
    with open(path) as f:
        keys = json.load(f)
    new = {}
    for alg in ("RS384", "RS512", "PS384", "PS512"):
        new[alg] = lambda alg=alg: rsa_jwk(alg.lower()[:2] + alg[2:] + "-1", alg,
                                            rsa.generate_private_key(65537, 2048).private_numbers())
    new["ES384"] = lambda: ec_jwk("es384-1", "ES384", ec.SECP384R1(), "P-384", 48)
    new["ES512"] = lambda: ec_jwk("es512-1", "ES512", ec.SECP521R1(), "P-521", 66)
    for alg, size in (("HS384", 48), ("HS512", 64)):
        new[alg] = lambda alg=alg, size=size: {"kty": "oct", "kid": alg.lower() + "-1", "alg": alg,
                                               "use": "sig", "k": b64(int.from_bytes(secrets.token_bytes(size), "big"), size)}
    new["RS256_2047"] = lambda: rsa_jwk("rs-2047", "RS256", rsa.generate_private_key(65537, 2047).private_numbers())
    new["RS256_roca"] = lambda: rsa_jwk("rs-roca", "RS256", roca_key())
    for name, make in new.items():
        if name not in keys:
            keys[name] = make()
    with open(path, "w") as f:
        json.dump(keys, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
