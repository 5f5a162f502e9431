// jose.cpp -- JWS/JWT over OpenSSL 3 EVP; see jose.hpp.
#include "tokenwell/jose/jose.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <array>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>
#include <list>
#include <set>

namespace tw::jose {

void reject(int code, std::string detail) { throw Rejection{code, std::move(detail)}; }

namespace {

using json = nlohmann::json;

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter>;

// Wipes key material held in std::string before the memory is released.
struct WipedString {
  std::string bytes;
  ~WipedString() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

template <typename T>
T* check_alloc(T* p) {
  if (p == nullptr) reject(TOKENWELL_JWT_EINTERNAL);
  return p;
}

constexpr int kMinRsaBits = 2048;
// Verifying with a larger modulus costs too much for what it buys.
constexpr int kMaxRsaBits = 16384;
constexpr std::size_t kKidMax = 256;

bool is_hmac(Alg a) { return a == Alg::HS256 || a == Alg::HS384 || a == Alg::HS512; }
bool is_rsa(Alg a) {
  return a == Alg::RS256 || a == Alg::RS384 || a == Alg::RS512 || a == Alg::PS256 || a == Alg::PS384 ||
         a == Alg::PS512;
}
bool is_pss(Alg a) { return a == Alg::PS256 || a == Alg::PS384 || a == Alg::PS512; }
bool is_ecdsa(Alg a) { return a == Alg::ES256 || a == Alg::ES384 || a == Alg::ES512; }

// The hash of an algorithm (RFC 7518 3.1); EdDSA hashes internally.
const EVP_MD* digest_of(Alg a) {
  switch (a) {
    case Alg::HS256: case Alg::RS256: case Alg::PS256: case Alg::ES256: return EVP_sha256();
    case Alg::HS384: case Alg::RS384: case Alg::PS384: case Alg::ES384: return EVP_sha384();
    case Alg::HS512: case Alg::RS512: case Alg::PS512: case Alg::ES512: return EVP_sha512();
    case Alg::EdDSA: return nullptr;
  }
  return nullptr;
}

// The curve of each ECDSA algorithm (RFC 7518 3.4): JWK crv, OpenSSL group
// name, and the byte size of a coordinate and of r and s.
struct Curve {
  Alg alg;
  std::string_view crv;
  std::string_view group;  // as EVP_PKEY_get_utf8_string_param reports it
  int nid;
  std::size_t size;
};
constexpr Curve kCurves[] = {{Alg::ES256, "P-256", "prime256v1", NID_X9_62_prime256v1, 32},
                             {Alg::ES384, "P-384", "secp384r1", NID_secp384r1, 48},
                             {Alg::ES512, "P-521", "secp521r1", NID_secp521r1, 66}};
const Curve& curve_of(Alg a) {
  for (const Curve& c : kCurves)
    if (c.alg == a) return c;
  reject(TOKENWELL_JWT_EINTERNAL);
}

// The order n of a curve: ECDSA r and s lie in [1, n-1].
const BIGNUM* curve_order(const Curve& curve) {
  struct GroupDeleter {
    void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
  };
  static const std::array<std::unique_ptr<EC_GROUP, GroupDeleter>, 3> groups = {
      std::unique_ptr<EC_GROUP, GroupDeleter>(EC_GROUP_new_by_curve_name(kCurves[0].nid)),
      std::unique_ptr<EC_GROUP, GroupDeleter>(EC_GROUP_new_by_curve_name(kCurves[1].nid)),
      std::unique_ptr<EC_GROUP, GroupDeleter>(EC_GROUP_new_by_curve_name(kCurves[2].nid))};
  const EC_GROUP* group = groups[static_cast<std::size_t>(&curve - kCurves)].get();
  if (group == nullptr) reject(TOKENWELL_JWT_EINTERNAL);
  return EC_GROUP_get0_order(group);
}


enum class Digest { sign, verify };

// A digest context set up for `alg` with `pkey` (EdDSA hashes internally;
// PSxxx is RSASSA-PSS with SHA-xxx, MGF1-SHA-xxx and a digest-length salt).
MdCtxPtr digest_context(Alg alg, EVP_PKEY* pkey, Digest purpose) {
  MdCtxPtr ctx(check_alloc(EVP_MD_CTX_new()));
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = digest_of(alg);
  const int ok = purpose == Digest::sign ? EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, pkey)
                                         : EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pkey);
  if (ok != 1) reject(TOKENWELL_JWT_EINTERNAL);
  if (is_pss(alg) &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
    reject(TOKENWELL_JWT_EINTERNAL);
  return ctx;
}

}  // namespace

// ---- base64url --------------------------------------------------------------

std::string base64url_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) |
                            std::uint8_t(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint8_t(bytes[i]) << 16;
    if (rest == 2) v |= std::uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out = base64url_encode(bytes);
  for (char& c : out) c = c == '-' ? '+' : c == '_' ? '/' : c;
  out.append((4 - out.size() % 4) % 4, '=');
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  // A length of 1 mod 4 carries 6 bits: never a whole byte.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;  // '=', '+', '/', whitespace, anything else
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Canonical: the bits left over must be zero, or two texts decode alike.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

namespace {

std::string decode_member(const json& object, const char* name, int code) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) reject(code, std::string(name) + ": required, base64url");
  auto bytes = base64url_decode(it->get_ref<const std::string&>());
  if (!bytes) reject(code, std::string(name) + ": not canonical base64url");
  return std::move(*bytes);
}

std::optional<std::string> string_member(const json& object, const char* name, int code) {
  const auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  if (!it->is_string()) reject(code, std::string(name) + ": expected a string");
  return it->get<std::string>();
}

}  // namespace

// ---- strict JSON ------------------------------------------------------------

namespace {
struct TooDeep {};
}  // namespace

