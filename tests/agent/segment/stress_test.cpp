// Multi-process stress of the latch protocol: one writer rotates values of
// varying lengths (up to the slot capacity) as fast as it can while reader
// processes check every value they read against its own checksum. A torn or
// mixed read (bytes, length, username or expiry from two different values)
// fails the test.
//
// TOKENWELL_STRESS_READS sets the total number of reads (default 10 million).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/test_util.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

constexpr std::uint32_t kCapacity = 4096;
constexpr std::int64_t kExpiryBase = 4'000'000'000;  // far future
// Room left in a copy for the token after name and username.
constexpr std::size_t kMaxToken = kCapacity - 8 - 24;

// A value that carries its own checksum: everything derives from `seed`.
struct Value {
  std::string token;
  std::string username;
  std::int64_t expires_at;

  static Value make(std::uint64_t seed) {
    Value v;
    char head[17];
    std::snprintf(head, sizeof head, "%016" PRIx64, seed);
    const std::size_t len = 16 + (seed * 7919u) % (kMaxToken - 16 + 1);
    v.token.assign(head, 16);
    v.token.resize(len);
    for (std::size_t i = 16; i < len; ++i)
      v.token[i] = static_cast<char>('a' + ((seed * 1315423911u + i * 2654435761u) >> 13) % 26);
    v.username = std::string("user-") + head;
    v.expires_at = kExpiryBase + static_cast<std::int64_t>(seed % 100000);
    return v;
  }
};

struct ReaderResult {
  std::uint64_t reads = 0;
  std::uint64_t bad = 0;
  std::uint64_t distinct = 0;  // number of times the value changed between reads
  std::uint64_t busy = 0;
  std::uint64_t regressions = 0;  // generation went backwards
};

ReaderResult run_reader(const char* dir, std::uint64_t reads) {
  ReaderResult r;
  tokenwell* tw = nullptr;
  if (tokenwell_open(dir, &tw) != TOKENWELL_OK) {
    r.bad = 1;
    return r;
  }
  std::vector<char> buf(kCapacity + 1);
  char user[TOKENWELL_USERNAME_MAX + 1];
  std::uint64_t last_gen = 0;
  for (; r.reads < reads; ++r.reads) {
    size_t len = 0;
    std::int64_t exp = 0;
    std::uint64_t gen = 0;
    int rc = tokenwell_read(tw, "stress", buf.data(), buf.size(), &len, user, sizeof user, &exp,
                            &gen);
    if (rc == TOKENWELL_EBUSY) {
      ++r.busy;
      continue;
    }
    if (rc != TOKENWELL_OK) {
      ++r.bad;
      continue;
    }
    const std::uint64_t seed = std::strtoull(std::string(buf.data(), 16).c_str(), nullptr, 16);
    const Value want = Value::make(seed);
    if (len != want.token.size() || want.token.compare(0, len, buf.data(), len) != 0 ||
        want.username != user || want.expires_at != exp)
      ++r.bad;
    if (gen < last_gen) ++r.regressions;
    if (gen != last_gen) ++r.distinct;
    last_gen = gen;
  }
  tokenwell_close(tw);
  return r;
}

TEST(SegmentStress, ReadersNeverSeeTornOrMixedValues) {
  const std::uint64_t total = test::env_u64("TOKENWELL_STRESS_READS", 10'000'000);
  constexpr int kReaders = 3;
  test::TempDir dir;
  SystemClock clock;
  auto writer = SegmentWriter::open(dir.path(), {2, kCapacity}, clock);
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  auto publish = [&](std::uint64_t seed) {
    const Value v = Value::make(seed);
    SlotValue sv;
    sv.username = v.username;
    sv.secret = v.token;
    sv.expires_at = v.expires_at;
    return (*writer)->publish("stress", sv);
  };
  ASSERT_TRUE(publish(1).ok());

  std::vector<pid_t> pids;
  std::vector<int> fds;
  for (int i = 0; i < kReaders; ++i) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(p[0]);
      ReaderResult r = run_reader(dir.path().c_str(), total / kReaders + 1);
      ssize_t n = write(p[1], &r, sizeof r);
      _exit(n == sizeof r ? 0 : 1);
    }
    close(p[1]);
    pids.push_back(pid);
    fds.push_back(p[0]);
  }

  // Rotate as fast as possible until every reader is done.
  std::uint64_t seed = 2, publishes = 0;
  int running = kReaders;
  std::vector<int> status(kReaders, -1);
  while (running > 0) {
    for (int k = 0; k < 256; ++k, ++seed, ++publishes) ASSERT_TRUE(publish(seed).ok());
    for (int i = 0; i < kReaders; ++i) {
      if (status[i] != -1) continue;
      int st;
      if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        status[i] = st;
        --running;
      }
    }
  }

  ReaderResult sum;
  for (int i = 0; i < kReaders; ++i) {
    ReaderResult r;
    ASSERT_EQ(read(fds[i], &r, sizeof r), static_cast<ssize_t>(sizeof r));
    close(fds[i]);
    ASSERT_TRUE(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0);
    sum.reads += r.reads;
    sum.bad += r.bad;
    sum.distinct += r.distinct;
    sum.busy += r.busy;
    sum.regressions += r.regressions;
  }
  std::printf("reads=%" PRIu64 " torn_or_mixed=%" PRIu64 " value_changes_seen=%" PRIu64
              " busy=%" PRIu64 " publishes=%" PRIu64 "\n",
              sum.reads, sum.bad, sum.distinct, sum.busy, publishes);
  EXPECT_GE(sum.reads, total);
  EXPECT_EQ(sum.bad, 0u);
  EXPECT_EQ(sum.regressions, 0u);
  // The readers really raced the writer: they saw the value change often.
  EXPECT_GT(sum.distinct, sum.reads / 1000);
}

}  // namespace
}  // namespace tw
