// The corpus of bad tokens: every rejection class of RFC 8725 and the CVE
// classes behind them, each refused with its own code through the C ABI.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "jwt_test_util.hpp"
#include "tokenwell/jwt.h"

namespace tw::test {
namespace {

constexpr std::int64_t kNow = 1700000000;
const std::string kClaims = R"({"sub":"alice","iat":1700000000,"exp":1700000600})";

int verify_code(const std::string& jwks, const std::string& token, const char* aud = nullptr,
                const char* iss = nullptr) {
  tokenwell_jwt_verify_options opts = {sizeof opts, aud, iss, -1, kNow};
  return tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(), &opts, nullptr, 0, nullptr);
}

std::string header(const std::string& alg, const std::string& kid, const std::string& extra = "") {
  return R"({"alg":")" + alg + R"(","kid":")" + kid + "\"" + extra + "}";
}

// A valid ES256 token with parts replaced.
std::string es256(const std::string& h, const std::string& claims = kClaims) {
  return forge(key_of("ES256"), h, claims);
}

struct Case {
  std::string name;
  std::function<std::string()> token;
  int expected;
  std::string jwks = jwks_of({"ES256", "RS256", "EdDSA"});
  const char* aud = nullptr;
  const char* iss = nullptr;
};

std::string replace_signature(const std::string& token, const std::string& raw_signature) {
  return token.substr(0, token.rfind('.') + 1) + b64(raw_signature);
}

std::string rs_public_pem_bytes() {
  // The HS/RS confusion: the attacker MACs with the RSA public key's text.
  return public_jwk_json("RS256").dump();
}