json parse_object(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) reject(TOKENWELL_JWT_ETOOLARGE);
  // RFC 8259 8.1: no byte order mark. nlohmann skips one silently, and a
  // parser that does not would read another document.
  if (text.starts_with("\xEF\xBB\xBF")) reject(TOKENWELL_JWT_EJSON, "JSON text starts with a byte order mark");
  // nlohmann keeps the last of duplicate members silently; a verifier and
  // another parser must never disagree on what a token says (RFC 8725 3.x).
  std::vector<std::set<std::string>> seen;
  bool duplicate = false;
  const auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= TOKENWELL_JWT_DEPTH_MAX) throw TooDeep{};
        if (event == json::parse_event_t::object_start) seen.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!seen.empty()) seen.pop_back();
        break;
      case json::parse_event_t::key:
        if (!seen.empty() && !seen.back().insert(parsed.get<std::string>()).second)
          duplicate = true;
        break;
      default:
        break;
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text.begin(), text.end(), callback);
  } catch (const TooDeep&) {
    reject(TOKENWELL_JWT_ETOOLARGE);
  } catch (const json::exception&) {
    reject(TOKENWELL_JWT_EJSON);
  }
  if (duplicate) reject(TOKENWELL_JWT_EDUPLICATE);
  if (!value.is_object()) reject(TOKENWELL_JWT_EJSON);
  return value;
}

// ---- algorithms -------------------------------------------------------------

Alg alg_from_name(std::string_view name) {
  for (const Alg a : kAlgorithms)
    if (name == alg_name(a)) return a;
  if (name == "Ed25519") return Alg::EdDSA;
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "none") reject(TOKENWELL_JWT_EALG_NONE, "alg: 'none' is never accepted");
  reject(TOKENWELL_JWT_EALG_UNKNOWN,
         "alg: '" + std::string(name.substr(0, 16)) + "' is not supported (" + supported_algorithms() + ")");
}

std::string_view alg_name(Alg alg) {
  switch (alg) {
    case Alg::HS256: return "HS256";
    case Alg::HS384: return "HS384";
    case Alg::HS512: return "HS512";
    case Alg::RS256: return "RS256";
    case Alg::RS384: return "RS384";
    case Alg::RS512: return "RS512";
    case Alg::PS256: return "PS256";
    case Alg::PS384: return "PS384";
    case Alg::PS512: return "PS512";
    case Alg::ES256: return "ES256";
    case Alg::ES384: return "ES384";
    case Alg::ES512: return "ES512";
    case Alg::EdDSA: return "EdDSA";
  }
  return "?";
}

std::string supported_algorithms() {
  std::string out;
  for (const Alg a : kAlgorithms) out += (out.empty() ? "" : ", ") + std::string(alg_name(a));
  return out;
}

// ---- keys -------------------------------------------------------------------

namespace {

// ROCA (CVE-2017-15361; Nemec et al., CCS 2017): Infineon RSALib primes are
// k * M + (65537^a mod M) with M a primorial, so n mod each small prime r
// lies in the subgroup 65537 generates mod r. The published detector tests
// the primes up to 167; a random modulus passes all of them with negligible
// probability.
bool has_roca_fingerprint(const BIGNUM* n) {
  static constexpr unsigned kPrimes[] = {3,  5,  7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,
                                         47, 53, 59,  61,  67,  71,  73,  79,  83,  89,  97,  101, 103,
                                         107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167};
  for (const unsigned r : kPrimes) {
    const BN_ULONG residue = BN_mod_word(n, r);
    if (residue == static_cast<BN_ULONG>(-1)) reject(TOKENWELL_JWT_EINTERNAL);
    const unsigned g = 65537 % r;
    unsigned x = 1;
    bool in_subgroup = false;
    do {
      if (x == residue) in_subgroup = true;
      x = x * g % r;
    } while (x != 1 && !in_subgroup);
    if (!in_subgroup) return false;
  }
  return true;
}

// What makes an RSA public key unusable, whatever it was read from: a
// modulus under 2048 bits or over 16384, an exponent that is even or under 3
// (with e = 1 every "signature" equal to its padding block verifies), and
// the ROCA fingerprint (the key is factorable).
void check_rsa_public(const EVP_PKEY* pkey) {
  const int bits = EVP_PKEY_get_bits(pkey);
  if (bits < kMinRsaBits)
    reject(TOKENWELL_JWT_EWEAK_KEY, "n: RSA key of " + std::to_string(bits) + " bits: at least 2048 required");
  if (bits > kMaxRsaBits) reject(TOKENWELL_JWT_EKEY, "n: RSA key larger than 16384 bits");
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &raw) != 1 || raw == nullptr) {
    ERR_clear_error();
    reject(TOKENWELL_JWT_EKEY, "e: missing");
  }
  const BnPtr e(raw);
  if (!BN_is_odd(e.get()) || BN_is_one(e.get()))
    reject(TOKENWELL_JWT_EWEAK_KEY, "e: the RSA public exponent must be odd and at least 3");
  raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &raw) != 1 || raw == nullptr) {
    ERR_clear_error();
    reject(TOKENWELL_JWT_EKEY, "n: missing");
  }
  const BnPtr n(raw);
  if (BN_cmp(e.get(), n.get()) >= 0) reject(TOKENWELL_JWT_EKEY, "e: not smaller than n");
  if (has_roca_fingerprint(n.get()))
    reject(TOKENWELL_JWT_EWEAK_KEY, "n: the modulus has the ROCA fingerprint (CVE-2017-15361): the key is factorable");
}

