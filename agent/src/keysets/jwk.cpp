// jwk.cpp -- see jwk.hpp.
#include "tokenwell/agent/keysets/jwk.hpp"

#include <string.h>

#include <algorithm>
#include <cctype>

#include "tokenwell/jose/jose.hpp"

namespace tw {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxDocumentBytes = 256 * 1024;
constexpr std::size_t kMaxKeys = 100;

jose::Alg to_jose(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::ES256: return jose::Alg::ES256;
    case KeyAlgorithm::RS256: return jose::Alg::RS256;
    case KeyAlgorithm::PS256: return jose::Alg::PS256;
    case KeyAlgorithm::EdDSA: return jose::Alg::EdDSA;
  }
  return jose::Alg::ES256;
}

// The agent's view of a jose::Key: a kid (the thumbprint unless the key
// names one), its public JWK, and its private JWK as a Secret.
Jwk to_jwk(const jose::Key& parsed) {
  const jose::Key key = parsed.kid() ? parsed.with_kid(*parsed.kid())
                                     : parsed.with_kid(jose::thumbprint(parsed.public_jwk()));
  Jwk out;
  out.kid = *key.kid();
  out.alg = std::string(jose::alg_name(key.alg()));
  out.public_jwk = key.public_jwk();
  if (key.has_private()) out.private_jwk = Secret(key.private_jwk_json());
  return out;
}

std::string member_string(const json& j, const char* member) {
  auto it = j.find(member);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Runs a jose call; a rejection becomes an Error with its detail.
template <typename F>
auto jose_result(F&& f, const char* what) -> Result<decltype(f())> {
  try {
    return f();
  } catch (const jose::Rejection& r) {
    return make_error(r.detail.empty() ? std::string(what) : r.detail);
  }
}

}  // namespace

Result<Jwk> generate_jwk(KeyAlgorithm algorithm) {
  return jose_result([&] { return to_jwk(jose::Key::generate(to_jose(algorithm))); },
                     "cannot generate a key");
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
    out.private_jwk = Secret(priv.dump());
    for (auto& [name, value] : priv.items())
      if (value.is_string()) explicit_bzero(value.get_ref<std::string&>().data(), value.get_ref<std::string&>().size());
  }
  return out;
}

Result<Jwk> jwk_from_pem(std::string_view pem) {
  return jose_result([&] { return to_jwk(jose::Key::from_pem(pem)); }, "the PEM key does not parse");
}

Result<Jwk> parse_jwk(const json& j) {
  // Publishing comes first: a symmetric key can never be in a public JWKS.
  if (j.is_object() && j.contains("kty") && j["kty"] == "oct")
    return make_error("kty: symmetric keys (oct) cannot be published in a public JWKS");
  return jose_result([&] { return to_jwk(jose::Key::from_json(j, /*need_private=*/false)); }, "not a usable JWK");
}

std::variant<Secret, JwtSignFailure> sign_jwt(std::string_view private_jwk, std::string_view claims_json,
                                              std::int64_t ttl_seconds, std::int64_t now) {
  std::optional<jose::Key> key;
  try {
    key = jose::Key::parse_private(private_jwk);
  } catch (const jose::Rejection& r) {
    return JwtSignFailure{false, "the keyset's signing key does not parse" + (r.detail.empty() ? "" : ": " + r.detail)};
  }
  try {
    return Secret(jose::sign_jwt(*key, claims_json, ttl_seconds, now));
  } catch (const jose::Rejection& r) {
    std::string why;
    switch (r.code) {
      case TOKENWELL_JWT_EJSON: why = "claims: not a JSON object"; break;
      case TOKENWELL_JWT_EDUPLICATE: why = "claims: a member appears twice"; break;
      case TOKENWELL_JWT_ETOOLARGE:
        why = "claims: too large (the token would exceed " + std::to_string(TOKENWELL_JWT_TOKEN_MAX) +
              " bytes) or nested deeper than " + std::to_string(TOKENWELL_JWT_DEPTH_MAX) + " levels";
        break;
      default: why = "claims: cannot be signed"; break;
    }
    if (!r.detail.empty()) why += " (" + r.detail + ")";
    return JwtSignFailure{true, std::move(why)};
  }
}

std::string jwk_thumbprint(const json& public_jwk) { return jose::thumbprint(public_jwk); }

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
