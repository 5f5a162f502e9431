// Keysets without a network: JWK reading and writing, JWKS / discovery /
// Cache-Control parsing, keyset config errors with JSON paths, the rotation
// schedule of generated keys on simulated time (every token verifies while it
// is valid, none after retention), restart adoption, key files swapped the
// way Kubernetes swaps a Secret, and the JWKS refresh rules.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <openssl/pem.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "jose_test_support.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/keysets/jwk.hpp"
#include "tokenwell/agent/keysets/jwks_keyset.hpp"
#include "tokenwell/agent/keysets/key_files.hpp"
#include "tokenwell/agent/keysets/key_rotation.hpp"
#include "tokenwell/agent/refresh/refresh_policy.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const TimePoint kStart{std::chrono::seconds(1'800'000'000)};

std::int64_t unix_s(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::set<std::string> kids(const std::string& jwks) {
  std::set<std::string> out;
  const json doc = json::parse(jwks);
  for (const auto& k : doc["keys"]) out.insert(k["kid"].get<std::string>());
  return out;
}

// ---- JWKs -------------------------------------------------------------------

TEST(Jwk, GeneratedKeysSignAndVerifyAndPublishOnlyPublicMembers) {
  for (auto alg : {KeyAlgorithm::ES256, KeyAlgorithm::RS256, KeyAlgorithm::PS256, KeyAlgorithm::EdDSA}) {
    SCOPED_TRACE(std::string(jwa_name(alg)));
    auto key = generate_jwk(alg);
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ(key->alg, jwa_name(alg));
    EXPECT_EQ(key->public_jwk["use"], "sig");
    for (const char* m : {"d", "p", "q", "dp", "dq", "qi", "k"}) EXPECT_FALSE(key->public_jwk.contains(m)) << m;
    const json priv = json::parse(key->private_jwk.reveal());
    EXPECT_TRUE(priv.contains("d"));
    EXPECT_EQ(priv["kid"], key->kid);
    EXPECT_EQ(key->kid, jwk_thumbprint(key->public_jwk));
    const std::string token = test::sign_jwt(std::string(key->private_jwk.reveal()), {{"exp", 2'000'000'000}});
    EXPECT_TRUE(test::verify_jwt(token, jwks_json({key->public_jwk}), 1'900'000'000));
    // A different key with the same kid does not verify it.
    auto other = generate_jwk(alg);
    ASSERT_TRUE(other);
    EXPECT_FALSE(test::verify_jwt(token, jwks_json({with_kid(*other, key->kid).public_jwk}), 1'900'000'000));
  }
}

TEST(Jwk, Rfc7638ThumbprintExample) {
  // RFC 7638, section 3.1.
  const json jwk = {
      {"kty", "RSA"},
      {"n", "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"}, {"alg", "RS256"}, {"kid", "2011-04-29"}};
  EXPECT_EQ(jwk_thumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jwk, ParseChecksEachMemberAndNamesIt) {
  auto ec = generate_jwk(KeyAlgorithm::ES256);
  ASSERT_TRUE(ec);
  json bad = ec->public_jwk;
  bad["crv"] = "secp256k1";
  EXPECT_EQ(parse_jwk(bad).error().message, "crv: 'secp256k1' is not P-256, P-384 or P-521");
  bad = ec->public_jwk;
  bad["x"] = "AAAA";
  EXPECT_EQ(parse_jwk(bad).error().message, "x: required, 32 bytes base64url");
  bad = ec->public_jwk;
  bad["alg"] = "RS256";
  EXPECT_EQ(parse_jwk(bad).error().message, "alg: 'RS256' does not match curve P-256");
  bad = ec->public_jwk;
  bad["use"] = "enc";
  EXPECT_EQ(parse_jwk(bad).error().message, "use: 'enc' is not a signing key (\"sig\")");
  EXPECT_EQ(parse_jwk({{"kty", "oct"}, {"k", "c2VjcmV0"}}).error().message,
            "kty: symmetric keys (oct) cannot be published in a public JWKS");
  EXPECT_EQ(parse_jwk({{"kty", "RSA"}, {"n", base64url_encode(std::string(128, '\x01'))}, {"e", "AQAB"}})
                .error()
                .message,
            "n: RSA key of 1024 bits: at least 2048 required");
  // alg inferred, Ed25519 accepted as an alias, kid defaults to the thumbprint.
  auto ed = generate_jwk(KeyAlgorithm::EdDSA);
  json alias = ed->public_jwk;
  alias["alg"] = "Ed25519";
  alias.erase("kid");
  auto parsed = parse_jwk(alias);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->alg, "EdDSA");
  EXPECT_EQ(parsed->kid, ed->kid);
}

TEST(Jwk, OnlyTheAlgorithmsEveryVerifierSupportsArePublished) {
  // One algorithm set with libtokenwell-jwt (client-shim/jose's kAlgorithms):
  // a key it could not verify with is skipped, not published.
  auto rsa = generate_jwk(KeyAlgorithm::RS256);
  ASSERT_TRUE(rsa);
  json rs1 = rsa->public_jwk;
  rs1["alg"] = "RS1";
  EXPECT_EQ(parse_jwk(rs1).error().message,
            "alg: 'RS1' is not supported (ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, "
            "EdDSA, HS256, HS384, HS512)");
  json rs512 = rsa->public_jwk;
  rs512["alg"] = "RS512";
  const auto parsed = parse_jwk(rs512);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->alg, "RS512");
}

TEST(Jwk, PemPrivateKeysSignPublicKeysOnlyVerify) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, raw, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, raw);
  char* p = nullptr;
  const long np = BIO_get_mem_data(priv, &p);
  const std::string priv_pem(p, static_cast<std::size_t>(np));
  const long nq = BIO_get_mem_data(pub, &p);
  const std::string pub_pem(p, static_cast<std::size_t>(nq));
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(raw);
  auto signing = jwk_from_pem(priv_pem);
  auto verifying = jwk_from_pem(pub_pem);
  ASSERT_TRUE(signing) << signing.error().message;
  ASSERT_TRUE(verifying) << verifying.error().message;
  EXPECT_TRUE(signing->can_sign());
  EXPECT_FALSE(verifying->can_sign());
  EXPECT_EQ(signing->kid, verifying->kid);
  EXPECT_EQ(signing->public_jwk, verifying->public_jwk);
  EXPECT_FALSE(jwk_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  EXPECT_FALSE(jwk_from_pem("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"));
}

// ---- JWKS, discovery, Cache-Control ----------------------------------------

TEST(Jwks, UnknownKeyTypesAreSkippedAndAnEmptySetIsRejected) {
  auto ec = generate_jwk(KeyAlgorithm::ES256);
  json doc = {{"keys", json::array({{{"kty", "PQC"}, {"kid", "future"}}, ec->public_jwk,
                                    {{"kty", "oct"}, {"k", "AAAA"}}, ec->public_jwk})}};
  auto parsed = parse_jwks(doc.dump());
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->keys.size(), 1u);
  ASSERT_EQ(parsed->skipped.size(), 3u);
  EXPECT_EQ(parsed->skipped[0], "keys[0]: kty: unsupported key type 'PQC'");
  EXPECT_EQ(parsed->skipped[2], "keys[3]: kid used by an earlier key");

  auto none = parse_jwks(R"({"keys":[{"kty":"PQC","kid":"x"}]})");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "JWKS has no usable signing key (keys[0]: kty: unsupported key type 'PQC')");
  EXPECT_EQ(parse_jwks(R"({"keys":[]})").error().message, "JWKS has no usable signing key (it lists no keys)");
  EXPECT_EQ(parse_jwks("<html>").error().message, "JWKS is not valid JSON");
  EXPECT_EQ(parse_jwks(R"({"keys":{}})").error().message, "JWKS: keys: expected an array");
}

TEST(Jwks, PrivateMembersInAFetchedSetAreNeverRepublished) {
  auto ec = generate_jwk(KeyAlgorithm::ES256);
  json leaked = json::parse(ec->private_jwk.reveal());
  auto parsed = parse_jwks(json{{"keys", {leaked}}}.dump());
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->keys[0].public_jwk.contains("d"));
  EXPECT_FALSE(parsed->keys[0].can_sign());
}

TEST(Jwks, DiscoveryNeedsTheSameIssuerAndAnHttpsJwksUri) {
  const std::string iss = "https://login.example.com/t/v2.0";
  EXPECT_EQ(*parse_discovery(R"({"issuer":"https://login.example.com/t/v2.0","jwks_uri":"https://k/keys"})", iss),
            "https://k/keys");
  EXPECT_EQ(parse_discovery(R"({"issuer":"https://evil","jwks_uri":"https://k"})", iss).error().message,
            "discovery document: issuer does not match the configured issuer");
  EXPECT_EQ(parse_discovery(R"({"issuer":"https://login.example.com/t/v2.0","jwks_uri":"http://k"})", iss)
                .error()
                .message,
            "discovery document: jwks_uri is not an https URL");
  EXPECT_FALSE(parse_discovery("[]", iss));
}

TEST(Jwks, CacheControlMaxAge) {
  EXPECT_EQ(cache_control_max_age("public, max-age=3600"), 3600s);
  EXPECT_EQ(cache_control_max_age("Max-Age=\"60\", must-revalidate"), 60s);
  EXPECT_EQ(cache_control_max_age("no-store"), 0s);
  EXPECT_EQ(cache_control_max_age("private"), std::nullopt);
  EXPECT_EQ(cache_control_max_age("max-age=-5"), std::nullopt);
  EXPECT_EQ(cache_control_max_age("max-age=99999999999999999999"), std::nullopt);
}

// ---- config ------------------------------------------------------------------

std::vector<std::string> config_errors(const json& keysets) {
  const Environment none = [](std::string_view) { return std::optional<std::string>{}; };
  auto r = parse_config(json{{"runtime_dir", "/tmp/x"}, {"keysets", keysets}}, none);
  if (auto* e = std::get_if<ConfigErrors>(&r)) return e->lines;
  return {};
}

TEST(KeysetConfig, TheDesignExampleParsesWithDefaults) {
  const Environment none = [](std::string_view) { return std::optional<std::string>{}; };
  auto r = parse_config(json::parse(R"({"runtime_dir": "/run/tokenwell", "keysets": [
    {"name": "entra-keys", "source": "jwks", "issuer": "https://login.microsoftonline.com/t/v2.0"},
    {"name": "sessions", "source": "key_files", "directory": "/etc/tokenwell/keys"},
    {"name": "dev", "source": "generated", "algorithm": "ES256",
     "rotate_every": "24h", "publish_ahead": "1h", "retain": "25h"}]})"),
                        none);
  ASSERT_TRUE(std::holds_alternative<AgentConfig>(r));
  const auto& ks = std::get<AgentConfig>(r).keysets;
  ASSERT_EQ(ks.size(), 3u);
  const auto& j = std::get<JwksKeysetConfig>(ks[0].settings);
  EXPECT_EQ(j.refresh_min, 5min);
  EXPECT_EQ(j.refresh_max, 24h);
  EXPECT_EQ(std::get<KeyFilesKeysetConfig>(ks[1].settings).directory, "/etc/tokenwell/keys");
  const auto& g = std::get<GeneratedKeysetConfig>(ks[2].settings);
  EXPECT_EQ(g.rotate_every, 24h);
  EXPECT_EQ(g.retain, 25h);
}

TEST(KeysetConfig, ErrorsNameTheJsonPath) {
  const json ok_files = {{"name", "a"}, {"source", "key_files"}, {"directory", "/k"}};
  EXPECT_EQ(config_errors({ok_files, ok_files}),
            std::vector<std::string>{"keysets[1].name: 'a' is used by another credential or keyset"});
  EXPECT_EQ(config_errors({ok_files, {{"name", "b"}, {"source", "jwks"}, {"jwks_uri", "https://x/k"}},
                           {{"name", "c"}, {"source", "generated"}, {"rotate_every", "1h"},
                            {"publish_ahead", "1h"}}}),
            std::vector<std::string>{"keysets[2].rotate_every: must be longer than publish_ahead"});
  EXPECT_EQ(config_errors({{{"name", "c"}, {"source", "generated"}, {"algorithm", "ES512"}}}),
            std::vector<std::string>{
                "keysets[0].algorithm: unknown algorithm 'ES512' (expected ES256, RS256, PS256, EdDSA or Ed25519)"});
  EXPECT_EQ(config_errors({{{"name", "c"}, {"source", "generated"}, {"retain", "2h"},
                            {"max_token_lifetime", "2h"}}}),
            std::vector<std::string>{"keysets[0].retain: must be at least max_token_lifetime + leeway (121m) "
                                     "so a token signed just before a rotation verifies until it expires"});
  EXPECT_EQ(config_errors({{{"name", "j"}, {"source", "jwks"}, {"issuer", "https://i"},
                            {"jwks_uri", "https://k"}}}),
            std::vector<std::string>{
                "keysets[0].issuer: exactly one of issuer (OIDC discovery) or jwks_uri is required"});
  EXPECT_EQ(config_errors({{{"name", "j"}, {"source", "jwks"}, {"issuer", "https://i"},
                            {"refresh", {{"cooldown", "0s"}}}}}),
            std::vector<std::string>{"keysets[0].refresh.cooldown: must be at least 1s"});
  EXPECT_EQ(config_errors({{{"name", "j"}, {"source", "jwks"}, {"issuer", "https://i"}, {"algorithm", "x"}}}),
            std::vector<std::string>{"keysets[0].algorithm: unknown key (expected one of: name, source, "
                                     "issuer, jwks_uri, ca_file, refresh, timeout)"});
  EXPECT_EQ(config_errors({{{"name", "f"}, {"source", "files"}}}),
            std::vector<std::string>{
                "keysets[0].source: unknown source 'files' (expected one of jwks, key_files, generated)"});
}

// ---- generated: the rotation schedule ----------------------------------------

struct LiveToken {
  std::string token;
  std::string kid;
  TimePoint signed_at;
  TimePoint expires;
};

// Runs a generated keyset for `days` of simulated time, signing a token every
// `step`, and checks the prepare/activate/retire guarantees at every step.
void run_rotation(KeyAlgorithm alg, int days, std::chrono::minutes step) {
  GeneratedKeysetConfig c;
  c.algorithm = alg;
  c.rotate_every = 24h;
  c.publish_ahead = 1h;
  c.retain = 25h;
  c.max_token_lifetime = 1h;
  KeyRotation rotation(c, generate_jwk);
  std::map<std::string, TimePoint> first_published, retired_at;
  std::string previous_signer;
  std::vector<LiveToken> tokens;
  std::set<std::string> signers;
  TimePoint next = kStart;
  for (TimePoint now = kStart; now <= kStart + std::chrono::hours(24 * days); now += step) {
    if (now >= next) {
      auto s = rotation.advance(now);
      ASSERT_TRUE(s) << s.error().message;
      ASSERT_GT(s->next, now) << "advance must not ask to run again at once";
      next = s->next;
    }
    const std::string jwks = rotation.public_jwks();
    const auto listed = kids(jwks);
    for (const auto& kid : listed) first_published.emplace(kid, now);
    const std::string signer = rotation.active_kid();
    ASSERT_TRUE(listed.count(signer)) << "the signing key is always published: " << signer << " at +" << (now - kStart) / 1min << "min in " << jwks;
    if (signer != previous_signer && !previous_signer.empty()) {
      retired_at[previous_signer] = now;
      // Published at least publish_ahead before it signs (within one step).
      EXPECT_GE(now - first_published[signer], c.publish_ahead - step) << signer;
    }
    previous_signer = signer;
    signers.insert(signer);

    // Every token signed so far and not yet expired verifies against this JWKS.
    for (const auto& t : tokens)
      if (t.expires > now) { EXPECT_TRUE(test::verify_jwt(t.token, jwks, unix_s(now))) << t.kid; }
    // A retired key leaves the JWKS once `retain` has passed, not before.
    for (const auto& [kid, at] : retired_at) {
      if (now >= at + c.retain + step) { EXPECT_FALSE(listed.count(kid)) << kid << " kept past retention"; }
      if (now + step < at + c.retain) { EXPECT_TRUE(listed.count(kid)) << kid << " removed too early"; }
    }
    tokens.push_back({test::sign_jwt(std::string(rotation.signing_key()), {{"exp", unix_s(now + c.max_token_lifetime)}}),
                      signer, now, now + c.max_token_lifetime});
    std::erase_if(tokens, [&](const LiveToken& t) { return t.expires <= now; });
  }
  EXPECT_GE(signers.size(), static_cast<std::size_t>(days)) << "one signing key per rotate_every";
}

TEST(KeyRotation, EveryTokenVerifiesUntilItExpiresAcrossManyRotationsES256) {
  run_rotation(KeyAlgorithm::ES256, 5, 10min);
}

TEST(KeyRotation, EveryTokenVerifiesUntilItExpiresAcrossRotationsEdDSA) {
  run_rotation(KeyAlgorithm::EdDSA, 3, 20min);
}

TEST(KeyRotation, RetiredKeysStopVerifyingAfterRetention) {
  GeneratedKeysetConfig c;  // 24h / 1h / 25h
  KeyRotation rotation(c, generate_jwk);
  TimePoint now = kStart;
  ASSERT_TRUE(rotation.advance(now));
  // A token that claims a lifetime far beyond the rules.
  const std::string forever = test::sign_jwt(std::string(rotation.signing_key()), {{"exp", unix_s(now + 1000h)}});
  const std::string first = rotation.active_kid();
  TimePoint next = now;
  for (; now < kStart + 24h + 25h + 1h; now += 5min) {
    if (now < next) continue;
    auto s = rotation.advance(now);
    ASSERT_TRUE(s);
    next = s->next;
    if (now < kStart + 24h + 25h) { EXPECT_TRUE(test::verify_jwt(forever, rotation.public_jwks(), unix_s(now))); }
  }
  EXPECT_NE(rotation.active_kid(), first);
  EXPECT_FALSE(test::verify_jwt(forever, rotation.public_jwks(), unix_s(now)));
}

TEST(KeyRotation, KidsCarryTheActivationTime) {
  auto key = generate_jwk(KeyAlgorithm::ES256);
  const std::string kid = KeyRotation::make_kid(kStart, *key);
  EXPECT_EQ(KeyRotation::kid_activation(kid), kStart);
  EXPECT_EQ(KeyRotation::kid_activation("2011-04-29"), TimePoint(std::chrono::seconds(2011)));
  EXPECT_EQ(KeyRotation::kid_activation("abc"), std::nullopt);
  EXPECT_EQ(KeyRotation::kid_activation("-1"), std::nullopt);
}

// Runs `rotation` (24h / 1h / 25h) from kStart into the publish-ahead window
// of its second rotation -- one retired key, one active, one prepared -- and
// returns the time it got to.
TimePoint run_into_second_publish_ahead(KeyRotation& rotation) {
  TimePoint now = kStart;
  TimePoint next = now;
  for (; now <= kStart + 24h + 23h + 30min; now += 10min) {
    if (now < next) continue;
    next = rotation.advance(now)->next;
  }
  return now;
}

TEST(KeyRotation, ARestartAdoptsTheKeysAndKeepsTheSchedule) {
  GeneratedKeysetConfig c;
  KeyRotation before(c, generate_jwk);
  const TimePoint now = run_into_second_publish_ahead(before);
  TimePoint next;
  ASSERT_EQ(before.keys().size(), 3u);
  const std::string jwks = before.public_jwks();
  const std::string signer = before.active_kid();
  const std::string token = test::sign_jwt(std::string(before.signing_key()), {{"exp", unix_s(now + 1h)}});
  const std::string retired = before.keys().front().key.kid;
  const std::string prepared = before.keys().back().key.kid;

  // The restarted agent only has what was in the segment.
  KeyRotation after(c, generate_jwk);
  ASSERT_TRUE(after.adopt(jwks, before.signing_key(), now));
  auto step = after.advance(now);
  ASSERT_TRUE(step);
  EXPECT_EQ(after.active_kid(), signer) << "the active key keeps signing";
  const auto listed = kids(after.public_jwks());
  EXPECT_TRUE(listed.count(retired)) << "retired keys keep their retention";
  EXPECT_FALSE(listed.count(prepared)) << "a prepared key without its private half is dropped";
  EXPECT_EQ(listed.size(), 3u) << "a new successor is prepared at once";
  EXPECT_TRUE(test::verify_jwt(token, after.public_jwks(), unix_s(now)));
  // The new successor activates no earlier than publish_ahead from now.
  const auto& successor = after.keys().back();
  EXPECT_GE(successor.activates_at, now + c.publish_ahead);
  // And the old retired key still leaves on its original schedule.
  TimePoint t = now;
  next = step->next;
  for (; t <= kStart + 24h + 25h + 10min; t += 10min) {
    if (t >= next) next = after.advance(t)->next;
  }
  EXPECT_FALSE(kids(after.public_jwks()).count(retired));
}

TEST(KeyRotation, AdoptionRefusesWhatItCannotTrust) {
  GeneratedKeysetConfig c;
  KeyRotation a(c, generate_jwk);
  ASSERT_TRUE(a.advance(kStart));
  KeyRotation b(c, generate_jwk);
  auto other = generate_jwk(KeyAlgorithm::ES256);
  EXPECT_FALSE(b.adopt(a.public_jwks(), other->private_jwk.reveal(), kStart));  // key not listed
  EXPECT_FALSE(b.adopt("not json", a.signing_key(), kStart));
  EXPECT_FALSE(b.adopt(a.public_jwks(), "", kStart));
  EXPECT_TRUE(b.keys().empty());
}

// Without private_in_segment the segment has the public JWKS only: a
// restarted agent signs with a new key at once, and the old keys stay
// verify-only, retired at the restart, for `retain`.
TEST(KeyRotation, ARestartWithOnlyThePublicKeysSignsAnewAndKeepsTheOldOnesForRetain) {
  GeneratedKeysetConfig c;  // 24h / 1h / 25h
  KeyRotation before(c, generate_jwk);
  const TimePoint now = run_into_second_publish_ahead(before);
  TimePoint next;
  ASSERT_EQ(before.keys().size(), 3u);
  const std::string retired = before.keys().front().key.kid;
  const std::string signer = before.active_kid();
  const std::string prepared = before.keys().back().key.kid;
  const std::string token = test::sign_jwt(std::string(before.signing_key()), {{"exp", unix_s(now + 1h)}});

  KeyRotation after(c, generate_jwk);
  ASSERT_TRUE(after.adopt_public(before.public_jwks(), now));
  auto step = after.advance(now);
  ASSERT_TRUE(step);
  EXPECT_TRUE(step->changed);
  EXPECT_NE(after.active_kid(), signer) << "the old private key is gone: a new key signs";
  EXPECT_FALSE(after.signing_key().empty());
  const auto listed = kids(after.public_jwks());
  EXPECT_TRUE(listed.count(signer) && listed.count(retired) && listed.count(after.active_kid()));
  EXPECT_FALSE(listed.count(prepared)) << "nothing was signed with the prepared key";
  EXPECT_TRUE(test::verify_jwt(token, after.public_jwks(), unix_s(now)));
  const std::string fresh = test::sign_jwt(std::string(after.signing_key()), {{"exp", unix_s(now + 1h)}});
  EXPECT_TRUE(test::verify_jwt(fresh, after.public_jwks(), unix_s(now)));
  // The old keys leave `retain` after the restart (the retired one earlier,
  // on its own schedule); this run's keys sign meanwhile.
  next = step->next;
  for (TimePoint t = now; t < now + c.retain; t += 10min) {
    if (t >= next) next = after.advance(t)->next;
    ASSERT_TRUE(kids(after.public_jwks()).count(signer)) << (t - now) / 1min << " min after the restart";
  }
  ASSERT_TRUE(after.advance(now + c.retain));
  EXPECT_FALSE(kids(after.public_jwks()).count(signer));
  EXPECT_FALSE(kids(after.public_jwks()).count(retired));
  EXPECT_NE(after.active_kid(), signer);

  KeyRotation broken(c, generate_jwk);
  EXPECT_FALSE(broken.adopt_public("not json", now));
  EXPECT_TRUE(broken.keys().empty());
}

TEST(KeyRotation, AForeignKidInTheAdoptedSetGetsAFullRetentionFromNow) {
  GeneratedKeysetConfig c;
  KeyRotation before(c, generate_jwk);
  ASSERT_TRUE(before.advance(kStart));
  auto legacy = generate_jwk(KeyAlgorithm::ES256);
  json doc = json::parse(before.public_jwks());
  doc["keys"].push_back(with_kid(*legacy, "legacy").public_jwk);
  KeyRotation after(c, generate_jwk);
  const TimePoint now = kStart + 2h;
  ASSERT_TRUE(after.adopt(doc.dump(), before.signing_key(), now));
  ASSERT_TRUE(after.advance(now));
  EXPECT_EQ(after.active_kid(), before.active_kid());
  EXPECT_TRUE(kids(after.public_jwks()).count("legacy"));
  ASSERT_TRUE(after.advance(now + c.retain - 1s));
  EXPECT_TRUE(kids(after.public_jwks()).count("legacy"));
  ASSERT_TRUE(after.advance(now + c.retain));
  EXPECT_FALSE(kids(after.public_jwks()).count("legacy"));
  EXPECT_EQ(after.active_kid(), kids(after.public_jwks()).count(after.active_kid()) ? after.active_kid() : "");
}

TEST(KeyRotation, AFailingKeyFactoryKeepsTheCurrentKeys) {
  GeneratedKeysetConfig c;
  bool fail = false;
  KeyRotation r(c, [&](KeyAlgorithm a) -> Result<Jwk> {
    if (fail) return make_error("no entropy");
    return generate_jwk(a);
  });
  ASSERT_TRUE(r.advance(kStart));
  const std::string jwks = r.public_jwks();
  fail = true;
  auto s = r.advance(kStart + 23h + 30min);  // a successor is due
  EXPECT_FALSE(s);
  EXPECT_EQ(r.public_jwks(), jwks);
  fail = false;
  EXPECT_TRUE(r.advance(kStart + 23h + 31min));
  EXPECT_EQ(kids(r.public_jwks()).size(), 2u);
}

// ---- key_files: a Kubernetes Secret swap --------------------------------------

std::string pem_private_key(const char* type, const char* param) {
  EVP_PKEY* raw = param ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, param)
                        : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, raw, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  std::string out(p, static_cast<std::size_t>(n));
  BIO_free(b);
  EVP_PKEY_free(raw);
  return out;
}

// The kubelet's update of a Secret volume: the files in a fresh directory,
// `..data` renamed over, each name a symlink through ..data.
class SecretVolume {
 public:
  SecretVolume() {
    char tmpl[] = "/tmp/tokenwell-keys-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~SecretVolume() { fs::remove_all(dir_); }
  const fs::path& dir() const { return dir_; }
  void update(const std::map<std::string, std::string>& files) {
    const auto version = dir_ / ("..v" + std::to_string(++version_));
    fs::create_directory(version);
    for (const auto& [name, content] : files) std::ofstream(version / name) << content;
    fs::create_directory_symlink(version.filename(), dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    for (const auto& [name, content] : files)
      if (!fs::is_symlink(dir_ / name)) fs::create_symlink(fs::path("..data") / name, dir_ / name);
    for (const auto& entry : fs::directory_iterator(dir_))  // names no longer in the Secret
      if (fs::is_symlink(entry) && !files.count(entry.path().filename().string()) &&
          !entry.path().filename().string().starts_with(".."))
        fs::remove(entry.path());
  }

 private:
  fs::path dir_;
  int version_ = 0;
};

TEST(KeyFiles, ASecretSwapAddsTheNewestSignerAndKeepsOldKeysWhileListed) {
  SecretVolume volume;
  const std::string key1 = pem_private_key("EC", "P-256");
  const std::string key2 = pem_private_key("ED25519", nullptr);
  volume.update({{"2026-10-01.pem", key1}});
  auto s1 = load_key_files(volume.dir());
  ASSERT_TRUE(s1) << s1.error().message;
  const std::int64_t now = 1'800'000'000;
  const std::string t1 = test::sign_jwt(std::string(s1->signing_key.reveal()), {{"exp", now + 3600}});
  EXPECT_TRUE(test::verify_jwt(t1, s1->jwks, now));

  // Rotation step 1: the new key is added; it signs, the old one still verifies.
  volume.update({{"2026-10-01.pem", key1}, {"2026-11-01.pem", key2}, {"README", "not a key"}});
  auto s2 = load_key_files(volume.dir());
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->keys, 2u);
  EXPECT_NE(s2->signing_kid, s1->signing_kid);
  EXPECT_EQ(s2->skipped, std::vector<std::string>{"README: neither a PEM key nor a JWK object"});
  const std::string t2 = test::sign_jwt(std::string(s2->signing_key.reveal()), {{"exp", now + 3600}});
  EXPECT_TRUE(test::verify_jwt(t1, s2->jwks, now + 60));
  EXPECT_TRUE(test::verify_jwt(t2, s2->jwks, now + 60));

  // Rotation step 2: the old key is removed; its tokens stop verifying.
  volume.update({{"2026-11-01.pem", key2}});
  auto s3 = load_key_files(volume.dir());
  ASSERT_TRUE(s3);
  EXPECT_EQ(s3->keys, 1u);
  EXPECT_FALSE(test::verify_jwt(t1, s3->jwks, now + 120));
  EXPECT_TRUE(test::verify_jwt(t2, s3->jwks, now + 120));
}

TEST(KeyFiles, JwkFilesAndPublicKeysVerifyOnlyPrivateKeysSign) {
  SecretVolume volume;
  auto priv = generate_jwk(KeyAlgorithm::RS256);
  auto pub_only = generate_jwk(KeyAlgorithm::ES256);
  volume.update({{"a.json", std::string(priv->private_jwk.reveal())},
                 {"z-public.json", pub_only->public_jwk.dump()},
                 {"broken.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}});
  auto set = load_key_files(volume.dir());
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->keys, 2u);
  EXPECT_EQ(set->signing_kid, priv->kid) << "a public key sorting last does not sign";
  ASSERT_EQ(set->skipped.size(), 1u);
  EXPECT_TRUE(set->skipped[0].starts_with("broken.pem: ")) << set->skipped[0];
  EXPECT_EQ(set->jwks.find("\"d\""), std::string::npos);
}

// Old code: a FIFO or a directory among the key files was left out without
// a word (and an entry swapped for a FIFO between the type check and the
// open blocked the loop). Now each is opened non-blocking, skipped and named.
TEST(KeyFiles, AFifoOrADirectoryAmongTheKeysIsSkippedByName) {
  SecretVolume volume;
  volume.update({{"2026-10-01.pem", pem_private_key("EC", "P-256")}});
  ASSERT_EQ(::mkfifo((volume.dir() / "pipe.pem").c_str(), 0600), 0);
  fs::create_directory(volume.dir() / "old");
  auto set = load_key_files(volume.dir());
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->keys, 1u);
  EXPECT_EQ(set->skipped,
            (std::vector<std::string>{"old: " + (volume.dir() / "old").string() + " is a directory, not a regular file",
                                      "pipe.pem: " + (volume.dir() / "pipe.pem").string() +
                                          " is a FIFO (named pipe), not a regular file"}));
}

TEST(KeyFiles, NoValidKeyIsAnError) {
  SecretVolume volume;
  volume.update({{"x.pem", "garbage"}});
  auto set = load_key_files(volume.dir());
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message.find("no valid key file (x.pem: neither a PEM key nor a JWK object)"),
            std::string::npos);
  EXPECT_FALSE(load_key_files("/nonexistent/keys"));
}

// ---- jwks: refresh rules ----------------------------------------------------------

class FixedRandom final : public RandomSource {
 public:
  void fill(std::span<unsigned char> out) override {
    for (auto& b : out) b = 0xff;  // the top of every jitter range
  }
};

FetchedJwks fetched(std::optional<std::chrono::seconds> max_age, std::string jwks = R"({"keys":[]})") {
  return FetchedJwks{std::move(jwks), 1, {}, max_age};
}

TEST(JwksRefresh, CacheControlIsHonouredWithinBounds) {
  JwksKeysetConfig c;  // 5m .. 24h, default 1h
  FixedRandom random;
  JwksRefreshState s(c, random);
  EXPECT_EQ(s.refresh_interval(600s), 10min);
  EXPECT_EQ(s.refresh_interval(1s), 5min);
  EXPECT_EQ(s.refresh_interval(0s), 5min);
  EXPECT_EQ(s.refresh_interval(std::chrono::seconds(86400 * 30)), 24h);
  EXPECT_EQ(s.refresh_interval(std::nullopt), 1h);
  auto step = s.on_result(fetched(900s), kStart);
  EXPECT_TRUE(step.publish);
  EXPECT_EQ(step.next_attempt, kStart + 15min);
  // The same document again: nothing to publish.
  EXPECT_FALSE(s.on_result(fetched(900s), kStart + 15min).publish);
  EXPECT_TRUE(s.on_result(fetched(900s, R"({"keys":[1]})"), kStart + 30min).publish);
}

TEST(JwksRefresh, FailuresKeepTheLastSetAndBackOff) {
  JwksKeysetConfig c;
  c.retry_min = 1s;
  c.retry_max = 60s;
  FixedRandom random;
  JwksRefreshState s(c, random);
  s.on_result(fetched(300s), kStart);
  TimePoint now = kStart + 5min;
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 8; ++i) {
    auto step = s.on_result(JwksFetchError{"down", 0}, now);
    EXPECT_FALSE(step.publish);
    waits.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(step.next_attempt - now));
    now = step.next_attempt;
  }
  EXPECT_EQ(waits.front(), 1s);
  EXPECT_EQ(waits[3], 8s);
  EXPECT_EQ(waits.back(), 60s) << "capped at retry_max";
  EXPECT_EQ(s.consecutive_failures(), 8u);
  ASSERT_TRUE(s.current());
  EXPECT_EQ(s.current()->jwks, R"({"keys":[]})");
  s.on_result(fetched(300s), now);
  EXPECT_EQ(s.consecutive_failures(), 0u);
}

TEST(JwksRefresh, OnDemandRefetchesAreRateLimitedByTheCooldown) {
  JwksKeysetConfig c;
  c.cooldown = 30s;
  FixedRandom random;
  JwksRefreshState s(c, random);
  EXPECT_TRUE(s.on_demand(kStart).accepted);
  s.fetch_started(kStart);
  auto d = s.on_demand(kStart + 10s);
  EXPECT_FALSE(d.accepted);
  EXPECT_EQ(d.retry_after, 20s);
  d = s.on_demand(kStart + 29s + 500ms);
  EXPECT_FALSE(d.accepted);
  EXPECT_EQ(d.retry_after, 1s);
  EXPECT_TRUE(s.on_demand(kStart + 30s).accepted);
}

}  // namespace
}  // namespace tw