// The Ed25519 points of order 1, 2, 4 and 8, sign bit cleared (libsodium's
// blocklist; their non-canonical encodings y + p are listed too). With such a
// public key, or such an R, a signature can verify for any message: with
// A = R = identity and S = 0, [S]B = R + [k]A holds whatever k is.
bool is_small_order_point(std::string_view encoded) {
  static constexpr unsigned char kSmallOrder[][32] = {
      {0x01},  // identity (order 1)
      {0x00},  // order 4
      {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
       0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
      {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
       0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
      {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},  // p - 1 (order 2)
      {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},  // p = 0
      {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},  // p + 1 = 1
  };
  if (encoded.size() != 32) return false;
  for (const auto& point : kSmallOrder) {
    bool same = (static_cast<unsigned char>(encoded[31]) & 0x7f) == point[31];
    for (std::size_t i = 0; same && i < 31; ++i) same = static_cast<unsigned char>(encoded[i]) == point[i];
    if (same) return true;
  }
  return false;
}

// "use" and "key_ops" (RFC 7517 4.2, 4.3): when present they must allow one
// of `operations`: "verify" for a public key, "sign" for a signing key,
// either for a private key read for both (a key file, whose public half is
// published).
void check_key_use(const json& jwk, std::initializer_list<std::string_view> operations) {
  if (const auto use = jwk.find("use"); use != jwk.end()) {
    if (!use->is_string()) reject(TOKENWELL_JWT_EKEY, "use: expected a string");
    if (*use != "sig")
      reject(TOKENWELL_JWT_EKEY_USE, "use: '" + use->get<std::string>().substr(0, 16) + "' is not a signing key (\"sig\")");
  }
  const auto ops = jwk.find("key_ops");
  if (ops == jwk.end()) return;
  if (!ops->is_array()) reject(TOKENWELL_JWT_EKEY, "key_ops: expected an array of strings");
  std::set<std::string> seen;
  for (const json& op : *ops) {
    if (!op.is_string()) reject(TOKENWELL_JWT_EKEY, "key_ops: expected an array of strings");
    if (!seen.insert(op.get<std::string>()).second) reject(TOKENWELL_JWT_EKEY, "key_ops: a value appears twice");
  }
  std::string wanted;
  for (const std::string_view op : operations) {
    if (seen.contains(std::string(op))) return;
    wanted += (wanted.empty() ? "" : " or ") + std::string(op);
  }
  reject(TOKENWELL_JWT_EKEY_USE, "key_ops: does not allow " + wanted);
}

// Builds an EVP_PKEY of `type` ("RSA", "EC") from OSSL parameters.
class ParamBuilder {
 public:
  ParamBuilder() : bld_(check_alloc(OSSL_PARAM_BLD_new())) {}
  void bn(const char* name, std::string_view big_endian) {
    BnPtr b(check_alloc(BN_bin2bn(reinterpret_cast<const unsigned char*>(big_endian.data()),
                                  static_cast<int>(big_endian.size()), nullptr)));
    if (!OSSL_PARAM_BLD_push_BN(bld_.get(), name, b.get())) reject(TOKENWELL_JWT_EINTERNAL);
    bns_.push_back(std::move(b));  // must outlive to_param()
  }
  void utf8(const char* name, const char* value) {
    if (!OSSL_PARAM_BLD_push_utf8_string(bld_.get(), name, value, 0))
      reject(TOKENWELL_JWT_EINTERNAL);
  }
  void octets(const char* name, std::string value) {
    // The builder keeps a pointer, not a copy, until to_param().
    const std::string& kept = octets_.emplace_back(std::move(value));
    if (!OSSL_PARAM_BLD_push_octet_string(bld_.get(), name, kept.data(), kept.size()))
      reject(TOKENWELL_JWT_EINTERNAL);
  }
  PkeyPtr build(const char* type, bool is_private) {
    std::unique_ptr<OSSL_PARAM, ParamDeleter> params(check_alloc(OSSL_PARAM_BLD_to_param(bld_.get())));
    PkeyCtxPtr ctx(check_alloc(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr)));
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &raw,
                          is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
      reject(TOKENWELL_JWT_EKEY);
    // Decoding an EC point checks it is on the curve (the NIST curves have cofactor 1,
    // so that suffices). EVP_PKEY_public_check is not called: for RSA it runs
    // a primality test of n, milliseconds per key on every verify.
    return PkeyPtr(raw);
  }

 private:
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter> bld_;
  std::vector<BnPtr> bns_;
  std::list<std::string> octets_;
};

bool has(const json& object, const char* name) { return object.contains(name); }

}  // namespace

