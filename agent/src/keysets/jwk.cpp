// jwk.cpp -- see jwk.hpp.
#include "tokenwell/agent/keysets/jwk.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "tokenwell/agent/common/jwt.hpp"

namespace tw {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxDocumentBytes = 256 * 1024;
constexpr std::size_t kMaxKeys = 100;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A big-number parameter of `key` as big-endian bytes, left-padded to `width`
// (0: its natural length).
std::string bn_param(const EVP_PKEY* key, const char* name, std::size_t width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1 || bn == nullptr) return {};
  const std::size_t n = width ? width : static_cast<std::size_t>(BN_num_bytes(bn));
  std::string out(n, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  BN_clear_free(bn);
  return out;
}

std::string b64(std::string bytes) {
  std::string out = base64url_encode(bytes);
  explicit_bzero(bytes.data(), bytes.size());
  return out;
}

std::string sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

// Overwrites the string members of a JSON object that held private key
// material before it is freed.
void wipe_strings(json& j) {
  for (auto& [k, v] : j.items())
    if (v.is_string()) {
      auto& str = v.get_ref<std::string&>();
      explicit_bzero(str.data(), str.size());
    }
}

// Builds the Jwk of an EVP key: public members always, private ones when the
// key has them.
Result<Jwk> jwk_from_pkey(const EVP_PKEY* key, std::optional<KeyAlgorithm> wanted) {
  json pub;
  json priv_members = json::object();
  std::string alg;
  if (EVP_PKEY_is_a(key, "RSA")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < kMinRsaBits) return make_error("RSA key of " + std::to_string(bits) + " bits: at least 2048 required");
    pub = {{"kty", "RSA"}, {"n", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_N))},
           {"e", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_E))}};
    alg = wanted == KeyAlgorithm::PS256 ? "PS256" : "RS256";
    const std::string d = bn_param(key, OSSL_PKEY_PARAM_RSA_D);
    if (!d.empty()) {
      priv_members = {{"d", b64(d)},
                      {"p", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR1))},
                      {"q", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR2))},
                      {"dp", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT1))},
                      {"dq", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT2))},
                      {"qi", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1))}};
    }
  } else if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
        std::string_view(group) != "prime256v1")
      return make_error(std::string("EC key on curve '") + group + "': only P-256 (ES256) is supported");
    pub = {{"kty", "EC"}, {"crv", "P-256"}, {"x", b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
           {"y", b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    alg = "ES256";
    const std::string d = bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, 32);
    if (!d.empty()) priv_members = {{"d", b64(d)}};
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    std::string x(32, '\0');
    std::size_t n = x.size();
    if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(x.data()), &n) != 1)
      return make_error("cannot read the Ed25519 public key");
    pub = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64(x)}};
    alg = "EdDSA";
    std::string d(32, '\0');
    n = d.size();
    if (EVP_PKEY_get_raw_private_key(key, reinterpret_cast<unsigned char*>(d.data()), &n) == 1)
      priv_members = {{"d", b64(d)}};
    ERR_clear_error();
  } else {
    return make_error("unsupported key type (expected an RSA, EC P-256 or Ed25519 key)");
  }
  Jwk out;
  out.kid = jwk_thumbprint(pub);
  out.alg = alg;
  pub["kid"] = out.kid;
  pub["alg"] = alg;
  pub["use"] = "sig";
  out.public_jwk = pub;
  if (!priv_members.empty()) {
    json priv = pub;
    for (auto& [k, v] : priv_members.items()) priv[k] = v;
    std::string text = priv.dump();
    out.private_jwk = Secret(std::move(text));
    wipe_strings(priv);
    wipe_strings(priv_members);
  }
  return out;
}

bool is_b64url(const json& v) {
  return v.is_string() && base64url_decode(v.get_ref<const std::string&>()).has_value();
}

// The decoded length of a base64url member, or nullopt if it is not one.
std::optional<std::size_t> b64_len(const json& j, const char* member) {
  auto it = j.find(member);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  auto bytes = base64url_decode(it->get_ref<const std::string&>());
  if (!bytes) return std::nullopt;
  const std::size_t n = bytes->size();
  explicit_bzero(bytes->data(), bytes->size());
  return n;
}

