#!/usr/bin/env python3
"""entra_standin.py -- a strict stand-in for Microsoft Entra ID, for tests and the demo.

Serves, on 127.0.0.1:
  HTTPS (test CA made at start-up)
    POST /{tenant}/oauth2/v2.0/token            client credentials (secret,
                                                certificate assertion, federated token)
    GET  /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys
    GET  /oidc/.well-known/openid-configuration, /oidc/jwks
                                                the OIDC issuer of federated tokens
    GET  /metadata/identity/oauth2/token        IMDS (also on the plain HTTP port)
    GET  /msi/token                             App Service (also on the plain HTTP port)
  HTTP (admin, plain)
    GET/DELETE /_admin/requests                 every request, no secret values
    POST/DELETE /_admin/fault                   fault injection (see FAULTS; "echo":
                                                a 401 invalid_client whose long
                                                description echoes the client_secret
                                                field as received from byte `at` on,
                                                then the request body, then a copy
                                                cut `cut` bytes into the secret)
    POST /_admin/federated_token                mint a federated token (or a bad one)
    POST /_admin/settings                       token_lifetime, exp_skew, refresh_in,
                                                revoke_secret, add_secret
    GET  /_admin/health

Requests are checked the way Entra checks them and refused with Entra's error
JSON (error, error_description "AADSTSnnnn: ...", error_codes, timestamp,
trace_id, correlation_id): grant type, scope (.default), tenant, client,
secret, assertion signature / x5t / aud / iss / sub / lifetime / jti replay,
federated issuer / subject / audience / signature / expiry, IMDS Metadata
header, App Service X-IDENTITY-HEADER.

  python3 tests/fakes/entra_standin.py --port 0 --state-dir DIR [--config FILE]

writes DIR/standin.json once it listens: ports, URLs, the CA path, the
effective config and the files a client needs (client.pem, client_secret).
Without --config it makes a default tenant with one application that has a
secret, a certificate and a federated credential, and two managed identities.

Needs cryptography only, 38 or newer (the test venv: tests/python/requirements/test.txt).
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
CLOCK_SKEW = 300          # seconds Entra tolerates on nbf / exp
MAX_ASSERTION_LIFETIME = 600
DEFAULT_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEFAULT_CLIENT = "0f4e5b8c-1a2b-4c3d-9e8f-112233445566"
DEFAULT_OID = "5b2c1d4e-7f80-4a9b-8c7d-6e5f4a3b2c1d"
OIDC_SCOPES = ("openid", "offline_access", "profile")
FAULTS = ("status", "slow", "hang", "malformed", "oversize", "reset", "down", "echo")


# ----------------------------------------------------------------- helpers

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_cert(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_cert(subject_cn, key, issuer_cert=None, issuer_key=None, ca=False, san_ips=(), san_dns=(),
              days=30, not_before=None):
    now = not_before or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if san_ips or san_dns:
        import ipaddress
        names = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in san_ips] + [x509.DNSName(d) for d in san_dns]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                        critical=False)
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def thumbprints(cert):
    der = cert.public_bytes(serialization.Encoding.DER)
    return b64url(hashlib.sha1(der).digest()), b64url(hashlib.sha256(der).digest())


def jwk_of(key, kid):
    nums = key.public_key().public_numbers()
    def enc(n):
        return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": enc(nums.n), "e": enc(nums.e)}


def sign_jwt(header, claims, key):
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


def split_jwt(token):
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("expected 3 parts")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not JSON objects")
    return header, claims, (parts[0] + "." + parts[1]).encode(), b64url_decode(parts[2])


def write_atomic(path, data: bytes, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Refusal(Exception):
    """An error response: HTTP status and a JSON body."""

    def __init__(self, status, body, code=None):
        super().__init__(body.get("error_description") or body.get("message") or str(body))
        self.status, self.body, self.code = status, body, code


def aadsts(status, error, code, text):
    now = datetime.datetime.now(datetime.timezone.utc)
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    description = (f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\n"
                   f"Timestamp: {now.strftime('%Y-%m-%d %H:%M:%SZ')}")
    return Refusal(status, {
        "error": error, "error_description": description, "error_codes": [code],
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"), "trace_id": trace, "correlation_id": corr,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}"}, code)


# ------------------------------------------------------------------ state

class StandIn:
    def __init__(self, state_dir, config_path, host):
        self.dir = os.path.abspath(state_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.host = host
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests = []
        self.faults = []
        self.seen_jti = {}
        self.settings = {"token_lifetime": 3600, "exp_skew": 0, "refresh_in": None}
        self._make_pki()
        self.config_path = config_path
        self.port = self.http_port = self.admin_port = 0

    # Keys and certificates, made fresh every start.
    def _make_pki(self):
        self.ca_key = new_rsa_key()
        self.ca_cert = make_cert("tokenwell test CA", self.ca_key, ca=True)
        self.server_key = new_rsa_key()
        self.server_cert = make_cert("127.0.0.1", self.server_key, self.ca_cert, self.ca_key,
                                     san_ips=("127.0.0.1",), san_dns=("localhost",))
        self.ca_file = os.path.join(self.dir, "ca.pem")
        write_atomic(self.ca_file, pem_cert(self.ca_cert))
        self.server_chain = os.path.join(self.dir, "server.pem")
        write_atomic(self.server_chain, pem_cert(self.server_cert) + pem_key(self.server_key), 0o600)
        self.token_key, self.token_kid = new_rsa_key(), "standin-token-key"
        self.issuer_key, self.issuer_kid = new_rsa_key(), "standin-oidc-key"
        self.rogue_key = new_rsa_key()  # signs "wrong key" federated tokens with the same kid

    def base_url(self):
        return f"https://{self.host}:{self.port}/"

    def issuer(self):
        return f"https://{self.host}:{self.port}/oidc"

    def load_config(self):
        if self.config_path:
            with open(self.config_path) as f:
                cfg = json.load(f)
            base = os.path.dirname(os.path.abspath(self.config_path))
        else:
            cfg, base = self._default_config(), self.dir
        self.settings["token_lifetime"] = int(cfg.get("token_lifetime", 3600))
        if "refresh_in" in cfg:
            self.settings["refresh_in"] = cfg["refresh_in"]
        self.tenants = set(cfg.get("tenants", [DEFAULT_TENANT]))
        self.resources = set(cfg.get("resources", ["https://redis.azure.com"]))
        self.clients = {}
        for c in cfg.get("clients", []):
            client = {"client_id": c["client_id"], "tenant": c.get("tenant", next(iter(self.tenants))),
                      "oid": c.get("oid", str(uuid.uuid4())), "secrets": [], "certificates": [],
                      "federated": []}
            for s in c.get("secrets", []):
                client["secrets"].append(s if isinstance(s, dict) else {"value": s})
            for path in c.get("certificate_files", []):
                path = path if os.path.isabs(path) else os.path.join(base, path)
                with open(path, "rb") as f:
                    cert = x509.load_pem_x509_certificate(f.read())
                sha1, sha256 = thumbprints(cert)
                client["certificates"].append({"cert": cert, "x5t": sha1, "x5t#S256": sha256})
            for fed in c.get("federated", []):
                client["federated"].append({"issuer": fed.get("issuer", "self").replace("self", self.issuer()),
                                            "subject": fed["subject"],
                                            "audience": fed.get("audience", FEDERATED_AUDIENCE)})
            self.clients[client["client_id"]] = client
        self.identities = cfg.get("managed_identities", [])
        self.identity_header = cfg.get("app_service", {}).get("identity_header", "")
        self.effective_config = cfg

    def _default_config(self):
        key = new_rsa_key()
        cert = make_cert("tokenwell-test-client", key, days=365)
        self.client_pem = os.path.join(self.dir, "client.pem")
        write_atomic(self.client_pem, pem_cert(cert) + pem_key(key), 0o600)
        self.client_secret_file = os.path.join(self.dir, "client_secret")
        secret = "tw~" + b64url(os.urandom(24))
        write_atomic(self.client_secret_file, (secret + "\n").encode(), 0o600)
        self.identity_header_value = b64url(os.urandom(16))
        return {
            "tenants": [DEFAULT_TENANT],
            "token_lifetime": 3600,
            "clients": [{
                "client_id": DEFAULT_CLIENT, "tenant": DEFAULT_TENANT, "oid": DEFAULT_OID,
                "secrets": [secret],
                "certificate_files": [self.client_pem],
                "federated": [{"issuer": "self", "subject": "system:serviceaccount:default:app",
                               "audience": FEDERATED_AUDIENCE}],
            }],
            "managed_identities": [
                {"system": True, "tenant": DEFAULT_TENANT, "client_id": "6a1f0c2e-0000-4000-8000-00000000aaaa",
                 "object_id": "9d8c7b6a-0000-4000-8000-00000000bbbb",
                 "resource_id": "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/"
                                "userAssignedIdentities/system"},
                {"tenant": DEFAULT_TENANT, "client_id": "6a1f0c2e-0000-4000-8000-00000000cccc",
                 "object_id": "9d8c7b6a-0000-4000-8000-00000000dddd",
                 "resource_id": "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/"
                                "userAssignedIdentities/app"}],
            "app_service": {"identity_header": self.identity_header_value},
        }

    # ---- tokens

    def issue_access_token(self, tenant, appid, oid, resource, appidacr):
        now = int(time.time())
        lifetime = int(self.settings["token_lifetime"])
        claims = {"aud": resource, "iss": f"https://sts.windows.net/{tenant}/", "iat": now, "nbf": now,
                  "exp": now + lifetime + int(self.settings["exp_skew"]), "aio": b64url(os.urandom(12)),
                  "appid": appid, "appidacr": appidacr, "idp": f"https://sts.windows.net/{tenant}/",
                  "idtyp": "app", "oid": oid, "rh": "0.standin.", "sub": oid, "tid": tenant,
                  "uti": b64url(os.urandom(16)), "ver": "1.0"}
        header = {"typ": "JWT", "alg": "RS256", "kid": self.token_kid, "x5t": self.token_kid}
        return sign_jwt(header, claims, self.token_key), now, lifetime

    def mint_federated(self, req):
        now = int(time.time())
        lifetime = int(req.get("lifetime", 3600))
        iat = now - 2 * lifetime if req.get("expired") else now
        claims = {"aud": [req.get("audience", FEDERATED_AUDIENCE)], "iss": req.get("issuer", self.issuer()),
                  "sub": req.get("subject", "system:serviceaccount:default:app"), "iat": iat, "nbf": iat,
                  "exp": iat + lifetime, "kubernetes.io": {"namespace": "default"}}
        key = self.rogue_key if req.get("wrong_key") else self.issuer_key
        return sign_jwt({"alg": "RS256", "kid": self.issuer_kid, "typ": "JWT"}, claims, key)

    # ---- faults

    def take_fault(self, target):
        with self.lock:
            for f in self.faults:
                if f["target"] in ("any", target) and f["mode"] != "down":
                    if f["count"] > 0:
                        f["count"] -= 1
                        if f["count"] == 0:
                            self.faults.remove(f)
                    return dict(f)
        return None


# ------------------------------------------------------------- validation

def form_of(body: bytes):
    try:
        pairs = urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise aadsts(400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
    form = {}
    for k, v in pairs:
        if k in form:
            raise aadsts(400, "invalid_request", 9002313,
                         f"Invalid request. Request is malformed or invalid. Duplicate parameter '{k}'.")
        form[k] = v
    return form


def require(form, name):
    value = form.get(name, "")
    if not value:
        raise aadsts(400, "invalid_request", 900144,
                     f"The request body must contain the following parameter: '{name}'.")
    return value


def verify_rs256(key, data, sig):
    key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())


def verify_ps256(key, data, sig):
    key.verify(sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())


def check_time_range(claims, now, what):
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    for name, v in (("exp", exp), ("nbf", nbf), ("iat", iat)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise aadsts(401, "invalid_client", 50027, f"JWT token is invalid or malformed: '{name}' is not a number.")
    if exp is None:
        raise aadsts(401, "invalid_client", 50027, "JWT token is invalid or malformed: no 'exp'.")
    start = nbf if nbf is not None else iat
    if exp < now - CLOCK_SKEW or (start is not None and start > now + CLOCK_SKEW):
        raise aadsts(401, "invalid_client", 700024,
                     f"{what} is not within its valid time range. Current time: {now}, "
                     f"assertion valid from {start} to {exp}.")
    return start, exp


class TokenEndpoint:
    def __init__(self, s: StandIn):
        self.s = s

    def handle(self, tenant, headers, body, log):
        s = self.s
        if tenant not in s.tenants:
            raise aadsts(400, "invalid_request", 90002,
                         f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                         "signing into the correct cloud.")
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise aadsts(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'grant_type'.")
        form = form_of(body)
        log["form_keys"] = sorted(form)
        grant = require(form, "grant_type")
        log["grant_type"] = grant
        if grant != "client_credentials":
            raise aadsts(400, "unsupported_grant_type", 70003,
                         f"The app requested an unsupported grant type '{grant}'.")
        client_id = require(form, "client_id")
        log["client_id"] = client_id
        client = s.clients.get(client_id)
        if client is None or client["tenant"] != tenant:
            raise aadsts(400, "unauthorized_client", 700016,
                         f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
                         "This can happen if the application has not been installed by the administrator of the "
                         "tenant or consented to by any user in the tenant.")
        scope = require(form, "scope")
        log["scope"] = scope
        # Exactly one resource scope ending in /.default; Entra ignores the OpenID Connect
        # scopes MSAL (Go, Java, .NET) adds to every request, client credentials too.
        resources = [w for w in scope.split() if w not in OIDC_SCOPES]
        if len(resources) != 1 or not resources[0].endswith("/.default"):
            raise aadsts(400, "invalid_scope", 1002012,
                         f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                         "scope value with /.default suffixed to the resource identifier (application ID URI).")
        resource = resources[0][: -len("/.default")]
        if resource not in s.resources:
            raise aadsts(400, "invalid_resource", 500011,
                         f"The resource principal named {resource} was not found in the tenant named {tenant}.")

        secret, assertion = form.get("client_secret"), form.get("client_assertion")
        if secret and assertion:
            raise aadsts(400, "invalid_request", 9002313,
                         "Invalid request. Only one client credential may be sent.")
        if secret:
            appidacr = self.check_secret(client, secret, log)
        elif assertion:
            atype = form.get("client_assertion_type", "")
            if atype != JWT_BEARER:
                raise aadsts(400, "invalid_request", 700010 if atype else 900144,
                             f"Invalid client_assertion_type '{atype}'." if atype else
                             "The request body must contain the following parameter: 'client_assertion_type'.")
            appidacr = self.check_assertion(client, tenant, assertion, log)
        else:
            raise aadsts(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or "
                         "'client_secret'.")
        token, now, lifetime = s.issue_access_token(tenant, client_id, client["oid"], resource, appidacr)
        out = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        if s.settings["refresh_in"]:
            out["refresh_in"] = int(s.settings["refresh_in"])
        return out

    def check_secret(self, client, secret, log):
        for i, entry in enumerate(client["secrets"]):
            if entry["value"] == secret:
                if entry.get("expired") or entry.get("revoked"):
                    raise aadsts(401, "invalid_client", 7000222,
                                 f"The provided client secret keys for app '{client['client_id']}' are expired.")
                log["auth"] = f"client_secret#{i + 1}"
                return "1"
        raise aadsts(401, "invalid_client", 7000215,
                     "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                     f"secret value, not the client secret ID, for a secret added to app '{client['client_id']}'.")

    def check_assertion(self, client, tenant, assertion, log):
        try:
            header, claims, signed, sig = split_jwt(assertion)
        except (ValueError, json.JSONDecodeError, UnicodeDecodeError):
            raise aadsts(401, "invalid_client", 50027, "JWT token is invalid or malformed.")
        iss = claims.get("iss")
        if iss == client["client_id"]:
            return self.check_certificate_assertion(client, tenant, header, claims, signed, sig, log)
        return self.check_federated(client, header, claims, signed, sig, log)

    def check_certificate_assertion(self, client, tenant, header, claims, signed, sig, log):
        s, now = self.s, int(time.time())
        alg = header.get("alg")
        log["auth"] = f"client_assertion:{alg}"
        if alg == "RS256":
            kid_name, verify = "x5t", verify_rs256
        elif alg == "PS256":
            kid_name, verify = "x5t#S256", verify_ps256
        else:
            raise aadsts(401, "invalid_client", 5002738,
                         f"Invalid JWT token. '{alg}' is not a supported signature algorithm.")
        thumb = header.get(kid_name)
        registered = next((c for c in client["certificates"] if c[kid_name] == thumb), None)
        if not thumb or registered is None:
            raise aadsts(401, "invalid_client", 700027,
                         "Client assertion failed signature validation. [Reason - The key was not found., "
                         f"Thumbprint of key used by client: '{thumb}', Please visit the Azure Portal, Graph "
                         "Explorer or directly use MS Graph to see configured keys for app Id "
                         f"'{client['client_id']}'.]")
        if "x5c" in header:
            chain = header["x5c"]
            try:
                leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
            except Exception:
                raise aadsts(401, "invalid_client", 50027, "JWT token is invalid or malformed: bad x5c.")
            if thumbprints(leaf)[0 if alg == "RS256" else 1] != thumb:
                raise aadsts(401, "invalid_client", 700027,
                             "Client assertion failed signature validation. [Reason - x5c does not match "
                             f"{kid_name}.]")
        try:
            verify(registered["cert"].public_key(), signed, sig)
        except InvalidSignature:
            raise aadsts(401, "invalid_client", 700027,
                         "Client assertion failed signature validation. [Reason - The provided signature value "
                         "did not match the expected signature value.]")
        expected_aud = f"{s.base_url()}{tenant}/oauth2/v2.0/token"
        if claims.get("aud") != expected_aud:
            raise aadsts(401, "invalid_client", 50013,
                         f"Assertion failed signature validation. [Reason - The audience claim "
                         f"'{claims.get('aud')}' does not match the expected audience '{expected_aud}'.]")
        if claims.get("sub") != client["client_id"]:
            raise aadsts(401, "invalid_client", 700021,
                         "Client assertion application identifier doesn't match 'client_id' parameter.")
        start, exp = check_time_range(claims, now, "Client assertion")
        if start is not None and exp - start > MAX_ASSERTION_LIFETIME:
            raise aadsts(401, "invalid_client", 700024,
                         f"Client assertion is not within its valid time range: its lifetime "
                         f"({int(exp - start)} s) exceeds {MAX_ASSERTION_LIFETIME} s.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise aadsts(401, "invalid_client", 50027, "JWT token is invalid or malformed: no 'jti'.")
        log["jti"] = jti
        with s.lock:
            for seen, until in list(s.seen_jti.items()):
                if until < now - CLOCK_SKEW:
                    del s.seen_jti[seen]
            if (client["client_id"], jti) in s.seen_jti:
                raise aadsts(401, "invalid_client", 50013,
                             f"Assertion is invalid: the jti '{jti}' has already been used (replay).")
            s.seen_jti[(client["client_id"], jti)] = exp
        return "2"

    def check_federated(self, client, header, claims, signed, sig, log):
        s, now = self.s, int(time.time())
        log["auth"] = "federated"
        iss, sub, aud = claims.get("iss"), claims.get("sub"), claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        records = [f for f in client["federated"] if f["issuer"] == iss]
        if not records:
            raise aadsts(400, "invalid_request", 700211,
                         f"No matching federated identity record found for presented assertion issuer '{iss}'. "
                         "Please check your federated identity credential Subject, Audience and Issuer against "
                         "the presented assertion.")
        records = [f for f in records if f["subject"] == sub]
        if not records:
            raise aadsts(400, "invalid_request", 700213,
                         f"No matching federated identity record found for presented assertion subject '{sub}'.")
        if not any(f["audience"] in auds for f in records):
            raise aadsts(400, "invalid_request", 700212,
                         f"No matching federated identity record found for presented assertion audience "
                         f"'{aud}'.")
        if header.get("alg") != "RS256" or header.get("kid") != s.issuer_kid or iss != s.issuer():
            raise aadsts(401, "invalid_client", 700027,
                         "Client assertion failed signature validation. [Reason - The key was not found.]")
        try:
            verify_rs256(s.issuer_key.public_key(), signed, sig)
        except InvalidSignature:
            raise aadsts(401, "invalid_client", 700027,
                         "Client assertion failed signature validation. [Reason - The provided signature value "
                         "did not match the expected signature value.]")
        check_time_range(claims, now, "Client assertion")
        return "2"


def imds_response(s: StandIn, identity, resource, app_service):
    token, now, lifetime = s.issue_access_token(identity["tenant"], identity["client_id"], identity["object_id"],
                                                resource, "2")
    if app_service:  # 2019-08-01: no expires_in
        return {"access_token": token, "expires_on": str(now + lifetime), "resource": resource,
                "token_type": "Bearer", "client_id": identity["client_id"]}
    return {"access_token": token, "client_id": identity["client_id"], "expires_in": str(lifetime),
            "expires_on": str(now + lifetime), "ext_expires_in": str(lifetime), "not_before": str(now),
            "resource": resource, "token_type": "Bearer"}


def pick_identity(s: StandIn, query, names, error):
    given = [(k, query[k]) for k in names if k in query]
    if len(given) > 1:
        raise error("Only one of client_id, object_id or resource id may be given")
    if not given:
        system = [i for i in s.identities if i.get("system")]
        if system:
            return system[0]
        if len(s.identities) == 1:
            return s.identities[0]
        raise error("Multiple user assigned identities exist, please specify the clientId / resourceId of the "
                    "identity in the token request")
    key, value = given[0]
    field = {"client_id": "client_id", "object_id": "object_id", "principal_id": "object_id",
             "msi_res_id": "resource_id", "mi_res_id": "resource_id"}[key]
    for i in s.identities:
        if i.get(field, "").lower() == value.lower():
            return i
    raise error("Identity not found")


# --------------------------------------------------------------- serving

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "entra-standin"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet; the request log is the record
        pass

    @property
    def s(self) -> StandIn:
        return self.server.standin

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise Refusal(413, {"error": "invalid_request", "error_description": "request too large"})
        return self.rfile.read(n) if n else b""

    def send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_raw(status, data, extra_headers)

    def send_raw(self, status, data, extra_headers=(), content_type="application/json; charset=utf-8"):
        # Recorded before the answer leaves: a client that acts on the answer
        # (the agent publishing a token) and a test reading /requests then
        # always see this request.
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store, no-cache")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self, method):
        started = time.time()
        url = urllib.parse.urlsplit(self.path)
        kind = self.server.kind
        log = {"time": started, "listener": kind, "method": method, "path": url.path,
               "peer_port": self.client_address[1]}
        if kind == "admin":
            return self.admin(method, url)
        self.pending_log = log
        body = self.read_body() if method == "POST" else b""
        target, route = self.route(method, url.path)
        log["target"] = target
        status = 500
        try:
            fault = self.s.take_fault(target) if target else None
            if fault:
                log["fault"] = fault["mode"]
                if self.apply_fault(fault, body):
                    status = log["status"] = fault.get("status", 0)
                    return
            if route is None:
                raise Refusal(404, {"error": "not_found", "error_description": f"no route for {method} {url.path}"})
            status, obj = route(url, body, log)
            self.send_json(status, obj)
        except Refusal as r:
            status = r.status
            log["error_code"] = r.code
            log["error"] = r.body.get("error") or r.body.get("message")
            self.send_json(r.status, r.body)
        except Exception:
            traceback.print_exc()
            self.send_json(500, {"error": "server_error", "error_description": "stand-in bug"})
        finally:
            self.record(status)

    def record(self, status):
        """Appends this request's log to /requests once (answered or not)."""
        log, self.pending_log = getattr(self, "pending_log", None), None
        if log is None:
            return
        log.setdefault("status", status)
        log["duration"] = time.time() - log["time"]
        with self.s.lock:
            self.s.requests.append(log)

    def route(self, method, path):
        parts = [p for p in path.split("/") if p]
        s = self.s
        if path == "/metadata/identity/oauth2/token" and method == "GET":
            return "imds", self.imds
        if path == "/msi/token" and method == "GET":
            return "app_service", self.app_service
        if self.server.kind != "https":
            return None, None  # the plain port serves managed identity only
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
            return "token", lambda url, body, log: (200, TokenEndpoint(s).handle(parts[0], self.headers, body, log))
        if path == "/oidc/.well-known/openid-configuration":
            return "oidc", lambda *a: (200, {"issuer": s.issuer(), "jwks_uri": s.issuer() + "/jwks",
                                             "response_types_supported": ["id_token"],
                                             "subject_types_supported": ["public"],
                                             "id_token_signing_alg_values_supported": ["RS256"]})
        if path == "/oidc/jwks":
            return "oidc", lambda *a: (200, {"keys": [jwk_of(s.issuer_key, s.issuer_kid)]})
        if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
            return "oidc", lambda *a: (200, {"keys": [jwk_of(s.token_key, s.token_kid)]})
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"] and parts[0] in s.tenants:
            t = parts[0]
            return "oidc", lambda *a: (200, {
                "issuer": f"{s.base_url()}{t}/v2.0", "token_endpoint": f"{s.base_url()}{t}/oauth2/v2.0/token",
                # Not served (no interactive flows here), but Entra lists them and MSAL
                # (azidentity's, for one) refuses a document without the authorize endpoint.
                "authorization_endpoint": f"{s.base_url()}{t}/oauth2/v2.0/authorize",
                "end_session_endpoint": f"{s.base_url()}{t}/oauth2/v2.0/logout",
                "jwks_uri": f"{s.base_url()}{t}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"]})
        return None, None

    def imds(self, url, body, log):
        s = self.s
        def err(text):
            return Refusal(400, {"error": "invalid_request", "error_description": text})
        if self.headers.get("X-Forwarded-For"):
            raise err("Request contains X-Forwarded-For header; IMDS does not accept proxied requests")
        if (self.headers.get("Metadata") or "").lower() != "true":
            raise err("Required metadata header not specified")
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        log["query_keys"] = sorted(query)
        if query.get("api-version") not in ("2018-02-01", "2019-08-01"):
            raise err("Invalid api-version" if "api-version" in query else "Required query variable 'api-version' "
                      "is missing")
        resource = query.get("resource", "")
        if not resource:
            raise err("Required audience parameter not specified")
        if resource not in s.resources:
            raise err(f"AADSTS500011: The resource principal named {resource} was not found in the tenant.")
        identity = pick_identity(s, query, ("client_id", "object_id", "msi_res_id"), err)
        log["identity"] = identity["client_id"]
        return 200, imds_response(s, identity, resource, app_service=False)

    def app_service(self, url, body, log):
        s = self.s
        def err(text, status=400):
            return Refusal(status, {"statusCode": status, "message": text,
                                    "correlationId": str(uuid.uuid4())})
        given = self.headers.get("X-IDENTITY-HEADER")
        if not given:
            raise err("The X-IDENTITY-HEADER header is required", 400)
        if given != s.identity_header:
            raise err("The X-IDENTITY-HEADER header value is not valid", 401)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        log["query_keys"] = sorted(query)
        if query.get("api-version") != "2019-08-01":
            raise err("Invalid api-version; this endpoint supports 2019-08-01")
        resource = query.get("resource", "")
        if not resource:
            raise err("The resource parameter is required")
        if resource not in s.resources:
            raise err(f"AADSTS500011: The resource principal named {resource} was not found in the tenant.")
        identity = pick_identity(s, query, ("client_id", "principal_id", "mi_res_id"), err)
        log["identity"] = identity["client_id"]
        return 200, imds_response(s, identity, resource, app_service=True)

    def apply_fault(self, f, body=b""):
        """Returns True when the fault replaced the response."""
        mode = f["mode"]
        if mode == "slow":
            self.s.stopping.wait(float(f.get("delay", 2)))
            return False
        if mode == "hang":
            self.s.stopping.wait(float(f.get("delay", 3600)))
            self.close_connection = True
            return True
        if mode == "status":
            status = int(f.get("status", 500))
            headers = [("Retry-After", str(f["retry_after"]))] if f.get("retry_after") is not None else []
            if status == 429:
                body = aadsts(429, "temporarily_unavailable", 50196,
                              "The server temporarily throttled the request.").body
            elif status >= 500:
                body = aadsts(status, "temporarily_unavailable", 90033,
                              "A transient error has occurred. Please try again.").body
            else:
                body = aadsts(status, "invalid_request", 90000, "Injected failure.").body
            self.send_json(status, body, headers)
            return True
        if mode == "echo":
            # An IdP that echoes the request (reported against Entra): the
            # client_secret field and the form-encoded body as received,
            # padding past any log line's length, and a copy cut inside the
            # secret's value.
            received = body.decode("latin-1")
            start = received.find("client_secret=")
            start = start + len("client_secret=") if start >= 0 else len(received) // 2
            field = received[start:].split("&")[0]
            head = f"AADSTS7000215: Invalid client secret provided: "
            head += "." * max(0, int(f.get("at", 0)) - len(head))
            refusal = aadsts(401, "invalid_client", 7000215, "")
            refusal.body["error_description"] = (
                f"{head}'{field}'. Request: {received} " + "Padding. " * 60 +
                f"\r\nRequest (truncated): {received[: start + int(f.get('cut', 12))]}")
            self.send_json(401, refusal.body)
            return True
        if mode == "malformed":
            self.send_raw(200, b'{"token_type": "Bearer", "expires_in": 3599, "access_tok')
            return True
        if mode == "oversize":
            size = int(f.get("size", 2 << 20))
            self.send_raw(200, b'{"padding": "' + b"x" * size + b'"}')
            return True
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        return False

    # ---- admin

    def admin(self, method, url):
        s = self.s
        try:
            body = self.read_body() if method == "POST" else b""
            req = json.loads(body) if body else {}
            path = url.path
            if path == "/_admin/health":
                return self.send_json(200, {"ok": True})
            if path == "/_admin/requests" and method == "GET":
                with s.lock:
                    return self.send_json(200, list(s.requests))
            if path == "/_admin/requests" and method == "DELETE":
                with s.lock:
                    s.requests.clear()
                return self.send_json(200, {"ok": True})
            if path == "/_admin/fault" and method == "POST":
                mode = req.get("mode")
                if mode not in FAULTS and mode != "up":
                    return self.send_json(400, {"error": f"mode must be one of {FAULTS} or up"})
                if mode == "down":
                    s.set_down(True)
                elif mode == "up":
                    s.set_down(False)
                else:
                    fault = {"target": req.get("target", "any"), "mode": mode, "count": int(req.get("count", -1))}
                    for k in ("status", "retry_after", "delay", "size", "cut", "at"):
                        if k in req:
                            fault[k] = req[k]
                    with s.lock:
                        s.faults.append(fault)
                return self.send_json(200, {"ok": True})
            if path == "/_admin/fault" and method == "DELETE":
                with s.lock:
                    s.faults.clear()
                s.set_down(False)
                return self.send_json(200, {"ok": True})
            if path == "/_admin/federated_token" and method == "POST":
                return self.send_json(200, {"token": s.mint_federated(req)})
            if path == "/_admin/settings" and method == "POST":
                with s.lock:
                    for k in ("token_lifetime", "exp_skew", "refresh_in"):
                        if k in req:
                            s.settings[k] = req[k]
                    for c in s.clients.values():
                        for entry in c["secrets"]:
                            if entry["value"] == req.get("revoke_secret"):
                                entry["revoked"] = True
                        if req.get("add_secret") and req.get("client_id", c["client_id"]) == c["client_id"]:
                            c["secrets"].append({"value": req["add_secret"]})
                return self.send_json(200, {"ok": True, "settings": s.settings})
            return self.send_json(404, {"error": "no such admin endpoint"})
        except Exception as e:  # admin misuse is a test bug: say so
            traceback.print_exc()
            return self.send_json(400, {"error": str(e)})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, kind, standin, tls=None):
        self.kind, self.standin, self.tls = kind, standin, tls
        self.open_connections = set()
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        raw = request
        with self.standin.lock:
            self.open_connections.add(raw)
        try:
            if self.tls is not None:  # handshake on the connection's thread, not the accept loop
                request.settimeout(30)
                try:
                    request = self.tls.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                # wrap_socket detached `raw`: drop_connections must shut the TLS socket.
                with self.standin.lock:
                    self.open_connections.discard(raw)
                    self.open_connections.add(request)
                raw = request
                request.settimeout(None)
                # wrap_socket detached `raw`: track the socket that owns the fd,
                # or drop_connections() could not end a kept-alive connection.
                with self.standin.lock:
                    self.open_connections.discard(raw)
                    self.open_connections.add(request)
                raw = request
            super().finish_request(request, client_address)
        finally:
            with self.standin.lock:
                self.open_connections.discard(raw)
                self.open_connections.discard(request)

    def drop_connections(self):
        """Ends every open (keep-alive) connection, as a crashed server would."""
        for sock in list(self.open_connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, BrokenPipeError, OSError)):
            return
        super().handle_error(request, client_address)