Key Key::from_json(const json& jwk, bool need_private) {
  if (!jwk.is_object()) reject(TOKENWELL_JWT_EKEY, std::string("expected a JWK object, got ") + jwk.type_name());
  const auto kty = string_member(jwk, "kty", TOKENWELL_JWT_EKEY);
  if (!kty) reject(TOKENWELL_JWT_EKEY, "kty: required");
  Key key;
  key.kid_ = string_member(jwk, "kid", TOKENWELL_JWT_EKEY);
  if (key.kid_ && key.kid_->size() > kKidMax) reject(TOKENWELL_JWT_EKEY, "kid: longer than 256 characters");
  if (need_private)
    check_key_use(jwk, {"sign"});
  else if (has(jwk, "d"))
    check_key_use(jwk, {"sign", "verify"});
  else
    check_key_use(jwk, {"verify"});
  const auto alg_member = string_member(jwk, "alg", TOKENWELL_JWT_EKEY);
  const auto crv = string_member(jwk, "crv", TOKENWELL_JWT_EKEY);
  std::optional<Alg> alg;
  if (alg_member) alg = alg_from_name(*alg_member);  // "none" or unknown: refused
  const bool is_private = has(jwk, "d");
  if (need_private && !is_private && *kty != "oct") reject(TOKENWELL_JWT_EKEY, "d: required in a private key");
  const auto alg_text = [&] { return "alg: '" + alg_member.value_or("") + "'"; };

  if (*kty == "RSA") {
    if (!alg) alg = Alg::RS256;
    if (!is_rsa(*alg))
      reject(TOKENWELL_JWT_EALG_KEY, alg_text() + " is not an RSA signature algorithm");
    const std::string n = decode_member(jwk, "n", TOKENWELL_JWT_EKEY);
    const std::size_t n_bits = 8 * (n.size() - std::min(n.size(), n.find_first_not_of('\0')));
    if (n_bits < static_cast<std::size_t>(kMinRsaBits))
      reject(TOKENWELL_JWT_EWEAK_KEY, "n: RSA key of " + std::to_string(n_bits) + " bits: at least 2048 required");
    if (n_bits > static_cast<std::size_t>(kMaxRsaBits)) reject(TOKENWELL_JWT_EKEY, "n: RSA key larger than 16384 bits");
    ParamBuilder b;
    b.bn(OSSL_PKEY_PARAM_RSA_N, n);
    b.bn(OSSL_PKEY_PARAM_RSA_E, decode_member(jwk, "e", TOKENWELL_JWT_EKEY));
    if (is_private) {
      WipedString d{decode_member(jwk, "d", TOKENWELL_JWT_EKEY)};
      b.bn(OSSL_PKEY_PARAM_RSA_D, d.bytes);
      // The CRT members are optional in a JWK, but all or none.
      if (has(jwk, "p")) {
        static constexpr std::array<std::pair<const char*, const char*>, 5> kCrt = {{
            {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
            {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
            {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
            {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
            {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
        }};
        for (const auto& [member, param] : kCrt) {
          WipedString v{decode_member(jwk, member, TOKENWELL_JWT_EKEY)};
          b.bn(param, v.bytes);
        }
      }
    }
    key.pkey_ = b.build("RSA", is_private);
    check_rsa_public(key.pkey_.get());
  } else if (*kty == "EC") {
    const Curve* curve = nullptr;
    for (const Curve& c : kCurves)
      if (crv && *crv == c.crv) curve = &c;
    if (curve == nullptr)
      reject(TOKENWELL_JWT_EKEY, "crv: '" + crv.value_or("").substr(0, 16) + "' is not P-256, P-384 or P-521");
    if (!alg) alg = curve->alg;
    if (*alg != curve->alg)
      reject(TOKENWELL_JWT_EALG_KEY, alg_text() + " does not match curve " + std::string(curve->crv));
    const std::string x = decode_member(jwk, "x", TOKENWELL_JWT_EKEY);
    const std::string y = decode_member(jwk, "y", TOKENWELL_JWT_EKEY);
    // RFC 7518 6.2.1.2: coordinates are the full field size, never shortened.
    const std::string size = std::to_string(curve->size) + " bytes base64url";
    if (x.size() != curve->size) reject(TOKENWELL_JWT_EKEY, "x: required, " + size);
    if (y.size() != curve->size) reject(TOKENWELL_JWT_EKEY, "y: required, " + size);
    ParamBuilder b;
    b.utf8(OSSL_PKEY_PARAM_GROUP_NAME, curve->crv.data());  // a literal: NUL-terminated, kept
    b.octets(OSSL_PKEY_PARAM_PUB_KEY, std::string(1, '\x04') + x + y);
    if (is_private) {
      WipedString d{decode_member(jwk, "d", TOKENWELL_JWT_EKEY)};
      if (d.bytes.size() != curve->size) reject(TOKENWELL_JWT_EKEY, "d: wrong length for the curve");
      b.bn(OSSL_PKEY_PARAM_PRIV_KEY, d.bytes);
    }
    key.pkey_ = b.build("EC", is_private);
  } else if (*kty == "OKP") {
    if (!crv || *crv != "Ed25519") reject(TOKENWELL_JWT_EKEY, "crv: '" + crv.value_or("").substr(0, 16) + "' is not Ed25519");
    if (!alg) alg = Alg::EdDSA;
    if (*alg != Alg::EdDSA) reject(TOKENWELL_JWT_EALG_KEY, alg_text() + " does not match an Ed25519 key");
    const std::string x = decode_member(jwk, "x", TOKENWELL_JWT_EKEY);
    if (x.size() != 32) reject(TOKENWELL_JWT_EKEY, "x: required, 32 bytes base64url");
    if (is_small_order_point(x)) reject(TOKENWELL_JWT_EWEAK_KEY, "x: a point of small order is no public key");
    EVP_PKEY* raw = nullptr;
    if (is_private) {
      WipedString d{decode_member(jwk, "d", TOKENWELL_JWT_EKEY)};
      if (d.bytes.size() != 32) reject(TOKENWELL_JWT_EKEY, "d: expected 32 bytes");
      raw = EVP_PKEY_new_raw_private_key(
          EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(d.bytes.data()), 32);
      if (raw == nullptr) reject(TOKENWELL_JWT_EKEY, "d: not an Ed25519 private key");
      key.pkey_.reset(raw);
      // A "d" that does not belong to "x" would sign tokens nobody verifies.
      unsigned char pub[32];
      std::size_t pub_len = sizeof pub;
      if (EVP_PKEY_get_raw_public_key(raw, pub, &pub_len) != 1 || pub_len != 32 ||
          CRYPTO_memcmp(pub, x.data(), 32) != 0)
        reject(TOKENWELL_JWT_EKEY, "d: does not belong to x");
    } else {
      raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                        reinterpret_cast<const unsigned char*>(x.data()), 32);
      if (raw == nullptr) reject(TOKENWELL_JWT_EKEY, "x: not an Ed25519 public key");
      key.pkey_.reset(raw);
    }
  } else if (*kty == "oct") {
    if (!alg) alg = Alg::HS256;
    if (!is_hmac(*alg)) reject(TOKENWELL_JWT_EALG_KEY, alg_text() + " does not match a symmetric key");
    key.secret_ = decode_member(jwk, "k", TOKENWELL_JWT_EKEY);
    // RFC 7518 3.2: a key at least as long as the hash output.
    const std::size_t min_bytes = static_cast<std::size_t>(EVP_MD_get_size(digest_of(*alg)));
    if (key.secret_.size() < min_bytes) {
      OPENSSL_cleanse(key.secret_.data(), key.secret_.size());
      reject(TOKENWELL_JWT_EWEAK_KEY, "k: HMAC key under " + std::to_string(8 * min_bytes) + " bits for " +
                                          std::string(alg_name(*alg)));
    }
  } else {
    reject(TOKENWELL_JWT_EKEY, "kty: unsupported key type '" + kty->substr(0, 16) + "'");
  }
  key.alg_ = *alg;
  return key;
}

Key Key::parse_private(std::string_view jwk_json) {
  json jwk;
  try {
    jwk = parse_object(jwk_json);
  } catch (const Rejection& r) {
    // The text of a private key is not the caller's token: say "bad key".
    reject(r.code == TOKENWELL_JWT_ETOOLARGE ? r.code : TOKENWELL_JWT_EKEY);
  }
  Key key = from_json(jwk, /*need_private=*/true);
  for (auto& [name, value] : jwk.items()) {
    if (!value.is_string()) continue;
    auto& text = value.get_ref<std::string&>();
    OPENSSL_cleanse(text.data(), text.size());
  }
  return key;
}

std::string Key::sign(std::string_view input) const {
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (symmetric()) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(digest_of(alg_), secret_.data(), static_cast<int>(secret_.size()), data, input.size(),
             mac, &mac_len) == nullptr)
      reject(TOKENWELL_JWT_EINTERNAL);
    return std::string(reinterpret_cast<char*>(mac), mac_len);
  }
  const MdCtxPtr ctx = digest_context(alg_, pkey_.get(), Digest::sign);
  std::size_t sig_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &sig_len, data, input.size()) != 1)
    reject(TOKENWELL_JWT_EINTERNAL);
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len, data,
                     input.size()) != 1)
    reject(TOKENWELL_JWT_EINTERNAL);
  sig.resize(sig_len);
  if (!is_ecdsa(alg_)) return sig;
  // JWS carries R || S, each the curve's size big-endian (RFC 7518 3.4), not DER.
  const int half = static_cast<int>(curve_of(alg_).size);
  const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
  EcdsaSigPtr parsed(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size())));
  if (!parsed) reject(TOKENWELL_JWT_EINTERNAL);
  std::string raw(2 * static_cast<std::size_t>(half), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), out, half) != half ||
      BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), out + half, half) != half)
    reject(TOKENWELL_JWT_EINTERNAL);
  return raw;
}

