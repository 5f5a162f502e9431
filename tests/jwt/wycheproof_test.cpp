// The Wycheproof JOSE vectors (json_web_signature_test.json,
// json_web_key_test.json, json_web_crypto_test.json), read from
// TOKENWELL_WYCHEPROOF_DIR (a CMake cache variable; default
// ../shared/vectors/wycheproof beside the checkout, never copied into the
// repository). Each vector's key (its group's "public", else "private") is
// parsed as a keyset and its compact JWS verified: "valid" must verify,
// "invalid" must be refused, "acceptable" may go either way -- except the
// vectors listed in kWrongInFile, which the file itself proves wrong.
// JWE vectors are counted apart: the library signs and verifies only.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenwell/jose/jose.hpp"

namespace tw::jose {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Vectors whose expected result the file contradicts, with the proof; the
// library does what the reason says, and the test checks it still does.
struct WrongVector {
  bool accepted;  // what the library does instead of the file's result
  const char* reason;
};
const std::map<std::pair<std::string, int>, WrongVector>& wrong_in_file() {
  static const std::map<std::pair<std::string, int>, WrongVector> wrong = {
      {{"json_web_signature_test.json", 367},
       {true, "marked invalid (invalidBase64Padding) but its JWS is byte for byte the valid tc357"}},
      {{"json_web_signature_test.json", 370},
       {true, "marked invalid (invalidBase64PaddingInPayload) but its JWS is byte for byte the valid tc357"}},
      // The RFC 7520 examples with keys the file changed: the key decides the
      // algorithm (RFC 7517 4.4, RFC 8725 3.1), and "ES521" is no JWA name.
      {{"json_web_signature_test.json", 346},
       {false, "RFC 7520 figure 20 is signed PS384 but the file's key says \"alg\":\"PS256\""}},
      {{"json_web_signature_test.json", 350},
       {false, "RFC 7520 figure 20 is signed PS384 but the file's key says \"alg\":\"PS256\""}},
      {{"json_web_signature_test.json", 347},
       {false, "the file's key says \"alg\":\"ES521\", not a JWA algorithm (RFC 7518 3.1: ES512)"}},
      {{"json_web_signature_test.json", 351},
       {false, "the file's key says \"alg\":\"ES521\", not a JWA algorithm (RFC 7518 3.1: ES512)"}},
      // Marked valid, yet their comments say what they are: a '?' inserted,
      // outside the base64url alphabet the compact serialization requires
      // (RFC 7515 7.1, RFC 4648 5).
      {{"json_web_signature_test.json", 372},
       {false, "marked valid (InvalidCharacterInsertedInHeader): '?' is not base64url"}},
      {{"json_web_signature_test.json", 373},
       {false, "marked valid (InvalidCharacterInsertedInPayload): '?' is not base64url"}},
  };
  return wrong;
}

struct Tally {
  int valid = 0, valid_ok = 0;
  int invalid = 0, invalid_ok = 0;
  int acceptable = 0, acceptable_accepted = 0;
  int jwe = 0;
  int wrong_in_file = 0;
};

// Verifies `jws` with `key` (a JWK or JWKS): true when accepted.
bool accepts(const json& key, const json& jws) {
  if (!jws.is_string()) return false;  // JSON serialization: compact only
  try {
    (void)verify_jws(KeySet::parse(key.dump()), jws.get<std::string>());
    return true;
  } catch (const Rejection&) {
    return false;
  }
}

fs::path vectors_dir() { return TOKENWELL_WYCHEPROOF_DIR; }

class Wycheproof : public ::testing::TestWithParam<const char*> {};

TEST_P(Wycheproof, EveryVectorAsExpected) {
  const fs::path path = vectors_dir() / GetParam();
  if (!fs::exists(path))
    GTEST_SKIP() << "Wycheproof vectors not found at " << path
                 << " (set -DTOKENWELL_WYCHEPROOF_DIR=... to the directory holding " << GetParam() << ")";
  std::ifstream in(path);
  const json file = json::parse(in);
  Tally t;
  for (const json& group : file.at("testGroups")) {
    const json& key = group.contains("public") ? group.at("public") : group.at("private");
    for (const json& test : group.at("tests")) {
      const int id = test.at("tcId").get<int>();
      const std::string result = test.at("result").get<std::string>();
      if (!test.contains("jws")) {
        ++t.jwe;
        continue;
      }
      const bool accepted = accepts(key, test.at("jws"));
      const std::string where = std::string(GetParam()) + " tc" + std::to_string(id) + " (" +
                                test.value("comment", "") + ", group " + group.value("type", "") + ")";
      if (const auto w = wrong_in_file().find({GetParam(), id}); w != wrong_in_file().end()) {
        ++t.wrong_in_file;
        EXPECT_EQ(accepted, w->second.accepted) << where << ": " << w->second.reason;
        continue;
      }
      if (result == "valid") {
        ++t.valid;
        t.valid_ok += accepted;
        EXPECT_TRUE(accepted) << where << ": valid, refused";
      } else if (result == "invalid") {
        ++t.invalid;
        t.invalid_ok += !accepted;
        EXPECT_FALSE(accepted) << where << ": invalid, accepted";
      } else {
        ++t.acceptable;
        t.acceptable_accepted += accepted;
      }
    }
  }
  std::cout << "wycheproof " << GetParam() << ": valid " << t.valid_ok << "/" << t.valid
            << " accepted, invalid " << t.invalid_ok << "/" << t.invalid << " refused, acceptable "
            << t.acceptable_accepted << "/" << t.acceptable << " accepted, " << t.wrong_in_file
            << " wrong in the file, " << t.jwe << " JWE not applicable\n";
}

INSTANTIATE_TEST_SUITE_P(Files, Wycheproof,
                         ::testing::Values("json_web_signature_test.json", "json_web_key_test.json",
                                           "json_web_crypto_test.json"),
                         [](const ::testing::TestParamInfo<const char*>& file) {
                           std::string name = file.param;
                           name = name.substr(0, name.find('.'));
                           std::erase(name, '_');
                           return name;
                         });

}  // namespace
}  // namespace tw::jose
