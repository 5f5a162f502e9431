// `tokenwell list`: every entry with kind, state, expiry and generation, as a
// table or JSON, and never a secret.
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.hpp"

namespace tw::test {
namespace {

class List : public CliTest {
 protected:
  // One entry in each state, with secrets that must not be printed.
  void publish_every_state() {
    valid_gen = publish("redis", credential("oid-valid", "SECRET-valid", expires));
    expired_gen = publish("old", credential("oid-expired", "SECRET-expired", now_s() - 60));
    SlotValue pending = credential("oid-pending", "SECRET-pending", expires);
    pending.has_value = false;
    pending_gen = publish("new", pending);
    SlotValue keys;
    keys.kind = SlotKind::keyset;
    keys.secret = "SECRET-private-key";
    keys.public_data = R"({"keys":[]})";
    keys.expires_at = 0;
    keyset_gen = publish("sessions", keys);
  }
  void expect_no_secret(const Outcome& o) {
    for (const char* secret : {"SECRET", "oid-"}) {
      EXPECT_EQ(o.out.find(secret), std::string::npos) << o.out;
      EXPECT_EQ(o.err.find(secret), std::string::npos) << o.err;
    }
  }
  const std::int64_t expires = now_s() + 3600;
  std::uint64_t valid_gen = 0, expired_gen = 0, pending_gen = 0, keyset_gen = 0;
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string squeeze(const std::string& line) {  // columns joined by one space
  std::istringstream in(line);
  std::string word, out;
  while (in >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

TEST_F(List, TableShowsEveryEntrySortedByName) {
  publish_every_state();
  const Outcome o = tokenwell({"list"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto rows = lines(o.out);
  ASSERT_EQ(rows.size(), 5u) << o.out;
  EXPECT_EQ(squeeze(rows[0]), "NAME KIND STATE EXPIRES GENERATION");
  EXPECT_TRUE(squeeze(rows[1]).starts_with("new credential pending ")) << rows[1];
  EXPECT_TRUE(squeeze(rows[1]).ends_with(" " + std::to_string(pending_gen)));
  EXPECT_TRUE(squeeze(rows[2]).starts_with("old credential expired ")) << rows[2];
  EXPECT_TRUE(squeeze(rows[3]).starts_with("redis credential valid ")) << rows[3];
  EXPECT_TRUE(squeeze(rows[3]).ends_with("Z " + std::to_string(valid_gen))) << rows[3];
  EXPECT_EQ(squeeze(rows[4]), "sessions keyset valid never " + std::to_string(keyset_gen));
  // Columns line up: every row has GENERATION's column at the same offset.
  const auto column = rows[0].find("GENERATION");
  for (const auto& row : rows) EXPECT_NE(row[column], ' ') << row;
  expect_no_secret(o);
}

TEST_F(List, JsonHasOneObjectPerEntry) {
  publish_every_state();
  const Outcome o = tokenwell({"list", "--json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto json = nlohmann::json::parse(o.out);
  const auto entry = [](std::string name, std::string kind, std::string state,
                        std::int64_t expires_at, std::uint64_t generation) {
    return nlohmann::json{{"name", name}, {"kind", kind}, {"state", state},
                          {"expires_at", expires_at}, {"generation", generation}};
  };
  EXPECT_EQ(json, nlohmann::json::array(
                      {entry("new", "credential", "pending", expires, pending_gen),
                       entry("old", "credential", "expired", json[1]["expires_at"], expired_gen),
                       entry("redis", "credential", "valid", expires, valid_gen),
                       entry("sessions", "keyset", "valid", 0, keyset_gen)}));
  EXPECT_LT(json[1]["expires_at"].get<std::int64_t>(), now_s());
  expect_no_secret(o);
}

TEST_F(List, EmptySegmentListsNothing) {
  writer();
  EXPECT_EQ(squeeze(tokenwell({"list"}).out), "NAME KIND STATE EXPIRES GENERATION");
  EXPECT_EQ(tokenwell({"list", "--json"}).out, "[]\n");
}

TEST_F(List, MissingSegmentIs5) {
  const Outcome o = tokenwell({"list"});
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: no segment at " + segment_path() + " (is tokenwell-agent running?)\n");
}

}  // namespace
}  // namespace tw::test