void Key::verify(std::string_view input, std::string_view signature) const {
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (symmetric()) {
    const std::string expected = sign(input);
    if (signature.size() != expected.size()) reject(TOKENWELL_JWT_ESIG_FORMAT);
    if (CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0)
      reject(TOKENWELL_JWT_ESIGNATURE);
    return;
  }
  std::string der;
  std::string_view to_check = signature;
  if (is_rsa(alg_) && signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey_.get())))
    reject(TOKENWELL_JWT_ESIG_FORMAT);
  switch (alg_) {
    case Alg::EdDSA:
      if (signature.size() != 64) reject(TOKENWELL_JWT_ESIG_FORMAT);
      if (is_small_order_point(signature.substr(0, 32))) reject(TOKENWELL_JWT_ESIGNATURE);
      break;
    case Alg::ES256:
    case Alg::ES384:
    case Alg::ES512: {
      const Curve& curve = curve_of(alg_);
      const int half = static_cast<int>(curve.size);
      if (signature.size() != 2 * curve.size) reject(TOKENWELL_JWT_ESIG_FORMAT);
      const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
      BnPtr r(check_alloc(BN_bin2bn(raw, half, nullptr)));
      BnPtr s(check_alloc(BN_bin2bn(raw + half, half, nullptr)));
      const BIGNUM* order = curve_order(curve);
      // r = s = 0 verified in some implementations (CVE-2022-21449).
      if (BN_is_zero(r.get()) || BN_is_zero(s.get()) || BN_cmp(r.get(), order) >= 0 ||
          BN_cmp(s.get(), order) >= 0)
        reject(TOKENWELL_JWT_ESIG_FORMAT);
      EcdsaSigPtr sig(check_alloc(ECDSA_SIG_new()));
      if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) reject(TOKENWELL_JWT_EINTERNAL);
      (void)r.release();  // owned by sig now
      (void)s.release();
      unsigned char* out = nullptr;
      const int n = i2d_ECDSA_SIG(sig.get(), &out);
      if (n <= 0) reject(TOKENWELL_JWT_EINTERNAL);
      der.assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
      OPENSSL_free(out);
      to_check = der;
      break;
    }
    default:
      break;
  }
  const MdCtxPtr ctx = digest_context(alg_, pkey_.get(), Digest::verify);
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(to_check.data()),
                       to_check.size(), data, input.size()) != 1)
    reject(TOKENWELL_JWT_ESIGNATURE);
}

// ---- keys: making and exporting -------------------------------------------

namespace {

// A big-number parameter of `key` as big-endian bytes, left-padded to `width`
// (0: its natural length); empty when the key has none.
WipedString bn_param(const EVP_PKEY* key, const char* name, std::size_t width = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1 || raw == nullptr) {
    ERR_clear_error();
    return {};
  }
  BnPtr bn(raw);
  const std::size_t n = width ? width : static_cast<std::size_t>(BN_num_bytes(bn.get()));
  WipedString out{std::string(n, '\0')};
  BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.bytes.data()), static_cast<int>(n));
  return out;
}

std::string b64(const WipedString& bytes) { return base64url_encode(bytes.bytes); }

// The curve of an EC key; EKEY for curves other than P-256, P-384, P-521.
const Curve& curve_of_key(const EVP_PKEY* pkey) {
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) == 1)
    for (const Curve& c : kCurves)
      if (std::string_view(group) == c.group) return c;
  ERR_clear_error();
  reject(TOKENWELL_JWT_EKEY, std::string("EC key on curve '") + group + "': only P-256, P-384 and P-521 are supported");
}

// The members of `key` (public, or all of them): the one serialization of a
// key, whether it was made here, read from PEM or parsed from a JWK.
json key_members(const EVP_PKEY* key, bool with_private) {
  json m;
  if (EVP_PKEY_is_a(key, "RSA")) {
    m = {{"kty", "RSA"}, {"n", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_N))},
         {"e", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_E))}};
    if (with_private) {
      m["d"] = b64(bn_param(key, OSSL_PKEY_PARAM_RSA_D));
      const WipedString p = bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR1);
      if (!p.bytes.empty()) {
        m["p"] = b64(p);
        m["q"] = b64(bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR2));
        m["dp"] = b64(bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT1));
        m["dq"] = b64(bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT2));
        m["qi"] = b64(bn_param(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1));
      }
    }
  } else if (EVP_PKEY_is_a(key, "EC")) {
    const Curve& curve = curve_of_key(key);
    m = {{"kty", "EC"}, {"crv", curve.crv}, {"x", b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, curve.size))},
         {"y", b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, curve.size))}};
    if (with_private) m["d"] = b64(bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, curve.size));
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    WipedString x{std::string(32, '\0')};
    std::size_t n = 32;
    if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(x.bytes.data()), &n) != 1)
      reject(TOKENWELL_JWT_EINTERNAL);
    m = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64(x)}};
    if (with_private) {
      WipedString d{std::string(32, '\0')};
      n = 32;
      if (EVP_PKEY_get_raw_private_key(key, reinterpret_cast<unsigned char*>(d.bytes.data()), &n) != 1)
        reject(TOKENWELL_JWT_EINTERNAL);
      m["d"] = b64(d);
    }
  } else {
    reject(TOKENWELL_JWT_EKEY, "unsupported key type (expected an RSA, EC or Ed25519 key)");
  }
  return m;
}

void wipe_strings(json& j) {
  for (auto& [name, value] : j.items()) {
    if (!value.is_string()) continue;
    auto& text = value.get_ref<std::string&>();
    OPENSSL_cleanse(text.data(), text.size());
  }
}