const std::vector<Case>& corpus() {
  static const std::vector<Case> cases = {
      {"valid_control", [] { return es256(header("ES256", "es-1")); }, TOKENWELL_OK},
      // Structure and encoding.
      {"two_parts", [] { return std::string("eyJhbGciOiJFUzI1NiJ9.e30"); }, TOKENWELL_JWT_EMALFORMED},
      {"jwe_five_parts", [] { return std::string("a.b.c.d.e"); }, TOKENWELL_JWT_EMALFORMED},
      {"empty_header", [] { return std::string(".e30.AAAA"); }, TOKENWELL_JWT_EMALFORMED},
      {"json_serialization", [] { return std::string(R"({"payload":"e30","signatures":[]})"); },
       TOKENWELL_JWT_EMALFORMED},
      {"padded_base64",
       [] {
         const std::string t = es256(header("ES256", "es-1"));
         return t.substr(0, t.find('.')) + "==" + t.substr(t.find('.'));
       },
       TOKENWELL_JWT_EBASE64},
      {"standard_base64_alphabet",
       [] { return b64(header("ES256", "es-1")) + ".e30+.AAAA"; }, TOKENWELL_JWT_EBASE64},
      {"non_canonical_trailing_bits",
       [] {
         // The signature's last character changed so only its unused bits differ.
         std::string t = es256(header("ES256", "es-1"));
         char& last = t.back();
         last = last == 'A' ? 'B' : (last == 'Q' ? 'R' : (last == 'g' ? 'h' : (last == 'w' ? 'x' : 'A')));
         return t;
       },
       TOKENWELL_JWT_EBASE64},
      {"whitespace", [] { return " " + es256(header("ES256", "es-1")); }, TOKENWELL_JWT_EBASE64},
      {"header_not_json", [] { return b64("not json") + ".e30.AAAA"; }, TOKENWELL_JWT_EJSON},
      {"header_array", [] { return b64("[1]") + ".e30.AAAA"; }, TOKENWELL_JWT_EJSON},
      {"claims_not_object", [] { return es256(header("ES256", "es-1"), "[1,2]"); }, TOKENWELL_JWT_EJSON},
      {"oversized_token", [] { return std::string(TOKENWELL_JWT_TOKEN_MAX + 1, 'a'); },
       TOKENWELL_JWT_ETOOLARGE},
      {"deep_nesting",
       [] { return es256(header("ES256", "es-1"), std::string(100, '[') + std::string(100, ']')); },
       TOKENWELL_JWT_ETOOLARGE},
      // Duplicate members: a verifier and another parser must not disagree.
      {"duplicate_header_alg",
       [] { return es256(R"({"alg":"HS256","kid":"es-1","alg":"ES256"})"); }, TOKENWELL_JWT_EDUPLICATE},
      {"duplicate_claim_sub",
       [] { return es256(header("ES256", "es-1"), R"({"sub":"alice","exp":1700000600,"sub":"admin"})"); },
       TOKENWELL_JWT_EDUPLICATE},
      {"duplicate_nested_claim",
       [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"r":{"a":1,"a":2}})"); },
       TOKENWELL_JWT_EDUPLICATE},
      // alg none (CVE-2015-9235 class): in any case, with or without a signature.
      {"alg_none", [] { return b64(R"({"alg":"none"})") + "." + b64(kClaims) + "."; },
       TOKENWELL_JWT_EALG_NONE},
      {"alg_None", [] { return b64(R"({"alg":"None","kid":"es-1"})") + "." + b64(kClaims) + ".AAAA"; },
       TOKENWELL_JWT_EALG_NONE},
      {"alg_NONE_signed",
       [] { return es256(R"({"alg":"NONE","kid":"es-1"})"); }, TOKENWELL_JWT_EALG_NONE},
      {"alg_missing", [] { return es256(R"({"kid":"es-1"})"); }, TOKENWELL_JWT_EALG_UNKNOWN},
      {"alg_not_string", [] { return es256(R"({"alg":256,"kid":"es-1"})"); }, TOKENWELL_JWT_EALG_UNKNOWN},
      {"alg_es521", [] { return es256(header("ES521", "es-1")); }, TOKENWELL_JWT_EALG_UNKNOWN},
      {"alg_es512_on_es256_key", [] { return es256(header("ES512", "es-1")); }, TOKENWELL_JWT_EALG_KEY},
      // HS/RS confusion (CVE-2015-9235, CVE-2016-10555): an HMAC keyed with the
      // public key, naming the RSA key. The RSA key allows only RS256.
      {"hs256_with_rsa_public_key",
       [] {
         const std::string secret = rs_public_pem_bytes();
         const std::string k = R"({"kty":"oct","k":")" + b64(secret) + "\"}";
         return forge(jose::Key::parse_private(k), header("HS256", "rs-1"), kClaims);
       },
       TOKENWELL_JWT_EALG_KEY},
      {"ps256_on_rs256_key",
       [] { return forge(key_of("PS256"), header("PS256", "rs-1"), kClaims); }, TOKENWELL_JWT_EALG_KEY},
      {"es256_token_naming_eddsa_key", [] { return es256(header("ES256", "ed-1")); }, TOKENWELL_JWT_EALG_KEY},
      // Keys chosen by the token: embedded (CVE-2018-0114) or fetched.
      {"embedded_jwk",
       [] { return es256(header("ES256", "es-1", ",\"jwk\":" + public_jwk_json("ES256").dump())); },
       TOKENWELL_JWT_EEMBEDDED_KEY},
      {"embedded_x5c", [] { return es256(header("ES256", "es-1", R"(,"x5c":["MIIB"])")); },
       TOKENWELL_JWT_EEMBEDDED_KEY},
      {"jku", [] { return es256(header("ES256", "es-1", R"(,"jku":"https://evil.example/jwks")")); },
       TOKENWELL_JWT_EKEY_URL},
      {"x5u", [] { return es256(header("ES256", "es-1", R"(,"x5u":"https://evil.example/c.pem")")); },
       TOKENWELL_JWT_EKEY_URL},
      {"crit_unknown", [] { return es256(header("ES256", "es-1", R"(,"crit":["exp"],"exp":1)")); },
       TOKENWELL_JWT_ECRIT},
      {"crit_b64", [] { return es256(header("ES256", "es-1", R"(,"crit":["b64"],"b64":false)")); },
       TOKENWELL_JWT_ECRIT},
      // kid injection: a kid is only ever an exact lookup in the keyset.
      {"kid_path_traversal", [] { return es256(header("ES256", "../../../../dev/null")); },
       TOKENWELL_JWT_EKID_UNKNOWN},
      {"kid_sql", [] { return es256(header("ES256", "x' UNION SELECT 'key")); }, TOKENWELL_JWT_EKID_UNKNOWN},
      {"kid_not_string", [] { return es256(R"({"alg":"ES256","kid":7})"); }, TOKENWELL_JWT_EKID_UNKNOWN},
      {"kid_missing_several_keys", [] { return es256(R"({"alg":"ES256"})"); }, TOKENWELL_JWT_EKID_MISSING},
      // Signatures.
      {"signature_of_other_key",
       [] { return replace_signature(es256(header("ES256", "es-1")), key_of("ES256").sign("other")); },
       TOKENWELL_JWT_ESIGNATURE},
      {"claims_changed_after_signing",
       [] {
         const std::string t = es256(header("ES256", "es-1"));
         const std::size_t a = t.find('.'), b = t.rfind('.');
         return t.substr(0, a + 1) + b64(R"({"sub":"admin","exp":1700000600})") + t.substr(b);
       },
       TOKENWELL_JWT_ESIGNATURE},
      {"psychic_signature_r_s_zero",  // CVE-2022-21449
       [] { return replace_signature(es256(header("ES256", "es-1")), std::string(64, '\0')); },
       TOKENWELL_JWT_ESIG_FORMAT},
      {"ecdsa_s_equals_n",
       [] {
         std::string sig(32, '\x01');
         const unsigned char n[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                      0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
         sig.append(reinterpret_cast<const char*>(n), 32);
         return replace_signature(es256(header("ES256", "es-1")), sig);
       },
       TOKENWELL_JWT_ESIG_FORMAT},
      {"ecdsa_der_signature",
       [] {
         // DER (what OpenSSL emits) instead of R||S: wrong length.
         std::string der = "\x30\x44\x02\x20" + std::string(32, '\x11') + "\x02\x20" + std::string(32, '\x22');
         return replace_signature(es256(header("ES256", "es-1")), der);
       },
       TOKENWELL_JWT_ESIG_FORMAT},
      {"ecdsa_truncated", [] { return replace_signature(es256(header("ES256", "es-1")), std::string(63, '\x11')); },
       TOKENWELL_JWT_ESIG_FORMAT},
      {"rsa_short_signature",
       [] { return replace_signature(forge(key_of("RS256"), header("RS256", "rs-1"), kClaims), std::string(255, 'x')); },
       TOKENWELL_JWT_ESIG_FORMAT},
      {"eddsa_empty_signature",
       [] {
         const std::string t = forge(key_of("EdDSA"), header("EdDSA", "ed-1"), kClaims);
         return t.substr(0, t.rfind('.') + 1);
       },
       TOKENWELL_JWT_ESIG_FORMAT},
      {"hs256_truncated_mac",
       [] { return replace_signature(forge(key_of("HS256"), header("HS256", "hs-1"), kClaims), std::string(16, 'x')); },
       TOKENWELL_JWT_ESIG_FORMAT, jwks_of({"HS256"})},
      {"hs256_wrong_mac",
       [] { return replace_signature(forge(key_of("HS256"), header("HS256", "hs-1"), kClaims), std::string(32, 'x')); },
       TOKENWELL_JWT_ESIGNATURE, jwks_of({"HS256"})},
      // Weak keys in the keyset.
      // rsa_1024_key: tests/fuzz/corpus/jwt_verify/115-rsa_1024_key.jwt (this library
      // refuses to sign with such a key, so PyJWT made it).
      {"hmac_128_bit_key",
       [] {
         const std::string k = test_keys().at("HS256_short").at("k");
         const std::string raw = *jose::base64url_decode(k);
         const std::string big = R"({"kty":"oct","k":")" + b64(raw + raw) + "\"}";
         return forge(jose::Key::parse_private(big), header("HS256", "hs-short"), kClaims);
       },
       TOKENWELL_JWT_EWEAK_KEY, jwks_of({"HS256_short", "HS256"})},
      {"keyset_without_keys", [] { return es256(header("ES256", "es-1")); }, TOKENWELL_JWT_EKID_UNKNOWN,
       R"({"keys":[]})"},
      {"keyset_not_jwks", [] { return es256(header("ES256", "es-1")); }, TOKENWELL_JWT_EKEY, R"({"foo":1})"},
      {"keyset_point_off_curve",
       [] { return es256(header("ES256", "es-1")); }, TOKENWELL_JWT_EKEY,
       [] {
         nlohmann::json k = public_jwk_json("ES256");
         std::string y = *jose::base64url_decode(k["y"].get<std::string>());
         y[31] = static_cast<char>(y[31] ^ 1);
         k["y"] = b64(y);
         return nlohmann::json{{"keys", {k}}}.dump();
       }()},
      // Claims.
      {"exp_missing", [] { return es256(header("ES256", "es-1"), R"({"sub":"a"})"); }, TOKENWELL_JWT_EEXP_MISSING},
      {"exp_string", [] { return es256(header("ES256", "es-1"), R"({"exp":"1700000600"})"); },
       TOKENWELL_JWT_ECLAIM_TYPE},
      {"expired_beyond_leeway", [] { return es256(header("ES256", "es-1"), R"({"exp":1699999940})"); },
       TOKENWELL_JWT_EEXPIRED},
      {"expired_within_leeway_ok", [] { return es256(header("ES256", "es-1"), R"({"exp":1699999941})"); },
       TOKENWELL_OK},
      {"nbf_future", [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"nbf":1700000061})"); },
       TOKENWELL_JWT_ENOT_YET_VALID},
      {"nbf_within_leeway_ok",
       [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"nbf":1700000060})"); }, TOKENWELL_OK},
      {"iat_future", [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"iat":1700000100})"); },
       TOKENWELL_JWT_EIAT_FUTURE},
      {"iss_wrong", [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"iss":"mallory"})"); },
       TOKENWELL_JWT_EISSUER, jwks_of({"ES256"}), nullptr, "https://issuer.example"},
      {"iss_missing", [] { return es256(header("ES256", "es-1")); }, TOKENWELL_JWT_EISSUER, jwks_of({"ES256"}),
       nullptr, "https://issuer.example"},
      {"aud_wrong", [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"aud":"other"})"); },
       TOKENWELL_JWT_EAUDIENCE, jwks_of({"ES256"}), "api"},
      {"aud_array_without", [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"aud":["a","b"]})"); },
       TOKENWELL_JWT_EAUDIENCE, jwks_of({"ES256"}), "api"},
      {"aud_array_with_ok",
       [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"aud":["a","api"]})"); }, TOKENWELL_OK,
       jwks_of({"ES256"}), "api"},
      // A UTF-8 byte order mark is no part of JSON (RFC 8259 8.1).
      {"bom_before_header", [] { return es256("\xef\xbb\xbf" + header("ES256", "es-1")); }, TOKENWELL_JWT_EJSON},
      {"bom_before_claims", [] { return es256(header("ES256", "es-1"), "\xef\xbb\xbf" + kClaims); },
       TOKENWELL_JWT_EJSON},
      // An empty payload is a JWS but no JWT.
      {"empty_payload", [] { return es256(header("ES256", "es-1"), ""); }, TOKENWELL_JWT_EMALFORMED},
      {"aud_number", [] { return es256(header("ES256", "es-1"), R"({"exp":1700000600,"aud":7})"); },
       TOKENWELL_JWT_ECLAIM_TYPE, jwks_of({"ES256"}), "api"},
  };
  return cases;
}

