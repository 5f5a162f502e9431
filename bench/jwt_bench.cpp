// jwt_bench.cpp -- JWT verification per second through libtokenwell-jwt with
// the keys read from a real segment (tokenwell_jwt_verify: keyset snapshot,
// JWKS and key parsing, signature, claims), for an ES256 and an RS256 token,
// and the same with the JWKS given as a string (tokenwell_jwt_verify_jwks) to
// show what the segment read costs. Keys: tests/jwt/test_keys.json. Run with
// bench/run_jwt.sh; results and the command are in docs/benchmarks-jwt.md.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/jwt.h"

namespace {

nlohmann::json public_jwk(nlohmann::json k) {
  for (const char* m : {"d", "p", "q", "dp", "dq", "qi"}) k.erase(m);
  return k;
}

class World {
 public:
  static World& get() {
    static World w;
    return w;
  }
  tokenwell* tw = nullptr;
  std::string jwks[2], token[2];  // 0: ES256, 1: RS256

 private:
  World() {
    char tmpl[] = "/tmp/tokenwell-jwt-bench-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ifstream in(TOKENWELL_JWT_TEST_KEYS);
    const auto keys = nlohmann::json::parse(in);
    auto writer = tw::SegmentWriter::open(dir_, {4, 16 * 1024}, clock_);
    if (!writer) throw std::runtime_error(writer.error().message);
    writer_ = std::move(*writer);
    const char* algs[2] = {"ES256", "RS256"};
    for (int i = 0; i < 2; ++i) {
      // Two keys per set, as during a rotation: the token's and another.
      jwks[i] = nlohmann::json{{"keys", {public_jwk(keys[algs[i]]), public_jwk(keys[algs[1 - i]])}}}.dump();
      const std::string secret = keys[algs[i]].dump();
      tw::SlotValue v;
      v.kind = tw::SlotKind::keyset;
      v.public_data = jwks[i];
      v.secret = secret;
      if (!writer_->publish(algs[i], v)) throw std::runtime_error("publish");
    }
    if (tokenwell_open(dir_.c_str(), &tw) != TOKENWELL_OK) throw std::runtime_error("open");
    for (int i = 0; i < 2; ++i) {
      char buf[4096];
      size_t len = 0;
      if (tokenwell_jwt_sign(tw, algs[i], R"({"sub":"alice","aud":"api"})", 3600, buf, sizeof buf, &len) !=
          TOKENWELL_OK)
        throw std::runtime_error("sign");
      token[i].assign(buf, len);
    }
  }
  ~World() {
    tokenwell_close(tw);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
  tw::SystemClock clock_;
  std::unique_ptr<tw::SegmentWriter> writer_;
};

void verify_segment(benchmark::State& state, int which, const char* keyset) {
  World& w = World::get();
  const tokenwell_jwt_verify_options opts = {sizeof opts, "api", nullptr, -1, 0};
  char claims[1024];
  for (auto _ : state) {
    if (tokenwell_jwt_verify(w.tw, keyset, w.token[which].c_str(), &opts, claims, sizeof claims, nullptr) !=
        TOKENWELL_OK)
      state.SkipWithError("verify failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void verify_string(benchmark::State& state, int which) {
  World& w = World::get();
  const tokenwell_jwt_verify_options opts = {sizeof opts, "api", nullptr, -1, 0};
  char claims[1024];
  for (auto _ : state) {
    if (tokenwell_jwt_verify_jwks(w.jwks[which].c_str(), w.token[which].c_str(), &opts, claims, sizeof claims,
                                  nullptr) != TOKENWELL_OK)
      state.SkipWithError("verify failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void SegmentVerifyES256(benchmark::State& s) { verify_segment(s, 0, "ES256"); }
void SegmentVerifyRS256(benchmark::State& s) { verify_segment(s, 1, "RS256"); }
void JwksStringVerifyES256(benchmark::State& s) { verify_string(s, 0); }
void JwksStringVerifyRS256(benchmark::State& s) { verify_string(s, 1); }

BENCHMARK(SegmentVerifyES256)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(SegmentVerifyRS256)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(JwksStringVerifyES256)->UseRealTime();
BENCHMARK(JwksStringVerifyRS256)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