// The algorithm a key's type implies, and that the type allows `alg`.
Alg checked_alg(const EVP_PKEY* pkey, std::optional<Alg> wanted) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    check_rsa_public(pkey);
    if (wanted && !is_rsa(*wanted)) reject(TOKENWELL_JWT_EALG_KEY);
    return wanted.value_or(Alg::RS256);
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    const Curve& curve = curve_of_key(pkey);
    if (wanted && *wanted != curve.alg) reject(TOKENWELL_JWT_EALG_KEY);
    return curve.alg;
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) {
    unsigned char x[32];
    std::size_t len = sizeof x;
    if (EVP_PKEY_get_raw_public_key(pkey, x, &len) != 1 || len != 32) reject(TOKENWELL_JWT_EKEY);
    if (is_small_order_point(std::string_view(reinterpret_cast<char*>(x), 32)))
      reject(TOKENWELL_JWT_EWEAK_KEY, "a point of small order is no public key");
    if (wanted && *wanted != Alg::EdDSA) reject(TOKENWELL_JWT_EALG_KEY);
    return Alg::EdDSA;
  }
  reject(TOKENWELL_JWT_EKEY, "unsupported key type (expected an RSA, EC or Ed25519 key)");
}

}  // namespace

bool Key::has_private() const {
  if (symmetric()) return !secret_.empty();
  return !bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_D).bytes.empty() ||
         !bn_param(pkey_.get(), OSSL_PKEY_PARAM_PRIV_KEY).bytes.empty() ||
         (EVP_PKEY_is_a(pkey_.get(), "ED25519") && [&] {
           unsigned char d[32];
           std::size_t n = sizeof d;
           const bool ok = EVP_PKEY_get_raw_private_key(pkey_.get(), d, &n) == 1;
           OPENSSL_cleanse(d, sizeof d);
           ERR_clear_error();
           return ok;
         }());
}

Key Key::from_pkey(EVP_PKEY* pkey, Alg alg, std::optional<std::string> kid) {
  Key key;
  key.alg_ = checked_alg(pkey, alg);
  if (EVP_PKEY_up_ref(pkey) != 1) reject(TOKENWELL_JWT_EINTERNAL);
  key.pkey_.reset(pkey);
  key.kid_ = std::move(kid);
  return key;
}

Key Key::generate(Alg alg) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Alg::ES256:
    case Alg::ES384:
    case Alg::ES512:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve_of(alg).crv.data());
      break;
    case Alg::RS256: case Alg::RS384: case Alg::RS512:
    case Alg::PS256: case Alg::PS384: case Alg::PS512:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
      break;
    case Alg::EdDSA: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case Alg::HS256:
    case Alg::HS384:
    case Alg::HS512: reject(TOKENWELL_EINVAL, "HMAC keys are not generated here");
  }
  if (raw == nullptr) {
    ERR_clear_error();
    reject(TOKENWELL_JWT_EINTERNAL, "cannot generate a " + std::string(alg_name(alg)) + " key");
  }
  PkeyPtr owned(raw);
  return from_pkey(raw, alg);
}

Key Key::from_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) reject(TOKENWELL_ENOMEM);
  PkeyPtr pkey;
  // Never prompt for a pass phrase: encrypted keys are refused.
  auto no_password = [](char*, int, int, void*) { return -1; };
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos)
    pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  else if (pem.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos)
    pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr));
  else
    reject(TOKENWELL_JWT_EKEY, "no PEM private key or public key in it");
  ERR_clear_error();
  if (!pkey) reject(TOKENWELL_JWT_EKEY, "the PEM key does not parse (encrypted keys are not supported)");
  return from_pkey(pkey.get(), checked_alg(pkey.get(), std::nullopt));
}

json Key::public_jwk() const {
  if (symmetric()) reject(TOKENWELL_JWT_EKEY, "kty: symmetric keys (oct) cannot be published in a public JWKS");
  json pub = key_members(pkey_.get(), false);
  if (kid_) pub["kid"] = *kid_;
  pub["alg"] = alg_name(alg_);
  pub["use"] = "sig";
  return pub;
}

std::string Key::private_jwk_json() const {
  if (symmetric()) reject(TOKENWELL_JWT_EKEY, "kty: symmetric keys (oct) cannot be published in a public JWKS");
  json priv = key_members(pkey_.get(), true);
  if (kid_) priv["kid"] = *kid_;
  priv["alg"] = alg_name(alg_);
  priv["use"] = "sig";
  std::string text = priv.dump();
  wipe_strings(priv);
  return text;
}

Key Key::with_kid(std::string kid) const {
  Key key;
  key.alg_ = alg_;
  key.kid_ = std::move(kid);
  if (pkey_) {
    if (EVP_PKEY_up_ref(pkey_.get()) != 1) reject(TOKENWELL_JWT_EINTERNAL);
    key.pkey_.reset(pkey_.get());
  }
  key.secret_ = secret_;
  return key;
}

std::string thumbprint(const json& public_jwk) {
  // nlohmann::json objects keep their members sorted, as RFC 7638 requires.
  static const char* const rsa[] = {"e", "kty", "n", nullptr};
  static const char* const ec[] = {"crv", "kty", "x", "y", nullptr};
  static const char* const okp[] = {"crv", "kty", "x", nullptr};
  const auto kty = public_jwk.find("kty");
  const std::string type = kty != public_jwk.end() && kty->is_string() ? kty->get<std::string>() : "";
  const char* const* members = type == "RSA" ? rsa : type == "EC" ? ec : okp;
  json required = json::object();
  for (auto m = members; *m; ++m)
    if (public_jwk.contains(*m)) required[*m] = public_jwk[*m];
  const std::string text = required.dump();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) != 1) reject(TOKENWELL_JWT_EINTERNAL);
  return base64url_encode(std::string_view(reinterpret_cast<char*>(digest), len));
}

// ---- key sets ---------------------------------------------------------------