std::string member_string(const json& j, const char* member) {
  auto it = j.find(member);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string jwk_thumbprint(const json& public_jwk) {
  // nlohmann::json objects keep their members sorted, as RFC 7638 requires.
  json required;
  const std::string kty = member_string(public_jwk, "kty");
  const char* const* members = nullptr;
  static const char* const rsa[] = {"e", "kty", "n", nullptr};
  static const char* const ec[] = {"crv", "kty", "x", "y", nullptr};
  static const char* const okp[] = {"crv", "kty", "x", nullptr};
  if (kty == "RSA") members = rsa;
  else if (kty == "EC") members = ec;
  else members = okp;
  for (auto m = members; *m; ++m)
    if (public_jwk.contains(*m)) required[*m] = public_jwk[*m];
  return base64url_encode(sha256(required.dump()));
}

Result<Jwk> generate_jwk(KeyAlgorithm algorithm) {
  EVP_PKEY* raw = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::ES256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyAlgorithm::RS256:
    case KeyAlgorithm::PS256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}); break;
    case KeyAlgorithm::EdDSA: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
  }
  Pkey key(raw);
  if (!key) {
    ERR_clear_error();
    return make_error(std::string("cannot generate a ") + std::string(jwa_name(algorithm)) + " key");
  }
  return jwk_from_pkey(key.get(), algorithm);
}

Jwk with_kid(const Jwk& key, std::string kid) {
  Jwk out;
  out.kid = kid;
  out.alg = key.alg;
  out.public_jwk = key.public_jwk;
  out.public_jwk["kid"] = kid;
  if (key.can_sign()) {
    json priv = json::parse(key.private_jwk.reveal());
    priv["kid"] = kid;
    std::string text = priv.dump();
    out.private_jwk = Secret(std::move(text));
    wipe_strings(priv);
  }
  return out;
}

Result<Jwk> jwk_from_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                 &BIO_free);
  if (!bio) return make_error("out of memory");
  Pkey key;
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  } else if (pem.find("-----BEGIN PUBLIC KEY-----") != std::string_view::npos) {
    key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  } else {
    return make_error("no PEM private key or public key in it");
  }
  ERR_clear_error();
  if (!key) return make_error("the PEM key does not parse (encrypted keys are not supported)");
  return jwk_from_pkey(key.get(), std::nullopt);
}

Result<Jwk> parse_jwk(const json& j) {
  if (!j.is_object()) return make_error(std::string("expected a JWK object, got ") + j.type_name());
  auto str = [&](const char* m) -> Result<std::string> {
    auto it = j.find(m);
    if (it == j.end()) return std::string();
    if (!it->is_string()) return make_error(std::string(m) + ": expected a string");
    return it->get<std::string>();
  };
  auto kty = str("kty");
  if (!kty) return kty.error();
  if (kty->empty()) return make_error("kty: required");
  auto use = str("use");
  if (!use) return use.error();
  if (!use->empty() && *use != "sig") return make_error("use: '" + *use + "' is not a signing key (\"sig\")");
  auto alg_r = str("alg");
  if (!alg_r) return alg_r.error();
  std::string alg = *alg_r;
  auto kid_r = str("kid");
  if (!kid_r) return kid_r.error();

  json pub;
  std::vector<const char*> private_members;
  if (*kty == "RSA") {
    auto n = b64_len(j, "n");
    if (!n || *n == 0) return make_error("n: required, base64url");
    if (!b64_len(j, "e")) return make_error("e: required, base64url");
    if (*n * 8 < kMinRsaBits) return make_error("n: RSA key of " + std::to_string(*n * 8) + " bits: at least 2048 required");
    if (*n * 8 > kMaxRsaBits) return make_error("n: RSA key larger than 16384 bits");
    if (alg.empty()) alg = "RS256";
    static const std::vector<std::string> rsa_algs = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    if (std::find(rsa_algs.begin(), rsa_algs.end(), alg) == rsa_algs.end())
      return make_error("alg: '" + alg + "' is not an RSA signature algorithm");
    pub = {{"kty", "RSA"}, {"n", j["n"]}, {"e", j["e"]}};
    private_members = {"d", "p", "q", "dp", "dq", "qi"};
  } else if (*kty == "EC") {
    const std::string crv = member_string(j, "crv");
    std::size_t width = 0;
    std::string crv_alg;
    if (crv == "P-256") width = 32, crv_alg = "ES256";
    else if (crv == "P-384") width = 48, crv_alg = "ES384";
    else if (crv == "P-521") width = 66, crv_alg = "ES512";
    else return make_error("crv: '" + crv + "' is not P-256, P-384 or P-521");
    if (b64_len(j, "x") != width) return make_error("x: required, " + std::to_string(width) + " bytes base64url");
    if (b64_len(j, "y") != width) return make_error("y: required, " + std::to_string(width) + " bytes base64url");
    if (alg.empty()) alg = crv_alg;
    if (alg != crv_alg) return make_error("alg: '" + alg + "' does not match curve " + crv);
    pub = {{"kty", "EC"}, {"crv", crv}, {"x", j["x"]}, {"y", j["y"]}};
    private_members = {"d"};
  } else if (*kty == "OKP") {
    const std::string crv = member_string(j, "crv");
    if (crv != "Ed25519") return make_error("crv: '" + crv + "' is not Ed25519");
    if (b64_len(j, "x") != 32u) return make_error("x: required, 32 bytes base64url");
    if (alg.empty() || alg == "Ed25519") alg = "EdDSA";
    if (alg != "EdDSA") return make_error("alg: '" + alg + "' does not match an Ed25519 key");
    pub = {{"kty", "OKP"}, {"crv", crv}, {"x", j["x"]}};
    private_members = {"d"};
  } else if (*kty == "oct") {
    return make_error("kty: symmetric keys (oct) cannot be published in a public JWKS");
  } else {
    return make_error("kty: unsupported key type '" + kty->substr(0, 16) + "'");
  }
  Jwk out;
  out.kid = kid_r->empty() ? jwk_thumbprint(pub) : *kid_r;
  out.alg = alg;
  pub["kid"] = out.kid;
  pub["alg"] = alg;
  pub["use"] = "sig";
  out.public_jwk = pub;
  if (j.contains("d")) {
    json priv = pub;
    for (const char* m : private_members) {
      if (!j.contains(m)) return make_error(std::string(m) + ": required in a private key");
      if (!is_b64url(j[m])) return make_error(std::string(m) + ": expected base64url");
      priv[m] = j[m];
    }
    if (*kty == "EC" && b64_len(j, "d") != b64_len(j, "x")) return make_error("d: wrong length for the curve");
    if (*kty == "OKP" && b64_len(j, "d") != 32u) return make_error("d: expected 32 bytes");
    std::string text = priv.dump();
    out.private_jwk = Secret(std::move(text));
    wipe_strings(priv);
  }
  return out;
}

