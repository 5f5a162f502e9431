// jwt_test_util.hpp -- the fixed test keys (tests/jwt/test_keys.json, made
// once with cryptography) and a forger of tokens with any header and
// payload, for the JWT tests.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenwell/jose/jose.hpp"

namespace tw::test {

// Every key by algorithm name: ES256, RS256, PS256, EdDSA, HS256, and the
// weak RS256_1024 and HS256_short.
inline const nlohmann::json& test_keys() {
  static const nlohmann::json keys = [] {
    std::ifstream in(TOKENWELL_JWT_TEST_KEYS);
    if (!in) throw std::runtime_error("cannot read " TOKENWELL_JWT_TEST_KEYS);
    return nlohmann::json::parse(in);
  }();
  return keys;
}

inline std::string private_jwk(const std::string& alg) { return test_keys().at(alg).dump(); }

// The public JWK: the private members removed (an oct key stays whole).
inline nlohmann::json public_jwk_json(const std::string& alg) {
  nlohmann::json k = test_keys().at(alg);
  if (k.at("kty") == "oct") return k;
  for (const char* m : {"d", "p", "q", "dp", "dq", "qi"}) k.erase(m);
  return k;
}

inline std::string jwks_of(std::initializer_list<std::string> algs) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& a : algs) keys.push_back(public_jwk_json(a));
  return nlohmann::json{{"keys", keys}}.dump();
}

inline std::string b64(std::string_view s) { return jose::base64url_encode(s); }

// header.payload signed by `key` exactly as given: the JSON texts are not
// touched, so a test can forge duplicates, odd algs and bad claims.
inline std::string forge(const jose::Key& key, std::string_view header, std::string_view payload) {
  const std::string input = b64(header) + "." + b64(payload);
  return input + "." + b64(key.sign(input));
}

inline jose::Key key_of(const std::string& alg) { return jose::Key::parse_private(private_jwk(alg)); }

}  // namespace tw::test