KeySet KeySet::parse(std::string_view jwks_json) {
  const json doc = parse_object(jwks_json);
  KeySet set;
  std::set<std::string> kids;
  bool symmetric = false, asymmetric = false;
  const auto add_one = [&](const json& jwk) {
    Entry entry{std::nullopt, 0, std::nullopt};
    if (jwk.is_object()) {
      const auto kid = jwk.find("kid");
      if (kid != jwk.end() && kid->is_string()) {
        entry.kid = kid->get<std::string>();
        // Which key a kid names must not depend on the verifier (RFC 7517 4.5).
        if (!kids.insert(*entry.kid).second)
          reject(TOKENWELL_JWT_EKID_DUPLICATE, "kid: '" + entry.kid->substr(0, 64) + "' names two keys");
      }
      const auto kty = jwk.find("kty");
      if (kty == jwk.end() || !kty->is_string()) return;  // not a key at all
      const std::string& t = kty->get_ref<const std::string&>();
      if (t != "RSA" && t != "EC" && t != "OKP" && t != "oct") return;  // unknown kty: skip
      (t == "oct" ? symmetric : asymmetric) = true;
    } else {
      return;
    }
    try {
      entry.key = Key::from_json(jwk, false);
    } catch (const Rejection& r) {
      entry.status = r.code == TOKENWELL_JWT_EINTERNAL ? TOKENWELL_JWT_EINTERNAL : r.code;
    }
    set.entries_.push_back(std::move(entry));
  };
  if (const auto keys = doc.find("keys"); keys != doc.end()) {
    if (!keys->is_array()) reject(TOKENWELL_JWT_EKEY);
    for (const json& jwk : *keys) add_one(jwk);
  } else if (doc.contains("kty")) {
    add_one(doc);
  } else {
    reject(TOKENWELL_JWT_EKEY);
  }
  // A secret key beside public ones: a JWKS meant to be public that leaks a
  // secret, or one whose kid could switch a token between HMAC and a
  // signature (Wycheproof's MixedKeySet).
  if (symmetric && asymmetric) reject(TOKENWELL_JWT_EKEY, "the keyset mixes symmetric (oct) and asymmetric keys");
  return set;
}

std::vector<const Key*> KeySet::candidates(const std::optional<std::string>& kid, Alg alg) const {
  std::vector<const Entry*> named;
  if (kid) {
    for (const Entry& e : entries_)
      if (e.kid == kid) named.push_back(&e);
    if (named.empty()) reject(TOKENWELL_JWT_EKID_UNKNOWN);
  } else {
    // Without a kid, trying every key would let the token choose; only a
    // keyset of exactly one key is unambiguous.
    if (entries_.empty()) reject(TOKENWELL_JWT_EKEY);
    // Keys for other uses (encryption) do not make the choice ambiguous.
    for (const Entry& e : entries_)
      if (e.status != TOKENWELL_JWT_EKEY_USE) named.push_back(&e);
    if (named.empty()) named.push_back(&entries_.front());
    if (named.size() > 1) reject(TOKENWELL_JWT_EKID_MISSING);
  }
  std::vector<const Key*> out;
  int status = 0;
  for (const Entry* e : named) {
    if (!e->key) {
      if (status == 0) status = e->status;
      continue;
    }
    if (e->key->alg() == alg) out.push_back(&*e->key);
  }
  if (out.empty()) reject(status != 0 && status != TOKENWELL_JWT_EALG_KEY ? status
                                                                         : TOKENWELL_JWT_EALG_KEY);
  return out;
}

// ---- JWS and JWT ------------------------------------------------------------

std::int64_t real_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string verify_jws(const KeySet& keys, std::string_view token) {
  if (token.size() > TOKENWELL_JWT_TOKEN_MAX) reject(TOKENWELL_JWT_ETOOLARGE);
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  // An empty payload is a JWS (RFC 7515 allows it); verify_jwt refuses it.
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos || dot1 == 0)
    reject(TOKENWELL_JWT_EMALFORMED);  // JWE (5 parts), JSON serialization
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);

  const auto header_text = base64url_decode(header_b64);
  if (!header_text) reject(TOKENWELL_JWT_EBASE64);
  const json header = parse_object(*header_text);

  const auto alg_it = header.find("alg");
  if (alg_it == header.end() || !alg_it->is_string()) reject(TOKENWELL_JWT_EALG_UNKNOWN);
  const Alg alg = alg_from_name(alg_it->get_ref<const std::string&>());
  // Header members that choose or carry the key: the verifier decides.
  if (header.contains("jwk") || header.contains("x5c")) reject(TOKENWELL_JWT_EEMBEDDED_KEY);
  if (header.contains("jku") || header.contains("x5u")) reject(TOKENWELL_JWT_EKEY_URL);
  // No extension is understood, so any "crit" names one we do not know.
  if (header.contains("crit")) reject(TOKENWELL_JWT_ECRIT);
  std::optional<std::string> kid;
  if (const auto it = header.find("kid"); it != header.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().size() > kKidMax)
      reject(TOKENWELL_JWT_EKID_UNKNOWN);
    kid = it->get<std::string>();
  }

  auto payload = base64url_decode(payload_b64);
  const auto signature = base64url_decode(signature_b64);
  if (!payload || !signature) reject(TOKENWELL_JWT_EBASE64);

  const std::vector<const Key*> candidates = keys.candidates(kid, alg);
  const std::string_view signing_input = token.substr(0, dot2);
  int last = TOKENWELL_JWT_ESIGNATURE;
  for (const Key* key : candidates) {
    try {
      key->verify(signing_input, *signature);
      return std::move(*payload);
    } catch (const Rejection& r) {
      last = r.code;
    }
  }
  reject(last);
}

