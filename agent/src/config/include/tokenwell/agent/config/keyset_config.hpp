// keyset_config.hpp -- the `keysets` entries of the config (DESIGN.md,
// "Config"), one settings struct per `source`, with their defaults.
//
//   {"name": "entra-keys", "source": "jwks", "issuer": "https://…/v2.0"}
//   {"name": "sessions", "source": "key_files", "directory": "/etc/tokenwell/keys"}
//   {"name": "dev", "source": "generated", "algorithm": "ES256",
//    "rotate_every": "24h", "publish_ahead": "1h", "retain": "25h"}
//
// Parsed and validated by config.cpp (parse_config); plain values.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

namespace tw {

// Signing algorithms the agent can make keys for (JWA names).
enum class KeyAlgorithm { ES256, RS256, PS256, EdDSA };

inline std::string_view jwa_name(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::ES256: return "ES256";
    case KeyAlgorithm::RS256: return "RS256";
    case KeyAlgorithm::PS256: return "PS256";
    case KeyAlgorithm::EdDSA: return "EdDSA";
  }
  return "?";
}

// source: jwks -- a verify-only JWKS fetched over HTTPS.
struct JwksKeysetConfig {
  std::string issuer;    // OIDC discovery at issuer + /.well-known/openid-configuration
  std::string jwks_uri;  // or the JWKS address itself (exactly one of the two)
  std::filesystem::path ca_file;
  // The refresh interval is the response's Cache-Control max-age clamped to
  // [refresh_min, refresh_max]; refresh_default when it sends none.
  std::chrono::milliseconds refresh_min{std::chrono::minutes(5)};
  std::chrono::milliseconds refresh_max{std::chrono::hours(24)};
  std::chrono::milliseconds refresh_default{std::chrono::hours(1)};
  // A verifier that met an unknown kid may ask for a refetch at most this often.
  std::chrono::milliseconds cooldown{std::chrono::seconds(30)};
  std::chrono::milliseconds retry_min{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

// source: key_files -- PEM or JWK files in a directory (a mounted Secret).
struct KeyFilesKeysetConfig {
  std::filesystem::path directory;
};

// source: generated -- keys the agent makes and rotates itself.
struct GeneratedKeysetConfig {
  KeyAlgorithm algorithm = KeyAlgorithm::ES256;
  std::chrono::milliseconds rotate_every{std::chrono::hours(24)};   // a key signs this long
  std::chrono::milliseconds publish_ahead{std::chrono::hours(1)};   // public before it signs
  std::chrono::milliseconds retain{std::chrono::hours(25)};         // public after it retired
  // The longest token lifetime signers use and the verifiers' clock leeway:
  // retain must cover both, so a token signed just before a rotation still
  // verifies until it expires.
  std::chrono::milliseconds max_token_lifetime{std::chrono::hours(1)};
  std::chrono::milliseconds leeway{std::chrono::seconds(60)};
};

using KeysetSettings = std::variant<JwksKeysetConfig, KeyFilesKeysetConfig, GeneratedKeysetConfig>;

struct KeysetConfig {
  std::string name;
  std::string source;  // "jwks" | "key_files" | "generated"
  KeysetSettings settings;
  std::string fingerprint;  // the entry's canonical JSON: equal <=> unchanged
  // The signing key's private JWK goes into the segment (apps sign
  // in-process); false: the segment holds the public JWKS only and apps sign
  // through POST /v1/keysets/NAME/sign.
  bool private_in_segment = false;
};

}  // namespace tw
