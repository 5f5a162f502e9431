// A segment file that is truncated, has the wrong magic, comes from a newer
// incompatible ABI or claims sizes beyond the file gets a clear error code at
// open, never a crash.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_util.hpp"
#include "segment_format.h"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

class BadSegment : public ::testing::Test {
 protected:
  test::TempDir dir;

  // A real segment's bytes, to corrupt.
  std::vector<char> good_image() {
    SystemClock clock;
    {
      auto w = SegmentWriter::open(dir.path(), {2, 256}, clock);
      EXPECT_TRUE(w.ok());
      SlotValue v;
      v.secret = "t";
      v.expires_at = clock.unix_seconds() + 60;
      EXPECT_TRUE((*w)->publish("redis", v).ok());
    }
    std::ifstream in(dir.path() / "segment", std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void write_image(const std::vector<char>& bytes) {
    std::ofstream out(dir.path() / "segment", std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  int open_rc() {
    tokenwell* tw = nullptr;
    int rc = tokenwell_open(dir.path().c_str(), &tw);
    tokenwell_close(tw);
    return rc;
  }
  template <typename T>
  void poke(std::vector<char>& img, std::size_t offset, T value) {
    std::memcpy(img.data() + offset, &value, sizeof value);
  }
};

TEST_F(BadSegment, GoodImageOpens) {
  write_image(good_image());
  EXPECT_EQ(open_rc(), TOKENWELL_OK);
}

TEST_F(BadSegment, EmptyFileIsFormatError) {
  write_image({});
  EXPECT_EQ(open_rc(), TOKENWELL_EFORMAT);
}

TEST_F(BadSegment, TruncatedHeaderIsFormatError) {
  auto img = good_image();
  img.resize(TW_SEG_HEADER_SIZE - 1);
  write_image(img);
  EXPECT_EQ(open_rc(), TOKENWELL_EFORMAT);
}

TEST_F(BadSegment, TruncatedSlotsAreFormatError) {
  auto img = good_image();
  img.resize(img.size() - 8);
  write_image(img);
  EXPECT_EQ(open_rc(), TOKENWELL_EFORMAT);
}

TEST_F(BadSegment, WrongMagicIsFormatError) {
  auto img = good_image();
  poke<std::uint32_t>(img, offsetof(tw_seg_header, magic), 0x12345678);
  write_image(img);
  EXPECT_EQ(open_rc(), TOKENWELL_EFORMAT);
}

TEST_F(BadSegment, NewerIncompatibleAbiIsVersionError) {
  auto img = good_image();
  poke<std::uint16_t>(img, offsetof(tw_seg_header, abi_version), 7);
  poke<std::uint16_t>(img, offsetof(tw_seg_header, compat_version), 2);
  write_image(img);
  EXPECT_EQ(open_rc(), TOKENWELL_EVERSION);
  EXPECT_NE(std::string(tokenwell_strerror(TOKENWELL_EVERSION)).find("newer"), std::string::npos);
}

TEST_F(BadSegment, NewerCompatibleAbiStillReads) {
  auto img = good_image();
  poke<std::uint16_t>(img, offsetof(tw_seg_header, abi_version), 2);
  write_image(img);
  EXPECT_EQ(open_rc(), TOKENWELL_OK);
}

TEST_F(BadSegment, SizesBeyondTheFileAreFormatError) {
  auto img = good_image();
  poke<std::uint32_t>(img, offsetof(tw_seg_header, slot_count), 1000);
  write_image(img);
  EXPECT_EQ(open_rc(), TOKENWELL_EFORMAT);
}

TEST_F(BadSegment, CopyLargerThanSlotIsFormatError) {
  auto img = good_image();
  poke<std::uint32_t>(img, offsetof(tw_seg_header, copy_size), 1u << 20);
  write_image(img);
  EXPECT_EQ(open_rc(), TOKENWELL_EFORMAT);
}

TEST_F(BadSegment, LengthsBeyondCapacityFailTheReadNotTheProcess) {
  auto img = good_image();
  // Slot 0's both copies claim a secret far larger than the copy.
  const std::size_t slot0 = TW_SEG_HEADER_SIZE;
  std::uint32_t copy_size;
  std::memcpy(&copy_size, img.data() + offsetof(tw_seg_header, copy_size), 4);
  for (std::size_t c = 0; c < 2; ++c)
    poke<std::uint32_t>(img,
                        slot0 + TW_SEG_SLOT_HEADER_SIZE + c * copy_size +
                            offsetof(tw_seg_copy_header, secret_len),
                        0x7fffffff);
  write_image(img);
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_OK);
  char buf[64];
  EXPECT_EQ(tokenwell_read(tw, "redis", buf, sizeof buf, nullptr, nullptr, 0, nullptr, nullptr),
            TOKENWELL_EFORMAT);
  tokenwell_close(tw);
}

TEST_F(BadSegment, DirectoryInPlaceOfFileIsFormatError) {
  std::filesystem::create_directory(dir.path() / "segment");
  EXPECT_EQ(open_rc(), TOKENWELL_EFORMAT);
}

// A FIFO planted as `segment` is refused at once; opening it for reading
// without O_NONBLOCK would wait for a writer forever. The open runs in a
// child with an alarm so a regression fails the test instead of hanging it.
TEST_F(BadSegment, FifoInPlaceOfFileIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo((dir.path() / "segment").c_str(), 0600), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(5);
    _exit(open_rc());
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the open blocked until the alarm";
  EXPECT_EQ(WEXITSTATUS(status), TOKENWELL_EFORMAT);
}

// Mappings of `path` in this process, from /proc/self/maps.
std::size_t mappings_of(const std::filesystem::path& path) {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);)
    if (line.size() >= path.string().size() &&
        line.compare(line.size() - path.string().size(), std::string::npos, path.string()) == 0)
      ++n;
  return n;
}

// A file flagged REPLACED that `segment` still names (a writer that died
// mid-growth, or a crafted file): reads keep working on the one mapping
// instead of mapping the same file again on every call.
TEST_F(BadSegment, ReplacedFlagOnTheCurrentFileDoesNotPileUpMappings) {
  auto img = good_image();
  poke<std::uint32_t>(img, offsetof(tw_seg_header, flags), TW_SEG_FLAG_REPLACED);
  write_image(img);
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_OK);
  char buf[64];
  for (int i = 0; i < 10000; ++i)
    ASSERT_EQ(tokenwell_read(tw, "redis", buf, sizeof buf, nullptr, nullptr, 0, nullptr, nullptr),
              TOKENWELL_OK);
  uint64_t gen = 0;
  EXPECT_EQ(tokenwell_wait(tw, "redis", 1000, 300, &gen), TOKENWELL_ETIMEOUT);
  EXPECT_EQ(mappings_of(dir.path() / "segment"), 1u);
  tokenwell_close(tw);
}

}  // namespace
}  // namespace tw