namespace {

// A NumericDate claim (RFC 7519 2): a JSON number, fractions rounded down.
std::optional<std::int64_t> numeric_date(const json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::numeric_limits<std::int64_t>::max();
    return it->get<std::int64_t>();
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (!std::isfinite(v)) reject(TOKENWELL_JWT_ECLAIM_TYPE);
    if (v >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
    if (v <= -9.2e18) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(std::floor(v));
  }
  reject(TOKENWELL_JWT_ECLAIM_TYPE);
}

// a + b without overflow (clamped), for times near the int64 limits.
std::int64_t add_clamped(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

}  // namespace

std::string verify_jwt(const KeySet& keys, std::string_view token, const VerifyOptions& options) {
  std::string payload = verify_jws(keys, token);
  // Checked after the signature: a JWS without payload carries no claims.
  if (payload.empty()) reject(TOKENWELL_JWT_EMALFORMED, "empty payload: not a JWT");
  const json claims = parse_object(payload);
  const std::int64_t now = options.now != 0 ? options.now : real_now();
  const std::int64_t leeway = options.leeway < 0 ? TOKENWELL_JWT_DEFAULT_LEEWAY : options.leeway;

  const auto exp = numeric_date(claims, "exp");
  const auto nbf = numeric_date(claims, "nbf");
  const auto iat = numeric_date(claims, "iat");
  if (!exp) reject(TOKENWELL_JWT_EEXP_MISSING);
  if (now >= add_clamped(*exp, leeway)) reject(TOKENWELL_JWT_EEXPIRED);
  if (nbf && add_clamped(now, leeway) < *nbf) reject(TOKENWELL_JWT_ENOT_YET_VALID);
  if (iat && add_clamped(now, leeway) < *iat) reject(TOKENWELL_JWT_EIAT_FUTURE);

  if (options.issuer != nullptr) {
    const auto it = claims.find("iss");
    if (it != claims.end() && !it->is_string()) reject(TOKENWELL_JWT_ECLAIM_TYPE);
    if (it == claims.end() || *it != options.issuer) reject(TOKENWELL_JWT_EISSUER);
  }
  if (options.audience != nullptr) {
    const auto it = claims.find("aud");
    if (it == claims.end()) reject(TOKENWELL_JWT_EAUDIENCE);
    bool found = false;
    if (it->is_string()) {
      found = *it == options.audience;
    } else if (it->is_array()) {
      for (const json& a : *it) {
        if (!a.is_string()) reject(TOKENWELL_JWT_ECLAIM_TYPE);
        found = found || a == options.audience;
      }
    } else {
      reject(TOKENWELL_JWT_ECLAIM_TYPE);
    }
    if (!found) reject(TOKENWELL_JWT_EAUDIENCE);
  }
  return payload;
}

std::string sign_jws(const Key& key, nlohmann::ordered_json header, std::string_view payload) {
  header["alg"] = alg_name(key.alg());
  if (key.kid() && !header.contains("kid")) header["kid"] = *key.kid();
  std::string input = base64url_encode(header.dump()) + '.' + base64url_encode(payload);
  const std::string signature = key.sign(input);
  input += '.';
  input += base64url_encode(signature);
  return input;
}

std::string sign_jwt(const Key& key, std::string_view claims_json, std::int64_t ttl_seconds,
                     std::int64_t now) {
  nlohmann::ordered_json claims;
  {
    // Duplicates and depth are refused here too: what we sign, we would verify.
    (void)parse_object(claims_json);
    claims = nlohmann::ordered_json::parse(claims_json.begin(), claims_json.end());
  }
  if (!claims.contains("iat")) claims["iat"] = now;
  if (!claims.contains("exp")) {
    if (ttl_seconds <= 0) reject(TOKENWELL_EINVAL);
    claims["exp"] = add_clamped(now, ttl_seconds);
  }
  nlohmann::ordered_json header;
  header["alg"] = alg_name(key.alg());
  if (key.kid()) header["kid"] = *key.kid();
  header["typ"] = "JWT";
  std::string token = sign_jws(key, std::move(header), claims.dump());
  if (token.size() > TOKENWELL_JWT_TOKEN_MAX) reject(TOKENWELL_JWT_ETOOLARGE);
  return token;
}

// ---- reading claims without verifying ---------------------------------------

std::optional<std::string> JwtPayload::string_claim(std::string_view name) const {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty()) return std::nullopt;
  return s;
}

namespace {

json decode_object(std::string_view part, const char* what, std::size_t max_json) {
  const auto bytes = base64url_decode(part);
  if (!bytes) reject(TOKENWELL_JWT_EBASE64, std::string(what) + " is not base64url");
  if (!json::accept(*bytes)) reject(TOKENWELL_JWT_EJSON, std::string(what) + " is not JSON");
  try {
    return parse_object(*bytes, max_json);
  } catch (const Rejection& r) {
    if (r.code == TOKENWELL_JWT_EDUPLICATE) reject(r.code, std::string(what) + " has a member twice");
    if (r.code == TOKENWELL_JWT_ETOOLARGE) reject(r.code, std::string(what) + " is too large or too deeply nested");
    reject(r.code, std::string(what) + " is not a JSON object");
  }
}

// A NumericDate that must be a number in range (an IdP's token is refused
// rather than read with a clamped date).
std::optional<std::int64_t> strict_numeric_date(const json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (!it->is_number())
    reject(TOKENWELL_JWT_ECLAIM_TYPE, std::string("claim '") + name + "' must be a number, not " + it->type_name());
  const bool in_range = it->is_number_integer()
                            ? !(it->is_number_unsigned() && it->get<std::uint64_t>() >
                                                               static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                            : std::isfinite(it->get<double>()) && std::fabs(it->get<double>()) <= 9.0e15;
  if (!in_range) reject(TOKENWELL_JWT_ECLAIM_TYPE, std::string("claim '") + name + "' is out of range");
  return numeric_date(claims, name);
}

}  // namespace

JwtPayload parse_jwt_payload(std::string_view compact, PayloadLimits limits) {
  if (compact.empty()) reject(TOKENWELL_JWT_EMALFORMED, "token is empty");
  if (compact.size() > limits.max_token_bytes)
    reject(TOKENWELL_JWT_ETOOLARGE, "token is larger than " + std::to_string(limits.max_token_bytes) + " bytes");
  const auto dot1 = compact.find('.');
  if (dot1 == std::string_view::npos) reject(TOKENWELL_JWT_EMALFORMED, "token is not a JWT (no '.')");
  const auto dot2 = compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) reject(TOKENWELL_JWT_EMALFORMED, "token is not a JWT (2 parts, expected 3)");
  if (compact.find('.', dot2 + 1) != std::string_view::npos)
    reject(TOKENWELL_JWT_EMALFORMED,
           "token is not a signed JWT (more than 3 parts; encrypted tokens are not supported)");
  JwtPayload out;
  out.header = decode_object(compact.substr(0, dot1), "JWT header", limits.max_json_bytes);
  const auto alg = out.header.find("alg");
  if (alg == out.header.end() || !alg->is_string()) reject(TOKENWELL_JWT_EALG_UNKNOWN, "JWT header has no 'alg'");
  out.claims = decode_object(compact.substr(dot1 + 1, dot2 - dot1 - 1), "JWT payload", limits.max_json_bytes);
  out.exp = strict_numeric_date(out.claims, "exp");
  out.nbf = strict_numeric_date(out.claims, "nbf");
  out.iat = strict_numeric_date(out.claims, "iat");
  return out;
}

}  // namespace tw::jose
