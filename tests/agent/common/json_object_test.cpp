// parse_json_document's error lines: the JSON path they start with is shown
// whole when short and, past kMaxShownPath, as its first part, "…" and its
// last parts, so a deep document of long keys cannot make a long line.
#include <gtest/gtest.h>

#include <string>

#include "tokenwell/agent/common/json_object.hpp"

namespace tw {
namespace {

constexpr std::string_view kEllipsis = "\xe2\x80\xa6";

// `depth` objects inside each other, the i-th (1-based) under key(i), with
// an invalid literal at the bottom: a syntax error at the deepest path.
std::string nested(int depth, const auto& key) {
  std::string text;
  for (int i = 1; i <= depth; ++i) text += "{\"" + key(i) + "\": ";
  text += "nope";
  for (int i = 1; i <= depth; ++i) text += "}";
  return text;
}

std::string path_of(const Result<nlohmann::json>& r) {
  EXPECT_FALSE(r);
  if (r) return {};
  const std::string& line = r.error().message;
  return line.substr(0, line.find(": not valid JSON"));
}

TEST(JsonErrorPath, AShortPathIsShownWhole) {
  EXPECT_EQ(path_of(parse_json_document(R"({"a": {"b": [1, {"c": nope}]}})")), "a.b[1].c");
  const auto key = [](int i) { return "k" + std::to_string(i); };
  EXPECT_EQ(path_of(parse_json_document(nested(16, key))), "k1.k2.k3.k4.k5.k6.k7.k8.k9.k10.k11.k12.k13.k14.k15.k16");
}

TEST(JsonErrorPath, ALongPathKeepsItsFirstAndLastPartsAroundAnEllipsis) {
  // 16 keys of 40 characters: 655 bytes whole. The first key, "…", then as
  // many whole last parts (".key", 41 bytes) as fit in 256 bytes: five.
  const auto key = [](int i) { return std::string(38, 'a') + (i < 10 ? "0" : "") + std::to_string(i); };
  std::string expected = key(1) + "." + std::string(kEllipsis);
  for (int i = 12; i <= 16; ++i) expected += "." + key(i);
  const std::string path = path_of(parse_json_document(nested(16, key)));
  EXPECT_EQ(path, expected);
  EXPECT_LE(path.size(), kMaxShownPath);
}

TEST(JsonErrorPath, TheWorstPathIsAFirstAndALastKeyCutAndEscaped) {
  // Keys of 100 DEL bytes: each shown as 64 "\x7f" and "..." (259 bytes).
  // Before the cap, 16 of them made a 4.2 KiB line (the fuzzer's seed).
  const std::string del(100, '\x7f');
  const auto result = parse_json_document(nested(16, [&](int) { return del; }));
  const std::string shown = printable(del);
  ASSERT_EQ(shown.size(), 259u);
  EXPECT_EQ(path_of(result), shown + "." + std::string(kEllipsis) + "." + shown);
  EXPECT_EQ(path_of(result).size(), 523u);
  ASSERT_FALSE(result);
  EXPECT_LT(result.error().message.size(), 1024u) << result.error().message;
}

TEST(JsonErrorPath, AKeyKeepsItsArrayIndices) {
  // The top-level array's index is the first part; a key and the index
  // after it are one part, never cut apart.
  std::string text = "[";
  const std::string key(60, 'x');
  for (int i = 0; i < 7; ++i) text += "{\"" + key + "\": [";
  text += "nope";
  const std::string path = path_of(parse_json_document(text));
  EXPECT_TRUE(path.starts_with("[0]." + std::string(kEllipsis) + ".")) << path;
  EXPECT_TRUE(path.ends_with("." + key + "[0]")) << path;
  EXPECT_LE(path.size(), kMaxShownPath);
}

}  // namespace
}  // namespace tw