Result<JwksDocument> parse_jwks(std::string_view body) {
  if (body.size() > kMaxDocumentBytes) return make_error("JWKS larger than 256 KiB");
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error("JWKS is not valid JSON");
  if (!doc.is_object()) return make_error(std::string("JWKS: expected an object, got ") + doc.type_name());
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) return make_error("JWKS: keys: expected an array");
  if (keys->size() > kMaxKeys) return make_error("JWKS: more than 100 keys");
  JwksDocument out;
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const std::string where = "keys[" + std::to_string(i) + "]";
    auto key = parse_jwk((*keys)[i]);
    if (!key) {
      out.skipped.push_back(where + ": " + key.error().message);
      continue;
    }
    key->private_jwk = Secret();  // a published JWKS carries public keys only
    const bool duplicate = std::any_of(out.keys.begin(), out.keys.end(),
                                       [&](const Jwk& k) { return k.kid == key->kid; });
    if (duplicate) {
      out.skipped.push_back(where + ": kid used by an earlier key");
      continue;
    }
    out.keys.push_back(std::move(*key));
  }
  if (out.keys.empty()) {
    std::string why = out.skipped.empty() ? "it lists no keys" : out.skipped.front();
    return make_error("JWKS has no usable signing key (" + why + ")");
  }
  return out;
}

Result<std::string> parse_discovery(std::string_view body, std::string_view issuer) {
  if (body.size() > kMaxDocumentBytes) return make_error("discovery document larger than 256 KiB");
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("discovery document is not a JSON object");
  const std::string got_issuer = member_string(doc, "issuer");
  if (got_issuer != issuer) return make_error("discovery document: issuer does not match the configured issuer");
  const std::string uri = member_string(doc, "jwks_uri");
  if (uri.empty()) return make_error("discovery document: jwks_uri missing");
  if (!uri.starts_with("https://")) return make_error("discovery document: jwks_uri is not an https URL");
  return uri;
}

std::optional<std::chrono::seconds> cache_control_max_age(std::string_view value) {
  std::optional<std::chrono::seconds> out;
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t comma = value.find(',', pos);
    if (comma == std::string_view::npos) comma = value.size();
    std::string directive(value.substr(pos, comma - pos));
    pos = comma + 1;
    directive.erase(0, directive.find_first_not_of(" \t"));
    directive.erase(directive.find_last_not_of(" \t") + 1);
    std::transform(directive.begin(), directive.end(), directive.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (directive == "no-cache" || directive == "no-store") return std::chrono::seconds(0);
    if (directive.starts_with("max-age=")) {
      std::string digits = directive.substr(8);
      if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') digits = digits.substr(1, digits.size() - 2);
      if (digits.empty() || digits.size() > 10 ||
          digits.find_first_not_of("0123456789") != std::string::npos)
        continue;
      out = std::chrono::seconds(std::stoll(digits));
    }
  }
  return out;
}

std::string jwks_json(const std::vector<json>& public_jwks) {
  return json{{"keys", public_jwks}}.dump();
}

}  // namespace tw
