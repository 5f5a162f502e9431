// Reader threads sharing one handle while the writer publishes and keeps
// replacing the segment file (resize): every value read is intact and the
// handle remaps under concurrency. This is the test ThreadSanitizer sees
// best: all threads touch the same handle and the same mappings.
//
// TOKENWELL_THREADED_READS sets the reads per thread (default 200,000).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/test_util.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

std::string token_for(std::uint64_t seed) {
  std::string t = std::to_string(seed) + ":";
  t.resize(64 + seed % 1500, static_cast<char>('a' + seed % 26));
  return t;
}

TEST(SegmentThreaded, SharedHandleReadsIntactValuesAcrossRemaps) {
  const std::uint64_t per_thread = test::env_u64("TOKENWELL_THREADED_READS", 200'000);
  test::TempDir dir;
  SystemClock clock;
  auto w = SegmentWriter::open(dir.path(), {2, 2048}, clock);
  ASSERT_TRUE(w.ok());
  auto publish = [&](std::uint64_t seed) {
    const std::string t = token_for(seed);
    SlotValue v;
    v.username = "u";
    v.secret = t;
    v.expires_at = clock.unix_seconds() + 3600;
    return (*w)->publish("redis", v);
  };
  ASSERT_TRUE(publish(1).ok());
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_OK);

  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> bad{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      std::vector<char> buf(8192);
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        size_t len = 0;
        int rc = tokenwell_read(tw, "redis", buf.data(), buf.size(), &len, nullptr, 0, nullptr,
                                nullptr);
        if (rc == TOKENWELL_EBUSY) continue;
        const std::string got(buf.data(), len);
        if (rc != TOKENWELL_OK || got != token_for(std::stoull(got))) ++bad;
        ++reads;
      }
    });
  }
  std::thread stopper([&] {
    for (auto& r : readers) r.join();
    done = true;
  });
  std::uint64_t seed = 2, resizes = 0;
  while (!done) {
    ASSERT_TRUE(publish(seed++).ok());
    if (seed % 200 == 0) {
      ASSERT_TRUE((*w)->resize({2, resizes % 2 ? 2048u : 4096u}).ok());
      ++resizes;
    }
  }
  stopper.join();
  tokenwell_close(tw);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(reads.load(), per_thread);
  EXPECT_GT(resizes, 2u) << "the writer did not replace the file while readers ran";
}

}  // namespace
}  // namespace tw
