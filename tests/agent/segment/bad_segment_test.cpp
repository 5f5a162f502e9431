// A segment file that is truncated, has the wrong magic, comes from a newer
// incompatible ABI or claims sizes beyond the file gets a clear error code at
// open, never a crash.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tw
