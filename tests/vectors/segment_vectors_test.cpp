// libtokenwell against the shared segment vectors (tests/vectors/segment):
// every case of vectors.json read through the public C API. The bindings run
// the same cases in their own tests, so every reader agrees byte for byte
// with the writer and with each other, refusals included.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_util.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kVectors = TOKENWELL_SEGMENT_VECTORS;

std::string status_name(int rc) {
  static const char* names[] = {"OK",     "EINVAL",   "ENOTFOUND", "ENOVALUE",
                                "EUNAVAILABLE", "EFORMAT", "EVERSION", "ETOOSMALL",
                                "ETIMEOUT", "EBUSY", "ENOMEM", "ESYSTEM"};
  return rc >= 0 && rc < 12 ? names[rc] : "code " + std::to_string(rc);
}

// Installs a vector file as DIR/segment the way the agent does: write
// elsewhere, rename over.
void install(const fs::path& dir, const std::string& file) {
  const auto tmp = dir / "segment.incoming";
  fs::copy_file(kVectors / file, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, dir / "segment");
}

std::vector<std::string> list_names(const tokenwell* tw) {
  std::vector<char> buf(4096);
  size_t len = 0;
  EXPECT_EQ(tokenwell_list(tw, buf.data(), buf.size(), &len), TOKENWELL_OK);
  std::vector<std::string> out;
  for (const char* p = buf.data(); *p != '\0'; p += std::strlen(p) + 1) out.emplace_back(p);
  return out;
}

// Every secret a case publishes: a failed read must leave none of them in a
// caller's buffer.
std::vector<std::string> secrets_of(const json& c) {
  std::vector<std::string> out;
  for (const char* key : {"reads", "reads_after_replace"})
    if (c.contains(key))
      for (const auto& r : c[key])
        if (r.contains("secret") && !r["secret"].get<std::string>().empty()) out.push_back(r["secret"]);
  return out;
}

void check_read(const tokenwell* tw, const json& want, const std::vector<std::string>& secrets) {
  const std::string name = want["name"];
  SCOPED_TRACE("read " + name + " as " + want["as"].get<std::string>());
  std::vector<char> secret(4096, 'x'), pub(4096, 'x');
  char username[TOKENWELL_USERNAME_MAX + 1] = "x";
  size_t secret_len = 0, pub_len = 0;
  int64_t expires_at = -1;
  uint64_t generation = 0;
  int rc;
  if (want["as"] == "credential") {
    rc = tokenwell_read(tw, name.c_str(), secret.data(), secret.size(), &secret_len, username,
                        sizeof username, &expires_at, &generation);
  } else {
    rc = tokenwell_read_keyset(tw, name.c_str(), pub.data(), pub.size(), &pub_len, secret.data(),
                               secret.size(), &secret_len, &generation);
    int kind = 0;
    if (rc == TOKENWELL_OK || rc == TOKENWELL_ENOVALUE)
      (void)tokenwell_stat(tw, name.c_str(), &kind, &expires_at, nullptr);
    username[0] = '\0';
  }
  ASSERT_EQ(status_name(rc), want["status"].get<std::string>());
  if (rc == TOKENWELL_OK) {
    EXPECT_EQ(std::string(secret.data(), secret_len), want["secret"].get<std::string>());
    EXPECT_EQ(std::string(username), want["username"].get<std::string>());
    if (want["as"] == "keyset") {
      EXPECT_EQ(std::string(pub.data(), pub_len), want["public"].get<std::string>());
    }
  }
  if (rc == TOKENWELL_OK || rc == TOKENWELL_ENOVALUE) {
    EXPECT_EQ(expires_at, want["expires_at"].get<int64_t>());
    EXPECT_EQ(generation, want["generation"].get<uint64_t>());
  }
  if (rc != TOKENWELL_OK) {
    const std::string left(secret.data(), secret.size());
    for (const auto& s : secrets)
      EXPECT_EQ(left.find(s.substr(0, 16)), std::string::npos) << "a failed read left a secret in the buffer";
  }
}

class SegmentVectors : public ::testing::TestWithParam<json> {};

TEST_P(SegmentVectors, ReadAsExpected) {
  const json& c = GetParam();
  test::TempDir dir;
  install(dir.path(), c["file"]);
  tokenwell* tw = nullptr;
  const int rc = tokenwell_open(dir.path().c_str(), &tw);
  ASSERT_EQ(status_name(rc), c["open"].get<std::string>());
  if (rc != TOKENWELL_OK) {
    EXPECT_EQ(tw, nullptr);
    return;
  }
  EXPECT_EQ(list_names(tw), c["list"].get<std::vector<std::string>>());
  if (c.contains("agent")) {
    int32_t pid = 0;
    int64_t heartbeat = 0;
    ASSERT_EQ(tokenwell_agent_info(tw, &pid, &heartbeat), TOKENWELL_OK);
    EXPECT_EQ(pid, c["agent"]["pid"].get<int32_t>());
    EXPECT_EQ(heartbeat, c["agent"]["heartbeat_ms"].get<int64_t>());
  }
  const auto secrets = secrets_of(c);
  for (const auto& r : c["reads"]) check_read(tw, r, secrets);
  if (c.contains("replaced_by")) {
    install(dir.path(), c["replaced_by"]);
    for (const auto& r : c["reads_after_replace"]) check_read(tw, r, secrets);
  }
  tokenwell_close(tw);
}

std::vector<json> cases() {
  std::ifstream in(kVectors / "vectors.json");
  return json::parse(in)["cases"].get<std::vector<json>>();
}

std::string case_name(const ::testing::TestParamInfo<json>& info) {
  std::string n = info.param["file"];
  n = n.substr(0, n.find('.'));
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Vectors, SegmentVectors, ::testing::ValuesIn(cases()), case_name);

// The committed files are what today's writer produces.
TEST(SegmentVectorsCurrent, RegeneratedFilesAreIdentical) {
  test::TempDir out;
  const std::string cmd = std::string(TOKENWELL_VECTOR_GENERATOR) + " " + out.path().string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::size_t compared = 0;
  for (const auto& e : fs::directory_iterator(out.path())) {
    const auto name = e.path().filename();
    SCOPED_TRACE(name.string());
    ASSERT_TRUE(fs::exists(kVectors / name)) << "not committed; regenerate tests/vectors/segment";
    EXPECT_EQ(test::read_file(e.path()), test::read_file(kVectors / name))
        << "differs from the committed vector; regenerate tests/vectors/segment if the change is intended";
    ++compared;
  }
  std::size_t committed = 0;
  for (const auto& e : fs::directory_iterator(kVectors))
    if (e.path().extension() == ".seg" || e.path().filename() == "vectors.json") ++committed;
  EXPECT_EQ(compared, committed) << "a committed vector is no longer generated";
}

}  // namespace
}  // namespace tw