class Corpus : public ::testing::TestWithParam<std::size_t> {};

TEST_P(Corpus, RejectedWithItsCode) {
  const Case& c = corpus()[GetParam()];
  const std::string token = c.token();
  // TOKENWELL_JWT_WRITE_CORPUS=1 refreshes tests/fuzz/corpus/jwt_verify (the
  // fuzzer's seeds, which the test below checks too) from this table.
  if (std::getenv("TOKENWELL_JWT_WRITE_CORPUS") != nullptr && c.jwks == jwks_of({"ES256", "RS256", "EdDSA"}) &&
      c.aud == nullptr && c.iss == nullptr && token.size() < 4096)
    std::ofstream(std::string(TOKENWELL_JWT_CORPUS) + "/" + std::to_string(c.expected) + "-" + c.name + ".jwt")
        << token << "\n";
  const int rc = verify_code(c.jwks, token, c.aud, c.iss);
  EXPECT_EQ(rc, c.expected) << c.name << ": got " << rc << " (" << tokenwell_jwt_strerror(rc)
                            << "), want " << c.expected << " (" << tokenwell_jwt_strerror(c.expected) << ")";
}

INSTANTIATE_TEST_SUITE_P(Jwt, Corpus, ::testing::Range<std::size_t>(0, corpus().size()),
                         [](const auto& param_info) { return corpus()[param_info.param].name; });

