// The one bounded file reader: sizes capped, trimming only as asked, empty
// files refused when asked, errors that name the path and not the content.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/test_util.hpp"
#include "tokenwell/agent/common/file_reader.hpp"

namespace tw {
namespace {

class FileReaderTest : public ::testing::Test {
 protected:
  std::filesystem::path put(const std::string& text, const std::string& name = "f") {
    const auto p = dir / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p;
  }
  test::TempDir dir;
};

TEST_F(FileReaderTest, TrimsOnlyAsAsked) {
  const auto p = put("  s3cret\r\n\n");
  EXPECT_EQ(read_file(p, {})->reveal(), "  s3cret\r\n\n");
  EXPECT_EQ(read_file(p, {.trim = Trim::one_newline})->reveal(), "  s3cret\r\n");
  EXPECT_EQ(read_file(put("pw\r\n", "g"), {.trim = Trim::one_newline})->reveal(), "pw");
  EXPECT_EQ(read_file(p, {.trim = Trim::whitespace})->reveal(), "s3cret");
}

TEST_F(FileReaderTest, SizeIsCappedAndTheErrorNamesThePathOnly) {
  const auto p = put(std::string(1025, 'x'));
  auto r = read_file(p, {.max_bytes = 1024});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, p.string() + ": larger than 1 KiB");
  EXPECT_TRUE(read_file(p, {.max_bytes = 1025}));
}

TEST_F(FileReaderTest, EmptyAfterTrimmingIsAnErrorWhenAsked) {
  const auto p = put(" \n");
  EXPECT_TRUE(read_file(p, {.trim = Trim::whitespace}));
  auto r = read_file(p, {.trim = Trim::whitespace, .empty_is_error = true});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, p.string() + ": file is empty");
}

TEST_F(FileReaderTest, MissingFileSaysWhy) {
  auto r = read_file(dir / "nope", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cannot read " + (dir / "nope").string() + ": No such file or directory");
}

// Only a regular file (after symlinks) is read: a FIFO with no writer or a
// device would block or never end; the error says what the path is.
TEST_F(FileReaderTest, OnlyRegularFilesAreReadAndNothingBlocks) {
  const auto fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = read_file(fifo, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, fifo.string() + ": not a regular file (it is a FIFO)");
  r = read_file("/dev/zero", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "/dev/zero: not a regular file (it is a character device)");
  r = read_file(dir.path(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, dir.path().string() + ": not a regular file (it is a directory)");
  // A Kubernetes secret mount: ..data/key through symlinks.
  const auto target = put("k8s-secret", "real");
  std::filesystem::create_symlink(target, dir / "key");
  EXPECT_EQ(read_file(dir / "key", {})->reveal(), "k8s-secret");
}

}  // namespace
}  // namespace tw
