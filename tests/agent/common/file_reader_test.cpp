// The one bounded file reader: sizes capped, trimming only as asked, empty
// files refused when asked, errors that name the path and not the content.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>

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
  EXPECT_EQ(r.error().message, "file not readable (" + (dir / "nope").string() + ": No such file or directory)");
}

// A FIFO used to block the reader for ever, in open() (no writer) or in
// read() (a writer that never writes): a secret file swapped for one hung its
// credential's fetch with nothing logged. Now it is refused at once.
TEST_F(FileReaderTest, AFifoIsRefusedAtOnceNotWaitedOn) {
  const auto fifo = dir / "secret";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto read = std::async(std::launch::async, [&] { return read_file(fifo, {.max_bytes = 64}); });
  if (read.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    // The old reader is stuck in open(): a writer that closes at once lets it go.
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) ::close(w);
    read.wait();
    FAIL() << "read_file waited on a FIFO";
  }
  auto r = read.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, fifo.string() + " is a FIFO (named pipe), not a regular file");
}

TEST_F(FileReaderTest, DirectoriesAndDevicesAreNamedForWhatTheyAre) {
  auto d = read_file(dir.path(), {});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, dir.path().string() + " is a directory, not a regular file");
  // /dev/zero would fill any buffer: refused before a byte is read.
  auto z = read_file("/dev/zero", {.max_bytes = 1024 * 1024});
  ASSERT_FALSE(z);
  EXPECT_EQ(z.error().message, "/dev/zero is a character device, not a regular file");
}

// A mounted Kubernetes Secret: `key -> ..data/key`, `..data -> ..2026_01_01`.
TEST_F(FileReaderTest, KubernetesDataSymlinksAreFollowed) {
  std::filesystem::create_directory(dir / "..2026_01_01");
  put("s3cret\n", "..2026_01_01/key");
  std::filesystem::create_directory_symlink("..2026_01_01", dir / "..data");
  std::filesystem::create_symlink("..data/key", dir / "key");
  auto r = read_file(dir / "key", {.trim = Trim::whitespace});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->reveal(), "s3cret");
  // A link to a FIFO is refused like the FIFO itself.
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);
  std::filesystem::create_symlink("pipe", dir / "to-pipe");
  auto p = read_file(dir / "to-pipe", {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, (dir / "to-pipe").string() + " is a FIFO (named pipe), not a regular file");
}

}  // namespace
}  // namespace tw