TEST(CorpusFiles, EveryFileIsRejectedWithTheCodeItNames) {
  // tests/fuzz/corpus/jwt_verify/CODE-name.jwt: fixed tokens kept as files
  // (the fuzzer's seeds), verified against the ES256/RS256/EdDSA test keyset
  // and a 1024-bit RSA key. The fuzzer's other seeds (a JWKS line, then a
  // token) are not named by a code.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TOKENWELL_JWT_CORPUS)) {
    const std::string file = entry.path().filename().string();
    if (file.empty() || file[0] < '0' || file[0] > '9' || entry.path().extension() != ".jwt") continue;
    std::ifstream in(entry.path());
    std::string token((std::istreambuf_iterator<char>(in)), {});
    while (!token.empty() && token.back() == '\n') token.pop_back();
    const int expected = std::stoi(entry.path().filename().string());
    EXPECT_EQ(verify_code(jwks_of({"ES256", "RS256", "EdDSA", "RS256_1024"}), token), expected)
        << entry.path();
    ++files;
  }
  EXPECT_GE(files, 10u);
}

TEST(Strerror, EveryCodeHasItsOwnText) {
  std::set<std::string> seen;
  for (int code = TOKENWELL_JWT_EMALFORMED; code <= TOKENWELL_JWT_EKID_DUPLICATE; ++code)
    EXPECT_TRUE(seen.insert(tokenwell_jwt_strerror(code)).second) << code;
  EXPECT_STREQ(tokenwell_jwt_strerror(TOKENWELL_ENOTFOUND), tokenwell_strerror(TOKENWELL_ENOTFOUND));
  // jwt.h owns 100-199: a code of its range it does not know is unknown, and
  // the core library's text for the range points here.
  EXPECT_STREQ(tokenwell_jwt_strerror(199), "unknown error code");
  EXPECT_NE(std::string(tokenwell_strerror(TOKENWELL_JWT_EMALFORMED)).find("tokenwell_jwt_strerror"),
            std::string::npos);
  static_assert(TOKENWELL_JWT_EMALFORMED >= 100 && TOKENWELL_JWT_EKID_DUPLICATE <= 199);
}

}  // namespace
}  // namespace tw::test