def serve_in_thread(server):
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return t


def _set_down(self, down):
    """'down': stop accepting on the token/IMDS ports (connections are refused)."""
    with self.lock:
        if down and self.servers:
            for srv in self.servers:
                srv.shutdown()
                srv.server_close()
                srv.drop_connections()
            self.servers = []
        elif not down and not self.servers:
            self.start_listeners(self.port, self.http_port)


def _start_listeners(self, port, http_port):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(self.server_chain)
    https = Server((self.host, port), "https", self, tls)
    plain = Server((self.host, http_port), "http", self)
    self.port, self.http_port = https.server_address[1], plain.server_address[1]
    self.servers = [https, plain]
    for srv in self.servers:
        serve_in_thread(srv)


StandIn.set_down = _set_down
StandIn.start_listeners = _start_listeners


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free port)")
    ap.add_argument("--http-port", type=int, default=0, help="plain HTTP port for IMDS / App Service")
    ap.add_argument("--admin-port", type=int, default=0, help="plain HTTP admin port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--config", help="JSON: tenants, resources, clients, managed_identities, app_service")
    ap.add_argument("--token-lifetime", type=int, help="access token lifetime in seconds")
    args = ap.parse_args()

    s = StandIn(args.state_dir, args.config, args.host)
    s.servers = []
    # The issuer URL needs the HTTPS port before the config is read.
    s.start_listeners(args.port, args.http_port)
    s.load_config()
    if args.token_lifetime:
        s.settings["token_lifetime"] = args.token_lifetime
    admin = Server((args.host, args.admin_port), "admin", s)
    s.admin_port = admin.server_address[1]
    serve_in_thread(admin)

    info = {
        "pid": os.getpid(), "host": s.host, "port": s.port, "http_port": s.http_port, "admin_port": s.admin_port,
        "base_url": s.base_url(), "http_base_url": f"http://{s.host}:{s.http_port}/",
        "admin_url": f"http://{s.host}:{s.admin_port}/_admin", "issuer": s.issuer(), "ca_file": s.ca_file,
        "tenant": next(iter(s.tenants)),
        "config": {k: v for k, v in s.effective_config.items()},
    }
    if not args.config:
        info["files"] = {"client_certificate": s.client_pem, "client_secret": s.client_secret_file}
        info["client_id"], info["oid"] = DEFAULT_CLIENT, DEFAULT_OID
        info["federated_subject"] = "system:serviceaccount:default:app"
    write_atomic(os.path.join(s.dir, "standin.json"), json.dumps(info, indent=2).encode(), 0o600)
    print(f"entra-standin: https {s.base_url()} http {info['http_base_url']} admin {info['admin_url']}",
          flush=True)

    def stop(*_):
        s.stopping.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    s.stopping.wait()
    for srv in list(s.servers) + [admin]:
        srv.shutdown()
        srv.server_close()


if __name__ == "__main__":
    main()
