// `source: file`: the value goes into a Redis AUTH as is, so a control
// character or whitespace inside it is refused (naming the file and the
// character's position, never the value); one trailing newline is the file's.
#include <gtest/gtest.h>

#include <fstream>

#include "support/test_util.hpp"
#include "tokenwell/agent/sources/file/file_source.hpp"

namespace tw {
namespace {

class FileSourceTest : public ::testing::Test {
 protected:
  FetchResult<FetchedCredential> fetch(const std::string& content) {
    const auto path = dir.path() / "secret";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return FileSource(FileSourceConfig{path, "default"}).fetch();
  }
  std::string error_of(const FetchResult<FetchedCredential>& r) {
    const auto* e = std::get_if<FetchError>(&r);
    return e ? e->message : "(fetched)";
  }
  test::TempDir dir;
};

TEST_F(FileSourceTest, OneTrailingNewlineIsTheFiles) {
  auto r = fetch("p4ssw0rd\n");
  ASSERT_TRUE(std::holds_alternative<FetchedCredential>(r)) << error_of(r);
  EXPECT_EQ(std::get<FetchedCredential>(r).token.reveal(), "p4ssw0rd");
}

TEST_F(FileSourceTest, ControlCharactersAndWhitespaceInsideAreRefused) {
  const std::string path = (dir.path() / "secret").string();
  EXPECT_EQ(error_of(fetch("pw\r\nAUTH x\n")),
            path + ": character 3 (0x0d) is a control character or whitespace, which a secret may not contain "
                   "(only one trailing newline is taken off)");
  EXPECT_EQ(error_of(fetch("pw word")).find(path + ": character 3 (0x20)"), 0u);
  EXPECT_EQ(error_of(fetch("pw\tword")).find(path + ": character 3 (0x09)"), 0u);
  EXPECT_EQ(error_of(fetch("pw\n\n")).find(path + ": character 3 (0x0a)"), 0u);
  EXPECT_EQ(error_of(fetch(std::string("pw\0x", 4))).find(path + ": character 3 (0x00)"), 0u);
  EXPECT_EQ(error_of(fetch("pw\x7f")).find(path + ": character 3 (0x7f)"), 0u);
  const auto r = error_of(fetch("s3cr3t AUTH"));
  EXPECT_EQ(r.find("s3cr3t"), std::string::npos) << "the value is never quoted: " << r;
}

}  // namespace
}  // namespace tw
